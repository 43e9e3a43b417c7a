#include "evidence/internal/openssl.h"


#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace belfry::evidence::internal {
namespace {

template <typename T>
absl::StatusOr<Bytes> ToDer(const T* value, int (*i2d)(const T*, unsigned char**),
                            absl::string_view what) {
  const int len = i2d(value, nullptr);
  if (len <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, absl::StrCat("cannot encode ", what));
  }
  Bytes der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  if (i2d(value, &p) != len) {
    return OpenSslError(absl::StatusCode::kInternal, absl::StrCat("cannot encode ", what));
  }
  return der;
}

}  // namespace

absl::StatusOr<X509Ptr> ParseCertificate(ByteSpan der, absl::string_view what) {
  if (der.empty() || der.size() > kCertificateBytesMax) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": must be 1..", kCertificateBytesMax, " bytes of DER"));
  }
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, absl::StrCat("cannot parse ", what));
  }
  if (p != der.data() + der.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": trailing bytes after the certificate"));
  }
  return cert;
}

absl::StatusOr<IssuerAndSerial> GetIssuerAndSerial(X509* cert) {
  // OpenSSL keeps a parsed Name's original encoding and re-emits it, so these are the
  // certificate's own bytes, which is what a verifier compares against.
  absl::StatusOr<Bytes> issuer =
      ToDer<X509_NAME>(X509_get_issuer_name(cert), i2d_X509_NAME, "the issuer name");
  if (!issuer.ok()) {
    return issuer.status();
  }
  absl::StatusOr<Bytes> serial =
      ToDer<ASN1_INTEGER>(X509_get0_serialNumber(cert), i2d_ASN1_INTEGER, "the serial number");
  if (!serial.ok()) {
    return serial.status();
  }
  return IssuerAndSerial{std::move(*issuer), std::move(*serial)};
}

Asn1ObjectPtr Object(std::string_view dotted) {
  const std::string text(dotted);
  Asn1ObjectPtr obj(OBJ_txt2obj(text.c_str(), /*no_name=*/1));
  BELFRY_CHECK(obj != nullptr);
  return obj;
}

}  // namespace belfry::evidence::internal
