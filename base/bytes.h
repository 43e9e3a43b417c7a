// base/bytes.h — reading untrusted bytes through one bounded cursor, and writing
// canonical encodings.
//
// Every parser of bytes from the network, a peer or a file goes through ByteReader: it
// never reads past its end and reports a short input as a Status, so no caller does
// pointer arithmetic on untrusted data. ByteWriter produces the matching big-endian,
// length-prefixed encodings used for hashing (transcripts, digests, signed payloads).
#ifndef BELFRY_BASE_BYTES_H_
#define BELFRY_BASE_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

inline ByteSpan AsBytes(std::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsStringView(ByteSpan b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// ByteReader: a cursor over bytes it does not own. Every read is bounds-checked and
// fails with OUT_OF_RANGE instead of reading past the end. Not thread-safe.
class ByteReader {
 public:
  explicit ByteReader(ByteSpan data) : data_(data) {}
  explicit ByteReader(std::string_view data) : data_(AsBytes(data)) {}

  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return remaining() == 0; }

  absl::StatusOr<uint8_t> ReadU8();
  absl::StatusOr<uint32_t> ReadU32();  // big-endian
  absl::StatusOr<uint64_t> ReadU64();  // big-endian
  // The next n bytes, as a view into the underlying data.
  absl::StatusOr<ByteSpan> ReadBytes(size_t n);
  // A u32 length prefix then that many bytes; refuses lengths above max_bytes.
  absl::StatusOr<ByteSpan> ReadLengthPrefixed(size_t max_bytes);
  // OK only when every byte was consumed (trailing garbage is an error).
  absl::Status ExpectEnd() const;

 private:
  ByteSpan data_;
  size_t pos_ = 0;
};

// ByteWriter: appends canonical encodings to a growing buffer.
class ByteWriter {
 public:
  ByteWriter& U8(uint8_t v);
  ByteWriter& U32(uint32_t v);  // big-endian
  ByteWriter& U64(uint64_t v);  // big-endian
  ByteWriter& Raw(ByteSpan b);
  ByteWriter& Raw(std::string_view s) { return Raw(AsBytes(s)); }
  // u32 length then the bytes: unambiguous concatenation for hashing.
  ByteWriter& LengthPrefixed(ByteSpan b);
  ByteWriter& LengthPrefixed(std::string_view s) { return LengthPrefixed(AsBytes(s)); }

  const Bytes& bytes() const { return buf_; }
  Bytes Take() { return std::move(buf_); }

 private:
  Bytes buf_;
};

// Lower-case hex, for logs of public values (never of secrets).
std::string ToHex(ByteSpan b);
absl::StatusOr<Bytes> FromHex(std::string_view hex);

// Constant-time equality for secrets and MACs (libsodium's sodium_memcmp).
bool ConstantTimeEquals(ByteSpan a, ByteSpan b);

// Overwrites memory with zeros in a way the compiler cannot elide (sodium_memzero).
void SecureWipe(void* p, size_t n);

}  // namespace belfry

#endif  // BELFRY_BASE_BYTES_H_
