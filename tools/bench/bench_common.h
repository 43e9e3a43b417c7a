// tools/bench/bench_common.h — what belfry-bench and etcd-load share, so the two report
// the same figures computed the same way and their outputs can be set side by side.
//
// How it works. A load generator runs closed-loop clients and records one latency per
// completed operation (LatencyLog); before and after the measured phase it samples every
// server process (ServerSample: Prometheus text from its metrics endpoint, CPU time and
// peak RSS from /proc when the process is local) and turns the two samples into
// per-operation cluster figures (ClusterFigures). A Report renders as a table for people,
// as JSON for machines, and as one tab-separated row that tools/bench/run.sh collects into
// its summary. A figure that could not be measured is absent (std::nullopt): the table
// prints "n/a" and JSON null, never a guess.
#ifndef BELFRY_TOOLS_BENCH_BENCH_COMMON_H_
#define BELFRY_TOOLS_BENCH_BENCH_COMMON_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/rng.h"

namespace belfry::bench {

// ---- parameters --------------------------------------------------------------------------

// Parses a byte count: a decimal number with an optional unit B, KiB/K, MiB/M, GiB/G
// (powers of 1024). INVALID_ARGUMENT for anything else or a value above 2^40.
absl::StatusOr<uint64_t> ParseBytes(absl::string_view text);

// Mix: the weighted operation kinds of a workload, e.g. "checkin=70,checkout=30".
// Weights are relative (they need not add up to 100). Plain data; copyable.
struct Mix {
  std::vector<std::pair<std::string, uint32_t>> entries;  // kind, weight > 0; no repeats
  uint32_t total_weight = 0;

  // The kind whose cumulative weight covers `draw` modulo total_weight.
  const std::string& Pick(uint64_t draw) const;
  // "checkin=70,checkout=30", in the order given.
  std::string ToString() const;
};

// Parses "kind=weight[,kind=weight...]" where every kind is one of `allowed`.
// INVALID_ARGUMENT naming the bad entry otherwise.
absl::StatusOr<Mix> ParseMix(absl::string_view text, const std::vector<std::string>& allowed);

// ---- latencies ---------------------------------------------------------------------------

// LatencySummary: nearest-rank percentiles of a set of latencies, in milliseconds.
struct LatencySummary {
  uint64_t count = 0;
  double mean_ms = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Summarizes `ms` (sorted here; taken by value for that reason). All zero when empty.
LatencySummary Summarize(std::vector<double> ms);

// OpKindResult: the completed and failed operations of one kind.
struct OpKindResult {
  std::string kind;
  uint64_t errors = 0;
  LatencySummary latency;  // successful operations only
};

// ---- server samples ----------------------------------------------------------------------

// MetricsText: one scrape of a Prometheus text endpoint, every sample by its full series
// name (`name{label="v",...}` exactly as exposed). Plain data.
struct MetricsText {
  std::map<std::string, double> series;

