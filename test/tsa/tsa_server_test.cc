// Tests for tsa/tsa_server.h over real sockets on 127.0.0.1: stock clients (`openssl ts
// -query`, curl) get tokens `openssl ts -verify` accepts (RFC 3161 §3.4); refused
// queries get a rejection TimeStampResp with the parser's failInfo (§2.4.2); HTTP that is
// not a time-stamp query gets its 4xx before any body byte is read; and every bound
// (stamp slots, read and stamp timeouts, Stop) holds. The Stamper is a real signer built
// from evidence/ with a throwaway RSA key, standing in for the threshold key.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ts.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "evidence/timestamp_request.h"
#include "evidence/timestamp_token.h"
#include "test/evidence/test_service.h"
#include "tsa/tsa_server.h"

namespace belfry::tsa {
namespace {

using evidence::FailureInfo;
using evidence::TimeStampRequest;
using testing::ReadFile;
using testing::RunCommand;
using testing::TestService;
using testing::WriteFile;

// genTime of every token: the fixed clock of the stand-in service.
constexpr int64_t kClockMs = 1'718'000'123'456;  // 2024-06-10T06:15:23.456Z
// How long a test waits for an event before it fails: a guard, never a pause.
constexpr auto kEventWait = std::chrono::seconds(30);

// PKCS#1 v1.5 SHA-256 with `key`, without Catch assertions: it runs on stamp threads.
absl::StatusOr<Bytes> Sign(EVP_PKEY* key, ByteSpan message) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  size_t length = 0;
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, message.data(), message.size()) != 1) {
    return absl::InternalError("cannot sign");
  }
  Bytes signature(length);
  if (EVP_DigestSign(ctx.get(), signature.data(), &length, message.data(), message.size()) != 1) {
    return absl::InternalError("cannot sign");
  }
  signature.resize(length);
  return signature;
}

// LocalSigner: the service's two signing phases done in one place — TSTInfo with a
// serial from a counter and genTime from the fixed clock, the signed attributes, the
// signature, the token, the granted TimeStampResp. Thread-safe.
class LocalSigner {
 public:
  explicit LocalSigner(const TestService& service)
      : service_der_(service.service_der()), key_(testing::SharedRsaKey()) {}

  absl::StatusOr<Bytes> operator()(const TimeStampRequest& request) {
    evidence::TstInfoFields fields;
    fields.imprint = request.imprint;
    const uint64_t serial = ++serials_;
    for (int shift = 56; shift >= 0; shift -= 8) {
      const auto byte = static_cast<uint8_t>(serial >> shift);
      if (byte != 0 || !fields.serial_number.empty()) fields.serial_number.push_back(byte);
    }
    fields.consensus_time_ms = kClockMs;
    fields.accuracy = evidence::Accuracy{1, 0, 0};
    fields.nonce = request.nonce;
    BELFRY_ASSIGN_OR_RETURN(Bytes tst_info, evidence::TstInfoDer(fields));
    BELFRY_ASSIGN_OR_RETURN(Bytes attrs,
                            evidence::TimeStampTokenSignedAttributesDer(tst_info, service_der_));
    BELFRY_ASSIGN_OR_RETURN(Bytes signature, Sign(key_, attrs));
    BELFRY_ASSIGN_OR_RETURN(Bytes token,
                            evidence::AssembleTimeStampToken(tst_info, attrs, signature,
                                                             service_der_, request.cert_req));
    return evidence::GrantedTimeStampResp(token);
  }

  uint64_t serials() const { return serials_.load(); }

 private:
  const Bytes service_der_;
  EVP_PKEY* const key_;
  std::atomic<uint64_t> serials_{0};
};

