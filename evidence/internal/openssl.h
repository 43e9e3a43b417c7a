// evidence/internal/openssl.h — owning handles for the OpenSSL objects evidence/ uses, and
// the certificate facts its encoders copy from the service certificate.
//
// Private to evidence/. The handles and error text shared with pki/ and transport/ are in
// base/openssl.h; this adds what only evidence/ needs.
#ifndef BELFRY_EVIDENCE_INTERNAL_OPENSSL_H_
#define BELFRY_EVIDENCE_INTERNAL_OPENSSL_H_

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/openssl.h"

namespace belfry::evidence::internal {

// The shared handles and error helpers (base/openssl.h), under the names evidence/ uses.
using openssl::Asn1IntegerPtr;
using openssl::Asn1ObjectPtr;
using openssl::BignumPtr;
using openssl::BioPtr;
using openssl::ClearOpenSslErrors;
using openssl::Deleter;
using openssl::EvpMdCtxPtr;
using openssl::EvpPkeyPtr;
using openssl::MemoryBio;
using openssl::OpenSslError;
using openssl::X509ExtensionPtr;
using openssl::X509Ptr;
using openssl::X509StorePtr;

// CMS and time-stamp objects, which only evidence/ handles.
using CmsPtr = std::unique_ptr<CMS_ContentInfo, Deleter<CMS_ContentInfo, CMS_ContentInfo_free>>;
using TsReqPtr = std::unique_ptr<TS_REQ, Deleter<TS_REQ, TS_REQ_free>>;

// The largest service or CA certificate evidence/ accepts. An RSA-4096 certificate is
// about 1.5 KiB; the bound keeps a hostile input away from the parser's worst cases.
inline constexpr size_t kCertificateBytesMax = 16 * 1024;

// Parses one DER certificate that must fill `der` exactly. INVALID_ARGUMENT otherwise.
absl::StatusOr<X509Ptr> ParseCertificate(ByteSpan der, absl::string_view what);

// The DER of `cert`'s issuer Name and serialNumber, as a signer identifier copies them
// (RFC 5652 §10.2.4 IssuerAndSerialNumber).
struct IssuerAndSerial {
  Bytes issuer_name_der;
  Bytes serial_der;
};
absl::StatusOr<IssuerAndSerial> GetIssuerAndSerial(X509* cert);

// The ASN1_OBJECT of a dotted OID, not registered in OpenSSL's global table (so no shared
// state changes). BELFRY_CHECKs that `dotted` is well formed (constants only).
Asn1ObjectPtr Object(std::string_view dotted);

}  // namespace belfry::evidence::internal

#endif  // BELFRY_EVIDENCE_INTERNAL_OPENSSL_H_
