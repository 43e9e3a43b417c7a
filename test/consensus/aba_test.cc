// Tests of asynchronous binary agreement (consensus/aba/binary_agreement.cc).
//
// Properties are those of Mostéfaoui–Moumen–Raynal (PODC 2014 / JACM 2015), Section 2:
// BBC-Validity (a decided value was proposed by a correct node; all propose b ⇒ b),
// BBC-Agreement (no two correct nodes decide differently), BBC-Termination (every correct
// node decides), plus ours: every correct node terminates and then sends nothing, faults
// name only Byzantine nodes, memory stays within the round window.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/rng.h"
#include "consensus/aba/binary_agreement.h"
#include "consensus/aba/testing/fake_coin.h"
#include "test/consensus/aba_harness.h"

namespace belfry::consensus::aba::test {
namespace {

struct Size {
  uint32_t n;
  uint32_t f;
};
constexpr Size kSizes[] = {{4, 1}, {7, 2}, {10, 3}};

// A deliberately generous bound: a run that has not drained by then is stuck.
constexpr uint64_t kDeliveriesMax = 2'000'000;

// --------------------------------------------------------------------------------------
// Byzantine strategies. Each Byzantine node runs an honest instance inside and changes what
// it says; "silent" says nothing.

enum class Strategy {
  kSilent,
  kFlipVotes,       // every BVAL/AUX/CONF/TERM with the other value
  kDoubleVotes,     // every vote twice, with both values
  kInvalidShares,   // coin shares that fail verification
  kWithholdShares,  // never a coin share
  kFutureFlood,     // honest votes plus far-future rounds and a full window of junk
  kRandomNoise,     // honest votes plus random well-formed messages of every kind
};

const char* StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kSilent: return "silent";
    case Strategy::kFlipVotes: return "flip-votes";
    case Strategy::kDoubleVotes: return "double-votes";
    case Strategy::kInvalidShares: return "invalid-shares";
    case Strategy::kWithholdShares: return "withhold-shares";
    case Strategy::kFutureFlood: return "future-flood";
    case Strategy::kRandomNoise: return "random-noise";
  }
  return "?";
}

pb::AbaValueSet OtherSet(pb::AbaValueSet set) {
  switch (set) {
    case pb::ABA_VALUE_SET_ZERO: return pb::ABA_VALUE_SET_ONE;
    case pb::ABA_VALUE_SET_ONE: return pb::ABA_VALUE_SET_ZERO;
    default: return pb::ABA_VALUE_SET_ZERO;
  }
}

std::string Corrupt(std::string share) {
  share.back() = static_cast<char>(share.back() ^ 0x5a);
  return share;
}

class ByzantineDriver {
 public:
  ByzantineDriver(AbaNet& net, Strategy strategy, Config config, uint64_t seed)
      : net_(net), strategy_(strategy), config_(config), inner_(net.n()), rng_(seed) {
    for (NodeId id = 0; id < net.n(); ++id) {
      if (net.byzantine(id)) {
        inner_[id].emplace(net.Net(id), &net.coin(id), kCoinPrefix, config);
      }
    }
    net_.on_byzantine_receive = [this](const Envelope& env) { OnReceive(env); };
  }

  void Start(DeterministicRng& rng) {
    if (strategy_ == Strategy::kSilent) return;
    for (NodeId id = 0; id < net_.n(); ++id) {
      if (!inner_[id].has_value()) continue;
      if (strategy_ == Strategy::kInvalidShares) {
        // Bad shares early, so that correct nodes still need (and check) them.
        for (uint32_t r = 0; r < 4; ++r) {
          Say(id, CoinShareMsg(r, Corrupt(net_.coin(id).ShareOf(id, CoinName(kCoinPrefix, r)))));
        }
      }
      Emit(id, inner_[id]->Propose(rng.Uniform(2) == 1));
    }
  }

 private:
  void OnReceive(const Envelope& env) {
    if (strategy_ == Strategy::kSilent || net_.byzantine(env.from)) return;
    Emit(env.to, inner_[env.to]->HandleMessage(env.from, env.msg));
    if (strategy_ == Strategy::kFutureFlood) Flood(env.to);
    if (strategy_ == Strategy::kRandomNoise && rng_.Uniform(3) == 0) Noise(env.to);
  }

  void Emit(NodeId self, AbaStep&& step) {
    for (const auto& tm : step.messages) Transform(self, tm.message);
  }

  void Transform(NodeId self, const pb::AbaMessage& m) {
    pb::AbaMessage other = m;
    switch (strategy_) {
      case Strategy::kSilent:
        return;
      case Strategy::kFlipVotes:
        if (m.has_bval()) other.set_bval(!m.bval());
        if (m.has_aux()) other.set_aux(!m.aux());
        if (m.has_conf()) other.set_conf(OtherSet(m.conf()));
        if (m.has_term()) other.mutable_term()->set_value(!m.term().value());
        Say(self, other);
        return;
      case Strategy::kDoubleVotes:
        Say(self, m);
        if (m.has_bval()) other.set_bval(!m.bval());
        if (m.has_aux()) other.set_aux(!m.aux());
        if (m.has_conf()) other.set_conf(OtherSet(m.conf()));
        if (m.has_term()) other.mutable_term()->set_value(!m.term().value());
        if (!m.has_coin_share()) Say(self, other);
        return;
      case Strategy::kInvalidShares:
        if (m.has_coin_share()) other.set_coin_share(Corrupt(m.coin_share()));
        Say(self, other);
        return;
      case Strategy::kWithholdShares:
        if (!m.has_coin_share()) Say(self, m);
        return;
      case Strategy::kFutureFlood:
      case Strategy::kRandomNoise:
        Say(self, m);
        return;
    }
  }

