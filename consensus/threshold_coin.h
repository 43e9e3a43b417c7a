// consensus/threshold_coin.h — the production common coin: CoinScheme over the
// Cachin–Kursawe–Shoup threshold coin of threshold/coin.h.
//
// Node k (NodeId, 0-based) holds coin key share index k+1. Shares travel as serialized
// pb::ThresholdCoinShare. Every method is a deterministic function of its inputs and the
// key share, as consensus/ requires: MakeShare returns the same bytes for the same name.
#ifndef BELFRY_CONSENSUS_THRESHOLD_COIN_H_
#define BELFRY_CONSENSUS_THRESHOLD_COIN_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "consensus/coin.h"
#include "consensus/step.h"
#include "threshold/coin.h"
#include "threshold/keys.h"

namespace belfry::consensus {

// ThresholdCoinScheme: one node's coin. Owns the node's coin key share (through a
// threshold::CoinSigner, which wipes it on destruction) and the public key set. Const in
// effect and free of mutable state, so concurrent calls are safe, though consensus/ makes
// them from one thread.
class ThresholdCoinScheme final : public CoinScheme {
 public:
  // kKeyMismatch (threshold/errors.h) unless `share` belongs to `keys`.
  static absl::StatusOr<std::unique_ptr<ThresholdCoinScheme>> Create(threshold::KeyShare share,
                                                                     threshold::PublicKeySet keys);

  // The share index of node `id` (id + 1).
  static uint32_t ShareIndexOf(NodeId id) { return id + 1; }

  // This node's serialized coin share of `name`. A name longer than
  // threshold::kCoinNameBytesMax is a bug in the caller (names are built locally) and aborts.
  std::string MakeShare(std::string_view name) override;
  // Whether `share` decodes and is node `from`'s valid share of `name`: a share claiming
  // another node's index, or with a proof that fails, is refused.
  bool VerifyShare(NodeId from, std::string_view name, std::string_view share) override;
  // The coin from the first f+1 shares from distinct nodes that decode and claim their
  // sender's index (VerifyShare is the caller's precondition and is not repeated);
  // entries that do not qualify are skipped. nullopt if fewer than f+1 remain. The 32
  // bytes are threshold::CombineCoin's, so bit() is the same bit as there.
  std::optional<CoinValue> Combine(std::string_view name,
                                   const std::vector<std::pair<NodeId, std::string>>& shares) override;

 private:
  ThresholdCoinScheme(threshold::CoinSigner signer, threshold::PublicKeySet keys)
      : signer_(std::move(signer)), keys_(std::move(keys)) {}

  threshold::CoinSigner signer_;
  threshold::PublicKeySet keys_;
};

}  // namespace belfry::consensus

#endif  // BELFRY_CONSENSUS_THRESHOLD_COIN_H_
