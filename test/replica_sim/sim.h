// test/replica_sim/sim.h — the deterministic whole-replica simulator.
//
// How it works. One process runs N real ReplicaCores (replica/node/replica_core.h), each
// on its own MemoryStore, with the same keys, limits and code the daemon runs; simulated
// clients log in and check documents in and out with real signed requests, and accept a
// result only when 2f+1 replicas signed one identical reply body (client::ReplyQuorum),
// as the client library does. Every peer message goes through a model of the deployed
// transport (transport/peer_network.{h,cc}), never kinder than it:
//
//  * each directed link delivers in order, exactly once, while both processes live
//    (sequence numbers, cumulative acks, resend after reconnect);
//  * what a sender has not had acknowledged survives a partition, a pause or the
//    receiver's restart and is delivered after it (the receiver's new incarnation reports
//    received_seq 0, so the sender resends its whole buffer); what the receiver had
//    acknowledged but its core had not taken yet dies with the receiver's process;
//  * a sender's crash loses its whole resend buffer; a new incarnation numbers from 1;
//  * the resend buffer is bounded per link (peer_resend_buffer_{bytes,messages}_max):
//    a Send beyond it is refused and the message is gone (the daemon logs and drops);
//  * a frame for an epoch beyond the receiver's consensus window is handed to the core
//    like any other (the transport knows nothing of epochs); today's core refuses it.
//
// A seeded scheduler picks which link delivers next (any order across links, FIFO within
// one), which replicas run slow, and when faults strike: crash-restart at any step, a
// wiped disk, a pause, partitions that heal, clock skew. Up to f replicas are Byzantine;
// their strategies aim at the replica layer (strategy names in StrategyName).
//
// Checked: no correct replica sends two different votes for one consensus slot (its
// proposal, ECHO, READY, AUX, CONF, TERM); correct replicas' epoch records are
// byte-identical; every reply a client accepted is in every correct replica's log; the
// run makes progress within a bound of simulated time once 2f+1 correct replicas are
// connected; buffers stay within their limits. A failure names the seed and the one-line
// replay command; a run's trace hash shows that a seed replays exactly.
#ifndef BELFRY_TEST_REPLICA_SIM_SIM_H_
#define BELFRY_TEST_REPLICA_SIM_SIM_H_

#include <cstdint>
#include <string>
#include <vector>

namespace belfry::rsim {

// Options of one run. Every field that is not derived from the seed is in the replay line.
struct Options {
  uint64_t seed = 1;
  // "mix" (the fault mix), "benign" (scheduling, pauses, partitions and skew only), or a
  // finding's scenario: "finding1" .. "finding4" (see ScenarioNames()).
  std::string scenario = "mix";
  // 0: chosen by the scenario (mix: 4 or 7 from the seed).
  uint32_t n = 0;
  bool trace = false;  // print every fault, epoch and accepted reply
  // Off: only the end-to-end checks (records, accepted replies, progress) judge the run,
  // to see what a correct replica's equivocation leads to.
  bool check_votes = true;
};

struct Result {
  bool ok = true;
  std::string failure;      // the first property that broke, with details
  std::string replay;       // the one-line replay command
  uint64_t trace_hash = 0;  // over every delivery, commit and accepted reply
  uint32_t n = 0;
  std::string faults;       // the fault plan, for the report
  uint64_t deliveries = 0;
  uint64_t epochs = 0;          // the highest next_epoch among correct replicas
  uint64_t accepted = 0;        // client operations accepted on 2f+1 replies
  uint64_t sends_refused = 0;   // by full resend buffers
  uint64_t refused_beyond_window = 0;  // frames the cores refused as beyond their window
  uint64_t sim_ms = 0;
};

std::vector<std::string> ScenarioNames();
Result Run(const Options& options);

}  // namespace belfry::rsim

#endif  // BELFRY_TEST_REPLICA_SIM_SIM_H_
