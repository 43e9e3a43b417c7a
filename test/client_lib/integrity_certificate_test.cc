// Integrity certificates (issue 4, "Integrity documents"; `belfry verify`): f+1 valid
// replica signatures over (cluster, doc, version, SHA-256, flags) verify offline; one
// forged signature, a wrong file, another cluster or too few signatures are refused.
#include <catch2/catch.hpp>

#include "client_lib/client.h"
#include "client_lib/internal/requests.h"
#include "test/client_lib/client_test_util.h"
#include "wire/statements.h"

namespace belfry::client::internal {
namespace {

using testing::FakeCluster;
using testing::MakeFakeCluster;

pb::CheckOutResult IntegrityResult(const std::string& data) {
  pb::CheckOutResult r;
  r.set_doc("contract v2.pdf");  // names may hold spaces
  r.set_data(data);
  r.set_integrity(true);
  r.set_version(42);
  const wire::Digest sha = wire::Sha256(AsBytes(data));
  r.set_sha256(std::string(sha.begin(), sha.end()));
  r.set_owner("alice");
  return r;
}

std::map<uint32_t, std::string> SignAll(const FakeCluster& c, const pb::CheckOutResult& r,
                                        std::vector<uint32_t> replicas) {
  auto statement = IntegrityStatementFor(c.config.cluster_id(), r);
  REQUIRE(statement.ok());
  std::map<uint32_t, std::string> out;
  for (uint32_t replica : replicas) out[replica] = c.Sign(replica, *statement);
  return out;
}

TEST_CASE("integrity certificate: f+1 valid signatures verify offline",
          "[client][integrity]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  const std::string data = "the signed terms";
  const pb::CheckOutResult r = IntegrityResult(data);
  std::map<uint32_t, std::string> faults;
  auto cert = CollectIntegrityCertificate(c.config, r, SignAll(c, r, {0, 2, 3}), &faults);
  REQUIRE(cert.ok());
  CHECK(cert->signatures.size() == 3);
  CHECK(faults.empty());

  auto signers = VerifyIntegrityCertificateWith(c.config, data, *cert);
  REQUIRE(signers.ok());
  CHECK(*signers == std::vector<uint32_t>{0, 2, 3});

  // The text form round-trips and still verifies.
  const std::string text = cert->ToText();
  auto parsed = IntegrityCertificate::FromText(text);
  REQUIRE(parsed.ok());
  CHECK(parsed->doc == "contract v2.pdf");
  CHECK(parsed->version == 42);
  CHECK(parsed->signatures == cert->signatures);
  CHECK(VerifyIntegrityCertificateWith(c.config, data, *parsed).ok());
}

TEST_CASE("integrity certificate: forged, foreign or insufficient certificates are refused",
          "[client][integrity]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  const std::string data = "the signed terms";
  const pb::CheckOutResult r = IntegrityResult(data);
  auto cert = CollectIntegrityCertificate(c.config, r, SignAll(c, r, {1, 2}), nullptr);
  REQUIRE(cert.ok());
  REQUIRE(VerifyIntegrityCertificateWith(c.config, data, *cert).ok());

  SECTION("one forged signature among f+1") {
    IntegrityCertificate forged = *cert;
    forged.signatures[2][10] ^= 1;
    CHECK(ErrorKindOf(VerifyIntegrityCertificateWith(c.config, data, forged).status()) ==
          ErrorKind::kIntegrity);
  }
  SECTION("one forged signature even beside f+1 valid ones: the file was altered") {
    auto three = CollectIntegrityCertificate(c.config, r, SignAll(c, r, {0, 1, 2}), nullptr);
    REQUIRE(three.ok());
    three->signatures[0][0] ^= 1;
    CHECK_FALSE(VerifyIntegrityCertificateWith(c.config, data, *three).ok());
  }
  SECTION("a signature moved to another replica's slot") {
    IntegrityCertificate moved = *cert;
    moved.signatures[3] = moved.signatures[2];
    moved.signatures.erase(2);
    CHECK_FALSE(VerifyIntegrityCertificateWith(c.config, data, moved).ok());
  }
  SECTION("the wrong file") {
    auto verified = VerifyIntegrityCertificateWith(c.config, "the signed terms!", *cert);
    CHECK(ErrorKindOf(verified.status()) == ErrorKind::kIntegrity);
  }
  SECTION("another version number than was signed") {
    IntegrityCertificate other = *cert;
    other.version = 43;
    CHECK_FALSE(VerifyIntegrityCertificateWith(c.config, data, other).ok());
  }
  SECTION("fewer than f+1 signatures") {
    IntegrityCertificate one = *cert;
    one.signatures.erase(1);
    CHECK(ErrorKindOf(VerifyIntegrityCertificateWith(c.config, data, one).status()) ==
          ErrorKind::kIntegrity);
  }
  SECTION("a replica the cluster does not have") {
    IntegrityCertificate extra = *cert;
    extra.signatures[9] = extra.signatures[1];
    CHECK_FALSE(VerifyIntegrityCertificateWith(c.config, data, extra).ok());
  }
  SECTION("another cluster's configuration") {
    const FakeCluster other = MakeFakeCluster(4, 1, "other-cluster");
    CHECK_FALSE(VerifyIntegrityCertificateWith(other.config, data, *cert).ok());
  }
  SECTION("the same id but other replica keys") {
    const FakeCluster impostor = MakeFakeCluster(4, 1);
    CHECK_FALSE(VerifyIntegrityCertificateWith(impostor.config, data, *cert).ok());
  }
}

TEST_CASE("integrity certificate: collecting keeps only valid signatures",
          "[client][integrity]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  const pb::CheckOutResult r = IntegrityResult("x");
  std::map<uint32_t, std::string> sigs = SignAll(c, r, {0, 1, 2});
  sigs[1][3] ^= 1;
  sigs[3] = "";
  std::map<uint32_t, std::string> faults;
  auto cert = CollectIntegrityCertificate(c.config, r, sigs, &faults);
  REQUIRE(cert.ok());
  CHECK(cert->signatures.size() == 2);
  CHECK(faults.at(1) == "sent an invalid integrity signature");
  CHECK(faults.at(3) == "sent no integrity signature");
  sigs.erase(0);
  CHECK(ErrorKindOf(CollectIntegrityCertificate(c.config, r, sigs, nullptr).status()) ==
        ErrorKind::kIntegrity);
}

TEST_CASE("integrity certificate: malformed text is invalid input", "[client][integrity]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  const pb::CheckOutResult r = IntegrityResult("x");
  auto cert = CollectIntegrityCertificate(c.config, r, SignAll(c, r, {0, 1}), nullptr);
  REQUIRE(cert.ok());
  const std::string good = cert->ToText();
  auto bad = [](const std::string& text) {
    return ErrorKindOf(IntegrityCertificate::FromText(text).status()) == ErrorKind::kInvalidInput;
  };
  CHECK(bad(""));
  CHECK(bad("hello\n"));
  CHECK(bad(good.substr(0, good.size() - 1)));
  CHECK(bad(good + "colour blue\n"));
  CHECK(bad(good + "version 7\n"));
  CHECK(bad(good + "signature 0 " + std::string(128, 'a') + "\n"));  // replica 0 twice
  CHECK(bad(good + "signature 3 abcd\n"));
  std::string no_sha = good;
  const size_t at = no_sha.find("sha256");
  no_sha.erase(at, no_sha.find('\n', at) - at + 1);
  CHECK(bad(no_sha));
  CHECK(bad(std::string(70 * 1024, 'x')));
}

}  // namespace
}  // namespace belfry::client::internal
