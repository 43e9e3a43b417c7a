#include "replica/node/sync/joins.h"

#include <algorithm>
#include <cstdint>

namespace belfry::replica {

bool Joins::Admit(uint32_t from, uint64_t first_epoch, int64_t now_ms) {
  const Last& last = last_served_[from];
  if (now_ms - last.at_ms >= interval_ms_) return true;
  auto [it, inserted] = deferred_.emplace(from, first_epoch);
  if (!inserted) it->second = std::min(it->second, first_epoch);
  return false;
}

std::vector<std::pair<uint32_t, uint64_t>> Joins::TakeDue(int64_t now_ms) {
  std::vector<std::pair<uint32_t, uint64_t>> due;
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    if (now_ms - last_served_[it->first].at_ms < interval_ms_) {
      ++it;
      continue;
    }
    due.push_back(*it);
    it = deferred_.erase(it);
  }
  return due;
}

void Joins::Served(uint32_t from, uint64_t first_epoch, int64_t now_ms) {
  last_served_[from] = Last{first_epoch, now_ms};
}

}  // namespace belfry::replica
