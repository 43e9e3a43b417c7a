// tools/bench/bench_common.cc — see bench_common.h.
#include "tools/bench/bench_common.h"

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <asio.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace belfry::bench {

// ---- parameters --------------------------------------------------------------------------

absl::StatusOr<uint64_t> ParseBytes(absl::string_view text) {
  constexpr uint64_t kBytesMax = uint64_t{1} << 40;
  absl::string_view digits = text;
  size_t i = 0;
  while (i < digits.size() && absl::ascii_isdigit(static_cast<unsigned char>(digits[i]))) {
    ++i;
  }
  absl::string_view unit = digits.substr(i);
  digits = digits.substr(0, i);
  uint64_t value = 0;
  if (digits.empty() || digits.size() > 13 || !absl::SimpleAtoi(digits, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("not a byte count: '", text, "'"));
  }
  uint64_t scale = 1;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "KiB" || unit == "K" || unit == "k") {
    scale = uint64_t{1} << 10;
  } else if (unit == "MiB" || unit == "M") {
    scale = uint64_t{1} << 20;
  } else if (unit == "GiB" || unit == "G") {
    scale = uint64_t{1} << 30;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown unit in '", text, "' (use B, KiB, MiB or GiB)"));
  }
  if (value > kBytesMax / scale) {
    return absl::InvalidArgumentError(absl::StrCat("byte count too large: '", text, "'"));
  }
  return value * scale;
}

const std::string& Mix::Pick(uint64_t draw) const {
  uint64_t point = draw % total_weight;
  for (const auto& [kind, weight] : entries) {
    if (point < weight) {
      return kind;
    }
    point -= weight;
  }
  return entries.back().first;
}

std::string Mix::ToString() const {
  return absl::StrJoin(entries, ",", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, "=", entry.second);
  });
}

absl::StatusOr<Mix> ParseMix(absl::string_view text, const std::vector<std::string>& allowed) {
  constexpr uint32_t kWeightMax = 1000000;
  Mix mix;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, '=');
    const std::string kind(absl::StripAsciiWhitespace(kv.first));
    uint32_t weight = 0;
    if (std::find(allowed.begin(), allowed.end(), kind) == allowed.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown operation '", kind, "' in --mix (one of ",
                                                     absl::StrJoin(allowed, ", "), ")"));
    }
    if (!absl::SimpleAtoi(kv.second, &weight) || weight == 0 || weight > kWeightMax) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad weight in --mix entry '", part, "' (1..", kWeightMax, ")"));
    }
    for (const auto& entry : mix.entries) {
      if (entry.first == kind) {
        return absl::InvalidArgumentError(absl::StrCat("'", kind, "' repeated in --mix"));
      }
    }
    mix.entries.emplace_back(kind, weight);
    mix.total_weight += weight;
  }
  if (mix.entries.empty()) {
    return absl::InvalidArgumentError("--mix names no operation");
  }
  return mix;
}

// ---- latencies ---------------------------------------------------------------------------

LatencySummary Summarize(std::vector<double> ms) {
  LatencySummary s;
  if (ms.empty()) {
    return s;
  }
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  auto rank = [&](double q) {
    size_t r = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
    return ms[std::clamp<size_t>(r, 1, n) - 1];
  };
  double sum = 0;
  for (double v : ms) {
    sum += v;
  }
  s.count = n;
  s.mean_ms = sum / static_cast<double>(n);
  s.p50_ms = rank(0.50);
  s.p90_ms = rank(0.90);
  s.p99_ms = rank(0.99);
  s.max_ms = ms.back();
  return s;
}

// ---- metrics text ------------------------------------------------------------------------

std::optional<double> MetricsText::Sum(absl::string_view name) const {
  std::optional<double> total;
  // Series of `name` sort as "name" and "name{...}", contiguously from lower_bound(name).
  for (auto it = series.lower_bound(std::string(name)); it != series.end(); ++it) {
    absl::string_view key = it->first;
    if (!absl::StartsWith(key, name)) {
      break;
    }
    if (key.size() == name.size() || key[name.size()] == '{') {
      total = total.value_or(0) + it->second;
    }
  }
  return total;
}

absl::StatusOr<MetricsText> ParseMetricsText(absl::string_view text) {
  MetricsText out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    // The series name runs to the closing brace of its labels (label values may hold
    // spaces), or to the first space when there are none.
    size_t name_end = line.find_first_of(" {");
    if (name_end != absl::string_view::npos && line[name_end] == '{') {
      size_t close = line.find('}', name_end);
      name_end = close == absl::string_view::npos ? close : close + 1;
    }
    if (name_end == absl::string_view::npos || name_end >= line.size()) {
      return absl::InvalidArgumentError(absl::StrCat("metrics line ", line_no, ": no value"));
    }
    absl::string_view rest = absl::StripLeadingAsciiWhitespace(line.substr(name_end));
    absl::string_view value_text = rest.substr(0, rest.find(' '));
    double value = 0;
    if (value_text == "+Inf") {
      value = HUGE_VAL;
    } else if (value_text == "-Inf") {
      value = -HUGE_VAL;
    } else if (value_text == "NaN") {
      value = std::nan("");
    } else if (!absl::SimpleAtod(value_text, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics line ", line_no, ": bad value '", value_text, "'"));
    }
    out.series[std::string(line.substr(0, name_end))] = value;
  }
  return out;
}

