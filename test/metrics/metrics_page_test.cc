#include "replica/node/metrics_page.h"

#include <catch2/catch.hpp>

namespace belfry::replica {
namespace {

ReplicaSnapshot FourReplicas() {
  ReplicaSnapshot s;
  s.self = 0;
  s.n = 4;
  s.f = 1;
  for (uint32_t p = 1; p < 4; ++p) {
    transport::PeerCounters c;
    c.outbound_up = true;
    c.bytes_sent = 100 * p;
    s.peers.emplace_back(p, c);
  }
  return s;
}

TEST_CASE("health: ready needs links to 2f peers and no catch-up; live needs no local failure") {
  ReplicaSnapshot s = FourReplicas();
  CHECK(HealthOf(s).ready);
  s.peers[0].second.outbound_up = false;
  CHECK(HealthOf(s).ready);  // 2 of 3 links: still 2f
  s.peers[1].second.outbound_up = false;
  Health h = HealthOf(s);
  CHECK(h.live);
  CHECK_FALSE(h.ready);
  CHECK(h.reason == "links to 1 of 3 peers are up; 2 are needed");
  s = FourReplicas();
  s.catching_up = true;
  CHECK(HealthOf(s).reason == "catching up on missed epochs");
  s.fatal = true;
  CHECK_FALSE(HealthOf(s).live);
}

TEST_CASE("metrics page: requests by operation and status, per-peer bytes, faults by kind") {
  ReplicaSnapshot s = FourReplicas();
  s.core.executed_by_op_status[{state::Operation::kCheckIn, pb::STATUS_OK}] = 5;
  s.core.executed_by_op_status[{state::Operation::kCheckOut, pb::STATUS_ACCESS_DENIED}] = 2;
  s.core.faults_by_kind["2/bad_echo"] = 3;
  s.core.epochs_committed = 9;
  const std::string page = RenderMetricsPage(s);
  CHECK(page.find("belfry_requests_total{op=\"checkin\",status=\"OK\"} 5\n") != std::string::npos);
  CHECK(page.find("belfry_requests_total{op=\"checkout\",status=\"ACCESS_DENIED\"} 2\n") != std::string::npos);
  CHECK(page.find("belfry_peer_bytes_sent_total{peer=\"3\"} 300\n") != std::string::npos);
  CHECK(page.find("belfry_peer_faults_by_kind_total{peer=\"2\",kind=\"bad_echo\"} 3\n") != std::string::npos);
  CHECK(page.find("belfry_epochs_committed_total 9\n") != std::string::npos);
  CHECK(page.find("belfry_ready 1\n") != std::string::npos);
  CHECK(page.find("# TYPE belfry_epoch_latency_seconds histogram\n") != std::string::npos);
}

// deploy/prometheus/alerts.yml compares with these series.
TEST_CASE("metrics page: quorum size, checkpoint interval, certificate expiry") {
  ReplicaSnapshot s = FourReplicas();
  s.checkpoint_interval_epochs = 128;
  s.tls_cert_not_after_unix_s = 1893456000;  // 2030-01-01
  const std::string page = RenderMetricsPage(s);
  CHECK(page.find("belfry_quorum_replicas 3\n") != std::string::npos);
  CHECK(page.find("belfry_checkpoint_interval_epochs 128\n") != std::string::npos);
  const std::string expiry = "belfry_tls_certificate_expiry_timestamp_seconds";
  CHECK(page.find("# TYPE " + expiry + " gauge\n") != std::string::npos);
  CHECK(page.find(expiry + " 1893456000\n") != std::string::npos);
  // N = 5, f = 1: progress needs N - f = 4, more than 2f+1.
  s.n = 5;
  CHECK(RenderMetricsPage(s).find("belfry_quorum_replicas 4\n") != std::string::npos);
}

}  // namespace
}  // namespace belfry::replica
