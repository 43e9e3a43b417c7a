// Tests for evidence/integrity_certificate.h: the detached CMS SignedData (RFC 5652) is
// what stock `openssl cms -verify` accepts, and Belfry's own verifier reads it back.
#include "evidence/integrity_certificate.h"

#include <openssl/cms.h>

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "base/sha256.h"
#include "evidence/internal/der.h"
#include "test/evidence/test_service.h"

namespace belfry::evidence {
namespace {

using testing::NowUnixSeconds;
using testing::RunCommand;
using testing::TestService;
using testing::WriteFile;

constexpr char kDocumentBytes[] = "quarterly report, final\n\x00\x01\xff binary tail";
constexpr std::string_view kDocument(kDocumentBytes, sizeof(kDocumentBytes) - 1);

IntegrityFacts Facts(std::string_view document) {
  IntegrityFacts facts;
  facts.cluster_id = "test-cluster";
  facts.document_name = "reports/2024/q3 \xc3\xa9t\xc3\xa9.pdf";  // UTF-8 "été"
  facts.version = 7;
  facts.owner = "alice";
  facts.document_sha256 = Sha256Of(document.data(), document.size());
  facts.consensus_time_ms = 1'718'000'123'456;
  return facts;
}

struct Issued {
  Bytes signed_attrs;
  Bytes cms;
};

Issued IssueFor(const TestService& service, const IntegrityFacts& facts) {
  Issued out;
  out.signed_attrs = TestService::Unwrap(IntegritySignedAttributesDer(facts));
  const Bytes signature = service.Sign(out.signed_attrs);
  out.cms = TestService::Unwrap(
      AssembleIntegrityCertificate(out.signed_attrs, signature, service.service_der()));
  return out;
}

std::string CmsVerifyCommand(const TestService& service, const std::string& cert,
                             const std::string& doc) {
  return "openssl cms -verify -binary -inform DER -in " + cert + " -content " + doc + " -CAfile " +
         service.ca_path() + " -certfile " + service.service_path() +
         " -purpose any -out /dev/null";
}

TEST_CASE(
    "RFC 5652 §5: stock openssl cms -verify accepts the integrity certificate and "
    "refuses it for a tampered document",
    "[evidence]") {
  TestService service;
  const std::string_view document = kDocument;
  const Issued issued = IssueFor(service, Facts(document));
  const std::string cert = service.dir().File("doc.p7s");
  const std::string doc = service.dir().File("doc.bin");
  const std::string tampered = service.dir().File("tampered.bin");
  WriteFile(cert, issued.cms);
  WriteFile(doc, document);
  std::string changed(document);
  changed[0] ^= 0x01;
  WriteFile(tampered, changed);

  const testing::CommandResult ok = RunCommand(CmsVerifyCommand(service, cert, doc));
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(absl::StrContains(ok.output, "Verification successful"));

  const testing::CommandResult bad = RunCommand(CmsVerifyCommand(service, cert, tampered));
  INFO(bad.output);
  CHECK(bad.exit_code != 0);
  CHECK(absl::StrContains(bad.output, "Verification failure"));
}

TEST_CASE(
    "VerifyIntegrityCertificate returns the Belfry attributes of a certificate it "
    "accepts",
    "[evidence]") {
  TestService service;
  const std::string_view document = kDocument;
  const IntegrityFacts facts = Facts(document);
  const Issued issued = IssueFor(service, facts);

  absl::StatusOr<VerifiedIntegrity> got = VerifyIntegrityCertificate(
      issued.cms, AsBytes(document), service.ca_der(), service.service_der(), NowUnixSeconds());
  INFO(got.status().ToString());
  REQUIRE(got.ok());
  CHECK(got->cluster_id == facts.cluster_id);
  CHECK(got->document_name == facts.document_name);
  CHECK(got->version == facts.version);
  CHECK(got->owner == facts.owner);
  CHECK(got->document_sha256 == facts.document_sha256);
  // RFC 5652 §11.3: signingTime has whole seconds.
  CHECK(got->consensus_time_ms == 1'718'000'123'000);
}

TEST_CASE(
    "VerifyIntegrityCertificate refuses another document, another CA, another "
    "service certificate, a wrong time and garbage",
    "[evidence]") {
  TestService service;
  const std::string_view document = kDocument;
  const Issued issued = IssueFor(service, Facts(document));
  const int64_t now = NowUnixSeconds();

  const auto code = [&](ByteSpan cms, std::string_view doc, ByteSpan ca, ByteSpan cert,
                        int64_t at) {
    return VerifyIntegrityCertificate(cms, AsBytes(doc), ca, cert, at).status().code();
  };
  CHECK(code(issued.cms, "another document", service.ca_der(), service.service_der(), now) ==
        absl::StatusCode::kPermissionDenied);
  TestService other;  // another CA, and a service certificate for the same key from it
  CHECK(code(issued.cms, document, other.ca_der(), service.service_der(), now) ==
        absl::StatusCode::kPermissionDenied);
  CHECK(code(issued.cms, document, service.ca_der(), other.service_der(), now) ==
        absl::StatusCode::kPermissionDenied);
  CHECK(code(issued.cms, document, service.ca_der(), service.service_der(), now + 2 * 86400) ==
        absl::StatusCode::kPermissionDenied);
  // A certificate without the time-stamping purpose (a pki replica certificate) is refused.
  const Bytes replica = service.ca().Issue("replica-0", pki::Role::kReplica).cert_der;
  CHECK(code(issued.cms, document, service.ca_der(), replica, now) != absl::StatusCode::kOk);

  Bytes truncated(issued.cms.begin(), issued.cms.end() - 1);
  CHECK(code(truncated, document, service.ca_der(), service.service_der(), now) ==
        absl::StatusCode::kInvalidArgument);
  Bytes trailing = issued.cms;
  trailing.push_back(0);
  CHECK(code(trailing, document, service.ca_der(), service.service_der(), now) ==
        absl::StatusCode::kInvalidArgument);
  CHECK(code(Bytes{}, document, service.ca_der(), service.service_der(), now) ==
        absl::StatusCode::kInvalidArgument);
  CHECK(code(Bytes(kIntegrityCertificateBytesMax + 1, 0x30), document, service.ca_der(),
             service.service_der(), now) == absl::StatusCode::kInvalidArgument);
}

TEST_CASE(
    "the signed attributes are deterministic DER: the same facts give the same "
    "bytes, and OpenSSL re-encodes the certificate to the same bytes",
    "[evidence][determinism]") {
  TestService service;
  const IntegrityFacts facts = Facts("doc");
  const Bytes a = TestService::Unwrap(IntegritySignedAttributesDer(facts));
  const Bytes b = TestService::Unwrap(IntegritySignedAttributesDer(facts));
  CHECK(a == b);
  CHECK(a[0] == 0x31);  // the SET OF that RFC 5652 §5.4 says is signed

  IntegrityFacts other = facts;
  other.version = 8;
  CHECK(TestService::Unwrap(IntegritySignedAttributesDer(other)) != a);

  // d2i then i2d: OpenSSL writes DER and sorts SET OF, so a round trip that changes
  // nothing means the structure, the SET OF order included, was already DER.
  const Issued issued = IssueFor(service, facts);
  const unsigned char* p = issued.cms.data();
  std::unique_ptr<CMS_ContentInfo, decltype(&CMS_ContentInfo_free)> cms(
      d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(issued.cms.size())), CMS_ContentInfo_free);
  REQUIRE(cms != nullptr);
  const int length = i2d_CMS_ContentInfo(cms.get(), nullptr);
  Bytes again(static_cast<size_t>(length));
  unsigned char* out = again.data();
  REQUIRE(i2d_CMS_ContentInfo(cms.get(), &out) == length);
  CHECK(again == issued.cms);
}

TEST_CASE(
    "RFC 5652 §11.3: signingTime is UTCTime for 1950..2049 and GeneralizedTime "
    "otherwise",
    "[evidence]") {
  const auto time_of = [](int64_t ms) {
    IntegrityFacts facts = Facts("doc");
    facts.consensus_time_ms = ms;
    const Bytes der = TestService::Unwrap(IntegritySignedAttributesDer(facts));
    return std::string(der.begin(), der.end());
  };
  // 2049-12-31T23:59:59.999Z and 2050-01-01T00:00:00Z.
  CHECK(absl::StrContains(time_of(2524607999999), std::string("\x17\x0d"
                                                              "491231235959Z")));
  CHECK(absl::StrContains(time_of(2524608000000), std::string("\x18\x0f"
                                                              "20500101000000Z")));
  // 1950-01-01T00:00:00Z and a second before it.
  CHECK(absl::StrContains(time_of(-631152000000), std::string("\x17\x0d"
                                                              "500101000000Z")));
  CHECK(absl::StrContains(time_of(-631152000001), std::string("\x18\x0f"
                                                              "19491231235959Z")));
}

TEST_CASE("IntegritySignedAttributesDer refuses empty, oversized and non-UTF-8 text",
          "[evidence]") {
  IntegrityFacts facts = Facts("doc");
  facts.document_name = "";
  CHECK(IntegritySignedAttributesDer(facts).status().code() == absl::StatusCode::kInvalidArgument);
  facts = Facts("doc");
  facts.owner = std::string(kAttributeTextBytesMax + 1, 'a');
  CHECK(IntegritySignedAttributesDer(facts).status().code() == absl::StatusCode::kInvalidArgument);
  facts = Facts("doc");
  facts.cluster_id = "bad \xc0\xaf overlong";
  CHECK(IntegritySignedAttributesDer(facts).status().code() == absl::StatusCode::kInvalidArgument);
  facts = Facts("doc");
  facts.consensus_time_ms = internal::kTimeMsMax + 1;
  CHECK(IntegritySignedAttributesDer(facts).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE(
    "AssembleIntegrityCertificate refuses a signature that does not verify and "
    "attributes that are not one DER SET",
    "[evidence]") {
  TestService service;
  const Bytes attrs = TestService::Unwrap(IntegritySignedAttributesDer(Facts("doc")));
  Bytes signature = service.Sign(attrs);
  signature[10] ^= 0x01;
  CHECK(AssembleIntegrityCertificate(attrs, signature, service.service_der()).status().code() ==
        absl::StatusCode::kPermissionDenied);
  const Bytes good = service.Sign(attrs);
  Bytes as_sequence = attrs;
  as_sequence[0] = 0x30;
  CHECK(AssembleIntegrityCertificate(as_sequence, good, service.service_der()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(AssembleIntegrityCertificate(attrs, Bytes(good.begin(), good.end() - 1),
                                     service.service_der())
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
  // A certificate whose key is not RSA (an Ed25519 pki certificate).
  const Bytes ed25519 = service.ca().Issue("replica-0", pki::Role::kReplica).cert_der;
  CHECK(AssembleIntegrityCertificate(attrs, good, ed25519).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace belfry::evidence
