// Tests of threshold/group.h: encodings, canonicality checks and arithmetic in ristretto255.
#include "threshold/group.h"

#include <catch2/catch.hpp>

#include "base/rng.h"
#include "test/threshold/test_util.h"

namespace belfry::threshold {
namespace {

using testing::MustFromHex;

// The ristretto255 generator and its small multiples (RFC 9496, Appendix A.1).
constexpr const char* kMultiplesOfG[] = {
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
};

TEST_CASE("Generator multiples match RFC 9496 vectors", "[threshold][group]") {
  Point acc;
  for (const char* hex : kMultiplesOfG) {
    acc = acc.Add(Point::Generator());
    CHECK(ToHex(acc.span()) == hex);
  }
  CHECK(Point::MulBase(Scalar::FromUint64(3)) == acc);
  CHECK(Point::Generator().Mul(Scalar::FromUint64(3)) == acc);
}

TEST_CASE("Point::FromBytes refuses non-canonical encodings with kNonCanonicalPoint (RFC 9496 A.2)",
          "[threshold][group]") {
  const char* bad[] = {
      // s = p (the field modulus): not reduced.
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      // s = 1: a "negative" (odd) field element.
      "0100000000000000000000000000000000000000000000000000000000000000",
      // the high bit set.
      "0000000000000000000000000000000000000000000000000000000000000080",
      // all ones.
      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  };
  for (const char* hex : bad) {
    INFO(hex);
    REQUIRE_THRESHOLD_ERROR(Point::FromBytes(MustFromHex(hex)).status(), kInvalidArgument,
                            kNonCanonicalPoint);
  }
}

TEST_CASE("Point::FromBytes refuses the identity and wrong sizes", "[threshold][group]") {
  REQUIRE_THRESHOLD_ERROR(Point::FromBytes(Bytes(32, 0)).status(), kInvalidArgument, kIdentityPoint);
  REQUIRE_THRESHOLD_ERROR(Point::FromBytes(Bytes(31, 1)).status(), kInvalidArgument, kMalformed);
  REQUIRE_THRESHOLD_ERROR(Point::FromBytes(Bytes(33, 1)).status(), kInvalidArgument, kMalformed);
  absl::StatusOr<Point> g = Point::FromBytes(Point::Generator().span());
  REQUIRE(g.ok());
  CHECK(*g == Point::Generator());
}

TEST_CASE("Scalar::FromCanonicalBytes accepts exactly the values below L", "[threshold][group]") {
  // L - 1 is the largest canonical scalar; L and everything above are refused.
  const Bytes l_minus_1 = MustFromHex("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  const Bytes l = MustFromHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  absl::StatusOr<Scalar> s = Scalar::FromCanonicalBytes(l_minus_1);
  REQUIRE(s.ok());
  CHECK(s->Add(Scalar::One()).IsZero());
  REQUIRE_THRESHOLD_ERROR(Scalar::FromCanonicalBytes(l).status(), kInvalidArgument, kNonCanonicalScalar);
  REQUIRE_THRESHOLD_ERROR(Scalar::FromCanonicalBytes(Bytes(32, 0xff)).status(), kInvalidArgument,
                          kNonCanonicalScalar);
  REQUIRE_THRESHOLD_ERROR(Scalar::FromCanonicalBytes(Bytes(16, 0)).status(), kInvalidArgument, kMalformed);
}

TEST_CASE("Scalar and point arithmetic agree", "[threshold][group]") {
  DeterministicRng rng(7);
  for (int i = 0; i < 20; ++i) {
    const Scalar a = Scalar::Random(rng);
    const Scalar b = Scalar::Random(rng);
    CHECK(a.Mul(a.Invert()) == Scalar::One());
    CHECK(a.Sub(b).Add(b) == a);
    CHECK(a.Add(a.Negate()).IsZero());
    // g^(a+b) = g^a · g^b and (g^a)^b = g^(ab).
    CHECK(Point::MulBase(a.Add(b)) == Point::MulBase(a).Add(Point::MulBase(b)));
    CHECK(Point::MulBase(a).Mul(b) == Point::MulBase(a.Mul(b)));
    CHECK(Point::MulBase(a).Sub(Point::MulBase(a)).IsIdentity());
  }
  CHECK(Point::MulBase(Scalar::Zero()).IsIdentity());
  CHECK(Point().Mul(Scalar::One()).IsIdentity());
}

TEST_CASE("A moved-from scalar is wiped", "[threshold][group]") {
  Scalar a = Scalar::FromUint64(12345);
  Scalar b = std::move(a);
  CHECK(a.IsZero());  // NOLINT(bugprone-use-after-move): the wipe is what is tested
  CHECK(b == Scalar::FromUint64(12345));
}

}  // namespace
}  // namespace belfry::threshold
