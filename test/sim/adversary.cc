#include "test/sim/adversary.h"

#include <deque>
#include <utility>

#include "base/check.h"
#include "consensus/epoch/proposal.h"
#include "consensus/internal/merkle.h"
#include "consensus/rbc/broadcast.h"
#include "test/sim/aba_split.h"

namespace belfry::sim {

using consensus::Target;
using consensus::TargetedMessage;

namespace {

constexpr size_t kHistoryMax = 512;

// Strategies kMixed draws from.
constexpr Strategy kMixable[] = {Strategy::kHonest,        Strategy::kSilent,
                                 Strategy::kEquivocate,    Strategy::kBadMerkle,
                                 Strategy::kFakeEchoReady, Strategy::kFlipVotes,
                                 Strategy::kBadCoin,       Strategy::kReplay,
                                 Strategy::kFlood};

bool IsRbc(const pb::ConsensusMessage& m) { return m.has_acs() && m.acs().has_rbc(); }
bool IsAba(const pb::ConsensusMessage& m) { return m.has_acs() && m.acs().has_aba(); }

}  // namespace

// Per Byzantine node: its current strategy and what it remembers.
struct Adversary::NodeState {
  Strategy strategy = Strategy::kHonest;
  std::deque<std::pair<NodeId, pb::ConsensusMessage>> history;  // for replays
  std::set<std::pair<uint64_t, uint32_t>> faked;                // (epoch, instance) done
  std::set<uint64_t> equivocated;                               // epochs done
  // Per epoch, the recipients that get the second story of an equivocation.
  std::map<uint64_t, std::map<NodeId, pb::ConsensusMessage>> alternative_values;
  uint32_t flood_sent = 0;
};

const char* StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kNone: return "none";
    case Strategy::kHonest: return "honest";
    case Strategy::kSilent: return "silent";
    case Strategy::kEquivocate: return "equivocate";
    case Strategy::kBadMerkle: return "bad-merkle";
    case Strategy::kFakeEchoReady: return "fake-echo-ready";
    case Strategy::kFlipVotes: return "flip-votes";
    case Strategy::kBadCoin: return "bad-coin";
    case Strategy::kReplay: return "replay";
    case Strategy::kFlood: return "flood";
    case Strategy::kMixed: return "mixed";
    case Strategy::kAbaSplit: return "aba-split";
  }
  return "?";
}

std::vector<Strategy> AllByzantineStrategies() {
  return {Strategy::kHonest,   Strategy::kSilent,    Strategy::kEquivocate, Strategy::kBadMerkle,
          Strategy::kFakeEchoReady, Strategy::kFlipVotes, Strategy::kBadCoin, Strategy::kReplay,
          Strategy::kFlood,    Strategy::kMixed,     Strategy::kAbaSplit};
}

std::optional<Strategy> ParseStrategy(const std::string& name) {
  if (name == "none") return Strategy::kNone;
  for (Strategy s : AllByzantineStrategies()) {
    if (name == StrategyName(s)) return s;
  }
  return std::nullopt;
}

Adversary::Adversary(AdversaryParams params, Strategy strategy, uint64_t seed)
    : params_(std::move(params)), strategy_(strategy), rng_(seed) {
  for (NodeId i = 0; i < params_.n; ++i) {
    if (!params_.byzantine[i]) continue;
    auto st = std::make_unique<NodeState>();
    st->strategy = strategy_;
    if (strategy_ == Strategy::kMixed) {
      st->strategy = kMixable[rng_.Uniform(std::size(kMixable))];
    }
    nodes_.emplace(i, std::move(st));
  }
}

Adversary::~Adversary() = default;

Strategy Adversary::strategy_of(NodeId byz) const {
  auto it = nodes_.find(byz);
  return it == nodes_.end() ? Strategy::kNone : it->second->strategy;
}

bool Adversary::proposes(NodeId byz) const { return strategy_of(byz) != Strategy::kSilent; }

uint64_t Adversary::ClockReading(NodeId byz, uint64_t honest_reading) {
  switch (strategy_of(byz)) {
    case Strategy::kHonest:
    case Strategy::kNone:
      return honest_reading;
    default:
      // Far in the past or far in the future: the median must not follow either.
      return rng_.Uniform(2) == 0 ? 0 : honest_reading * 1000 + 1000000;
  }
}

