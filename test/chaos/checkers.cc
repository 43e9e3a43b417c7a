#include "test/chaos/checkers.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "test/chaos/linearizability.h"

namespace belfry::chaos {
namespace {

bool IsDocOp(const Op& op) {
  return op.kind == OpKind::kCheckIn || op.kind == OpKind::kCheckOut || op.kind == OpKind::kGrant ||
         op.kind == OpKind::kDelete;
}

// A write that may have changed the document's content or existence.
bool MayHaveWritten(const Op& op) {
  return (op.kind == OpKind::kCheckIn || op.kind == OpKind::kDelete) &&
         (op.outcome == Outcome::kOk || op.outcome == Outcome::kIndeterminate);
}

std::map<std::string, std::vector<Op>> ByDocument(const std::vector<Op>& history) {
  std::map<std::string, std::vector<Op>> docs;
  for (const Op& op : history) {
    if (!IsDocOp(op) || op.outcome == Outcome::kNoEffect) continue;
    // A read nobody heard the answer to says nothing.
    if (op.kind == OpKind::kCheckOut && op.outcome == Outcome::kIndeterminate) continue;
    docs[op.doc].push_back(op);
  }
  return docs;
}

}  // namespace

std::vector<Violation> CheckLinearizability(const std::vector<Op>& history, uint64_t steps_max,
                                            LinearizabilityStats* stats) {
  std::vector<Violation> out;
  for (const auto& [doc, ops] : ByDocument(history)) {
    LinearizabilityResult r = CheckLinearizable(ops, DocState{}, steps_max);
    if (stats != nullptr) {
      ++stats->documents;
      stats->operations += ops.size();
      stats->steps += r.steps;
    }
    if (r.verdict == LinearizabilityResult::Verdict::kNotLinearizable) {
      out.push_back({"linearizable", absl::StrCat("document ", doc, ": ", r.explanation)});
    } else if (r.verdict == LinearizabilityResult::Verdict::kGaveUp) {
      out.push_back({"linearizable", absl::StrCat("document ", doc, ": undecided, ", r.explanation)});
    }
  }
  return out;
}

std::vector<Violation> CheckAcknowledgedWrites(const std::vector<Op>& history) {
  std::vector<Violation> out;
  for (const auto& [doc, ops] : ByDocument(history)) {
    std::vector<const Op*> finals;
    for (const Op& op : ops) {
      if (op.final_read && op.kind == OpKind::kCheckOut) finals.push_back(&op);
    }
    for (const Op& w : ops) {
      if (!MayHaveWritten(w) || w.outcome != Outcome::kOk) continue;
      const bool superseded = std::any_of(ops.begin(), ops.end(), [&](const Op& x) {
        return x.id != w.id && MayHaveWritten(x) && x.complete_ns >= w.invoke_ns;
      });
      if (superseded) continue;
      if (finals.empty()) {
        out.push_back({"acknowledged", absl::StrCat("document ", doc, ": no final read answered after ",
                                                    DescribeOp(w))});
        continue;
      }
      for (const Op* r : finals) {
        if (r->complete_ns < w.complete_ns) continue;  // cannot happen: finals come last
        if (w.kind == OpKind::kCheckIn) {
          const bool sees = r->outcome == Outcome::kOk && r->out_content == w.content;
          // Only the owner is sure to be allowed to read; others may be denied.
          const bool may_be_denied = r->user != w.owner && r->outcome == Outcome::kRefused &&
                                     r->refusal == Refusal::kAccessDenied;
          if (!sees && !may_be_denied) {
            out.push_back({"acknowledged", absl::StrCat("document ", doc, ": acknowledged ", DescribeOp(w),
                                                        " is not what the final read saw: ", DescribeOp(*r))});
          }
        } else {
          const bool gone = r->outcome == Outcome::kRefused && r->refusal == Refusal::kNoSuchDocument;
          if (!gone) {
            out.push_back({"acknowledged", absl::StrCat("document ", doc, ": acknowledged ", DescribeOp(w),
                                                        " but the final read saw: ", DescribeOp(*r))});
          }
        }
      }
    }
  }
  return out;
}

std::vector<Violation> CheckOrdering(const std::vector<Op>& history) {
  std::vector<Violation> out;
  std::vector<const Op*> ordered;
  for (const Op& op : history) {
    if (op.outcome == Outcome::kOk && op.ordered) ordered.push_back(&op);
  }
  std::map<uint64_t, const Op*> time_of_epoch;
  for (const Op* op : ordered) {
    auto [it, inserted] = time_of_epoch.emplace(op->epoch, op);
    if (!inserted && it->second->consensus_time_ms != op->consensus_time_ms) {
      out.push_back({"ordering", absl::StrCat("epoch ", op->epoch, " has two consensus times: ",
                                              DescribeOp(*it->second), " and ", DescribeOp(*op))});
    }
  }
  // Along epochs, consensus time never decreases.
  const Op* previous = nullptr;
  for (const auto& [epoch, op] : time_of_epoch) {
    if (previous != nullptr && op->consensus_time_ms < previous->consensus_time_ms) {
      out.push_back({"ordering", absl::StrCat("consensus time went back from epoch ", previous->epoch,
                                              " to epoch ", epoch, ": ", DescribeOp(*previous), " then ",
                                              DescribeOp(*op))});
    }
    previous = op;
  }
  // Real-time order: whatever completed before B was invoked was ordered before B.
  std::vector<const Op*> by_completion = ordered;
  std::sort(by_completion.begin(), by_completion.end(),
            [](const Op* a, const Op* b) { return a->complete_ns < b->complete_ns; });
  std::vector<const Op*> max_epoch_prefix(by_completion.size());
  std::vector<const Op*> max_time_prefix(by_completion.size());
  for (size_t i = 0; i < by_completion.size(); ++i) {
    const Op* op = by_completion[i];
    max_epoch_prefix[i] = i == 0 || op->epoch > max_epoch_prefix[i - 1]->epoch ? op : max_epoch_prefix[i - 1];
    max_time_prefix[i] = i == 0 || op->consensus_time_ms > max_time_prefix[i - 1]->consensus_time_ms
                             ? op
                             : max_time_prefix[i - 1];
  }
  for (const Op* b : ordered) {
    const size_t before = static_cast<size_t>(
        std::lower_bound(by_completion.begin(), by_completion.end(), b->invoke_ns,
                         [](const Op* a, int64_t t) { return a->complete_ns < t; }) -
        by_completion.begin());
    if (before == 0) continue;
    const Op* e = max_epoch_prefix[before - 1];
    if (e->epoch >= b->epoch) {
      out.push_back({"ordering", absl::StrCat(DescribeOp(*b), " was invoked after ", DescribeOp(*e),
                                              " completed, but is not in a later epoch")});
    }
    const Op* t = max_time_prefix[before - 1];
    if (t->consensus_time_ms > b->consensus_time_ms) {
      out.push_back({"ordering", absl::StrCat(DescribeOp(*b), " was invoked after ", DescribeOp(*t),
                                              " completed, but has an earlier consensus time")});
    }
  }
  return out;
}

std::vector<Violation> CheckExecutedOnce(const std::vector<Op>& history,
                                         std::optional<uint64_t> state_counter) {
  std::vector<Violation> out;
  std::map<uint32_t, std::map<uint64_t, const Op*>> versions_of_content;
  std::map<uint64_t, std::map<uint32_t, const Op*>> contents_of_version;
  uint64_t acknowledged = 0;
  uint64_t possible = 0;
  for (const Op& op : history) {
    if ((op.kind == OpKind::kCheckIn || op.kind == OpKind::kGrant) &&
        (op.outcome == Outcome::kOk || op.outcome == Outcome::kIndeterminate)) {
      ++possible;
      if (op.outcome == Outcome::kOk) ++acknowledged;
    }
    if (op.outcome != Outcome::kOk) continue;
    uint32_t content = 0;
    if (op.kind == OpKind::kCheckIn) content = op.content;
    if (op.kind == OpKind::kCheckOut) content = op.out_content;
    if (content == 0) continue;
    if (content == kForeignContent) {
      out.push_back({"executed_once", absl::StrCat("a read returned bytes no checkin wrote: ", DescribeOp(op))});
      continue;
    }
    versions_of_content[content].emplace(op.version, &op);
    contents_of_version[op.version].emplace(content, &op);
  }
  for (const auto& [content, versions] : versions_of_content) {
    if (versions.size() > 1) {
      out.push_back({"executed_once", absl::StrCat("content ", content, " was stored as ", versions.size(),
                                                   " versions (a checkin executed more than once): ",
                                                   DescribeOp(*versions.begin()->second), " / ",
                                                   DescribeOp(*versions.rbegin()->second))});
    }
  }
  for (const auto& [version, contents] : contents_of_version) {
    if (contents.size() > 1) {
      out.push_back({"executed_once", absl::StrCat("version ", version, " names ", contents.size(),
                                                   " contents: ", DescribeOp(*contents.begin()->second),
                                                   " / ", DescribeOp(*contents.rbegin()->second))});
    }
  }
  if (state_counter.has_value()) {
    if (*state_counter < acknowledged) {
      out.push_back({"executed_once", absl::StrCat("the state counter is ", *state_counter, " but ", acknowledged,
                                                   " checkins and grants were acknowledged")});
    }
    if (*state_counter > possible) {
      out.push_back({"executed_once", absl::StrCat("the state counter is ", *state_counter, " but only ", possible,
                                                   " checkins and grants can have executed")});
    }
  }
  return out;
}

}  // namespace belfry::chaos
