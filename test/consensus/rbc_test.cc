// Tests of consensus/rbc/broadcast.h, the erasure-coded reliable broadcast of
// HoneyBadgerBFT (Miller et al. 2016, Fig. 2; Bracha 1987; Cachin–Tessaro 2005, AVID).
//
// The properties checked are those of the paper's Theorem 2 (reliable broadcast):
//   validity  — if the proposer is correct, every correct node delivers its value;
//   agreement — no two correct nodes deliver different outputs;
//   totality  — if one correct node delivers, every correct node does.
// A small in-test network delivers the messages of every Step in an order drawn from a
// seeded DeterministicRng, until none is left; Byzantine nodes are not run, their
// messages are written by each test.
#include "consensus/rbc/broadcast.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/rng.h"
#include "consensus/internal/erasure.h"
#include "consensus/internal/merkle.h"
#include "consensus/step.h"
#include "proto/rbc.pb.h"

namespace belfry::consensus::rbc {
namespace {

using internal::Digest;
using internal::MerkleTree;
using Msg = pb::RbcMessage;

constexpr size_t kValueBytesMax = 5000;

NetworkInfo Net(uint32_t n, uint32_t f, NodeId self) { return NetworkInfo{self, n, f}; }

// Whether two nodes' outputs (or absence of one) are the same.
bool SameOutput(const std::optional<Output>& a, const std::optional<Output>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  return !a.has_value() || (a->valid == b->valid && a->value == b->value);
}

std::string DigestBytes(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::string RandomValue(DeterministicRng& rng, size_t size) {
  std::string v(size, '\0');
  rng.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(v.data()), v.size()));
  return v;
}

// ---------------------------------------------------------------------------------------
// Encodings a Byzantine node may send. The framing (u32be length, value, zero padding to
// k stripes) is written out here independently of broadcast.cc, so the "wire format"
// test below pins it.

struct Encoding {
  std::vector<Bytes> stripes;
  MerkleTree tree;
};

Encoding FromStripes(std::vector<Bytes> stripes) {
  absl::StatusOr<MerkleTree> tree = MerkleTree::Build(stripes);
  REQUIRE(tree.ok());
  return Encoding{std::move(stripes), *std::move(tree)};
}

Bytes Frame(const std::string& value, uint32_t length_prefix) {
  ByteWriter w;
  w.U32(length_prefix).Raw(value);
  return w.Take();
}

std::vector<Bytes> EncodeData(const Bytes& data, uint32_t n, uint32_t f) {
  return internal::ErasureCoder::Create(n - 2 * f, n)->Encode(data);
}

// What a correct proposer sends for `value`.
Encoding Canonical(const std::string& value, uint32_t n, uint32_t f) {
  return FromStripes(EncodeData(Frame(value, static_cast<uint32_t>(value.size())), n, f));
}

Msg::StripeProof Proof(const Encoding& e, NodeId index) {
  Msg::StripeProof p;
  p.set_root(DigestBytes(e.tree.root()));
  for (const Digest& d : e.tree.Branch(index)) {
    p.add_branch(DigestBytes(d));
  }
  p.set_stripe(std::string(AsStringView(e.stripes[index])));
  return p;
}

Msg ValueMsg(const Encoding& e, NodeId to) {
  Msg m;
  *m.mutable_value() = Proof(e, to);
  return m;
}

Msg EchoMsg(const Encoding& e, NodeId from) {
  Msg m;
  *m.mutable_echo() = Proof(e, from);
  return m;
}

Msg ReadyMsg(const Digest& root) {
  Msg m;
  m.mutable_ready()->set_root(DigestBytes(root));
  return m;
}

// ---------------------------------------------------------------------------------------
// The network harness.

struct ObservedFault {
  NodeId observer;
  Fault fault;
};

class Network {
 public:
  Network(uint32_t n, uint32_t f, NodeId proposer, std::set<NodeId> faulty, uint64_t seed,
          size_t value_bytes_max = kValueBytesMax)
      : n_(n), f_(f), proposer_(proposer), faulty_(std::move(faulty)), rng_(seed) {
    REQUIRE(faulty_.size() <= f);
    nodes_.resize(n);
    outputs_.resize(n);
    readys_sent_.resize(n);
    for (NodeId i = 0; i < n; ++i) {
      if (correct(i)) {
        nodes_[i].emplace(Net(n, f, i), proposer, value_bytes_max);
      }
    }
  }

  uint32_t n() const { return n_; }
  uint32_t f() const { return f_; }
  bool correct(NodeId id) const { return faulty_.count(id) == 0; }

  // Every message is handed over twice (the network may duplicate).
  void set_duplicate(bool duplicate) { duplicate_ = duplicate; }

