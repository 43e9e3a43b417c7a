#include "replica/store/rocks_store.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status.h"
#include "replica/store/log_chain.h"

namespace belfry::store {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) {
    return absl::OkStatus();
  }
  std::string message = absl::StrCat(std::string(what), ": ", s.ToString());
  if (s.IsCorruption()) {
    return absl::DataLossError(std::move(message));
  }
  if (s.IsNotFound()) {
    return absl::NotFoundError(std::move(message));
  }
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::UnavailableError(std::move(message));
  }
  return absl::InternalError(std::move(message));
}

std::string StateKey(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 1);
  out.push_back(kRocksStatePrefix);
  out.append(key);
  return out;
}

// Reads and parses a record; nullopt when absent, DATA_LOSS when it does not parse.
template <typename T>
absl::StatusOr<std::optional<T>> ReadProto(rocksdb::DB& db, std::string_view key,
                                           std::string_view what) {
  std::string bytes;
  const rocksdb::Status s = db.Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()),
                                   &bytes);
  if (s.IsNotFound()) {
    return std::optional<T>();
  }
  BELFRY_RETURN_IF_ERROR(FromRocks(s, what));
  T record;
  if (!record.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(std::string(what), " does not parse"));
  }
  return std::optional<T>(std::move(record));
}

// Creates the base and tip of a new store, refusing a database that has data but no tip
// (a store whose tip was lost cannot be trusted to be complete).
absl::Status InitializeIfEmpty(rocksdb::DB& db) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  if (it->Valid()) {
    return absl::DataLossError("the store holds data but no chain tip");
  }
  BELFRY_RETURN_IF_ERROR(FromRocks(it->status(), "scanning a new store"));
  const pb::ChainTip tip = GenesisTip();
  pb::ChainBase base;
  base.set_next_epoch(tip.next_epoch());
  base.set_head(tip.head());
  base.set_consensus_time_ms(tip.consensus_time_ms());
  rocksdb::WriteBatch batch;
  BELFRY_RETURN_IF_ERROR(FromRocks(
      batch.Put(rocksdb::Slice(kRocksBaseKey.data(), kRocksBaseKey.size()), base.SerializeAsString()),
      "preparing the chain base"));
  BELFRY_RETURN_IF_ERROR(FromRocks(
      batch.Put(rocksdb::Slice(kRocksTipKey.data(), kRocksTipKey.size()), tip.SerializeAsString()),
      "preparing the chain tip"));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db.Write(wo, &batch), "initializing the store");
}

}  // namespace

std::string RocksEpochKey(uint64_t epoch) {
  ByteWriter w;
  w.U8(static_cast<uint8_t>(kRocksEpochPrefix)).U64(epoch);
  return std::string(AsStringView(w.bytes()));
}

RocksStore::RocksStore(std::unique_ptr<rocksdb::DB> db, std::string path, rocksdb::Env* env,
                       pb::ChainTip tip, pb::ChainBase base)
    : db_(std::move(db)), path_(std::move(path)), env_(env), tip_(std::move(tip)), base_(std::move(base)) {}

RocksStore::~RocksStore() {
  if (db_ != nullptr) {
    // Close reports background errors; at destruction there is nobody left to tell, and
    // every committed epoch was already synced.
    db_->Close().PermitUncheckedError();
  }
}

absl::StatusOr<std::unique_ptr<RocksStore>> RocksStore::Open(const std::string& path,
                                                             const StoreOptions& options) {
  rocksdb::Options opts;
  opts.create_if_missing = options.create_if_missing;
  opts.paranoid_checks = true;
  if (options.env != nullptr) opts.env = options.env;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(opts, path, &raw);
  if (!s.ok()) {
    if (!options.create_if_missing && s.IsInvalidArgument()) {
      return absl::NotFoundError(absl::StrCat("no store at ", path, ": ", s.ToString()));
    }
    return FromRocks(s, absl::StrCat("opening the store at ", path));
  }
  std::unique_ptr<rocksdb::DB> db(raw);

  BELFRY_ASSIGN_OR_RETURN(std::optional<pb::ChainTip> tip,
                          ReadProto<pb::ChainTip>(*db, kRocksTipKey, "the chain tip"));
  if (!tip.has_value()) {
    BELFRY_RETURN_IF_ERROR(InitializeIfEmpty(*db));
    tip = GenesisTip();
  }
  if (tip->format_version() != kStoreFormatVersion) {
    return absl::DataLossError(absl::StrCat("store format version ", tip->format_version(),
                                            " is not the supported ", kStoreFormatVersion));
  }
  BELFRY_ASSIGN_OR_RETURN(std::optional<pb::ChainBase> base,
                          ReadProto<pb::ChainBase>(*db, kRocksBaseKey, "the chain base"));
  if (!base.has_value()) {
    return absl::DataLossError("the store has a chain tip but no chain base");
  }
  std::unique_ptr<RocksStore> store(
      new RocksStore(std::move(db), path, options.env, std::move(*tip), std::move(*base)));
  BELFRY_RETURN_IF_ERROR(store->VerifyChain());
  return store;
}

