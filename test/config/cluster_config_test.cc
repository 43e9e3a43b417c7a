#include "config/cluster_config.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/str_cat.h"

namespace belfry::config {
namespace {

const std::string kKey(64, 'a');

pb::ClusterConfig ValidProto(uint32_t n, uint32_t f) {
  pb::ClusterConfig p;
  p.set_cluster_id("c0ffee");
  p.set_f(f);
  p.set_ca_cert_file("ca.crt");
  for (uint32_t i = 0; i < n; ++i) {
    pb::ReplicaEndpoint* r = p.add_replicas();
    r->set_id(i);
    r->set_name(absl::StrCat("replica-", i));
    r->set_host("127.0.0.1");
    r->set_peer_port(7000 + 2 * i);
    r->set_client_port(7001 + 2 * i);
    r->set_reply_public_key_hex(kKey);
  }
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
  CHECK(cfg->reply_public_key(3)[0] == 0xaa);
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

TEST_CASE("a missing file is NOT_FOUND", "[config]") {
  CHECK(LoadClusterConfig("/nonexistent/cluster.conf").status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace belfry::config
