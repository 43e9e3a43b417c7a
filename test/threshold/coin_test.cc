// Tests of threshold/coin.h, the Cachin–Kursawe–Shoup threshold coin: agreement of every
// (f+1)-subset (the coin is a function of the name alone), share determinism, and each
// adversarial share refused with its specific status.
#include "threshold/coin.h"

#include <catch2/catch.hpp>

#include "base/rng.h"
#include "test/threshold/test_util.h"

namespace belfry::threshold {
namespace {

using testing::Subsets;

struct CoinCluster {
  PublicKeySet keys;
  std::vector<CoinSigner> signers;  // signers[k] has index k+1
};

CoinCluster MakeCluster(uint32_t n, uint32_t f, uint64_t seed) {
  DeterministicRng rng(seed);
  absl::StatusOr<DealtKeySet> dealt = Deal(n, f, rng);
  REQUIRE(dealt.ok());
  CoinCluster c{std::move(dealt->public_keys), {}};
  for (KeyShare& share : dealt->shares) c.signers.emplace_back(std::move(share));
  return c;
}

std::vector<CoinShare> AllShares(const CoinCluster& c, std::string_view name) {
  std::vector<CoinShare> shares;
  for (const CoinSigner& s : c.signers) {
    absl::StatusOr<CoinShare> share = s.MakeShare(name);
    REQUIRE(share.ok());
    shares.push_back(*share);
  }
  return shares;
}

// CKS Lemma (robustness/agreement): any f+1 valid shares of one name give the same coin.
void CheckAgreementOverAllSubsets(uint32_t n, uint32_t f, int key_sets) {
  for (int k = 0; k < key_sets; ++k) {
    const uint64_t seed = 1000 * n + k;
    INFO("n=" << n << " f=" << f << " seed=" << seed);
    const CoinCluster c = MakeCluster(n, f, seed);
    for (const std::string_view name : {"epoch/1/aba/0/round/0", "epoch/1/aba/0/round/1"}) {
      const std::vector<CoinShare> shares = AllShares(c, name);
      for (const CoinShare& s : shares) REQUIRE_OK(VerifyCoinShare(c.keys, name, s));
      std::optional<CoinValue> first;
      for (const std::vector<uint32_t>& subset : Subsets(n, f + 1)) {
        std::vector<CoinShare> chosen;
        for (uint32_t i : subset) chosen.push_back(shares[i - 1]);
        absl::StatusOr<CoinValue> coin = CombineCoin(c.keys, name, chosen);
        REQUIRE(coin.ok());
        if (!first) first = *coin;
        REQUIRE(*coin == *first);
      }
    }
  }
}

TEST_CASE("Coin: every (f+1)-subset gives the same coin, N=4 f=1, many key sets", "[threshold][coin]") {
  CheckAgreementOverAllSubsets(4, 1, 40);
}

TEST_CASE("Coin: every (f+1)-subset gives the same coin, N=7 f=2, many key sets", "[threshold][coin]") {
  CheckAgreementOverAllSubsets(7, 2, 15);
}

TEST_CASE("Coin: shares are deterministic in (key share, name); names give independent coins",
          "[threshold][coin]") {
  const CoinCluster c = MakeCluster(4, 1, 77);
  CHECK(*c.signers[0].MakeShare("a") == *c.signers[0].MakeShare("a"));
  CHECK(c.signers[0].MakeShare("a")->Serialize() == c.signers[0].MakeShare("a")->Serialize());
  CHECK(!(c.signers[0].MakeShare("a")->value == c.signers[0].MakeShare("b")->value));
  // Over 200 names, the bit is not stuck (fixed keys, so this is deterministic).
  int ones = 0;
  for (int r = 0; r < 200; ++r) {
    const std::string name = "round/" + std::to_string(r);
    std::vector<CoinShare> two = {*c.signers[1].MakeShare(name), *c.signers[3].MakeShare(name)};
    ones += CombineCoin(c.keys, name, two)->bit() ? 1 : 0;
  }
  CHECK(ones > 60);
  CHECK(ones < 140);
}

TEST_CASE("Coin: the name is hashed onto the group, not used as an exponent of g", "[threshold][coin]") {
  // H(name) must not be g^{hash(name)} for any hash we could compute; at least it is not
  // g, not the identity, and differs per name.
  const Point a = HashCoinName("x");
  CHECK(!a.IsIdentity());
  CHECK(!(a == Point::Generator()));
  CHECK(!(a == HashCoinName("y")));
  CHECK(a == HashCoinName("x"));
}

TEST_CASE("Coin adversarial: a wrong proof or value is kInvalidShareProof", "[threshold][coin]") {
  const CoinCluster c = MakeCluster(4, 1, 5);
  const CoinShare good = *c.signers[0].MakeShare("n");
  CoinShare bad = good;
  bad.proof.challenge = bad.proof.challenge.Add(Scalar::One());
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShare(c.keys, "n", bad), kUnauthenticated, kInvalidShareProof);
  bad = good;
  bad.proof.response = bad.proof.response.Add(Scalar::One());
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShare(c.keys, "n", bad), kUnauthenticated, kInvalidShareProof);
  bad = good;
  bad.value = bad.value.Add(Point::Generator());
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShare(c.keys, "n", bad), kUnauthenticated, kInvalidShareProof);
}