std::string Adversary::RandomBytes(size_t n) {
  std::string s(n, '\0');
  rng_.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(s.data()), s.size()));
  return s;
}

NodeId Adversary::RandomPeer(NodeId byz) {
  for (;;) {
    const auto j = static_cast<NodeId>(rng_.Uniform(params_.n));
    if (j != byz) return j;
  }
}

void Adversary::Observe(NodeId byz, NodeId from, const pb::ConsensusMessage& msg) {
  auto it = nodes_.find(byz);
  if (it == nodes_.end()) return;
  NodeState& st = *it->second;
  st.history.emplace_back(from, msg);
  if (st.history.size() > kHistoryMax) st.history.pop_front();
}

std::vector<Outgoing> Adversary::Emit(NodeId byz,
                                      std::vector<TargetedMessage<pb::ConsensusMessage>> msgs,
                                      uint64_t next_output) {
  std::vector<Outgoing> out;
  auto it = nodes_.find(byz);
  BELFRY_CHECK(it != nodes_.end());
  NodeState& st = *it->second;
  if (strategy_ == Strategy::kMixed && rng_.Uniform(64) == 0) {
    st.strategy = kMixable[rng_.Uniform(std::size(kMixable))];  // switch now and then
  }
  const Strategy s = st.strategy;
  if (s == Strategy::kSilent) return out;
  for (auto& tm : msgs) {
    for (NodeId to = 0; to < params_.n; ++to) {
      if (to == byz || !tm.target.Contains(to)) continue;
      EmitOne(byz, st, s, to, tm.message, next_output, out);
    }
  }
  return out;
}

void Adversary::EmitOne(NodeId byz, NodeState& st, Strategy s, NodeId to,
                        pb::ConsensusMessage msg, uint64_t next_output,
                        std::vector<Outgoing>& out) {
  const uint64_t epoch = msg.epoch();
  switch (s) {
    case Strategy::kNone:
    case Strategy::kHonest:
    case Strategy::kSilent:
      break;
    case Strategy::kEquivocate:
      // Replace our own VALs: half the nodes get another value's stripes, or everybody gets
      // stripes that do not form one codeword.
      if (IsRbc(msg) && msg.acs().instance() == byz && msg.acs().rbc().has_value()) {
        Equivocate(byz, st, epoch, out);
        auto& alt = st.alternative_values[epoch];
        auto a = alt.find(to);
        if (a != alt.end()) msg = a->second;
      }
      break;
    case Strategy::kBadMerkle:
      if (IsRbc(msg) && (msg.acs().rbc().has_value() || msg.acs().rbc().has_echo()) &&
          rng_.Uniform(2) == 0) {
        CorruptStripe(msg);
      }
      break;
    case Strategy::kFakeEchoReady:
      if (msg.has_acs()) FakeEchoReady(byz, st, epoch, msg.acs().instance(), out);
      break;
    case Strategy::kFlipVotes:
      if (IsAba(msg)) {
        pb::AbaMessage* aba = msg.mutable_acs()->mutable_aba();
        if (rng_.Uniform(2) == 0) {
          // Double vote: the original and its opposite, to the same node.
          pb::ConsensusMessage flipped = msg;
          if (FlipVote(*flipped.mutable_acs()->mutable_aba())) out.push_back({to, flipped});
        } else {
          FlipVote(*aba);
        }
      }
      break;
    case Strategy::kBadCoin:
      if (msg.has_order_share() || (IsAba(msg) && IsCoinShare(msg.acs().aba()))) {
        switch (rng_.Uniform(3)) {
          case 0:
            return;  // withheld
          case 1:
            if (msg.has_order_share()) {
              std::string share = msg.order_share().share();
              if (!share.empty()) share[rng_.Uniform(share.size())] ^= 0x20;
              msg.mutable_order_share()->set_share(share);
            } else {
              CorruptCoinShare(*msg.mutable_acs()->mutable_aba(), rng_);
            }
            break;
          default:
            // Replayed under another name: a valid share of a different coin.
            if (msg.has_order_share()) {
              msg.set_epoch(epoch == 0 ? 1 : epoch - 1);
            } else {
              ShiftCoinShareRound(*msg.mutable_acs()->mutable_aba());
            }
            break;
        }
      }
      break;
    case Strategy::kReplay:
      if (rng_.Uniform(2) == 0) out.push_back({to, msg});  // duplicate
      if (!st.history.empty() && rng_.Uniform(3) == 0) {
        const auto& old = st.history[rng_.Uniform(st.history.size())];
        out.push_back({RandomPeer(byz), old.second});
      }
      break;
    case Strategy::kFlood:
      Flood(byz, st, msg, next_output, out);
      break;
    case Strategy::kAbaSplit:
      if (IsAba(msg)) {
        // Every variant of the vote; the aba-max scheduler decides which one lands first.
        std::vector<pb::AbaMessage> variants = SplitVotes(msg.acs().aba());
        for (size_t v = 1; v < variants.size(); ++v) {
          pb::ConsensusMessage other = msg;
          *other.mutable_acs()->mutable_aba() = std::move(variants[v]);
          out.push_back({to, std::move(other)});
        }
        *msg.mutable_acs()->mutable_aba() = std::move(variants[0]);
      }
      break;
    case Strategy::kMixed:
      break;  // resolved per node to one of the others
  }
  out.push_back({to, std::move(msg)});
}

