// Tests of threshold/key_file.h and key validation: round trips, file modes, and every
// kind of corrupted key file refused with its specific status.
#include "threshold/key_file.h"

#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/rng.h"
#include "test/threshold/test_util.h"
#include "threshold/coin.h"

namespace belfry::threshold {
namespace {

// A fresh directory under TMPDIR (or /tmp), removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/belfry-keyfile-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

DealtKeySet DealOrDie(uint32_t n, uint32_t f, uint64_t seed) {
  DeterministicRng rng(seed);
  absl::StatusOr<DealtKeySet> dealt = Deal(n, f, rng);
  REQUIRE(dealt.ok());
  return std::move(*dealt);
}

TEST_CASE("Key files: a key share round-trips through a mode-0600 file and still signs",
          "[threshold][keyfile]") {
  TempDir dir;
  DealtKeySet dealt = DealOrDie(4, 1, 1);
  const std::string path = dir.File("node-2.key");
  REQUIRE_OK(WriteKeyShareFile(path, dealt.shares[1], FileOverwrite::kRefuse));
  CHECK(ModeOf(path) == 0600);
  absl::StatusOr<KeyShare> read = ReadKeyShareFile(path);
  REQUIRE(read.ok());
  CHECK(read->index() == 2);
  CHECK(read->n() == 4);
  CHECK(read->f() == 1);
  REQUIRE_OK(CheckKeyShareMatches(*read, dealt.public_keys));
  // The loaded share makes exactly the shares the original does.
  const CoinShare from_file = *CoinSigner(std::move(*read)).MakeShare("n");
  CHECK(from_file == *CoinSigner(std::move(dealt.shares[1])).MakeShare("n"));
  REQUIRE_OK(VerifyCoinShare(dealt.public_keys, "n", from_file));
}

TEST_CASE("Key files: existing files are refused or replaced at mode 0600", "[threshold][keyfile]") {
  TempDir dir;
  const DealtKeySet dealt = DealOrDie(4, 1, 2);
  const std::string path = dir.File("node-1.key");
  REQUIRE_OK(WriteKeyShareFile(path, dealt.shares[0], FileOverwrite::kRefuse));
  const absl::Status again = WriteKeyShareFile(path, dealt.shares[0], FileOverwrite::kRefuse);
  CHECK(again.code() == absl::StatusCode::kAlreadyExists);
  CHECK(ThresholdErrorOf(again) == ThresholdError::kFileIo);
  // Replacing a file that someone widened to 0644 narrows it again before writing.
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  REQUIRE_OK(WriteKeyShareFile(path, dealt.shares[0], FileOverwrite::kReplace));
  CHECK(ModeOf(path) == 0600);
  // A symlink is never followed.
  const std::string link = dir.File("link.key");
  REQUIRE(::symlink(path.c_str(), link.c_str()) == 0);
  CHECK(ThresholdErrorOf(WriteKeyShareFile(link, dealt.shares[0], FileOverwrite::kReplace)) ==
        ThresholdError::kFileIo);
  CHECK(ThresholdErrorOf(ReadKeyShareFile(link).status()) == ThresholdError::kFileIo);
}

TEST_CASE("Key files: a key share file readable by group or others is kInsecureFileMode",
          "[threshold][keyfile]") {
  TempDir dir;
  const DealtKeySet dealt = DealOrDie(4, 1, 3);
  const std::string path = dir.File("node-3.key");
  REQUIRE_OK(WriteKeyShareFile(path, dealt.shares[2], FileOverwrite::kRefuse));
  for (mode_t mode : {0640, 0604, 0660, 0644}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(path).status(), kFailedPrecondition, kInsecureFileMode);
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  CHECK(ReadKeyShareFile(path).ok());
}

TEST_CASE("Key files: missing, oversized and undecodable files", "[threshold][keyfile]") {
  TempDir dir;
  const absl::Status missing = ReadKeyShareFile(dir.File("absent.key")).status();
  CHECK(missing.code() == absl::StatusCode::kNotFound);
  CHECK(ThresholdErrorOf(missing) == ThresholdError::kFileIo);
  const std::string big = dir.File("big.key");
  WriteAll(big, std::string(kKeyShareFileBytesMax + 1, '\0'));
  REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(big).status(), kResourceExhausted, kTooLarge);
  const std::string garbage = dir.File("garbage.key");
  WriteAll(garbage, "\xff\xff\xff\xff");
  REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(garbage).status(), kInvalidArgument, kMalformed);
  const std::string dir_path = dir.File("subdir");
  REQUIRE(::mkdir(dir_path.c_str(), 0700) == 0);
  REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(dir_path).status(), kInvalidArgument, kMalformed);
}

