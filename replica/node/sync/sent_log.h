// replica/node/sync/sent_log.h — what this replica sent, kept to resend to late joiners.
//
// Why. A peer that restarts replays the consensus inputs it had synced, but a message it
// had received (and its transport acknowledged) without syncing is gone with it, and the
// sender never sends it again. So each replica keeps what it sent for its undecided
// epochs and the last few committed ones (recipients and PeerMessage bytes) and answers
// a JoinEpochs with them; without this, a restarted replica could not finish the epochs
// in flight (test/chaos/README.md). Bounded by bytes_max as messages are added (the
// newest epochs go first: they matter least to a late joiner); the log rebuilt at a
// restart is kept whole, since it holds only what the window allowed.
//
// Pure bookkeeping. Not thread-safe.
#ifndef BELFRY_REPLICA_NODE_SYNC_SENT_LOG_H_
#define BELFRY_REPLICA_NODE_SYNC_SENT_LOG_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "consensus/step.h"

namespace belfry::replica {

class SentLog {
 public:
  explicit SentLog(uint64_t bytes_max) : bytes_max_(bytes_max) {}

  // A message sent in `epoch`; then the newest epochs go until the bound holds.
  void Add(uint64_t epoch, consensus::Target target, std::string bytes);
  // A message rebuilt at a restart: kept whatever the bound.
  void AddRebuilt(uint64_t epoch, consensus::Target target, std::string bytes);
  // Drops the epochs before `first_epoch`.
  void PruneBefore(uint64_t first_epoch);
  void Clear();
  // What was sent to `peer` in the epochs from `first_epoch` on, in order.
  std::vector<const std::string*> SentTo(uint32_t peer, uint64_t first_epoch) const;

  uint64_t bytes() const { return bytes_; }

 private:
  void CheckAccounting() const;

  const uint64_t bytes_max_;
  std::map<uint64_t, std::vector<std::pair<consensus::Target, std::string>>> log_;
  uint64_t bytes_ = 0;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_SYNC_SENT_LOG_H_