  // One random message, mostly for the sender's current round or the window ahead, to
  // one random correct node.
  void Noise(NodeId self) {
    const uint32_t base = inner_[self]->round();
    const uint32_t r = rng_.Uniform(8) == 0 ? base - std::min(base, 1u)
                                            : base + static_cast<uint32_t>(rng_.Uniform(3));
    const bool b = rng_.Uniform(2) == 1;
    const std::string share = net_.coin(self).ShareOf(self, CoinName(kCoinPrefix, r));
    pb::AbaMessage m;
    switch (rng_.Uniform(6)) {
      case 0:
        m = Bval(r, b);
        break;
      case 1:
        m = Aux(r, b);
        break;
      case 2:  // 0 and 4 are not valid sets: malformed
        m = Conf(r, static_cast<pb::AbaValueSet>(rng_.Uniform(5)));
        break;
      case 3:
        m = CoinShareMsg(r, share);
        break;
      case 4:
        m = CoinShareMsg(r, Corrupt(share));
        break;
      default:
        m = Term(b, rng_.Uniform(2) == 1);
        break;
    }
    NodeId to = static_cast<NodeId>(rng_.Uniform(net_.n()));
    while (net_.byzantine(to)) to = static_cast<NodeId>(rng_.Uniform(net_.n()));
    net_.Inject(self, Target::Node(to), m);
  }

  // Two refused messages far ahead and one plausible one inside the window, per receipt.
  void Flood(NodeId self) {
    const uint32_t r = inner_[self]->round();
    ++flood_counter_;
    Say(self, Bval(r + config_.rounds_ahead_max + 1 + flood_counter_ % 1000, true));
    Say(self, Aux(r + 1'000'000 + flood_counter_, false));
    Say(self, Bval(r + 1 + flood_counter_ % config_.rounds_ahead_max, flood_counter_ % 2 == 0));
  }

  void Say(NodeId self, const pb::AbaMessage& m) {
    for (NodeId to = 0; to < net_.n(); ++to) {
      if (!net_.byzantine(to)) net_.Inject(self, Target::Node(to), m);
    }
  }

  AbaNet& net_;
  Strategy strategy_;
  Config config_;
  std::vector<std::optional<BinaryAgreement>> inner_;
  DeterministicRng rng_;
  uint64_t flood_counter_ = 0;
};

// --------------------------------------------------------------------------------------
// Running a network under a seeded random scheduler.

struct RunOptions {
  uint64_t seed = 1;
  Size size{4, 1};
  std::optional<bool> all_input;  // every correct node proposes this, or random inputs
  uint32_t byzantine = 0;         // the last `byzantine` nodes are Byzantine
  Strategy strategy = Strategy::kSilent;
  uint32_t duplicate_percent = 0;  // chance that a delivered message stays in flight too
  Config config;
  std::function<void(AbaNet&)> after_each_delivery;
};

struct RunResult {
  std::vector<bool> inputs;  // of correct nodes
};

RunResult RunRandom(AbaNet& net, const RunOptions& opt) {
  DeterministicRng rng(opt.seed);
  ByzantineDriver driver(net, opt.strategy, opt.config, opt.seed ^ 0x5eed);
  RunResult result;
  for (NodeId id = 0; id < net.n(); ++id) {
    if (net.byzantine(id)) continue;
    const bool input = opt.all_input.has_value() ? *opt.all_input : rng.Uniform(2) == 1;
    result.inputs.push_back(input);
    net.Propose(id, input);
  }
  driver.Start(rng);
  uint64_t duplicates_left = 10'000;
  while (!net.pool.empty() && net.deliveries < kDeliveriesMax) {
    const size_t i = rng.Uniform(net.pool.size());
    if (duplicates_left > 0 && rng.Uniform(100) < opt.duplicate_percent) {
      --duplicates_left;
      const Envelope copy = net.pool[i];
      net.Deliver(copy);
    } else {
      net.DeliverAt(i);
    }
    if (opt.after_each_delivery) opt.after_each_delivery(net);
  }
  net.on_byzantine_receive = nullptr;  // the driver dies with this frame
  return result;
}

AbaNet MakeNet(const RunOptions& opt) {
  std::vector<bool> byzantine(opt.size.n, false);
  for (uint32_t k = 0; k < opt.byzantine; ++k) byzantine[opt.size.n - 1 - k] = true;
  return AbaNet(opt.size.n, opt.size.f, opt.seed * 7919 + 13, opt.config, byzantine);
}

