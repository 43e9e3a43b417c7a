// test/chaos/checkers.h — the properties a fault-injection run must keep, checked on the
// recorded history (history.h) after every fault has healed and the final reads are done.
//
//   linearizable       each document's history has a linearization under the 3S model
//                      (linearizability.h);
//   acknowledged       every acknowledged checkin (or delete) that no other write of the
//                      document can have followed is what the final reads see;
//   ordering           consensus time and epochs in replies never go backwards: a call
//                      invoked after another completed is ordered in a later epoch, at a
//                      consensus time no smaller, and one epoch has one consensus time;
//   executed_once      a checkin's content is only ever seen with the version its checkin
//                      got, one version names one content, and the state counter (one step
//                      per executed checkin or grant) lies between the acknowledged and
//                      the possible executions.
// Each returns the violations found (empty when the property holds). Pure functions.
#ifndef BELFRY_TEST_CHAOS_CHECKERS_H_
#define BELFRY_TEST_CHAOS_CHECKERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "test/chaos/history.h"

namespace belfry::chaos {

struct Violation {
  std::string check;   // one of the names above, or a harness check (digest, exit, ...)
  std::string detail;  // one line, no document contents
};

struct LinearizabilityStats {
  uint64_t documents = 0;
  uint64_t operations = 0;
  uint64_t steps = 0;
};

std::vector<Violation> CheckLinearizability(const std::vector<Op>& history, uint64_t steps_max,
                                            LinearizabilityStats* stats);
std::vector<Violation> CheckAcknowledgedWrites(const std::vector<Op>& history);
std::vector<Violation> CheckOrdering(const std::vector<Op>& history);
// `state_counter`: the final value of the replicas' state counter, if it was read.
std::vector<Violation> CheckExecutedOnce(const std::vector<Op>& history,
                                         std::optional<uint64_t> state_counter);

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_CHECKERS_H_
