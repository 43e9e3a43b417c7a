// replica/store/store.h — the replica's durable state: the 3S state keys and the
// hash-chained log of executed epochs.
//
// How it works. After the state machine executes an epoch, the replica commits it with
// CommitEpoch: the epoch's state writes, its EpochRecord and the new chain tip go into
// one atomic, synced write, so a crash leaves either all of the epoch or none of it. The
// log head chains every epoch:
//   head_e = SHA-256("belfry/log-head/v1" || head_{e-1} || e || batch digest || writes digest)
// (log_chain.h), starting from 32 zero bytes. Replies carry the head, so two replicas that
// executed different batches or wrote different state can never sign matching replies.
// Opening a store re-walks the chain from its base and refuses (DATA_LOSS) a record that
// is missing, unparseable, out of order or does not hash to its successor's input.
//
// Two implementations share this interface and the chain code: RocksStore (on disk) and
// MemoryStore (tests and the simulator).
#ifndef BELFRY_REPLICA_STORE_STORE_H_
#define BELFRY_REPLICA_STORE_STORE_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/storage.pb.h"
#include "replica/state/request_format.h"
#include "replica/state/state_view.h"

namespace belfry::store {

using state::Digest;

// Store: state reads, epoch commits, the chain tip. Get, ReadEpochRecord,
// ComputeStateDigest and the accessors are thread-safe and may run concurrently with a
// CommitEpoch (they see the state before or after it, never part of it, for Get of a
// single key); CommitEpoch calls must not overlap each other.
class Store : public state::StateReader {
 public:
  ~Store() override = default;

  // The value of state key `key`, nullopt if absent. DATA_LOSS or another error status
  // on local I/O failure or detected corruption.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override = 0;

  // Commits epoch `epoch` atomically and durably. FAILED_PRECONDITION unless epoch ==
  // next_epoch() and consensus_time_ms >= last_consensus_time_ms(); the error status of
  // the write otherwise, in which case nothing of the epoch is visible. A failed write
  // leaves a RocksStore unusable (the replica must restart and re-open).
  virtual absl::Status CommitEpoch(uint64_t epoch, int64_t consensus_time_ms,
                                   const state::WriteSet& writes, const Digest& batch_digest) = 0;

  // The next epoch to commit: 0 on a new store.
  virtual uint64_t next_epoch() const = 0;
  // The last committed epoch, nullopt before the first.
  std::optional<uint64_t> last_epoch() const {
    const uint64_t next = next_epoch();
    return next == 0 ? std::nullopt : std::optional<uint64_t>(next - 1);
  }
  // The head after the last committed epoch (32 zero bytes on a new store).
  virtual Digest log_head() const = 0;
  // The consensus time of the last committed epoch (0 on a new store).
  virtual int64_t last_consensus_time_ms() const = 0;

  // The record of a committed epoch; nullopt if it was never committed (or was pruned).
  virtual absl::StatusOr<std::optional<pb::EpochRecord>> ReadEpochRecord(uint64_t epoch) const = 0;

  // SHA-256 over "belfry/state-digest/v1" and every state key and value in key order
  // (log_chain.h StateDigestBuilder): equal at replicas with equal state, the value that
  // checkpoints sign. Reads the whole state.
  virtual absl::StatusOr<Digest> ComputeStateDigest() const = 0;
};

}  // namespace belfry::store

#endif  // BELFRY_REPLICA_STORE_STORE_H_
