// evidence/internal/openssl.h — owning handles for the OpenSSL objects evidence/ uses, and
// the certificate facts its encoders copy from the service certificate.
//
// Private to evidence/ (pki/internal is private to pki/ and transport/, and evidence/ does
// not depend on pki/). Every object is held by a unique_ptr so no early return leaks it;
// a failed OpenSSL call becomes a Status carrying OpenSSL's reason, drained from the
// thread's error queue so a stale error never leaks into a later message.
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

namespace belfry::evidence::internal {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

inline void FreeBio(BIO* p) { BIO_free_all(p); }

using BioPtr = std::unique_ptr<BIO, Deleter<BIO, FreeBio>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, Deleter<CMS_ContentInfo, CMS_ContentInfo_free>>;
using TsReqPtr = std::unique_ptr<TS_REQ, Deleter<TS_REQ, TS_REQ_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT, ASN1_OBJECT_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// A Status with `code`, `what` and the drained OpenSSL reason.
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);
// Empties this thread's OpenSSL error queue (after an expected failure).
void ClearOpenSslErrors();

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

// A read-only memory BIO over `data` (which must outlive it), or null.
BioPtr MemoryBio(ByteSpan data);

}  // namespace belfry::evidence::internal

#endif  // BELFRY_EVIDENCE_INTERNAL_OPENSSL_H_
