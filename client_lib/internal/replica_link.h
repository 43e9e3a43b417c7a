// client_lib/internal/replica_link.h — the client's connection to one replica, kept up.
//
// A ReplicaLink owns a thread that dials the replica (mutual TLS, its certificate must be
// "replica-K"), hands every frame it receives to a listener, and when the connection
// drops or cannot be made, tries again with a growing pause (100 ms doubling to 2 s).
// Each time a connection comes up the listener hears OnLinkUp, so it can resend what is
// still unanswered: a replica answers on the connection a request came in on, so a reply
// meant for a dead connection is lost and must be asked for again.
//
// Thread-safety: Send, connected and last_error may be called from any thread. The
// listener is called on the link's own thread and must not call Stop.
#ifndef BELFRY_CLIENT_LIB_INTERNAL_REPLICA_LINK_H_
#define BELFRY_CLIENT_LIB_INTERNAL_REPLICA_LINK_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "transport/client_connection.h"

namespace belfry::client::internal {

class LinkListener {
 public:
  virtual ~LinkListener() = default;
  // A connection to `replica` was just established.
  virtual void OnLinkUp(uint32_t replica) = 0;
  // A frame arrived from `replica` (not yet parsed).
  virtual void OnLinkFrame(uint32_t replica, std::string frame) = 0;
};

class ReplicaLink {
 public:
  // `listener` must outlive the link.
  ReplicaLink(uint32_t replica, transport::ClientConnectionConfig config,
              LinkListener* listener);
  ~ReplicaLink();  // Stop()
  ReplicaLink(const ReplicaLink&) = delete;
  ReplicaLink& operator=(const ReplicaLink&) = delete;

  void Start();
  // Closes the connection and joins the thread (waits out a connect attempt in progress,
  // at most the connect timeout). Idempotent.
  void Stop();

  // Queues `frame` on the current connection. False when there is none or it refused the
  // frame; the caller relies on OnLinkUp to send it again.
  bool Send(const std::string& frame);
  bool connected() const;
  // Why the last connection attempt failed or the last connection closed ("" if none).
  std::string last_error() const;
  uint32_t replica() const { return replica_; }
  const std::string& address() const { return address_; }

 private:
  void Run();
  // Sleeps up to `ms` unless stopped; false once stopping.
  bool Pause(uint32_t ms);

  const uint32_t replica_;
  const transport::ClientConnectionConfig config_;
  const std::string address_;
  LinkListener* const listener_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::shared_ptr<transport::ClientConnection> connection_;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace belfry::client::internal

#endif  // BELFRY_CLIENT_LIB_INTERNAL_REPLICA_LINK_H_
