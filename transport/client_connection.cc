#include "transport/client_connection.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "transport/asio_util.h"
#include "transport/internal/frame_io.h"
#include "base/log.h"

namespace belfry::transport {
namespace {

constexpr const char* kComponent = "client_conn";
constexpr size_t kWriteBatchBytesMax = size_t{256} << 10;

}  // namespace

class ClientConnection::Impl : public std::enable_shared_from_this<Impl> {
 public:
  // May throw (SSL_new failing); Connect catches that.
  Impl(ClientConnectionConfig config, std::shared_ptr<asio::ssl::context> tls)
      : config_(std::move(config)),
        tls_(std::move(tls)),
        stream_(std::make_unique<SslStream>(io_, *tls_)),
        resolver_(io_),
        deadline_(io_) {}

  // Starts the thread and the connect sequence, and waits for its outcome.
  absl::Status Connect() {
    work_.emplace(asio::make_work_guard(io_));
    try {
      thread_ = std::thread([this] { RunIo(); });
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("cannot start the connection thread: ", e.what()));
    }
    asio::post(io_, [self = shared_from_this()] { self->BeginConnect(); });
    std::unique_lock<std::mutex> lock(mu_);
    // The deadline timer on the connection thread ends the attempt; the extra second
    // only guards against a bug leaving this wait unbounded.
    const bool done = cv_.wait_for(lock, std::chrono::milliseconds(config_.connect_timeout_ms) +
                                             std::chrono::seconds(1),
                                   [this] { return state_ != State::kConnecting; });
    if (!done) {
      return absl::DeadlineExceededError("connect did not finish");
    }
    return state_ == State::kOpen ? absl::OkStatus() : close_reason_;
  }