// StampGate: stampers that block until the test releases them, and tell it when they
// entered and returned.
class StampGate {
 public:
  void EnterAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
  }
  void Returned() {
    std::lock_guard<std::mutex> lock(mu_);
    ++returned_;
    cv_.notify_all();
  }
  bool WaitEntered(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kEventWait, [&] { return entered_ >= n; });
  }
  bool WaitReturned(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kEventWait, [&] { return returned_ >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t entered_ = 0;
  size_t returned_ = 0;
  bool released_ = false;
};

// Opens the gate when a test ends, however it ends; declared after the server, so the
// server's destructor (which waits for stampers) runs with the gate open.
struct ReleaseAtEnd {
  StampGate& gate;
  ~ReleaseAtEnd() { gate.Release(); }
};

// Joins client threads when a test ends, however it ends; declared before the
// ReleaseAtEnd, so the stampers the clients wait for are let go first.
struct JoinAtEnd {
  std::vector<std::thread>& threads;
  void Now() {
    for (std::thread& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  ~JoinAtEnd() { Now(); }
};

// One HTTP exchange on a raw socket. No Catch assertions: it runs on client threads.
struct Exchanged {
  bool connected = false;
  std::string raw;  // everything the server wrote before closing
};

int ConnectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  // A bound on every wait for the server: a hung server fails the test, not the run.
  timeval tv{.tv_sec = 30, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, std::string_view data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early, e.g. after a 413
    sent += static_cast<size_t>(n);
  }
}

std::string ReadToEnd(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Exchanged Exchange(uint16_t port, std::string_view request) {
  Exchanged result;
  const int fd = ConnectTo(port);
  if (fd < 0) return result;
  result.connected = true;
  SendAll(fd, request);
  result.raw = ReadToEnd(fd);
  ::close(fd);
  return result;
}

std::string Post(const std::string& body, const std::string& content_type = kQueryContentType,
                 const std::string& path = "/") {
  return absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ",
                      content_type, "\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
}

std::string AsText(const Bytes& b) { return std::string(b.begin(), b.end()); }

// An HTTP answer taken apart.
struct Answer {
  int status = 0;
  std::string head;
  std::string body;
};

Answer Parse(const std::string& raw) {
  Answer a;
  INFO(raw);
  REQUIRE(raw.rfind("HTTP/1.1 ", 0) == 0);
  a.status = std::stoi(raw.substr(9, 3));
  const size_t end = raw.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  a.head = raw.substr(0, end + 2);
  a.body = raw.substr(end + 4);
  return a;
}

// The status, failInfo bits and statusString of a DER TimeStampResp, as OpenSSL reads it.
struct RespStatus {
  long status = -1;  // 0 granted, 2 rejection (RFC 3161 §2.4.2 PKIStatus)
  std::vector<int> fail_bits;
  std::string text;
  bool has_token = false;
};

RespStatus ReadResp(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<TS_RESP, decltype(&TS_RESP_free)> resp(
      d2i_TS_RESP(nullptr, &p, static_cast<long>(der.size())), TS_RESP_free);
  REQUIRE(resp != nullptr);
  REQUIRE(p == reinterpret_cast<const unsigned char*>(der.data()) + der.size());
  TS_STATUS_INFO* info = TS_RESP_get_status_info(resp.get());
  RespStatus out;
  out.status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(info));
  if (const ASN1_BIT_STRING* bits = TS_STATUS_INFO_get0_failure_info(info)) {
    for (int bit = 0; bit < 32; ++bit) {
      if (ASN1_BIT_STRING_get_bit(bits, bit) != 0) out.fail_bits.push_back(bit);
    }
  }
  if (const STACK_OF(ASN1_UTF8STRING)* text = TS_STATUS_INFO_get0_text(info)) {
    for (int i = 0; i < sk_ASN1_UTF8STRING_num(text); ++i) {
      const ASN1_UTF8STRING* s = sk_ASN1_UTF8STRING_value(text, i);
      out.text.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
  out.has_token = TS_RESP_get_token(resp.get()) != nullptr;
  return out;
}

void CheckRejection(const Answer& answer, FailureInfo expected) {
  INFO(answer.head);
  CHECK(answer.status == 200);
  CHECK(absl::StrContains(answer.head, "Content-Type: application/timestamp-reply\r\n"));
  const RespStatus status = ReadResp(answer.body);
  CHECK(status.status == 2);
  CHECK(status.fail_bits == std::vector<int>{static_cast<int>(expected)});
  CHECK_FALSE(status.has_token);
}

// A server with `signer` behind `before` (a hook the blocking tests use), started.
std::unique_ptr<TsaServer> StartServer(TsaServerConfig config, Stamper stamper) {
  absl::StatusOr<std::unique_ptr<TsaServer>> server =
      TsaServer::Create(std::move(config), std::move(stamper));
  INFO(server.status().ToString());
  REQUIRE(server.ok());
  REQUIRE((*server)->Start().ok());
  return std::move(*server);
}

Stamper SignerStamper(LocalSigner& signer) {
  return [&signer](const TimeStampRequest& request) { return signer(request); };
}

Stamper GatedStamper(LocalSigner& signer, StampGate& gate) {
  return [&signer, &gate](const TimeStampRequest& request) {
    gate.EnterAndWait();
    absl::StatusOr<Bytes> resp = signer(request);
    gate.Returned();
    return resp;
  };
}

// A query from `openssl ts -query` for `data`.
std::string MakeQuery(const TestService& service, const std::string& data, const char* hash,
                      const std::string& name) {
  const std::string query = service.dir().File(name);
  const testing::CommandResult made =
      RunCommand("openssl ts -query -data " + data + " " + hash + " -cert -out " + query);
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  return query;
}

bool HaveCurl() { return RunCommand("which curl").exit_code == 0; }

// POSTs the file `query` as a stock client would and writes the body of the answer to
// `reply`: with curl when it is installed, else over a plain socket. The HTTP status.
int PostFile(uint16_t port, const std::string& query, const std::string& reply) {
  if (HaveCurl()) {
    const testing::CommandResult posted = RunCommand(absl::StrCat(
        "curl -s -S --max-time 20 -H 'Content-Type: application/timestamp-query' "
        "--data-binary @",
        query, " http://127.0.0.1:", port, "/ -o ", reply, " -w '%{http_code}'"));
    INFO(posted.output);
    REQUIRE(posted.exit_code == 0);
    return std::stoi(posted.output);
  }
  const Answer answer = Parse(Exchange(port, Post(AsText(ReadFile(query)))).raw);
  WriteFile(reply, AsBytes(answer.body));
  return answer.status;
}

std::string TsVerify(const TestService& service, const std::string& query,
                     const std::string& reply) {
  return "openssl ts -verify -queryfile " + query + " -in " + reply + " -CAfile " +
         service.ca_path() + " -untrusted " + service.service_path();
}

TEST_CASE(
    "RFC 3161 §3.4: a query from openssl ts -query, POSTed by curl, gets a token that "
    "openssl ts -verify accepts for that query and refuses for another",
    "[tsa]") {
  TestService service;
  LocalSigner signer(service);
  auto server = StartServer({}, SignerStamper(signer));
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "a document to stamp\n");
  const std::string query = MakeQuery(service, data, "-sha256", "q.tsq");
  const std::string other = MakeQuery(service, data, "-sha256", "other.tsq");
  const std::string reply = service.dir().File("r.tsr");

  REQUIRE(PostFile(server->port(), query, reply) == 200);
  CHECK(ReadResp(AsText(ReadFile(reply))).status == 0);
  const testing::CommandResult ok = RunCommand(TsVerify(service, query, reply));
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(absl::StrContains(ok.output, "Verification: OK"));
  const testing::CommandResult wrong = RunCommand(TsVerify(service, other, reply));
  INFO(wrong.output);
  CHECK(wrong.exit_code != 0);

  const TsaServerCounters counters = server->counters();
  CHECK(counters.granted == 1);
  CHECK(counters.http_errors == 0);
  CHECK(signer.serials() == 1);
}

TEST_CASE("RFC 3161 §2.4.2: a SHA-1 query is answered 200 with a rejection, failInfo badAlg",
          "[tsa]") {
  TestService service;
  LocalSigner signer(service);
  auto server = StartServer({}, SignerStamper(signer));
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "old hash\n");
  const std::string query = MakeQuery(service, data, "-sha1", "sha1.tsq");
  const std::string reply = service.dir().File("sha1.tsr");
  REQUIRE(PostFile(server->port(), query, reply) == 200);
  const RespStatus status = ReadResp(AsText(ReadFile(reply)));
  CHECK(status.status == 2);
  CHECK(status.fail_bits == std::vector<int>{static_cast<int>(FailureInfo::kBadAlg)});
  const testing::CommandResult text = RunCommand("openssl ts -reply -in " + reply + " -text");
  INFO(text.output);
  CHECK(text.exit_code == 0);
  CHECK(absl::StrContains(text.output, "Status: Rejected"));
  CHECK(signer.serials() == 0);
  CHECK(server->counters().refused == 1);
}

TEST_CASE("RFC 3161 §2.4.2: a body that is no TimeStampReq gets failInfo badDataFormat",
          "[tsa]") {
  TestService service;
  LocalSigner signer(service);
  auto server = StartServer({}, SignerStamper(signer));
  SECTION("garbage") {
    CheckRejection(Parse(Exchange(server->port(), Post("hello, time-stamp authority")).raw),
                   FailureInfo::kBadDataFormat);
  }
  SECTION("an empty body") {
    CheckRejection(Parse(Exchange(server->port(), Post("")).raw), FailureInfo::kBadDataFormat);
  }
  SECTION("a request with an extension") {
    // TimeStampReq { version 1, imprint (SHA-256, 32 zero bytes), extensions [0] { one
    // subjectKeyIdentifier } }, the SEQUENCE length patched in below.
    const Bytes head = {0x30, 0x00, 0x02, 0x01, 0x01, 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                        0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    const Bytes extensions = {0xa0, 0x14, 0x30, 0x12, 0x06, 0x03, 0x55, 0x1d, 0x0e,
                              0x04, 0x0b, 0x04, 0x09};
    std::string der = AsText(head) + std::string(32, '\0') + AsText(extensions) +
                      std::string(9, 'x');
    der[1] = static_cast<char>(der.size() - 2);
    CheckRejection(Parse(Exchange(server->port(), Post(der)).raw),
                   FailureInfo::kUnacceptedExtension);
  }
  CHECK(signer.serials() == 0);
}

TEST_CASE("RFC 3161 §3.4: what is not a time-stamp query gets its HTTP error", "[tsa]") {
  TestService service;
  LocalSigner signer(service);
  TsaServerConfig config;
  config.path = "/tsa";
  auto server = StartServer(config, SignerStamper(signer));
  const uint16_t port = server->port();
  const std::string query = "POST /tsa HTTP/1.1\r\nContent-Type: application/timestamp-query\r\n";

  SECTION("a Content-Length above the bound: 413 before the body is sent") {
    // The body never comes: an answer at all shows the server did not wait for it.
    const Answer a = Parse(Exchange(port, query + "Content-Length: 4097\r\n\r\n").raw);
    CHECK(a.status == 413);
    CHECK(Parse(Exchange(port, query + "Content-Length: 99999999999999999999999\r\n\r\n").raw)
              .status == 413);
  }
  SECTION("chunked or unframed bodies: 411") {
    CHECK(Parse(Exchange(port, query + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
                    .raw)
              .status == 411);
    CHECK(Parse(Exchange(port, query + "\r\n").raw).status == 411);
  }
  SECTION("GET: 405 naming POST") {
    const Answer a = Parse(Exchange(port, "GET /tsa HTTP/1.1\r\nHost: x\r\n\r\n").raw);
    CHECK(a.status == 405);
    CHECK(absl::StrContains(a.head, "Allow: POST\r\n"));
  }
  SECTION("another content type: 415") {
    CHECK(Parse(Exchange(port, Post("x", "application/octet-stream", "/tsa")).raw).status == 415);
    CHECK(Parse(Exchange(port, "POST /tsa HTTP/1.1\r\nContent-Length: 1\r\n\r\nx").raw).status ==
          415);
  }
  SECTION("the media type is matched without case and parameters") {
    CheckRejection(
        Parse(Exchange(port, Post("x", "Application/TimeStamp-Query; charset=binary", "/tsa")).raw),
        FailureInfo::kBadDataFormat);
  }
  SECTION("another path: 404") {
    CHECK(Parse(Exchange(port, Post("x", kQueryContentType, "/")).raw).status == 404);
    CHECK(Parse(Exchange(port, Post("x", kQueryContentType, "/tsa/x")).raw).status == 404);
  }
  SECTION("malformed HTTP: 400") {
    CHECK(Parse(Exchange(port, "hello\r\n\r\n").raw).status == 400);
    CHECK(Parse(Exchange(port, "POST /tsa HTTP/1.1\nContent-Length: 1\r\n\r\nx").raw).status ==
          400);
    CHECK(Parse(Exchange(port, query + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx").raw)
              .status == 400);
    CHECK(Parse(Exchange(port, query + "Content-Length: -1\r\n\r\n").raw).status == 400);
    CHECK(Parse(Exchange(port, query + " Folded: x\r\nContent-Length: 1\r\n\r\nx").raw).status ==
          400);
  }
  CHECK(signer.serials() == 0);
}

TEST_CASE("a Stamper error becomes a rejection with systemFailure that does not quote it",
          "[tsa]") {
  TestService service;
  auto server = StartServer({}, [](const TimeStampRequest&) -> absl::StatusOr<Bytes> {
    return absl::UnavailableError("replica 3 at 10.0.0.3 refused share 0xdeadbeef");
  });
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "anything\n");
  const Bytes query = ReadFile(MakeQuery(service, data, "-sha256", "q.tsq"));
  const Answer a = Parse(Exchange(server->port(), Post(AsText(query))).raw);
  CheckRejection(a, FailureInfo::kSystemFailure);
  const RespStatus status = ReadResp(a.body);
  CHECK_FALSE(status.text.empty());
  CHECK_FALSE(absl::StrContains(status.text, "10.0.0.3"));
  CHECK_FALSE(absl::StrContains(a.body, "deadbeef"));
  CHECK(server->counters().stamp_failures == 1);
}

TEST_CASE("a Stamper answer that is no bounded DER SEQUENCE becomes systemFailure", "[tsa]") {
  TestService service;
  const Bytes answer =
      GENERATE(Bytes{}, Bytes{0x04, 0x00}, Bytes(kTimeStampRespBytesMax + 1, 0x30));
  auto server = StartServer(
      {}, [&answer](const TimeStampRequest&) -> absl::StatusOr<Bytes> { return answer; });
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "anything\n");
  const Bytes query = ReadFile(MakeQuery(service, data, "-sha256", "q.tsq"));
  CheckRejection(Parse(Exchange(server->port(), Post(AsText(query))).raw),
                 FailureInfo::kSystemFailure);
}

TEST_CASE(
    "concurrent_stamps_max bounds Stamper calls: the request past it gets 503 with "
    "Retry-After at once, and the others are served when the stampers return",
    "[tsa]") {
  TestService service;
  LocalSigner signer(service);
  StampGate gate;
  TsaServerConfig config;
  config.concurrent_stamps_max = 2;
  auto server = StartServer(config, GatedStamper(signer, gate));
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "many at once\n");
  const std::string request = Post(AsText(ReadFile(MakeQuery(service, data, "-sha256", "q.tsq"))));

  std::vector<Exchanged> answers(2);
  std::vector<std::thread> clients;
  JoinAtEnd join{clients};
  ReleaseAtEnd release{gate};
  for (size_t i = 0; i < answers.size(); ++i) {
    clients.emplace_back([&, i] { answers[i] = Exchange(server->port(), request); });
  }
  REQUIRE(gate.WaitEntered(2));
  CHECK(server->counters().stamps_in_flight == 2);
  const Answer busy = Parse(Exchange(server->port(), request).raw);
  CHECK(busy.status == 503);
  CHECK(absl::StrContains(busy.head, "Retry-After: 1\r\n"));
  gate.Release();
  join.Now();
  for (const Exchanged& e : answers) {
    const Answer a = Parse(e.raw);
    CHECK(a.status == 200);
    CHECK(ReadResp(a.body).status == 0);
  }
  const TsaServerCounters counters = server->counters();
  CHECK(counters.busy == 1);
  CHECK(counters.granted == 2);
}

TEST_CASE(
    "a client that sends its head slowly and never finishes is cut off at "
    "request_timeout_ms, unanswered, while others are served",
    "[tsa]") {
  TestService service;
  LocalSigner signer(service);
  TsaServerConfig config;
  config.request_timeout_ms = 300;
  auto server = StartServer(config, SignerStamper(signer));
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "meanwhile\n");
  const std::string request = Post(AsText(ReadFile(MakeQuery(service, data, "-sha256", "q.tsq"))));

  const auto start = std::chrono::steady_clock::now();
  const int slow = ConnectTo(server->port());
  REQUIRE(slow >= 0);
  SendAll(slow, "POST / HTTP/1.1\r\nX-Slow: ");
  // Served while the slow client holds its connection.
  const Answer other = Parse(Exchange(server->port(), request).raw);
  CHECK(other.status == 200);
  CHECK(ReadResp(other.body).status == 0);
  // One byte whenever the socket has nothing to read, until the server closes it.
  bool closed = false;
  for (int i = 0; i < 2000 && !closed; ++i) {
    pollfd p{.fd = slow, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 20) > 0) {
      closed = true;
    } else {
      SendAll(slow, "a");
    }
  }
  REQUIRE(closed);
  CHECK(ReadToEnd(slow).empty());
  ::close(slow);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds(300));
  CHECK(server->counters().http_errors == 1);
}

