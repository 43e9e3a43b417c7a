#include "test/sim/coins.h"

#include <utility>

#include "base/check.h"
#include "base/rng.h"
#include "consensus/aba/testing/fake_coin.h"
#include "consensus/threshold_coin.h"
#include "threshold/keys.h"

namespace belfry::sim {

const char* CoinKindName(CoinKind kind) {
  return kind == CoinKind::kFast ? "fast" : "threshold";
}

std::optional<CoinKind> ParseCoinKind(const std::string& name) {
  if (name == "fast") return CoinKind::kFast;
  if (name == "threshold") return CoinKind::kThreshold;
  return std::nullopt;
}

std::vector<std::unique_ptr<consensus::CoinScheme>> MakeCoins(CoinKind kind, uint32_t n,
                                                              uint32_t f, uint64_t seed) {
  std::vector<std::unique_ptr<consensus::CoinScheme>> coins;
  DeterministicRng rng(seed ^ 0xc01dc0de5eedULL);
  if (kind == CoinKind::kFast) {
    const uint64_t cluster_seed = rng.NextRaw();
    for (uint32_t i = 0; i < n; ++i) {
      coins.push_back(std::make_unique<consensus::aba::testing::FakeCoin>(
          cluster_seed, consensus::NetworkInfo{i, n, f}));
    }
    return coins;
  }
  absl::StatusOr<threshold::DealtKeySet> dealt = threshold::Deal(n, f, rng);
  BELFRY_CHECK(dealt.ok());
  for (uint32_t i = 0; i < n; ++i) {
    auto c = consensus::ThresholdCoinScheme::Create(std::move(dealt->shares[i]),
                                                    dealt->public_keys);
    BELFRY_CHECK(c.ok());
    coins.push_back(*std::move(c));
  }
  return coins;
}

}  // namespace belfry::sim
