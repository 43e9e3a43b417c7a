// pki/certificate.h — the cluster's X.509 identities: issuing (for the dealer) and
// verifying (for TLS peers and for signed logins).
//
// Every certificate in a Belfry cluster is Ed25519 and is issued by the cluster CA. A
// certificate says who its holder is and in which role: subject CN is the replica name
// ("replica-K", K = 0..N-1) or the user's UID; subject OU is "replica" or "user". The
// role decides which port may present it (peers vs clients) and whether it may log in.
// The Ed25519 key in a user certificate is the user's long-term signing key.
#ifndef BELFRY_PKI_CERTIFICATE_H_
#define BELFRY_PKI_CERTIFICATE_H_

#include <array>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace belfry::pki {

enum class Role : uint8_t { kReplica, kUser };

const char* RoleName(Role role);  // "replica" / "user"

// CertIdentity: what a verified certificate says about its holder.
struct CertIdentity {
  std::string common_name;                   // replica name or UID
  Role role = Role::kUser;
  std::array<uint8_t, 32> ed25519_public_key{};  // raw key from the certificate
  int64_t not_after_unix_s = 0;
};

// CaBundle: the trusted cluster CA certificate(s), parsed once. Immutable and thread-safe
// after construction. Owns its OpenSSL objects.
class CaBundle {
 public:
  // Parses one or more PEM certificates; fails on none or on a malformed one.
  static absl::StatusOr<CaBundle> FromPem(std::string_view pem);
  static absl::StatusOr<CaBundle> FromFile(const std::string& path);
  // As FromPem, and also checks every verified certificate against the given PEM CRLs
  // (each must be signed by a CA of the bundle and current at the verification time; a
  // certificate whose issuer has no CRL in `crl_pem` is then refused too).
  static absl::StatusOr<CaBundle> FromPemWithCrls(std::string_view pem, std::string_view crl_pem);

  CaBundle(CaBundle&&) noexcept;
  CaBundle& operator=(CaBundle&&) noexcept;
  ~CaBundle();

  // Verifies that `cert_der` chains to this bundle, is valid at `at_unix_s` (the caller's
  // notion of now: consensus time inside the state machine, so every replica decides the
  // same), is an Ed25519 certificate, and carries a role. Returns its identity.
  // Errors: INVALID_ARGUMENT for undecodable input; PERMISSION_DENIED for a certificate
  // that does not chain, is expired or not yet valid, or lacks a role.
  absl::StatusOr<CertIdentity> Verify(ByteSpan cert_der, int64_t at_unix_s) const;

  // SHA-256 (hex) over the DER of the bundle's CA certificates, sorted: the same for the
  // same set of CAs however the file is laid out. Bound into the genesis digest
  // (config/genesis.h), so replicas judging logins against different CAs cannot start.
  std::string Fingerprint() const;

  // The Ed25519 public key of the bundle's CA certificate whose DER is exactly
  // `ca_cert_der`; nullopt when no CA of the bundle has that DER or its key is not
  // Ed25519. What an ordered revocation is checked against (replica/state).
  std::optional<std::array<uint8_t, 32>> CaPublicKey(ByteSpan ca_cert_der) const;

  // Opaque handle for the TLS layer (an X509_STORE*); owned by the bundle.
  void* x509_store() const;

 private:
  CaBundle() = default;
  void* store_ = nullptr;
};

}  // namespace belfry::pki

#endif  // BELFRY_PKI_CERTIFICATE_H_
