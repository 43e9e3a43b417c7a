// consensus/rbc/broadcast.cc — erasure-coded reliable broadcast.
//
// How it works. This is the RBC of HoneyBadgerBFT (Miller, Xia, Croman, Shi, Song 2016,
// "The Honey Badger of BFT Protocols", Figure 2): Bracha's echo/ready broadcast, in which
// the value travels as the erasure-coded, Merkle-committed stripes of Cachin and Tessaro's
// asynchronous verifiable information dispersal (AVID, 2005). With k = N−2f:
//
//   1. The proposer frames its value v as u32be(|v|) || v, cuts that into k data stripes
//      (zero-padded to equal size), Reed–Solomon encodes them into N stripes, commits to all
//      N with one Merkle root, and sends VAL(root, branch_j, stripe_j) to each node j.
//   2. On the first VAL from the proposer whose branch proves stripe i (i = own index)
//      under its root, node i sends ECHO(root, branch_i, stripe_i) to all.
//   3. On N−f ECHOs for one root (each proved at its sender's index), or on f+1 READYs for
//      it, a node sends READY(root) to all, once.
//   4. On 2f+1 READYs and k ECHOs for one root, a node decodes k stripes, re-encodes the
//      value and recomputes the root. A match delivers {valid, v}; a mismatch delivers
//      {invalid} and blames the proposer (kInvalidEncoding).
//
// Why it works. Two correct nodes never send READY for different roots: N−f ECHOs for
// each would overlap in N−2f >= f+1 senders, one of them correct, and a correct node
// echoes once; a READY by amplification follows f+1 READYs, so at least one correct one.
// A node that delivers saw 2f+1 READYs, f+1 of them correct and sent to all, so every
// correct node amplifies and eventually holds 2f+1 READYs too; and the first correct READY
// followed N−f ECHOs, at least k of them from correct nodes that sent them to all, so every
// correct node also gets k ECHOs (no node needs to echo after it delivered). Whether the
// re-encoding matches is the same at every correct node whichever k stripes it used: the
// branches pin every stripe to the root, and if the value one node decoded re-encodes to
// that root, every stripe under it belongs to that value's encoding, so every k of them
// decode to it; if it does not, no k of them decode to a value that does.
//
// Boundedness: at most one ECHO and one READY per sender is stored (a second, different
// one is a fault and is dropped; an identical one is ignored), and stripes longer than
// ceil((value_bytes_max + 4) / k), the most an honest proposer can produce, are refused
// before any hashing. A node's own VAL, ECHO and READY are recorded directly, never sent
// to itself (Target::All means every other node). Messages keep being checked after
// delivery, so misbehaviour is still reported, but nothing more is sent or delivered.
#include "consensus/rbc/broadcast.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/check.h"
#include "consensus/internal/erasure.h"
#include "consensus/internal/merkle.h"

namespace belfry::consensus::rbc {
namespace {

using internal::Digest;

// The frame around a value before it is cut into stripes: its length as u32 big-endian.
constexpr size_t kLengthPrefixBytes = 4;

// StripeMsg: a VAL or ECHO whose shape has been checked (digests of the right size, a
// branch of the right depth, a stripe within bounds). Its branch may still be forged.
struct StripeMsg {
  Digest root{};
  std::vector<Digest> branch;
  std::string stripe;

  bool operator==(const StripeMsg&) const = default;
};

std::string DigestBytes(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

absl::StatusOr<Digest> ParseDigest(const std::string& bytes, const char* what) {
  if (bytes.size() != internal::kDigestBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", bytes.size(), " bytes, not ", internal::kDigestBytes));
  }
  Digest d;
  std::memcpy(d.data(), bytes.data(), d.size());
  return d;
}

pb::RbcMessage::StripeProof ToProto(const StripeMsg& m) {
  pb::RbcMessage::StripeProof proof;
  proof.set_root(DigestBytes(m.root));
  for (const Digest& sibling : m.branch) {
    proof.add_branch(DigestBytes(sibling));
  }
  proof.set_stripe(m.stripe);
  return proof;
}

pb::RbcMessage MakeValue(const StripeMsg& m) {
  pb::RbcMessage msg;
  *msg.mutable_value() = ToProto(m);
  return msg;
}

pb::RbcMessage MakeEcho(const StripeMsg& m) {
  pb::RbcMessage msg;
  *msg.mutable_echo() = ToProto(m);
  return msg;
}

pb::RbcMessage MakeReady(const Digest& root) {
  pb::RbcMessage msg;
  msg.mutable_ready()->set_root(DigestBytes(root));
  return msg;
}

Bytes FrameValue(std::string_view value) {
  ByteWriter w;
  w.U32(static_cast<uint32_t>(value.size())).Raw(value);
  return w.Take();
}

// The value inside decoded data: the length prefix, then that many bytes; the rest is
// padding, which the re-encoding check covers.
absl::StatusOr<std::string> UnframeValue(ByteSpan data, size_t value_bytes_max) {
  ByteReader r(data);
  absl::StatusOr<uint32_t> len = r.ReadU32();
  if (!len.ok()) {
    return len.status();
  }
  if (*len > value_bytes_max) {
    return absl::InvalidArgumentError(
        absl::StrCat("decoded length ", *len, " exceeds value_bytes_max ", value_bytes_max));
  }
  absl::StatusOr<ByteSpan> value = r.ReadBytes(*len);
  if (!value.ok()) {
    return value.status();
  }
  return std::string(AsStringView(*value));
}

}  // namespace

struct Broadcast::State {
  State(NetworkInfo net_in, NodeId proposer_in, size_t value_bytes_max_in);

