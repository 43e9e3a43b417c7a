// Known-answer tests: a key set dealt from a fixed seed must give byte-for-byte the key
// files, coin shares, coin, ciphertext and decryption shares recorded once in
// testdata/threshold_kat.txt. Any change to an encoding, a domain string, a hash input or
// the dealer's use of randomness fails here. The recorded values are also decoded and
// combined, so the reading side is pinned too.
//
// To regenerate after a deliberate format change (and bump kKeyFormatVersion or the
// domain strings' version as appropriate):
//   BELFRY_REGENERATE_KAT=1 ./threshold_test "[kat]"
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "base/rng.h"
#include "test/threshold/test_util.h"
#include "threshold/coin.h"
#include "threshold/key_file.h"
#include "threshold/tdh2.h"

namespace belfry::threshold {
namespace {

using testing::MustFromHex;

constexpr uint64_t kDealSeed = 0x62656c66727900;     // "belfry\0"
constexpr uint64_t kEncryptSeed = 0x62656c66727901;  // "belfry\1"
constexpr uint32_t kN = 4;
constexpr uint32_t kF = 1;
constexpr std::string_view kCoinName = "belfry-kat/cluster=1/epoch=7/aba=2/round=3";
constexpr std::string_view kLabel = "doc=kat-document;version=1";

std::string KatPath() { return std::string(BELFRY_THRESHOLD_TESTDATA_DIR) + "/threshold_kat.txt"; }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The key file bytes for `share`, written through the real writer.
std::string KeyFileBytes(const KeyShare& share) {
  std::string dir = (std::filesystem::temp_directory_path() / "belfry-kat-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  const std::string path = dir + "/share.key";
  REQUIRE_OK(WriteKeyShareFile(path, share, FileOverwrite::kRefuse));
  std::string bytes = ReadAll(path);
  std::filesystem::remove_all(dir);
  return bytes;
}

SymmetricKey KatKey() {
  Bytes raw(kSymmetricKeyBytes);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i);
  return *SymmetricKey::FromBytes(raw);
}

// Computes every known answer, in file order.
std::vector<std::pair<std::string, std::string>> ComputeKat() {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&out](std::string name, ByteSpan value) { out.emplace_back(std::move(name), ToHex(value)); };
  DeterministicRng deal_rng(kDealSeed);
  absl::StatusOr<DealtKeySet> coin_keys = Deal(kN, kF, deal_rng);
  absl::StatusOr<DealtKeySet> tdh2_keys = Deal(kN, kF, deal_rng);
  REQUIRE(coin_keys.ok());
  REQUIRE(tdh2_keys.ok());

  add("coin.public_key_set", AsBytes(coin_keys->public_keys.Serialize()));
  add("coin.name_point", HashCoinName(kCoinName).span());
  std::vector<CoinShare> coin_shares;
  for (KeyShare& share : coin_keys->shares) {
    const uint32_t i = share.index();
    add("coin.key_file." + std::to_string(i), AsBytes(KeyFileBytes(share)));
    const CoinShare coin_share = *CoinSigner(std::move(share)).MakeShare(kCoinName);
    add("coin.share." + std::to_string(i), AsBytes(coin_share.Serialize()));
    coin_shares.push_back(coin_share);
  }
  const CoinValue coin = *CombineCoin(coin_keys->public_keys, kCoinName, coin_shares);
  add("coin.value", ByteSpan(coin.bytes));
  const uint8_t bit = coin.bit() ? 1 : 0;
  add("coin.bit", ByteSpan(&bit, 1));

