// metrics/exposition.h — the Prometheus text exposition format (version 0.0.4), written
// by hand: one small builder instead of a client library, because Debian 12 packages no
// C++ Prometheus client and the format is a page long.
//
//   Exposition out;
//   out.Family("belfry_epochs_committed_total", MetricType::kCounter, "Epochs committed.");
//   out.Sample({}, 42);
//   out.Family("belfry_peer_bytes_sent_total", MetricType::kCounter, "...");
//   out.Sample({{"peer", "1"}}, 1234);
//   std::string text = out.Take();
//
// Label values are escaped as the format requires (backslash, quote, newline), so a value
// that came from outside (a certificate name) cannot break the page or forge a series.
#ifndef BELFRY_METRICS_EXPOSITION_H_
#define BELFRY_METRICS_EXPOSITION_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace belfry::metrics {

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

// Histogram: cumulative buckets with fixed upper bounds (ascending), a sum and a count.
// Thread-compatible; owned by whoever observes.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  // counts()[i]: observations <= upper_bounds()[i] (cumulative); the +Inf bucket is count().
  std::vector<uint64_t> cumulative_counts() const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> per_bucket_;  // non-cumulative; per_bucket_[bounds_.size()] is +Inf
  uint64_t count_ = 0;
  double sum_ = 0;
};

class Exposition {
 public:
  // Starts a family: writes its HELP and TYPE lines. `name` must match
  // [a-zA-Z_:][a-zA-Z0-9_:]* (checked; a bad name is a programming error).
  void Family(std::string_view name, MetricType type, std::string_view help);
  // One sample of the current (counter or gauge) family.
  void Sample(const Labels& labels, double value);
  void Sample(const Labels& labels, uint64_t value);
  // The whole current histogram family: _bucket{le=...} lines, _sum and _count.
  void HistogramSamples(const Labels& labels, const Histogram& histogram);
  std::string Take() { return std::move(text_); }

 private:
  void SampleLine(std::string_view suffix, const Labels& labels, const std::string& value,
                  const std::pair<std::string, std::string>* extra);
  std::string family_;
  std::string text_;
};

// The format's number spelling: integers exactly, others shortest round-trip, +Inf/-Inf/NaN.
std::string FormatValue(double value);

}  // namespace belfry::metrics

#endif  // BELFRY_METRICS_EXPOSITION_H_
