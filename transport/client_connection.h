// transport/client_connection.h — a user's mutual-TLS connection to one replica's client
// port (the client library opens one per replica).
//
// Connect dials, completes the TLS 1.3 handshake with the user's certificate and key, and
// checks that the server's certificate is a replica of the cluster CA (and, if given, the
// replica expected at that address). Frames then flow both ways: Send queues a request
// frame, Receive takes the next reply frame. Many requests may be in flight at once;
// replies come back in the order the replica sends them, and the caller matches them to
// requests by the ids inside the frames.
//
// In TLS 1.3 the client finishes its handshake before the server has judged the client's
// certificate, so a replica that refuses this user (wrong role, revoked, expired) shows up
// as the connection closing: Receive then returns UNAVAILABLE with the reason.
//
// Threading: each connection runs its own asio::io_context on its own thread. Send,
// Receive, Close and the accessors are thread-safe; several threads may Send and Receive
// concurrently (each reply frame goes to exactly one Receive call).
#ifndef BELFRY_TRANSPORT_CLIENT_CONNECTION_H_
#define BELFRY_TRANSPORT_CLIENT_CONNECTION_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pki/certificate.h"
#include "transport/frame.h"
#include "transport/tls.h"

namespace belfry::transport {

struct ClientConnectionConfig {
  std::string host = "127.0.0.1";  // IP literal or DNS name
  uint16_t port = 0;
  // The user's certificate and key, and the cluster CA the replica must chain to.
  TlsCredentials credentials;
  // "replica-K" to insist on one replica; empty accepts any replica certificate.
  std::string expected_server_name;
  size_t frame_bytes_max = kDefaultFrameBytesMax;
  uint32_t connect_timeout_ms = 5000;                   // resolve + TCP + TLS
  size_t send_queue_bytes_max = size_t{64} << 20;       // requests queued, not yet written
  size_t receive_queue_bytes_max = size_t{64} << 20;    // replies received, not yet taken
};

// ClientConnection: see the file comment. Destruction closes the connection and joins its
// thread.
class ClientConnection {
 public:
  // Blocks until the connection is up or fails. UNAVAILABLE if the replica cannot be
  // reached or the handshake fails; PERMISSION_DENIED if the server is not the expected
  // replica of the cluster; DEADLINE_EXCEEDED after connect_timeout_ms; INVALID_ARGUMENT
  // for a bad config.
  static absl::StatusOr<std::unique_ptr<ClientConnection>> Connect(ClientConnectionConfig config);

  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;
  ~ClientConnection();

  // Queues one frame for the replica. INVALID_ARGUMENT if it exceeds frame_bytes_max;
  // RESOURCE_EXHAUSTED if send_queue_bytes_max would be exceeded (retry after replies
  // arrive); UNAVAILABLE once the connection is closed.
  absl::Status Send(std::string frame);

  // The next frame from the replica, waiting up to `timeout`. DEADLINE_EXCEEDED on
  // timeout; UNAVAILABLE (with the reason) once the connection is closed and every frame
  // received before the close has been taken.
  absl::StatusOr<std::string> Receive(std::chrono::milliseconds timeout);

  // Closes the connection now; pending Receive calls return UNAVAILABLE. Idempotent.
  void Close();

  bool is_open() const;
  // The replica's verified identity (set by a successful Connect).
  const pki::CertIdentity& server_identity() const;

  // The implementation, defined in the .cc file (public only so that file's helpers can
  // name it).
  class Impl;

 private:
  explicit ClientConnection(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace belfry::transport

#endif  // BELFRY_TRANSPORT_CLIENT_CONNECTION_H_
