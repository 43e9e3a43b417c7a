#include "transport/client_server.h"

#include <atomic>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "transport/asio_util.h"
#include "transport/internal/frame_io.h"
#include "base/log.h"

namespace belfry::transport {
namespace {

constexpr const char* kComponent = "client_server";
// Replies coalesced into one write.
constexpr size_t kWriteBatchBytesMax = size_t{256} << 10;


struct AtomicCounters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> sessions_opened{0};
  std::atomic<uint64_t> refused_tls{0};
  std::atomic<uint64_t> refused_role{0};
  std::atomic<uint64_t> refused_capacity{0};
  std::atomic<uint64_t> refused_capacity_per_address{0};
  std::atomic<uint64_t> handshake_timeouts{0};
  std::atomic<uint64_t> oversized_frames{0};
  std::atomic<uint64_t> requests_received{0};
  std::atomic<uint64_t> request_bytes_received{0};
  std::atomic<uint64_t> replies_sent{0};
  std::atomic<uint64_t> reply_bytes_sent{0};
  std::atomic<uint64_t> replies_dropped{0};
  std::atomic<uint64_t> slow_reader_closes{0};
  std::atomic<uint64_t> closed_untrusted{0};
  std::atomic<uint64_t> reading_budget_waits{0};
  std::atomic<uint64_t> in_flight_pauses{0};
};

class ClientConn;

}  // namespace

class ClientServer::Impl {
 public:
  Impl(ClientServerConfig config, std::shared_ptr<asio::ssl::context> tls,
       RequestHandler on_request, DisconnectHandler on_disconnect)
      : config_(std::move(config)),
        work_(asio::make_work_guard(io_)),
        tls_(std::move(tls)),
        ca_(config_.credentials.ca),
        acceptor_(io_),
        accept_retry_timer_(io_),
        on_request_(std::move(on_request)),
        on_disconnect_(std::move(on_disconnect)) {}
  ~Impl() { Stop(); }

  absl::Status Listen();
  absl::Status Start();
  void Stop();
  absl::Status Send(ConnectionId id, std::string frame);
  void Disconnect(ConnectionId id);
  absl::Status UpdateCredentials(TlsCredentials credentials);
  ClientServerCounters Counters() const;
  uint16_t listen_port() const { return listen_port_.load(); }

  // For ClientConn (server thread only).
  const ClientServerConfig& config() const { return config_; }
  // The CA bundle users' certificates are checked against now (replaced on reload).
  const pki::CaBundle& ca() const { return *ca_; }
  AtomicCounters& counters() { return counters_; }
  void OnSessionOpened(ConnectionId id);
  void OnClosed(const std::shared_ptr<ClientConn>& conn, bool had_session);
  void DeliverRequest(ConnectionId id, const pki::CertIdentity& identity, std::string frame) {
    on_request_(id, identity, std::move(frame));
  }
  // The budget of request bytes being read (frame_bytes_reading_max). Reserve succeeds
  // when `bytes` fit, or when nothing is being read at all; otherwise the caller waits in
  // line (WaitForReadingBudget) and is resumed by a Release. Server thread only.
  bool ReserveReading(size_t bytes) {
    if (reading_bytes_ != 0 && reading_bytes_ + bytes > config_.frame_bytes_reading_max) return false;
    reading_bytes_ += bytes;
    return true;
  }
  void WaitForReadingBudget(const std::shared_ptr<ClientConn>& conn) { reading_waiters_.push_back(conn); }
  void ReleaseReading(size_t bytes);

 private:
  void RunIo();
  void DoAccept();
  void OnAccepted(asio::ip::tcp::socket socket);
  void CloseAll();

  const ClientServerConfig config_;
  asio::io_context io_;  // first: destroyed last
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::shared_ptr<asio::ssl::context> tls_;           // server thread once started
  std::shared_ptr<const pki::CaBundle> ca_;           // server thread once started
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;
  const RequestHandler on_request_;
  const DisconnectHandler on_disconnect_;
  AtomicCounters counters_;
  std::atomic<uint16_t> listen_port_{0};

