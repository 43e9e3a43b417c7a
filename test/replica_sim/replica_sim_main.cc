// belfry-replica-sim: the whole-replica simulator's command line (test/replica_sim/sim.h).
//
//   belfry-replica-sim --seed S [--scenario X] [--n N] [--trace]   one run (a replay)
//   belfry-replica-sim --matrix [--seed S] --seeds K [--scenario X] K runs from seed S
//   belfry-replica-sim --list                                       the scenarios
// Exit status 1 when any run fails; each failure prints its seed and replay command.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "test/replica_sim/sim.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: belfry-replica-sim [--seed S] [--scenario X] [--n 4|7] [--no-vote-check] [--trace]\n"
               "       belfry-replica-sim --matrix [--seed S] --seeds K [--scenario X]\n"
               "       belfry-replica-sim --list\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  belfry::rsim::Options o;
  bool matrix = false;
  uint64_t seeds = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--seed") {
      const char* v = next();
      if (v == nullptr) return Usage();
      o.seed = std::strtoull(v, nullptr, 10);
    } else if (a == "--seeds") {
      const char* v = next();
      if (v == nullptr) return Usage();
      seeds = std::strtoull(v, nullptr, 10);
    } else if (a == "--scenario") {
      const char* v = next();
      if (v == nullptr) return Usage();
      o.scenario = v;
    } else if (a == "--n") {
      const char* v = next();
      if (v == nullptr) return Usage();
      o.n = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (a == "--no-vote-check") {
      o.check_votes = false;
    } else if (a == "--trace") {
      o.trace = true;
    } else if (a == "--matrix") {
      matrix = true;
    } else if (a == "--list") {
      for (const std::string& s : belfry::rsim::ScenarioNames()) std::printf("%s\n", s.c_str());
      return 0;
    } else {
      return Usage();
    }
  }
  if (!matrix) {
    const auto start = std::chrono::steady_clock::now();
    belfry::rsim::Result r = belfry::rsim::Run(o);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("seed %" PRIu64 " scenario %s: %s  n=%u epochs=%" PRIu64 " accepted=%" PRIu64
                " deliveries=%" PRIu64 " sim_ms=%" PRIu64 " sends_refused=%" PRIu64
                " refused_beyond_window=%" PRIu64 " caught_up=%" PRIu64 " transfers=%" PRIu64
                " overtaken=%" PRIu64 " trace=%016" PRIx64 " (%.2fs)\n  faults: %s\n",
                o.seed, o.scenario.c_str(), r.ok ? "ok" : "FAILED", r.n, r.epochs, r.accepted, r.deliveries,
                r.sim_ms, r.sends_refused, r.refused_beyond_window, r.epochs_caught_up, r.transfers_started,
                r.transfers_overtaken, r.trace_hash, secs, r.faults.c_str());
    if (!r.ok) std::printf("  failure: %s\n  replay: %s\n", r.failure.c_str(), r.replay.c_str());
    return r.ok ? 0 : 1;
  }
  // The matrix: a table of outcomes by cluster size, then every failure with its replay.
  const auto start = std::chrono::steady_clock::now();
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> by_n;  // n -> (runs, failures)
  uint64_t failures = 0;
  uint64_t beyond = 0;
  // Coverage: how many runs reached the paths the findings live on.
  uint64_t reached_catchup = 0, reached_transfer = 0, reached_overtaken = 0;
  std::vector<uint64_t> overtaken_seeds;
  for (uint64_t k = 0; k < seeds; ++k) {
    belfry::rsim::Options run = o;
    run.seed = o.seed + k;
    belfry::rsim::Result r = belfry::rsim::Run(run);
    auto& row = by_n[r.n];
    ++row.first;
    beyond += r.refused_beyond_window;
    reached_catchup += r.epochs_caught_up != 0;
    reached_transfer += r.transfers_started != 0;
    if (r.transfers_overtaken != 0 && overtaken_seeds.size() < 8) overtaken_seeds.push_back(run.seed);
    reached_overtaken += r.transfers_overtaken != 0;
    if (!r.ok) {
      ++row.second;
      ++failures;
      std::printf("FAILED seed %" PRIu64 ": %s\n  faults: %s\n  replay: %s\n", run.seed, r.failure.c_str(),
                  r.faults.c_str(), r.replay.c_str());
      std::fflush(stdout);
    }
    if ((k + 1) % 100 == 0) {
      std::fprintf(stderr, "%" PRIu64 "/%" PRIu64 " runs, %" PRIu64 " failed\n", k + 1, seeds, failures);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("scenario %s, seeds %" PRIu64 "..%" PRIu64 " (%.0fs)\n", o.scenario.c_str(), o.seed, o.seed + seeds - 1, secs);
  std::printf("| N | runs | failed |\n|---|---|---|\n");
  for (const auto& [n, row] : by_n) std::printf("| %u | %" PRIu64 " | %" PRIu64 " |\n", n, row.first, row.second);
  std::printf("frames refused beyond the window (all runs): %" PRIu64 "\n", beyond);
  std::string first_overtaken;
  for (uint64_t s : overtaken_seeds) absl::StrAppend(&first_overtaken, first_overtaken.empty() ? "" : ",", s);
  std::printf("runs that caught up: %" PRIu64 ", started a state transfer: %" PRIu64
              ", had a transfer overtaken by consensus: %" PRIu64 " (seeds %s)\n",
              reached_catchup, reached_transfer, reached_overtaken, first_overtaken.c_str());
  return failures == 0 ? 0 : 1;
}
