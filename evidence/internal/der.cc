#include "evidence/internal/der.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace belfry::evidence::internal {
namespace {

void AppendLength(Bytes& out, size_t length) {
  BELFRY_CHECK(length <= kDerElementBytesMax);
  if (length < 0x80) {
    out.push_back(static_cast<uint8_t>(length));
    return;
  }
  // X.690 §10.1: the long form with the fewest octets.
  std::array<uint8_t, 3> octets{};
  size_t count = 0;
  for (size_t rest = length; rest != 0; rest >>= 8) {
    octets[count++] = static_cast<uint8_t>(rest & 0xff);
  }
  out.push_back(static_cast<uint8_t>(0x80 | count));
  for (size_t i = count; i > 0; --i) {
    out.push_back(octets[i - 1]);
  }
}

// X.690 §11.6's order on SET OF elements: octet-wise, the shorter padded with zeros.
bool SetOfLess(const Bytes& a, const Bytes& b) {
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const uint8_t x = i < a.size() ? a[i] : 0;
    const uint8_t y = i < b.size() ? b[i] : 0;
    if (x != y) {
      return x < y;
    }
  }
  return false;
}

// The limits of one dotted OID string: far above any OID evidence/ uses (a UUID arc has 39
// digits), low enough that the arithmetic below stays trivial.
constexpr size_t kOidArcDigitsMax = 64;
constexpr size_t kOidArcsMax = 32;

// A non-negative integer as little-endian 32-bit limbs, just enough arithmetic for OID arcs.
using Limbs = std::vector<uint32_t>;

void MulAdd(Limbs& v, uint32_t mul, uint32_t add) {
  uint64_t carry = add;
  for (uint32_t& limb : v) {
    const uint64_t x = static_cast<uint64_t>(limb) * mul + carry;
    limb = static_cast<uint32_t>(x);
    carry = x >> 32;
  }
  if (carry != 0) {
    v.push_back(static_cast<uint32_t>(carry));
  }
}

absl::StatusOr<Limbs> ParseArc(absl::string_view digits) {
  if (digits.empty() || digits.size() > kOidArcDigitsMax ||
      (digits.size() > 1 && digits[0] == '0')) {
    return absl::InvalidArgumentError(absl::StrCat("malformed OID arc \"", digits, "\""));
  }
  Limbs v;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(absl::StrCat("malformed OID arc \"", digits, "\""));
    }
    MulAdd(v, 10, static_cast<uint32_t>(c - '0'));
  }
  return v;
}

bool IsSmallerThan(const Limbs& v, uint32_t bound) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] != 0) {
      return false;
    }
  }
  return v.empty() || v[0] < bound;
}

// X.690 §8.19.2: base 128, most significant group first, bit 8 set on all but the last.
void AppendBase128(Bytes& out, const Limbs& v) {
  std::vector<uint8_t> groups;  // least significant first
  const size_t bits = v.size() * 32;
  for (size_t bit = 0; bit < bits; bit += 7) {
    uint32_t group = 0;
    for (size_t k = 0; k < 7 && bit + k < bits; ++k) {
      const size_t b = bit + k;
      group |= ((v[b / 32] >> (b % 32)) & 1u) << k;
    }
    groups.push_back(static_cast<uint8_t>(group));
  }
  while (groups.size() > 1 && groups.back() == 0) {
    groups.pop_back();
  }
  if (groups.empty()) {
    groups.push_back(0);
  }
  for (size_t i = groups.size(); i > 0; --i) {
    out.push_back(static_cast<uint8_t>(groups[i - 1] | (i > 1 ? 0x80 : 0x00)));
  }
}

struct CivilTime {
  int64_t year;
  uint32_t month, day, hour, minute, second, millis;
};

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// H. Hinnant's days-to-civil algorithm (proleptic Gregorian, exact over the whole range):
// no dependence on the C library's gmtime or the machine's time zone.
absl::StatusOr<CivilTime> ToCivil(int64_t unix_ms) {
  if (unix_ms < kTimeMsMin || unix_ms > kTimeMsMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("time ", unix_ms, " ms is outside the years 0001..9999"));
  }
  const int64_t seconds = FloorDiv(unix_ms, 1000);
  const int64_t days = FloorDiv(seconds, 86400);
  const int64_t second_of_day = seconds - days * 86400;
  const int64_t z = days + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const auto doe = static_cast<uint32_t>(z - era * 146097);
  const uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const uint32_t mp = (5 * doy + 2) / 153;
  const uint32_t day = doy - (153 * mp + 2) / 5 + 1;
  const uint32_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = static_cast<int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
  return CivilTime{year,
                   month,
                   day,
                   static_cast<uint32_t>(second_of_day / 3600),
                   static_cast<uint32_t>(second_of_day % 3600 / 60),
                   static_cast<uint32_t>(second_of_day % 60),
                   static_cast<uint32_t>(unix_ms - seconds * 1000)};
}

