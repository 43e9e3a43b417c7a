#include "replica/node/sync/catch_up.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace belfry::replica {

CatchUp::CatchUp(uint32_t f, Limits limits, Effects& effects) : f_(f), limits_(limits), effects_(effects) {}

bool CatchUp::PeersAhead(const consensus::epoch::HoneyBadger& hb, uint64_t next_epoch) const {
  uint32_t ahead = 0;
  for (uint32_t peer = 0; peer < effects_.n(); ++peer) {
    auto beyond = beyond_window_.find(peer);
    auto joined = joined_at_.find(peer);
    if ((beyond != beyond_window_.end() &&
         hb.Classify(beyond->second) == consensus::epoch::EpochPosition::kBeyondWindow) ||
        (joined != joined_at_.end() && joined->second > next_epoch)) {
      ++ahead;
    }
  }
  return ahead >= f_ + 1;
}

CatchUp::Fetch CatchUp::Request(int64_t now_ms, uint64_t next_epoch) {
  if (now_ms - last_fetch_ms_ < limits_.fetch_interval_ms) return Fetch::kPaced;
  last_fetch_ms_ = now_ms;
  if (++fetches_without_progress_ > 3) {
    behind_ = false;  // a later beyond-window message sets it again
    fetches_without_progress_ = 0;
    // Nobody could serve the epochs we lack: they are pruned. A stable checkpoint beyond
    // our state is then the way back.
    return Fetch::kGaveUp;
  }
  pb::PeerMessage msg;
  msg.mutable_fetch_epochs()->set_first_epoch(next_epoch);
  msg.mutable_fetch_epochs()->set_count(limits_.fetch_epochs_max);
  effects_.SendOtherPeers(msg.SerializeAsString());
  return Fetch::kSent;
}

void CatchUp::Resume() {
  behind_ = true;
  fetches_without_progress_ = 0;  // keep fetching until a fetch brings nothing new
  last_fetch_ms_ = 0;
}

bool CatchUp::AllowServing(uint32_t from, int64_t now_ms) {
  // Rate-limited per peer: an answer can be fetch_epochs_max whole batches, so a faulty
  // peer's stream of small fetches must not become a stream of large answers. A correct
  // peer asks every fetch_interval_ms, far less often.
  auto [last, first_time] = last_fetch_served_ms_.emplace(from, now_ms);
  if (first_time) return true;
  if (now_ms - last->second < limits_.fetch_served_interval_ms) {
    ++effects_.counters().fetches_refused;
    return false;
  }
  last->second = now_ms;
  return true;
}

void CatchUp::Uncharge(uint32_t peer, uint64_t bytes) {
  uint64_t& charged = bytes_by_peer_[peer];
  // Every held record was charged its size to one peer when it was kept.
  BELFRY_CHECK(charged >= bytes);
  charged -= bytes;
}

bool CatchUp::Add(uint32_t from, const pb::CommittedEpoch& committed, uint64_t next_epoch) {
  BELFRY_CHECK(committed.epoch() >= next_epoch);
  // Only epochs we could apply soon are kept: bounded by the fetch size.
  if (committed.epoch() >= next_epoch + limits_.fetch_epochs_max) return false;
  // One record per peer and epoch (its latest): a faulty peer cannot pile up records.
  std::map<std::string, Record>& records = votes_[committed.epoch()];
  for (auto it = records.begin(); it != records.end();) {
    it->second.senders.erase(from);
    if (it->second.senders.empty()) {
      Uncharge(it->second.charged_to, it->first.size());
      it = records.erase(it);
    } else {
      ++it;
    }
  }
  std::string bytes = committed.SerializeAsString();
  auto existing = records.find(bytes);
  if (existing == records.end()) {
    // A record nobody else sent is charged to its sender, so one peer's records (each up
    // to a frame) cannot fill memory; a record others sent already costs nothing more.
    uint64_t& charged = bytes_by_peer_[from];
    if (charged + bytes.size() > limits_.bytes_per_peer_max) {
      ++effects_.counters().catchup_records_refused;
      if (records.empty()) votes_.erase(committed.epoch());
      return false;
    }
    charged += bytes.size();
    existing = records.emplace(std::move(bytes), Record{{}, from}).first;
  }
  existing->second.senders.insert(from);
  BELFRY_CHECK(bytes_by_peer_[from] <= limits_.bytes_per_peer_max);
  return true;
}

std::optional<pb::CommittedEpoch> CatchUp::Agreed(uint64_t epoch) const {
  auto it = votes_.find(epoch);
  if (it == votes_.end()) return std::nullopt;
  const std::string* winner = nullptr;
  for (const auto& [record, held] : it->second) {
    if (held.senders.size() >= f_ + 1) winner = &record;
  }
  if (winner == nullptr) return std::nullopt;
  pb::CommittedEpoch c;
  // Kept only as the serialization of a parsed record.
  BELFRY_CHECK(c.ParseFromString(*winner));
  BELFRY_CHECK(c.epoch() == epoch);
  return c;
}

std::vector<uint32_t> CatchUp::SendersOfOtherRecords(uint64_t epoch, const std::string& own_record) const {
  std::vector<uint32_t> out;
  auto it = votes_.find(epoch);
  if (it == votes_.end()) return out;
  for (const auto& [record, held] : it->second) {
    if (record == own_record) continue;
    out.insert(out.end(), held.senders.begin(), held.senders.end());
  }
  return out;
}

void CatchUp::DropThrough(uint64_t epoch) {
  for (auto it = votes_.begin(); it != votes_.end() && it->first <= epoch; it = votes_.erase(it)) {
    for (const auto& [record, held] : it->second) Uncharge(held.charged_to, record.size());
  }
  CheckAccounting();
}

uint64_t CatchUp::bytes_held() const {
  uint64_t total = 0;
  for (const auto& [peer, bytes] : bytes_by_peer_) total += bytes;
  return total;
}

void CatchUp::CheckAccounting() const {
  // What each peer is charged is exactly the records it brought that are still held.
  std::map<uint32_t, uint64_t> expected;
  for (const auto& [epoch, records] : votes_) {
    for (const auto& [record, held] : records) {
      BELFRY_CHECK(!held.senders.empty());
      expected[held.charged_to] += record.size();
    }
  }
  for (const auto& [peer, bytes] : bytes_by_peer_) {
    auto e = expected.find(peer);
    BELFRY_CHECK(bytes == (e == expected.end() ? 0 : e->second));
    BELFRY_CHECK(bytes <= limits_.bytes_per_peer_max);
  }
}

}  // namespace belfry::replica
