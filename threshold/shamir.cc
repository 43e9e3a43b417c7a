#include "threshold/shamir.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "threshold/internal/errors.h"

namespace belfry::threshold {

using internal::MakeError;

absl::StatusOr<std::vector<Scalar>> SplitSecret(const Scalar& secret, uint32_t n, uint32_t f,
                                                Rng& rng) {
  if (n == 0 || n > kParticipantsMax || f >= n) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("need 0 <= f < n <= ", kParticipantsMax, "; got n=", n, " f=", f));
  }
  // coefficients[k] multiplies x^k; coefficients[0] is the secret.
  std::vector<Scalar> coefficients;
  coefficients.reserve(f + 1);
  coefficients.push_back(secret);
  for (uint32_t k = 1; k <= f; ++k) coefficients.push_back(Scalar::Random(rng));

  std::vector<Scalar> shares;
  shares.reserve(n);
  for (uint32_t i = 1; i <= n; ++i) {
    // Horner's rule: p(i) = (...(c_f·i + c_{f-1})·i + ...)·i + c_0.
    const Scalar x = Scalar::FromUint64(i);
    Scalar acc = coefficients[f];
    for (uint32_t k = f; k-- > 0;) acc = acc.Mul(x).Add(coefficients[k]);
    shares.push_back(std::move(acc));
  }
  return shares;  // `coefficients` are Scalars: wiped as the vector is destroyed
}

absl::StatusOr<std::vector<Scalar>> LagrangeCoefficientsAtZero(std::span<const uint32_t> indices) {
  if (indices.empty()) {
    return MakeError(ThresholdError::kNotEnoughShares, "no share indices to interpolate");
  }
  std::vector<uint32_t> sorted(indices.begin(), indices.end());
  std::sort(sorted.begin(), sorted.end());
  if (sorted.front() == 0) {
    return MakeError(ThresholdError::kIndexOutOfRange, "share index 0 is the secret itself");
  }
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return MakeError(ThresholdError::kDuplicateIndex, "a share index appears twice");
  }
  std::vector<Scalar> lambdas;
  lambdas.reserve(indices.size());
  for (size_t a = 0; a < indices.size(); ++a) {
    const Scalar xa = Scalar::FromUint64(indices[a]);
    Scalar numerator = Scalar::One();
    Scalar denominator = Scalar::One();
    for (size_t b = 0; b < indices.size(); ++b) {
      if (a == b) continue;
      const Scalar xb = Scalar::FromUint64(indices[b]);
      numerator = numerator.Mul(xb);
      denominator = denominator.Mul(xb.Sub(xa));  // nonzero: indices are distinct and < L
    }
    lambdas.push_back(numerator.Mul(denominator.Invert()));
  }
  return lambdas;
}

absl::StatusOr<Scalar> InterpolateAtZero(std::span<const uint32_t> indices,
                                         std::span<const Scalar> values) {
  if (indices.size() != values.size()) {
    return MakeError(ThresholdError::kMalformed, "indices and values differ in number");
  }
  BELFRY_ASSIGN_OR_RETURN(const std::vector<Scalar> lambdas, LagrangeCoefficientsAtZero(indices));
  Scalar acc;
  for (size_t k = 0; k < values.size(); ++k) acc = acc.Add(lambdas[k].Mul(values[k]));
  return acc;
}

absl::StatusOr<Point> InterpolateInExponentAtZero(std::span<const uint32_t> indices,
                                                  std::span<const Point> values) {
  if (indices.size() != values.size()) {
    return MakeError(ThresholdError::kMalformed, "indices and values differ in number");
  }
  BELFRY_ASSIGN_OR_RETURN(const std::vector<Scalar> lambdas, LagrangeCoefficientsAtZero(indices));
  // Interpolating decryption shares gives the secret point that unmasks a TDH2 key, and
  // every partial sum is a step towards it: each term is wiped once added (the sum is
  // overwritten in place; the caller wipes the result).
  Point acc;
  for (size_t k = 0; k < values.size(); ++k) {
    Point term = values[k].Mul(lambdas[k]);
    acc = acc.Add(term);
    term.Wipe();
  }
  return acc;
}

}  // namespace belfry::threshold
