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
  RunSummary Run(const std::function<void(Harness&)>& scenario);

 private:
  absl::Status SetUp();
  void Note(const std::string& what);
  void CheckExits();
  int64_t ConvergeMs(int64_t since_ns);
  void CompareStores();
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
};

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_HARNESS_H_
