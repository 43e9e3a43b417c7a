#include "replica/node/sync/future_frames.h"

#include <algorithm>
#include <iterator>

#include "base/check.h"

namespace belfry::replica {

FutureFrames::FutureFrames(uint64_t bytes_per_peer_max, Effects& effects)
    : bytes_per_peer_max_(bytes_per_peer_max), effects_(effects) {}

void FutureFrames::Hold(uint32_t from, uint64_t epoch, const std::string& payload) {
  Held& held = held_[from];
  // A multimap keeps equal epochs in insertion order, so each epoch's frames stay in the
  // order the link delivered them; the latest epoch's last frame is the first to go.
  held.frames.emplace_hint(held.frames.end(), epoch, payload);
  held.bytes += payload.size();
  while (held.bytes > bytes_per_peer_max_) {
    auto latest = std::prev(held.frames.end());
    held.dropped_from = std::min(held.dropped_from.value_or(latest->first), latest->first);
    held.bytes -= latest->second.size();
    held.frames.erase(latest);
    ++effects_.counters().future_frames_dropped;
  }
  BELFRY_CHECK(held.bytes <= bytes_per_peer_max_);
  BELFRY_CHECK(!held.frames.empty() || held.bytes == 0);
}

std::optional<uint32_t> FutureFrames::PeerAfter(std::optional<uint32_t> peer) const {
  auto it = peer.has_value() ? held_.upper_bound(*peer) : held_.begin();
  if (it == held_.end()) return std::nullopt;
  return it->first;
}

std::optional<uint64_t> FutureFrames::dropped_from(uint32_t peer) const {
  auto it = held_.find(peer);
  return it == held_.end() ? std::nullopt : it->second.dropped_from;
}

void FutureFrames::ClearDropped(uint32_t peer) { held_[peer].dropped_from.reset(); }

std::optional<uint64_t> FutureFrames::FrontEpoch(uint32_t peer) const {
  auto it = held_.find(peer);
  if (it == held_.end() || it->second.frames.empty()) return std::nullopt;
  return it->second.frames.begin()->first;
}

std::string FutureFrames::PopFront(uint32_t peer) {
  Held& held = held_.at(peer);
  BELFRY_CHECK(!held.frames.empty());
  auto first = held.frames.begin();
  std::string payload = std::move(first->second);
  BELFRY_CHECK(held.bytes >= payload.size());
  held.bytes -= payload.size();
  held.frames.erase(first);
  // The byte count is the sum of what is held: nothing is left over once it is empty.
  BELFRY_CHECK(!held.frames.empty() || held.bytes == 0);
  return payload;
}

uint64_t FutureFrames::frames() const {
  uint64_t total = 0;
  for (const auto& [peer, held] : held_) total += held.frames.size();
  return total;
}

uint64_t FutureFrames::bytes() const {
  uint64_t total = 0;
  for (const auto& [peer, held] : held_) total += held.bytes;
  return total;
}

}  // namespace belfry::replica
