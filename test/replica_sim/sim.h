// test/replica_sim/sim.h — the deterministic whole-replica simulator.
//
// How it works. One process runs N real ReplicaCores (replica/node/replica_core.h), each
// on its own MemoryStore, with the same keys, limits and code the daemon runs; simulated
// clients log in and check documents in and out with real signed requests, and accept a
// result only when 2f+1 replicas signed one identical reply body (client::ReplyQuorum),
// as the client library does. Every peer message goes through the deployed transport's
// own link code (transport/link.h, the classes transport/peer_network.cc runs), its frames
// encoded and decoded as on the wire; only sockets, TLS and threads are left out:
//
//  * each directed link has the sending process's LinkSender (seqs 1, 2, 3, ... per
//    incarnation; a resend buffer bounded by peer_resend_buffer_{bytes,messages}_max that
//    holds each message until its ack comes back: a Send beyond it is refused and the
//    message is gone, as the daemon logs and drops it) and the receiving process's
//    LinkReceiver (in order, exactly once, duplicates dropped; acks batched by the
//    daemon's ack_delay_us and ack_batch_messages) and delivery token bucket (the
//    daemon's peer_messages_per_second_max). A link protocol error (a gap, a bad ack)
//    fails the run: nothing here forges link frames, so it would be a bug;
//  * a connection is made by the real hello exchange whenever both processes run and are
//    not cut off from each other: the receiver answers with the last seq it delivered and
//    the sender resends everything after it. A partition or a pause stalls a connection;
//    what the sender has not had acknowledged survives it and the receiver's restart (the
//    new incarnation answers 0, so the sender resends its whole buffer, including what the
//    old process delivered but had not acknowledged yet); what the receiver had
//    acknowledged but its core had not taken yet (up to 4 frames per link, read and
//    acknowledged through the real receiver) dies with the receiver's process;
//  * a sender's crash loses its whole resend buffer, except a prefix of each connection
//    already written to the socket, which still arrives unless the restarted sender's new
//    connection (a higher incarnation, numbered from 1) supersedes the old one first;
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
  // Summed over the correct replicas, so that a named seed can assert it still reaches the
  // path it was kept for.
  uint64_t transfers_started = 0;
  uint64_t transfers_overtaken = 0;  // abandoned: consensus committed past the checkpoint
  uint64_t epochs_caught_up = 0;
  uint64_t sim_ms = 0;
};

std::vector<std::string> ScenarioNames();
Result Run(const Options& options);

}  // namespace belfry::rsim

#endif  // BELFRY_TEST_REPLICA_SIM_SIM_H_