// The properties every run must have, whatever the scheduler and the Byzantine nodes do.
void CheckRun(AbaNet& net, const RunOptions& opt, const RunResult& result) {
  INFO("seed " << opt.seed << " n " << opt.size.n << " strategy " << StrategyName(opt.strategy));
  REQUIRE(net.pool.empty());  // drained: nobody is stuck waiting
  REQUIRE(net.AllCorrectTerminated());
  REQUIRE_FALSE(net.AgreementViolated());
  REQUIRE(net.OutputsAtMostOnce());
  const std::optional<bool> decision = net.CommonDecision();
  REQUIRE(decision.has_value());
  // Validity: some correct node proposed the decision.
  bool proposed = false;
  for (bool input : result.inputs) proposed = proposed || input == *decision;
  REQUIRE(proposed);
  REQUIRE(net.steps_after_termination == 0);
  REQUIRE(net.FaultOnlyNamesByzantine());
  for (NodeId id = 0; id < net.n(); ++id) {
    if (net.byzantine(id)) continue;
    REQUIRE(net.node(id).rounds_held() == 0);
    // A terminated instance ignores everything.
    const NodeId peer = (id + 1) % net.n();
    REQUIRE(net.node(id).HandleMessage(peer, Bval(net.node(id).round(), true)).empty());
    REQUIRE(net.node(id).HandleMessage(peer, Term(!*decision)).empty());
  }
}

// --------------------------------------------------------------------------------------
// Building blocks.

TEST_CASE("CoinName is injective in (prefix, round)", "[aba]") {
  CHECK(CoinName("a", 1) != CoinName("a", 2));
  CHECK(CoinName("a", 1) != CoinName("b", 1));
  // The prefix is length-prefixed, so moving bytes between prefix and round cannot collide.
  CHECK(CoinName(std::string("ab\0\0\0", 5), 1) != CoinName("ab", 0));
  CHECK(CoinName("aba1/r", 2) != CoinName("aba12/r", 0));
  CHECK(CoinName("x", 7) == CoinName("x", 7));
}

TEST_CASE("FakeCoin needs f+1 valid shares from distinct nodes", "[aba][coin]") {
  const uint32_t n = 4;
  const uint32_t f = 1;
  testing::FakeCoin c0(99, NetworkInfo{0, n, f});
  testing::FakeCoin c1(99, NetworkInfo{1, n, f});
  testing::FakeCoin c2(99, NetworkInfo{2, n, f});
  const std::string name = CoinName("p", 0);
  const std::string s0 = c0.MakeShare(name);
  const std::string s1 = c1.MakeShare(name);
  const std::string s2 = c2.MakeShare(name);
  CHECK(c0.VerifyShare(1, name, s1));
  CHECK_FALSE(c0.VerifyShare(2, name, s1));            // someone else's share
  CHECK_FALSE(c0.VerifyShare(1, CoinName("p", 1), s1));  // another coin's share
  CHECK_FALSE(c0.VerifyShare(1, name, Corrupt(s1)));
  CHECK_FALSE(c0.Combine(name, {{1, s1}}).has_value());
  CHECK_FALSE(c0.Combine(name, {{1, s1}, {1, s1}}).has_value());  // not distinct
  CHECK_FALSE(c0.Combine(name, {{1, s1}, {2, Corrupt(s2)}}).has_value());
  const std::optional<CoinValue> a = c0.Combine(name, {{0, s0}, {1, s1}});
  const std::optional<CoinValue> b = c2.Combine(name, {{1, s1}, {2, s2}});
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->bytes == b->bytes);  // any f+1 valid shares give the same coin
  CHECK(a->bytes == c0.ValueForChecking(name).bytes);
  // Coins of different rounds are not all equal (a fixed coin would break liveness).
  int ones = 0;
  for (uint32_t r = 0; r < 200; ++r) ones += c0.ValueForChecking(CoinName("p", r)).bit() ? 1 : 0;
  CHECK(ones > 70);
  CHECK(ones < 130);
}

// --------------------------------------------------------------------------------------
// One correct node (node 0) whose peers are spoken for by the test.

struct Solo {
  explicit Solo(Config config = {}) : net(4, 1, 5, config, {false, true, true, true}) {}
  BinaryAgreement& node() { return net.node(0); }
  AbaStep Feed(NodeId from, const pb::AbaMessage& m) {
    AbaStep step = net.node(0).HandleMessage(from, m);
    for (const auto& tm : step.messages) sent.push_back(tm.message);
    return step;
  }
  void Propose(bool b) {
    AbaStep step = net.node(0).Propose(b);
    for (const auto& tm : step.messages) sent.push_back(tm.message);
  }
  bool SentCoinShare(uint32_t round) const {
    for (const auto& m : sent) {
      if (m.has_coin_share() && m.round() == round) return true;
    }
    return false;
  }
  std::string ShareOf(NodeId id, uint32_t round) {
    return net.coin(id).ShareOf(id, CoinName(kCoinPrefix, round));
  }
  bool Coin(uint32_t round) {
    return net.coin(0).ValueForChecking(CoinName(kCoinPrefix, round)).bit();
  }

  AbaNet net;
  std::vector<pb::AbaMessage> sent;
};

bool HasFault(const AbaStep& step, NodeId node, FaultKind kind) {
  for (const auto& f : step.faults) {
    if (f.node == node && f.kind == kind) return true;
  }
  return false;
}

