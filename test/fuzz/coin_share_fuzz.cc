// Fuzz target: threshold coin shares as a peer sends them — threshold::CoinShare::Parse,
// VerifyCoinShare / VerifyCoinShareFrom (threshold/coin.h) and the production
// consensus::ThresholdCoinScheme (consensus/threshold_coin.h) over the fixed coin keys.
//
// Input: one byte naming the sender (byte % 4), then the serialized share. Properties:
// nothing crashes; a parsed share re-serializes to a share that parses equal; the scheme's
// VerifyShare agrees with Parse + VerifyCoinShareFrom; a share that verifies combines with
// an honest share to the same coin as two honest shares (soundness of the proof).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "consensus/threshold_coin.h"
#include "test/fuzz/fixtures.h"
#include "threshold/coin.h"

namespace {

namespace fuzz = belfry::fuzz;
namespace threshold = belfry::threshold;
using belfry::consensus::ThresholdCoinScheme;
using fuzz::Require;

// One scheme per node, each holding that node's key share of the fixed coin key set.
const std::vector<std::unique_ptr<ThresholdCoinScheme>>& Schemes() {
  static const auto* schemes = [] {
    auto* out = new std::vector<std::unique_ptr<ThresholdCoinScheme>>();
    for (uint32_t i = 0; i < fuzz::kN; ++i) {
      threshold::DealtKeySet dealt = fuzz::DealFixed(fuzz::kCoinKeySeed);
      auto scheme = ThresholdCoinScheme::Create(std::move(dealt.shares[i]), dealt.public_keys);
      Require(scheme.ok(), "building a coin scheme");
      out->push_back(std::move(*scheme));
    }
    return out;
  }();
  return *schemes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& schemes = Schemes();
  const threshold::PublicKeySet& keys = fuzz::CoinPublicKeys();
  const uint32_t from = data[0] % fuzz::kN;
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  absl::StatusOr<threshold::CoinShare> share = threshold::CoinShare::Parse(belfry::AsBytes(bytes));
  bool valid_from = false;
  if (share.ok()) {
    absl::StatusOr<threshold::CoinShare> again = threshold::CoinShare::Parse(belfry::AsBytes(share->Serialize()));
    Require(again.ok() && *again == *share, "a parsed share round-trips");
    const absl::Status any = threshold::VerifyCoinShare(keys, fuzz::kCoinName, *share);
    valid_from = threshold::VerifyCoinShareFrom(keys, ThresholdCoinScheme::ShareIndexOf(from),
                                                fuzz::kCoinName, *share).ok();
    Require(!valid_from || any.ok(), "a share valid from its sender is valid");
  }
  // Node 0 checks the share as it would a peer's.
  const bool accepted = schemes[0]->VerifyShare(from, fuzz::kCoinName, bytes);
  Require(accepted == valid_from, "the scheme accepts exactly the valid shares");
  if (accepted) {
    const uint32_t other = (from + 1) % fuzz::kN;
    const uint32_t third = (from + 2) % fuzz::kN;
    auto with_fuzzed = schemes[0]->Combine(
        fuzz::kCoinName, {{from, bytes}, {other, schemes[other]->MakeShare(fuzz::kCoinName)}});
    auto honest = schemes[0]->Combine(fuzz::kCoinName, {{other, schemes[other]->MakeShare(fuzz::kCoinName)},
                                                        {third, schemes[third]->MakeShare(fuzz::kCoinName)}});
    Require(with_fuzzed.has_value() && honest.has_value() && with_fuzzed->bytes == honest->bytes,
            "a share that verifies gives the one coin");
  }
  return 0;
}