  // The sum of every series of metric `name` (any labels); nullopt when none is exposed.
  std::optional<double> Sum(absl::string_view name) const;
};

// Parses the Prometheus text exposition format (comments and blank lines skipped; an
// optional timestamp after the value ignored). INVALID_ARGUMENT naming the line when a
// sample line has no parseable value.
absl::StatusOr<MetricsText> ParseMetricsText(absl::string_view text);

// ServerTarget: one server process of the cluster under test.
struct ServerTarget {
  std::string name;         // "replica-0", "etcd-1"
  std::string host;         // where its metrics endpoint listens
  uint16_t metrics_port = 0;  // 0: no endpoint
  pid_t pid = 0;            // > 0 when the process runs on this machine
};

// ServerSample: what could be read about one server at one moment.
struct ServerSample {
  std::optional<MetricsText> metrics;      // absent when the endpoint did not answer
  std::optional<double> proc_cpu_seconds;  // utime + stime from /proc/PID/stat
  std::optional<uint64_t> proc_peak_rss_bytes;  // VmHWM from /proc/PID/status
};

// Samples every target; a target that does not answer within `timeout` (or whose process
// is gone) yields empty fields. Never fails as a whole.
std::vector<ServerSample> SampleServers(const std::vector<ServerTarget>& targets,
                                        std::chrono::milliseconds timeout);

// Which metric series a kind of server exposes for the cluster figures.
struct SeriesNames {
  std::string epochs;              // empty: the system has no epochs
  std::string requests_executed;   // empty: no batch size
  std::vector<std::string> bytes_sent;  // summed over labels and over the list
  std::string cpu_seconds = "process_cpu_seconds_total";
  std::vector<std::string> peak_rss;  // first one exposed wins
};
SeriesNames BelfrySeries();
SeriesNames EtcdSeries();

// ClusterFigures: the server side of one run, per completed operation where it says so.
struct ClusterFigures {
  std::optional<double> epochs_per_s;            // the most any server committed / elapsed
  std::optional<double> mean_batch_requests;     // requests executed / epochs, same server
  std::optional<double> wire_bytes_per_op;       // sum over servers of bytes sent / ops
  std::optional<double> server_cpu_s_per_op;     // sum over servers of CPU seconds / ops
  std::vector<std::optional<uint64_t>> peak_rss_bytes;  // per server, since it started
  std::string cpu_source;   // "proc", "metrics", "proc+metrics" or "n/a"
  std::string rss_source;
  uint32_t servers_answering = 0;  // metrics endpoints that answered both samples
};

// Computes the figures from samples taken before and after the measured phase. A sum
// over servers is given only when every server contributed to it.
ClusterFigures ComputeClusterFigures(const std::vector<ServerSample>& before,
                                     const std::vector<ServerSample>& after,
                                     const SeriesNames& names, double elapsed_s,
                                     uint64_t ops);

// CPU seconds (user + system) this process has used so far.
double SelfCpuSeconds();

// The machine's load averages, "1m 5m 15m" from /proc/loadavg ("n/a" when unreadable).
std::string LoadAverages();

// Busy CPU seconds of the whole machine so far, summed over CPUs (/proc/stat: user, nice,
// system, irq, softirq); nullopt when unreadable.
std::optional<double> MachineBusySeconds();

// ---- the report --------------------------------------------------------------------------

// Report: everything one run measured, plus the parameters that produced it.
struct Report {
  std::string system;  // "belfry" or "etcd"
  std::string label;   // a workload name such as "W1", or empty
  // Parameters in the order they are printed; values are JSON literals (numbers, true,
  // false, or already-quoted strings: use JsonString).
  std::vector<std::pair<std::string, std::string>> parameters;
  std::string headline;  // one line describing the setup, for the table
  double elapsed_s = 0;
  std::vector<OpKindResult> per_op;  // in mix order
  LatencySummary overall;
  uint64_t errors = 0;
  std::map<std::string, uint64_t> errors_by_kind;
  ClusterFigures cluster;
  std::optional<double> client_cpu_s_per_op;
  // /proc/loadavg's 1, 5 and 15 minute figures around the measured phase: on a shared
  // machine they say how much else was running.
  std::string load_before;
  std::string load_after;
  // CPU the rest of the machine used during the measured phase, in cores: all busy CPU
  // time (/proc/stat) minus the servers' and this process's. Absent when the servers' CPU
  // time is not known.
  std::optional<double> other_cpu_cores;
};

// `text` as a JSON string literal, quotes included.
std::string JsonString(absl::string_view text);

// The human table (stdout of both generators).
std::string FormatTable(const Report& report);
// The JSON document written by --json.
std::string FormatJson(const Report& report);
// One tab-separated line (no newline) with the columns of TsvHeader().
std::string FormatTsvRow(const Report& report);
std::string TsvHeader();

// Writes `text` to `path` (replacing it), or appends when `append`.
absl::Status WriteFile(const std::string& path, absl::string_view text, bool append);

// ---- the closed loop --------------------------------------------------------------------

// StepResult: what one operation turned out to be.
struct StepResult {
  size_t kind = 0;    // index into LoopOptions::kinds of the operation actually run
  std::string error;  // empty on success, else a short name ("no_quorum", "timeout", ...)
};

// Worker: one closed-loop client of the system under test. RunClosedLoop calls Setup once
// and then Step repeatedly, all from one thread of its own, then Teardown; a Worker is
// therefore used by one thread at a time and needs no locking.
class Worker {
 public:
  virtual ~Worker() = default;
  // Connects, logs in, writes what reads will need. `abort` turns true when another
  // worker failed; a long setup should give up then.
  virtual absl::Status Setup(DeterministicRng& rng, const std::atomic<bool>& abort) = 0;
  // Runs one operation of kind `kind` (the harness times it).
  virtual StepResult Step(size_t kind, DeterministicRng& rng) = 0;
  // Ends sessions and closes connections; not timed, failures ignored.
  virtual void Teardown() {}
};

// LoopOptions: what the harness needs to drive the workers.
struct LoopOptions {
  std::string program;              // prefix of progress lines
  std::vector<std::string> kinds;   // every kind a Step may report
  Mix mix;                          // kinds drawn, by name
  uint64_t ops = 0;                 // measured operations, in total over all workers
  double seconds = 0;               // bound of the measured phase (and of the warmup)
  uint64_t warmup_ops = 0;          // operations before the measured phase, not recorded
  uint64_t seed = 0;                // worker i draws from DeterministicRng(seed, i)
};

// LoopResult: the measured phase.
struct LoopResult {
  absl::Status setup_status;  // the first worker's setup failure, if any
  double elapsed_s = 0;
  std::vector<OpKindResult> per_op;  // kinds in the mix or seen, in `kinds` order
  LatencySummary overall;
  uint64_t errors = 0;
  std::map<std::string, uint64_t> errors_by_kind;
  std::vector<ServerSample> before;
  std::vector<ServerSample> after;
  std::optional<double> client_cpu_s_per_op;
  std::string load_before;  // see Report
  std::string load_after;
  std::optional<double> machine_busy_s;  // every CPU's busy time during the measured phase
  std::optional<double> client_cpu_s;    // this process's CPU time during it
};

// Runs setup on every worker at once, the warmup, samples `targets`, runs the measured
// phase (operations drawn from one shared counter until `ops`, or until `seconds` have
// passed), samples again, and tears down. Prints a progress line on stderr once a second.
// Bounded: every phase stops at its count or its time (an operation in flight finishes
// within the worker's own per-operation timeout).
LoopResult RunClosedLoop(const LoopOptions& options, std::vector<std::unique_ptr<Worker>>& workers,
                         const std::vector<ServerTarget>& targets);

// Fills the measured fields of `report` from `result` and `cluster`, and the CPU used by
// everything else on the machine.
void FillReport(const LoopResult& result, const ClusterFigures& cluster, Report* report);

// Prints the table on stdout and writes the JSON (--json) and TSV row (--tsv, header when
// the file is new) where asked. The exit status: 1 when a file could not be written or
// more than 1% of the operations failed (or none completed), else 0.
int EmitReport(const Report& report, const std::string& program, const std::string& json_path,
               const std::string& tsv_path);

// The measured phase and its report, as both load generators run them: RunClosedLoop (a
// setup failure prints why and returns 1, with no measurement), the cluster figures from
// `series`, FillReport, then EmitReport of `report`, whose system, label, headline and
// parameters the caller has filled. Returns the exit status.
int MeasureAndReport(const LoopOptions& loop, std::vector<std::unique_ptr<Worker>>& workers,
                     const std::vector<ServerTarget>& targets, const SeriesNames& series,
                     Report report, const std::string& json_path, const std::string& tsv_path);

// ---- HTTP/1.1 ----------------------------------------------------------------------------

// HttpResponse: a complete response.
struct HttpResponse {
  int status = 0;
  std::string body;
};

// HttpConnection: one keep-alive HTTP/1.1 connection over plain TCP, used strictly one
// request at a time. Every step is bounded by the timeout it is given; after any error
// the connection is closed and further requests fail until Reconnect. Not thread-safe:
// one per thread.
class HttpConnection {
 public:
  // Largest response header block and body this client accepts.
  static constexpr size_t kHeaderBytesMax = 64 << 10;
  static constexpr size_t kBodyBytesMax = 64 << 20;