  void Propose(std::string value) {
    REQUIRE(correct(proposer_));
    Absorb(proposer_, nodes_[proposer_]->Propose(std::move(value)));
  }

  // A message from a faulty node; messages to faulty nodes are dropped.
  void Inject(NodeId from, NodeId to, Msg msg) {
    REQUIRE_FALSE(correct(from));
    Enqueue(from, to, std::move(msg));
  }
  void InjectToAll(NodeId from, const Msg& msg) {
    for (NodeId to = 0; to < n_; ++to) {
      if (to != from) {
        Inject(from, to, msg);
      }
    }
  }

  // Delivers messages in a seeded random order until none is left.
  void Run() {
    size_t delivered = 0;
    while (!queue_.empty()) {
      REQUIRE(++delivered < 1'000'000);
      const size_t pick = rng_.Uniform(queue_.size());
      std::swap(queue_[pick], queue_.back());
      Envelope e = std::move(queue_.back());
      queue_.pop_back();
      Trace(e);
      Absorb(e.to, nodes_[e.to]->HandleMessage(e.from, e.msg));
    }
  }

  const std::optional<Output>& output(NodeId id) const { return outputs_[id]; }
  const std::optional<std::string>& ready_sent(NodeId id) const { return readys_sent_[id]; }
  const std::vector<ObservedFault>& faults() const { return faults_; }
  const Broadcast& node(NodeId id) const { return *nodes_[id]; }
  uint64_t trace_hash() const { return trace_hash_; }

  std::vector<NodeId> correct_nodes() const {
    std::vector<NodeId> out;
    for (NodeId i = 0; i < n_; ++i) {
      if (correct(i)) {
        out.push_back(i);
      }
    }
    return out;
  }

 private:
  struct Envelope {
    NodeId from;
    NodeId to;
    Msg msg;
  };

  void Enqueue(NodeId from, NodeId to, Msg msg) {
    REQUIRE(from != to);
    if (!correct(to)) {
      return;
    }
    if (duplicate_) {
      queue_.push_back(Envelope{from, to, msg});
    }
    queue_.push_back(Envelope{from, to, std::move(msg)});
  }

  void Absorb(NodeId from, RbcStep step) {
    for (TargetedMessage<Msg>& tm : step.messages) {
      if (tm.message.has_ready()) {
        // Bracha: a correct node sends READY once, for one root.
        REQUIRE_FALSE(readys_sent_[from].has_value());
        readys_sent_[from] = tm.message.ready().root();
      }
      for (NodeId to = 0; to < n_; ++to) {
        if (to != from && tm.target.Contains(to)) {
          Enqueue(from, to, tm.message);
        }
      }
    }
    for (Output& o : step.outputs) {
      REQUIRE_FALSE(outputs_[from].has_value());  // at most one output per instance
      REQUIRE(nodes_[from]->delivered());
      REQUIRE(nodes_[from]->terminated());
      outputs_[from] = std::move(o);
    }
    for (Fault& fault : step.faults) {
      faults_.push_back(ObservedFault{from, std::move(fault)});
    }
  }

