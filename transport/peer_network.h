// transport/peer_network.h — reliable, authenticated, ordered links between replicas.
//
// How it works. Every replica listens on its peer port. For each directed link i -> j,
// replica i dials j and sends its messages for j on that connection, so each direction has
// its own connection and its own state. Both ends authenticate with mutual TLS 1.3 against
// the cluster CA; the accepting side learns the dialer's replica id only from its
// certificate (CN "replica-K", OU "replica"), and the dialer checks that the certificate
// of the side it reached names the replica it meant to reach. Messages never carry a
// sender id.
//
// Reliability across dropped connections: the sender numbers its messages 1, 2, 3, ... per
// link and keeps each one in a bounded resend buffer until the receiver acknowledges it
// (cumulative acks). On every (re)connection the sender says who it is (its incarnation,
// fixed for the life of the process), the receiver answers with the last sequence number
// it delivered, and the sender resends everything after that. The receiver delivers each
// sequence number exactly once and in order, drops duplicates, and treats a gap as a
// protocol error (closes the link; the resend then fills it). A sender that restarts comes
// back with a higher incarnation, and the receiver starts its count over; a connection
// from an older incarnation is refused as stale. Reconnection uses capped exponential
// backoff with jitter, so a peer that is down costs a few dials per second at most.
//
// That protocol (numbering, the resend buffer and its bounds, hellos, acks and their
// batching, duplicate and gap handling, the delivery token bucket, the frame encoding) is
// transport/link.h, which does no I/O; this file adds the sockets, TLS, timers, threads
// and counters around it. The whole-replica simulator (test/replica_sim) runs the same
// link.h classes for its links, so what it shows holds for this transport's semantics.
//
// Bounds: each peer's deliveries are paced by messages_per_second_max (a token bucket; a
// peer over it has its link paused, so TCP pushes back and a flood costs a bounded share
// of CPU); frames are at most frame_bytes_max (checked before reading the body); the
// resend buffer per peer is bounded in bytes and messages (Send then returns
// RESOURCE_EXHAUSTED); delivered messages wait in a bounded inbox, and when it is full the
// links stop reading (TCP pushes back on the senders) instead of buffering more.
//
// Threading: the network runs one asio::io_context on its own thread; every socket, timer
// and per-link state lives there. Send, Receive, SetPeerAddress, ResetLinks and the
// counters are thread-safe and may be called from any thread.
#ifndef BELFRY_TRANSPORT_PEER_NETWORK_H_
#define BELFRY_TRANSPORT_PEER_NETWORK_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "transport/frame.h"
#include "transport/link.h"
#include "transport/tls.h"

namespace belfry::transport {

using NodeId = uint32_t;

// Where a peer replica listens.
struct PeerAddress {
  NodeId id = 0;
  std::string host;   // IP literal or DNS name
  uint16_t port = 0;  // 0: not known yet (see PeerNetwork::SetPeerAddress)
};

// PeerNetworkConfig: every limit has a default; all are per network unless named per peer.
struct PeerNetworkConfig {
  NodeId self = 0;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: an ephemeral port (read it with listen_port())
  // Every other replica (distinct ids, none equal to `self`). Only these may connect.
  std::vector<PeerAddress> peers;
  // This replica's certificate (CN "replica-<self>", OU "replica"), key and cluster CA.
  TlsCredentials credentials;
  // Identifies this run of the process to the receivers; must grow across restarts.
  // 0: the wall clock in nanoseconds at Create.
  uint64_t incarnation = 0;