TEST_CASE(
    "a stamp not made within stamp_timeout_ms gets systemFailure; the Stamper call keeps "
    "its slot until it returns",
    "[tsa]") {
  TestService service;
  LocalSigner signer(service);
  StampGate gate;
  TsaServerConfig config;
  config.concurrent_stamps_max = 1;
  config.stamp_timeout_ms = 200;
  auto server = StartServer(config, GatedStamper(signer, gate));
  ReleaseAtEnd release{gate};
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "slow consensus\n");
  const std::string request = Post(AsText(ReadFile(MakeQuery(service, data, "-sha256", "q.tsq"))));

  const Answer late = Parse(Exchange(server->port(), request).raw);
  CheckRejection(late, FailureInfo::kSystemFailure);
  CHECK(server->counters().stamp_timeouts == 1);
  CHECK(server->counters().stamps_in_flight == 1);
  CHECK(Parse(Exchange(server->port(), request).raw).status == 503);
  gate.Release();
  REQUIRE(gate.WaitReturned(1));
  // The slot comes back once the stamp thread is done with the late answer.
  for (int i = 0; i < 100000 && server->counters().stamps_in_flight != 0; ++i) {
    std::this_thread::yield();
  }
  REQUIRE(server->counters().stamps_in_flight == 0);
  const Answer next = Parse(Exchange(server->port(), request).raw);
  CHECK(next.status == 200);
  CHECK(ReadResp(next.body).status == 0);
}

