// Tests for the client port: transport/client_server.h and transport/client_connection.h,
// over real loopback sockets and TLS 1.3, with `openssl s_client` as the outside client
// where the point is that a standard TLS stack is refused (issue: TLS 1.2 and lower).
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "test/pki/test_ca.h"
#include "test/transport/test_util.h"
#include "transport/client_connection.h"
#include "transport/client_server.h"
#include "transport/peer_network.h"

namespace belfry::transport {
namespace {

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::CredentialsFor;
using testing::CredentialsFrom;
using testing::RawTcpClient;
using testing::RawTlsClient;
using testing::RunCommand;
using testing::TempDir;
using testing::TestCa;
using testing::WaitFor;

// A client server whose handler records requests and, if `echo`, answers each with the
// same bytes.
struct Server {
  std::unique_ptr<ClientServer> server;
  std::mutex mu;
  std::vector<std::pair<ConnectionId, std::string>> requests;
  std::vector<pki::CertIdentity> identities;
  std::atomic<int> disconnects{0};

  Server(const TestCa& ca, bool echo,
         const std::function<void(ClientServerConfig&)>& tweak = nullptr) {
    ClientServerConfig config;
    config.credentials = CredentialsFor(ca, "replica-0", pki::Role::kReplica);
    config.handshake_timeout_ms = 2000;
    if (tweak) {
      tweak(config);
    }
    absl::StatusOr<std::unique_ptr<ClientServer>> made = ClientServer::Create(
        std::move(config),
        [this, echo](ConnectionId id, const pki::CertIdentity& who, std::string frame) {
          {
            std::lock_guard<std::mutex> lock(mu);
            requests.emplace_back(id, frame);
            identities.push_back(who);
          }
          if (echo) {
            (void)server->Send(id, std::move(frame));  // a gone connection is counted
          }
        },
        [this](ConnectionId) { ++disconnects; });
    INFO(made.status().ToString());
    REQUIRE(made.ok());
    server = std::move(*made);
    REQUIRE(server->Start().ok());
  }

  uint16_t port() const { return server->listen_port(); }
  size_t request_count() {
    std::lock_guard<std::mutex> lock(mu);
    return requests.size();
  }
};

ClientConnectionConfig ClientConfig(TlsCredentials creds, uint16_t port) {
  ClientConnectionConfig config;
  config.port = port;
  config.credentials = std::move(creds);
  config.connect_timeout_ms = 3000;
  return config;
}

TEST_CASE("a user sends many requests in flight and gets every reply in order",
          "[transport][client]") {
  TestCa ca;
  Server s(ca, /*echo=*/true);
  ClientConnectionConfig config =
      ClientConfig(CredentialsFor(ca, "alice", pki::Role::kUser), s.port());
  config.expected_server_name = "replica-0";
  absl::StatusOr<std::unique_ptr<ClientConnection>> conn = ClientConnection::Connect(config);
  INFO(conn.status().ToString());
  REQUIRE(conn.ok());
  CHECK((*conn)->server_identity().common_name == "replica-0");
  CHECK((*conn)->server_identity().role == pki::Role::kReplica);
  constexpr int kCount = 500;
  for (int k = 0; k < kCount; ++k) {
    REQUIRE((*conn)->Send(absl::StrCat("request-", k)).ok());
  }
  for (int k = 0; k < kCount; ++k) {
    absl::StatusOr<std::string> reply = (*conn)->Receive(5s);
    REQUIRE(reply.ok());
    REQUIRE(*reply == absl::StrCat("request-", k));
  }
  CHECK((*conn)->Receive(10ms).status().code() == absl::StatusCode::kDeadlineExceeded);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    REQUIRE(s.identities.size() == kCount);
    CHECK(s.identities[0].common_name == "alice");
    CHECK(s.identities[0].role == pki::Role::kUser);
  }
  const ClientServerCounters c = s.server->counters();
  CHECK(c.sessions_opened == 1);
  CHECK(c.requests_received == kCount);
  CHECK(WaitFor([&] { return s.server->counters().replies_sent == kCount; }));