  // FNV-1a over the delivery order, to compare runs of the same seed.
  void Trace(const Envelope& e) {
    const std::string bytes =
        std::to_string(e.from) + ">" + std::to_string(e.to) + ":" + e.msg.SerializeAsString();
    for (char c : bytes) {
      trace_hash_ = (trace_hash_ ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
    }
  }

  uint32_t n_;
  uint32_t f_;
  NodeId proposer_;
  std::set<NodeId> faulty_;
  DeterministicRng rng_;
  bool duplicate_ = false;
  std::vector<std::optional<Broadcast>> nodes_;
  std::vector<Envelope> queue_;
  std::vector<std::optional<Output>> outputs_;
  std::vector<std::optional<std::string>> readys_sent_;
  std::vector<ObservedFault> faults_;
  uint64_t trace_hash_ = 0xcbf29ce484222325ULL;
};

struct Size {
  uint32_t n;
  uint32_t f;
};
constexpr Size kSizes[] = {{4, 1}, {7, 2}, {10, 3}};

// `count` distinct nodes other than `except`, drawn from the rng.
std::set<NodeId> PickNodes(DeterministicRng& rng, uint32_t n, uint32_t count, NodeId except) {
  std::set<NodeId> out;
  while (out.size() < count) {
    const NodeId id = static_cast<NodeId>(rng.Uniform(n));
    if (id != except) {
      out.insert(id);
    }
  }
  return out;
}

void RequireAllCorrectDeliver(const Network& net, const Output& expected) {
  for (NodeId i : net.correct_nodes()) {
    INFO("node " << i);
    REQUIRE(net.output(i).has_value());
    REQUIRE(SameOutput(net.output(i), expected));
  }
}

// Agreement and totality: every correct node delivered the same output, or none did.
void RequireAgreementAndTotality(const Network& net) {
  const std::vector<NodeId> correct = net.correct_nodes();
  for (NodeId i : correct) {
    INFO("node " << i << " vs node " << correct.front());
    REQUIRE(SameOutput(net.output(i), net.output(correct.front())));
  }
}

// Exactly one fault, (culprit, kind), reported by each node in `observers`, and no other.
void RequireFaultsExactly(const Network& net, const std::vector<NodeId>& observers, NodeId culprit,
                          FaultKind kind) {
  std::vector<NodeId> seen;
  for (const ObservedFault& of : net.faults()) {
    INFO("observer " << of.observer << " blamed " << of.fault.node << " for "
                     << FaultKindName(of.fault.kind) << ": " << of.fault.detail);
    REQUIRE(of.fault.node == culprit);
    REQUIRE(of.fault.kind == kind);
    seen.push_back(of.observer);
  }
  std::sort(seen.begin(), seen.end());
  std::vector<NodeId> expected = observers;
  std::sort(expected.begin(), expected.end());
  REQUIRE(seen == expected);
}

void RequireNoFaults(const Network& net) { RequireFaultsExactly(net, {}, 0, FaultKind{}); }

// ---------------------------------------------------------------------------------------
// Correct runs.

TEST_CASE("Validity: every correct node delivers a correct proposer's value", "[rbc]") {
  const size_t sizes[] = {0, 1, 2, 3, 5, 7, 31, 101, 1001, kValueBytesMax - 1, kValueBytesMax};
  for (const Size s : kSizes) {
    for (size_t size : sizes) {
      for (uint64_t seed = 0; seed < 3; ++seed) {
        INFO("N=" << s.n << " size=" << size << " seed=" << seed);
        DeterministicRng rng(seed * 1000 + size);
        const std::string value = RandomValue(rng, size);
        const NodeId proposer = static_cast<NodeId>(seed % s.n);
        Network net(s.n, s.f, proposer, {}, seed);
        net.Propose(value);
        net.Run();
        RequireAllCorrectDeliver(net, Output{true, value});
        RequireNoFaults(net);
      }
    }
  }
}

TEST_CASE("Validity with f silent nodes", "[rbc]") {
  for (const Size s : kSizes) {
    for (uint64_t seed = 0; seed < 10; ++seed) {
      INFO("N=" << s.n << " seed=" << seed);
      DeterministicRng rng(seed);
      const NodeId proposer = static_cast<NodeId>(rng.Uniform(s.n));
      const std::string value = RandomValue(rng, rng.Uniform(kValueBytesMax + 1));
      Network net(s.n, s.f, proposer, PickNodes(rng, s.n, s.f, proposer), seed);
      net.Propose(value);
      net.Run();
      RequireAllCorrectDeliver(net, Output{true, value});
      RequireNoFaults(net);
    }
  }
}

TEST_CASE("Duplicated messages change nothing", "[rbc]") {
  for (const Size s : kSizes) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      INFO("N=" << s.n << " seed=" << seed);
      Network net(s.n, s.f, 0, {}, seed);
      net.set_duplicate(true);
      net.Propose("duplicated " + std::to_string(seed));
      net.Run();
      RequireAllCorrectDeliver(net, Output{true, "duplicated " + std::to_string(seed)});
      RequireNoFaults(net);
    }
  }
}

TEST_CASE("A single node (N=1, f=0) delivers its own value at once", "[rbc]") {
  Broadcast node(Net(1, 0, 0), 0, 100);
  RbcStep step = node.Propose("alone");
  // Its ECHO and READY go to "all other nodes": there are none.
  for (const TargetedMessage<Msg>& tm : step.messages) {
    CHECK(tm.target.kind == Target::Kind::kAll);
  }
  REQUIRE(step.outputs.size() == 1);
  CHECK(SameOutput(step.outputs[0], Output{true, "alone"}));
  CHECK(node.terminated());
}

TEST_CASE("The proposer sends the canonical encoding (wire format)", "[rbc]") {
  // VAL_j = (root, branch_j, stripe_j) of the Merkle tree over RS(u32be(|v|) || v || 0*).
  const std::string value = "belfry rings the same hour to everyone";
  Broadcast proposer(Net(7, 2, 3), 3, kValueBytesMax);
  RbcStep step = proposer.Propose(value);
  const Encoding expected = Canonical(value, 7, 2);
  // VAL to each other node in node order, then one ECHO to all.
  REQUIRE(step.messages.size() == 7);
  size_t vals = 0;
  for (NodeId j = 0; j < 7; ++j) {
    if (j == 3) {
      continue;
    }
    const TargetedMessage<Msg>& tm = step.messages[vals++];
    REQUIRE(tm.target.kind == Target::Kind::kNodes);
    REQUIRE(tm.target.nodes == std::vector<NodeId>{j});
    REQUIRE(tm.message.SerializeAsString() == ValueMsg(expected, j).SerializeAsString());
  }
  REQUIRE(step.messages[6].target.kind == Target::Kind::kAll);
  REQUIRE(step.messages[6].message.SerializeAsString() == EchoMsg(expected, 3).SerializeAsString());
}

