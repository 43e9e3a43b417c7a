// belfry-chaos — fault-injection runs against a real local cluster (test/chaos/README.md).
//
//   belfry-chaos --scenario NAME [--n 4|7|...] [--seed S] [--seconds T] [--base-port P]
//                [--bin DIR] [--work DIR] [--keep] [--verbose] [--allow-pending]
//   belfry-chaos --matrix [--scenarios A,B,...] [--ns 4,7] [--seed S] [--seeds K] ...
//   belfry-chaos --list
//
// Prints one summary line per run; on a violation also the violations, the work folder
// (kept) and the command that replays the run. Exits 1 if any run had a violation, 2 on
// bad usage.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "test/chaos/harness.h"
#include "test/chaos/scenarios.h"

namespace belfry::chaos {
namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: belfry-chaos --scenario NAME [--n N] [--seed S] [--seconds T] [--base-port P]\n"
               "                    [--bin DIR] [--work DIR] [--keep] [--verbose] [--allow-pending]\n"
               "       belfry-chaos --matrix [--scenarios A,B,...] [--ns 4,7] [--seed S] [--seeds K]\n"
               "                    [--seconds T] [--base-port P] [--bin DIR]\n"
               "       belfry-chaos --list\n");
  return 2;
}

std::string SelfDir() {
  char buf[4096] = {};
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

std::string SelfPath() {
  char buf[4096] = {};
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n <= 0 ? "belfry-chaos" : std::string(buf, static_cast<size_t>(n));
}

std::string ReplayCommand(const RunConfig& c) {
  return absl::StrCat(SelfPath(), " --scenario ", c.scenario, " --n ", c.n, " --seed ", c.seed, " --seconds ",
                      c.load_seconds, " --base-port ", c.base_port, " --bin ", c.bin_dir, " --verbose");
}

void Print(const RunSummary& s, const RunConfig& c) {
  std::printf("chaos scenario=%s n=%u seed=%llu ops=%llu indeterminate=%llu faults=%llu violations=%zu "
              "progress_after_heal_ms=%lld converge_ms=%lld seconds=%.1f result=%s\n",
              s.scenario.c_str(), s.n, static_cast<unsigned long long>(s.seed),
              static_cast<unsigned long long>(s.ops), static_cast<unsigned long long>(s.indeterminate),
              static_cast<unsigned long long>(s.faults), s.violations.size(),
              static_cast<long long>(s.progress_after_heal_ms), static_cast<long long>(s.converge_ms), s.seconds,
              s.violations.empty() ? "PASS" : "FAIL");
  if (!s.violations.empty()) {
    size_t shown = 0;
    for (const Violation& v : s.violations) {
      if (++shown > 20) {
        std::printf("  ... %zu more\n", s.violations.size() - 20);
        break;
      }
      std::printf("  violation [%s] %s\n", v.check.c_str(), v.detail.c_str());
    }
    std::printf("  seed %llu; history and replica logs kept in %s\n", static_cast<unsigned long long>(s.seed),
                s.work_dir.c_str());
    std::printf("  replay: %s\n", ReplayCommand(c).c_str());
  }
  std::fflush(stdout);
}

bool ParseU64(const std::string& text, uint64_t* out) { return absl::SimpleAtoi(text, out); }

}  // namespace
}  // namespace belfry::chaos

