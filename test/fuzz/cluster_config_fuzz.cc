// Fuzz target: cluster.conf (config/cluster_config.h ParseClusterConfig, the text form
// LoadClusterConfig reads) and the threshold public keys inside it
// (config/threshold_keys.h). A client reads a cluster.conf it was handed; a replica reads
// the one an operator deployed.
//
// Properties: nothing crashes; a configuration that loads formats back to text that loads
// to the same configuration; every replica's reply key is readable; the key sets either
// load or are refused with a status.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/cluster_config.h"
#include "config/threshold_keys.h"
#include "test/fuzz/fixtures.h"

namespace {

namespace config = belfry::config;
using belfry::fuzz::Require;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<config::ClusterConfig> cfg = config::ParseClusterConfig(text, "cluster.conf", "/nonexistent");
  if (!cfg.ok()) {
    Require(!cfg.status().message().empty(), "a refusal says why");
    return 0;
  }
  Require(cfg->n() >= 4 && cfg->n() >= 3 * cfg->f() + 1, "a loaded cluster has N >= max(4, 3f+1)");
  const std::string formatted = config::FormatClusterConfig(cfg->proto);
  absl::StatusOr<config::ClusterConfig> again = config::ParseClusterConfig(formatted, "cluster.conf", "/nonexistent");
  Require(again.ok() && again->proto.SerializeAsString() == cfg->proto.SerializeAsString(),
          "a loaded configuration round-trips through its text form");
  for (uint32_t i = 0; i < cfg->n(); ++i) (void)cfg->reply_public_key(i);
  (void)cfg->ca_cert_path();
  // Either outcome is fine; the keys are checked for shape and consistency either way.
  (void)config::PublicKeySetFromConfig(cfg->proto.coin_keys(), cfg->f());
  (void)config::PublicKeySetFromConfig(cfg->proto.encryption_keys(), cfg->f());
  return 0;
}
