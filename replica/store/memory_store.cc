#include "replica/store/memory_store.h"

#include "base/status.h"
#include "replica/store/log_chain.h"

namespace belfry::store {

MemoryStore::MemoryStore() : tip_(GenesisTip()) {}

MemoryStore::MemoryStore(const MemoryStore& other) {
  absl::MutexLock lock(&other.mu_);
  state_ = other.state_;
  epochs_ = other.epochs_;
  tip_ = other.tip_;
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

absl::StatusOr<Digest> MemoryStore::ComputeStateDigest() const {
  absl::MutexLock lock(&mu_);
  StateDigestBuilder builder;
  for (const auto& [key, value] : state_) {
    builder.Add(key, value);
  }
  return builder.Finish();
}

std::map<std::string, std::string, std::less<>> MemoryStore::SnapshotState() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::Status MemoryStore::VerifyChain() const {
  absl::MutexLock lock(&mu_);
  BELFRY_ASSIGN_OR_RETURN(Digest head, DigestField(GenesisTip().head(), "genesis head"));
  int64_t time_ms = 0;
  for (uint64_t e = 0; e < tip_.next_epoch(); ++e) {
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

}  // namespace belfry::store
