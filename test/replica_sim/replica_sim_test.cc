// The whole-replica simulator's suite (sim.h): fixed seed ranges across the fault mix,
// determinism, and the findings of issue 13 as named scenarios with the seeds that fail
// on commit ce68edb.
//
// Each finding's scenario failed on commit ce68edb with the seeds named in its test (the
// replica then sent two different votes for one slot, stalled with one replica down, or
// committed an epoch before checking its log head); they pass since the durable input
// log, AdvanceTo, the beyond-window buffer and the head check landed, and stay as
// regressions. The seed ranges must pass in full.
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
    INFO("seed " << seed << "  faults: " << r.faults << "\n" << r.failure << "\nreplay: " << r.replay);
    CHECK(r.ok);
  }
}

// FoundationDB's unseed check: a seed's run is a function of the seed alone.
TEST_CASE("a seed replays exactly: the same trace hash twice", "[replica_sim]") {
  for (const char* scenario : {"benign", "mix"}) {
    Options o;
    o.seed = 7;
    o.scenario = scenario;
    const Result a = Run(o);
    const Result b = Run(o);
    CHECK(a.trace_hash == b.trace_hash);
    CHECK(a.deliveries == b.deliveries);
    CHECK(a.accepted == b.accepted);
    CHECK(a.failure == b.failure);
  }
}

TEST_CASE("fault mix, seeds 1-50", "[replica_sim][mix]") { RunSeeds("mix", 1, 50); }
TEST_CASE("fault mix, seeds 51-100", "[replica_sim][mix]") { RunSeeds("mix", 51, 50); }
TEST_CASE("fault mix, seeds 101-150", "[replica_sim][mix]") { RunSeeds("mix", 101, 50); }
TEST_CASE("fault mix, seeds 151-200", "[replica_sim][mix]") { RunSeeds("mix", 151, 50); }
TEST_CASE("fault mix, seeds 201-250", "[replica_sim][mix]") { RunSeeds("mix", 201, 50); }
TEST_CASE("fault mix, seeds 251-300", "[replica_sim][mix]") { RunSeeds("mix", 251, 50); }
TEST_CASE("scheduling, pauses, partitions and skew only, seeds 1-100", "[replica_sim][benign]") {
  RunSeeds("benign", 1, 100);
}

// Finding 1: catch-up rebuilds consensus (StartConsensusAt) and votes again, from
// scratch, in epochs it voted in already. On ce68edb: "correct replica 3 equivocated: two
// different 3/e4/i3/VAL" after it caught up (epochs_caught_up >= 1). HoneyBadger's
// agreement (Lemma: RBC agreement needs each correct node to ECHO one root) assumes no
// correct node does this.
TEST_CASE("finding 1: catch-up never makes a correct replica vote twice", "[replica_sim][finding1]") {
  RunSeeds("finding1", 1, 3);
}

// Finding 2: with replica 1 down, replica 3's core refuses frames beyond its window and
// nothing asks for them again. On ce68edb every seed stalls: all at the same next epoch,
// mempools full, nothing in flight, replica 3 refused_beyond_window > 0.
TEST_CASE("finding 2: one replica down never stalls the cluster", "[replica_sim][finding2]") {
  RunSeeds("finding2", 1, 3);
}

// Finding 3: a crash-restart right after proposing re-proposes the same epoch with a new
// random slice and clock reading. On ce68edb: "correct replica 0 equivocated: two
// different 0/eK/i0/VAL".
TEST_CASE("finding 3: a crash-restart never makes a replica equivocate", "[replica_sim][finding3]") {
  RunSeeds("finding3", 1, 3);
}

// Finding 4: a replica whose log left the cluster's catches up, commits the next epoch
// durably and only then finds the head differs. On ce68edb (seeds 5, 8, 13): "replica 3
// committed epoch E durably, then found it wrong".
TEST_CASE("finding 4: catch-up compares the log head before it commits", "[replica_sim][finding4]") {
  for (uint64_t seed : {5, 8, 13}) RunSeeds("finding4", seed, 1);
}

// Found by the 10,000-seed run on e46dc91 (mix seed 723): replica 1, paused and then cut
// off, missed the end of epoch 10; replicas 0 and 3 had committed it and then restarted,
// dropping its consensus state, and the cluster went idle. Nothing showed replica 1 it
// was behind (no frame beyond its window ever came), so it stayed one epoch back for
// good. Peers rejoining after its last epoch (JoinEpochs) now count as peers ahead.
TEST_CASE("a replica left one epoch behind in an idle cluster catches up", "[replica_sim][idle]") {
  RunSeeds("mix", 723, 1);
}

// Found by the 10,000-seed run (mix seed 19, N=7): replica 3, back from a pause, started
// a state transfer to checkpoint 7, and consensus committed epochs 7 and 8 while the
// state came in. Installing the transfer then took the store back to epoch 8, whose
// logged inputs were pruned at its commit; the rebuilt consensus proposed in epoch 8
// again, differently ("correct replica 3 equivocated: two different 3/e8/i3/VAL"). A
// transfer overtaken by consensus is now abandoned. Later changes moved seed 19's
// schedule away from any transfer; these seeds (long runs whose restarts come after the
// peers pruned their logs) have had a transfer overtaken, and the test checks that at
// least two of them still do, so it cannot silently stop testing the path. (Seed 63
// stopped reaching one when the genesis came to include the service key; 73 did.)
TEST_CASE("a state transfer overtaken by consensus never takes the store back", "[replica_sim][transfer]") {
  int overtaken = 0;
  for (uint64_t seed : {32, 35, 63, 73}) {
    Options o;
    o.seed = seed;
    const Result r = Run(o);
    INFO("seed " << seed << "  faults: " << r.faults << "\n" << r.failure << "\nreplay: " << r.replay);
    CHECK(r.ok);
    if (r.transfers_overtaken >= 1) ++overtaken;
  }
  CHECK(overtaken >= 2);
}

// Found by the 10,000-seed run on a7fb161 (mix seeds 7542 and 8849, N=7, two flooding
// replicas, long runs): the five correct replicas were still committing, an epoch every 2 s, when
// the progress bound of a short run (20 s after the faults healed) ran out. Long runs now
// have three times the bound; these seeds must finish within it.
TEST_CASE("a long run under two flooders finishes within its progress bound", "[replica_sim][progress]") {
  RunSeeds("mix", 7542, 1);
  RunSeeds("mix", 8849, 1);
}

// Found by the 10,000-seed run (mix seed 1107): replica 3 restarted and sent JoinEpochs
// for the epoch it resumed at; replica 2 had served its previous incarnation's join a
// moment before and refused the new one as too soon. Nothing asks twice, so replica 3
// never got replica 2's messages of that epoch and, with replica 0 down, the cluster
// stalled. A join that comes too soon is now deferred, not dropped.
TEST_CASE("a restarted replica's join that comes too soon is served later, not dropped", "[replica_sim][join]") {
  RunSeeds("mix", 1107, 1);
}

// Found by the 10,000-seed run (mix seed 4378): a login retransmitted after it took
// effect was ordered again and found stale there; once every correct replica answered
// from that later ordering, the simulated client (then a bare ReplyQuorum) accepted the
// stale result. It now keeps replies as the real client does (PendingCall, per epoch) and
// applies the real client's rule: f+1 signed successes in an earlier ordering win.
TEST_CASE("a login ordered twice is accepted from its first ordering", "[replica_sim][login]") {
  RunSeeds("mix", 4378, 1);
}

}  // namespace
}  // namespace belfry::rsim
