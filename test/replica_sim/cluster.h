// test/replica_sim/cluster.h — the fixed clusters (N = 4 and N = 7) and users the
// whole-replica simulator runs.
//
// Every key derives from a constant seed and every certificate is kept in the tree
// (users.inc), so the request bytes a seed produces are the same in every process: a
// replay command reproduces a run exactly. Nothing here is secret.
#ifndef BELFRY_TEST_REPLICA_SIM_CLUSTER_H_
#define BELFRY_TEST_REPLICA_SIM_CLUSTER_H_

#include <array>
#include <cstdint>
#include <string>

#include "config/cluster_config.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "replica/node/replica_core.h"

namespace belfry::rsim {

// Users with a certificate in users.inc.
inline constexpr uint32_t kUsers = 12;
// The simulated clock's start (Unix ms, 2025-06-15): inside every certificate's validity.
inline constexpr int64_t kSimStartMs = 1'750'000'000'000;

std::string UserName(uint32_t user);
std::array<uint8_t, 32> UserKeySeed(uint32_t user);

// The cluster of `n` replicas (4 or 7; f = (n-1)/3) with small limits, so that windows,
// batches, checkpoints and pruning are all reached by short runs. Built once per n.
const config::ClusterConfig& SimCluster(uint32_t n);
// Replica `id`'s keys in the cluster of `n` (fresh objects each call; same key material).
replica::ReplicaKeys SimKeys(uint32_t n, uint32_t id);
// The CA bundle every replica verifies user certificates with.
const pki::CaBundle& SimCaBundle();
// User `user`'s certificate (DER) and private key.
const std::string& UserCertDer(uint32_t user);
const pki::Ed25519PrivateKey& UserKey(uint32_t user);

}  // namespace belfry::rsim

#endif  // BELFRY_TEST_REPLICA_SIM_CLUSTER_H_
