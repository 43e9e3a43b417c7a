// belfry-replica — one Belfry replica process.
//
//   belfry-replica --config DIR/cluster.conf --id K --data PATH
//                  [--listen-host IP] [--metrics-address IP:PORT|off]
//                  [--peer-address K=HOST:PORT]...
//                  [--log-level debug|info|warn|error] [--log-format kv|json] [--log-file PATH]
//   belfry-replica --health-check IP:PORT [--path /readyz]
//
// Reads its keys from DIR/replicas/replica-K/ (config/layout.h), opens its RocksDB store
// at PATH, listens on its peer and client ports, and runs until SIGTERM or SIGINT, when it
// stops cleanly (the current epoch's commit finishes; nothing acknowledged is lost).
// Restarted on the same PATH it resumes after the last durable epoch and catches up on
// what it missed from its peers.
//
// `--peer-address K=HOST:PORT` (repeatable) dials peer K there instead of at its host and
// peer_port in cluster.conf: for NAT or port forwarding, and for test/chaos, which routes
// every directed link through a fault proxy. Only where this replica dials changes; the
// peer is still identified by its certificate, so a wrong address cannot impersonate it.
//
// Operators: Prometheus metrics and health at http://IP:PORT/{metrics,livez,readyz,healthz}
// (by default 127.0.0.1 and the config's metrics_port); logs one line per event to stderr,
// or to --log-file, which SIGHUP reopens for rotation. `--health-check` is a probe for
// container health checks: exit 0 iff the path answers 200 within 2 s.
//
// Built with BELFRY_BYZANTINE this file is belfry-replica-byzantine, a test-only replica
// (test/byzantine/README.md): `--byzantine STRATEGY[,STRATEGY]` and `--byzantine-seed S`
// make it misbehave, and `--clock-offset-ms MS` shifts the clock its core sees, for the
// clock faults of correct replicas. belfry-replica accepts none of these.
//
// Threads: the peer network and the client server each run their own I/O thread; one core
// thread runs every protocol step (ReplicaCore is single-threaded), fed by the peer inbox
// and a bounded queue of client frames; the metrics server has its own thread and serves
// snapshots the core thread publishes.
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/files.h"
#include "base/sha256.h"
#include "base/status.h"
#include "config/cluster_config.h"
#include "config/layout.h"
#include "config/threshold_keys.h"
#include "consensus/threshold_coin.h"
#include "metrics/http_server.h"
#include "metrics/process_stats.h"
#include "pki/issuer.h"
#include "replica/node/metrics_page.h"
#include "replica/node/replica_core.h"
#include "replica/store/rocks_store.h"
#include "threshold/key_file.h"
#include "threshold/rsa/key_file.h"
#include "threshold/rsa/keys.h"
#include "threshold/rsa/signature.h"
#include "transport/client_server.h"
#include "base/log.h"
#include "transport/peer_network.h"
#include "transport/tls.h"

#ifdef BELFRY_POWERLOSS_FS
#include "rocksdb/env.h"
#include "test/powerloss/powerloss_fs.h"
#endif
#ifdef BELFRY_BYZANTINE
#include "test/byzantine/byzantine_outbox.h"
#include "test/byzantine/request_leak.h"
#endif

namespace belfry::replica {
namespace {

std::atomic<bool> g_stop{false};
// SIGHUP: reopen the log file and reload the TLS credentials.
std::atomic<bool> g_hangup{false};

struct CredentialReloads {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
  // notAfter of the certificate in use, so operators see its expiry coming: set at start-up
  // and by every reload that was applied (a failed one leaves the old certificate in use).
  std::atomic<int64_t> tls_cert_not_after_unix_s{0};
};
CredentialReloads g_reloads;

void OnSignal(int) { g_stop.store(true); }
void OnHangup(int) { g_hangup.store(true); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Client frames cross from the client server's I/O thread to the core thread here, already
// checked there (ReplicaCore::CheckClientFrame: parsing and signature verification run on
// the I/O thread, in parallel with the core). Bounded in frames and request bytes
// (limits.client_queue_*): when the core falls behind, new frames are refused with a
// disconnect instead of queued.
class ClientQueue {
 public:
  ClientQueue(size_t frames_max, uint64_t bytes_max) : frames_max_(frames_max), bytes_max_(bytes_max) {}
  bool Push(transport::ConnectionId id, CheckedFrame frame) {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= frames_max_ || bytes_ + frame.request.size() > bytes_max_) {
      ++refused_;
      return false;
    }
    bytes_ += frame.request.size();
    queue_.emplace_back(id, std::move(frame));
    return true;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }
  uint64_t refused() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }
  std::deque<std::pair<transport::ConnectionId, CheckedFrame>> TakeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<std::pair<transport::ConnectionId, CheckedFrame>> out;
    out.swap(queue_);
    bytes_ = 0;
    return out;
  }

