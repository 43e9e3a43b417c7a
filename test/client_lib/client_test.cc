// belfry::Client end to end over mutual TLS against fake replicas (fake_cluster.h) that
// run the real pre-check and 3S state machine: the 3S operations, the 2f+1 quorum with up
// to f faulty replicas (silent, lying, bad shares), retransmission, the deadline (exit 7),
// final refusals and concurrent callers (issue 4, "client_lib for applications").
#include "client_lib/client.h"

#include <sys/stat.h>

#include <array>
#include <future>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "test/client_lib/client_test_util.h"
#include "test/client_lib/fake_cluster.h"

namespace belfry {
namespace {

using client::testing::FakeReplicaCluster;
using client::testing::TempDir;

struct Harness {
  TempDir tmp;
  std::unique_ptr<FakeReplicaCluster> cluster;

  explicit Harness(const pb::Limits& limits = {}) {
    auto started = FakeReplicaCluster::Start(tmp.path(), {"alice", "bob"}, limits);
    INFO(started.status().ToString());
    REQUIRE(started.ok());
    cluster = *std::move(started);
  }

  std::unique_ptr<Client> Connect(const std::string& user,
                                  std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    ClientOptions options;
    options.cluster_config_path = cluster->config_path();
    options.user_key_path = cluster->key_path(user);
    options.user_cert_path = cluster->cert_path(user);
    options.deadline = deadline;
    options.retransmit_after = std::chrono::milliseconds(200);
    auto client = Client::Connect(std::move(options));
    INFO(client.status().ToString());
    REQUIRE(client.ok());
    return *std::move(client);
  }

