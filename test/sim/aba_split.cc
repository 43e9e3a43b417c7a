#include "test/sim/aba_split.h"

#include <utility>

namespace belfry::sim {
namespace {

// The values a vote carries: bit 0 for value 0, bit 1 for value 1; 0 for no vote.
uint32_t VoteValues(const pb::AbaMessage& m) {
  switch (m.content_case()) {
    case pb::AbaMessage::kBval:
      return m.bval() ? 2 : 1;
    case pb::AbaMessage::kAux:
      return m.aux() ? 2 : 1;
    case pb::AbaMessage::kConf:
      switch (m.conf()) {
        case pb::ABA_VALUE_SET_ZERO: return 1;
        case pb::ABA_VALUE_SET_ONE: return 2;
        case pb::ABA_VALUE_SET_BOTH: return 3;
        default: return 0;
      }
    case pb::AbaMessage::kTerm:
      return m.term().value() ? 2 : 1;
    default:
      return 0;
  }
}

const pb::AbaMessage* AbaOf(const Envelope& e) {
  if (!e.msg->has_acs() || !e.msg->acs().has_aba()) return nullptr;
  return &e.msg->acs().aba();
}

}  // namespace

bool FlipVote(pb::AbaMessage& m) {
  switch (m.content_case()) {
    case pb::AbaMessage::kBval:
      m.set_bval(!m.bval());
      return true;
    case pb::AbaMessage::kAux:
      m.set_aux(!m.aux());
      return true;
    case pb::AbaMessage::kConf:
      if (m.conf() == pb::ABA_VALUE_SET_ZERO) {
        m.set_conf(pb::ABA_VALUE_SET_ONE);
      } else if (m.conf() == pb::ABA_VALUE_SET_ONE) {
        m.set_conf(pb::ABA_VALUE_SET_ZERO);
      }
      return true;
    case pb::AbaMessage::kTerm:
      m.mutable_term()->set_value(!m.term().value());
      return true;
    default:
      return false;
  }
}

bool IsCoinShare(const pb::AbaMessage& m) { return m.has_coin_share(); }

void CorruptCoinShare(pb::AbaMessage& m, Rng& rng) {
  std::string share = m.coin_share();
  if (share.empty() || rng.Uniform(4) == 0) {
    share.assign(1 + rng.Uniform(200), '\0');
    rng.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(share.data()), share.size()));
  } else {
    share[rng.Uniform(share.size())] ^= 0x10;
  }
  m.set_coin_share(share);
}

void ShiftCoinShareRound(pb::AbaMessage& m) { m.set_round(m.round() + 1); }

std::vector<pb::AbaMessage> SplitVotes(const pb::AbaMessage& m) {
  std::vector<pb::AbaMessage> out;
  if (m.has_bval() || m.has_aux()) {
    out.push_back(m);
    out.push_back(m);
    FlipVote(out.back());
  } else if (m.has_conf()) {
    for (auto set : {pb::ABA_VALUE_SET_ZERO, pb::ABA_VALUE_SET_ONE, pb::ABA_VALUE_SET_BOTH}) {
      out.push_back(m);
      out.back().set_conf(set);
    }
  } else {
    out.push_back(m);
  }
  return out;
}

AbaSplit::AbaSplit(SchedulerView view) : view_(std::move(view)) {
  for (NodeId i = 0; i < view_.n; ++i) {
    if (view_.byzantine[i]) {
      ++byzantine_count_;
    } else {
      correct_.push_back(i);
    }
  }
}

void AbaSplit::OnSend(const Envelope& e) {
  const pb::AbaMessage* aba = AbaOf(e);
  if (aba == nullptr || view_.byzantine[e.from]) return;
  const uint64_t epoch = e.msg->epoch();
  const uint32_t instance = e.msg->acs().instance();
  if (aba->has_coin_share()) {
    correct_shares_[Key{epoch, instance, aba->round()}].insert(e.from);
  }
  // B's progress: the highest round it has voted in.
  if (aba->has_bval() && e.from == LateNode(epoch, instance)) {
    auto [it, fresh] = late_round_.emplace(std::make_pair(epoch, instance), aba->round());
    if (!fresh && it->second < aba->round()) it->second = aba->round();
  }
}

std::optional<bool> AbaSplit::KnownCoin(const Key& key) {
  auto c = coin_.find(key);
  if (c != coin_.end()) return c->second;
  auto s = correct_shares_.find(key);
  const uint32_t seen = s == correct_shares_.end() ? 0 : static_cast<uint32_t>(s->second.size());
  // The adversary holds its own nodes' shares; it needs f+1 in all.
  if (seen + byzantine_count_ < view_.f + 1) return std::nullopt;
  const bool bit = view_.coin_bit(std::get<0>(key), std::get<1>(key), std::get<2>(key));
  coin_.emplace(key, bit);
  return bit;
}

bool AbaSplit::Attacked(uint64_t epoch, uint32_t instance) const {
  // f agreements per epoch can get split inputs: the other N−f decide 1 first.
  return (instance + view_.n - epoch % view_.n) % view_.n < view_.f;
}

NodeId AbaSplit::LateNode(uint64_t epoch, uint32_t instance) const {
  return correct_[(epoch + instance) % correct_.size()];
}

uint32_t AbaSplit::HalfOf(NodeId node) const {
  for (size_t k = 0; k < correct_.size(); ++k) {
    if (correct_[k] == node) return static_cast<uint32_t>(k % 2);
  }
  return 0;
}

int64_t AbaSplit::Priority(const Envelope& e) {
  if (view_.byzantine[e.to]) return 0;
  const pb::ConsensusMessage& m = *e.msg;
  if (!m.has_acs() || !Attacked(m.epoch(), m.acs().instance())) return 0;
  const uint32_t instance = m.acs().instance();
  const bool to_late = e.to == LateNode(m.epoch(), instance);
  if (m.acs().has_rbc()) {
    // Split inputs: the READYs reach B early and A late.
    if (!m.acs().rbc().has_ready()) return 0;
    return to_late ? 2 : -4;
  }
  const pb::AbaMessage& aba = m.acs().aba();
  if (aba.has_term()) return 0;
  // Rounds are played in lockstep with B: nobody gets a round B has not started yet, so
  // B's vote for it is out before A can finish it.
  auto b = late_round_.find(std::make_pair(m.epoch(), instance));
  if (b == late_round_.end() || aba.round() > b->second) return -3;
  const Key key{m.epoch(), instance, aba.round()};
  const uint32_t values = VoteValues(aba);
  const std::optional<bool> coin = KnownCoin(key);
  if (!coin.has_value()) {
    if (to_late) return -3;  // B waits until the coin is known
    switch (aba.content_case()) {
      case pb::AbaMessage::kBval:
        // Half of A reaches 2f+1 BVAL(0) first, the other half BVAL(1): their AUX differ.
        return values == (HalfOf(e.to) == 0 ? 1u : 2u) ? 4 : 2;
      case pb::AbaMessage::kConf:
        return values == 3 ? 3 : 1;  // A ends with {0, 1}
      default:
        return 3;
    }
  }
  if (!to_late) return 1;  // A finishes the round
  const uint32_t against = *coin ? 1u : 2u;  // the bit of ¬coin
  // B: votes for ¬coin first; the rest (the coin's votes, {0,1}, shares) only once
  // nothing else is left, so B settles its sets on ¬coin whenever the protocol lets it.
  return values == against ? 4 : -1;
}

}  // namespace belfry::sim
