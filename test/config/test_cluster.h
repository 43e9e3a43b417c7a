// test/config/test_cluster.h — the replica list of a test cluster.conf, shared by the
// tests and simulators that build a configuration in code.
#ifndef BELFRY_TEST_CONFIG_TEST_CLUSTER_H_
#define BELFRY_TEST_CONFIG_TEST_CLUSTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/config.pb.h"

namespace belfry::config::testing {

// A ClusterConfig with `cluster_id`, `f`, ca.crt as its CA file and one replica per entry
// of `reply_keys_hex`: replica-i on 127.0.0.1, peer port 7000+2i, client port 7001+2i.
// Threshold keys and limits are left to the caller.
inline pb::ClusterConfig ClusterProto(std::string cluster_id, uint32_t f,
                                      const std::vector<std::string>& reply_keys_hex) {
  pb::ClusterConfig p;
  p.set_cluster_id(std::move(cluster_id));
  p.set_f(f);
  p.set_ca_cert_file("ca.crt");
  for (uint32_t i = 0; i < reply_keys_hex.size(); ++i) {
    pb::ReplicaEndpoint* r = p.add_replicas();
    r->set_id(i);
    r->set_name(absl::StrCat("replica-", i));
    r->set_host("127.0.0.1");
    r->set_peer_port(7000 + 2 * i);
    r->set_client_port(7001 + 2 * i);
    r->set_reply_public_key_hex(reply_keys_hex[i]);
  }
  return p;
}

}  // namespace belfry::config::testing

#endif  // BELFRY_TEST_CONFIG_TEST_CLUSTER_H_
