// base/rng.h — randomness as an injected dependency.
//
// Nothing in consensus/ or the 3S state machine creates randomness: a caller hands in an
// Rng. Production code passes a CryptoRng (libsodium's randombytes); the simulator and
// known-answer tests pass a DeterministicRng, whose output is fixed by its seed on every
// platform and standard library (so no std::*_distribution anywhere: their outputs are
// implementation-defined).
#ifndef BELFRY_BASE_RNG_H_
#define BELFRY_BASE_RNG_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace belfry {

// Rng: a source of random bytes. Not thread-safe; give each thread its own.
class Rng {
 public:
  virtual ~Rng() = default;
  // Fills `out` with random bytes.
  virtual void Fill(std::span<uint8_t> out) = 0;

  // A uniformly random 64-bit value.
  uint64_t Next64();
  // A uniformly random value in [0, bound); bound must be > 0. Unbiased (rejection sampling).
  uint64_t Uniform(uint64_t bound);
};

// DeterministicRng: xoshiro256** seeded through splitmix64. Fixed algorithm, so a seed
// means the same stream everywhere. Not for secrets.
class DeterministicRng final : public Rng {
 public:
  explicit DeterministicRng(uint64_t seed);
  void Fill(std::span<uint8_t> out) override;
  uint64_t NextRaw();

 private:
  std::array<uint64_t, 4> s_;
};

// CryptoRng: libsodium's randombytes_buf (the OS CSPRNG). Thread-safe; stateless.
class CryptoRng final : public Rng {
 public:
  void Fill(std::span<uint8_t> out) override;
};

}  // namespace belfry

#endif  // BELFRY_BASE_RNG_H_
