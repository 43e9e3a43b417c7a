#include "metrics/http_server.h"

#include <asio.hpp>
#include <atomic>
#include <charconv>
#include <variant>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "transport/asio_util.h"

namespace belfry::metrics {
namespace {

using transport::Bump;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

bool SafeHeaderText(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string Serialize(const HttpResponse& r) {
  BELFRY_CHECK(SafeHeaderText(r.content_type));
  std::string extra;
  for (const auto& [name, value] : r.headers) {
    BELFRY_CHECK(!name.empty() && SafeHeaderText(name) && name.find(':') == std::string::npos);
    BELFRY_CHECK(SafeHeaderText(value));
    absl::StrAppend(&extra, name, ": ", value, "\r\n");
  }
  return absl::StrCat("HTTP/1.1 ", r.status, " ", Reason(r.status), "\r\nContent-Type: ",
                      r.content_type, "\r\nContent-Length: ", r.body.size(),
                      "\r\nConnection: close\r\nCache-Control: no-store\r\n", extra, "\r\n",
                      r.body);
}

HttpResponse PlainError(int status, std::string body) {
  return {.status = status, .content_type = "text/plain; charset=utf-8", .body = std::move(body)};
}

// The body length Content-Length announces, or the error to answer with (RFC 9112 §6).
// Only digits are a length; "5, 5" (a list a proxy may fold) is refused like any
// other ambiguity.
std::variant<size_t, HttpResponse> BodyLength(const HttpRequestHead& head, size_t body_bytes_max) {
  if (head.Field("transfer-encoding").has_value()) {
    return PlainError(411, "Transfer-Encoding is not taken; send Content-Length\n");
  }
  const std::optional<std::string_view> length = head.Field("content-length");
  if (!length.has_value()) return PlainError(411, "Content-Length required\n");
  if (length->empty()) return PlainError(400, "bad Content-Length\n");
  for (char c : *length) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return PlainError(400, "bad Content-Length\n");
    }
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(length->data(), length->data() + length->size(), value);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && value > body_bytes_max)) {
    return PlainError(413, "body too large\n");
  }
  if (ec != std::errc() || end != length->data() + length->size()) {
    return PlainError(400, "bad Content-Length\n");
  }
  return static_cast<size_t>(value);
}