TEST_CASE("A run is fixed by its seed (same seed, same trace)", "[rbc]") {
  for (const Size s : kSizes) {
    const auto run = [&](uint64_t seed) {
      Network net(s.n, s.f, 1, {}, seed);
      net.Propose("determinism");
      net.Run();
      RequireAllCorrectDeliver(net, Output{true, "determinism"});
      return net.trace_hash();
    };
    CHECK(run(42) == run(42));
    CHECK(run(42) != run(43));
  }
}

// ---------------------------------------------------------------------------------------
// Thresholds, on one node fed by hand (N=4, f=1: READY at 3 ECHOs or 2 READYs, output at
// 3 READYs and 2 ECHOs).

TEST_CASE("READY after N-f ECHOs, not before", "[rbc]") {
  const Encoding e = Canonical("threshold", 4, 1);
  Broadcast node(Net(4, 1, 1), 0, kValueBytesMax);
  CHECK(node.HandleMessage(0, EchoMsg(e, 0)).empty());
  CHECK(node.HandleMessage(2, EchoMsg(e, 2)).empty());
  RbcStep step = node.HandleMessage(3, EchoMsg(e, 3));
  REQUIRE(step.messages.size() == 1);
  CHECK(step.messages[0].target.kind == Target::Kind::kAll);
  CHECK(step.messages[0].message.SerializeAsString() ==
        ReadyMsg(e.tree.root()).SerializeAsString());
  CHECK(step.outputs.empty());
  CHECK(step.faults.empty());
}

TEST_CASE("READY amplification at f+1 READYs, not f", "[rbc]") {
  const Encoding e = Canonical("amplify", 4, 1);
  Broadcast node(Net(4, 1, 1), 0, kValueBytesMax);
  CHECK(node.HandleMessage(2, ReadyMsg(e.tree.root())).empty());
  RbcStep step = node.HandleMessage(3, ReadyMsg(e.tree.root()));
  REQUIRE(step.messages.size() == 1);
  CHECK(step.messages[0].message.has_ready());
  CHECK(step.outputs.empty());
}

TEST_CASE("Output waits for N-2f ECHOs even after 2f+1 READYs", "[rbc]") {
  const Encoding e = Canonical("wait for stripes", 4, 1);
  Broadcast node(Net(4, 1, 1), 0, kValueBytesMax);
  CHECK(node.HandleMessage(0, ReadyMsg(e.tree.root())).empty());
  RbcStep amplified = node.HandleMessage(2, ReadyMsg(e.tree.root()));
  CHECK(amplified.messages.size() == 1);
  CHECK(node.HandleMessage(3, ReadyMsg(e.tree.root())).empty());
  CHECK_FALSE(node.delivered());
  CHECK(node.HandleMessage(2, EchoMsg(e, 2)).empty());
  RbcStep step = node.HandleMessage(3, EchoMsg(e, 3));
  REQUIRE(step.outputs.size() == 1);
  CHECK(SameOutput(step.outputs[0], Output{true, "wait for stripes"}));
  CHECK(step.messages.empty());
  CHECK(node.delivered());
  CHECK(node.terminated());
  CHECK(node.proposer() == 0);
  // After delivery a VAL no longer makes this node echo; nothing more is output.
  RbcStep late = node.HandleMessage(0, ValueMsg(e, 1));
  CHECK(late.empty());
}

TEST_CASE("Identical duplicates of VAL, ECHO and READY are ignored", "[rbc]") {
  const Encoding e = Canonical("once", 4, 1);
  Broadcast node(Net(4, 1, 1), 0, kValueBytesMax);
  RbcStep first = node.HandleMessage(0, ValueMsg(e, 1));
  CHECK(first.messages.size() == 1);  // its ECHO
  CHECK(node.HandleMessage(0, ValueMsg(e, 1)).empty());
  CHECK(node.HandleMessage(2, EchoMsg(e, 2)).empty());
  CHECK(node.HandleMessage(2, EchoMsg(e, 2)).empty());
  CHECK(node.HandleMessage(2, ReadyMsg(e.tree.root())).empty());
  CHECK(node.HandleMessage(2, ReadyMsg(e.tree.root())).empty());
  // A duplicate neither counts twice: one ECHO each from 1 and 2 is still below N-f = 3.
  CHECK_FALSE(node.delivered());
}

