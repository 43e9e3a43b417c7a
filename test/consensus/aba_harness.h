// test/consensus/aba_harness.h — an in-memory network of one ABA instance, for tests.
//
// Every message in flight sits in `pool`; the test (or a scheduler it writes) decides
// which one is delivered next, so delivery order is entirely under test control. Correct
// nodes run BinaryAgreement with the stand-in coin; Byzantine nodes run no protocol of
// their own here — whatever they receive goes to `on_byzantine_receive`, and whatever they
// say is put in the pool with Inject.
#ifndef BELFRY_TEST_CONSENSUS_ABA_HARNESS_H_
#define BELFRY_TEST_CONSENSUS_ABA_HARNESS_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "consensus/aba/binary_agreement.h"
#include "consensus/aba/testing/fake_coin.h"
#include "consensus/step.h"
#include "proto/aba.pb.h"

namespace belfry::consensus::aba::test {

inline constexpr char kCoinPrefix[] = "cluster-7/epoch-3/aba-1";

// Envelope: one message on its way from `from` to `to`.
struct Envelope {
  NodeId from = 0;
  NodeId to = 0;
  pb::AbaMessage msg;
};

// ReportedFault: a fault, and the node that observed it.
struct ReportedFault {
  NodeId reporter = 0;
  Fault fault;
};

// AbaNet: the nodes of one instance and the messages between them. Not thread-safe.
class AbaNet {
 public:
  AbaNet(uint32_t n, uint32_t f, uint64_t coin_seed, Config config, std::vector<bool> byzantine)
      : n_(n), f_(f), byzantine_(std::move(byzantine)), outputs_(n) {
    BELFRY_CHECK(byzantine_.size() == n);
    for (NodeId id = 0; id < n; ++id) {
      coins_.push_back(std::make_unique<testing::FakeCoin>(coin_seed, Net(id)));
      if (byzantine_[id]) {
        nodes_.emplace_back(std::nullopt);
      } else {
        nodes_.emplace_back(std::in_place, Net(id), coins_.back().get(), kCoinPrefix, config);
      }
    }
  }

  NetworkInfo Net(NodeId self) const { return NetworkInfo{self, n_, f_}; }
  uint32_t n() const { return n_; }
  uint32_t f() const { return f_; }
  bool byzantine(NodeId id) const { return byzantine_[id]; }
  BinaryAgreement& node(NodeId id) { return *nodes_[id]; }
  const BinaryAgreement& node(NodeId id) const { return *nodes_[id]; }
  testing::FakeCoin& coin(NodeId id) { return *coins_[id]; }

  void Propose(NodeId id, bool value) { Absorb(id, nodes_[id]->Propose(value)); }

  // Puts a Byzantine node's message in flight to every recipient of `target`.
  void Inject(NodeId from, const Target& target, const pb::AbaMessage& msg) {
    for (NodeId to = 0; to < n_; ++to) {
      if (to != from && target.Contains(to)) pool.push_back(Envelope{from, to, msg});
    }
  }

  // Delivers (and removes) pool[i].
  void DeliverAt(size_t i) {
    Envelope env = std::move(pool[i]);
    pool[i] = std::move(pool.back());
    pool.pop_back();
    Deliver(env);
  }

  // Delivers one envelope that is not (or no longer) in the pool.
  void Deliver(const Envelope& env) {
    ++deliveries;
    if (byzantine_[env.to]) {
      if (on_byzantine_receive) on_byzantine_receive(env);
      return;
    }
    BinaryAgreement& node = *nodes_[env.to];
    const bool was_terminated = node.terminated();
    AbaStep step = node.HandleMessage(env.from, env.msg);
    if (was_terminated && !step.empty()) ++steps_after_termination;
    Absorb(env.to, std::move(step));
  }