std::string FormatSeconds(const CivilTime& t, bool two_digit_year) {
  char buf[32];
  if (two_digit_year) {
    std::snprintf(buf, sizeof(buf), "%02u%02u%02u%02u%02u%02u", static_cast<unsigned>(t.year % 100),
                  t.month, t.day, t.hour, t.minute, t.second);
  } else {
    std::snprintf(buf, sizeof(buf), "%04u%02u%02u%02u%02u%02u", static_cast<unsigned>(t.year),
                  t.month, t.day, t.hour, t.minute, t.second);
  }
  return buf;
}

}  // namespace

Bytes Tlv(uint8_t tag, ByteSpan content) {
  Bytes out;
  out.reserve(content.size() + 5);
  out.push_back(tag);
  AppendLength(out, content.size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes Concat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (ByteSpan p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

Bytes Constructed(uint8_t tag, std::initializer_list<ByteSpan> parts) {
  return Tlv(tag, Concat(parts));
}

Bytes Sequence(std::initializer_list<ByteSpan> parts) { return Constructed(kTagSequence, parts); }

Bytes SequenceOf(const std::vector<Bytes>& elements) {
  Bytes content;
  for (const Bytes& e : elements) {
    content.insert(content.end(), e.begin(), e.end());
  }
  return Tlv(kTagSequence, content);
}

Bytes SetOf(std::vector<Bytes> elements) {
  std::stable_sort(elements.begin(), elements.end(), SetOfLess);
  Bytes content;
  for (const Bytes& e : elements) {
    content.insert(content.end(), e.begin(), e.end());
  }
  return Tlv(kTagSet, content);
}

Bytes Retag(ByteSpan der, uint8_t tag) {
  BELFRY_CHECK(!der.empty());
  Bytes out(der.begin(), der.end());
  out[0] = tag;
  return out;
}

Bytes Null() { return Bytes{kTagNull, 0x00}; }

// X.690 §11.1: TRUE is 0xff in DER.
Bytes Boolean(bool value) {
  return Bytes{kTagBoolean, 0x01, static_cast<uint8_t>(value ? 0xff : 0x00)};
}

Bytes OctetString(ByteSpan content) { return Tlv(kTagOctetString, content); }

Bytes Integer(uint64_t value) {
  std::array<uint8_t, 8> be{};
  for (size_t i = 0; i < 8; ++i) {
    be[7 - i] = static_cast<uint8_t>(value >> (8 * i));
  }
  return UnsignedInteger(be);
}

ByteSpan TrimLeadingZeros(ByteSpan magnitude) {
  size_t skip = 0;
  while (skip < magnitude.size() && magnitude[skip] == 0) {
    ++skip;
  }
  return magnitude.subspan(skip);
}

// X.690 §8.3.2: the fewest octets of two's complement, so one leading zero octet exactly
// when the top bit would otherwise read as a sign.
Bytes UnsignedInteger(ByteSpan magnitude) {
  const ByteSpan trimmed = TrimLeadingZeros(magnitude);
  Bytes content;
  if (trimmed.empty() || (trimmed[0] & 0x80) != 0) {
    content.push_back(0x00);
  }
  content.insert(content.end(), trimmed.begin(), trimmed.end());
  return Tlv(kTagInteger, content);
}

bool IsWellFormedUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<uint8_t>(text[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if ((b0 & 0xe0) == 0xc0) {
      extra = 1, cp = b0 & 0x1f, min = 0x80;
    } else if ((b0 & 0xf0) == 0xe0) {
      extra = 2, cp = b0 & 0x0f, min = 0x800;
    } else if ((b0 & 0xf8) == 0xf0) {
      extra = 3, cp = b0 & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i <= extra) {
      return false;
    }
    for (size_t k = 1; k <= extra; ++k) {
      const auto b = static_cast<uint8_t>(text[i + k]);
      if ((b & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

absl::StatusOr<Bytes> Utf8String(std::string_view text) {
  if (!IsWellFormedUtf8(text)) {
    return absl::InvalidArgumentError("text is not well-formed UTF-8");
  }
  return Tlv(kTagUtf8String, AsBytes(text));
}

absl::StatusOr<Bytes> OidContent(std::string_view dotted) {
  std::vector<Limbs> arcs;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted.find('.', start);
    const std::string_view part =
        dotted.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (arcs.size() == kOidArcsMax) {
      return absl::InvalidArgumentError("OID has too many arcs");
    }
    absl::StatusOr<Limbs> arc = ParseArc(absl::string_view(part.data(), part.size()));
    if (!arc.ok()) {
      return arc.status();
    }
    arcs.push_back(std::move(*arc));
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  // X.690 §8.19.4: the first two arcs share one subidentifier, 40 * first + second.
  if (arcs.size() < 2 || !IsSmallerThan(arcs[0], 3) ||
      (IsSmallerThan(arcs[0], 2) && !IsSmallerThan(arcs[1], 40))) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed OID \"", absl::string_view(dotted.data(), dotted.size()), "\""));
  }
  const uint32_t first = arcs[0].empty() ? 0 : arcs[0][0];
  Limbs combined = arcs[1];
  MulAdd(combined, 1, 40 * first);
  Bytes out;
  AppendBase128(out, combined);
  for (size_t i = 2; i < arcs.size(); ++i) {
    AppendBase128(out, arcs[i]);
  }
  return out;
}

Bytes Oid(std::string_view dotted) {
  absl::StatusOr<Bytes> content = OidContent(dotted);
  BELFRY_CHECK(content.ok());
  return Tlv(kTagOid, *content);
}

Bytes NamedBit(uint32_t bit) {
  BELFRY_CHECK(bit < 64);
  Bytes content(1 + bit / 8 + 1, 0x00);
  content[0] = static_cast<uint8_t>(7 - bit % 8);  // unused bits in the last octet
  content.back() = static_cast<uint8_t>(0x80 >> (bit % 8));
  return Tlv(kTagBitString, content);
}

absl::StatusOr<Bytes> SigningTime(int64_t unix_ms) {
  absl::StatusOr<CivilTime> t = ToCivil(unix_ms);
  if (!t.ok()) {
    return t.status();
  }
  const bool utc = t->year >= 1950 && t->year <= 2049;
  const std::string text = FormatSeconds(*t, utc) + "Z";
  return Tlv(utc ? kTagUtcTime : kTagGeneralizedTime, AsBytes(text));
}

absl::StatusOr<Bytes> GeneralizedTimeMs(int64_t unix_ms) {
  absl::StatusOr<CivilTime> t = ToCivil(unix_ms);
  if (!t.ok()) {
    return t.status();
  }
  std::string text = FormatSeconds(*t, false);
  if (t->millis != 0) {
    std::string fraction = {'.', static_cast<char>('0' + t->millis / 100),
                            static_cast<char>('0' + t->millis / 10 % 10),
                            static_cast<char>('0' + t->millis % 10)};
    while (fraction.back() == '0') {
      fraction.pop_back();
    }
    text += fraction;
  }
  text += "Z";
  return Tlv(kTagGeneralizedTime, AsBytes(text));
}

absl::Status CheckSingleTlv(ByteSpan der, uint8_t tag, absl::string_view what) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", why));
  };
  if (der.size() < 2 || der[0] != tag) {
    return bad(absl::StrCat("expected one DER element with tag 0x", ToHex(ByteSpan(&tag, 1))));
  }
  size_t length = der[1];
  size_t header = 2;
  if (length >= 0x80) {
    const size_t count = length & 0x7f;
    if (count == 0 || count > 3 || der.size() < 2 + count || der[2] == 0) {
      return bad("indefinite, oversized or non-minimal length");
    }
    length = 0;
    for (size_t i = 0; i < count; ++i) {
      length = (length << 8) | der[2 + i];
    }
    if (length < 0x80) {
      return bad("non-minimal length");
    }
    header += count;
  }
  if (length != der.size() - header) {
    return bad("length does not match the input");
  }
  return absl::OkStatus();
}

}  // namespace belfry::evidence::internal