  // Server thread only.
  size_t reading_bytes_ = 0;
  std::deque<std::weak_ptr<ClientConn>> reading_waiters_;
  std::map<ConnectionId, std::shared_ptr<ClientConn>> conns_;
  std::map<std::string, size_t> per_address_;
  ConnectionId next_id_ = 1;
  bool stopping_ = false;

  // Connections that reached the handler, for Send's quick NOT_FOUND; any thread.
  mutable std::mutex open_mu_;
  std::set<ConnectionId> open_ids_;

  std::mutex lifecycle_mu_;
  bool listening_ = false;
  bool started_ = false;
  bool stopped_ = false;
  std::thread thread_;

};

namespace {

// ClientConn: one user connection. Lives on the server thread, kept alive by its pending
// handlers and by the server's table.
class ClientConn : public std::enable_shared_from_this<ClientConn> {
 public:
  ClientConn(ClientServer::Impl* server, ConnectionId id, std::unique_ptr<SslStream> stream,
             std::shared_ptr<asio::ssl::context> tls, std::string remote, std::string remote_ip)
      : server_(server),
        id_(id),
        tls_(std::move(tls)),
        stream_(std::move(stream)),
        deadline_(stream_->get_executor()),
        remote_(std::move(remote)),
        remote_ip_(std::move(remote_ip)) {}

  ConnectionId id() const { return id_; }
  const std::string& remote_ip() const { return remote_ip_; }
  bool closed() const { return state_ == State::kClosed; }

