// The report arithmetic both load generators share: what a reader of their tables relies on.
#include "tools/bench/bench_common.h"

#include <catch2/catch.hpp>

namespace belfry::bench {
namespace {

TEST_CASE("ParseBytes reads plain counts and binary units", "[bench]") {
  CHECK(*ParseBytes("100") == 100);
  CHECK(*ParseBytes("1KiB") == 1024);
  CHECK(*ParseBytes("16K") == 16384);
  CHECK(*ParseBytes("64KiB") == 65536);
  CHECK(*ParseBytes("2MiB") == 2u << 20);
  CHECK_FALSE(ParseBytes("").ok());
  CHECK_FALSE(ParseBytes("KiB").ok());
  CHECK_FALSE(ParseBytes("1kb").ok());
  CHECK_FALSE(ParseBytes("-1").ok());
  CHECK_FALSE(ParseBytes("99999999999999GiB").ok());
}

TEST_CASE("ParseMix keeps the order and weights and picks by cumulative weight", "[bench]") {
  const std::vector<std::string> kinds = {"checkin", "checkout", "grant", "delete"};
  absl::StatusOr<Mix> mix = ParseMix("checkin=70,checkout=30", kinds);
  REQUIRE(mix.ok());
  CHECK(mix->ToString() == "checkin=70,checkout=30");
  CHECK(mix->total_weight == 100);
  CHECK(mix->Pick(0) == "checkin");
  CHECK(mix->Pick(69) == "checkin");
  CHECK(mix->Pick(70) == "checkout");
  CHECK(mix->Pick(199) == "checkout");
  CHECK_FALSE(ParseMix("checkin=70,read=30", kinds).ok());
  CHECK_FALSE(ParseMix("checkin=0", kinds).ok());
  CHECK_FALSE(ParseMix("checkin=1,checkin=2", kinds).ok());
  CHECK_FALSE(ParseMix("", kinds).ok());
}

TEST_CASE("Summarize gives nearest-rank percentiles", "[bench]") {
  std::vector<double> ms;
  for (int i = 100; i >= 1; --i) {
    ms.push_back(i);
  }
  const LatencySummary s = Summarize(ms);
  CHECK(s.count == 100);
  CHECK(s.p50_ms == 50);
  CHECK(s.p90_ms == 90);
  CHECK(s.p99_ms == 99);
  CHECK(s.max_ms == 100);
  CHECK(s.mean_ms == Approx(50.5));
  CHECK(Summarize({}).count == 0);
  CHECK(Summarize({7}).p99_ms == 7);
}

TEST_CASE("ParseMetricsText reads labelled series and sums them by name", "[bench]") {
  absl::StatusOr<MetricsText> m = ParseMetricsText(
      "# HELP belfry_peer_bytes_sent_total bytes\n"
      "# TYPE belfry_peer_bytes_sent_total counter\n"
      "belfry_peer_bytes_sent_total{peer=\"1\"} 100\n"
      "belfry_peer_bytes_sent_total{peer=\"2\"} 2.5e2 1700000000000\n"
      "belfry_peer_bytes_sent_total_other 7\n"
      "odd{label=\"has space\"} 3\n"
      "process_cpu_seconds_total 1.25\n"
      "\n");
  REQUIRE(m.ok());
  CHECK(*m->Sum("belfry_peer_bytes_sent_total") == 350);
  CHECK(*m->Sum("process_cpu_seconds_total") == 1.25);
  CHECK(*m->Sum("odd") == 3);
  CHECK_FALSE(m->Sum("belfry_epochs_committed_total").has_value());
  CHECK_FALSE(ParseMetricsText("name_without_value\n").ok());
  CHECK_FALSE(ParseMetricsText("name{a=\"b\"} x\n").ok());
}

ServerSample Sample(const std::string& text, std::optional<double> cpu,
                    std::optional<uint64_t> rss) {
  ServerSample s;
  if (!text.empty()) {
    s.metrics = *ParseMetricsText(text);
  }
  s.proc_cpu_seconds = cpu;
  s.proc_peak_rss_bytes = rss;
  return s;
}

TEST_CASE("ComputeClusterFigures turns two samples into per-operation costs", "[bench]") {
  const std::string a0 =
      "belfry_epochs_committed_total 10\nbelfry_requests_executed_total 100\n"
      "belfry_peer_bytes_sent_total{peer=\"1\"} 1000\nbelfry_client_bytes_sent_total 500\n";
  const std::string a1 =
      "belfry_epochs_committed_total 30\nbelfry_requests_executed_total 300\n"
      "belfry_peer_bytes_sent_total{peer=\"1\"} 3000\nbelfry_client_bytes_sent_total 1500\n";
  const std::string b0 =
      "belfry_epochs_committed_total 9\nbelfry_requests_executed_total 90\n"
      "belfry_peer_bytes_sent_total{peer=\"0\"} 0\nbelfry_client_bytes_sent_total 0\n"
      "process_cpu_seconds_total 5\n";
  const std::string b1 =
      "belfry_epochs_committed_total 28\nbelfry_requests_executed_total 290\n"
      "belfry_peer_bytes_sent_total{peer=\"0\"} 1000\nbelfry_client_bytes_sent_total 1000\n"
      "process_cpu_seconds_total 7\nbelfry_process_peak_resident_memory_bytes 4096\n";
  const std::vector<ServerSample> before = {Sample(a0, 1.0, 10), Sample(b0, std::nullopt, {})};
  const std::vector<ServerSample> after = {Sample(a1, 2.0, 20), Sample(b1, std::nullopt, {})};
  const ClusterFigures f = ComputeClusterFigures(before, after, BelfrySeries(), 2.0, 200);
  CHECK(*f.epochs_per_s == 10);            // the replica furthest ahead: 20 epochs in 2 s
  CHECK(*f.mean_batch_requests == 10);     // its 200 requests over its 20 epochs
  CHECK(*f.wire_bytes_per_op == Approx((2000 + 1000 + 1000 + 1000) / 200.0));
  CHECK(*f.server_cpu_s_per_op == Approx((1.0 + 2.0) / 200));
  CHECK(f.cpu_source == "proc+metrics");
  REQUIRE(f.peak_rss_bytes.size() == 2);
  CHECK(*f.peak_rss_bytes[0] == 20);
  CHECK(*f.peak_rss_bytes[1] == 4096);
  CHECK(f.servers_answering == 2);
}

TEST_CASE("ComputeClusterFigures leaves a sum out when a server did not answer", "[bench]") {
  const std::vector<ServerSample> before = {Sample("", 1.0, 10), Sample("", std::nullopt, {})};
  const std::vector<ServerSample> after = {Sample("", 2.0, 10), Sample("", std::nullopt, {})};
  const ClusterFigures f = ComputeClusterFigures(before, after, BelfrySeries(), 1.0, 10);
  CHECK_FALSE(f.epochs_per_s.has_value());
  CHECK_FALSE(f.wire_bytes_per_op.has_value());
  CHECK_FALSE(f.server_cpu_s_per_op.has_value());
  CHECK(f.cpu_source == "n/a");
  CHECK_FALSE(f.peak_rss_bytes[1].has_value());
  CHECK(f.servers_answering == 0);
}

TEST_CASE("The JSON report escapes strings and writes null for figures not measured",
          "[bench]") {
  CHECK(JsonString("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"");
  Report r;
  r.system = "belfry";
  r.elapsed_s = 2;
  r.overall = Summarize({1, 2, 3});
  r.per_op.push_back(OpKindResult{"checkin", 0, r.overall});
  r.cluster.peak_rss_bytes = {std::nullopt, uint64_t{42}};
  const std::string json = FormatJson(r);
  CHECK(json.find("\"ops_per_s\": 1.5") != std::string::npos);
  CHECK(json.find("\"epochs_per_s\": null") != std::string::npos);
  CHECK(json.find("\"peak_rss_bytes\": [null, 42]") != std::string::npos);
  CHECK(json.find("\"checkin\": {\"count\": 3, \"errors\": 0") != std::string::npos);
  const std::string table = FormatTable(r);
  CHECK(table.find("n/a") != std::string::npos);
}

}  // namespace
}  // namespace belfry::bench