absl::Status RocksStore::VerifyChain() {
  absl::MutexLock lock(&mu_);
  const pb::ChainBase& base = base_;
  BELFRY_ASSIGN_OR_RETURN(Digest head, DigestField(base.head(), "the chain base's head"));
  int64_t time_ms = base.consensus_time_ms();
  if (base.next_epoch() > tip_.next_epoch()) {
    return absl::DataLossError("the chain base lies beyond the chain tip");
  }
  for (uint64_t e = base.next_epoch(); e < tip_.next_epoch(); ++e) {
    BELFRY_ASSIGN_OR_RETURN(
        std::optional<pb::EpochRecord> record,
        ReadProto<pb::EpochRecord>(*db_, RocksEpochKey(e), absl::StrCat("epoch record ", e)));
    if (!record.has_value()) {
      return absl::DataLossError(absl::StrCat("epoch record ", e, " is missing"));
    }
    BELFRY_RETURN_IF_ERROR(VerifyEpochRecord(e, *record, head, time_ms));
    BELFRY_ASSIGN_OR_RETURN(head, DigestField(record->head(), "head"));
    time_ms = record->consensus_time_ms();
  }
  BELFRY_ASSIGN_OR_RETURN(Digest tip_head, DigestField(tip_.head(), "the chain tip's head"));
  if (tip_head != head || tip_.consensus_time_ms() != time_ms) {
    return absl::DataLossError("the chain tip does not match the last epoch record");
  }
  BELFRY_ASSIGN_OR_RETURN(std::optional<pb::EpochRecord> beyond,
                          ReadProto<pb::EpochRecord>(*db_, RocksEpochKey(tip_.next_epoch()),
                                                     "the record after the tip"));
  if (beyond.has_value()) {
    return absl::DataLossError("an epoch record exists beyond the chain tip");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> RocksStore::Get(std::string_view key) const {
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), StateKey(key), &value);
  if (s.IsNotFound()) {
    return std::optional<std::string>();
  }
  BELFRY_RETURN_IF_ERROR(FromRocks(s, "reading a state key"));
  return std::optional<std::string>(std::move(value));
}

absl::Status RocksStore::CommitEpoch(uint64_t epoch, int64_t consensus_time_ms,
                                     const state::WriteSet& writes, const Digest& batch_digest) {
  absl::MutexLock lock(&mu_);
  BELFRY_ASSIGN_OR_RETURN(pb::EpochRecord record,
                          PrepareEpochRecord(tip_, epoch, consensus_time_ms, writes, batch_digest));
  pb::ChainTip tip = TipAfter(record);
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : writes.writes()) {
    if (value.has_value()) {
      BELFRY_RETURN_IF_ERROR(FromRocks(batch.Put(StateKey(key), *value), "preparing a write"));
    } else {
      BELFRY_RETURN_IF_ERROR(FromRocks(batch.Delete(StateKey(key)), "preparing a delete"));
    }
  }
  BELFRY_RETURN_IF_ERROR(
      FromRocks(batch.Put(RocksEpochKey(epoch), record.SerializeAsString()), "preparing the record"));
  BELFRY_RETURN_IF_ERROR(FromRocks(
      batch.Put(rocksdb::Slice(kRocksTipKey.data(), kRocksTipKey.size()), tip.SerializeAsString()),
      "preparing the tip"));
  rocksdb::WriteOptions wo;
  wo.sync = true;  // the reply for this epoch may only leave once it is on disk
  BELFRY_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), absl::StrCat("committing epoch ", epoch)));
  tip_ = std::move(tip);
  return absl::OkStatus();
}

