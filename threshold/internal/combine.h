// threshold/internal/combine.h — the checks and interpolation shared by CombineCoin and
// CombineDecryptionShares.
#ifndef BELFRY_THRESHOLD_INTERNAL_COMBINE_H_
#define BELFRY_THRESHOLD_INTERNAL_COMBINE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "threshold/group.h"
#include "threshold/keys.h"

namespace belfry::threshold::internal {

// Interpolates share values in the exponent at zero using the first f+1 entries, after
// refusing an index outside 1..n (kIndexOutOfRange), a repeated index anywhere
// (kDuplicateIndex), and fewer than f+1 entries (kNotEnoughShares).
absl::StatusOr<Point> CombineInExponent(const PublicKeySet& keys, std::span<const uint32_t> indices,
                                        std::span<const Point> values);

// kIndexOutOfRange unless keys.HasIndex(index).
absl::Status CheckShareIndex(const PublicKeySet& keys, uint32_t index);

// kSenderMismatch unless claimed == sender.
absl::Status CheckSender(uint32_t sender_index, uint32_t claimed_index);

}  // namespace belfry::threshold::internal

#endif  // BELFRY_THRESHOLD_INTERNAL_COMBINE_H_
