#include "threshold/internal/combine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "threshold/internal/errors.h"
#include "threshold/shamir.h"

namespace belfry::threshold::internal {

absl::Status CheckShareIndex(const PublicKeySet& keys, uint32_t index) {
  if (!keys.HasIndex(index)) {
    return MakeError(ThresholdError::kIndexOutOfRange,
                     absl::StrCat("share index ", index, " is outside 1..", keys.n()));
  }
  return absl::OkStatus();
}

absl::Status CheckSender(uint32_t sender_index, uint32_t claimed_index) {
  if (sender_index != claimed_index) {
    return MakeError(ThresholdError::kSenderMismatch,
                     absl::StrCat("share claims index ", claimed_index, " but came from index ", sender_index));
  }
  return absl::OkStatus();
}

absl::StatusOr<Point> CombineInExponent(const PublicKeySet& keys, std::span<const uint32_t> indices,
                                        std::span<const Point> values) {
  BELFRY_CHECK(indices.size() == values.size());
  for (const uint32_t index : indices) {
    if (absl::Status s = CheckShareIndex(keys, index); !s.ok()) return s;
  }
  std::vector<uint32_t> sorted(indices.begin(), indices.end());
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return MakeError(ThresholdError::kDuplicateIndex, "two shares carry the same index");
  }
  if (indices.size() < keys.threshold()) {
    return MakeError(ThresholdError::kNotEnoughShares,
                     absl::StrCat(indices.size(), " shares given; ", keys.threshold(), " are needed"));
  }
  const size_t t = keys.threshold();
  return InterpolateInExponentAtZero(indices.first(t), values.first(t));
}

}  // namespace belfry::threshold::internal