// ---- /proc -------------------------------------------------------------------------------

namespace {

std::optional<double> ProcCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name is in parentheses and may hold spaces: fields count from the last ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 > text.size()) {
    return std::nullopt;
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(text).substr(close + 2), ' ', absl::SkipEmpty());
  // After the name: state(3) ... utime(14) stime(15), i.e. indices 11 and 12 here.
  uint64_t utime = 0;
  uint64_t stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return std::nullopt;
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) {
    return std::nullopt;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(ticks);
}

std::optional<uint64_t> ProcPeakRssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmHWM:")) {
      rest = absl::StripAsciiWhitespace(rest);
      absl::ConsumeSuffix(&rest, "kB");
      uint64_t kib = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kib)) {
        return kib * 1024;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<ServerSample> SampleServers(const std::vector<ServerTarget>& targets,
                                        std::chrono::milliseconds timeout) {
  std::vector<ServerSample> out(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    const ServerTarget& t = targets[i];
    if (t.metrics_port != 0) {
      absl::StatusOr<MetricsText> m = ScrapeMetrics(t.host, t.metrics_port, timeout);
      if (m.ok()) {
        out[i].metrics = *std::move(m);
      }
    }
    if (t.pid > 0) {
      out[i].proc_cpu_seconds = ProcCpuSeconds(t.pid);
      out[i].proc_peak_rss_bytes = ProcPeakRssBytes(t.pid);
    }
  }
  return out;
}

SeriesNames BelfrySeries() {
  SeriesNames s;
  s.epochs = "belfry_epochs_committed_total";
  s.requests_executed = "belfry_requests_executed_total";
  s.bytes_sent = {"belfry_peer_bytes_sent_total", "belfry_client_bytes_sent_total"};
  s.peak_rss = {"belfry_process_peak_resident_memory_bytes"};
  return s;
}

SeriesNames EtcdSeries() {
  SeriesNames s;
  // etcd's HTTP/JSON gateway forwards to its own gRPC server, so the gRPC counter covers
  // what clients receive (minus HTTP framing).
  s.bytes_sent = {"etcd_network_peer_sent_bytes_total",
                  "etcd_network_client_grpc_sent_bytes_total"};
  return s;
}

namespace {

std::optional<double> Delta(const ServerSample& before, const ServerSample& after,
                            absl::string_view name) {
  if (!before.metrics || !after.metrics) {
    return std::nullopt;
  }
  std::optional<double> a = before.metrics->Sum(name);
  std::optional<double> b = after.metrics->Sum(name);
  if (!a || !b) {
    return std::nullopt;
  }
  return *b - *a;
}

}  // namespace

ClusterFigures ComputeClusterFigures(const std::vector<ServerSample>& before,
                                     const std::vector<ServerSample>& after,
                                     const SeriesNames& names, double elapsed_s,
                                     uint64_t ops) {
  ClusterFigures f;
  const size_t n = std::min(before.size(), after.size());
  for (size_t i = 0; i < n; ++i) {
    if (before[i].metrics && after[i].metrics) {
      ++f.servers_answering;
    }
  }
  // Every correct replica commits every epoch; the one furthest ahead stands for the
  // cluster, and its own executed-request count gives the batch size.
  if (!names.epochs.empty()) {
    std::optional<double> best_epochs;
    std::optional<double> best_requests;
    for (size_t i = 0; i < n; ++i) {
      std::optional<double> e = Delta(before[i], after[i], names.epochs);
      if (e && (!best_epochs || *e > *best_epochs)) {
        best_epochs = e;
        best_requests = names.requests_executed.empty()
                            ? std::nullopt
                            : Delta(before[i], after[i], names.requests_executed);
      }
    }
    if (best_epochs && elapsed_s > 0) {
      f.epochs_per_s = *best_epochs / elapsed_s;
      if (best_requests && *best_epochs > 0) {
        f.mean_batch_requests = *best_requests / *best_epochs;
      }
    }
  }
  if (ops > 0 && n > 0) {
    double bytes = 0;
    bool all = !names.bytes_sent.empty();
    for (size_t i = 0; i < n && all; ++i) {
      for (const std::string& series : names.bytes_sent) {
        std::optional<double> d = Delta(before[i], after[i], series);
        if (!d) {
          all = false;
          break;
        }
        bytes += *d;
      }
    }
    if (all) {
      f.wire_bytes_per_op = bytes / static_cast<double>(ops);
    }

    double cpu = 0;
    bool cpu_all = true;
    bool used_proc = false;
    bool used_metrics = false;
    for (size_t i = 0; i < n; ++i) {
      if (before[i].proc_cpu_seconds && after[i].proc_cpu_seconds) {
        cpu += *after[i].proc_cpu_seconds - *before[i].proc_cpu_seconds;
        used_proc = true;
      } else if (std::optional<double> d = Delta(before[i], after[i], names.cpu_seconds)) {
        cpu += *d;
        used_metrics = true;
      } else {
        cpu_all = false;
      }
    }
    if (cpu_all) {
      f.server_cpu_s_per_op = cpu / static_cast<double>(ops);
      f.cpu_source = used_proc && used_metrics ? "proc+metrics" : used_proc ? "proc" : "metrics";
    }
  }
  if (f.cpu_source.empty()) {
    f.cpu_source = "n/a";
  }

  bool rss_proc = false;
  bool rss_metrics = false;
  for (size_t i = 0; i < n; ++i) {
    std::optional<uint64_t> rss = after[i].proc_peak_rss_bytes;
    if (rss) {
      rss_proc = true;
    } else if (after[i].metrics) {
      for (const std::string& series : names.peak_rss) {
        if (std::optional<double> v = after[i].metrics->Sum(series)) {
          rss = static_cast<uint64_t>(*v);
          rss_metrics = true;
          break;
        }
      }
    }
    f.peak_rss_bytes.push_back(rss);
  }
  f.rss_source = rss_proc && rss_metrics ? "proc+metrics"
                 : rss_proc              ? "proc"
                 : rss_metrics           ? "metrics"
                                         : "n/a";
  return f;
}

double SelfCpuSeconds() {
  struct rusage ru {};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) {
    return 0;
  }
  auto seconds = [](const struct timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

std::string LoadAverages() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  if (!(in >> a >> b >> c)) {
    return "n/a";
  }
  return absl::StrCat(a, " ", b, " ", c);
}

std::optional<double> MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq) || cpu != "cpu") {
    return std::nullopt;
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) {
    return std::nullopt;
  }
  return static_cast<double>(user + nice + system + irq + softirq) / static_cast<double>(ticks);
}