 private:
  std::mutex mu_;
  const size_t frames_max_;
  const uint64_t bytes_max_;
  uint64_t bytes_ = 0;
  uint64_t refused_ = 0;
  std::deque<std::pair<transport::ConnectionId, CheckedFrame>> queue_;
};

class TransportOutbox final : public Outbox {
 public:
  TransportOutbox(transport::PeerNetwork* peers, transport::ClientServer* clients)
      : peers_(peers), clients_(clients) {}
  void SendPeer(uint32_t to, std::string payload) override {
    absl::Status s = peers_->Send(to, std::move(payload));
    if (!s.ok()) {
      // The link's resend buffer is full: the peer is far behind or down. Consensus
      // tolerates a lost message to f peers; catch-up repairs a lagging one.
      LogLine(LogLevel::kWarn, "replica", "peer_send_refused")
          .Add("peer", to)
          .Add("reason", s.message());
    }
  }
  void SendClient(uint64_t connection, std::string frame) override {
    // A client that went away simply misses its reply; it retransmits elsewhere.
    clients_->Send(connection, std::move(frame)).IgnoreError();
  }

 private:
  transport::PeerNetwork* peers_;
  transport::ClientServer* clients_;
};

// The latest counters, published by the core thread (a struct copy); the HTTP thread reads
// the process's /proc figures and renders the page only when it is scraped, so the core
// thread pays for neither.
class PublishedSnapshot {
 public:
  void Publish(ReplicaSnapshot snapshot) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(snapshot);
    published_ = true;
  }
  metrics::HttpResponse Serve(std::string_view path) {
    ReplicaSnapshot snapshot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!published_) return {.status = 503, .body = "starting\n"};
      snapshot = snapshot_;
    }
    if (path == "/metrics") {
      snapshot.process = metrics::ReadProcessStats();
      return {.status = 200, .content_type = "text/plain; version=0.0.4; charset=utf-8",
              .body = RenderMetricsPage(snapshot)};
    }
    const Health health = HealthOf(snapshot);
    if (path == "/livez") {
      return health.live ? metrics::HttpResponse{.body = "live\n"}
                         : metrics::HttpResponse{.status = 503, .body = health.reason + "\n"};
    }
    if (path == "/readyz" || path == "/healthz") {
      return health.ready ? metrics::HttpResponse{.body = "ready\n"}
                          : metrics::HttpResponse{.status = 503, .body = health.reason + "\n"};
    }
    return {.status = 404, .body = "not found: try /metrics, /livez, /readyz\n"};
  }

 private:
  std::mutex mu_;
  ReplicaSnapshot snapshot_;
  bool published_ = false;
};

struct Flags {
  std::string config;
  std::string data;
  int64_t id = -1;
  std::string listen_host;      // empty: the config's host
  std::string metrics_address;  // empty: 127.0.0.1 and the config's metrics_port
  std::string health_check;     // probe mode
  std::string health_path = "/readyz";
  std::vector<std::string> peer_addresses;  // "K=HOST:PORT", checked in Run
#ifdef BELFRY_BYZANTINE
  std::string byzantine;  // strategies; empty: a correct replica
  uint64_t byzantine_seed = 1;
  int64_t clock_offset_ms = 0;
  std::string leak_dir;  // leak-requests: where the ordered requests go
#endif
};

int Usage() {
  std::fprintf(stderr,
               "usage: belfry-replica --config DIR/cluster.conf --id K --data PATH\n"
               "                      [--listen-host IP] [--metrics-address IP:PORT|off]\n"
               "                      [--peer-address K=HOST:PORT]...\n"
               "                      [--log-level debug|info|warn|error] [--log-format kv|json]\n"
               "                      [--log-file PATH]\n"
               "       belfry-replica --health-check IP:PORT [--path /readyz]\n"
               "       belfry-replica --state-digest --data PATH\n");
#ifdef BELFRY_BYZANTINE
  std::fprintf(stderr, "test-only: [--byzantine STRATEGY[,STRATEGY]] [--byzantine-seed S] [--clock-offset-ms MS] [--leak-dir DIR]\n"
                       "strategies: %s\n", belfry::byzantine::StrategyNames().c_str());
#endif
  return 2;
}

// "IP:PORT" or "[IPv6]:PORT".
absl::StatusOr<std::pair<std::string, uint16_t>> ParseAddress(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not IP:PORT"));
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  const unsigned long port = std::strtoul(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" has no valid port"));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