  bool AllCorrectDecided() const {
    for (NodeId id = 0; id < n_; ++id) {
      if (!byzantine_[id] && !nodes_[id]->decision().has_value()) return false;
    }
    return true;
  }
  bool AllCorrectTerminated() const {
    for (NodeId id = 0; id < n_; ++id) {
      if (!byzantine_[id] && !nodes_[id]->terminated()) return false;
    }
    return true;
  }
  // The common decision of the correct nodes; nullopt if some have not decided or they
  // disagree (`agreement_violated` tells which).
  std::optional<bool> CommonDecision() const {
    std::optional<bool> common;
    for (NodeId id = 0; id < n_; ++id) {
      if (byzantine_[id]) continue;
      const std::optional<bool> d = nodes_[id]->decision();
      if (!d.has_value()) return std::nullopt;
      if (common.has_value() && *common != *d) return std::nullopt;
      common = d;
    }
    return common;
  }
  bool AgreementViolated() const {
    std::optional<bool> seen;
    for (NodeId id = 0; id < n_; ++id) {
      if (byzantine_[id]) continue;
      for (bool d : outputs_[id]) {
        if (seen.has_value() && *seen != d) return true;
        seen = d;
      }
    }
    return false;
  }
  // Every node output at most once.
  bool OutputsAtMostOnce() const {
    for (const auto& o : outputs_) {
      if (o.size() > 1) return false;
    }
    return true;
  }
  uint32_t MaxDecisionRound() const {
    uint32_t max = 0;
    for (NodeId id = 0; id < n_; ++id) {
      if (!byzantine_[id] && nodes_[id]->decision_round().has_value()) {
        max = std::max(max, *nodes_[id]->decision_round());
      }
    }
    return max;
  }
  bool FaultOnlyNamesByzantine() const {
    for (const auto& rf : faults) {
      if (!byzantine_[rf.fault.node]) return false;
    }
    return true;
  }
  size_t CountFaults(FaultKind kind) const {
    size_t count = 0;
    for (const auto& rf : faults) count += rf.fault.kind == kind ? 1 : 0;
    return count;
  }

  std::vector<Envelope> pool;
  std::vector<ReportedFault> faults;
  std::function<void(const Envelope&)> on_byzantine_receive;
  // Called with every message a correct node sends, before it enters the pool.
  std::function<void(NodeId from, const pb::AbaMessage&)> on_correct_send;
  uint64_t deliveries = 0;
  uint64_t messages_sent = 0;
  uint64_t targeted_sent = 0;  // re-sends to a peer that fell behind
  uint64_t steps_after_termination = 0;

 private:
  void Absorb(NodeId from, AbaStep&& step) {
    for (auto& tm : step.messages) {
      ++messages_sent;
      if (tm.target.kind == Target::Kind::kNodes) ++targeted_sent;
      if (on_correct_send) on_correct_send(from, tm.message);
      for (NodeId to = 0; to < n_; ++to) {
        if (to != from && tm.target.Contains(to)) pool.push_back(Envelope{from, to, tm.message});
      }
    }
    for (bool o : step.outputs) outputs_[from].push_back(o);
    for (auto& fault : step.faults) faults.push_back(ReportedFault{from, std::move(fault)});
  }

  uint32_t n_;
  uint32_t f_;
  std::vector<bool> byzantine_;
  std::vector<std::unique_ptr<testing::FakeCoin>> coins_;
  std::vector<std::optional<BinaryAgreement>> nodes_;
  std::vector<std::vector<bool>> outputs_;
};

// Message constructors, for tests that speak for Byzantine nodes.
inline pb::AbaMessage Bval(uint32_t round, bool b) {
  pb::AbaMessage m;
  m.set_round(round);
  m.set_bval(b);
  return m;
}
inline pb::AbaMessage Aux(uint32_t round, bool b) {
  pb::AbaMessage m;
  m.set_round(round);
  m.set_aux(b);
  return m;
}
inline pb::AbaMessage Conf(uint32_t round, pb::AbaValueSet set) {
  pb::AbaMessage m;
  m.set_round(round);
  m.set_conf(set);
  return m;
}
inline pb::AbaMessage CoinShareMsg(uint32_t round, std::string share) {
  pb::AbaMessage m;
  m.set_round(round);
  m.set_coin_share(std::move(share));
  return m;
}
inline pb::AbaMessage Term(bool b, bool abstains = false) {
  pb::AbaMessage m;
  m.mutable_term()->set_value(b);
  m.mutable_term()->set_abstains(abstains);
  return m;
}
inline pb::AbaValueSet Single(bool b) {
  return b ? pb::ABA_VALUE_SET_ONE : pb::ABA_VALUE_SET_ZERO;
}

}  // namespace belfry::consensus::aba::test

#endif  // BELFRY_TEST_CONSENSUS_ABA_HARNESS_H_
