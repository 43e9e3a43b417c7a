// Tests of threshold/sealed_share.h: a decryption share sealed to a checkout's ephemeral
// key opens only with that key, and only as the share of the replica and document label
// it was sealed for (the attack it closes: a replayed checkout, or a reply read by someone
// else, yields shares nobody else can use).
#include "threshold/sealed_share.h"

#include <sodium.h>

#include <catch2/catch.hpp>
#include <string>

namespace belfry::threshold {
namespace {

const std::string kShare = "a serialized decryption share";
const Bytes kLabel = {'d', 'o', 'c', '/', '1'};

TEST_CASE("a sealed share opens with the recipient's key as that replica's share for that label",
          "[threshold][sealed_share]") {
  const ShareRecipientKey key = ShareRecipientKey::Generate();
  absl::StatusOr<std::string> sealed = SealShare(key.public_key(), 2, kLabel, kShare);
  REQUIRE(sealed.ok());
  CHECK(sealed->find(kShare) == std::string::npos);  // never in the clear
  absl::StatusOr<std::string> opened = key.Open(*sealed, 2, kLabel);
  REQUIRE(opened.ok());
  CHECK(*opened == kShare);
}

TEST_CASE("a sealed share does not open for anyone but the recipient", "[threshold][sealed_share]") {
  const ShareRecipientKey alice = ShareRecipientKey::Generate();
  const ShareRecipientKey bob = ShareRecipientKey::Generate();
  absl::StatusOr<std::string> sealed = SealShare(alice.public_key(), 0, kLabel, kShare);
  REQUIRE(sealed.ok());
  absl::StatusOr<std::string> opened = bob.Open(*sealed, 0, kLabel);
  CHECK(opened.status().code() == absl::StatusCode::kDataLoss);
  CHECK(opened.status().message() == "sealed decryption share does not open with this checkout's key");
}

TEST_CASE("a sealed share is bound to its replica and label", "[threshold][sealed_share]") {
  const ShareRecipientKey key = ShareRecipientKey::Generate();
  absl::StatusOr<std::string> sealed = SealShare(key.public_key(), 1, kLabel, kShare);
  REQUIRE(sealed.ok());
  const std::string bound = "sealed decryption share is for another replica or document version";
  CHECK(key.Open(*sealed, 3, kLabel).status().message() == bound);
  CHECK(key.Open(*sealed, 1, Bytes{'d', 'o', 'c', '/', '2'}).status().message() == bound);
  std::string tampered = *sealed;
  tampered[tampered.size() / 2] ^= 1;
  CHECK(key.Open(tampered, 1, kLabel).status().code() == absl::StatusCode::kDataLoss);
  CHECK(key.Open("short", 1, kLabel).status().message() ==
        "sealed decryption share has an impossible size");
}

TEST_CASE("sealing refuses a recipient key that is not a usable X25519 key",
          "[threshold][sealed_share]") {
  CHECK(SealShare(Bytes(31, 7), 0, kLabel, kShare).status().message() ==
        "share recipient key must be 32 bytes");
  // The all-zero point has small order: a box to it would be readable by anyone.
  CHECK(SealShare(Bytes(32, 0), 0, kLabel, kShare).status().message() ==
        "share recipient key is not a usable X25519 key");
}

TEST_CASE("a moved-from recipient key holds no secret", "[threshold][sealed_share]") {
  ShareRecipientKey key = ShareRecipientKey::Generate();
  absl::StatusOr<std::string> sealed = SealShare(key.public_key(), 0, kLabel, kShare);
  REQUIRE(sealed.ok());
  ShareRecipientKey moved = std::move(key);
  CHECK(moved.Open(*sealed, 0, kLabel).ok());
  CHECK_FALSE(key.Open(*sealed, 0, kLabel).ok());  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace belfry::threshold
