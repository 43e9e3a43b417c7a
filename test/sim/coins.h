// test/sim/coins.h — the coin schemes a simulation runs with.
//
// kFast is the stand-in for tests and simulation (consensus/aba/testing/fake_coin.h): cheap
// hashes instead of group operations, with the same contract (deterministic shares,
// checkable per sender, any f+1 combine to one value). kThreshold is the production ThresholdCoinScheme over a
// key set dealt from the run's seed, so a real-coin run is as reproducible as any other.
#ifndef BELFRY_TEST_SIM_COINS_H_
#define BELFRY_TEST_SIM_COINS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consensus/coin.h"

namespace belfry::sim {

enum class CoinKind : uint8_t { kFast, kThreshold };

const char* CoinKindName(CoinKind kind);
std::optional<CoinKind> ParseCoinKind(const std::string& name);

// One CoinScheme per node (index = NodeId), all of one key set.
std::vector<std::unique_ptr<consensus::CoinScheme>> MakeCoins(CoinKind kind, uint32_t n,
                                                              uint32_t f, uint64_t seed);

}  // namespace belfry::sim

#endif  // BELFRY_TEST_SIM_COINS_H_