// ---------------------------------------------------------------------------------------
// Malformed messages: each is one kMalformedMessage fault naming the sender, and nothing
// else happens.

TEST_CASE("Malformed fields are faults naming the sender", "[rbc]") {
  const Encoding e = Canonical("shape", 7, 2);  // depth 3
  struct Case {
    const char* name;
    Msg msg;
  };
  std::vector<Case> cases;
  cases.push_back({"no kind", Msg{}});
  for (const bool is_value : {true, false}) {
    const Msg good = is_value ? ValueMsg(e, 1) : EchoMsg(e, 2);
    auto proof = [&](Msg& m) { return is_value ? m.mutable_value() : m.mutable_echo(); };
    Msg m = good;
    proof(m)->set_root(std::string(31, 'r'));
    cases.push_back({"root of 31 bytes", m});
    m = good;
    proof(m)->set_root(std::string(33, 'r'));
    cases.push_back({"root of 33 bytes", m});
    m = good;
    proof(m)->mutable_branch()->RemoveLast();
    cases.push_back({"branch too short", m});
    m = good;
    proof(m)->add_branch(std::string(32, 'b'));
    cases.push_back({"branch too long", m});
    m = good;
    proof(m)->set_branch(1, std::string(31, 'b'));
    cases.push_back({"branch hash of 31 bytes", m});
    m = good;
    proof(m)->clear_stripe();
    cases.push_back({"empty stripe", m});
  }
  Msg ready = ReadyMsg(e.tree.root());
  ready.mutable_ready()->clear_root();
  cases.push_back({"READY without root", ready});
  ready.mutable_ready()->set_root(std::string(64, 'r'));
  cases.push_back({"READY root of 64 bytes", ready});

  for (const Case& c : cases) {
    INFO(c.name);
    Broadcast node(Net(7, 2, 1), 0, kValueBytesMax);
    const NodeId from = c.msg.has_echo() ? 2 : 0;
    RbcStep step = node.HandleMessage(from, c.msg);
    REQUIRE(step.faults.size() == 1);
    CHECK(step.faults[0].node == from);
    CHECK(step.faults[0].kind == FaultKind::kMalformedMessage);
    CHECK(step.messages.empty());
    CHECK(step.outputs.empty());
  }
}

