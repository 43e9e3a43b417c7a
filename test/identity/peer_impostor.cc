// peer-impostor — a Byzantine replica that claims to be someone else, for
// test/identity/identity_e2e.sh.
//
//   peer-impostor --config C --id K --claim J --epoch E
//
// Runs with replica K's real certificate and keys (replica K itself is stopped), connects
// to every other replica's peer port through the real transport and sends, for epoch E,
// messages that only replica J may send: an RBC VALUE of J's proposal, and an ordering
// coin share carrying J's share index (made with K's key, as K cannot make J's). The
// transport names the sender from K's certificate, so each replica must ignore them and
// blame K, never J. Exits 0 once every message was handed to the network and a short
// grace period passed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "config/cluster_config.h"
#include "config/layout.h"
#include "config/threshold_keys.h"
#include "consensus/epoch/honey_badger.h"
#include "consensus/threshold_coin.h"
#include "proto/replica.pb.h"
#include "threshold/coin.h"
#include "threshold/key_file.h"
#include "base/log.h"
#include "transport/peer_network.h"
#include "transport/tls.h"

namespace belfry {
namespace {

struct Flags {
  std::string config;
  long id = -1;
  long claim = -1;
  long long epoch = -1;
};

absl::Status Run(const Flags& flags) {
  BELFRY_ASSIGN_OR_RETURN(config::ClusterConfig cfg, config::LoadClusterConfig(flags.config));
  if (flags.id < 0 || flags.claim < 0 || flags.id >= cfg.n() || flags.claim >= cfg.n() ||
      flags.id == flags.claim || flags.epoch < 0) {
    return absl::InvalidArgumentError("--id and --claim must be two replicas, --epoch >= 0");
  }
  const uint32_t self = static_cast<uint32_t>(flags.id);
  const uint32_t claimed = static_cast<uint32_t>(flags.claim);
  const config::ReplicaFiles files = config::ReplicaFiles::In(config::ReplicaDir(cfg.dir, self));

  // The coin share K can really make, relabelled with J's index.
  BELFRY_ASSIGN_OR_RETURN(threshold::KeyShare share, threshold::ReadKeyShareFile(files.coin_share));
  BELFRY_ASSIGN_OR_RETURN(threshold::PublicKeySet coin_keys,
                          config::PublicKeySetFromConfig(cfg.proto.coin_keys(), cfg.f()));
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<consensus::ThresholdCoinScheme> coin,
                          consensus::ThresholdCoinScheme::Create(std::move(share), coin_keys));
  const std::string own_share =
      coin->MakeShare(consensus::epoch::OrderCoinName(cfg.cluster_id(), static_cast<uint64_t>(flags.epoch)));
  BELFRY_ASSIGN_OR_RETURN(threshold::CoinShare relabelled, threshold::CoinShare::Parse(AsBytes(own_share)));
  relabelled.index = claimed + 1;

  pb::PeerMessage coin_msg;
  pb::ConsensusMessage* c = coin_msg.mutable_consensus();
  c->set_epoch(static_cast<uint64_t>(flags.epoch));
  c->mutable_order_share()->set_share(relabelled.Serialize());

  // A VALUE of J's broadcast: only J, the proposer, may send one.
  pb::PeerMessage value_msg;
  pb::ConsensusMessage* v = value_msg.mutable_consensus();
  v->set_epoch(static_cast<uint64_t>(flags.epoch));
  pb::AcsMessage* acs = v->mutable_acs();
  acs->set_instance(claimed);
  pb::RbcMessage::StripeProof* value = acs->mutable_rbc()->mutable_value();
  value->set_root(std::string(32, '\x11'));
  for (uint32_t levels = 0; (1u << levels) < cfg.n(); ++levels) value->add_branch(std::string(32, '\x22'));
  value->set_stripe("not J's proposal");

  transport::PeerNetworkConfig net_cfg;
  net_cfg.self = self;
  BELFRY_ASSIGN_OR_RETURN(net_cfg.credentials,
                          transport::TlsCredentials::FromFiles(cfg.ca_cert_path(), files.tls_cert, files.tls_key));
  for (const pb::ReplicaEndpoint& r : cfg.proto.replicas()) {
    if (r.id() != self) {
      net_cfg.peers.push_back({.id = r.id(), .host = r.host(), .port = static_cast<uint16_t>(r.peer_port())});
    }
  }
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<transport::PeerNetwork> net,
                          transport::PeerNetwork::Create(std::move(net_cfg)));
  BELFRY_RETURN_IF_ERROR(net->Start());
  for (const pb::ReplicaEndpoint& r : cfg.proto.replicas()) {
    if (r.id() == self) continue;
    BELFRY_RETURN_IF_ERROR(net->Send(r.id(), coin_msg.SerializeAsString()));
    BELFRY_RETURN_IF_ERROR(net->Send(r.id(), value_msg.SerializeAsString()));
  }
  // Until every link acknowledged what it was given (bounded).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    bool drained = true;
    for (const pb::ReplicaEndpoint& r : cfg.proto.replicas()) {
      if (r.id() != self && net->counters(r.id()).queue_messages != 0) drained = false;
    }
    if (drained) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError("the replicas did not acknowledge the messages");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  net->Stop();
  return absl::OkStatus();
}

}  // namespace
}  // namespace belfry

int main(int argc, char** argv) {
  belfry::SetLogLevel(belfry::LogLevel::kWarn);
  belfry::Flags flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--config") flags.config = argv[i + 1];
    else if (flag == "--id") flags.id = std::strtol(argv[i + 1], nullptr, 10);
    else if (flag == "--claim") flags.claim = std::strtol(argv[i + 1], nullptr, 10);
    else if (flag == "--epoch") flags.epoch = std::strtoll(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: peer-impostor --config C --id K --claim J --epoch E\n");
      return 2;
    }
  }
  absl::Status s = belfry::Run(flags);
  if (!s.ok()) {
    std::fprintf(stderr, "peer-impostor: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