// "K=HOST:PORT" for --peer-address: K must name another replica of an n-replica cluster.
absl::StatusOr<transport::PeerAddress> ParsePeerAddress(const std::string& text, uint32_t n,
                                                        uint32_t self) {
  const size_t eq = text.find('=');
  const std::string bad = absl::StrCat("--peer-address \"", text, "\"");
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat(bad, " is not K=HOST:PORT"));
  }
  char* end = nullptr;
  const unsigned long id = std::strtoul(text.c_str(), &end, 10);
  if (end != text.c_str() + eq || id >= n || id == self) {
    return absl::InvalidArgumentError(absl::StrCat(bad, " does not name another replica"));
  }
  BELFRY_ASSIGN_OR_RETURN(auto address, ParseAddress(text.substr(eq + 1)));
  return transport::PeerAddress{.id = static_cast<uint32_t>(id), .host = address.first,
                                .port = address.second};
}

ReplicaSnapshot TakeSnapshot(const config::ClusterConfig& cfg, uint32_t self, const ReplicaCore& core,
                             const transport::PeerNetwork& peers,
                             const transport::ClientServer& clients, ClientQueue& queue,
                             const store::RocksStore& store) {
  ReplicaSnapshot s;
  s.self = self;
  s.n = cfg.n();
  s.f = cfg.f();
  s.next_epoch = core.next_epoch();
  s.consensus_time_ms = core.consensus_time_ms();
  s.catching_up = core.catching_up();
  s.fatal = !core.fatal().ok();
  s.core = core.counters();
  for (uint32_t r = 0; r < cfg.n(); ++r) {
    if (r != self) s.peers.emplace_back(r, peers.counters(r));
  }
  s.network = peers.network_counters();
  s.clients = clients.counters();
  s.client_queue_frames = queue.size();
  s.client_queue_refused = queue.refused();
  s.store_bytes = store.ApproximateBytes();
  s.credential_reloads_ok = g_reloads.ok.load();
  s.credential_reloads_failed = g_reloads.failed.load();
  s.tls_cert_not_after_unix_s = g_reloads.tls_cert_not_after_unix_s.load();
  s.checkpoint_interval_epochs = cfg.limits.checkpoint_interval_epochs;
  return s;
}

// This replica's TLS identity and trust: its certificate and key, the cluster CA bundle
// and, when DIR/crl.pem exists, the cluster's CRL. The certificate must name this replica
// and verify under the bundle, so a reload cannot leave the replica unable to join. Its
// notAfter goes to *not_after_unix_s.
absl::StatusOr<transport::TlsCredentials> LoadTlsCredentials(const config::ClusterConfig& cfg,
                                                             const config::ReplicaFiles& files,
                                                             uint32_t self,
                                                             int64_t* not_after_unix_s) {
  const std::string crl = config::CrlPath(cfg.dir);
  std::error_code ignored;
  BELFRY_ASSIGN_OR_RETURN(
      transport::TlsCredentials creds,
      transport::TlsCredentials::FromFiles(cfg.ca_cert_path(), files.tls_cert, files.tls_key,
                                           std::filesystem::exists(crl, ignored) ? crl : ""));
  BELFRY_ASSIGN_OR_RETURN(Bytes der, pki::CertificatePemToDer(creds.cert_pem));
  absl::StatusOr<pki::CertIdentity> own = creds.ca->Verify(der, transport::WallClockUnixSeconds());
  if (!own.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(files.tls_cert, " does not verify under the CA bundle: ", own.status().message()));
  }
  if (own->role != pki::Role::kReplica || own->common_name != transport::ReplicaName(self)) {
    return absl::FailedPreconditionError(
        absl::StrCat(files.tls_cert, " names ", own->common_name, ", not ", transport::ReplicaName(self)));
  }
  *not_after_unix_s = own->not_after_unix_s;
  return creds;
}

// SIGHUP: rotation without a restart. New credentials apply to new connections, and open
// ones whose peer no longer verifies are closed; if anything is wrong with the new files,
// the replica keeps serving with the old credentials and says why.
void ReloadTlsCredentials(const config::ClusterConfig& cfg, const config::ReplicaFiles& files,
                          uint32_t self, transport::PeerNetwork& peers,
                          transport::ClientServer& clients, CredentialReloads& reloads) {
  int64_t not_after_unix_s = 0;
  absl::StatusOr<transport::TlsCredentials> creds =
      LoadTlsCredentials(cfg, files, self, &not_after_unix_s);
  absl::Status applied = creds.status();
  if (applied.ok()) applied = peers.UpdateCredentials(*creds);
  if (applied.ok()) applied = clients.UpdateCredentials(*std::move(creds));
  (applied.ok() ? reloads.ok : reloads.failed).fetch_add(1);
  if (applied.ok()) reloads.tls_cert_not_after_unix_s.store(not_after_unix_s);
  LogLine(applied.ok() ? LogLevel::kInfo : LogLevel::kError,
                     "replica", "credentials_reloaded")
      .Add("ok", applied.ok())
      .Add("reason", applied.message());
}

