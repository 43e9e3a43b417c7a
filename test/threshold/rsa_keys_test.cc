// Tests of threshold/rsa/keys.h and threshold/rsa/key_file.h: the dealer's parameter checks
// (safe primes, sizes, e a prime greater than n), public key set and key share validation
// with the exact status for each corruption, the exported OpenSSL key, and key files at
// modes 0600 and 0644.
#include "threshold/rsa/keys.h"

#include <catch2/catch.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/rng.h"
#include "proto/threshold_rsa.pb.h"
#include "test/threshold/rsa_test_util.h"
#include "test/threshold/test_util.h"
#include "threshold/rsa/internal/key_share_access.h"
#include "threshold/rsa/key_file.h"
#include "threshold/rsa/signature.h"

namespace belfry::threshold::rsa {
namespace {

using testing::FixedKeySet;
using testing::SafePrimes;
using threshold::testing::ToString;

// A fresh directory under TMPDIR (or /tmp), removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/belfry-rsa-keyfile-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

void WriteAll(const std::string& path, const std::string& bytes, mode_t mode = 0600) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

Bytes ModulusMinus(const PublicKeySet& keys, unsigned long k) {
  BIGNUM* n = BN_bin2bn(keys.modulus().data(), static_cast<int>(keys.modulus().size()), nullptr);
  REQUIRE(BN_sub_word(n, k) == 1);
  Bytes out(keys.modulus_bytes());
  REQUIRE(BN_bn2binpad(n, out.data(), static_cast<int>(out.size())) == static_cast<int>(out.size()));
  BN_free(n);
  return out;
}

// The Mersenne prime 2^521 - 1: prime, but (p-1)/2 = 2^520 - 1 is not, so not a safe prime.
Bytes MersennePrime521() {
  Bytes out(66, 0xff);
  out[0] = 0x01;
  return out;
}

TEST_CASE("Threshold RSA dealer: parameters outside their bounds are kInvalidParameters",
          "[threshold][rsa][keys]") {
  DeterministicRng rng(1);
  const Bytes& p = SafePrimes().at("p512");
  const Bytes& q = SafePrimes().at("q512");
  for (const auto& [n, f] : std::vector<std::pair<uint32_t, uint32_t>>{{0, 0}, {4, 4}, {4, 7}, {257, 1}}) {
    INFO("n=" << n << " f=" << f);
    REQUIRE_THRESHOLD_ERROR(DealFromPrimes(n, f, p, q, rng).status(), kInvalidArgument, kInvalidParameters);
    REQUIRE_THRESHOLD_ERROR(Deal(n, f, 1024, rng).status(), kInvalidArgument, kInvalidParameters);
  }
  for (const uint32_t bits : {0u, 512u, 1022u, 1025u, 4098u, 8192u}) {
    INFO("bits=" << bits);
    REQUIRE_THRESHOLD_ERROR(Deal(4, 1, bits, rng).status(), kInvalidArgument, kInvalidParameters);
  }
  // p = q; a prime that is not safe; safe primes too small for a 1024-bit modulus.
  REQUIRE_THRESHOLD_ERROR(DealFromPrimes(4, 1, p, p, rng).status(), kInvalidArgument, kInvalidParameters);
  REQUIRE_THRESHOLD_ERROR(DealFromPrimes(4, 1, MersennePrime521(), q, rng).status(), kInvalidArgument,
                          kInvalidParameters);
  const Bytes composite = {0x01, 0x01};  // 257 = 2·128 + 1, and 128 is not prime
  REQUIRE_THRESHOLD_ERROR(DealFromPrimes(4, 1, composite, q, rng).status(), kInvalidArgument, kInvalidParameters);
  REQUIRE_THRESHOLD_ERROR(DealFromPrimes(4, 1, Bytes{23}, Bytes{47}, rng).status(), kInvalidArgument,
                          kInvalidParameters);
  REQUIRE_THRESHOLD_ERROR(DealFromPrimes(4, 1, Bytes(kModulusBytesMax + 1, 0xff), q, rng).status(),
                          kInvalidArgument, kInvalidParameters);
}

TEST_CASE("Threshold RSA dealer: DealFromPrimes is reproducible from its seed and builds consistent shares",
          "[threshold][rsa][keys]") {
  const DealtKeySet a = FixedKeySet(4, 1, 5);
  const DealtKeySet b = FixedKeySet(4, 1, 5);
  const DealtKeySet c = FixedKeySet(4, 1, 6);
  CHECK(a.public_keys == b.public_keys);
  CHECK_FALSE(a.public_keys == c.public_keys);
  CHECK(a.public_keys.modulus() == c.public_keys.modulus());
  CHECK(a.public_keys.modulus_bits() == 1024);
  CHECK(a.public_keys.modulus_bytes() == 128);
  CHECK(a.public_keys.public_exponent() == kPublicExponent);
  CHECK(a.public_keys.n() == 4);
  CHECK(a.public_keys.threshold() == 2);
  REQUIRE(a.shares.size() == 4);
  for (const KeyShare& share : a.shares) {
    REQUIRE_OK(CheckKeyShareMatches(share, a.public_keys));
    REQUIRE_THRESHOLD_ERROR(CheckKeyShareMatches(share, c.public_keys), kFailedPrecondition, kKeyMismatch);
  }
  CHECK(a.shares[0].index() == 1);
  CHECK(a.shares[3].index() == 4);
}

TEST_CASE("Threshold RSA dealer: Deal with fresh safe primes signs like any key set", "[threshold][rsa][keys]") {
  CryptoRng rng;
  absl::StatusOr<DealtKeySet> dealt = Deal(4, 1, 1024, rng);
  REQUIRE(dealt.ok());
  CHECK(dealt->public_keys.modulus_bits() == 1024);
  const std::string message = "fresh";
  std::vector<SignatureShare> shares;
  for (KeyShare& share : dealt->shares) shares.push_back(*ShareSigner(std::move(share)).MakeShare(AsBytes(message)));
  for (const SignatureShare& share : shares) {
    REQUIRE_OK(VerifySignatureShare(dealt->public_keys, AsBytes(message), share));
  }
  const CombineResult result = CombineSignatureShares(dealt->public_keys, AsBytes(message), shares);
  REQUIRE_OK(result.signature.status());
  REQUIRE_OK(VerifySignature(dealt->public_keys, AsBytes(message), *result.signature));
}

TEST_CASE("Threshold RSA public key sets: round trip, DER export, and each corruption's status",
          "[threshold][rsa][keys]") {
  const DealtKeySet dealt = FixedKeySet(4, 1);
  const PublicKeySet& keys = dealt.public_keys;
  absl::StatusOr<PublicKeySet> parsed = PublicKeySet::Parse(AsBytes(keys.Serialize()));
  REQUIRE(parsed.ok());
  CHECK(*parsed == keys);

  absl::StatusOr<Bytes> der = keys.SubjectPublicKeyInfoDer();
  REQUIRE(der.ok());
  const uint8_t* cursor = der->data();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der->size())));
  REQUIRE(key != nullptr);
  BIGNUM* n = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n) == 1);
  Bytes n_bytes(static_cast<size_t>(BN_num_bytes(n)));
  BN_bn2bin(n, n_bytes.data());
  BN_free(n);
  CHECK(n_bytes == keys.modulus());

  pb::ThresholdRsaPublicKeySet proto;
  keys.ToProto(&proto);
  auto refuse = [&](auto mutate, absl::StatusCode code, ThresholdError kind) {
    pb::ThresholdRsaPublicKeySet p = proto;
    mutate(p);
    const absl::Status status = PublicKeySet::FromProto(p).status();
    INFO("status: " << status.ToString());
    CHECK(status.code() == code);
    CHECK(ThresholdErrorOf(status) == kind);
  };
  using C = absl::StatusCode;
  using E = ThresholdError;
  refuse([](auto& p) { p.set_format_version(2); }, C::kInvalidArgument, E::kMalformed);
  refuse([](auto& p) { p.set_n(5); }, C::kInvalidArgument, E::kMalformed);
  refuse([](auto& p) { p.set_f(4); }, C::kInvalidArgument, E::kInvalidParameters);
  refuse([](auto& p) { p.set_public_exponent(65535); }, C::kInvalidArgument, E::kInvalidParameters);  // not prime
  refuse([](auto& p) { p.set_public_exponent(3); }, C::kInvalidArgument, E::kInvalidParameters);      // not > n
  refuse([](auto& p) { p.mutable_modulus()->back() ^= 1; }, C::kInvalidArgument, E::kInvalidParameters);  // even
  refuse([](auto& p) { p.mutable_modulus()->insert(0, 1, '\0'); }, C::kInvalidArgument, E::kMalformed);
  refuse([](auto& p) { p.set_modulus(std::string(64, '\xff')); }, C::kInvalidArgument, E::kInvalidParameters);
  refuse([](auto& p) { p.mutable_verification_base()->pop_back(); }, C::kInvalidArgument, E::kMalformed);
  refuse([](auto& p) { p.set_verification_base(std::string(p.modulus().size(), '\0')); }, C::kInvalidArgument,
         E::kMalformed);
  refuse([](auto& p) { p.set_verification_base(p.modulus()); }, C::kInvalidArgument, E::kMalformed);
  refuse(
      [](auto& p) {
        std::string one(p.modulus().size(), '\0');
        one.back() = 1;
        p.set_verification_base(one);
      },
      C::kInvalidArgument, E::kMalformed);
  refuse([&](auto& p) { p.set_verification_base(ToString(ModulusMinus(keys, 1))); }, C::kInvalidArgument,
         E::kMalformed);
  refuse([](auto& p) { p.mutable_verification_keys(2)->push_back('\0'); }, C::kInvalidArgument, E::kMalformed);
  // A verification key sharing the factor p with the modulus.
  refuse([](auto& p) { p.set_verification_keys(1, std::string(p.modulus().size() - 64, '\0') +
                                                       ToString(SafePrimes().at("p512"))); },
         C::kInvalidArgument, E::kMalformed);

  const std::string bytes = keys.Serialize();
  REQUIRE_THRESHOLD_ERROR(PublicKeySet::Parse(AsBytes(bytes + "\x78\x01")).status(), kInvalidArgument, kMalformed);
  REQUIRE_THRESHOLD_ERROR(PublicKeySet::Parse(AsBytes(std::string(kPublicKeySetBytesMax + 1, '\0'))).status(),
                          kResourceExhausted, kTooLarge);
}

