// Confidential documents without a cluster (DESIGN.md "Threshold cryptography", issue 4
// "Confidential documents"): seal + TDH2-encrypt the key, f+1 decryption shares from a
// dealt key set combine and open it; a bad share is attributed and does not stop
// decryption while f+1 good ones exist; fewer than f+1 good ones never decrypt.
#include <catch2/catch.hpp>

#include "client_lib/client.h"
#include "client_lib/internal/requests.h"
#include "threshold/keys.h"
#include "threshold/tdh2.h"
#include "wire/request_format.h"
#include "wire/statements.h"

namespace belfry::client::internal {
namespace {

constexpr char kCluster[] = "conf-cluster";

struct Dealt {
  threshold::PublicKeySet keys;
  std::vector<threshold::DecryptionShareProvider> providers;  // providers[r]: replica r
};

Dealt DealKeys(uint32_t n, uint32_t f, uint64_t seed) {
  DeterministicRng rng(seed);
  auto dealt = threshold::Deal(n, f, rng);
  REQUIRE(dealt.ok());
  Dealt out{dealt->public_keys, {}};
  for (auto& share : dealt->shares) {
    auto provider =
        threshold::DecryptionShareProvider::Create(std::move(share), dealt->public_keys);
    REQUIRE(provider.ok());
    out.providers.push_back(*std::move(provider));
  }
  return out;
}

// What a checkout returns for a document sealed as `sealed` (as the replicas store it).
pb::CheckOutResult StoredResult(const std::string& doc, const SealedDocument& sealed) {
  pb::CheckOutResult r;
  r.set_doc(doc);
  r.set_data(sealed.data);
  r.set_confidential(true);
  r.set_version(3);
  const wire::Digest sha = wire::Sha256(AsBytes(sealed.data));
  r.set_sha256(std::string(sha.begin(), sha.end()));
  r.set_key_ciphertext(sealed.key_ciphertext);
  r.set_version_nonce(sealed.version_nonce);
  return r;
}

std::string ShareOf(const Dealt& d, uint32_t replica, const pb::CheckOutResult& r) {
  auto ct = threshold::Ciphertext::Parse(AsBytes(r.key_ciphertext()));
  REQUIRE(ct.ok());
  auto share = d.providers.at(replica).MakeShare(*ct, ct->label);
  REQUIRE(share.ok());
  return share->Serialize();
}

TEST_CASE("confidential round trip: seal, encrypt the key, f+1 shares combine and open",
          "[client][confidential]") {
  const Dealt d = DealKeys(4, 1, 11);
  CryptoRng rng;
  const std::string plaintext = "salary table 2024";
  auto sealed = SealConfidential(kCluster, "payroll", plaintext, d.keys, rng);
  REQUIRE(sealed.ok());
  CHECK(sealed->version_nonce.size() == wire::kVersionNonceBytes);
  CHECK(sealed->data.find(plaintext) == std::string::npos);
  // The key ciphertext is bound to exactly this document's label.
  auto ct = threshold::Ciphertext::Parse(AsBytes(sealed->key_ciphertext));
  REQUIRE(ct.ok());
  CHECK(ct->label == AsStringView(wire::DocumentLabel(kCluster, "payroll",
                                                       AsBytes(sealed->version_nonce))));
  CHECK(threshold::VerifyCiphertext(d.keys, *ct).ok());

  const pb::CheckOutResult result = StoredResult("payroll", *sealed);
  std::map<uint32_t, std::string> faults;

  SECTION("exactly f+1 shares suffice") {
    const std::map<uint32_t, std::string> shares = {{1, ShareOf(d, 1, result)},
                                                    {3, ShareOf(d, 3, result)}};
    auto opened = OpenConfidential(kCluster, result, d.keys, shares, &faults);
    REQUIRE(opened.ok());
    CHECK(*opened == plaintext);
    CHECK(faults.empty());
    CHECK(CountValidShares(kCluster, result, d.keys, shares) == 2);
  }
  SECTION("a bad share is reported and f+1 good ones still decrypt") {
    std::map<uint32_t, std::string> shares = {{0, ShareOf(d, 0, result)},
                                              {1, ShareOf(d, 2, result)},  // 2's share
                                              {2, "garbage"},
                                              {3, ShareOf(d, 3, result)}};
    auto opened = OpenConfidential(kCluster, result, d.keys, shares, &faults);
    REQUIRE(opened.ok());
    CHECK(*opened == plaintext);
    CHECK(faults.count(1) == 1);
    CHECK(faults.count(2) == 1);
    CHECK(faults.count(0) == 0);
  }
  SECTION("f valid shares plus bad ones never decrypt") {
    const std::map<uint32_t, std::string> shares = {{0, ShareOf(d, 0, result)},
                                                    {1, ShareOf(d, 0, result)},
                                                    {2, ""}};
    auto opened = OpenConfidential(kCluster, result, d.keys, shares, &faults);
    CHECK(ErrorKindOf(opened.status()) == ErrorKind::kIntegrity);
    CHECK(faults.count(1) == 1);
    CHECK(faults.at(2) == "sent no decryption share");
  }
  SECTION("a ciphertext moved to another document is refused") {
    pb::CheckOutResult moved = result;
    moved.set_doc("other");
    const std::map<uint32_t, std::string> shares = {{0, ShareOf(d, 0, result)},
                                                    {1, ShareOf(d, 1, result)}};
    CHECK(ErrorKindOf(OpenConfidential(kCluster, moved, d.keys, shares, &faults).status()) ==
          ErrorKind::kIntegrity);
  }
  SECTION("tampered document bytes do not open") {
    pb::CheckOutResult tampered = result;
    tampered.mutable_data()->back() ^= 1;
    const std::map<uint32_t, std::string> shares = {{0, ShareOf(d, 0, result)},
                                                    {1, ShareOf(d, 1, result)}};
    CHECK(ErrorKindOf(OpenConfidential(kCluster, tampered, d.keys, shares, &faults).status()) ==
          ErrorKind::kIntegrity);
  }
}

TEST_CASE("confidential: a larger cluster needs f+1 = 3 shares", "[client][confidential]") {
  const Dealt d = DealKeys(7, 2, 12);
  CryptoRng rng;
  auto sealed = SealConfidential(kCluster, "d", "seven replicas", d.keys, rng);
  REQUIRE(sealed.ok());
  const pb::CheckOutResult result = StoredResult("d", *sealed);
  std::map<uint32_t, std::string> shares = {{4, ShareOf(d, 4, result)},
                                            {6, ShareOf(d, 6, result)}};
  CHECK_FALSE(OpenConfidential(kCluster, result, d.keys, shares, nullptr).ok());
  shares[0] = ShareOf(d, 0, result);
  auto opened = OpenConfidential(kCluster, result, d.keys, shares, nullptr);
  REQUIRE(opened.ok());
  CHECK(*opened == "seven replicas");
}

}  // namespace
// Shares sealed to the checkout's key (threshold/sealed_share.h): the requester opens and
// combines them; anybody else who holds every sealed share, as a replayer of the request
// or a reader of the replies would, opens none and cannot decrypt.
TEST_CASE("confidential: sealed shares open only for the checkout's own key",
          "[client][confidential]") {
  const Dealt d = DealKeys(4, 1, 12);
  CryptoRng rng;
  const std::string plaintext = "canary-sealed-shares";
  auto sealed_doc = SealConfidential(kCluster, "payroll", plaintext, d.keys, rng);
  REQUIRE(sealed_doc.ok());
  const pb::CheckOutResult result = StoredResult("payroll", *sealed_doc);
  const Bytes label = wire::DocumentLabel(kCluster, "payroll", AsBytes(sealed_doc->version_nonce));
  const threshold::ShareRecipientKey alice = threshold::ShareRecipientKey::Generate();
  std::map<uint32_t, std::string> boxes;
  for (uint32_t r = 0; r < 4; ++r) {
    auto box = threshold::SealShare(alice.public_key(), r, label, ShareOf(d, r, result));
    REQUIRE(box.ok());
    boxes[r] = *box;
  }

  SECTION("the requester opens and decrypts") {
    std::map<uint32_t, std::string> faults;
    std::map<uint32_t, std::string> shares = OpenSealedShares(kCluster, result, alice, boxes, &faults);
    CHECK(shares.size() == 4);
    auto opened = OpenConfidential(kCluster, result, d.keys, shares, &faults);
    REQUIRE(opened.ok());
    CHECK(*opened == plaintext);
    WipeShares(shares);
    CHECK(shares.empty());
  }
  SECTION("anyone else opens nothing, and nothing decrypts") {
    const threshold::ShareRecipientKey bob = threshold::ShareRecipientKey::Generate();
    std::map<uint32_t, std::string> faults;
    std::map<uint32_t, std::string> shares = OpenSealedShares(kCluster, result, bob, boxes, &faults);
    CHECK(shares.empty());
    CHECK(faults.size() == 4);
    CHECK(faults.at(0) == "sent a sealed decryption share that does not open: sealed decryption "
                          "share does not open with this checkout's key");
    // The boxes themselves, taken as shares, are not shares either.
    CHECK_FALSE(OpenConfidential(kCluster, result, d.keys, boxes, nullptr).ok());
  }
  SECTION("a box moved to another replica's slot is refused") {
    std::map<uint32_t, std::string> swapped = {{0, boxes.at(1)}, {1, boxes.at(0)}};
    std::map<uint32_t, std::string> faults;
    CHECK(OpenSealedShares(kCluster, result, alice, swapped, &faults).empty());
    CHECK(faults.size() == 2);
  }
}

TEST_CASE("confidential: a key ciphertext whose proof fails is refused before any share is used",
          "[client][confidential]") {
  const Dealt d = DealKeys(4, 1, 13);
  CryptoRng rng;
  auto sealed_doc = SealConfidential(kCluster, "payroll", "x", d.keys, rng);
  REQUIRE(sealed_doc.ok());
  pb::CheckOutResult result = StoredResult("payroll", *sealed_doc);
  const std::map<uint32_t, std::string> shares = {{0, ShareOf(d, 0, result)},
                                                  {1, ShareOf(d, 1, result)}};
  auto ct = threshold::Ciphertext::Parse(AsBytes(result.key_ciphertext()));
  REQUIRE(ct.ok());
  ct->masked_key[0] ^= 1;  // the proof no longer verifies; the label is still right
  result.set_key_ciphertext(ct->Serialize());
  auto opened = OpenConfidential(kCluster, result, d.keys, shares, nullptr);
  CHECK(opened.status().message() ==
        "the document's key ciphertext does not verify under the service key");
}

}  // namespace belfry::client::internal
