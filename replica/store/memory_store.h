// replica/store/memory_store.h — the Store in memory, for tests and the simulator.
//
// Same chain, digests and checks as RocksStore (log_chain.h), no durability. Copyable, so
// a simulation can snapshot a replica's store and restore it.
#ifndef BELFRY_REPLICA_STORE_MEMORY_STORE_H_
#define BELFRY_REPLICA_STORE_MEMORY_STORE_H_

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "replica/store/store.h"

namespace belfry::store {

// MemoryStore: thread-safe (one internal mutex) under Store's contract.
class MemoryStore final : public Store {
 public:
  MemoryStore();
  MemoryStore(const MemoryStore& other);
  MemoryStore& operator=(const MemoryStore& other) = delete;

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override;
  absl::Status CommitEpoch(uint64_t epoch, int64_t consensus_time_ms,
                           const state::WriteSet& writes, const Digest& batch_digest) override;
  uint64_t next_epoch() const override;
  Digest log_head() const override;
  int64_t last_consensus_time_ms() const override;
  absl::StatusOr<std::optional<pb::EpochRecord>> ReadEpochRecord(uint64_t epoch) const override;
  absl::StatusOr<Digest> ComputePrefixDigest(std::string_view prefix) const override;
  absl::StatusOr<std::shared_ptr<const StateSnapshot>> FreezeState() const override;
  // "Durable" here means: kept by this object, which a test's restarted core reopens.
  absl::StatusOr<std::shared_ptr<const StateSnapshot>> FreezeStateDurably(uint64_t epoch) override;
  absl::StatusOr<std::shared_ptr<const StateSnapshot>> OpenFrozen(uint64_t epoch) const override;
  absl::Status DropFrozenExcept(const std::set<uint64_t>& keep) override;
  // The epochs of the frozen states kept (for tests).
  std::set<uint64_t> FrozenEpochs() const;
  absl::Status WriteCheckpoint(const pb::CheckpointCertificate& certificate) override;
  absl::StatusOr<std::optional<pb::CheckpointCertificate>> ReadCheckpoint() const override;
  absl::Status PruneLogBefore(uint64_t epoch) override;
  uint64_t log_base_epoch() const override;
  absl::Status ClearStaging() override;
  absl::Status StageEntries(const std::vector<std::pair<std::string, std::string>>& entries) override;
  absl::StatusOr<Digest> ComputeStagedDigest() const override;
  absl::Status InstallStaged(uint64_t next_epoch, const Digest& head, int64_t consensus_time_ms) override;
  absl::Status AppendConsensusInputs(const std::vector<ConsensusInput>& inputs) override;
  absl::StatusOr<std::vector<ConsensusInput>> ReadConsensusInputs() const override;
  absl::Status PruneConsensusInputsBefore(uint64_t epoch) override;
  absl::Status PutMeta(std::string_view name, std::string_view value) override;
  absl::StatusOr<std::optional<std::string>> GetMeta(std::string_view name) const override;

  // A copy of every state key and value, in key order (for tests and the simulator).
  std::map<std::string, std::string, std::less<>> SnapshotState() const;

  // Re-walks the whole chain (what RocksStore does at open); DATA_LOSS if broken.
  absl::Status VerifyChain() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string, std::less<>> state_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, pb::EpochRecord> epochs_ ABSL_GUARDED_BY(mu_);
  pb::ChainTip tip_ ABSL_GUARDED_BY(mu_);
  pb::ChainBase base_ ABSL_GUARDED_BY(mu_);
  std::optional<pb::CheckpointCertificate> checkpoint_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> staging_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::shared_ptr<const StateSnapshot>> frozen_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<uint64_t, uint64_t>, std::string> inputs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> meta_ ABSL_GUARDED_BY(mu_);
};

}  // namespace belfry::store

#endif  // BELFRY_REPLICA_STORE_MEMORY_STORE_H_