absl::Status Run(const Flags& flags) {
  BELFRY_ASSIGN_OR_RETURN(config::ClusterConfig cfg, config::LoadClusterConfig(flags.config));
  if (flags.id < 0 || static_cast<uint32_t>(flags.id) >= cfg.n()) {
    return absl::InvalidArgumentError(absl::StrCat("--id ", flags.id, " is not a replica of ", flags.config));
  }
  const uint32_t self = static_cast<uint32_t>(flags.id);
  const config::ReplicaFiles files = config::ReplicaFiles::In(config::ReplicaDir(cfg.dir, self));

  int64_t tls_cert_not_after_unix_s = 0;
  BELFRY_ASSIGN_OR_RETURN(transport::TlsCredentials creds,
                          LoadTlsCredentials(cfg, files, self, &tls_cert_not_after_unix_s));
  g_reloads.tls_cert_not_after_unix_s.store(tls_cert_not_after_unix_s);
  // Logins are judged inside the state machine, which every replica must run identically:
  // it trusts the CA bundle as the cluster started with it, never a local reload or CRL.
  BELFRY_ASSIGN_OR_RETURN(pki::CaBundle genesis_ca, pki::CaBundle::FromFile(cfg.ca_cert_path()));
  BELFRY_ASSIGN_OR_RETURN(ReplySigner signer, ReplySigner::FromSeedFile(files.reply_key));
  if (signer.public_key() != cfg.reply_public_key(self)) {
    return absl::FailedPreconditionError(
        absl::StrCat(files.reply_key, " does not match replica ", self, "'s key in ", flags.config));
  }
  BELFRY_ASSIGN_OR_RETURN(threshold::PublicKeySet coin_keys,
                          config::PublicKeySetFromConfig(cfg.proto.coin_keys(), cfg.f()));
  BELFRY_ASSIGN_OR_RETURN(threshold::KeyShare coin_share, threshold::ReadKeyShareFile(files.coin_share));
  if (coin_share.index() != self + 1) {
    return absl::FailedPreconditionError("the coin key share belongs to another replica");
  }
  ReplicaKeys keys{.reply = std::move(signer), .coin = nullptr, .decryption = nullptr, .service = nullptr, .service_key_digest = {},
                   .service_cert_der = {}, .key_generation_dir = {}};
  BELFRY_ASSIGN_OR_RETURN(keys.coin,
                          consensus::ThresholdCoinScheme::Create(std::move(coin_share), coin_keys));
  if (cfg.proto.distributed_encryption_key()) {
    // No dealer made this key: the replicas generate it, and this replica keeps its own
    // key-generation key and share beside its store (replica/node/keys/).
    keys.key_generation_dir = flags.data + "/keys";
  } else {
    BELFRY_ASSIGN_OR_RETURN(threshold::PublicKeySet tdh2_keys,
                            config::PublicKeySetFromConfig(cfg.proto.encryption_keys(), cfg.f()));
    BELFRY_ASSIGN_OR_RETURN(threshold::KeyShare tdh2_share, threshold::ReadKeyShareFile(files.tdh2_share));
    if (tdh2_share.index() != self + 1) {
      return absl::FailedPreconditionError("the TDH2 key share belongs to another replica");
    }
    BELFRY_ASSIGN_OR_RETURN(threshold::DecryptionShareProvider decryption,
                            threshold::DecryptionShareProvider::Create(std::move(tdh2_share), tdh2_keys));
    keys.decryption = std::make_unique<threshold::DecryptionShareProvider>(std::move(decryption));
  }
  if (cfg.proto.service_key_file().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        flags.config, " names no service_key_file: the cluster has no service key to sign integrity "
                      "certificates with (belfry-setup init makes one)"));
  }
  BELFRY_ASSIGN_OR_RETURN(threshold::rsa::PublicKeySet service_keys,
                          threshold::rsa::ReadPublicKeySetFile(cfg.service_key_path()));
  BELFRY_ASSIGN_OR_RETURN(threshold::rsa::KeyShare service_share,
                          threshold::rsa::ReadKeyShareFile(files.service_share));
  if (service_share.index() != self + 1 || service_keys.n() != cfg.n() || service_keys.f() != cfg.f()) {
    return absl::FailedPreconditionError(
        absl::StrCat(files.service_share, " is not replica ", self, "'s share of a key for this cluster"));
  }
  BELFRY_RETURN_IF_ERROR(threshold::rsa::CheckKeyShareMatches(service_share, service_keys));
  const std::string service_keys_bytes = service_keys.Serialize();
  keys.service_key_digest = ToHex(Sha256Of(service_keys_bytes.data(), service_keys_bytes.size()));
  keys.service = std::make_unique<threshold::rsa::ShareSigner>(std::move(service_share));
  if (cfg.proto.service_cert_file().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        flags.config, " names no service_cert_file: time-stamp tokens name the service certificate "
                      "(belfry-setup init makes one)"));
  }
  BELFRY_ASSIGN_OR_RETURN(const std::string service_cert_pem,
                          ReadFileBounded(cfg.service_cert_path(), kPemFileBytesMax));
  BELFRY_ASSIGN_OR_RETURN(keys.service_cert_der, pki::CertificatePemToDer(service_cert_pem));

  store::StoreOptions store_options;
