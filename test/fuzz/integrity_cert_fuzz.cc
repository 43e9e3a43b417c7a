// Fuzz target: the offline check of an integrity certificate (`belfry verify`):
// evidence::VerifyIntegrityCertificate of the input as DER CMS against kIntegrityData, a
// CA and a service certificate made once per process.
//
// Properties: nothing crashes; a certificate refused is refused as undecodable
// (INVALID_ARGUMENT) or as not verifying (PERMISSION_DENIED); one that verifies states a
// document version whose SHA-256 is kIntegrityData's (it cannot, without the key: the
// seed is signed under another CA).
#include <cstddef>
#include <cstdint>
#include <string>

#include "evidence/integrity_certificate.h"
#include "evidence/service_certificate.h"
#include "pki/issuer.h"
#include "test/fuzz/fixtures.h"
#include "test/pki/test_service_key.h"
#include "wire/statements.h"

namespace {

namespace fuzz = belfry::fuzz;
using belfry::Bytes;
using fuzz::Require;

struct Verifier {
  Bytes ca_der;
  Bytes service_der;
};

const Verifier& TheVerifier() {
  static const Verifier* v = [] {
    const int64_t now = fuzz::kPkiTimeS;
    auto ca = belfry::pki::CertificateAuthority::Create("fuzz-ca", now - 3600, now + 86400);
    Require(ca.ok(), "making the CA");
    auto dealt = belfry::testing::DealTestServiceKey(fuzz::kN, fuzz::kF);
    Require(dealt.ok(), "dealing the service key");
    auto ca_der = belfry::pki::CertificatePemToDer(ca->cert_pem());
    auto spki = dealt->public_keys.SubjectPublicKeyInfoDer();
    Require(ca_der.ok() && spki.ok(), "encoding");
    auto cert = belfry::evidence::IssueServiceCertificate(
        *ca_der, ca->key().native_handle(), *spki,
        {.common_name = "belfry-service-fuzz", .not_before_unix_s = now - 3600, .not_after_unix_s = now + 86400});
    Require(cert.ok(), "issuing the service certificate");
    return new Verifier{*ca_der, *cert};
  }();
  return *v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Verifier& v = TheVerifier();
  absl::StatusOr<belfry::evidence::VerifiedIntegrity> facts = belfry::evidence::VerifyIntegrityCertificate(
      belfry::ByteSpan(data, size), belfry::AsBytes(fuzz::kIntegrityData), v.ca_der, v.service_der, fuzz::kPkiTimeS);
  if (!facts.ok()) {
    Require(facts.status().code() == absl::StatusCode::kInvalidArgument ||
                facts.status().code() == absl::StatusCode::kPermissionDenied,
            "a refusal is undecodable input or a certificate that does not verify");
    return 0;
  }
  Require(facts->document_sha256 == belfry::wire::Sha256(belfry::AsBytes(fuzz::kIntegrityData)),
          "a verified certificate certifies the document it was checked against");
  return 0;
}
