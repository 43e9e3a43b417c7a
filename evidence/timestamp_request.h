// evidence/timestamp_request.h — reading an RFC 3161 TimeStampReq from an untrusted client.
//
// How it works. The bytes are bounded (kTimeStampReqBytesMax) and handed to OpenSSL's own
// parser (d2i_TS_REQ), which must consume all of them; Belfry then applies its policy to
// the parsed fields and either accepts the request or names the PKIFailureInfo bit
// (RFC 3161 §2.4.2) that a rejection TimeStampResp carries. A refusal is data, not an
// error: the service answers every request, and a request it cannot serve is answered
// with status rejection. The checks, in order:
//   - undecodable, oversized or trailing bytes        → badDataFormat
//   - version other than 1                            → badRequest
//   - hash algorithm other than SHA-256/384/512, or
//     parameters other than absent or NULL            → badAlg
//   - hashedMessage not the algorithm's digest length → badDataFormat
//   - reqPolicy present and not Belfry's policy       → unacceptedPolicy
//   - a nonce that is negative or above 160 bits      → badRequest
//   - an empty extensions field (SIZE (1..MAX))       → badDataFormat
//   - any extensions                                  → unacceptedExtension
#ifndef BELFRY_EVIDENCE_TIMESTAMP_REQUEST_H_
#define BELFRY_EVIDENCE_TIMESTAMP_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "base/bytes.h"

namespace belfry::evidence {

// The largest TimeStampReq accepted. A request is a hash, an OID, a nonce and a few
// small fields: about 60-100 bytes with SHA-512; the bound leaves room for the
// extensions and policies a client may add and we then refuse by name.
inline constexpr size_t kTimeStampReqBytesMax = 4096;
// The largest nonce (RFC 3161 leaves it open; 160 bits is far more than a random nonce
// needs, and bounds the response).
inline constexpr size_t kNonceBitsMax = 160;

// The hash algorithms a message imprint may use.
enum class ImprintHash : uint8_t { kSha256, kSha384, kSha512 };

// Digest length of `hash` in bytes (32, 48, 64).
size_t ImprintHashBytes(ImprintHash hash);

// The dotted OID of `hash` (kSha256Oid, ...), and back: nullopt for any other string.
// Requests ordered through consensus name the algorithm this way (proto/service.proto
// Stamp). Thread-safe.
std::string_view ImprintHashOid(ImprintHash hash);
std::optional<ImprintHash> ImprintHashFromOid(std::string_view oid);

// MessageImprint (RFC 3161 §2.4.1), as the request gave it, so the token copies it
// exactly: OpenSSL's `ts -verify -queryfile` compares the whole AlgorithmIdentifier.
struct MessageImprint {
  ImprintHash hash = ImprintHash::kSha256;
  // Whether the AlgorithmIdentifier's parameters were an explicit NULL (as `openssl ts
  // -query` writes) rather than absent.
  bool parameters_null = false;
  Bytes hashed_message;  // ImprintHashBytes(hash) bytes
};

// PKIFailureInfo bits (RFC 3161 §2.4.2); the value is the bit number.
enum class FailureInfo : uint8_t {
  kBadAlg = 0,
  kBadRequest = 2,
  kBadDataFormat = 5,
  kTimeNotAvailable = 14,
  kUnacceptedPolicy = 15,
  kUnacceptedExtension = 16,
  kAddInfoNotAvailable = 17,
  kSystemFailure = 25,
};

// "badAlg", "badRequest", ... (for logs and statusString).
const char* FailureInfoName(FailureInfo info);

// TimeStampRequest: an accepted request.
struct TimeStampRequest {
  MessageImprint imprint;
  // The nonce as a big-endian magnitude without leading zeros (empty = zero), if given.
  std::optional<Bytes> nonce;
  bool cert_req = false;  // the client wants the service certificate in the token
};

// TimeStampRefusal: why a request is refused, as the failInfo to answer with and a short
// reason (safe to send back as statusString and to log: it never quotes the input).
struct TimeStampRefusal {
  FailureInfo fail_info = FailureInfo::kBadDataFormat;
  std::string reason;
};

using TimeStampReqParse = std::variant<TimeStampRequest, TimeStampRefusal>;

// ParseTimeStampReq: applies the checks above to `der`. Never fails otherwise and never
// crashes on any input; touches no shared state (OpenSSL's error queue of this thread is
// left empty). Thread-safe.
TimeStampReqParse ParseTimeStampReq(ByteSpan der);

}  // namespace belfry::evidence

#endif  // BELFRY_EVIDENCE_TIMESTAMP_REQUEST_H_