TEST_CASE("Key files: every corrupted field of a key share file is refused", "[threshold][keyfile]") {
  TempDir dir;
  const DealtKeySet dealt = DealOrDie(4, 1, 4);
  const std::string path = dir.File("node-4.key");
  REQUIRE_OK(WriteKeyShareFile(path, dealt.shares[3], FileOverwrite::kRefuse));
  pb::ThresholdSecretKeyShare good;
  REQUIRE(good.ParseFromString(ReadAll(path)));

  auto expect = [&](const pb::ThresholdSecretKeyShare& proto, absl::StatusCode code, ThresholdError kind) {
    const std::string corrupt = dir.File("corrupt.key");
    WriteAll(corrupt, proto.SerializeAsString());
    const absl::Status status = ReadKeyShareFile(corrupt).status();
    INFO(status.ToString());
    CHECK(status.code() == code);
    CHECK(ThresholdErrorOf(status) == kind);
  };
  pb::ThresholdSecretKeyShare bad = good;
  bad.mutable_secret()->at(0) ^= 1;  // a flipped bit: still canonical, but not g^x_i any more
  expect(bad, absl::StatusCode::kFailedPrecondition, ThresholdError::kKeyMismatch);
  bad = good;
  bad.set_secret(std::string(32, '\xff'));
  expect(bad, absl::StatusCode::kInvalidArgument, ThresholdError::kNonCanonicalScalar);
  bad = good;
  bad.set_secret(std::string(31, '\x01'));
  expect(bad, absl::StatusCode::kInvalidArgument, ThresholdError::kMalformed);
  bad = good;
  bad.set_verification_key(std::string("\x01") + std::string(31, '\0'));
  expect(bad, absl::StatusCode::kInvalidArgument, ThresholdError::kNonCanonicalPoint);
  bad = good;
  bad.set_public_key(std::string(32, '\0'));
  expect(bad, absl::StatusCode::kInvalidArgument, ThresholdError::kIdentityPoint);
  bad = good;
  bad.set_index(5);
  expect(bad, absl::StatusCode::kOutOfRange, ThresholdError::kIndexOutOfRange);
  bad.set_index(0);
  expect(bad, absl::StatusCode::kOutOfRange, ThresholdError::kIndexOutOfRange);
  bad = good;
  bad.set_f(4);
  expect(bad, absl::StatusCode::kInvalidArgument, ThresholdError::kInvalidParameters);
  bad = good;
  bad.set_format_version(2);
  expect(bad, absl::StatusCode::kInvalidArgument, ThresholdError::kMalformed);
  // Truncated file.
  const std::string truncated = dir.File("truncated.key");
  const std::string bytes = good.SerializeAsString();
  WriteAll(truncated, bytes.substr(0, bytes.size() - 5));
  REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(truncated).status(), kInvalidArgument, kMalformed);
  // Unknown trailing field.
  WriteAll(truncated, bytes + std::string("\xa0\x06\x01", 3));
  REQUIRE_THRESHOLD_ERROR(ReadKeyShareFile(truncated).status(), kInvalidArgument, kMalformed);
  // A share from another key set is refused by CheckKeyShareMatches.
  const DealtKeySet other = DealOrDie(4, 1, 5);
  REQUIRE_THRESHOLD_ERROR(CheckKeyShareMatches(*ReadKeyShareFile(path), other.public_keys),
                          kFailedPrecondition, kKeyMismatch);
}

TEST_CASE("Key files: public key sets round-trip and tampered sets are refused", "[threshold][keyfile]") {
  TempDir dir;
  const DealtKeySet dealt = DealOrDie(7, 2, 6);
  const std::string path = dir.File("coin.pub");
  REQUIRE_OK(WritePublicKeySetFile(path, dealt.public_keys, FileOverwrite::kRefuse));
  CHECK(ModeOf(path) == 0644);
  absl::StatusOr<PublicKeySet> read = ReadPublicKeySetFile(path);
  REQUIRE(read.ok());
  CHECK(*read == dealt.public_keys);

  pb::ThresholdPublicKeySet good;
  dealt.public_keys.ToProto(&good);
  pb::ThresholdPublicKeySet bad = good;
  // A swapped pair of verification keys: every point is valid, the set is not.
  bad.mutable_verification_keys()->SwapElements(0, 5);
  REQUIRE_THRESHOLD_ERROR(PublicKeySet::FromProto(bad).status(), kFailedPrecondition, kKeyMismatch);
  bad = good;
  *bad.mutable_public_key() = good.verification_keys(0);
  REQUIRE_THRESHOLD_ERROR(PublicKeySet::FromProto(bad).status(), kFailedPrecondition, kKeyMismatch);
  bad = good;
  bad.mutable_verification_keys()->RemoveLast();
  REQUIRE_THRESHOLD_ERROR(PublicKeySet::FromProto(bad).status(), kInvalidArgument, kMalformed);
  bad = good;
  bad.set_verification_keys(3, std::string(32, '\xff'));
  REQUIRE_THRESHOLD_ERROR(PublicKeySet::FromProto(bad).status(), kInvalidArgument, kNonCanonicalPoint);
  bad = good;
  bad.set_n(0);
  REQUIRE_THRESHOLD_ERROR(PublicKeySet::FromProto(bad).status(), kInvalidArgument, kInvalidParameters);
  REQUIRE_THRESHOLD_ERROR(PublicKeySet::Parse(Bytes(kPublicKeySetBytesMax + 1, 0)).status(),
                          kResourceExhausted, kTooLarge);
}

TEST_CASE("Deal refuses impossible (n, f)", "[threshold][keyfile]") {
  DeterministicRng rng(1);
  REQUIRE_THRESHOLD_ERROR(Deal(3, 3, rng).status(), kInvalidArgument, kInvalidParameters);
  REQUIRE_THRESHOLD_ERROR(Deal(0, 0, rng).status(), kInvalidArgument, kInvalidParameters);
  REQUIRE_THRESHOLD_ERROR(Deal(kParticipantsMax + 1, 1, rng).status(), kInvalidArgument, kInvalidParameters);
}

}  // namespace
}  // namespace belfry::threshold
