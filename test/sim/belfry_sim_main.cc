// belfry-sim — runs the consensus simulator from the command line.
//
//   belfry-sim --seed S [--n N] [--scheduler random|delay-node|aba-max|partition]
//              [--byzantine none|honest|silent|equivocate|bad-merkle|fake-echo-ready|
//                           flip-votes|bad-coin|replay|flood|mixed|aba-split]
//              [--coin fast|threshold] [--conf-phase on|off] [--round0-coin-fixed on|off] [--window W] [--batch B]
//              [--requests R] [--steps-max M] [--aba-rounds-max A] [--duplicates on|off]
//              [--trace]
//       one run (the replay command a failing run prints has exactly this form);
//   belfry-sim --matrix --seed S --seeds K
//       K runs with seeds S..S+K-1, cycling N over {4, 7, 10}, every scheduler and every
//       Byzantine strategy, one run in 25 with the threshold coin (make sim-long);
//   belfry-sim --report [--seeds K] [--n N]
//       the measurements of consensus/README.md (for N ∈ {4, 7, 10, 16}, or only N).
// Exit status: 0 when every run passed, 1 when one failed, 2 on a usage error.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "test/sim/simulator.h"

namespace belfry::sim {
namespace {

int Usage(const std::string& why) {
  std::fprintf(stderr, "belfry-sim: %s\n(see the comment at the top of belfry_sim_main.cc)\n",
               why.c_str());
  return 2;
}

void PrintFailure(const Options& o, const Result& r) {
  std::printf("FAIL seed %llu (N=%u f=%u scheduler=%s byzantine=%s coin=%s): %s\n",
              static_cast<unsigned long long>(o.seed), o.n, o.f(), SchedulerName(o.scheduler),
              StrategyName(o.byzantine), CoinKindName(o.coin), r.failure.c_str());
  std::printf("  replay: %s\n", ReplayCommand(o).c_str());
}

// The run number `i` of the long matrix.
Options MatrixRun(uint64_t seed, uint64_t i) {
  static const uint32_t kNs[] = {4, 7, 10};
  static const SchedulerKind kSchedulers[] = {SchedulerKind::kRandom, SchedulerKind::kDelayNode,
                                              SchedulerKind::kAbaMax, SchedulerKind::kPartition};
  std::vector<Strategy> strategies = AllByzantineStrategies();
  strategies.push_back(Strategy::kNone);
  Options o;
  o.seed = seed;
  o.n = kNs[i % 3];
  o.scheduler = kSchedulers[(i / 3) % 4];
  o.byzantine = strategies[(i / 12) % strategies.size()];
  o.coin = i % 25 == 24 ? CoinKind::kThreshold : CoinKind::kFast;
  o.requests = 8 + static_cast<uint32_t>(seed % 17);
  return o;
}

double Percentile(std::vector<uint32_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t idx = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[idx];
}

double Mean(const std::vector<uint32_t>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (uint32_t x : v) s += x;
  return s / static_cast<double>(v.size());
}

struct Aggregate {
  uint64_t runs = 0;
  uint64_t failures = 0;
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t node_epochs = 0;  // epochs × correct nodes
  uint64_t epochs = 0;
  double cpu = 0;
  std::vector<uint32_t> rounds;
  std::vector<uint32_t> latency;