  void Start() {
    deadline_.expires_after(std::chrono::milliseconds(server_->config().handshake_timeout_ms));
    deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec || self->state_ != State::kHandshaking) {
        return;
      }
      Bump(self->server_->counters().handshake_timeouts);
      self->Refuse("handshake_timeout", "no complete handshake in time");
    });
    stream_->async_handshake(asio::ssl::stream_base::server,
                             [self = shared_from_this()](const asio::error_code& ec) {
                               self->OnHandshake(ec);
                             });
  }

  // Queues a reply frame; releases the oldest unanswered request's in-flight bytes.
  void QueueReply(std::string frame) {
    if (closed()) {
      Bump(server_->counters().replies_dropped);
      return;
    }
    if (queued_bytes_ + frame.size() > server_->config().reply_bytes_queued_max) {
      Bump(server_->counters().replies_dropped);
      Bump(server_->counters().slow_reader_closes);
      Close("slow_reader", absl::StrCat(queued_bytes_, " reply bytes unread"));
      return;
    }
    queued_bytes_ += frame.size();
    std::string framed;
    framed.reserve(kFrameHeaderBytes + frame.size());
    internal::AppendFrameHeader(framed, static_cast<uint32_t>(frame.size()));
    framed.append(frame);
    pending_.push_back(std::move(framed));
    if (!outstanding_.empty()) {
      in_flight_bytes_ -= outstanding_.front();
      outstanding_.pop_front();
    }
    if (paused_ && in_flight_bytes_ < server_->config().request_bytes_in_flight_max &&
        outstanding_.size() < server_->config().requests_in_flight_max) {
      paused_ = false;
      ReadNext();
    }
    PumpWrites();
  }

  void ReleaseBudget() {
    if (reading_reserved_ == 0) return;
    const size_t bytes = reading_reserved_;
    reading_reserved_ = 0;
    server_->ReleaseReading(bytes);
  }

  // After a credential reload: an open connection whose certificate no longer verifies
  // under `ca` (revoked, expired, its CA removed) is closed. Returns whether it was.
  bool CloseIfUntrusted(const pki::CaBundle& ca, int64_t now_unix_s) {
    if (state_ != State::kOpen) {
      return false;
    }
    absl::StatusOr<pki::CertIdentity> id = PeerIdentity(stream_->native_handle(), ca, now_unix_s);
    if (id.ok()) {
      return false;
    }
    Close("certificate_no_longer_trusted", id.status().message());
    return true;
  }

  void Close(std::string_view reason, absl::string_view detail, bool log = true) {
    if (closed()) {
      return;
    }
    const bool had_session = state_ == State::kOpen;
    state_ = State::kClosed;
    deadline_.cancel();
    waiting_for_budget_ = 0;
    ReleaseBudget();
    asio::error_code ignored;
    stream_->lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_->lowest_layer().close(ignored);
    if (log) {
      LogLine line(LogLevel::kInfo, kComponent, "disconnect");
      line.Add("conn", id_).Add("remote", remote_).Add("reason", reason);
      if (had_session) {
        line.Add("user", identity_.common_name);
      }
      if (!detail.empty()) {
        line.Add("detail", detail);
      }
    }
    server_->OnClosed(shared_from_this(), had_session);
  }

  void Refuse(std::string_view reason, absl::string_view detail) {
    LogLine(LogLevel::kWarn, kComponent, "refused")
        .Add("conn", id_)
        .Add("remote", remote_)
        .Add("reason", reason)
        .Add("detail", detail);
    Close(reason, "", /*log=*/false);
  }

 private:
  enum class State : uint8_t { kHandshaking, kOpen, kClosed };

  void OnHandshake(const asio::error_code& ec) {
    if (closed()) {
      return;
    }
    if (ec) {
      Bump(server_->counters().refused_tls);
      Refuse("tls_handshake_failed", ec.message());
      return;
    }
    absl::StatusOr<pki::CertIdentity> id =
        PeerIdentity(stream_->native_handle(), server_->ca(), WallClockUnixSeconds());
    if (!id.ok()) {
      Bump(server_->counters().refused_tls);
      Refuse("bad_certificate", id.status().message());
      return;
    }
    if (id->role != pki::Role::kUser) {
      Bump(server_->counters().refused_role);
      Refuse("wrong_role",
             absl::StrCat("cn=", id->common_name, " role=", pki::RoleName(id->role)));
      return;
    }
    identity_ = std::move(*id);
    state_ = State::kOpen;
    deadline_.cancel();
    server_->OnSessionOpened(id_);
    LogLine(LogLevel::kInfo, kComponent, "connect")
        .Add("conn", id_)
        .Add("remote", remote_)
        .Add("user", identity_.common_name);
    ReadNext();
  }

  void ReadNext() {
    if (closed() || paused_) {
      return;
    }
    asio::async_read(*stream_, asio::buffer(header_),
                     [self = shared_from_this()](const asio::error_code& ec, size_t /*n*/) {
                       self->OnHeader(ec);
                     });
  }

  void OnHeader(const asio::error_code& ec) {
    if (closed()) {
      return;
    }
    if (ec) {
      Close(ec == asio::error::eof ? "client_closed" : "read_error", ec.message());
      return;
    }
    absl::StatusOr<uint32_t> len = DecodeFrameHeader(header_, server_->config().frame_bytes_max);
    if (!len.ok()) {
      Bump(server_->counters().oversized_frames);
      Close("oversized_frame", len.status().message());
      return;
    }
    if (!server_->ReserveReading(*len)) {
      Bump(server_->counters().reading_budget_waits);
      waiting_for_budget_ = *len;
      server_->WaitForReadingBudget(shared_from_this());
      return;
    }
    ReadBody(*len);
  }


 public:
  // For the server's reading budget: the length of the frame this connection waits to
  // read (false if it no longer waits), and the go-ahead once `len` bytes are reserved
  // for it (released again if it closed meanwhile).
  bool TakeBudgetTurn(size_t* bytes) const {
    if (closed() || waiting_for_budget_ == 0) return false;
    *bytes = waiting_for_budget_;
    return true;
  }
  void BudgetGranted(size_t len) {
    if (closed() || waiting_for_budget_ != len) {
      server_->ReleaseReading(len);
      return;
    }
    waiting_for_budget_ = 0;
    ReadBody(len);
  }

 private:

  void ReadBody(size_t len) {
    reading_reserved_ = len;
    body_.resize(len);
    asio::async_read(*stream_, asio::buffer(body_),
                     [self = shared_from_this()](const asio::error_code& ec, size_t /*n*/) {
                       self->OnFrame(ec);
                     });
  }

  void OnFrame(const asio::error_code& ec) {
    if (closed()) {
      return;
    }
    if (ec) {
      Close(ec == asio::error::eof ? "client_closed" : "read_error", ec.message());
      return;
    }
    const size_t size = body_.size();
    Bump(server_->counters().requests_received);
    Bump(server_->counters().request_bytes_received, kFrameHeaderBytes + size);
    in_flight_bytes_ += size;
    outstanding_.push_back(size);
    std::string frame;
    frame.swap(body_);
    ReleaseBudget();
    server_->DeliverRequest(id_, identity_, std::move(frame));
    if (in_flight_bytes_ >= server_->config().request_bytes_in_flight_max ||
        outstanding_.size() >= server_->config().requests_in_flight_max) {
      // Resumes when replies bring the unanswered requests down: a client that pipelines
      // thousands is read no faster than it is served, and TCP pushes back on it.
      paused_ = true;
      Bump(server_->counters().in_flight_pauses);
      return;
    }
    ReadNext();
  }

  void PumpWrites() {
    if (closed() || writing_ || pending_.empty()) {
      return;
    }
    write_buf_.clear();
    uint64_t frames = 0;
    while (!pending_.empty() &&
           (write_buf_.empty() || write_buf_.size() + pending_.front().size() <= kWriteBatchBytesMax)) {
      write_buf_.append(pending_.front());
      pending_.pop_front();
      ++frames;
    }
    writing_ = true;
    asio::async_write(*stream_, asio::buffer(write_buf_),
                      [self = shared_from_this(), frames](const asio::error_code& ec, size_t n) {
                        self->writing_ = false;
                        if (self->closed()) {
                          return;
                        }
                        if (ec) {
                          self->Close("write_error", ec.message());
                          return;
                        }
                        self->queued_bytes_ -= std::min<size_t>(
                            self->queued_bytes_, n - frames * kFrameHeaderBytes);
                        Bump(self->server_->counters().replies_sent, frames);
                        Bump(self->server_->counters().reply_bytes_sent, n);
                        if (self->write_buf_.capacity() > 4 * kWriteBatchBytesMax) {
                          std::string().swap(self->write_buf_);
                        }
                        self->PumpWrites();
                      });
  }

  ClientServer::Impl* const server_;
  const ConnectionId id_;
  std::shared_ptr<asio::ssl::context> tls_;  // outlives the SSL object made from it
  std::unique_ptr<SslStream> stream_;
  asio::steady_timer deadline_;
  const std::string remote_;
  const std::string remote_ip_;
  State state_ = State::kHandshaking;
  pki::CertIdentity identity_;

  FrameHeader header_{};
  std::string body_;
  size_t reading_reserved_ = 0;     // of the server's reading budget, for body_
  size_t waiting_for_budget_ = 0;   // a frame's length, while waiting for the budget
  size_t in_flight_bytes_ = 0;
  std::deque<size_t> outstanding_;  // sizes of unanswered requests, oldest first
  bool paused_ = false;

  std::deque<std::string> pending_;  // framed replies not yet written
  size_t queued_bytes_ = 0;          // reply payload bytes queued or being written
  std::string write_buf_;
  bool writing_ = false;
};

}  // namespace

