// test/chaos/linearizability.h — is one document's history linearizable against the 3S
// model (doc_model.h)?
//
// How it works. The Wing–Gong search with Lowe's memoization, as Porcupine implements it
// (github.com/anishathalye/porcupine, checker.go): the invocations and completions are put
// in one list in time order (at equal times invocations first, so such operations count
// as concurrent). Walking the list, an invocation whose operation the model accepts in the
// current state is linearized: it and its completion are lifted out of the list, and the
// search restarts from the front. Reaching a completion whose operation has not been
// linearized means the choice so far was wrong: the last linearized operation is put back
// and the search continues after it. A cache of (set of linearized operations, model
// state) pairs already explored keeps the search from repeating work; with it the cost is
// bounded by the number of distinct such pairs rather than by the number of orders.
// Indeterminate operations complete at kNever, so they may be linearized anywhere after
// their invocation, including after everything else (which is the same as never).
//
// Every operation in the history must be a document operation (checkin, checkout, grant,
// delete) with a determinate outcome or kIndeterminate; the caller filters.
#ifndef BELFRY_TEST_CHAOS_LINEARIZABILITY_H_
#define BELFRY_TEST_CHAOS_LINEARIZABILITY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "test/chaos/doc_model.h"
#include "test/chaos/history.h"

namespace belfry::chaos {

struct LinearizabilityResult {
  enum class Verdict : uint8_t { kLinearizable, kNotLinearizable, kGaveUp };
  Verdict verdict = Verdict::kLinearizable;
  uint64_t steps = 0;  // model steps tried
  // kNotLinearizable: the longest prefix (in invocation order) the search linearized, and
  // the operations it could never place after it, for the report.
  std::vector<uint64_t> longest_linearized;  // op ids, in linearization order
  std::string explanation;
};

// Checks `ops` (one document, any order) starting from `initial`. Gives up (kGaveUp) after
// `steps_max` model steps.
LinearizabilityResult CheckLinearizable(const std::vector<Op>& ops, const DocState& initial = {},
                                        uint64_t steps_max = 50'000'000);

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_LINEARIZABILITY_H_