TEST_CASE("Coin adversarial: a share for another name is kInvalidShareProof", "[threshold][coin]") {
  const CoinCluster c = MakeCluster(4, 1, 6);
  const CoinShare share = *c.signers[2].MakeShare("round/1");
  REQUIRE_OK(VerifyCoinShare(c.keys, "round/1", share));
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShare(c.keys, "round/2", share), kUnauthenticated, kInvalidShareProof);
}

TEST_CASE("Coin adversarial: a share from another key set is kInvalidShareProof", "[threshold][coin]") {
  const CoinCluster c = MakeCluster(4, 1, 7);
  const CoinCluster other = MakeCluster(4, 1, 8);
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShare(c.keys, "n", *other.signers[0].MakeShare("n")), kUnauthenticated,
                          kInvalidShareProof);
}

TEST_CASE("Coin adversarial: wrong indices — out of range, relabelled, or another node's share",
          "[threshold][coin]") {
  const CoinCluster c = MakeCluster(4, 1, 9);
  const CoinShare from1 = *c.signers[0].MakeShare("n");
  const CoinShare from2 = *c.signers[1].MakeShare("n");
  CoinShare bad = from1;
  bad.index = 5;
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShare(c.keys, "n", bad), kOutOfRange, kIndexOutOfRange);
  bad.index = 0;
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShare(c.keys, "n", bad), kOutOfRange, kIndexOutOfRange);
  // Node 1's share relabelled as node 2's: the proof is bound to index 1.
  bad.index = 2;
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShare(c.keys, "n", bad), kUnauthenticated, kInvalidShareProof);
  // Node 1 forwarding node 2's valid share as its own.
  REQUIRE_OK(VerifyCoinShareFrom(c.keys, 2, "n", from2));
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShareFrom(c.keys, 1, "n", from2), kPermissionDenied, kSenderMismatch);
  // An out-of-range index in Combine.
  bad = from1;
  bad.index = 9;
  const std::vector<CoinShare> with_bad = {from2, bad};
  REQUIRE_THRESHOLD_ERROR(CombineCoin(c.keys, "n", with_bad).status(), kOutOfRange, kIndexOutOfRange);
}