void Adversary::Equivocate(NodeId byz, NodeState& st, uint64_t epoch, std::vector<Outgoing>&) {
  if (!st.equivocated.insert(epoch).second) return;
  auto& alt = st.alternative_values[epoch];
  consensus::NetworkInfo net{byz, params_.n, params_.f};
  if (rng_.Uniform(2) == 0) {
    // Two stories: a second, different proposal for a random half of the nodes.
    consensus::epoch::Proposal p;
    p.clock_reading = rng_.Next64();
    std::string req = "byz-equivocation-" + std::to_string(byz) + "-" + std::to_string(epoch);
    crafted_requests_.insert(req);
    p.requests.push_back(std::move(req));
    consensus::rbc::Broadcast second(net, byz, params_.proposal_bytes_max);
    consensus::rbc::RbcStep s2 = second.Propose(consensus::epoch::EncodeProposal(p));
    for (auto& tm : s2.messages) {
      if (!tm.message.has_value() || tm.target.kind != Target::Kind::kNodes) continue;
      const NodeId to = tm.target.nodes.front();
      if (rng_.Uniform(2) == 0) continue;
      pb::ConsensusMessage m;
      m.set_epoch(epoch);
      m.mutable_acs()->set_instance(byz);
      *m.mutable_acs()->mutable_rbc() = tm.message;
      alt.emplace(to, std::move(m));
    }
  } else {
    // One root over random stripes: every branch checks, but no k stripes decode to a
    // value that re-encodes to the root, so the broadcast must deliver "invalid".
    const size_t stripe_bytes = 1 + rng_.Uniform(64);
    std::vector<Bytes> stripes;
    for (uint32_t j = 0; j < params_.n; ++j) {
      std::string r = RandomBytes(stripe_bytes);
      stripes.emplace_back(r.begin(), r.end());
    }
    absl::StatusOr<consensus::internal::MerkleTree> tree =
        consensus::internal::MerkleTree::Build(stripes);
    BELFRY_CHECK(tree.ok());
    for (NodeId to = 0; to < params_.n; ++to) {
      if (to == byz) continue;
      pb::ConsensusMessage m;
      m.set_epoch(epoch);
      m.mutable_acs()->set_instance(byz);
      auto* v = m.mutable_acs()->mutable_rbc()->mutable_value();
      v->set_root(std::string(tree->root().begin(), tree->root().end()));
      for (const auto& d : tree->Branch(to)) v->add_branch(std::string(d.begin(), d.end()));
      v->set_stripe(std::string(stripes[to].begin(), stripes[to].end()));
      alt.emplace(to, std::move(m));
    }
  }
  // Old epochs' alternatives are no longer needed.
  while (alt.size() > 0 && st.alternative_values.size() > 4) {
    st.alternative_values.erase(st.alternative_values.begin());
  }
}

