// Tests for pki/: issuing and verifying the cluster's certificate identities.
#include "pki/certificate.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "base/files.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "test/pki/test_ca.h"

namespace belfry::pki {
namespace {

using testing::NowUnixSeconds;
using testing::TempDir;
using testing::TestCa;

Bytes Der(const IssuedCertificate& issued) { return issued.cert_der; }

TEST_CASE("issued replica and user certificates verify with their identity and role",
          "[pki]") {
  TestCa ca;
  CaBundle bundle = ca.Bundle();
  const IssuedCertificate replica = ca.Issue("replica-2", Role::kReplica);
  const IssuedCertificate user = ca.Issue("alice", Role::kUser);

  absl::StatusOr<CertIdentity> r = bundle.Verify(Der(replica), NowUnixSeconds());
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->common_name == "replica-2");
  CHECK(r->role == Role::kReplica);
  CHECK(r->ed25519_public_key == replica.key.public_key());
  CHECK(r->not_after_unix_s > NowUnixSeconds());

  absl::StatusOr<CertIdentity> u = bundle.Verify(Der(user), NowUnixSeconds());
  REQUIRE(u.ok());
  CHECK(u->common_name == "alice");
  CHECK(u->role == Role::kUser);
  CHECK(u->ed25519_public_key == user.key.public_key());
  CHECK(std::string(RoleName(Role::kUser)) == "user");
  CHECK(std::string(RoleName(Role::kReplica)) == "replica");
}

TEST_CASE("verification uses the caller's time: expired and not-yet-valid are refused",
          "[pki]") {
  TestCa ca;
  CaBundle bundle = ca.Bundle();
  const int64_t now = NowUnixSeconds();
  const IssuedCertificate cert = ca.IssueAt("bob", Role::kUser, now, now + 600);

  CHECK(bundle.Verify(Der(cert), now + 1).ok());
  // The same certificate, judged at other moments (consensus time, not the wall clock).
  absl::StatusOr<CertIdentity> expired = bundle.Verify(Der(cert), now + 601);
  CHECK(expired.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(absl::StrContains(expired.status().message(), "expired"));
  absl::StatusOr<CertIdentity> early = bundle.Verify(Der(cert), now - 10);
  CHECK(early.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(absl::StrContains(early.status().message(), "not yet valid"));

  const IssuedCertificate future = ca.IssueAt("carol", Role::kUser, now + 3600, now + 7200);
  CHECK(bundle.Verify(Der(future), now).status().code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(bundle.Verify(Der(future), now + 3700).ok());
}

TEST_CASE("a certificate from another CA is refused", "[pki]") {
  TestCa ours("cluster-a");
  TestCa theirs("cluster-b");
  const IssuedCertificate foreign = theirs.Issue("replica-0", Role::kReplica);
  absl::StatusOr<CertIdentity> id = ours.Bundle().Verify(Der(foreign), NowUnixSeconds());
  CHECK(id.status().code() == absl::StatusCode::kPermissionDenied);
  // A bundle with both CAs accepts it.
  absl::StatusOr<CaBundle> both = CaBundle::FromPem(ours.cert_pem() + theirs.cert_pem());
  REQUIRE(both.ok());
  CHECK(both->Verify(Der(foreign), NowUnixSeconds()).ok());
}

TEST_CASE("the CA certificate itself is not an identity", "[pki]") {
  TestCa ca;
  absl::StatusOr<Bytes> der = CertificatePemToDer(ca.cert_pem());
  REQUIRE(der.ok());
  CHECK(ca.Bundle().Verify(*der, NowUnixSeconds()).status().code() ==
        absl::StatusCode::kPermissionDenied);
}

TEST_CASE("malformed input is INVALID_ARGUMENT, never a crash", "[pki]") {
  TestCa ca;
  CaBundle bundle = ca.Bundle();
  const IssuedCertificate cert = ca.Issue("dave", Role::kUser);
  Bytes der = Der(cert);
  CHECK(bundle.Verify(Bytes{}, NowUnixSeconds()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  Bytes truncated(der.begin(), der.begin() + static_cast<ptrdiff_t>(der.size() / 2));
  CHECK(bundle.Verify(truncated, NowUnixSeconds()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  Bytes trailing = der;
  trailing.push_back(0);
  CHECK(bundle.Verify(trailing, NowUnixSeconds()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // A flipped bit inside the signed part breaks the CA signature.
  Bytes flipped = der;
  flipped[der.size() / 2] ^= 0x01;
  CHECK_FALSE(bundle.Verify(flipped, NowUnixSeconds()).ok());

  CHECK_FALSE(CaBundle::FromPem("").ok());
  CHECK_FALSE(CaBundle::FromPem("not a certificate").ok());
  CHECK_FALSE(CaBundle::FromPem(cert.cert_pem).ok());  // a leaf is not a CA
}

TEST_CASE("a revoked certificate is refused once the CRL is in the bundle", "[pki]") {
  TestCa ca;
  const int64_t now = NowUnixSeconds();
  const IssuedCertificate revoked = ca.Issue("mallory", Role::kUser);
  const IssuedCertificate kept = ca.Issue("alice", Role::kUser);
  const std::vector<std::string> list = {revoked.cert_pem};
  absl::StatusOr<std::string> crl = ca.ca().MakeCrl(list, now - 60, now + 3600);
  INFO(crl.status().ToString());
  REQUIRE(crl.ok());
  absl::StatusOr<CaBundle> bundle = CaBundle::FromPemWithCrls(ca.cert_pem(), *crl);
  INFO(bundle.status().ToString());
  REQUIRE(bundle.ok());
  absl::StatusOr<CertIdentity> refused = bundle->Verify(Der(revoked), now);
  CHECK(refused.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(absl::StrContains(refused.status().message(), "revoked"));
  CHECK(bundle->Verify(Der(kept), now).ok());
  // Without the CRL, the same certificate still verifies.
  CHECK(ca.Bundle().Verify(Der(revoked), now).ok());
}

TEST_CASE("key files are created 0600 and certificates 0644", "[pki]") {
  TempDir dir;
  TestCa ca;
  const IssuedCertificate cert = ca.Issue("alice", Role::kUser);
  const std::string key_path = dir.File("alice.key");
  const std::string cert_path = dir.File("alice.crt");
  REQUIRE(WriteKeyAndCertificate(cert, key_path, cert_path).ok());
  struct stat st {};
  REQUIRE(::stat(key_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(cert_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);

  // The file round-trips to the same key, and rewriting keeps 0600.
  absl::StatusOr<Ed25519PrivateKey> loaded = Ed25519PrivateKey::FromFile(key_path);
  REQUIRE(loaded.ok());
  CHECK(loaded->public_key() == cert.key.public_key());
  REQUIRE(WriteKeyAndCertificate(cert, key_path, cert_path).ok());
  REQUIRE(::stat(key_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  absl::StatusOr<CaBundle> from_file = CaBundle::FromFile(cert_path);
  CHECK_FALSE(from_file.ok());  // a leaf file is not a CA bundle
  REQUIRE(WritePublicFile(dir.File("ca.crt"), ca.cert_pem()).ok());
  CHECK(CaBundle::FromFile(dir.File("ca.crt")).ok());
  CHECK(CaBundle::FromFile(dir.File("missing.crt")).status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("a CA reloaded from its PEM files issues certificates the bundle accepts",
          "[pki]") {
  TestCa ca;
  absl::StatusOr<SecretString> key_pem = ca.ca().key().ToPem();
  REQUIRE(key_pem.ok());
  absl::StatusOr<CertificateAuthority> reloaded =
      CertificateAuthority::FromPem(ca.cert_pem(), key_pem->value());
  INFO(reloaded.status().ToString());
  REQUIRE(reloaded.ok());
  const int64_t now = NowUnixSeconds();
  absl::StatusOr<IssuedCertificate> issued =
      reloaded->Issue(CertificateRequest{"erin", Role::kUser, now - 10, now + 100});
  REQUIRE(issued.ok());
  CHECK(ca.Bundle().Verify(issued->cert_der, now).ok());

  // A key that does not belong to the certificate is refused.
  absl::StatusOr<Ed25519PrivateKey> other = Ed25519PrivateKey::Generate();
  REQUIRE(other.ok());
  absl::StatusOr<SecretString> other_pem = other->ToPem();
  REQUIRE(other_pem.ok());
  CHECK_FALSE(CertificateAuthority::FromPem(ca.cert_pem(), other_pem->value()).ok());
}

TEST_CASE("bad certificate requests are refused", "[pki]") {
  TestCa ca;
  const int64_t now = NowUnixSeconds();
  CHECK(ca.ca().Issue({"", Role::kUser, now, now + 10}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ca.ca().Issue({"bad\nname", Role::kUser, now, now + 10}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ca.ca().Issue({std::string(65, 'a'), Role::kUser, now, now + 10}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ca.ca().Issue({"ok", Role::kUser, now, now}).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace belfry::pki