TEST_CASE("Coin adversarial: duplicated shares and fewer than f+1 shares", "[threshold][coin]") {
  const CoinCluster c = MakeCluster(4, 1, 10);
  const std::vector<CoinShare> all = AllShares(c, "n");
  const std::vector<CoinShare> duplicate = {all[0], all[0]};
  REQUIRE_THRESHOLD_ERROR(CombineCoin(c.keys, "n", duplicate).status(), kInvalidArgument, kDuplicateIndex);
  const std::vector<CoinShare> late_duplicate = {all[0], all[1], all[0]};
  REQUIRE_THRESHOLD_ERROR(CombineCoin(c.keys, "n", late_duplicate).status(), kInvalidArgument,
                          kDuplicateIndex);
  const std::vector<CoinShare> one = {all[3]};
  REQUIRE_THRESHOLD_ERROR(CombineCoin(c.keys, "n", one).status(), kFailedPrecondition, kNotEnoughShares);
  REQUIRE_THRESHOLD_ERROR(CombineCoin(c.keys, "n", {}).status(), kFailedPrecondition, kNotEnoughShares);
  // More than f+1 is fine and agrees.
  CHECK(*CombineCoin(c.keys, "n", all) == *CombineCoin(c.keys, "n", std::vector<CoinShare>{all[2], all[3]}));
}

TEST_CASE("Coin adversarial: non-canonical and malformed share encodings", "[threshold][coin]") {
  const CoinCluster c = MakeCluster(4, 1, 11);
  pb::ThresholdCoinShare proto;
  c.signers[0].MakeShare("n")->ToProto(&proto);
  {
    absl::StatusOr<CoinShare> round_trip = CoinShare::Parse(AsBytes(proto.SerializeAsString()));
    REQUIRE(round_trip.ok());
    REQUIRE_OK(VerifyCoinShare(c.keys, "n", *round_trip));
  }
  pb::ThresholdCoinShare bad = proto;
  bad.set_value(std::string("\x01") + std::string(31, '\0'));  // s = 1: negative, non-canonical
  REQUIRE_THRESHOLD_ERROR(CoinShare::FromProto(bad).status(), kInvalidArgument, kNonCanonicalPoint);
  bad.set_value(std::string(32, '\0'));
  REQUIRE_THRESHOLD_ERROR(CoinShare::FromProto(bad).status(), kInvalidArgument, kIdentityPoint);
  bad.set_value(std::string(33, 'a'));
  REQUIRE_THRESHOLD_ERROR(CoinShare::FromProto(bad).status(), kInvalidArgument, kMalformed);
  bad = proto;
  bad.mutable_proof()->set_challenge(std::string(32, '\xff'));
  REQUIRE_THRESHOLD_ERROR(CoinShare::FromProto(bad).status(), kInvalidArgument, kNonCanonicalScalar);
  bad = proto;
  bad.clear_proof();
  REQUIRE_THRESHOLD_ERROR(CoinShare::FromProto(bad).status(), kInvalidArgument, kMalformed);
  bad = proto;
  bad.set_index(0);
  REQUIRE_THRESHOLD_ERROR(CoinShare::FromProto(bad).status(), kOutOfRange, kIndexOutOfRange);
  // Undecodable bytes, trailing unknown fields, and oversize input.
  REQUIRE_THRESHOLD_ERROR(CoinShare::Parse(AsBytes("\xff\xff\xff")).status(), kInvalidArgument, kMalformed);
  const std::string unknown_field = proto.SerializeAsString() + std::string("\xa0\x06\x01", 3);  // field 100
  REQUIRE_THRESHOLD_ERROR(CoinShare::Parse(AsBytes(unknown_field)).status(), kInvalidArgument, kMalformed);
  REQUIRE_THRESHOLD_ERROR(CoinShare::Parse(Bytes(kCoinShareBytesMax + 1, 0)).status(), kResourceExhausted,
                          kTooLarge);
}

TEST_CASE("Coin: over-long names are kTooLarge", "[threshold][coin]") {
  const CoinCluster c = MakeCluster(4, 1, 12);
  const std::string long_name(kCoinNameBytesMax + 1, 'n');
  REQUIRE_THRESHOLD_ERROR(c.signers[0].MakeShare(long_name).status(), kResourceExhausted, kTooLarge);
  REQUIRE_THRESHOLD_ERROR(VerifyCoinShare(c.keys, long_name, *c.signers[0].MakeShare("n")),
                          kResourceExhausted, kTooLarge);
}

}  // namespace
}  // namespace belfry::threshold