void Adversary::CorruptStripe(pb::ConsensusMessage& msg) {
  pb::RbcMessage* rbc = msg.mutable_acs()->mutable_rbc();
  pb::RbcMessage::StripeProof* p = rbc->has_value() ? rbc->mutable_value() : rbc->mutable_echo();
  switch (rng_.Uniform(5)) {
    case 0:
      if (p->branch_size() > 0) {
        std::string* b = p->mutable_branch(static_cast<int>(rng_.Uniform(p->branch_size())));
        if (!b->empty()) (*b)[rng_.Uniform(b->size())] ^= 0x01;
      }
      break;
    case 1: {
      std::string s = p->stripe();
      if (!s.empty()) s[rng_.Uniform(s.size())] ^= 0x80;
      p->set_stripe(s);
      break;
    }
    case 2: {
      std::string r = p->root();
      if (!r.empty()) r[rng_.Uniform(r.size())] ^= 0x04;
      p->set_root(r);
      break;
    }
    case 3:
      if (p->branch_size() > 0) p->mutable_branch()->RemoveLast();  // malformed depth
      break;
    default:
      p->set_stripe(RandomBytes(1 + rng_.Uniform(2 * p->stripe().size() + 8)));
      break;
  }
}

void Adversary::FakeEchoReady(NodeId byz, NodeState& st, uint64_t epoch, uint32_t instance,
                              std::vector<Outgoing>& out) {
  if (instance >= params_.n || !st.faked.insert({epoch, instance}).second) return;
  // A root nobody proposed, with a branch that proves our stripe under it: the ECHO is
  // well-formed and valid on its own, and conflicts with the real one we also send.
  std::vector<Bytes> stripes;
  const size_t stripe_bytes = 1 + rng_.Uniform(32);
  for (uint32_t j = 0; j < params_.n; ++j) {
    std::string r = RandomBytes(stripe_bytes);
    stripes.emplace_back(r.begin(), r.end());
  }
  absl::StatusOr<consensus::internal::MerkleTree> tree =
      consensus::internal::MerkleTree::Build(stripes);
  BELFRY_CHECK(tree.ok());
  const std::string root(tree->root().begin(), tree->root().end());
  for (NodeId to = 0; to < params_.n; ++to) {
    if (to == byz) continue;
    pb::ConsensusMessage ready;
    ready.set_epoch(epoch);
    ready.mutable_acs()->set_instance(instance);
    ready.mutable_acs()->mutable_rbc()->mutable_ready()->set_root(
        rng_.Uniform(2) == 0 ? root : RandomBytes(32));
    out.push_back({to, std::move(ready)});
    pb::ConsensusMessage echo;
    echo.set_epoch(epoch);
    echo.mutable_acs()->set_instance(instance);
    auto* e = echo.mutable_acs()->mutable_rbc()->mutable_echo();
    e->set_root(root);
    for (const auto& d : tree->Branch(byz)) e->add_branch(std::string(d.begin(), d.end()));
    e->set_stripe(std::string(stripes[byz].begin(), stripes[byz].end()));
    out.push_back({to, std::move(echo)});
  }
}

void Adversary::Flood(NodeId byz, NodeState& st, const pb::ConsensusMessage& msg,
                      uint64_t next_output, std::vector<Outgoing>& out) {
  if (st.flood_sent >= params_.flood_budget) return;
  const uint64_t beyond = next_output + params_.window;
  for (int k = 0; k < 3 && st.flood_sent < params_.flood_budget; ++k, ++st.flood_sent) {
    pb::ConsensusMessage m = msg;
    switch (rng_.Uniform(4)) {
      case 0:
        m.set_epoch(beyond + rng_.Uniform(1000));
        break;
      case 1:
        m.set_epoch(UINT64_MAX - rng_.Uniform(4));
        break;
      case 2:
        // The last epoch of the receivers' window: accepted, so it costs them an epoch
        // state — bounded by the window, which is the point.
        m.set_epoch(beyond - 1);
        break;
      default:
        m.set_epoch(beyond + params_.window * 1000ULL + rng_.Uniform(1u << 20));
        break;
    }
    out.push_back({RandomPeer(byz), std::move(m)});
  }
}

}  // namespace belfry::sim
