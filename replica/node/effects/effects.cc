#include "replica/node/effects/effects.h"

#include "base/check.h"

namespace belfry::replica {

Effects::Effects(uint32_t self, uint32_t n, Outbox* outbox, CoreLogger* logger)
    : self_(self), n_(n), outbox_(outbox), logger_(logger) {
  BELFRY_CHECK(self_ < n_);
  counters_.faults_by_peer.assign(n_, 0);
}

void Effects::BeginStep() { ++step_depth_; }

bool Effects::EndStep() {
  BELFRY_CHECK(step_depth_ > 0);
  return --step_depth_ == 0;
}

void Effects::SendPeer(uint32_t to, std::string payload) {
  // Every input method opens a step, so nothing reaches a peer without passing the sync
  // at the step's end.
  BELFRY_CHECK(step_depth_ > 0);
  BELFRY_CHECK(to < n_ && to != self_);
  held_sends_.emplace_back(to, std::move(payload));
}

void Effects::SendConsensus(uint32_t to, std::string payload) {
  held_consensus_ = true;
  SendPeer(to, std::move(payload));
}

void Effects::SendOtherPeers(const std::string& payload) {
  for (uint32_t to = 0; to < n_; ++to) {
    if (to != self_) SendPeer(to, payload);
  }
}

void Effects::ReleasePeerSends() {
  BELFRY_CHECK(step_depth_ == 0);
  std::vector<std::pair<uint32_t, std::string>> sends = std::move(held_sends_);
  held_sends_.clear();
  held_consensus_ = false;
  for (auto& [to, payload] : sends) outbox_->SendPeer(to, std::move(payload));
}

void Effects::DropPeerSends() {
  held_sends_.clear();
  held_consensus_ = false;
}

void Effects::SendClient(uint64_t connection, std::string frame) { outbox_->SendClient(connection, std::move(frame)); }

void Effects::Fault(const PeerFault& fault, absl::string_view detail) {
  ++counters_.peer_faults[fault];
  if (IsProtocolFault(fault)) ++counters_.faults;
  switch (fault.kind) {
    case PeerFaultKind::kConsensus:
      if (IsProtocolFault(fault)) {
        Log(LogLevel::kWarn, "consensus", "peer_fault").Add("peer", fault.peer).Add("kind", PeerFaultName(fault));
      }
      break;
    case PeerFaultKind::kFrameBeyondWindow:
    case PeerFaultKind::kMalformedPeerMessage:
      break;  // one per frame at worst: the counters tell the story
    default:
      Log(LogLevel::kWarn, "replica", "peer_fault")
          .Add("peer", fault.peer)
          .Add("kind", PeerFaultName(fault))
          .Add("detail", detail);
      break;
  }
}

}  // namespace belfry::replica