TEST_CASE("Stripes longer than value_bytes_max allows are refused", "[rbc]") {
  // value_bytes_max = 100, k = 2: an honest stripe is at most ceil(104 / 2) = 52 bytes.
  const auto stripes_of = [](size_t bytes) {
    return FromStripes(std::vector<Bytes>(4, Bytes(bytes, 7)));
  };
  const Encoding largest = stripes_of(52);
  const Encoding oversized = stripes_of(53);
  {
    Broadcast node(Net(4, 1, 1), 0, 100);
    RbcStep step = node.HandleMessage(2, EchoMsg(oversized, 2));
    REQUIRE(step.faults.size() == 1);
    CHECK(step.faults[0].node == 2);
    CHECK(step.faults[0].kind == FaultKind::kMalformedMessage);
    CHECK(node.HandleMessage(2, EchoMsg(largest, 2)).empty());
  }
  {
    Broadcast node(Net(4, 1, 1), 0, 100);
    RbcStep step = node.HandleMessage(0, ValueMsg(oversized, 1));
    REQUIRE(step.faults.size() == 1);
    CHECK(step.faults[0].node == 0);
    CHECK(step.faults[0].kind == FaultKind::kMalformedMessage);
    CHECK(step.messages.empty());  // no ECHO for a refused VAL
  }
  // In a network: a proposer whose stripes are all oversized gets nothing delivered.
  for (const Size s : kSizes) {
    const uint32_t k = s.n - 2 * s.f;
    const size_t too_long = (100 + 4 + k - 1) / k + 1;
    const Encoding e = FromStripes(std::vector<Bytes>(s.n, Bytes(too_long, 1)));
    Network net(s.n, s.f, 0, {0}, 9, 100);
    for (NodeId j = 1; j < s.n; ++j) {
      net.Inject(0, j, ValueMsg(e, j));
    }
    net.InjectToAll(0, EchoMsg(e, 0));
    net.Run();
    for (NodeId j = 1; j < s.n; ++j) {
      CHECK_FALSE(net.output(j).has_value());
      CHECK_FALSE(net.ready_sent(j).has_value());
    }
    // Each correct node refuses the VAL and the ECHO: two faults each.
    CHECK(net.faults().size() == 2 * (s.n - 1));
    for (const ObservedFault& of : net.faults()) {
      CHECK(of.fault.node == 0);
      CHECK(of.fault.kind == FaultKind::kMalformedMessage);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Byzantine peers.

TEST_CASE("A VAL from a non-proposer is a kUnexpectedSender fault", "[rbc]") {
  for (const Size s : kSizes) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      INFO("N=" << s.n << " seed=" << seed);
      const NodeId byz = s.n - 1;
      const Encoding fake = Canonical("forged value", s.n, s.f);
      Network net(s.n, s.f, 0, {byz}, seed);
      for (NodeId j = 0; j < byz; ++j) {
        net.Inject(byz, j, ValueMsg(fake, j));  // with valid branches under its own root
      }
      net.Propose("real value");
      net.Run();
      RequireAllCorrectDeliver(net, Output{true, "real value"});
      RequireFaultsExactly(net, net.correct_nodes(), byz, FaultKind::kUnexpectedSender);
    }
  }
}

TEST_CASE("An ECHO with a bad Merkle branch is a kInvalidMerkleProof fault", "[rbc]") {
  for (const Size s : kSizes) {
    for (const bool wrong_index : {false, true}) {
      for (uint64_t seed = 0; seed < 5; ++seed) {
        INFO("N=" << s.n << " wrong_index=" << wrong_index << " seed=" << seed);
        const NodeId byz = 1;
        const std::string value = "value " + std::to_string(seed);
        const Encoding real = Canonical(value, s.n, s.f);
        Msg bad;
        if (wrong_index) {
          // A genuine stripe and branch, but another node's: the index is bound.
          bad = EchoMsg(real, 0);
        } else {
          bad = EchoMsg(real, byz);
          std::string sibling = bad.echo().branch(0);
          sibling[0] ^= 1;
          bad.mutable_echo()->set_branch(0, sibling);
        }
        Network net(s.n, s.f, 0, {byz}, seed);
        net.InjectToAll(byz, bad);
        net.Propose(value);
        net.Run();
        RequireAllCorrectDeliver(net, Output{true, value});
        RequireFaultsExactly(net, net.correct_nodes(), byz, FaultKind::kInvalidMerkleProof);
      }
    }
  }
}

TEST_CASE("A VAL with a bad Merkle branch is refused; the others still deliver", "[rbc]") {
  for (const Size s : kSizes) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      INFO("N=" << s.n << " seed=" << seed);
      const std::string value = "almost honest";
      const Encoding e = Canonical(value, s.n, s.f);
      Network net(s.n, s.f, 0, {0}, seed);
      Msg bad = ValueMsg(e, 1);
      std::string stripe = bad.value().stripe();
      stripe[0] ^= 1;
      bad.mutable_value()->set_stripe(stripe);
      net.Inject(0, 1, bad);
      for (NodeId j = 2; j < s.n; ++j) {
        net.Inject(0, j, ValueMsg(e, j));
      }
      net.InjectToAll(0, EchoMsg(e, 0));
      net.InjectToAll(0, ReadyMsg(e.tree.root()));
      net.Run();
      RequireAllCorrectDeliver(net, Output{true, value});
      RequireFaultsExactly(net, {1}, 0, FaultKind::kInvalidMerkleProof);
    }
  }
}

TEST_CASE("Conflicting ECHOs from one sender are a kConflictingEcho fault", "[rbc]") {
  for (const Size s : kSizes) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      INFO("N=" << s.n << " seed=" << seed);
      const NodeId byz = 2;
      const Encoding real = Canonical("the value", s.n, s.f);
      const Encoding fake = Canonical("another value", s.n, s.f);
      Network net(s.n, s.f, 0, {byz}, seed);
      net.InjectToAll(byz, EchoMsg(real, byz));
      net.InjectToAll(byz, EchoMsg(fake, byz));
      net.Propose("the value");
      net.Run();
      RequireAllCorrectDeliver(net, Output{true, "the value"});
      RequireFaultsExactly(net, net.correct_nodes(), byz, FaultKind::kConflictingEcho);
    }
  }
}

TEST_CASE("Conflicting READYs from one sender are a kConflictingReady fault", "[rbc]") {
  for (const Size s : kSizes) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      INFO("N=" << s.n << " seed=" << seed);
      const NodeId byz = 2;
      const Encoding real = Canonical("the value", s.n, s.f);
      const Encoding fake = Canonical("another value", s.n, s.f);
      Network net(s.n, s.f, 0, {byz}, seed);
      net.InjectToAll(byz, ReadyMsg(real.tree.root()));
      net.InjectToAll(byz, ReadyMsg(fake.tree.root()));
      net.Propose("the value");
      net.Run();
      RequireAllCorrectDeliver(net, Output{true, "the value"});
      RequireFaultsExactly(net, net.correct_nodes(), byz, FaultKind::kConflictingReady);
    }
  }
}

