// test/client_lib/fake_cluster.h — N replica front ends on loopback for testing the
// Client over real mutual TLS, without consensus.
//
// Each fake replica listens on an ephemeral client port (transport::ClientServer) with
// its own replica certificate, pre-checks requests exactly as a replica does, and signs
// its replies with its own reply key. Ordering is faked by one shared Sequencer running
// the real 3S state machine over a MemoryStore: every replica sees each ordering of a
// request once, and a replica that receives a request it already answered gets a new
// ordering (as a retransmission reaching a real replica after execution would), so
// replies to retransmissions carry new epochs. Decryption shares and service signature
// shares are made as the reply stage makes them.
//
// Each replica can be told to misbehave: stay silent, drop the first frames it gets,
// sign a different result, or attach bad decryption and service signature shares.
// Nothing here uses Catch2 macros off the test thread.
#ifndef BELFRY_TEST_CLIENT_LIB_FAKE_CLUSTER_H_
#define BELFRY_TEST_CLIENT_LIB_FAKE_CLUSTER_H_

#include <sodium.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/files.h"
#include "base/rng.h"
#include "config/cluster_config.h"
#include "config/threshold_keys.h"
#include "pki/certificate.h"
#include "pki/issuer.h"
#include "proto/reply.pb.h"
#include "replica/state/precheck.h"
#include "replica/state/state_machine.h"
#include "replica/state/state_view.h"
#include "replica/state/tdh2_ciphertext_check.h"
#include "replica/store/memory_store.h"
#include "test/pki/test_service_key.h"
#include "threshold/keys.h"
#include "threshold/rsa/signature.h"
#include "threshold/sealed_share.h"
#include "threshold/tdh2.h"
#include "transport/client_server.h"
#include "transport/tls.h"
#include "wire/request_format.h"
#include "wire/statements.h"

namespace belfry::client::testing {

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How one fake replica behaves.
struct Behaviour {
  std::atomic<bool> silent{false};        // ignores every frame
  std::atomic<int> drop_requests{0};      // ignores this many request frames first
  std::atomic<int> drop_replies{0};       // executes, but loses this many replies first
  // Gets this many requests only after another replica's ordering of them executed, so
  // they are ordered again (late replicas share that second ordering).
  std::atomic<int> late_requests{0};
  std::atomic<bool> lie{false};           // signs ACCESS_DENIED instead of the real result
  std::atomic<bool> bad_attachments{false};  // garbage decryption share, bad service share
  std::atomic<bool> stale_status_nonce{false};  // answers a status query with another nonce
  std::atomic<bool> foreign_status{false};      // signs its status for another cluster
};

// One ordering of a request.
struct Ordering {
  uint64_t epoch = 0;
  int64_t time_ms = 0;
  state::Executed executed;
  std::string log_head;       // after the ordering's epoch
  std::set<uint32_t> served;  // replicas that answered this ordering
};

// Sequencer: the state machine behind all fake replicas. Thread-safe.
class Sequencer {
 public:
  Sequencer(state::Config config, const pki::CaBundle& ca, threshold::PublicKeySet keys)
      : check_(std::move(keys)),
        machine_(*state::StateMachine::Create(std::move(config), ca, check_)) {}

  // The ordering replica `replica` answers for `request`: the latest one, unless this
  // replica already answered it (then the request is ordered again).
  absl::StatusOr<Ordering> Order(uint32_t replica, const std::string& request,
                                 bool late = false) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string id = AsString(wire::RequestId(request));
    auto it = latest_.find(id);
    if (it != latest_.end() && it->second.served.count(replica) == 0 &&
        (!late || late_.count(id) != 0)) {
      it->second.served.insert(replica);
      return it->second;
    }
    if (late && it == latest_.end()) {
      return absl::UnavailableError("not ordered by anyone yet");  // the caller waits
    }
    if (late) late_.insert(id);
    state::StateView view(store_);
    const int64_t time_ms = std::max(NowMs(), store_.last_consensus_time_ms());
    const uint64_t epoch = store_.next_epoch();
    absl::StatusOr<std::vector<state::Executed>> out =
        machine_.ExecuteBatch(view, epoch, time_ms, {request});
    if (!out.ok()) return out.status();
    const wire::Digest batch = wire::Sha256(AsBytes(request));
    absl::Status committed = store_.CommitEpoch(epoch, time_ms, view.writes(), batch);
    if (!committed.ok()) return committed;
    Ordering o;
    o.epoch = epoch;
    o.time_ms = time_ms;
    o.executed = std::move(out->at(0));
    o.log_head = AsString(store_.log_head());
    o.served.insert(replica);
    latest_[id] = o;
    return o;
  }

