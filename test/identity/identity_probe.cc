// identity-probe — plays a network attacker who captured a user's requests, and a user who
// signs with keys that are not theirs, against a real cluster (test/identity/identity_e2e.sh).
//
//   identity-probe prepare --config C --users DIR --out CAPTURE_DIR
//   identity-probe attack  --config C --users DIR --in CAPTURE_DIR --other-config C2
//   identity-probe digest  --data PATH
//
// `prepare` does ordinary work as alice and bob and keeps every request's bytes and the
// session seeds, as an attacker on the wire (or a leaked session file) would have them.
// `attack` then replays and forges; every step prints one line "step outcome status" and
// the probe exits 1 if any outcome differs from the expected one. `digest` prints a
// stopped replica's 3S state digest, so the script can show the attack changed nothing.
//
// Requests go to every replica. An outcome is "ordered" once 2f+1 replicas sent
// byte-identical reply bodies (the state machine decided), or "rejected" once every
// replica refused it before ordering with the same status.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/files.h"
#include "base/rng.h"
#include "base/status.h"
#include "client_lib/internal/requests.h"
#include "config/cluster_config.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "proto/reply.pb.h"
#include "proto/service.pb.h"
#include "replica/state/state_keys.h"
#include "replica/store/rocks_store.h"
#include "transport/client_connection.h"
#include "base/log.h"
#include "transport/tls.h"
#include "wire/request_format.h"

namespace belfry {
namespace {

using client::internal::BuildLogin;
using client::internal::BuildSessionOp;
using client::internal::BuiltRequest;
using client::internal::SessionKey;
using namespace std::chrono_literals;

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "identity-probe: %s\n", s.ToString().c_str());
  return 2;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Outcome {
  enum Kind { kOrdered, kRejected, kUndecided } kind = kUndecided;
  pb::Status status = pb::STATUS_UNSPECIFIED;
  uint64_t epoch = 0;  // ordered: the epoch that ordered it
  std::string result;  // ordered: the serialized Result
  std::string Describe() const {
    const char* k = kind == kOrdered ? "ordered" : kind == kRejected ? "rejected" : "undecided";
    return absl::StrCat(k, " ", pb::Status_Name(status), kind == kOrdered ? absl::StrCat(" epoch=", epoch) : "");
  }
};

// One user's connections to every replica.
class Probe {
 public:
  static absl::StatusOr<std::unique_ptr<Probe>> Open(const config::ClusterConfig& cfg,
                                                     const std::string& cert, const std::string& key) {
    auto probe = std::unique_ptr<Probe>(new Probe(cfg));
    BELFRY_ASSIGN_OR_RETURN(transport::TlsCredentials creds,
                            transport::TlsCredentials::FromFiles(cfg.ca_cert_path(), cert, key));
    for (const pb::ReplicaEndpoint& r : cfg.proto.replicas()) {
      transport::ClientConnectionConfig c;
      c.host = r.host();
      c.port = static_cast<uint16_t>(r.client_port());
      c.credentials = creds;
      c.expected_server_name = transport::ReplicaName(r.id());
      BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<transport::ClientConnection> conn,
                              transport::ClientConnection::Connect(std::move(c)));
      probe->conns_.push_back(std::move(conn));
    }
    return probe;
  }