  HttpConnection(std::string host, uint16_t port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // (Re)opens the connection. UNAVAILABLE when it cannot be opened in time.
  absl::Status Reconnect(std::chrono::milliseconds timeout);
  // Sends one request (POST with `body` when it is non-empty, GET otherwise; JSON content
  // type) and reads the response. UNAVAILABLE / DEADLINE_EXCEEDED / DATA_LOSS on transport
  // failures or an unparseable response.
  absl::StatusOr<HttpResponse> Request(absl::string_view path, absl::string_view body,
                                       std::chrono::milliseconds timeout);
  // Bytes written and read on this connection so far (headers included).
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }

  class Impl;

 private:
  std::string host_;
  uint16_t port_;
  std::unique_ptr<Impl> impl_;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
};

// One GET of http://host:port/metrics, parsed. Errors as HttpConnection's.
absl::StatusOr<MetricsText> ScrapeMetrics(const std::string& host, uint16_t port,
                                          std::chrono::milliseconds timeout);

// ---- processes ---------------------------------------------------------------------------

// Runs `argv` (argv[0] a path) with its stdout sent to this process's stderr and waits
// for it. The exit status, or INTERNAL when it could not be started or was signalled.
absl::StatusOr<int> RunProgram(const std::vector<std::string>& argv);

// A base port P such that P..P+count-1 on 127.0.0.1 could all be bound just now, chosen
// at random below the kernel's ephemeral range, for a cluster whose ports are consecutive
// (belfry-setup --base-port). Another process may still take one before the caller;
// start-up then fails naming the port. UNAVAILABLE when no range was found.
absl::StatusOr<uint16_t> FindFreePortRange(uint32_t count);

// The folder of this process's executable (from /proc/self/exe).
std::string SelfDir();

}  // namespace belfry::bench

#endif  // BELFRY_TOOLS_BENCH_BENCH_COMMON_H_
