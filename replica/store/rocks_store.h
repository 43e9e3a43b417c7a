// replica/store/rocks_store.h — the Store on RocksDB.
//
// Layout in one RocksDB instance (single-byte prefixes keep the kinds apart and keep the
// state keys contiguous for the digest scan):
//   'S' + state key       -> the state value (replica/state/state_keys.h)
//   'E' + epoch (8 B BE)  -> pb::EpochRecord
//   'T'                   -> pb::ChainTip (rewritten with every epoch)
//   'B'                   -> pb::ChainBase (where verification starts; moves with pruning)
//   'C'                   -> pb::CheckpointCertificate (the latest stable checkpoint)
//   'X' + state key       -> a staged value (state transfer in progress)
//   'V' + epoch + seq     -> a consensus input (the input log; 8 B BE each)
//   'M' + name            -> a named record outside the state (the genesis description)
// Every CommitEpoch is one WriteBatch written with sync = true. The database is opened
// with paranoid_checks, reads verify block checksums, and Open re-walks the epoch chain
// from the base to the tip, so a torn, tampered or truncated log is refused with
// DATA_LOSS instead of being served.
#ifndef BELFRY_REPLICA_STORE_ROCKS_STORE_H_
#define BELFRY_REPLICA_STORE_ROCKS_STORE_H_

#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "replica/store/store.h"

namespace rocksdb {
class DB;
class Env;
}  // namespace rocksdb

namespace belfry::store {

inline constexpr char kRocksStatePrefix = 'S';
inline constexpr char kRocksEpochPrefix = 'E';
inline constexpr std::string_view kRocksTipKey = "T";
inline constexpr std::string_view kRocksBaseKey = "B";
inline constexpr std::string_view kRocksCheckpointKey = "C";
inline constexpr char kRocksStagingPrefix = 'X';
// The consensus input log: 'V' + epoch (8 bytes BE) + sequence (8 bytes BE).
inline constexpr char kRocksInputPrefix = 'V';
// Named records outside the state: 'M' + name.
inline constexpr char kRocksMetaPrefix = 'M';

// The RocksDB key of epoch `epoch`'s record (exposed for tools and tests).
std::string RocksEpochKey(uint64_t epoch);

// StoreOptions: how to open a RocksStore.
struct StoreOptions {
  bool create_if_missing = true;   // false: NOT_FOUND when there is no store at the path
  size_t block_cache_bytes = 64 << 20;
  // The file system under the database; null: the real one. Borrowed, must outlive the
  // store. Tests put a fault-injecting one here (test/powerloss/powerloss_fs.h).
  rocksdb::Env* env = nullptr;
};

// RocksStore: owns the database; closes it on destruction. Thread-safety as Store says.
class RocksStore final : public Store {
 public:
  // Opens (or creates) the store at `path` and verifies the epoch chain. Errors:
  // NOT_FOUND (no store and !create_if_missing), DATA_LOSS (corruption, broken chain,
  // unknown format version), or RocksDB's I/O error as UNAVAILABLE/INTERNAL.
  static absl::StatusOr<std::unique_ptr<RocksStore>> Open(const std::string& path,
                                                          const StoreOptions& options);
  ~RocksStore() override;

  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override;
  absl::Status CommitEpoch(uint64_t epoch, int64_t consensus_time_ms,
                           const state::WriteSet& writes, const Digest& batch_digest) override;
  uint64_t next_epoch() const override;
  Digest log_head() const override;
  int64_t last_consensus_time_ms() const override;
  absl::StatusOr<std::optional<pb::EpochRecord>> ReadEpochRecord(uint64_t epoch) const override;
  absl::StatusOr<Digest> ComputePrefixDigest(std::string_view prefix) const override;
  // The snapshot pins a RocksDB snapshot and must not outlive this store.
  absl::StatusOr<std::shared_ptr<const StateSnapshot>> FreezeState() const override;
  // A RocksDB checkpoint (hard links to the table files, after a flush) in
  // PATH/frozen/EPOCH; reopened read-only by OpenFrozen.
  absl::StatusOr<std::shared_ptr<const StateSnapshot>> FreezeStateDurably(uint64_t epoch) override;
  absl::StatusOr<std::shared_ptr<const StateSnapshot>> OpenFrozen(uint64_t epoch) const override;
  absl::Status DropFrozenExcept(const std::set<uint64_t>& keep) override;
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

  // RocksDB's own estimate of the live data on disk (SST files) plus memtables, in bytes:
  // for operators' disk-use metrics. Thread-safe.
  uint64_t ApproximateBytes() const;

 private:
  RocksStore(std::unique_ptr<rocksdb::DB> db, std::string path, rocksdb::Env* env, pb::ChainTip tip,
             pb::ChainBase base);
  std::string FrozenDir(uint64_t epoch) const;
  absl::Status VerifyChain();
  // The digest of the keys under one RocksDB prefix (state or staging) plus `prefix`.
  absl::StatusOr<Digest> DigestOf(char area, std::string_view prefix) const;

  std::unique_ptr<rocksdb::DB> db_;
  const std::string path_;
  rocksdb::Env* const env_;  // null: the default
  // Serializes commits and guards the cached tip; reads of state go straight to RocksDB.
  mutable absl::Mutex mu_;
  pb::ChainTip tip_ ABSL_GUARDED_BY(mu_);
  pb::ChainBase base_ ABSL_GUARDED_BY(mu_);
  // The consensus input keys kept, as (epoch, sequence): pruning deletes them one by one.
  // A range deletion per committed epoch would leave a range tombstone per epoch in the
  // same key space as the state, which every state read then has to step over.
  mutable std::set<std::pair<uint64_t, uint64_t>> input_keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace belfry::store

#endif  // BELFRY_REPLICA_STORE_ROCKS_STORE_H_
