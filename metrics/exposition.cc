#include "metrics/exposition.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/check.h"

namespace belfry::metrics {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

void AppendEscaped(std::string& out, std::string_view v, bool help) {
  for (char c : v) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '"' && !help) {
      out.append("\\\"");
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  BELFRY_CHECK(std::is_sorted(bounds_.begin(), bounds_.end()));
  per_bucket_.assign(bounds_.size() + 1, 0);
}

void Histogram::Observe(double value) {
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  ++per_bucket_[i];
  ++count_;
  sum_ += value;
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    running += per_bucket_[i];
    out[i] = running;
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", value);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", value);
  // Shortest spelling that reads back to the same double.
  for (int precision = 1; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof(shorter), "%.*g", precision, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return buf;
}

void Exposition::Family(std::string_view name, MetricType type, std::string_view help) {
  BELFRY_CHECK(ValidName(name));
  family_.assign(name);
  text_.append("# HELP ").append(name).push_back(' ');
  AppendEscaped(text_, help, /*help=*/true);
  text_.append("\n# TYPE ").append(name).push_back(' ');
  switch (type) {
    case MetricType::kCounter: text_.append("counter\n"); break;
    case MetricType::kGauge: text_.append("gauge\n"); break;
    case MetricType::kHistogram: text_.append("histogram\n"); break;
  }
}

void Exposition::SampleLine(std::string_view suffix, const Labels& labels,
                            const std::string& value,
                            const std::pair<std::string, std::string>* extra) {
  BELFRY_CHECK(!family_.empty());
  text_.append(family_).append(suffix);
  if (!labels.empty() || extra != nullptr) {
    text_.push_back('{');
    bool first = true;
    auto add = [&](const std::string& k, const std::string& v) {
      BELFRY_CHECK(ValidName(k));
      if (!first) text_.push_back(',');
      first = false;
      text_.append(k).append("=\"");
      AppendEscaped(text_, v, /*help=*/false);
      text_.push_back('"');
    };
    for (const auto& [k, v] : labels) add(k, v);
    if (extra != nullptr) add(extra->first, extra->second);
    text_.push_back('}');
  }
  text_.push_back(' ');
  text_.append(value).push_back('\n');
}

void Exposition::Sample(const Labels& labels, double value) {
  SampleLine("", labels, FormatValue(value), nullptr);
}

void Exposition::Sample(const Labels& labels, uint64_t value) {
  SampleLine("", labels, std::to_string(value), nullptr);
}

void Exposition::HistogramSamples(const Labels& labels, const Histogram& histogram) {
  const std::vector<uint64_t> cumulative = histogram.cumulative_counts();
  for (size_t i = 0; i < cumulative.size(); ++i) {
    const std::pair<std::string, std::string> le{"le", FormatValue(histogram.upper_bounds()[i])};
    SampleLine("_bucket", labels, std::to_string(cumulative[i]), &le);
  }
  const std::pair<std::string, std::string> inf{"le", "+Inf"};
  SampleLine("_bucket", labels, std::to_string(histogram.count()), &inf);
  SampleLine("_sum", labels, FormatValue(histogram.sum()), nullptr);
  SampleLine("_count", labels, std::to_string(histogram.count()), nullptr);
}

}  // namespace belfry::metrics
