// replica/node/sync/divergence.h — learning that this replica's own log left the cluster's.
//
// Why. A replica that crashes forgets the votes it sent for the epochs in flight, so
// after a power cut of several replicas one that had committed an epoch may find that
// the others, running it again, committed another batch (never one a client accepted:
// that needs 2f+1 replicas to have committed it). Replicas that commit an epoch send
// their record to any peer whose record of it differed; here those corrections gather
// as 32-byte digests, one per peer and epoch, for at most epochs_max epochs (the newest).
// When 2f+1 agree against this replica's own record, at least f+1 correct replicas
// committed theirs: this replica's log is not the cluster's, and it must go back to a
// certified state.
//
// Pure bookkeeping. Not thread-safe.
#ifndef BELFRY_REPLICA_NODE_SYNC_DIVERGENCE_H_
#define BELFRY_REPLICA_NODE_SYNC_DIVERGENCE_H_

#include <cstdint>
#include <map>
#include <string>

namespace belfry::replica {

class Divergence {
 public:
  // `f`: the faults tolerated; `epochs_max`: epochs whose corrections are kept.
  Divergence(uint32_t f, uint32_t epochs_max);

  // Set once 2f+1 peers showed the log diverged, until a transfer installs a certified
  // state: then any certified state is better than this replica's own.
  bool diverged() const { return diverged_; }

  // Peer `from`'s record of `epoch`, which this replica committed otherwise, as the
  // SHA-256 of its serialization. True when it makes 2f+1 matching corrections.
  bool AddCorrection(uint32_t from, uint64_t epoch, const std::string& record_digest);
  void MarkDiverged();
  // A certified state was installed.
  void Clear();

 private:
  const uint32_t f_;
  const uint32_t epochs_max_;
  bool diverged_ = false;
  // Epoch -> peer -> its record's SHA-256.
  std::map<uint64_t, std::map<uint32_t, std::string>> votes_;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_SYNC_DIVERGENCE_H_
