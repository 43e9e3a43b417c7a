// Tests of threshold/tdh2.h, Shoup–Gennaro TDH2: correct decryption from every
// (f+1)-subset, ciphertext validity (any modified component or label is refused before a
// share is made), and each adversarial share refused with its specific status.
#include "threshold/tdh2.h"

#include <catch2/catch.hpp>

#include "base/rng.h"
#include "test/threshold/test_util.h"

namespace belfry::threshold {
namespace {

using testing::Subsets;

struct Tdh2Cluster {
  PublicKeySet keys;
  std::vector<DecryptionShareProvider> providers;  // providers[k] has index k+1
};

Tdh2Cluster MakeCluster(uint32_t n, uint32_t f, uint64_t seed) {
  DeterministicRng rng(seed);
  absl::StatusOr<DealtKeySet> dealt = Deal(n, f, rng);
  REQUIRE(dealt.ok());
  Tdh2Cluster c{dealt->public_keys, {}};
  for (KeyShare& share : dealt->shares) {
    absl::StatusOr<DecryptionShareProvider> p = DecryptionShareProvider::Create(std::move(share), c.keys);
    REQUIRE(p.ok());
    c.providers.push_back(std::move(*p));
  }
  return c;
}

std::vector<DecryptionShare> AllShares(const Tdh2Cluster& c, const Ciphertext& ct) {
  std::vector<DecryptionShare> shares;
  for (const DecryptionShareProvider& p : c.providers) {
    absl::StatusOr<DecryptionShare> share = p.MakeShare(ct, ct.label);
    REQUIRE(share.ok());
    shares.push_back(*share);
  }
  return shares;
}

Ciphertext EncryptOrDie(const PublicKeySet& keys, std::string_view label, const SymmetricKey& key,
                        uint64_t seed) {
  DeterministicRng rng(seed);
  absl::StatusOr<Ciphertext> ct = Encrypt(keys, label, key, rng);
  REQUIRE(ct.ok());
  return *ct;
}

// TDH2 correctness: f+1 valid shares from any subset recover the encrypted key.
void CheckDecryptionOverAllSubsets(uint32_t n, uint32_t f, int key_sets) {
  for (int k = 0; k < key_sets; ++k) {
    const uint64_t seed = 2000 * n + k;
    INFO("n=" << n << " f=" << f << " seed=" << seed);
    const Tdh2Cluster c = MakeCluster(n, f, seed);
    DeterministicRng rng(seed ^ 0x5eed);
    const SymmetricKey key = SymmetricKey::Random(rng);
    const std::string label = "doc/" + std::to_string(k) + "/version/3";
    const Ciphertext ct = EncryptOrDie(c.keys, label, key, seed + 1);
    REQUIRE_OK(VerifyCiphertext(c.keys, ct));
    const std::vector<DecryptionShare> shares = AllShares(c, ct);
    for (const DecryptionShare& s : shares) REQUIRE_OK(VerifyDecryptionShare(c.keys, ct, s));
    for (const std::vector<uint32_t>& subset : Subsets(n, f + 1)) {
      std::vector<DecryptionShare> chosen;
      for (uint32_t i : subset) chosen.push_back(shares[i - 1]);
      absl::StatusOr<SymmetricKey> recovered = CombineDecryptionShares(c.keys, ct, chosen);
      REQUIRE(recovered.ok());
      REQUIRE(*recovered == key);
    }
  }
}

TEST_CASE("TDH2: every (f+1)-subset decrypts correctly, N=4 f=1, many key sets", "[threshold][tdh2]") {
  CheckDecryptionOverAllSubsets(4, 1, 30);
}

TEST_CASE("TDH2: every (f+1)-subset decrypts correctly, N=7 f=2, many key sets", "[threshold][tdh2]") {
  CheckDecryptionOverAllSubsets(7, 2, 10);
}

TEST_CASE("TDH2: shares are deterministic; encryption is randomized by the injected Rng",
          "[threshold][tdh2]") {
  const Tdh2Cluster c = MakeCluster(4, 1, 3);
  const SymmetricKey key;
  const Ciphertext a = EncryptOrDie(c.keys, "L", key, 1);
  CHECK(EncryptOrDie(c.keys, "L", key, 1) == a);
  CHECK(!(EncryptOrDie(c.keys, "L", key, 2) == a));
  CHECK(*c.providers[1].MakeShare(a, "L") == *c.providers[1].MakeShare(a, "L"));
  // Ciphertexts and shares survive serialization.
  absl::StatusOr<Ciphertext> parsed = Ciphertext::Parse(AsBytes(a.Serialize()));
  REQUIRE(parsed.ok());
  CHECK(*parsed == a);
  const DecryptionShare share = *c.providers[2].MakeShare(a, "L");
  absl::StatusOr<DecryptionShare> parsed_share = DecryptionShare::Parse(AsBytes(share.Serialize()));
  REQUIRE(parsed_share.ok());
  CHECK(*parsed_share == share);
}

TEST_CASE("TDH2 adversarial: any modified ciphertext component or label is kInvalidCiphertext, "
          "and no share is made for it",
          "[threshold][tdh2]") {
  const Tdh2Cluster c = MakeCluster(4, 1, 4);
  const Ciphertext good = EncryptOrDie(c.keys, "doc/a/1", SymmetricKey(), 9);
  REQUIRE_OK(VerifyCiphertext(c.keys, good));
  const Point other = Point::MulBase(Scalar::FromUint64(5));
  std::vector<std::pair<std::string, Ciphertext>> modified;
  for (int field = 0; field < 6; ++field) {
    Ciphertext ct = good;
    switch (field) {
      case 0: ct.label = "doc/a/2"; break;
      case 1: ct.masked_key[7] ^= 1; break;
      case 2: ct.u = ct.u.Add(other); break;
      case 3: ct.u_bar = ct.u_bar.Add(other); break;
      case 4: ct.proof.challenge = ct.proof.challenge.Add(Scalar::One()); break;
      case 5: ct.proof.response = ct.proof.response.Add(Scalar::One()); break;
    }
    INFO("modified field " << field);
    REQUIRE_THRESHOLD_ERROR(VerifyCiphertext(c.keys, ct), kUnauthenticated, kInvalidCiphertext);
    REQUIRE_THRESHOLD_ERROR(c.providers[0].MakeShare(ct, ct.label).status(), kUnauthenticated,
                            kInvalidCiphertext);
  }
  // A ciphertext made under another key set is invalid here (the proof binds the public key).
  const Tdh2Cluster other_cluster = MakeCluster(4, 1, 5);
  const Ciphertext foreign = EncryptOrDie(other_cluster.keys, "doc/a/1", SymmetricKey(), 9);
  REQUIRE_THRESHOLD_ERROR(VerifyCiphertext(c.keys, foreign), kUnauthenticated, kInvalidCiphertext);
}

TEST_CASE("TDH2 adversarial: a share is only made for the authorized label", "[threshold][tdh2]") {
  const Tdh2Cluster c = MakeCluster(4, 1, 6);
  const Ciphertext ct = EncryptOrDie(c.keys, "doc/secret/1", SymmetricKey(), 1);
  REQUIRE_THRESHOLD_ERROR(c.providers[0].MakeShare(ct, "doc/public/1").status(), kPermissionDenied,
                          kLabelMismatch);
  // Relabelling the ciphertext to match the authorization breaks its proof instead.
  Ciphertext relabelled = ct;
  relabelled.label = "doc/public/1";
  REQUIRE_THRESHOLD_ERROR(c.providers[0].MakeShare(relabelled, "doc/public/1").status(), kUnauthenticated,
                          kInvalidCiphertext);
}

TEST_CASE("TDH2 adversarial: wrong proofs, values, ciphertexts and labels are kInvalidShareProof",
          "[threshold][tdh2]") {
  const Tdh2Cluster c = MakeCluster(4, 1, 7);
  const SymmetricKey key;
  const Ciphertext ct = EncryptOrDie(c.keys, "doc/x/1", key, 1);
  const DecryptionShare good = *c.providers[1].MakeShare(ct, ct.label);
  REQUIRE_OK(VerifyDecryptionShare(c.keys, ct, good));
  DecryptionShare bad = good;
  bad.proof.challenge = bad.proof.challenge.Add(Scalar::One());
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(c.keys, ct, bad), kUnauthenticated, kInvalidShareProof);
  bad = good;
  bad.proof.response = bad.proof.response.Add(Scalar::One());
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(c.keys, ct, bad), kUnauthenticated, kInvalidShareProof);
  bad = good;
  bad.value = bad.value.Add(Point::Generator());
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(c.keys, ct, bad), kUnauthenticated, kInvalidShareProof);
  // A share of another encryption under the same label, and of the same key under another label.
  const Ciphertext same_label = EncryptOrDie(c.keys, "doc/x/1", key, 2);
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(c.keys, same_label, good), kUnauthenticated,
                          kInvalidShareProof);
  const Ciphertext other_label = EncryptOrDie(c.keys, "doc/x/2", key, 1);
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(c.keys, other_label, good), kUnauthenticated,
                          kInvalidShareProof);
}