  std::unique_ptr<Client> LoggedIn(const std::string& user) {
    std::unique_ptr<Client> client = Connect(user);
    auto login = client->Login(user);
    INFO(login.status().ToString());
    REQUIRE(login.ok());
    return client;
  }
};

TEST_CASE("client: the 3S operations through 2f+1 signed replies", "[client][e2e]") {
  Harness h;
  std::unique_ptr<Client> alice = h.LoggedIn("alice");
  std::unique_ptr<Client> bob = h.LoggedIn("bob");

  auto in = alice->CheckIn("notes", "hello world");
  REQUIRE(in.ok());
  CHECK(in->created);
  CHECK(in->owner == "alice");
  CHECK(in->replicas.agreeing.size() >= 3);

  auto out = alice->CheckOut("notes");
  REQUIRE(out.ok());
  CHECK(out->data == "hello world");
  CHECK_FALSE(out->integrity_certificate.has_value());

  // bob has no right yet: 3S 702, exit 4.
  auto denied = bob->CheckOut("notes");
  CHECK(ServiceStatusOf(denied.status()) == pb::STATUS_ACCESS_DENIED);
  CHECK(ExitCodeFor(ErrorKindOf(denied.status())) == 4);

  auto grant = alice->Grant("notes", GrantTarget::User("bob"), Rights::kCheckOut, 60);
  REQUIRE(grant.ok());
  CHECK(grant->target.uid == "bob");
  auto bobs = bob->CheckOut("notes");
  REQUIRE(bobs.ok());
  CHECK(bobs->data == "hello world");

  REQUIRE(alice->Delete("notes").ok());
  auto gone = bob->CheckOut("notes");
  CHECK(ServiceStatusOf(gone.status()) == pb::STATUS_NO_SUCH_DOCUMENT);
  CHECK(ExitCodeFor(ErrorKindOf(gone.status())) == 5);

  REQUIRE(alice->Logout().ok());
  auto after = alice->CheckIn("notes", "x");
  CHECK(ErrorKindOf(after.status()) == ErrorKind::kNotLoggedIn);
}

TEST_CASE("client: confidential + integrity documents round-trip and verify offline",
          "[client][e2e]") {
  Harness h;
  std::unique_ptr<Client> alice = h.LoggedIn("alice");
  const std::string secret = "CANARY-7f3a the plans";
  auto in = alice->CheckIn("plans", secret, CheckInFlags{true, true});
  REQUIRE(in.ok());
  auto out = alice->CheckOut("plans");
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  CHECK(out->data == secret);
  CHECK(out->confidential);
  REQUIRE(out->integrity_certificate.has_value());
  CHECK(out->replicas.faults.empty());
  const std::string ca = h.cluster->dir() + "/ca.crt";
  const std::string service = h.cluster->dir() + "/service.crt";

  // The certificate covers the stored (encrypted) bytes, not the plaintext.
  CHECK(ErrorKindOf(VerifyIntegrityCertificate(ca, service, secret, out->integrity_certificate->der).status()) ==
        ErrorKind::kIntegrity);

  SECTION("a plain integrity document verifies against its own bytes") {
    REQUIRE(alice->CheckIn("terms", "signed terms", CheckInFlags{false, true}).ok());
    auto terms = alice->CheckOut("terms");
    REQUIRE(terms.ok());
    REQUIRE(terms->integrity_certificate.has_value());
    auto verified = VerifyIntegrityCertificate(ca, service, "signed terms", terms->integrity_certificate->der);
    INFO(verified.status().ToString());
    REQUIRE(verified.ok());
    CHECK(verified->doc == "terms");
    CHECK(verified->owner == "alice");
    CHECK(verified->version == terms->version);
    CHECK(verified->cluster_id == "fake-cluster");
    CHECK(verified->sha256 == terms->sha256);
    CHECK(verified->signing_time_ms == terms->integrity_certificate->signing_time_ms);
    CHECK(ErrorKindOf(VerifyIntegrityCertificate(ca, service, "forged terms", terms->integrity_certificate->der)
                          .status()) == ErrorKind::kIntegrity);
    // Signed by another key than the named service certificate's: refused.
    std::string altered = terms->integrity_certificate->der;
    altered[altered.size() - 5] ^= 1;
    CHECK_FALSE(VerifyIntegrityCertificate(ca, service, "signed terms", altered).ok());
  }
}

TEST_CASE("client: f faulty replicas change nothing, and are reported", "[client][e2e]") {
  Harness h;
  std::unique_ptr<Client> alice = h.LoggedIn("alice");
  REQUIRE(alice->CheckIn("d", "data", CheckInFlags{true, true}).ok());

  SECTION("a silent replica") {
    h.cluster->replica(2).behaviour().silent = true;
    auto out = alice->CheckOut("d");
    REQUIRE(out.ok());
    CHECK(out->data == "data");
  }
  SECTION("a replica that signs a different result") {
    h.cluster->replica(1).behaviour().lie = true;
    auto out = alice->CheckOut("d");
    REQUIRE(out.ok());
    CHECK(out->data == "data");
    // Its lie may arrive after the quorum; when it is seen it is named.
    for (uint32_t r : out->replicas.disagreeing) CHECK(r == 1);
    for (uint32_t r : out->replicas.agreeing) CHECK(r != 1);
  }
  SECTION("a replica with a bad decryption share and a bad integrity signature") {
    h.cluster->replica(3).behaviour().bad_attachments = true;
    auto out = alice->CheckOut("d");
    INFO(out.status().ToString());
    REQUIRE(out.ok());
    CHECK(out->data == "data");
    REQUIRE(out->integrity_certificate.has_value());
    if (std::count(out->replicas.agreeing.begin(), out->replicas.agreeing.end(), 3u) != 0) {
      CHECK(out->replicas.faults.count(3) == 1);
    }
    // A plain integrity document: its certificate, combined without the bad share,
    // verifies against the document's bytes.
    h.cluster->replica(3).behaviour().bad_attachments = false;
    REQUIRE(alice->CheckIn("p", "plain", CheckInFlags{false, true}).ok());
    h.cluster->replica(3).behaviour().bad_attachments = true;
    auto plain = alice->CheckOut("p");
    REQUIRE(plain.ok());
    REQUIRE(plain->integrity_certificate.has_value());
    auto verified = VerifyIntegrityCertificate(h.cluster->dir() + "/ca.crt", h.cluster->dir() + "/service.crt",
                                               "plain", plain->integrity_certificate->der);
    INFO(verified.status().ToString());
    CHECK(verified.ok());
  }
}

TEST_CASE("client: lost requests are retransmitted byte for byte", "[client][e2e]") {
  Harness h;
  std::unique_ptr<Client> alice = h.LoggedIn("alice");
  std::array<uint64_t, FakeReplicaCluster::kN> seen_before{};
  for (uint32_t r = 0; r < FakeReplicaCluster::kN; ++r) {
    seen_before[r] = h.cluster->replica(r).requests_seen();
    h.cluster->replica(r).behaviour().drop_requests = 2;
  }
  auto in = alice->CheckIn("d", "x");
  INFO(in.status().ToString());
  REQUIRE(in.ok());
  // 2f+1 replicas answered, and each of them only after dropping two copies: it saw the
  // request at least three times. (The last replica may have seen fewer: once 2f+1
  // answered, the client stops retransmitting, so a count on one fixed replica races.)
  uint32_t saw_three = 0;
  for (uint32_t r = 0; r < FakeReplicaCluster::kN; ++r) {
    if (h.cluster->replica(r).requests_seen() - seen_before[r] >= 3) ++saw_three;
  }
  CHECK(saw_three >= 3);
  // The document exists once: a retransmission executed twice would fail or re-version.
  auto out = alice->CheckOut("d");
  REQUIRE(out.ok());
  CHECK(out->version == in->version);
}

TEST_CASE("client: a login whose replies were lost and that was ordered again succeeds",
          "[client][e2e]") {
  // Replicas 2 and 3 execute the login but their replies are lost; the retransmission is
  // ordered again, where the same login bytes are stale. f+1 replicas signed its success
  // in the first ordering, so the login took effect.
  Harness h;
  h.cluster->replica(2).behaviour().drop_replies = 1;
  h.cluster->replica(3).behaviour().drop_replies = 1;
  std::unique_ptr<Client> alice = h.Connect("alice");
  auto login = alice->Login("alice");
  INFO(login.status().ToString());
  REQUIRE(login.ok());
  CHECK(alice->CheckIn("d", "x").ok());
}

TEST_CASE("client: a login that reached most replicas only after it executed succeeds",
          "[client][e2e]") {
  // Replica 0 orders and executes the login; replicas 1..3 receive it only afterwards
  // and order it again, where it is stale: 2f+1 signed LOGIN_STALE, one signed OK. The
  // client asks the cluster whether the session exists before believing "stale".
  Harness h;
  std::unique_ptr<Client> alice = h.Connect("alice");
  // Let replica 0 order the login first.
  for (uint32_t r = 1; r < 4; ++r) h.cluster->replica(r).behaviour().late_requests = 1;
  const int64_t before_ms = client::testing::NowMs();
  auto login = alice->Login("alice");
  INFO(login.status().ToString());
  REQUIRE(login.ok());
  CHECK(login->next_seq == 2);
  // One replica signed the success, so its expiry is not taken: the client assumes the
  // earliest the session can expire (login time - skew + session), never later.
  const config::Limits limits;
  const int64_t earliest_ms = before_ms - int64_t{limits.login_clock_skew_seconds} * 1000 +
                              int64_t{limits.session_seconds} * 1000;
  CHECK(login->session_expires_ms >= earliest_ms);
  CHECK(login->session_expires_ms <= client::testing::NowMs() - int64_t{limits.login_clock_skew_seconds} * 1000 +
                                         int64_t{limits.session_seconds} * 1000);
  CHECK(alice->CheckIn("d", "x").ok());

  SECTION("a login that really is stale is still reported so") {
    std::unique_ptr<Client> again = h.Connect("alice");
    auto stale = again->Login("alice", 1);  // a client time long before the last login
    CHECK(ServiceStatusOf(stale.status()) == pb::STATUS_LOGIN_STALE);
    CHECK(ExitCodeFor(ErrorKindOf(stale.status())) == 3);
  }
}

TEST_CASE("client: without 2f+1 replicas the call fails in time with kNoQuorum",
          "[client][e2e]") {
  Harness h;
  std::unique_ptr<Client> alice = h.LoggedIn("alice");
  h.cluster->replica(0).behaviour().silent = true;
  h.cluster->replica(3).behaviour().silent = true;
  std::unique_ptr<Client> impatient = h.Connect("alice", std::chrono::milliseconds(1500));
  auto exported = alice->ExportSession();
  REQUIRE(exported.ok());
  impatient->ResumeSession(*std::move(exported), nullptr, 100);
  const auto start = std::chrono::steady_clock::now();
  auto in = impatient->CheckIn("d", "x");
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(ErrorKindOf(in.status()) == ErrorKind::kNoQuorum);
  CHECK(ExitCodeFor(ErrorKindOf(in.status())) == 7);
  CHECK(std::string(in.status().message()).find("2f+1") != std::string::npos);
  CHECK(took >= std::chrono::milliseconds(1400));
  CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("client: f+1 identical signed refusals are the final answer", "[client][e2e]") {
  // cluster.conf promises more than the replicas' state machine accepts, so the client's
  // own check passes and every replica refuses in its pre-check.
  pb::Limits limits;
  limits.set_document_bytes_max(10 << 20);
  limits.set_request_bytes_max(11 << 20);
  limits.set_frame_bytes_max(12 << 20);
  Harness h(limits);
  std::unique_ptr<Client> alice = h.LoggedIn("alice");
  auto in = alice->CheckIn("big", std::string(9 << 20, 'x'));
  CHECK(ServiceStatusOf(in.status()) == pb::STATUS_DOCUMENT_TOO_LARGE);
  CHECK(ExitCodeFor(ErrorKindOf(in.status())) == 2);
}

TEST_CASE("client: local checks refuse bad input before sending", "[client][e2e]") {
  Harness h;
  std::unique_ptr<Client> alice = h.Connect("alice");
  CHECK(ErrorKindOf(alice->CheckIn("x", "y").status()) == ErrorKind::kNotLoggedIn);
  auto login = alice->Login("alice");
  REQUIRE(login.ok());
  CHECK(ErrorKindOf(alice->CheckIn("a/b", "y").status()) == ErrorKind::kInvalidInput);
  CHECK(ErrorKindOf(alice->CheckIn("..", "y").status()) == ErrorKind::kInvalidInput);
  CHECK(ErrorKindOf(alice->CheckIn("d", std::string((8 << 20) + 1, 'x')).status()) ==
        ErrorKind::kInvalidInput);
  CHECK(ErrorKindOf(alice->Grant("d", GrantTarget::User("ALL"), Rights::kBoth, 1).status()) ==
        ErrorKind::kInvalidInput);
  CHECK(ErrorKindOf(alice->Grant("d", GrantTarget::User("bob"), Rights::kBoth, 400 * 86400)
                        .status()) == ErrorKind::kInvalidInput);
  // Logging in as someone else with one's own certificate is refused here.
  CHECK(ErrorKindOf(alice->Login("bob").status()) == ErrorKind::kNotLoggedIn);
}

TEST_CASE("client: a key that is not the certificate's is refused at connect",
          "[client][e2e]") {
  Harness h;
  ClientOptions options;
  options.cluster_config_path = h.cluster->config_path();
  options.user_key_path = h.cluster->key_path("bob");
  options.user_cert_path = h.cluster->cert_path("alice");
  auto client = Client::Connect(std::move(options));
  REQUIRE_FALSE(client.ok());
  CHECK(ExitCodeFor(ErrorKindOf(client.status())) == 3);
}

TEST_CASE("client: a second login ends the first session", "[client][e2e]") {
  Harness h;
  std::unique_ptr<Client> first = h.LoggedIn("alice");
  std::unique_ptr<Client> second = h.LoggedIn("alice");
  auto in = first->CheckIn("d", "x");
  CHECK(ServiceStatusOf(in.status()) == pb::STATUS_SESSION_ENDED);
  CHECK(ExitCodeFor(ErrorKindOf(in.status())) == 3);
  CHECK(second->CheckIn("d", "x").ok());
}

TEST_CASE("client: many requests in flight from several threads", "[client][e2e]") {
  Harness h;
  std::unique_ptr<Client> alice = h.LoggedIn("alice");
  std::vector<std::future<absl::StatusOr<CheckInInfo>>> calls;
  for (int i = 0; i < 16; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      return alice->CheckIn("doc-" + std::to_string(i), "content " + std::to_string(i));
    }));
  }
  std::set<uint64_t> versions;
  for (auto& call : calls) {
    auto info = call.get();
    INFO(info.status().ToString());
    REQUIRE(info.ok());
    versions.insert(info->version);
  }
  CHECK(versions.size() == 16);
  auto out = alice->CheckOut("doc-7");
  REQUIRE(out.ok());
  CHECK(out->data == "content 7");
}

