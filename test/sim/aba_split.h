// test/sim/aba_split.h — what the simulator's adversary knows about binary agreement
// messages: reading and altering votes, and the delivery priority of the scheduler that
// tries to keep agreements from deciding.
//
// The attack (the liveness problem of Mostéfaoui, Moumen and Raynal's signature-free ABA,
// PODC 2014, reported by MacBrough on HoneyBadgerBFT issue 59 and by Tholoniat and
// Gramoli): if a round's coin can be computed while some correct nodes have not finished
// their AUX step, a scheduler that knows it feeds those nodes only votes for ¬coin — they
// keep ¬coin — while the others adopt the coin, so the estimates are split again in the
// next round, forever. The CONF phase makes the late nodes accept the early nodes' CONF
// sets before they can finish, which takes that choice away from the scheduler.
//
// The scheduler here plays that attack (the scripted version is
// test/consensus/aba_attack_test.cc) on every agreement of the epoch whose inputs it can
// split, with the Byzantine nodes running Strategy::kAbaSplit (they offer every vote, so
// the scheduler picks which copy each node sees first):
//  * inputs: for f proposers per epoch, READYs reach one correct node B early, everybody
//    else late, so B inputs 1 and the others (group A) input 0 once N−f agreements decided;
//  * before the coin of a round is known: B gets nothing; A gets everything, half of A
//    seeing BVAL(0) first and half BVAL(1), so A's AUX votes differ and A finishes the
//    round with {0, 1} and releases its shares;
//  * once the adversary can compute the coin s (f+1 shares with its own): B gets votes for
//    ¬s first and everything else last;
//  * rounds run in lockstep with B: no round-r message is delivered before B has voted in
//    round r, so A cannot run ahead and leave B behind (which would end the split).
// B has the lowest priority, never a hold: the fairness bound still delivers everything.
#ifndef BELFRY_TEST_SIM_ABA_SPLIT_H_
#define BELFRY_TEST_SIM_ABA_SPLIT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "base/rng.h"
#include "proto/aba.pb.h"
#include "test/sim/network.h"

namespace belfry::sim {

// Flips the value an agreement message carries (BVAL, AUX, CONF {0}<->{1} with {0,1} left
// alone, TERM). False for a coin share, which carries no vote.
bool FlipVote(pb::AbaMessage& m);
bool IsCoinShare(const pb::AbaMessage& m);
// Makes a share fail its proof (a flipped byte, or random bytes).
void CorruptCoinShare(pb::AbaMessage& m, Rng& rng);
// Re-labels a share as the next round's: a valid share of a different coin.
void ShiftCoinShareRound(pb::AbaMessage& m);
// For the kAbaSplit strategy: every variant of a vote (BVAL/AUX: both values; CONF: {0},
// {1} and {0,1}); other messages unchanged.
std::vector<pb::AbaMessage> SplitVotes(const pb::AbaMessage& m);

// AbaSplit: the aba-max scheduler's knowledge and delivery priorities. Not thread-safe.
class AbaSplit {
 public:
  explicit AbaSplit(SchedulerView view);
  // Every message entering the network: counts coin shares sent by correct nodes.
  void OnSend(const Envelope& e);
  void OnDeliver(const Envelope& e) { (void)e; }
  // Higher is delivered sooner; 0 is neutral.
  int64_t Priority(const Envelope& e);

 private:
  using Key = std::tuple<uint64_t, uint32_t, uint32_t>;  // epoch, instance, round
  std::optional<bool> KnownCoin(const Key& key);
  // Whether agreement `instance` of `epoch` is one the scheduler splits.
  bool Attacked(uint64_t epoch, uint32_t instance) const;
  // The correct node that plays B for that agreement.
  NodeId LateNode(uint64_t epoch, uint32_t instance) const;
  // 0 or 1: which half of A `node` is in.
  uint32_t HalfOf(NodeId node) const;

  SchedulerView view_;
  uint32_t byzantine_count_ = 0;
  std::vector<NodeId> correct_;
  std::map<Key, std::set<NodeId>> correct_shares_;
  std::map<Key, bool> coin_;
  std::map<std::pair<uint64_t, uint32_t>, uint32_t> late_round_;  // (epoch, instance) -> round
};

}  // namespace belfry::sim

#endif  // BELFRY_TEST_SIM_ABA_SPLIT_H_
