// Tests of consensus/threshold_coin.h: the CoinScheme that binary agreement uses, over the
// threshold coin. Checks the determinism consensus/ relies on, attribution of shares to
// node ids (node k is share index k+1), and agreement across subsets of nodes.
#include "consensus/threshold_coin.h"

#include <catch2/catch.hpp>

#include "base/rng.h"
#include "test/threshold/test_util.h"
#include "threshold/errors.h"

namespace belfry::consensus {
namespace {

using threshold::testing::Subsets;

std::vector<std::unique_ptr<ThresholdCoinScheme>> MakeSchemes(uint32_t n, uint32_t f, uint64_t seed) {
  DeterministicRng rng(seed);
  absl::StatusOr<threshold::DealtKeySet> dealt = threshold::Deal(n, f, rng);
  REQUIRE(dealt.ok());
  std::vector<std::unique_ptr<ThresholdCoinScheme>> schemes;
  for (threshold::KeyShare& share : dealt->shares) {
    auto scheme = ThresholdCoinScheme::Create(std::move(share), dealt->public_keys);
    REQUIRE(scheme.ok());
    schemes.push_back(std::move(*scheme));
  }
  return schemes;
}

TEST_CASE("ThresholdCoinScheme: MakeShare is deterministic and verifies from its own node id",
          "[threshold][coin_scheme]") {
  auto schemes = MakeSchemes(4, 1, 1);
  auto again = MakeSchemes(4, 1, 1);  // same seed: same keys, as after a restart
  for (NodeId k = 0; k < 4; ++k) {
    const std::string share = schemes[k]->MakeShare("epoch/3/aba/1/round/0");
    CHECK(share == schemes[k]->MakeShare("epoch/3/aba/1/round/0"));
    CHECK(share == again[k]->MakeShare("epoch/3/aba/1/round/0"));
    for (NodeId verifier = 0; verifier < 4; ++verifier) {
      CHECK(schemes[verifier]->VerifyShare(k, "epoch/3/aba/1/round/0", share));
    }
  }
}

TEST_CASE("ThresholdCoinScheme: VerifyShare refuses a share from another node id, name or garbage",
          "[threshold][coin_scheme]") {
  auto schemes = MakeSchemes(4, 1, 2);
  const std::string share_of_2 = schemes[2]->MakeShare("name");
  CHECK(schemes[0]->VerifyShare(2, "name", share_of_2));
  CHECK(!schemes[0]->VerifyShare(1, "name", share_of_2));  // node 1 relaying node 2's share
  CHECK(!schemes[0]->VerifyShare(4, "name", share_of_2));  // no such node
  CHECK(!schemes[0]->VerifyShare(2, "other name", share_of_2));
  CHECK(!schemes[0]->VerifyShare(2, "name", "not a share"));
  std::string flipped = share_of_2;
  flipped[flipped.size() - 3] ^= 1;
  CHECK(!schemes[0]->VerifyShare(2, "name", flipped));
}

TEST_CASE("ThresholdCoinScheme: Combine agrees across every (f+1)-subset and every combiner",
          "[threshold][coin_scheme]") {
  auto schemes = MakeSchemes(7, 2, 3);
  for (int round = 0; round < 4; ++round) {
    const std::string name = "epoch/9/aba/4/round/" + std::to_string(round);
    std::vector<std::string> shares;
    for (auto& s : schemes) shares.push_back(s->MakeShare(name));
    std::optional<CoinValue> first;
    for (const std::vector<uint32_t>& subset : Subsets(7, 3)) {
      std::vector<std::pair<NodeId, std::string>> chosen;
      for (uint32_t index : subset) chosen.emplace_back(index - 1, shares[index - 1]);
      const std::optional<CoinValue> coin = schemes[subset[0] - 1]->Combine(name, chosen);
      REQUIRE(coin.has_value());
      if (!first) first = coin;
      REQUIRE(coin->bytes == first->bytes);
      REQUIRE(coin->bit() == first->bit());
    }
  }
}

TEST_CASE("ThresholdCoinScheme: Combine needs f+1 shares from distinct, matching nodes",
          "[threshold][coin_scheme]") {
  auto schemes = MakeSchemes(4, 1, 4);
  const std::string s0 = schemes[0]->MakeShare("n");
  const std::string s1 = schemes[1]->MakeShare("n");
  CHECK(!schemes[0]->Combine("n", {{0, s0}}).has_value());
  CHECK(!schemes[0]->Combine("n", {{0, s0}, {0, s0}}).has_value());     // one node twice
  CHECK(!schemes[0]->Combine("n", {{0, s0}, {2, s1}}).has_value());     // s1 claims index 2
  CHECK(!schemes[0]->Combine("n", {{0, s0}, {1, "garbage"}}).has_value());
  CHECK(schemes[0]->Combine("n", {{0, s0}, {0, s0}, {1, s1}}).has_value());  // duplicate skipped
  CHECK(schemes[0]->Combine("n", {{0, s0}, {1, s1}})->bytes ==
        schemes[3]->Combine("n", {{1, s1}, {0, s0}})->bytes);
}

TEST_CASE("ThresholdCoinScheme: Create refuses a key share from another key set", "[threshold][coin_scheme]") {
  DeterministicRng rng(5);
  absl::StatusOr<threshold::DealtKeySet> a = threshold::Deal(4, 1, rng);
  absl::StatusOr<threshold::DealtKeySet> b = threshold::Deal(4, 1, rng);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  const absl::Status status = ThresholdCoinScheme::Create(std::move(a->shares[0]), b->public_keys).status();
  CHECK(threshold::ThresholdErrorOf(status) == threshold::ThresholdError::kKeyMismatch);
}

}  // namespace
}  // namespace belfry::consensus
