#include "metrics/http_server.h"

#include <asio.hpp>
#include <atomic>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "transport/internal/asio_util.h"

namespace belfry::metrics {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string Serialize(const HttpResponse& r) {
  return absl::StrCat("HTTP/1.1 ", r.status, " ", Reason(r.status), "\r\nContent-Type: ",
                      r.content_type, "\r\nContent-Length: ", r.body.size(),
                      "\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n", r.body);
}

}  // namespace

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(HttpServerConfig config, HttpHandler handler)
      : config_(std::move(config)), handler_(std::move(handler)), acceptor_(io_) {}

  absl::Status Listen() {
    absl::StatusOr<uint16_t> port = transport::internal::OpenListener(acceptor_, config_.host,
                                                                       config_.port);
    if (!port.ok()) return port.status();
    port_ = *port;
    return absl::OkStatus();
  }

  absl::Status Start() {
    if (started_.exchange(true)) return absl::FailedPreconditionError("already started");
    Accept();
    thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    asio::post(io_, [this] {
      asio::error_code ignored;
      acceptor_.close(ignored);
    });
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  uint16_t port() const { return port_; }
  HttpServerCounters counters() const {
    return {.requests = requests_.load(),
            .refused_capacity = refused_capacity_.load(),
            .bad_requests = bad_requests_.load()};
  }

 private:
  struct Connection {
    explicit Connection(asio::io_context& io) : socket(io), deadline(io) {}
    asio::ip::tcp::socket socket;
    asio::steady_timer deadline;
    std::string in;
    std::string out;
  };

  void Accept() {
    acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        if (open_ >= config_.connections_max) {
          ++refused_capacity_;
          asio::error_code ignored;
          socket.close(ignored);
        } else {
          Serve(std::move(socket));
        }
      }
      Accept();
    });
  }

  void Serve(asio::ip::tcp::socket socket) {
    ++open_;
    auto c = std::make_shared<Connection>(io_);
    c->socket = std::move(socket);
    c->deadline.expires_after(std::chrono::milliseconds(config_.request_timeout_ms));
    c->deadline.async_wait([c](const asio::error_code& ec) {
      if (ec) return;
      asio::error_code ignored;
      c->socket.close(ignored);
    });
    asio::async_read_until(
        c->socket, asio::dynamic_buffer(c->in, config_.request_bytes_max), "\r\n\r\n",
        [this, c](const asio::error_code& ec, size_t) {
          HttpResponse response;
          if (ec) {
            ++bad_requests_;
            if (c->in.size() < config_.request_bytes_max) {
              Finish(c);  // closed or timed out: nothing to answer
              return;
            }
            response = {.status = 400, .content_type = "text/plain; charset=utf-8",
                        .body = "request too large\n"};
          } else {
            response = Handle(c->in);
          }
          c->out = Serialize(response);
          asio::async_write(c->socket, asio::buffer(c->out),
                            [this, c](const asio::error_code&, size_t) { Finish(c); });
        });
  }

  HttpResponse Handle(const std::string& request) {
    const size_t line_end = request.find("\r\n");
    const std::string line = request.substr(0, line_end);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
    if (sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0) {
      ++bad_requests_;
      return {.status = 400, .content_type = "text/plain; charset=utf-8", .body = "bad request\n"};
    }
    if (line.compare(0, sp1, "GET") != 0) {
      ++bad_requests_;
      return {.status = 405, .content_type = "text/plain; charset=utf-8", .body = "GET only\n"};
    }
    std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    ++requests_;
    return handler_(path);
  }

  void Finish(const std::shared_ptr<Connection>& c) {
    asio::error_code ignored;
    c->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    c->socket.close(ignored);
    c->deadline.cancel();
    --open_;
  }

  HttpServerConfig config_;
  HttpHandler handler_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  uint16_t port_ = 0;
  size_t open_ = 0;  // server thread only
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> refused_capacity_{0};
  std::atomic<uint64_t> bad_requests_{0};
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(HttpServerConfig config,
                                                               HttpHandler handler) {
  if (!handler) return absl::InvalidArgumentError("an HTTP server needs a handler");
  if (config.connections_max == 0 || config.request_bytes_max == 0 ||
      config.request_timeout_ms == 0) {
    return absl::InvalidArgumentError("HTTP server limits must be positive");
  }
  auto impl = std::make_unique<Impl>(std::move(config), std::move(handler));
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
