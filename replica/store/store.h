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
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/storage.pb.h"
#include "replica/state/state_view.h"
#include "wire/request_format.h"

namespace belfry::store {

using wire::Digest;

// ConsensusInput: one record of the consensus input log: the epoch it belongs to, its
// position in the order the replica handled inputs, and the encoded input
// (pb::ConsensusInput).
struct ConsensusInput {
  uint64_t epoch = 0;
  uint64_t sequence = 0;
  std::string bytes;
};

// StateSummary: a state's digest (Store::ComputeStateDigest) and its size as a state
// transfer sends it: the entries, and the bytes of their keys and values.
struct StateSummary {
  Digest digest{};
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

// StateSnapshot: the state frozen at one moment, readable while commits go on (a replica
// serves state transfer for its latest stable checkpoint from one). Thread-safe.
class StateSnapshot {
 public:
  virtual ~StateSnapshot() = default;
  // Appends to `out` the entries whose keys sort after `after_key`, in key order, until
  // their keys and values reach `max_bytes` (always at least one entry if any is left);
  // sets `*done` when no entry follows the last one appended.
  virtual absl::Status Scan(std::string_view after_key, size_t max_bytes,
                            std::vector<std::pair<std::string, std::string>>* out,
                            bool* done) const = 0;

  // Store::ComputeStateDigest's digest of the frozen state (reads all of it).
  absl::StatusOr<Digest> ComputeDigest() const;
  // That digest with the frozen state's size, in the same one read.
  absl::StatusOr<StateSummary> ComputeSummary() const;
};

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
  virtual absl::StatusOr<Digest> ComputeStateDigest() const { return ComputePrefixDigest(""); }

  // The same digest over just the state keys that start with `prefix` (e.g. the 3S
  // records without the retained batches, which change with every epoch).
  virtual absl::StatusOr<Digest> ComputePrefixDigest(std::string_view prefix) const = 0;

  // ---- checkpoints and state transfer (replica/node/checkpoint/checkpoint_votes.h) ----

  // The state as it is now, frozen (in memory: gone at a restart).
  virtual absl::StatusOr<std::shared_ptr<const StateSnapshot>> FreezeState() const = 0;

  // The state as it is now, frozen for checkpoint `epoch` and kept durably, so a replica
  // that restarts can still serve its stable checkpoint (OpenFrozen) to a peer that has
  // nothing. Replaces one kept earlier for that epoch. Kept until DropFrozenExcept.
  virtual absl::StatusOr<std::shared_ptr<const StateSnapshot>> FreezeStateDurably(uint64_t epoch) = 0;
  // The state FreezeStateDurably kept for `epoch`; NOT_FOUND when none is kept, DATA_LOSS
  // or UNAVAILABLE when it cannot be read. Callers check it against the certified digest
  // (StateSnapshot::ComputeDigest) before serving it.
  virtual absl::StatusOr<std::shared_ptr<const StateSnapshot>> OpenFrozen(uint64_t epoch) const = 0;
  // Drops every durably frozen state whose epoch is not in `keep`.
  virtual absl::Status DropFrozenExcept(const std::set<uint64_t>& keep) = 0;

  // The latest stable checkpoint certificate, kept outside the state (not in its digest);
  // written durably.
  virtual absl::Status WriteCheckpoint(const pb::CheckpointCertificate& certificate) = 0;
  virtual absl::StatusOr<std::optional<pb::CheckpointCertificate>> ReadCheckpoint() const = 0;

  // Drops the epoch records before `epoch` and moves the chain base there, so verification
  // at open starts from epoch - 1's head. No-op at or below the current base;
  // FAILED_PRECONDITION beyond the tip.
  virtual absl::Status PruneLogBefore(uint64_t epoch) = 0;
  // The first epoch whose record is kept.
  virtual uint64_t log_base_epoch() const = 0;

  // State transfer stages the incoming state beside the live one, then swaps it in.
  virtual absl::Status ClearStaging() = 0;
  // Adds entries to the staged state (keys need not be new; the last value wins).
  virtual absl::Status StageEntries(const std::vector<std::pair<std::string, std::string>>& entries) = 0;
  // ComputeStateDigest's digest of the staged state.
  virtual absl::StatusOr<Digest> ComputeStagedDigest() const = 0;
  // Replaces the whole state with the staged one and restarts the log there: the next
  // epoch is `next_epoch`, after `head` at `consensus_time_ms`; every epoch record is
  // dropped and the staging area emptied. One atomic, durable write.
  virtual absl::Status InstallStaged(uint64_t next_epoch, const Digest& head,
                                     int64_t consensus_time_ms) = 0;

  // ---- the consensus input log (replica/node/README.md, "Restarts never equivocate") ----
  // What a replica handed its consensus for epochs it has not committed yet, kept outside
  // the state (not in its digest, untouched by InstallStaged). Replaying it into a fresh
  // consensus instance rebuilds exactly the votes the replica had sent, so a restart never
  // sends different ones.

  // Appends `inputs` in one atomic, synced write. Their sequence numbers must be larger
  // than every kept one.
  virtual absl::Status AppendConsensusInputs(const std::vector<ConsensusInput>& inputs) = 0;
  // Every kept input, ordered by (epoch, sequence). Called at start-up, before the first
  // PruneConsensusInputsBefore: an implementation may learn there what it has to prune.
  virtual absl::StatusOr<std::vector<ConsensusInput>> ReadConsensusInputs() const = 0;
  // Drops the inputs of epochs before `epoch`. Need not be synced: a replay skips inputs
  // of committed epochs anyway.
  virtual absl::Status PruneConsensusInputsBefore(uint64_t epoch) = 0;

  // ---- small named records outside the state (the genesis description) ----
  // Writes `value` under `name`, synced.
  virtual absl::Status PutMeta(std::string_view name, std::string_view value) = 0;
  // The value under `name`, nullopt if none was written.
  virtual absl::StatusOr<std::optional<std::string>> GetMeta(std::string_view name) const = 0;
};

}  // namespace belfry::store

#endif  // BELFRY_REPLICA_STORE_STORE_H_
