#include "replica/node/metrics_page.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "metrics/exposition.h"
#include "wire/request_format.h"

namespace belfry::replica {

using metrics::Exposition;
using metrics::Labels;
using metrics::MetricType;

namespace {

// One family with a sample per peer, from a PeerCounters field.
template <typename Field>
void PerPeer(Exposition& out, const ReplicaSnapshot& s, const char* name, MetricType type,
             const char* help, Field field) {
  out.Family(name, type, help);
  for (const auto& [peer, c] : s.peers) {
    out.Sample(Labels{{"peer", std::to_string(peer)}}, static_cast<uint64_t>(field(c)));
  }
}

void Single(Exposition& out, const char* name, MetricType type, const char* help,
            uint64_t value) {
  out.Family(name, type, help);
  out.Sample({}, value);
}

void SingleDouble(Exposition& out, const char* name, MetricType type, const char* help,
                  double value) {
  out.Family(name, type, help);
  out.Sample({}, value);
}

}  // namespace

std::string RenderMetricsPage(const ReplicaSnapshot& s) {
  Exposition out;
  constexpr MetricType kCounter = MetricType::kCounter;
  constexpr MetricType kGauge = MetricType::kGauge;
  const Health health = HealthOf(s);

  out.Family("belfry_replica_info", kGauge, "This replica's id and the cluster's size.");
  out.Sample(Labels{{"replica", std::to_string(s.self)}, {"n", std::to_string(s.n)},
                    {"f", std::to_string(s.f)}},
             uint64_t{1});
  Single(out, "belfry_up", kGauge, "1 while the replica serves (no local failure).", health.live ? 1 : 0);
  Single(out, "belfry_ready", kGauge,
         "1 when links to 2f peers are up and the replica is not catching up.", health.ready ? 1 : 0);
  // Alert rules compare the number of ready replicas with this; a rule cannot read n and f
  // from belfry_replica_info's labels as numbers.
  Single(out, "belfry_quorum_replicas", kGauge,
         "Replicas that must be up and linked for the cluster to progress: N - f "
         "(2f+1 when N = 3f+1).",
         s.n - s.f);

  // ---- consensus and execution ----
  Single(out, "belfry_epochs_committed_total", kCounter,
         "Epochs executed and durably committed here (consensus and catch-up).", s.core.epochs_committed);
  Single(out, "belfry_epochs_caught_up_total", kCounter,
         "Epochs applied from f+1 matching peer records after missing them.", s.core.epochs_caught_up);
  Single(out, "belfry_next_epoch", kGauge, "Epochs committed so far (the next epoch to commit).", s.next_epoch);
  SingleDouble(out, "belfry_consensus_time_seconds", kGauge,
               "Consensus time of the last committed epoch, seconds since the Unix epoch.",
               static_cast<double>(s.consensus_time_ms) / 1000.0);
  Single(out, "belfry_catching_up", kGauge, "1 while fetching missed epochs or a checkpoint's state from peers.",
         s.catching_up ? 1 : 0);

  // ---- checkpoints and state transfer ----
  Single(out, "belfry_checkpoint_epoch", kGauge, "Epoch of the latest stable checkpoint (0 with none).",
         s.core.stable_checkpoint_epoch);
  Single(out, "belfry_checkpoint_interval_epochs", kGauge,
         "Epochs between checkpoints (the cluster's checkpoint_interval_epochs).",
         s.checkpoint_interval_epochs);
  Single(out, "belfry_checkpoints_taken_total", kCounter, "Checkpoint votes this replica signed.",
         s.core.checkpoints_taken);
  Single(out, "belfry_checkpoints_stable_total", kCounter, "Checkpoints that became stable (2f+1 matching votes).",
         s.core.checkpoints_stable);
  Single(out, "belfry_log_base_epoch", kGauge, "First epoch whose record is kept; older ones are pruned.",
         s.core.log_base_epoch);
  Single(out, "belfry_state_transfers_started_total", kCounter, "State transfers started.",
         s.core.state_transfers_started);
  Single(out, "belfry_state_transfers_completed_total", kCounter, "State transfers verified and installed.",
         s.core.state_transfers_completed);
  Single(out, "belfry_state_transfers_overtaken_total", kCounter,
         "State transfers abandoned because consensus committed past their checkpoint first.",
         s.core.state_transfers_overtaken);
  Single(out, "belfry_state_transfer_source_failures_total", kCounter,
         "State transfer sources replaced: silent, gave up, or sent state that failed verification.",
         s.core.state_transfer_source_failures);
  Single(out, "belfry_state_chunks_served_total", kCounter, "State chunks sent to replicas transferring state.",
         s.core.state_chunks_served);
  Single(out, "belfry_state_divergences_total", kCounter,
         "Stable checkpoints whose digest differed from this replica's own: its state was corrupt.",
         s.core.state_divergences);
  Single(out, "belfry_log_divergences_total", kCounter,
         "Epochs this replica committed that 2f+1 peers committed otherwise (after a crash of several "
         "replicas); each starts a state transfer.",
         s.core.log_divergences);
  Single(out, "belfry_frozen_states_refused_total", kCounter,
         "Stable checkpoint states kept on disk that could not be read or failed their digest at start-up.",
         s.core.frozen_states_refused);
  Single(out, "belfry_joins_served_total", kCounter,
         "JoinEpochs from restarted or caught-up peers answered with records and resent messages.",
         s.core.joins_served);
  Single(out, "belfry_consensus_input_syncs_total", kCounter,
         "Synced appends of the consensus input log (one per core step that sent consensus messages).",
         s.core.consensus_input_syncs);
  Single(out, "belfry_consensus_inputs_logged_total", kCounter,
         "Consensus inputs (peer messages in the window, own proposals) appended to the input log.",
         s.core.consensus_inputs_logged);
  Single(out, "belfry_consensus_inputs_replayed_total", kCounter,
         "Consensus inputs replayed from the log at start-up or after a rollback.",
         s.core.consensus_inputs_replayed);
  Single(out, "belfry_future_frames", kGauge, "Consensus frames beyond the window held for later.",
         s.core.future_frames_held);
  Single(out, "belfry_future_frame_bytes", kGauge, "Bytes of the consensus frames beyond the window held.",
         s.core.future_frame_bytes_held);
  Single(out, "belfry_future_frames_dropped_total", kCounter,
         "Beyond-window frames dropped over the per-peer bound (the peer is asked to resend them).",
         s.core.future_frames_dropped);
  Single(out, "belfry_future_frames_delivered_total", kCounter,
         "Beyond-window frames handed to consensus once the window reached them.", s.core.future_frames_delivered);
  Single(out, "belfry_fetches_refused_total", kCounter, "FetchEpochs over the per-peer rate, not answered.",
         s.core.fetches_refused);
  Single(out, "belfry_joins_deferred_total", kCounter,
         "JoinEpochs within the per-peer interval of the last one served, answered once it is over.",
         s.core.joins_deferred);
  Single(out, "belfry_catchup_records_refused_total", kCounter,
         "Catch-up records refused over the per-peer byte bound.", s.core.catchup_records_refused);
  Single(out, "belfry_catchup_bytes", kGauge, "Bytes of catch-up records held.", s.core.catchup_bytes_held);
  Single(out, "belfry_catchup_head_mismatches_total", kCounter,
         "Epochs f+1 peers committed whose log head this replica's execution did not reproduce (not committed).",
         s.core.catchup_head_mismatches);
  Single(out, "belfry_messages_resent_on_join_total", kCounter,
         "Own consensus messages of undecided epochs resent to a peer that joined them late.",
         s.core.messages_resent_on_join);
  Single(out, "belfry_rollbacks_detected_total", kCounter,
         "Stable checkpoints this replica had signed but no longer had the state for (disk rolled back or lost).",
         s.core.rollbacks_detected);
  out.Family("belfry_epoch_latency_seconds", MetricType::kHistogram,
             "From this replica's proposal for an epoch to its commit.");
  out.HistogramSamples({}, s.core.epoch_latency_seconds);
  out.Family("belfry_epoch_requests", MetricType::kHistogram, "Requests ordered per committed epoch.");
  out.HistogramSamples({}, s.core.batch_requests);

  // ---- requests ----
  Single(out, "belfry_requests_executed_total", kCounter, "Ordered requests executed.", s.core.requests_executed);
  out.Family("belfry_requests_total", kCounter,
             "Ordered requests executed, by operation and 3S status.");
  for (const auto& [key, count] : s.core.executed_by_op_status) {
    out.Sample(Labels{{"op", state::OperationName(key.first)}, {"status", wire::StatusName(key.second)}},
               count);
  }
  Single(out, "belfry_requests_admitted_total", kCounter,
         "Requests that passed the admission check and entered the mempool.", s.core.requests_admitted);
  out.Family("belfry_requests_refused_total", kCounter,
             "Requests refused at admission (never ordered), by 3S status.");
  for (const auto& [status, count] : s.core.refused_by_status) {
    out.Sample(Labels{{"status", wire::StatusName(status)}}, count);
  }
  Single(out, "belfry_requests_overloaded_total", kCounter,
         "Requests refused because the mempool or reply table was full.", s.core.requests_overloaded);
  out.Family("belfry_requests_overloaded_by_reason_total", kCounter,
             "Requests refused as overloaded (rejection code 0), by the bound that was reached.");
  for (const auto& [reason, count] : s.core.overloaded_by_reason) {
    out.Sample(Labels{{"reason", reason}}, count);
  }
  Single(out, "belfry_replies_sent_total", kCounter, "Signed replies sent to clients.", s.core.replies_sent);

  // ---- queues ----
  Single(out, "belfry_mempool_requests", kGauge, "Requests waiting to be ordered.", s.core.mempool_requests);
  Single(out, "belfry_waiting_requests", kGauge, "Requests with a client waiting for the reply.", s.core.waiting_requests);
  Single(out, "belfry_in_flight_requests", kGauge, "Requests proposed in an undecided epoch.", s.core.in_flight_requests);
  Single(out, "belfry_client_queue_frames", kGauge,
         "Client frames received but not yet handled by the core.", s.client_queue_frames);
  Single(out, "belfry_client_queue_refused_total", kCounter,
         "Client frames refused, and their connection closed, because the core's queue was full.",
         s.client_queue_refused);
  Single(out, "belfry_peer_inbox_messages", kGauge, "Peer messages delivered but not yet handled.",
         s.network.inbox_messages);

  // ---- faults ----
  Single(out, "belfry_peer_faults_total", kCounter, "Protocol faults attributed to peers.", s.core.faults);
  out.Family("belfry_peer_faults_by_kind_total", kCounter,
             "Faults and out-of-window messages, by peer and kind.");
  for (const auto& [key, count] : s.core.faults_by_kind) {
    const size_t slash = key.find('/');
    out.Sample(Labels{{"peer", key.substr(0, slash)},
                      {"kind", slash == std::string::npos ? "" : key.substr(slash + 1)}},
               count);
  }
  Single(out, "belfry_peer_messages_malformed_total", kCounter,
         "Peer messages that did not parse.", s.core.peer_messages_malformed);

  // ---- peer links ----
  PerPeer(out, s, "belfry_peer_link_up", kGauge, "1 while the link this replica dialed is established.",
          [](const transport::PeerCounters& c) { return c.outbound_up ? 1 : 0; });
  PerPeer(out, s, "belfry_peer_bytes_sent_total", kCounter, "Bytes written to the peer (frames and headers).",
          [](const transport::PeerCounters& c) { return c.bytes_sent; });
  PerPeer(out, s, "belfry_peer_bytes_received_total", kCounter, "Bytes read from the peer.",
          [](const transport::PeerCounters& c) { return c.bytes_received; });
  PerPeer(out, s, "belfry_peer_messages_sent_total", kCounter, "Messages sent the first time.",
          [](const transport::PeerCounters& c) { return c.messages_sent; });
  PerPeer(out, s, "belfry_peer_messages_resent_total", kCounter, "Messages resent after a reconnect.",
          [](const transport::PeerCounters& c) { return c.messages_resent; });
  PerPeer(out, s, "belfry_peer_messages_received_total", kCounter, "Messages delivered from the peer.",
          [](const transport::PeerCounters& c) { return c.messages_delivered; });
  PerPeer(out, s, "belfry_peer_reconnects_total", kCounter, "Outbound links re-established after the first.",
          [](const transport::PeerCounters& c) { return c.reconnects; });
  PerPeer(out, s, "belfry_peer_connect_failures_total", kCounter, "Outbound dials that failed.",
          [](const transport::PeerCounters& c) { return c.connect_failures; });
  PerPeer(out, s, "belfry_peer_disconnects_total", kCounter, "Established links that closed.",
          [](const transport::PeerCounters& c) { return c.disconnects; });
  PerPeer(out, s, "belfry_peer_protocol_errors_total", kCounter, "Malformed or out-of-order link frames.",
          [](const transport::PeerCounters& c) { return c.protocol_errors; });
  PerPeer(out, s, "belfry_peer_throttled_total", kCounter,
          "Times a peer's link was held back for sending more than peer_messages_per_second_max.",
          [](const transport::PeerCounters& c) { return c.throttled; });
  PerPeer(out, s, "belfry_peer_sends_refused_total", kCounter, "Sends refused: the peer's resend buffer was full.",
          [](const transport::PeerCounters& c) { return c.sends_refused; });
  PerPeer(out, s, "belfry_peer_queue_messages", kGauge, "Messages sent but not yet acknowledged.",
          [](const transport::PeerCounters& c) { return c.queue_messages; });
  PerPeer(out, s, "belfry_peer_queue_bytes", kGauge, "Bytes sent but not yet acknowledged.",
          [](const transport::PeerCounters& c) { return c.queue_bytes; });
  out.Family("belfry_peer_connections_refused_total", kCounter,
             "Inbound peer-port connections refused, by reason.");
  out.Sample(Labels{{"reason", "tls"}}, s.network.refused_tls);
  out.Sample(Labels{{"reason", "role"}}, s.network.refused_role);
  out.Sample(Labels{{"reason", "identity"}}, s.network.refused_identity);
  out.Sample(Labels{{"reason", "capacity"}}, s.network.refused_capacity);
  out.Sample(Labels{{"reason", "handshake_timeout"}}, s.network.handshake_timeouts);
  out.Sample(Labels{{"reason", "oversized_frame"}}, s.network.oversized_frames);
  Single(out, "belfry_peer_links_closed_untrusted_total", kCounter,
         "Peer links closed by a credential reload: the peer's certificate no longer verifies.",
         s.network.closed_untrusted);

  // ---- clients ----
  Single(out, "belfry_client_connections_open", kGauge, "Client connections open now.", s.clients.connections_open);
  Single(out, "belfry_client_connections_accepted_total", kCounter, "Client TCP connections accepted.",
         s.clients.connections_accepted);
  out.Family("belfry_client_connections_refused_total", kCounter,
             "Client connections refused, by reason.");
  out.Sample(Labels{{"reason", "tls"}}, s.clients.refused_tls);
  out.Sample(Labels{{"reason", "role"}}, s.clients.refused_role);
  out.Sample(Labels{{"reason", "capacity"}}, s.clients.refused_capacity - s.clients.refused_capacity_per_address);
  out.Sample(Labels{{"reason", "capacity_per_address"}}, s.clients.refused_capacity_per_address);
  out.Sample(Labels{{"reason", "handshake_timeout"}}, s.clients.handshake_timeouts);
  out.Sample(Labels{{"reason", "oversized_frame"}}, s.clients.oversized_frames);
  Single(out, "belfry_client_in_flight_pauses_total", kCounter,
         "Times a client connection was not read because it had client_requests_in_flight_max unanswered.",
         s.clients.in_flight_pauses);
  Single(out, "belfry_client_reading_budget_waits_total", kCounter,
         "Client frames that waited for the shared reading budget (client_frame_bytes_reading_max).",
         s.clients.reading_budget_waits);
  Single(out, "belfry_client_connections_closed_untrusted_total", kCounter,
         "Client connections closed by a credential reload: the user's certificate no longer verifies.",
         s.clients.closed_untrusted);
  SingleDouble(out, "belfry_tls_certificate_expiry_timestamp_seconds", kGauge,
               "notAfter of this replica's TLS certificate in use, seconds since the Unix epoch.",
               static_cast<double>(s.tls_cert_not_after_unix_s));
  out.Family("belfry_credential_reloads_total", kCounter,
             "TLS credential reloads on SIGHUP, by result (failed: the old credentials stayed).");
  out.Sample(Labels{{"result", "ok"}}, s.credential_reloads_ok);
  out.Sample(Labels{{"result", "failed"}}, s.credential_reloads_failed);
  Single(out, "belfry_client_frames_received_total", kCounter, "Client frames received.", s.clients.requests_received);
  Single(out, "belfry_client_bytes_received_total", kCounter, "Client frame bytes received.",
         s.clients.request_bytes_received);
  Single(out, "belfry_client_bytes_sent_total", kCounter, "Reply bytes sent to clients.", s.clients.reply_bytes_sent);
  Single(out, "belfry_client_replies_dropped_total", kCounter,
         "Replies dropped: the connection was gone or a slow reader was closed.", s.clients.replies_dropped);

  // ---- storage and process ----
  Single(out, "belfry_store_bytes", kGauge, "RocksDB live SST files plus memtables, bytes.", s.store_bytes);
  SingleDouble(out, "process_cpu_seconds_total", kCounter, "User and system CPU time, seconds.",
               s.process.cpu_seconds);
  Single(out, "process_resident_memory_bytes", kGauge, "Resident memory, bytes.", s.process.resident_bytes);
  Single(out, "belfry_process_peak_resident_memory_bytes", kGauge, "Peak resident memory (VmHWM), bytes.",
         s.process.peak_resident_bytes);
  Single(out, "process_virtual_memory_bytes", kGauge, "Virtual memory, bytes.", s.process.virtual_bytes);
  Single(out, "process_open_fds", kGauge, "Open file descriptors.", s.process.open_fds);
  SingleDouble(out, "process_start_time_seconds", kGauge, "Start time, seconds since the Unix epoch.",
               s.process.start_time_seconds);
  return out.Take();
}

Health HealthOf(const ReplicaSnapshot& s) {
  Health h;
  h.live = !s.fatal;
  if (!h.live) {
    h.reason = "a local failure stopped the replica";
    return h;
  }
  uint32_t up = 0;
  for (const auto& [peer, c] : s.peers) up += c.outbound_up ? 1 : 0;
  if (up < 2 * s.f) {
    h.reason = absl::StrCat("links to ", up, " of ", s.peers.size(), " peers are up; ", 2 * s.f,
                            " are needed");
    return h;
  }
  if (s.catching_up) {
    h.reason = "catching up on missed epochs";
    return h;
  }
  h.ready = true;
  return h;
}

}  // namespace belfry::replica