  size_t frame_bytes_max = kDefaultFrameBytesMax;
  size_t resend_buffer_bytes_max = size_t{64} << 20;  // per peer, payload bytes unacked
  size_t resend_buffer_messages_max = 65536;          // per peer, messages unacked
  size_t inbox_bytes_max = size_t{64} << 20;          // delivered, not yet Received
  size_t inbox_messages_max = 65536;
  size_t write_batch_bytes_max = size_t{256} << 10;  // data coalesced into one write
  uint32_t reconnect_delay_min_ms = 20;
  uint32_t reconnect_delay_max_ms = 2000;
  uint32_t handshake_timeout_ms = 5000;  // TCP + TLS + hello, per connection
  size_t inbound_connections_max = 256;  // accepted connections open at once
  // Accepted connections from one IP that have not yet proven a replica identity. Keeps
  // one unauthenticated source from taking every slot; authenticated links are limited
  // to one per peer anyway (a new one replaces the old).
  size_t handshakes_per_address_max = 16;
  // Messages delivered from one peer per second, with a burst of one second's worth; a
  // peer that sends faster is held back (its link stops being read, so TCP pushes back)
  // instead of costing this replica more CPU. 0: unlimited.
  uint32_t messages_per_second_max = 0;
  // Acknowledgements wait up to this long, or until this many messages are unacknowledged,
  // so a stream of small messages costs one acknowledgement write per batch.
  uint32_t ack_delay_us = kDefaultAckDelayUs;
  uint32_t ack_batch_messages = kDefaultAckBatchMessages;
};

// Per-peer counters (a snapshot). "sent"/"received" count frames and bytes on the wire,
// headers included; messages count payloads.
struct PeerCounters {
  uint64_t bytes_sent = 0;
  uint64_t frames_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t frames_received = 0;
  uint64_t messages_sent = 0;        // first transmissions
  uint64_t messages_resent = 0;      // retransmissions after a reconnect
  uint64_t messages_delivered = 0;   // from this peer into the inbox
  uint64_t duplicates_dropped = 0;   // from this peer, already delivered
  uint64_t sends_refused = 0;        // Send returned RESOURCE_EXHAUSTED
  uint64_t connects = 0;             // outbound links established
  uint64_t reconnects = 0;           // ... after the first
  uint64_t connect_failures = 0;     // outbound attempts that never got established
  uint64_t disconnects = 0;          // established links (either direction) that closed
  uint64_t protocol_errors = 0;      // malformed, unexpected, oversized, out of order
  uint64_t throttled = 0;            // times the link was held back by messages_per_second_max
  uint64_t queue_messages = 0;       // resend buffer depth now
  uint64_t queue_bytes = 0;
  bool outbound_up = false;          // the link this replica dialed is established now
};

// Network-wide counters (a snapshot), mostly refusals of inbound connections.
struct NetworkCounters {
  uint64_t connections_accepted = 0;      // TCP accepts
  uint64_t refused_tls = 0;               // handshake failed (version, no/bad certificate)
  uint64_t refused_role = 0;              // a user certificate on the peer port
  uint64_t refused_identity = 0;          // unknown replica, self, or stale incarnation
  uint64_t refused_capacity = 0;          // a connection limit was reached
  uint64_t handshake_timeouts = 0;
  uint64_t oversized_frames = 0;
  uint64_t closed_untrusted = 0;          // links whose peer failed a reload's check
  uint64_t inbox_messages = 0;            // depth now
  uint64_t inbox_bytes = 0;
};

// One delivered message.
struct Delivery {
  NodeId from = 0;
  std::string payload;
};

// PeerNetwork: see the file comment. Create, optionally Listen (to learn an ephemeral
// port), Start, then Send/Receive from any thread; Stop (or destruction) closes every
// connection and joins the network thread. One Start per object.
class PeerNetwork {
 public:
  // Validates `config` and builds the TLS contexts. INVALID_ARGUMENT for a bad config
  // (duplicate or self peer ids, zero limits, unusable credentials).
  static absl::StatusOr<std::unique_ptr<PeerNetwork>> Create(PeerNetworkConfig config);

  PeerNetwork(const PeerNetwork&) = delete;
  PeerNetwork& operator=(const PeerNetwork&) = delete;
  ~PeerNetwork();  // Stop()s.

  // Binds and listens on the peer port without accepting yet. Optional: Start does it.
  // UNAVAILABLE if the address cannot be bound.
  absl::Status Listen();
  // The bound port (after Listen or Start), else 0.
  uint16_t listen_port() const;

  // Starts the network thread: accepts peers and dials every peer with a known address.
  // FAILED_PRECONDITION if already started or stopped.
  absl::Status Start();

  // Sets or changes where peer `id` listens; a link waiting to reconnect dials at once.
  // NOT_FOUND for an id not in the config.
  absl::Status SetPeerAddress(NodeId id, std::string host, uint16_t port);

  // Queues `payload` for peer `to`; it will be delivered there once, in order, unless this
  // process or the receiver's incarnation ends first. NOT_FOUND for an unknown peer;
  // INVALID_ARGUMENT if the payload cannot fit in one frame; RESOURCE_EXHAUSTED (counted)
  // when the resend buffer for `to` is full; FAILED_PRECONDITION after Stop.
  absl::Status Send(NodeId to, std::string payload);

  // The next delivered message, waiting up to `timeout`; nullopt on timeout or after Stop.
  std::optional<Delivery> Receive(std::chrono::milliseconds timeout);
  std::optional<Delivery> TryReceive();

  // Closes the connections with `peer` as a network fault would. Unacknowledged messages
  // are resent after the reconnect. No-op for an unknown peer.
  void ResetLinks(NodeId peer);

  // Replaces this replica's certificate, key and trusted CA bundle (and its CRLs): new
  // connections, both directions, use them, and every link whose peer certificate no
  // longer verifies under the new bundle (revoked, expired, its CA removed) is closed;
  // an outbound link then redials and must pass the new check. Unacknowledged messages
  // are resent as after any reconnect. Returns once applied. INVALID_ARGUMENT for
  // unusable credentials (the old ones stay); FAILED_PRECONDITION after Stop.
  absl::Status UpdateCredentials(TlsCredentials credentials);

  // Overrides messages_per_second_max for one peer (0: back to the configured rate), e.g.
  // to hold a peer that sends messages the replica finds useless to a small rate. No-op
  // for an unknown peer. Thread-safe.
  void SetPeerMessageRate(NodeId peer, uint32_t messages_per_second);

  // Closes everything and joins the network thread. Idempotent.
  void Stop();

  NodeId self() const;
  uint64_t incarnation() const;
  // Counters for one peer (zeros for an unknown id) and for the whole network.
  PeerCounters counters(NodeId peer) const;
  NetworkCounters network_counters() const;

  // The implementation, defined in the .cc file (public only so that file's helpers can
  // name it).
  class Impl;

 private:
  explicit PeerNetwork(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace belfry::transport

#endif  // BELFRY_TRANSPORT_PEER_NETWORK_H_
