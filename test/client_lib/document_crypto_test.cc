#include "client_lib/document_crypto.h"

#include <catch2/catch.hpp>

namespace belfry::client {
namespace {

TEST_CASE("a sealed document opens only with its key and label", "[client][crypto]") {
  DeterministicRng rng(5);
  DataKey key = DataKey::Generate(rng);
  const std::string sealed = SealDocument(key, "label-1", "top secret", rng);
  CHECK(sealed.find("top secret") == std::string::npos);
  auto opened = OpenDocument(key, "label-1", sealed);
  REQUIRE(opened.ok());
  CHECK(*opened == "top secret");

  CHECK(OpenDocument(key, "label-2", sealed).status().code() == absl::StatusCode::kDataLoss);
  DataKey other = DataKey::Generate(rng);
  CHECK(OpenDocument(other, "label-1", sealed).status().code() == absl::StatusCode::kDataLoss);
  std::string tampered = sealed;
  tampered[14] ^= 1;
  CHECK(OpenDocument(key, "label-1", tampered).status().code() == absl::StatusCode::kDataLoss);
  CHECK(OpenDocument(key, "label-1", "short").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("an empty document seals and opens", "[client][crypto]") {
  DeterministicRng rng(6);
  DataKey key = DataKey::Generate(rng);
  auto opened = OpenDocument(key, "", SealDocument(key, "", "", rng));
  REQUIRE(opened.ok());
  CHECK(opened->empty());
}

TEST_CASE("a moved-from key is wiped", "[client][crypto]") {
  DeterministicRng rng(7);
  DataKey a = DataKey::Generate(rng);
  const auto original = a.bytes();
  DataKey b(std::move(a));
  CHECK(b.bytes() == original);
  const std::array<uint8_t, 32> zero{};
  CHECK(a.bytes() == zero);  // NOLINT(bugprone-use-after-move): checking the wipe
}

}  // namespace
}  // namespace belfry::client