// ---- the report --------------------------------------------------------------------------

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

namespace {

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) {
    return "null";
  }
  return absl::StrFormat("%.6g", v);
}

std::string JsonOptional(const std::optional<double>& v) {
  return v ? JsonNumber(*v) : "null";
}

std::string JsonLatency(const LatencySummary& s) {
  return absl::StrFormat(
      "{\"p50\": %s, \"p90\": %s, \"p99\": %s, \"max\": %s, \"mean\": %s}",
      JsonNumber(s.p50_ms), JsonNumber(s.p90_ms), JsonNumber(s.p99_ms), JsonNumber(s.max_ms),
      JsonNumber(s.mean_ms));
}

double Rate(uint64_t count, double elapsed_s) {
  return elapsed_s > 0 ? static_cast<double>(count) / elapsed_s : 0;
}

std::string Fixed(const std::optional<double>& v, int decimals) {
  return v ? absl::StrFormat("%.*f", decimals, *v) : "n/a";
}

std::string Mib(const std::optional<uint64_t>& bytes) {
  return bytes ? absl::StrFormat("%.0f", static_cast<double>(*bytes) / (1 << 20)) : "n/a";
}

std::optional<uint64_t> MaxRss(const ClusterFigures& c) {
  std::optional<uint64_t> best;
  for (const auto& r : c.peak_rss_bytes) {
    if (r && (!best || *r > *best)) {
      best = r;
    }
  }
  return best;
}

std::optional<double> Scaled(const std::optional<double>& v, double factor) {
  return v ? std::optional<double>(*v * factor) : std::nullopt;
}

}  // namespace

