#include "threshold/internal/transcript.h"

#include "base/check.h"
#include "threshold/internal/sodium.h"

namespace belfry::threshold::internal {

Transcript::Transcript(std::string_view domain) {
  EnsureSodium();
  crypto_hash_sha512_init(&state_);
  Append(domain);
}

Transcript::~Transcript() { SecureWipe(&state_, sizeof(state_)); }

Transcript& Transcript::Append(ByteSpan bytes) {
  BELFRY_CHECK(!finalized_);
  BELFRY_CHECK(bytes.size() <= UINT32_MAX);
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  const uint8_t len[4] = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                          static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  crypto_hash_sha512_update(&state_, len, sizeof(len));
  crypto_hash_sha512_update(&state_, bytes.data(), bytes.size());
  return *this;
}

Transcript& Transcript::AppendU32(uint32_t v) {
  const uint8_t be[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                         static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  return Append(ByteSpan(be, sizeof(be)));
}

std::array<uint8_t, 64> Transcript::Finalize() {
  BELFRY_CHECK(!finalized_);
  finalized_ = true;
  std::array<uint8_t, 64> out;
  crypto_hash_sha512_final(&state_, out.data());
  return out;
}

Scalar Transcript::FinalizeToScalar() {
  std::array<uint8_t, 64> digest = Finalize();
  Scalar s = Scalar::FromUniformBytes(digest);
  SecureWipe(digest.data(), digest.size());
  return s;
}

Point Transcript::FinalizeToPoint() {
  const std::array<uint8_t, 64> digest = Finalize();
  return Point::FromUniformBytes(digest);
}

}  // namespace belfry::threshold::internal
