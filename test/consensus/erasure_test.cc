// Tests of consensus/internal/erasure.h: the (N, k = N−2f) Reed–Solomon code of the RBC
// (Cachin–Tessaro 2005, AVID): any k of the N stripes give the data back.
#include "consensus/internal/erasure.h"

#include <bit>
#include <catch2/catch.hpp>
#include <vector>

#include "base/bytes.h"
#include "base/rng.h"

namespace belfry::consensus::internal {
namespace {

Bytes RandomBytes(DeterministicRng& rng, size_t n) {
  Bytes out(n);
  rng.Fill(out);
  return out;
}

// The data Decode returns: the input, zero-padded to k stripes.
Bytes Padded(const Bytes& data, const ErasureCoder& coder) {
  Bytes out = data;
  out.resize(coder.StripeBytesFor(data.size()) * coder.data_stripes(), 0);
  return out;
}

TEST_CASE("Create refuses impossible codes", "[erasure]") {
  CHECK_FALSE(ErasureCoder::Create(0, 4).ok());
  CHECK_FALSE(ErasureCoder::Create(5, 4).ok());
  CHECK_FALSE(ErasureCoder::Create(2, 257).ok());
  CHECK(ErasureCoder::Create(1, 1).ok());
  CHECK(ErasureCoder::Create(86, 256).ok());
}

TEST_CASE("Stripe sizes are ceil(|data| / k), at least 1", "[erasure]") {
  const ErasureCoder coder = *ErasureCoder::Create(3, 7);
  CHECK(coder.StripeBytesFor(0) == 1);
  CHECK(coder.StripeBytesFor(1) == 1);
  CHECK(coder.StripeBytesFor(3) == 1);
  CHECK(coder.StripeBytesFor(4) == 2);
  CHECK(coder.StripeBytesFor(301) == 101);
}

TEST_CASE("The code is systematic: the first k stripes are the data", "[erasure]") {
  DeterministicRng rng(11);
  const ErasureCoder coder = *ErasureCoder::Create(3, 7);
  const Bytes data = RandomBytes(rng, 100);
  const std::vector<Bytes> stripes = coder.Encode(data);
  REQUIRE(stripes.size() == 7);
  Bytes joined;
  for (uint32_t i = 0; i < 3; ++i) {
    REQUIRE(stripes[i].size() == 34);
    joined.insert(joined.end(), stripes[i].begin(), stripes[i].end());
  }
  CHECK(joined == Padded(data, coder));
}

// Every k-subset of the N stripes, in increasing and in reversed order, decodes.
void CheckEverySubsetDecodes(uint32_t n, uint32_t f, size_t data_bytes, uint64_t seed) {
  DeterministicRng rng(seed);
  const uint32_t k = n - 2 * f;
  const ErasureCoder coder = *ErasureCoder::Create(k, n);
  const Bytes data = RandomBytes(rng, data_bytes);
  const std::vector<Bytes> stripes = coder.Encode(data);
  const Bytes expected = Padded(data, coder);
  int subsets = 0;
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    if (static_cast<uint32_t>(std::popcount(mask)) != k) {
      continue;
    }
    std::vector<IndexedStripe> chosen;
    for (uint32_t i = 0; i < n; ++i) {
      if ((mask & (1u << i)) != 0) {
        chosen.push_back(IndexedStripe{i, stripes[i]});
      }
    }
    absl::StatusOr<Bytes> decoded = coder.Decode(chosen);
    REQUIRE(decoded.ok());
    REQUIRE(*decoded == expected);
    std::vector<IndexedStripe> reversed(chosen.rbegin(), chosen.rend());
    decoded = coder.Decode(reversed);
    REQUIRE(decoded.ok());
    REQUIRE(*decoded == expected);
    ++subsets;
  }
  CHECK(subsets > 0);
}

TEST_CASE("Decoding succeeds from every k-subset, N=4 f=1", "[erasure]") {
  for (size_t bytes : {0, 1, 2, 3, 17, 64, 1000, 4099}) {
    CheckEverySubsetDecodes(4, 1, bytes, 100 + bytes);
  }
}

TEST_CASE("Decoding succeeds from every k-subset, N=7 f=2", "[erasure]") {
  for (size_t bytes : {0, 1, 2, 5, 31, 33, 1000, 4099}) {
    CheckEverySubsetDecodes(7, 2, bytes, 200 + bytes);
  }
}

TEST_CASE("Decoding succeeds from every k-subset, N=10 f=3", "[erasure]") {
  for (size_t bytes : {0, 1, 3, 257, 4096}) {
    CheckEverySubsetDecodes(10, 3, bytes, 300 + bytes);
  }
}

TEST_CASE("A code without parity (f = 0) round-trips", "[erasure]") {
  CheckEverySubsetDecodes(1, 0, 10, 1);
  CheckEverySubsetDecodes(3, 0, 10, 2);
}

TEST_CASE("Extra stripes beyond k are ignored", "[erasure]") {
  DeterministicRng rng(5);
  const ErasureCoder coder = *ErasureCoder::Create(2, 4);
  const Bytes data = RandomBytes(rng, 9);
  const std::vector<Bytes> stripes = coder.Encode(data);
  std::vector<IndexedStripe> all;
  for (uint32_t i = 0; i < 4; ++i) {
    all.push_back(IndexedStripe{3 - i, stripes[3 - i]});
  }
  absl::StatusOr<Bytes> decoded = coder.Decode(all);
  REQUIRE(decoded.ok());
  CHECK(*decoded == Padded(data, coder));
}

TEST_CASE("Decode refuses too few, repeated, out-of-range and unequal stripes", "[erasure]") {
  DeterministicRng rng(6);
  const ErasureCoder coder = *ErasureCoder::Create(3, 7);
  const std::vector<Bytes> stripes = coder.Encode(RandomBytes(rng, 30));
  const Bytes longer(stripes[2].size() + 1, 0);
  const Bytes empty;
  const auto code_of = [&](std::vector<IndexedStripe> in) {
    return coder.Decode(in).status().code();
  };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  CHECK(code_of({{0, stripes[0]}, {1, stripes[1]}}) == kInvalid);
  CHECK(code_of({{0, stripes[0]}, {1, stripes[1]}, {1, stripes[1]}}) == kInvalid);
  CHECK(code_of({{0, stripes[0]}, {1, stripes[1]}, {7, stripes[2]}}) == kInvalid);
  CHECK(code_of({{0, stripes[0]}, {1, stripes[1]}, {2, longer}}) == kInvalid);
  CHECK(code_of({{0, empty}, {1, empty}, {2, empty}}) == kInvalid);
}

TEST_CASE("A corrupted stripe changes what is decoded (so RBC must re-encode)", "[erasure]") {
  // Reed–Solomon decoding from exactly k stripes cannot detect corruption; the RBC's
  // re-encode-and-compare-root step is what catches an inconsistent proposer.
  DeterministicRng rng(8);
  const ErasureCoder coder = *ErasureCoder::Create(2, 4);
  const Bytes data = RandomBytes(rng, 20);
  std::vector<Bytes> stripes = coder.Encode(data);
  stripes[3][0] ^= 1;
  std::vector<IndexedStripe> chosen = {{0, stripes[0]}, {3, stripes[3]}};
  absl::StatusOr<Bytes> decoded = coder.Decode(chosen);
  REQUIRE(decoded.ok());
  CHECK(*decoded != Padded(data, coder));
}

}  // namespace
}  // namespace belfry::consensus::internal
