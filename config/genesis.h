// config/genesis.h — what every replica of a cluster must agree on before the first epoch.
//
// Some settings decide how a replica executes the ordered log: N and f, the cluster id,
// the replicas' reply keys, the threshold public keys, the CA that logins are judged
// against, and the limits that make a request, a proposal or a grant valid or not. If one
// replica read a different value than the others (an edited cluster.conf, another
// ca.crt), it would judge the same ordered request differently and leave the others'
// log silently. So these settings are hashed into one genesis digest, which is bound into
// the hash chain of epochs, the coin names and the checkpoint statement, and written into
// the replica's store at its first start: a replica started later with a configuration
// that differs refuses to start and names the settings that differ.
//
// The other settings are local: addresses and ports, metrics, logging, admission and
// connection bounds, queue sizes and rates. A replica may change them at any restart.
// replica/node/README.md lists both kinds.
#ifndef BELFRY_CONFIG_GENESIS_H_
#define BELFRY_CONFIG_GENESIS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "config/cluster_config.h"

namespace belfry::config {

// Genesis: the genesis settings as (name, value) lines and their digest.
struct Genesis {
  std::vector<std::pair<std::string, std::string>> fields;
  std::string digest;  // 32 bytes: SHA-256 over "belfry/genesis/v1" and the fields

  // One "name=value" line per field, in a fixed order: what a replica stores.
  std::string Describe() const;
};

// The genesis of `config` whose genesis CA bundle has fingerprint `ca_fingerprint`
// (pki::CaBundle::Fingerprint) and whose service key set hashes to `service_key_digest`.
Genesis ComputeGenesis(const ClusterConfig& config, std::string_view ca_fingerprint,
                       std::string_view service_key_digest);

// OK when `stored` (a Describe() written at an earlier start) equals `now`; otherwise
// FAILED_PRECONDITION naming every setting that differs with both values.
absl::Status CheckGenesis(std::string_view stored, const Genesis& now);

}  // namespace belfry::config

#endif  // BELFRY_CONFIG_GENESIS_H_