#ifdef BELFRY_POWERLOSS_FS
  // belfry-replica-powerloss only (test/powerloss): a file system that journals every sync,
  // so that a simulated power cut can drop what was never made durable.
  BELFRY_ASSIGN_OR_RETURN(const powerloss::Mode powerloss_mode, powerloss::ReadMode(flags.data));
  const std::unique_ptr<rocksdb::Env> powerloss_env = powerloss::NewJournalingEnv(flags.data, powerloss_mode);
  store_options.env = powerloss_env.get();
#endif
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<store::RocksStore> store,
                          store::RocksStore::Open(flags.data, store_options));

  const pb::ReplicaEndpoint& me = cfg.proto.replicas(static_cast<int>(self));
  transport::PeerNetworkConfig peer_cfg;
  peer_cfg.self = self;
  peer_cfg.listen_host = flags.listen_host.empty() ? me.host() : flags.listen_host;
  peer_cfg.listen_port = static_cast<uint16_t>(me.peer_port());
  peer_cfg.credentials = creds;
  peer_cfg.frame_bytes_max = cfg.limits.frame_bytes_max;
  peer_cfg.handshake_timeout_ms = cfg.limits.peer_handshake_timeout_ms;
  peer_cfg.inbound_connections_max = cfg.limits.peer_inbound_connections_max;
  peer_cfg.handshakes_per_address_max = cfg.limits.peer_handshakes_per_address_max;
  peer_cfg.resend_buffer_bytes_max = cfg.limits.peer_resend_buffer_bytes_max;
  peer_cfg.resend_buffer_messages_max = cfg.limits.peer_resend_buffer_messages_max;
  peer_cfg.inbox_bytes_max = cfg.limits.peer_inbox_bytes_max;
  peer_cfg.inbox_messages_max = cfg.limits.peer_inbox_messages_max;
  peer_cfg.messages_per_second_max = config::PeerMessageRate(cfg.limits, cfg.n());
  for (const pb::ReplicaEndpoint& r : cfg.proto.replicas()) {
    if (r.id() != self) {
      peer_cfg.peers.push_back({.id = r.id(), .host = r.host(), .port = static_cast<uint16_t>(r.peer_port())});
    }
  }
  for (const std::string& text : flags.peer_addresses) {
    BELFRY_ASSIGN_OR_RETURN(transport::PeerAddress over, ParsePeerAddress(text, cfg.n(), self));
    for (transport::PeerAddress& peer : peer_cfg.peers) {
      if (peer.id == over.id) peer = over;
    }
  }
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<transport::PeerNetwork> peers,
                          transport::PeerNetwork::Create(std::move(peer_cfg)));

  ClientQueue client_queue(cfg.limits.client_queue_frames_max, cfg.limits.client_queue_bytes_max);
  transport::ClientServerConfig client_cfg;
  client_cfg.listen_host = flags.listen_host.empty() ? me.host() : flags.listen_host;
  client_cfg.listen_port = static_cast<uint16_t>(me.client_port());
  client_cfg.credentials = creds;
  client_cfg.connections_max = cfg.limits.client_connections_max;
  client_cfg.frame_bytes_max = cfg.limits.frame_bytes_max;
  client_cfg.frame_bytes_reading_max = cfg.limits.client_frame_bytes_reading_max;
  client_cfg.requests_in_flight_max = cfg.limits.client_requests_in_flight_max;
  client_cfg.connections_per_address_max = cfg.limits.client_connections_per_address_max;
  client_cfg.handshake_timeout_ms = cfg.limits.client_handshake_timeout_ms;
  client_cfg.request_bytes_in_flight_max = cfg.limits.client_request_bytes_in_flight_max;
  client_cfg.reply_bytes_queued_max = cfg.limits.client_reply_bytes_queued_max;
  transport::ClientServer* clients_ptr = nullptr;
  // Set before the client port starts; frames are checked against the core's fixed
  // configuration on the I/O thread (CheckClientFrame is thread-safe).
  std::atomic<const ReplicaCore*> checker{nullptr};
  BELFRY_ASSIGN_OR_RETURN(
      std::unique_ptr<transport::ClientServer> clients,
      transport::ClientServer::Create(
          client_cfg, [&](transport::ConnectionId id, const pki::CertIdentity& peer, std::string frame) {
            const ReplicaCore* core_for_checks = checker.load();
            if (core_for_checks == nullptr) return;
            CheckedFrame checked = core_for_checks->CheckClientFrame(frame);
            // Who is on the other end, as its certificate proves: replies go to the
            // request's user only (reply_guard.h), whoever else holds a copy of it.
            checked.peer_uid = peer.common_name;
            if (!client_queue.Push(id, std::move(checked)) &&
                clients_ptr != nullptr) {
              clients_ptr->Disconnect(id);
            }
          }));
  clients_ptr = clients.get();

  TransportOutbox outbox(peers.get(), clients.get());
  Outbox* core_outbox = &outbox;