uint64_t RocksStore::next_epoch() const {
  absl::MutexLock lock(&mu_);
  return tip_.next_epoch();
}

Digest RocksStore::log_head() const {
  absl::MutexLock lock(&mu_);
  Digest d{};
  std::copy(tip_.head().begin(), tip_.head().end(), d.begin());
  return d;
}

int64_t RocksStore::last_consensus_time_ms() const {
  absl::MutexLock lock(&mu_);
  return tip_.consensus_time_ms();
}

absl::StatusOr<std::optional<pb::EpochRecord>> RocksStore::ReadEpochRecord(uint64_t epoch) const {
  return ReadProto<pb::EpochRecord>(*db_, RocksEpochKey(epoch), absl::StrCat("epoch record ", epoch));
}

absl::StatusOr<Digest> RocksStore::ComputePrefixDigest(std::string_view prefix) const {
  return DigestOf(kRocksStatePrefix, prefix);
}

absl::StatusOr<Digest> RocksStore::DigestOf(char area, std::string_view prefix) const {
  // One snapshot, so a concurrent commit cannot make the digest mix two states.
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  StateDigestBuilder builder;
  absl::Status status;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    const std::string start = std::string(1, area).append(prefix);
    for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
      const rocksdb::Slice k = it->key();
      const rocksdb::Slice v = it->value();
      builder.Add(std::string_view(k.data() + 1, k.size() - 1), std::string_view(v.data(), v.size()));
    }
    status = FromRocks(it->status(), "scanning the state");
  }
  db_->ReleaseSnapshot(snapshot);
  BELFRY_RETURN_IF_ERROR(status);
  return builder.Finish();
}

namespace {

// A RocksDB snapshot of the state keys; released with the object.
class RocksSnapshot final : public StateSnapshot {
 public:
  // A snapshot of a live database.
  explicit RocksSnapshot(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  // A database of its own that nobody writes: a frozen checkpoint opened read-only.
  explicit RocksSnapshot(std::unique_ptr<rocksdb::DB> owned)
      : owned_(std::move(owned)), db_(owned_.get()), snapshot_(nullptr) {}
  ~RocksSnapshot() override {
    if (snapshot_ != nullptr) db_->ReleaseSnapshot(snapshot_);
    if (owned_ != nullptr) owned_->Close().PermitUncheckedError();
  }
  absl::Status Scan(std::string_view after_key, size_t max_bytes,
                    std::vector<std::pair<std::string, std::string>>* out, bool* done) const override {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    const std::string after = StateKey(after_key);
    it->Seek(after);
    if (it->Valid() && it->key() == rocksdb::Slice(after) && !after_key.empty()) it->Next();
    size_t bytes = 0;
    for (; it->Valid() && it->key().starts_with(rocksdb::Slice(&kRocksStatePrefix, 1)) &&
           (bytes == 0 || bytes < max_bytes);
         it->Next()) {
      const rocksdb::Slice k = it->key();
      const rocksdb::Slice v = it->value();
      bytes += k.size() - 1 + v.size();
      out->emplace_back(std::string(k.data() + 1, k.size() - 1), v.ToString());
    }
    *done = !it->Valid() || !it->key().starts_with(rocksdb::Slice(&kRocksStatePrefix, 1));
    return FromRocks(it->status(), "scanning a state snapshot");
  }

 private:
  std::unique_ptr<rocksdb::DB> owned_;
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

std::string StagingKey(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 1);
  out.push_back(kRocksStagingPrefix);
  out.append(key);
  return out;
}

// [first byte `area`, next byte): every key of one single-byte prefix, for DeleteRange.
std::pair<std::string, std::string> AreaRange(char area) {
  return {std::string(1, area), std::string(1, static_cast<char>(area + 1))};
}

}  // namespace

absl::StatusOr<std::shared_ptr<const StateSnapshot>> RocksStore::FreezeState() const {
  return std::shared_ptr<const StateSnapshot>(std::make_shared<RocksSnapshot>(db_.get()));
}

namespace {

// Makes the entries of directory `dir` durable (a new or renamed child survives a power cut).
absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("opening ", dir, ": ", std::strerror(errno)));
  const int synced = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (synced != 0) return absl::UnavailableError(absl::StrCat("syncing ", dir, ": ", std::strerror(saved)));
  return absl::OkStatus();
}

