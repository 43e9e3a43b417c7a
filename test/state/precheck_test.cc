// The mempool's stateless admission check (precheck.h): garbage never reaches consensus.
#include <catch2/catch.hpp>

#include "replica/state/precheck.h"
#include "test/state/state_test_util.h"

namespace belfry::state::testing {
namespace {

TEST_CASE("precheck: well-formed, correctly signed requests pass", "[precheck]") {
  TestPki pki;
  TestCluster cluster(pki);
  TestUser alice{"alice", pki.Issue("alice"), 1};
  const Config config = TestConfig();
  const CiphertextCheck& check = cluster.ciphertext_check();
  CHECK(PrecheckRequest(config, check, alice.Login()).ok());
  CHECK(PrecheckRequest(config, check, alice.CheckIn("doc", "x")).ok());
  const std::string nonce(16, 'N');
  const std::string ct = cluster.EncryptKey(wire::DocumentLabel(kCluster, "s", AsBytes(nonce)));
  CHECK(PrecheckRequest(config, check, alice.Op(ConfidentialCheckInOp("s", "x", nonce, ct))).ok());
}

TEST_CASE("precheck: refuses what execution would refuse statelessly", "[precheck]") {
  TestPki pki;
  TestCluster cluster(pki);
  TestUser alice{"alice", pki.Issue("alice"), 1};
  const Config config = TestConfig();
  const CiphertextCheck& check = cluster.ciphertext_check();
  alice.LoginBody(kT0);
  CHECK(PrecheckRequest(config, check, "junk").status == pb::STATUS_MALFORMED_REQUEST);
  CHECK(PrecheckRequest(config, check, alice.CheckIn("a/b", "x")).status ==
        pb::STATUS_INVALID_DOCUMENT_NAME);
  CHECK(PrecheckRequest(config, check, alice.CheckIn("d", std::string(config.document_bytes_max + 1, 'x')))
            .status == pb::STATUS_DOCUMENT_TOO_LARGE);
  CHECK(PrecheckRequest(config, check, alice.Grant("d", "bob", pb::RIGHTS_UNSPECIFIED, 1)).status ==
        pb::STATUS_INVALID_GRANT);
  pb::SignedRequest req;
  REQUIRE(req.ParseFromString(alice.CheckOut("d")));
  req.mutable_signature()->at(0) ^= 1;
  CHECK(PrecheckRequest(config, check, req.SerializeAsString()).status == pb::STATUS_BAD_SIGNATURE);
  const std::string nonce(16, 'N');
  const std::string wrong = cluster.EncryptKey(wire::DocumentLabel(kCluster, "t", AsBytes(nonce)));
  CHECK(PrecheckRequest(config, check, alice.Op(ConfidentialCheckInOp("s", "x", nonce, wrong)))
            .status == pb::STATUS_INVALID_CIPHERTEXT);
  Config other = config;
  other.cluster_id = "elsewhere";
  CHECK(PrecheckRequest(other, check, alice.CheckOut("d")).status == pb::STATUS_WRONG_CLUSTER);
  pb::RequestBody login = alice.LoginBody(kT0);
  login.mutable_login()->set_nonce("short");
  CHECK(PrecheckRequest(config, check, alice.SignWithUserKey(login)).status ==
        pb::STATUS_MALFORMED_REQUEST);
  login = alice.LoginBody(kT0);
  login.mutable_login()->set_client_time_ms(kT0 + 1);  // proof no longer matches
  CHECK(PrecheckRequest(config, check, alice.SignWithUserKey(login)).status ==
        pb::STATUS_LOGIN_BAD_SESSION_PROOF);
}

}  // namespace
}  // namespace belfry::state::testing