  const state::Config& config() const { return machine_.config(); }
  const state::CiphertextCheck& ciphertext_check() const { return check_; }

  static std::string AsString(const wire::Digest& d) { return std::string(d.begin(), d.end()); }

 private:
  std::mutex mu_;
  state::Tdh2CiphertextCheck check_;
  state::StateMachine machine_;
  store::MemoryStore store_;
  std::map<std::string, Ordering> latest_;
  std::set<std::string> late_;  // requests already ordered a second time for late replicas
};

// FakeReplica: one client port answering like replica `id`.
class FakeReplica {
 public:
  FakeReplica(uint32_t id, const config::ClusterConfig* config, Sequencer* sequencer,
              std::array<uint8_t, crypto_sign_SECRETKEYBYTES> reply_key,
              std::unique_ptr<threshold::DecryptionShareProvider> decryption,
              std::unique_ptr<threshold::rsa::ShareSigner> service)
      : id_(id),
        config_(config),
        sequencer_(sequencer),
        reply_key_(reply_key),
        decryption_(std::move(decryption)),
        service_(std::move(service)) {}

  absl::Status Listen(transport::TlsCredentials credentials) {
    transport::ClientServerConfig c;
    c.credentials = std::move(credentials);
    c.frame_bytes_max = size_t{32} << 20;
    c.request_bytes_in_flight_max = size_t{64} << 20;
    auto server = transport::ClientServer::Create(
        c, [this](transport::ConnectionId conn, const pki::CertIdentity&, std::string frame) {
          OnFrame(conn, frame);
        });
    if (!server.ok()) return server.status();
    server_ = *std::move(server);
    return server_->Listen();
  }
  uint16_t port() const { return server_->listen_port(); }
  absl::Status Start() { return server_->Start(); }
  void Stop() {
    if (server_ != nullptr) server_->Stop();
  }
  Behaviour& behaviour() { return behaviour_; }
  uint64_t requests_seen() const { return requests_seen_.load(); }