TEST_CASE("Stop returns with a stamp in flight, closes its connection and the listener",
          "[tsa]") {
  TestService service;
  LocalSigner signer(service);
  StampGate gate;
  auto server = StartServer({}, GatedStamper(signer, gate));
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "in flight\n");
  const std::string request = Post(AsText(ReadFile(MakeQuery(service, data, "-sha256", "q.tsq"))));
  const uint16_t port = server->port();

  Exchanged in_flight;
  std::vector<std::thread> client;
  JoinAtEnd join{client};
  client.emplace_back([&] { in_flight = Exchange(port, request); });
  ReleaseAtEnd release{gate};
  REQUIRE(gate.WaitEntered(1));
  server->Stop();  // the stamper is still blocked: Stop must not wait for it
  join.Now();
  CHECK(in_flight.connected);
  CHECK(in_flight.raw.empty());
  CHECK_FALSE(Exchange(port, request).connected);
  CHECK(server->counters().stamps_in_flight == 1);
  server->Stop();  // idempotent
}

TEST_CASE("hostile HTTP never crashes the gateway, which goes on serving", "[tsa]") {
  TestService service;
  LocalSigner signer(service);
  TsaServerConfig config;
  config.request_header_bytes_max = 1024;
  config.request_timeout_ms = 500;
  auto server = StartServer(config, SignerStamper(signer));
  const uint16_t port = server->port();
  const std::string nul = std::string("POST / HTTP/1.1\r\nContent-Type: x") + '\0' + "\r\n\r\n";
  const std::vector<std::string> inputs = {
      "\r\n\r\n",
      nul,
      // The body never comes.
      "POST / HTTP/1.1\r\nContent-Type: application/timestamp-query\r\nContent-Length: 1\r\n\r\n",
      "POST / HTTP/9.9\r\n\r\n",
      "POST  / HTTP/1.1\r\n\r\n",
      "POST http://evil/ HTTP/1.1\r\nContent-Type: application/timestamp-query\r\n"
      "Content-Length: 3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nContent-Type: application/timestamp-query\r\nContent-Length: 3\r\n"
      "Expect: 100-continue\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Type: application/timestamp-query\r\nContent-Length: 3\r\n"
      "Expect: teapot\r\n\r\n",
      "POST / HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n",
      std::string(3000, '\xff'),
  };
  for (const std::string& input : inputs) {
    const Exchanged e = Exchange(port, input);
    CHECK(e.connected);
  }
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "still here\n");
  const Answer a =
      Parse(Exchange(port, Post(AsText(ReadFile(MakeQuery(service, data, "-sha256", "q.tsq")))))
                .raw);
  CHECK(a.status == 200);
  CHECK(ReadResp(a.body).status == 0);
}

TEST_CASE("Create refuses what cannot be served", "[tsa]") {
  const Stamper stamper = [](const TimeStampRequest&) -> absl::StatusOr<Bytes> { return Bytes{}; };
  CHECK(TsaServer::Create({}, nullptr).status().code() == absl::StatusCode::kInvalidArgument);
  TsaServerConfig config;
  config.concurrent_stamps_max = 0;
  CHECK(TsaServer::Create(config, stamper).status().code() ==
        absl::StatusCode::kInvalidArgument);
  config = {};
  config.query_bytes_max = evidence::kTimeStampReqBytesMax + 1;
  CHECK(TsaServer::Create(config, stamper).status().code() ==
        absl::StatusCode::kInvalidArgument);
  config = {};
  config.path = "tsa";
  CHECK(TsaServer::Create(config, stamper).status().code() ==
        absl::StatusCode::kInvalidArgument);
  config = {};
  config.host = "localhost";
  CHECK(TsaServer::Create(config, stamper).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace belfry::tsa