  // Sends the SignedRequest `bytes` to every replica and waits for the outcome.
  Outcome Submit(const std::string& bytes) {
    const std::string id = RequestIdOf(bytes);
    pb::ClientFrame frame;
    frame.set_request(bytes);
    const std::string wire = frame.SerializeAsString();
    for (auto& conn : conns_) (void)conn->Send(wire);
    std::map<std::string, std::set<size_t>> bodies;  // body bytes -> replicas
    std::map<size_t, pb::Status> rejections;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    Outcome out;
    while (std::chrono::steady_clock::now() < deadline) {
      for (size_t r = 0; r < conns_.size(); ++r) {
        absl::StatusOr<std::string> got = conns_[r]->Receive(20ms);
        if (!got.ok()) continue;
        pb::ClientFrame reply;
        if (!reply.ParseFromString(*got)) continue;
        if (reply.has_rejection() && reply.rejection().request_id() == id) {
          rejections[r] = static_cast<pb::Status>(reply.rejection().code());
        } else if (reply.has_reply()) {
          pb::ReplyBody body;
          if (body.ParseFromString(reply.reply().body()) && body.request_id() == id) {
            bodies[reply.reply().body()].insert(r);
          }
        }
      }
      for (const auto& [body_bytes, from] : bodies) {
        if (from.size() >= 2 * cfg_.f() + 1) {
          pb::ReplyBody body;
          pb::Result result;
          if (body.ParseFromString(body_bytes) && result.ParseFromString(body.result())) {
            out.kind = Outcome::kOrdered;
            out.status = result.status();
            out.epoch = body.epoch();
            out.result = body.result();
          }
          return out;
        }
      }
      if (rejections.size() == conns_.size()) {
        out.kind = Outcome::kRejected;
        out.status = rejections.begin()->second;
        for (const auto& [r, status] : rejections) {
          if (status != out.status) out.kind = Outcome::kUndecided;
        }
        return out;
      }
    }
    return out;
  }

 private:
  explicit Probe(const config::ClusterConfig& cfg) : cfg_(cfg) {}
  static std::string RequestIdOf(const std::string& bytes) {
    const wire::Digest d = wire::RequestId(bytes);
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
  }
  const config::ClusterConfig& cfg_;
  std::vector<std::unique_ptr<transport::ClientConnection>> conns_;
};

struct User {
  std::string cert_path;
  std::string key_path;
  std::string cert_der;
  std::unique_ptr<pki::Ed25519PrivateKey> key;
};

absl::StatusOr<User> LoadUser(const std::string& users_dir, const std::string& name) {
  User u;
  u.cert_path = absl::StrCat(users_dir, "/", name, "/", name, ".crt");
  u.key_path = absl::StrCat(users_dir, "/", name, "/", name, ".key");
  BELFRY_ASSIGN_OR_RETURN(std::string pem, ReadFileBounded(u.cert_path, kPemFileBytesMax));
  BELFRY_ASSIGN_OR_RETURN(Bytes der, pki::CertificatePemToDer(pem));
  u.cert_der.assign(der.begin(), der.end());
  BELFRY_ASSIGN_OR_RETURN(pki::Ed25519PrivateKey key, pki::Ed25519PrivateKey::FromFile(u.key_path));
  u.key = std::make_unique<pki::Ed25519PrivateKey>(std::move(key));
  return u;
}

pb::SessionOp CheckInOp(const std::string& doc, const std::string& data) {
  pb::SessionOp op;
  pb::CheckIn* in = op.mutable_check_in();
  in->set_doc(doc);
  in->set_data(data);
  in->set_integrity(true);
  return op;
}

absl::Status WriteCapture(const std::string& dir, const std::string& name, const std::string& bytes) {
  return WritePrivateFile(absl::StrCat(dir, "/", name), bytes);
}
absl::StatusOr<std::string> ReadCapture(const std::string& dir, const std::string& name) {
  return ReadFileBounded(absl::StrCat(dir, "/", name), size_t{1} << 20);
}

// A session op that names `named`'s session but is signed with `signer`'s key.
std::string ForgeSessionOp(const std::string& cluster_id, const SessionKey& named, const SessionKey& signer) {
  pb::RequestBody body;
  body.set_cluster_id(cluster_id);
  pb::SessionOp* op = body.mutable_op();
  *op = CheckInOp("ledger", "forged");
  op->set_session_public_key(named.public_key_string());
  op->set_seq(1000);
  pb::SignedRequest req;
  req.set_body(body.SerializeAsString());
  req.set_signature(signer.Sign(wire::RequestSigningMessage(req.body())));
  return req.SerializeAsString();
}