TEST_CASE("TDH2 adversarial: wrong indices — out of range, relabelled, another node's share",
          "[threshold][tdh2]") {
  const Tdh2Cluster c = MakeCluster(4, 1, 8);
  const Ciphertext ct = EncryptOrDie(c.keys, "L", SymmetricKey(), 1);
  const DecryptionShare from1 = *c.providers[0].MakeShare(ct, "L");
  const DecryptionShare from3 = *c.providers[2].MakeShare(ct, "L");
  DecryptionShare bad = from1;
  bad.index = 5;
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(c.keys, ct, bad), kOutOfRange, kIndexOutOfRange);
  bad.index = 0;
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(c.keys, ct, bad), kOutOfRange, kIndexOutOfRange);
  bad.index = 3;
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(c.keys, ct, bad), kUnauthenticated, kInvalidShareProof);
  REQUIRE_OK(VerifyDecryptionShareFrom(c.keys, 3, ct, from3));
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShareFrom(c.keys, 1, ct, from3), kPermissionDenied,
                          kSenderMismatch);
  bad = from1;
  bad.index = 100;
  const std::vector<DecryptionShare> with_bad = {from3, bad};
  REQUIRE_THRESHOLD_ERROR(CombineDecryptionShares(c.keys, ct, with_bad).status(), kOutOfRange,
                          kIndexOutOfRange);
}

