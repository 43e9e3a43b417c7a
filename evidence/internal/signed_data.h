// evidence/internal/signed_data.h — the CMS SignedData (RFC 5652 §5) that both integrity
// certificates and time-stamp tokens are, with one signer: the service certificate.
//
// Private to evidence/. The signer is named by issuerAndSerialNumber (so SignerInfo and
// SignedData versions follow RFC 5652 §5.1/§5.3), the digest is SHA-256 with absent
// parameters (RFC 5754 §2), the signature algorithm rsaEncryption with NULL parameters
// (RFC 3370 §3.2) and the signature PKCS#1 v1.5 over SHA-256 of the DER signed
// attributes (RFC 5652 §5.4), which is what the threshold RSA key produces.
#ifndef BELFRY_EVIDENCE_INTERNAL_SIGNED_DATA_H_
#define BELFRY_EVIDENCE_INTERNAL_SIGNED_DATA_H_

#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace belfry::evidence::internal {

// One Attribute (RFC 5652 §5.3): SEQUENCE { attrType, SET { value } } with one value.
Bytes Attribute(std::string_view type_oid, ByteSpan value_der);

// The AlgorithmIdentifier of SHA-256 with absent parameters.
Bytes Sha256AlgorithmIdentifier();

// What goes into one SignedData.
struct SignedDataParts {
  std::string_view econtent_type_oid;
  // The encapsulated content; nullopt for a detached signature (no eContent).
  std::optional<ByteSpan> econtent;
  ByteSpan signed_attrs_der;  // the SET OF (tag 0x31) that was signed
  ByteSpan signature;         // RSA PKCS#1 v1.5 SHA-256 over signed_attrs_der
  ByteSpan service_cert_der;
  bool include_certificate = true;
};

// The DER ContentInfo { id-signedData, [0] EXPLICIT SignedData }. Before building it,
// checks that signed_attrs_der is one DER SET, that the certificate parses and holds an
// RSA key, and that the signature verifies with that key over signed_attrs_der, so
// evidence that would not verify is never assembled: INVALID_ARGUMENT for a malformed
// input, PERMISSION_DENIED for a signature that does not verify.
absl::StatusOr<Bytes> AssembleSignedData(const SignedDataParts& parts);

// The largest RSA signature accepted: an 8192-bit modulus.
inline constexpr size_t kRsaSignatureBytesMax = 1024;
// The largest signed attributes SET accepted from a caller.
inline constexpr size_t kSignedAttributesBytesMax = 16 * 1024;

}  // namespace belfry::evidence::internal

#endif  // BELFRY_EVIDENCE_INTERNAL_SIGNED_DATA_H_
