// consensus/coin.h — the common coin as binary agreement sees it.
//
// ABA needs, per round, a random bit that no f nodes can predict before f+1 correct
// nodes have released their shares (Cachin–Kursawe–Shoup). The production scheme is the
// threshold coin of threshold/ (ThresholdCoinScheme); the simulator may use a fast
// stand-in with the same unpredictability contract under its adversary model.
//
// Every method is a deterministic function of its inputs and the node's key material, so
// consensus/ stays reproducible: the share a node makes for a name is always the same.
#ifndef BELFRY_CONSENSUS_COIN_H_
#define BELFRY_CONSENSUS_COIN_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "consensus/step.h"

namespace belfry::consensus {

// CoinValue: the combined coin — 32 unpredictable bytes. ABA uses bit(); the epoch driver
// uses all 32 bytes to seed the order in which it lays out a decided batch.
struct CoinValue {
  std::array<uint8_t, 32> bytes{};
  bool bit() const { return (bytes[0] & 1) != 0; }
};

// CoinScheme: one node's view of the coin — it can make its own share for a name, check
// anyone's share, and combine f+1 checked shares. Implementations hold the node's secret
// key share; they are not thread-safe unless they say so.
class CoinScheme {
 public:
  virtual ~CoinScheme() = default;

  // This node's share of the coin called `name`, serialized.
  virtual std::string MakeShare(std::string_view name) = 0;
  // Whether `share` is node `from`'s valid share of the coin called `name`.
  virtual bool VerifyShare(NodeId from, std::string_view name, std::string_view share) = 0;
  // The coin's value from at least f+1 shares that VerifyShare accepted, each from a
  // distinct node. Any f+1 valid shares give the same value. nullopt if fewer are given.
  virtual std::optional<CoinValue> Combine(std::string_view name,
                                      const std::vector<std::pair<NodeId, std::string>>& shares) = 0;
};

}  // namespace belfry::consensus

#endif  // BELFRY_CONSENSUS_COIN_H_