TEST_CASE("TDH2 adversarial: duplicated shares and fewer than f+1 shares", "[threshold][tdh2]") {
  const Tdh2Cluster c = MakeCluster(7, 2, 9);
  const Ciphertext ct = EncryptOrDie(c.keys, "L", SymmetricKey(), 1);
  const std::vector<DecryptionShare> all = AllShares(c, ct);
  const std::vector<DecryptionShare> duplicate = {all[0], all[4], all[0]};
  REQUIRE_THRESHOLD_ERROR(CombineDecryptionShares(c.keys, ct, duplicate).status(), kInvalidArgument,
                          kDuplicateIndex);
  const std::vector<DecryptionShare> two = {all[5], all[6]};
  REQUIRE_THRESHOLD_ERROR(CombineDecryptionShares(c.keys, ct, two).status(), kFailedPrecondition,
                          kNotEnoughShares);
  REQUIRE_THRESHOLD_ERROR(CombineDecryptionShares(c.keys, ct, {}).status(), kFailedPrecondition,
                          kNotEnoughShares);
}

TEST_CASE("TDH2 adversarial: non-canonical and malformed encodings", "[threshold][tdh2]") {
  const Tdh2Cluster c = MakeCluster(4, 1, 10);
  const Ciphertext ct = EncryptOrDie(c.keys, "L", SymmetricKey(), 1);
  pb::Tdh2Ciphertext proto;
  ct.ToProto(&proto);
  pb::Tdh2Ciphertext bad = proto;
  bad.set_u(std::string("\x01") + std::string(31, '\0'));
  REQUIRE_THRESHOLD_ERROR(Ciphertext::FromProto(bad).status(), kInvalidArgument, kNonCanonicalPoint);
  bad = proto;
  bad.set_u_bar(std::string(32, '\0'));
  REQUIRE_THRESHOLD_ERROR(Ciphertext::FromProto(bad).status(), kInvalidArgument, kIdentityPoint);
  bad = proto;
  bad.set_response(std::string(32, '\xff'));
  REQUIRE_THRESHOLD_ERROR(Ciphertext::FromProto(bad).status(), kInvalidArgument, kNonCanonicalScalar);
  bad = proto;
  bad.set_masked_key("short");
  REQUIRE_THRESHOLD_ERROR(Ciphertext::FromProto(bad).status(), kInvalidArgument, kMalformed);
  bad = proto;
  bad.set_label(std::string(kLabelBytesMax + 1, 'l'));
  REQUIRE_THRESHOLD_ERROR(Ciphertext::FromProto(bad).status(), kResourceExhausted, kTooLarge);
  REQUIRE_THRESHOLD_ERROR(Ciphertext::Parse(AsBytes("\x0a\xff")).status(), kInvalidArgument, kMalformed);

  pb::Tdh2DecryptionShare share_proto;
  c.providers[0].MakeShare(ct, "L")->ToProto(&share_proto);
  pb::Tdh2DecryptionShare bad_share = share_proto;
  bad_share.set_value(std::string(31, '\0') + "\x80");
  REQUIRE_THRESHOLD_ERROR(DecryptionShare::FromProto(bad_share).status(), kInvalidArgument,
                          kNonCanonicalPoint);
  bad_share = share_proto;
  bad_share.mutable_proof()->set_response(std::string(32, '\xff'));
  REQUIRE_THRESHOLD_ERROR(DecryptionShare::FromProto(bad_share).status(), kInvalidArgument,
                          kNonCanonicalScalar);
  REQUIRE_THRESHOLD_ERROR(DecryptionShare::Parse(Bytes(kDecryptionShareBytesMax + 1, 0)).status(),
                          kResourceExhausted, kTooLarge);
}

TEST_CASE("TDH2: limits and key-set mismatches", "[threshold][tdh2]") {
  const Tdh2Cluster c = MakeCluster(4, 1, 11);
  DeterministicRng rng(1);
  REQUIRE_THRESHOLD_ERROR(Encrypt(c.keys, std::string(kLabelBytesMax + 1, 'l'), SymmetricKey(), rng).status(),
                          kResourceExhausted, kTooLarge);
  REQUIRE_THRESHOLD_ERROR(SymmetricKey::FromBytes(Bytes(31, 0)).status(), kInvalidArgument, kMalformed);
  DeterministicRng deal_rng(12);
  absl::StatusOr<DealtKeySet> other = Deal(4, 1, deal_rng);
  REQUIRE(other.ok());
  REQUIRE_THRESHOLD_ERROR(DecryptionShareProvider::Create(std::move(other->shares[0]), c.keys).status(),
                          kFailedPrecondition, kKeyMismatch);
}

}  // namespace
}  // namespace belfry::threshold
