// replica/node/effects/core_counters.h — what a person or Prometheus reads of a replica.
//
// Every part of the core counts into the one CoreCounters its Effects sink holds, so a
// snapshot (ReplicaCore::counters()) is one copy, not an assembly of each part's numbers.
#ifndef BELFRY_REPLICA_NODE_EFFECTS_CORE_COUNTERS_H_
#define BELFRY_REPLICA_NODE_EFFECTS_CORE_COUNTERS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "metrics/exposition.h"
#include "proto/reply.pb.h"
#include "replica/node/effects/peer_fault.h"
#include "replica/state/state_machine.h"

namespace belfry::replica {

// Counters a person or Prometheus reads (a snapshot; see ReplicaCore::counters()).
struct CoreCounters {
  CoreCounters();
  uint64_t epochs_committed = 0;
  uint64_t requests_executed = 0;
  uint64_t requests_admitted = 0;
  uint64_t requests_refused = 0;       // precheck failed
  uint64_t requests_overloaded = 0;    // refused with code 0: a bound was reached
  // The same, by bound: "client_pending" (pending_requests_per_client_max), "mempool"
  // (mempool_requests_max or its byte bound), "waiting" (waiting_requests_max), "copies"
  // (copies of one request awaiting it).
  std::map<std::string, uint64_t> overloaded_by_reason;
  uint64_t replies_sent = 0;
  uint64_t peer_messages_malformed = 0;
  uint64_t epochs_caught_up = 0;
  uint64_t checkpoints_taken = 0;          // votes this replica signed
  uint64_t checkpoints_stable = 0;         // certificates adopted
  uint64_t stable_checkpoint_epoch = 0;    // the latest (0 with none)
  uint64_t state_transfers_started = 0;
  uint64_t state_transfers_completed = 0;
  uint64_t state_transfers_overtaken = 0;   // abandoned: consensus committed past the checkpoint first
  uint64_t state_transfer_source_failures = 0;  // a source timed out, gave up or sent bad state
  uint64_t state_chunks_served = 0;
  uint64_t state_divergences = 0;          // own digest differed from a stable checkpoint
  uint64_t rollbacks_detected = 0;         // a stable checkpoint this replica signed is ahead of it
  uint64_t log_divergences = 0;            // 2f+1 peers committed another record at an epoch we committed
  uint64_t frozen_states_refused = 0;      // a kept stable state failed its digest at start-up
  uint64_t log_base_epoch = 0;             // epoch records before it are pruned
  uint64_t joins_served = 0;               // JoinEpochs answered with a resend
  uint64_t messages_resent_on_join = 0;
  // Every fault by peer and typed kind: the source of the three views below.
  std::map<PeerFault, uint64_t> peer_faults;
  // Views of peer_faults, filled in a snapshot (ReplicaCore::counters()): the protocol
  // faults (IsProtocolFault); all of them by "peer/kind" (PeerFaultName), as the metrics
  // page labels them; and by peer those that count toward the penalty
  // (CountsTowardPenalty), one entry per replica.
  uint64_t faults = 0;
  std::map<std::string, uint64_t> faults_by_kind;
  std::vector<uint64_t> faults_by_peer;
  uint64_t consensus_input_syncs = 0;           // synced appends to the input log
  uint64_t consensus_inputs_logged = 0;
  uint64_t consensus_inputs_replayed = 0;       // at start-up
  uint64_t future_frames_held = 0;              // gauge: beyond-window frames buffered
  uint64_t future_frame_bytes_held = 0;         // gauge
  uint64_t future_frames_dropped = 0;           // over the per-peer byte bound
  uint64_t future_frames_delivered = 0;         // handed in once the window reached them
  uint64_t fetches_refused = 0;                 // FetchEpochs over the per-peer rate
  uint64_t joins_deferred = 0;                  // JoinEpochs within the per-peer interval, served later
  uint64_t catchup_records_refused = 0;         // over the per-peer byte bound
  uint64_t catchup_bytes_held = 0;              // gauge
  uint64_t catchup_head_mismatches = 0;         // f+1 records whose head our execution missed
  uint64_t mempool_requests = 0;
  uint64_t last_epoch_latency_ms = 0;
  uint64_t waiting_requests = 0;       // request ids with a client waiting for the reply
  uint64_t in_flight_requests = 0;     // proposed in an epoch not yet decided
  // Ordered requests by (operation, 3S status); named only when a page is rendered, so
  // counting costs no string per request.
  std::map<std::pair<state::Operation, pb::Status>, uint64_t> executed_by_op_status;
  // Admission refusals (before ordering) by 3S status.
  std::map<pb::Status, uint64_t> refused_by_status;
  // From this replica's proposal of an epoch to its commit, in seconds.
  metrics::Histogram epoch_latency_seconds;
  // Requests per committed epoch.
  metrics::Histogram batch_requests;

  // Fills faults, faults_by_kind and faults_by_peer (`n` entries) from peer_faults.
  void DeriveFaultViews(uint32_t n);
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_EFFECTS_CORE_COUNTERS_H_