#ifdef BELFRY_BYZANTINE
  int64_t clock_offset_ms = flags.clock_offset_ms;
  std::unique_ptr<byzantine::ByzantineOutbox> byzantine_outbox;
  if (!flags.byzantine.empty()) {
    BELFRY_ASSIGN_OR_RETURN(std::vector<byzantine::Strategy> strategies, byzantine::ParseStrategies(flags.byzantine));
    // A second copy of the reply key, so that forged replies carry valid signatures.
    BELFRY_ASSIGN_OR_RETURN(ReplySigner forger, ReplySigner::FromSeedFile(files.reply_key));
    BELFRY_ASSIGN_OR_RETURN(byzantine_outbox,
                            byzantine::ByzantineOutbox::Create(
                                {.self = self, .n = cfg.n(), .f = cfg.f(), .cluster_id = cfg.cluster_id(),
                                 .strategies = std::move(strategies), .seed = flags.byzantine_seed,
                                 .frame_bytes_max = cfg.limits.frame_bytes_max},
                                &outbox, std::move(forger)));
    core_outbox = byzantine_outbox.get();
    clock_offset_ms += byzantine_outbox->clock_offset_ms();
  }
  std::unique_ptr<byzantine::RequestLeak> leak;
  if (byzantine_outbox != nullptr && byzantine_outbox->Has(byzantine::Strategy::kLeakRequests)) {
    if (flags.leak_dir.empty()) return absl::InvalidArgumentError("leak-requests needs --leak-dir");
    leak = std::make_unique<byzantine::RequestLeak>(flags.leak_dir, store->next_epoch());
  }
#else
  constexpr int64_t clock_offset_ms = 0;
#endif
  ReplicaCore::Options core_options = ReplicaCore::OptionsFor(cfg);
#ifdef BELFRY_BYZANTINE
  if (byzantine_outbox != nullptr) core_options.key_generation_tamper = byzantine_outbox->KeyGenerationTamper();
