// test/chaos/harness.h — one chaos run: a fresh cluster, its fault proxy and processes,
// the workload, a scenario's faults, then healing, final reads and the checks.
//
// A run is named by (scenario, N, seed) and bounded in time: the load runs for
// `load_seconds` (the scenario injects its faults inside that span and heals before it
// ends), every client call has a deadline, final reads and convergence have budgets, and
// replicas that do not stop on SIGTERM are killed. Ports: replica r uses base+3r (peer),
// base+3r+1 (client), base+3r+2 (metrics); the proxy of link i->j listens on
// base + 3N + i*N + j. So a run needs 3N + N*N ports from `base_port`.
//
// The scenario sees the run through Harness's fault methods, each of which counts and
// logs what it did; Heal() marks the moment from which "time to progress" is measured.
#ifndef BELFRY_TEST_CHAOS_HARNESS_H_
#define BELFRY_TEST_CHAOS_HARNESS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/rng.h"
#include "test/chaos/checkers.h"
#include "test/chaos/fault_proxy.h"
#include "test/chaos/processes.h"
#include "test/chaos/workload.h"

namespace belfry::chaos {

struct RunConfig {
  std::string scenario;
  uint32_t n = 4;
  uint64_t seed = 1;
  uint16_t base_port = 20400;
  uint32_t load_seconds = 20;
  uint32_t users = 4;
  uint32_t docs = 4;
  std::string bin_dir;   // belfry-replica and belfry-setup
  std::string work_dir;  // empty: a new folder under $TMPDIR (or /tmp)
  bool keep = false;     // keep the work folder even when the run passes
  bool verbose = false;  // log each fault as it happens
  // Set from the scenario (scenarios.h, SetupFor): 0 leaves cluster.conf's default.
  uint32_t log_retained_epochs = 0;
  uint32_t checkpoint_interval_epochs = 0;
  // Run belfry-replica-powerloss (test/powerloss), whose store journals every sync.
  bool powerloss_replicas = false;
};

struct RunSummary {
  std::string scenario;
  uint64_t seed = 0;
  uint32_t n = 0;
  uint64_t ops = 0;            // calls with an answer
  uint64_t indeterminate = 0;  // calls without one
  uint64_t faults = 0;
  int64_t progress_after_heal_ms = -1;  // worst over the heals; -1: no heal
  int64_t converge_ms = -1;    // after the load and final reads, until every replica was at one epoch
  double seconds = 0;
  std::vector<Violation> violations;
  std::string work_dir;
};

class Harness {
 public:
  explicit Harness(RunConfig config);
  ~Harness();

  // Fault primitives for scenarios (all counted as faults, except the heals).
  void KillReplica(uint32_t r);
  void StartReplica(uint32_t r);
  void PauseReplica(uint32_t r);
  void ResumeReplica(uint32_t r);
  void SetLink(uint32_t from, uint32_t to, const LinkFaults& faults, const std::string& what);
  // Every link into and out of `r` (or only one direction).
  void Isolate(uint32_t r, LinkFaults::Mode mode, bool inbound, bool outbound);
  void DegradeAll(const LinkFaults& faults, const std::string& what);
  absl::Status SnapshotReplica(uint32_t r, const std::string& name);
  absl::Status RestoreReplica(uint32_t r, const std::string& name);
  absl::Status WipeReplica(uint32_t r);
  // Only from a scenario's `prepare`, before any replica starts, so they hold for the
  // whole run. RunByzantine: replica r is belfry-replica-byzantine with `strategies`
  // (test/byzantine/README.md) and a seed derived from the run's; it is left out of the
  // convergence and digest checks. OffsetClock: replica r, still correct, runs the
  // test binary with its core's clock shifted by `offset_ms`.
  void RunByzantine(uint32_t r, const std::string& strategies);
  void OffsetClock(uint32_t r, int64_t offset_ms);
  bool byzantine(uint32_t r) const { return byzantine_[r]; }
  // Power loss (powerloss_replicas runs only; `r` must be stopped): drop what replica r
  // never synced, optionally tearing the tails (belfry-powercut).
  absl::Status PowerCutReplica(uint32_t r, bool tear);
  // From its next start, r's fsyncs return OK without making anything durable (and so
  // again after the harness wipes its disk).
  absl::Status MakeFsyncLie(uint32_t r);
  // Flips `flips` bits in r's synced table (or log) files.
  absl::Status BitRotReplica(uint32_t r, uint32_t flips);
  // r may refuse to start on what is on its disk (exit status 1, e.g. DATA_LOSS): then,
  // as an operator would, the harness wipes its folder and starts it again, empty, and
  // it must catch up from its peers. Any other exit stays a violation.
  void AllowRefusal(uint32_t r);
  // After the load, r's metrics must show a completed state transfer (unless r is killed
  // again before then: its counters go with the process).
  void ExpectStateTransfer(uint32_t r);
  // Clears every link fault, resumes paused replicas and starts stopped ones, and marks
  // the moment.
  void Heal(const std::string& what);

  // Sleeps up to `ms`, but not past the end of the load span; false once it has ended.
  bool Sleep(int64_t ms);
  // Milliseconds of load left.
  int64_t RemainingMs() const;
  DeterministicRng& rng() { return rng_; }
  uint32_t n() const { return config_.n; }
  uint32_t f() const { return (config_.n - 1) / 3; }
  // `k` distinct replicas chosen by the seed.
  std::vector<uint32_t> PickReplicas(uint32_t k);

  // Runs everything; `scenario` injects the faults while the load runs.
  // `prepare`, when set, runs after the cluster is created and before any replica starts.
  RunSummary Run(const std::function<void(Harness&)>& scenario,
                 const std::function<void(Harness&)>& prepare = nullptr);

 private:
  absl::Status SetUp();
  void Note(const std::string& what);
  void CheckExits();
  int64_t ConvergeMs(int64_t since_ns);
  void CompareStores();
  void CheckStateTransfers();
  absl::Status RunPowercut(uint32_t r, const std::vector<std::string>& args);
  absl::Status WriteLyingMode(uint32_t r);
  void TearDown(bool passed);

  RunConfig config_;
  DeterministicRng rng_;
  std::string cluster_dir_;
  std::vector<uint16_t> client_ports_;
  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<ReplicaProcesses> processes_;
  std::unique_ptr<Workload> workload_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point load_end_;
  std::vector<int64_t> heals_ns_;
  uint64_t faults_ = 0;
  std::optional<uint64_t> state_counter_;
  std::vector<Violation> violations_;
  bool created_work_dir_ = false;
  std::function<void(Harness&)> prepare_;
  std::vector<bool> byzantine_;
  std::vector<std::string> clock_args_;  // per replica: --clock-offset-ms, if any
  std::vector<uint16_t> metrics_ports_;
  std::set<uint32_t> refusal_allowed_;
  std::set<uint32_t> transfer_expected_;
  std::set<uint32_t> liars_;
};

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_HARNESS_H_