  void Add(const Options& o, const Result& r) {
    ++runs;
    if (!r.ok) ++failures;
    const uint32_t correct = o.n - (o.byzantine == Strategy::kNone ? 0 : o.f());
    messages += r.stats.messages_sent;
    bytes += r.stats.bytes_sent;
    node_epochs += r.stats.epochs * correct;
    epochs += r.stats.epochs;
    cpu += r.stats.cpu_seconds;
    rounds.insert(rounds.end(), r.stats.aba_rounds.begin(), r.stats.aba_rounds.end());
    latency.insert(latency.end(), r.stats.request_latency_epochs.begin(),
                   r.stats.request_latency_epochs.end());
  }
};

int Report(uint64_t seeds, uint32_t only_n) {
  struct Adv {
    const char* name;
    SchedulerKind scheduler;
    Strategy strategy;
    bool conf_phase = true;
  };
  const Adv advs[] = {
      {"random, no faults", SchedulerKind::kRandom, Strategy::kNone},
      {"delay one node", SchedulerKind::kDelayNode, Strategy::kNone},
      {"partition, heal", SchedulerKind::kPartition, Strategy::kNone},
      {"aba-max + aba-split", SchedulerKind::kAbaMax, Strategy::kAbaSplit},
      {"silent f", SchedulerKind::kRandom, Strategy::kSilent},
      {"equivocate f", SchedulerKind::kRandom, Strategy::kEquivocate},
      {"flip votes f", SchedulerKind::kRandom, Strategy::kFlipVotes},
      {"bad coin f", SchedulerKind::kRandom, Strategy::kBadCoin},
      {"mixed f", SchedulerKind::kRandom, Strategy::kMixed},
      // The demonstration: the same attack on the unfixed protocol (liveness bound off, so
      // the rounds it costs are measured rather than cut short).
      {"aba-max + aba-split, CONF off", SchedulerKind::kAbaMax, Strategy::kAbaSplit, false},
  };
  int status = 0;
  std::printf("Belfry simulator report: %llu seeds per cell (N=16: a quarter), fast coin,\n"
              "window 3, batch 4, 6N requests per run handed to nodes over the first epochs,\n"
              "CONF phase on unless the row says otherwise.\n\n",
              static_cast<unsigned long long>(seeds));
  std::printf("| N | adversary | runs ok | msgs/epoch/node | KiB/epoch/node | ABA rounds "
              "mean / p99 / max | epochs to output a request mean / p99 | sim epochs per "
              "CPU-s |\n|---|---|---|---|---|---|---|---|\n");
  for (uint32_t n : {4u, 7u, 10u, 16u}) {
    if (only_n != 0 && n != only_n) continue;
    for (const Adv& adv : advs) {
      Aggregate agg;
      const uint64_t cell_seeds = n == 16 ? std::max<uint64_t>(2, seeds / 4) : seeds;
      for (uint64_t s = 1; s <= cell_seeds; ++s) {
        Options o;
        o.seed = 1000 * n + s;
        o.n = n;
        o.scheduler = adv.scheduler;
        o.byzantine = adv.strategy;
        o.requests = 6 * n;
        o.conf_phase = adv.conf_phase;
        if (!adv.conf_phase) o.aba_rounds_max = 0;
        const Result r = RunSimulation(o);
        if (!r.ok) {
          PrintFailure(o, r);
          status = 1;
        }
        agg.Add(o, r);
      }
      const double ne = agg.node_epochs == 0 ? 1 : static_cast<double>(agg.node_epochs);
      std::printf("| %u | %s | %llu/%llu | %.0f | %.1f | %.2f / %.0f / %.0f | %.2f / %.0f | "
                  "%.0f |\n",
                  n, adv.name, static_cast<unsigned long long>(agg.runs - agg.failures),
                  static_cast<unsigned long long>(agg.runs), agg.messages / ne,
                  agg.bytes / ne / 1024.0, Mean(agg.rounds), Percentile(agg.rounds, 0.99),
                  Percentile(agg.rounds, 1.0), Mean(agg.latency), Percentile(agg.latency, 0.99),
                  agg.cpu > 0 ? agg.epochs / agg.cpu : 0.0);
      std::fflush(stdout);
    }
  }
  return status;
}

int Matrix(uint64_t seed, uint64_t seeds) {
  uint64_t failures = 0;
  const std::clock_t start = std::clock();
  for (uint64_t i = 0; i < seeds; ++i) {
    const Options o = MatrixRun(seed + i, i);
    const Result r = RunSimulation(o);
    if (!r.ok) {
      ++failures;
      PrintFailure(o, r);
    }
    if ((i + 1) % 100 == 0 || i + 1 == seeds) {
      std::printf("%llu/%llu runs, %llu failed, %.0f CPU-s\n",
                  static_cast<unsigned long long>(i + 1), static_cast<unsigned long long>(seeds),
                  static_cast<unsigned long long>(failures),
                  static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC);
      std::fflush(stdout);
    }
  }
  return failures == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  Options o;
  bool matrix = false;
  bool report = false;
  uint64_t seeds = 0;
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--matrix") {
      matrix = true;
    } else if (a == "--report") {
      report = true;
    } else if (a == "--trace") {
      o.trace = true;
    } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
      args[a.substr(2)] = argv[++i];
    } else {
      return Usage("unexpected argument " + a);
    }
  }
  auto number = [&](const char* key, auto& out) -> bool {
    auto it = args.find(key);
    if (it == args.end()) return true;
    uint64_t v = 0;
    if (!absl::SimpleAtoi(it->second, &v)) return false;
    out = static_cast<std::remove_reference_t<decltype(out)>>(v);
    args.erase(it);
    return true;
  };
  auto on_off = [&](const char* key, bool& out) -> bool {
    auto it = args.find(key);
    if (it == args.end()) return true;
    if (it->second != "on" && it->second != "off") return false;
    out = it->second == "on";
    args.erase(it);
    return true;
  };
  const bool n_given = args.count("n") != 0;
  if (!number("seed", o.seed) || !number("n", o.n) || !number("window", o.window) ||
      !number("batch", o.batch) || !number("requests", o.requests) ||
      !number("steps-max", o.steps_max) || !number("aba-rounds-max", o.aba_rounds_max) ||
      !number("seeds", seeds) || !on_off("conf-phase", o.conf_phase) ||
      !on_off("round0-coin-fixed", o.round0_coin_fixed) || !on_off("duplicates", o.duplicates)) {
    return Usage("a numeric or on/off flag has a bad value");
  }
  if (auto it = args.find("scheduler"); it != args.end()) {
    auto k = ParseSchedulerKind(it->second);
    if (!k) return Usage("unknown scheduler " + it->second);
    o.scheduler = *k;
    args.erase(it);
  }
  if (auto it = args.find("byzantine"); it != args.end()) {
    auto s = ParseStrategy(it->second);
    if (!s) return Usage("unknown strategy " + it->second);
    o.byzantine = *s;
    args.erase(it);
  }
  if (auto it = args.find("coin"); it != args.end()) {
    auto c = ParseCoinKind(it->second);
    if (!c) return Usage("unknown coin " + it->second);
    o.coin = *c;
    args.erase(it);
  }
  if (!args.empty()) return Usage("unknown flag --" + args.begin()->first);
  if (o.n < 4 || o.n > 64 || o.window < 1 || o.batch < 1) {
    return Usage("need 4 <= n <= 64, window >= 1, batch >= 1");
  }

  if (report) return Report(seeds == 0 ? 20 : seeds, n_given ? o.n : 0);
  if (matrix) return Matrix(o.seed, seeds == 0 ? 10000 : seeds);
  const uint64_t count = seeds == 0 ? 1 : seeds;
  int status = 0;
  for (uint64_t k = 0; k < count; ++k) {
    Options run = o;
    run.seed = o.seed + k;
    const Result r = RunSimulation(run);
    if (!r.ok) {
      PrintFailure(run, r);
      status = 1;
    } else {
      std::printf("ok seed %llu: %llu epochs, %llu steps, %llu messages, max ABA rounds %u, "
                  "max in flight %llu, max epochs held %llu, trace %s\n",
                  static_cast<unsigned long long>(run.seed),
                  static_cast<unsigned long long>(r.stats.epochs),
                  static_cast<unsigned long long>(r.stats.steps),
                  static_cast<unsigned long long>(r.stats.messages_sent),
                  r.stats.aba_rounds.empty()
                      ? 0u
                      : *std::max_element(r.stats.aba_rounds.begin(), r.stats.aba_rounds.end()),
                  static_cast<unsigned long long>(r.stats.max_in_flight),
                  static_cast<unsigned long long>(r.stats.max_epochs_in_memory),
                  r.trace_hash.c_str());
      if (!r.stats.faults.empty()) {
        std::printf("  faults against Byzantine nodes:");
        for (const auto& [kind, times] : r.stats.faults) {
          std::printf(" %s=%llu", kind.c_str(), static_cast<unsigned long long>(times));
        }
        std::printf("\n");
      }
    }
  }
  return status;
}

}  // namespace
}  // namespace belfry::sim

int main(int argc, char** argv) { return belfry::sim::Main(argc, argv); }
