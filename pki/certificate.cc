#include "pki/certificate.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <climits>
#include <ctime>
#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/files.h"
#include "base/openssl.h"

namespace belfry::pki {

using openssl::BioPtr;
using openssl::OpenSslError;
using openssl::X509Ptr;
using openssl::X509StoreCtxPtr;
using openssl::X509StorePtr;

namespace {

// Far above any certificate Belfry issues (a few hundred bytes), and a bound on what an
// untrusted peer can make the parser chew on.
constexpr size_t kCertificateDerBytesMax = 16 * 1024;
// X.520's upper bound for a common name.
constexpr size_t kCommonNameBytesMax = 64;

X509_STORE* Store(void* p) { return static_cast<X509_STORE*>(p); }

// The one subject entry with `nid`, as UTF-8. Exactly one is required: two CNs would make
// "who is this" ambiguous between code that reads the first and code that reads the last.
absl::StatusOr<std::string> SingleSubjectEntry(const X509_NAME* name, int nid, const char* label) {
  const int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) {
    return absl::PermissionDeniedError(absl::StrCat("certificate subject has no ", label));
  }
  if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0) {
    return absl::PermissionDeniedError(absl::StrCat("certificate subject has several ", label));
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0 || utf8 == nullptr) {
    return OpenSslError(absl::StatusCode::kPermissionDenied,
                        absl::StrCat("certificate ", label, " is not valid text"));
  }
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

// Common names become UIDs and appear in logs: no control characters, no NUL, bounded.
absl::Status CheckCommonName(std::string_view cn) {
  if (cn.empty() || cn.size() > kCommonNameBytesMax) {
    return absl::PermissionDeniedError("certificate common name is empty or too long");
  }
  for (char c : cn) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      return absl::PermissionDeniedError("certificate common name has a control character");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Role> ParseRole(std::string_view ou) {
  if (ou == "replica") {
    return Role::kReplica;
  }
  if (ou == "user") {
    return Role::kUser;
  }
  return absl::PermissionDeniedError("certificate organizational unit is not a Belfry role");
}

absl::StatusOr<int64_t> NotAfter(const X509* cert) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) {
    return OpenSslError(absl::StatusCode::kPermissionDenied, "certificate notAfter is malformed");
  }
  return static_cast<int64_t>(timegm(&tm));
}

// Reads what an already chain-verified certificate says about its holder.
absl::StatusOr<CertIdentity> IdentityOf(X509* cert) {
  // A CA certificate is never an identity, even one the bundle trusts.
  if (X509_check_ca(cert) != 0) {
    return absl::PermissionDeniedError("a CA certificate is not a Belfry identity");
  }
  const EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    return absl::PermissionDeniedError("certificate key is not Ed25519");
  }
  CertIdentity id;
  size_t key_len = id.ed25519_public_key.size();
  if (EVP_PKEY_get_raw_public_key(key, id.ed25519_public_key.data(), &key_len) != 1 ||
      key_len != id.ed25519_public_key.size()) {
    return OpenSslError(absl::StatusCode::kPermissionDenied,
                        "cannot read the certificate's Ed25519 key");
  }
  const X509_NAME* subject = X509_get_subject_name(cert);
  absl::StatusOr<std::string> cn = SingleSubjectEntry(subject, NID_commonName, "common name");
  if (!cn.ok()) {
    return cn.status();
  }
  absl::Status cn_ok = CheckCommonName(*cn);
  if (!cn_ok.ok()) {
    return cn_ok;
  }
  absl::StatusOr<std::string> ou =
      SingleSubjectEntry(subject, NID_organizationalUnitName, "organizational unit (role)");
  if (!ou.ok()) {
    return ou.status();
  }
  absl::StatusOr<Role> role = ParseRole(*ou);
  if (!role.ok()) {
    return role.status();
  }
  absl::StatusOr<int64_t> not_after = NotAfter(cert);
  if (!not_after.ok()) {
    return not_after.status();
  }
  id.common_name = std::move(*cn);
  id.role = *role;
  id.not_after_unix_s = *not_after;
  return id;
}

// Adds every PEM certificate in `pem` to `store`; each must be a CA certificate.
absl::Status AddCaCertificates(X509_STORE* store, std::string_view pem) {
  if (pem.size() > kPemFileBytesMax) {
    return absl::InvalidArgumentError("CA bundle PEM is too large");
  }
  BioPtr bio = openssl::MemoryBio(pem);
  if (!bio) {
    return absl::InternalError("cannot allocate a BIO");
  }
  int count = 0;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      const unsigned long err = ERR_peek_last_error();
      // "No start line" after at least one certificate is the normal end of the input.
      if (count > 0 && ERR_GET_LIB(err) == ERR_LIB_PEM &&
          ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        return absl::OkStatus();
      }
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          count == 0 ? "no CA certificate in the PEM input"
                                     : "malformed certificate in the CA bundle");
    }
    if (X509_check_ca(cert.get()) < 1) {
      return absl::InvalidArgumentError("a certificate in the CA bundle is not a CA");
    }
    if (X509_STORE_add_cert(store, cert.get()) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot add a CA certificate");
    }
    ++count;
  }
}

