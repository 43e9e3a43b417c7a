// Tests of threshold/shamir.h: any f+1 shares recover the secret; Lagrange coefficients
// refuse malformed index sets.
#include "threshold/shamir.h"

#include <catch2/catch.hpp>

#include "base/rng.h"
#include "test/threshold/test_util.h"

namespace belfry::threshold {
namespace {

using testing::Subsets;

TEST_CASE("Shamir: every (f+1)-subset recovers the secret, in the exponent too", "[threshold][shamir]") {
  for (const auto& [n, f] : {std::pair<uint32_t, uint32_t>{1, 0}, {4, 1}, {7, 2}, {10, 3}}) {
    DeterministicRng rng(100 + n);
    const Scalar secret = Scalar::Random(rng);
    absl::StatusOr<std::vector<Scalar>> shares = SplitSecret(secret, n, f, rng);
    REQUIRE(shares.ok());
    REQUIRE(shares->size() == n);
    for (const std::vector<uint32_t>& subset : Subsets(n, f + 1)) {
      std::vector<Scalar> values;
      std::vector<Point> exponents;
      for (uint32_t i : subset) {
        values.push_back((*shares)[i - 1]);
        exponents.push_back(Point::MulBase((*shares)[i - 1]));
      }
      absl::StatusOr<Scalar> recovered = InterpolateAtZero(subset, values);
      REQUIRE(recovered.ok());
      CHECK(*recovered == secret);
      absl::StatusOr<Point> in_exponent = InterpolateInExponentAtZero(subset, exponents);
      REQUIRE(in_exponent.ok());
      CHECK(*in_exponent == Point::MulBase(secret));
    }
    if (f > 0) {
      // f shares interpolate (as a degree f-1 polynomial) to something else.
      std::vector<uint32_t> subset;
      std::vector<Scalar> values;
      for (uint32_t i = 1; i <= f; ++i) {
        subset.push_back(i);
        values.push_back((*shares)[i - 1]);
      }
      CHECK(!(*InterpolateAtZero(subset, values) == secret));
    }
  }
}

TEST_CASE("Lagrange coefficients: unordered and sparse index sets", "[threshold][shamir]") {
  DeterministicRng rng(5);
  const Scalar secret = Scalar::Random(rng);
  absl::StatusOr<std::vector<Scalar>> shares = SplitSecret(secret, 20, 2, rng);
  REQUIRE(shares.ok());
  const std::vector<uint32_t> indices = {17, 3, 20};
  const std::vector<Scalar> values = {(*shares)[16], (*shares)[2], (*shares)[19]};
  CHECK(*InterpolateAtZero(indices, values) == secret);
  // The coefficients sum to 1 (interpolating the constant polynomial 1).
  absl::StatusOr<std::vector<Scalar>> lambdas = LagrangeCoefficientsAtZero(indices);
  REQUIRE(lambdas.ok());
  CHECK((*lambdas)[0].Add((*lambdas)[1]).Add((*lambdas)[2]) == Scalar::One());
}

TEST_CASE("Lagrange coefficients refuse duplicates, zero and empty sets", "[threshold][shamir]") {
  const std::vector<uint32_t> duplicate = {1, 2, 1};
  REQUIRE_THRESHOLD_ERROR(LagrangeCoefficientsAtZero(duplicate).status(), kInvalidArgument, kDuplicateIndex);
  const std::vector<uint32_t> zero = {0, 2};
  REQUIRE_THRESHOLD_ERROR(LagrangeCoefficientsAtZero(zero).status(), kOutOfRange, kIndexOutOfRange);
  REQUIRE_THRESHOLD_ERROR(LagrangeCoefficientsAtZero({}).status(), kFailedPrecondition, kNotEnoughShares);
  const std::vector<uint32_t> two = {1, 2};
  const std::vector<Scalar> one_value = {Scalar::One()};
  REQUIRE_THRESHOLD_ERROR(InterpolateAtZero(two, one_value).status(), kInvalidArgument, kMalformed);
}

TEST_CASE("SplitSecret refuses impossible (n, f)", "[threshold][shamir]") {
  DeterministicRng rng(1);
  const Scalar s = Scalar::One();
  REQUIRE_THRESHOLD_ERROR(SplitSecret(s, 0, 0, rng).status(), kInvalidArgument, kInvalidParameters);
  REQUIRE_THRESHOLD_ERROR(SplitSecret(s, 4, 4, rng).status(), kInvalidArgument, kInvalidParameters);
  REQUIRE_THRESHOLD_ERROR(SplitSecret(s, kParticipantsMax + 1, 1, rng).status(), kInvalidArgument,
                          kInvalidParameters);
}

}  // namespace
}  // namespace belfry::threshold
