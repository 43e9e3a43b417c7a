#include "replica/node/sync/divergence.h"

#include <algorithm>

#include "base/check.h"

namespace belfry::replica {

Divergence::Divergence(uint32_t f, uint32_t epochs_max) : f_(f), epochs_max_(epochs_max) {}

bool Divergence::AddCorrection(uint32_t from, uint64_t epoch, const std::string& record_digest) {
  BELFRY_CHECK(!diverged_);
  auto votes = votes_.find(epoch);
  if (votes == votes_.end()) {
    // Bounded: the newest epochs are kept, as a cluster that runs on corrects those.
    if (votes_.size() >= epochs_max_) {
      if (votes_.empty() || epoch < votes_.begin()->first) return false;
      votes_.erase(votes_.begin());
    }
    votes = votes_.emplace(epoch, std::map<uint32_t, std::string>()).first;
  }
  const std::string& record = votes->second[from] = record_digest;
  BELFRY_CHECK(votes_.size() <= std::max<uint32_t>(epochs_max_, 1));
  uint32_t agreeing = 0;
  for (const auto& [peer, r] : votes->second) agreeing += r == record ? 1 : 0;
  // 2f+1, so at least f+1 correct replicas committed that record: it is the cluster's,
  // and ours can never gather the 2f+1 replies a client needs. Fewer could be f liars.
  return agreeing >= 2 * f_ + 1;
}

void Divergence::MarkDiverged() {
  diverged_ = true;
  votes_.clear();
}

void Divergence::Clear() {
  diverged_ = false;
  votes_.clear();
}

}  // namespace belfry::replica