// The epoch a folder under PATH/frozen is named for; nullopt for any other name (a
// checkpoint RocksDB left half made, for one).
std::optional<uint64_t> FrozenEpochOf(const std::string& name) {
  uint64_t epoch = 0;
  const char* end = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(name.data(), end, epoch);
  if (ec != std::errc() || ptr != end || name.size() != 20) return std::nullopt;
  return epoch;
}

}  // namespace

std::string RocksStore::FrozenDir(uint64_t epoch) const {
  std::string digits = std::to_string(epoch);
  return absl::StrCat(path_, "/frozen/", std::string(20 - digits.size(), '0'), digits);
}

absl::StatusOr<std::shared_ptr<const StateSnapshot>> RocksStore::FreezeStateDurably(uint64_t epoch) {
  namespace fs = std::filesystem;
  // Held so that no commit lands between the in-memory snapshot and the checkpoint: both
  // must be the same state.
  absl::MutexLock lock(&mu_);
  const std::string root = path_ + "/frozen";
  const std::string dir = FrozenDir(epoch);
  std::error_code ec;
  const bool root_existed = fs::exists(root, ec);
  fs::create_directories(root, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("creating ", root, ": ", ec.message()));
  // The replica's state, as private as the data folder around it.
  fs::permissions(root, fs::perms::owner_all, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("restricting ", root, ": ", ec.message()));
  if (!root_existed) BELFRY_RETURN_IF_ERROR(SyncDirectory(path_));
  // A folder of that name is from before a restart, possibly of another state (the replica
  // may have been rolled back since): never reused.
  fs::remove_all(dir, ec);
  fs::remove_all(dir + ".tmp", ec);
  auto snapshot = std::make_shared<RocksSnapshot>(db_.get());
  rocksdb::Checkpoint* raw = nullptr;
  BELFRY_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "preparing a checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: the memtable is flushed first, so the copy needs no WAL.
  BELFRY_RETURN_IF_ERROR(FromRocks(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0),
                                   absl::StrCat("writing the frozen state of epoch ", epoch)));
  BELFRY_RETURN_IF_ERROR(SyncDirectory(root));
  return std::shared_ptr<const StateSnapshot>(std::move(snapshot));
}

absl::StatusOr<std::shared_ptr<const StateSnapshot>> RocksStore::OpenFrozen(uint64_t epoch) const {
  const std::string dir = FrozenDir(epoch);
  std::error_code ec;
  if (!std::filesystem::exists(dir + "/CURRENT", ec)) {
    return absl::NotFoundError(absl::StrCat("no frozen state for epoch ", epoch));
  }
  rocksdb::Options opts;
  opts.paranoid_checks = true;
  if (env_ != nullptr) opts.env = env_;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(size_t{4} << 20);
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  BELFRY_RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(opts, dir, &raw),
                                   absl::StrCat("opening the frozen state of epoch ", epoch)));
  return std::shared_ptr<const StateSnapshot>(std::make_shared<RocksSnapshot>(std::unique_ptr<rocksdb::DB>(raw)));
}

absl::Status RocksStore::DropFrozenExcept(const std::set<uint64_t>& keep) {
  namespace fs = std::filesystem;
  const std::string root = path_ + "/frozen";
  std::error_code ec;
  if (!fs::exists(root, ec)) return absl::OkStatus();
  bool removed = false;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
    const std::optional<uint64_t> epoch = FrozenEpochOf(entry.path().filename().string());
    if (epoch.has_value() && keep.count(*epoch) != 0) continue;
    std::error_code rm;
    fs::remove_all(entry.path(), rm);
    if (rm) return absl::UnavailableError(absl::StrCat("removing ", entry.path().string(), ": ", rm.message()));
    removed = true;
  }
  if (ec) return absl::UnavailableError(absl::StrCat("listing ", root, ": ", ec.message()));
  return removed ? SyncDirectory(root) : absl::OkStatus();
}

absl::Status RocksStore::WriteCheckpoint(const pb::CheckpointCertificate& certificate) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, rocksdb::Slice(kRocksCheckpointKey.data(), kRocksCheckpointKey.size()),
                            certificate.SerializeAsString()),
                   "writing the checkpoint");
}

