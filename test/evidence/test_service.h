// test/evidence/test_service.h — a stand-in for the service key in evidence/ tests: a
// throwaway RSA-2048 key signing PKCS#1 v1.5 SHA-256 (the signature the threshold key's
// combined shares produce), a fresh test CA, the service certificate it issues, and the
// files the stock openssl commands read.
#ifndef BELFRY_TEST_EVIDENCE_TEST_SERVICE_H_
#define BELFRY_TEST_EVIDENCE_TEST_SERVICE_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "evidence/service_certificate.h"
#include "pki/issuer.h"
#include "test/pki/test_ca.h"

namespace belfry::testing {

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using RsaKey = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

// One RSA-2048 key per test binary: generating it is the slowest step of these tests.
inline EVP_PKEY* SharedRsaKey() {
  static EVP_PKEY* key = EVP_RSA_gen(2048);
  REQUIRE(key != nullptr);
  return key;
}

// PKCS#1 v1.5 over SHA-256(message) with `key`.
inline Bytes RsaSign(EVP_PKEY* key, ByteSpan message) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  REQUIRE(EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1);
  size_t length = 0;
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &length, message.data(), message.size()) == 1);
  Bytes signature(length);
  REQUIRE(EVP_DigestSign(ctx.get(), signature.data(), &length, message.data(), message.size()) ==
          1);
  signature.resize(length);
  return signature;
}

inline Bytes PublicKeyDer(EVP_PKEY* key) {
  const int length = i2d_PUBKEY(key, nullptr);
  REQUIRE(length > 0);
  Bytes der(static_cast<size_t>(length));
  unsigned char* p = der.data();
  REQUIRE(i2d_PUBKEY(key, &p) == length);
  return der;
}

inline std::string DerCertificateToPem(ByteSpan der) {
  const unsigned char* p = der.data();
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  REQUIRE(cert != nullptr);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_X509(bio.get(), cert.get()) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

inline void WriteFile(const std::string& path, ByteSpan bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}
inline void WriteFile(const std::string& path, std::string_view text) {
  WriteFile(path, AsBytes(text));
}

inline Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs a shell command (stdin from /dev/null, under `timeout`); its exit status and
// everything it printed.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
inline CommandResult RunCommand(const std::string& command, int timeout_seconds = 20) {
  const std::string full =
      "timeout " + std::to_string(timeout_seconds) + " " + command + " </dev/null 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(full.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    result.output.append(buf.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// TestService: a CA, the service certificate it issued for SharedRsaKey(), and ca.crt /
// service.crt (PEM) in a fresh folder.
class TestService {
 public:
  TestService() {
    ca_der_ = Unwrap(pki::CertificatePemToDer(ca_.cert_pem()));
    const int64_t now = NowUnixSeconds();
    service_der_ = Unwrap(evidence::IssueServiceCertificate(
        ca_der_, ca_.ca().key().native_handle(), PublicKeyDer(SharedRsaKey()),
        evidence::ServiceCertificateRequest{"belfry-service test-cluster", now - 3600,
                                            now + 86400}));
    WriteFile(ca_path(), ca_.cert_pem());
    WriteFile(service_path(), DerCertificateToPem(service_der_));
  }

  Bytes Sign(ByteSpan message) const { return RsaSign(SharedRsaKey(), message); }

  const TempDir& dir() const { return dir_; }
  const TestCa& ca() const { return ca_; }
  const Bytes& ca_der() const { return ca_der_; }
  const Bytes& service_der() const { return service_der_; }
  std::string ca_path() const { return dir_.File("ca.crt"); }
  std::string service_path() const { return dir_.File("service.crt"); }

  template <typename T>
  static T Unwrap(absl::StatusOr<T> v) {
    INFO(v.status().ToString());
    REQUIRE(v.ok());
    return std::move(*v);
  }

 private:
  TempDir dir_;
  TestCa ca_;
  Bytes ca_der_;
  Bytes service_der_;
};

}  // namespace belfry::testing

#endif  // BELFRY_TEST_EVIDENCE_TEST_SERVICE_H_
