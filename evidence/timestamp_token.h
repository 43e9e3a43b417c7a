// evidence/timestamp_token.h — RFC 3161 time-stamp tokens and TimeStampResp messages signed
// by the service key.
//
// How it works. As for integrity certificates (integrity_certificate.h), signing is two
// phases around the threshold RSA key. Phase one is deterministic, so every replica
// computes the same bytes: TstInfoDer encodes the TSTInfo (RFC 3161 §2.4.2) — version 1,
// Belfry's policy (kTsaPolicyOid), the request's messageImprint copied exactly, the
// caller's serialNumber, genTime from the consensus clock (GeneralizedTime, fraction only
// when non-zero, no trailing zeros), accuracy, no ordering, the request's nonce, and one
// non-critical extension (kLogHeadExtensionOid) holding the service's 32-byte log head;
// TimeStampTokenSignedAttributesDer then gives the DER SET OF signed attributes over it:
// contentType id-ct-TSTInfo, messageDigest SHA-256(TSTInfo DER) and signingCertificateV2
// (RFC 5035: an ESSCertIDv2 with the SHA-256 of the service certificate, its default
// hashAlgorithm omitted as DER requires, and the certificate's issuer and serial). Phase
// two, AssembleTimeStampToken, wraps TSTInfo, attributes, signature and (if the request
// asked, RFC 3161 §2.4.1 certReq) the certificate into a CMS SignedData (RFC 5652) with
// eContentType id-ct-TSTInfo: the TimeStampToken, which GrantedTimeStampResp turns into a
// TimeStampResp that `openssl ts -verify` accepts. RejectionTimeStampResp answers a
// request that was refused (timestamp_request.h).
#ifndef BELFRY_EVIDENCE_TIMESTAMP_TOKEN_H_
#define BELFRY_EVIDENCE_TIMESTAMP_TOKEN_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "evidence/timestamp_request.h"

namespace belfry::evidence {

// The serial number of a token: a non-negative integer of at most 160 bits (RFC 3161
// §2.4.2 asks TSAs to handle up to 160 bits).
inline constexpr size_t kSerialNumberBitsMax = 160;
inline constexpr size_t kLogHeadBytes = 32;
// The largest TSTInfo accepted from a caller by the later phases (ours are ~200 bytes).
inline constexpr size_t kTstInfoBytesMax = 4096;
// The largest token GrantedTimeStampResp wraps.
inline constexpr size_t kTimeStampTokenBytesMax = 64 * 1024;
// The longest statusString of a rejection, in bytes of UTF-8.
inline constexpr size_t kStatusStringBytesMax = 256;

// Accuracy (RFC 3161 §2.4.2): a zero field is left out; all zero leaves out the whole
// field. millis and micros are 0..999.
struct Accuracy {
  uint32_t seconds = 0;
  uint16_t millis = 0;
  uint16_t micros = 0;
};

// TstInfoFields: everything a TSTInfo says.
struct TstInfoFields {
  MessageImprint imprint;         // from the accepted request
  Bytes serial_number;            // big-endian magnitude, at most kSerialNumberBitsMax bits
  int64_t consensus_time_ms = 0;  // genTime, ms since the Unix epoch, years 0001..9999
  Accuracy accuracy;
  std::optional<Bytes> nonce;  // from the request: big-endian magnitude, ≤ 160 bits
  std::array<uint8_t, kLogHeadBytes> log_head{};
};

// TstInfoDer: the DER TSTInfo for `fields`. Deterministic. INVALID_ARGUMENT for a
// hashedMessage of the wrong length, a serial number or nonce above 160 bits, millis or
// micros above 999, or a time out of range. Thread-safe.
absl::StatusOr<Bytes> TstInfoDer(const TstInfoFields& fields);

// TimeStampTokenSignedAttributesDer: the DER SET OF signed attributes over `tst_info_der`
// (as TstInfoDer made it) for the signer `service_cert_der` — the exact bytes the service
// key signs. Deterministic. INVALID_ARGUMENT for a malformed TSTInfo or certificate.
absl::StatusOr<Bytes> TimeStampTokenSignedAttributesDer(ByteSpan tst_info_der,
                                                        ByteSpan service_cert_der);

// AssembleTimeStampToken: the DER TimeStampToken (a ContentInfo). `signed_attrs_der` must
// be what TimeStampTokenSignedAttributesDer gives for these inputs (checked) and
// `rsa_signature` must verify over it with the certificate's key (checked);
// `include_certificate` is the request's certReq. INVALID_ARGUMENT for malformed or
// mismatched inputs; PERMISSION_DENIED when the signature does not verify.
absl::StatusOr<Bytes> AssembleTimeStampToken(ByteSpan tst_info_der, ByteSpan signed_attrs_der,
                                             ByteSpan rsa_signature, ByteSpan service_cert_der,
                                             bool include_certificate);

// GrantedTimeStampResp: TimeStampResp { status granted, timeStampToken }. INVALID_ARGUMENT
// unless `token_der` is one DER SEQUENCE of at most kTimeStampTokenBytesMax bytes.
absl::StatusOr<Bytes> GrantedTimeStampResp(ByteSpan token_der);

// RejectionTimeStampResp: TimeStampResp { status rejection, statusString (when
// `status_string` is not empty), failInfo with the one bit `fail_info` }, no token.
// INVALID_ARGUMENT for a status string that is too long or not UTF-8.
absl::StatusOr<Bytes> RejectionTimeStampResp(FailureInfo fail_info, std::string_view status_string);

}  // namespace belfry::evidence

#endif  // BELFRY_EVIDENCE_TIMESTAMP_TOKEN_H_