absl::Status ClientServer::Impl::Listen() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_ || started_) {
    return absl::FailedPreconditionError("Listen after Start or Stop");
  }
  if (listening_) {
    return absl::OkStatus();
  }
  absl::StatusOr<uint16_t> bound =
      OpenListener(acceptor_, config_.listen_host, config_.listen_port);
  if (!bound.ok()) {
    return bound.status();
  }
  listen_port_ = *bound;
  listening_ = true;
  LogLine(LogLevel::kInfo, kComponent, "listen")
      .Add("addr", absl::StrCat(config_.listen_host, ":", *bound));
  return absl::OkStatus();
}

absl::Status ClientServer::Impl::Start() {
  absl::Status listening = Listen();
  if (!listening.ok()) {
    return listening;
  }
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_ || started_) {
    return absl::FailedPreconditionError("ClientServer can be started once");
  }
  asio::post(io_, [this] { DoAccept(); });
  try {
    thread_ = std::thread([this] { RunIo(); });
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot start the server thread: ", e.what()));
  }
  started_ = true;
  return absl::OkStatus();
}

void ClientServer::Impl::RunIo() {
  // A handler that throws is a bug (the request handler included); stop loudly rather
  // than leave a replica that silently stopped serving clients.
  try {
    io_.run();
  } catch (const std::exception& e) {
    LogLine(LogLevel::kWarn, kComponent, "fatal").Add("detail", e.what());
    BELFRY_CHECK(false && "exception escaped a client server handler");
  }
}