#endif
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<ReplicaCore> core,
                          ReplicaCore::Create(cfg, self, std::move(keys), store.get(),
                                              &genesis_ca, core_outbox, core_options));
  checker.store(core.get());
  PublishedSnapshot published;
  std::unique_ptr<metrics::HttpServer> metrics_server;
  if (flags.metrics_address != "off" && (!flags.metrics_address.empty() || me.metrics_port() != 0)) {
    metrics::HttpServerConfig http_cfg;
    if (flags.metrics_address.empty()) {
      http_cfg.port = static_cast<uint16_t>(me.metrics_port());
    } else {
      BELFRY_ASSIGN_OR_RETURN(auto address, ParseAddress(flags.metrics_address));
      http_cfg.host = address.first;
      http_cfg.port = address.second;
    }
    BELFRY_ASSIGN_OR_RETURN(metrics_server,
                            metrics::HttpServer::Create(http_cfg, [&published](std::string_view path) {
                              return published.Serve(path);
                            }));
  }
  BELFRY_RETURN_IF_ERROR(peers->Start());
  BELFRY_RETURN_IF_ERROR(clients->Start());
  if (metrics_server != nullptr) {
    published.Publish(TakeSnapshot(cfg, self, *core, *peers, *clients, client_queue, *store));
    BELFRY_RETURN_IF_ERROR(metrics_server->Start());
  }
  LogLine(LogLevel::kInfo, "replica", "serving")
      .Add("replica", self)
      .Add("cluster", cfg.cluster_id())
      .Add("next_epoch", core->next_epoch())
      .Add("peer_port", me.peer_port())
      .Add("client_port", me.client_port())
      .Add("metrics_port", metrics_server != nullptr ? metrics_server->port() : 0);

  int64_t last_tick = 0;
  int64_t last_snapshot = 0;
  // A peer whose messages keep being refused (out of window, invalid) while this replica
  // is not behind is held to a small message rate for a while: its flood then costs this
  // replica little CPU, whatever the general per-peer budget allows a correct peer.
  constexpr uint64_t kPenaltyFaultsPerSecond = 200;
  constexpr uint32_t kPenaltyMessagesPerSecond = 100;
  constexpr int64_t kPenaltyMs = 10000;
  struct PeerPenalty {
    uint64_t last_faults = 0;
    int64_t until_ms = 0;
  };
  std::vector<PeerPenalty> penalties(cfg.n());
  int64_t last_penalty_check = 0;
  while (!g_stop.load()) {
    if (g_hangup.exchange(false)) {
      absl::Status reopened = ReopenLogFile();
      LogLine(reopened.ok() ? LogLevel::kInfo : LogLevel::kError,
                         "replica", "log_reopened")
          .Add("ok", reopened.ok())
          .Add("reason", reopened.message());
      ReloadTlsCredentials(cfg, files, self, *peers, *clients, g_reloads);
    }
    std::optional<transport::Delivery> d = peers->Receive(std::chrono::milliseconds(5));
    const int64_t now = NowMs() + clock_offset_ms;
    // Drain what is already here before looking at clients, bounded per round. One step:
    // the consensus inputs of the whole round are synced once, before anything they
    // caused leaves (group commit; ReplicaCore::BeginStep).
    core->BeginStep();
    for (int i = 0; d.has_value() && i < 4096; ++i) {
      core->OnPeerMessage(d->from, d->payload, now);
      d = peers->TryReceive();
    }
    if (d.has_value()) core->OnPeerMessage(d->from, d->payload, now);
    for (auto& [id, frame] : client_queue.TakeAll()) core->OnCheckedFrame(id, std::move(frame), now);
    core->EndStep();
    if (now - last_penalty_check >= 1000) {
      last_penalty_check = now;
      // From the typed fault events (peer_fault.h says which kinds count: protocol faults
      // and beyond-window frames); no penalty while this replica catches up (then correct
      // peers' frames are beyond its window too).
      std::vector<uint64_t> faults(cfg.n(), 0);
      for (const auto& [fault, count] : core->counters().peer_faults) {
        if (CountsTowardPenalty(fault) && fault.peer < cfg.n()) faults[fault.peer] += count;
      }
      for (uint32_t p = 0; p < cfg.n(); ++p) {
        if (p == self) continue;
        const uint64_t delta = faults[p] - penalties[p].last_faults;
        penalties[p].last_faults = faults[p];
        if (delta >= kPenaltyFaultsPerSecond && !core->catching_up()) {
          if (penalties[p].until_ms == 0) {
            peers->SetPeerMessageRate(p, kPenaltyMessagesPerSecond);
            LogLine(LogLevel::kWarn, "replica", "peer_penalized")
                .Add("peer", p)
                .Add("faults_per_second", delta);
          }
          penalties[p].until_ms = now + kPenaltyMs;
        } else if (penalties[p].until_ms != 0 && (penalties[p].until_ms <= now || core->catching_up())) {
          peers->SetPeerMessageRate(p, 0);
          penalties[p].until_ms = 0;
        }
      }
    }
    if (now - last_tick >= 20) {
      core->OnTick(now);
      last_tick = now;
#ifdef BELFRY_BYZANTINE
      if (leak != nullptr) {
        absl::Status leaked = leak->Poll(*store);
        if (!leaked.ok()) {
          LogLine(LogLevel::kWarn, "byzantine", "leak_failed").Add("reason", leaked.message());
        }
      }
#endif
    }
    if (metrics_server != nullptr && now - last_snapshot >= 250) {
      published.Publish(TakeSnapshot(cfg, self, *core, *peers, *clients, client_queue, *store));
      last_snapshot = now;
    }
    if (!core->fatal().ok()) {
      if (metrics_server != nullptr) metrics_server->Stop();
      clients->Stop();
      peers->Stop();
      return core->fatal();
    }
  }
  LogLine(LogLevel::kInfo, "replica", "stopping").Add("replica", self);
  if (metrics_server != nullptr) metrics_server->Stop();
  clients->Stop();
  peers->Stop();
  return absl::OkStatus();
}

