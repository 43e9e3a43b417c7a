// One request's replies (client_lib/internal/pending_call.h): 2f+1 matching signed
// replies per ordering epoch, retransmissions answered in a later epoch, f+1 identical
// signed refusals as a final answer, and every bad message attributed to its replica.
#include "client_lib/internal/pending_call.h"

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "base/rng.h"
#include "test/client_lib/client_test_util.h"
#include "wire/statements.h"

namespace belfry::client::internal {
namespace {

using testing::FakeCluster;
using testing::MakeFakeCluster;
using testing::SignedReply;

BuiltRequest Request(uint8_t tag) {
  BuiltRequest r;
  r.bytes = std::string("request-") + static_cast<char>('a' + tag);
  r.id = wire::Sha256(AsBytes(r.bytes));
  return r;
}

pb::Rejection SignedRejection(const FakeCluster& c, uint32_t replica, const std::string& id,
                              uint32_t code, const std::string& message) {
  pb::Rejection r;
  r.set_replica(replica);
  r.set_request_id(id);
  r.set_code(code);
  r.set_message(message);
  r.set_signature(c.Sign(replica, wire::RejectionStatement(replica, AsBytes(id), code, message)));
  return r;
}

TEST_CASE("pending call: 2f+1 matching replies are accepted", "[client][call]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  PendingCall call(c.config, Request(1));
  pb::ClientFrame frame;
  REQUIRE(frame.ParseFromString(call.frame()));
  CHECK(frame.request() == call.request().bytes);

  call.OnReply(0, SignedReply(c, 0, call.id_bytes(), "ok", 5));
  call.OnReply(3, SignedReply(c, 3, call.id_bytes(), "lie", 5));
  call.OnReply(1, SignedReply(c, 1, call.id_bytes(), "ok", 5));
  CHECK_FALSE(call.Accepted().has_value());
  CHECK(call.LargestGroup() == 2);
  call.OnReply(2, SignedReply(c, 2, call.id_bytes(), "ok", 5));
  auto accepted = call.Accepted();
  REQUIRE(accepted.has_value());
  CHECK(accepted->body.result() == "ok");
  CHECK(accepted->agreeing.size() == 3);
  CHECK(accepted->disagreeing == std::vector<uint32_t>{3});
  CHECK(call.AcceptedReplies() == 4);
}

TEST_CASE("pending call: answers to a retransmission ordered in a later epoch still count",
          "[client][call]") {
  // Replica 2's first reply was lost; the retransmission was ordered again in epoch 9,
  // where every replica answers with the original result in a new body.
  const FakeCluster c = MakeFakeCluster(4, 1);
  PendingCall call(c.config, Request(2));
  call.OnReply(0, SignedReply(c, 0, call.id_bytes(), "ok", 5));
  call.OnReply(1, SignedReply(c, 1, call.id_bytes(), "ok", 5));
  call.OnReply(2, SignedReply(c, 2, call.id_bytes(), "ok", 9));
  call.OnReply(3, SignedReply(c, 3, call.id_bytes(), "ok", 9));
  CHECK_FALSE(call.Accepted().has_value());
  CHECK(call.faults().empty());  // not disagreement: different executions
  call.OnReply(0, SignedReply(c, 0, call.id_bytes(), "ok", 9));
  auto accepted = call.Accepted();
  REQUIRE(accepted.has_value());
  CHECK(accepted->body.epoch() == 9);
  CHECK(accepted->disagreeing.empty());
}

TEST_CASE("pending call: bad replies are attributed, never counted", "[client][call]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  PendingCall call(c.config, Request(3));
  pb::SignedReply forged = SignedReply(c, 1, call.id_bytes(), "ok", 5);
  forged.mutable_signature()->at(0) ^= 1;
  call.OnReply(1, forged);
  call.OnReply(2, SignedReply(c, 1, call.id_bytes(), "ok", 5));  // 1's reply on 2's link
  call.OnReply(3, SignedReply(c, 3, Request(9).bytes, "ok", 5));  // wrong request id bytes
  pb::SignedReply garbage;
  garbage.set_body("\xff\xff");
  call.OnReply(0, garbage);
  const auto faults = call.faults();
  CHECK(faults.size() == 4);
  CHECK(call.answered().empty());
  CHECK_FALSE(call.Accepted().has_value());
}

TEST_CASE("pending call: a Byzantine replica cannot grow the epoch map without bound",
          "[client][call]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  PendingCall call(c.config, Request(4));
  for (uint64_t e = 0; e < 3 * kEpochsPerReplicaMax; ++e) {
    call.OnReply(3, SignedReply(c, 3, call.id_bytes(), "junk", 100 + e));
  }
  CHECK(call.faults().count(3) == 1);
  for (uint32_t r = 0; r < 3; ++r) call.OnReply(r, SignedReply(c, r, call.id_bytes(), "ok", 7));
  REQUIRE(call.Accepted().has_value());
  CHECK(call.Accepted()->body.result() == "ok");
}

TEST_CASE("pending call: f faulty replicas inventing epochs cannot crowd out the correct ones",
          "[client][call]") {
  // f = 8: together the faulty replicas name 8 * kEpochsPerReplicaMax = 64 epochs, which
  // once filled a shared cap of 64 and left no room for the epoch 2f+1 correct replicas
  // answered in.
  const FakeCluster c = MakeFakeCluster(25, 8);
  PendingCall call(c.config, Request(5));
  for (uint32_t r = 17; r < 25; ++r) {
    for (uint64_t e = 0; e < kEpochsPerReplicaMax; ++e) {
      call.OnReply(r, SignedReply(c, r, call.id_bytes(), "junk", 1000 + 100 * r + e));
    }
  }
  for (uint32_t r = 0; r < 17; ++r) call.OnReply(r, SignedReply(c, r, call.id_bytes(), "ok", 7));
  REQUIRE(call.Accepted().has_value());
  CHECK(call.Accepted()->body.result() == "ok");
}

TEST_CASE("pending call: a reply takes room for its epoch only once its signature verifies",
          "[client][call]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  PendingCall call(c.config, Request(6));
  // Replica 0's link carries unsigned replies for many epochs (as a broken or hostile
  // process behind replica 0's certificate might send): none of them may use up replica
  // 0's epochs.
  for (uint64_t e = 0; e < 2 * kEpochsPerReplicaMax; ++e) {
    pb::SignedReply bad = SignedReply(c, 0, call.id_bytes(), "ok", 100 + e);
    bad.mutable_signature()->at(0) ^= 1;
    call.OnReply(0, bad);
    // Validly signed, but for another request: no room either.
    call.OnReply(0, SignedReply(c, 0, Request(9).bytes, "ok", 200 + e));
  }
  CHECK(call.faults().at(0) == "reply is for another request or cluster");
  for (uint32_t r = 0; r < 3; ++r) call.OnReply(r, SignedReply(c, r, call.id_bytes(), "ok", 7));
  REQUIRE(call.Accepted().has_value());
  CHECK(call.Accepted()->agreeing.count(0) == 1);
}

TEST_CASE("pending call: f+1 identical signed refusals are final; overload is not",
          "[client][call]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  PendingCall call(c.config, Request(5));
  call.OnRejection(0, SignedRejection(c, 0, call.id_bytes(), 0, "overloaded"));
  call.OnRejection(1, SignedRejection(c, 1, call.id_bytes(), 0, "overloaded"));
  CHECK_FALSE(call.Rejected().has_value());
  CHECK(call.Overloaded() == std::vector<uint32_t>{0, 1});

  call.OnRejection(2, SignedRejection(c, 2, call.id_bytes(), pb::STATUS_INVALID_DOCUMENT_NAME,
                                      "bad name"));
  CHECK_FALSE(call.Rejected().has_value());  // one could be the Byzantine one
  // A forged or misdirected refusal does not count.
  pb::Rejection forged = SignedRejection(c, 3, call.id_bytes(), pb::STATUS_INVALID_DOCUMENT_NAME,
                                         "bad name");
  forged.set_message("other");
  call.OnRejection(3, forged);
  call.OnRejection(0, SignedRejection(c, 1, call.id_bytes(), pb::STATUS_INVALID_DOCUMENT_NAME,
                                      "bad name"));
  CHECK_FALSE(call.Rejected().has_value());
  CHECK(call.faults().size() == 2);

  call.OnRejection(1, SignedRejection(c, 1, call.id_bytes(), pb::STATUS_INVALID_DOCUMENT_NAME,
                                      "bad name"));
  auto rejected = call.Rejected();
  REQUIRE(rejected.has_value());
  CHECK(rejected->code == pb::STATUS_INVALID_DOCUMENT_NAME);
  CHECK(rejected->replicas == std::vector<uint32_t>{1, 2});
}

TEST_CASE("pending call: the earliest ordering that f+1 replicas signed", "[client][call]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  PendingCall call(c.config, Request(7));
  pb::Result ok;
  ok.set_status(pb::STATUS_OK);
  ok.mutable_login()->set_uid("alice");
  pb::Result stale;
  stale.set_status(pb::STATUS_LOGIN_STALE);
  call.OnReply(0, SignedReply(c, 0, call.id_bytes(), ok.SerializeAsString(), 4));
  auto any = [](const pb::ReplyBody&) { return true; };
  CHECK_FALSE(call.EarliestGroup(2, any).has_value());
  call.OnReply(1, SignedReply(c, 1, call.id_bytes(), ok.SerializeAsString(), 4));
  for (uint32_t r = 0; r < 4; ++r) {
    call.OnReply(r, SignedReply(c, r, call.id_bytes(), stale.SerializeAsString(), 9));
  }
  REQUIRE(call.Accepted().has_value());
  CHECK(call.Accepted()->body.epoch() == 9);
  auto earliest = call.EarliestGroup(2, any);
  REQUIRE(earliest.has_value());
  CHECK(earliest->body.epoch() == 4);
  CHECK(earliest->agreeing.size() == 2);
  auto none = call.EarliestGroup(2, [](const pb::ReplyBody& b) { return b.epoch() > 9; });
  CHECK_FALSE(none.has_value());
}

TEST_CASE("pending call: a waiter wakes when a reply arrives", "[client][call]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  PendingCall call(c.config, Request(6));
  std::thread sender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    call.OnReply(0, SignedReply(c, 0, call.id_bytes(), "ok", 1));
  });
  const auto start = std::chrono::steady_clock::now();
  const uint64_t generation =
      call.WaitForChange(0, start + std::chrono::seconds(10));
  sender.join();
  CHECK(generation == 1);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

}  // namespace
}  // namespace belfry::client::internal
