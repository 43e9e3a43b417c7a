// Integrity certificates (`belfry checkout --integrity-cert`, `belfry verify`): the
// replicas' service signature shares over the certificate's attributes combine into one
// RSA signature, assembled as a detached CMS SignedData that verifies with ca.crt and
// service.crt alone. Bad shares are left out and their senders named; too few shares, a
// wrong file, another signer or a damaged certificate are refused with their own kind.
#include <catch2/catch.hpp>

#include <ctime>
#include <optional>

#include "client_lib/client.h"
#include "client_lib/internal/requests.h"
#include "pki/files.h"
#include "pki/issuer.h"
#include "test/client_lib/client_test_util.h"
#include "test/pki/test_service_key.h"
#include "wire/statements.h"

namespace belfry::client::internal {
namespace {

using testing::FakeCluster;
using testing::MakeFakeCluster;
using testing::TempDir;

constexpr int64_t kTimeMs = 1'780'000'123'456;

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

// A cluster's service key as the client loads it, its signers, and the files a verifier
// needs (ca.crt, service.crt) in a temporary folder.
struct Service {
  TempDir dir;
  std::optional<ServiceKey> key;  // set once made
  std::vector<threshold::rsa::ShareSigner> signers;

  std::string ca_path() const { return dir.path() + "/ca.crt"; }
  std::string cert_path() const { return dir.path() + "/service.crt"; }
};

std::unique_ptr<Service> MakeService(const FakeCluster& c) {
  auto service = std::make_unique<Service>();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto ca = pki::CertificateAuthority::Create("integrity-test-ca", now - 3600, now + 86400);
  REQUIRE(ca.ok());
  REQUIRE(pki::WritePublicFile(service->ca_path(), ca->cert_pem()).ok());
  auto dealt = belfry::testing::DealTestServiceKey(c.config.n(), c.config.f());
  REQUIRE(dealt.ok());
  REQUIRE(belfry::testing::WriteTestServiceKey(service->dir.path(), *ca, dealt->public_keys, now).ok());
  auto pem = pki::ReadFileBounded(service->cert_path(), pki::kPemFileBytesMax);
  REQUIRE(pem.ok());
  auto der = pki::CertificatePemToDer(*pem);
  REQUIRE(der.ok());
  service->key.emplace(ServiceKey{dealt->public_keys, *der});
  for (auto& share : dealt->shares) service->signers.emplace_back(std::move(share));
  return service;
}

std::map<uint32_t, std::string> SharesOf(const FakeCluster& c, const Service& s, const pb::CheckOutResult& r,
                                         std::vector<uint32_t> replicas) {
  auto attributes = wire::IntegrityAttributes(c.config.cluster_id(), r, kTimeMs);
  REQUIRE(attributes.ok());
  std::map<uint32_t, std::string> out;
  for (uint32_t replica : replicas) {
    auto share = s.signers.at(replica).MakeShare(*attributes);
    REQUIRE(share.ok());
    out[replica] = share->Serialize();
  }
  return out;
}

TEST_CASE("integrity certificate: f+1 shares make a CMS certificate that verifies offline",
          "[client][integrity]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  const auto s = MakeService(c);
  const std::string data = "the signed terms";
  const pb::CheckOutResult r = IntegrityResult(data);
  std::map<uint32_t, std::string> faults;
  auto cert = CollectIntegrityCertificate(c.config, *s->key, r, kTimeMs, SharesOf(c, *s, r, {0, 3}), &faults);
  INFO(cert.status().ToString());
  REQUIRE(cert.ok());
  CHECK(faults.empty());
  CHECK(cert->signing_time_ms == kTimeMs / 1000 * 1000);

  auto verified = VerifyIntegrityCertificate(s->ca_path(), s->cert_path(), data, cert->der);
  INFO(verified.status().ToString());
  REQUIRE(verified.ok());
  CHECK(verified->cluster_id == "test-cluster");
  CHECK(verified->doc == "contract v2.pdf");
  CHECK(verified->owner == "alice");
  CHECK(verified->version == 42);
  CHECK(verified->sha256 == cert->sha256);
  CHECK(verified->signing_time_ms == cert->signing_time_ms);

  // Any f+1 replicas make the same signature, so the same certificate.
  auto other = CollectIntegrityCertificate(c.config, *s->key, r, kTimeMs, SharesOf(c, *s, r, {1, 2}), nullptr);
  REQUIRE(other.ok());
  CHECK(other->der == cert->der);
}

TEST_CASE("integrity certificate: bad shares are named and left out", "[client][integrity]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  const auto s = MakeService(c);
  const std::string data = "the signed terms";
  const pb::CheckOutResult r = IntegrityResult(data);
  std::map<uint32_t, std::string> shares = SharesOf(c, *s, r, {0, 1, 2});

  SECTION("a share whose value is wrong") {
    auto bad = threshold::rsa::SignatureShare::Parse(AsBytes(shares[1]));
    REQUIRE(bad.ok());
    bad->value.back() ^= 1;
    shares[1] = bad->Serialize();
    std::map<uint32_t, std::string> faults;
    auto cert = CollectIntegrityCertificate(c.config, *s->key, r, kTimeMs, shares, &faults);
    REQUIRE(cert.ok());
    CHECK(faults.size() == 1);
    CHECK(faults.at(1) == "sent an invalid service signature share");
    CHECK(VerifyIntegrityCertificate(s->ca_path(), s->cert_path(), data, cert->der).ok());
  }
  SECTION("another replica's share passed off as the sender's own") {
    shares[2] = shares[0];
    std::map<uint32_t, std::string> faults;
    auto cert = CollectIntegrityCertificate(c.config, *s->key, r, kTimeMs, shares, &faults);
    REQUIRE(cert.ok());  // 0 and 1 are still f+1
    CHECK(faults.size() == 1);
    CHECK(faults.at(2) == "sent a malformed service signature share");
  }
  SECTION("garbage and missing shares") {
    shares[1] = "garbage";
    shares[3] = "";
    std::map<uint32_t, std::string> faults;
    auto cert = CollectIntegrityCertificate(c.config, *s->key, r, kTimeMs, shares, &faults);
    REQUIRE(cert.ok());
    CHECK(faults.at(1) == "sent a malformed service signature share");
    CHECK(faults.at(3) == "sent no service signature share");
  }
}

TEST_CASE("integrity certificate: too few shares, a wrong file or a damaged certificate are refused",
          "[client][integrity]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  const auto s = MakeService(c);
  const std::string data = "the signed terms";
  const pb::CheckOutResult r = IntegrityResult(data);

  auto too_few = CollectIntegrityCertificate(c.config, *s->key, r, kTimeMs, SharesOf(c, *s, r, {2}), nullptr);
  CHECK(ErrorKindOf(too_few.status()) == ErrorKind::kIntegrity);
  // Shares over another consensus time are shares of another certificate.
  auto other_time =
      CollectIntegrityCertificate(c.config, *s->key, r, kTimeMs + 5000, SharesOf(c, *s, r, {0, 1}), nullptr);
  CHECK(ErrorKindOf(other_time.status()) == ErrorKind::kIntegrity);

  auto cert = CollectIntegrityCertificate(c.config, *s->key, r, kTimeMs, SharesOf(c, *s, r, {0, 1}), nullptr);
  REQUIRE(cert.ok());
  CHECK(ErrorKindOf(VerifyIntegrityCertificate(s->ca_path(), s->cert_path(), "other terms", cert->der).status()) ==
        ErrorKind::kIntegrity);
  std::string damaged = cert->der;
  damaged[damaged.size() - 20] ^= 0x40;  // inside the signature
  CHECK_FALSE(VerifyIntegrityCertificate(s->ca_path(), s->cert_path(), data, damaged).ok());
  CHECK(ErrorKindOf(VerifyIntegrityCertificate(s->ca_path(), s->cert_path(), data, "not DER").status()) ==
        ErrorKind::kInvalidInput);
  // Another cluster's service certificate is not this certificate's signer.
  const FakeCluster c2 = MakeFakeCluster(4, 1, "other-cluster");
  const auto s2 = MakeService(c2);
  CHECK_FALSE(VerifyIntegrityCertificate(s2->ca_path(), s2->cert_path(), data, cert->der).ok());
  CHECK(ErrorKindOf(VerifyIntegrityCertificate(s->ca_path() + ".missing", s->cert_path(), data, cert->der).status()) ==
        ErrorKind::kInvalidInput);
}

}  // namespace
}  // namespace belfry::client::internal