TEST_CASE("client: replica status, signed, per replica", "[client][e2e]") {
  Harness h;
  h.cluster->replica(2).behaviour().silent = true;
  std::unique_ptr<Client> alice = h.Connect("alice");
  const auto states = alice->QueryStatus(std::chrono::milliseconds(1500));
  REQUIRE(states.size() == 4);
  for (const ReplicaState& s : states) {
    INFO(s.replica << " " << s.error);
    CHECK(s.reachable == (s.replica != 2));
    if (s.reachable) CHECK(s.faults_seen == s.replica);
  }
}

// A status is bound to its cluster and to the query it answers: one signed for another
// cluster, or carrying another query's nonce (recorded and replayed), is refused.
TEST_CASE("client: a replica status for another cluster or another query is refused", "[client][e2e]") {
  Harness h;
  h.cluster->replica(1).behaviour().stale_status_nonce = true;
  h.cluster->replica(3).behaviour().foreign_status = true;
  std::unique_ptr<Client> alice = h.Connect("alice");
  const auto states = alice->QueryStatus(std::chrono::milliseconds(1500));
  REQUIRE(states.size() == 4);
  for (const ReplicaState& s : states) {
    INFO(s.replica << " " << s.error);
    CHECK(s.reachable == (s.replica == 0 || s.replica == 2));
    if (!s.reachable) CHECK_THAT(s.error, Catch::Contains("another cluster or another query"));
  }
}

}  // namespace
}  // namespace belfry
