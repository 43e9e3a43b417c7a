// test/chaos/scenarios.h — the named fault schedules of belfry-chaos (README.md).
//
// A scenario is a function that injects faults through the Harness while the workload
// runs and heals them; the harness heals everything once more when it returns. Every
// random choice (which replica, how long, which link parameters) comes from the run's
// seeded rng, so (scenario, N, seed) names one schedule. A new fault (a Byzantine replica
// binary, clock offsets) is one more entry.
#ifndef BELFRY_TEST_CHAOS_SCENARIOS_H_
#define BELFRY_TEST_CHAOS_SCENARIOS_H_

#include <functional>
#include <string>
#include <vector>

#include "test/chaos/harness.h"

namespace belfry::chaos {

struct Scenario {
  std::string name;
  std::string description;
  std::function<void(Harness&)> run;
  // Pending: the system cannot survive it yet (the reason says why); runs only on request.
  std::string pending_reason;
  // Runs before any replica starts: chooses which replicas run belfry-replica-byzantine
  // and how (Harness::RunByzantine, OffsetClock), for the whole run.
  std::function<void(Harness&)> prepare = nullptr;
};

const std::vector<Scenario>& Scenarios();

// What a scenario needs from the cluster it runs on, applied to its RunConfig.
struct ScenarioSetup {
  bool powerloss_replicas = false;      // belfry-replica-powerloss (test/powerloss)
  uint32_t log_retained_epochs = 0;     // 0: cluster.conf's default
  uint32_t checkpoint_interval_epochs = 0;
};
ScenarioSetup SetupFor(const std::string& name);

const Scenario* FindScenario(const std::string& name);

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_SCENARIOS_H_