std::string FormatTable(const Report& r) {
  std::string out;
  absl::StrAppend(&out, r.system, r.label.empty() ? "" : " ", r.label, ": ", r.headline, "\n");
  absl::StrAppendFormat(&out, "%-10s %9s %7s %10s %9s %9s %9s %9s\n", "operation", "count",
                        "errors", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms");
  auto row = [&](const std::string& kind, const LatencySummary& s, uint64_t errors) {
    absl::StrAppendFormat(&out, "%-10s %9d %7d %10.1f %9.2f %9.2f %9.2f %9.2f\n", kind, s.count,
                          errors, Rate(s.count, r.elapsed_s), s.p50_ms, s.p90_ms, s.p99_ms,
                          s.max_ms);
  };
  for (const OpKindResult& k : r.per_op) {
    row(k.kind, k.latency, k.errors);
  }
  row("all", r.overall, r.errors);
  const ClusterFigures& c = r.cluster;
  absl::StrAppend(&out, "elapsed ", absl::StrFormat("%.2f", r.elapsed_s), " s; ");
  absl::StrAppend(&out, "epochs/s ", Fixed(c.epochs_per_s, 1), "; batch ",
                  Fixed(c.mean_batch_requests, 1), " req/epoch; wire ",
                  Fixed(c.wire_bytes_per_op, 0), " B/op; server CPU ",
                  Fixed(Scaled(c.server_cpu_s_per_op, 1e3), 2), " ms/op (", c.cpu_source,
                  "); client CPU ", Fixed(Scaled(r.client_cpu_s_per_op, 1e3), 2), " ms/op\n");
  absl::StrAppend(&out, "peak RSS MiB (", c.rss_source, "):");
  for (const auto& rss : c.peak_rss_bytes) {
    absl::StrAppend(&out, " ", Mib(rss));
  }
  absl::StrAppend(&out, "; metrics endpoints answering: ", c.servers_answering, "/",
                  c.peak_rss_bytes.size(), "\n");
  absl::StrAppend(&out, "rest of the machine: ", Fixed(r.other_cpu_cores, 2),
                  " cores busy; load avg before ", r.load_before, ", after ", r.load_after, "\n");
  if (!r.errors_by_kind.empty()) {
    absl::StrAppend(&out, "errors:");
    for (const auto& [kind, count] : r.errors_by_kind) {
      absl::StrAppend(&out, " ", kind, "=", count);
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string FormatJson(const Report& r) {
  std::string out = "{\n";
  absl::StrAppend(&out, "  \"system\": ", JsonString(r.system), ",\n");
  absl::StrAppend(&out, "  \"label\": ", JsonString(r.label), ",\n");
  absl::StrAppend(&out, "  \"parameters\": {");
  for (size_t i = 0; i < r.parameters.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", JsonString(r.parameters[i].first), ": ",
                    r.parameters[i].second);
  }
  absl::StrAppend(&out, "},\n");
  absl::StrAppend(&out, "  \"elapsed_s\": ", JsonNumber(r.elapsed_s), ",\n");
  absl::StrAppend(&out, "  \"ops\": ", r.overall.count, ",\n");
  absl::StrAppend(&out, "  \"errors\": ", r.errors, ",\n");
  absl::StrAppend(&out, "  \"errors_by_kind\": {");
  bool first = true;
  for (const auto& [kind, count] : r.errors_by_kind) {
    absl::StrAppend(&out, first ? "" : ", ", JsonString(kind), ": ", count);
    first = false;
  }
  absl::StrAppend(&out, "},\n");
  absl::StrAppend(&out, "  \"ops_per_s\": ", JsonNumber(Rate(r.overall.count, r.elapsed_s)),
                  ",\n");
  absl::StrAppend(&out, "  \"latency_ms\": ", JsonLatency(r.overall), ",\n");
  absl::StrAppend(&out, "  \"per_op\": {\n");
  for (size_t i = 0; i < r.per_op.size(); ++i) {
    const OpKindResult& k = r.per_op[i];
    absl::StrAppend(&out, "    ", JsonString(k.kind), ": {\"count\": ", k.latency.count,
                    ", \"errors\": ", k.errors,
                    ", \"ops_per_s\": ", JsonNumber(Rate(k.latency.count, r.elapsed_s)),
                    ", \"latency_ms\": ", JsonLatency(k.latency), "}",
                    i + 1 < r.per_op.size() ? ",\n" : "\n");
  }
  absl::StrAppend(&out, "  },\n");
  const ClusterFigures& c = r.cluster;
  absl::StrAppend(&out, "  \"cluster\": {\n");
  absl::StrAppend(&out, "    \"epochs_per_s\": ", JsonOptional(c.epochs_per_s), ",\n");
  absl::StrAppend(&out, "    \"mean_batch_requests\": ", JsonOptional(c.mean_batch_requests),
                  ",\n");
  absl::StrAppend(&out, "    \"wire_bytes_per_op\": ", JsonOptional(c.wire_bytes_per_op), ",\n");
  absl::StrAppend(&out, "    \"server_cpu_s_per_op\": ", JsonOptional(c.server_cpu_s_per_op),
                  ",\n");
  absl::StrAppend(&out, "    \"cpu_source\": ", JsonString(c.cpu_source), ",\n");
  absl::StrAppend(&out, "    \"peak_rss_bytes\": [");
  for (size_t i = 0; i < c.peak_rss_bytes.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ",
                    c.peak_rss_bytes[i] ? absl::StrCat(*c.peak_rss_bytes[i]) : "null");
  }
  absl::StrAppend(&out, "],\n");
  absl::StrAppend(&out, "    \"rss_source\": ", JsonString(c.rss_source), ",\n");
  absl::StrAppend(&out, "    \"metrics_endpoints_answering\": ", c.servers_answering, "\n");
  absl::StrAppend(&out, "  },\n");
  absl::StrAppend(&out, "  \"client_cpu_s_per_op\": ", JsonOptional(r.client_cpu_s_per_op),
                  ",\n");
  absl::StrAppend(&out, "  \"other_cpu_cores\": ", JsonOptional(r.other_cpu_cores), ",\n");
  absl::StrAppend(&out, "  \"loadavg\": {\"before\": ", JsonString(r.load_before),
                  ", \"after\": ", JsonString(r.load_after), "}\n");
  absl::StrAppend(&out, "}\n");
  return out;
}

std::string TsvHeader() {
  return "system\tlabel\tsetup\tops\terrors\tops_per_s\tp50_ms\tp90_ms\tp99_ms\tmax_ms\t"
         "epochs_per_s\tbatch\twire_B_per_op\tserver_cpu_ms_per_op\tclient_cpu_ms_per_op\t"
         "peak_rss_MiB_max\tload_before\tload_after\tother_cpu_cores";
}

std::string FormatTsvRow(const Report& r) {
  const ClusterFigures& c = r.cluster;
  std::string setup = r.headline;
  std::replace(setup.begin(), setup.end(), '\t', ' ');
  return absl::StrCat(
      r.system, "\t", r.label.empty() ? "-" : r.label, "\t", setup, "\t", r.overall.count, "\t",
      r.errors, "\t", absl::StrFormat("%.1f", Rate(r.overall.count, r.elapsed_s)), "\t",
      absl::StrFormat("%.2f\t%.2f\t%.2f\t%.2f", r.overall.p50_ms, r.overall.p90_ms,
                      r.overall.p99_ms, r.overall.max_ms),
      "\t", Fixed(c.epochs_per_s, 1), "\t", Fixed(c.mean_batch_requests, 1), "\t",
      Fixed(c.wire_bytes_per_op, 0), "\t", Fixed(Scaled(c.server_cpu_s_per_op, 1e3), 2), "\t",
      Fixed(Scaled(r.client_cpu_s_per_op, 1e3), 2), "\t", Mib(MaxRss(c)), "\t",
      r.load_before, "\t", r.load_after, "\t", Fixed(r.other_cpu_cores, 2));
}

absl::Status WriteFile(const std::string& path, absl::string_view text, bool append) {
  std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// ---- the closed loop --------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

// Shared by the worker threads and the progress line.
struct LoopProgress {
  std::atomic<uint64_t> next_op{0};
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint32_t> ready{0};
  std::atomic<uint32_t> running{0};
  std::atomic<bool> abort{false};
};

// What one worker thread recorded; only that thread writes it until it ends.
struct WorkerRecord {
  std::unique_ptr<DeterministicRng> rng;
  absl::Status setup_status;
  std::vector<std::vector<double>> latencies_ms;
  std::vector<uint64_t> errors;
  std::map<std::string, uint64_t> errors_by_kind;
  Clock::time_point finished;
};

void RunPhase(Worker& worker, WorkerRecord& rec, const LoopOptions& o, uint64_t limit,
              Clock::time_point deadline, bool record, LoopProgress& progress) {
  while (!progress.abort.load(std::memory_order_relaxed) && Clock::now() < deadline) {
    if (progress.next_op.fetch_add(1) >= limit) {
      return;
    }
    const std::string& name = o.mix.Pick(rec.rng->Next64());
    const size_t want = static_cast<size_t>(
        std::find(o.kinds.begin(), o.kinds.end(), name) - o.kinds.begin());
    const Clock::time_point t0 = Clock::now();
    StepResult r = worker.Step(want, *rec.rng);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!record || r.kind >= o.kinds.size()) {
      continue;
    }
    if (r.error.empty()) {
      rec.latencies_ms[r.kind].push_back(ms);
      progress.done.fetch_add(1, std::memory_order_relaxed);
    } else {
      ++rec.errors[r.kind];
      ++rec.errors_by_kind[r.error];
      progress.failed.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace

LoopResult RunClosedLoop(const LoopOptions& o, std::vector<std::unique_ptr<Worker>>& workers,
                         const std::vector<ServerTarget>& targets) {
  const size_t n = workers.size();
  std::vector<WorkerRecord> records(n);
  for (size_t i = 0; i < n; ++i) {
    records[i].rng = std::make_unique<DeterministicRng>(o.seed + 0x9E3779B97F4A7C15ull * (i + 1));
    records[i].latencies_ms.resize(o.kinds.size());
    records[i].errors.assign(o.kinds.size(), 0);
  }
  LoopProgress progress;
  // Phases, each ended by the barrier: setup | warmup | (servers sampled) | measured.
  std::barrier sync(static_cast<std::ptrdiff_t>(n) + 1);
  const auto seconds = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.seconds));
  Clock::time_point warmup_deadline;
  Clock::time_point deadline;
  progress.running = static_cast<uint32_t>(n);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      Worker& w = *workers[i];
      WorkerRecord& rec = records[i];
      rec.setup_status = w.Setup(*rec.rng, progress.abort);
      if (!rec.setup_status.ok()) {
        progress.abort = true;
      }
      progress.ready.fetch_add(1);
      sync.arrive_and_wait();
      RunPhase(w, rec, o, o.warmup_ops, warmup_deadline, false, progress);
      sync.arrive_and_wait();
      sync.arrive_and_wait();
      RunPhase(w, rec, o, o.ops, deadline, true, progress);
      rec.finished = Clock::now();
      progress.running.fetch_sub(1);
    });
  }
  Clock::time_point next_print = Clock::now() + std::chrono::seconds(1);
  while (progress.ready.load() < n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Clock::now() >= next_print) {
      std::fprintf(stderr, "%s: setup: %u/%zu clients ready\n", o.program.c_str(),
                   progress.ready.load(), n);
      next_print += std::chrono::seconds(1);
    }
  }
  warmup_deadline = Clock::now() + seconds;
  sync.arrive_and_wait();
  sync.arrive_and_wait();
  progress.next_op = 0;
  progress.done = 0;
  progress.failed = 0;
  LoopResult result;
  result.before = SampleServers(targets, std::chrono::milliseconds(1500));
  const double cpu_before = SelfCpuSeconds();
  const std::optional<double> busy_before = MachineBusySeconds();
  result.load_before = LoadAverages();
  const Clock::time_point start = Clock::now();
  deadline = start + seconds;
  sync.arrive_and_wait();
  next_print = start + std::chrono::seconds(1);
  while (progress.running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Clock::now() >= next_print && !progress.abort.load()) {
      const double t = std::chrono::duration<double>(Clock::now() - start).count();
      const uint64_t done = progress.done.load();
      std::fprintf(stderr, "%s: %5.1f s  %8llu ops  %9.1f ops/s  %llu errors\n",
                   o.program.c_str(), t, static_cast<unsigned long long>(done),
                   static_cast<double>(done) / t,
                   static_cast<unsigned long long>(progress.failed.load()));
      next_print += std::chrono::seconds(1);
    }
  }
  const double cpu_after = SelfCpuSeconds();
  const std::optional<double> busy_after = MachineBusySeconds();
  result.load_after = LoadAverages();
  result.client_cpu_s = cpu_after - cpu_before;
  if (busy_before && busy_after) {
    result.machine_busy_s = *busy_after - *busy_before;
  }
  for (std::thread& t : threads) {
    t.join();
  }
  result.after = SampleServers(targets, std::chrono::milliseconds(1500));
  Clock::time_point end = start;
  for (const WorkerRecord& rec : records) {
    end = std::max(end, rec.finished);
    if (!rec.setup_status.ok() && result.setup_status.ok()) {
      result.setup_status = rec.setup_status;
    }
  }
  {
    std::vector<std::thread> teardown;
    for (auto& w : workers) {
      teardown.emplace_back([wp = w.get()] { wp->Teardown(); });
    }
    for (std::thread& t : teardown) {
      t.join();
    }
  }

  result.elapsed_s = std::chrono::duration<double>(end - start).count();
  std::vector<double> all;
  for (size_t k = 0; k < o.kinds.size(); ++k) {
    std::vector<double> ms;
    uint64_t errors = 0;
    for (const WorkerRecord& rec : records) {
      ms.insert(ms.end(), rec.latencies_ms[k].begin(), rec.latencies_ms[k].end());
      errors += rec.errors[k];
    }
    bool in_mix = false;
    for (const auto& entry : o.mix.entries) {
      in_mix = in_mix || entry.first == o.kinds[k];
    }
    if (!in_mix && ms.empty() && errors == 0) {
      continue;
    }
    all.insert(all.end(), ms.begin(), ms.end());
    result.per_op.push_back(OpKindResult{o.kinds[k], errors, Summarize(std::move(ms))});
    result.errors += errors;
  }
  for (const WorkerRecord& rec : records) {
    for (const auto& [kind, count] : rec.errors_by_kind) {
      result.errors_by_kind[kind] += count;
    }
  }
  result.overall = Summarize(std::move(all));
  if (result.overall.count > 0) {
    result.client_cpu_s_per_op =
        (cpu_after - cpu_before) / static_cast<double>(result.overall.count);
  }
  return result;
}

