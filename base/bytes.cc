#include "base/bytes.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"

namespace belfry {

absl::StatusOr<uint8_t> ByteReader::ReadU8() {
  if (remaining() < 1) return absl::OutOfRangeError("input ends before a 1-byte field");
  return data_[pos_++];
}

absl::StatusOr<uint32_t> ByteReader::ReadU32() {
  if (remaining() < 4) return absl::OutOfRangeError("input ends before a 4-byte field");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | data_[pos_++];
  return v;
}

absl::StatusOr<uint64_t> ByteReader::ReadU64() {
  if (remaining() < 8) return absl::OutOfRangeError("input ends before an 8-byte field");
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | data_[pos_++];
  return v;
}

absl::StatusOr<ByteSpan> ByteReader::ReadBytes(size_t n) {
  if (remaining() < n) {
    return absl::OutOfRangeError(
        absl::StrCat("input ends before a ", n, "-byte field (", remaining(), " left)"));
  }
  ByteSpan out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

absl::StatusOr<ByteSpan> ByteReader::ReadLengthPrefixed(size_t max_bytes) {
  absl::StatusOr<uint32_t> len = ReadU32();
  if (!len.ok()) return len.status();
  if (*len > max_bytes) {
    return absl::OutOfRangeError(
        absl::StrCat("length prefix ", *len, " exceeds the limit of ", max_bytes));
  }
  return ReadBytes(*len);
}

absl::Status ByteReader::ExpectEnd() const {
  if (remaining() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(remaining(), " trailing bytes"));
  }
  return absl::OkStatus();
}

ByteWriter& ByteWriter::U8(uint8_t v) {
  buf_.push_back(v);
  return *this;
}

ByteWriter& ByteWriter::U32(uint32_t v) {
  for (int i = 3; i >= 0; --i) buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return *this;
}

ByteWriter& ByteWriter::U64(uint64_t v) {
  for (int i = 7; i >= 0; --i) buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return *this;
}

ByteWriter& ByteWriter::Raw(ByteSpan b) {
  buf_.insert(buf_.end(), b.begin(), b.end());
  return *this;
}

ByteWriter& ByteWriter::LengthPrefixed(ByteSpan b) {
  U32(static_cast<uint32_t>(b.size()));
  return Raw(b);
}

std::string ToHex(ByteSpan b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (uint8_t c : b) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

absl::StatusOr<Bytes> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return absl::InvalidArgumentError("hex string has odd length");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("hex string has a non-hex digit");
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

bool ConstantTimeEquals(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void SecureWipe(void* p, size_t n) {
  if (n != 0) sodium_memzero(p, n);
}

}  // namespace belfry
