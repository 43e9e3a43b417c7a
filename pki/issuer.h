// pki/issuer.h — the cluster CA: issuing replica and user certificates (for the dealer,
// `belfry-setup`, and for tests), and revocation lists.
//
// Every certificate is X.509 v3 with an Ed25519 key and a random 120-bit serial number.
// The CA is self-signed with basicConstraints CA:TRUE (critical) and keyUsage
// keyCertSign + cRLSign. Leaves carry basicConstraints CA:FALSE, keyUsage
// digitalSignature, extendedKeyUsage serverAuth + clientAuth for replicas (they both
// accept and dial TLS connections) and clientAuth only for users, and subject
// CN = replica name or UID, OU = role, which is what CaBundle::Verify reads back.
#ifndef BELFRY_PKI_ISSUER_H_
#define BELFRY_PKI_ISSUER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace belfry::pki {

// CertificateRequest: what a new leaf certificate should say. Validity is
// [not_before_unix_s, not_after_unix_s], seconds since the Unix epoch.
struct CertificateRequest {
  std::string common_name;  // "replica-K" or the UID; 1..64 bytes, no control characters
  Role role = Role::kUser;
  int64_t not_before_unix_s = 0;
  int64_t not_after_unix_s = 0;
};

// IssuedCertificate: a leaf certificate and the fresh key pair it certifies.
struct IssuedCertificate {
  std::string cert_pem;
  Bytes cert_der;
  Ed25519PrivateKey key;
};

// CertificateAuthority: the CA certificate and its private key. Move-only. Issue* and
// MakeCrl are const and thread-safe.
class CertificateAuthority {
 public:
  // A new self-signed CA named `common_name`, valid over the given interval.
  // INVALID_ARGUMENT for a bad name or an empty interval; INTERNAL on OpenSSL failures.
  static absl::StatusOr<CertificateAuthority> Create(std::string_view common_name,
                                                     int64_t not_before_unix_s,
                                                     int64_t not_after_unix_s);
  // An existing CA from its PEM certificate and PEM private key (for `add-user`).
  // INVALID_ARGUMENT if either is malformed, the certificate is not a CA, or the key does
  // not match the certificate.
  static absl::StatusOr<CertificateAuthority> FromPem(std::string_view cert_pem,
                                                      std::string_view key_pem);

  CertificateAuthority(CertificateAuthority&&) noexcept = default;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept = default;

  // Issues a certificate for a freshly generated Ed25519 key.
  absl::StatusOr<IssuedCertificate> Issue(const CertificateRequest& request) const;

  // Issues a certificate (returned as PEM) for an existing public key, e.g. when a
  // certificate is renewed without changing the key.
  absl::StatusOr<std::string> IssueForKey(
      const CertificateRequest& request,
      std::span<const uint8_t, kEd25519PublicKeyBytes> subject_public_key) const;

  // A PEM CRL signed by this CA listing the serial numbers of `revoked_cert_pems`, valid
  // over [this_update_unix_s, next_update_unix_s]. INVALID_ARGUMENT for a malformed
  // certificate or one this CA did not issue.
  absl::StatusOr<std::string> MakeCrl(std::span<const std::string> revoked_cert_pems,
                                      int64_t this_update_unix_s,
                                      int64_t next_update_unix_s) const;

  const std::string& cert_pem() const { return cert_pem_; }
  const Ed25519PrivateKey& key() const { return key_; }

 private:
  CertificateAuthority(std::string cert_pem, Ed25519PrivateKey key)
      : cert_pem_(std::move(cert_pem)), key_(std::move(key)) {}

  std::string cert_pem_;
  Ed25519PrivateKey key_;
};

// Writes an issued key (0600, created so from the start) and its certificate (0644).
absl::Status WriteKeyAndCertificate(const IssuedCertificate& issued, const std::string& key_path,
                                    const std::string& cert_path);

// The DER encoding of the first PEM certificate in `pem`. INVALID_ARGUMENT if none.
absl::StatusOr<Bytes> CertificatePemToDer(std::string_view pem);
// The PEM form of one DER certificate (nothing may follow it). INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> CertificateDerToPem(ByteSpan der);

}  // namespace belfry::pki

#endif  // BELFRY_PKI_ISSUER_H_
