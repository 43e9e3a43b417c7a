// consensus/aba/binary_agreement.cc — asynchronous binary agreement with the common coin.
//
// How it works
// ------------
// The protocol is the binary consensus of Mostéfaoui, Moumen and Raynal ("Signature-free
// asynchronous Byzantine consensus with t < n/3 and O(n²) messages", PODC 2014, Figure 1
// with the common coin; the journal version is JACM 62(4), 2015), with the CONF phase that
// makes it live against a scheduler who learns the coin as soon as f+1 shares are out
// (MacBrough's report on HoneyBadgerBFT, github.com/amiller/HoneyBadgerBFT issue 59, and
// "Cobalt: BFT Governance in Open Networks", 2018; the flaw was also found by Tholoniat and
// Gramoli while model-checking the protocol). Round r, with estimate est:
//
//   1. BV-broadcast. Send BVAL(est). On BVAL(b) from f+1 senders, send BVAL(b) too (one
//      of them is correct, so b is a value a correct node holds). On BVAL(b) from 2f+1
//      senders add b to bin_values; the first time bin_values becomes non-empty, send
//      AUX(b).
//   2. AUX step. Wait for AUX from N−f senders whose values are all in bin_values; vals is
//      {b} if N−f of them say b, else {0, 1}.
//   3. CONF step (Config::conf_phase). Send CONF(vals). Wait for CONF from N−f senders
//      whose sets are subsets of bin_values; vals becomes {b} if N−f of those are {b},
//      else {0, 1}.
//   4. Coin. Only now release this node's share of coin(r) (name: CoinName(prefix, r));
//      on f+1 valid shares, combine them into the bit s.
//   5. If vals = {b}: est = b, and if b = s decide b. If vals = {0, 1}: est = s. Next round.
//
// Safety does not depend on the coin. Correct nodes send one AUX and one CONF per round,
// and two sets of N−f senders share a correct one, so no two correct nodes finish a round
// with vals {0} and {1}. Hence if one decides b in round r, every correct node leaves r
// with est = b, BVAL(¬b) can never again reach f+1 senders, and only b stays possible.
//
// Liveness needs the coin to be unpredictable when it matters. Without step 3 the
// adversary reads the coin from the first f+1 shares while some correct nodes have not
// finished their AUX step, and then delivers to those nodes exactly the BVALs and AUXs
// that leave them with vals = {¬s}, while the others (vals = {0, 1}) adopt s: the split
// repeats every round (test/consensus/aba_attack_test.cc replays it). With step 3, let p
// be the first correct node to release its share; before that nobody knows s. Any correct
// node that later ends with vals = {w} saw N−f CONF({w}), and that set shares a correct
// sender with the N−f CONFs p had already accepted — so w is fixed (or impossible) before
// s is known, and with probability at least 1/2 every correct node leaves the round with
// est = s. Note that vals after step 3 comes from the CONFs received, not from the
// node's own CONF: with "own vals" a Byzantine node's CONF lets 2f correct nodes reveal
// the coin before the last f have committed to anything, and the attack goes through.
//
// Fixed coin values for early rounds (hbbft uses true, false, coin, ...) save the
// threshold cryptography of those rounds and are safe for agreement, since safety never
// looks at the coin; but the adversary knows those coins in advance and can stall those
// rounds at will. Config::round0_coin_fixed fixes round 0's coin only, to 1: in
// HoneyBadger every correct node inputs 1 for each proposal it has received, so in the
// common case every instance decides 1 in round 0 with no coin shares at all (profiled on
// a 4-replica cluster, coin shares, their proofs and their combination were a fifth of a
// replica's CPU, and releasing shares cost one more message delay per instance). The
// adversary gains at most that one round: from round 1 on every coin is the threshold
// coin, released after CONF, and the argument above applies unchanged.
//
// Termination (MMR's JACM version; hbbft's Term message). A node that decides b sends
// TERM(b). On TERM(b) from f+1 senders a node decides b (one of them is correct) and sends
// TERM(b). On TERM(b) from 2f+1 senders (its own included) it terminates: f+1 correct
// nodes have sent TERM(b), so every correct node will decide and send TERM(b) without
// further rounds. Until then a decided node keeps playing its rounds, so the undecided
// still see N−f participants. A node that learns the decision from TERMs before it has
// an input never plays a round; its TERM says so ("abstains") and counts as its BVAL(b),
// AUX(b) and CONF({b}) in every round. That is safe because such a TERM exists only after
// a correct node has decided b, and from then on only b can be decided; and it is needed
// for liveness: otherwise f Byzantine TERMs could silence a correct node whose votes the
// undecided nodes need.
//
// Misbehaviour is reported as a Fault naming the sender: a second AUX, CONF or TERM that
// differs from the first (kConflictingVote), any round vote from a sender whose TERM
// abstained (kConflictingVote), a coin share that fails verification (kInvalidCoinShare)
// or differs from the sender's earlier valid one (kDuplicateCoinShare), a round more than
// rounds_ahead_max ahead (kEpochOutOfWindow: refused, not buffered), an empty or
// out-of-range field (kMalformedMessage). BVAL(0) and BVAL(1) from one sender are both
// legitimate (relaying), and an identical duplicate of anything changes nothing.
//
// Memory: one vote table per round for the current round and at most rounds_ahead_max
// rounds ahead, each holding one BVAL per (sender, value), one AUX, one CONF and one coin
// share per sender. Past rounds are dropped as the node moves on; everything is dropped
// at termination.
//
// Catching up. Refusing far-future rounds bounds memory, but it also throws away correct
// peers' messages: the scheduler may starve a correct node q while the others, helped by
// Byzantine nodes, run more than rounds_ahead_max rounds ahead; if the Byzantine nodes
// then fall silent, the others need q's votes and q has refused theirs — a deadlock (test
// "A correct node left behind beyond the window still catches up"). So every node keeps
// its own round messages of the last kResendRoundsMax rounds and tracks, per peer, the
// highest round that peer has sent anything for. When a peer's messages show it has
// advanced from round a to round b, the node sends it again its messages of the rounds in
// (a + rounds_ahead_max, b + rounds_ahead_max]: exactly those the peer may have refused
// and can now accept. A peer moving in step with us receives nothing extra.
#include "consensus/aba/binary_agreement.h"

