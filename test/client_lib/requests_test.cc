// The bytes the client library sends, run through the replicas' own pre-check
// (replica/state/precheck.h) and 3S state machine: a login and every session operation
// the library builds must be accepted, and a tampered one refused with the exact status
// (replica/state/README.md, "Requests" and "Status values").
#include "client_lib/internal/requests.h"

#include <catch2/catch.hpp>

#include "client_lib/internal/errors.h"
#include "replica/state/precheck.h"
#include "test/state/state_test_util.h"
#include "threshold/tdh2.h"

namespace belfry::client::internal {
namespace {

using state::testing::kCluster;
using state::testing::kT0;
using state::testing::TestCluster;
using state::testing::TestConfig;
using state::testing::TestPki;

std::string Der(const pki::IssuedCertificate& cert) {
  return std::string(AsStringView(cert.cert_der));
}

pb::SessionOp CheckInOp(const std::string& doc, const std::string& data) {
  pb::SessionOp op;
  op.mutable_check_in()->set_doc(doc);
  op.mutable_check_in()->set_data(data);
  return op;
}

pb::SessionOp CheckOutOp(const std::string& doc) {
  pb::SessionOp op;
  op.mutable_check_out()->set_doc(doc);
  op.mutable_check_out()->set_reply_public_key(std::string(32, '\x07'));
  return op;
}

TEST_CASE("a login built by the client passes the pre-check and opens a session",
          "[client][requests]") {
  TestPki pki;
  TestCluster cluster(pki);
  const pki::IssuedCertificate alice = pki.Issue("alice");
  const SessionKey session = SessionKey::Generate();
  CryptoRng rng;
  auto login = BuildLogin(kCluster, "alice", Der(alice), alice.key, session, kT0, rng);
  REQUIRE(login.ok());
  CHECK(login->id == wire::RequestId(login->bytes));
  const state::Verdict verdict =
      state::PrecheckRequest(TestConfig(), cluster.ciphertext_check(), login->bytes);
  INFO(verdict.message);
  CHECK(verdict.ok());
  const auto outcome = cluster.Run(login->bytes, kT0);
  INFO(outcome.ex.result.message());
  REQUIRE(outcome.status() == pb::STATUS_OK);
  CHECK(outcome.ex.result.login().uid() == "alice");

  // Every operation the client builds runs under that session.
  auto checkin = BuildSessionOp(kCluster, session, 1, CheckInOp("notes", "hello"));
  CHECK(state::PrecheckRequest(TestConfig(), cluster.ciphertext_check(), checkin.bytes).ok());
  CHECK(cluster.Run(checkin.bytes).status() == pb::STATUS_OK);
  auto checkout = BuildSessionOp(kCluster, session, 2, CheckOutOp("notes"));
  const auto out = cluster.Run(checkout.bytes);
  REQUIRE(out.status() == pb::STATUS_OK);
  CHECK(out.ex.result.check_out().data() == "hello");

  // The same seed gives the same key: a session resumed from a file signs alike.
  const SessionKey resumed = SessionKey::FromSeed(session.seed());
  CHECK(resumed.public_key() == session.public_key());
  auto again = BuildSessionOp(kCluster, resumed, 3, CheckOutOp("notes"));
  CHECK(cluster.Run(again.bytes).status() == pb::STATUS_OK);
}

TEST_CASE("tampered client requests are refused with the exact status", "[client][requests]") {
  TestPki pki;
  TestCluster cluster(pki);
  const pki::IssuedCertificate alice = pki.Issue("alice");
  const pki::IssuedCertificate bob = pki.Issue("bob");
  const SessionKey session = SessionKey::Generate();
  CryptoRng rng;
  const state::Config config = TestConfig();

  SECTION("a login whose time was changed after signing: the session-key proof fails") {
    auto login = BuildLogin(kCluster, "alice", Der(alice), alice.key, session, kT0, rng);
    REQUIRE(login.ok());
    pb::SignedRequest request;
    REQUIRE(request.ParseFromString(login->bytes));
    pb::RequestBody body;
    REQUIRE(body.ParseFromString(request.body()));
    body.mutable_login()->set_client_time_ms(kT0 + 1);
    request.set_body(body.SerializeAsString());
    CHECK(state::PrecheckRequest(config, cluster.ciphertext_check(), request.SerializeAsString())
              .status == pb::STATUS_LOGIN_BAD_SESSION_PROOF);
  }
  SECTION("alice's certificate with bob's signature: refused at execution") {
    auto login = BuildLogin(kCluster, "alice", Der(alice), bob.key, session, kT0, rng);
    REQUIRE(login.ok());
    // The pre-check cannot judge a login signature (it needs the certificate checked at
    // consensus time); the state machine does.
    CHECK(state::PrecheckRequest(config, cluster.ciphertext_check(), login->bytes).ok());
    CHECK(cluster.Run(login->bytes, kT0).status() == pb::STATUS_LOGIN_BAD_SIGNATURE);
  }
  SECTION("a login under another uid than the certificate's") {
    auto login = BuildLogin(kCluster, "bob", Der(alice), alice.key, session, kT0, rng);
    REQUIRE(login.ok());
    CHECK(cluster.Run(login->bytes, kT0).status() == pb::STATUS_LOGIN_UID_MISMATCH);
  }
  SECTION("a session op with a flipped signature bit") {
    auto op = BuildSessionOp(kCluster, session, 1, CheckInOp("d", "x"));
    pb::SignedRequest request;
    REQUIRE(request.ParseFromString(op.bytes));
    request.mutable_signature()->at(5) ^= 1;
    CHECK(state::PrecheckRequest(config, cluster.ciphertext_check(), request.SerializeAsString())
              .status == pb::STATUS_BAD_SIGNATURE);
  }
  SECTION("a session op whose body was changed after signing") {
    auto op = BuildSessionOp(kCluster, session, 1, CheckInOp("d", "x"));
    pb::SignedRequest request;
    REQUIRE(request.ParseFromString(op.bytes));
    pb::RequestBody body;
    REQUIRE(body.ParseFromString(request.body()));
    body.mutable_op()->set_seq(2);
    request.set_body(body.SerializeAsString());
    CHECK(state::PrecheckRequest(config, cluster.ciphertext_check(), request.SerializeAsString())
              .status == pb::STATUS_BAD_SIGNATURE);
  }
  SECTION("a request built for another cluster") {
    auto op = BuildSessionOp("elsewhere", session, 1, CheckInOp("d", "x"));
    CHECK(state::PrecheckRequest(config, cluster.ciphertext_check(), op.bytes).status ==
          pb::STATUS_WRONG_CLUSTER);
  }
  SECTION("an operation of a session that was never opened") {
    auto op = BuildSessionOp(kCluster, session, 1, CheckInOp("d", "x"));
    CHECK(cluster.Run(op.bytes).status() == pb::STATUS_SESSION_UNKNOWN);
  }
}

TEST_CASE("a confidential checkin built by the client is accepted and checks out",
          "[client][requests][confidential]") {
  // TestCluster deals its TDH2 key set from seed 7; dealing again from that seed gives
  // the same set with its shares, standing in for the replicas' key shares.
  TestPki pki;
  TestCluster cluster(pki);
  DeterministicRng deal_rng(7);
  auto dealt = threshold::Deal(4, 1, deal_rng);
  REQUIRE(dealt.ok());
  REQUIRE(dealt->public_keys == cluster.tdh2_keys());

  const pki::IssuedCertificate alice = pki.Issue("alice");
  const SessionKey session = SessionKey::Generate();
  CryptoRng rng;
  auto login = BuildLogin(kCluster, "alice", Der(alice), alice.key, session, kT0, rng);
  REQUIRE(login.ok());
  REQUIRE(cluster.Run(login->bytes, kT0).status() == pb::STATUS_OK);

  const std::string secret = "the launch code is 0000";
  auto sealed = SealConfidential(kCluster, "plans", secret, cluster.tdh2_keys(), rng);
  REQUIRE(sealed.ok());
  CHECK(sealed->data.find(secret) == std::string::npos);
  pb::SessionOp op;
  pb::CheckIn* in = op.mutable_check_in();
  in->set_doc("plans");
  in->set_data(sealed->data);
  in->set_confidential(true);
  in->set_key_ciphertext(sealed->key_ciphertext);
  in->set_version_nonce(sealed->version_nonce);
  auto checkin = BuildSessionOp(kCluster, session, 1, op);
  CHECK(state::PrecheckRequest(TestConfig(), cluster.ciphertext_check(), checkin.bytes).ok());
  REQUIRE(cluster.Run(checkin.bytes).status() == pb::STATUS_OK);

  auto checkout = BuildSessionOp(kCluster, session, 2, CheckOutOp("plans"));
  const auto out = cluster.Run(checkout.bytes);
  REQUIRE(out.status() == pb::STATUS_OK);
  REQUIRE(out.ex.decryption.has_value());
  const pb::CheckOutResult& result = out.ex.result.check_out();

  // Each "replica" makes its share for the authorized label, as the reply stage does.
  auto ciphertext = threshold::Ciphertext::Parse(AsBytes(out.ex.decryption->ciphertext));
  REQUIRE(ciphertext.ok());
  std::map<uint32_t, std::string> shares;
  for (uint32_t replica = 0; replica < 4; ++replica) {
    auto provider = threshold::DecryptionShareProvider::Create(
        std::move(dealt->shares[replica]), dealt->public_keys);
    REQUIRE(provider.ok());
    auto share = provider->MakeShare(*ciphertext, AsStringView(out.ex.decryption->label));
    REQUIRE(share.ok());
    shares[replica] = share->Serialize();
  }
  std::map<uint32_t, std::string> faults;
  auto opened = OpenConfidential(kCluster, result, cluster.tdh2_keys(), shares, &faults);
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  CHECK(*opened == secret);
  CHECK(faults.empty());
}

}  // namespace
}  // namespace belfry::client::internal
