// threshold/shamir.h — Shamir secret sharing over the ristretto255 scalar field.
//
// A secret s is the constant term of a random polynomial p of degree f; share i is p(i)
// for i = 1..n (index 0 would be the secret itself, so it is never a share index). Any
// f+1 shares determine p, and p(0) = Σ λ_i·p(i) with the Lagrange coefficients at zero
// λ_i = Π_{j≠i} j/(j−i) over the chosen index set. The same coefficients interpolate "in
// the exponent": from g^{p(i)} for f+1 indices they give g^{p(0)} without learning p(0),
// which is how coin and decryption shares combine.
#ifndef BELFRY_THRESHOLD_SHAMIR_H_
#define BELFRY_THRESHOLD_SHAMIR_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/rng.h"
#include "threshold/group.h"

namespace belfry::threshold {

// Upper bound on n for every key set: bounds dealing, key files and validation work.
inline constexpr uint32_t kParticipantsMax = 256;

// Splits `secret` into n shares, any f+1 of which recover it. Element i of the result is
// the share with index i+1. The polynomial's coefficients are drawn from `rng` and wiped
// before returning. kInvalidParameters unless 0 <= f < n <= kParticipantsMax.
absl::StatusOr<std::vector<Scalar>> SplitSecret(const Scalar& secret, uint32_t n, uint32_t f,
                                                Rng& rng);

// The Lagrange coefficients at zero for `indices` (element k belongs to indices[k]).
// kNotEnoughShares for an empty set, kIndexOutOfRange for index 0, kDuplicateIndex for a
// repeated index. Every nonzero uint32 index is allowed; range against n is the caller's.
absl::StatusOr<std::vector<Scalar>> LagrangeCoefficientsAtZero(std::span<const uint32_t> indices);

// p(0) from the values p(indices[k]) = values[k]; fails as LagrangeCoefficientsAtZero, or
// kMalformed when the spans differ in length.
absl::StatusOr<Scalar> InterpolateAtZero(std::span<const uint32_t> indices,
                                         std::span<const Scalar> values);

// g^{p(0)} from g^{p(indices[k])} = values[k]; fails as InterpolateAtZero.
absl::StatusOr<Point> InterpolateInExponentAtZero(std::span<const uint32_t> indices,
                                                  std::span<const Point> values);

}  // namespace belfry::threshold

#endif  // BELFRY_THRESHOLD_SHAMIR_H_
