// evidence/internal/der.h — a small writer of DER (X.690 §10) for the structures evidence/
// signs, and the few encodings it needs: OIDs, times, integers, named bit strings.
//
// Private to evidence/. Every function builds a complete TLV with a definite, minimal
// length, so a structure is assembled bottom-up by concatenation and its bytes depend only
// on its values: the same on every replica and every machine, which is what lets N
// replicas compute the bytes to be signed independently and agree on them. Nothing here
// parses untrusted input; that is left to OpenSSL's parsers (see the callers).
#ifndef BELFRY_EVIDENCE_INTERNAL_DER_H_
#define BELFRY_EVIDENCE_INTERNAL_DER_H_

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace belfry::evidence::internal {

// Universal tags and the context-specific forms evidence/ uses.
inline constexpr uint8_t kTagBoolean = 0x01;
inline constexpr uint8_t kTagInteger = 0x02;
inline constexpr uint8_t kTagBitString = 0x03;
inline constexpr uint8_t kTagOctetString = 0x04;
inline constexpr uint8_t kTagNull = 0x05;
inline constexpr uint8_t kTagOid = 0x06;
inline constexpr uint8_t kTagUtf8String = 0x0c;
inline constexpr uint8_t kTagUtcTime = 0x17;
inline constexpr uint8_t kTagGeneralizedTime = 0x18;
inline constexpr uint8_t kTagSequence = 0x30;
inline constexpr uint8_t kTagSet = 0x31;
// [n] constructed (EXPLICIT, or IMPLICIT over a constructed type) and [n] primitive.
inline constexpr uint8_t ContextConstructed(uint8_t n) { return static_cast<uint8_t>(0xa0 | n); }
inline constexpr uint8_t ContextPrimitive(uint8_t n) { return static_cast<uint8_t>(0x80 | n); }

// The largest TLV this writer builds. Everything evidence/ encodes is a few kilobytes (a
// certificate, hashes, short strings), so a larger length means a bug upstream; lengths
// up to this need at most 3 length octets.
inline constexpr size_t kDerElementBytesMax = 1 << 20;

// One TLV: `tag`, the minimal definite length of `content`, `content`. Checks
// (BELFRY_CHECK) that content is at most kDerElementBytesMax.
Bytes Tlv(uint8_t tag, ByteSpan content);
// A constructed TLV whose content is the concatenation of `parts`.
Bytes Constructed(uint8_t tag, std::initializer_list<ByteSpan> parts);
Bytes Sequence(std::initializer_list<ByteSpan> parts);
Bytes SequenceOf(const std::vector<Bytes>& elements);
// SET OF: DER (X.690 §11.6) orders the elements by their encodings compared as octet
// strings, the shorter one padded with zero octets at its end.
Bytes SetOf(std::vector<Bytes> elements);
// `der` (one complete TLV) with its identifier octet replaced: [n] IMPLICIT of a type
// whose encoding is already built.
Bytes Retag(ByteSpan der, uint8_t tag);

Bytes Null();
Bytes Boolean(bool value);
Bytes OctetString(ByteSpan content);
Bytes Integer(uint64_t value);
// The non-negative INTEGER whose big-endian magnitude is `magnitude` (leading zero octets
// allowed; an empty magnitude is zero).
Bytes UnsignedInteger(ByteSpan magnitude);
// `magnitude` without its leading zero octets.
ByteSpan TrimLeadingZeros(ByteSpan magnitude);

// UTF8String; INVALID_ARGUMENT when `text` is not well-formed UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF).
absl::StatusOr<Bytes> Utf8String(std::string_view text);
bool IsWellFormedUtf8(std::string_view text);

// The content octets of the OBJECT IDENTIFIER `dotted` ("1.2.840.113549.1.7.1"). Arcs
// may be arbitrarily large decimal numbers (X.667 puts a 128-bit UUID in one arc).
// INVALID_ARGUMENT for a malformed string.
absl::StatusOr<Bytes> OidContent(std::string_view dotted);
// The full OBJECT IDENTIFIER TLV of a dotted constant of evidence/ (which is known to be
// well formed: a malformed one fails a BELFRY_CHECK).
Bytes Oid(std::string_view dotted);

// BIT STRING of a NamedBitList with the single bit `bit` set (X.690 §11.2.2: trailing
// zero bits are dropped, so the last content octet holds the set bit).
Bytes NamedBit(uint32_t bit);

// Time. `unix_ms` is milliseconds since 1970-01-01T00:00:00Z (the consensus clock). The
// range is years 0001..9999, what GeneralizedTime's four digits can say.
inline constexpr int64_t kTimeMsMin = -62135596800000;  // 0001-01-01T00:00:00Z
inline constexpr int64_t kTimeMsMax = 253402300799999;  // 9999-12-31T23:59:59.999Z
// RFC 5652 §11.3 (signingTime) and RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ for years
// 1950..2049, GeneralizedTime YYYYMMDDHHMMSSZ otherwise; whole seconds (the milliseconds
// are dropped, rounding towards the past).
absl::StatusOr<Bytes> SigningTime(int64_t unix_ms);
// RFC 3161 §2.4.2 genTime: GeneralizedTime YYYYMMDDHHMMSS[.f]Z, the fraction present only
// when non-zero and without trailing zeros, as DER requires (X.690 §11.7).
absl::StatusOr<Bytes> GeneralizedTimeMs(int64_t unix_ms);

// Checks that `der` is exactly one TLV with identifier `tag` and a definite length that
// covers the rest of the input; INVALID_ARGUMENT otherwise. For values handed from one
// phase of the API to the next, not for parsing untrusted structures.
absl::Status CheckSingleTlv(ByteSpan der, uint8_t tag, absl::string_view what);

// Concatenation of `parts`.
Bytes Concat(std::initializer_list<ByteSpan> parts);

}  // namespace belfry::evidence::internal

#endif  // BELFRY_EVIDENCE_INTERNAL_DER_H_