  RbcStep Propose(std::string value);
  RbcStep HandleMessage(NodeId from, const pb::RbcMessage& msg);

  absl::StatusOr<StripeMsg> ParseStripeProof(const pb::RbcMessage::StripeProof& proof) const;
  bool Proves(const StripeMsg& m, NodeId index) const;
  void HandleValue(NodeId from, const pb::RbcMessage::StripeProof& proof, RbcStep& step);
  void HandleEcho(NodeId from, const pb::RbcMessage::StripeProof& proof, RbcStep& step);
  void HandleReady(NodeId from, const pb::RbcMessage::Ready& ready, RbcStep& step);
  void AcceptValue(StripeMsg m, RbcStep& step);
  void RecordEcho(NodeId from, StripeMsg m, RbcStep& step);
  void SendReady(const Digest& root, RbcStep& step);
  void MaybeOutput(const Digest& root, RbcStep& step);
  Output Decode(const Digest& root, RbcStep& step) const;
  absl::StatusOr<std::string> DecodeValue(const Digest& root) const;
  uint32_t CountEchoes(const Digest& root) const;
  uint32_t CountReadys(const Digest& root) const;

  const NetworkInfo net;
  const NodeId proposer;
  const size_t value_bytes_max;
  const uint32_t data_stripes;  // k = N - 2f
  const internal::ErasureCoder coder;
  const size_t stripe_bytes_max;
  const uint32_t branch_depth;

