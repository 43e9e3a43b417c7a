#include "pki/issuer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <ctime>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/openssl.h"

namespace belfry::pki {

using openssl::Asn1IntegerPtr;
using openssl::Asn1TimePtr;
using openssl::BignumPtr;
using openssl::BioPtr;
using openssl::EvpPkeyPtr;
using openssl::OpenSslError;
using openssl::X509CrlPtr;
using openssl::X509ExtensionPtr;
using openssl::X509Ptr;

namespace {

constexpr size_t kCommonNameBytesMax = 64;
constexpr size_t kSerialBytes = 16;

absl::Status CheckName(std::string_view cn) {
  if (cn.empty() || cn.size() > kCommonNameBytesMax) {
    return absl::InvalidArgumentError("common name must be 1..64 bytes");
  }
  for (char c : cn) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      return absl::InvalidArgumentError("common name has a control character");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckValidity(int64_t not_before, int64_t not_after) {
  if (not_after <= not_before) {
    return absl::InvalidArgumentError("validity interval is empty (notAfter <= notBefore)");
  }
  return absl::OkStatus();
}

absl::StatusOr<X509Ptr> ParseCertificatePem(std::string_view pem) {
  BioPtr bio = openssl::MemoryBio(pem);
  if (!bio) {
    return absl::InvalidArgumentError("certificate PEM is too large");
  }
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot parse the PEM certificate");
  }
  return cert;
}

absl::StatusOr<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode the certificate as PEM");
  }
  return openssl::BioContents(bio.get());
}

absl::StatusOr<Bytes> CertificateToDer(X509* cert) {
  const int len = i2d_X509(cert, nullptr);
  if (len <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode the certificate as DER");
  }
  Bytes der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  if (i2d_X509(cert, &p) != len) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode the certificate as DER");
  }
  return der;
}

// A random positive serial of fixed length: unpredictable serials keep a chosen-prefix
// collision out of reach and make two certificates for one name distinguishable.
absl::Status SetRandomSerial(X509* cert) {
  std::array<unsigned char, kSerialBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot draw a serial number");
  }
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);  // positive, full length
  BignumPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot build a serial number");
  }
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set the serial number");
  }
  return absl::OkStatus();
}

absl::Status SetSubject(X509* cert, std::string_view cn, std::string_view ou) {
  X509_NAME* name = X509_get_subject_name(cert);
  if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot set the common name");
  }
  if (!ou.empty() &&
      X509_NAME_add_entry_by_NID(name, NID_organizationalUnitName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(ou.data()),
                                 static_cast<int>(ou.size()), -1, 0) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot set the role");
  }
  return absl::OkStatus();
}

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        absl::StrCat("cannot add extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

struct Extension {
  int nid;
  const char* value;
};

// Builds and signs one certificate. `issuer` null means self-signed (the CA itself).
absl::StatusOr<X509Ptr> BuildCertificate(std::string_view cn, std::string_view ou,
                                         int64_t not_before, int64_t not_after,
                                         EVP_PKEY* subject_key, X509* issuer,
                                         EVP_PKEY* issuer_key,
                                         std::span<const Extension> extensions) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot allocate a certificate");
  }
  absl::Status status = SetRandomSerial(cert.get());
  if (!status.ok()) {
    return status;
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(not_after)) == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot set the validity");
  }
  status = SetSubject(cert.get(), cn, ou);
  if (!status.ok()) {
    return status;
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set the issuer or the key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
  for (const Extension& e : extensions) {
    status = AddExtension(cert.get(), &ctx, e.nid, e.value);
    if (!status.ok()) {
      return status;
    }
  }
  // Ed25519 signs the whole TBSCertificate itself: no digest is named.
  if (X509_sign(cert.get(), issuer_key, nullptr) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot sign the certificate");
  }
  return cert;
}

absl::StatusOr<IssuedCertificate> ToIssued(X509* cert, Ed25519PrivateKey key) {
  absl::StatusOr<std::string> pem = CertificateToPem(cert);
  if (!pem.ok()) {
    return pem.status();
  }
  absl::StatusOr<Bytes> der = CertificateToDer(cert);
  if (!der.ok()) {
    return der.status();
  }
  return IssuedCertificate{std::move(*pem), std::move(*der), std::move(key)};
}

}  // namespace

