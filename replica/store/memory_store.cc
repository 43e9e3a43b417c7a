#include "replica/store/memory_store.h"

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "replica/store/log_chain.h"

namespace belfry::store {

namespace {

pb::ChainBase BaseAt(const pb::ChainTip& tip) {
  pb::ChainBase base;
  base.set_next_epoch(tip.next_epoch());
  base.set_head(tip.head());
  base.set_consensus_time_ms(tip.consensus_time_ms());
  return base;
}

using Entries = std::map<std::string, std::string, std::less<>>;

// A copy of the map: the memory store serves tests and the simulator, where states are
// small.
class MemorySnapshot final : public StateSnapshot {
 public:
  explicit MemorySnapshot(Entries entries) : entries_(std::move(entries)) {}
  absl::Status Scan(std::string_view after_key, size_t max_bytes,
                    std::vector<std::pair<std::string, std::string>>* out, bool* done) const override {
    size_t bytes = 0;
    auto it = entries_.upper_bound(after_key);
    for (; it != entries_.end() && (bytes == 0 || bytes < max_bytes); ++it) {
      bytes += it->first.size() + it->second.size();
      out->emplace_back(it->first, it->second);
    }
    *done = it == entries_.end();
    return absl::OkStatus();
  }

 private:
  const Entries entries_;
};

}  // namespace

MemoryStore::MemoryStore() : tip_(GenesisTip()), base_(BaseAt(tip_)) {}

MemoryStore::MemoryStore(const MemoryStore& other) {
  absl::MutexLock lock(&other.mu_);
  state_ = other.state_;
  epochs_ = other.epochs_;
  tip_ = other.tip_;
  base_ = other.base_;
  checkpoint_ = other.checkpoint_;
  staging_ = other.staging_;
  frozen_ = other.frozen_;
  inputs_ = other.inputs_;
  meta_ = other.meta_;
}

absl::StatusOr<std::optional<std::string>> MemoryStore::Get(std::string_view key) const {
  absl::MutexLock lock(&mu_);
  auto it = state_.find(key);
  if (it == state_.end()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(it->second);
}

absl::Status MemoryStore::CommitEpoch(uint64_t epoch, int64_t consensus_time_ms,
                                      const state::WriteSet& writes, const Digest& batch_digest) {
  absl::MutexLock lock(&mu_);
  BELFRY_ASSIGN_OR_RETURN(pb::EpochRecord record,
                          PrepareEpochRecord(tip_, epoch, consensus_time_ms, writes, batch_digest));
  for (const auto& [key, value] : writes.writes()) {
    if (value.has_value()) {
      state_.insert_or_assign(key, *value);
    } else {
      state_.erase(key);
    }
  }
  tip_ = TipAfter(record);
  epochs_.emplace(epoch, std::move(record));
  return absl::OkStatus();
}

uint64_t MemoryStore::next_epoch() const {
  absl::MutexLock lock(&mu_);
  return tip_.next_epoch();
}

Digest MemoryStore::log_head() const {
  absl::MutexLock lock(&mu_);
  Digest d{};
  std::copy(tip_.head().begin(), tip_.head().end(), d.begin());
  return d;
}

int64_t MemoryStore::last_consensus_time_ms() const {
  absl::MutexLock lock(&mu_);
  return tip_.consensus_time_ms();
}

absl::StatusOr<std::optional<pb::EpochRecord>> MemoryStore::ReadEpochRecord(uint64_t epoch) const {
  absl::MutexLock lock(&mu_);
  auto it = epochs_.find(epoch);
  if (it == epochs_.end()) {
    return std::optional<pb::EpochRecord>();
  }
  return std::optional<pb::EpochRecord>(it->second);
}

absl::StatusOr<Digest> MemoryStore::ComputePrefixDigest(std::string_view prefix) const {
  absl::MutexLock lock(&mu_);
  StateDigestBuilder builder;
  for (auto it = state_.lower_bound(prefix); it != state_.end() && it->first.starts_with(prefix); ++it) {
    builder.Add(it->first, it->second);
  }
  return builder.Finish();
}

std::map<std::string, std::string, std::less<>> MemoryStore::SnapshotState() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::StatusOr<std::shared_ptr<const StateSnapshot>> MemoryStore::FreezeState() const {
  absl::MutexLock lock(&mu_);
  return std::shared_ptr<const StateSnapshot>(std::make_shared<MemorySnapshot>(state_));
}

absl::StatusOr<std::shared_ptr<const StateSnapshot>> MemoryStore::FreezeStateDurably(uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<const StateSnapshot> frozen = std::make_shared<MemorySnapshot>(state_);
  frozen_[epoch] = frozen;
  return frozen;
}

absl::StatusOr<std::shared_ptr<const StateSnapshot>> MemoryStore::OpenFrozen(uint64_t epoch) const {
  absl::MutexLock lock(&mu_);
  auto it = frozen_.find(epoch);
  if (it == frozen_.end()) return absl::NotFoundError(absl::StrCat("no frozen state for epoch ", epoch));
  return it->second;
}

absl::Status MemoryStore::DropFrozenExcept(const std::set<uint64_t>& keep) {
  absl::MutexLock lock(&mu_);
  std::erase_if(frozen_, [&keep](const auto& entry) { return keep.count(entry.first) == 0; });
  return absl::OkStatus();
}

std::set<uint64_t> MemoryStore::FrozenEpochs() const {
  absl::MutexLock lock(&mu_);
  std::set<uint64_t> out;
  for (const auto& [epoch, state] : frozen_) out.insert(epoch);
  return out;
}

absl::Status MemoryStore::WriteCheckpoint(const pb::CheckpointCertificate& certificate) {
  absl::MutexLock lock(&mu_);
  checkpoint_ = certificate;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<pb::CheckpointCertificate>> MemoryStore::ReadCheckpoint() const {
  absl::MutexLock lock(&mu_);
  return checkpoint_;
}

absl::Status MemoryStore::PruneLogBefore(uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  if (epoch <= base_.next_epoch()) return absl::OkStatus();
  if (epoch > tip_.next_epoch()) {
    return absl::FailedPreconditionError("cannot prune the log beyond its tip");
  }
  const pb::EpochRecord& last = epochs_.at(epoch - 1);
  base_.set_next_epoch(epoch);
  base_.set_head(last.head());
  base_.set_consensus_time_ms(last.consensus_time_ms());
  epochs_.erase(epochs_.begin(), epochs_.lower_bound(epoch));
  return absl::OkStatus();
}

uint64_t MemoryStore::log_base_epoch() const {
  absl::MutexLock lock(&mu_);
  return base_.next_epoch();
}

absl::Status MemoryStore::ClearStaging() {
  absl::MutexLock lock(&mu_);
  staging_.clear();
  return absl::OkStatus();
}

absl::Status MemoryStore::StageEntries(const std::vector<std::pair<std::string, std::string>>& entries) {
  absl::MutexLock lock(&mu_);
  for (const auto& [key, value] : entries) staging_.insert_or_assign(key, value);
  return absl::OkStatus();
}

absl::StatusOr<Digest> MemoryStore::ComputeStagedDigest() const {
  absl::MutexLock lock(&mu_);
  StateDigestBuilder builder;
  for (const auto& [key, value] : staging_) builder.Add(key, value);
  return builder.Finish();
}

absl::Status MemoryStore::InstallStaged(uint64_t next_epoch, const Digest& head,
                                        int64_t consensus_time_ms) {
  absl::MutexLock lock(&mu_);
  state_.swap(staging_);
  staging_.clear();
  epochs_.clear();
  tip_.set_next_epoch(next_epoch);
  tip_.set_head(std::string(head.begin(), head.end()));
  tip_.set_consensus_time_ms(consensus_time_ms);
  base_ = BaseAt(tip_);
  return absl::OkStatus();
}

absl::Status MemoryStore::VerifyChain() const {
  absl::MutexLock lock(&mu_);
  BELFRY_ASSIGN_OR_RETURN(Digest head, DigestField(base_.head(), "base head"));
  int64_t time_ms = base_.consensus_time_ms();
  for (uint64_t e = base_.next_epoch(); e < tip_.next_epoch(); ++e) {
    auto it = epochs_.find(e);
    if (it == epochs_.end()) {
      return absl::DataLossError("an epoch record is missing");
    }
    BELFRY_RETURN_IF_ERROR(VerifyEpochRecord(e, it->second, head, time_ms));
    BELFRY_ASSIGN_OR_RETURN(head, DigestField(it->second.head(), "head"));
    time_ms = it->second.consensus_time_ms();
  }
  BELFRY_ASSIGN_OR_RETURN(Digest tip_head, DigestField(tip_.head(), "tip head"));
  if (tip_head != head) {
    return absl::DataLossError("the chain tip does not match the last epoch record");
  }
  return absl::OkStatus();
}

absl::Status MemoryStore::AppendConsensusInputs(const std::vector<ConsensusInput>& inputs) {
  absl::MutexLock lock(&mu_);
  for (const ConsensusInput& in : inputs) inputs_[{in.epoch, in.sequence}] = in.bytes;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ConsensusInput>> MemoryStore::ReadConsensusInputs() const {
  absl::MutexLock lock(&mu_);
  std::vector<ConsensusInput> out;
  out.reserve(inputs_.size());
  for (const auto& [key, bytes] : inputs_) out.push_back(ConsensusInput{key.first, key.second, bytes});
  return out;
}

absl::Status MemoryStore::PruneConsensusInputsBefore(uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  inputs_.erase(inputs_.begin(), inputs_.lower_bound({epoch, 0}));
  return absl::OkStatus();
}

absl::Status MemoryStore::PutMeta(std::string_view name, std::string_view value) {
  absl::MutexLock lock(&mu_);
  meta_[std::string(name)] = std::string(value);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> MemoryStore::GetMeta(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = meta_.find(name);
  if (it == meta_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

}  // namespace belfry::store