void FillReport(const LoopResult& result, const ClusterFigures& cluster, Report* report) {
  report->elapsed_s = result.elapsed_s;
  report->per_op = result.per_op;
  report->overall = result.overall;
  report->errors = result.errors;
  report->errors_by_kind = result.errors_by_kind;
  report->client_cpu_s_per_op = result.client_cpu_s_per_op;
  report->load_before = result.load_before;
  report->load_after = result.load_after;
  report->cluster = cluster;
  if (result.machine_busy_s && result.client_cpu_s && cluster.server_cpu_s_per_op &&
      result.elapsed_s > 0) {
    const double servers =
        *cluster.server_cpu_s_per_op * static_cast<double>(result.overall.count);
    // Counters are read a few milliseconds apart and in clock ticks: never report below 0.
    report->other_cpu_cores =
        std::max(0.0, (*result.machine_busy_s - servers - *result.client_cpu_s) / result.elapsed_s);
  }
}

int MeasureAndReport(const LoopOptions& loop, std::vector<std::unique_ptr<Worker>>& workers,
                     const std::vector<ServerTarget>& targets, const SeriesNames& series,
                     Report report, const std::string& json_path, const std::string& tsv_path) {
  LoopResult result = RunClosedLoop(loop, workers, targets);
  if (!result.setup_status.ok()) {
    std::fprintf(stderr, "%s: setup failed, no measurement: %s\n", loop.program.c_str(),
                 std::string(result.setup_status.message()).c_str());
    return 1;
  }
  FillReport(result,
             ComputeClusterFigures(result.before, result.after, series, result.elapsed_s,
                                   result.overall.count),
             &report);
  return EmitReport(report, loop.program, json_path, tsv_path);
}

