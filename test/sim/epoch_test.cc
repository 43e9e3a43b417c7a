// Unit tests of consensus/epoch/ and consensus/acs/ on a small in-order network: the
// proposal codec, the window rules, invalid proposals, the batch rules of HoneyBadgerBFT
// (Miller et al. CCS 2016, Figure 1: union of the accepted proposals, order from the coin)
// and garbage collection. The adversarial runs are in sim_test.cc.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/rng.h"
#include "consensus/aba/testing/fake_coin.h"
#include "consensus/epoch/honey_badger.h"
#include "consensus/epoch/proposal.h"
#include "consensus/rbc/broadcast.h"

namespace belfry::consensus::epoch {
namespace {

ProposalLimits Limits() { return ProposalLimits{1024, 4, 64}; }

TEST_CASE("Proposal: a canonical encoding round-trips", "[proposal]") {
  Proposal p{1234, {"a", "bb", "ccc"}};
  const std::string bytes = EncodeProposal(p);
  REQUIRE(bytes.size() == EncodedProposalBytes(p.requests));
  absl::StatusOr<Proposal> back = DecodeProposal(bytes, Limits());
  REQUIRE(back.ok());
  CHECK(back->clock_reading == 1234);
  CHECK(back->requests == p.requests);
  CHECK(DecodeProposal(EncodeProposal(Proposal{7, {}}), Limits()).ok());  // empty is valid
}

TEST_CASE("Proposal: every malformed or oversized encoding is refused", "[proposal]") {
  const std::string good = EncodeProposal(Proposal{1, {"x", "y"}});
  CHECK(!DecodeProposal(good.substr(0, good.size() - 1), Limits()).ok());  // truncated
  CHECK(!DecodeProposal(good + "z", Limits()).ok());                         // trailing byte
  std::string bad_version = good;
  bad_version[0] = 2;
  CHECK(!DecodeProposal(bad_version, Limits()).ok());
  CHECK(!DecodeProposal("", Limits()).ok());
  CHECK(!DecodeProposal(EncodeProposal(Proposal{1, {"1", "2", "3", "4", "5"}}), Limits()).ok());
  CHECK(!DecodeProposal(EncodeProposal(Proposal{1, {std::string(65, 'q')}}), Limits()).ok());
  CHECK(!DecodeProposal(EncodeProposal(Proposal{1, {""}}), Limits()).ok());
  ProposalLimits tight = Limits();
  tight.proposal_bytes_max = good.size() - 1;
  CHECK(!DecodeProposal(good, tight).ok());
  // A count the remaining bytes cannot hold is refused before anything is allocated.
  std::string huge_count = good;
  huge_count[9] = '\x7f';
  ProposalLimits many = Limits();
  many.batch_requests_max = UINT32_MAX;
  CHECK(!DecodeProposal(huge_count, many).ok());
}

// A cluster of HoneyBadgers on a FIFO network, with an optional hook that rewrites what
// one node sends (to play a faulty proposer).
class Cluster {
 public:
  using Rewrite = std::function<std::vector<std::pair<NodeId, pb::ConsensusMessage>>(
      NodeId to, const pb::ConsensusMessage&)>;

  explicit Cluster(uint32_t n, Config config = TestConfig()) : n_(n), f_((n - 1) / 3) {
    for (NodeId i = 0; i < n_; ++i) {
      coins_.push_back(std::make_unique<aba::testing::FakeCoin>(42, NetworkInfo{i, n_, f_}));
      nodes_.push_back(std::make_unique<HoneyBadger>(NetworkInfo{i, n_, f_}, config,
                                                     coins_.back().get()));
      outputs_.emplace_back();
      faults_.emplace_back();
    }
  }

  static Config TestConfig() {
    Config c;
    c.cluster_id = "test";
    c.epochs_in_flight_max = 3;
    c.batch_requests_max = 8;
    c.proposal_bytes_max = 2048;
    c.request_bytes_max = 64;
    return c;
  }

  HoneyBadger& node(NodeId i) { return *nodes_[i]; }
  const std::vector<Batch>& outputs(NodeId i) const { return outputs_[i]; }
  const std::vector<Fault>& faults(NodeId i) const { return faults_[i]; }
  void set_rewrite(NodeId node, Rewrite r) {
    rewrite_node_ = node;
    rewrite_ = std::move(r);
  }

  void Propose(NodeId i, const std::vector<std::string>& pending, uint64_t clock) {
    Absorb(i, nodes_[i]->Propose(pending, clock, rng_));
  }

  // Delivers everything in flight, in order, until the network is quiet.
  void Run() {
    while (!queue_.empty()) {
      auto [from, to, msg] = std::move(queue_.front());
      queue_.pop_front();
      Absorb(to, nodes_[to]->HandleMessage(from, msg));
    }
  }