  bool proposed = false;
  bool echo_sent = false;
  bool ready_sent = false;
  bool delivered = false;
  // The first VAL accepted from the proposer, to tell a duplicate from a second value.
  std::optional<StripeMsg> value;
  // By sender, this node included: the one ECHO and the one READY root each may have.
  std::vector<std::optional<StripeMsg>> echoes;
  std::vector<std::optional<Digest>> readys;
};

namespace {

internal::ErasureCoder MakeCoder(const NetworkInfo& net) {
  absl::StatusOr<internal::ErasureCoder> coder =
      internal::ErasureCoder::Create(net.n - 2 * net.f, net.n);
  BELFRY_CHECK(coder.ok());
  return *std::move(coder);
}

const NetworkInfo& CheckedNet(const NetworkInfo& net, NodeId proposer, size_t value_bytes_max) {
  // A membership or limit outside these is a configuration bug, not peer behaviour.
  BELFRY_CHECK(net.n >= 3 * net.f + 1);
  BELFRY_CHECK(net.n <= internal::ErasureCoder::kStripesMax);
  BELFRY_CHECK(net.valid_node(net.self));
  BELFRY_CHECK(net.valid_node(proposer));
  BELFRY_CHECK(value_bytes_max <= UINT32_MAX - kLengthPrefixBytes);
  return net;
}

}  // namespace

Broadcast::State::State(NetworkInfo net_in, NodeId proposer_in, size_t value_bytes_max_in)
    : net(CheckedNet(net_in, proposer_in, value_bytes_max_in)),
      proposer(proposer_in),
      value_bytes_max(value_bytes_max_in),
      data_stripes(net.n - 2 * net.f),
      coder(MakeCoder(net)),
      stripe_bytes_max(coder.StripeBytesFor(value_bytes_max + kLengthPrefixBytes)),
      branch_depth(internal::MerkleDepth(net.n)),
      echoes(net.n),
      readys(net.n) {}

RbcStep Broadcast::State::Propose(std::string v) {
  BELFRY_CHECK(net.self == proposer);
  BELFRY_CHECK(!proposed);
  BELFRY_CHECK(v.size() <= value_bytes_max);
  proposed = true;
  const std::vector<Bytes> stripes = coder.Encode(FrameValue(v));
  absl::StatusOr<internal::MerkleTree> tree = internal::MerkleTree::Build(stripes);
  BELFRY_CHECK(tree.ok());
  RbcStep step;
  StripeMsg own;
  for (NodeId j = 0; j < net.n; ++j) {
    StripeMsg m{tree->root(), tree->Branch(j), std::string(AsStringView(stripes[j]))};
    if (j == net.self) {
      own = std::move(m);
    } else {
      step.Send(Target::Node(j), MakeValue(m));
    }
  }
  AcceptValue(std::move(own), step);
  return step;
}

RbcStep Broadcast::State::HandleMessage(NodeId from, const pb::RbcMessage& msg) {
  // The transport authenticates `from`; an unknown or own id can only be a local bug.
  BELFRY_CHECK(net.valid_node(from));
  BELFRY_CHECK(from != net.self);
  RbcStep step;
  switch (msg.kind_case()) {
    case pb::RbcMessage::kValue:
      HandleValue(from, msg.value(), step);
      break;
    case pb::RbcMessage::kEcho:
      HandleEcho(from, msg.echo(), step);
      break;
    case pb::RbcMessage::kReady:
      HandleReady(from, msg.ready(), step);
      break;
    case pb::RbcMessage::KIND_NOT_SET:
      step.AddFault(from, FaultKind::kMalformedMessage, "RBC message without a kind");
      break;
  }
  return step;
}

absl::StatusOr<StripeMsg> Broadcast::State::ParseStripeProof(
    const pb::RbcMessage::StripeProof& proof) const {
  StripeMsg m;
  absl::StatusOr<Digest> root = ParseDigest(proof.root(), "root");
  if (!root.ok()) {
    return root.status();
  }
  m.root = *root;
  // Checked before anything is hashed or copied, so a huge branch costs nothing.
  if (static_cast<size_t>(proof.branch_size()) != branch_depth) {
    return absl::InvalidArgumentError(
        absl::StrCat("branch has ", proof.branch_size(), " hashes, not ", branch_depth));
  }
  if (proof.stripe().empty() || proof.stripe().size() > stripe_bytes_max) {
    return absl::InvalidArgumentError(
        absl::StrCat("stripe of ", proof.stripe().size(), " bytes, not 1..", stripe_bytes_max));
  }
  m.branch.reserve(branch_depth);
  for (const std::string& sibling : proof.branch()) {
    absl::StatusOr<Digest> d = ParseDigest(sibling, "branch hash");
    if (!d.ok()) {
      return d.status();
    }
    m.branch.push_back(*d);
  }
  m.stripe = proof.stripe();
  return m;
}

bool Broadcast::State::Proves(const StripeMsg& m, NodeId index) const {
  return internal::VerifyMerkleBranch(m.root, net.n, index, AsBytes(m.stripe), m.branch);
}

void Broadcast::State::HandleValue(NodeId from, const pb::RbcMessage::StripeProof& proof,
                                   RbcStep& step) {
  if (from != proposer) {
    step.AddFault(from, FaultKind::kUnexpectedSender, "VAL from a node that is not the proposer");
    return;
  }
  absl::StatusOr<StripeMsg> m = ParseStripeProof(proof);
  if (!m.ok()) {
    step.AddFault(from, FaultKind::kMalformedMessage, std::string(m.status().message()));
    return;
  }
  if (value.has_value()) {
    if (*value != *m) {
      step.AddFault(from, FaultKind::kDuplicateValue, "second, different VAL");
    }
    return;
  }
  if (!Proves(*m, net.self)) {
    step.AddFault(from, FaultKind::kInvalidMerkleProof, "VAL branch does not lead to its root");
    return;
  }
  AcceptValue(*std::move(m), step);
}

void Broadcast::State::AcceptValue(StripeMsg m, RbcStep& step) {
  value = m;
  if (echo_sent || delivered) {
    return;
  }
  echo_sent = true;
  step.Send(Target::All(), MakeEcho(m));
  RecordEcho(net.self, std::move(m), step);
}

void Broadcast::State::HandleEcho(NodeId from, const pb::RbcMessage::StripeProof& proof,
                                  RbcStep& step) {
  absl::StatusOr<StripeMsg> m = ParseStripeProof(proof);
  if (!m.ok()) {
    step.AddFault(from, FaultKind::kMalformedMessage, std::string(m.status().message()));
    return;
  }
  if (echoes[from].has_value()) {
    if (*echoes[from] != *m) {
      step.AddFault(from, FaultKind::kConflictingEcho, "second, different ECHO");
    }
    return;
  }
  if (!Proves(*m, from)) {
    step.AddFault(from, FaultKind::kInvalidMerkleProof, "ECHO branch does not lead to its root");
    return;
  }
  RecordEcho(from, *std::move(m), step);
}

void Broadcast::State::RecordEcho(NodeId from, StripeMsg m, RbcStep& step) {
  const Digest root = m.root;
  echoes[from] = std::move(m);
  if (!ready_sent && CountEchoes(root) >= net.quorum()) {
    SendReady(root, step);
  }
  MaybeOutput(root, step);
}

void Broadcast::State::HandleReady(NodeId from, const pb::RbcMessage::Ready& ready, RbcStep& step) {
  absl::StatusOr<Digest> root = ParseDigest(ready.root(), "root");
  if (!root.ok()) {
    step.AddFault(from, FaultKind::kMalformedMessage, std::string(root.status().message()));
    return;
  }
  if (readys[from].has_value()) {
    if (*readys[from] != *root) {
      step.AddFault(from, FaultKind::kConflictingReady, "second READY for another root");
    }
    return;
  }
  readys[from] = *root;
  // Amplification: f+1 READYs include a correct node's, so this root is the one.
  if (!ready_sent && CountReadys(*root) >= net.one_correct()) {
    SendReady(*root, step);
  }
  MaybeOutput(*root, step);
}

void Broadcast::State::SendReady(const Digest& root, RbcStep& step) {
  ready_sent = true;
  readys[net.self] = root;
  step.Send(Target::All(), MakeReady(root));
}

void Broadcast::State::MaybeOutput(const Digest& root, RbcStep& step) {
  if (delivered || CountReadys(root) < net.two_f_plus_one() || CountEchoes(root) < data_stripes) {
    return;
  }
  delivered = true;
  step.outputs.push_back(Decode(root, step));
}

Output Broadcast::State::Decode(const Digest& root, RbcStep& step) const {
  absl::StatusOr<std::string> v = DecodeValue(root);
  if (!v.ok()) {
    // Every correct node reaches this same verdict (see "Why it works" above).
    step.AddFault(proposer, FaultKind::kInvalidEncoding, std::string(v.status().message()));
    return Output{false, {}};
  }
  return Output{true, *std::move(v)};
}

absl::StatusOr<std::string> Broadcast::State::DecodeValue(const Digest& root) const {
  std::vector<internal::IndexedStripe> stripes;
  stripes.reserve(data_stripes);
  // Node order, so the choice of stripes is itself deterministic.
  for (NodeId i = 0; i < net.n && stripes.size() < data_stripes; ++i) {
    if (echoes[i].has_value() && echoes[i]->root == root) {
      stripes.push_back(internal::IndexedStripe{i, AsBytes(echoes[i]->stripe)});
    }
  }
  absl::StatusOr<Bytes> data = coder.Decode(stripes);
  if (!data.ok()) {
    return data.status();
  }
  absl::StatusOr<std::string> v = UnframeValue(*data, value_bytes_max);
  if (!v.ok()) {
    return v.status();
  }
  absl::StatusOr<internal::MerkleTree> tree =
      internal::MerkleTree::Build(coder.Encode(FrameValue(*v)));
  BELFRY_CHECK(tree.ok());
  if (tree->root() != root) {
    return absl::InvalidArgumentError("decoded value does not re-encode to the agreed root");
  }
  return v;
}

uint32_t Broadcast::State::CountEchoes(const Digest& root) const {
  uint32_t count = 0;
  for (const std::optional<StripeMsg>& e : echoes) {
    count += (e.has_value() && e->root == root) ? 1 : 0;
  }
  return count;
}

uint32_t Broadcast::State::CountReadys(const Digest& root) const {
  uint32_t count = 0;
  for (const std::optional<Digest>& r : readys) {
    count += (r.has_value() && *r == root) ? 1 : 0;
  }
  return count;
}

Broadcast::Broadcast(NetworkInfo net, NodeId proposer, size_t value_bytes_max)
    : state_(std::make_unique<State>(net, proposer, value_bytes_max)) {}

RbcStep Broadcast::Propose(std::string value) { return state_->Propose(std::move(value)); }

RbcStep Broadcast::HandleMessage(NodeId from, const pb::RbcMessage& msg) {
  return state_->HandleMessage(from, msg);
}

NodeId Broadcast::proposer() const { return state_->proposer; }

bool Broadcast::delivered() const { return state_->delivered; }

// Delivery implies this node's READY is out (2f+1 READYs include f+1 that made it
// amplify), and no ECHO is needed after delivery, so nothing remains to send.
bool Broadcast::terminated() const { return state_->delivered && state_->ready_sent; }

Broadcast::Broadcast(Broadcast&&) noexcept = default;
Broadcast& Broadcast::operator=(Broadcast&&) noexcept = default;
Broadcast::~Broadcast() = default;

}  // namespace belfry::consensus::rbc