void ClientServer::Impl::Stop() {
  bool was_started = false;
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (stopped_) {
      return;
    }
    stopped_ = true;
    was_started = started_;
  }
  if (!was_started) {
    asio::error_code ignored;
    acceptor_.close(ignored);
    return;
  }
  asio::post(io_, [this] {
    CloseAll();
    io_.stop();
  });
  thread_.join();
  // Run the aborted operations' completions here so every connection is released.
  try {
    io_.restart();
    io_.poll();
  } catch (const std::exception& e) {
    LogLine(LogLevel::kWarn, kComponent, "stop_error").Add("detail", e.what());
  }
  LogLine(LogLevel::kInfo, kComponent, "stopped");
}

void ClientServer::Impl::CloseAll() {
  stopping_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_timer_.cancel();
  const std::map<ConnectionId, std::shared_ptr<ClientConn>> conns = conns_;
  for (const auto& [id, conn] : conns) {
    conn->Close("shutdown", "");
  }
  work_.reset();
}

void ClientServer::Impl::DoAccept() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (stopping_) {
      return;
    }
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        return;
      }
      LogLine(LogLevel::kWarn, kComponent, "accept_error").Add("detail", ec.message());
      accept_retry_timer_.expires_after(std::chrono::milliseconds(100));
      accept_retry_timer_.async_wait([this](const asio::error_code& ec2) {
        if (!ec2 && !stopping_) {
          DoAccept();
        }
      });
      return;
    }
    OnAccepted(std::move(socket));
    DoAccept();
  });
}

void ClientServer::Impl::OnAccepted(asio::ip::tcp::socket socket) {
  Bump(counters_.connections_accepted);
  const std::string remote = RemoteOf(socket);
  const std::string remote_ip = RemoteIpOf(socket);
  const char* refusal = nullptr;
  bool per_address = false;
  if (conns_.size() >= config_.connections_max) {
    refusal = "too_many_connections";
  } else if (per_address_[remote_ip] >= config_.connections_per_address_max) {
    refusal = "too_many_connections_from_address";
    per_address = true;
  }
  if (refusal != nullptr) {
    if (per_address_[remote_ip] == 0) {
      per_address_.erase(remote_ip);
    }
    Bump(counters_.refused_capacity);
    if (per_address) {
      Bump(counters_.refused_capacity_per_address);
    }
    LogLine(LogLevel::kWarn, kComponent, "refused").Add("remote", remote).Add("reason", refusal);
    asio::error_code ignored;
    socket.close(ignored);
    return;
  }
  asio::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  absl::StatusOr<std::unique_ptr<SslStream>> stream = MakeStream(std::move(socket), *tls_);
  if (!stream.ok()) {
    LogLine(LogLevel::kWarn, kComponent, "refused")
        .Add("remote", remote)
        .Add("reason", "internal")
        .Add("detail", stream.status().message());
    return;
  }
  const ConnectionId id = next_id_++;
  auto conn = std::make_shared<ClientConn>(this, id, std::move(*stream), tls_, remote, remote_ip);
  conns_.emplace(id, conn);
  ++per_address_[remote_ip];
  counters_.connections_open.store(conns_.size(), std::memory_order_relaxed);
  conn->Start();
}