std::string SeedString(const SessionKey& k) {
  return std::string(reinterpret_cast<const char*>(k.seed().data()), k.seed().size());
}
absl::StatusOr<SessionKey> SessionFromCapture(const std::string& dir, const std::string& name) {
  BELFRY_ASSIGN_OR_RETURN(std::string seed, ReadCapture(dir, name));
  if (seed.size() != 32) return absl::DataLossError(absl::StrCat(name, ": not a 32-byte seed"));
  std::array<uint8_t, 32> s{};
  std::copy(seed.begin(), seed.end(), s.begin());
  return SessionKey::FromSeed(s);
}

bool Expect(const char* step, const Outcome& got, Outcome::Kind kind, pb::Status status,
            const std::string* result = nullptr) {
  const bool ok = got.kind == kind && got.status == status && (result == nullptr || got.result == *result);
  std::printf("%-46s %-4s %s\n", step, ok ? "ok" : "FAIL", got.Describe().c_str());
  std::fflush(stdout);
  return ok;
}
// A refusal may come before ordering (every replica's pre-check) or from the state
// machine; either way it must be this status.
bool ExpectRefused(const char* step, const Outcome& got, pb::Status status) {
  const bool ok = got.kind != Outcome::kUndecided && got.status == status;
  std::printf("%-46s %-4s %s\n", step, ok ? "ok" : "FAIL", got.Describe().c_str());
  std::fflush(stdout);
  return ok;
}

struct Flags {
  std::string config, users, dir, other_config, data;
};

int Prepare(const Flags& flags) {
  absl::StatusOr<config::ClusterConfig> cfg = config::LoadClusterConfig(flags.config);
  if (!cfg.ok()) return Fail(cfg.status());
  absl::StatusOr<User> alice = LoadUser(flags.users, "alice");
  absl::StatusOr<User> bob = LoadUser(flags.users, "bob");
  if (!alice.ok()) return Fail(alice.status());
  if (!bob.ok()) return Fail(bob.status());
  absl::StatusOr<std::unique_ptr<Probe>> probe = Probe::Open(*cfg, alice->cert_path, alice->key_path);
  if (!probe.ok()) return Fail(probe.status());
  CryptoRng rng;
  bool ok = true;

  SessionKey s1 = SessionKey::Generate();
  absl::StatusOr<BuiltRequest> l1 = BuildLogin(cfg->cluster_id(), "alice", alice->cert_der, *alice->key, s1, NowMs(), rng);
  if (!l1.ok()) return Fail(l1.status());
  Outcome o = (*probe)->Submit(l1->bytes);
  ok &= Expect("alice login", o, Outcome::kOrdered, pb::STATUS_OK);
  BuiltRequest c1 = BuildSessionOp(cfg->cluster_id(), s1, 1, CheckInOp("ledger", "first entry"));
  o = (*probe)->Submit(c1.bytes);
  ok &= Expect("alice checkin", o, Outcome::kOrdered, pb::STATUS_OK);

  SessionKey sb = SessionKey::Generate();
  absl::StatusOr<BuiltRequest> lb = BuildLogin(cfg->cluster_id(), "bob", bob->cert_der, *bob->key, sb, NowMs(), rng);
  if (!lb.ok()) return Fail(lb.status());
  // Sent on alice's connection (bob's certificate is revoked by now, so he cannot connect):
  // the login is ordered, but its reply goes only to bob's own connections.
  ok &= ExpectRefused("bob login, on alice's connection", (*probe)->Submit(lb->bytes),
                      pb::STATUS_NOT_REQUESTER);

  // Alice logs in again: her first session is replaced and must stay dead.
  SessionKey s2 = SessionKey::Generate();
  absl::StatusOr<BuiltRequest> l2 = BuildLogin(cfg->cluster_id(), "alice", alice->cert_der, *alice->key, s2, NowMs() + 1, rng);
  if (!l2.ok()) return Fail(l2.status());
  ok &= Expect("alice second login", (*probe)->Submit(l2->bytes), Outcome::kOrdered, pb::STATUS_OK);
  BuiltRequest c2 = BuildSessionOp(cfg->cluster_id(), s2, 1, CheckInOp("ledger", "second entry"));
  o = (*probe)->Submit(c2.bytes);
  ok &= Expect("alice checkin, second session", o, Outcome::kOrdered, pb::STATUS_OK);
  const std::string c2_result = o.result;

  absl::Status s = WriteCapture(flags.dir, "login-alice", l1->bytes);
  if (s.ok()) s = WriteCapture(flags.dir, "login-bob", lb->bytes);
  if (s.ok()) s = WriteCapture(flags.dir, "checkin-alice", c1.bytes);
  if (s.ok()) s = WriteCapture(flags.dir, "checkin-alice-2", c2.bytes);
  if (s.ok()) s = WriteCapture(flags.dir, "checkin-alice-2-result", c2_result);
  if (s.ok()) s = WriteCapture(flags.dir, "session-alice-1", SeedString(s1));
  if (s.ok()) s = WriteCapture(flags.dir, "session-alice-2", SeedString(s2));
  if (s.ok()) s = WriteCapture(flags.dir, "session-bob", SeedString(sb));
  if (!s.ok()) return Fail(s);
  return ok ? 0 : 1;
}

