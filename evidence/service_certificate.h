// evidence/service_certificate.h — the X.509 certificate of the service's RSA key, the
// one certificate every piece of evidence names as its signer.
//
// The key is the threshold RSA key whose shares the replicas hold; only its public half
// is needed here. The certificate is issued by the cluster CA (pki/issuer.h makes that;
// the CA is passed in as its certificate and a borrowed key, so evidence/ does not depend
// on pki/) and says what RFC 3161 §2.3 requires of a time-stamping authority: an
// extendedKeyUsage of timeStamping alone, marked critical. keyUsage is
// digitalSignature + nonRepudiation (critical), basicConstraints CA:FALSE (critical),
// subject CN = the given name, OU = "service" (which no pki role accepts, so the
// certificate can never pass as a replica's or a user's).
#ifndef BELFRY_EVIDENCE_SERVICE_CERTIFICATE_H_
#define BELFRY_EVIDENCE_SERVICE_CERTIFICATE_H_

#include <openssl/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace belfry::evidence {

// The smallest RSA modulus accepted for the service key.
inline constexpr int kServiceRsaBitsMin = 2048;
// The largest SubjectPublicKeyInfo accepted (RSA-8192 is about 1.1 KiB).
inline constexpr size_t kPublicKeyBytesMax = 4096;

// ServiceCertificateRequest: validity is [not_before_unix_s, not_after_unix_s].
struct ServiceCertificateRequest {
  std::string common_name;  // 1..64 bytes, no control characters
  int64_t not_before_unix_s = 0;
  int64_t not_after_unix_s = 0;
};

// IssueServiceCertificate: a DER certificate for the RSA public key
// `service_public_key_der` (a DER SubjectPublicKeyInfo, at least kServiceRsaBitsMin bits),
// signed by the CA whose DER certificate is `ca_cert_der` with `ca_key` (borrowed; must
// match the certificate; Ed25519 CAs sign with no digest, others with SHA-256). The
// serial number is 128 random bits from OpenSSL's CSPRNG. INVALID_ARGUMENT for a bad
// name, an empty validity, a malformed or small key, or a key that does not match the CA;
// INTERNAL on OpenSSL failures. Thread-safe.
absl::StatusOr<Bytes> IssueServiceCertificate(ByteSpan ca_cert_der, EVP_PKEY* ca_key,
                                              ByteSpan service_public_key_der,
                                              const ServiceCertificateRequest& request);

}  // namespace belfry::evidence

#endif  // BELFRY_EVIDENCE_SERVICE_CERTIFICATE_H_
