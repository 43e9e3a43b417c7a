// replica/node/sync/joins.h — pacing the JoinEpochs this replica answers.
//
// Why. A peer that (re)starts consensus late sends JoinEpochs once, and counts on the
// answer (our records of the epochs it missed, and what we sent in the epochs it
// joins). An answer can be large, so a faulty peer's flood of joins must not become a
// flood of resends: one join per peer is served per interval_ms. One that comes sooner
// is deferred, never dropped, and a deferred one is replaced by the next, keeping the
// earlier first epoch; OnTick serves it once the interval is over.
//
// Pure bookkeeping. Not thread-safe.
#ifndef BELFRY_REPLICA_NODE_SYNC_JOINS_H_
#define BELFRY_REPLICA_NODE_SYNC_JOINS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace belfry::replica {

class Joins {
 public:
  explicit Joins(int64_t interval_ms) : interval_ms_(interval_ms) {}

  // A join from `from` at `first_epoch`: true when it may be served now (call Served),
  // false when it was deferred.
  bool Admit(uint32_t from, uint64_t first_epoch, int64_t now_ms);
  // The deferred joins whose interval is over, by peer: (peer, first epoch), each to be
  // served now (call Served).
  std::vector<std::pair<uint32_t, uint64_t>> TakeDue(int64_t now_ms);
  void Served(uint32_t from, uint64_t first_epoch, int64_t now_ms);

  size_t deferred() const { return deferred_.size(); }

 private:
  struct Last {
    uint64_t first_epoch = 0;
    int64_t at_ms = INT64_MIN / 2;
  };
  const int64_t interval_ms_;
  std::map<uint32_t, Last> last_served_;
  // Peer -> the first epoch of its deferred join (at most N-1 entries).
  std::map<uint32_t, uint64_t> deferred_;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_SYNC_JOINS_H_