  // After the client leaves, a late reply is dropped and counted.
  const ConnectionId id = s.requests[0].first;
  (*conn)->Close();
  CHECK((*conn)->Send("late").code() == absl::StatusCode::kUnavailable);
  CHECK(WaitFor([&] { return s.disconnects.load() == 1; }));
  CHECK(s.server->Send(id, "late reply").code() == absl::StatusCode::kNotFound);
  CHECK(s.server->counters().replies_dropped == 1);
}

TEST_CASE("credentials load from PEM files and connect", "[transport][client]") {
  TestCa ca;
  TempDir dir;
  const TlsCredentials bob = CredentialsFor(ca, "bob", pki::Role::kUser);
  const testing::CredentialFiles files = testing::WriteCredentialFiles(dir, ca, bob, "bob");
  absl::StatusOr<TlsCredentials> loaded =
      TlsCredentials::FromFiles(files.ca, files.cert, files.key);
  INFO(loaded.status().ToString());
  REQUIRE(loaded.ok());
  Server s(ca, /*echo=*/true);
  absl::StatusOr<std::unique_ptr<ClientConnection>> conn =
      ClientConnection::Connect(ClientConfig(*loaded, s.port()));
  REQUIRE(conn.ok());
  REQUIRE((*conn)->Send("hi").ok());
  absl::StatusOr<std::string> reply = (*conn)->Receive(5s);
  REQUIRE(reply.ok());
  CHECK(*reply == "hi");
  CHECK(TlsCredentials::FromFiles(files.ca, files.cert, dir.File("missing.key")).status().code() ==
        absl::StatusCode::kNotFound);
  // A key that does not belong to the certificate is refused when the context is built.
  TlsCredentials mismatched = *loaded;
  mismatched.key = CredentialsFor(ca, "bob", pki::Role::kUser).key;
  CHECK(MakeTlsContext(mismatched, TlsSide::kClient).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("a replica certificate on the client port is refused after the handshake",
          "[transport][client][tls]") {
  TestCa ca;
  Server s(ca, /*echo=*/true);
  absl::StatusOr<std::unique_ptr<ClientConnection>> conn = ClientConnection::Connect(
      ClientConfig(CredentialsFor(ca, "replica-3", pki::Role::kReplica), s.port()));
  // TLS 1.3 lets the client finish before the server judges it: the refusal arrives as
  // the connection closing.
  if (conn.ok()) {
    (void)(*conn)->Send("let me in");
    absl::StatusOr<std::string> reply = (*conn)->Receive(5s);
    CHECK(reply.status().code() == absl::StatusCode::kUnavailable);
  }
  CHECK(WaitFor([&] { return s.server->counters().refused_role == 1; }));
  CHECK(s.request_count() == 0);
  CHECK(s.server->counters().sessions_opened == 0);
}

TEST_CASE("client port: another CA's certificate and no certificate are refused",
          "[transport][client][tls]") {
  TestCa ca("cluster-ca");
  TestCa other("other-ca");
  Server s(ca, /*echo=*/true);
  SECTION("another CA") {
    absl::StatusOr<std::unique_ptr<ClientConnection>> conn = ClientConnection::Connect(
        ClientConfig(CredentialsFrom(ca, other, "alice", pki::Role::kUser), s.port()));
    if (conn.ok()) {
      (void)(*conn)->Send("hello");
      CHECK((*conn)->Receive(5s).status().code() == absl::StatusCode::kUnavailable);
    }
  }
  SECTION("no certificate") {
    RawTlsClient client(RawTlsClient::NoCertificateContext());
    (void)client.Connect(s.port());
    CHECK(client.WaitClosed());
  }
  CHECK(WaitFor([&] { return s.server->counters().refused_tls == 1; }));
  CHECK(s.request_count() == 0);
}

TEST_CASE("the client refuses a server that is not the expected replica", "[transport][client]") {
  TestCa ca;
  Server s(ca, /*echo=*/true);  // serves as replica-0
  ClientConnectionConfig config =
      ClientConfig(CredentialsFor(ca, "alice", pki::Role::kUser), s.port());
  config.expected_server_name = "replica-2";
  absl::StatusOr<std::unique_ptr<ClientConnection>> conn = ClientConnection::Connect(config);
  CHECK(conn.status().code() == absl::StatusCode::kPermissionDenied);

  // Nothing listening: UNAVAILABLE, quickly.
  ClientConnectionConfig nowhere = ClientConfig(CredentialsFor(ca, "alice", pki::Role::kUser), 1);
  CHECK(ClientConnection::Connect(nowhere).status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("a request frame of frame_bytes_max+1 closes the connection, nothing delivered",
          "[transport][client]") {
  TestCa ca;
  Server s(ca, /*echo=*/true, [](ClientServerConfig& c) { c.frame_bytes_max = 1024; });
  ClientConnectionConfig config =
      ClientConfig(CredentialsFor(ca, "alice", pki::Role::kUser), s.port());
  config.frame_bytes_max = 4096;  // the client would send it; the server must refuse it
  absl::StatusOr<std::unique_ptr<ClientConnection>> conn = ClientConnection::Connect(config);
  REQUIRE(conn.ok());
  REQUIRE((*conn)->Send(std::string(1024, 'a')).ok());  // exactly the limit: fine
  absl::StatusOr<std::string> echo = (*conn)->Receive(5s);
  REQUIRE(echo.ok());
  CHECK(echo->size() == 1024);
  REQUIRE((*conn)->Send(std::string(1025, 'b')).ok());
  CHECK((*conn)->Receive(5s).status().code() == absl::StatusCode::kUnavailable);
  CHECK(s.request_count() == 1);
  CHECK(s.server->counters().oversized_frames == 1);
}

TEST_CASE("frames announced by many connections wait for the reading budget, none is lost",
          "[transport][client][budget]") {
  TestCa ca;
  constexpr size_t kFrame = 600 << 10;
  Server s(ca, /*echo=*/false, [](ClientServerConfig& c) {
    c.frame_bytes_max = 1 << 20;
    c.frame_bytes_reading_max = 1 << 20;  // room for one of the frames at a time
  });
  auto ctx = MakeTlsContext(CredentialsFor(ca, "alice", pki::Role::kUser), TlsSide::kClient);
  REQUIRE(ctx.ok());
  std::vector<std::unique_ptr<RawTlsClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<RawTlsClient>(*ctx));
    REQUIRE_FALSE(clients.back()->Connect(s.port()));
  }
  REQUIRE(WaitFor([&] { return s.server->counters().sessions_opened == 3; }));
  // Each announces a 600 KiB frame and sends only its header: the first gets the budget,
  // the other two wait with nothing allocated for them.
  std::string header;
  const FrameHeader h = EncodeFrameHeader(kFrame);
  header.assign(reinterpret_cast<const char*>(h.data()), h.size());
  for (auto& c : clients) REQUIRE_FALSE(c->Write(header));
  REQUIRE(WaitFor([&] { return s.server->counters().reading_budget_waits == 2; }));
  // As each body arrives, the budget passes on, in order, and every frame is delivered.
  for (auto& c : clients) REQUIRE_FALSE(c->Write(std::string(kFrame, 'x')));
  REQUIRE(WaitFor([&] { return s.request_count() == 3; }));
  CHECK(s.server->counters().reading_budget_waits == 2);
  // A connection that closes while it waits gives nothing back that it did not take.
  REQUIRE_FALSE(clients[0]->Write(header));
  REQUIRE_FALSE(clients[1]->Write(header));
  REQUIRE(WaitFor([&] { return s.server->counters().reading_budget_waits == 3; }));
  clients[1].reset();
  REQUIRE_FALSE(clients[0]->Write(std::string(kFrame, 'y')));
  REQUIRE_FALSE(clients[2]->Write(header + std::string(kFrame, 'z')));
  CHECK(WaitFor([&] { return s.request_count() == 5; }));
}

TEST_CASE("a silent client is cut at the handshake deadline", "[transport][client]") {
  TestCa ca;
  Server s(ca, /*echo=*/true, [](ClientServerConfig& c) { c.handshake_timeout_ms = 200; });
  RawTcpClient loris;
  REQUIRE(loris.Connect(s.port()));
  CHECK(loris.WaitClosed(3s));
  CHECK(s.server->counters().handshake_timeouts == 1);
  CHECK(WaitFor([&] { return s.server->counters().connections_open == 0; }));
}

TEST_CASE("connections beyond connections_max are refused at once", "[transport][client]") {
  TestCa ca;
  Server s(ca, /*echo=*/true, [](ClientServerConfig& c) {
    c.connections_max = 2;
    c.handshake_timeout_ms = 5000;
  });
  RawTcpClient a;
  RawTcpClient b;
  RawTcpClient c;
  REQUIRE(a.Connect(s.port()));
  REQUIRE(b.Connect(s.port()));
  REQUIRE(WaitFor([&] { return s.server->counters().connections_open == 2; }));
  REQUIRE(c.Connect(s.port()));
  CHECK(c.WaitClosed(3s));
  CHECK(s.server->counters().refused_capacity == 1);
  CHECK_FALSE(a.WaitClosed(50ms));  // the first two are still waiting for their handshake
}

TEST_CASE("a client's in-flight request bytes are bounded until replies come",
          "[transport][client]") {
  TestCa ca;
  Server s(ca, /*echo=*/false,
           [](ClientServerConfig& c) { c.request_bytes_in_flight_max = 1000; });
  absl::StatusOr<std::unique_ptr<ClientConnection>> conn = ClientConnection::Connect(
      ClientConfig(CredentialsFor(ca, "alice", pki::Role::kUser), s.port()));
  REQUIRE(conn.ok());
  for (int k = 0; k < 10; ++k) {
    REQUIRE((*conn)->Send(std::string(300, static_cast<char>('0' + k))).ok());
  }
  // 4 x 300 >= 1000: the server stops reading after the fourth unanswered request.
  REQUIRE(WaitFor([&] { return s.request_count() == 4; }));
  std::this_thread::sleep_for(100ms);
  CHECK(s.request_count() == 4);
  // Each reply releases one request; all ten get through as replies flow.
  for (int k = 0; k < 10; ++k) {
    REQUIRE(WaitFor([&] { return s.request_count() > static_cast<size_t>(k); }));
    ConnectionId id = 0;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      id = s.requests[static_cast<size_t>(k)].first;
    }
    REQUIRE(s.server->Send(id, "ok").ok());
  }
  CHECK(s.request_count() == 10);
  for (int k = 0; k < 10; ++k) {
    CHECK((*conn)->Receive(5s).ok());
  }
}

std::atomic<int> g_sessions_seen{0};

TEST_CASE("no session tickets are issued, so nothing can be resumed or sent as 0-RTT",
          "[transport][client][tls]") {
  TestCa ca;
  const TlsCredentials replica = CredentialsFor(ca, "replica-0", pki::Role::kReplica);
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> server_ctx =
      MakeTlsContext(replica, TlsSide::kServer);
  REQUIRE(server_ctx.ok());
  SSL_CTX* sctx = (*server_ctx)->native_handle();
  CHECK(SSL_CTX_get_num_tickets(sctx) == 0);
  CHECK((SSL_CTX_get_options(sctx) & SSL_OP_NO_TICKET) != 0);
  CHECK(SSL_CTX_get_max_early_data(sctx) == 0);
  CHECK(SSL_CTX_get_recv_max_early_data(sctx) == 0);
  CHECK(SSL_CTX_get_min_proto_version(sctx) == TLS1_3_VERSION);
  CHECK(SSL_CTX_get_max_proto_version(sctx) == TLS1_3_VERSION);
  CHECK(SSL_CTX_get_verify_mode(sctx) == (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT));

  // Live: a client that would store any session the server offered sees none, even after
  // reading a reply (which makes it process every post-handshake message before it).
  Server s(ca, /*echo=*/true);
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> client_ctx =
      MakeTlsContext(CredentialsFor(ca, "alice", pki::Role::kUser), TlsSide::kClient);
  REQUIRE(client_ctx.ok());
  SSL_CTX_set_session_cache_mode((*client_ctx)->native_handle(), SSL_SESS_CACHE_CLIENT);
  SSL_CTX_sess_set_new_cb((*client_ctx)->native_handle(), [](SSL*, SSL_SESSION*) -> int {
    ++g_sessions_seen;
    return 0;  // not kept
  });
  RawTlsClient client(*client_ctx);
  REQUIRE_FALSE(client.Connect(s.port()));
  REQUIRE_FALSE(client.Write(std::string("\0\0\0\4ping", 8)));
  std::optional<std::string> echo = client.ReadFrame();
  REQUIRE(echo.has_value());
  CHECK(*echo == "ping");
  CHECK(g_sessions_seen.load() == 0);
}

// The outside view: a stock TLS client that offers only TLS 1.2 gets no session on either
// port, and a stock TLS 1.3 client with a user certificate gets one on the client port.
TEST_CASE("openssl s_client: TLS 1.2 is refused on both ports, TLS 1.3 with a user cert works",
          "[transport][client][tls]") {
  if (RunCommand("openssl version").exit_code != 0) {
    FAIL("the openssl command-line tool is required for this test");
  }
  TestCa ca;
  TempDir dir;
  const TlsCredentials alice = CredentialsFor(ca, "alice", pki::Role::kUser);
  const testing::CredentialFiles files = testing::WriteCredentialFiles(dir, ca, alice, "alice");
  Server s(ca, /*echo=*/true);
  PeerNetworkConfig peer_config;
  peer_config.self = 1;
  peer_config.credentials = CredentialsFor(ca, "replica-1", pki::Role::kReplica);
  peer_config.peers.push_back(PeerAddress{0, "127.0.0.1", 0});
  absl::StatusOr<std::unique_ptr<PeerNetwork>> peers = PeerNetwork::Create(std::move(peer_config));
  REQUIRE(peers.ok());
  REQUIRE((*peers)->Start().ok());

  const std::string common = absl::StrCat(" -cert ", files.cert, " -key ", files.key,
                                          " -CAfile ", files.ca, " -verify_return_error");
  SECTION("TLS 1.2 on the client port") {
    CommandResult r = RunCommand(absl::StrCat("openssl s_client -connect 127.0.0.1:", s.port(),
                                              " -tls1_2", common));
    INFO(r.output);
    CHECK(r.exit_code != 0);
    // A failed handshake: no cipher was ever agreed and the server sent alert 70.
    CHECK(absl::StrContains(r.output, "Cipher is (NONE)"));
    CHECK(absl::StrContains(r.output, "alert protocol version"));
    CHECK(absl::StrContains(r.output, "no peer certificate available"));
    CHECK(WaitFor([&] { return s.server->counters().refused_tls == 1; }));
    CHECK(s.server->counters().sessions_opened == 0);
  }
  SECTION("TLS 1.2 on the peer port") {
    CommandResult r = RunCommand(absl::StrCat("openssl s_client -connect 127.0.0.1:",
                                              (*peers)->listen_port(), " -tls1_2", common));
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(absl::StrContains(r.output, "alert protocol version"));
    CHECK(WaitFor([&] { return (*peers)->network_counters().refused_tls == 1; }));
  }
  SECTION("TLS 1.3 with a user certificate on the client port") {
    CommandResult r = RunCommand(absl::StrCat("openssl s_client -connect 127.0.0.1:", s.port(),
                                              " -tls1_3", common));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(absl::StrContains(r.output, "TLSv1.3"));
    CHECK(absl::StrContains(r.output, "Verify return code: 0 (ok)"));
    CHECK(WaitFor([&] { return s.server->counters().sessions_opened == 1; }));
    CHECK(s.server->counters().refused_tls == 0);
  }
  SECTION("TLS 1.3 without a certificate on the client port") {
    CommandResult r = RunCommand(absl::StrCat("openssl s_client -connect 127.0.0.1:", s.port(),
                                              " -tls1_3 -CAfile ", files.ca));
    INFO(r.output);
    CHECK(WaitFor([&] { return s.server->counters().refused_tls == 1; }));
    CHECK(s.server->counters().sessions_opened == 0);
  }
}


// The bundle of `ca` with a CRL revoking `revoked` (PEM certificates).
std::shared_ptr<const pki::CaBundle> BundleRevoking(const TestCa& ca,
                                                    std::vector<std::string> revoked) {
  const int64_t now = testing::NowUnixSeconds();
  absl::StatusOr<std::string> crl = ca.ca().MakeCrl(revoked, now - 60, now + 3600);
  REQUIRE(crl.ok());
  absl::StatusOr<pki::CaBundle> bundle = pki::CaBundle::FromPemWithCrls(ca.cert_pem(), *crl);
  REQUIRE(bundle.ok());
  return std::make_shared<const pki::CaBundle>(std::move(*bundle));
}

TEST_CASE("a credential reload closes a revoked user's open connection and refuses it anew",
          "[transport][client][tls][reload]") {
  TestCa ca;
  Server s(ca, /*echo=*/true);
  const TlsCredentials alice = CredentialsFor(ca, "alice", pki::Role::kUser);
  const TlsCredentials bob = CredentialsFor(ca, "bob", pki::Role::kUser);
  absl::StatusOr<std::unique_ptr<ClientConnection>> a = ClientConnection::Connect(ClientConfig(alice, s.port()));
  absl::StatusOr<std::unique_ptr<ClientConnection>> b = ClientConnection::Connect(ClientConfig(bob, s.port()));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE((*a)->Send("before").ok());
  REQUIRE((*a)->Receive(5s).ok());

  TlsCredentials reloaded = CredentialsFor(ca, "replica-0", pki::Role::kReplica);
  reloaded.ca = BundleRevoking(ca, {alice.cert_pem});
  REQUIRE(s.server->UpdateCredentials(reloaded).ok());
  CHECK(s.server->counters().closed_untrusted == 1);
  // Alice's connection is gone; Bob's still works.
  CHECK((*a)->Receive(5s).status().code() == absl::StatusCode::kUnavailable);
  REQUIRE((*b)->Send("still here").ok());
  absl::StatusOr<std::string> reply = (*b)->Receive(5s);
  REQUIRE(reply.ok());
  CHECK(*reply == "still here");
  // A new connection with the revoked certificate is refused.
  const uint64_t refused_before = s.server->counters().refused_tls;
  absl::StatusOr<std::unique_ptr<ClientConnection>> again = ClientConnection::Connect(ClientConfig(alice, s.port()));
  if (again.ok()) {
    (void)(*again)->Send("after");
    CHECK((*again)->Receive(5s).status().code() == absl::StatusCode::kUnavailable);
  }
  CHECK(WaitFor([&] { return s.server->counters().refused_tls == refused_before + 1; }));
  size_t alice_requests = 0;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (const pki::CertIdentity& who : s.identities) alice_requests += who.common_name == "alice";
  }
  CHECK(alice_requests == 1);
}

TEST_CASE("a credential reload rotates the server's certificate and CA bundle",
          "[transport][client][tls][reload]") {
  TestCa old_ca("old-ca");
  TestCa new_ca("new-ca");
  Server s(old_ca, /*echo=*/true);
  // Unusable credentials are refused and the old ones stay.
  TlsCredentials broken = CredentialsFor(new_ca, "replica-0", pki::Role::kReplica);
  broken.key = CredentialsFor(new_ca, "replica-0", pki::Role::kReplica).key;
  CHECK(s.server->UpdateCredentials(broken).code() == absl::StatusCode::kInvalidArgument);
  const TlsCredentials old_user = CredentialsFor(old_ca, "alice", pki::Role::kUser);
  REQUIRE(ClientConnection::Connect(ClientConfig(old_user, s.port())).ok());

  // Step 1 of a rotation: trust both CAs, present the new certificate.
  absl::StatusOr<pki::CaBundle> both = pki::CaBundle::FromPem(old_ca.cert_pem() + new_ca.cert_pem());
  REQUIRE(both.ok());
  TlsCredentials rotated = CredentialsFor(new_ca, "replica-0", pki::Role::kReplica);
  rotated.ca = std::make_shared<const pki::CaBundle>(std::move(*both));
  REQUIRE(s.server->UpdateCredentials(rotated).ok());
  const TlsCredentials new_user = CredentialsFor(new_ca, "alice", pki::Role::kUser);
  for (const TlsCredentials* user : {&old_user, &new_user}) {
    TlsCredentials trusting_both = *user;
    trusting_both.ca = rotated.ca;
    absl::StatusOr<std::unique_ptr<ClientConnection>> conn =
        ClientConnection::Connect(ClientConfig(trusting_both, s.port()));
    REQUIRE(conn.ok());
    REQUIRE((*conn)->Send("x").ok());
    CHECK((*conn)->Receive(5s).ok());
  }
  // Step 2: the old CA is removed; its users are refused from then on.
  TlsCredentials final_creds = rotated;
  final_creds.ca = std::make_shared<const pki::CaBundle>(new_ca.Bundle());
  REQUIRE(s.server->UpdateCredentials(final_creds).ok());
  TlsCredentials old_trusting_new = old_user;
  old_trusting_new.ca = final_creds.ca;
  const uint64_t refused_before = s.server->counters().refused_tls;
  absl::StatusOr<std::unique_ptr<ClientConnection>> refused =
      ClientConnection::Connect(ClientConfig(old_trusting_new, s.port()));
  if (refused.ok()) {
    (void)(*refused)->Send("x");
    CHECK((*refused)->Receive(5s).status().code() == absl::StatusCode::kUnavailable);
  }
  CHECK(WaitFor([&] { return s.server->counters().refused_tls == refused_before + 1; }));
  s.server->Stop();
  CHECK(s.server->UpdateCredentials(final_creds).code() == absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace belfry::transport
