#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace belfry::metrics {
namespace {

// Sends `request` raw and returns everything the server wrote before closing. With
// `after_interim`, sends that once the server has written an interim answer (a 100).
std::string Exchange(uint16_t port, const std::string& request,
                     const std::string& after_interim = "") {
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
  while (!after_interim.empty() && out.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  if (!after_interim.empty()) {
    REQUIRE(::send(fd, after_interim.data(), after_interim.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(after_interim.size()));
  }
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

// An echo service: POST /echo answers its body, later and from another thread.
std::unique_ptr<HttpServer> StartEcho(HttpServerConfig cfg, std::vector<std::thread>& threads) {
  cfg.body_bytes_max = 16;
  HttpService service;
  service.admit = [](const HttpRequestHead& head) -> std::optional<HttpResponse> {
    if (head.path != "/echo") return HttpResponse{.status = 404, .body = "no\n"};
    return std::nullopt;
  };
  service.handle = [&threads](HttpRequest request, HttpReply reply) {
    if (request.body == "never") return;  // answered by the reply timeout
    threads.emplace_back([body = std::move(request.body), reply] {
      reply(HttpResponse{.headers = {{"X-Echo", "yes"}}, .body = body});
    });
  };
  auto server = HttpServer::Create(cfg, std::move(service));
  REQUIRE(server.ok());
  REQUIRE((*server)->Start().ok());
  return std::move(*server);
}

TEST_CASE("http server: a service reads Content-Length bodies and answers from another thread") {
  std::vector<std::thread> threads;
  HttpServerConfig cfg;
  cfg.reply_timeout_ms = 200;
  auto server = StartEcho(cfg, threads);
  const uint16_t port = server->port();
  const std::string post = "POST /echo HTTP/1.1\r\n";
  const std::string reply = Exchange(port, post + "Content-Length: 5\r\n\r\nhello");
  CHECK(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(reply.find("X-Echo: yes\r\n") != std::string::npos);
  CHECK(reply.substr(reply.size() - 5) == "hello");
  // Expect: 100-continue gets its interim answer before the body is sent.
  const std::string continued =
      Exchange(port, post + "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n", "hi");
  CHECK(continued.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(Exchange(port, post + "Content-Length: 17\r\n\r\n").rfind("HTTP/1.1 413", 0) == 0);
  CHECK(Exchange(port, post + "\r\n").rfind("HTTP/1.1 411", 0) == 0);
  CHECK(Exchange(port, post + "Transfer-Encoding: chunked\r\n\r\n").rfind("HTTP/1.1 411", 0) ==
        0);
  CHECK(Exchange(port, "POST /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nx").rfind("HTTP/1.1 404", 0) ==
        0);
  CHECK(Exchange(port, post + "Content-Length: 5\r\n\r\nnever").rfind("HTTP/1.1 503", 0) == 0);
  CHECK(server->counters().reply_timeouts == 1);
  server->Stop();
  for (std::thread& t : threads) {
    t.join();
  }
}

TEST_CASE("http server: Stop closes connections waiting for an answer, and later answers drop") {
  std::vector<std::thread> threads;
  HttpServerConfig cfg;
  cfg.body_bytes_max = 16;
  HttpReply held;
  std::mutex mu;
  std::condition_variable cv;
  HttpService service;
  service.admit = [](const HttpRequestHead&) { return std::optional<HttpResponse>(); };
  service.handle = [&](HttpRequest, HttpReply reply) {
    std::lock_guard<std::mutex> lock(mu);
    held = std::move(reply);
    cv.notify_all();
  };
  auto server = HttpServer::Create(cfg, std::move(service));
  REQUIRE(server.ok());
  REQUIRE((*server)->Start().ok());
  std::string answer = "unset";
  std::thread client([&, port = (*server)->port()] {
    answer = Exchange(port, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return held != nullptr; }));
  }
  (*server)->Stop();
  client.join();
  CHECK(answer.empty());
  held(HttpResponse{});  // after Stop: dropped
  server->reset();
  held(HttpResponse{});  // after destruction too
}

TEST_CASE("ParseHttpRequestHead: what RFC 9112 allows, and nothing ambiguous") {
  auto head = ParseHttpRequestHead("POST http://h:1/a/b?q=1 HTTP/1.0\r\nContent-Type:  x/y \r\nX:");
  REQUIRE(head.ok());
  CHECK(head->method == "POST");
  CHECK(head->path == "/a/b");
  CHECK(head->version == "HTTP/1.0");
  CHECK(head->Field("content-type") == std::optional<std::string_view>("x/y"));
  CHECK(head->Field("x") == std::optional<std::string_view>(""));
  CHECK_FALSE(head->Field("host").has_value());
  CHECK(ParseHttpRequestHead("GET http://h HTTP/1.1")->path == "/");
  CHECK(ParseHttpRequestHead("OPTIONS * HTTP/1.1")->path == "*");
  const char* bad[] = {
      "",
      "GET / HTTP/1.1 extra",
      "GET  / HTTP/1.1",
      "GET / HTTP/2.0",
      "GET ftp://h/ HTTP/1.1",
      "GET relative HTTP/1.1",
      "G(T / HTTP/1.1",
      "GET / HTTP/1.1\nHost: a",
      "GET / HTTP/1.1\rHost: a",
      "GET / HTTP/1.1\r\nHost : a",
      "GET / HTTP/1.1\r\n Folded: a",
      "GET / HTTP/1.1\r\nNoColon",
      "GET / HTTP/1.1\r\nX: a\x01b",
      "GET / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b",
      "GET /\x7f HTTP/1.1",
  };
  for (const char* text : bad) {
    INFO(text);
    CHECK(ParseHttpRequestHead(text).status().code() == absl::StatusCode::kInvalidArgument);
  }
  CHECK_FALSE(ParseHttpRequestHead(std::string("GET / HTTP/1.1\r\nX: a\0b", 24)).ok());
  const std::string huge = "GET / HTTP/1.1\r\nX: " + std::string(kHttpRequestHeadBytesMax, 'a');
  CHECK_FALSE(ParseHttpRequestHead(huge).ok());
}

TEST_CASE("http server: refuses a host that is not an IP literal") {
  HttpServerConfig cfg;
  cfg.host = "localhost";
  auto server = HttpServer::Create(cfg, [](std::string_view) { return HttpResponse{}; });
  CHECK(server.status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace belfry::metrics