absl::StatusOr<std::optional<pb::CheckpointCertificate>> RocksStore::ReadCheckpoint() const {
  return ReadProto<pb::CheckpointCertificate>(*db_, kRocksCheckpointKey, "the checkpoint");
}

absl::Status RocksStore::PruneLogBefore(uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  if (epoch <= base_.next_epoch()) return absl::OkStatus();
  if (epoch > tip_.next_epoch()) {
    return absl::FailedPreconditionError("cannot prune the log beyond its tip");
  }
  BELFRY_ASSIGN_OR_RETURN(std::optional<pb::EpochRecord> last,
                          ReadProto<pb::EpochRecord>(*db_, RocksEpochKey(epoch - 1), "the last pruned record"));
  if (!last.has_value()) return absl::DataLossError(absl::StrCat("epoch record ", epoch - 1, " is missing"));
  pb::ChainBase base;
  base.set_next_epoch(epoch);
  base.set_head(last->head());
  base.set_consensus_time_ms(last->consensus_time_ms());
  rocksdb::WriteBatch batch;
  // The base moves first in the same batch: a crash leaves the old or the new one, and
  // either way every record from the base on still exists.
  BELFRY_RETURN_IF_ERROR(FromRocks(
      batch.Put(rocksdb::Slice(kRocksBaseKey.data(), kRocksBaseKey.size()), base.SerializeAsString()),
      "preparing the chain base"));
  BELFRY_RETURN_IF_ERROR(FromRocks(
      batch.DeleteRange(RocksEpochKey(base_.next_epoch()), RocksEpochKey(epoch)), "preparing the pruning"));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  BELFRY_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "pruning the log"));
  base_ = std::move(base);
  return absl::OkStatus();
}

uint64_t RocksStore::log_base_epoch() const {
  absl::MutexLock lock(&mu_);
  return base_.next_epoch();
}

absl::Status RocksStore::ClearStaging() {
  const auto [from, to] = AreaRange(kRocksStagingPrefix);
  return FromRocks(db_->DeleteRange(rocksdb::WriteOptions(), db_->DefaultColumnFamily(), from, to),
                   "clearing the staging area");
}

absl::Status RocksStore::StageEntries(const std::vector<std::pair<std::string, std::string>>& entries) {
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : entries) {
    BELFRY_RETURN_IF_ERROR(FromRocks(batch.Put(StagingKey(key), value), "preparing a staged entry"));
  }
  // Not synced: a crash loses the transfer, which then starts over.
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "staging state entries");
}

absl::StatusOr<Digest> RocksStore::ComputeStagedDigest() const { return DigestOf(kRocksStagingPrefix, ""); }

absl::Status RocksStore::InstallStaged(uint64_t next_epoch, const Digest& head,
                                       int64_t consensus_time_ms) {
  absl::MutexLock lock(&mu_);
  rocksdb::WriteBatch batch;
  const auto [state_from, state_to] = AreaRange(kRocksStatePrefix);
  const auto [epoch_from, epoch_to] = AreaRange(kRocksEpochPrefix);
  const auto [staging_from, staging_to] = AreaRange(kRocksStagingPrefix);
  BELFRY_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(state_from, state_to), "preparing the swap"));
  BELFRY_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(epoch_from, epoch_to), "preparing the swap"));
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(staging_from); it->Valid() && it->key().starts_with(rocksdb::Slice(&kRocksStagingPrefix, 1));
         it->Next()) {
      const rocksdb::Slice k = it->key();
      BELFRY_RETURN_IF_ERROR(FromRocks(
          batch.Put(StateKey(std::string_view(k.data() + 1, k.size() - 1)), it->value()), "preparing the swap"));
    }
    BELFRY_RETURN_IF_ERROR(FromRocks(it->status(), "reading the staged state"));
  }
  BELFRY_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(staging_from, staging_to), "preparing the swap"));
  pb::ChainTip tip = tip_;
  tip.set_next_epoch(next_epoch);
  tip.set_head(std::string(head.begin(), head.end()));
  tip.set_consensus_time_ms(consensus_time_ms);
  pb::ChainBase base;
  base.set_next_epoch(next_epoch);
  base.set_head(tip.head());
  base.set_consensus_time_ms(consensus_time_ms);
  BELFRY_RETURN_IF_ERROR(FromRocks(
      batch.Put(rocksdb::Slice(kRocksBaseKey.data(), kRocksBaseKey.size()), base.SerializeAsString()),
      "preparing the chain base"));
  BELFRY_RETURN_IF_ERROR(FromRocks(
      batch.Put(rocksdb::Slice(kRocksTipKey.data(), kRocksTipKey.size()), tip.SerializeAsString()),
      "preparing the chain tip"));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  BELFRY_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "installing the transferred state"));
  tip_ = std::move(tip);
  base_ = std::move(base);
  return absl::OkStatus();
}

