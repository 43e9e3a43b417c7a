// test/sim/simulator.h — the deterministic adversarial simulator of consensus/.
//
// One process runs N HoneyBadger nodes. A seeded scheduler (network.h) owns every message
// in flight and Crank() delivers exactly one; f nodes may be Byzantine (adversary.h).
// Clients hand requests to nodes over the run; the run ends when every correct node has
// output every request, or fails when a property breaks or the step budget runs out.
//
// Checked during and after every run:
//  * agreement and total order: every correct node outputs the same batch for each epoch
//    (requests, order, consensus time, accepted proposers), epochs strictly in order;
//  * validity: every request given to a correct node is output by every correct node
//    (every scheduler is fair, so a run that does not get there within its budget fails);
//  * integrity: every output request was proposed by someone, and none is output twice;
//  * consensus time never decreases and never exceeds the largest correct clock reading;
//  * no correct node is ever blamed (a fault naming a correct node is a false accusation),
//    except by kEpochOutOfWindow, which is a refusal rather than evidence: a correct peer
//    may legitimately be ahead (such refusals are counted);
//  * bounded memory: each correct node holds at most 2·window epoch states, and the
//    messages in flight stay under a bound derived from N, the window and the budget of
//    the flood adversary;
//  * optionally, the liveness bound: no agreement takes more than aba_rounds_max rounds.
//
// Everything random — the schedule, the adversary, the requests, the nodes' slices and
// clocks, the coin keys — is drawn from streams seeded by Options::seed, so a seed and the
// options replay a run exactly; the trace hash (every delivery and output) proves it.
#ifndef BELFRY_TEST_SIM_SIMULATOR_H_
#define BELFRY_TEST_SIM_SIMULATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test/sim/adversary.h"
#include "test/sim/coins.h"
#include "test/sim/network.h"

namespace belfry::sim {

// Options: one run. Every field appears in the replay command.
struct Options {
  uint64_t seed = 1;
  uint32_t n = 4;
  SchedulerKind scheduler = SchedulerKind::kRandom;
  Strategy byzantine = Strategy::kNone;  // kNone: no faulty node; otherwise f of them
  CoinKind coin = CoinKind::kFast;
  bool conf_phase = true;          // the ABA CONF phase (off only for the attack demo)
  bool round0_coin_fixed = true;   // round 0's coin is 1, as replicas run it
  uint32_t window = 3;             // epochs_in_flight_max
  uint32_t batch = 4;              // batch_requests_max
  uint32_t requests = 24;          // client requests over the run
  uint64_t steps_max = 0;          // delivery budget; 0 = derived from N and requests
  // Liveness bound on agreement rounds; 0 = unchecked. With the CONF phase each round ends
  // with every correct node holding the coin's value with probability at least 1/2, and
  // the next round decides with probability 1/2, so 32 rounds are beyond 2^-15 per agreement.
  uint32_t aba_rounds_max = 32;
  bool duplicates = true;          // the network duplicates some messages
  bool trace = false;              // print every delivery (for debugging a replay)

  uint32_t f() const { return (n - 1) / 3; }
};

// Stats: measurements of one run (correct nodes only).
struct Stats {
  uint64_t steps = 0;                  // deliveries
  uint64_t messages_sent = 0;          // by correct nodes, one per recipient
  uint64_t bytes_sent = 0;
  uint64_t epochs = 0;                 // epochs output by every correct node
  std::vector<uint32_t> aba_rounds;    // per decided agreement, per correct node
  std::vector<uint32_t> request_latency_epochs;  // per request: epochs from hand-in to output
  uint64_t max_in_flight = 0;
  uint64_t max_epochs_in_memory = 0;
  uint64_t refused_out_of_window = 0;  // Byzantine future-epoch messages refused
  uint64_t held_for_window = 0;        // correct messages the transport held and resent
  uint64_t correct_refused_ahead = 0;  // correct messages refused as too far ahead (ABA rounds)
  std::map<std::string, uint64_t> faults;  // by kind, against Byzantine nodes
  double cpu_seconds = 0;
};

// Result: the verdict. `failure` names the first property that broke.
struct Result {
  bool ok = true;
  std::string failure;
  std::string trace_hash;  // hex
  Stats stats;
};

// Runs one simulation to completion. Never throws; a broken invariant of consensus/ itself
// aborts through BELFRY_CHECK (the replay command then reproduces the abort).
Result RunSimulation(const Options& options);

// The options in the form the command line takes them.
std::string DescribeOptions(const Options& options);
// A one-line command that replays the run.
std::string ReplayCommand(const Options& options);

}  // namespace belfry::sim

#endif  // BELFRY_TEST_SIM_SIMULATOR_H_
