#include "metrics/exposition.h"

#include <catch2/catch.hpp>
#include <limits>

namespace belfry::metrics {
namespace {

TEST_CASE("exposition: counter and gauge families with HELP, TYPE and labels") {
  Exposition out;
  out.Family("belfry_x_total", MetricType::kCounter, "Things done.");
  out.Sample({}, uint64_t{42});
  out.Family("belfry_y", MetricType::kGauge, "Per peer.");
  out.Sample(Labels{{"peer", "1"}, {"kind", "a"}}, 2.5);
  CHECK(out.Take() ==
        "# HELP belfry_x_total Things done.\n"
        "# TYPE belfry_x_total counter\n"
        "belfry_x_total 42\n"
        "# HELP belfry_y Per peer.\n"
        "# TYPE belfry_y gauge\n"
        "belfry_y{peer=\"1\",kind=\"a\"} 2.5\n");
}

TEST_CASE("exposition: label values from outside cannot break the line or forge a series") {
  Exposition out;
  out.Family("belfry_z", MetricType::kGauge, "Help with \\ and\nnewline.");
  out.Sample(Labels{{"name", "evil\"} 1\nbelfry_forged 9\\"}}, uint64_t{1});
  CHECK(out.Take() ==
        "# HELP belfry_z Help with \\\\ and\\nnewline.\n"
        "# TYPE belfry_z gauge\n"
        "belfry_z{name=\"evil\\\"} 1\\nbelfry_forged 9\\\\\"} 1\n");
}

TEST_CASE("exposition: histogram buckets are cumulative and end with +Inf, sum and count") {
  Histogram h({0.1, 1, 10});
  h.Observe(0.05);
  h.Observe(0.1);  // on a bound: counted in that bucket (le)
  h.Observe(5);
  h.Observe(50);
  Exposition out;
  out.Family("belfry_latency_seconds", MetricType::kHistogram, "Latency.");
  out.HistogramSamples({}, h);
  CHECK(out.Take() ==
        "# HELP belfry_latency_seconds Latency.\n"
        "# TYPE belfry_latency_seconds histogram\n"
        "belfry_latency_seconds_bucket{le=\"0.1\"} 2\n"
        "belfry_latency_seconds_bucket{le=\"1\"} 2\n"
        "belfry_latency_seconds_bucket{le=\"10\"} 3\n"
        "belfry_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "belfry_latency_seconds_sum 55.15\n"
        "belfry_latency_seconds_count 4\n");
}

TEST_CASE("exposition: number spelling") {
  CHECK(FormatValue(3) == "3");
  CHECK(FormatValue(0.25) == "0.25");
  CHECK(FormatValue(1e300) == "1e+300");
  CHECK(FormatValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(FormatValue(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}

}  // namespace
}  // namespace belfry::metrics
