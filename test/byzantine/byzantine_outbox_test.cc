// The Byzantine layer itself must lie as described, or a passing chaos run with it proves
// nothing: each strategy is checked on the messages it rewrites.
#include "test/byzantine/byzantine_outbox.h"

#include <sodium.h>

#include <set>

#include <catch2/catch.hpp>

#include "consensus/internal/merkle.h"
#include "proto/service.pb.h"
#include "wire/statements.h"

namespace belfry::byzantine {
namespace {

struct Sent {
  uint32_t to = 0;
  pb::PeerMessage msg;
};

class RecordingOutbox final : public replica::Outbox {
 public:
  void SendPeer(uint32_t to, std::string payload) override {
    Sent s{.to = to, .msg = {}};
    REQUIRE(s.msg.ParseFromString(payload));
    peers.push_back(std::move(s));
  }
  void SendClient(uint64_t, std::string frame) override {
    pb::ClientFrame f;
    REQUIRE(f.ParseFromString(frame));
    clients.push_back(std::move(f));
  }
  std::vector<Sent> peers;
  std::vector<pb::ClientFrame> clients;
};

replica::ReplySigner Signer() {
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
  seed[0] = 7;
  return replica::ReplySigner::FromSeed(seed);
}

std::unique_ptr<ByzantineOutbox> Make(const std::string& strategies, RecordingOutbox* inner, uint64_t seed = 1) {
  absl::StatusOr<std::vector<Strategy>> parsed = ParseStrategies(strategies);
  REQUIRE(parsed.ok());
  absl::StatusOr<std::unique_ptr<ByzantineOutbox>> out = ByzantineOutbox::Create(
      {.self = 0, .n = 4, .f = 1, .cluster_id = "c", .strategies = *parsed, .seed = seed}, inner, Signer());
  REQUIRE(out.ok());
  return std::move(*out);
}

std::string Bval(uint64_t epoch, bool value) {
  pb::PeerMessage m;
  m.mutable_consensus()->set_epoch(epoch);
  m.mutable_consensus()->mutable_acs()->set_instance(2);
  m.mutable_consensus()->mutable_acs()->mutable_aba()->set_bval(value);
  return m.SerializeAsString();
}

std::string Reply(pb::Status status) {
  pb::Result result;
  result.set_status(status);
  pb::ReplyBody body;
  body.set_cluster_id("c");
  body.set_request_id(std::string(32, 'r'));
  body.set_result(result.SerializeAsString());
  pb::ClientFrame frame;
  frame.mutable_reply()->set_replica(0);
  frame.mutable_reply()->set_body(body.SerializeAsString());
  frame.mutable_reply()->set_signature(Signer().Sign(
      wire::ReplyStatement(0, AsBytes(frame.reply().body()), frame.reply().attachments())));
  return frame.SerializeAsString();
}

bool SignatureValid(const pb::SignedReply& reply) {
  const Bytes statement = wire::ReplyStatement(reply.replica(), AsBytes(reply.body()), reply.attachments());
  return reply.signature().size() == crypto_sign_BYTES &&
         crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(reply.signature().data()), statement.data(),
                                     statement.size(), Signer().public_key().data()) == 0;
}

TEST_CASE("strategy names parse, unknown ones are refused") {
  REQUIRE(ParseStrategies("silent,flip-votes").ok());
  REQUIRE(ParseStrategies("silent,flip-votes")->size() == 2);
  REQUIRE_FALSE(ParseStrategies("polite").ok());
  REQUIRE_FALSE(ParseStrategies("").ok());
}

TEST_CASE("silent sends nothing to peers or clients") {
  RecordingOutbox inner;
  auto out = Make("silent", &inner);
  out->SendPeer(1, Bval(0, true));
  out->SendClient(5, Reply(pb::STATUS_OK));
  REQUIRE(inner.peers.empty());
  REQUIRE(inner.clients.empty());
}

TEST_CASE("flip-votes sends the opposite BVAL and CONF") {
  RecordingOutbox inner;
  auto out = Make("flip-votes", &inner);
  out->SendPeer(1, Bval(0, true));
  pb::PeerMessage conf;
  conf.mutable_consensus()->mutable_acs()->mutable_aba()->set_conf(pb::ABA_VALUE_SET_ZERO);
  out->SendPeer(2, conf.SerializeAsString());
  REQUIRE(inner.peers.size() == 2);
  REQUIRE(inner.peers[0].msg.consensus().acs().aba().bval() == false);
  REQUIRE(inner.peers[1].msg.consensus().acs().aba().conf() == pb::ABA_VALUE_SET_ONE);
}

TEST_CASE("wrong-replies changes the result and signs it validly") {
  RecordingOutbox inner;
  auto out = Make("wrong-replies", &inner);
  out->SendClient(5, Reply(pb::STATUS_OK));
  REQUIRE(inner.clients.size() == 1);
  const pb::SignedReply& reply = inner.clients[0].reply();
  pb::ReplyBody body;
  REQUIRE(body.ParseFromString(reply.body()));
  pb::Result result;
  REQUIRE(result.ParseFromString(body.result()));
  REQUIRE(result.status() == pb::STATUS_ACCESS_DENIED);
  REQUIRE(SignatureValid(reply));
}

TEST_CASE("bad-shares corrupts coin shares, withhold-shares drops them") {
  pb::ThresholdCoinShare share;
  share.set_index(1);
  share.set_value(std::string(32, 'v'));
  share.mutable_proof()->set_challenge(std::string(32, 'c'));
  share.mutable_proof()->set_response(std::string(32, 's'));
  pb::PeerMessage m;
  m.mutable_consensus()->set_epoch(3);
  m.mutable_consensus()->mutable_order_share()->set_share(share.SerializeAsString());
  {
    RecordingOutbox inner;
    auto out = Make("bad-shares", &inner);
    for (int i = 0; i < 8; ++i) out->SendPeer(1, m.SerializeAsString());
    REQUIRE(inner.peers.size() == 8);
    for (const Sent& s : inner.peers) REQUIRE(s.msg.consensus().order_share().share() != share.SerializeAsString());
  }
  {
    RecordingOutbox inner;
    auto out = Make("withhold-shares", &inner);
    out->SendPeer(1, m.SerializeAsString());
    out->SendPeer(1, Bval(0, true));
    REQUIRE(inner.peers.size() == 1);
  }
}

TEST_CASE("equivocate sends half the peers another root with valid proofs") {
  RecordingOutbox inner;
  auto out = Make("equivocate", &inner);
  const std::vector<Bytes> stripes = {Bytes(16, 1), Bytes(16, 2), Bytes(16, 3), Bytes(16, 4)};
  absl::StatusOr<consensus::internal::MerkleTree> tree = consensus::internal::MerkleTree::Build(stripes);
  REQUIRE(tree.ok());
  for (uint32_t to = 1; to < 4; ++to) {
    pb::PeerMessage m;
    m.mutable_consensus()->set_epoch(9);
    m.mutable_consensus()->mutable_acs()->set_instance(0);
    pb::RbcMessage::StripeProof& v = *m.mutable_consensus()->mutable_acs()->mutable_rbc()->mutable_value();
    v.set_root(std::string(reinterpret_cast<const char*>(tree->root().data()), 32));
    for (const auto& d : tree->Branch(to)) v.add_branch(std::string(reinterpret_cast<const char*>(d.data()), 32));
    v.set_stripe(std::string(16, static_cast<char>(to + 1)));
    out->SendPeer(to, m.SerializeAsString());
  }
  REQUIRE(inner.peers.size() == 3);
  std::set<std::string> roots;
  for (const Sent& s : inner.peers) {
    const pb::RbcMessage::StripeProof& v = s.msg.consensus().acs().rbc().value();
    roots.insert(v.root());
    consensus::internal::Digest root;
    std::copy(v.root().begin(), v.root().end(), root.begin());
    std::vector<consensus::internal::Digest> branch;
    for (const std::string& b : v.branch()) {
      consensus::internal::Digest d;
      std::copy(b.begin(), b.end(), d.begin());
      branch.push_back(d);
    }
    REQUIRE(consensus::internal::VerifyMerkleBranch(root, 4, s.to, AsBytes(v.stripe()), branch));
  }
  REQUIRE(roots.size() == 2);
}

TEST_CASE("clock is off by whole hours, one to six, fixed by the seed") {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    RecordingOutbox inner;
    auto out = Make("clock", &inner, seed);
    const int64_t off = out->clock_offset_ms();
    REQUIRE(off % 3'600'000 == 0);
    REQUIRE(std::abs(off) >= 3'600'000);
    REQUIRE(std::abs(off) <= 6 * 3'600'000);
  }
  RecordingOutbox inner;
  REQUIRE(Make("flip-votes", &inner)->clock_offset_ms() == 0);
}

TEST_CASE("flood-future adds far-future copies, replay-old resends old epochs") {
  RecordingOutbox inner;
  auto out = Make("flood-future,replay-old", &inner);
  for (uint64_t e = 0; e < 40; ++e) out->SendPeer(1, Bval(e, true));
  bool future = false, old = false, big = false;
  uint64_t latest = 0;
  for (const Sent& s : inner.peers) {
    const uint64_t e = s.msg.consensus().epoch();
    if (e >= 1'000'000) future = true;
    if (e < 40 && e + 2 <= latest) old = true;
    if (e < 40) latest = std::max(latest, e);
    if (s.msg.consensus().acs().rbc().echo().stripe().size() > (1u << 20)) big = true;
  }
  REQUIRE(future);
  REQUIRE(old);
  REQUIRE(big);
}

}  // namespace
}  // namespace belfry::byzantine
