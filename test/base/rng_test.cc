#include "base/rng.h"

#include <catch2/catch.hpp>

namespace belfry {
namespace {

TEST_CASE("DeterministicRng is fixed by its seed (known answer)", "[base]") {
  DeterministicRng a(42);
  DeterministicRng b(42);
  DeterministicRng c(43);
  const uint64_t first = a.NextRaw();
  CHECK(first == b.NextRaw());
  CHECK(first != c.NextRaw());
  // Pinned so that an accidental change of the algorithm fails loudly: simulator seeds
  // printed by old failures must keep replaying the same schedule.
  DeterministicRng pinned(1);
  CHECK(pinned.NextRaw() == 0xb3f2af6d0fc710c5ULL);
}

TEST_CASE("Uniform stays below its bound and covers it", "[base]") {
  DeterministicRng rng(7);
  bool seen[5] = {};
  for (int i = 0; i < 1000; ++i) {
    const uint64_t v = rng.Uniform(5);
    REQUIRE(v < 5);
    seen[v] = true;
  }
  for (bool s : seen) CHECK(s);
}

TEST_CASE("CryptoRng produces different outputs", "[base]") {
  CryptoRng rng;
  CHECK(rng.Next64() != rng.Next64());
}

}  // namespace
}  // namespace belfry
