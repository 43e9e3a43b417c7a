// belfry-replica — one Belfry replica process.
//
//   belfry-replica --config DIR/cluster.conf --id K --data PATH
//
// Reads its keys from DIR/replicas/replica-K/ (config/layout.h), opens its RocksDB store
// at PATH, listens on its peer and client ports, and runs until SIGTERM or SIGINT, when it
// stops cleanly. Restarted on the same PATH it resumes after the last durable epoch and
// catches up on what it missed from its peers.
//
// Threads: the peer network and the client server each run their own I/O thread; one core
// thread runs every protocol step (ReplicaCore is single-threaded), fed by the peer inbox
// and a bounded queue of client frames.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "config/cluster_config.h"
#include "config/layout.h"
#include "config/threshold_keys.h"
#include "consensus/threshold_coin.h"
#include "replica/node/replica_core.h"
#include "replica/store/rocks_store.h"
#include "threshold/key_file.h"
#include "transport/client_server.h"
#include "transport/log.h"
#include "transport/peer_network.h"
#include "transport/tls.h"

namespace belfry::replica {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Client frames cross from the client server's I/O thread to the core thread here. Bounded:
// when the core falls behind, new frames are refused with a disconnect instead of queued.
class ClientQueue {
 public:
  explicit ClientQueue(size_t max) : max_(max) {}
  bool Push(transport::ConnectionId id, std::string frame) {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= max_) return false;
    queue_.emplace_back(id, std::move(frame));
    return true;
  }
  std::deque<std::pair<transport::ConnectionId, std::string>> TakeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<std::pair<transport::ConnectionId, std::string>> out;
    out.swap(queue_);
    return out;
  }

 private:
  std::mutex mu_;
  size_t max_;
  std::deque<std::pair<transport::ConnectionId, std::string>> queue_;
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
      transport::LogLine(transport::LogLevel::kWarn, "replica", "peer_send_refused")
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

struct Flags {
  std::string config;
  std::string data;
  int64_t id = -1;
};

int Usage() {
  std::fprintf(stderr, "usage: belfry-replica --config DIR/cluster.conf --id K --data PATH\n");
  return 2;
}

