// pki/internal/openssl_util.h — owning handles for OpenSSL objects and error text.
//
// Private to pki/ and transport/: every OpenSSL object Belfry allocates is held by one of
// these unique_ptrs, so no early return leaks it, and every failed OpenSSL call becomes a
// Status that carries OpenSSL's own reason (drained from the thread's error queue, so a
// stale error never leaks into the next call's message).
#ifndef BELFRY_PKI_INTERNAL_OPENSSL_UTIL_H_
#define BELFRY_PKI_INTERNAL_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace belfry::pki::internal {

struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct X509StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct X509StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct X509CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
struct X509ExtensionFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BignumFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct Asn1IntegerFree {
  void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
};
struct Asn1TimeFree {
  void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using X509StorePtr = std::unique_ptr<X509_STORE, X509StoreFree>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, X509StoreCtxFree>;
using X509CrlPtr = std::unique_ptr<X509_CRL, X509CrlFree>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, X509ExtensionFree>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumFree>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Asn1IntegerFree>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Asn1TimeFree>;

// Drains this thread's OpenSSL error queue into one line ("" if it was empty).
std::string DrainOpenSslErrors();

// A Status with `code`, `what` and the drained OpenSSL reason.
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

// A read-only memory BIO over `data` (which must outlive it), or null on allocation failure.
BioPtr MemoryBio(std::string_view data);

// Everything written to a memory BIO, as a string.
std::string BioContents(BIO* bio);

}  // namespace belfry::pki::internal

#endif  // BELFRY_PKI_INTERNAL_OPENSSL_UTIL_H_