  // Closes the connection and joins the thread. Idempotent; never from the thread itself.
  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shut_down_) {
        return;
      }
      shut_down_ = true;
    }
    if (!thread_.joinable()) {
      return;
    }
    asio::post(io_, [this] {
      Fail(absl::UnavailableError("connection closed by this client"), "closed_by_client");
      work_.reset();
      io_.stop();
    });
    thread_.join();
    // Run the aborted operations' completions so nothing refers to this object later.
    try {
      io_.restart();
      io_.poll();
    } catch (const std::exception& e) {
      LogLine(LogLevel::kWarn, kComponent, "stop_error").Add("detail", e.what());
    }
  }

  absl::Status Send(std::string frame) {
    if (frame.size() > config_.frame_bytes_max) {
      return absl::InvalidArgumentError(absl::StrCat("frame of ", frame.size(),
                                                     " bytes exceeds frame_bytes_max of ",
                                                     config_.frame_bytes_max));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != State::kOpen) {
      return close_reason_.ok() ? absl::UnavailableError("not connected") : close_reason_;
    }
    if (send_bytes_ + frame.size() > config_.send_queue_bytes_max) {
      return absl::ResourceExhaustedError(
          absl::StrCat("send queue full (", send_bytes_, " bytes not yet written)"));
    }
    send_bytes_ += frame.size();
    std::string framed;
    framed.reserve(kFrameHeaderBytes + frame.size());
    internal::AppendFrameHeader(framed, static_cast<uint32_t>(frame.size()));
    framed.append(frame);
    send_queue_.push_back(std::move(framed));
    if (!pump_posted_) {
      pump_posted_ = true;
      asio::post(io_, [self = shared_from_this()] { self->PumpWrites(); });
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Receive(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout,
                 [this] { return !recv_queue_.empty() || state_ == State::kClosed; });
    if (!recv_queue_.empty()) {
      std::string frame = std::move(recv_queue_.front());
      recv_queue_.pop_front();
      recv_bytes_ -= frame.size();
      if (read_paused_ && recv_bytes_ < config_.receive_queue_bytes_max &&
          state_ == State::kOpen) {
        read_paused_ = false;
        asio::post(io_, [self = shared_from_this()] { self->ReadNext(); });
      }
      return frame;
    }
    if (state_ == State::kClosed) {
      return close_reason_;
    }
    return absl::DeadlineExceededError("no frame from the replica in time");
  }

  bool is_open() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_ == State::kOpen;
  }

  const pki::CertIdentity& server_identity() const { return server_identity_; }

 private:
  enum class State : uint8_t { kConnecting, kOpen, kClosed };

  void RunIo() {
    try {
      io_.run();
    } catch (const std::exception& e) {
      LogLine(LogLevel::kWarn, kComponent, "fatal").Add("detail", e.what());
      BELFRY_CHECK(false && "exception escaped a client connection handler");
    }
  }

  void BeginConnect() {
    deadline_.expires_after(std::chrono::milliseconds(config_.connect_timeout_ms));
    deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec) {
        return;
      }
      self->Fail(absl::DeadlineExceededError("connect timed out"), "connect_timeout");
    });
    resolver_.async_resolve(
        config_.host, std::to_string(config_.port),
        [self = shared_from_this()](const asio::error_code& ec,
                                    asio::ip::tcp::resolver::results_type results) {
          if (self->closed_io_) {
            return;
          }
          if (ec) {
            self->Fail(absl::UnavailableError(absl::StrCat("cannot resolve ", self->config_.host,
                                                           ": ", ec.message())),
                       "resolve_failed");
            return;
          }
          asio::async_connect(
              self->stream_->lowest_layer(), results,
              [self](const asio::error_code& ec2, const asio::ip::tcp::endpoint& /*ep*/) {
                self->OnConnected(ec2);
              });
        });
  }

  void OnConnected(const asio::error_code& ec) {
    if (closed_io_) {
      return;
    }
    if (ec) {
      Fail(absl::UnavailableError(absl::StrCat("cannot connect to ", Address(), ": ",
                                               ec.message())),
           "connect_failed");
      return;
    }
    asio::error_code ignored;
    stream_->lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
    stream_->async_handshake(asio::ssl::stream_base::client,
                             [self = shared_from_this()](const asio::error_code& ec2) {
                               self->OnHandshake(ec2);
                             });
  }

  void OnHandshake(const asio::error_code& ec) {
    if (closed_io_) {
      return;
    }
    if (ec) {
      Fail(absl::UnavailableError(absl::StrCat("TLS handshake with ", Address(),
                                               " failed: ", ec.message())),
           "tls_handshake_failed");
      return;
    }
    absl::StatusOr<pki::CertIdentity> id = PeerIdentity(
        stream_->native_handle(), *config_.credentials.ca, WallClockUnixSeconds());
    if (!id.ok()) {
      Fail(absl::PermissionDeniedError(absl::StrCat("server certificate refused: ",
                                                    id.status().message())),
           "bad_server_certificate");
      return;
    }
    if (id->role != pki::Role::kReplica ||
        (!config_.expected_server_name.empty() &&
         id->common_name != config_.expected_server_name)) {
      Fail(absl::PermissionDeniedError(
               absl::StrCat("server at ", Address(), " is ", id->common_name, " (",
                            pki::RoleName(id->role), "), not the expected replica")),
           "wrong_server_identity");
      return;
    }
    deadline_.cancel();
    {
      std::lock_guard<std::mutex> lock(mu_);
      server_identity_ = std::move(*id);
      state_ = State::kOpen;
    }
    cv_.notify_all();
    LogLine(LogLevel::kInfo, kComponent, "connect")
        .Add("remote", Address())
        .Add("server", server_identity_.common_name);
    ReadNext();
    PumpWrites();
  }

  void ReadNext() {
    if (closed_io_) {
      return;
    }
    internal::AsyncReadFrame(*stream_, header_, body_, config_.frame_bytes_max,
                             [self = shared_from_this()](const asio::error_code& ec,
                                                         const absl::Status& framing) {
                               self->OnFrame(ec, framing);
                             });
  }

  void OnFrame(const asio::error_code& ec, const absl::Status& framing) {
    if (closed_io_) {
      return;
    }
    if (ec) {
      Fail(absl::UnavailableError(absl::StrCat("replica closed the connection: ",
                                               ec.message())),
           ec == asio::error::eof ? "server_closed" : "read_error");
      return;
    }
    if (!framing.ok()) {
      Fail(absl::UnavailableError(absl::StrCat("replica sent an oversized frame: ",
                                               framing.message())),
           "oversized_frame");
      return;
    }
    bool pause = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      recv_bytes_ += body_.size();
      recv_queue_.push_back(std::move(body_));
      body_.clear();
      pause = recv_bytes_ >= config_.receive_queue_bytes_max;
      read_paused_ = pause;
    }
    cv_.notify_one();
    if (!pause) {
      ReadNext();
    }
  }

  void PumpWrites() {
    if (closed_io_ || writing_) {
      std::lock_guard<std::mutex> lock(mu_);
      pump_posted_ = false;
      return;
    }
    size_t payload_bytes = 0;
    write_buf_.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      pump_posted_ = false;
      if (state_ != State::kOpen) {
        return;
      }
      while (!send_queue_.empty() &&
             (write_buf_.empty() ||
              write_buf_.size() + send_queue_.front().size() <= kWriteBatchBytesMax)) {
        payload_bytes += send_queue_.front().size() - kFrameHeaderBytes;
        write_buf_.append(send_queue_.front());
        send_queue_.pop_front();
      }
    }
    if (write_buf_.empty()) {
      return;
    }
    writing_ = true;
    asio::async_write(*stream_, asio::buffer(write_buf_),
                      [self = shared_from_this(), payload_bytes](const asio::error_code& ec,
                                                                 size_t /*n*/) {
                        self->writing_ = false;
                        if (self->closed_io_) {
                          return;
                        }
                        if (ec) {
                          self->Fail(absl::UnavailableError(absl::StrCat(
                                         "cannot write to the replica: ", ec.message())),
                                     "write_error");
                          return;
                        }
                        {
                          std::lock_guard<std::mutex> lock(self->mu_);
                          self->send_bytes_ -= payload_bytes;
                        }
                        self->PumpWrites();
                      });
  }

  // Ends the connection with `reason` (network thread only).
  void Fail(absl::Status reason, std::string_view event_reason) {
    if (closed_io_) {
      return;
    }
    closed_io_ = true;
    bool was_open = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      was_open = state_ == State::kOpen;
      state_ = State::kClosed;
      close_reason_ = reason;
    }
    cv_.notify_all();
    deadline_.cancel();
    resolver_.cancel();
    asio::error_code ignored;
    stream_->lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_->lowest_layer().close(ignored);
    LogLine(was_open ? LogLevel::kInfo : LogLevel::kWarn, kComponent,
            was_open ? "disconnect" : "connect_failed")
        .Add("remote", Address())
        .Add("reason", event_reason)
        .Add("detail", reason.message());
  }

  std::string Address() const { return absl::StrCat(config_.host, ":", config_.port); }

  const ClientConnectionConfig config_;
  asio::io_context io_;  // before everything that uses it
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::unique_ptr<SslStream> stream_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer deadline_;
  std::thread thread_;

  // Network thread only.
  bool closed_io_ = false;
  bool writing_ = false;
  FrameHeader header_{};
  std::string body_;
  std::string write_buf_;

  // Shared with callers; guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kConnecting;
  absl::Status close_reason_;
  bool shut_down_ = false;
  bool pump_posted_ = false;
  bool read_paused_ = false;
  std::deque<std::string> send_queue_;
  size_t send_bytes_ = 0;
  std::deque<std::string> recv_queue_;
  size_t recv_bytes_ = 0;
  pki::CertIdentity server_identity_;  // written once, before state_ becomes kOpen
};