#include <array>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/check.h"

namespace belfry::consensus::aba {
namespace {

// A serialized coin share larger than this is malformed (threshold shares are ~140 bytes).
constexpr size_t kCoinShareBytesMax = 1024;

// How many past rounds of our own messages we keep for re-sending to a peer that fell
// behind (see "Catching up" in the header comment). A peer lagging by more than this plus
// rounds_ahead_max can only finish through TERMs; for the others to get that far ahead
// without deciding, about this many coins in a row must go against them.
constexpr uint32_t kResendRoundsMax = 64;

// ValueSet: a subset of {0, 1} as a bitmask — bit 0 for the value false, bit 1 for true.
using ValueSet = uint8_t;
constexpr ValueSet kEmpty = 0;
constexpr ValueSet kBoth = 3;

ValueSet Singleton(bool b) { return b ? 2 : 1; }
bool Contains(ValueSet set, bool b) { return (set & Singleton(b)) != 0; }
bool IsSubset(ValueSet a, ValueSet b) { return (a & ~b) == 0; }

pb::AbaValueSet ToProto(ValueSet set) {
  switch (set) {
    case 1:
      return pb::ABA_VALUE_SET_ZERO;
    case 2:
      return pb::ABA_VALUE_SET_ONE;
    default:
      BELFRY_CHECK(set == kBoth);
      return pb::ABA_VALUE_SET_BOTH;
  }
}

// The set a CONF carries, or kEmpty for the unspecified or an unknown enum number.
ValueSet FromProto(int value) {
  switch (value) {
    case pb::ABA_VALUE_SET_ZERO:
      return 1;
    case pb::ABA_VALUE_SET_ONE:
      return 2;
    case pb::ABA_VALUE_SET_BOTH:
      return kBoth;
    default:
      return kEmpty;
  }
}

// RoundState: everything one round has received and sent.
struct RoundState {
  explicit RoundState(uint32_t n)
      : bval_from{std::vector<bool>(n, false), std::vector<bool>(n, false)},
        aux_from(n, kEmpty),
        conf_from(n, kEmpty),
        shares(n),
        share_bad(n, false) {}