uint64_t RocksStore::ApproximateBytes() const {
  uint64_t sst = 0;
  uint64_t memtables = 0;
  db_->GetIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &sst);
  db_->GetIntProperty(rocksdb::DB::Properties::kSizeAllMemTables, &memtables);
  return sst + memtables;
}

namespace {

std::string InputKey(uint64_t epoch, uint64_t sequence) {
  ByteWriter w;
  w.U8(static_cast<uint8_t>(kRocksInputPrefix)).U64(epoch).U64(sequence);
  return std::string(AsStringView(w.bytes()));
}

std::string MetaKey(std::string_view name) {
  std::string key(1, kRocksMetaPrefix);
  key.append(name);
  return key;
}

}  // namespace

absl::Status RocksStore::AppendConsensusInputs(const std::vector<ConsensusInput>& inputs) {
  if (inputs.empty()) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  for (const ConsensusInput& in : inputs) {
    BELFRY_RETURN_IF_ERROR(FromRocks(batch.Put(InputKey(in.epoch, in.sequence), in.bytes),
                                     "preparing consensus inputs"));
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  BELFRY_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "writing consensus inputs"));
  absl::MutexLock lock(&mu_);
  for (const ConsensusInput& in : inputs) input_keys_.emplace(in.epoch, in.sequence);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ConsensusInput>> RocksStore::ReadConsensusInputs() const {
  std::vector<ConsensusInput> out;
  const auto [from, to] = AreaRange(kRocksInputPrefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(from); it->Valid() && it->key().compare(rocksdb::Slice(to)) < 0; it->Next()) {
    ByteReader r(std::string_view(it->key().data(), it->key().size()));
    ConsensusInput in;
    absl::StatusOr<uint8_t> prefix = r.ReadU8();
    absl::StatusOr<uint64_t> epoch = r.ReadU64();
    absl::StatusOr<uint64_t> sequence = r.ReadU64();
    if (!prefix.ok() || !epoch.ok() || !sequence.ok() || !r.empty()) {
      return absl::DataLossError("a consensus input key is malformed");
    }
    in.epoch = *epoch;
    in.sequence = *sequence;
    in.bytes = it->value().ToString();
    out.push_back(std::move(in));
  }
  BELFRY_RETURN_IF_ERROR(FromRocks(it->status(), "reading consensus inputs"));
  absl::MutexLock lock(&mu_);
  for (const ConsensusInput& in : out) input_keys_.emplace(in.epoch, in.sequence);
  return out;
}

absl::Status RocksStore::PruneConsensusInputsBefore(uint64_t epoch) {
  rocksdb::WriteBatch batch;
  absl::MutexLock lock(&mu_);
  const auto end = input_keys_.lower_bound({epoch, 0});
  if (end == input_keys_.begin()) return absl::OkStatus();
  for (auto it = input_keys_.begin(); it != end; ++it) {
    BELFRY_RETURN_IF_ERROR(FromRocks(batch.Delete(InputKey(it->first, it->second)), "preparing the input pruning"));
  }
  BELFRY_RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "pruning consensus inputs"));
  input_keys_.erase(input_keys_.begin(), end);
  return absl::OkStatus();
}

absl::Status RocksStore::PutMeta(std::string_view name, std::string_view value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, MetaKey(name), rocksdb::Slice(value.data(), value.size())), "writing a record");
}

absl::StatusOr<std::optional<std::string>> RocksStore::GetMeta(std::string_view name) const {
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), MetaKey(name), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  BELFRY_RETURN_IF_ERROR(FromRocks(s, "reading a record"));
  return std::optional<std::string>(std::move(value));
}

}  // namespace belfry::store