int EmitReport(const Report& report, const std::string& program, const std::string& json_path,
               const std::string& tsv_path) {
  std::fputs(FormatTable(report).c_str(), stdout);
  std::fflush(stdout);
  int rc = 0;
  if (!json_path.empty()) {
    if (absl::Status s = WriteFile(json_path, FormatJson(report), false); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", program.c_str(), std::string(s.message()).c_str());
      rc = 1;
    }
  }
  if (!tsv_path.empty()) {
    const bool fresh = ::access(tsv_path.c_str(), F_OK) != 0;
    std::string row = fresh ? TsvHeader() + "\n" : "";
    absl::StrAppend(&row, FormatTsvRow(report), "\n");
    if (absl::Status s = WriteFile(tsv_path, row, true); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", program.c_str(), std::string(s.message()).c_str());
      rc = 1;
    }
  }
  const uint64_t attempted = report.overall.count + report.errors;
  if (attempted == 0 || report.errors * 100 > attempted) {
    std::fprintf(stderr, "%s: %llu of %llu operations failed (more than 1%%)\n", program.c_str(),
                 static_cast<unsigned long long>(report.errors),
                 static_cast<unsigned long long>(attempted));
    rc = 1;
  }
  return rc;
}

// ---- HTTP/1.1 ----------------------------------------------------------------------------

