#include "base/sha256.h"

#include <sodium.h>

#include <catch2/catch.hpp>
#include <string>

namespace belfry {
namespace {

std::string Hex(const Sha256Digest& d) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

TEST_CASE("sha256: FIPS 180-2 known answers") {
  CHECK(Hex(Sha256Of("abc", 3)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Hex(Sha256Of("", 0)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(Hex(Sha256Of(two_blocks.data(), two_blocks.size())) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("sha256: incremental equals one-shot and libsodium, and the hasher restarts") {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 131 + 7));
  Sha256Hasher h;
  for (size_t pos = 0; pos < data.size(); pos += 977) {
    h.Update(data.data() + pos, std::min<size_t>(977, data.size() - pos));
  }
  const Sha256Digest incremental = h.Finish();
  Sha256Digest sodium{};
  crypto_hash_sha256(sodium.data(), reinterpret_cast<const uint8_t*>(data.data()), data.size());
  CHECK(incremental == Sha256Of(data.data(), data.size()));
  CHECK(incremental == sodium);
  CHECK(h.Update("abc", 3).Finish() == Sha256Of("abc", 3));
}

}  // namespace
}  // namespace belfry