absl::StatusOr<std::unique_ptr<ClientConnection>> ClientConnection::Connect(
    ClientConnectionConfig config) {
  if (config.port == 0 || config.host.empty() || config.frame_bytes_max == 0 ||
      config.frame_bytes_max > kFrameBytesMaxLimit || config.connect_timeout_ms == 0 ||
      config.send_queue_bytes_max == 0 || config.receive_queue_bytes_max == 0) {
    return absl::InvalidArgumentError("a ClientConnection setting is zero or out of range");
  }
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> tls =
      MakeTlsContext(config.credentials, TlsSide::kClient);
  if (!tls.ok()) {
    return tls.status();
  }
  std::shared_ptr<Impl> impl;
  try {
    impl = std::make_shared<Impl>(std::move(config), *tls);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot create the connection: ", e.what()));
  }
  absl::Status connected = impl->Connect();
  if (!connected.ok()) {
    impl->Shutdown();
    return connected;
  }
  return std::unique_ptr<ClientConnection>(new ClientConnection(std::move(impl)));
}

ClientConnection::ClientConnection(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientConnection::~ClientConnection() { impl_->Shutdown(); }
absl::Status ClientConnection::Send(std::string frame) { return impl_->Send(std::move(frame)); }
absl::StatusOr<std::string> ClientConnection::Receive(std::chrono::milliseconds timeout) {
  return impl_->Receive(timeout);
}
void ClientConnection::Close() { impl_->Shutdown(); }
bool ClientConnection::is_open() const { return impl_->is_open(); }
const pki::CertIdentity& ClientConnection::server_identity() const {
  return impl_->server_identity();
}

}  // namespace belfry::transport
