// consensus/aba/testing/fake_coin.h — a fast, deterministic stand-in for the threshold coin.
//
// For tests and the simulator only: it keeps the shape of the threshold coin (every node
// has its own share of each coin, a share can be checked against its sender, and a coin
// needs f+1 valid shares from distinct nodes to combine) without any cryptography, so
// that thousands of seeded runs take seconds. Everything derives from a 64-bit seed that
// all nodes of one simulated cluster share, so it hides nothing from code that knows the
// seed: an adversary model must learn coins only through Combine, from shares it has
// seen, exactly as with the real coin. Never use it outside tests.
#ifndef BELFRY_CONSENSUS_ABA_TESTING_FAKE_COIN_H_
#define BELFRY_CONSENSUS_ABA_TESTING_FAKE_COIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "consensus/coin.h"
#include "consensus/step.h"

namespace belfry::consensus::aba::testing {

// FakeCoin: node `net.self`'s view of the stand-in coin of the cluster named by `seed`.
// A share is 16 bytes, a keyed hash of (seed, node, name); any other bytes are an invalid
// share. The coin of a name is 32 bytes of keyed hashes of (seed, name). Deterministic and
// pure; not thread-safe only in that it counts calls.
class FakeCoin final : public CoinScheme {
 public:
  FakeCoin(uint64_t seed, NetworkInfo net) : seed_(seed), net_(net) {}

  std::string MakeShare(std::string_view name) override;
  bool VerifyShare(NodeId from, std::string_view name, std::string_view share) override;
  // nullopt unless `shares` holds valid shares from at least f+1 distinct nodes.
  std::optional<CoinValue> Combine(
      std::string_view name, const std::vector<std::pair<NodeId, std::string>>& shares) override;

  // The share node `node` makes for `name`: what a Byzantine test node sends when it
  // plays by the rules, or mangles when it does not.
  std::string ShareOf(NodeId node, std::string_view name) const;
  // The coin of `name` without any share. For property checkers and statistics only; an
  // adversary that calls it is stronger than the model allows.
  CoinValue ValueForChecking(std::string_view name) const;

  // How many VerifyShare calls this instance answered (tests check verification is not
  // repeated for a sender that already failed).
  uint64_t verify_calls() const { return verify_calls_; }

 private:
  uint64_t seed_;
  NetworkInfo net_;
  uint64_t verify_calls_ = 0;
};

}  // namespace belfry::consensus::aba::testing

#endif  // BELFRY_CONSENSUS_ABA_TESTING_FAKE_COIN_H_