int main(int argc, char** argv) {
  using namespace belfry::chaos;
  RunConfig base;
  std::error_code ignored;
  base.bin_dir = std::filesystem::weakly_canonical(SelfDir() + "/../../bin", ignored).string();
  bool matrix = false, allow_pending = false;
  uint64_t seeds = 1;
  std::vector<std::string> scenario_names;
  std::vector<uint32_t> ns;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--list") {
      for (const Scenario& s : Scenarios()) {
        std::printf("%-16s %s%s\n", s.name.c_str(), s.description.c_str(),
                    s.pending_reason.empty() ? "" : (" [pending: " + s.pending_reason + "]").c_str());
      }
      return 0;
    }
    if (arg == "--matrix") { matrix = true; continue; }
    if (arg == "--keep") { base.keep = true; continue; }
    if (arg == "--verbose") { base.verbose = true; continue; }
    if (arg == "--allow-pending") { allow_pending = true; continue; }
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    uint64_t v = 0;
    if (arg == "--scenario") {
      scenario_names = {value};
    } else if (arg == "--scenarios") {
      scenario_names = absl::StrSplit(value, ',', absl::SkipEmpty());
    } else if (arg == "--n" && ParseU64(value, &v) && v >= 4 && v <= 16) {
      base.n = static_cast<uint32_t>(v);
      ns = {base.n};
    } else if (arg == "--ns") {
      ns.clear();
      for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        if (!ParseU64(std::string(part), &v) || v < 4 || v > 16) return Usage();
        ns.push_back(static_cast<uint32_t>(v));
      }
    } else if (arg == "--seed" && ParseU64(value, &v)) {
      base.seed = v;
    } else if (arg == "--seeds" && ParseU64(value, &v) && v >= 1) {
      seeds = v;
    } else if (arg == "--seconds" && ParseU64(value, &v) && v >= 5 && v <= 3600) {
      base.load_seconds = static_cast<uint32_t>(v);
    } else if (arg == "--base-port" && ParseU64(value, &v) && v >= 1024 && v < 65000) {
      base.base_port = static_cast<uint16_t>(v);
    } else if (arg == "--bin") {
      base.bin_dir = value;
    } else if (arg == "--work") {
      base.work_dir = value;
    } else {
      return Usage();
    }
  }
  if (ns.empty()) ns = matrix ? std::vector<uint32_t>{4, 7} : std::vector<uint32_t>{base.n};
  if (scenario_names.empty()) {
    if (!matrix) return Usage();
    for (const Scenario& s : Scenarios()) {
      if (s.pending_reason.empty()) scenario_names.push_back(s.name);
    }
  }
  std::vector<const Scenario*> chosen;
  for (const std::string& name : scenario_names) {
    const Scenario* s = FindScenario(name);
    if (s == nullptr) {
      std::fprintf(stderr, "belfry-chaos: no scenario \"%s\" (see --list)\n", name.c_str());
      return 2;
    }
    if (!s->pending_reason.empty() && !allow_pending) {
      std::fprintf(stderr, "belfry-chaos: %s is pending (%s); --allow-pending runs it anyway\n", name.c_str(),
                   s->pending_reason.c_str());
      return 2;
    }
    chosen.push_back(s);
  }
  int failed = 0, runs = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const Scenario* s : chosen) {
    for (uint32_t n : ns) {
      for (uint64_t k = 0; k < seeds; ++k) {
        RunConfig c = base;
        c.scenario = s->name;
        c.n = n;
        c.seed = base.seed + k;
        // One folder per run: a cluster folder is never set up twice.
        if (!base.work_dir.empty()) c.work_dir = absl::StrCat(base.work_dir, "/", s->name, "-n", n, "-seed", c.seed);
        const ScenarioSetup setup = SetupFor(s->name);
        c.powerloss_replicas = setup.powerloss_replicas;
        c.log_retained_epochs = setup.log_retained_epochs;
        c.checkpoint_interval_epochs = setup.checkpoint_interval_epochs;
        Harness harness(c);
        const RunSummary summary = harness.Run(s->run, s->prepare);
        c.work_dir = summary.work_dir;
        Print(summary, c);
        ++runs;
        if (!summary.violations.empty()) ++failed;
      }
    }
  }
  if (runs > 1) {
    const double minutes =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60.0;
    std::printf("chaos matrix runs=%d failed=%d minutes=%.1f\n", runs, failed, minutes);
  }
  return failed == 0 ? 0 : 1;
}