TEST_CASE("Threshold RSA key shares: each corruption of a key share is refused with its status",
          "[threshold][rsa][keys]") {
  const DealtKeySet dealt = FixedKeySet(4, 1);
  pb::ThresholdRsaSecretKeyShare proto;
  internal::KeyShareAccess::ToProto(dealt.shares[1], &proto);
  REQUIRE(KeyShare::FromProto(proto).ok());
  auto refuse = [&](auto mutate, absl::StatusCode code, ThresholdError kind) {
    pb::ThresholdRsaSecretKeyShare p = proto;
    mutate(p);
    const absl::Status status = KeyShare::FromProto(p).status();
    INFO("status: " << status.ToString());
    CHECK(status.code() == code);
    CHECK(ThresholdErrorOf(status) == kind);
  };
  using C = absl::StatusCode;
  using E = ThresholdError;
  refuse([](auto& p) { p.set_format_version(0); }, C::kInvalidArgument, E::kMalformed);
  refuse([](auto& p) { p.set_index(0); }, C::kOutOfRange, E::kIndexOutOfRange);
  refuse([](auto& p) { p.set_index(5); }, C::kOutOfRange, E::kIndexOutOfRange);
  refuse([](auto& p) { p.set_f(4); }, C::kInvalidArgument, E::kInvalidParameters);
  refuse([](auto& p) { p.mutable_secret()->back() ^= 1; }, C::kFailedPrecondition, E::kKeyMismatch);
  refuse([](auto& p) { p.mutable_secret()->pop_back(); }, C::kInvalidArgument, E::kMalformed);
  refuse([](auto& p) { p.set_secret(std::string(p.modulus().size(), '\xff')); }, C::kInvalidArgument,
         E::kMalformed);
  refuse([](auto& p) { p.mutable_verification_key()->back() ^= 1; }, C::kFailedPrecondition, E::kKeyMismatch);
  refuse([](auto& p) { p.set_public_exponent(15); }, C::kInvalidArgument, E::kInvalidParameters);
  refuse([](auto& p) { p.mutable_verification_base()->clear(); }, C::kInvalidArgument, E::kMalformed);
  internal::WipeSecretField(&proto);
  CHECK(proto.secret().empty());
}

