#include "consensus/threshold_coin.h"

#include <set>

#include "base/check.h"
#include "base/status.h"

namespace belfry::consensus {

absl::StatusOr<std::unique_ptr<ThresholdCoinScheme>> ThresholdCoinScheme::Create(
    threshold::KeyShare share, threshold::PublicKeySet keys) {
  BELFRY_RETURN_IF_ERROR(threshold::CheckKeyShareMatches(share, keys));
  // Not make_unique: the constructor is private.
  return std::unique_ptr<ThresholdCoinScheme>(
      new ThresholdCoinScheme(threshold::CoinSigner(std::move(share)), std::move(keys)));
}

std::string ThresholdCoinScheme::MakeShare(std::string_view name) {
  absl::StatusOr<threshold::CoinShare> share = signer_.MakeShare(name);
  BELFRY_CHECK(share.ok());  // only an over-long name fails, and names are built locally
  return share->Serialize();
}

bool ThresholdCoinScheme::VerifyShare(NodeId from, std::string_view name, std::string_view share) {
  if (!keys_.HasIndex(ShareIndexOf(from))) return false;
  absl::StatusOr<threshold::CoinShare> parsed = threshold::CoinShare::Parse(AsBytes(share));
  if (!parsed.ok()) return false;
  return threshold::VerifyCoinShareFrom(keys_, ShareIndexOf(from), name, *parsed).ok();
}

std::optional<CoinValue> ThresholdCoinScheme::Combine(
    std::string_view name, const std::vector<std::pair<NodeId, std::string>>& shares) {
  std::vector<threshold::CoinShare> usable;
  std::set<NodeId> seen;
  for (const auto& [from, bytes] : shares) {
    if (usable.size() == keys_.threshold()) break;
    if (!keys_.HasIndex(ShareIndexOf(from)) || !seen.insert(from).second) continue;
    absl::StatusOr<threshold::CoinShare> parsed = threshold::CoinShare::Parse(AsBytes(bytes));
    if (!parsed.ok() || parsed->index != ShareIndexOf(from)) continue;
    usable.push_back(*std::move(parsed));
  }
  if (usable.size() < keys_.threshold()) return std::nullopt;
  absl::StatusOr<threshold::CoinValue> coin = threshold::CombineCoin(keys_, name, usable);
  if (!coin.ok()) return std::nullopt;
  CoinValue value;
  value.bytes = coin->bytes;
  return value;
}

}  // namespace belfry::consensus