TEST_CASE("The coin share is released only after the CONF step (the fix)", "[aba]") {
  Solo solo;
  solo.Propose(true);
  (void)solo.Feed(1, Bval(0, true));
  (void)solo.Feed(2, Bval(0, true));  // 2f+1 BVAL(1) with our own: AUX(1)
  (void)solo.Feed(1, Aux(0, true));
  (void)solo.Feed(2, Aux(0, true));  // N−f AUX: CONF({1}) goes out, the coin does not
  CHECK_FALSE(solo.SentCoinShare(0));
  bool sent_conf = false;
  for (const auto& m : solo.sent) sent_conf = sent_conf || m.has_conf();
  CHECK(sent_conf);
  (void)solo.Feed(1, Conf(0, pb::ABA_VALUE_SET_ONE));
  CHECK_FALSE(solo.SentCoinShare(0));
  (void)solo.Feed(2, Conf(0, pb::ABA_VALUE_SET_ONE));  // N−f CONF: now the share
  CHECK(solo.SentCoinShare(0));
  (void)solo.Feed(1, CoinShareMsg(0, solo.ShareOf(1, 0)));
  if (solo.Coin(0)) {
    CHECK(solo.node().decision() == std::optional<bool>(true));
    CHECK(solo.node().decision_round() == std::optional<uint32_t>(0));
  } else {
    CHECK_FALSE(solo.node().decision().has_value());
  }
  CHECK(solo.node().round() == 1);
}

TEST_CASE("Without the CONF phase the share goes out right after the AUX step", "[aba]") {
  Config unfixed;
  unfixed.conf_phase = false;
  Solo solo(unfixed);
  solo.Propose(true);
  (void)solo.Feed(1, Bval(0, true));
  (void)solo.Feed(2, Bval(0, true));
  (void)solo.Feed(1, Aux(0, true));
  CHECK_FALSE(solo.SentCoinShare(0));
  (void)solo.Feed(2, Aux(0, true));
  CHECK(solo.SentCoinShare(0));
  for (const auto& m : solo.sent) CHECK_FALSE(m.has_conf());
}

TEST_CASE("vals after CONF comes from the CONFs received, not our own", "[aba]") {
  // Our AUX step settles on {1}, but only two of the three CONFs we accept say {1}: a
  // correct node may have seen both values, so we must follow the coin (est = s).
  Solo solo;
  solo.Propose(true);
  (void)solo.Feed(1, Bval(0, true));
  (void)solo.Feed(2, Bval(0, true));  // bin_values {1}, AUX(1)
  (void)solo.Feed(1, Bval(0, false));
  (void)solo.Feed(2, Bval(0, false));  // f+1: relay, then 2f+1: bin_values {0, 1}
  (void)solo.Feed(1, Aux(0, true));
  (void)solo.Feed(2, Aux(0, true));  // AUX step: {1}; CONF({1})
  (void)solo.Feed(1, Conf(0, pb::ABA_VALUE_SET_BOTH));
  (void)solo.Feed(2, Conf(0, pb::ABA_VALUE_SET_ONE));
  REQUIRE(solo.SentCoinShare(0));
  solo.sent.clear();
  (void)solo.Feed(1, CoinShareMsg(0, solo.ShareOf(1, 0)));
  CHECK_FALSE(solo.node().decision().has_value());
  REQUIRE(solo.node().round() == 1);
  // Round 1 starts with BVAL(est) and est is the coin.
  REQUIRE_FALSE(solo.sent.empty());
  CHECK(solo.sent.front().round() == 1);
  CHECK(solo.sent.front().bval() == solo.Coin(0));
}

TEST_CASE("Duplicates change nothing, conflicting votes are faults", "[aba][faults]") {
  Solo solo;
  solo.Propose(false);
  CHECK(solo.Feed(1, Bval(0, true)).empty());
  CHECK(solo.Feed(1, Bval(0, true)).empty());
  CHECK(solo.Feed(1, Bval(0, false)).empty());  // BVAL of both values is relaying, not a fault
  CHECK(solo.Feed(1, Aux(0, true)).empty());
  CHECK(solo.Feed(1, Aux(0, true)).empty());
  CHECK(HasFault(solo.Feed(1, Aux(0, false)), 1, FaultKind::kConflictingVote));
  CHECK(solo.Feed(2, Conf(0, pb::ABA_VALUE_SET_BOTH)).empty());
  CHECK(solo.Feed(2, Conf(0, pb::ABA_VALUE_SET_BOTH)).empty());
  CHECK(HasFault(solo.Feed(2, Conf(0, pb::ABA_VALUE_SET_ZERO)), 2, FaultKind::kConflictingVote));
  CHECK(solo.Feed(3, Term(true)).empty());
  CHECK(solo.Feed(3, Term(true)).empty());
  CHECK(HasFault(solo.Feed(3, Term(false)), 3, FaultKind::kConflictingVote));
}

