// replica/node/metrics_page.h — what a replica shows operators: its Prometheus page and its
// health, computed from snapshots of the core's, the network's and the process's counters.
//
// The core is single-threaded, so the daemon copies its counters on the core thread a few
// times a second and the HTTP thread renders the latest copy when scraped; a scrape never
// touches the protocol state. Nothing here carries document contents, names or keys: only counts,
// replica ids, operation kinds and status names.
#ifndef BELFRY_REPLICA_NODE_METRICS_PAGE_H_
#define BELFRY_REPLICA_NODE_METRICS_PAGE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "metrics/process_stats.h"
#include "replica/node/replica_core.h"
#include "transport/client_server.h"
#include "transport/peer_network.h"

namespace belfry::replica {

struct ReplicaSnapshot {
  uint32_t self = 0;
  uint32_t n = 0;
  uint32_t f = 0;
  uint64_t next_epoch = 0;
  int64_t consensus_time_ms = 0;
  bool catching_up = false;
  bool fatal = false;
  CoreCounters core;
  std::vector<std::pair<uint32_t, transport::PeerCounters>> peers;  // every other replica
  transport::NetworkCounters network;
  transport::ClientServerCounters clients;
  uint64_t client_queue_frames = 0;
  uint64_t client_queue_refused = 0;  // frames refused (and their connection closed): queue full
  uint64_t store_bytes = 0;
  uint64_t credential_reloads_ok = 0;      // SIGHUP reloads applied
  uint64_t credential_reloads_failed = 0;  // ... refused (the old credentials stayed)
  int64_t tls_cert_not_after_unix_s = 0;   // notAfter of the TLS certificate in use
  uint64_t checkpoint_interval_epochs = 0; // the cluster's limit, for alert rules
  metrics::ProcessStats process;
};

// The Prometheus text page (metric names are documented in replica/node/README.md).
std::string RenderMetricsPage(const ReplicaSnapshot& s);

// Health: live = the process serves and no local failure stopped the core; ready = live,
// links established to at least 2f peers (with itself, a quorum of 2f+1 can form) and not
// catching up on missed epochs. `reason` explains a "not ready".
struct Health {
  bool live = false;
  bool ready = false;
  std::string reason;
};
Health HealthOf(const ReplicaSnapshot& s);

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_METRICS_PAGE_H_
