#include "base/rng.h"

#include <sodium.h>

#include <cstring>

#include "base/check.h"

namespace belfry {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t Rng::Next64() {
  uint8_t buf[8];
  Fill(buf);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(buf[i]) << (8 * i);
  return v;
}

uint64_t Rng::Uniform(uint64_t bound) {
  BELFRY_CHECK(bound > 0);
  // Reject the top partial range so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  for (;;) {
    const uint64_t v = Next64();
    if (v < limit) return v % bound;
  }
}

DeterministicRng::DeterministicRng(uint64_t seed) {
  uint64_t sm = seed;
  for (auto& word : s_) word = SplitMix64(sm);
}

uint64_t DeterministicRng::NextRaw() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

void DeterministicRng::Fill(std::span<uint8_t> out) {
  size_t i = 0;
  while (i < out.size()) {
    const uint64_t v = NextRaw();
    for (int b = 0; b < 8 && i < out.size(); ++b, ++i) {
      out[i] = static_cast<uint8_t>(v >> (8 * b));
    }
  }
}

void CryptoRng::Fill(std::span<uint8_t> out) {
  BELFRY_CHECK(sodium_init() >= 0);
  randombytes_buf(out.data(), out.size());
}

}  // namespace belfry