// --state-digest: what a stopped replica committed, for comparing replicas offline (two
// correct replicas at one epoch print the same three values). Opens the store without
// creating it, so a mistyped path is an error rather than an empty store.
int PrintStateDigest(const std::string& data) {
  store::StoreOptions options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<store::RocksStore>> opened = store::RocksStore::Open(data, options);
  absl::StatusOr<store::Digest> digest =
      opened.ok() ? (*opened)->ComputeStateDigest() : absl::StatusOr<store::Digest>(opened.status());
  if (!digest.ok()) {
    std::fprintf(stderr, "belfry-replica: %s: %s\n", data.c_str(), std::string(digest.status().message()).c_str());
    return 1;
  }
  std::printf("next_epoch=%llu log_head=%s state_digest=%s\n",
              static_cast<unsigned long long>((*opened)->next_epoch()), ToHex((*opened)->log_head()).c_str(),
              ToHex(*digest).c_str());
  return 0;
}

}  // namespace
}  // namespace belfry::replica

int main(int argc, char** argv) {
  using belfry::LogFormat;
  using belfry::LogLevel;
  belfry::replica::Flags flags;
  std::string log_level = "info", log_format = "kv", log_file;
  bool state_digest = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--state-digest") {
      state_digest = true;
      continue;
    }
    if (i + 1 >= argc) return belfry::replica::Usage();
    const std::string value = argv[++i];
    if (arg == "--config") {
      flags.config = value;
    } else if (arg == "--data") {
      flags.data = value;
    } else if (arg == "--id") {
      char* end = nullptr;
      flags.id = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0') return belfry::replica::Usage();
    } else if (arg == "--listen-host") {
      flags.listen_host = value;
    } else if (arg == "--metrics-address") {
      flags.metrics_address = value;
    } else if (arg == "--peer-address") {
      flags.peer_addresses.push_back(value);
    } else if (arg == "--log-level") {
      log_level = value;
    } else if (arg == "--log-format") {
      log_format = value;
    } else if (arg == "--log-file") {
      log_file = value;
    } else if (arg == "--health-check") {
      flags.health_check = value;
    } else if (arg == "--path") {
      flags.health_path = value;
#ifdef BELFRY_BYZANTINE
    } else if (arg == "--byzantine") {
      flags.byzantine = value;
    } else if (arg == "--leak-dir") {
      flags.leak_dir = value;
    } else if (arg == "--byzantine-seed" || arg == "--clock-offset-ms") {
      char* end = nullptr;
      const long long parsed = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0') return belfry::replica::Usage();
      if (arg == "--byzantine-seed") {
        flags.byzantine_seed = static_cast<uint64_t>(parsed);
      } else {
        flags.clock_offset_ms = parsed;
      }
#endif
    } else {
      return belfry::replica::Usage();
    }
  }
  if (!flags.health_check.empty()) {
    absl::StatusOr<std::pair<std::string, uint16_t>> address =
        belfry::replica::ParseAddress(flags.health_check);
    if (!address.ok()) {
      std::fprintf(stderr, "belfry-replica: %s\n", std::string(address.status().message()).c_str());
      return 2;
    }
    absl::StatusOr<int> code = belfry::metrics::HttpGetStatus(
        address->first, address->second, flags.health_path, std::chrono::milliseconds(2000));
    if (!code.ok()) {
      std::fprintf(stderr, "belfry-replica: health check: %s\n", std::string(code.status().message()).c_str());
      return 1;
    }
    if (*code != 200) {
      std::fprintf(stderr, "belfry-replica: health check: %s answered %d\n", flags.health_path.c_str(), *code);
      return 1;
    }
    return 0;
  }
  if (state_digest) {
    if (flags.data.empty()) return belfry::replica::Usage();
    return belfry::replica::PrintStateDigest(flags.data);
  }
  if (flags.config.empty() || flags.data.empty() || flags.id < 0) return belfry::replica::Usage();
  absl::StatusOr<LogLevel> level = belfry::ParseLogLevel(log_level);
  absl::StatusOr<LogFormat> format = belfry::ParseLogFormat(log_format);
  for (const absl::Status& s : {level.status(), format.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "belfry-replica: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  belfry::SetLogLevel(*level);
  belfry::SetLogFormat(*format);
  if (!log_file.empty()) {
    absl::Status opened = belfry::SetLogFile(log_file);
    if (!opened.ok()) {
      std::fprintf(stderr, "belfry-replica: %s\n", std::string(opened.message()).c_str());
      return 1;
    }
  }
  std::signal(SIGTERM, belfry::replica::OnSignal);
  std::signal(SIGINT, belfry::replica::OnSignal);
  std::signal(SIGHUP, belfry::replica::OnHangup);
  std::signal(SIGPIPE, SIG_IGN);
  absl::Status s = belfry::replica::Run(flags);
  if (!s.ok()) {
    belfry::LogLine(LogLevel::kError, "replica", "exit").Add("reason", s.message());
    std::fprintf(stderr, "belfry-replica: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
