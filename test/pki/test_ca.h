// test/pki/test_ca.h — a fresh cluster CA and certificates in a temporary folder, for
// pki and transport tests. Each fixture makes its own CA, so no test trusts another's.
#ifndef BELFRY_TEST_PKI_TEST_CA_H_
#define BELFRY_TEST_PKI_TEST_CA_H_

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "pki/certificate.h"
#include "pki/issuer.h"

namespace belfry::testing {

// TempDir: a fresh folder under $TMPDIR (or /tmp) removed with everything in it on
// destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/belfry-test-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline int64_t NowUnixSeconds() { return static_cast<int64_t>(std::time(nullptr)); }

// TestCa: a CA valid from an hour ago for a day, issuing certificates with the same
// validity unless asked otherwise.
class TestCa {
 public:
  explicit TestCa(const std::string& name = "belfry-test-ca")
      : ca_(Create(name)) {}

  const pki::CertificateAuthority& ca() const { return ca_; }
  const std::string& cert_pem() const { return ca_.cert_pem(); }

  pki::IssuedCertificate Issue(const std::string& cn, pki::Role role) const {
    const int64_t now = NowUnixSeconds();
    return IssueAt(cn, role, now - 3600, now + 86400);
  }

  pki::IssuedCertificate IssueAt(const std::string& cn, pki::Role role, int64_t not_before,
                                 int64_t not_after) const {
    absl::StatusOr<pki::IssuedCertificate> issued =
        ca_.Issue(pki::CertificateRequest{cn, role, not_before, not_after});
    INFO(issued.status().ToString());
    REQUIRE(issued.ok());
    return std::move(*issued);
  }

  pki::CaBundle Bundle() const {
    absl::StatusOr<pki::CaBundle> bundle = pki::CaBundle::FromPem(ca_.cert_pem());
    INFO(bundle.status().ToString());
    REQUIRE(bundle.ok());
    return std::move(*bundle);
  }

 private:
  static pki::CertificateAuthority Create(const std::string& name) {
    const int64_t now = NowUnixSeconds();
    absl::StatusOr<pki::CertificateAuthority> ca =
        pki::CertificateAuthority::Create(name, now - 3600, now + 86400);
    INFO(ca.status().ToString());
    REQUIRE(ca.ok());
    return std::move(*ca);
  }

  pki::CertificateAuthority ca_;
};

}  // namespace belfry::testing

#endif  // BELFRY_TEST_PKI_TEST_CA_H_