absl::Status AddCrls(X509_STORE* store, std::string_view pem) {
  if (pem.size() > kPemFileBytesMax) {
    return absl::InvalidArgumentError("CRL PEM is too large");
  }
  BioPtr bio = openssl::MemoryBio(pem);
  if (!bio) {
    return absl::InternalError("cannot allocate a BIO");
  }
  int count = 0;
  for (;;) {
    openssl::X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) {
      const unsigned long err = ERR_peek_last_error();
      if (count > 0 && ERR_GET_LIB(err) == ERR_LIB_PEM &&
          ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        break;
      }
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          count == 0 ? "no CRL in the PEM input" : "malformed CRL");
    }
    if (X509_STORE_add_crl(store, crl.get()) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot add a CRL");
    }
    ++count;
  }
  // Leaf certificates only: Belfry's CAs issue leaves directly.
  if (X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot enable CRL checking");
  }
  return absl::OkStatus();
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kReplica:
      return "replica";
    case Role::kUser:
      return "user";
  }
  return "unknown";
}

absl::StatusOr<CaBundle> CaBundle::FromPem(std::string_view pem) {
  X509StorePtr store(X509_STORE_new());
  if (!store) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot allocate an X509_STORE");
  }
  absl::Status added = AddCaCertificates(store.get(), pem);
  if (!added.ok()) {
    return added;
  }
  CaBundle bundle;
  bundle.store_ = store.release();
  return bundle;
}

absl::StatusOr<CaBundle> CaBundle::FromPemWithCrls(std::string_view pem,
                                                   std::string_view crl_pem) {
  absl::StatusOr<CaBundle> bundle = FromPem(pem);
  if (!bundle.ok()) {
    return bundle.status();
  }
  absl::Status added = AddCrls(Store(bundle->store_), crl_pem);
  if (!added.ok()) {
    return added;
  }
  return bundle;
}

absl::StatusOr<CaBundle> CaBundle::FromFile(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFileBounded(path, kPemFileBytesMax);
  if (!pem.ok()) {
    return pem.status();
  }
  absl::StatusOr<CaBundle> bundle = FromPem(*pem);
  if (!bundle.ok()) {
    return absl::Status(bundle.status().code(),
                        absl::StrCat(path, ": ", bundle.status().message()));
  }
  return bundle;
}

CaBundle::CaBundle(CaBundle&& other) noexcept : store_(std::exchange(other.store_, nullptr)) {}

CaBundle& CaBundle::operator=(CaBundle&& other) noexcept {
  if (this != &other) {
    X509_STORE_free(Store(store_));
    store_ = std::exchange(other.store_, nullptr);
  }
  return *this;
}

CaBundle::~CaBundle() { X509_STORE_free(Store(store_)); }

void* CaBundle::x509_store() const { return store_; }

absl::StatusOr<CertIdentity> CaBundle::Verify(ByteSpan cert_der, int64_t at_unix_s) const {
  if (store_ == nullptr) {
    return absl::FailedPreconditionError("CaBundle was moved from");
  }
  if (cert_der.empty() || cert_der.size() > kCertificateDerBytesMax) {
    return absl::InvalidArgumentError("certificate DER is empty or too large");
  }
  const unsigned char* p = cert_der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(cert_der.size())));
  if (!cert) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot decode the certificate");
  }
  if (p != cert_der.data() + cert_der.size()) {
    return absl::InvalidArgumentError("trailing bytes after the certificate");
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), Store(store_), cert.get(), nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set up certificate verification");
  }
  // The caller's clock, not the machine's: inside the state machine every replica must
  // decide the same way, so the time comes from the ordered input.
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at_unix_s));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_USE_CHECK_TIME | X509_V_FLAG_X509_STRICT);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    openssl::DrainOpenSslErrors();
    return absl::PermissionDeniedError(
        absl::StrCat("certificate refused: ", X509_verify_cert_error_string(err)));
  }
  return IdentityOf(cert.get());
}

namespace {

// The bundle's CA certificates with their DER encodings, in the store's order.
std::vector<std::pair<X509*, std::string>> CaCertificates(X509_STORE* store) {
  std::vector<std::pair<X509*, std::string>> out;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
    if (cert == nullptr) continue;  // a CRL
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    if (len <= 0) continue;
    out.emplace_back(cert, std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(len)));
    OPENSSL_free(der);
  }
  return out;
}

}  // namespace

std::string CaBundle::Fingerprint() const {
  std::vector<std::string> ders;
  for (auto& [cert, der] : CaCertificates(Store(store_))) ders.push_back(std::move(der));
  std::sort(ders.begin(), ders.end());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const std::string& d : ders) {
    const unsigned char len[4] = {static_cast<unsigned char>(d.size() >> 24), static_cast<unsigned char>(d.size() >> 16),
                                  static_cast<unsigned char>(d.size() >> 8), static_cast<unsigned char>(d.size())};
    EVP_DigestUpdate(ctx, len, sizeof(len));
    EVP_DigestUpdate(ctx, d.data(), d.size());
  }
  EVP_DigestFinal_ex(ctx, digest, &digest_len);
  EVP_MD_CTX_free(ctx);
  return ToHex(ByteSpan(digest, digest_len));
}

std::optional<std::array<uint8_t, 32>> CaBundle::CaPublicKey(ByteSpan ca_cert_der) const {
  for (const auto& [cert, der] : CaCertificates(Store(store_))) {
    if (der != AsStringView(ca_cert_der)) continue;
    EVP_PKEY* key = X509_get0_pubkey(cert);
    std::array<uint8_t, 32> raw{};
    size_t raw_len = raw.size();
    if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
        EVP_PKEY_get_raw_public_key(key, raw.data(), &raw_len) != 1 || raw_len != raw.size()) {
      return std::nullopt;
    }
    return raw;
  }
  return std::nullopt;
}

}  // namespace belfry::pki
