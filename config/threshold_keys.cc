#include "config/threshold_keys.h"

#include "absl/strings/str_cat.h"
#include "base/bytes.h"

namespace belfry::config {
namespace {

absl::StatusOr<threshold::Point> PointFromHex(const std::string& hex, absl::string_view what) {
  absl::StatusOr<Bytes> bytes = FromHex(hex);
  if (!bytes.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": not hex"));
  absl::StatusOr<threshold::Point> p = threshold::Point::FromBytes(*bytes);
  if (!p.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not a valid group element"));
  }
  return *p;
}

}  // namespace

absl::StatusOr<threshold::PublicKeySet> PublicKeySetFromConfig(const pb::ThresholdPublicKeys& keys,
                                                               uint32_t f) {
  if (keys.threshold() != f + 1) {
    return absl::InvalidArgumentError("threshold key set: threshold is not f+1");
  }
  absl::StatusOr<threshold::Point> pk = PointFromHex(keys.public_key_hex(), "public_key_hex");
  if (!pk.ok()) return pk.status();
  std::vector<threshold::Point> vks;
  for (int i = 0; i < keys.verification_keys_hex_size(); ++i) {
    absl::StatusOr<threshold::Point> vk =
        PointFromHex(keys.verification_keys_hex(i), absl::StrCat("verification_keys_hex[", i, "]"));
    if (!vk.ok()) return vk.status();
    vks.push_back(*vk);
  }
  return threshold::PublicKeySet::Create(f, *pk, std::move(vks));
}

pb::ThresholdPublicKeys PublicKeySetToConfig(const threshold::PublicKeySet& keys) {
  pb::ThresholdPublicKeys out;
  out.set_threshold(keys.threshold());
  out.set_public_key_hex(ToHex(keys.public_key().span()));
  for (uint32_t i = 1; i <= keys.n(); ++i) {
    out.add_verification_keys_hex(ToHex(keys.verification_key(i).span()));
  }
  return out;
}

}  // namespace belfry::config