TEST_CASE("Malformed messages and impossible senders are faults", "[aba][faults]") {
  Solo solo;
  solo.Propose(true);
  CHECK(HasFault(solo.Feed(1, pb::AbaMessage()), 1, FaultKind::kMalformedMessage));
  CHECK(HasFault(solo.Feed(1, Conf(0, pb::ABA_VALUE_SET_UNSPECIFIED)), 1,
                 FaultKind::kMalformedMessage));
  CHECK(HasFault(solo.Feed(1, Conf(0, static_cast<pb::AbaValueSet>(7))), 1,
                 FaultKind::kMalformedMessage));
  CHECK(HasFault(solo.Feed(1, CoinShareMsg(0, "")), 1, FaultKind::kMalformedMessage));
  CHECK(HasFault(solo.Feed(1, CoinShareMsg(0, std::string(5000, 'x'))), 1,
                 FaultKind::kMalformedMessage));
  CHECK(HasFault(solo.Feed(4, Bval(0, true)), 4, FaultKind::kUnexpectedSender));
  CHECK(HasFault(solo.Feed(0, Bval(0, true)), 0, FaultKind::kUnexpectedSender));
  // None of it counted as a vote.
  CHECK(solo.node().round() == 0);
}

TEST_CASE("Coin shares: invalid and duplicate shares are faults, checked once", "[aba][faults]") {
  Solo solo;
  solo.Propose(true);
  const uint64_t calls_before = solo.net.coin(0).verify_calls();
  CHECK(HasFault(solo.Feed(1, CoinShareMsg(0, Corrupt(solo.ShareOf(1, 0)))), 1,
                 FaultKind::kInvalidCoinShare));
  // A sender whose share failed costs no second verification in that round.
  CHECK(solo.Feed(1, CoinShareMsg(0, solo.ShareOf(1, 0))).empty());
  CHECK(solo.net.coin(0).verify_calls() == calls_before + 1);
  // Someone else's share is invalid from this sender.
  CHECK(HasFault(solo.Feed(3, CoinShareMsg(0, solo.ShareOf(2, 0))), 3,
                 FaultKind::kInvalidCoinShare));
  CHECK(solo.Feed(2, CoinShareMsg(0, solo.ShareOf(2, 0))).empty());
  CHECK(solo.Feed(2, CoinShareMsg(0, solo.ShareOf(2, 0))).empty());  // identical: nothing
  CHECK(HasFault(solo.Feed(2, CoinShareMsg(0, Corrupt(solo.ShareOf(2, 0)))), 2,
                 FaultKind::kDuplicateCoinShare));
}

