// The fault-injection checkers on small hand-made histories: each property is shown to
// hold on a history that keeps it and to fail on one that breaks it, so a clean chaos run
// means something. Model rules cited from replica/state/README.md.
#include <catch2/catch.hpp>

#include "base/rng.h"
#include "test/chaos/checkers.h"
#include "test/chaos/doc_model.h"
#include "test/chaos/linearizability.h"

namespace belfry::chaos {
namespace {

using Verdict = LinearizabilityResult::Verdict;

// A tiny builder: times are in arbitrary units.
class H {
 public:
  Op& CheckIn(uint32_t user, uint32_t content, int64_t t0, int64_t t1, uint64_t version, uint32_t owner,
              bool created) {
    Op& op = Add(user, OpKind::kCheckIn, t0, t1);
    op.content = content;
    op.outcome = Outcome::kOk;
    op.version = version;
    op.owner = owner;
    op.created = created;
    return op;
  }
  Op& CheckInLost(uint32_t user, uint32_t content, int64_t t0) {
    Op& op = Add(user, OpKind::kCheckIn, t0, kNever);
    op.content = content;
    op.outcome = Outcome::kIndeterminate;
    return op;
  }
  Op& Read(uint32_t user, int64_t t0, int64_t t1, uint32_t content, uint64_t version, uint32_t owner) {
    Op& op = Add(user, OpKind::kCheckOut, t0, t1);
    op.outcome = Outcome::kOk;
    op.out_content = content;
    op.version = version;
    op.owner = owner;
    return op;
  }
  Op& Refused(uint32_t user, OpKind kind, int64_t t0, int64_t t1, Refusal refusal) {
    Op& op = Add(user, kind, t0, t1);
    op.outcome = Outcome::kRefused;
    op.refusal = refusal;
    return op;
  }
  Op& Grant(uint32_t user, uint32_t target, uint8_t rights, bool active, int64_t t0, int64_t t1) {
    Op& op = Add(user, OpKind::kGrant, t0, t1);
    op.grant_target = target;
    op.grant_rights = rights;
    op.grant_active = active;
    op.outcome = Outcome::kOk;
    return op;
  }
  Op& GrantAll(uint32_t user, uint8_t rights, bool active, int64_t t0, int64_t t1) {
    Op& op = Grant(user, 0, rights, active, t0, t1);
    op.grant_all = true;
    return op;
  }
  Op& Delete(uint32_t user, int64_t t0, int64_t t1) {
    Op& op = Add(user, OpKind::kDelete, t0, t1);
    op.outcome = Outcome::kOk;
    return op;
  }
  Verdict Check() const { return CheckLinearizable(ops_).verdict; }
  std::vector<Op>& ops() { return ops_; }

 private:
  Op& Add(uint32_t user, OpKind kind, int64_t t0, int64_t t1) {
    Op op;
    op.id = ops_.size();
    op.user = user;
    op.kind = kind;
    op.doc = "d";
    op.invoke_ns = t0;
    op.complete_ns = t1;
    ops_.push_back(op);
    return ops_.back();
  }
  std::vector<Op> ops_;
};

TEST_CASE("a sequential checkin then checkout is linearizable") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.Read(0, 20, 30, 1, 1, 0);
  CHECK(h.Check() == Verdict::kLinearizable);
}

TEST_CASE("a read of an overwritten value after the overwrite completed is not linearizable") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.CheckIn(0, 2, 20, 30, 2, 0, false);
  h.Read(0, 40, 50, 1, 1, 0);
  LinearizabilityResult r = CheckLinearizable(h.ops());
  CHECK(r.verdict == Verdict::kNotLinearizable);
  CHECK(r.longest_linearized.size() == 2);
  CHECK_FALSE(r.explanation.empty());
}

TEST_CASE("a read concurrent with a write may see either value") {
  for (uint32_t seen : {1u, 2u}) {
    H h;
    h.CheckIn(0, 1, 0, 10, 1, 0, true);
    h.CheckIn(0, 2, 20, 50, 2, 0, false);
    h.Read(0, 30, 40, seen, seen, 0);
    CHECK(h.Check() == Verdict::kLinearizable);
  }
}

TEST_CASE("two reads in real-time order cannot see new then old (no time travel)") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.CheckIn(0, 2, 20, 100, 2, 0, false);
  h.Read(0, 30, 40, 2, 2, 0);
  h.Read(0, 50, 60, 1, 1, 0);
  CHECK(h.Check() == Verdict::kNotLinearizable);
}