  // BV-broadcast: who sent BVAL(b), and whether we did.
  std::array<std::vector<bool>, 2> bval_from;
  std::array<uint32_t, 2> bval_count{};
  std::array<bool, 2> bval_sent{};
  ValueSet bin_values = kEmpty;

  // AUX: each sender's single value as a singleton set.
  std::vector<ValueSet> aux_from;
  std::array<uint32_t, 2> aux_count{};
  bool aux_sent = false;
  std::optional<ValueSet> aux_vals;  // result of the AUX step

  std::vector<ValueSet> conf_from;
  bool conf_sent = false;
  // The vals this round ends with; set when our coin share is released.
  std::optional<ValueSet> vals;

  // Verified coin shares (our own included), senders whose share failed, and the coin.
  std::vector<std::optional<std::string>> shares;
  std::vector<bool> share_bad;
  uint32_t share_count = 0;
  std::optional<bool> coin;
};

pb::AbaMessage RoundMessage(uint32_t round) {
  pb::AbaMessage m;
  m.set_round(round);
  return m;
}

}  // namespace

std::string CoinName(std::string_view coin_name_prefix, uint32_t round) {
  ByteWriter w;
  w.LengthPrefixed(std::string_view("belfry/aba/coin/v1"));
  w.LengthPrefixed(coin_name_prefix);
  w.U32(round);
  const Bytes& b = w.bytes();
  return std::string(b.begin(), b.end());
}

struct BinaryAgreement::State {
  State(NetworkInfo net_in, CoinScheme* coin_in, std::string prefix_in, Config config_in)
      : net(net_in),
        coin(coin_in),
        prefix(std::move(prefix_in)),
        config(config_in),
        term_from(net_in.n),
        abstainer(net_in.n),
        ever_voted(net_in.n, false),
        peer_round(net_in.n, 0) {}

  NetworkInfo net;
  CoinScheme* coin;
  std::string prefix;
  Config config;

  bool proposed = false;
  bool est = false;
  uint32_t round = 0;
  std::optional<bool> decision;
  std::optional<uint32_t> decision_round;
  bool terminated = false;

  // TERM(b) per sender (the first one; a different second one is a fault).
  std::vector<std::optional<bool>> term_from;
  std::array<uint32_t, 2> term_count{};
  // Senders whose TERM abstained: their value counts as their vote in every round.
  std::vector<std::optional<bool>> abstainer;
  // Senders that sent any round vote: such a sender cannot abstain afterwards.
  std::vector<bool> ever_voted;
  // Vote tables for rounds [round, round + rounds_ahead_max], created on first use.
  std::map<uint32_t, RoundState> rounds;
  // BV-broadcast outlives the round: MMR's relay rule (f+1 BVAL(b) => send BVAL(b)) must
  // keep applying after this node has moved on, or a correct node still in that round
  // may never collect 2f+1 BVAL(b) (a Byzantine sender can show b to only some nodes).
  // Kept for the last kResendRoundsMax rounds, like `history`.
  struct PastBval {
    std::array<std::vector<bool>, 2> from;
    std::array<uint32_t, 2> count{};
    std::array<bool, 2> sent{};
  };
  std::map<uint32_t, PastBval> past_bvals;
  // The highest round each peer has sent us anything for: it is at least there.
  std::vector<uint32_t> peer_round;
  // Our own round messages of the last kResendRoundsMax rounds, for peers that fall behind.
  std::map<uint32_t, std::vector<pb::AbaMessage>> history;

