// Tests of the 3S rules (issue 4 "Semantics", replica/state/README.md) as executed by the
// deterministic state machine. Each test names the rule it checks. "Unchanged" means the
// refused request wrote no key and the state digest is the same before and after.
#include <catch2/catch.hpp>

#include "proto/storage.pb.h"
#include "replica/state/state_keys.h"
#include "test/state/state_test_util.h"

namespace belfry::state::testing {
namespace {

constexpr int64_t kSecond = 1000;

// Keys a post-authentication refusal may write: its session record and stored result.
void RequireOnlySessionBookkeeping(const Outcome& o, const TestUser& user) {
  const std::string session = SessionKey(ByteSpan(user.session().pk));
  const std::string results = std::string(kResultPrefix) + user.session().pk_string();
  REQUIRE(o.written_keys.size() == 2);
  for (const std::string& k : o.written_keys) {
    CHECK((k == session || k.rfind(results, 0) == 0));
  }
}

struct Fixture {
  TestPki pki;
  TestCluster cluster{pki};
  TestUser alice{"alice", pki.Issue("alice"), 1};
  TestUser bob{"bob", pki.Issue("bob"), 2};
  TestUser carol{"carol", pki.Issue("carol"), 3};

  void LoginAll(int64_t t = kT0) {
    REQUIRE(cluster.Run(alice.Login(t), t).status() == pb::STATUS_OK);
    REQUIRE(cluster.Run(bob.Login(t), t).status() == pb::STATUS_OK);
    REQUIRE(cluster.Run(carol.Login(t), t).status() == pb::STATUS_OK);
  }
  pb::Status Do(const std::string& request, std::optional<int64_t> t = std::nullopt) {
    return cluster.Run(request, t).status();
  }
};

// ---- login ----

TEST_CASE_METHOD(Fixture, "login: a user's signed login opens a session", "[login]") {
  Outcome o = cluster.Run(alice.Login());
  REQUIRE(o.status() == pb::STATUS_OK);
  CHECK(o.ex.uid == "alice");
  CHECK(o.ex.result.login().uid() == "alice");
  CHECK(o.ex.result.login().session_expires_ms() == kT0 + 12 * 3600 * kSecond);
  CHECK(Do(alice.CheckIn("doc", "hello")) == pb::STATUS_OK);
}

TEST_CASE_METHOD(Fixture, "login: alice's certificate signed by bob's key is refused", "[login]") {
  const std::string forged = bob.SignWithUserKey(alice.LoginBody(kT0));
  Outcome o = cluster.Run(forged);
  CHECK(o.status() == pb::STATUS_LOGIN_BAD_SIGNATURE);
  CHECK(o.unchanged());
  CHECK(o.ex.uid.empty());
}

TEST_CASE_METHOD(Fixture, "login: a replica certificate may not log in (role check)", "[login]") {
  TestUser replica{"replica-0", pki.Issue("replica-0", pki::Role::kReplica), 9};
  Outcome o = cluster.Run(replica.Login());
  CHECK(o.status() == pb::STATUS_LOGIN_WRONG_ROLE);
  CHECK(o.unchanged());
}

TEST_CASE_METHOD(Fixture, "login: the uid must be the certificate's common name", "[login]") {
  pb::RequestBody body = alice.LoginBody(kT0);
  body.mutable_login()->set_uid("bob");
  alice.SignProof(body);
  Outcome o = cluster.Run(alice.SignWithUserKey(body));
  CHECK(o.status() == pb::STATUS_LOGIN_UID_MISMATCH);
  CHECK(o.unchanged());
}

TEST_CASE_METHOD(Fixture, "login: certificates from another CA, expired or not yet valid are refused",
                 "[login]") {
  TestPki other;
  TestUser foreign{"alice", other.Issue("alice"), 1};
  CHECK(Do(foreign.Login()) == pb::STATUS_LOGIN_BAD_CERTIFICATE);
  TestUser expired{"dave", pki.Issue("dave", pki::Role::kUser, kT0Seconds - 7200, kT0Seconds - 3600), 4};
  CHECK(Do(expired.Login()) == pb::STATUS_LOGIN_BAD_CERTIFICATE);
  TestUser early{"erin", pki.Issue("erin", pki::Role::kUser, kT0Seconds + 3600, kT0Seconds + 7200), 5};
  Outcome o = cluster.Run(early.Login());
  CHECK(o.status() == pb::STATUS_LOGIN_BAD_CERTIFICATE);
  CHECK(o.unchanged());
}

TEST_CASE_METHOD(Fixture, "login: the same login bytes again are a replay (LOGIN_STALE)", "[login]") {
  const std::string login = alice.Login();
  REQUIRE(Do(login) == pb::STATUS_OK);
  Outcome replay = cluster.Run(login, kT0 + 5 * kSecond);
  CHECK(replay.status() == pb::STATUS_LOGIN_STALE);
  CHECK(replay.unchanged());
}

TEST_CASE_METHOD(Fixture, "login: client time must be newer than the last login and near consensus time",
                 "[login]") {
  REQUIRE(Do(alice.Login(kT0)) == pb::STATUS_OK);
  CHECK(Do(alice.Login(kT0), kT0 + kSecond) == pb::STATUS_LOGIN_STALE);         // not newer
  CHECK(Do(alice.Login(kT0 - kSecond), kT0 + kSecond) == pb::STATUS_LOGIN_STALE);  // older
  const int64_t skew = TestConfig().login_clock_skew_ms_max;
  const int64_t now = kT0 + kSecond;
  CHECK(Do(bob.Login(now + skew + 1), now) == pb::STATUS_LOGIN_STALE);  // from the future
  CHECK(Do(bob.Login(now - skew - 1), now) == pb::STATUS_LOGIN_STALE);  // from the past
  CHECK(Do(bob.Login(now + skew), now) == pb::STATUS_OK);               // at the edge
}

TEST_CASE_METHOD(Fixture, "login: a wrong session-key proof is refused", "[login]") {
  pb::RequestBody body = alice.LoginBody(kT0);
  // Claim bob's session key: the proof was made with alice's session key.
  TestUser other = bob;
  other.LoginBody(kT0);
  body.mutable_login()->set_session_public_key(other.session().pk_string());
  Outcome o = cluster.Run(alice.SignWithUserKey(body));
  CHECK(o.status() == pb::STATUS_LOGIN_BAD_SESSION_PROOF);
  CHECK(o.unchanged());
}

TEST_CASE_METHOD(Fixture, "login: a session key is never registered twice", "[login]") {
  pb::RequestBody first = alice.LoginBody(kT0);
  REQUIRE(Do(alice.SignWithUserKey(first)) == pb::STATUS_OK);
  pb::RequestBody again = first;
  again.mutable_login()->set_client_time_ms(kT0 + kSecond);
  alice.SignProof(again);
  Outcome o = cluster.Run(alice.SignWithUserKey(again), kT0 + kSecond);
  CHECK(o.status() == pb::STATUS_SESSION_KEY_REUSED);
  CHECK(o.unchanged());
}

TEST_CASE_METHOD(Fixture, "session: a second login ends the first session", "[session]") {
  REQUIRE(Do(alice.Login(kT0)) == pb::STATUS_OK);
  TestUser old_session = alice;  // keeps the first session's key
  REQUIRE(Do(alice.CheckIn("doc", "v1")) == pb::STATUS_OK);
  REQUIRE(Do(alice.Login(kT0 + kSecond), kT0 + kSecond) == pb::STATUS_OK);
  Outcome o = cluster.Run(old_session.CheckOut("doc"), kT0 + 2 * kSecond);
  CHECK(o.status() == pb::STATUS_SESSION_ENDED);
  CHECK(o.unchanged());
  CHECK(Do(alice.CheckOut("doc"), kT0 + 2 * kSecond) == pb::STATUS_OK);
}

TEST_CASE_METHOD(Fixture, "session: logout ends the session; a retransmitted logout gets its original result",
                 "[session]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  const std::string logout = alice.Logout();
  Outcome first = cluster.Run(logout);
  REQUIRE(first.status() == pb::STATUS_OK);
  Outcome again = cluster.Run(logout);
  CHECK(again.status() == pb::STATUS_OK);
  CHECK(again.ex.retransmission);
  CHECK(again.ex.result.SerializeAsString() == first.ex.result.SerializeAsString());
  CHECK(again.unchanged());
  Outcome after = cluster.Run(alice.CheckIn("doc", "x"));
  CHECK(after.status() == pb::STATUS_SESSION_ENDED);
  CHECK(after.unchanged());
}

TEST_CASE_METHOD(Fixture, "session: sessions expire at login time + session_seconds (consensus time)",
                 "[session]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  const int64_t expiry = kT0 + int64_t{TestConfig().session_seconds} * kSecond;
  CHECK(Do(alice.CheckIn("doc", "x"), expiry - 1) == pb::STATUS_OK);
  Outcome o = cluster.Run(alice.CheckOut("doc"), expiry);
  CHECK(o.status() == pb::STATUS_SESSION_EXPIRED);
  CHECK(o.unchanged());
}

TEST_CASE_METHOD(Fixture, "session: a session never outlives its certificate", "[session]") {
  TestUser dave{"dave", pki.Issue("dave", pki::Role::kUser, kT0Seconds - 60, kT0Seconds + 60), 4};
  Outcome o = cluster.Run(dave.Login());
  REQUIRE(o.status() == pb::STATUS_OK);
  CHECK(o.ex.result.login().session_expires_ms() == (kT0Seconds + 60) * kSecond);
  CHECK(Do(dave.CheckIn("d", "x"), (kT0Seconds + 60) * kSecond) == pb::STATUS_SESSION_EXPIRED);
}

TEST_CASE_METHOD(Fixture, "session: unknown session key and bad signature are refused unchanged",
                 "[session]") {
  alice.LoginBody(kT0);  // a session key that never logged in
  Outcome unknown = cluster.Run(alice.CheckIn("doc", "x"));
  CHECK(unknown.status() == pb::STATUS_SESSION_UNKNOWN);
  CHECK(unknown.unchanged());

  REQUIRE(Do(bob.Login()) == pb::STATUS_OK);
  pb::SignedRequest req;
  REQUIRE(req.ParseFromString(bob.CheckIn("doc", "x")));
  req.mutable_signature()->at(5) ^= 1;
  Outcome bad = cluster.Run(req.SerializeAsString());
  CHECK(bad.status() == pb::STATUS_BAD_SIGNATURE);
  CHECK(bad.unchanged());
}

// ---- sequence numbers: retransmission and replay ----

TEST_CASE_METHOD(Fixture, "seq: a retransmission executes once and returns the original result",
                 "[seq]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  const std::string checkin = alice.CheckIn("doc", "v1");
  Outcome first = cluster.Run(checkin);
  REQUIRE(first.status() == pb::STATUS_OK);
  REQUIRE(Do(alice.CheckIn("doc", "v2")) == pb::STATUS_OK);
  Outcome again = cluster.Run(checkin, kT0 + kSecond);
  CHECK(again.ex.retransmission);
  CHECK(again.ex.original_epoch == first.ex.original_epoch);
  CHECK(again.ex.result.SerializeAsString() == first.ex.result.SerializeAsString());
  CHECK(again.unchanged());
  // Executed once: the document still holds v2.
  Outcome out = cluster.Run(alice.CheckOut("doc"));
  CHECK(out.ex.result.check_out().data() == "v2");
}

TEST_CASE_METHOD(Fixture, "seq: a retransmitted refusal returns the same refusal, even after a grant",
                 "[seq]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "mine")) == pb::STATUS_OK);
  const std::string attempt = bob.CheckIn("doc", "bob's");
  Outcome denied = cluster.Run(attempt);
  REQUIRE(denied.status() == pb::STATUS_ACCESS_DENIED);
  RequireOnlySessionBookkeeping(denied, bob);
  REQUIRE(Do(alice.Grant("doc", "bob", pb::RIGHTS_CHECKIN, 60)) == pb::STATUS_OK);
  // A replayed copy of the refused request cannot succeed later.
  Outcome replay = cluster.Run(attempt);
  CHECK(replay.status() == pb::STATUS_ACCESS_DENIED);
  CHECK(replay.ex.retransmission);
  CHECK(replay.unchanged());
}

TEST_CASE_METHOD(Fixture, "seq: out-of-order seqs within the window are accepted", "[seq]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  const std::string r1 = alice.CheckIn("a", "1");
  const std::string r2 = alice.CheckIn("b", "2");
  const std::string r3 = alice.CheckIn("c", "3");
  std::vector<Executed> out = cluster.RunBatch({r3, r1, r2}, kT0);
  for (const Executed& ex : out) {
    CHECK(ex.result.status() == pb::STATUS_OK);
    CHECK_FALSE(ex.retransmission);
  }
}

TEST_CASE("seq: seqs at or below the window floor are replays", "[seq]") {
  TestPki pki;
  Config config = TestConfig();
  config.session_window_requests = 4;
  TestCluster cluster(pki, config);
  TestUser alice{"alice", pki.Issue("alice"), 1};
  REQUIRE(cluster.Run(alice.Login()).status() == pb::STATUS_OK);
  const std::string s6 = alice.Op(TestUser::CheckInOp("x", "6"), 6);
  REQUIRE(cluster.Run(alice.Op(TestUser::CheckInOp("x", "10"), 10)).status() == pb::STATUS_OK);
  // Window is (6, 10]: seq 6 is at the floor.
  Outcome old = cluster.Run(s6);
  CHECK(old.status() == pb::STATUS_REPLAYED_SEQUENCE);
  CHECK(old.unchanged());
  CHECK(cluster.Run(alice.Op(TestUser::CheckInOp("x", "7"), 7)).status() == pb::STATUS_OK);
  // Results below the new floor are dropped when the window slides.
  REQUIRE(cluster.Run(alice.Op(TestUser::CheckInOp("x", "20"), 20)).status() == pb::STATUS_OK);
  for (uint64_t s : {7, 10}) {
    CHECK_FALSE(OrDie(cluster.store().Get(ResultKey(ByteSpan(alice.session().pk), s))).has_value());
  }
  CHECK(OrDie(cluster.store().Get(ResultKey(ByteSpan(alice.session().pk), 20))).has_value());
}

TEST_CASE_METHOD(Fixture, "seq: a used seq with different content is a replay", "[seq]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  REQUIRE(Do(alice.Op(TestUser::CheckInOp("doc", "one"), 1)) == pb::STATUS_OK);
  Outcome o = cluster.Run(alice.Op(TestUser::CheckInOp("doc", "two"), 1));
  CHECK(o.status() == pb::STATUS_REPLAYED_SEQUENCE);
  CHECK(o.unchanged());
}

// ---- documents and rights ----

TEST_CASE_METHOD(Fixture, "3S checkin: a new document belongs to its first writer", "[rights]") {
  LoginAll();
  Outcome in = cluster.Run(alice.CheckIn("doc", "hello"));
  REQUIRE(in.status() == pb::STATUS_OK);
  CHECK(in.ex.result.check_in().created());
  CHECK(in.ex.result.check_in().owner() == "alice");
  Outcome out = cluster.Run(alice.CheckOut("doc"));
  REQUIRE(out.status() == pb::STATUS_OK);
  CHECK(out.ex.result.check_out().data() == "hello");
  CHECK(out.ex.result.check_out().owner() == "alice");
  CHECK(out.ex.result.check_out().version() == in.ex.result.check_in().version());
  CHECK(out.ex.result.check_out().sha256() == std::string(AsStringView(ByteSpan(wire::Sha256("hello")))));
  CHECK_FALSE(out.ex.decryption.has_value());
}

TEST_CASE_METHOD(Fixture, "3S checkout/checkin: without a grant others are denied (702)", "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "hello")) == pb::STATUS_OK);
  Outcome out = cluster.Run(bob.CheckOut("doc"));
  CHECK(out.status() == pb::STATUS_ACCESS_DENIED);
  RequireOnlySessionBookkeeping(out, bob);
  Outcome in = cluster.Run(bob.CheckIn("doc", "bob's"));
  CHECK(in.status() == pb::STATUS_ACCESS_DENIED);
  RequireOnlySessionBookkeeping(in, bob);
  CHECK(wire::ThreeSCode(pb::STATUS_ACCESS_DENIED) == 702);
}

TEST_CASE_METHOD(Fixture, "3S: a missing document is NO_SUCH_DOCUMENT (704)", "[rights]") {
  LoginAll();
  Outcome out = cluster.Run(alice.CheckOut("nothing"));
  CHECK(out.status() == pb::STATUS_NO_SUCH_DOCUMENT);
  RequireOnlySessionBookkeeping(out, alice);
  CHECK(Do(alice.Grant("nothing", "bob", pb::RIGHTS_BOTH, 10)) == pb::STATUS_NO_SUCH_DOCUMENT);
  CHECK(Do(alice.Delete("nothing")) == pb::STATUS_NO_SUCH_DOCUMENT);
  CHECK(wire::ThreeSCode(pb::STATUS_NO_SUCH_DOCUMENT) == 704);
}

TEST_CASE_METHOD(Fixture, "3S grant: checkin, checkout and both rights", "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "v1")) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "bob", pb::RIGHTS_CHECKIN, 60)) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "carol", pb::RIGHTS_CHECKOUT, 60)) == pb::STATUS_OK);
  CHECK(Do(bob.CheckIn("doc", "by bob")) == pb::STATUS_OK);
  CHECK(Do(bob.CheckOut("doc")) == pb::STATUS_ACCESS_DENIED);
  CHECK(Do(carol.CheckIn("doc", "by carol")) == pb::STATUS_ACCESS_DENIED);
  Outcome out = cluster.Run(carol.CheckOut("doc"));
  REQUIRE(out.status() == pb::STATUS_OK);
  CHECK(out.ex.result.check_out().data() == "by bob");
  // An authorized non-owner's checkin keeps the owner.
  CHECK(out.ex.result.check_out().owner() == "alice");
  REQUIRE(Do(alice.Grant("doc", "bob", pb::RIGHTS_BOTH, 60)) == pb::STATUS_OK);
  CHECK(Do(bob.CheckOut("doc")) == pb::STATUS_OK);
  CHECK(Do(bob.CheckIn("doc", "again")) == pb::STATUS_OK);
}

TEST_CASE_METHOD(Fixture, "3S grant: expiry is consensus time + seconds", "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "v1")) == pb::STATUS_OK);
  Outcome g = cluster.Run(alice.Grant("doc", "bob", pb::RIGHTS_CHECKOUT, 30));
  REQUIRE(g.status() == pb::STATUS_OK);
  CHECK(g.ex.result.grant().expires_ms() == kT0 + 30 * kSecond);
  CHECK(Do(bob.CheckOut("doc"), kT0 + 30 * kSecond - 1) == pb::STATUS_OK);
  CHECK(Do(bob.CheckOut("doc"), kT0 + 30 * kSecond) == pb::STATUS_ACCESS_DENIED);
}

TEST_CASE_METHOD(Fixture, "3S grant: the latest grant wins — personal, then ALL", "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "v1")) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "bob", pb::RIGHTS_BOTH, 600)) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "ALL", pb::RIGHTS_CHECKOUT, 600)) == pb::STATUS_OK);
  // The later ALL grant overrides bob's earlier personal BOTH.
  CHECK(Do(bob.CheckOut("doc")) == pb::STATUS_OK);
  CHECK(Do(bob.CheckIn("doc", "x")) == pb::STATUS_ACCESS_DENIED);
}

TEST_CASE_METHOD(Fixture, "3S grant: the latest grant wins — ALL, then personal", "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "v1")) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "ALL", pb::RIGHTS_BOTH, 600)) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "bob", pb::RIGHTS_CHECKIN, 600)) == pb::STATUS_OK);
  CHECK(Do(bob.CheckIn("doc", "x")) == pb::STATUS_OK);
  CHECK(Do(bob.CheckOut("doc")) == pb::STATUS_ACCESS_DENIED);
  // carol still has the ALL grant.
  CHECK(Do(carol.CheckOut("doc")) == pb::STATUS_OK);
  CHECK(Do(carol.CheckIn("doc", "y")) == pb::STATUS_OK);
}

TEST_CASE_METHOD(Fixture, "3S grant: an expired latest personal grant denies despite an older ALL grant",
                 "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "v1")) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "ALL", pb::RIGHTS_CHECKOUT, 600)) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "bob", pb::RIGHTS_CHECKOUT, 10)) == pb::STATUS_OK);
  CHECK(Do(bob.CheckOut("doc"), kT0 + 20 * kSecond) == pb::STATUS_ACCESS_DENIED);
  CHECK(Do(carol.CheckOut("doc"), kT0 + 20 * kSecond) == pb::STATUS_OK);
  // A zero-second grant revokes at once.
  REQUIRE(Do(alice.Grant("doc", "carol", pb::RIGHTS_CHECKOUT, 0), kT0 + 21 * kSecond) ==
          pb::STATUS_OK);
  CHECK(Do(carol.CheckOut("doc"), kT0 + 22 * kSecond) == pb::STATUS_ACCESS_DENIED);
}

TEST_CASE_METHOD(Fixture, "3S grant: ALL reaches every user, including later ones", "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "public")) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "ALL", pb::RIGHTS_CHECKOUT, 60)) == pb::STATUS_OK);
  CHECK(Do(bob.CheckOut("doc")) == pb::STATUS_OK);
  CHECK(Do(carol.CheckOut("doc")) == pb::STATUS_OK);
  TestUser dave{"dave", pki.Issue("dave"), 4};
  REQUIRE(Do(dave.Login()) == pb::STATUS_OK);
  CHECK(Do(dave.CheckOut("doc")) == pb::STATUS_OK);
  CHECK(Do(dave.CheckIn("doc", "no")) == pb::STATUS_ACCESS_DENIED);
}

TEST_CASE_METHOD(Fixture, "3S: only the owner grants and deletes, whatever rights others hold",
                 "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "v1")) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "bob", pb::RIGHTS_BOTH, 600)) == pb::STATUS_OK);
  Outcome g = cluster.Run(bob.Grant("doc", "carol", pb::RIGHTS_BOTH, 600));
  CHECK(g.status() == pb::STATUS_ACCESS_DENIED);
  RequireOnlySessionBookkeeping(g, bob);
  Outcome d = cluster.Run(bob.Delete("doc"));
  CHECK(d.status() == pb::STATUS_ACCESS_DENIED);
  RequireOnlySessionBookkeeping(d, bob);
  CHECK(Do(carol.CheckOut("doc")) == pb::STATUS_ACCESS_DENIED);
}

TEST_CASE_METHOD(Fixture, "3S delete: content and grants go; the name can be re-created by anyone",
                 "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "v1")) == pb::STATUS_OK);
  REQUIRE(Do(alice.Grant("doc", "bob", pb::RIGHTS_BOTH, 600)) == pb::STATUS_OK);
  REQUIRE(Do(alice.Delete("doc")) == pb::STATUS_OK);
  CHECK(Do(alice.CheckOut("doc")) == pb::STATUS_NO_SUCH_DOCUMENT);
  CHECK(Do(bob.CheckOut("doc")) == pb::STATUS_NO_SUCH_DOCUMENT);
  CHECK(Do(alice.Delete("doc")) == pb::STATUS_NO_SUCH_DOCUMENT);
  CHECK_FALSE(OrDie(cluster.store().Get(DocContentKey("doc"))).has_value());
  CHECK_FALSE(OrDie(cluster.store().Get(DocMetaKey("doc"))).has_value());
  // A later checkin creates a new document owned by its writer, with no old grants.
  Outcome in = cluster.Run(carol.CheckIn("doc", "carol's"));
  REQUIRE(in.status() == pb::STATUS_OK);
  CHECK(in.ex.result.check_in().created());
  CHECK(in.ex.result.check_in().owner() == "carol");
  CHECK(Do(bob.CheckOut("doc")) == pb::STATUS_ACCESS_DENIED);
  CHECK(Do(alice.CheckOut("doc")) == pb::STATUS_ACCESS_DENIED);
}

TEST_CASE_METHOD(Fixture, "3S: versions grow across checkins, deletes and documents", "[rights]") {
  LoginAll();
  uint64_t last = 0;
  for (const std::string& req : {alice.CheckIn("a", "1"), alice.CheckIn("b", "1"),
                                 alice.CheckIn("a", "2"), alice.Delete("a"),
                                 alice.CheckIn("a", "3")}) {
    Outcome o = cluster.Run(req);
    REQUIRE(o.status() == pb::STATUS_OK);
    if (o.ex.result.has_check_in()) {
      CHECK(o.ex.result.check_in().version() > last);
      last = o.ex.result.check_in().version();
    }
  }
}

TEST_CASE_METHOD(Fixture, "grant: invalid grants are refused", "[rights]") {
  LoginAll();
  REQUIRE(Do(alice.CheckIn("doc", "v1")) == pb::STATUS_OK);
  Outcome self = cluster.Run(alice.Grant("doc", "alice", pb::RIGHTS_BOTH, 10));
  CHECK(self.status() == pb::STATUS_INVALID_GRANT);
  RequireOnlySessionBookkeeping(self, alice);
  Outcome rights = cluster.Run(alice.Grant("doc", "bob", pb::RIGHTS_UNSPECIFIED, 10));
  CHECK(rights.status() == pb::STATUS_INVALID_GRANT);
  CHECK(rights.unchanged());
  CHECK(Do(alice.Grant("doc", "bob", pb::RIGHTS_BOTH, TestConfig().grant_seconds_max + 1)) ==
        pb::STATUS_INVALID_GRANT);
  CHECK(Do(alice.Grant("doc", "bad/name", pb::RIGHTS_BOTH, 10)) == pb::STATUS_INVALID_GRANT);
  pb::SessionOp both = TestUser::GrantOp("doc", "ALL", pb::RIGHTS_BOTH, 10);
  both.mutable_grant()->set_target_uid("bob");
  CHECK(Do(alice.Op(both)) == pb::STATUS_INVALID_GRANT);
}

TEST_CASE("grant: personal grants per document are bounded; an ALL grant resets them",
          "[rights]") {
  TestPki pki;
  Config config = TestConfig();
  config.document_grants_max = 2;
  TestCluster cluster(pki, config);
  TestUser alice{"alice", pki.Issue("alice"), 1};
  REQUIRE(cluster.Run(alice.Login()).status() == pb::STATUS_OK);
  REQUIRE(cluster.Run(alice.CheckIn("doc", "v")).status() == pb::STATUS_OK);
  REQUIRE(cluster.Run(alice.Grant("doc", "u1", pb::RIGHTS_BOTH, 60)).status() == pb::STATUS_OK);
  REQUIRE(cluster.Run(alice.Grant("doc", "u2", pb::RIGHTS_BOTH, 60)).status() == pb::STATUS_OK);
  REQUIRE(cluster.Run(alice.Grant("doc", "u1", pb::RIGHTS_CHECKIN, 60)).status() == pb::STATUS_OK);
  Outcome full = cluster.Run(alice.Grant("doc", "u3", pb::RIGHTS_BOTH, 60));
  CHECK(full.status() == pb::STATUS_TOO_MANY_GRANTS);
  RequireOnlySessionBookkeeping(full, alice);
  REQUIRE(cluster.Run(alice.Grant("doc", "ALL", pb::RIGHTS_CHECKOUT, 60)).status() == pb::STATUS_OK);
  CHECK(cluster.Run(alice.Grant("doc", "u3", pb::RIGHTS_BOTH, 60)).status() == pb::STATUS_OK);
  // Expired grants are dropped once no ALL grant is in force.
  REQUIRE(cluster.Run(alice.Grant("doc", "ALL", pb::RIGHTS_CHECKOUT, 0), kT0 + kSecond).status() ==
          pb::STATUS_OK);
  REQUIRE(cluster.Run(alice.Grant("doc", "u4", pb::RIGHTS_BOTH, 60), kT0 + 61 * kSecond).status() ==
          pb::STATUS_OK);
  pb::DocumentMeta meta;
  REQUIRE(meta.ParseFromString(*OrDie(cluster.store().Get(DocMetaKey("doc")))));
  CHECK_FALSE(meta.has_all_grant());
  REQUIRE(meta.user_grants_size() == 1);
  CHECK(meta.user_grants(0).uid() == "u4");
}

// ---- request validation ----

TEST_CASE_METHOD(Fixture, "validation: the wrong cluster id is refused", "[validation]") {
  pb::RequestBody body = alice.LoginBody(kT0);
  body.set_cluster_id("other-cluster");
  alice.SignProof(body);
  Outcome o = cluster.Run(alice.SignWithUserKey(body));
  CHECK(o.status() == pb::STATUS_WRONG_CLUSTER);
  CHECK(o.unchanged());
}

TEST_CASE_METHOD(Fixture, "validation: bad document names are refused unchanged", "[validation]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  for (const std::string& name :
       {std::string(), std::string("."), std::string(".."), std::string("a/b"),
        std::string("a\\b"), std::string("a\0b", 3), std::string("tab\t"),
        std::string("\xff\xfe"), std::string(256, 'x'), std::string("\xe2\x80\xae" "evil")}) {
    Outcome in = cluster.Run(alice.CheckIn(name, "x"));
    CHECK(in.status() == pb::STATUS_INVALID_DOCUMENT_NAME);
    CHECK(in.unchanged());
    CHECK(Do(alice.CheckOut(name)) == pb::STATUS_INVALID_DOCUMENT_NAME);
    CHECK(Do(alice.Delete(name)) == pb::STATUS_INVALID_DOCUMENT_NAME);
  }
  CHECK(Do(alice.CheckIn(std::string(255, 'x'), "x")) == pb::STATUS_OK);
  CHECK(Do(alice.CheckIn("r\xc3\xa9sum\xc3\xa9 2024.txt", "x")) == pb::STATUS_OK);
}

TEST_CASE("validation: documents above document_bytes_max are refused", "[validation]") {
  TestPki pki;
  Config config = TestConfig();
  config.document_bytes_max = 1000;
  TestCluster cluster(pki, config);
  TestUser alice{"alice", pki.Issue("alice"), 1};
  REQUIRE(cluster.Run(alice.Login()).status() == pb::STATUS_OK);
  CHECK(cluster.Run(alice.CheckIn("doc", std::string(1000, 'a'))).status() == pb::STATUS_OK);
  Outcome big = cluster.Run(alice.CheckIn("doc", std::string(1001, 'a')));
  CHECK(big.status() == pb::STATUS_DOCUMENT_TOO_LARGE);
  CHECK(big.unchanged());
  // Beyond the whole-request bound nothing is parsed at all.
  Outcome huge = cluster.Run(std::string(config.request_bytes_max() + 1, 'a'));
  CHECK(huge.status() == pb::STATUS_DOCUMENT_TOO_LARGE);
  CHECK(huge.unchanged());
}

TEST_CASE_METHOD(Fixture, "validation: malformed requests are refused unchanged", "[validation]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  // Field 100 (varint 1) appended: parses, but no replica would interpret it.
  const std::string with_unknown = alice.CheckIn("doc", "x") + std::string("\xa0\x06\x01", 3);
  const std::vector<std::string> bad = {
      "", "garbage", std::string("\x0a\x02\x08", 3), with_unknown,
      alice.Op(pb::SessionOp())};  // no operation
  for (const std::string& req : bad) {
    Outcome o = cluster.Run(req);
    CHECK(o.status() == pb::STATUS_MALFORMED_REQUEST);
    CHECK(o.unchanged());
  }
  pb::SessionOp nonconf = TestUser::CheckInOp("doc", "x");
  nonconf.mutable_check_in()->set_version_nonce(std::string(16, 'n'));
  CHECK(Do(alice.Op(nonconf)) == pb::STATUS_MALFORMED_REQUEST);
  Outcome zero = cluster.Run(alice.Op(TestUser::CheckInOp("doc", "x"), uint64_t{0}));
  CHECK(zero.status() == pb::STATUS_MALFORMED_REQUEST);
  CHECK(zero.unchanged());
}

// ---- confidential and integrity documents ----

TEST_CASE_METHOD(Fixture, "confidential: a valid ciphertext for the label is stored; checkout authorizes decryption",
                 "[confidential]") {
  LoginAll();
  const std::string nonce(16, 'N');
  const Bytes label = wire::DocumentLabel(kCluster, "secret", AsBytes(nonce));
  const std::string ct = cluster.EncryptKey(label);
  REQUIRE(Do(alice.Op(ConfidentialCheckInOp("secret", "ciphertext-bytes", nonce, ct))) ==
          pb::STATUS_OK);
  Outcome out = cluster.Run(alice.CheckOut("secret"));
  REQUIRE(out.status() == pb::STATUS_OK);
  CHECK(out.ex.result.check_out().confidential());
  CHECK(out.ex.result.check_out().key_ciphertext() == ct);
  CHECK(out.ex.result.check_out().version_nonce() == nonce);
  REQUIRE(out.ex.decryption.has_value());
  CHECK(out.ex.decryption->label == label);
  CHECK(out.ex.decryption->ciphertext == ct);
  // Unauthorized: no decryption authorization.
  Outcome denied = cluster.Run(bob.CheckOut("secret"));
  CHECK(denied.status() == pb::STATUS_ACCESS_DENIED);
  CHECK_FALSE(denied.ex.decryption.has_value());
}

TEST_CASE_METHOD(Fixture, "confidential: a ciphertext for another label or a tampered one is refused",
                 "[confidential]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  const std::string nonce(16, 'N');
  const std::string other_doc = cluster.EncryptKey(wire::DocumentLabel(kCluster, "other", AsBytes(nonce)));
  Outcome o = cluster.Run(alice.Op(ConfidentialCheckInOp("secret", "x", nonce, other_doc)));
  CHECK(o.status() == pb::STATUS_INVALID_CIPHERTEXT);
  CHECK(o.unchanged());
  const std::string other_nonce =
      cluster.EncryptKey(wire::DocumentLabel(kCluster, "secret", AsBytes(std::string(16, 'M'))));
  CHECK(Do(alice.Op(ConfidentialCheckInOp("secret", "x", nonce, other_nonce))) ==
        pb::STATUS_INVALID_CIPHERTEXT);
  const std::string other_cluster =
      cluster.EncryptKey(wire::DocumentLabel("other-cluster", "secret", AsBytes(nonce)));
  CHECK(Do(alice.Op(ConfidentialCheckInOp("secret", "x", nonce, other_cluster))) ==
        pb::STATUS_INVALID_CIPHERTEXT);
  std::string tampered = cluster.EncryptKey(wire::DocumentLabel(kCluster, "secret", AsBytes(nonce)));
  tampered[tampered.size() - 3] ^= 1;
  CHECK(Do(alice.Op(ConfidentialCheckInOp("secret", "x", nonce, tampered))) ==
        pb::STATUS_INVALID_CIPHERTEXT);
  CHECK(Do(alice.Op(ConfidentialCheckInOp("secret", "x", "short", other_doc))) ==
        pb::STATUS_INVALID_CIPHERTEXT);
  CHECK(Do(alice.Op(ConfidentialCheckInOp("secret", "x", nonce, ""))) ==
        pb::STATUS_INVALID_CIPHERTEXT);
}

TEST_CASE_METHOD(Fixture, "confidential: a label is accepted once, even after delete", "[confidential]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  const std::string nonce(16, 'N');
  const std::string ct = cluster.EncryptKey(wire::DocumentLabel(kCluster, "secret", AsBytes(nonce)));
  REQUIRE(Do(alice.Op(ConfidentialCheckInOp("secret", "x", nonce, ct))) == pb::STATUS_OK);
  REQUIRE(Do(alice.Delete("secret")) == pb::STATUS_OK);
  Outcome again = cluster.Run(alice.Op(ConfidentialCheckInOp("secret", "x", nonce, ct)));
  CHECK(again.status() == pb::STATUS_LABEL_REUSED);
  RequireOnlySessionBookkeeping(again, alice);
  CHECK(Do(alice.CheckOut("secret")) == pb::STATUS_NO_SUCH_DOCUMENT);
}

TEST_CASE_METHOD(Fixture, "integrity: corrupted stored bytes give INTEGRITY_FAILURE, never the bytes",
                 "[integrity]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  REQUIRE(Do(alice.CheckIn("doc", "the original text", /*integrity=*/true)) == pb::STATUS_OK);
  pb::DocumentContent content;
  REQUIRE(content.ParseFromString(*OrDie(cluster.store().Get(DocContentKey("doc")))));
  content.set_data("the 0riginal text");
  cluster.CorruptKey(DocContentKey("doc"), content.SerializeAsString());
  Outcome out = cluster.Run(alice.CheckOut("doc"));
  CHECK(out.status() == pb::STATUS_INTEGRITY_FAILURE);
  CHECK_FALSE(out.ex.result.has_check_out());
  CHECK(wire::ThreeSCode(pb::STATUS_INTEGRITY_FAILURE) == 703);
}

TEST_CASE_METHOD(Fixture, "integrity: a corrupted stored key ciphertext gives INTEGRITY_FAILURE",
                 "[integrity]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  const std::string nonce(16, 'N');
  const std::string ct = cluster.EncryptKey(wire::DocumentLabel(kCluster, "secret", AsBytes(nonce)));
  REQUIRE(Do(alice.Op(ConfidentialCheckInOp("secret", "x", nonce, ct))) == pb::STATUS_OK);
  pb::DocumentContent content;
  REQUIRE(content.ParseFromString(*OrDie(cluster.store().Get(DocContentKey("secret")))));
  content.mutable_key_ciphertext()->back() ^= 1;
  cluster.CorruptKey(DocContentKey("secret"), content.SerializeAsString());
  Outcome out = cluster.Run(alice.CheckOut("secret"));
  CHECK(out.status() == pb::STATUS_INTEGRITY_FAILURE);
  CHECK_FALSE(out.ex.decryption.has_value());
}

TEST_CASE_METHOD(Fixture, "integrity: an unparseable stored record is local corruption (DATA_LOSS)",
                 "[integrity]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  REQUIRE(Do(alice.CheckIn("doc", "x")) == pb::STATUS_OK);
  cluster.CorruptKey(DocMetaKey("doc"), "\xff\xff\xff");
  StateView view(cluster.store());
  absl::StatusOr<std::vector<Executed>> out =
      cluster.machine().ExecuteBatch(view, 99, kT0, {alice.CheckOut("doc")});
  CHECK(out.status().code() == absl::StatusCode::kDataLoss);
}

// ---- checkout retransmission ----

TEST_CASE_METHOD(Fixture, "seq: a retransmitted checkout is rebuilt identically while the version stands",
                 "[seq]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  const std::string nonce(16, 'N');
  const std::string ct = cluster.EncryptKey(wire::DocumentLabel(kCluster, "secret", AsBytes(nonce)));
  REQUIRE(Do(alice.Op(ConfidentialCheckInOp("secret", "payload", nonce, ct))) == pb::STATUS_OK);
  const std::string checkout = alice.CheckOut("secret");
  Outcome first = cluster.Run(checkout);
  REQUIRE(first.status() == pb::STATUS_OK);
  Outcome again = cluster.Run(checkout);
  CHECK(again.ex.retransmission);
  CHECK(again.unchanged());
  CHECK(again.ex.result.SerializeAsString() == first.ex.result.SerializeAsString());
  REQUIRE(again.ex.decryption.has_value());
  CHECK(again.ex.decryption->label == first.ex.decryption->label);
  // After the document changes, the original can no longer be produced.
  REQUIRE(Do(alice.CheckIn("secret", "plain now")) == pb::STATUS_OK);
  Outcome gone = cluster.Run(checkout);
  CHECK(gone.status() == pb::STATUS_RESULT_UNAVAILABLE);
  CHECK(gone.unchanged());
  CHECK_FALSE(gone.ex.decryption.has_value());
}

// A checkout's bytes outlive the session that signed them: every replica keeps them in its
// log. Repeating them must not release the document or a decryption share once the
// signer may no longer read it (issue "Confidential means confidential").
struct RepeatFixture : Fixture {
  std::string checkout;
  void SetUpConfidentialCheckout() {
    LoginAll();
    const std::string nonce(16, 'N');
    const std::string ct = cluster.EncryptKey(wire::DocumentLabel(kCluster, "secret", AsBytes(nonce)));
    REQUIRE(Do(alice.Op(ConfidentialCheckInOp("secret", "payload", nonce, ct))) == pb::STATUS_OK);
    REQUIRE(Do(alice.Grant("secret", "bob", pb::RIGHTS_CHECKOUT, 60)) == pb::STATUS_OK);
    checkout = bob.CheckOut("secret");
    Outcome first = cluster.Run(checkout);
    REQUIRE(first.status() == pb::STATUS_OK);
    REQUIRE(first.ex.decryption.has_value());
    CHECK(first.ex.decryption->recipient_key == Bytes(32, 7));
  }
  void CheckRefused(pb::Status status, int64_t t = kT0) {
    Outcome again = cluster.Run(checkout, t);
    CHECK(again.status() == status);
    CHECK_FALSE(again.ex.decryption.has_value());
    CHECK_FALSE(again.ex.result.has_check_out());
    CHECK(again.unchanged());
  }
};

TEST_CASE_METHOD(RepeatFixture, "seq: a repeated checkout releases nothing after its session logged out",
                 "[seq][confidential]") {
  SetUpConfidentialCheckout();
  REQUIRE(Do(bob.Logout()) == pb::STATUS_OK);
  CheckRefused(pb::STATUS_SESSION_ENDED);
}

TEST_CASE_METHOD(RepeatFixture, "seq: a repeated checkout releases nothing after its session expired",
                 "[seq][confidential]") {
  SetUpConfidentialCheckout();
  CheckRefused(pb::STATUS_SESSION_EXPIRED, kT0 + int64_t{TestConfig().session_seconds} * kSecond);
}

TEST_CASE_METHOD(RepeatFixture, "seq: a repeated checkout releases nothing after the right was revoked",
                 "[seq][confidential]") {
  SetUpConfidentialCheckout();
  REQUIRE(Do(alice.Grant("secret", "bob", pb::RIGHTS_CHECKOUT, 0)) == pb::STATUS_OK);
  CheckRefused(pb::STATUS_ACCESS_DENIED);
}

TEST_CASE_METHOD(Fixture, "precheck: a checkout without a 32-byte reply key is malformed",
                 "[confidential]") {
  REQUIRE(Do(alice.Login()) == pb::STATUS_OK);
  pb::SessionOp op;
  op.mutable_check_out()->set_doc("doc");
  Outcome o = cluster.Run(alice.Op(op));
  CHECK(o.status() == pb::STATUS_MALFORMED_REQUEST);
  CHECK(o.ex.result.message() == "checkout: reply public key must be 32 bytes");
  CHECK(o.unchanged());
}

// ---- determinism ----

TEST_CASE("determinism: the same batches on two fresh replicas give identical results and state",
          "[determinism]") {
  TestPki pki;
  TestUser alice{"alice", pki.Issue("alice"), 1};
  TestUser bob{"bob", pki.Issue("bob"), 2};
  TestCluster a(pki);
  TestCluster b(pki);
  const std::string nonce(16, 'N');
  const std::string ct = a.EncryptKey(wire::DocumentLabel(kCluster, "s", AsBytes(nonce)));
  const std::vector<std::vector<std::string>> batches = {
      {alice.Login(), bob.Login()},
      {alice.CheckIn("d1", "one"), alice.Op(ConfidentialCheckInOp("s", "enc", nonce, ct)),
       bob.CheckIn("d2", "two"), bob.CheckOut("d1")},
      {alice.Grant("d1", "bob", pb::RIGHTS_BOTH, 30), bob.CheckOut("d1"), "garbage",
       alice.Grant("s", "ALL", pb::RIGHTS_CHECKOUT, 60), bob.CheckOut("s")},
      {bob.CheckIn("d1", "bob's"), alice.Delete("d2"), bob.Delete("d2"), alice.Logout()},
  };
  int64_t t = kT0;
  for (const auto& batch : batches) {
    std::vector<Executed> ra = a.RunBatch(batch, t);
    std::vector<Executed> rb = b.RunBatch(batch, t);
    REQUIRE(ra.size() == rb.size());
    for (size_t i = 0; i < ra.size(); ++i) {
      CHECK(ra[i].request_id == rb[i].request_id);
      CHECK(ra[i].result.SerializeAsString() == rb[i].result.SerializeAsString());
      CHECK(ra[i].decryption.has_value() == rb[i].decryption.has_value());
    }
    CHECK(a.StateDigest() == b.StateDigest());
    CHECK(a.store().log_head() == b.store().log_head());
    t += 7 * kSecond;
  }
  CHECK(a.store().VerifyChain().ok());
}

TEST_CASE("execute: consensus time out of range is a caller error", "[determinism]") {
  TestPki pki;
  TestCluster cluster(pki);
  StateView view(cluster.store());
  CHECK(cluster.machine().ExecuteBatch(view, 0, -1, {}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(cluster.machine().ExecuteBatch(view, 0, int64_t{1} << 53, {}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  Config bad = TestConfig();
  bad.session_window_requests = 0;
  CHECK_FALSE(StateMachine::Create(bad, pki.bundle(), cluster.ciphertext_check()).ok());
}

}  // namespace
}  // namespace belfry::state::testing

namespace belfry::state::testing {
namespace {

// Robustness: bytes flipped, cut or appended anywhere in valid requests never crash the
// state machine, never surface as a local error, and change state only when accepted.
TEST_CASE("robustness: mutated requests are refused cleanly", "[robustness]") {
  TestPki pki;
  TestCluster cluster(pki);
  TestUser alice{"alice", pki.Issue("alice"), 1};
  REQUIRE(cluster.Run(alice.Login()).status() == pb::STATUS_OK);
  REQUIRE(cluster.Run(alice.CheckIn("doc", "content")).status() == pb::STATUS_OK);
  const std::string nonce(16, 'N');
  const std::vector<std::string> seeds = {
      alice.CheckIn("doc", "new content"),
      alice.CheckOut("doc"),
      alice.Grant("doc", "bob", pb::RIGHTS_BOTH, 60),
      alice.Op(ConfidentialCheckInOp(
          "s", "x", nonce, cluster.EncryptKey(wire::DocumentLabel(kCluster, "s", AsBytes(nonce))))),
      TestUser{"bob", pki.Issue("bob"), 2}.Login(),
  };
  DeterministicRng rng(2024);
  for (int i = 0; i < 400; ++i) {
    std::string req = seeds[rng.Uniform(seeds.size())];
    switch (rng.Uniform(3)) {
      case 0:
        req[rng.Uniform(req.size())] ^= static_cast<char>(1 + rng.Uniform(255));
        break;
      case 1:
        req.resize(rng.Uniform(req.size()));
        break;
      default:
        req.push_back(static_cast<char>(rng.Uniform(256)));
        break;
    }
    Outcome o = cluster.Run(req);
    INFO("mutation " << i << ": " << wire::StatusName(o.status()));
    CHECK(o.status() != pb::STATUS_UNSPECIFIED);
    if (o.status() != pb::STATUS_OK) {
      CHECK((o.unchanged() || o.written_keys.size() == 2));
    }
  }
}

// ---- admission-verified requests ----

TEST_CASE_METHOD(Fixture, "crypto: requests the admission check verified are not verified again",
                 "[crypto]") {
  REQUIRE(Do(bob.Login()) == pb::STATUS_OK);
  pb::SignedRequest req;
  REQUIRE(req.ParseFromString(bob.CheckIn("doc", "x")));
  req.mutable_signature()->at(5) ^= 1;
  const std::string bad = req.SerializeAsString();
  const wire::Digest bad_id = wire::RequestId(bad);
  std::vector<wire::Digest> asked;
  auto only_bad = [&](const wire::Digest& id) {
    asked.push_back(id);
    return id == bad_id;
  };
  {
    // The oracle is consulted per request; a request it does not vouch for is verified.
    StateView view(cluster.store());
    auto out = cluster.machine().ExecuteBatch(view, 99, kT0, {bob.CheckIn("doc2", "y")}, only_bad);
    REQUIRE(out.ok());
    CHECK((*out)[0].result.status() == pb::STATUS_OK);
    CHECK(asked.size() == 1);
  }
  {
    // Vouched for: the signature check is skipped (the replica only vouches for bytes it
    // verified itself, so a real bad signature never reaches here that way).
    StateView view(cluster.store());
    auto out = cluster.machine().ExecuteBatch(view, 99, kT0, {bad}, only_bad);
    REQUIRE(out.ok());
    CHECK((*out)[0].result.status() != pb::STATUS_BAD_SIGNATURE);
  }
  {
    StateView view(cluster.store());
    auto out = cluster.machine().ExecuteBatch(view, 99, kT0, {bad});
    REQUIRE(out.ok());
    CHECK((*out)[0].result.status() == pb::STATUS_BAD_SIGNATURE);
  }
}

// ---- ordered revocation (SECURITY.md: revocation is an ordered operation) ----

// From the revocation's log position on, the user's session ends and its logins and session
// operations are refused — by the state machine, so at every correct replica alike,
// whoever relayed the request.
TEST_CASE_METHOD(Fixture, "revocation: a CA-signed revocation ends the user's session and refuses it from then on",
                 "[revocation]") {
  LoginAll();
  REQUIRE(Do(carol.CheckIn("carols", "x")) == pb::STATUS_OK);
  const std::string carol_checkout = carol.CheckOut("carols");
  Outcome revoked = cluster.Run(pki.Revocation("carol"));
  REQUIRE(revoked.status() == pb::STATUS_OK);
  CHECK(revoked.ex.result.revocation().uid() == "carol");
  CHECK(revoked.ex.result.revocation().newly_revoked());
  CHECK(revoked.ex.uid.empty());  // its reply goes to whoever submitted it
  // Carol's session ops, a fresh login and a copy of a request she signed before: refused.
  CHECK(Do(carol.CheckOut("carols")) == pb::STATUS_USER_REVOKED);
  CHECK(Do(carol_checkout) == pb::STATUS_USER_REVOKED);
  CHECK(Do(carol.Login(kT0 + 1000)) == pb::STATUS_LOGIN_REVOKED);
  // Others are untouched.
  CHECK(Do(alice.CheckIn("alices", "y")) == pb::STATUS_OK);
  // A second revocation of the same user changes nothing.
  Outcome again = cluster.Run(pki.Revocation("carol", kT0 + 1));
  CHECK(again.status() == pb::STATUS_OK);
  CHECK_FALSE(again.ex.result.revocation().newly_revoked());
  CHECK(again.unchanged());
}

TEST_CASE_METHOD(Fixture, "revocation: a revocation that a genesis CA did not sign is refused and changes nothing",
                 "[revocation]") {
  LoginAll();
  // Signed by another CA (its own certificate named): not one of the cluster's.
  const pki::CertificateAuthority other =
      OrDie(pki::CertificateAuthority::Create("other-ca", kT0Seconds - 86400, kT0Seconds + 86400));
  Outcome foreign = cluster.Run(TestPki::Revocation(other, "carol"));
  CHECK(foreign.status() == pb::STATUS_REVOCATION_INVALID);
  CHECK(foreign.unchanged());
  // The cluster CA's certificate named, but signed by another key.
  pb::SignedRequest forged;
  REQUIRE(forged.ParseFromString(pki.Revocation("carol")));
  pb::SignedRequest by_other;
  REQUIRE(by_other.ParseFromString(TestPki::Revocation(other, "carol")));
  forged.set_signature(by_other.signature());
  Outcome bad = cluster.Run(forged.SerializeAsString());
  CHECK(bad.status() == pb::STATUS_REVOCATION_INVALID);
  CHECK(bad.unchanged());
  CHECK(Do(carol.CheckIn("still-mine", "z")) == pb::STATUS_OK);
}

// ---- time-stamps (README "Time-stamps") ----

pb::SessionOp StampOp(const std::string& oid, size_t hash_bytes, std::string nonce = "\x01\x02",
                      bool has_nonce = true) {
  pb::SessionOp op;
  pb::Stamp* stamp = op.mutable_stamp();
  stamp->set_hash_algorithm(oid);
  stamp->set_hashed_message(std::string(hash_bytes, '\x5a'));
  stamp->set_nonce(std::move(nonce));
  stamp->set_has_nonce(has_nonce);
  stamp->set_cert_req(true);
  stamp->set_hash_parameters_null(true);
  return op;
}

constexpr char kSha256Oid[] = "2.16.840.1.101.3.4.2.1";
constexpr char kSha384Oid[] = "2.16.840.1.101.3.4.2.2";
constexpr char kSha512Oid[] = "2.16.840.1.101.3.4.2.3";
constexpr char kSha1Oid[] = "1.3.14.3.2.26";

TEST_CASE_METHOD(Fixture, "stamp: any session may stamp, the result echoes the stamp, only the window is written",
                 "[stamp]") {
  LoginAll();
  for (const auto& [oid, bytes] : std::vector<std::pair<std::string, size_t>>{
           {kSha256Oid, 32}, {kSha384Oid, 48}, {kSha512Oid, 64}}) {
    const pb::SessionOp op = StampOp(oid, bytes);
    Outcome o = cluster.Run(bob.Op(op));
    REQUIRE(o.status() == pb::STATUS_OK);
    CHECK(o.ex.op == Operation::kStamp);
    CHECK(o.ex.uid == "bob");
    CHECK(o.ex.result.message() == "time-stamped");
    REQUIRE(o.ex.result.has_stamp());
    const pb::StampResult& r = o.ex.result.stamp();
    CHECK(r.hash_algorithm() == oid);
    CHECK(r.hashed_message() == op.stamp().hashed_message());
    CHECK(r.nonce() == "\x01\x02");
    CHECK(r.has_nonce());
    CHECK(r.cert_req());
    CHECK(r.hash_parameters_null());
    CHECK_FALSE(o.ex.decryption.has_value());
    RequireOnlySessionBookkeeping(o, bob);
  }
  // No nonce at all is a stamp too.
  Outcome none = cluster.Run(carol.Op(StampOp(kSha256Oid, 32, "", false)));
  REQUIRE(none.status() == pb::STATUS_OK);
  CHECK_FALSE(none.ex.result.stamp().has_nonce());
}

TEST_CASE_METHOD(Fixture, "stamp: bad shapes are refused with their own status and change nothing", "[stamp]") {
  LoginAll();
  struct Case {
    pb::SessionOp op;
    pb::Status status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {StampOp(kSha1Oid, 20), pb::STATUS_STAMP_BAD_ALGORITHM,
       "stamp: the hash algorithm must be SHA-256, SHA-384 or SHA-512"},
      {StampOp("", 32), pb::STATUS_STAMP_BAD_ALGORITHM,
       "stamp: the hash algorithm must be SHA-256, SHA-384 or SHA-512"},
      {StampOp(kSha256Oid, 31), pb::STATUS_STAMP_BAD_HASH, "stamp: the hash must be 32 bytes for its algorithm"},
      {StampOp(kSha384Oid, 32), pb::STATUS_STAMP_BAD_HASH, "stamp: the hash must be 48 bytes for its algorithm"},
      {StampOp(kSha512Oid, 0), pb::STATUS_STAMP_BAD_HASH, "stamp: the hash must be 64 bytes for its algorithm"},
      {StampOp(kSha256Oid, 32, std::string(21, '\x07')), pb::STATUS_STAMP_BAD_NONCE,
       "stamp: the nonce must be at most 20 bytes"},
      {StampOp(kSha256Oid, 32, std::string("\x00\x01", 2)), pb::STATUS_STAMP_BAD_NONCE,
       "stamp: the nonce must have no leading zero byte"},
      {StampOp(kSha256Oid, 32, "\x01", false), pb::STATUS_STAMP_BAD_NONCE,
       "stamp: a nonce is given but has_nonce is false"},
  };
  for (const Case& c : cases) {
    INFO(c.message);
    Outcome o = cluster.Run(alice.Op(c.op));
    CHECK(o.status() == c.status);
    CHECK(o.ex.result.message() == c.message);
    CHECK_FALSE(o.ex.result.has_stamp());
    CHECK(o.unchanged());
  }
  // 20 bytes is the largest nonce.
  CHECK(Do(alice.Op(StampOp(kSha256Oid, 32, std::string(20, '\x07')))) == pb::STATUS_OK);
}

TEST_CASE_METHOD(Fixture, "stamp: without a session there is no stamp", "[stamp]") {
  alice.LoginBody(kT0);  // a session key the cluster never saw a login for
  Outcome o = cluster.Run(alice.Op(StampOp(kSha256Oid, 32)));
  CHECK(o.status() == pb::STATUS_SESSION_UNKNOWN);
  CHECK(o.unchanged());
}

}  // namespace
}  // namespace belfry::state::testing
