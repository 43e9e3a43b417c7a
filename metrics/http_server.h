// metrics/http_server.h — a minimal plain-HTTP/1.1 server for operators' probes: Prometheus
// scrapes (/metrics) and health checks (/livez, /readyz, /healthz).
//
// It serves GET only, one request per connection (Connection: close), with every size and
// time bounded, on its own thread. It carries no secrets and no documents, so it is plain
// TCP and listens on loopback unless the operator binds it elsewhere (a container's
// network namespace, a scrape network).
#ifndef BELFRY_METRICS_HTTP_SERVER_H_
#define BELFRY_METRICS_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry::metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on the server thread for each GET with its path (query string removed).
using HttpHandler = std::function<HttpResponse(std::string_view path)>;

struct HttpServerConfig {
  std::string host = "127.0.0.1";  // an IP literal
  uint16_t port = 0;               // 0: an ephemeral port (read it with port())
  size_t connections_max = 16;     // open at once; more are closed at accept
  size_t request_bytes_max = 8192; // request line + headers
  uint32_t request_timeout_ms = 5000;  // from accept to the last byte written
};

struct HttpServerCounters {
  uint64_t requests = 0;
  uint64_t refused_capacity = 0;
  uint64_t bad_requests = 0;  // malformed, oversized, timed out, not GET
};

class HttpServer {
 public:
  // Binds and listens (UNAVAILABLE when it cannot; INVALID_ARGUMENT for a host that is
  // not an IP literal or a zero limit). Serving starts with Start.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(HttpServerConfig config,
                                                            HttpHandler handler);
  ~HttpServer();  // Stop()s.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  absl::Status Start();
  void Stop();  // idempotent; joins the thread
  HttpServerCounters counters() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A blocking GET of http://host:port/path: the status code, or UNAVAILABLE when no
// answer came within `timeout` (connection refused, timed out, not HTTP). For health-check
// commands in images that carry no HTTP client.
absl::StatusOr<int> HttpGetStatus(const std::string& host, uint16_t port, const std::string& path,
                                  std::chrono::milliseconds timeout);

}  // namespace belfry::metrics

#endif  // BELFRY_METRICS_HTTP_SERVER_H_