TEST_CASE("checkout needs the owner or an unexpired checkout right (3S checkout rule)") {
  H denied;
  denied.CheckIn(0, 1, 0, 10, 1, 0, true);
  denied.Read(1, 20, 30, 1, 1, 0);  // user1 has no right, yet got the data
  CHECK(denied.Check() == Verdict::kNotLinearizable);

  H granted;
  granted.CheckIn(0, 1, 0, 10, 1, 0, true);
  granted.Grant(0, 1, kRightCheckOut, true, 11, 19);
  granted.Read(1, 20, 30, 1, 1, 0);
  CHECK(granted.Check() == Verdict::kLinearizable);

  H revoked;  // the latest grant decides: a revocation after the grant denies
  revoked.CheckIn(0, 1, 0, 10, 1, 0, true);
  revoked.Grant(0, 1, kRightCheckOut, true, 11, 19);
  revoked.Grant(0, 1, kRightCheckOut, false, 20, 29);
  revoked.Read(1, 30, 40, 1, 1, 0);
  CHECK(revoked.Check() == Verdict::kNotLinearizable);
  revoked.ops().back().outcome = Outcome::kRefused;
  revoked.ops().back().refusal = Refusal::kAccessDenied;
  CHECK(revoked.Check() == Verdict::kLinearizable);
}

TEST_CASE("a later ALL grant overrides a personal one, a later personal one overrides ALL") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.Grant(0, 1, kRightCheckOut, false, 11, 19);         // user1 revoked
  h.GrantAll(0, kRightCheckOut, true, 20, 29);          // ALL may check out
  h.Read(1, 30, 40, 1, 1, 0);                           // so user1 may
  h.Grant(0, 1, kRightCheckIn, true, 41, 49);           // personal: checkin only
  h.Refused(1, OpKind::kCheckOut, 50, 60, Refusal::kAccessDenied);
  h.Read(2, 61, 70, 1, 1, 0);                           // user2 still under ALL
  CHECK(h.Check() == Verdict::kLinearizable);
  h.ops()[5].outcome = Outcome::kOk;  // user1 reading despite the personal grant
  h.ops()[5].out_content = 1;
  h.ops()[5].version = 1;
  h.ops()[5].owner = 0;
  CHECK(h.Check() == Verdict::kNotLinearizable);
}

TEST_CASE("grant and delete are the owner's; grant to the owner is INVALID_GRANT") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.Refused(1, OpKind::kGrant, 11, 19, Refusal::kAccessDenied).grant_target = 2;
  h.Refused(1, OpKind::kDelete, 20, 29, Refusal::kAccessDenied);
  h.Refused(0, OpKind::kGrant, 30, 39, Refusal::kInvalidGrant).grant_target = 0;
  CHECK(h.Check() == Verdict::kLinearizable);
  h.ops()[2].refusal = Refusal::kNoSuchDocument;
  CHECK(h.Check() == Verdict::kNotLinearizable);
}

TEST_CASE("after delete the document is gone and a new checkin creates it for its writer") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.Delete(0, 11, 19);
  h.Refused(0, OpKind::kCheckOut, 20, 29, Refusal::kNoSuchDocument);
  h.CheckIn(1, 2, 30, 39, 2, 1, true);
  h.Read(1, 40, 49, 2, 2, 1);
  h.Refused(0, OpKind::kCheckOut, 50, 59, Refusal::kAccessDenied);
  CHECK(h.Check() == Verdict::kLinearizable);

  H resurrected;
  resurrected.CheckIn(0, 1, 0, 10, 1, 0, true);
  resurrected.Delete(0, 11, 19);
  resurrected.Read(0, 20, 29, 1, 1, 0);
  CHECK(resurrected.Check() == Verdict::kNotLinearizable);
}

TEST_CASE("versions only grow (one cluster-wide counter)") {
  H h;
  h.CheckIn(0, 1, 0, 10, 5, 0, true);
  h.CheckIn(0, 2, 20, 30, 3, 0, false);
  CHECK(h.Check() == Verdict::kNotLinearizable);
}