// Lets other threads hand answers to the server thread until Stop, and never after:
// the io_context may be gone by then.
struct ReplyGate {
  std::mutex mu;
  asio::io_context* io = nullptr;  // guarded by mu; nullptr once stopped
};

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerConfig config, HttpService service)
      : config_(std::move(config)), service_(std::move(service)), acceptor_(io_),
        gate_(std::make_shared<ReplyGate>()) {
    gate_->io = &io_;
  }
  ~Impl() { Stop(); }

  absl::Status Listen() {
    absl::StatusOr<uint16_t> port = transport::OpenListener(acceptor_, config_.host,
                                                                       config_.port);
    if (!port.ok()) return port.status();
    port_ = *port;
    return absl::OkStatus();
  }

  absl::Status Start() {
    if (started_.exchange(true)) return absl::FailedPreconditionError("already started");
    if (stopped_.load()) return absl::FailedPreconditionError("stopped");
    Accept();
    thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    {
      std::lock_guard<std::mutex> lock(gate_->mu);
      gate_->io = nullptr;
    }
    if (!thread_.joinable()) {
      asio::error_code ignored;
      acceptor_.close(ignored);
      return;
    }
    // Closing happens on the server thread, which owns the sockets; the thread then
    // ends and whatever handlers are left die with io_.
    asio::post(io_, [this] {
      asio::error_code ignored;
      acceptor_.close(ignored);
      for (const std::shared_ptr<Connection>& c : open_) {
        c->finished = true;
        c->socket.close(ignored);
        c->deadline.cancel();
      }
      open_.clear();
      io_.stop();
    });
    thread_.join();
  }

  uint16_t port() const { return port_; }
  HttpServerCounters counters() const {
    return {.requests = requests_.load(),
            .refused_capacity = refused_capacity_.load(),
            .bad_requests = bad_requests_.load(),
            .reply_timeouts = reply_timeouts_.load()};
  }

 private:
  enum class Phase : uint8_t { kRead, kHandle, kWrite };

  struct Connection {
    explicit Connection(asio::io_context& io) : socket(io), deadline(io) {}
    asio::ip::tcp::socket socket;
    asio::steady_timer deadline;
    Phase phase = Phase::kRead;
    uint64_t deadline_seq = 0;  // which arming of `deadline` is current
    bool finished = false;
    std::string in;  // the head, and whatever of the body came with it
    HttpRequest request;
    size_t body_bytes = 0;
    std::string out;
  };
  using ConnectionPtr = std::shared_ptr<Connection>;

  void Accept() {
    acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        if (open_.size() >= config_.connections_max) {
          Bump(refused_capacity_);
          asio::error_code ignored;
          socket.close(ignored);
        } else {
          Serve(std::move(socket));
        }
      }
      Accept();
    });
  }

  // Arms the connection's one timer; an earlier arming that fires late is ignored.
  void Arm(const ConnectionPtr& c, uint32_t ms) {
    const uint64_t seq = ++c->deadline_seq;
    c->deadline.expires_after(std::chrono::milliseconds(ms));
    c->deadline.async_wait([this, c, seq](const asio::error_code& ec) {
      if (ec || c->finished || seq != c->deadline_seq) return;
      switch (c->phase) {
        case Phase::kRead:
          Bump(bad_requests_);
          Finish(c);
          return;
        case Phase::kHandle:
          Bump(reply_timeouts_);
          Respond(c, service_.reply_timeout_response);
          return;
        case Phase::kWrite:
          Finish(c);
          return;
      }
    });
  }

  void Serve(asio::ip::tcp::socket socket) {
    auto c = std::make_shared<Connection>(io_);
    c->socket = std::move(socket);
    open_.insert(c);
    Arm(c, config_.request_timeout_ms);
    asio::async_read_until(
        c->socket, asio::dynamic_buffer(c->in, config_.request_bytes_max), "\r\n\r\n",
        [this, c](const asio::error_code& ec, size_t head_bytes) {
          if (c->finished) return;
          if (ec) {
            Bump(bad_requests_);
            if (c->in.size() < config_.request_bytes_max) {
              Finish(c);  // closed or timed out: nothing to answer
              return;
            }
            Respond(c, PlainError(400, "request too large\n"));
            return;
          }
          OnHead(c, head_bytes);
        });
  }

  void OnHead(const ConnectionPtr& c, size_t head_bytes) {
    absl::StatusOr<HttpRequestHead> head =
        ParseHttpRequestHead(std::string_view(c->in).substr(0, head_bytes - 4));
    if (!head.ok()) {
      Bump(bad_requests_);
      Respond(c, PlainError(400, "bad request\n"));
      return;
    }
    if (std::optional<HttpResponse> early = service_.admit(*head); early.has_value()) {
      Bump(bad_requests_);
      Respond(c, std::move(*early));
      return;
    }
    c->request.head = std::move(*head);
    if (config_.body_bytes_max == 0) {
      Handle(c);
      return;
    }
    std::variant<size_t, HttpResponse> length = BodyLength(c->request.head, config_.body_bytes_max);
    if (auto* refusal = std::get_if<HttpResponse>(&length)) {
      Bump(bad_requests_);
      Respond(c, std::move(*refusal));
      return;
    }
    c->body_bytes = std::get<size_t>(length);
    // Bytes past the head that arrived with it; any past the body are ignored (one
    // request per connection).
    c->request.body = c->in.substr(head_bytes, c->body_bytes);
    c->in.clear();
    if (c->request.body.size() == c->body_bytes) {
      Handle(c);
      return;
    }
    const std::optional<std::string_view> expect = c->request.head.Field("expect");
    if (expect.has_value() &&
        !absl::EqualsIgnoreCase(absl::string_view(expect->data(), expect->size()),
                                "100-continue")) {
      Bump(bad_requests_);
      Respond(c, PlainError(417, "only 100-continue is expected\n"));
      return;
    }
    if (!expect.has_value()) {
      ReadBody(c);
      return;
    }
    // The client waits for this before sending the body (RFC 9110 §10.1.1).
    asio::async_write(c->socket, asio::buffer(kContinue),
                      [this, c](const asio::error_code& ec, size_t) {
                        if (c->finished) return;
                        if (ec) {
                          Finish(c);
                          return;
                        }
                        ReadBody(c);
                      });
  }

  void ReadBody(const ConnectionPtr& c) {
    const size_t have = c->request.body.size();
    c->request.body.resize(c->body_bytes);
    asio::async_read(c->socket, asio::buffer(c->request.body.data() + have, c->body_bytes - have),
                     [this, c](const asio::error_code& ec, size_t) {
                       if (c->finished) return;
                       if (ec) {
                         Bump(bad_requests_);
                         Finish(c);  // closed or timed out mid-body
                         return;
                       }
                       Handle(c);
                     });
  }

  void Handle(const ConnectionPtr& c) {
    Bump(requests_);
    c->phase = Phase::kHandle;
    Arm(c, config_.reply_timeout_ms);
    std::weak_ptr<Connection> weak = c;
    HttpReply reply = [this, gate = gate_, weak](HttpResponse response) {
      std::lock_guard<std::mutex> lock(gate->mu);
      if (gate->io == nullptr) return;
      asio::post(*gate->io, [this, weak, response = std::move(response)] {
        const ConnectionPtr live = weak.lock();
        if (live == nullptr || live->finished || live->phase != Phase::kHandle) return;
        Respond(live, response);
      });
    };
    service_.handle(std::move(c->request), std::move(reply));
  }

  void Respond(const ConnectionPtr& c, const HttpResponse& response) {
    c->phase = Phase::kWrite;
    c->out = Serialize(response);
    Arm(c, config_.request_timeout_ms);
    asio::async_write(c->socket, asio::buffer(c->out),
                      [this, c](const asio::error_code&, size_t) { Finish(c); });
  }

  void Finish(const ConnectionPtr& c) {
    if (c->finished) return;
    c->finished = true;
    asio::error_code ignored;
    c->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    c->socket.close(ignored);
    c->deadline.cancel();
    open_.erase(c);
  }

  HttpServerConfig config_;
  HttpService service_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<ReplyGate> gate_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::unordered_set<ConnectionPtr> open_;  // server thread only
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> refused_capacity_{0};
  std::atomic<uint64_t> bad_requests_{0};
  std::atomic<uint64_t> reply_timeouts_{0};
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(HttpServerConfig config,
                                                               HttpHandler handler) {
  if (!handler) return absl::InvalidArgumentError("an HTTP server needs a handler");
  HttpService service;
  service.admit = [](const HttpRequestHead& head) -> std::optional<HttpResponse> {
    if (head.method != "GET") {
      HttpResponse refusal = PlainError(405, "GET only\n");
      refusal.headers.emplace_back("Allow", "GET");
      return refusal;
    }
    return std::nullopt;
  };
  service.handle = [handler = std::move(handler)](HttpRequest request, HttpReply reply) {
    reply(handler(request.head.path));
  };
  config.body_bytes_max = 0;
  return Create(std::move(config), std::move(service));
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(HttpServerConfig config,
                                                               HttpService service) {
  if (!service.admit || !service.handle) {
    return absl::InvalidArgumentError("an HTTP service needs admit and handle");
  }
  if (config.connections_max == 0 || config.request_bytes_max == 0 ||
      config.request_timeout_ms == 0 || config.reply_timeout_ms == 0) {
    return absl::InvalidArgumentError("HTTP server limits must be positive");
  }
  if (config.request_bytes_max > kHttpRequestHeadBytesMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_bytes_max is above ", kHttpRequestHeadBytesMax));
  }
  auto impl = std::make_unique<Impl>(std::move(config), std::move(service));
  absl::Status listening = impl->Listen();
  if (!listening.ok()) return listening;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port(); }
absl::Status HttpServer::Start() { return impl_->Start(); }
void HttpServer::Stop() { impl_->Stop(); }
HttpServerCounters HttpServer::counters() const { return impl_->counters(); }

absl::StatusOr<int> HttpGetStatus(const std::string& host, uint16_t port, const std::string& path,
                                  std::chrono::milliseconds timeout) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::steady_timer deadline(io);
  std::string response;
  asio::error_code result = asio::error::timed_out;
  bool timed_out = false;
  asio::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(host, " is not an IP address"));
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", host, "\r\nConnection: close\r\n\r\n");
  deadline.expires_after(timeout);
  deadline.async_wait([&](const asio::error_code& e) {
    if (!e) {
      timed_out = true;
      asio::error_code ignored;
      socket.close(ignored);
    }
  });
  socket.async_connect(asio::ip::tcp::endpoint(address, port), [&](const asio::error_code& e) {
    if (e) {
      result = e;
      deadline.cancel();
      return;
    }
    asio::async_write(socket, asio::buffer(request), [&](const asio::error_code& we, size_t) {
      if (we) {
        result = we;
        deadline.cancel();
        return;
      }
      asio::async_read_until(socket, asio::dynamic_buffer(response, 4096), "\r\n",
                             [&](const asio::error_code& re, size_t) {
                               result = re;
                               deadline.cancel();
                             });
    });
  });
  io.run();
  if (timed_out) {
    return absl::UnavailableError(absl::StrCat("http://", host, ":", port, path,
                                               ": no answer within ", timeout.count(), " ms"));
  }
  if (result) {
    return absl::UnavailableError(
        absl::StrCat("http://", host, ":", port, path, ": ", result.message()));
  }
  // "HTTP/1.1 200 OK"
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) {
    return absl::UnavailableError(absl::StrCat("http://", host, ":", port, path, ": not HTTP"));
  }
  return std::atoi(response.c_str() + 9);
}

}  // namespace belfry::metrics