// Each blocking step runs one asynchronous operation on a private io_context for at most
// the time left, so a server that stops answering costs a timeout, never a hang.
class HttpConnection::Impl {
 public:
  asio::io_context io;
  asio::ip::tcp::socket socket{io};
  std::string pending;  // bytes read beyond the previous response

  // Runs io until `done` or `deadline`; on timeout closes the socket (cancelling the
  // operation) and drains its handler.
  bool RunUntil(const bool& done, std::chrono::steady_clock::time_point deadline) {
    io.restart();
    while (!done && std::chrono::steady_clock::now() < deadline) {
      io.run_one_until(deadline);
    }
    if (!done) {
      asio::error_code ignored;  // closing a socket that failed can only fail again
      socket.close(ignored);
      io.restart();
      io.run();
      return false;
    }
    return true;
  }

  absl::Status ReadSome(std::chrono::steady_clock::time_point deadline, uint64_t* counted) {
    char chunk[16384];
    bool done = false;
    asio::error_code ec;
    size_t got = 0;
    socket.async_read_some(asio::buffer(chunk), [&](const asio::error_code& e, size_t n) {
      ec = e;
      got = n;
      done = true;
    });
    if (!RunUntil(done, deadline)) {
      return absl::DeadlineExceededError("HTTP read timed out");
    }
    if (ec) {
      return absl::UnavailableError(absl::StrCat("HTTP read: ", ec.message()));
    }
    pending.append(chunk, got);
    *counted += got;
    return absl::OkStatus();
  }
};

HttpConnection::HttpConnection(std::string host, uint16_t port)
    : host_(std::move(host)), port_(port), impl_(std::make_unique<Impl>()) {}

HttpConnection::~HttpConnection() = default;

