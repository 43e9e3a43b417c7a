// Tests for pki/key.h: OpenSSL signs, libsodium verifies, with the certificate's key.
#include "pki/key.h"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <string>

#include <catch2/catch.hpp>

#include "base/files.h"
#include "pki/certificate.h"
#include "test/pki/test_ca.h"

namespace belfry::pki {
namespace {

using testing::NowUnixSeconds;
using testing::TestCa;

TEST_CASE("an OpenSSL Ed25519 signature verifies with libsodium under the certificate key",
          "[pki]") {
  TestCa ca;
  const IssuedCertificate user = ca.Issue("alice", Role::kUser);
  absl::StatusOr<CertIdentity> id = ca.Bundle().Verify(user.cert_der, NowUnixSeconds());
  REQUIRE(id.ok());

  const std::string message = "login(alice, session-key, nonce)";
  absl::StatusOr<Ed25519Signature> sig = user.key.Sign(AsBytes(message));
  REQUIRE(sig.ok());
  // The verifier only has what the certificate says.
  CHECK(VerifyEd25519(id->ed25519_public_key, AsBytes(message), *sig));

  // Any change to the message or the signature is caught.
  std::string altered = message;
  altered[0] ^= 1;
  CHECK_FALSE(VerifyEd25519(id->ed25519_public_key, AsBytes(altered), *sig));
  Ed25519Signature bad = *sig;
  bad[10] ^= 0x80;
  CHECK_FALSE(VerifyEd25519(id->ed25519_public_key, AsBytes(message), bad));

  // Signing from the PEM text (what a client reads from NAME.key) gives the same result:
  // Ed25519 is deterministic.
  absl::StatusOr<SecretString> pem = user.key.ToPem();
  REQUIRE(pem.ok());
  absl::StatusOr<Ed25519Signature> sig2 = SignEd25519(pem->value(), AsBytes(message));
  REQUIRE(sig2.ok());
  CHECK(*sig2 == *sig);
}

TEST_CASE("the exported seed gives libsodium the same key pair and signatures", "[pki]") {
  REQUIRE(sodium_init() >= 0);
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::Generate();
  REQUIRE(key.ok());
  std::array<uint8_t, kEd25519SeedBytes> seed{};
  REQUIRE(key->ExportSeed(seed).ok());
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  REQUIRE(crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data()) == 0);
  CHECK(pk == key->public_key());

  const std::string message = "same bytes, two libraries";
  Ed25519Signature sodium_sig{};
  REQUIRE(crypto_sign_detached(sodium_sig.data(), nullptr, AsBytes(message).data(),
                               message.size(), sk.data()) == 0);
  absl::StatusOr<Ed25519Signature> openssl_sig = key->Sign(AsBytes(message));
  REQUIRE(openssl_sig.ok());
  CHECK(*openssl_sig == sodium_sig);

  absl::StatusOr<Ed25519PrivateKey> from_seed = Ed25519PrivateKey::FromSeed(seed);
  REQUIRE(from_seed.ok());
  CHECK(from_seed->public_key() == key->public_key());
  SecureWipe(seed.data(), seed.size());
  SecureWipe(sk.data(), sk.size());
}

TEST_CASE("non-Ed25519 and malformed private keys are refused", "[pki]") {
  CHECK_FALSE(Ed25519PrivateKey::FromPem("").ok());
  CHECK_FALSE(Ed25519PrivateKey::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
  // An X25519 key is a valid PKCS#8 key of the wrong kind.
  const char* x25519 =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VuBCIEIHBPzLn+rJ4ENc3VN7Ao7sm13tQ5wZlzoQpsLcLrcnBa\n"
      "-----END PRIVATE KEY-----\n";
  absl::StatusOr<Ed25519PrivateKey> wrong = Ed25519PrivateKey::FromPem(x25519);
  CHECK(wrong.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("SecretString wipes on move and on Wipe", "[pki]") {
  SecretString a(std::string(100, 's'));
  SecretString b(std::move(a));
  CHECK(a.value().empty());  // NOLINT(bugprone-use-after-move): checking the wipe
  CHECK(b.value() == std::string(100, 's'));
  b.Wipe();
  CHECK(b.value().empty());
}

}  // namespace
// Private keys (TLS, user, ca.key) are refused when group or others may read them, as key
// share files are, with the file named in the message.
TEST_CASE("a private key file readable by group or others is refused, naming the file", "[pki]") {
  char dir_template[] = "/tmp/belfry-keymode.XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string path = std::string(dir_template) + "/user.key";
  const std::string pem = "not read at all";
  REQUIRE(WriteFileAtomically(path, pem, 0640).ok());
  absl::StatusOr<std::string> read = ReadPrivateFileBounded(path, kPemFileBytesMax);
  CHECK(read.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(read.status().message()) ==
        path + " has mode 0640; a private key file must not be accessible to group or others (use 0600)");
  CHECK(Ed25519PrivateKey::FromFile(path).status().message() == read.status().message());
  REQUIRE(::chmod(path.c_str(), 0604) == 0);
  CHECK(std::string(ReadPrivateFileBounded(path, kPemFileBytesMax).status().message()) ==
        path + " has mode 0604; a private key file must not be accessible to group or others (use 0600)");
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  CHECK(ReadPrivateFileBounded(path, kPemFileBytesMax).ok());
  // Certificates stay world-readable.
  CHECK(ReadFileBounded(path, kPemFileBytesMax).ok());
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

}  // namespace belfry::pki
