#include "replica/node/sync/sent_log.h"

#include "base/check.h"

namespace belfry::replica {

void SentLog::Add(uint64_t epoch, consensus::Target target, std::string bytes) {
  AddRebuilt(epoch, std::move(target), std::move(bytes));
  while (bytes_ > bytes_max_ && !log_.empty()) {
    for (const auto& [t, b] : log_.rbegin()->second) bytes_ -= b.size();
    log_.erase(std::prev(log_.end()));
  }
  BELFRY_CHECK(bytes_ <= bytes_max_);
}

void SentLog::AddRebuilt(uint64_t epoch, consensus::Target target, std::string bytes) {
  bytes_ += bytes.size();
  log_[epoch].emplace_back(std::move(target), std::move(bytes));
}

void SentLog::PruneBefore(uint64_t first_epoch) {
  for (auto it = log_.begin(); it != log_.end() && it->first < first_epoch; it = log_.erase(it)) {
    for (const auto& [t, b] : it->second) {
      BELFRY_CHECK(bytes_ >= b.size());
      bytes_ -= b.size();
    }
  }
  CheckAccounting();
}

void SentLog::Clear() {
  log_.clear();
  bytes_ = 0;
}

std::vector<const std::string*> SentLog::SentTo(uint32_t peer, uint64_t first_epoch) const {
  std::vector<const std::string*> out;
  for (auto it = log_.lower_bound(first_epoch); it != log_.end(); ++it) {
    for (const auto& [target, bytes] : it->second) {
      if (target.Contains(peer)) out.push_back(&bytes);
    }
  }
  return out;
}

void SentLog::CheckAccounting() const {
  // The byte count is the sum of what is kept: the bound is enforced on the true size.
  uint64_t sum = 0;
  for (const auto& [epoch, sent] : log_) {
    for (const auto& [t, b] : sent) sum += b.size();
  }
  BELFRY_CHECK(sum == bytes_);
}

}  // namespace belfry::replica
