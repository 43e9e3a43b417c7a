// Tests for transport/peer_network.h over real loopback sockets and real TLS 1.3.
//
// What they check is the contract replica/ builds on (DESIGN.md, "replica/ net"): a
// peer's id comes from its certificate; a dropped connection loses no message; every
// message is delivered once and in order; queues are bounded.
#include "transport/peer_network.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "proto/net.pb.h"
#include "test/pki/test_ca.h"
#include "test/transport/test_util.h"
#include "transport/internal/frame_io.h"

namespace belfry::transport {
namespace {

using namespace std::chrono_literals;
using testing::CredentialsFor;
using testing::CredentialsFrom;
using testing::RawTlsClient;
using testing::TestCa;
using testing::WaitFor;

PeerNetworkConfig BaseConfig(const TestCa& ca, NodeId self, NodeId n) {
  PeerNetworkConfig config;
  config.self = self;
  config.credentials = CredentialsFor(ca, ReplicaName(self), pki::Role::kReplica);
  for (NodeId id = 0; id < n; ++id) {
    if (id != self) {
      config.peers.push_back(PeerAddress{id, "127.0.0.1", 0});
    }
  }
  config.reconnect_delay_min_ms = 10;
  config.reconnect_delay_max_ms = 200;
  config.handshake_timeout_ms = 2000;
  return config;
}

std::unique_ptr<PeerNetwork> MakeNetwork(PeerNetworkConfig config) {
  absl::StatusOr<std::unique_ptr<PeerNetwork>> net = PeerNetwork::Create(std::move(config));
  INFO(net.status().ToString());
  REQUIRE(net.ok());
  REQUIRE((*net)->Listen().ok());
  return std::move(*net);
}

// N replicas on loopback, each told the others' ephemeral ports, all started.
std::vector<std::unique_ptr<PeerNetwork>> MakeCluster(const TestCa& ca, NodeId n,
                                                      const std::function<void(PeerNetworkConfig&)>& tweak = nullptr) {
  std::vector<std::unique_ptr<PeerNetwork>> nets;
  for (NodeId id = 0; id < n; ++id) {
    PeerNetworkConfig config = BaseConfig(ca, id, n);
    if (tweak) {
      tweak(config);
    }
    nets.push_back(MakeNetwork(std::move(config)));
  }
  for (NodeId i = 0; i < n; ++i) {
    for (NodeId j = 0; j < n; ++j) {
      if (i != j) {
        REQUIRE(nets[i]->SetPeerAddress(j, "127.0.0.1", nets[j]->listen_port()).ok());
      }
    }
  }
  for (auto& net : nets) {
    REQUIRE(net->Start().ok());
  }
  return nets;
}

// Receives exactly `count` messages (or fails after `timeout`), grouped by sender.
std::map<NodeId, std::vector<std::string>> ReceiveN(PeerNetwork& net, size_t count,
                                                    std::chrono::milliseconds timeout = 20s) {
  std::map<NodeId, std::vector<std::string>> got;
  size_t have = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (have < count && std::chrono::steady_clock::now() < deadline) {
    std::optional<Delivery> d = net.Receive(50ms);
    if (d.has_value()) {
      got[d->from].push_back(std::move(d->payload));
      ++have;
    }
  }
  INFO("replica " << net.self() << " received " << have << " of " << count);
  REQUIRE(have == count);
  return got;
}

std::string Msg(NodeId from, NodeId to, size_t k) { return absl::StrCat(from, ">", to, "#", k); }

// Encodes a link message as a frame, for tests that play a peer by hand.
std::string LinkFrame(const pb::LinkMessage& msg) {
  std::string out;
  internal::AppendFrameHeader(out, static_cast<uint32_t>(msg.ByteSizeLong()));
  msg.AppendToString(&out);
  return out;
}

TEST_CASE("four replicas exchange messages all-to-all, each delivered once and in order",
          "[transport][peer]") {
  TestCa ca;
  constexpr NodeId kN = 4;
  constexpr size_t kPerLink = 300;
  auto nets = MakeCluster(ca, kN);
  for (size_t k = 0; k < kPerLink; ++k) {
    for (NodeId i = 0; i < kN; ++i) {
      for (NodeId j = 0; j < kN; ++j) {
        if (i != j) {
          REQUIRE(nets[i]->Send(j, Msg(i, j, k)).ok());
        }
      }
    }
  }
  for (NodeId j = 0; j < kN; ++j) {
    auto got = ReceiveN(*nets[j], (kN - 1) * kPerLink);
    for (NodeId i = 0; i < kN; ++i) {
      if (i == j) {
        CHECK(got.count(i) == 0);
        continue;
      }
      std::vector<std::string> expected;
      for (size_t k = 0; k < kPerLink; ++k) {
        expected.push_back(Msg(i, j, k));
      }
      CHECK(got[i] == expected);
    }
  }
  // Everything was acknowledged, so the resend buffers drain.
  for (NodeId i = 0; i < kN; ++i) {
    for (NodeId j = 0; j < kN; ++j) {
      if (i != j) {
        CHECK(WaitFor([&] { return nets[i]->counters(j).queue_messages == 0; }));
        CHECK(nets[i]->counters(j).messages_sent == kPerLink);
        CHECK(nets[j]->counters(i).messages_delivered == kPerLink);
      }
    }
  }
  CHECK(nets[0]->TryReceive() == std::nullopt);
}

TEST_CASE("connections cut mid-stream lose nothing and duplicate nothing", "[transport][peer]") {
  TestCa ca;
  auto nets = MakeCluster(ca, 2);
  constexpr size_t kRounds = 8;
  constexpr size_t kPerRound = 400;
  std::vector<std::string> received;
  for (size_t r = 0; r < kRounds; ++r) {
    for (size_t k = 0; k < kPerRound; ++k) {
      REQUIRE(nets[0]->Send(1, Msg(0, 1, r * kPerRound + k)).ok());
    }
    // Cut while those are in flight, alternately from the sender's and the receiver's side.
    if (r % 2 == 0) {
      nets[0]->ResetLinks(1);
    } else {
      nets[1]->ResetLinks(0);
    }
    // Take some (not all) of what arrived, so deliveries interleave with the cuts.
    for (int i = 0; i < 100; ++i) {
      std::optional<Delivery> d = nets[1]->Receive(1ms);
      if (d.has_value()) {
        received.push_back(std::move(d->payload));
      }
    }
  }
  const size_t total = kRounds * kPerRound;
  auto rest = ReceiveN(*nets[1], total - received.size());
  for (std::string& s : rest[0]) {
    received.push_back(std::move(s));
  }
  REQUIRE(received.size() == total);
  for (size_t k = 0; k < total; ++k) {
    REQUIRE(received[k] == Msg(0, 1, k));
  }
  CHECK(nets[1]->TryReceive() == std::nullopt);
  const PeerCounters sender = nets[0]->counters(1);
  CHECK(sender.reconnects >= 1);
  CHECK(sender.messages_sent == total);
  CHECK(nets[1]->counters(0).messages_delivered == total);
  INFO("resent=" << sender.messages_resent
                 << " duplicates=" << nets[1]->counters(0).duplicates_dropped);
  CHECK(WaitFor([&] { return nets[0]->counters(1).queue_messages == 0; }));
}

TEST_CASE("a restarted sender (new incarnation) starts its sequence over and a stale one is refused",
          "[transport][peer]") {
  TestCa ca;
  auto make = [&](NodeId self, uint64_t incarnation) {
    PeerNetworkConfig config = BaseConfig(ca, self, 2);
    config.incarnation = incarnation;
    return MakeNetwork(std::move(config));
  };
  std::unique_ptr<PeerNetwork> receiver = make(1, 1000);
  std::unique_ptr<PeerNetwork> sender = make(0, 500);
  REQUIRE(sender->SetPeerAddress(1, "127.0.0.1", receiver->listen_port()).ok());
  REQUIRE(receiver->SetPeerAddress(0, "127.0.0.1", sender->listen_port()).ok());
  REQUIRE(receiver->Start().ok());
  REQUIRE(sender->Start().ok());
  for (size_t k = 0; k < 10; ++k) {
    REQUIRE(sender->Send(1, Msg(0, 1, k)).ok());
  }
  auto first = ReceiveN(*receiver, 10);
  CHECK(first[0].size() == 10);
  sender->Stop();
  sender.reset();

  // The same replica comes back as a new process: seq numbers restart at 1.
  std::unique_ptr<PeerNetwork> restarted = make(0, 600);
  REQUIRE(restarted->SetPeerAddress(1, "127.0.0.1", receiver->listen_port()).ok());
  REQUIRE(receiver->SetPeerAddress(0, "127.0.0.1", restarted->listen_port()).ok());
  REQUIRE(restarted->Start().ok());
  for (size_t k = 0; k < 10; ++k) {
    REQUIRE(restarted->Send(1, absl::StrCat("again#", k)).ok());
  }
  auto second = ReceiveN(*receiver, 10);
  for (size_t k = 0; k < 10; ++k) {
    CHECK(second[0][k] == absl::StrCat("again#", k));
  }
  CHECK(receiver->counters(0).duplicates_dropped == 0);

  // An older incarnation (a stale process, or a replayed identity) is refused.
  const uint64_t refused_before = receiver->network_counters().refused_identity;
  std::unique_ptr<PeerNetwork> stale = make(0, 550);
  REQUIRE(stale->SetPeerAddress(1, "127.0.0.1", receiver->listen_port()).ok());
  REQUIRE(stale->Start().ok());
  REQUIRE(stale->Send(1, "from the past").ok());
  CHECK(WaitFor([&] { return receiver->network_counters().refused_identity > refused_before; }));
  CHECK(receiver->Receive(200ms) == std::nullopt);
  CHECK(stale->counters(1).connects == 0);
}

TEST_CASE("a frame of frame_bytes_max+1 closes the link and nothing is delivered",
          "[transport][peer]") {
  TestCa ca;
  constexpr size_t kFrameMax = 1024;
  PeerNetworkConfig config = BaseConfig(ca, 1, 2);
  config.frame_bytes_max = kFrameMax;
  auto receiver = MakeNetwork(std::move(config));
  REQUIRE(receiver->Start().ok());

  // Play replica 0 by hand: a correct hello, then a header announcing max+1 bytes.
  auto ctx = MakeTlsContext(CredentialsFor(ca, "replica-0", pki::Role::kReplica),
                            TlsSide::kClient);
  REQUIRE(ctx.ok());
  RawTlsClient client(*ctx);
  REQUIRE_FALSE(client.Connect(receiver->listen_port()));
  pb::LinkMessage hello;
  hello.mutable_hello()->set_incarnation(7);
  REQUIRE_FALSE(client.Write(LinkFrame(hello)));
  std::optional<std::string> reply = client.ReadFrame();
  REQUIRE(reply.has_value());
  pb::LinkMessage reply_msg;
  REQUIRE(reply_msg.ParseFromString(*reply));
  CHECK(reply_msg.hello().received_seq() == 0);

  // A frame of exactly the maximum is fine...
  pb::LinkMessage data;
  data.mutable_data()->set_seq(1);
  data.mutable_data()->set_payload(std::string(kFrameMax - 8, 'x'));
  REQUIRE(data.ByteSizeLong() <= kFrameMax);
  REQUIRE_FALSE(client.Write(LinkFrame(data)));
  std::optional<Delivery> ok = receiver->Receive(5s);
  REQUIRE(ok.has_value());
  CHECK(ok->from == 0);

  // ...one byte more closes the connection before the body is read.
  const FrameHeader oversized = EncodeFrameHeader(kFrameMax + 1);
  std::string bytes(reinterpret_cast<const char*>(oversized.data()), oversized.size());
  bytes.append(kFrameMax + 1, 'y');
  (void)client.Write(bytes);  // may fail part-way once the server closes
  CHECK(client.WaitClosed());
  CHECK(receiver->network_counters().oversized_frames == 1);
  CHECK(receiver->counters(0).protocol_errors == 1);
  CHECK(receiver->Receive(200ms) == std::nullopt);
}

TEST_CASE("the receiver drops duplicates, closes on a gap, and reports what it has on reconnect",
          "[transport][peer]") {
  TestCa ca;
  auto receiver = MakeNetwork(BaseConfig(ca, 1, 2));
  REQUIRE(receiver->Start().ok());
  auto ctx = MakeTlsContext(CredentialsFor(ca, "replica-0", pki::Role::kReplica),
                            TlsSide::kClient);
  REQUIRE(ctx.ok());
  auto data = [](uint64_t seq, const std::string& payload) {
    pb::LinkMessage m;
    m.mutable_data()->set_seq(seq);
    m.mutable_data()->set_payload(payload);
    return LinkFrame(m);
  };
  pb::LinkMessage hello;
  hello.mutable_hello()->set_incarnation(42);
  {
    RawTlsClient client(*ctx);
    REQUIRE_FALSE(client.Connect(receiver->listen_port()));
    REQUIRE_FALSE(client.Write(LinkFrame(hello)));
    REQUIRE(client.ReadFrame().has_value());
    REQUIRE_FALSE(client.Write(data(1, "one") + data(1, "one again") + data(2, "two")));
    std::optional<Delivery> d1 = receiver->Receive(5s);
    std::optional<Delivery> d2 = receiver->Receive(5s);
    REQUIRE(d1.has_value());
    REQUIRE(d2.has_value());
    CHECK(d1->payload == "one");
    CHECK(d2->payload == "two");
    CHECK(WaitFor([&] { return receiver->counters(0).duplicates_dropped == 1; }));
    // Seq 4 skips 3: a protocol error that closes the link.
    REQUIRE_FALSE(client.Write(data(4, "four")));
    CHECK(client.WaitClosed());
    CHECK(receiver->counters(0).protocol_errors == 1);
  }
  CHECK(receiver->Receive(100ms) == std::nullopt);
  // The same incarnation reconnects: the receiver says it has everything up to 2.
  RawTlsClient again(*ctx);
  REQUIRE_FALSE(again.Connect(receiver->listen_port()));
  REQUIRE_FALSE(again.Write(LinkFrame(hello)));
  std::optional<std::string> reply = again.ReadFrame();
  REQUIRE(reply.has_value());
  pb::LinkMessage reply_msg;
  REQUIRE(reply_msg.ParseFromString(*reply));
  CHECK(reply_msg.hello().received_seq() == 2);
  REQUIRE_FALSE(again.Write(data(3, "three")));
  std::optional<Delivery> d3 = receiver->Receive(5s);
  REQUIRE(d3.has_value());
  CHECK(d3->payload == "three");
  // Its cumulative ack comes back on the same connection.
  std::optional<std::string> ack = again.ReadFrame();
  REQUIRE(ack.has_value());
  pb::LinkMessage ack_msg;
  REQUIRE(ack_msg.ParseFromString(*ack));
  CHECK(ack_msg.ack().seq() == 3);
}

TEST_CASE("silent connections from one address are capped and cut at the handshake deadline",
          "[transport][peer]") {
  TestCa ca;
  auto nets = MakeCluster(ca, 2, [](PeerNetworkConfig& c) {
    c.handshakes_per_address_max = 2;
    c.handshake_timeout_ms = 1000;
  });
  // The real link is up first, so only the silent connections hold handshake slots.
  REQUIRE(WaitFor([&] { return nets[0]->counters(1).connects == 1; }));
  const uint64_t accepted_before = nets[1]->network_counters().connections_accepted;
  testing::RawTcpClient a;
  testing::RawTcpClient b;
  testing::RawTcpClient c;
  REQUIRE(a.Connect(nets[1]->listen_port()));
  REQUIRE(b.Connect(nets[1]->listen_port()));
  REQUIRE(WaitFor([&] {
    return nets[1]->network_counters().connections_accepted == accepted_before + 2;
  }));
  REQUIRE(c.Connect(nets[1]->listen_port()));
  CHECK(c.WaitClosed(3s));
  CHECK(nets[1]->network_counters().refused_capacity == 1);
  CHECK(a.WaitClosed(5s));
  CHECK(b.WaitClosed(5s));
  CHECK(nets[1]->network_counters().handshake_timeouts == 2);
  // The real replica on the same address gets through once the slots are free.
  REQUIRE(nets[0]->Send(1, "still here").ok());
  std::optional<Delivery> d = nets[1]->Receive(10s);
  REQUIRE(d.has_value());
  CHECK(d->payload == "still here");
}

TEST_CASE("a user certificate on the peer port is refused after the handshake",
          "[transport][peer][tls]") {
  TestCa ca;
  auto receiver = MakeNetwork(BaseConfig(ca, 1, 2));
  REQUIRE(receiver->Start().ok());
  // A user whose name even looks like a replica: the role decides, not the name.
  auto ctx = MakeTlsContext(CredentialsFor(ca, "replica-0", pki::Role::kUser), TlsSide::kClient);
  REQUIRE(ctx.ok());
  RawTlsClient client(*ctx);
  // The user certificate has no serverAuth/clientAuth mismatch for a client, so TLS
  // completes; the refusal comes from the role check right after.
  REQUIRE_FALSE(client.Connect(receiver->listen_port()));
  pb::LinkMessage hello;
  hello.mutable_hello()->set_incarnation(1);
  (void)client.Write(LinkFrame(hello));
  CHECK(client.WaitClosed());
  CHECK(receiver->network_counters().refused_role == 1);
  CHECK(receiver->Receive(100ms) == std::nullopt);
}

TEST_CASE("peer port: another CA's certificate and no certificate are refused",
          "[transport][peer][tls]") {
  TestCa ca("cluster-ca");
  TestCa other("other-ca");
  auto receiver = MakeNetwork(BaseConfig(ca, 1, 2));
  REQUIRE(receiver->Start().ok());

  SECTION("another CA") {
    // Trusts our CA (so it would accept the server) but holds a foreign certificate.
    auto ctx = MakeTlsContext(CredentialsFrom(ca, other, "replica-0", pki::Role::kReplica),
                              TlsSide::kClient);
    REQUIRE(ctx.ok());
    RawTlsClient client(*ctx);
    (void)client.Connect(receiver->listen_port());
    CHECK(client.WaitClosed());
  }
  SECTION("no certificate") {
    RawTlsClient client(RawTlsClient::NoCertificateContext());
    (void)client.Connect(receiver->listen_port());
    CHECK(client.WaitClosed());
  }
  CHECK(WaitFor([&] { return receiver->network_counters().refused_tls == 1; }));
  CHECK(receiver->Receive(100ms) == std::nullopt);
}

TEST_CASE("a replica that reaches the wrong replica refuses to send to it", "[transport][peer]") {
  TestCa ca;
  auto nets = MakeCluster(ca, 3);
  // Replica 0 is misdirected: "replica 1" is really at replica 2's port.
  nets[0]->ResetLinks(1);
  REQUIRE(nets[0]->SetPeerAddress(1, "127.0.0.1", nets[2]->listen_port()).ok());
  nets[0]->ResetLinks(1);
  const uint64_t failures_before = nets[0]->counters(1).connect_failures;
  REQUIRE(nets[0]->Send(1, "for replica 1 only").ok());
  CHECK(WaitFor([&] { return nets[0]->counters(1).connect_failures > failures_before + 1; }));
  CHECK(nets[2]->Receive(100ms) == std::nullopt);
  // Pointed back at the right place, the queued message arrives.
  REQUIRE(nets[0]->SetPeerAddress(1, "127.0.0.1", nets[1]->listen_port()).ok());
  std::optional<Delivery> d = nets[1]->Receive(10s);
  REQUIRE(d.has_value());
  CHECK(d->from == 0);
  CHECK(d->payload == "for replica 1 only");
}

TEST_CASE("a full resend buffer makes Send return RESOURCE_EXHAUSTED", "[transport][peer]") {
  TestCa ca;
  PeerNetworkConfig config = BaseConfig(ca, 0, 2);
  config.resend_buffer_messages_max = 10;
  config.resend_buffer_bytes_max = 1000;
  auto net = MakeNetwork(std::move(config));
  REQUIRE(net->Start().ok());  // peer 1's address is unknown: nothing is ever acked
  for (int k = 0; k < 10; ++k) {
    REQUIRE(net->Send(1, "m").ok());
  }
  absl::Status full = net->Send(1, "m");
  CHECK(full.code() == absl::StatusCode::kResourceExhausted);
  CHECK(net->counters(1).sends_refused == 1);
  CHECK(net->counters(1).queue_messages == 10);

  PeerNetworkConfig by_bytes = BaseConfig(ca, 0, 2);
  by_bytes.resend_buffer_bytes_max = 1000;
  auto net2 = MakeNetwork(std::move(by_bytes));
  REQUIRE(net2->Send(1, std::string(600, 'a')).ok());
  CHECK(net2->Send(1, std::string(600, 'b')).code() == absl::StatusCode::kResourceExhausted);
  CHECK(net2->Send(1, std::string(400, 'c')).ok());

  CHECK(net->Send(7, "x").code() == absl::StatusCode::kNotFound);
  CHECK(net->Send(1, std::string(kDefaultFrameBytesMax, 'z')).code() ==
        absl::StatusCode::kInvalidArgument);
  net->Stop();
  CHECK(net->Send(1, "m").code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("a full inbox pushes back on the link instead of buffering", "[transport][peer]") {
  TestCa ca;
  auto nets = MakeCluster(ca, 2, [](PeerNetworkConfig& c) {
    c.inbox_messages_max = 4;
  });
  constexpr size_t kCount = 200;
  for (size_t k = 0; k < kCount; ++k) {
    REQUIRE(nets[0]->Send(1, Msg(0, 1, k)).ok());
  }
  // Let the link fill the inbox, then check it stopped there.
  CHECK(WaitFor([&] { return nets[1]->network_counters().inbox_messages == 4; }));
  std::this_thread::sleep_for(50ms);
  CHECK(nets[1]->network_counters().inbox_messages == 4);
  auto got = ReceiveN(*nets[1], kCount);
  for (size_t k = 0; k < kCount; ++k) {
    REQUIRE(got[0][k] == Msg(0, 1, k));
  }
}

TEST_CASE("PeerNetwork refuses bad configurations", "[transport][peer]") {
  TestCa ca;
  PeerNetworkConfig self_peer = BaseConfig(ca, 0, 2);
  self_peer.peers.push_back(PeerAddress{0, "127.0.0.1", 1});
  CHECK(PeerNetwork::Create(std::move(self_peer)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  PeerNetworkConfig dup = BaseConfig(ca, 0, 2);
  dup.peers.push_back(dup.peers[0]);
  CHECK(PeerNetwork::Create(std::move(dup)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  PeerNetworkConfig zero = BaseConfig(ca, 0, 2);
  zero.resend_buffer_messages_max = 0;
  CHECK(PeerNetwork::Create(std::move(zero)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  PeerNetworkConfig no_key = BaseConfig(ca, 0, 2);
  no_key.credentials.key.reset();
  CHECK_FALSE(PeerNetwork::Create(std::move(no_key)).ok());
}


TEST_CASE("a credential reload cuts the links of a revoked replica and keeps the others",
          "[transport][peer][tls][reload]") {
  TestCa ca;
  constexpr NodeId kN = 3;
  std::string revoked_pem;
  auto nets = MakeCluster(ca, kN, [&](PeerNetworkConfig& config) {
    if (config.self == 2) revoked_pem = config.credentials.cert_pem;
  });
  for (NodeId from : {NodeId{1}, NodeId{2}}) {
    REQUIRE(nets[from]->Send(0, Msg(from, 0, 0)).ok());
  }
  ReceiveN(*nets[0], 2);

  const int64_t now = testing::NowUnixSeconds();
  absl::StatusOr<std::string> crl = ca.ca().MakeCrl(std::vector<std::string>{revoked_pem}, now - 60, now + 3600);
  REQUIRE(crl.ok());
  absl::StatusOr<pki::CaBundle> bundle = pki::CaBundle::FromPemWithCrls(ca.cert_pem(), *crl);
  REQUIRE(bundle.ok());
  TlsCredentials reloaded = CredentialsFor(ca, ReplicaName(0), pki::Role::kReplica);
  reloaded.ca = std::make_shared<const pki::CaBundle>(std::move(*bundle));
  REQUIRE(nets[0]->UpdateCredentials(reloaded).ok());
  // Both links with replica 2 were established; both are cut.
  CHECK(nets[0]->network_counters().closed_untrusted == 2);

  // Replica 1 (and replica 0's new certificate) still work both ways; replica 2 cannot
  // get a message in, however often it redials.
  REQUIRE(nets[1]->Send(0, Msg(1, 0, 1)).ok());
  REQUIRE(nets[2]->Send(0, Msg(2, 0, 1)).ok());
  REQUIRE(nets[0]->Send(1, Msg(0, 1, 1)).ok());
  REQUIRE(nets[0]->Send(2, Msg(0, 2, 1)).ok());
  std::map<NodeId, std::vector<std::string>> got = ReceiveN(*nets[0], 1);
  CHECK(got[1] == std::vector<std::string>{Msg(1, 0, 1)});
  CHECK(ReceiveN(*nets[1], 1)[0] == std::vector<std::string>{Msg(0, 1, 1)});
  CHECK(nets[0]->Receive(1500ms) == std::nullopt);
  CHECK(nets[2]->Receive(100ms) == std::nullopt);
  CHECK(WaitFor([&] { return nets[0]->network_counters().refused_tls >= 1; }));

  // Lifting the revocation lets the links back, and what was held is delivered once.
  REQUIRE(nets[0]->UpdateCredentials(CredentialsFor(ca, ReplicaName(0), pki::Role::kReplica)).ok());
  CHECK(ReceiveN(*nets[0], 1)[2] == std::vector<std::string>{Msg(2, 0, 1)});
  CHECK(ReceiveN(*nets[2], 1)[0] == std::vector<std::string>{Msg(0, 2, 1)});
}

TEST_CASE("a peer over messages_per_second_max is held back, and nothing is lost",
          "[transport][peer][budget]") {
  TestCa ca;
  constexpr uint32_t kRate = 400;
  constexpr size_t kCount = 1200;  // a 400-message burst, then 800 at 400 a second
  auto nets = MakeCluster(ca, 2, [](PeerNetworkConfig& config) {
    if (config.self == 1) config.messages_per_second_max = kRate;
  });
  const auto start = std::chrono::steady_clock::now();
  for (size_t k = 0; k < kCount; ++k) REQUIRE(nets[0]->Send(1, Msg(0, 1, k)).ok());
  std::map<NodeId, std::vector<std::string>> got = ReceiveN(*nets[1], kCount, 20s);
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t k = 0; k < kCount; ++k) REQUIRE(got[0][k] == Msg(0, 1, k));
  CHECK(elapsed_s >= 1.6);  // (1200 - 400) / 400 = 2 s, less scheduling slack
  CHECK(nets[1]->counters(0).throttled > 0);
  CHECK(nets[1]->counters(0).duplicates_dropped == 0);
  // The other direction is not limited.
  for (size_t k = 0; k < kCount; ++k) REQUIRE(nets[1]->Send(0, Msg(1, 0, k)).ok());
  const auto back = std::chrono::steady_clock::now();
  ReceiveN(*nets[0], kCount, 20s);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count() < 1.5);
  CHECK(nets[0]->counters(1).throttled == 0);
}

}  // namespace
}  // namespace belfry::transport
