// Tests for evidence/service_certificate.h: the service certificate is what RFC 3161 §2.3
// asks of a time-stamping authority's certificate, and bad requests are refused.
#include "evidence/service_certificate.h"

#include <openssl/x509v3.h>

#include <catch2/catch.hpp>

#include "test/evidence/test_service.h"

namespace belfry::evidence {
namespace {

using testing::NowUnixSeconds;
using testing::PublicKeyDer;
using testing::SharedRsaKey;
using testing::TestService;

TEST_CASE(
    "RFC 3161 §2.3: the service certificate's only extended key usage is "
    "timeStamping, marked critical",
    "[evidence]") {
  TestService service;
  const unsigned char* p = service.service_der().data();
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      d2i_X509(nullptr, &p, static_cast<long>(service.service_der().size())), X509_free);
  REQUIRE(cert != nullptr);
  CHECK(X509_check_purpose(cert.get(), X509_PURPOSE_TIMESTAMP_SIGN, 0) == 1);
  CHECK(X509_get_extended_key_usage(cert.get()) == XKU_TIMESTAMP);
  const int index = X509_get_ext_by_NID(cert.get(), NID_ext_key_usage, -1);
  REQUIRE(index >= 0);
  CHECK(X509_EXTENSION_get_critical(X509_get_ext(cert.get(), index)) == 1);
  CHECK(X509_check_ca(cert.get()) == 0);
}

TEST_CASE(
    "IssueServiceCertificate refuses small or non-RSA keys, a CA key that does not "
    "match and an empty validity",
    "[evidence]") {
  TestService service;
  const int64_t now = NowUnixSeconds();
  const ServiceCertificateRequest request{"belfry-service", now, now + 3600};
  EVP_PKEY* ca_key = service.ca().ca().key().native_handle();
  const Bytes rsa = PublicKeyDer(SharedRsaKey());

  testing::RsaKey small(EVP_RSA_gen(1024));
  REQUIRE(small != nullptr);
  CHECK(IssueServiceCertificate(service.ca_der(), ca_key, PublicKeyDer(small.get()), request)
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
  CHECK(IssueServiceCertificate(service.ca_der(), ca_key, PublicKeyDer(ca_key), request)
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
  TestService other;
  CHECK(
      IssueServiceCertificate(service.ca_der(), other.ca().ca().key().native_handle(), rsa, request)
          .status()
          .code() == absl::StatusCode::kInvalidArgument);
  CHECK(IssueServiceCertificate(service.ca_der(), ca_key, rsa, {"belfry-service", now, now})
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
  CHECK(
      IssueServiceCertificate(service.ca_der(), ca_key, rsa, {"", now, now + 1}).status().code() ==
      absl::StatusCode::kInvalidArgument);
  CHECK(IssueServiceCertificate(service.ca_der(), ca_key, rsa, request).ok());
}

}  // namespace
}  // namespace belfry::evidence
