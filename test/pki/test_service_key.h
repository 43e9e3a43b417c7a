// test/pki/test_service_key.h — a service key for test clusters, dealt from the public
// safe primes of test/testdata/service_key_primes.txt so that no test waits for a
// safe-prime search (belfry-setup init --insecure-service-key-primes does the same for
// the tests that run real replicas). Never for a real cluster: its factors are public.
#ifndef BELFRY_TEST_PKI_TEST_SERVICE_KEY_H_
#define BELFRY_TEST_PKI_TEST_SERVICE_KEY_H_

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/files.h"
#include "base/rng.h"
#include "base/status.h"
#include "evidence/service_certificate.h"
#include "pki/issuer.h"
#include "threshold/key_file.h"
#include "threshold/rsa/key_file.h"
#include "threshold/rsa/keys.h"

namespace belfry::testing {

inline std::string TestServiceKeyPrimesPath() { return BELFRY_TEST_SERVICE_KEY_PRIMES; }

inline absl::StatusOr<threshold::rsa::DealtKeySet> DealTestServiceKey(uint32_t n, uint32_t f, uint64_t seed = 7) {
  std::ifstream in(TestServiceKeyPrimesPath());
  std::string line, p_hex, q_hex;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name, equals, hex;
    fields >> name >> equals >> hex;
    if (name == "p") p_hex = hex;
    if (name == "q") q_hex = hex;
  }
  absl::StatusOr<Bytes> p = FromHex(p_hex);
  absl::StatusOr<Bytes> q = FromHex(q_hex);
  if (!p.ok() || !q.ok() || p->empty() || q->empty()) {
    return absl::InternalError(absl::StrCat(TestServiceKeyPrimesPath(), ": no primes"));
  }
  DeterministicRng rng(seed);
  return threshold::rsa::DealFromPrimes(n, f, *p, *q, rng);
}

// Writes DIR/service-key.pub and DIR/service.crt (PEM, issued by `ca`) for `keys`, the
// files cluster.conf's service_key_file and service_cert_file then name.
inline absl::Status WriteTestServiceKey(const std::string& dir, const pki::CertificateAuthority& ca,
                                        const threshold::rsa::PublicKeySet& keys, int64_t now_unix_s) {
  BELFRY_RETURN_IF_ERROR(threshold::rsa::WritePublicKeySetFile(dir + "/service-key.pub", keys,
                                                               threshold::FileOverwrite::kReplace));
  BELFRY_ASSIGN_OR_RETURN(Bytes ca_der, pki::CertificatePemToDer(ca.cert_pem()));
  BELFRY_ASSIGN_OR_RETURN(Bytes spki, keys.SubjectPublicKeyInfoDer());
  BELFRY_ASSIGN_OR_RETURN(Bytes cert, evidence::IssueServiceCertificate(ca_der, ca.key().native_handle(), spki,
                                                                        {.common_name = "belfry-service-test",
                                                                         .not_before_unix_s = now_unix_s - 3600,
                                                                         .not_after_unix_s = now_unix_s + 86400}));
  BELFRY_ASSIGN_OR_RETURN(std::string pem, pki::CertificateDerToPem(cert));
  return WritePublicFile(dir + "/service.crt", pem);
}

}  // namespace belfry::testing

#endif  // BELFRY_TEST_PKI_TEST_SERVICE_KEY_H_