TEST_CASE("an unanswered checkin may have taken effect, or not") {
  for (uint32_t seen : {1u, 2u}) {
    H h;
    h.CheckIn(0, 1, 0, 10, 1, 0, true);
    h.CheckInLost(0, 2, 20);
    h.Read(0, 40, 50, seen, seen == 1 ? 1 : 7, 0);
    h.Read(0, 60, 70, seen, seen == 1 ? 1 : 7, 0);
    CHECK(h.Check() == Verdict::kLinearizable);
  }
  H flip;  // once seen, it cannot be undone
  flip.CheckIn(0, 1, 0, 10, 1, 0, true);
  flip.CheckInLost(0, 2, 20);
  flip.Read(0, 40, 50, 2, 7, 0);
  flip.Read(0, 60, 70, 1, 1, 0);
  CHECK(flip.Check() == Verdict::kNotLinearizable);
  H learned;  // and it has one version
  learned.CheckIn(0, 1, 0, 10, 1, 0, true);
  learned.CheckInLost(0, 2, 20);
  learned.Read(0, 40, 50, 2, 7, 0);
  learned.Read(0, 60, 70, 2, 8, 0);
  CHECK(learned.Check() == Verdict::kNotLinearizable);
}

TEST_CASE("a random linearizable history with overlapping calls passes quickly") {
  // Operations are generated by running the model sequentially; each gets an interval
  // that contains its point in that sequence, stretched at random over its neighbours.
  DeterministicRng rng(42);
  std::vector<Op> ops;
  DocState state;
  uint64_t version = 0;
  uint32_t content = 0;
  for (uint64_t i = 0; i < 400; ++i) {
    Op op;
    op.id = i;
    op.doc = "d";
    op.user = static_cast<uint32_t>(rng.Uniform(4));
    const uint64_t pick = rng.Uniform(10);
    op.kind = pick < 4 ? OpKind::kCheckIn : pick < 7 ? OpKind::kCheckOut : pick < 9 ? OpKind::kGrant : OpKind::kDelete;
    if (op.kind == OpKind::kCheckIn) op.content = ++content;
    if (op.kind == OpKind::kGrant) {
      op.grant_all = rng.Uniform(3) == 0;
      op.grant_target = static_cast<uint32_t>(rng.Uniform(4));
      op.grant_rights = static_cast<uint8_t>(1 + rng.Uniform(3));
      op.grant_active = rng.Uniform(4) != 0;
    }
    // Try success first, then each refusal: exactly one outcome fits the state.
    std::optional<DocState> next;
    op.outcome = Outcome::kOk;
    if (op.kind == OpKind::kCheckIn) {
      op.version = ++version;
      op.created = !state.exists;
      op.owner = state.exists ? state.owner : op.user;
    }
    if (op.kind == OpKind::kCheckOut) {
      op.out_content = state.content;
      op.version = state.version;
      op.owner = state.owner;
    }
    next = ApplyOp(state, op);
    for (Refusal r : {Refusal::kAccessDenied, Refusal::kNoSuchDocument, Refusal::kInvalidGrant}) {
      if (next.has_value()) break;
      op.outcome = Outcome::kRefused;
      op.refusal = r;
      next = ApplyOp(state, op);
    }
    REQUIRE(next.has_value());
    state = *next;
    const int64_t point = static_cast<int64_t>(i) * 100;
    op.invoke_ns = point - static_cast<int64_t>(rng.Uniform(300));
    op.complete_ns = point + 1 + static_cast<int64_t>(rng.Uniform(300));
    ops.push_back(op);
  }
  LinearizabilityResult r = CheckLinearizable(ops);
  CHECK(r.verdict == Verdict::kLinearizable);
  CHECK(r.steps < 1'000'000);
  // Breaking one read's answer makes the same history fail.
  for (Op& op : ops) {
    if (op.kind == OpKind::kCheckOut && op.outcome == Outcome::kOk && op.out_content > 1) {
      op.out_content -= 1;
      break;
    }
  }
  CHECK(CheckLinearizable(ops).verdict == Verdict::kNotLinearizable);
}

TEST_CASE("the search gives up at its step bound instead of running on") {
  H h;
  for (int i = 0; i < 12; ++i) h.CheckIn(0, static_cast<uint32_t>(i + 1), 0, 1000, static_cast<uint64_t>(i + 1), 0, i == 0);
  h.Read(0, 2000, 2001, 99, 99, 0);
  CHECK(CheckLinearizable(h.ops(), DocState{}, 100).verdict == Verdict::kGaveUp);
}

