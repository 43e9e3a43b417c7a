#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

namespace belfry::metrics {
namespace {

// Sends `request` raw and returns everything the server wrote before closing.
std::string Exchange(uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early on an oversized request
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::unique_ptr<HttpServer> StartServer(HttpServerConfig cfg = {}) {
  auto server = HttpServer::Create(cfg, [](std::string_view path) {
    if (path == "/metrics") return HttpResponse{.body = "belfry_up 1\n"};
    return HttpResponse{.status = 404, .body = "no\n"};
  });
  REQUIRE(server.ok());
  REQUIRE((*server)->Start().ok());
  return std::move(*server);
}

TEST_CASE("http server: GET /metrics answers 200 with the page and closes") {
  auto server = StartServer();
  const std::string reply = Exchange(server->port(), "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(reply.find("Content-Length: 12\r\n") != std::string::npos);
  CHECK(reply.find("Connection: close\r\n") != std::string::npos);
  CHECK(reply.substr(reply.size() - 12) == "belfry_up 1\n");
  CHECK(server->counters().requests == 1);
}

TEST_CASE("http server: unknown path 404, other methods 405, garbage 400") {
  auto server = StartServer();
  CHECK(Exchange(server->port(), "GET /x HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
  CHECK(Exchange(server->port(), "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0) == 0);
  CHECK(Exchange(server->port(), "hello\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(server->counters().bad_requests == 2);
}

TEST_CASE("http server: a request above the size bound is refused with 400") {
  HttpServerConfig cfg;
  cfg.request_bytes_max = 256;
  auto server = StartServer(cfg);
  const std::string big = "GET /metrics HTTP/1.1\r\nX: " + std::string(1000, 'a') + "\r\n\r\n";
  CHECK(Exchange(server->port(), big).rfind("HTTP/1.1 400", 0) == 0);
}

TEST_CASE("http server: a silent connection is closed at the request timeout") {
  HttpServerConfig cfg;
  cfg.request_timeout_ms = 200;
  auto server = StartServer(cfg);
  // An incomplete request: the server gives up and closes without answering.
  CHECK(Exchange(server->port(), "GET /metrics HTTP/1.1\r\n").empty());
  // It still serves others afterwards.
  CHECK(Exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("HttpGetStatus: the status code, or UNAVAILABLE when nothing listens") {
  auto server = StartServer();
  auto ok = HttpGetStatus("127.0.0.1", server->port(), "/metrics", std::chrono::milliseconds(2000));
  REQUIRE(ok.ok());
  CHECK(*ok == 200);
  auto missing = HttpGetStatus("127.0.0.1", server->port(), "/nope", std::chrono::milliseconds(2000));
  REQUIRE(missing.ok());
  CHECK(*missing == 404);
  const uint16_t port = server->port();
  server->Stop();
  auto down = HttpGetStatus("127.0.0.1", port, "/metrics", std::chrono::milliseconds(2000));
  CHECK(down.status().code() == absl::StatusCode::kUnavailable);
  CHECK(HttpGetStatus("not-an-ip", port, "/", std::chrono::milliseconds(100)).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("http server: refuses a host that is not an IP literal") {
  HttpServerConfig cfg;
  cfg.host = "localhost";
  auto server = HttpServer::Create(cfg, [](std::string_view) { return HttpResponse{}; });
  CHECK(server.status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace belfry::metrics