 private:
  std::string Sign(ByteSpan message) const {
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<uint8_t*>(sig.data()), nullptr, message.data(),
                         message.size(), reply_key_.data());
    return sig;
  }

  void Send(transport::ConnectionId conn, const pb::ClientFrame& frame) {
    // A client that went away misses its reply, as with a real replica.
    server_->Send(conn, frame.SerializeAsString()).IgnoreError();
  }

  void OnFrame(transport::ConnectionId conn, const std::string& bytes) {
    if (behaviour_.silent.load()) return;
    pb::ClientFrame frame;
    if (!frame.ParseFromString(bytes)) return;
    if (frame.has_status_query()) {
      pb::ClientFrame out;
      pb::ReplicaStatus* s = out.mutable_status();
      s->set_cluster_id(behaviour_.foreign_status.load() ? "another-cluster" : config_->cluster_id());
      s->set_nonce(behaviour_.stale_status_nonce.load() ? std::string(16, 'x') : frame.status_query());
      s->set_replica(id_);
      s->set_last_epoch(7);
      s->set_consensus_time_ms(NowMs());
      s->set_faults_seen(id_);
      s->set_signature(Sign(wire::StatusStatement(*s)));
      Send(conn, out);
      return;
    }
    if (!frame.has_request()) return;
    ++requests_seen_;
    if (behaviour_.drop_requests.load() > 0) {
      --behaviour_.drop_requests;
      return;
    }
    const std::string& request = frame.request();
    const std::string id = Sequencer::AsString(wire::RequestId(request));
    state::Verdict verdict =
        state::PrecheckRequest(sequencer_->config(), sequencer_->ciphertext_check(), request);
    if (!verdict.ok()) {
      pb::ClientFrame out;
      pb::Rejection* r = out.mutable_rejection();
      r->set_replica(id_);
      r->set_request_id(id);
      r->set_code(static_cast<uint32_t>(verdict.status));
      r->set_message(verdict.message);
      r->set_signature(Sign(wire::RejectionStatement(id_, AsBytes(id), r->code(), r->message())));
      Send(conn, out);
      return;
    }
    bool late = false;
    if (behaviour_.late_requests.load() > 0) {
      --behaviour_.late_requests;
      late = true;
    }
    absl::StatusOr<Ordering> ordering = sequencer_->Order(id_, request, late);
    // A late replica waits (on its own server thread) until another has ordered it.
    for (int i = 0; i < 100 && ordering.status().code() == absl::StatusCode::kUnavailable;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ordering = sequencer_->Order(id_, request, late);
    }
    if (!ordering.ok()) return;
    if (behaviour_.drop_replies.load() > 0) {
      --behaviour_.drop_replies;
      return;
    }
    Reply(conn, *ordering);
  }

  void Reply(transport::ConnectionId conn, const Ordering& o) {
    pb::Result result = o.executed.result;
    if (behaviour_.lie.load()) {
      result.Clear();
      result.set_status(pb::STATUS_ACCESS_DENIED);
      result.set_message("a lie");
    }
    pb::ReplyBody body;
    body.set_cluster_id(config_->cluster_id());
    body.set_request_id(Sequencer::AsString(o.executed.request_id));
    body.set_result(result.SerializeAsString());
    body.set_epoch(o.epoch);
    body.set_position(0);
    body.set_log_head(o.log_head);
    body.set_consensus_time_ms(o.time_ms);
    pb::ClientFrame out;
    pb::SignedReply* reply = out.mutable_reply();
    reply->set_replica(id_);
    reply->set_body(body.SerializeAsString());
    const bool bad = behaviour_.bad_attachments.load();
    if (o.executed.decryption.has_value()) {
      auto ct = threshold::Ciphertext::Parse(AsBytes(o.executed.decryption->ciphertext));
      if (ct.ok()) {
        auto share = decryption_->MakeShare(*ct, AsStringView(o.executed.decryption->label));
        if (share.ok()) {
          std::string bytes = share->Serialize();
          if (bad) bytes.back() ^= 1;
          auto sealed = threshold::SealShare(o.executed.decryption->recipient_key, id_,
                                             o.executed.decryption->label, bytes);
          if (sealed.ok()) reply->mutable_attachments()->set_sealed_decryption_share(*sealed);
        }
      }
    }
    if (result.status() == pb::STATUS_OK && result.has_check_out() &&
        result.check_out().integrity()) {
      auto attributes = wire::IntegrityAttributes(config_->cluster_id(), result.check_out(), o.time_ms);
      auto share = attributes.ok() ? service_->MakeShare(*attributes)
                                   : absl::StatusOr<threshold::rsa::SignatureShare>(attributes.status());
      if (share.ok()) {
        if (bad) share->value.back() ^= 1;  // well formed, but not a share of this signature
        reply->mutable_attachments()->set_service_signature_share(share->Serialize());
      }
    }
    reply->set_signature(
        Sign(wire::ReplyStatement(id_, AsBytes(reply->body()), reply->attachments())));
    Send(conn, out);
  }

  const uint32_t id_;
  const config::ClusterConfig* config_;
  Sequencer* sequencer_;
  const std::array<uint8_t, crypto_sign_SECRETKEYBYTES> reply_key_;
  std::unique_ptr<threshold::DecryptionShareProvider> decryption_;
  std::unique_ptr<threshold::rsa::ShareSigner> service_;
  std::unique_ptr<transport::ClientServer> server_;
  Behaviour behaviour_;
  std::atomic<uint64_t> requests_seen_{0};
};

// FakeCluster files and replicas. `dir` receives ca.crt, cluster.conf and
// users/NAME/NAME.{key,crt} for every user in `users`.
class FakeReplicaCluster {
 public:
  static constexpr uint32_t kN = 4;
  static constexpr uint32_t kF = 1;

  // `limits` overrides cluster.conf's limits (the replicas' state machine keeps its
  // defaults), for tests of what the replicas refuse on their own.
  static absl::StatusOr<std::unique_ptr<FakeReplicaCluster>> Start(
      const std::string& dir, const std::vector<std::string>& users,
      const pb::Limits& limits = {}) {
    if (sodium_init() < 0) return absl::InternalError("sodium");
    auto cluster = std::unique_ptr<FakeReplicaCluster>(new FakeReplicaCluster());
    absl::Status s = cluster->Init(dir, users, limits);
    if (!s.ok()) return s;
    return cluster;
  }

  ~FakeReplicaCluster() {
    for (auto& r : replicas_) r->Stop();
  }

  FakeReplica& replica(uint32_t id) { return *replicas_.at(id); }
  const std::string& config_path() const { return config_path_; }
  const std::string& dir() const { return dir_; }
  std::string key_path(const std::string& user) const {
    return dir_ + "/users/" + user + "/" + user + ".key";
  }
  std::string cert_path(const std::string& user) const {
    return dir_ + "/users/" + user + "/" + user + ".crt";
  }

 private:
  FakeReplicaCluster() = default;