TEST_CASE("acknowledged writes: the last acknowledged checkin must be what final reads see") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.CheckIn(0, 2, 20, 30, 2, 0, false);
  Op& final_read = h.Read(0, 100, 110, 2, 2, 0);
  final_read.final_read = true;
  CHECK(CheckAcknowledgedWrites(h.ops()).empty());
  h.ops().back().out_content = 1;  // lost the acknowledged write
  h.ops().back().version = 1;
  CHECK(CheckAcknowledgedWrites(h.ops()).size() == 1);
  h.ops().back().outcome = Outcome::kRefused;  // the document vanished
  h.ops().back().refusal = Refusal::kNoSuchDocument;
  CHECK(CheckAcknowledgedWrites(h.ops()).size() == 1);
}

TEST_CASE("acknowledged writes: a write that a concurrent one may have followed is not required") {
  H h;
  h.CheckIn(0, 1, 0, 50, 1, 0, true);
  h.CheckInLost(0, 2, 20);  // may come after content 1
  Op& final_read = h.Read(0, 100, 110, 2, 9, 0);
  final_read.final_read = true;
  CHECK(CheckAcknowledgedWrites(h.ops()).empty());
}

TEST_CASE("acknowledged deletes stay deleted") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.Delete(0, 20, 30);
  h.Read(0, 100, 110, 1, 1, 0).final_read = true;
  CHECK(CheckAcknowledgedWrites(h.ops()).size() == 1);
}

TEST_CASE("ordering: a call after another is in a later epoch at no earlier consensus time") {
  H h;
  Op& a = h.CheckIn(0, 1, 0, 10, 1, 0, true);
  a.ordered = true;
  a.epoch = 5;
  a.consensus_time_ms = 1000;
  Op& b = h.Read(1, 20, 30, 1, 1, 0);
  b.ordered = true;
  b.epoch = 6;
  b.consensus_time_ms = 1000;
  CHECK(CheckOrdering(h.ops()).empty());
  h.ops()[1].epoch = 5;  // same epoch, yet invoked after a completed
  CHECK_FALSE(CheckOrdering(h.ops()).empty());
  h.ops()[1].epoch = 6;
  h.ops()[1].consensus_time_ms = 999;
  CHECK_FALSE(CheckOrdering(h.ops()).empty());
}

TEST_CASE("ordering: concurrent calls may be ordered either way; one epoch has one time") {
  H h;
  Op& a = h.CheckIn(0, 1, 0, 30, 1, 0, true);
  a.ordered = true;
  a.epoch = 6;
  a.consensus_time_ms = 1000;
  Op& b = h.Read(1, 10, 20, 1, 1, 0);
  b.ordered = true;
  b.epoch = 5;
  b.consensus_time_ms = 900;
  CHECK(CheckOrdering(h.ops()).empty());
  h.ops()[1].epoch = 6;
  CHECK_FALSE(CheckOrdering(h.ops()).empty());  // epoch 6 at 900 and at 1000
}

TEST_CASE("executed once: a content seen under two versions was executed twice") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.Read(0, 20, 30, 1, 1, 0);
  CHECK(CheckExecutedOnce(h.ops(), 1).empty());
  h.ops().back().version = 4;
  CHECK_FALSE(CheckExecutedOnce(h.ops(), std::nullopt).empty());
}

TEST_CASE("executed once: the state counter lies between acknowledged and possible executions") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.Grant(0, 1, kRightCheckOut, true, 11, 19);
  h.CheckInLost(0, 2, 20);
  CHECK(CheckExecutedOnce(h.ops(), 2).empty());
  CHECK(CheckExecutedOnce(h.ops(), 3).empty());
  CHECK(CheckExecutedOnce(h.ops(), 1).size() == 1);  // an acknowledged one is missing
  CHECK(CheckExecutedOnce(h.ops(), 4).size() == 1);  // one ran twice
}

TEST_CASE("executed once: bytes no checkin wrote are reported") {
  H h;
  h.CheckIn(0, 1, 0, 10, 1, 0, true);
  h.Read(0, 20, 30, kForeignContent, 1, 0);
  CHECK(CheckExecutedOnce(h.ops(), std::nullopt).size() == 1);
  LinearizabilityStats stats;
  CHECK(CheckLinearizability(h.ops(), 1000, &stats).size() == 1);
  CHECK(stats.documents == 1);
}

}  // namespace
}  // namespace belfry::chaos