absl::Status Run(const Flags& flags) {
  BELFRY_ASSIGN_OR_RETURN(config::ClusterConfig cfg, config::LoadClusterConfig(flags.config));
  if (flags.id < 0 || static_cast<uint32_t>(flags.id) >= cfg.n()) {
    return absl::InvalidArgumentError(absl::StrCat("--id ", flags.id, " is not a replica of ", flags.config));
  }
  const uint32_t self = static_cast<uint32_t>(flags.id);
  const config::ReplicaFiles files = config::ReplicaFiles::In(config::ReplicaDir(cfg.dir, self));

  BELFRY_ASSIGN_OR_RETURN(transport::TlsCredentials creds,
                          transport::TlsCredentials::FromFiles(cfg.ca_cert_path(), files.tls_cert,
                                                               files.tls_key));
  BELFRY_ASSIGN_OR_RETURN(ReplySigner signer, ReplySigner::FromSeedFile(files.reply_key));
  if (signer.public_key() != cfg.reply_public_key(self)) {
    return absl::FailedPreconditionError(
        absl::StrCat(files.reply_key, " does not match replica ", self, "'s key in ", flags.config));
  }
  BELFRY_ASSIGN_OR_RETURN(threshold::PublicKeySet coin_keys,
                          config::PublicKeySetFromConfig(cfg.proto.coin_keys(), cfg.f()));
  BELFRY_ASSIGN_OR_RETURN(threshold::PublicKeySet tdh2_keys,
                          config::PublicKeySetFromConfig(cfg.proto.encryption_keys(), cfg.f()));
  BELFRY_ASSIGN_OR_RETURN(threshold::KeyShare coin_share, threshold::ReadKeyShareFile(files.coin_share));
  BELFRY_ASSIGN_OR_RETURN(threshold::KeyShare tdh2_share, threshold::ReadKeyShareFile(files.tdh2_share));
  if (coin_share.index() != self + 1 || tdh2_share.index() != self + 1) {
    return absl::FailedPreconditionError("key shares belong to another replica");
  }
  ReplicaKeys keys{.reply = std::move(signer), .coin = nullptr, .decryption = nullptr};
  BELFRY_ASSIGN_OR_RETURN(keys.coin,
                          consensus::ThresholdCoinScheme::Create(std::move(coin_share), coin_keys));
  BELFRY_ASSIGN_OR_RETURN(threshold::DecryptionShareProvider decryption,
                          threshold::DecryptionShareProvider::Create(std::move(tdh2_share), tdh2_keys));
  keys.decryption = std::make_unique<threshold::DecryptionShareProvider>(std::move(decryption));

  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<store::RocksStore> store,
                          store::RocksStore::Open(flags.data, store::StoreOptions{}));

  const pb::ReplicaEndpoint& me = cfg.proto.replicas(static_cast<int>(self));
  transport::PeerNetworkConfig peer_cfg;
  peer_cfg.self = self;
  peer_cfg.listen_host = me.host();
  peer_cfg.listen_port = static_cast<uint16_t>(me.peer_port());
  peer_cfg.credentials = creds;
  peer_cfg.frame_bytes_max = cfg.limits.frame_bytes_max;
  for (const pb::ReplicaEndpoint& r : cfg.proto.replicas()) {
    if (r.id() != self) {
      peer_cfg.peers.push_back({.id = r.id(), .host = r.host(), .port = static_cast<uint16_t>(r.peer_port())});
    }
  }
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<transport::PeerNetwork> peers,
                          transport::PeerNetwork::Create(std::move(peer_cfg)));

  ClientQueue client_queue(4 * size_t{cfg.limits.mempool_requests_max});
  transport::ClientServerConfig client_cfg;
  client_cfg.listen_host = me.host();
  client_cfg.listen_port = static_cast<uint16_t>(me.client_port());
  client_cfg.credentials = creds;
  client_cfg.connections_max = cfg.limits.client_connections_max;
  client_cfg.frame_bytes_max = cfg.limits.frame_bytes_max;
  transport::ClientServer* clients_ptr = nullptr;
  BELFRY_ASSIGN_OR_RETURN(
      std::unique_ptr<transport::ClientServer> clients,
      transport::ClientServer::Create(
          client_cfg, [&](transport::ConnectionId id, const pki::CertIdentity&, std::string frame) {
            if (!client_queue.Push(id, std::move(frame)) && clients_ptr != nullptr) {
              clients_ptr->Disconnect(id);
            }
          }));
  clients_ptr = clients.get();

  TransportOutbox outbox(peers.get(), clients.get());
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<ReplicaCore> core,
                          ReplicaCore::Create(cfg, self, std::move(keys), store.get(),
                                              creds.ca.get(), &outbox, ReplicaCore::Options{}));
  BELFRY_RETURN_IF_ERROR(peers->Start());
  BELFRY_RETURN_IF_ERROR(clients->Start());
  transport::LogLine(transport::LogLevel::kInfo, "replica", "serving")
      .Add("replica", self)
      .Add("cluster", cfg.cluster_id())
      .Add("next_epoch", core->next_epoch())
      .Add("peer_port", me.peer_port())
      .Add("client_port", me.client_port());

  int64_t last_tick = 0;
  while (!g_stop.load()) {
    std::optional<transport::Delivery> d = peers->Receive(std::chrono::milliseconds(5));
    const int64_t now = NowMs();
    // Drain what is already here before looking at clients, bounded per round.
    for (int i = 0; d.has_value() && i < 4096; ++i) {
      core->OnPeerMessage(d->from, d->payload, now);
      d = peers->TryReceive();
    }
    if (d.has_value()) core->OnPeerMessage(d->from, d->payload, now);
    for (auto& [id, frame] : client_queue.TakeAll()) core->OnClientFrame(id, frame, now);
    if (now - last_tick >= 20) {
      core->OnTick(now);
      last_tick = now;
    }
    if (!core->fatal().ok()) {
      clients->Stop();
      peers->Stop();
      return core->fatal();
    }
  }
  transport::LogLine(transport::LogLevel::kInfo, "replica", "stopping").Add("replica", self);
  clients->Stop();
  peers->Stop();
  return absl::OkStatus();
}

}  // namespace
}  // namespace belfry::replica

int main(int argc, char** argv) {
  belfry::replica::Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
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
    } else {
      return belfry::replica::Usage();
    }
  }
  if (flags.config.empty() || flags.data.empty() || flags.id < 0) return belfry::replica::Usage();
  std::signal(SIGTERM, belfry::replica::OnSignal);
  std::signal(SIGINT, belfry::replica::OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  absl::Status s = belfry::replica::Run(flags);
  if (!s.ok()) {
    std::fprintf(stderr, "belfry-replica: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