TEST_CASE("Rounds beyond the window are refused, not buffered, and past rounds dropped",
          "[aba][faults][memory]") {
  Solo solo;
  solo.Propose(true);
  REQUIRE(solo.node().rounds_held() == 1);
  const uint32_t max = Config{}.rounds_ahead_max;
  CHECK(HasFault(solo.Feed(1, Bval(max + 1, true)), 1, FaultKind::kEpochOutOfWindow));
  CHECK(HasFault(solo.Feed(1, Aux(4'000'000'000u, true)), 1, FaultKind::kEpochOutOfWindow));
  CHECK(solo.node().rounds_held() == 1);
  for (uint32_t r = 1; r <= max; ++r) CHECK(solo.Feed(1, Bval(r, true)).empty());
  CHECK(solo.node().rounds_held() == max + 1);
  // Finish round 0 so that it becomes a past round.
  (void)solo.Feed(1, Bval(0, true));
  (void)solo.Feed(2, Bval(0, true));
  (void)solo.Feed(1, Aux(0, true));
  (void)solo.Feed(2, Aux(0, true));
  (void)solo.Feed(1, Conf(0, pb::ABA_VALUE_SET_ONE));
  (void)solo.Feed(2, Conf(0, pb::ABA_VALUE_SET_ONE));
  (void)solo.Feed(1, CoinShareMsg(0, solo.ShareOf(1, 0)));
  REQUIRE(solo.node().round() >= 1);
  CHECK(solo.Feed(3, Aux(0, false)).empty());  // past: ignored, not even a fault
  CHECK(solo.node().rounds_held() <= max + 1);
}

TEST_CASE("TERM: f+1 decide, 2f+1 terminate, then silence", "[aba][term]") {
  Solo solo;
  CHECK(solo.node().accepts_input());
  CHECK(solo.Feed(1, Term(true)).empty());
  CHECK_FALSE(solo.node().decision().has_value());
  AbaStep step = solo.Feed(2, Term(true));  // f+1: decide and pass it on
  REQUIRE(step.outputs == std::vector<bool>{true});
  REQUIRE(step.messages.size() == 1);
  CHECK(step.messages[0].message.has_term());
  CHECK(step.messages[0].message.term().value());
  // We had no input, so we never play a round: our TERM says so.
  CHECK(step.messages[0].message.term().abstains());
  // Our own TERM makes 2f+1.
  CHECK(solo.node().terminated());
  CHECK(solo.node().rounds_held() == 0);
  CHECK_FALSE(solo.node().accepts_input());
  CHECK(solo.node().Propose(false).empty());
  CHECK(solo.Feed(3, Term(false)).empty());
  CHECK(solo.Feed(3, Bval(0, false)).empty());
}

TEST_CASE("A decided node keeps playing until 2f+1 TERMs", "[aba][term]") {
  Solo solo;
  solo.Propose(true);
  // Peers 1 and 2 vote 1 in every round until the coin comes up 1 and we decide.
  for (uint32_t r = 0; r < 30 && !solo.node().decision().has_value(); ++r) {
    for (NodeId peer : {1u, 2u}) (void)solo.Feed(peer, Bval(r, true));
    for (NodeId peer : {1u, 2u}) (void)solo.Feed(peer, Aux(r, true));
    for (NodeId peer : {1u, 2u}) (void)solo.Feed(peer, Conf(r, pb::ABA_VALUE_SET_ONE));
    (void)solo.Feed(1, CoinShareMsg(r, solo.ShareOf(1, r)));
  }
  REQUIRE(solo.node().decision() == std::optional<bool>(true));
  const uint32_t decided_in = *solo.node().decision_round();
  CHECK(solo.Coin(decided_in));
  // Decided by the round rule with only its own TERM: it plays the next round.
  CHECK_FALSE(solo.node().terminated());
  CHECK(solo.node().round() == decided_in + 1);
  bool plays_on = false;
  for (const auto& m : solo.sent) {
    plays_on = plays_on || (m.has_bval() && m.round() == decided_in + 1 && m.bval());
  }
  CHECK(plays_on);
  CHECK(solo.Feed(1, Term(true)).empty());
  CHECK_FALSE(solo.node().terminated());
  CHECK(solo.Feed(2, Term(true)).empty());
  CHECK(solo.node().terminated());  // 2f+1 with its own
  CHECK(solo.node().rounds_held() == 0);
}

TEST_CASE("Deciding by TERM after proposing: the TERM does not abstain", "[aba][term]") {
  Solo solo;
  solo.Propose(true);
  (void)solo.Feed(1, Term(true));
  AbaStep step = solo.Feed(2, Term(true));
  REQUIRE(step.outputs == std::vector<bool>{true});
  REQUIRE_FALSE(step.messages.empty());
  CHECK(step.messages[0].message.has_term());
  CHECK_FALSE(step.messages[0].message.term().abstains());
}

TEST_CASE("An abstaining TERM counts as votes and forbids round votes", "[aba][term][faults]") {
  Solo solo;
  CHECK(solo.Feed(1, Term(true, /*abstains=*/true)).empty());
  CHECK(HasFault(solo.Feed(1, Bval(0, true)), 1, FaultKind::kConflictingVote));
  // A sender that voted cannot claim to abstain afterwards.
  (void)solo.Feed(2, Bval(0, false));
  CHECK(HasFault(solo.Feed(2, Term(false, /*abstains=*/true)), 2, FaultKind::kConflictingVote));
  // Node 1's abstention stands in for its BVAL/AUX/CONF: with node 3 and ourselves that is
  // N−f of everything, so round 0 reaches the coin.
  solo.Propose(true);
  (void)solo.Feed(3, Bval(0, true));
  (void)solo.Feed(3, Aux(0, true));
  (void)solo.Feed(3, Conf(0, pb::ABA_VALUE_SET_ONE));
  CHECK(solo.SentCoinShare(0));
}

// --------------------------------------------------------------------------------------
// Whole networks, random schedules.

TEST_CASE("Validity: all correct nodes propose b, all decide b", "[aba][random]") {
  for (const Size size : kSizes) {
    for (bool b : {false, true}) {
      for (uint64_t seed = 1; seed <= 20; ++seed) {
        RunOptions opt;
        opt.seed = seed;
        opt.size = size;
        opt.all_input = b;
        AbaNet net = MakeNet(opt);
        const RunResult result = RunRandom(net, opt);
        CheckRun(net, opt, result);
        CHECK(net.CommonDecision() == std::optional<bool>(b));
      }
    }
  }
}

TEST_CASE("Fixed round-0 coin: unanimous 1 decides in round 0 without coin shares",
          "[aba][random][fixed-coin]") {
  for (const Size size : kSizes) {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      RunOptions opt;
      opt.seed = seed;
      opt.size = size;
      opt.all_input = true;
      opt.config.round0_coin_fixed = true;
      AbaNet net = MakeNet(opt);
      bool share_sent = false;
      opt.after_each_delivery = [&](AbaNet& n) {
        for (const Envelope& e : n.pool) share_sent = share_sent || e.msg.has_coin_share();
      };
      const RunResult result = RunRandom(net, opt);
      CheckRun(net, opt, result);
      CHECK(net.CommonDecision() == std::optional<bool>(true));
      CHECK(net.MaxDecisionRound() == 0);
      CHECK_FALSE(share_sent);
      for (NodeId id = 0; id < net.n(); ++id) CHECK(net.coin(id).verify_calls() == 0);
    }
  }
}

TEST_CASE("Fixed round-0 coin: agreement, validity and termination under every strategy",
          "[aba][random][fixed-coin]") {
  for (const Size size : kSizes) {
    for (Strategy strategy : {Strategy::kSilent, Strategy::kFlipVotes, Strategy::kDoubleVotes,
                              Strategy::kInvalidShares, Strategy::kWithholdShares,
                              Strategy::kFutureFlood, Strategy::kRandomNoise}) {
      for (uint64_t seed = 1; seed <= 15; ++seed) {
        RunOptions opt;
        opt.seed = seed;
        opt.size = size;
        opt.byzantine = size.f;
        opt.strategy = strategy;
        opt.config.round0_coin_fixed = true;
        if (seed % 3 == 0) opt.all_input = false;  // 0 must go through real coins
        AbaNet net = MakeNet(opt);
        const RunResult result = RunRandom(net, opt);
        CheckRun(net, opt, result);
      }
    }
  }
}

TEST_CASE("Fixed round-0 coin: a share for round 0 is a fault, and round 1 uses the real coin",
          "[aba][fixed-coin][faults]") {
  Config config;
  config.round0_coin_fixed = true;
  Solo solo(config);
  solo.Propose(false);
  CHECK(HasFault(solo.Feed(1, CoinShareMsg(0, solo.ShareOf(1, 0))), 1,
                 FaultKind::kInvalidCoinShare));
  CHECK(solo.net.coin(0).verify_calls() == 0);
  // Round 0 with unanimous 0: the fixed coin is 1, so no decision and no share; round 1
  // releases a real share after its CONF step.
  for (NodeId from : {1, 2}) {
    (void)solo.Feed(from, Bval(0, false));
    (void)solo.Feed(from, Aux(0, false));
    (void)solo.Feed(from, Conf(0, pb::ABA_VALUE_SET_ZERO));
  }
  CHECK_FALSE(solo.SentCoinShare(0));
  CHECK(solo.node().round() == 1);
  CHECK_FALSE(solo.node().decision().has_value());
  for (NodeId from : {1, 2}) {
    (void)solo.Feed(from, Bval(1, false));
    (void)solo.Feed(from, Aux(1, false));
    (void)solo.Feed(from, Conf(1, pb::ABA_VALUE_SET_ZERO));
  }
  CHECK(solo.SentCoinShare(1));
}

TEST_CASE("Agreement and termination with mixed inputs, 200 seeds per size", "[aba][random]") {
  for (const Size size : kSizes) {
    uint32_t max_round = 0;
    uint64_t total_round = 0;
    uint64_t sent = 0;
    uint64_t resent = 0;
    for (uint64_t seed = 1; seed <= 200; ++seed) {
      RunOptions opt;
      opt.seed = seed;
      opt.size = size;
      AbaNet net = MakeNet(opt);
      const RunResult result = RunRandom(net, opt);
      CheckRun(net, opt, result);
      CHECK(net.faults.empty());
      max_round = std::max(max_round, net.MaxDecisionRound());
      total_round += net.MaxDecisionRound();
      sent += net.messages_sent;
      resent += net.targeted_sent;
    }
    WARN("n=" << size.n << ": last decision round mean " << total_round / 200.0 << ", max "
              << max_round << "; messages per run " << sent / 200.0 << ", of which re-sent "
              << resent / 200.0);
    CHECK(max_round < 20);
  }
}

TEST_CASE("Other sizes: f = 0, and N > 3f+1", "[aba][random]") {
  for (const Size size : {Size{1, 0}, Size{2, 0}, Size{3, 0}, Size{5, 1}, Size{6, 1}}) {
    for (uint64_t seed = 1; seed <= 50; ++seed) {
      RunOptions opt;
      opt.seed = seed;
      opt.size = size;
      opt.byzantine = size.f;
      opt.strategy = seed % 2 == 0 ? Strategy::kSilent : Strategy::kDoubleVotes;
      AbaNet net = MakeNet(opt);
      const RunResult result = RunRandom(net, opt);
      CheckRun(net, opt, result);
    }
  }
}

TEST_CASE("Replayed and duplicated messages change nothing", "[aba][random]") {
  for (const Size size : kSizes) {
    for (uint64_t seed = 1; seed <= 30; ++seed) {
      RunOptions opt;
      opt.seed = seed;
      opt.size = size;
      opt.duplicate_percent = 40;
      AbaNet net = MakeNet(opt);
      const RunResult result = RunRandom(net, opt);
      CheckRun(net, opt, result);
      CHECK(net.faults.empty());  // correct nodes' duplicates are never blamed
    }
  }
}

// Runs `strategy` with f Byzantine nodes over sizes and seeds; returns faults by kind.
std::vector<size_t> RunByzantine(Strategy strategy, uint64_t seeds,
                                 std::function<void(AbaNet&)> after_each = nullptr) {
  std::vector<size_t> by_kind(32, 0);
  for (const Size size : kSizes) {
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      RunOptions opt;
      opt.seed = seed;
      opt.size = size;
      opt.byzantine = size.f;
      opt.strategy = strategy;
      opt.after_each_delivery = after_each;
      AbaNet net = MakeNet(opt);
      const RunResult result = RunRandom(net, opt);
      CheckRun(net, opt, result);
      for (const auto& rf : net.faults) ++by_kind[static_cast<size_t>(rf.fault.kind)];
    }
  }
  return by_kind;
}

size_t Kind(const std::vector<size_t>& by_kind, FaultKind kind) {
  return by_kind[static_cast<size_t>(kind)];
}

TEST_CASE("Byzantine: f silent nodes", "[aba][byzantine]") {
  const auto faults = RunByzantine(Strategy::kSilent, 40);
  for (size_t count : faults) CHECK(count == 0);
}

TEST_CASE("Byzantine: f nodes flipping every vote", "[aba][byzantine]") {
  (void)RunByzantine(Strategy::kFlipVotes, 40);
}

TEST_CASE("Byzantine: f nodes voting both ways are caught", "[aba][byzantine][faults]") {
  const auto faults = RunByzantine(Strategy::kDoubleVotes, 40);
  CHECK(Kind(faults, FaultKind::kConflictingVote) > 0);
}

TEST_CASE("Byzantine: invalid coin shares are caught and agreement still ends",
          "[aba][byzantine][faults]") {
  const auto faults = RunByzantine(Strategy::kInvalidShares, 40);
  CHECK(Kind(faults, FaultKind::kInvalidCoinShare) > 0);
}

TEST_CASE("Byzantine: withheld coin shares", "[aba][byzantine]") {
  (void)RunByzantine(Strategy::kWithholdShares, 40);
}

TEST_CASE("Byzantine: far-future flood is refused and memory stays bounded",
          "[aba][byzantine][memory]") {
  const size_t held_max = size_t{Config{}.rounds_ahead_max} + 1;
  size_t worst = 0;
  const auto faults = RunByzantine(Strategy::kFutureFlood, 15, [&](AbaNet& net) {
    for (NodeId id = 0; id < net.n(); ++id) {
      if (!net.byzantine(id)) worst = std::max(worst, net.node(id).rounds_held());
    }
  });
  CHECK(Kind(faults, FaultKind::kEpochOutOfWindow) > 0);
  CHECK(worst <= held_max);
}

// Asynchrony lets the scheduler starve one correct node while the others — helped by a
// Byzantine node playing honestly — run more than rounds_ahead_max rounds ahead; then the
// Byzantine node falls silent. The laggard refused the far rounds' messages (memory bound),
// yet the others now need its votes: it must still be able to catch up.
TEST_CASE("A correct node left behind beyond the window still catches up", "[aba][window]") {
  Config config;
  config.rounds_ahead_max = 1;  // small, so that falling behind is common
  uint32_t left_behind = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    INFO("seed " << seed);
    const NodeId slow = 3;
    AbaNet net(4, 1, seed, config, {true, false, false, false});
    DeterministicRng rng(seed);
    // Node 0 plays honestly while it helps.
    BinaryAgreement inner(net.Net(0), &net.coin(0), kCoinPrefix, config);
    bool helping = true;
    net.on_byzantine_receive = [&](const Envelope& env) {
      if (!helping) return;
      AbaStep step = inner.HandleMessage(env.from, env.msg);
      for (const auto& tm : step.messages) net.Inject(0, tm.target, tm.message);
    };
    for (NodeId id = 1; id < 4; ++id) net.Propose(id, rng.Uniform(2) == 1);
    {
      AbaStep step = inner.Propose(rng.Uniform(2) == 1);
      for (const auto& tm : step.messages) net.Inject(0, tm.target, tm.message);
    }
    // Phase 1: nothing reaches the slow node until the others are far ahead (or decide).
    auto far_ahead = [&] {
      return net.node(1).round() > config.rounds_ahead_max + 1 &&
             net.node(2).round() > config.rounds_ahead_max + 1;
    };
    while (!far_ahead() && !net.node(1).decision() && !net.node(2).decision()) {
      std::vector<size_t> eligible;
      for (size_t i = 0; i < net.pool.size(); ++i) {
        if (net.pool[i].to != slow) eligible.push_back(i);
      }
      if (eligible.empty()) break;
      net.DeliverAt(eligible[rng.Uniform(eligible.size())]);
    }
    if (far_ahead() && !net.node(1).decision() && !net.node(2).decision()) ++left_behind;
    // Phase 2: the Byzantine node stops; everything else is delivered in random order.
    helping = false;
    while (!net.pool.empty()) net.DeliverAt(rng.Uniform(net.pool.size()));
    REQUIRE(net.AllCorrectTerminated());
    REQUIRE_FALSE(net.AgreementViolated());
    // A correct node far ahead is refused with kEpochOutOfWindow — that fault says "out of
    // window", not "malicious"; nothing else may ever name a correct node.
    for (const auto& rf : net.faults) {
      REQUIRE((net.byzantine(rf.fault.node) || rf.fault.kind == FaultKind::kEpochOutOfWindow));
    }
    net.on_byzantine_receive = nullptr;
  }
  WARN("the slow node was left more than the window behind in " << left_behind
                                                                 << " of 300 runs");
  CHECK(left_behind > 20);
}

TEST_CASE("Byzantine: f nodes adding random messages of every kind", "[aba][byzantine]") {
  const auto faults = RunByzantine(Strategy::kRandomNoise, 60);
  CHECK(Kind(faults, FaultKind::kConflictingVote) > 0);
  CHECK(Kind(faults, FaultKind::kInvalidCoinShare) > 0);
  CHECK(Kind(faults, FaultKind::kMalformedMessage) > 0);
}

TEST_CASE("A run is a function of its seed", "[aba][determinism]") {
  auto trace = [](uint64_t seed) {
    RunOptions opt;
    opt.seed = seed;
    opt.size = {7, 2};
    opt.byzantine = 2;
    opt.strategy = Strategy::kDoubleVotes;
    AbaNet net = MakeNet(opt);
    uint64_t hash = 1469598103934665603ULL;
    net.on_correct_send = [&](NodeId from, const pb::AbaMessage& m) {
      std::string bytes;
      REQUIRE(m.SerializeToString(&bytes));
      hash = (hash ^ from) * 1099511628211ULL;
      for (char c : bytes) hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
    };
    (void)RunRandom(net, opt);
    return hash;
  };
  CHECK(trace(42) == trace(42));
  CHECK(trace(42) != trace(43));
}

}  // namespace
}  // namespace belfry::consensus::aba::test