  // --- messages in --------------------------------------------------------------------
  void HandleRoundMessage(NodeId from, const pb::AbaMessage& msg, AbaStep& step);
  bool RecordBval(RoundState& rs, NodeId from, bool b);
  bool RecordAux(RoundState& rs, NodeId from, bool b, AbaStep& step);
  bool RecordConf(RoundState& rs, NodeId from, ValueSet set, AbaStep& step);
  bool RecordShare(RoundState& rs, uint32_t r, NodeId from, const std::string& share,
                   AbaStep& step);
  void HandleTerm(NodeId from, const pb::AbaTerm& term, AbaStep& step);
  void NotePeerRound(NodeId from, uint32_t r, AbaStep& step);

  // --- the rounds ---------------------------------------------------------------------
  RoundState& GetRound(uint32_t r);
  void ApplyAbstainer(RoundState& rs, NodeId node, bool b);
  void Progress(AbaStep& step);
  bool RunRound(RoundState& rs, AbaStep& step);
  void BvBroadcast(RoundState& rs, AbaStep& step);
  std::optional<ValueSet> AuxStep(const RoundState& rs) const;
  std::optional<ValueSet> ConfStep(const RoundState& rs) const;
  bool TryCombine(RoundState& rs);
  void FinishRound(RoundState& rs, AbaStep& step);

