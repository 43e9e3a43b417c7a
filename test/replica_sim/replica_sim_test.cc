// The whole-replica simulator's suite (sim.h): fixed seed ranges across the fault mix,
// determinism, and the findings of issue 13 as named scenarios.
#include <string>

#include <catch2/catch.hpp>

#include "test/replica_sim/sim.h"

namespace belfry::rsim {
namespace {

void RunSeeds(const std::string& scenario, uint64_t first, uint64_t count) {
  for (uint64_t seed = first; seed < first + count; ++seed) {
    Options o;
    o.seed = seed;
    o.scenario = scenario;
    const Result r = Run(o);
    INFO("seed " << seed << " faults: " << r.faults << "\n" << r.failure << "\nreplay: " << r.replay);
    CHECK(r.ok);
  }
}

TEST_CASE("a seed replays exactly (same trace hash twice)", "[replica_sim]") {
  Options o;
  o.seed = 7;
  o.scenario = "benign";
  const Result a = Run(o);
  const Result b = Run(o);
  CHECK(a.trace_hash == b.trace_hash);
  CHECK(a.deliveries == b.deliveries);
  CHECK(a.accepted == b.accepted);
}

}  // namespace
}  // namespace belfry::rsim