absl::Status HttpConnection::Reconnect(std::chrono::milliseconds timeout) {
  asio::error_code ec;
  impl_->socket.close(ec);
  impl_->pending.clear();
  const asio::ip::address address = asio::ip::make_address(host_, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("not an IP address: ", host_));
  }
  bool done = false;
  impl_->socket.async_connect(asio::ip::tcp::endpoint(address, port_),
                              [&](const asio::error_code& e) {
                                ec = e;
                                done = true;
                              });
  if (!impl_->RunUntil(done, std::chrono::steady_clock::now() + timeout)) {
    return absl::UnavailableError(absl::StrCat("connect ", host_, ":", port_, " timed out"));
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("connect ", host_, ":", port_, ": ", ec.message()));
  }
  impl_->socket.set_option(asio::ip::tcp::no_delay(true), ec);
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> HttpConnection::Request(absl::string_view path,
                                                     absl::string_view body,
                                                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!impl_->socket.is_open()) {
    return absl::UnavailableError("HTTP connection is closed");
  }
  std::string request =
      body.empty()
          ? absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", host_, ":", port_, "\r\n\r\n")
          : absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: ", host_, ":", port_,
                         "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                         "\r\n\r\n", body);
  {
    bool done = false;
    asio::error_code ec;
    asio::async_write(impl_->socket, asio::buffer(request), [&](const asio::error_code& e, size_t) {
      ec = e;
      done = true;
    });
    if (!impl_->RunUntil(done, deadline)) {
      return absl::DeadlineExceededError("HTTP write timed out");
    }
    if (ec) {
      asio::error_code ignored;  // the connection is unusable either way
      impl_->socket.close(ignored);
      return absl::UnavailableError(absl::StrCat("HTTP write: ", ec.message()));
    }
    bytes_sent_ += request.size();
  }

  auto fail = [&](absl::Status status) {
    asio::error_code ignored;  // the connection is unusable either way
    impl_->socket.close(ignored);
    impl_->pending.clear();
    return status;
  };
  std::string& in = impl_->pending;
  size_t header_end;
  while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
    if (in.size() > kHeaderBytesMax) {
      return fail(absl::DataLossError("HTTP response headers too long"));
    }
    if (absl::Status s = impl_->ReadSome(deadline, &bytes_received_); !s.ok()) {
      return fail(s);
    }
  }
  HttpResponse response;
  const std::string headers = absl::AsciiStrToLower(absl::string_view(in).substr(0, header_end + 2));
  if (!absl::StartsWith(headers, "http/1.") || headers.size() < 12 ||
      !absl::SimpleAtoi(absl::string_view(headers).substr(9, 3), &response.status)) {
    return fail(absl::DataLossError("bad HTTP status line"));
  }
  in.erase(0, header_end + 4);
  const bool chunked = headers.find("\r\ntransfer-encoding: chunked") != std::string::npos;
  const size_t cl = headers.find("\r\ncontent-length:");
  if (cl != std::string::npos) {
    size_t length = 0;
    absl::string_view v = absl::string_view(headers).substr(cl + 17);
    v = absl::StripLeadingAsciiWhitespace(v.substr(0, v.find('\r')));
    if (!absl::SimpleAtoi(v, &length) || length > kBodyBytesMax) {
      return fail(absl::DataLossError("bad HTTP Content-Length"));
    }
    while (in.size() < length) {
      if (absl::Status s = impl_->ReadSome(deadline, &bytes_received_); !s.ok()) {
        return fail(s);
      }
    }
    response.body = in.substr(0, length);
    in.erase(0, length);
  } else if (chunked) {
    for (;;) {
      size_t line_end;
      while ((line_end = in.find("\r\n")) == std::string::npos) {
        if (in.size() > kHeaderBytesMax) {
          return fail(absl::DataLossError("HTTP chunk header too long"));
        }
        if (absl::Status s = impl_->ReadSome(deadline, &bytes_received_); !s.ok()) {
          return fail(s);
        }
      }
      const std::string size_text = in.substr(0, in.find_first_of(";\r"));
      char* end = nullptr;
      const unsigned long long size = std::strtoull(size_text.c_str(), &end, 16);
      if (size_text.empty() || end != size_text.c_str() + size_text.size() ||
          size > kBodyBytesMax - response.body.size()) {
        return fail(absl::DataLossError("bad HTTP chunk size"));
      }
      while (in.size() < line_end + 2 + size + 2) {
        if (absl::Status s = impl_->ReadSome(deadline, &bytes_received_); !s.ok()) {
          return fail(s);
        }
      }
      response.body.append(in, line_end + 2, size);
      in.erase(0, line_end + 2 + size + 2);
      if (size == 0) {
        break;
      }
    }
  } else {
    // No length: the body runs to the end of the connection.
    for (;;) {
      absl::Status s = impl_->ReadSome(deadline, &bytes_received_);
      if (!s.ok()) {
        if (absl::IsUnavailable(s)) {
          break;  // end of stream
        }
        return fail(s);
      }
      if (in.size() > kBodyBytesMax) {
        return fail(absl::DataLossError("HTTP body too long"));
      }
    }
    response.body = std::move(in);
    in.clear();
    asio::error_code ignored;  // the server ended the connection already
    impl_->socket.close(ignored);
  }
  return response;
}

absl::StatusOr<MetricsText> ScrapeMetrics(const std::string& host, uint16_t port,
                                          std::chrono::milliseconds timeout) {
  HttpConnection connection(host, port);
  if (absl::Status s = connection.Reconnect(timeout); !s.ok()) {
    return s;
  }
  absl::StatusOr<HttpResponse> response = connection.Request("/metrics", "", timeout);
  if (!response.ok()) {
    return response.status();
  }
  if (response->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("GET http://", host, ":", port, "/metrics: HTTP ", response->status));
  }
  return ParseMetricsText(response->body);
}

// ---- processes ---------------------------------------------------------------------------

absl::StatusOr<int> RunProgram(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // The program's own output must not mix into the report on stdout.
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot run ", argv[0], ": ", std::strerror(rc)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
    }
  }
  if (!WIFEXITED(status)) {
    return absl::InternalError(absl::StrCat(argv[0], " did not exit normally"));
  }
  return WEXITSTATUS(status);
}

absl::StatusOr<uint16_t> FindFreePortRange(uint32_t count) {
  constexpr uint32_t kLowPort = 20000;
  constexpr uint32_t kHighPort = 32000;  // Linux hands out ephemeral ports from 32768
  constexpr int kAttemptsMax = 64;
  if (count == 0 || count > 1000) {
    return absl::InvalidArgumentError("port range of 1..1000 ports");
  }
  CryptoRng rng;
  asio::io_context io;
  for (int attempt = 0; attempt < kAttemptsMax; ++attempt) {
    const uint32_t base = kLowPort + static_cast<uint32_t>(rng.Uniform(kHighPort - kLowPort - count));
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> held;
    bool all = true;
    for (uint32_t i = 0; i < count && all; ++i) {
      asio::error_code ec;
      auto a = std::make_unique<asio::ip::tcp::acceptor>(io);
      const asio::ip::tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"),
                                       static_cast<uint16_t>(base + i));
      a->open(ep.protocol(), ec);
      if (!ec) {
        a->bind(ep, ec);
      }
      all = !ec;
      held.push_back(std::move(a));
    }
    if (all) {
      return static_cast<uint16_t>(base);
    }
  }
  return absl::UnavailableError(absl::StrCat("no ", count, " consecutive free loopback ports"));
}

std::string SelfDir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) {
    return ".";
  }
  std::string path(buf, static_cast<size_t>(n));
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace belfry::bench
