// The seeded adversarial runs of `make test`. Every run checks agreement, total order,
// validity, integrity, consensus-time sanity, the absence of false accusations and bounded
// memory (simulator.h); a failure prints its seed, parameters and a one-line replay.
//
// The matrix: N ∈ {4, 7, 10} × the four schedulers × (no fault + every Byzantine strategy),
// a few seeds each — 576 runs with the fast coin; plus 40 runs with the real threshold coin
// (bad shares included); plus the determinism check and the adversarial-ABA demonstration.
// Each (N, scheduler) is its own test case so that ctest spreads them over the cores.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "test/sim/simulator.h"

namespace belfry::sim {
namespace {

std::vector<Strategy> StrategiesWithNone() {
  std::vector<Strategy> all = {Strategy::kNone};
  for (Strategy s : AllByzantineStrategies()) all.push_back(s);
  return all;
}

// Runs `options` and records a failure with everything needed to replay it.
bool RunAndCheck(const Options& o) {
  const Result r = RunSimulation(o);
  if (!r.ok) {
    FAIL_CHECK("seed " << o.seed << " (N=" << o.n << " f=" << o.f() << " scheduler="
                       << SchedulerName(o.scheduler) << " byzantine=" << StrategyName(o.byzantine)
                       << " coin=" << CoinKindName(o.coin) << "): " << r.failure
                       << "\n  replay: " << ReplayCommand(o));
  }
  return r.ok;
}

// Every strategy (and none) under one scheduler at one N, `seeds` seeds each.
void RunMatrix(uint32_t n, SchedulerKind scheduler, uint64_t seeds, CoinKind coin,
               const std::vector<Strategy>& strategies) {
  uint64_t runs = 0;
  uint64_t passed = 0;
  for (size_t k = 0; k < strategies.size(); ++k) {
    for (uint64_t s = 0; s < seeds; ++s) {
      Options o;
      // Distinct seeds across the whole matrix, stable when cases are added.
      o.seed = 1 + s + 100 * k + 10000 * static_cast<uint64_t>(scheduler) + 100000ULL * n +
               (coin == CoinKind::kThreshold ? 5000000 : 0);
      o.n = n;
      o.scheduler = scheduler;
      o.byzantine = strategies[k];
      o.coin = coin;
      o.requests = 6 + static_cast<uint32_t>(o.seed % 11);
      ++runs;
      passed += RunAndCheck(o) ? 1 : 0;
    }
  }
  std::printf("N=%u %s %s: %llu/%llu runs passed\n", n, SchedulerName(scheduler),
              CoinKindName(coin), static_cast<unsigned long long>(passed),
              static_cast<unsigned long long>(runs));
  CHECK(passed == runs);
}

// Under AddressSanitizer (make test-sanitize) every run costs ~10x: one seed per cell
// still covers every (N, scheduler, strategy) combination.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kSeedsPerStrategy = 1;
constexpr uint64_t kThresholdSeeds = 1;
#else
constexpr uint64_t kSeedsPerStrategy = 4;
constexpr uint64_t kThresholdSeeds = 3;
#endif

TEST_CASE("Sim N=4 random scheduler: every strategy", "[sim][n4]") {
  RunMatrix(4, SchedulerKind::kRandom, kSeedsPerStrategy, CoinKind::kFast, StrategiesWithNone());
}
TEST_CASE("Sim N=4 delay-node scheduler: every strategy", "[sim][n4]") {
  RunMatrix(4, SchedulerKind::kDelayNode, kSeedsPerStrategy, CoinKind::kFast,
            StrategiesWithNone());
}
TEST_CASE("Sim N=4 aba-max scheduler: every strategy", "[sim][n4]") {
  RunMatrix(4, SchedulerKind::kAbaMax, kSeedsPerStrategy, CoinKind::kFast, StrategiesWithNone());
}
TEST_CASE("Sim N=4 partition scheduler: every strategy", "[sim][n4]") {
  RunMatrix(4, SchedulerKind::kPartition, kSeedsPerStrategy, CoinKind::kFast,
            StrategiesWithNone());
}
TEST_CASE("Sim N=7 random scheduler: every strategy", "[sim][n7]") {
  RunMatrix(7, SchedulerKind::kRandom, kSeedsPerStrategy, CoinKind::kFast, StrategiesWithNone());
}
TEST_CASE("Sim N=7 delay-node scheduler: every strategy", "[sim][n7]") {
  RunMatrix(7, SchedulerKind::kDelayNode, kSeedsPerStrategy, CoinKind::kFast,
            StrategiesWithNone());
}
TEST_CASE("Sim N=7 aba-max scheduler: every strategy", "[sim][n7]") {
  RunMatrix(7, SchedulerKind::kAbaMax, kSeedsPerStrategy, CoinKind::kFast, StrategiesWithNone());
}
TEST_CASE("Sim N=7 partition scheduler: every strategy", "[sim][n7]") {
  RunMatrix(7, SchedulerKind::kPartition, kSeedsPerStrategy, CoinKind::kFast,
            StrategiesWithNone());
}
TEST_CASE("Sim N=10 random scheduler: every strategy", "[sim][n10]") {
  RunMatrix(10, SchedulerKind::kRandom, kSeedsPerStrategy, CoinKind::kFast, StrategiesWithNone());
}
TEST_CASE("Sim N=10 delay-node scheduler: every strategy", "[sim][n10]") {
  RunMatrix(10, SchedulerKind::kDelayNode, kSeedsPerStrategy, CoinKind::kFast,
            StrategiesWithNone());
}
TEST_CASE("Sim N=10 aba-max scheduler: every strategy", "[sim][n10]") {
  RunMatrix(10, SchedulerKind::kAbaMax, kSeedsPerStrategy, CoinKind::kFast, StrategiesWithNone());
}
TEST_CASE("Sim N=10 partition scheduler: every strategy", "[sim][n10]") {
  RunMatrix(10, SchedulerKind::kPartition, kSeedsPerStrategy, CoinKind::kFast,
            StrategiesWithNone());
}

// The real Cachin–Kursawe–Shoup coin, with the strategies that attack it (invalid,
// replayed and withheld shares) and the ones that stress agreement.
TEST_CASE("Sim with the threshold coin N=4: bad shares and vote attacks", "[sim][threshold]") {
  const std::vector<Strategy> s = {Strategy::kNone, Strategy::kBadCoin, Strategy::kFlipVotes,
                                   Strategy::kMixed};
  RunMatrix(4, SchedulerKind::kRandom, kThresholdSeeds, CoinKind::kThreshold, s);
  RunMatrix(4, SchedulerKind::kAbaMax, kThresholdSeeds, CoinKind::kThreshold, s);
}
TEST_CASE("Sim with the threshold coin N=7: bad shares and vote attacks", "[sim][threshold]") {
  const std::vector<Strategy> s = {Strategy::kNone, Strategy::kBadCoin, Strategy::kFlipVotes,
                                   Strategy::kMixed};
  RunMatrix(7, SchedulerKind::kRandom, kThresholdSeeds - kThresholdSeeds / 3, CoinKind::kThreshold,
            s);
  RunMatrix(7, SchedulerKind::kDelayNode, kThresholdSeeds - kThresholdSeeds / 3,
            CoinKind::kThreshold, s);
}

// FoundationDB-style: the trace hash of a seed is the same on every run of it.
TEST_CASE("Sim determinism: a seed replays to the same trace hash", "[sim][determinism]") {
  for (Strategy strategy : {Strategy::kNone, Strategy::kMixed, Strategy::kReplay}) {
    for (SchedulerKind sched : {SchedulerKind::kRandom, SchedulerKind::kAbaMax}) {
      Options o;
      o.seed = 777;
      o.n = 7;
      o.scheduler = sched;
      o.byzantine = strategy;
      const Result a = RunSimulation(o);
      const Result b = RunSimulation(o);
      CHECK(a.ok);
      CHECK(a.trace_hash == b.trace_hash);
      CHECK(a.stats.steps == b.stats.steps);
      o.seed = 778;
      CHECK(RunSimulation(o).trace_hash != a.trace_hash);
    }
  }
}

// The adversarial-scheduling attack on Mostéfaoui–Moumen–Raynal ABA (PODC 2014; MacBrough,
// HoneyBadgerBFT issue 59; Tholoniat–Gramoli): with the CONF phase off, the aba-max
// scheduler plus Byzantine nodes that offer every vote keep agreements split round after
// round, so runs break the liveness bound (or stall); with the CONF phase every run passes.
// The scripted single-instance version is test/consensus/aba_attack_test.cc.
TEST_CASE("Sim adversarial ABA: without CONF the aba-max scheduler breaks the liveness bound, "
          "with CONF it cannot",
          "[sim][aba-attack]") {
  constexpr uint32_t kRoundsBound = 16;
  for (uint32_t n : {4u, 7u}) {
    uint32_t unfixed_failures = 0;
    uint32_t fixed_failures = 0;
    uint32_t fixed_rounds_max = 0;
#if defined(__SANITIZE_ADDRESS__)
    // N=4 runs are cheap even under ASan; fewer seeds there would make "the attack works on
    // most seeds" a coin toss (2 seeds at N=4 both decided in time once).
    const uint32_t kSeeds = n == 4 ? 8 : 2;
#else
    const uint32_t kSeeds = 8;
#endif
    for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
      Options o;
      o.seed = 900000 + 100 * n + seed;
      o.n = n;
      o.scheduler = SchedulerKind::kAbaMax;
      o.byzantine = Strategy::kAbaSplit;
      o.aba_rounds_max = kRoundsBound;
      // The scripted split starts in round 0 by reading that round's coin shares, so it
      // runs with round 0's coin from the threshold scheme too (replicas fix it to 1; the
      // split then starts a round later, which changes nothing it demonstrates).
      o.round0_coin_fixed = false;
      o.conf_phase = false;
      const Result unfixed = RunSimulation(o);
      if (!unfixed.ok) ++unfixed_failures;
      o.conf_phase = true;
      const Result fixed = RunSimulation(o);
      if (!fixed.ok) {
        ++fixed_failures;
        FAIL_CHECK("with CONF, seed " << o.seed << ": " << fixed.failure
                                      << "\n  replay: " << ReplayCommand(o));
      }
      for (uint32_t r : fixed.stats.aba_rounds) fixed_rounds_max = std::max(fixed_rounds_max, r);
    }
    std::printf("N=%u: without CONF %u/%u runs broke the %u-round bound; with CONF %u/%u "
                "(max %u rounds)\n",
                n, unfixed_failures, kSeeds, kRoundsBound, fixed_failures, kSeeds,
                fixed_rounds_max);
    CHECK(unfixed_failures >= kSeeds / 2);  // the attack works on most seeds
    CHECK(fixed_failures == 0);
  }
}

}  // namespace
}  // namespace belfry::sim

namespace belfry::sim {
namespace {

// Regression: seeds that stalled a correct node forever before binary agreement kept
// relaying BVALs of rounds it had left (MMR's BV-broadcast relay rule must outlive the
// round; a Byzantine sender showing a value to only some nodes exploited it).
TEST_CASE("Sim regression: past-round BVAL relay keeps a lagging correct node live", "[sim][n4]") {
  for (const auto& [seed, strategy, requests] :
       {std::tuple<uint64_t, Strategy, uint32_t>{1123, Strategy::kMixed, 9},
        std::tuple<uint64_t, Strategy, uint32_t>{1189, Strategy::kAbaSplit, 24}}) {
    Options o;
    o.seed = seed;
    o.n = 4;
    o.scheduler = SchedulerKind::kAbaMax;
    o.byzantine = strategy;
    o.requests = requests;
    CHECK(RunAndCheck(o));
  }
}

}  // namespace
}  // namespace belfry::sim