void ClientServer::Impl::ReleaseReading(size_t bytes) {
  reading_bytes_ -= std::min(reading_bytes_, bytes);
  // Wake waiters in order while their frames fit: first come, first read.
  while (!reading_waiters_.empty()) {
    std::shared_ptr<ClientConn> conn = reading_waiters_.front().lock();
    size_t wanted = 0;
    if (!conn || !conn->TakeBudgetTurn(&wanted)) {
      reading_waiters_.pop_front();
      continue;
    }
    if (!ReserveReading(wanted)) break;
    reading_waiters_.pop_front();
    // Posted: granting runs the waiter's read, which must not nest inside another
    // connection's handler that is still releasing.
    asio::post(io_, [conn, wanted] { conn->BudgetGranted(wanted); });
  }
}

void ClientServer::Impl::OnSessionOpened(ConnectionId id) {
  Bump(counters_.sessions_opened);
  std::lock_guard<std::mutex> lock(open_mu_);
  open_ids_.insert(id);
}

void ClientServer::Impl::OnClosed(const std::shared_ptr<ClientConn>& conn, bool had_session) {
  conns_.erase(conn->id());
  auto it = per_address_.find(conn->remote_ip());
  if (it != per_address_.end() && --it->second == 0) {
    per_address_.erase(it);
  }
  counters_.connections_open.store(conns_.size(), std::memory_order_relaxed);
  if (had_session) {
    {
      std::lock_guard<std::mutex> lock(open_mu_);
      open_ids_.erase(conn->id());
    }
    if (on_disconnect_ && !stopping_) {
      on_disconnect_(conn->id());
    }
  }
}

absl::Status ClientServer::Impl::Send(ConnectionId id, std::string frame) {
  if (frame.size() > config_.frame_bytes_max) {
    return absl::InvalidArgumentError(absl::StrCat("reply of ", frame.size(),
                                                   " bytes exceeds frame_bytes_max of ",
                                                   config_.frame_bytes_max));
  }
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    if (open_ids_.count(id) == 0) {
      Bump(counters_.replies_dropped);
      return absl::NotFoundError(absl::StrCat("connection ", id, " is gone"));
    }
  }
  asio::post(io_, [this, id, frame = std::move(frame)]() mutable {
    auto it = conns_.find(id);
    if (it == conns_.end()) {
      Bump(counters_.replies_dropped);  // Closed after the check above.
      return;
    }
    it->second->QueueReply(std::move(frame));
  });
  return absl::OkStatus();
}

void ClientServer::Impl::Disconnect(ConnectionId id) {
  asio::post(io_, [this, id] {
    auto it = conns_.find(id);
    if (it != conns_.end()) {
      it->second->Close("disconnected_by_replica", "");
    }
  });
}

