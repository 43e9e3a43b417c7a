// config/cluster_config.h — loading and validating cluster.conf.
//
// cluster.conf is the one public description of a cluster: who the replicas are, where they
// listen, which keys vouch for them, and every limit. Replicas, the client library and the
// tools all read it through this module, so they agree on what a valid configuration is.
// A configuration is refused at load time — with the file, line and reason — rather than
// discovered to be wrong under load.
#ifndef BELFRY_CONFIG_CLUSTER_CONFIG_H_
#define BELFRY_CONFIG_CLUSTER_CONFIG_H_

#include <array>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/config.pb.h"

namespace belfry::config {

// Limits with their defaults; every one is named with its unit last.
struct Limits {
  uint64_t document_bytes_max = 8ull << 20;          // largest document a checkin may carry
  uint64_t request_bytes_max = (8ull << 20) + (64 << 10);  // a signed request, document included
  uint64_t frame_bytes_max = 24ull << 20;            // any frame on any link
  uint32_t batch_requests_max = 512;                 // requests one replica proposes per epoch
  uint32_t epochs_in_flight_max = 4;                 // concurrent consensus epochs
  uint32_t pending_requests_per_client_max = 256;    // one session's requests awaiting order
  uint32_t mempool_requests_max = 20000;             // all clients' requests awaiting order
  uint32_t client_connections_max = 1024;            // open client connections per replica
  uint32_t grant_seconds_max = 365 * 24 * 3600;      // longest grant
  uint32_t session_seconds = 8 * 3600;               // session lifetime, consensus time
  uint32_t session_window_requests = 256;            // per-session retransmission window
  uint32_t login_clock_skew_seconds = 300;           // |client login time - consensus time|
  uint32_t checkpoint_interval_epochs = 128;         // epochs between signed checkpoints
  // Committed epochs of log a replica keeps so that a peer that fell behind can fetch
  // them one by one. Older epochs are pruned, but never past the stable checkpoint; a
  // peer that lacks pruned epochs (a long outage, a wiped disk) catches up by state
  // transfer instead. At least 16, so ordinary restarts need no state transfer; more
  // costs disk (one batch of requests per epoch).
  uint32_t log_retained_epochs = 4096;

  // Denial-of-service bounds (SECURITY.md, "Limits and denial-of-service bounds", says
  // what happens when each is reached and how they add up to a memory bound).
  uint32_t client_connections_per_address_max = 256;  // client connections from one IP
  uint32_t client_handshake_timeout_ms = 5000;        // accept to TLS done, client port
  uint64_t client_request_bytes_in_flight_max = 32ull << 20;  // unanswered, per connection
  uint64_t client_reply_bytes_queued_max = 64ull << 20;       // unread replies, per connection
  uint32_t client_queue_frames_max = 80000;           // checked frames awaiting the core
  uint64_t client_queue_bytes_max = 256ull << 20;     // ... and their request bytes
  uint32_t peer_handshake_timeout_ms = 5000;          // accept to hello done, peer port
  uint32_t peer_inbound_connections_max = 256;        // peer-port connections open at once
  uint32_t peer_handshakes_per_address_max = 16;      // unauthenticated ones from one IP
  uint64_t peer_resend_buffer_bytes_max = 64ull << 20;  // unacknowledged, per peer
  uint32_t peer_resend_buffer_messages_max = 65536;     // unacknowledged, per peer
  uint64_t peer_inbox_bytes_max = 64ull << 20;          // delivered, not yet handled
  uint32_t peer_inbox_messages_max = 65536;
  uint32_t waiting_requests_max = 100000;             // request ids with a client waiting
  uint64_t executed_reply_bytes_max = 64ull << 20;    // signed replies kept for late copies
  uint32_t aba_rounds_ahead_max = 8;                  // agreement rounds buffered ahead
  uint32_t peer_messages_per_second_max = 0;          // per peer; 0: 2500 x N (see PeerMessageRate)
  uint32_t proposal_requests_per_client_max = 8;      // one client's requests per proposal
  uint64_t client_frame_bytes_reading_max = 256ull << 20;  // request bytes being read, all connections
  uint32_t client_requests_in_flight_max = 256;      // unanswered, per connection, then not read
  uint32_t dkg_announce_grace_seconds = 10;          // key generation starts without the late
};

// The per-peer message rate a replica of an n-replica cluster accepts: the limit, or by
// default 2500 per replica. A cluster at its measured peak sends each peer about 250 a
// second per replica, but many small epochs and a lagging replica (which peers send all
// of every epoch, plus catch-up and resent epochs when it rejoins) take several times
// that: at 500 per replica a replica that was cut off fell further behind the backlog on
// its links than state transfer's timeouts allow (test/chaos/README.md). A flooding peer
// is held to a far smaller rate by the penalty (replica/node/main.cc), not by this.
inline uint32_t PeerMessageRate(const Limits& limits, uint32_t n) {
  return limits.peer_messages_per_second_max != 0 ? limits.peer_messages_per_second_max : 2500 * n;
}

// ClusterConfig: a validated cluster.conf. Plain data; copyable; thread-safe to read.
struct ClusterConfig {
  pb::ClusterConfig proto;  // as loaded (zero limits left as written)
  Limits limits;            // proto limits with defaults filled in
  std::string dir;          // folder of cluster.conf; relative paths resolve against it

  uint32_t n() const { return static_cast<uint32_t>(proto.replicas_size()); }
  uint32_t f() const { return proto.f(); }
  const std::string& cluster_id() const { return proto.cluster_id(); }
  std::string ca_cert_path() const;
  // The service key's public key set and certificate (empty when cluster.conf names none:
  // a replica then refuses to start, a client cannot take integrity checkouts).
  std::string service_key_path() const;
  std::string service_cert_path() const;
  // The Ed25519 reply-verification key of replica `id` (validated at load).
  std::array<uint8_t, 32> reply_public_key(uint32_t id) const;
};

// Parses and validates cluster.conf text. `source` names the file in error messages;
// `dir` is where relative paths resolve. INVALID_ARGUMENT with "source:line:col: reason"
// for syntax errors and unknown fields, and "source: field: reason" for bad values.
absl::StatusOr<ClusterConfig> ParseClusterConfig(absl::string_view text, absl::string_view source,
                                                 std::string dir);

// Reads and parses the file at `path` (NOT_FOUND if it cannot be read).
absl::StatusOr<ClusterConfig> LoadClusterConfig(const std::string& path);

// Checks a ClusterConfig message against every rule LoadClusterConfig enforces.
absl::Status ValidateClusterConfig(const pb::ClusterConfig& proto, absl::string_view source);

// The effective limits of a configuration (defaults for absent values).
Limits EffectiveLimits(const pb::Limits& proto);

// Renders a configuration as protobuf text, for belfry-setup.
std::string FormatClusterConfig(const pb::ClusterConfig& proto);

}  // namespace belfry::config

#endif  // BELFRY_CONFIG_CLUSTER_CONFIG_H_