absl::StatusOr<CertificateAuthority> CertificateAuthority::Create(std::string_view common_name,
                                                                  int64_t not_before_unix_s,
                                                                  int64_t not_after_unix_s) {
  absl::Status status = CheckName(common_name);
  if (status.ok()) {
    status = CheckValidity(not_before_unix_s, not_after_unix_s);
  }
  if (!status.ok()) {
    return status;
  }
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::Generate();
  if (!key.ok()) {
    return key.status();
  }
  // The CA's OU marks it as neither role, so it can never pass as an identity.
  static constexpr Extension kCaExtensions[] = {
      {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
      {NID_key_usage, "critical,keyCertSign,cRLSign"},
      {NID_subject_key_identifier, "hash"},
  };
  absl::StatusOr<X509Ptr> cert =
      BuildCertificate(common_name, "ca", not_before_unix_s, not_after_unix_s,
                       key->native_handle(), nullptr, key->native_handle(), kCaExtensions);
  if (!cert.ok()) {
    return cert.status();
  }
  absl::StatusOr<std::string> pem = CertificateToPem(cert->get());
  if (!pem.ok()) {
    return pem.status();
  }
  return CertificateAuthority(std::move(*pem), std::move(*key));
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromPem(std::string_view cert_pem,
                                                                   std::string_view key_pem) {
  absl::StatusOr<X509Ptr> cert = ParseCertificatePem(cert_pem);
  if (!cert.ok()) {
    return cert.status();
  }
  if (X509_check_ca(cert->get()) < 1) {
    return absl::InvalidArgumentError("the certificate is not a CA certificate");
  }
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPem(key_pem);
  if (!key.ok()) {
    return key.status();
  }
  if (X509_check_private_key(cert->get(), key->native_handle()) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "the CA key does not match the CA certificate");
  }
  absl::StatusOr<std::string> pem = CertificateToPem(cert->get());
  if (!pem.ok()) {
    return pem.status();
  }
  return CertificateAuthority(std::move(*pem), std::move(*key));
}

absl::StatusOr<std::string> CertificateAuthority::IssueForKey(
    const CertificateRequest& request,
    std::span<const uint8_t, kEd25519PublicKeyBytes> subject_public_key) const {
  EvpPkeyPtr pub(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                             subject_public_key.data(),
                                             subject_public_key.size()));
  if (!pub) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "invalid Ed25519 public key");
  }
  absl::Status status = CheckName(request.common_name);
  if (status.ok()) {
    status = CheckValidity(request.not_before_unix_s, request.not_after_unix_s);
  }
  if (!status.ok()) {
    return status;
  }
  absl::StatusOr<X509Ptr> ca = ParseCertificatePem(cert_pem_);
  if (!ca.ok()) {
    return ca.status();
  }
  static constexpr Extension kReplicaExtensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  static constexpr Extension kUserExtensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  const std::span<const Extension> extensions =
      request.role == Role::kReplica ? std::span<const Extension>(kReplicaExtensions)
                                     : std::span<const Extension>(kUserExtensions);
  absl::StatusOr<X509Ptr> cert = BuildCertificate(
      request.common_name, RoleName(request.role), request.not_before_unix_s,
      request.not_after_unix_s, pub.get(), ca->get(), key_.native_handle(), extensions);
  if (!cert.ok()) {
    return cert.status();
  }
  return CertificateToPem(cert->get());
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::Issue(
    const CertificateRequest& request) const {
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::Generate();
  if (!key.ok()) {
    return key.status();
  }
  absl::StatusOr<std::string> pem = IssueForKey(request, key->public_key());
  if (!pem.ok()) {
    return pem.status();
  }
  absl::StatusOr<X509Ptr> cert = ParseCertificatePem(*pem);
  if (!cert.ok()) {
    return cert.status();
  }
  return ToIssued(cert->get(), std::move(*key));
}

absl::StatusOr<std::string> CertificateAuthority::MakeCrl(
    std::span<const std::string> revoked_cert_pems, int64_t this_update_unix_s,
    int64_t next_update_unix_s) const {
  absl::Status status = CheckValidity(this_update_unix_s, next_update_unix_s);
  if (!status.ok()) {
    return status;
  }
  absl::StatusOr<X509Ptr> ca = ParseCertificatePem(cert_pem_);
  if (!ca.ok()) {
    return ca.status();
  }
  X509CrlPtr crl(X509_CRL_new());
  Asn1TimePtr this_update(ASN1_TIME_set(nullptr, static_cast<time_t>(this_update_unix_s)));
  Asn1TimePtr next_update(ASN1_TIME_set(nullptr, static_cast<time_t>(next_update_unix_s)));
  if (!crl || !this_update || !next_update || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca->get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot build the CRL");
  }
  for (const std::string& pem : revoked_cert_pems) {
    absl::StatusOr<X509Ptr> cert = ParseCertificatePem(pem);
    if (!cert.ok()) {
      return cert.status();
    }
    if (X509_check_issued(ca->get(), cert->get()) != X509_V_OK) {
      return absl::InvalidArgumentError("a revoked certificate was not issued by this CA");
    }
    X509_REVOKED* revoked = X509_REVOKED_new();
    if (revoked == nullptr ||
        X509_REVOKED_set_serialNumber(revoked, X509_get_serialNumber(cert->get())) != 1 ||
        X509_REVOKED_set_revocationDate(revoked, this_update.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), revoked) != 1) {
      X509_REVOKED_free(revoked);
      return OpenSslError(absl::StatusCode::kInternal, "cannot add a revoked serial");
    }
  }
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), key_.native_handle(), nullptr) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot sign the CRL");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode the CRL");
  }
  return openssl::BioContents(bio.get());
}

absl::Status WriteKeyAndCertificate(const IssuedCertificate& issued, const std::string& key_path,
                                    const std::string& cert_path) {
  absl::StatusOr<SecretString> key_pem = issued.key.ToPem();
  if (!key_pem.ok()) {
    return key_pem.status();
  }
  absl::Status status = WritePrivateFile(key_path, key_pem->value());
  if (!status.ok()) {
    return status;
  }
  return WritePublicFile(cert_path, issued.cert_pem);
}

absl::StatusOr<Bytes> CertificatePemToDer(std::string_view pem) {
  absl::StatusOr<X509Ptr> cert = ParseCertificatePem(pem);
  if (!cert.ok()) {
    return cert.status();
  }
  return CertificateToDer(cert->get());
}

absl::StatusOr<std::string> CertificateDerToPem(ByteSpan der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    return absl::InvalidArgumentError("not one DER certificate");
  }
  return CertificateToPem(cert.get());
}

}  // namespace belfry::pki
