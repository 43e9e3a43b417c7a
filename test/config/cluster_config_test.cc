#include "config/cluster_config.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <functional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "test/config/test_cluster.h"

namespace belfry::config {
namespace {

const std::string kKey(64, 'a');

pb::ClusterConfig ValidProto(uint32_t n, uint32_t f) {
  // Distinct per replica: a key listed twice is refused.
  std::vector<std::string> reply_keys;
  for (uint32_t i = 0; i < n; ++i) reply_keys.push_back(std::string(kKey).replace(0, 2, absl::StrCat(10 + i)));
  pb::ClusterConfig p = testing::ClusterProto("c0ffee", f, reply_keys);
  for (pb::ThresholdPublicKeys* k : {p.mutable_coin_keys(), p.mutable_encryption_keys()}) {
    k->set_threshold(f + 1);
    k->set_public_key_hex(kKey);
    for (uint32_t i = 0; i < n; ++i) k->add_verification_keys_hex(kKey);
  }
  return p;
}

absl::Status Parse(const pb::ClusterConfig& p) {
  return ParseClusterConfig(FormatClusterConfig(p), "cluster.conf", "/tmp").status();
}

TEST_CASE("a valid configuration round-trips with defaults filled in", "[config]") {
  auto cfg = ParseClusterConfig(FormatClusterConfig(ValidProto(4, 1)), "cluster.conf", "/etc/belfry");
  REQUIRE(cfg.ok());
  CHECK(cfg->n() == 4);
  CHECK(cfg->f() == 1);
  CHECK(cfg->limits.document_bytes_max == 8u << 20);
  CHECK(cfg->ca_cert_path() == "/etc/belfry/ca.crt");
  CHECK(cfg->reply_public_key(3)[0] == 0x13);  // "13" + "aa..." (distinct per replica)
  CHECK(cfg->reply_public_key(3)[1] == 0xaa);
}

TEST_CASE("unknown fields are refused with file, line and column", "[config]") {
  const std::string text = FormatClusterConfig(ValidProto(4, 1)) + "\nbogus_field: 3\n";
  auto cfg = ParseClusterConfig(text, "cluster.conf", ".");
  REQUIRE_FALSE(cfg.ok());
  CHECK(cfg.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(cfg.status().message()), Catch::Contains("cluster.conf:") &&
                                                      Catch::Contains("bogus_field"));
}

TEST_CASE("fewer than 4 replicas or N < 3f+1 is refused", "[config]") {
  auto small = Parse(ValidProto(3, 1));
  CHECK_THAT(std::string(small.message()), Catch::Contains("at least 4"));
  auto big_f = Parse(ValidProto(6, 2));
  CHECK_THAT(std::string(big_f.message()), Catch::Contains("N >= 3f+1"));
  CHECK(Parse(ValidProto(7, 2)).ok());
}

TEST_CASE("bad replica entries are refused naming the field", "[config]") {
  pb::ClusterConfig p = ValidProto(4, 1);
  p.mutable_replicas(2)->set_reply_public_key_hex("abcd");
  CHECK_THAT(std::string(Parse(p).message()), Catch::Contains("replicas[2].reply_public_key_hex"));

  p = ValidProto(4, 1);
  p.mutable_replicas(1)->set_client_port(7000);
  CHECK_THAT(std::string(Parse(p).message()), Catch::Contains("used twice"));

  p = ValidProto(4, 1);
  p.mutable_replicas(3)->set_id(7);
  CHECK_THAT(std::string(Parse(p).message()), Catch::Contains("replicas[3].id"));
}

TEST_CASE("a reply key listed for two replicas is refused", "[config]") {
  pb::ClusterConfig p = ValidProto(4, 1);
  p.mutable_replicas(3)->set_reply_public_key_hex(p.replicas(1).reply_public_key_hex());
  CHECK(std::string(Parse(p).message()) ==
        "cluster.conf: replicas[3].reply_public_key_hex: is the same key as replicas[1]'s; every "
        "replica needs its own reply key");
  // The same key in other letter case is the same key.
  p = ValidProto(4, 1);
  std::string upper = p.replicas(0).reply_public_key_hex();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  p.mutable_replicas(2)->set_reply_public_key_hex(upper);
  CHECK_THAT(std::string(Parse(p).message()), Catch::Contains("is the same key as replicas[0]'s"));
}

TEST_CASE("threshold keys must match f and N", "[config]") {
  pb::ClusterConfig p = ValidProto(4, 1);
  p.mutable_coin_keys()->set_threshold(3);
  CHECK_THAT(std::string(Parse(p).message()), Catch::Contains("coin_keys.threshold"));
  p = ValidProto(4, 1);
  p.mutable_encryption_keys()->mutable_verification_keys_hex()->RemoveLast();
  CHECK_THAT(std::string(Parse(p).message()), Catch::Contains("encryption_keys.verification_keys_hex"));
}

TEST_CASE("out-of-range limits are refused", "[config]") {
  pb::ClusterConfig p = ValidProto(4, 1);
  p.mutable_limits()->set_epochs_in_flight_max(1000);
  CHECK_THAT(std::string(Parse(p).message()), Catch::Contains("limits.epochs_in_flight_max"));
  p = ValidProto(4, 1);
  p.mutable_limits()->set_document_bytes_max(100ull << 20);
  CHECK_THAT(std::string(Parse(p).message()), Catch::Contains("request_bytes_max"));
}

TEST_CASE("denial-of-service bounds have documented defaults", "[config]") {
  auto cfg = ParseClusterConfig(FormatClusterConfig(ValidProto(4, 1)), "cluster.conf", ".");
  REQUIRE(cfg.ok());
  const Limits& l = cfg->limits;
  CHECK(l.client_connections_max == 1024);
  CHECK(l.client_connections_per_address_max == 256);
  CHECK(l.client_handshake_timeout_ms == 5000);
  CHECK(l.client_request_bytes_in_flight_max == 32ull << 20);
  CHECK(l.client_reply_bytes_queued_max == 64ull << 20);
  CHECK(l.client_queue_frames_max == 80000);
  CHECK(l.client_queue_bytes_max == 256ull << 20);
  CHECK(l.peer_handshake_timeout_ms == 5000);
  CHECK(l.peer_inbound_connections_max == 256);
  CHECK(l.peer_handshakes_per_address_max == 16);
  CHECK(l.peer_resend_buffer_bytes_max == 64ull << 20);
  CHECK(l.peer_resend_buffer_messages_max == 65536);
  CHECK(l.peer_inbox_bytes_max == 64ull << 20);
  CHECK(l.peer_inbox_messages_max == 65536);
  CHECK(l.waiting_requests_max == 100000);
  CHECK(l.executed_reply_bytes_max == 64ull << 20);
  CHECK(l.aba_rounds_ahead_max == 8);
  CHECK(l.log_retained_epochs == 4096);
  CHECK(l.peer_messages_per_second_max == 0);
  CHECK(PeerMessageRate(l, 4) == 10000);
  CHECK(l.proposal_requests_per_client_max == 8);
  CHECK(l.client_frame_bytes_reading_max == 256ull << 20);
  CHECK(l.client_requests_in_flight_max == 256);
}

TEST_CASE("the per-peer message rate and per-client proposal share are limits", "[config]") {
  const std::string text = FormatClusterConfig(ValidProto(4, 1)) +
                           "limits { peer_messages_per_second_max: 2500 proposal_requests_per_client_max: 3 }\n";
  absl::StatusOr<ClusterConfig> c = ParseClusterConfig(text, "cluster.conf", "/tmp");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(PeerMessageRate(c->limits, 4) == 2500);
  CHECK(c->limits.proposal_requests_per_client_max == 3);
  absl::StatusOr<ClusterConfig> low = ParseClusterConfig(
      FormatClusterConfig(ValidProto(4, 1)) + "limits { peer_messages_per_second_max: 10 }\n", "cluster.conf", "/tmp");
  REQUIRE_FALSE(low.ok());
  CHECK(absl::StrContains(low.status().message(), "limits.peer_messages_per_second_max"));
}

TEST_CASE("log_retained_epochs is read from limits and bounded below", "[config]") {
  pb::ClusterConfig p = ValidProto(4, 1);
  p.mutable_limits()->set_log_retained_epochs(64);
  auto cfg = ParseClusterConfig(FormatClusterConfig(p), "cluster.conf", ".");
  REQUIRE(cfg.ok());
  CHECK(cfg->limits.log_retained_epochs == 64);
  // Fewer would make every short restart a state transfer.
  p.mutable_limits()->set_log_retained_epochs(15);
  const std::string message(Parse(p).message());
  CHECK_THAT(message, Catch::Contains("limits.log_retained_epochs") && Catch::Contains("outside [16, 100000000]"));
  p.mutable_limits()->set_log_retained_epochs(16);
  CHECK(Parse(p).ok());
}

TEST_CASE("denial-of-service bounds are read from limits", "[config]") {
  const std::string text = FormatClusterConfig(ValidProto(4, 1)) +
                           "limits { client_connections_per_address_max: 64 "
                           "client_handshake_timeout_ms: 1500 peer_handshake_timeout_ms: 2500 "
                           "peer_handshakes_per_address_max: 8 client_queue_frames_max: 1000 "
                           "waiting_requests_max: 5000 }\n";
  auto cfg = ParseClusterConfig(text, "cluster.conf", ".");
  REQUIRE(cfg.ok());
  CHECK(cfg->limits.client_connections_per_address_max == 64);
  CHECK(cfg->limits.client_handshake_timeout_ms == 1500);
  CHECK(cfg->limits.peer_handshake_timeout_ms == 2500);
  CHECK(cfg->limits.peer_handshakes_per_address_max == 8);
  CHECK(cfg->limits.client_queue_frames_max == 1000);
  CHECK(cfg->limits.waiting_requests_max == 5000);
  CHECK(cfg->limits.client_queue_bytes_max == 256ull << 20);  // untouched: default
}

TEST_CASE("absurd denial-of-service bounds are refused naming the field", "[config]") {
  struct Case {
    const char* field;
    std::function<void(pb::Limits*)> set;
    const char* reason;
  };
  const Case cases[] = {
      {"limits.client_handshake_timeout_ms", [](pb::Limits* l) { l->set_client_handshake_timeout_ms(5); },
       "outside [100, 600000]"},
      {"limits.client_handshake_timeout_ms",
       [](pb::Limits* l) { l->set_client_handshake_timeout_ms(3600000); }, "outside"},
      {"limits.peer_handshake_timeout_ms", [](pb::Limits* l) { l->set_peer_handshake_timeout_ms(99); },
       "outside"},
      {"limits.client_connections_per_address_max",
       [](pb::Limits* l) { l->set_client_connections_per_address_max(1000000); }, "outside"},
      {"limits.client_request_bytes_in_flight_max",
       [](pb::Limits* l) { l->set_client_request_bytes_in_flight_max(1000); }, "outside"},
      {"limits.client_queue_frames_max", [](pb::Limits* l) { l->set_client_queue_frames_max(20000000); },
       "outside"},
      {"limits.peer_resend_buffer_messages_max",
       [](pb::Limits* l) { l->set_peer_resend_buffer_messages_max(10); }, "outside"},
      {"limits.waiting_requests_max", [](pb::Limits* l) { l->set_waiting_requests_max(20000000); },
       "outside"},
      {"limits.aba_rounds_ahead_max", [](pb::Limits* l) { l->set_aba_rounds_ahead_max(1000); },
       "outside [1, 64]"},
      // Byte bounds that cannot hold one maximal frame.
      {"limits.client_reply_bytes_queued_max",
       [](pb::Limits* l) { l->set_client_reply_bytes_queued_max(1ull << 20); }, "below frame_bytes_max"},
      {"limits.client_queue_bytes_max", [](pb::Limits* l) { l->set_client_queue_bytes_max(2ull << 20); },
       "below frame_bytes_max"},
      {"limits.peer_inbox_bytes_max", [](pb::Limits* l) { l->set_peer_inbox_bytes_max(8ull << 20); },
       "below frame_bytes_max"},
      {"limits.peer_resend_buffer_bytes_max",
       [](pb::Limits* l) { l->set_peer_resend_buffer_bytes_max(16ull << 20); }, "below frame_bytes_max"},
      // Fewer retained batches than epochs in flight: a restarted replica's duplicate
      // removal could not match its peers'.
      {"limits.log_retained_epochs",
       [](pb::Limits* l) {
         l->set_epochs_in_flight_max(32);
         l->set_log_retained_epochs(16);
       },
       "below epochs_in_flight_max (32)"},
      // Fewer inbound peer connections than peers: a correct peer could be locked out.
      {"limits.peer_inbound_connections_max",
       [](pb::Limits* l) { l->set_peer_inbound_connections_max(2); }, "below N-1 = 3"},
  };
  for (const Case& c : cases) {
    pb::ClusterConfig p = ValidProto(4, 1);
    c.set(p.mutable_limits());
    const std::string message(Parse(p).message());
    INFO(message);
    CHECK_THAT(message, Catch::StartsWith("cluster.conf: ") && Catch::Contains(c.field) &&
                            Catch::Contains(c.reason));
  }
  // A lower frame bound makes the smaller byte bounds acceptable again.
  pb::ClusterConfig p = ValidProto(4, 1);
  p.mutable_limits()->set_document_bytes_max(512 << 10);
  p.mutable_limits()->set_request_bytes_max(600 << 10);
  p.mutable_limits()->set_frame_bytes_max(1 << 20);
  p.mutable_limits()->set_client_reply_bytes_queued_max(1ull << 20);
  p.mutable_limits()->set_peer_inbound_connections_max(3);
  CHECK(Parse(p).ok());
}

TEST_CASE("a missing file is NOT_FOUND", "[config]") {
  CHECK(LoadClusterConfig("/nonexistent/cluster.conf").status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace belfry::config
