// evidence/integrity_certificate.h — the integrity certificate: a detached CMS SignedData
// (RFC 5652) by the service key over one version of a document.
//
// How it works. Signing is split in two so the key can be a threshold key held by no one.
// Phase one, IntegritySignedAttributesDer, is a pure function of the document's facts and
// the consensus time: every replica computes it on its own and gets the same bytes, the
// DER SET OF signed attributes that RFC 5652 §5.4 says is hashed and signed: contentType
// id-data, messageDigest SHA-256(document), signingTime (RFC 5652 §11.3) and Belfry's own
// attributes under the arc of evidence/oids.h (cluster id, document name, version,
// owner). The replicas' signature shares over those bytes combine into one ordinary RSA
// PKCS#1 v1.5 SHA-256 signature. Phase two, AssembleIntegrityCertificate, puts the
// attributes in as signedAttrs [0] IMPLICIT beside that signature and the service
// certificate, with no eContent (the document travels separately), so a stock
//   openssl cms -verify -binary -inform DER -in CERT -content DOC -CAfile ca.crt ...
// verifies it. VerifyIntegrityCertificate is the same check for Belfry's own verifier,
// which also reads back the Belfry attributes.
#ifndef BELFRY_EVIDENCE_INTEGRITY_CERTIFICATE_H_
#define BELFRY_EVIDENCE_INTEGRITY_CERTIFICATE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/sha256.h"

namespace belfry::evidence {

// The limit on each text attribute (cluster id, document name, owner), in bytes of UTF-8;
// well above Belfry's own limits (document names 255 bytes, user ids 64).
inline constexpr size_t kAttributeTextBytesMax = 1024;
// The largest integrity certificate VerifyIntegrityCertificate parses: one certificate,
// a few hashes and short strings fit in a few kilobytes.
inline constexpr size_t kIntegrityCertificateBytesMax = 64 * 1024;

// IntegrityFacts: what an integrity certificate says about one document version.
struct IntegrityFacts {
  std::string cluster_id;     // 1..kAttributeTextBytesMax bytes of UTF-8
  std::string document_name;  // 1..kAttributeTextBytesMax bytes of UTF-8
  uint64_t version = 0;
  std::string owner;  // 1..kAttributeTextBytesMax bytes of UTF-8
  Sha256Digest document_sha256{};
  // Consensus time at which the version was ordered, ms since the Unix epoch; the
  // certificate's signingTime keeps whole seconds (RFC 5652 §11.3 forbids fractions).
  int64_t consensus_time_ms = 0;
};

// IntegritySignedAttributesDer: the DER SET OF signed attributes for `facts` — the exact
// bytes the service key signs (with SHA-256, PKCS#1 v1.5). Deterministic: the same facts
// give the same bytes on every machine. INVALID_ARGUMENT for an empty, oversized or
// non-UTF-8 text, or a time outside the years 0001..9999. Thread-safe.
absl::StatusOr<Bytes> IntegritySignedAttributesDer(const IntegrityFacts& facts);

// AssembleIntegrityCertificate: the DER ContentInfo (SignedData) from the signed
// attributes of phase one, the RSA signature over them and the service certificate (DER,
// included in `certificates`). Checks the signature with the certificate's key first.
// INVALID_ARGUMENT for malformed inputs or a non-RSA certificate; PERMISSION_DENIED when
// the signature does not verify. Deterministic and thread-safe.
absl::StatusOr<Bytes> AssembleIntegrityCertificate(ByteSpan signed_attrs_der,
                                                   ByteSpan rsa_signature,
                                                   ByteSpan service_cert_der);

// VerifiedIntegrity: what a verified integrity certificate says. consensus_time_ms is the
// signingTime, whole seconds.
using VerifiedIntegrity = IntegrityFacts;

// VerifyIntegrityCertificate: checks an integrity certificate from an untrusted source
// (at most kIntegrityCertificateBytesMax bytes) against `document`: a detached id-data
// SignedData with exactly one signer, which is `service_cert_der`; that certificate
// chains to `ca_cert_der`, is valid at `at_unix_s` and is a time-stamping certificate
// (extendedKeyUsage timeStamping only, critical); the signature and messageDigest verify
// (OpenSSL's CMS_verify); and each Belfry attribute appears exactly once with one value
// of its type. Returns the facts the certificate states.
// INVALID_ARGUMENT for undecodable input or missing or malformed attributes;
// PERMISSION_DENIED for a certificate that does not verify (wrong document, wrong signer,
// broken chain, bad signature). Thread-safe.
absl::StatusOr<VerifiedIntegrity> VerifyIntegrityCertificate(ByteSpan cms_der, ByteSpan document,
                                                             ByteSpan ca_cert_der,
                                                             ByteSpan service_cert_der,
                                                             int64_t at_unix_s);

}  // namespace belfry::evidence

#endif  // BELFRY_EVIDENCE_INTEGRITY_CERTIFICATE_H_