  // --- messages out -------------------------------------------------------------------
  void Broadcast(pb::AbaMessage m, AbaStep& step);
  void RelayPastBval(NodeId from, uint32_t r, bool b, AbaStep& step);
  void SendBval(RoundState& rs, bool b, AbaStep& step);
  void SendAux(RoundState& rs, bool b, AbaStep& step);
  void SendConf(RoundState& rs, ValueSet set, AbaStep& step);
  void ReleaseShare(RoundState& rs, AbaStep& step);
  void Decide(bool b, AbaStep& step);
  void RecordTerm(NodeId from, bool b, AbaStep& step);
};

// ---------------------------------------------------------------------------------------
// Messages in.

void BinaryAgreement::State::HandleRoundMessage(NodeId from, const pb::AbaMessage& msg,
                                                AbaStep& step) {
  if (abstainer[from].has_value()) {
    step.AddFault(from, FaultKind::kConflictingVote, "round vote after an abstaining TERM");
    return;
  }
  ever_voted[from] = true;
  // A node that decided without an input never plays a round: round votes are moot.
  if (!proposed && decision.has_value()) return;
  const uint32_t r = msg.round();
  NotePeerRound(from, r, step);
  if (r < round) {
    // A finished round: only its BV-broadcast relay still matters to others.
    if (msg.content_case() == pb::AbaMessage::kBval) RelayPastBval(from, r, msg.bval(), step);
    return;
  }
  if (r - round > config.rounds_ahead_max) {
    step.AddFault(from, FaultKind::kEpochOutOfWindow, "round beyond rounds_ahead_max");
    return;
  }
  // Reject malformed content before it costs a vote table.
  ValueSet conf_set = kEmpty;
  if (msg.content_case() == pb::AbaMessage::kConf) {
    conf_set = FromProto(msg.conf());
    if (conf_set == kEmpty) {
      step.AddFault(from, FaultKind::kMalformedMessage, "CONF with no valid value set");
      return;
    }
  }
  if (msg.content_case() == pb::AbaMessage::kCoinShare &&
      (msg.coin_share().empty() || msg.coin_share().size() > kCoinShareBytesMax)) {
    step.AddFault(from, FaultKind::kMalformedMessage, "coin share size out of range");
    return;
  }

  RoundState& rs = GetRound(r);
  bool changed = false;
  switch (msg.content_case()) {
    case pb::AbaMessage::kBval:
      changed = RecordBval(rs, from, msg.bval());
      break;
    case pb::AbaMessage::kAux:
      changed = RecordAux(rs, from, msg.aux(), step);
      break;
    case pb::AbaMessage::kConf:
      changed = RecordConf(rs, from, conf_set, step);
      break;
    case pb::AbaMessage::kCoinShare:
      changed = RecordShare(rs, r, from, msg.coin_share(), step);
      break;
    default:
      BELFRY_CHECK(false);  // the caller dispatched only round messages here
  }
  if (changed && proposed && r == round) Progress(step);
}

bool BinaryAgreement::State::RecordBval(RoundState& rs, NodeId from, bool b) {
  if (rs.bval_from[b][from]) return false;  // duplicate
  rs.bval_from[b][from] = true;
  ++rs.bval_count[b];
  return true;
}

bool BinaryAgreement::State::RecordAux(RoundState& rs, NodeId from, bool b, AbaStep& step) {
  if (rs.aux_from[from] != kEmpty) {
    if (rs.aux_from[from] != Singleton(b)) {
      step.AddFault(from, FaultKind::kConflictingVote, "second AUX with another value");
    }
    return false;
  }
  rs.aux_from[from] = Singleton(b);
  ++rs.aux_count[b];
  return true;
}

bool BinaryAgreement::State::RecordConf(RoundState& rs, NodeId from, ValueSet set,
                                        AbaStep& step) {
  if (rs.conf_from[from] != kEmpty) {
    if (rs.conf_from[from] != set) {
      step.AddFault(from, FaultKind::kConflictingVote, "second CONF with another set");
    }
    return false;
  }
  rs.conf_from[from] = set;
  return true;
}

bool BinaryAgreement::State::RecordShare(RoundState& rs, uint32_t r, NodeId from,
                                         const std::string& share, AbaStep& step) {
  // Once the coin is known no share can change anything; skipping the check also keeps a
  // flood of late shares from costing verifications.
  if (rs.coin.has_value() || rs.share_bad[from]) return false;
  if (r == 0 && config.round0_coin_fixed) {
    // Round 0's coin is fixed: no correct node sends a share for it.
    rs.share_bad[from] = true;
    step.AddFault(from, FaultKind::kInvalidCoinShare, "coin share for the fixed round-0 coin");
    return false;
  }
  if (rs.shares[from].has_value()) {
    // Shares are a deterministic function of (key, name): a different second one is bad.
    if (*rs.shares[from] != share) {
      step.AddFault(from, FaultKind::kDuplicateCoinShare, "second, different coin share");
    }
    return false;
  }
  if (!coin->VerifyShare(from, CoinName(prefix, r), share)) {
    // Remember the sender so that it costs at most one verification per round.
    rs.share_bad[from] = true;
    step.AddFault(from, FaultKind::kInvalidCoinShare, "coin share fails verification");
    return false;
  }
  rs.shares[from] = share;
  ++rs.share_count;
  return true;
}

void BinaryAgreement::State::HandleTerm(NodeId from, const pb::AbaTerm& term, AbaStep& step) {
  const bool b = term.value();
  if (term_from[from].has_value()) {
    if (*term_from[from] != b) {
      step.AddFault(from, FaultKind::kConflictingVote, "second TERM with another value");
    }
    return;
  }
  if (term.abstains()) {
    if (ever_voted[from]) {
      // A correct node abstains only if it never voted; keep the TERM, not the abstention.
      step.AddFault(from, FaultKind::kConflictingVote, "abstaining TERM after round votes");
    } else {
      abstainer[from] = b;
      for (auto& [r, rs] : rounds) ApplyAbstainer(rs, from, b);
    }
  }
  RecordTerm(from, b, step);
  if (!terminated && proposed) Progress(step);
}

void BinaryAgreement::State::NotePeerRound(NodeId from, uint32_t r, AbaStep& step) {
  if (r <= peer_round[from]) return;
  // `from` was in round >= peer_round[from] whenever our earlier messages reached it, so
  // it may have refused exactly those of rounds above peer_round[from] + rounds_ahead_max.
  // The ones up to r + rounds_ahead_max now fit its window: send them again. Each round
  // goes to each peer at most once more, and a peer in step with us gets nothing.
  const uint64_t first = uint64_t{peer_round[from]} + config.rounds_ahead_max + 1;
  const uint64_t last = uint64_t{r} + config.rounds_ahead_max;
  peer_round[from] = r;
  for (const auto& [k, sent] : history) {
    if (k < first || k > last) continue;
    for (const pb::AbaMessage& m : sent) step.Send(Target::Node(from), m);
  }
}

// ---------------------------------------------------------------------------------------
// The rounds.

RoundState& BinaryAgreement::State::GetRound(uint32_t r) {
  auto it = rounds.find(r);
  if (it != rounds.end()) return it->second;
  RoundState& rs = rounds.emplace(r, RoundState(net.n)).first->second;
  for (NodeId node = 0; node < net.n; ++node) {
    if (abstainer[node].has_value()) ApplyAbstainer(rs, node, *abstainer[node]);
  }
  BELFRY_CHECK(rounds.size() <= size_t{config.rounds_ahead_max} + 1);
  return rs;
}

void BinaryAgreement::State::ApplyAbstainer(RoundState& rs, NodeId node, bool b) {
  // The caller made sure `node` never voted, so these slots are empty.
  RecordBval(rs, node, b);
  rs.aux_from[node] = Singleton(b);
  ++rs.aux_count[b];
  rs.conf_from[node] = Singleton(b);
}

void BinaryAgreement::State::Progress(AbaStep& step) {
  // Finishing a round may find the next one already complete from buffered messages.
  while (proposed && !terminated) {
    if (!RunRound(GetRound(round), step)) break;
  }
}

// Takes the current round as far as its messages allow; true if it finished.
bool BinaryAgreement::State::RunRound(RoundState& rs, AbaStep& step) {
  BvBroadcast(rs, step);
  if (!rs.aux_vals.has_value()) rs.aux_vals = AuxStep(rs);
  if (!rs.aux_vals.has_value()) return false;
  if (!rs.vals.has_value()) {
    if (config.conf_phase) {
      if (!rs.conf_sent) SendConf(rs, *rs.aux_vals, step);
      rs.vals = ConfStep(rs);
    } else {
      rs.vals = rs.aux_vals;
    }
    if (!rs.vals.has_value()) return false;
    if (round == 0 && config.round0_coin_fixed) {
      rs.coin = true;
    } else {
      ReleaseShare(rs, step);
    }
  }
  if (!TryCombine(rs)) return false;
  FinishRound(rs, step);
  return true;
}

void BinaryAgreement::State::BvBroadcast(RoundState& rs, AbaStep& step) {
  for (bool b : {false, true}) {
    if (!rs.bval_sent[b] && rs.bval_count[b] >= net.one_correct()) SendBval(rs, b, step);
    if (!Contains(rs.bin_values, b) && rs.bval_count[b] >= net.two_f_plus_one()) {
      rs.bin_values |= Singleton(b);
      if (!rs.aux_sent) SendAux(rs, b, step);
    }
  }
}

std::optional<ValueSet> BinaryAgreement::State::AuxStep(const RoundState& rs) const {
  const uint32_t n0 = Contains(rs.bin_values, false) ? rs.aux_count[0] : 0;
  const uint32_t n1 = Contains(rs.bin_values, true) ? rs.aux_count[1] : 0;
  if (n0 + n1 < net.quorum()) return std::nullopt;
  if (n0 >= net.quorum()) return Singleton(false);
  if (n1 >= net.quorum()) return Singleton(true);
  return kBoth;
}

std::optional<ValueSet> BinaryAgreement::State::ConfStep(const RoundState& rs) const {
  uint32_t accepted = 0;
  std::array<uint32_t, 2> single{};
  for (ValueSet set : rs.conf_from) {
    if (set == kEmpty || !IsSubset(set, rs.bin_values)) continue;
    ++accepted;
    if (set != kBoth) ++single[set == Singleton(true)];
  }
  if (accepted < net.quorum()) return std::nullopt;
  // {b} only on N−f CONF({b}): the liveness argument in the header rests on it. When
  // bin_values = {b}, every accepted CONF is {b}, so {0, 1} implies both are in bin_values.
  if (single[0] >= net.quorum()) return Singleton(false);
  if (single[1] >= net.quorum()) return Singleton(true);
  return kBoth;
}

bool BinaryAgreement::State::TryCombine(RoundState& rs) {
  if (rs.coin.has_value()) return true;
  if (rs.share_count < net.one_correct()) return false;
  std::vector<std::pair<NodeId, std::string>> picked;
  for (NodeId node = 0; node < net.n && picked.size() < net.one_correct(); ++node) {
    if (rs.shares[node].has_value()) picked.emplace_back(node, *rs.shares[node]);
  }
  const std::optional<CoinValue> value = coin->Combine(CoinName(prefix, round), picked);
  // f+1 shares that VerifyShare accepted always combine; anything else is a broken scheme.
  BELFRY_CHECK(value.has_value());
  rs.coin = value->bit();
  return true;
}

void BinaryAgreement::State::FinishRound(RoundState& rs, AbaStep& step) {
  const bool s = *rs.coin;
  const ValueSet vals = *rs.vals;
  if (vals == kBoth) {
    est = s;
  } else {
    est = (vals == Singleton(true));
    if (est == s) Decide(est, step);
  }
  if (terminated) return;
  for (auto it = rounds.begin(); it != rounds.end() && it->first <= round; ++it) {
    PastBval& past = past_bvals[it->first];
    past.from = it->second.bval_from;
    past.count = it->second.bval_count;
    past.sent = it->second.bval_sent;
  }
  ++round;
  rounds.erase(rounds.begin(), rounds.lower_bound(round));
  if (round > kResendRoundsMax) {
    history.erase(history.begin(), history.lower_bound(round - kResendRoundsMax));
    past_bvals.erase(past_bvals.begin(), past_bvals.lower_bound(round - kResendRoundsMax));
  }
  SendBval(GetRound(round), est, step);
}

// ---------------------------------------------------------------------------------------
// Messages out. Each is recorded as our own vote before it leaves, since the transport
// never delivers a node's message to itself.

void BinaryAgreement::State::Broadcast(pb::AbaMessage m, AbaStep& step) {
  history[m.round()].push_back(m);
  step.Send(Target::All(), std::move(m));
}

void BinaryAgreement::State::RelayPastBval(NodeId from, uint32_t r, bool b, AbaStep& step) {
  auto it = past_bvals.find(r);
  if (it == past_bvals.end()) return;  // older than anything a correct peer still needs
  PastBval& past = it->second;
  if (past.from[b][from]) return;  // duplicate
  past.from[b][from] = true;
  ++past.count[b];
  if (!past.sent[b] && past.count[b] >= net.one_correct()) {
    past.sent[b] = true;
    pb::AbaMessage m = RoundMessage(r);
    m.set_bval(b);
    Broadcast(std::move(m), step);
  }
}

void BinaryAgreement::State::SendBval(RoundState& rs, bool b, AbaStep& step) {
  rs.bval_sent[b] = true;
  RecordBval(rs, net.self, b);
  pb::AbaMessage m = RoundMessage(round);
  m.set_bval(b);
  Broadcast(std::move(m), step);
}

void BinaryAgreement::State::SendAux(RoundState& rs, bool b, AbaStep& step) {
  rs.aux_sent = true;
  rs.aux_from[net.self] = Singleton(b);
  ++rs.aux_count[b];
  pb::AbaMessage m = RoundMessage(round);
  m.set_aux(b);
  Broadcast(std::move(m), step);
}

void BinaryAgreement::State::SendConf(RoundState& rs, ValueSet set, AbaStep& step) {
  rs.conf_sent = true;
  rs.conf_from[net.self] = set;
  pb::AbaMessage m = RoundMessage(round);
  m.set_conf(ToProto(set));
  Broadcast(std::move(m), step);
}

void BinaryAgreement::State::ReleaseShare(RoundState& rs, AbaStep& step) {
  std::string share = coin->MakeShare(CoinName(prefix, round));
  pb::AbaMessage m = RoundMessage(round);
  m.set_coin_share(share);
  Broadcast(std::move(m), step);
  // Nobody else can put our share here: the transport never delivers our own messages.
  rs.shares[net.self] = std::move(share);
  ++rs.share_count;
}

void BinaryAgreement::State::Decide(bool b, AbaStep& step) {
  if (decision.has_value()) return;
  decision = b;
  decision_round = round;
  step.outputs.push_back(b);
  pb::AbaMessage m = RoundMessage(round);
  m.mutable_term()->set_value(b);
  m.mutable_term()->set_abstains(!proposed);
  step.Send(Target::All(), std::move(m));
  RecordTerm(net.self, b, step);
}

void BinaryAgreement::State::RecordTerm(NodeId from, bool b, AbaStep& step) {
  term_from[from] = b;
  ++term_count[b];
  if (!decision.has_value() && term_count[b] >= net.one_correct()) Decide(b, step);
  if (!terminated && decision.has_value() && term_count[*decision] >= net.two_f_plus_one()) {
    terminated = true;
    rounds.clear();
    history.clear();
  }
}

// ---------------------------------------------------------------------------------------
// The public face.

BinaryAgreement::BinaryAgreement(NetworkInfo net, CoinScheme* coin, std::string coin_name_prefix,
                                 Config config)
    : state_(std::make_unique<State>(net, coin, std::move(coin_name_prefix), config)) {
  BELFRY_CHECK(coin != nullptr);
  BELFRY_CHECK(net.n >= 3 * net.f + 1);
  BELFRY_CHECK(net.valid_node(net.self));
}

AbaStep BinaryAgreement::Propose(bool value) {
  AbaStep step;
  if (!accepts_input()) return step;
  State& s = *state_;
  s.proposed = true;
  s.est = value;
  s.SendBval(s.GetRound(s.round), value, step);
  s.Progress(step);
  return step;
}

AbaStep BinaryAgreement::HandleMessage(NodeId from, const pb::AbaMessage& msg) {
  AbaStep step;
  State& s = *state_;
  if (s.terminated) return step;
  if (!s.net.valid_node(from) || from == s.net.self) {
    step.AddFault(from, FaultKind::kUnexpectedSender, "sender is not a peer");
    return step;
  }
  switch (msg.content_case()) {
    case pb::AbaMessage::kTerm:
      s.HandleTerm(from, msg.term(), step);
      break;
    case pb::AbaMessage::kBval:
    case pb::AbaMessage::kAux:
    case pb::AbaMessage::kConf:
    case pb::AbaMessage::kCoinShare:
      s.HandleRoundMessage(from, msg, step);
      break;
    case pb::AbaMessage::CONTENT_NOT_SET:
      step.AddFault(from, FaultKind::kMalformedMessage, "empty ABA message");
      break;
  }
  return step;
}

bool BinaryAgreement::accepts_input() const {
  return !state_->proposed && !state_->decision.has_value();
}
std::optional<bool> BinaryAgreement::decision() const { return state_->decision; }
bool BinaryAgreement::terminated() const { return state_->terminated; }
uint32_t BinaryAgreement::round() const { return state_->round; }
std::optional<uint32_t> BinaryAgreement::decision_round() const {
  return state_->decision_round;
}
size_t BinaryAgreement::rounds_held() const { return state_->rounds.size(); }

BinaryAgreement::BinaryAgreement(BinaryAgreement&&) noexcept = default;
BinaryAgreement& BinaryAgreement::operator=(BinaryAgreement&&) noexcept = default;
BinaryAgreement::~BinaryAgreement() = default;

}  // namespace belfry::consensus::aba