TEST_CASE("A second, different VAL is a kDuplicateValue fault; only the first counts", "[rbc]") {
  {
    const Encoding a = Canonical("first", 4, 1);
    const Encoding b = Canonical("second", 4, 1);
    Broadcast node(Net(4, 1, 1), 0, kValueBytesMax);
    RbcStep first = node.HandleMessage(0, ValueMsg(a, 1));
    REQUIRE(first.messages.size() == 1);
    RbcStep second = node.HandleMessage(0, ValueMsg(b, 1));
    REQUIRE(second.faults.size() == 1);
    CHECK(second.faults[0].node == 0);
    CHECK(second.faults[0].kind == FaultKind::kDuplicateValue);
    CHECK(second.messages.empty());  // no second ECHO
  }
  for (const Size s : kSizes) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      INFO("N=" << s.n << " seed=" << seed);
      const Encoding a = Canonical("first", s.n, s.f);
      const Encoding b = Canonical("second", s.n, s.f);
      Network net(s.n, s.f, 0, {0}, seed);
      for (NodeId j = 1; j < s.n; ++j) {
        net.Inject(0, j, ValueMsg(a, j));
      }
      net.Inject(0, 1, ValueMsg(b, 1));
      net.InjectToAll(0, EchoMsg(a, 0));
      net.Run();
      // Node 1 may have echoed b if it saw b first; a still gathers N-f ECHOs.
      RequireAllCorrectDeliver(net, Output{true, "first"});
      RequireFaultsExactly(net, {1}, 0, FaultKind::kDuplicateValue);
    }
  }
}

TEST_CASE("ECHOs and READYs for a root never proposed deliver nothing", "[rbc]") {
  for (const Size s : kSizes) {
    for (const bool proposer_silent : {false, true}) {
      for (uint64_t seed = 0; seed < 5; ++seed) {
        INFO("N=" << s.n << " proposer_silent=" << proposer_silent << " seed=" << seed);
        DeterministicRng rng(seed);
        // f Byzantine nodes; with a silent proposer, it is one of them.
        std::set<NodeId> byz = PickNodes(rng, s.n, proposer_silent ? s.f - 1 : s.f, 0);
        if (proposer_silent) {
          byz.insert(0);
        }
        const Encoding fake = Canonical("never proposed", s.n, s.f);
        Network net(s.n, s.f, 0, byz, seed);
        for (NodeId b : byz) {
          net.InjectToAll(b, EchoMsg(fake, b));
          net.InjectToAll(b, ReadyMsg(fake.tree.root()));
        }
        if (!proposer_silent) {
          net.Propose("the real one");
        }
        net.Run();
        for (NodeId i : net.correct_nodes()) {
          // No correct node vouches for the fake root: f READYs never amplify.
          CHECK(net.ready_sent(i) != std::optional<std::string>(DigestBytes(fake.tree.root())));
        }
        if (proposer_silent) {
          for (NodeId i : net.correct_nodes()) {
            CHECK_FALSE(net.output(i).has_value());
            CHECK_FALSE(net.ready_sent(i).has_value());
          }
        } else {
          RequireAllCorrectDeliver(net, Output{true, "the real one"});
        }
        RequireNoFaults(net);
      }
    }
  }
}

TEST_CASE("Equivocating proposer: correct nodes deliver one and the same value, or nothing",
          "[rbc]") {
  // The proposer and its f-1 accomplices tell each correct node a different story: VAL,
  // ECHO and READY of encoding A to some, of encoding B to others, nothing to the rest.
  // No single node can see the equivocation (each receives one consistent message per
  // sender), so no fault is expected; agreement and totality must hold whatever happens.
  int delivered_runs = 0;
  int silent_runs = 0;
  for (const Size s : kSizes) {
    for (uint64_t seed = 0; seed < 40; ++seed) {
      INFO("N=" << s.n << " seed=" << seed);
      DeterministicRng rng(seed);
      std::set<NodeId> byz = PickNodes(rng, s.n, s.f - 1, 0);
      byz.insert(0);
      const Encoding a = Canonical("story A", s.n, s.f);
      const Encoding b = Canonical("story B", s.n, s.f);
      Network net(s.n, s.f, 0, byz, seed);
      // Each correct node is told A, B, or (by a proposer that withholds) nothing.
      std::vector<const Encoding*> told(s.n, nullptr);
      for (NodeId j = 0; j < s.n; ++j) {
        const uint64_t story = rng.Uniform(3);
        told[j] = story == 0 ? &a : story == 1 ? &b : nullptr;
      }
      for (NodeId j = 0; j < s.n; ++j) {
        if (!net.correct(j) || told[j] == nullptr) {
          continue;
        }
        net.Inject(0, j, ValueMsg(*told[j], j));
        for (NodeId z : byz) {
          // Accomplices echo the story each correct node was told; some READY early.
          net.Inject(z, j, EchoMsg(*told[j], z));
          if (rng.Uniform(2) == 0) {
            net.Inject(z, j, ReadyMsg(told[j]->tree.root()));
          }
        }
      }
      net.Run();
      RequireAgreementAndTotality(net);
      const std::optional<Output>& out = net.output(net.correct_nodes().front());
      if (out.has_value()) {
        CHECK(out->valid);
        CHECK((out->value == "story A" || out->value == "story B"));
        ++delivered_runs;
      } else {
        ++silent_runs;
      }
      RequireNoFaults(net);
    }
  }
  // The schedules cover both outcomes, so both branches above were exercised.
  CHECK(delivered_runs > 0);
  CHECK(silent_runs > 0);
}

