// test/threshold/rsa_test_util.h — fixed threshold RSA key sets for the tests, dealt from
// the safe primes in testdata/rsa_safe_primes.txt so that no test waits for a safe-prime
// search.
#ifndef BELFRY_TEST_THRESHOLD_RSA_TEST_UTIL_H_
#define BELFRY_TEST_THRESHOLD_RSA_TEST_UTIL_H_

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/rng.h"
#include "test/threshold/test_util.h"
#include "threshold/rsa/keys.h"
#include "threshold/rsa/signature.h"

namespace belfry::threshold::rsa::testing {

// The named safe primes of testdata/rsa_safe_primes.txt ("p512", "q512", "p1024", ...).
inline const std::map<std::string, Bytes>& SafePrimes() {
  static const std::map<std::string, Bytes>* primes = [] {
    auto* out = new std::map<std::string, Bytes>();
    std::ifstream in(std::string(BELFRY_THRESHOLD_TESTDATA_DIR) + "/rsa_safe_primes.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream fields(line);
      std::string name, equals, hex;
      fields >> name >> equals >> hex;
      if (hex.size() % 2 != 0) hex = "0" + hex;
      (*out)[name] = threshold::testing::MustFromHex(hex);
    }
    return out;
  }();
  REQUIRE(primes->size() == 6);
  return *primes;
}

// A key set for n nodes tolerating f, from the primes p<half_bits> and q<half_bits> (a
// modulus of 2·half_bits bits) and a DeterministicRng with `seed`.
inline DealtKeySet FixedKeySet(uint32_t n, uint32_t f, uint64_t seed = 1, uint32_t half_bits = 512) {
  DeterministicRng rng(seed);
  const std::string bits = std::to_string(half_bits);
  absl::StatusOr<DealtKeySet> dealt = DealFromPrimes(n, f, SafePrimes().at("p" + bits), SafePrimes().at("q" + bits), rng);
  INFO("status: " << dealt.status().ToString());
  REQUIRE(dealt.ok());
  return std::move(*dealt);
}

// The key set's public keys and one signer per share (signers[k] has index k+1).
struct RsaCluster {
  PublicKeySet keys;
  std::vector<ShareSigner> signers;
};

inline RsaCluster MakeCluster(uint32_t n, uint32_t f, uint64_t seed = 1) {
  DealtKeySet dealt = FixedKeySet(n, f, seed);
  RsaCluster c{std::move(dealt.public_keys), {}};
  for (KeyShare& share : dealt.shares) c.signers.emplace_back(std::move(share));
  return c;
}

inline std::vector<SignatureShare> AllShares(const RsaCluster& c, ByteSpan message) {
  std::vector<SignatureShare> shares;
  for (const ShareSigner& signer : c.signers) {
    absl::StatusOr<SignatureShare> share = signer.MakeShare(message);
    REQUIRE(share.ok());
    shares.push_back(*share);
  }
  return shares;
}

}  // namespace belfry::threshold::rsa::testing

#endif  // BELFRY_TEST_THRESHOLD_RSA_TEST_UTIL_H_
