// metrics/http_server.h — a minimal plain-HTTP/1.1 server: operators' probes (Prometheus
// scrapes of /metrics, health checks /livez, /readyz, /healthz) and small POST services
// such as the RFC 3161 §3.4 time-stamp gateway (tsa/).
//
// How it works. One request per connection (Connection: close), every size and time
// bounded, all network I/O on one server thread. A connection goes through four phases:
//   1. read the request line and header fields (request_bytes_max, request_timeout_ms
//      from accept; a client that stalls or trickles is closed unanswered);
//   2. admit: the service looks at the head and may answer at once (404, 405, 415...),
//      before a single body byte is read;
//   3. read the body, framed by Content-Length only (no Transfer-Encoding: 411; missing
//      length: 411; above body_bytes_max: 413, answered without reading it), still
//      within request_timeout_ms of accept;
//   4. handle: the service answers through an HttpReply, possibly later and from another
//      thread; if no answer comes within reply_timeout_ms the service's
//      reply_timeout_response is sent instead. Writing the answer gets request_timeout_ms.
// Servers created with a plain HttpHandler serve GET only and never read a body.
//
// It carries no secrets, so it is plain TCP and listens on loopback unless the operator
// binds it elsewhere (a container's network namespace, a scrape network, a TLS proxy).
#ifndef BELFRY_METRICS_HTTP_SERVER_H_
#define BELFRY_METRICS_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry::metrics {

// HttpResponse: one answer. `headers` are extra fields ("Retry-After", "1"); names and
// values hold no CR, LF or NUL (checked: they come from code, not clients). Every member
// has a default, so designated initializers may leave any out.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::string body = {};
};

// HttpRequestHead: the request line and header fields of a request.
struct HttpRequestHead {
  std::string method;
  std::string path;  // the target's path: query removed; "http://host" prefix removed
  std::string version;  // "HTTP/1.0" or "HTTP/1.1"
  // In order of arrival; names lower-cased, values without surrounding blanks.
  std::vector<std::pair<std::string, std::string>> fields;

  // The value of the field named `lower_case_name`, or nullopt when absent (the first
  // when repeated; fields whose repetition matters are refused when repeated).
  std::optional<std::string_view> Field(std::string_view lower_case_name) const;
};

// HttpRequest: a whole request. `body` is empty for servers that read no bodies.
struct HttpRequest {
  HttpRequestHead head;
  std::string body;
};

// The longest head ParseHttpRequestHead reads.
inline constexpr size_t kHttpRequestHeadBytesMax = 64 * 1024;

// ParseHttpRequestHead: `text` is everything before the empty line that ends the head
// (without that final CRLF CRLF), as received from an untrusted client. INVALID_ARGUMENT
// for anything RFC 9112 forbids or this server does not take: a line break other than
// CRLF, NUL, a request line that is not "method SP target SP HTTP/1.x", a target that
// is not origin-form, absolute-form (http/https) or "*", a field line that is not
// "token: value" (obs-fold included), a field value with control characters, a repeated
// Content-Length, Content-Type, Expect or Host, or more than kHttpRequestHeadBytesMax
// bytes. Pure; thread-safe.
absl::StatusOr<HttpRequestHead> ParseHttpRequestHead(std::string_view text);

// Called on the server thread for each GET with its path (query string removed).
using HttpHandler = std::function<HttpResponse(std::string_view path)>;

// HttpReply: answers one request. Call it at most once, from any thread, at any time:
// an answer that comes after the reply timeout, after the client went away or after
// Stop is dropped. Copies share the one answer.
using HttpReply = std::function<void(HttpResponse response)>;

// HttpService: what a server does with requests. Both functions run on the server
// thread and must not block; the server owns them until it is destroyed.
struct HttpService {
  // After the head, before any body byte: an answer to send at once (the body is then
  // never read), or nullopt to go on to the body and `handle`.
  std::function<std::optional<HttpResponse>(const HttpRequestHead&)> admit;
  // With the whole request; answers through `reply` (which may be called later, from
  // another thread).
  std::function<void(HttpRequest request, HttpReply reply)> handle;
  // Sent when `handle` has not answered within reply_timeout_ms.
  HttpResponse reply_timeout_response{
      .status = 503, .content_type = "text/plain; charset=utf-8", .body = "timed out\n"};
};

struct HttpServerConfig {
  std::string host = "127.0.0.1";  // an IP literal
  uint16_t port = 0;               // 0: an ephemeral port (read it with port())
  size_t connections_max = 16;     // open at once; more are closed at accept
  size_t request_bytes_max = 8192; // request line + headers
  // The largest body read; 0: bodies are never read (Content-Length is then ignored, as
  // a GET-only server may). Above 0, every admitted request needs a Content-Length.
  size_t body_bytes_max = 0;
  uint32_t request_timeout_ms = 5000;  // from accept to the whole request; again to write
  uint32_t reply_timeout_ms = 5000;    // from the whole request to the service's answer
};

struct HttpServerCounters {
  uint64_t requests = 0;  // handed to the handler
  uint64_t refused_capacity = 0;
  uint64_t bad_requests = 0;  // malformed, oversized, timed out, refused at admit
  uint64_t reply_timeouts = 0;  // answered with reply_timeout_response
};

class HttpServer {
 public:
  // Binds and listens (UNAVAILABLE when it cannot; INVALID_ARGUMENT for a host that is
  // not an IP literal or a zero limit). Serving starts with Start. This form serves GET
  // only: other methods get 405, and `handler` answers on the server thread.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(HttpServerConfig config,
                                                            HttpHandler handler);
  // The same for any service (INVALID_ARGUMENT when a function of it is missing).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(HttpServerConfig config,
                                                            HttpService service);
  ~HttpServer();  // Stop()s.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  absl::Status Start();
  // Idempotent: closes the listener and every open connection (unanswered), drops
  // answers still to come, and joins the server thread. Not from the server thread.
  void Stop();
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