// Stripes of one Byzantine proposer that are not one value's canonical encoding.
enum class BadEncoding {
  kCorruptParity,     // one parity stripe altered
  kCorruptData,       // one data stripe altered
  kNonZeroPadding,    // a true codeword, but of a frame with non-zero padding
  kLengthTooLarge,    // the length prefix exceeds value_bytes_max
  kLengthBeyondData,  // the length prefix exceeds the decoded bytes
  kUnequalStripes,    // one stripe a byte longer than the rest
  kRandomStripes,     // no structure at all
  kNoLengthPrefix,    // one-byte stripes: k bytes of data, too few for a length prefix
};

std::vector<Bytes> BadStripes(BadEncoding kind, uint32_t n, uint32_t f, DeterministicRng& rng) {
  const uint32_t k = n - 2 * f;
  const std::string value = RandomValue(rng, 40 + rng.Uniform(40));
  std::vector<Bytes> stripes = EncodeData(Frame(value, static_cast<uint32_t>(value.size())), n, f);
  switch (kind) {
    case BadEncoding::kCorruptParity:
      stripes[n - 1][rng.Uniform(stripes[n - 1].size())] ^= 0x5a;
      break;
    case BadEncoding::kCorruptData:
      stripes[0][rng.Uniform(stripes[0].size())] ^= 0x5a;
      break;
    case BadEncoding::kNonZeroPadding: {
      Bytes data = Frame(value, static_cast<uint32_t>(value.size()));
      // Grow to a multiple of k plus a full extra row, so there is padding to fill.
      data.resize((data.size() / k + 2) * k, 0);
      data.back() = 1;
      stripes = EncodeData(data, n, f);
      break;
    }
    case BadEncoding::kLengthTooLarge:
      stripes = EncodeData(Frame(value, kValueBytesMax + 1), n, f);
      break;
    case BadEncoding::kLengthBeyondData:
      stripes = EncodeData(Frame(value, static_cast<uint32_t>(value.size() + 4 * k)), n, f);
      break;
    case BadEncoding::kUnequalStripes:
      stripes[rng.Uniform(n)].push_back(0);
      break;
    case BadEncoding::kRandomStripes:
      for (Bytes& s : stripes) {
        rng.Fill(s);
      }
      break;
    case BadEncoding::kNoLengthPrefix:
      // For N=4 and 7 (k = 2, 3) no prefix fits; for N=10 (k = 4) it reads as 0x09000000,
      // far above value_bytes_max.
      stripes = EncodeData(Bytes(1, 9), n, f);
      break;
  }
  return stripes;
}

TEST_CASE("A proposer that encodes inconsistently gets valid=false at every correct node",
          "[rbc]") {
  // HoneyBadgerBFT Fig. 2: decode, re-encode, and compare Merkle roots; the verdict is the
  // same at every correct node whichever N-2f stripes it happened to decode from.
  const BadEncoding kinds[] = {BadEncoding::kCorruptParity,    BadEncoding::kCorruptData,
                               BadEncoding::kNonZeroPadding,   BadEncoding::kLengthTooLarge,
                               BadEncoding::kLengthBeyondData, BadEncoding::kUnequalStripes,
                               BadEncoding::kRandomStripes,    BadEncoding::kNoLengthPrefix};
  for (const Size s : kSizes) {
    for (const BadEncoding kind : kinds) {
      for (uint64_t seed = 0; seed < 6; ++seed) {
        INFO("N=" << s.n << " kind=" << static_cast<int>(kind) << " seed=" << seed);
        DeterministicRng rng(seed);
        const Encoding e = FromStripes(BadStripes(kind, s.n, s.f, rng));
        Network net(s.n, s.f, 0, {0}, seed);
        for (NodeId j = 1; j < s.n; ++j) {
          net.Inject(0, j, ValueMsg(e, j));
        }
        net.InjectToAll(0, EchoMsg(e, 0));
        net.Run();
        RequireAllCorrectDeliver(net, Output{false, ""});
        RequireFaultsExactly(net, net.correct_nodes(), 0, FaultKind::kInvalidEncoding);
      }
    }
  }
}

}  // namespace
}  // namespace belfry::consensus::rbc