 private:
  void Absorb(NodeId i, HbStep step) {
    for (auto& tm : step.messages) {
      for (NodeId to = 0; to < n_; ++to) {
        if (to == i || !tm.target.Contains(to)) continue;
        if (rewrite_ && i == rewrite_node_) {
          for (auto& [dest, m] : rewrite_(to, tm.message)) queue_.push_back({i, dest, m});
        } else {
          queue_.push_back({i, to, tm.message});
        }
      }
    }
    for (Batch& b : step.outputs) outputs_[i].push_back(std::move(b));
    for (Fault& f : step.faults) faults_[i].push_back(std::move(f));
  }

  struct InFlight {
    NodeId from;
    NodeId to;
    pb::ConsensusMessage msg;
  };
  uint32_t n_;
  uint32_t f_;
  DeterministicRng rng_{7};
  std::vector<std::unique_ptr<aba::testing::FakeCoin>> coins_;
  std::vector<std::unique_ptr<HoneyBadger>> nodes_;
  std::vector<std::vector<Batch>> outputs_;
  std::vector<std::vector<Fault>> faults_;
  std::deque<InFlight> queue_;
  NodeId rewrite_node_ = 0;
  Rewrite rewrite_;
};

bool SameBatch(const Batch& a, const Batch& b) {
  return a.epoch == b.epoch && a.consensus_time == b.consensus_time && a.requests == b.requests &&
         a.accepted_proposers == b.accepted_proposers;
}

TEST_CASE("HoneyBadger: every node outputs the union of the accepted proposals, once each",
          "[epoch]") {
  Cluster c(4);
  for (NodeId i = 0; i < 4; ++i) {
    c.Propose(i, {"shared", "only-" + std::to_string(i)}, 100 + 10 * i);
  }
  c.Run();
  for (NodeId i = 0; i < 4; ++i) {
    REQUIRE(c.outputs(i).size() == 1);
    CHECK(SameBatch(c.outputs(i)[0], c.outputs(0)[0]));
    CHECK(c.faults(i).empty());
  }
  const Batch& b = c.outputs(0)[0];
  CHECK(b.epoch == 0);
  CHECK(b.accepted_proposers.size() >= 3);
  std::set<std::string> got(b.requests.begin(), b.requests.end());
  CHECK(got.size() == b.requests.size());  // "shared" appears once
  CHECK(got.count("shared") == 1);
  for (NodeId j : b.accepted_proposers) CHECK(got.count("only-" + std::to_string(j)) == 1);
  CHECK(got.size() == b.accepted_proposers.size() + 1);
}

TEST_CASE("HoneyBadger: consensus time is the lower median of the accepted clock readings",
          "[epoch]") {
  Cluster c(4);
  const uint64_t clocks[] = {10, 1000000, 30, 20};
  for (NodeId i = 0; i < 4; ++i) c.Propose(i, {}, clocks[i]);
  c.Run();
  const Batch b = c.outputs(0)[0];  // a copy: outputs(0) grows below
  std::vector<uint64_t> readings;
  for (NodeId j : b.accepted_proposers) readings.push_back(clocks[j]);
  std::sort(readings.begin(), readings.end());
  CHECK(b.consensus_time == readings[(readings.size() - 1) / 2]);
  // Never decreases: a later epoch whose readings are all smaller keeps the old time.
  for (NodeId i = 0; i < 4; ++i) c.Propose(i, {}, 1);
  c.Run();
  REQUIRE(c.outputs(0).size() == 2);
  CHECK(c.outputs(0)[1].consensus_time == b.consensus_time);
}

TEST_CASE("HoneyBadger: a request proposed in two in-flight epochs is output once", "[epoch]") {
  Cluster c(4);
  for (NodeId i = 0; i < 4; ++i) c.Propose(i, {"r1", "r2"}, 5);
  for (NodeId i = 0; i < 4; ++i) c.Propose(i, {"r1", "r2", "r3"}, 6);  // epoch 1, same r1 r2
  c.Run();
  REQUIRE(c.outputs(0).size() == 2);
  std::vector<std::string> all;
  for (const Batch& b : c.outputs(0)) all.insert(all.end(), b.requests.begin(), b.requests.end());
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<std::string>{"r1", "r2", "r3"});
}

TEST_CASE("HoneyBadger: a node started late drops the duplicates of the batches it is told of",
          "[epoch]") {
  // Every node starts at epoch 1, as after a restart; epoch 0 output r1 and r2.
  for (const bool told : {true, false}) {
    Config config = Cluster::TestConfig();
    config.first_epoch = 1;
    Cluster c(4, config);
    if (told) {
      for (NodeId i = 0; i < 4; ++i) c.node(i).RememberOutput({"r2", "r1"});
    }
    for (NodeId i = 0; i < 4; ++i) c.Propose(i, {"r1", "r2", "r3"}, 6);
    c.Run();
    REQUIRE(c.outputs(0).size() == 1);
    CHECK(c.outputs(0)[0].epoch == 1);
    // Without them a restarted node would output r1 and r2 a second time, where its peers
    // that ran epoch 0 drop them: its batch would differ.
    std::vector<std::string> out = c.outputs(0)[0].requests;
    std::sort(out.begin(), out.end());
    CHECK(out == (told ? std::vector<std::string>{"r3"} : std::vector<std::string>{"r1", "r2", "r3"}));
  }
}

TEST_CASE("HoneyBadger: a message beyond the window is refused, counted and not kept",
          "[epoch][window]") {
  Cluster c(4);
  HoneyBadger& hb = c.node(0);
  pb::ConsensusMessage far;
  far.set_epoch(3);  // window 0..2
  far.mutable_order_share()->set_share("x");
  HbStep s = hb.HandleMessage(1, far);
  REQUIRE(s.faults.size() == 1);
  CHECK(s.faults[0].kind == FaultKind::kEpochOutOfWindow);
  CHECK(s.faults[0].node == 1);
  CHECK(hb.counters().messages_refused_out_of_window == 1);
  CHECK(hb.epochs_in_memory() == 0);
  far.set_epoch(UINT64_MAX);
  CHECK(hb.HandleMessage(1, far).faults.size() == 1);
  CHECK(hb.epochs_in_memory() == 0);
  // The last epoch inside the window is accepted (and costs one epoch state).
  pb::ConsensusMessage near = far;
  near.set_epoch(2);
  HbStep s2 = hb.HandleMessage(1, near);
  CHECK(hb.epochs_in_memory() == 1);
  CHECK(hb.peers_started(2));
  // Not a valid share of anything: an invalid-coin-share fault, nothing else.
  REQUIRE(s2.faults.size() == 1);
  CHECK(s2.faults[0].kind == FaultKind::kInvalidCoinShare);
}

TEST_CASE("HoneyBadger: proposals never run ahead of the window", "[epoch][window]") {
  Cluster c(4);
  HoneyBadger& hb = c.node(0);
  for (int k = 0; k < 3; ++k) {
    REQUIRE(hb.can_propose());
    c.Propose(0, {"r"}, 1);
  }
  CHECK(!hb.can_propose());
  CHECK(hb.next_epoch_to_propose() == 3);
}

TEST_CASE("HoneyBadger: finished epochs are garbage-collected and their messages ignored",
          "[epoch][gc]") {
  Cluster c(4);
  for (int e = 0; e < 5; ++e) {
    for (NodeId i = 0; i < 4; ++i) c.Propose(i, {"e" + std::to_string(e)}, 1);
    c.Run();
  }
  for (NodeId i = 0; i < 4; ++i) {
    REQUIRE(c.outputs(i).size() == 5);
    // Every sub-instance terminated on a quiet network: nothing is kept.
    CHECK(c.node(i).epochs_in_memory() == 0);
  }
  pb::ConsensusMessage old;
  old.set_epoch(1);
  old.mutable_order_share()->set_share("late");
  const uint64_t ignored = c.node(0).counters().messages_ignored_finished;
  HbStep s = c.node(0).HandleMessage(2, old);
  CHECK(s.empty());
  CHECK(c.node(0).counters().messages_ignored_finished == ignored + 1);
}

TEST_CASE("HoneyBadger: an unparseable proposal is dropped, blaming its proposer at every node",
          "[epoch][invalid]") {
  Cluster c(4);
  // Node 3 broadcasts bytes that are not a proposal: its VALs are replaced by the stripes of
  // a well-formed broadcast of garbage, so the RBC itself delivers (validly) everywhere.
  rbc::Broadcast garbage(NetworkInfo{3, 4, 1}, 3, 2048);
  std::map<NodeId, pb::RbcMessage> vals;
  for (auto& tm : garbage.Propose("not a proposal").messages) {
    if (tm.message.has_value()) vals[tm.target.nodes.front()] = tm.message;
  }
  c.set_rewrite(3, [&](NodeId to, const pb::ConsensusMessage& m) {
    pb::ConsensusMessage out = m;
    if (m.has_acs() && m.acs().instance() == 3 && m.acs().rbc().has_value()) {
      *out.mutable_acs()->mutable_rbc() = vals[to];
    }
    return std::vector<std::pair<NodeId, pb::ConsensusMessage>>{{to, out}};
  });
  for (NodeId i = 0; i < 4; ++i) c.Propose(i, {"r" + std::to_string(i)}, 1);
  c.Run();
  const Batch& b = c.outputs(0)[0];
  const bool accepted =
      std::find(b.accepted_proposers.begin(), b.accepted_proposers.end(), 3) !=
      b.accepted_proposers.end();
  for (NodeId i = 0; i < 3; ++i) {
    REQUIRE(c.outputs(i).size() == 1);
    CHECK(SameBatch(c.outputs(i)[0], b));
    size_t invalid = 0;
    for (const Fault& f : c.faults(i)) {
      CHECK(f.node == 3);  // nobody else is ever blamed
      invalid += f.kind == FaultKind::kInvalidProposal ? 1 : 0;
    }
    CHECK(invalid == (accepted ? 1u : 0u));
    CHECK(c.node(i).counters().invalid_proposals == (accepted ? 1u : 0u));
  }
  CHECK(accepted);  // in-order delivery lets every broadcast finish before the agreements
  for (const std::string& r : b.requests) CHECK(r != "r3");
}

// Finding 1 of the replica-safety review: a replica that catches up must not forget what
// it sent for later epochs. Node 3 echoes proposer 1's value X for epoch 1, then learns
// epoch 0 from elsewhere. Moving the window with AdvanceTo keeps epoch 1: a second,
// different VAL from the (equivocating) proposer is a fault, not a new echo. A new
// instance, as catch-up used to build, would echo Y too, and correct nodes could deliver
// different values.
TEST_CASE("AdvanceTo keeps the later epochs and the votes sent there", "[epoch][advance]") {
  Config config = Cluster::TestConfig();
  aba::testing::FakeCoin coin3(42, NetworkInfo{3, 4, 1});
  aba::testing::FakeCoin coin1(42, NetworkInfo{1, 4, 1});
  HoneyBadger node(NetworkInfo{3, 4, 1}, config, &coin3);
  Config at1 = config;
  at1.first_epoch = 1;
  // Two faces of the faulty proposer 1, each proposing another value in epoch 1.
  HoneyBadger face_x(NetworkInfo{1, 4, 1}, at1, &coin1);
  HoneyBadger face_y(NetworkInfo{1, 4, 1}, at1, &coin1);
  auto val_for_3 = [](const HbStep& step) {
    for (const auto& tm : step.messages) {
      if (tm.target.Contains(3)) return tm.message;
    }
    FAIL("no message for node 3");
    return pb::ConsensusMessage();
  };
  const pb::ConsensusMessage val_x = val_for_3(face_x.ProposeExact({"x"}, 1));
  const pb::ConsensusMessage val_y = val_for_3(face_y.ProposeExact({"y"}, 1));
  REQUIRE(val_x.epoch() == 1);
  REQUIRE(val_x.SerializeAsString() != val_y.SerializeAsString());

  HbStep echo_x = node.HandleMessage(1, val_x);
  REQUIRE_FALSE(echo_x.messages.empty());
  HbStep advanced = node.AdvanceTo(1, 5, {{"r"}});
  CHECK(advanced.outputs.empty());
  CHECK(node.next_epoch_to_output() == 1);
  HbStep after = node.HandleMessage(1, val_y);
  CHECK(after.messages.empty());
  REQUIRE(after.faults.size() == 1);
  CHECK(after.faults[0].kind == FaultKind::kDuplicateValue);

  // What a rebuilt instance does: it echoes the other value.
  HoneyBadger rebuilt(NetworkInfo{3, 4, 1}, at1, &coin3);
  CHECK_FALSE(rebuilt.HandleMessage(1, val_y).messages.empty());
}

TEST_CASE("ProposeExact is deterministic and SelectProposal respects the bounds", "[epoch][advance]") {
  Config config = Cluster::TestConfig();
  aba::testing::FakeCoin coin(42, NetworkInfo{0, 4, 1});
  HoneyBadger a(NetworkInfo{0, 4, 1}, config, &coin);
  HoneyBadger b(NetworkInfo{0, 4, 1}, config, &coin);
  DeterministicRng rng(7);
  std::vector<std::string> pending;
  for (int i = 0; i < 50; ++i) pending.push_back("req" + std::to_string(i));
  const std::vector<std::string> slice = a.SelectProposal(pending, rng);
  CHECK(slice.size() == config.batch_requests_max);
  HbStep sa = a.ProposeExact(slice, 9);
  HbStep sb = b.ProposeExact(slice, 9);
  REQUIRE(sa.messages.size() == sb.messages.size());
  for (size_t i = 0; i < sa.messages.size(); ++i) {
    CHECK(sa.messages[i].message.SerializeAsString() == sb.messages[i].message.SerializeAsString());
  }
}

}  // namespace
}  // namespace belfry::consensus::epoch