  add("tdh2.public_key_set", AsBytes(tdh2_keys->public_keys.Serialize()));
  add("tdh2.second_generator", Tdh2SecondGenerator().span());
  DeterministicRng encrypt_rng(kEncryptSeed);
  const Ciphertext ct = *Encrypt(tdh2_keys->public_keys, kLabel, KatKey(), encrypt_rng);
  add("tdh2.ciphertext", AsBytes(ct.Serialize()));
  for (KeyShare& share : tdh2_keys->shares) {
    const uint32_t i = share.index();
    add("tdh2.key_file." + std::to_string(i), AsBytes(KeyFileBytes(share)));
    absl::StatusOr<DecryptionShareProvider> provider =
        DecryptionShareProvider::Create(std::move(share), tdh2_keys->public_keys);
    REQUIRE(provider.ok());
    add("tdh2.decryption_share." + std::to_string(i), AsBytes(provider->MakeShare(ct, kLabel)->Serialize()));
  }
  return out;
}

std::map<std::string, std::string> ReadKatFile() {
  std::ifstream in(KatPath());
  REQUIRE(in.good());
  std::map<std::string, std::string> kat;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find(" = ");
    REQUIRE(eq != std::string::npos);
    kat[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return kat;
}

TEST_CASE("KAT: a fixed seed gives the recorded keys, shares, coin and ciphertext", "[threshold][kat]") {
  const std::vector<std::pair<std::string, std::string>> computed = ComputeKat();
  if (std::getenv("BELFRY_REGENERATE_KAT") != nullptr) {
    std::ofstream out(KatPath(), std::ios::trunc);
    out << "# Known answers for test/threshold/kat_test.cc (hex). Generated once from fixed seeds;\n"
        << "# a change here means an encoding changed. n=" << kN << " f=" << kF << ", coin name \""
        << kCoinName << "\", label \"" << kLabel << "\", key 000102..1f.\n";
    for (const auto& [name, hex] : computed) out << name << " = " << hex << "\n";
    WARN("regenerated " << KatPath());
    return;
  }
  const std::map<std::string, std::string> recorded = ReadKatFile();
  REQUIRE(recorded.size() == computed.size());
  for (const auto& [name, hex] : computed) {
    INFO(name);
    REQUIRE(recorded.count(name) == 1);
    CHECK(recorded.at(name) == hex);
  }
}

TEST_CASE("KAT: the recorded shares and ciphertext decode, verify and combine", "[threshold][kat]") {
  const std::map<std::string, std::string> kat = ReadKatFile();
  const absl::StatusOr<PublicKeySet> coin_keys = PublicKeySet::Parse(MustFromHex(kat.at("coin.public_key_set")));
  const absl::StatusOr<PublicKeySet> tdh2_keys = PublicKeySet::Parse(MustFromHex(kat.at("tdh2.public_key_set")));
  REQUIRE(coin_keys.ok());
  REQUIRE(tdh2_keys.ok());

  std::vector<CoinShare> coin_shares;
  for (uint32_t i = 1; i <= kN; ++i) {
    absl::StatusOr<CoinShare> share = CoinShare::Parse(MustFromHex(kat.at("coin.share." + std::to_string(i))));
    REQUIRE(share.ok());
    REQUIRE_OK(VerifyCoinShareFrom(*coin_keys, i, kCoinName, *share));
    coin_shares.push_back(*share);
  }
  const std::vector<CoinShare> last_two = {coin_shares[3], coin_shares[2]};
  absl::StatusOr<CoinValue> coin = CombineCoin(*coin_keys, kCoinName, last_two);
  REQUIRE(coin.ok());
  CHECK(ToHex(ByteSpan(coin->bytes)) == kat.at("coin.value"));

  absl::StatusOr<Ciphertext> ct = Ciphertext::Parse(MustFromHex(kat.at("tdh2.ciphertext")));
  REQUIRE(ct.ok());
  CHECK(ct->label == kLabel);
  REQUIRE_OK(VerifyCiphertext(*tdh2_keys, *ct));
  std::vector<DecryptionShare> shares;
  for (uint32_t i = 1; i <= kN; ++i) {
    absl::StatusOr<DecryptionShare> share =
        DecryptionShare::Parse(MustFromHex(kat.at("tdh2.decryption_share." + std::to_string(i))));
    REQUIRE(share.ok());
    REQUIRE_OK(VerifyDecryptionShareFrom(*tdh2_keys, i, *ct, *share));
    shares.push_back(*share);
  }
  const std::vector<DecryptionShare> middle_two = {shares[1], shares[2]};
  absl::StatusOr<SymmetricKey> key = CombineDecryptionShares(*tdh2_keys, *ct, middle_two);
  REQUIRE(key.ok());
  CHECK(*key == KatKey());
}

}  // namespace
}  // namespace belfry::threshold
