// Integrity certificates (`belfry checkout --integrity-cert`, `belfry verify`): the
// replicas' service signature shares over the certificate's attributes combine into one
// RSA signature, assembled as a detached CMS SignedData that verifies with ca.crt and
// service.crt alone. Bad shares are left out and their senders named; too few shares, a
// wrong file, another signer or a damaged certificate are refused with their own kind.
// Time-stamp tokens combine through the same code (CombineServiceSignature).
#include <catch2/catch.hpp>
#include <openssl/asn1.h>
#include <openssl/ts.h>

#include <ctime>
#include <optional>

#include "base/files.h"
#include "client_lib/client.h"
#include "client_lib/internal/requests.h"
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
  REQUIRE(WritePublicFile(service->ca_path(), ca->cert_pem()).ok());
  auto dealt = belfry::testing::DealTestServiceKey(c.config.n(), c.config.f());
  REQUIRE(dealt.ok());
  REQUIRE(belfry::testing::WriteTestServiceKey(service->dir.path(), *ca, dealt->public_keys, now).ok());
  auto pem = ReadFileBounded(service->cert_path(), kPemFileBytesMax);
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

// ---- time-stamp tokens: the same combine, over wire::TimeStampAttributes ----

pb::ReplyBody StampBody(const FakeCluster& c, pb::StampResult* stamp) {
  stamp->set_hash_algorithm("2.16.840.1.101.3.4.2.1");
  stamp->set_hashed_message(std::string(32, '\x11'));
  stamp->set_nonce("\x01\x02\x03");
  stamp->set_has_nonce(true);
  stamp->set_cert_req(true);
  stamp->set_hash_parameters_null(true);
  pb::Result result;
  result.set_status(pb::STATUS_OK);
  *result.mutable_stamp() = *stamp;
  pb::ReplyBody body;
  body.set_cluster_id(c.config.cluster_id());
  body.set_request_id(std::string(32, '\x22'));
  body.set_result(result.SerializeAsString());
  body.set_epoch(7);
  body.set_position(3);
  body.set_log_head(std::string(32, '\x33'));
  body.set_consensus_time_ms(kTimeMs);
  return body;
}

std::map<uint32_t, std::string> StampSharesOf(const Service& s, const pb::ReplyBody& body, const pb::StampResult& stamp,
                                              std::vector<uint32_t> replicas) {
  auto signing = wire::TimeStampAttributes(body, stamp, s.key->cert_der);
  REQUIRE(signing.ok());
  std::map<uint32_t, std::string> out;
  for (uint32_t replica : replicas) {
    auto share = s.signers.at(replica).MakeShare(signing->signed_attributes);
    REQUIRE(share.ok());
    out[replica] = share->Serialize();
  }
  return out;
}

TEST_CASE("time-stamp: a bad share is named, the rest make a granted response with the body's serial",
          "[client][stamp]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  const auto s = MakeService(c);
  pb::StampResult stamp;
  const pb::ReplyBody body = StampBody(c, &stamp);
  std::map<uint32_t, std::string> shares = StampSharesOf(*s, body, stamp, {0, 1, 2});
  auto bad = threshold::rsa::SignatureShare::Parse(AsBytes(shares[0]));
  REQUIRE(bad.ok());
  bad->value.back() ^= 1;
  shares[0] = bad->Serialize();
  std::map<uint32_t, std::string> faults;
  auto response = CollectTimeStampResp(*s->key, body, stamp, shares, &faults);
  INFO(response.status().ToString());
  REQUIRE(response.ok());
  REQUIRE(faults.size() == 1);
  CHECK(faults.at(0) == "sent an invalid service signature share");

  // Any f+1 good shares give the same bytes: the token is a function of the body.
  auto again = CollectTimeStampResp(*s->key, body, stamp, StampSharesOf(*s, body, stamp, {2, 3}), nullptr);
  REQUIRE(again.ok());
  CHECK(*again == *response);

  const unsigned char* p = response->data();
  TS_RESP* resp = d2i_TS_RESP(nullptr, &p, static_cast<long>(response->size()));
  REQUIRE(resp != nullptr);
  CHECK(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp))) == 0);  // granted
  TS_TST_INFO* info = TS_RESP_get_tst_info(resp);
  REQUIRE(info != nullptr);
  BIGNUM* serial = ASN1_INTEGER_to_BN(TS_TST_INFO_get_serial(info), nullptr);
  CHECK(BN_get_word(serial) == (uint64_t{7} << 32) + 3);
  BN_free(serial);
  CHECK(ASN1_INTEGER_get(TS_TST_INFO_get_nonce(info)) == 0x010203);
  TS_RESP_free(resp);
}

TEST_CASE("time-stamp: too few shares or shares over another body are refused", "[client][stamp]") {
  const FakeCluster c = MakeFakeCluster(4, 1);
  const auto s = MakeService(c);
  pb::StampResult stamp;
  const pb::ReplyBody body = StampBody(c, &stamp);
  auto too_few = CollectTimeStampResp(*s->key, body, stamp, StampSharesOf(*s, body, stamp, {1}), nullptr);
  CHECK(ErrorKindOf(too_few.status()) == ErrorKind::kIntegrity);
  pb::ReplyBody later = body;
  later.set_position(4);  // another serial number: another token
  std::map<uint32_t, std::string> faults;
  auto other = CollectTimeStampResp(*s->key, later, stamp, StampSharesOf(*s, body, stamp, {0, 1, 2}), &faults);
  CHECK(ErrorKindOf(other.status()) == ErrorKind::kIntegrity);
  CHECK(faults.size() == 3);
}

}  // namespace
}  // namespace belfry::client::internal