int Attack(const Flags& flags) {
  absl::StatusOr<config::ClusterConfig> cfg = config::LoadClusterConfig(flags.config);
  if (!cfg.ok()) return Fail(cfg.status());
  absl::StatusOr<config::ClusterConfig> other = config::LoadClusterConfig(flags.other_config);
  if (!other.ok()) return Fail(other.status());
  absl::StatusOr<User> alice = LoadUser(flags.users, "alice");
  absl::StatusOr<User> bob = LoadUser(flags.users, "bob");
  if (!alice.ok()) return Fail(alice.status());
  if (!bob.ok()) return Fail(bob.status());
  absl::StatusOr<std::unique_ptr<Probe>> probe = Probe::Open(*cfg, alice->cert_path, alice->key_path);
  if (!probe.ok()) return Fail(probe.status());
  auto l1 = ReadCapture(flags.dir, "login-alice");
  auto lb = ReadCapture(flags.dir, "login-bob");
  auto c1 = ReadCapture(flags.dir, "checkin-alice");
  auto c2 = ReadCapture(flags.dir, "checkin-alice-2");
  auto c2_result = ReadCapture(flags.dir, "checkin-alice-2-result");
  auto s1 = SessionFromCapture(flags.dir, "session-alice-1");
  auto s2 = SessionFromCapture(flags.dir, "session-alice-2");
  auto sb = SessionFromCapture(flags.dir, "session-bob");
  for (const absl::Status& s : {l1.status(), lb.status(), c1.status(), c2.status(), c2_result.status(), s1.status(),
                                s2.status(), sb.status()}) {
    if (!s.ok()) return Fail(s);
  }
  CryptoRng rng;
  bool ok = true;

  // Captured logins: their client time is not after the user's latest login.
  ok &= ExpectRefused("replayed login (alice)", (*probe)->Submit(*l1), pb::STATUS_LOGIN_STALE);
  ok &= ExpectRefused("replayed login (bob)", (*probe)->Submit(*lb), pb::STATUS_LOGIN_STALE);
  // A captured checkin of the live session is answered with the stored result of its
  // first execution (the same version), never executed again.
  ok &= Expect("replayed checkin", (*probe)->Submit(*c2), Outcome::kOrdered, pb::STATUS_OK, &*c2_result);
  // The same bytes from carol's connection: the result is alice's, and withheld from her.
  {
    absl::StatusOr<User> carol = LoadUser(flags.users, "carol");
    if (!carol.ok()) return Fail(carol.status());
    absl::StatusOr<std::unique_ptr<Probe>> carol_probe = Probe::Open(*cfg, carol->cert_path, carol->key_path);
    if (!carol_probe.ok()) return Fail(carol_probe.status());
    ok &= ExpectRefused("alice's checkin replayed by carol", (*carol_probe)->Submit(*c2), pb::STATUS_NOT_REQUESTER);
  }
  // The same sequence number with other contents.
  ok &= ExpectRefused("same seq, other request",
                      (*probe)->Submit(BuildSessionOp(cfg->cluster_id(), *s2, 1, CheckInOp("ledger", "forged")).bytes),
                      pb::STATUS_REPLAYED_SEQUENCE);
  // Anything in the replaced session: a captured request, or a fresh one with its key.
  ok &= ExpectRefused("replayed checkin, ended session", (*probe)->Submit(*c1), pb::STATUS_SESSION_ENDED);
  ok &= ExpectRefused("ended session's key",
                      (*probe)->Submit(BuildSessionOp(cfg->cluster_id(), *s1, 2, CheckInOp("ledger", "late")).bytes),
                      pb::STATUS_SESSION_ENDED);
  // Alice's live session named, signed with bob's session key, and the other way round.
  ok &= ExpectRefused("session op signed by another user's session", (*probe)->Submit(ForgeSessionOp(cfg->cluster_id(), *s2, *sb)),
                      pb::STATUS_BAD_SIGNATURE);
  ok &= ExpectRefused("bob's session, alice's key", (*probe)->Submit(ForgeSessionOp(cfg->cluster_id(), *sb, *s2)),
                      pb::STATUS_BAD_SIGNATURE);
  // A login with alice's certificate signed by bob's long-term key.
  {
    SessionKey fresh = SessionKey::Generate();
    auto forged = BuildLogin(cfg->cluster_id(), "alice", alice->cert_der, *bob->key, fresh, NowMs() + 5, rng);
    if (!forged.ok()) return Fail(forged.status());
    ok &= ExpectRefused("login signed by another user's key", (*probe)->Submit(forged->bytes), pb::STATUS_LOGIN_BAD_SIGNATURE);
  }
  // A request made for another cluster (an attacker who captured it there replays it here).
  {
    SessionKey fresh = SessionKey::Generate();
    auto elsewhere = BuildLogin(other->cluster_id(), "alice", alice->cert_der, *alice->key, fresh, NowMs() + 10, rng);
    if (!elsewhere.ok()) return Fail(elsewhere.status());
    ok &= ExpectRefused("login from another cluster", (*probe)->Submit(elsewhere->bytes), pb::STATUS_WRONG_CLUSTER);
    ok &= ExpectRefused("session op from another cluster",
                        (*probe)->Submit(BuildSessionOp(other->cluster_id(), *s2, 1, CheckInOp("ledger", "x")).bytes),
                        pb::STATUS_WRONG_CLUSTER);
  }
  return ok ? 0 : 1;
}

