// transport/client_server.h — the replica's client port: mutual-TLS connections from
// users, request frames in, reply frames out.
//
// Each accepted connection must finish its TLS 1.3 handshake within handshake_timeout_ms
// (a slow or silent handshake is cut, so idle sockets cannot pin connection slots) and
// present a certificate of the cluster CA with role "user"; a replica certificate is
// refused right after the handshake. From then on every frame the user sends is handed,
// with the connection id and the user's verified identity, to the request handler; the
// replica answers with Send(connection id, reply frame) from any thread.
//
// Flow control: every request frame is expected to get exactly one reply (an error reply
// if it is refused); the bytes of requests handed over and not yet answered are the
// connection's in-flight bytes. At request_bytes_in_flight_max the server stops reading
// from that connection until replies bring it down, so a client can never make a replica
// hold more than that for it. Replies the client does not read pile up to
// reply_bytes_queued_max, after which the connection is closed (a slow reader). Replies
// to a connection that is gone are dropped and counted. Reading also pauses at
// requests_in_flight_max unanswered requests, whatever their size.
//
// Threading: one asio::io_context on the server's own thread. The handlers run on that
// thread and must return quickly (queue the work elsewhere). Send, Disconnect and the
// counters are thread-safe.
#ifndef BELFRY_TRANSPORT_CLIENT_SERVER_H_
#define BELFRY_TRANSPORT_CLIENT_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pki/certificate.h"
#include "transport/frame.h"
#include "transport/tls.h"

namespace belfry::transport {

// Identifies one client connection for the life of the server; never reused.
using ConnectionId = uint64_t;

struct ClientServerConfig {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: an ephemeral port (read it with listen_port())
  // This replica's certificate and key, and the cluster CA that issued the users'.
  TlsCredentials credentials;

  size_t connections_max = 1024;              // open at once, handshaking included
  size_t connections_per_address_max = 256;   // from one source IP
  size_t frame_bytes_max = kDefaultFrameBytesMax;
  size_t request_bytes_in_flight_max = size_t{32} << 20;  // per connection
  size_t requests_in_flight_max = 256;                    // per connection, unanswered
  size_t reply_bytes_queued_max = size_t{64} << 20;       // per connection
  uint32_t handshake_timeout_ms = 5000;
  // Request bytes being read, all connections together: a frame's body buffer is sized
  // only once its length fits in this budget (one frame is always let through), so many
  // connections announcing large frames cannot make the replica allocate for all of them.
  // The rest wait, unread, and TCP pushes back.
  size_t frame_bytes_reading_max = size_t{256} << 20;
};

struct ClientServerCounters {
  uint64_t connections_accepted = 0;   // TCP accepts
  uint64_t connections_open = 0;       // now (handshaking included)
  uint64_t sessions_opened = 0;        // handshake done and role accepted
  uint64_t refused_tls = 0;            // handshake failed: version, no/bad certificate
  uint64_t refused_role = 0;           // a replica certificate on the client port
  uint64_t refused_capacity = 0;       // connections_max or the per-address limit
  uint64_t refused_capacity_per_address = 0;  // ... of which the per-address limit
  uint64_t handshake_timeouts = 0;
  uint64_t oversized_frames = 0;
  uint64_t requests_received = 0;
  uint64_t request_bytes_received = 0;
  uint64_t replies_sent = 0;
  uint64_t reply_bytes_sent = 0;
  uint64_t replies_dropped = 0;        // connection gone or closed as a slow reader
  uint64_t slow_reader_closes = 0;
  uint64_t closed_untrusted = 0;
  uint64_t reading_budget_waits = 0;   // frames that waited for frame_bytes_reading_max
  uint64_t in_flight_pauses = 0;       // reading paused at a connection's in-flight bound       // open, then its certificate failed a reload's check
};

// Called on the server thread for each request frame. `identity` is the user's verified
// certificate identity (valid during the call; copy what you keep).
using RequestHandler =
    std::function<void(ConnectionId id, const pki::CertIdentity& identity, std::string frame)>;
// Called on the server thread when a connection that reached the handler closes.
using DisconnectHandler = std::function<void(ConnectionId id)>;

// ClientServer: see the file comment. Create, optionally Listen, Start; Stop (or
// destruction) closes every connection and joins the thread. One Start per object.
class ClientServer {
 public:
  // INVALID_ARGUMENT for a zero limit, a missing handler or unusable credentials.
  static absl::StatusOr<std::unique_ptr<ClientServer>> Create(ClientServerConfig config,
                                                              RequestHandler on_request,
                                                              DisconnectHandler on_disconnect = {});

  ClientServer(const ClientServer&) = delete;
  ClientServer& operator=(const ClientServer&) = delete;
  ~ClientServer();  // Stop()s.

  // Binds and listens without accepting yet (Start does it if needed). UNAVAILABLE if the
  // address cannot be bound.
  absl::Status Listen();
  uint16_t listen_port() const;  // after Listen/Start, else 0
  // FAILED_PRECONDITION if already started or stopped.
  absl::Status Start();

  // Queues `frame` as a reply on connection `id`. NOT_FOUND (and counted as dropped) if the
  // connection is gone; INVALID_ARGUMENT if the frame exceeds frame_bytes_max. A reply
  // accepted here can still be dropped if the connection closes before it is written.
  absl::Status Send(ConnectionId id, std::string frame);

  // Closes connection `id` (e.g. a client the replica found misbehaving). No-op if gone.
  void Disconnect(ConnectionId id);

  // Replaces this server's certificate, key and trusted CA bundle (and its CRLs): new
  // connections handshake with them, and every open connection whose user certificate no
  // longer verifies under the new bundle (revoked, expired, or from a CA that was
  // removed) is closed. Returns once applied. INVALID_ARGUMENT for unusable credentials
  // (the old ones stay); FAILED_PRECONDITION after Stop.
  absl::Status UpdateCredentials(TlsCredentials credentials);

  // Closes everything and joins the server thread. Idempotent.
  void Stop();

  ClientServerCounters counters() const;

  // The implementation, defined in the .cc file (public only so that file's helpers can
  // name it).
  class Impl;

 private:
  explicit ClientServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace belfry::transport

#endif  // BELFRY_TRANSPORT_CLIENT_SERVER_H_
