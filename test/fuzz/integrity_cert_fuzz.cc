// Fuzz target: IntegrityCertificate::FromText (client_lib/client.h), the text a user hands
// to `belfry verify`, and the offline check of its signatures against the fixed cluster
// (VerifyIntegrityCertificateWith) for kIntegrityData.
//
// Properties: nothing crashes; a parsed certificate's ToText parses back to the same
// certificate and the same text; a certificate that verifies has f+1 valid signatures.
#include <cstddef>
#include <cstdint>
#include <string>

#include "client_lib/client.h"
#include "client_lib/internal/requests.h"
#include "test/fuzz/fixtures.h"

namespace {

namespace fuzz = belfry::fuzz;
using belfry::IntegrityCertificate;
using fuzz::Require;

bool Same(const IntegrityCertificate& a, const IntegrityCertificate& b) {
  return a.cluster_id == b.cluster_id && a.doc == b.doc && a.version == b.version &&
         a.sha256 == b.sha256 && a.confidential == b.confidential && a.integrity == b.integrity &&
         a.signatures == b.signatures;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<IntegrityCertificate> cert = IntegrityCertificate::FromText(text);
  if (!cert.ok()) return 0;
  const std::string written = cert->ToText();
  absl::StatusOr<IntegrityCertificate> again = IntegrityCertificate::FromText(written);
  Require(again.ok() && Same(*again, *cert), "a parsed certificate round-trips");
  Require(again->ToText() == written, "ToText is stable");
  auto signers = belfry::client::internal::VerifyIntegrityCertificateWith(
      fuzz::Cluster(), std::string(fuzz::kIntegrityData), *cert);
  if (signers.ok()) Require(signers->size() >= fuzz::kF + 1, "a verified certificate has f+1 signers");
  return 0;
}