int Digest(const Flags& flags) {
  absl::StatusOr<std::unique_ptr<store::RocksStore>> s = store::RocksStore::Open(flags.data, store::StoreOptions{});
  if (!s.ok()) return Fail(s.status());
  // The 3S records only: the retained batches change with every ordered request, even a
  // refused one, and are the log rather than the state.
  std::string line;
  for (std::string_view prefix : state::kServiceStatePrefixes) {
    absl::StatusOr<wire::Digest> d = (*s)->ComputePrefixDigest(prefix);
    if (!d.ok()) return Fail(d.status());
    absl::StrAppend(&line, line.empty() ? "" : " ", std::string(prefix), ToHex(ByteSpan(*d)).substr(0, 16));
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

int Usage() {
  std::fprintf(stderr,
               "usage: identity-probe prepare --config C --users DIR --out CAPTURE_DIR\n"
               "       identity-probe attack --config C --users DIR --in CAPTURE_DIR --other-config C2\n"
               "       identity-probe digest --data PATH\n");
  return 2;
}

}  // namespace
}  // namespace belfry

int main(int argc, char** argv) {
  if (argc < 2) return belfry::Usage();
  belfry::SetLogLevel(belfry::LogLevel::kWarn);
  belfry::Flags flags;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--config") flags.config = argv[i + 1];
    else if (flag == "--users") flags.users = argv[i + 1];
    else if (flag == "--out" || flag == "--in") flags.dir = argv[i + 1];
    else if (flag == "--other-config") flags.other_config = argv[i + 1];
    else if (flag == "--data") flags.data = argv[i + 1];
    else return belfry::Usage();
  }
  const std::string command = argv[1];
  if (command == "prepare") return belfry::Prepare(flags);
  if (command == "attack") return belfry::Attack(flags);
  if (command == "digest") return belfry::Digest(flags);
  return belfry::Usage();
}
