#include "client_lib/reply_quorum.h"

#include <sodium.h>

#include <catch2/catch.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"

namespace belfry::client {
namespace {

struct Cluster {
  config::ClusterConfig config;
  std::vector<std::array<uint8_t, crypto_sign_SECRETKEYBYTES>> secret_keys;
};

Cluster MakeCluster(uint32_t n, uint32_t f) {
  REQUIRE(sodium_init() >= 0);
  Cluster c;
  c.config.proto.set_cluster_id("test-cluster");
  c.config.proto.set_f(f);
  for (uint32_t i = 0; i < n; ++i) {
    std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
    std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
    crypto_sign_keypair(pk.data(), sk.data());
    auto* r = c.config.proto.add_replicas();
    r->set_id(i);
    r->set_reply_public_key_hex(ToHex(pk));
    c.secret_keys.push_back(sk);
  }
  return c;
}

wire::Digest RequestId(uint8_t tag) {
  wire::Digest d{};
  d.fill(tag);
  return d;
}

pb::SignedReply Sign(const Cluster& c, uint32_t replica, const wire::Digest& request_id,
                     const std::string& result, uint64_t epoch = 7) {
  pb::ReplyBody body;
  body.set_cluster_id(c.config.cluster_id());
  body.set_request_id(std::string(request_id.begin(), request_id.end()));
  body.set_result(result);
  body.set_epoch(epoch);
  pb::SignedReply reply;
  reply.set_replica(replica);
  reply.set_body(body.SerializeAsString());
  const Bytes statement = wire::ReplyStatement(replica, AsBytes(reply.body()), reply.attachments());
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<uint8_t*>(sig.data()), nullptr, statement.data(),
                       statement.size(), c.secret_keys[replica].data());
  reply.set_signature(sig);
  return reply;
}

TEST_CASE("2f+1 matching signed replies complete the quorum", "[client][quorum]") {
  const Cluster c = MakeCluster(4, 1);
  ReplyQuorum q(c.config, RequestId(1));
  REQUIRE(q.Add(0, Sign(c, 0, RequestId(1), "ok")).ok());
  REQUIRE(q.Add(1, Sign(c, 1, RequestId(1), "ok")).ok());
  CHECK_FALSE(q.complete());
  REQUIRE(q.Add(2, Sign(c, 2, RequestId(1), "ok")).ok());
  CHECK(q.complete());
  CHECK(q.body().result() == "ok");
  CHECK(q.agreeing().size() == 3);
}

TEST_CASE("f lying replicas with valid signatures cannot make a result accepted",
          "[client][quorum]") {
  const Cluster c = MakeCluster(7, 2);
  ReplyQuorum q(c.config, RequestId(2));
  REQUIRE(q.Add(5, Sign(c, 5, RequestId(2), "forged")).ok());
  REQUIRE(q.Add(6, Sign(c, 6, RequestId(2), "forged")).ok());
  CHECK_FALSE(q.complete());
  for (uint32_t i = 0; i < 5; ++i) REQUIRE(q.Add(i, Sign(c, i, RequestId(2), "true")).ok());
  REQUIRE(q.complete());
  CHECK(q.body().result() == "true");
  CHECK(q.disagreeing() == std::vector<uint32_t>{5, 6});
}

TEST_CASE("bad replies are refused with a specific status", "[client][quorum]") {
  const Cluster c = MakeCluster(4, 1);
  ReplyQuorum q(c.config, RequestId(3));

  SECTION("a signature by another replica's key") {
    pb::SignedReply r = Sign(c, 1, RequestId(3), "ok");
    r.set_replica(2);
    CHECK(q.Add(2, r).code() == absl::StatusCode::kPermissionDenied);
  }
  SECTION("a reply claiming another replica than its connection") {
    CHECK(q.Add(0, Sign(c, 1, RequestId(3), "ok")).code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("a tampered body") {
    pb::SignedReply r = Sign(c, 1, RequestId(3), "ok");
    r.mutable_body()->back() ^= 1;
    CHECK(q.Add(1, r).code() == absl::StatusCode::kPermissionDenied);
  }
  SECTION("a reply about another request") {
    CHECK(q.Add(1, Sign(c, 1, RequestId(9), "ok")).code() ==
          absl::StatusCode::kFailedPrecondition);
  }
  SECTION("two different replies from one replica; an identical duplicate is harmless") {
    REQUIRE(q.Add(1, Sign(c, 1, RequestId(3), "ok")).ok());
    CHECK(q.Add(1, Sign(c, 1, RequestId(3), "ok")).ok());
    CHECK(q.Add(1, Sign(c, 1, RequestId(3), "other")).code() == absl::StatusCode::kAlreadyExists);
    CHECK(q.replies() == 1);
  }
  CHECK_FALSE(q.complete());
}

TEST_CASE("still_possible turns false once no body can reach 2f+1", "[client][quorum]") {
  const Cluster c = MakeCluster(4, 1);
  ReplyQuorum q(c.config, RequestId(4));
  REQUIRE(q.Add(0, Sign(c, 0, RequestId(4), "a")).ok());
  REQUIRE(q.Add(1, Sign(c, 1, RequestId(4), "b")).ok());
  CHECK(q.still_possible());
  REQUIRE(q.Add(2, Sign(c, 2, RequestId(4), "c")).ok());
  CHECK_FALSE(q.still_possible());
}

}  // namespace
}  // namespace belfry::client