TEST_CASE("Threshold RSA key files: round trip at mode 0600, public key set at 0644, atomic replace",
          "[threshold][rsa][keyfile]") {
  TempDir dir;
  DealtKeySet dealt = FixedKeySet(4, 1);
  const std::string path = dir.File("node-2.rsa.key");
  REQUIRE_OK(WriteKeyShareFile(path, dealt.shares[1], FileOverwrite::kRefuse));
  CHECK(ModeOf(path) == 0600);
  absl::StatusOr<KeyShare> read = ReadKeyShareFile(path);
  REQUIRE(read.ok());
  CHECK(read->index() == 2);
  REQUIRE_OK(CheckKeyShareMatches(*read, dealt.public_keys));
  const std::string message = "m";
  CHECK(*ShareSigner(std::move(*read)).MakeShare(AsBytes(message)) ==
        *ShareSigner(std::move(dealt.shares[1])).MakeShare(AsBytes(message)));

  const std::string pub = dir.File("rsa.pub");
  REQUIRE_OK(WritePublicKeySetFile(pub, dealt.public_keys, FileOverwrite::kRefuse));
  CHECK(ModeOf(pub) == 0644);
  absl::StatusOr<PublicKeySet> keys = ReadPublicKeySetFile(pub);
  REQUIRE(keys.ok());
  CHECK(*keys == dealt.public_keys);

  const absl::Status again = WriteKeyShareFile(path, dealt.shares[0], FileOverwrite::kRefuse);
  CHECK(again.code() == absl::StatusCode::kAlreadyExists);
  CHECK(ThresholdErrorOf(again) == ThresholdError::kFileIo);
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  REQUIRE_OK(WriteKeyShareFile(path, dealt.shares[0], FileOverwrite::kReplace));
  CHECK(ModeOf(path) == 0600);
  CHECK(ReadKeyShareFile(path)->index() == 1);
  // No temporary file is left beside the key.
  size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    INFO(entry.path());
    ++entries;
  }
  CHECK(entries == 2);

  const std::string link = dir.File("link.key");
  REQUIRE(::symlink(path.c_str(), link.c_str()) == 0);
  CHECK(ThresholdErrorOf(WriteKeyShareFile(link, dealt.shares[0], FileOverwrite::kReplace)) ==
        ThresholdError::kFileIo);
  CHECK(ThresholdErrorOf(ReadKeyShareFile(link).status()) == ThresholdError::kFileIo);
}

