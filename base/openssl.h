// base/openssl.h — owning handles for OpenSSL objects and OpenSSL's error text.
//
// Shared by every folder that calls OpenSSL directly (pki/, transport/, evidence/): every
// OpenSSL object Belfry allocates is held by one of these unique_ptrs, so no early return
// leaks it, and every failed OpenSSL call becomes a Status that carries OpenSSL's own
// reason (drained from the thread's error queue, so a stale error never leaks into the
// next call's message). Handles are as thread-safe as the
// objects they own; the functions touch only the calling thread's error queue.
#ifndef BELFRY_BASE_OPENSSL_H_
#define BELFRY_BASE_OPENSSL_H_

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"

namespace belfry::openssl {

// The deleter of a handle: calls `Free`.
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

inline void FreeBio(BIO* p) { BIO_free_all(p); }

using BioPtr = std::unique_ptr<BIO, Deleter<BIO, FreeBio>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT, ASN1_OBJECT_free>>;

// Drains this thread's OpenSSL error queue into one line ("" if it was empty).
std::string DrainOpenSslErrors();

// Empties this thread's OpenSSL error queue (after an expected failure).
void ClearOpenSslErrors();

// A Status with `code`, `what` and the drained OpenSSL reason.
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

// A read-only memory BIO over `data` (which must outlive it), or null on allocation
// failure or beyond INT_MAX bytes.
BioPtr MemoryBio(std::string_view data);
BioPtr MemoryBio(ByteSpan data);

// Everything written to a memory BIO, as a string.
std::string BioContents(BIO* bio);

}  // namespace belfry::openssl

#endif  // BELFRY_BASE_OPENSSL_H_