  absl::Status Init(const std::string& dir, const std::vector<std::string>& users,
                    const pb::Limits& limits) {
    dir_ = dir;
    const int64_t now = NowMs() / 1000;
    auto ca = pki::CertificateAuthority::Create("fake-ca", now - 3600, now + 86400);
    if (!ca.ok()) return ca.status();
    auto bundle = pki::CaBundle::FromPem(ca->cert_pem());
    if (!bundle.ok()) return bundle.status();
    ca_ = std::make_shared<const pki::CaBundle>(*std::move(bundle));
    absl::Status s = WritePublicFile(dir + "/ca.crt", ca->cert_pem());
    if (!s.ok()) return s;
    for (const std::string& user : users) {
      if (::mkdir((dir + "/users").c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::InternalError("mkdir users");
      }
      if (::mkdir((dir + "/users/" + user).c_str(), 0755) != 0) {
        return absl::InternalError("mkdir user");
      }
      auto issued = ca->Issue({user, pki::Role::kUser, now - 3600, now + 86400});
      if (!issued.ok()) return issued.status();
      s = pki::WriteKeyAndCertificate(*issued, key_path(user), cert_path(user));
      if (!s.ok()) return s;
    }

    CryptoRng rng;
    auto coin = threshold::Deal(kN, kF, rng);
    auto tdh2 = threshold::Deal(kN, kF, rng);
    if (!coin.ok() || !tdh2.ok()) return absl::InternalError("deal");
    auto service = belfry::testing::DealTestServiceKey(kN, kF);
    if (!service.ok()) return service.status();
    s = belfry::testing::WriteTestServiceKey(dir, *ca, service->public_keys, now);
    if (!s.ok()) return s;
    state::Config state_config;
    state_config.cluster_id = "fake-cluster";
    sequencer_ = std::make_unique<Sequencer>(state_config, *ca_, tdh2->public_keys);

    pb::ClusterConfig proto;
    proto.set_cluster_id(state_config.cluster_id);
    proto.set_f(kF);
    proto.set_ca_cert_file("ca.crt");
    proto.set_service_key_file("service-key.pub");
    proto.set_service_cert_file("service.crt");
    *proto.mutable_coin_keys() = config::PublicKeySetToConfig(coin->public_keys);
    *proto.mutable_encryption_keys() = config::PublicKeySetToConfig(tdh2->public_keys);
    *proto.mutable_limits() = limits;
    config_.proto = proto;  // filled in below once ports are known
    for (uint32_t id = 0; id < kN; ++id) {
      std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
      std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
      crypto_sign_keypair(pk.data(), sk.data());
      auto provider = threshold::DecryptionShareProvider::Create(std::move(tdh2->shares[id]),
                                                                 tdh2->public_keys);
      if (!provider.ok()) return provider.status();
      replicas_.push_back(std::make_unique<FakeReplica>(
          id, &config_, sequencer_.get(), sk,
          std::make_unique<threshold::DecryptionShareProvider>(*std::move(provider)),
          std::make_unique<threshold::rsa::ShareSigner>(std::move(service->shares[id]))));
      auto issued = ca->Issue({transport::ReplicaName(id), pki::Role::kReplica, now - 3600,
                               now + 86400});
      if (!issued.ok()) return issued.status();
      transport::TlsCredentials creds;
      creds.ca = ca_;
      creds.cert_pem = issued->cert_pem;
      creds.key = std::make_shared<const pki::Ed25519PrivateKey>(std::move(issued->key));
      s = replicas_.back()->Listen(std::move(creds));
      if (!s.ok()) return s;
      pb::ReplicaEndpoint* r = proto.add_replicas();
      r->set_id(id);
      r->set_name(transport::ReplicaName(id));
      r->set_host("127.0.0.1");
      r->set_peer_port(1 + id);  // never dialled: there is no consensus here
      r->set_client_port(replicas_.back()->port());
      r->set_reply_public_key_hex(ToHex(pk));
    }
    config_path_ = dir + "/cluster.conf";
    s = WritePublicFile(config_path_, config::FormatClusterConfig(proto));
    if (!s.ok()) return s;
    auto loaded = config::LoadClusterConfig(config_path_);
    if (!loaded.ok()) return loaded.status();
    config_ = *std::move(loaded);
    for (auto& r : replicas_) {
      s = r->Start();
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::string dir_;
  std::string config_path_;
  std::shared_ptr<const pki::CaBundle> ca_;
  config::ClusterConfig config_;
  std::unique_ptr<Sequencer> sequencer_;
  std::vector<std::unique_ptr<FakeReplica>> replicas_;
};

}  // namespace belfry::client::testing

#endif  // BELFRY_TEST_CLIENT_LIB_FAKE_CLUSTER_H_