TEST_CASE("Threshold RSA key files: insecure modes, missing, oversized, undecodable and corrupted files",
          "[threshold][rsa][keyfile]") {
  TempDir dir;
  const DealtKeySet dealt = FixedKeySet(4, 1);
  const std::string path = dir.File("node-3.rsa.key");
  REQUIRE_OK(WriteKeyShareFile(path, dealt.shares[2], FileOverwrite::kRefuse));
  for (mode_t mode : {0640, 0604, 0644}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(path).status(), kFailedPrecondition, kInsecureFileMode);
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  CHECK(ReadKeyShareFile(path).ok());

  const absl::Status missing = ReadKeyShareFile(dir.File("absent.key")).status();
  CHECK(missing.code() == absl::StatusCode::kNotFound);
  CHECK(ThresholdErrorOf(missing) == ThresholdError::kFileIo);
  const std::string big = dir.File("big.key");
  WriteAll(big, std::string(kKeyShareFileBytesMax + 1, '\0'));
  REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(big).status(), kResourceExhausted, kTooLarge);
  const std::string garbage = dir.File("garbage.key");
  WriteAll(garbage, "\xff\xff\xff\xff");
  REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(garbage).status(), kInvalidArgument, kMalformed);
  WriteAll(garbage, "\xff\xff\xff\xff", 0644);
  REQUIRE_THRESHOLD_ERROR(ReadPublicKeySetFile(garbage).status(), kInvalidArgument, kMalformed);

  // A flipped bit in the stored secret is caught when the file loads.
  pb::ThresholdRsaSecretKeyShare proto;
  internal::KeyShareAccess::ToProto(dealt.shares[2], &proto);
  proto.mutable_secret()->at(40) ^= 0x10;
  const std::string corrupted = dir.File("corrupted.key");
  WriteAll(corrupted, proto.SerializeAsString());
  internal::WipeSecretField(&proto);
  REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(corrupted).status(), kFailedPrecondition, kKeyMismatch);
}

}  // namespace
}  // namespace belfry::threshold::rsa
