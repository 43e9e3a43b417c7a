// Tests of threshold/dleq.h: the Chaum–Pedersen proof verifies, is deterministic, and the
// Fiat–Shamir challenge binds every public input (changing any one breaks the proof).
#include "threshold/dleq.h"

#include <catch2/catch.hpp>

#include "base/rng.h"
#include "test/threshold/test_util.h"

namespace belfry::threshold {
namespace {

constexpr std::string_view kDomain = "belfry/test/dleq";

struct Fixture {
  Scalar x;
  DleqStatement statement;
  Bytes context;
};

Fixture MakeFixture(uint64_t seed) {
  DeterministicRng rng(seed);
  Fixture fx;
  fx.x = Scalar::Random(rng);
  const Point g2 = Point::MulBase(Scalar::Random(rng));
  fx.statement = DleqStatement{Point::Generator(), Point::MulBase(fx.x), g2, g2.Mul(fx.x)};
  fx.context = {1, 2, 3};
  return fx;
}

TEST_CASE("DLEQ: honest proofs verify and are deterministic", "[threshold][dleq]") {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const Fixture fx = MakeFixture(seed);
    const DleqProof proof = ProveDleq(kDomain, fx.context, fx.statement, fx.x);
    CHECK(VerifyDleq(kDomain, fx.context, fx.statement, proof));
    CHECK(ProveDleq(kDomain, fx.context, fx.statement, fx.x) == proof);
  }
}

TEST_CASE("DLEQ: the challenge binds bases, points, context and domain", "[threshold][dleq]") {
  const Fixture fx = MakeFixture(42);
  const DleqProof proof = ProveDleq(kDomain, fx.context, fx.statement, fx.x);
  const Point other = Point::MulBase(Scalar::FromUint64(99));
  for (int field = 0; field < 4; ++field) {
    DleqStatement changed = fx.statement;
    Point* p[] = {&changed.g1, &changed.h1, &changed.g2, &changed.h2};
    *p[field] = other;
    INFO("statement field " << field);
    CHECK(!VerifyDleq(kDomain, fx.context, changed, proof));
  }
  CHECK(!VerifyDleq(kDomain, Bytes{1, 2, 4}, fx.statement, proof));
  CHECK(!VerifyDleq("belfry/test/other", fx.context, fx.statement, proof));
  DleqProof bad = proof;
  bad.challenge = bad.challenge.Add(Scalar::One());
  CHECK(!VerifyDleq(kDomain, fx.context, fx.statement, bad));
  bad = proof;
  bad.response = bad.response.Add(Scalar::One());
  CHECK(!VerifyDleq(kDomain, fx.context, fx.statement, bad));
}

TEST_CASE("DLEQ: a false statement cannot be proven with the witness of one side", "[threshold][dleq]") {
  Fixture fx = MakeFixture(3);
  fx.statement.h2 = fx.statement.h2.Add(Point::Generator());  // log_g2(h2) != x now
  const DleqProof proof = ProveDleq(kDomain, fx.context, fx.statement, fx.x);
  CHECK(!VerifyDleq(kDomain, fx.context, fx.statement, proof));
}

TEST_CASE("DLEQ: proof decoding refuses non-canonical and wrong-sized scalars", "[threshold][dleq]") {
  const Fixture fx = MakeFixture(4);
  pb::ThresholdDleqProof proto;
  ProveDleq(kDomain, fx.context, fx.statement, fx.x).ToProto(&proto);
  REQUIRE(DleqProof::FromProto(proto).ok());
  pb::ThresholdDleqProof bad = proto;
  bad.set_response(std::string(32, '\xff'));
  REQUIRE_THRESHOLD_ERROR(DleqProof::FromProto(bad).status(), kInvalidArgument, kNonCanonicalScalar);
  bad = proto;
  bad.set_challenge(std::string(31, '\x01'));
  REQUIRE_THRESHOLD_ERROR(DleqProof::FromProto(bad).status(), kInvalidArgument, kMalformed);
}

}  // namespace
}  // namespace belfry::threshold