absl::Status ClientServer::Impl::UpdateCredentials(TlsCredentials credentials) {
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> tls =
      MakeTlsContext(credentials, TlsSide::kServer);
  if (!tls.ok()) {
    return tls.status();
  }
  auto apply = [this, &tls, &credentials] {
    tls_ = std::move(*tls);
    ca_ = credentials.ca;
    const int64_t now = WallClockUnixSeconds();
    const std::map<ConnectionId, std::shared_ptr<ClientConn>> conns = conns_;
    for (const auto& [id, conn] : conns) {
      if (conn->CloseIfUntrusted(*ca_, now)) {
        Bump(counters_.closed_untrusted);
      }
    }
  };
  absl::Status applied = RunOnIoThread(lifecycle_mu_, started_, stopped_, io_, apply);
  if (!applied.ok()) {
    return absl::FailedPreconditionError("UpdateCredentials after Stop");
  }
  LogLine(LogLevel::kInfo, kComponent, "credentials_updated");
  return absl::OkStatus();
}

ClientServerCounters ClientServer::Impl::Counters() const {
  ClientServerCounters out;
  out.connections_accepted = counters_.connections_accepted.load();
  out.connections_open = counters_.connections_open.load();
  out.sessions_opened = counters_.sessions_opened.load();
  out.refused_tls = counters_.refused_tls.load();
  out.refused_role = counters_.refused_role.load();
  out.refused_capacity = counters_.refused_capacity.load();
  out.refused_capacity_per_address = counters_.refused_capacity_per_address.load();
  out.handshake_timeouts = counters_.handshake_timeouts.load();
  out.oversized_frames = counters_.oversized_frames.load();
  out.requests_received = counters_.requests_received.load();
  out.request_bytes_received = counters_.request_bytes_received.load();
  out.replies_sent = counters_.replies_sent.load();
  out.reply_bytes_sent = counters_.reply_bytes_sent.load();
  out.replies_dropped = counters_.replies_dropped.load();
  out.slow_reader_closes = counters_.slow_reader_closes.load();
  out.closed_untrusted = counters_.closed_untrusted.load();
  out.reading_budget_waits = counters_.reading_budget_waits.load();
  out.in_flight_pauses = counters_.in_flight_pauses.load();
  return out;
}

// --- ClientServer: the public face. ---

absl::StatusOr<std::unique_ptr<ClientServer>> ClientServer::Create(ClientServerConfig config,
                                                                   RequestHandler on_request,
                                                                   DisconnectHandler on_disconnect) {
  if (!on_request) {
    return absl::InvalidArgumentError("ClientServer needs a request handler");
  }
  if (config.connections_max == 0 || config.connections_per_address_max == 0 ||
      config.frame_bytes_max == 0 || config.frame_bytes_max > kFrameBytesMaxLimit ||
      config.request_bytes_in_flight_max == 0 || config.reply_bytes_queued_max == 0 ||
      config.requests_in_flight_max == 0 || config.frame_bytes_reading_max == 0 ||
      config.handshake_timeout_ms == 0) {
    return absl::InvalidArgumentError("a ClientServer limit is zero or out of range");
  }
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> tls =
      MakeTlsContext(config.credentials, TlsSide::kServer);
  if (!tls.ok()) {
    return tls.status();
  }
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(std::move(config), std::move(*tls), std::move(on_request),
                                  std::move(on_disconnect));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot create the client server: ", e.what()));
  }
  return std::unique_ptr<ClientServer>(new ClientServer(std::move(impl)));
}

ClientServer::ClientServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientServer::~ClientServer() { impl_->Stop(); }
absl::Status ClientServer::Listen() { return impl_->Listen(); }
uint16_t ClientServer::listen_port() const { return impl_->listen_port(); }
absl::Status ClientServer::Start() { return impl_->Start(); }
absl::Status ClientServer::Send(ConnectionId id, std::string frame) {
  return impl_->Send(id, std::move(frame));
}
void ClientServer::Disconnect(ConnectionId id) { impl_->Disconnect(id); }
absl::Status ClientServer::UpdateCredentials(TlsCredentials credentials) {
  return impl_->UpdateCredentials(std::move(credentials));
}
void ClientServer::Stop() { impl_->Stop(); }
ClientServerCounters ClientServer::counters() const { return impl_->Counters(); }

}  // namespace belfry::transport
