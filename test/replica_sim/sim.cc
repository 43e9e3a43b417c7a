#include "test/replica_sim/sim.h"

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"
#include "base/rng.h"
#include "client_lib/internal/requests.h"
#include "config/cluster_config.h"
#include "client_lib/internal/pending_call.h"
#include "proto/reply.pb.h"
#include "proto/replica.pb.h"
#include "proto/service.pb.h"
#include "replica/node/replica_core.h"
#include "replica/store/memory_store.h"
#include "test/replica_sim/cluster.h"
#include "transport/link.h"
#include "base/log.h"

namespace belfry::rsim {
namespace {

using replica::ReplicaCore;

// ---------------------------------------------------------------- Byzantine strategies

enum class Strategy : uint8_t {
  kSilent,        // crashed from the start: sends nothing, ever
  kFarFuture,     // a real core that also sends consensus frames far beyond everyone's window
  kEquivocate,    // two real cores with its keys ("twins"), each heard by a part of the peers
  kLyingRecords,  // a real core whose CommittedEpoch records lie, sent also unasked
  kLyingChunks,   // a real core whose state chunks lie
  kFlood,         // a real core that also floods FetchEpochs and JoinEpochs
};

const char* StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kSilent: return "silent";
    case Strategy::kFarFuture: return "far_future";
    case Strategy::kEquivocate: return "equivocate";
    case Strategy::kLyingRecords: return "lying_records";
    case Strategy::kLyingChunks: return "lying_chunks";
    case Strategy::kFlood: return "flood";
  }
  return "?";
}

// ---------------------------------------------------------------- the plan of a run

enum class EventKind : uint8_t { kCrash, kRestart, kWipeRestart, kPause, kResume, kPartition, kHeal, kForgeEpoch };

struct Event {
  int64_t at_ms = 0;
  EventKind kind = EventKind::kCrash;
  uint32_t replica = 0;
  std::set<uint32_t> group;  // kPartition: one side
};

struct Plan {
  uint32_t n = 4;
  std::map<uint32_t, Strategy> byzantine;
  // Equivocating twins: the peers that hear the second twin (the rest hear the first).
  std::set<uint32_t> twin_group;
  std::set<uint32_t> down_forever;   // never started (a faulty replica)
  std::set<uint32_t> amnesiac;       // lose their disk at some point: faulty too
  std::vector<Event> events;
  std::map<uint32_t, int64_t> skew_ms;
  int64_t heal_ms = 0;               // every fault of correct replicas is over by then
  int64_t progress_bound_ms = 20000; // after heal_ms, everything must be done
  uint32_t clients = 3;
  uint32_t ops_per_client = 6;
  // (from, to) links that deliver only when nothing else can, until slow_until_ms.
  std::set<std::pair<uint32_t, uint32_t>> slow_links;
  int64_t slow_until_ms = 0;
  bool random_speeds = true;         // re-drawn per link every few hundred ms
  // Crash this replica right after its core sends its first proposal (VAL) for an epoch
  // >= crash_after_propose_epoch, and restart it crash_after_propose_down_ms later.
  std::optional<uint32_t> crash_after_propose;
  uint64_t crash_after_propose_epoch = 2;
  int64_t crash_after_propose_down_ms = 30;
  // Epochs of a replica's store that the scenario forged (excluded from the record check).
  std::map<uint32_t, std::set<uint64_t>> forged;
  uint32_t fatal_restarts_max = 100;
  bool check_votes = true;
  std::string description;
};

uint32_t FaultyCount(const Plan& p) {
  std::set<uint32_t> faulty = p.down_forever;
  for (const auto& [id, s] : p.byzantine) faulty.insert(id);
  faulty.insert(p.amnesiac.begin(), p.amnesiac.end());
  return static_cast<uint32_t>(faulty.size());
}

std::string Describe(const Plan& p) {
  std::vector<std::string> parts;
  parts.push_back(absl::StrCat("n=", p.n));
  for (const auto& [id, s] : p.byzantine) parts.push_back(absl::StrCat("byz", id, "=", StrategyName(s)));
  for (uint32_t id : p.down_forever) parts.push_back(absl::StrCat("down", id));
  for (const Event& e : p.events) {
    const char* k = "";
    switch (e.kind) {
      case EventKind::kCrash: k = "crash"; break;
      case EventKind::kRestart: k = "restart"; break;
      case EventKind::kWipeRestart: k = "wipe_restart"; break;
      case EventKind::kPause: k = "pause"; break;
      case EventKind::kResume: k = "resume"; break;
      case EventKind::kPartition: k = "partition"; break;
      case EventKind::kHeal: k = "heal"; break;
      case EventKind::kForgeEpoch: k = "forge"; break;
    }
    if (e.kind == EventKind::kPartition) {
      parts.push_back(absl::StrCat(k, "{", absl::StrJoin(e.group, ","), "}@", e.at_ms));
    } else if (e.kind == EventKind::kHeal) {
      parts.push_back(absl::StrCat(k, "@", e.at_ms));
    } else {
      parts.push_back(absl::StrCat(k, e.replica, "@", e.at_ms));
    }
  }
  if (p.crash_after_propose.has_value()) parts.push_back(absl::StrCat("crash_after_propose", *p.crash_after_propose));
  return absl::StrJoin(parts, " ");
}

// The fault mix: at most f faulty replicas (Byzantine, down for good, or losing their
// disk), plus crash-restarts, pauses and partitions of correct ones, all over by heal_ms.
Plan MixPlan(uint64_t seed, uint32_t n_forced, bool benign) {
  DeterministicRng rng(seed * 0x9E3779B97F4A7C15ull + 17);
  Plan p;
  p.n = n_forced != 0 ? n_forced : (rng.Uniform(3) == 0 ? 7 : 4);
  const uint32_t f = (p.n - 1) / 3;
  p.clients = p.n == 4 ? 3 : 4;
  p.ops_per_client = 5;
  p.heal_ms = 4000;
  for (uint32_t i = 0; i < p.n; ++i) p.skew_ms[i] = static_cast<int64_t>(rng.Uniform(2001)) - 1000;
  std::vector<uint32_t> ids(p.n);
  for (uint32_t i = 0; i < p.n; ++i) ids[i] = i;
  for (uint32_t i = p.n - 1; i > 0; --i) std::swap(ids[i], ids[rng.Uniform(i + 1)]);
  size_t next_id = 0;
  if (!benign) {
    const uint32_t faulty = static_cast<uint32_t>(rng.Uniform(f + 1));
    for (uint32_t k = 0; k < faulty; ++k) {
      const uint32_t id = ids[next_id++];
      const uint64_t kind = rng.Uniform(8);
      if (kind == 0) {
        p.down_forever.insert(id);
      } else if (kind == 1) {
        p.amnesiac.insert(id);
        const int64_t at = 500 + static_cast<int64_t>(rng.Uniform(2500));
        p.events.push_back({at, EventKind::kCrash, id, {}});
        p.events.push_back({at + 100 + static_cast<int64_t>(rng.Uniform(1000)), EventKind::kWipeRestart, id, {}});
      } else {
        const Strategy s = static_cast<Strategy>(1 + (kind - 2) % 5);
        p.byzantine[id] = s;
        if (s == Strategy::kEquivocate) {
          for (uint32_t i = 0; i < p.n; ++i) {
            if (i != id && rng.Uniform(2) == 0) p.twin_group.insert(i);
          }
        }
      }
    }
    // Crash-restarts of correct replicas at any step.
    const uint32_t crashes = static_cast<uint32_t>(rng.Uniform(3));
    for (uint32_t k = 0; k < crashes; ++k) {
      const uint32_t id = ids[next_id + rng.Uniform(p.n - next_id)];
      const int64_t at = 200 + static_cast<int64_t>(rng.Uniform(3000));
      p.events.push_back({at, EventKind::kCrash, id, {}});
      p.events.push_back({at + 20 + static_cast<int64_t>(rng.Uniform(700)), EventKind::kRestart, id, {}});
    }
  }
  const uint32_t pauses = static_cast<uint32_t>(rng.Uniform(3));
  for (uint32_t k = 0; k < pauses; ++k) {
    const uint32_t id = ids[next_id + rng.Uniform(p.n - next_id)];
    const int64_t at = 100 + static_cast<int64_t>(rng.Uniform(3000));
    p.events.push_back({at, EventKind::kPause, id, {}});
    p.events.push_back({at + 50 + static_cast<int64_t>(rng.Uniform(800)), EventKind::kResume, id, {}});
  }
  if (rng.Uniform(2) == 0) {
    std::set<uint32_t> side;
    const uint32_t size = 1 + static_cast<uint32_t>(rng.Uniform(f));
    while (side.size() < size) side.insert(static_cast<uint32_t>(rng.Uniform(p.n)));
    const int64_t at = 100 + static_cast<int64_t>(rng.Uniform(2500));
    p.events.push_back({at, EventKind::kPartition, 0, side});
    p.events.push_back({at + 100 + static_cast<int64_t>(rng.Uniform(1300)), EventKind::kHeal, 0, {}});
  }
  // One run in four is long enough (about 40 epochs) for the peers of a replica that lost
  // its disk or was down long to have pruned what it misses: it must come back by state
  // transfer, where the lying-chunks strategy and the transfer's bounds get exercised.
  // Drawn last, so the shorter runs' plans do not depend on it.
  // In those runs the restarts come late, once the others are a checkpoint and a retained
  // log ahead.
  if (rng.Uniform(4) == 0) {
    p.ops_per_client = 15;
    for (Event& e : p.events) {
      if (e.kind == EventKind::kRestart || e.kind == EventKind::kWipeRestart) e.at_ms += 6000;
    }
    p.heal_ms += 6000;
    // Three times the work needs three times the time to finish it: with two flooding
    // replicas at N=7 an epoch can take 2 s of simulated time (mix seed 7542 was still
    // committing an epoch every 2 s when the 20 s bound of a short run ended).
    p.progress_bound_ms *= 3;
  }
  std::stable_sort(p.events.begin(), p.events.end(), [](const Event& a, const Event& b) { return a.at_ms < b.at_ms; });
  // A crash-restart whose restart precedes a second crash of the same replica is fine;
  // restarts of a replica already up are ignored by the runner.
  BELFRY_CHECK(FaultyCount(p) <= f);
  p.description = Describe(p);
  return p;
}

// Finding 1 (issue 13): catch-up rebuilds consensus and forgets the votes already sent.
// N=4: A=0, B=1 (Byzantine twins: one twin heard by A and D, the other by C, and far-future
// pushes), C=2, D=3. Links into D are slow, so A is legitimately ahead of D; B's one
// far-future frame supplies the second "peer ahead" and D catches up, rebuilds its
// HoneyBadger and votes again, from scratch, in epochs it already voted in.
Plan Finding1Plan(uint64_t seed) {
  DeterministicRng rng(seed + 101);
  Plan p;
  p.n = 4;
  p.byzantine[1] = Strategy::kEquivocate;
  p.twin_group = {2};
  p.clients = 3;
  p.ops_per_client = 6;
  p.heal_ms = 3000;
  for (uint32_t i = 0; i < p.n; ++i) p.skew_ms[i] = static_cast<int64_t>(rng.Uniform(201)) - 100;
  p.slow_links = {{0, 3}, {2, 3}};
  p.slow_until_ms = 2000 + static_cast<int64_t>(rng.Uniform(1000));
  p.random_speeds = true;
  p.description = Describe(p) + " slow{0>3,2>3} twins{0,3|2} far_future";
  return p;
}

// Finding 2: with B down, a frame beyond D's window is dropped by D's core and never
// asked for again, so an RBC cannot deliver and the cluster stalls.
Plan Finding2Plan(uint64_t seed) {
  DeterministicRng rng(seed + 202);
  Plan p;
  p.n = 4;
  p.down_forever = {1};
  p.clients = 8;
  p.ops_per_client = 8;
  p.heal_ms = 0;
  p.progress_bound_ms = 20000;
  for (uint32_t i = 0; i < p.n; ++i) p.skew_ms[i] = static_cast<int64_t>(rng.Uniform(201)) - 100;
  // D hears C last: A's frames for A's newest epoch reach D before C's for D's oldest.
  p.slow_links = {{2, 3}};
  p.slow_until_ms = 1'000'000;
  p.random_speeds = true;
  p.description = Describe(p) + " slow{2>3}";
  return p;
}

// Finding 3: a crash-restart re-randomizes the replica's own proposal (and re-derives
// its votes): the replica equivocates. With a Byzantine twin beside it, agreement can break.
Plan Finding3Plan(uint64_t seed, bool with_byzantine) {
  DeterministicRng rng(seed + 303);
  Plan p;
  p.n = 4;
  p.clients = 3;
  p.ops_per_client = 6;
  p.heal_ms = 2000;
  for (uint32_t i = 0; i < p.n; ++i) p.skew_ms[i] = static_cast<int64_t>(rng.Uniform(201)) - 100;
  p.crash_after_propose = 0;
  p.crash_after_propose_epoch = 1 + rng.Uniform(4);
  p.crash_after_propose_down_ms = 5 + static_cast<int64_t>(rng.Uniform(200));
  if (with_byzantine) {
    p.byzantine[1] = Strategy::kEquivocate;
    p.twin_group = {2};
  }
  p.description = Describe(p);
  return p;
}

// Finding 4: a replica whose log left the cluster's (here: its epoch k was forged on its
// disk while it was down, as a fork from finding 3 leaves it) restarts and catches up.
// It commits epoch k+1 durably and only then compares the log head; every restart commits
// one more wrong epoch.
Plan Finding4Plan(uint64_t seed) {
  DeterministicRng rng(seed + 404);
  Plan p;
  p.n = 4;
  p.clients = 3;
  p.ops_per_client = 12;
  p.heal_ms = 3500;
  for (uint32_t i = 0; i < p.n; ++i) p.skew_ms[i] = static_cast<int64_t>(rng.Uniform(201)) - 100;
  const int64_t down_at = 300 + static_cast<int64_t>(rng.Uniform(300));
  p.events.push_back({down_at, EventKind::kCrash, 3, {}});
  p.events.push_back({down_at + 10, EventKind::kForgeEpoch, 3, {}});
  p.events.push_back({down_at + 2500, EventKind::kRestart, 3, {}});
  p.fatal_restarts_max = 3;
  // The restart forgets its votes (finding 3); this scenario is about what catch-up does.
  p.check_votes = false;
  p.description = Describe(p);
  return p;
}

absl::StatusOr<Plan> PlanFor(const Options& o) {
  if (o.scenario == "mix") return MixPlan(o.seed, o.n, /*benign=*/false);
  if (o.scenario == "benign") return MixPlan(o.seed, o.n, /*benign=*/true);
  if (o.scenario == "finding1") return Finding1Plan(o.seed);
  if (o.scenario == "finding2") return Finding2Plan(o.seed);
  if (o.scenario == "finding3") return Finding3Plan(o.seed, false);
  if (o.scenario == "finding3-byzantine") return Finding3Plan(o.seed, true);
  if (o.scenario == "finding4") return Finding4Plan(o.seed);
  return absl::InvalidArgumentError(absl::StrCat("unknown scenario ", o.scenario));
}

// ---------------------------------------------------------------- the simulation

uint64_t Fnv(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}
uint64_t FnvU64(uint64_t h, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  return Fnv(h, std::string_view(b, 8));
}

class Sim;

// The daemon's acknowledgement batching: replica/node/main.cc keeps PeerNetworkConfig's
// defaults.
constexpr uint32_t kAckDelayUs = transport::kDefaultAckDelayUs;
constexpr uint32_t kAckBatchMessages = transport::kDefaultAckBatchMessages;

class SimOutbox final : public replica::Outbox {
 public:
  SimOutbox(Sim* sim, uint32_t self, uint32_t twin) : sim_(sim), self_(self), twin_(twin) {}
  void SendPeer(uint32_t to, std::string payload) override;
  void SendClient(uint64_t connection, std::string frame) override;

 private:
  Sim* sim_;
  uint32_t self_;
  uint32_t twin_;  // 0: the replica's (first) core; 1: its second twin
};

struct Host {
  std::unique_ptr<store::MemoryStore> store;
  std::unique_ptr<store::MemoryStore> twin_store;
  std::unique_ptr<SimOutbox> outbox;
  std::unique_ptr<SimOutbox> twin_outbox;
  std::unique_ptr<DeterministicRng> rng;
  std::unique_ptr<DeterministicRng> twin_rng;
  std::unique_ptr<ReplicaCore> core;
  std::unique_ptr<ReplicaCore> twin;
  bool up = false;
  bool paused = false;
  int64_t skew_ms = 0;
  int64_t last_tick_ms = -1000;
  int64_t last_clock_ms = 0;  // the local clock never runs back
  // The transport's incarnation of the running process: grows on every start, as the
  // daemon's (the wall clock at start) does.
  uint64_t incarnation = 0;
  uint32_t fatal_restarts = 0;
  int64_t restart_at_ms = -1;  // after a fatal error, as a supervisor restarts the daemon
  uint64_t next_before_call = 0;  // the store's next epoch before the current core call
  std::optional<Strategy> strategy;
  int64_t next_mischief_ms = 0;
  uint64_t flood_join_epoch = 0;
};

// A directed link from -> to, run by the transport's own link code (transport/link.h, as
// transport/peer_network.cc runs it): the sending process's LinkSender (seqs, the bounded
// resend buffer), the receiving process's LinkReceiver (hello answers, in-order
// exactly-once delivery, batched cumulative acks) and delivery budget, and the one
// connection between them. Frames are encoded and decoded as on the wire.
struct Link {
  // Empty while the sending process is down: a crash loses its resend buffer.
  std::optional<transport::LinkSender> sender;
  // Empty while the receiving process is down: a restart knows nothing of the sender.
  std::optional<transport::LinkReceiver> receiver;
  transport::TokenBucket budget;  // the receiving process's, messages_per_second_max
  // A connection is established (hellos exchanged) and neither of its processes died
  // since. Frames still on the wire of a connection whose sender died stay readable until
  // a new hello supersedes it.
  bool connected = false;
  uint64_t connection = 0;  // the receiver's id of the connection `wire` belongs to
  std::deque<std::string> wire;  // data frames written and not read yet, oldest first
  std::deque<std::string> acks;  // ack frames written by the receiver, not read yet
  uint32_t speed = 4;  // scheduler weight
  // Frames at the head already written to the socket when the sender died: the kernel
  // still delivers them, so they arrive although their sender is down.
  uint64_t on_wire = 0;
};

struct ClientOp {
  enum Kind { kLogin, kCheckIn, kCheckOut, kGrant, kDelete } kind = kLogin;
  std::string doc;
  std::string data;
  uint32_t grantee = 0;
};

struct Client {
  uint32_t id = 0;
  uint32_t user = 0;
  std::unique_ptr<client::internal::SessionKey> session;
  uint64_t seq = 0;
  std::vector<ClientOp> ops;
  size_t next_op = 0;
  // The operation in flight.
  bool busy = false;
  std::string request;  // serialized SignedRequest
  wire::Digest request_id{};
  // The real client's bookkeeping of one call (client_lib/internal/pending_call.h): replies
  // grouped by the epoch that ordered the request, faults recorded per replica.
  std::unique_ptr<client::internal::PendingCall> call;
  std::set<uint32_t> replied;
  int64_t sent_ms = 0;
  int64_t next_action_ms = 0;
  uint32_t attempt = 0;
};

struct Accepted {
  uint32_t client = 0;
  uint64_t epoch = 0;
  std::string log_head;
  std::string what;
};

struct PendingReply {
  uint32_t replica;
  uint64_t connection;
  std::string frame;
};

class Sim {
 public:
  Sim(const Options& options, Plan plan)
      : options_(options),
        plan_(std::move(plan)),
        n_(plan_.n),
        f_((n_ - 1) / 3),
        config_(SimCluster(n_)),
        rng_(options.seed * 0xD1B54A32D192ED03ull + 1),
        hosts_(n_),
        links_(n_ * n_) {
    core_options_ = ReplicaCore::OptionsFor(config_);
    // As replica/node/main.cc configures the daemon's PeerNetwork.
    resend_messages_max_ = config_.limits.peer_resend_buffer_messages_max;
    resend_bytes_max_ = config_.limits.peer_resend_buffer_bytes_max;
    frame_bytes_max_ = config_.limits.frame_bytes_max;
    messages_per_second_max_ = config::PeerMessageRate(config_.limits, n_);
  }

  Result Run();

  void OnSendPeer(uint32_t from, uint32_t twin, uint32_t to, std::string payload);
  void OnSendClient(uint32_t from, uint32_t twin, uint64_t connection, std::string frame);

 private:
  bool Faulty(uint32_t id) const {
    return plan_.byzantine.count(id) != 0 || plan_.down_forever.count(id) != 0 ||
           plan_.amnesiac.count(id) != 0;
  }
  int64_t LocalNow(uint32_t id) {
    Host& h = hosts_[id];
    h.last_clock_ms = std::max(h.last_clock_ms, kSimStartMs + now_ms_ + h.skew_ms);
    return h.last_clock_ms;
  }
  void Fail(std::string why) {
    if (failure_.empty()) failure_ = absl::StrCat("t=", now_ms_, "ms: ", why, "\n  state: ", Status());
  }
  void Trace(const std::string& line) {
    if (options_.trace) std::fprintf(stderr, "[%" PRId64 "] %s\n", now_ms_, line.c_str());
  }

  void Start(uint32_t id, bool wipe);
  // `all_on_wire`: every frame the process sent had reached the socket (it died right
  // after its step); otherwise a random prefix of each link had.
  void Crash(uint32_t id, bool all_on_wire = false);
  void Enqueue(uint32_t from, uint32_t to, std::string payload);
  bool Runs(uint32_t id) const { return hosts_[id].up && !hosts_[id].paused; }
  uint64_t NowUs() const { return static_cast<uint64_t>(now_ms_) * 1000; }
  // Link protocol steps (see Link).
  void ConnectLinks();
  void AckStep();
  void WriteData(Link& l);
  void WriteAck(uint32_t from, uint32_t to);
  void ReadAcks(uint32_t from, uint32_t to);
  void ReadData(uint32_t from, uint32_t to, const std::string& frame);
  void CloseLink(uint32_t from, uint32_t to, const std::string& why);
  void Mischief(uint32_t id);
  void ApplyEvent(const Event& e);
  bool Deliverable(uint32_t from, uint32_t to) const;
  bool DeliverOne();
  void Deliver(uint32_t from, uint32_t to, const std::string& payload);
  void AfterCoreCall(uint32_t id);
  void DrainReplies();
  void ClientStep(Client& c);
  void SendRequest(Client& c, bool retransmit);
  void OnReply(Client& c, uint32_t replica, const std::string& frame);
  void BuildClients();
  void CheckVote(uint32_t from, uint32_t to, const std::string& payload);
  void CheckRecords();
  bool Done();
  std::string Status();

  const Options options_;
  Plan plan_;
  const uint32_t n_;
  const uint32_t f_;
  const config::ClusterConfig& config_;
  ReplicaCore::Options core_options_;
  DeterministicRng rng_;
  std::vector<Host> hosts_;
  std::vector<Link> links_;
  std::set<std::pair<uint32_t, uint32_t>> cut_;
  std::vector<Client> clients_;
  std::vector<PendingReply> replies_;
  std::vector<Accepted> accepted_;
  std::map<std::string, std::pair<std::string, uint32_t>> votes_;  // slot -> (content, sender)
  std::map<uint64_t, std::pair<std::string, uint32_t>> canonical_;  // epoch -> (record, replica)
  std::set<uint32_t> crash_pending_;
  uint64_t resend_messages_max_ = 0;
  uint64_t resend_bytes_max_ = 0;
  uint64_t frame_bytes_max_ = 0;
  uint32_t messages_per_second_max_ = 0;
  int64_t now_ms_ = 0;
  uint64_t deliveries_ = 0;
  uint64_t sends_refused_ = 0;
  uint64_t hash_ = 0xcbf29ce484222325ull;
  size_t next_event_ = 0;
  int64_t next_speed_draw_ms_ = 0;
  int64_t last_record_check_ms_ = 0;
  std::string failure_;
};

void SimOutbox::SendPeer(uint32_t to, std::string payload) { sim_->OnSendPeer(self_, twin_, to, std::move(payload)); }
void SimOutbox::SendClient(uint64_t connection, std::string frame) {
  sim_->OnSendClient(self_, twin_, connection, std::move(frame));
}

void Sim::Start(uint32_t id, bool wipe) {
  Host& h = hosts_[id];
  if (h.store == nullptr || wipe) h.store = std::make_unique<store::MemoryStore>();
  if (h.outbox == nullptr) h.outbox = std::make_unique<SimOutbox>(this, id, 0);
  // A new process draws new proposal slices: the stream depends on the incarnation.
  h.rng = std::make_unique<DeterministicRng>(rng_.Next64());
  ReplicaCore::Options o = core_options_;
  o.proposal_rng = h.rng.get();
  h.up = true;
  h.paused = false;
  h.last_tick_ms = -1000;
  // A new process: a new incarnation, empty link state on both sides of its links.
  ++h.incarnation;
  for (uint32_t peer = 0; peer < n_; ++peer) {
    if (peer == id) continue;
    Link& out = links_[id * n_ + peer];
    out.sender.emplace(resend_messages_max_, resend_bytes_max_);
    out.connected = false;
    out.acks.clear();
    Link& in = links_[peer * n_ + id];
    in.receiver.emplace(kAckDelayUs, kAckBatchMessages);
    in.budget = transport::TokenBucket();
  }
  absl::StatusOr<std::unique_ptr<ReplicaCore>> core =
      ReplicaCore::Create(config_, id, SimKeys(n_, id), h.store.get(), &SimCaBundle(), h.outbox.get(), o);
  if (!core.ok()) {
    Fail(absl::StrCat("replica ", id, " cannot start: ", core.status().ToString()));
    h.up = false;
    return;
  }
  h.core = *std::move(core);
  if (h.strategy == Strategy::kEquivocate) {
    if (h.twin_store == nullptr || wipe) h.twin_store = std::make_unique<store::MemoryStore>();
    if (h.twin_outbox == nullptr) h.twin_outbox = std::make_unique<SimOutbox>(this, id, 1);
    h.twin_rng = std::make_unique<DeterministicRng>(rng_.Next64());
    ReplicaCore::Options t = core_options_;
    t.proposal_rng = h.twin_rng.get();
    absl::StatusOr<std::unique_ptr<ReplicaCore>> twin = ReplicaCore::Create(
        config_, id, SimKeys(n_, id), h.twin_store.get(), &SimCaBundle(), h.twin_outbox.get(), t);
    BELFRY_CHECK(twin.ok());
    h.twin = *std::move(twin);
  }
  Trace(absl::StrCat("start replica ", id, wipe ? " (wiped)" : "", " next_epoch=", h.core->next_epoch()));
  ConnectLinks();
}

void Sim::Crash(uint32_t id, bool all_on_wire) {
  Host& h = hosts_[id];
  if (!h.up) return;
  h.core.reset();
  h.twin.reset();
  h.up = false;
  // Its resend buffers die with it, except what had been written to the socket already:
  // a prefix of what it had queued on each connection (all of it when it died right
  // after a step) still reaches the receiver.
  for (uint32_t to = 0; to < n_; ++to) {
    Link& l = links_[id * n_ + to];
    uint64_t keep = all_on_wire ? l.wire.size() : rng_.Uniform(l.wire.size() + 1);
    if (!hosts_[to].up) keep = 0;  // no connection to a process that is down
    while (l.wire.size() > keep) l.wire.pop_back();
    l.on_wire = keep;
    l.sender.reset();
    l.connected = false;
    l.acks.clear();  // nobody reads them any more
  }
  // Frames it had read into its inbox and acknowledged, but not yet handed to the core,
  // are lost too: up to 4 at the head of each connection are read and acknowledged now
  // (as the ack timer would have), through the real receiver, and never reach a core.
  // Everything the sender still has unacknowledged, including what this process
  // delivered but had not acknowledged yet, is resent to the next incarnation, which
  // answers the hello with 0 (it knows nothing of the sender).
  for (uint32_t from = 0; from < n_; ++from) {
    Link& l = links_[from * n_ + id];
    const uint64_t lost = rng_.Uniform(std::min<uint64_t>(l.wire.size(), 4) + 1);
    for (uint64_t k = 0; k < lost; ++k) {
      const std::string frame = std::move(l.wire.front());
      l.wire.pop_front();
      if (l.on_wire > 0) --l.on_wire;
      absl::StatusOr<transport::LinkFrame> f = transport::DecodeLinkFrame(frame, frame_bytes_max_);
      BELFRY_CHECK(f.ok() && f->kind == transport::LinkFrame::Kind::kData);
      if (l.receiver->OnData(l.connection, f->seq) == transport::DataVerdict::kDeliver) {
        (void)l.receiver->OnDelivered(f->seq, NowUs());  // the ack is written just below
      }
    }
    if (lost > 0) WriteAck(from, id);
    // The connection dies with the process: the rest on the wire is gone (the sender
    // resends it); the acks it wrote still reach a live sender, which reads them before
    // it redials.
    l.wire.clear();
    l.on_wire = 0;
    l.connected = false;
    l.receiver.reset();
  }
  Trace(absl::StrCat("crash replica ", id));
}

void Sim::OnSendPeer(uint32_t from, uint32_t twin, uint32_t to, std::string payload) {
  if (to >= n_ || to == from) return;
  Host& h = hosts_[from];
  if (h.strategy == Strategy::kEquivocate) {
    // Each peer hears exactly one of the twins.
    const bool second = plan_.twin_group.count(to) != 0;
    if (second != (twin == 1)) return;
  }
  if (!Faulty(from) && plan_.check_votes && options_.check_votes) CheckVote(from, to, payload);
  if (h.strategy.has_value() && (h.strategy == Strategy::kLyingRecords || h.strategy == Strategy::kLyingChunks)) {
    pb::PeerMessage msg;
    if (msg.ParseFromString(payload)) {
      if (h.strategy == Strategy::kLyingRecords && msg.has_committed_epoch()) {
        pb::CommittedEpoch* c = msg.mutable_committed_epoch();
        c->clear_requests();
        c->set_log_head(std::string(32, static_cast<char>(0x66)));
        payload = msg.SerializeAsString();
      }
      if (h.strategy == Strategy::kLyingChunks && msg.has_state_chunk()) {
        for (pb::StateEntry& e : *msg.mutable_state_chunk()->mutable_entries()) e.set_value("lie");
        payload = msg.SerializeAsString();
      }
    }
  }
  if (plan_.crash_after_propose == from && !Faulty(from)) {
    pb::PeerMessage msg;
    if (msg.ParseFromString(payload) && msg.has_consensus() && msg.consensus().has_acs() &&
        msg.consensus().acs().has_rbc() && msg.consensus().acs().rbc().has_value() &&
        msg.consensus().epoch() >= plan_.crash_after_propose_epoch) {
      // The process dies right after this step's messages left (see AfterCoreCall).
      crash_pending_.insert(from);
    }
  }
  Enqueue(from, to, std::move(payload));
}

void Sim::Enqueue(uint32_t from, uint32_t to, std::string payload) {
  Link& l = links_[from * n_ + to];
  BELFRY_CHECK(l.sender.has_value());  // only a running process sends
  // PeerNetwork::Send refuses a payload that cannot fit one frame (INVALID_ARGUMENT).
  if (payload.size() + transport::kLinkDataOverheadBytes > frame_bytes_max_ ||
      !l.sender->Enqueue(std::move(payload)).ok()) {
    // PeerNetwork::Send refuses (the buffer holds what was not acknowledged yet); the
    // daemon's outbox logs it and the message is gone.
    ++sends_refused_;
    return;
  }
  if (l.connected) WriteData(l);
}

void Sim::WriteData(Link& l) {
  while (l.sender->HasUnsent()) {
    std::string frame;
    (void)l.sender->AppendDataFrames(frame, SIZE_MAX, /*frames_max=*/1);
    l.wire.push_back(std::move(frame));
  }
}

// Every link whose processes both run and are not cut off from each other gets a
// connection if it has none: the sender's hello, the receiver's answer with the last seq
// it delivered from that incarnation, and the sender writes everything after it.
void Sim::ConnectLinks() {
  for (uint32_t from = 0; from < n_; ++from) {
    for (uint32_t to = 0; to < n_; ++to) {
      Link& l = links_[from * n_ + to];
      if (from == to || l.connected || !l.sender.has_value() || !l.receiver.has_value()) continue;
      if (!Runs(from) || !Runs(to) || cut_.count({from, to}) != 0) continue;
      ReadAcks(from, to);  // the old connection's acks come before its end
      std::string hello;
      transport::AppendHelloFrame(hosts_[from].incarnation, 0, hello);
      absl::StatusOr<transport::LinkFrame> h = transport::DecodeLinkFrame(hello, frame_bytes_max_);
      BELFRY_CHECK(h.ok() && h->kind == transport::LinkFrame::Kind::kHello);
      absl::StatusOr<transport::HelloAccepted> accepted = l.receiver->OnHello(h->incarnation);
      if (!accepted.ok()) {
        Fail(absl::StrCat("link ", from, "->", to, ": hello refused: ", accepted.status().message()));
        return;
      }
      // The new connection supersedes the old one: what was still on its wire is gone.
      l.wire.clear();
      l.on_wire = 0;
      l.acks.clear();
      l.connection = accepted->connection;
      std::string answer;
      transport::AppendHelloFrame(hosts_[to].incarnation, accepted->received_seq, answer);
      absl::StatusOr<transport::LinkFrame> a = transport::DecodeLinkFrame(answer, frame_bytes_max_);
      BELFRY_CHECK(a.ok() && a->kind == transport::LinkFrame::Kind::kHello);
      absl::Status ok = l.sender->OnHello(a->received_seq);
      if (!ok.ok()) {
        Fail(absl::StrCat("link ", from, "->", to, ": bad hello answer: ", ok.message()));
        return;
      }
      l.connected = true;
      WriteData(l);
    }
  }
}

// Ack timers that expired write their acks; senders read the acks that reached them.
void Sim::AckStep() {
  for (uint32_t from = 0; from < n_; ++from) {
    for (uint32_t to = 0; to < n_; ++to) {
      Link& l = links_[from * n_ + to];
      if (l.receiver.has_value() && Runs(to) && l.receiver->AckTimerDue(NowUs())) {
        l.receiver->OnAckTimer();
        WriteAck(from, to);
      }
      ReadAcks(from, to);
    }
  }
}

void Sim::WriteAck(uint32_t from, uint32_t to) {
  Link& l = links_[from * n_ + to];
  if (!l.receiver.has_value()) return;
  const std::optional<uint64_t> ack = l.receiver->TakeAck();
  // On a connection whose sender died (frames it had on the wire are still read) the ack
  // goes nowhere; above all it never reaches the sender's next incarnation.
  if (!ack.has_value() || !l.connected) return;
  std::string frame;
  transport::AppendAckFrame(*ack, frame);
  l.acks.push_back(std::move(frame));
}

void Sim::ReadAcks(uint32_t from, uint32_t to) {
  Link& l = links_[from * n_ + to];
  if (l.acks.empty() || !l.sender.has_value() || !Runs(from) || cut_.count({to, from}) != 0) return;
  while (!l.acks.empty()) {
    absl::StatusOr<transport::LinkFrame> f = transport::DecodeLinkFrame(l.acks.front(), frame_bytes_max_);
    l.acks.pop_front();
    BELFRY_CHECK(f.ok() && f->kind == transport::LinkFrame::Kind::kAck);
    absl::Status ok = l.sender->OnAck(f->seq);
    if (!ok.ok()) {
      CloseLink(from, to, absl::StrCat("bad ack: ", ok.message()));
      return;
    }
  }
}

// A link protocol error closes the connection in the daemon (the resend on the next one
// repairs it). Nothing in the simulation forges link frames, so one here is a bug in the
// link code or in this model: the run fails.
void Sim::CloseLink(uint32_t from, uint32_t to, const std::string& why) {
  Link& l = links_[from * n_ + to];
  l.connected = false;
  l.wire.clear();
  l.on_wire = 0;
  l.acks.clear();
  Fail(absl::StrCat("link ", from, "->", to, " protocol error: ", why));
}

void Sim::ReadData(uint32_t from, uint32_t to, const std::string& frame) {
  Link& l = links_[from * n_ + to];
  absl::StatusOr<transport::LinkFrame> f = transport::DecodeLinkFrame(frame, frame_bytes_max_);
  BELFRY_CHECK(f.ok() && f->kind == transport::LinkFrame::Kind::kData);
  switch (l.receiver->OnData(l.connection, f->seq)) {
    case transport::DataVerdict::kDeliver:
      break;
    case transport::DataVerdict::kDuplicate:
      WriteAck(from, to);
      return;
    case transport::DataVerdict::kZeroSeq:
      CloseLink(from, to, "zero seq");
      return;
    case transport::DataVerdict::kGap:
      CloseLink(from, to, absl::StrCat("gap: expected ", l.receiver->last_delivered() + 1, " got ", f->seq));
      return;
    case transport::DataVerdict::kStale:
      CloseLink(from, to, "frame of a superseded connection");
      return;
  }
  // Deliverable() let this link go only with a token in its budget.
  (void)l.budget.Take(messages_per_second_max_, NowUs());
  if (l.receiver->OnDelivered(f->seq, NowUs()) == transport::AckAction::kWriteNow) WriteAck(from, to);
  Deliver(from, to, f->payload);
}

void Sim::OnSendClient(uint32_t from, uint32_t twin, uint64_t connection, std::string frame) {
  if (twin == 1) return;
  replies_.push_back(PendingReply{from, connection, std::move(frame)});
}

// Whether a correct replica's consensus message commits it to a value another of its
// messages for the same slot contradicts (a correct replica never sends both).
void Sim::CheckVote(uint32_t from, uint32_t to, const std::string& payload) {
  pb::PeerMessage msg;
  if (!msg.ParseFromString(payload) || !msg.has_consensus()) return;
  const pb::ConsensusMessage& c = msg.consensus();
  if (!c.has_acs()) return;
  const pb::AcsMessage& acs = c.acs();
  std::string slot = absl::StrCat(from, "/e", c.epoch(), "/i", acs.instance(), "/");
  std::string content;
  if (acs.has_rbc()) {
    const pb::RbcMessage& rbc = acs.rbc();
    if (rbc.has_value()) {
      absl::StrAppend(&slot, "VAL");
      content = rbc.value().root();
    } else if (rbc.has_echo()) {
      absl::StrAppend(&slot, "ECHO");
      content = rbc.echo().root();
    } else if (rbc.has_ready()) {
      absl::StrAppend(&slot, "READY");
      content = rbc.ready().root();
    } else {
      return;
    }
  } else if (acs.has_aba()) {
    const pb::AbaMessage& aba = acs.aba();
    absl::StrAppend(&slot, "r", aba.round(), "/");
    if (aba.content_case() == pb::AbaMessage::kAux) {
      absl::StrAppend(&slot, "AUX");
      content = absl::StrCat(static_cast<int>(aba.aux()));
    } else if (aba.content_case() == pb::AbaMessage::kConf) {
      absl::StrAppend(&slot, "CONF");
      content = absl::StrCat(static_cast<int>(aba.conf()));
    } else if (aba.content_case() == pb::AbaMessage::kTerm) {
      absl::StrAppend(&slot, "TERM");
      content = absl::StrCat(aba.term().value(), "/", aba.term().abstains());
    } else {
      return;
    }
  } else {
    return;
  }
  auto [it, inserted] = votes_.emplace(slot, std::make_pair(content, to));
  if (!inserted && it->second.first != content) {
    Fail(absl::StrCat("correct replica ", from, " equivocated: two different ", slot,
                      " (one to replica ", it->second.second, ", another to replica ", to, ")"));
  }
}

void Sim::Mischief(uint32_t id) {
  Host& h = hosts_[id];
  if (!h.up || h.paused || !h.strategy.has_value() || now_ms_ < h.next_mischief_ms) return;
  switch (*h.strategy) {
    case Strategy::kFarFuture:
    case Strategy::kEquivocate: {
      // One frame far beyond every window: "I am ahead". Garbage inside; only the epoch
      // is read before the window check.
      h.next_mischief_ms = now_ms_ + 150;
      pb::PeerMessage msg;
      msg.mutable_consensus()->set_epoch(h.core->next_epoch() + 40);
      msg.mutable_consensus()->mutable_acs()->set_instance(id);
      msg.mutable_consensus()->mutable_acs()->mutable_rbc()->mutable_ready()->set_root(std::string(32, 'x'));
      const std::string bytes = msg.SerializeAsString();
      for (uint32_t to = 0; to < n_; ++to) {
        if (to != id) Enqueue(id, to, bytes);
      }
      break;
    }
    case Strategy::kLyingRecords: {
      // Unasked records of recent epochs that lie: divergence and catch-up votes.
      h.next_mischief_ms = now_ms_ + 100;
      const uint64_t next = h.core->next_epoch();
      for (uint64_t e = next > 3 ? next - 3 : 0; e < next + 3; ++e) {
        pb::PeerMessage msg;
        msg.mutable_committed_epoch()->set_epoch(e);
        msg.mutable_committed_epoch()->set_consensus_time_ms(kSimStartMs);
        msg.mutable_committed_epoch()->set_log_head(std::string(32, static_cast<char>(e)));
        const std::string bytes = msg.SerializeAsString();
        for (uint32_t to = 0; to < n_; ++to) {
          if (to != id) Enqueue(id, to, bytes);
        }
      }
      break;
    }
    case Strategy::kFlood: {
      h.next_mischief_ms = now_ms_ + 40;
      pb::PeerMessage fetch;
      fetch.mutable_fetch_epochs()->set_first_epoch(0);
      fetch.mutable_fetch_epochs()->set_count(64);
      pb::PeerMessage join;
      join.mutable_join_epochs()->set_first_epoch(++h.flood_join_epoch % 64);
      for (uint32_t to = 0; to < n_; ++to) {
        if (to == id) continue;
        Enqueue(id, to, fetch.SerializeAsString());
        Enqueue(id, to, join.SerializeAsString());
      }
      break;
    }
    default:
      break;
  }
}

void Sim::ApplyEvent(const Event& e) {
  switch (e.kind) {
    case EventKind::kCrash:
      Crash(e.replica);
      break;
    case EventKind::kRestart:
      if (!hosts_[e.replica].up) Start(e.replica, false);
      break;
    case EventKind::kWipeRestart:
      if (!hosts_[e.replica].up) Start(e.replica, true);
      break;
    case EventKind::kPause:
      hosts_[e.replica].paused = true;
      Trace(absl::StrCat("pause replica ", e.replica));
      break;
    case EventKind::kResume:
      hosts_[e.replica].paused = false;
      Trace(absl::StrCat("resume replica ", e.replica));
      break;
    case EventKind::kPartition:
      for (uint32_t a : e.group) {
        for (uint32_t b = 0; b < n_; ++b) {
          if (e.group.count(b) == 0) {
            cut_.insert({a, b});
            cut_.insert({b, a});
          }
        }
      }
      Trace(absl::StrCat("partition {", absl::StrJoin(e.group, ","), "}"));
      break;
    case EventKind::kHeal:
      cut_.clear();
      Trace("heal");
      break;
    case EventKind::kForgeEpoch: {
      // The replica's log leaves the cluster's at its next epoch: an empty batch there.
      Host& h = hosts_[e.replica];
      const uint64_t epoch = h.store->next_epoch();
      store::Digest digest{};
      digest.fill(0xF0);
      absl::Status s = h.store->CommitEpoch(epoch, h.store->last_consensus_time_ms(), state::WriteSet(), digest);
      BELFRY_CHECK(s.ok());
      plan_.forged[e.replica].insert(epoch);
      Trace(absl::StrCat("forge epoch ", epoch, " at replica ", e.replica));
      break;
    }
  }
}

bool Sim::Deliverable(uint32_t from, uint32_t to) const {
  const Host& a = hosts_[from];
  const Host& b = hosts_[to];
  const Link& l = links_[from * n_ + to];
  const bool sender_ok = (a.up && !a.paused) || l.on_wire > 0;
  return sender_ok && b.up && !b.paused && cut_.count({from, to}) == 0 &&
         l.budget.WaitUs(messages_per_second_max_, NowUs()) == 0;
}

bool Sim::DeliverOne() {
  // Weighted choice among deliverable links; slow links only when nothing else can go.
  uint64_t total = 0;
  bool any_slow = false;
  for (uint32_t from = 0; from < n_; ++from) {
    for (uint32_t to = 0; to < n_; ++to) {
      const Link& l = links_[from * n_ + to];
      if (l.wire.empty() || !Deliverable(from, to)) continue;
      if (now_ms_ < plan_.slow_until_ms && plan_.slow_links.count({from, to}) != 0) {
        any_slow = true;
        continue;
      }
      total += l.speed;
    }
  }
  if (total == 0 && !any_slow) return false;
  uint32_t pick_from = 0;
  uint32_t pick_to = 0;
  if (total == 0) {
    // Only slow links hold frames: the first slow link (deterministic) delivers.
    bool found = false;
    for (uint32_t from = 0; from < n_ && !found; ++from) {
      for (uint32_t to = 0; to < n_ && !found; ++to) {
        const Link& l = links_[from * n_ + to];
        if (!l.wire.empty() && Deliverable(from, to)) {
          pick_from = from;
          pick_to = to;
          found = true;
        }
      }
    }
  } else {
    uint64_t r = rng_.Uniform(total);
    bool found = false;
    for (uint32_t from = 0; from < n_ && !found; ++from) {
      for (uint32_t to = 0; to < n_ && !found; ++to) {
        const Link& l = links_[from * n_ + to];
        if (l.wire.empty() || !Deliverable(from, to)) continue;
        if (now_ms_ < plan_.slow_until_ms && plan_.slow_links.count({from, to}) != 0) continue;
        if (r < l.speed) {
          pick_from = from;
          pick_to = to;
          found = true;
        } else {
          r -= l.speed;
        }
      }
    }
  }
  Link& l = links_[pick_from * n_ + pick_to];
  const std::string frame = std::move(l.wire.front());
  l.wire.pop_front();
  if (l.on_wire > 0) --l.on_wire;
  ReadData(pick_from, pick_to, frame);
  return true;
}

void Sim::Deliver(uint32_t from, uint32_t to, const std::string& payload) {
  ++deliveries_;
  hash_ = FnvU64(hash_, (uint64_t{from} << 32) | to);
  hash_ = Fnv(hash_, payload);
  Host& h = hosts_[to];
  const int64_t local = LocalNow(to);
  h.next_before_call = h.store->next_epoch();
  h.core->OnPeerMessage(from, payload, local);
  if (h.twin != nullptr) h.twin->OnPeerMessage(from, payload, local);
  AfterCoreCall(to);
}

void Sim::AfterCoreCall(uint32_t id) {
  Host& h = hosts_[id];
  if (h.up && !h.core->fatal().ok()) {
    // The daemon exits; its supervisor starts it again a little later.
    Trace(absl::StrCat("replica ", id, " fatal: ", h.core->fatal().message()));
    // Finding 4: an epoch found wrong must not have been made durable first (a diverged
    // replica would otherwise commit one more wrong epoch on every restart).
    if (!Faulty(id) && h.core->fatal().code() == absl::StatusCode::kDataLoss &&
        h.store->next_epoch() > h.next_before_call) {
      Fail(absl::StrCat("replica ", id, " committed epoch ", h.store->next_epoch() - 1,
                        " durably, then found it wrong: ", h.core->fatal().message()));
    }
    Crash(id);
    if (++h.fatal_restarts <= plan_.fatal_restarts_max) h.restart_at_ms = now_ms_ + 100;
  }
  if (crash_pending_.count(id) != 0) {
    crash_pending_.erase(id);
    plan_.crash_after_propose.reset();
    Crash(id, /*all_on_wire=*/true);
    h.restart_at_ms = now_ms_ + plan_.crash_after_propose_down_ms;
  }
}

void Sim::BuildClients() {
  DeterministicRng rng(options_.seed * 31 + 7);
  for (uint32_t c = 0; c < plan_.clients; ++c) {
    Client client;
    client.id = c;
    client.user = c;
    std::array<uint8_t, 32> seed{};
    seed.fill(0x33);
    seed[0] = static_cast<uint8_t>(c);
    seed[1] = static_cast<uint8_t>(options_.seed);
    seed[2] = static_cast<uint8_t>(options_.seed >> 8);
    client.session = std::make_unique<client::internal::SessionKey>(client::internal::SessionKey::FromSeed(seed));
    client.ops.push_back(ClientOp{ClientOp::kLogin, "", "", 0});
    for (uint32_t k = 0; k + 1 < plan_.ops_per_client; ++k) {
      ClientOp op;
      const std::string doc = absl::StrCat("doc-", c, "-", k / 3);
      const uint64_t pick = rng.Uniform(10);
      if (k % 3 == 0 || pick < 4) {
        op.kind = ClientOp::kCheckIn;
        op.doc = doc;
        op.data = absl::StrCat("contents ", c, ".", k, ".", rng.Next64());
      } else if (pick < 7) {
        op.kind = ClientOp::kCheckOut;
        op.doc = rng.Uniform(3) == 0 ? absl::StrCat("doc-", rng.Uniform(plan_.clients), "-0") : doc;
      } else if (pick < 9) {
        op.kind = ClientOp::kGrant;
        op.doc = doc;
        op.grantee = static_cast<uint32_t>(rng.Uniform(plan_.clients));
      } else {
        op.kind = ClientOp::kDelete;
        op.doc = doc;
      }
      client.ops.push_back(std::move(op));
    }
    client.next_action_ms = static_cast<int64_t>(rng.Uniform(200));
    clients_.push_back(std::move(client));
  }
}

void Sim::SendRequest(Client& c, bool retransmit) {
  pb::ClientFrame frame;
  frame.set_request(c.request);
  const std::string bytes = frame.SerializeAsString();
  ++c.attempt;
  // As the real client (client_lib/client.cc Retransmit): when no replica is left to wait
  // for, the ones that answered are asked again too (their answers may not have matched).
  bool waiting_for_someone = false;
  for (uint32_t r = 0; r < n_; ++r) {
    waiting_for_someone |= hosts_[r].up && !hosts_[r].paused && c.replied.count(r) == 0;
  }
  if (retransmit && !waiting_for_someone) c.replied.clear();
  for (uint32_t r = 0; r < n_; ++r) {
    Host& h = hosts_[r];
    if (!h.up || h.paused || c.replied.count(r) != 0) continue;
    const uint64_t connection = (uint64_t{c.id} << 40) | (uint64_t{c.next_op} << 16) | r;
    h.next_before_call = h.store->next_epoch();
    // The connection's certificate names the client's user: replies go only there.
    h.core->OnClientFrame(connection, bytes, LocalNow(r), UserName(c.user));
    if (h.twin != nullptr) h.twin->OnClientFrame(connection, bytes, LocalNow(r), UserName(c.user));
    AfterCoreCall(r);
  }
  c.sent_ms = now_ms_;
}

void Sim::ClientStep(Client& c) {
  if (c.busy) {
    if (now_ms_ - c.sent_ms >= 1000) SendRequest(c, true);  // retransmit to the silent ones
    return;
  }
  if (c.next_op >= c.ops.size() || now_ms_ < c.next_action_ms) return;
  const ClientOp& op = c.ops[c.next_op];
  const std::string& cluster = config_.cluster_id();
  client::internal::BuiltRequest built;
  if (op.kind == ClientOp::kLogin) {
    DeterministicRng nonce(options_.seed * 1000 + c.id);
    absl::StatusOr<client::internal::BuiltRequest> login = client::internal::BuildLogin(
        cluster, UserName(c.user), UserCertDer(c.user), UserKey(c.user), *c.session, kSimStartMs + now_ms_, nonce);
    BELFRY_CHECK(login.ok());
    built = *std::move(login);
  } else {
    pb::SessionOp sop;
    switch (op.kind) {
      case ClientOp::kCheckIn:
        sop.mutable_check_in()->set_doc(op.doc);
        sop.mutable_check_in()->set_data(op.data);
        break;
      case ClientOp::kCheckOut:
        sop.mutable_check_out()->set_doc(op.doc);
        // Shares are sealed to this key; the simulated client never opens them.
        sop.mutable_check_out()->set_reply_public_key(std::string(32, static_cast<char>(0x40 + c.id)));
        break;
      case ClientOp::kGrant:
        sop.mutable_grant()->set_doc(op.doc);
        sop.mutable_grant()->set_target_uid(UserName(op.grantee));
        sop.mutable_grant()->set_rights(pb::RIGHTS_CHECKOUT);
        sop.mutable_grant()->set_seconds(600);
        break;
      case ClientOp::kDelete:
        sop.mutable_delete_()->set_doc(op.doc);
        break;
      default:
        break;
    }
    built = client::internal::BuildSessionOp(cluster, *c.session, ++c.seq, std::move(sop));
  }
  c.request = built.bytes;
  c.request_id = built.id;
  c.call = std::make_unique<client::internal::PendingCall>(config_, std::move(built));
  c.replied.clear();
  c.busy = true;
  c.attempt = 0;
  SendRequest(c, false);
}

void Sim::OnReply(Client& c, uint32_t replica, const std::string& frame_bytes) {
  pb::ClientFrame frame;
  if (!frame.ParseFromString(frame_bytes)) return;
  if (frame.has_rejection()) {
    // Overloaded or not cached any more: the client asks again later.
    return;
  }
  if (!frame.has_reply()) return;
  c.replied.insert(replica);
  c.call->OnReply(replica, frame.reply());
  const std::map<uint32_t, std::string> faults = c.call->faults();
  auto fault = faults.find(replica);
  if (fault != faults.end()) {
    if (!Faulty(replica)) Fail(absl::StrCat("client ", c.id, " refused correct replica ", replica, "'s reply: ", fault->second));
    return;
  }
  std::optional<client::internal::AcceptedReply> accepted = c.call->Accepted();
  if (!accepted.has_value()) return;
  pb::Result result;
  result.ParseFromString(accepted->body.result());
  if (c.next_op == 0 && result.status() == pb::STATUS_LOGIN_STALE) {
    // As the real client (client.cc ReconsiderStaleLogin): a retransmitted login ordered
    // again after it took effect is stale there; f+1 signed successes in an earlier
    // ordering are its outcome.
    const uint64_t stale_epoch = accepted->body.epoch();
    std::optional<client::internal::AcceptedReply> earlier =
        c.call->EarliestGroup(config_.f() + 1, [&](const pb::ReplyBody& b) {
          pb::Result r;
          return b.epoch() < stale_epoch && r.ParseFromString(b.result()) && r.status() == pb::STATUS_OK &&
                 r.has_login();
        });
    if (earlier.has_value()) {
      accepted = std::move(earlier);
      result.ParseFromString(accepted->body.result());
    }
  }
  const pb::ReplyBody& body = accepted->body;
  Accepted a{c.id, body.epoch(), body.log_head(),
             absl::StrCat("client ", c.id, " op ", c.next_op, " status ", static_cast<int>(result.status()))};
  hash_ = Fnv(hash_, body.SerializeAsString());
  Trace(absl::StrCat("accepted ", a.what, " at epoch ", a.epoch));
  if (c.next_op == 0 && result.status() != pb::STATUS_OK) {
    Fail(absl::StrCat("client ", c.id, "'s login was refused: ", result.message()));
  }
  // The accepted head must be the one every correct replica keeps for that epoch.
  auto canon = canonical_.find(a.epoch);
  if (canon != canonical_.end()) {
    pb::EpochRecord rec;
    rec.ParseFromString(canon->second.first);
    if (rec.head() != a.log_head) {
      Fail(absl::StrCat(a.what, " was accepted at epoch ", a.epoch, " with a log head no correct replica recorded"));
    }
  }
  accepted_.push_back(std::move(a));
  c.busy = false;
  c.call.reset();
  ++c.next_op;
  c.next_action_ms = now_ms_ + static_cast<int64_t>(rng_.Uniform(60));
}

void Sim::DrainReplies() {
  while (!replies_.empty()) {
    std::vector<PendingReply> batch;
    batch.swap(replies_);
    for (PendingReply& r : batch) {
      const uint32_t c = static_cast<uint32_t>(r.connection >> 40);
      const uint64_t op = (r.connection >> 16) & 0xFFFFFF;
      if (c >= clients_.size()) continue;
      Client& client = clients_[c];
      if (!client.busy || op != client.next_op) continue;
      OnReply(client, r.replica, r.frame);
    }
  }
}

void Sim::CheckRecords() {
  for (uint32_t id = 0; id < n_; ++id) {
    const Host& h = hosts_[id];
    // A replica whose log was forged has left the cluster's log on purpose: its later
    // records differ by construction (their heads chain the forged one).
    if (Faulty(id) || h.store == nullptr || !plan_.forged[id].empty()) continue;
    const uint64_t next = h.store->next_epoch();
    const std::set<uint64_t>& forged = plan_.forged[id];
    for (uint64_t e = h.store->log_base_epoch(); e < next; ++e) {
      if (forged.count(e) != 0) continue;
      absl::StatusOr<std::optional<pb::EpochRecord>> rec = h.store->ReadEpochRecord(e);
      if (!rec.ok() || !rec->has_value()) continue;
      std::string bytes = (*rec)->SerializeAsString();
      auto [it, inserted] = canonical_.emplace(e, std::make_pair(bytes, id));
      if (!inserted && it->second.first != bytes) {
        Fail(absl::StrCat("correct replicas ", it->second.second, " and ", id,
                          " committed different records for epoch ", e));
        return;
      }
      if (inserted) hash_ = Fnv(hash_, bytes);
    }
  }
  // Every accepted reply's head is the correct replicas' head for its epoch.
  for (const Accepted& a : accepted_) {
    auto canon = canonical_.find(a.epoch);
    if (canon == canonical_.end()) continue;
    pb::EpochRecord rec;
    rec.ParseFromString(canon->second.first);
    if (rec.head() != a.log_head) {
      Fail(absl::StrCat(a.what, " (accepted at epoch ", a.epoch, ") is not in the correct replicas' log"));
      return;
    }
  }
}

bool Sim::Done() {
  for (const Client& c : clients_) {
    if (c.next_op < c.ops.size()) return false;
  }
  std::optional<uint64_t> next;
  for (uint32_t id = 0; id < n_; ++id) {
    const Host& h = hosts_[id];
    if (Faulty(id)) continue;
    if (!h.up || h.core->catching_up()) return false;
    if (next.has_value() && *next != h.core->next_epoch()) return false;
    next = h.core->next_epoch();
  }
  return true;
}

std::string Sim::Status() {
  std::vector<std::string> parts;
  for (uint32_t id = 0; id < n_; ++id) {
    const Host& h = hosts_[id];
    if (!h.up) {
      parts.push_back(absl::StrCat("r", id, ":down"));
      continue;
    }
    const replica::CoreCounters c = h.core->counters();
    uint64_t queued = 0;
    for (uint32_t from = 0; from < n_; ++from) {
      const Link& l = links_[from * n_ + id];
      queued += l.sender.has_value() ? l.sender->queue_messages() : l.wire.size();
    }
    parts.push_back(absl::StrCat("r", id, ":next=", h.core->next_epoch(), h.core->catching_up() ? ",catching_up" : "",
                                 ",mempool=", c.mempool_requests, ",inbound_queued=", queued,
                                 ",caught_up=", c.epochs_caught_up, ",transfers=", c.state_transfers_started, "/",
                                 c.state_transfers_completed, ",stable=", c.stable_checkpoint_epoch,
                                 ",refused_beyond_window=", [&] {
                                   uint64_t k = 0;
                                   for (const auto& [name, v] : c.faults_by_kind) {
                                     if (name.find("epoch_out_of_window") != std::string::npos) k += v;
                                   }
                                   return k;
                                 }()));
  }
  for (const Client& c : clients_) parts.push_back(absl::StrCat("client", c.id, ":", c.next_op, "/", c.ops.size()));
  return absl::StrJoin(parts, " ");
}

Result Sim::Run() {
  Result result;
  result.n = n_;
  result.faults = plan_.description;
  for (const auto& [id, s] : plan_.byzantine) hosts_[id].strategy = s;
  for (uint32_t id = 0; id < n_; ++id) {
    hosts_[id].skew_ms = plan_.skew_ms.count(id) != 0 ? plan_.skew_ms.at(id) : 0;
    hosts_[id].last_clock_ms = kSimStartMs;
  }
  for (uint32_t id = 0; id < n_; ++id) {
    if (plan_.down_forever.count(id) != 0 || hosts_[id].strategy == Strategy::kSilent) continue;
    Start(id, false);
  }
  BuildClients();
  now_ms_ = 0;
  const int64_t end_ms = plan_.heal_ms + plan_.progress_bound_ms;
  uint64_t sub_ms = 0;
  while (failure_.empty()) {
    while (next_event_ < plan_.events.size() && plan_.events[next_event_].at_ms <= now_ms_) {
      ApplyEvent(plan_.events[next_event_++]);
    }
    for (uint32_t id = 0; id < n_; ++id) {
      Host& h = hosts_[id];
      if (!h.up && h.restart_at_ms >= 0 && now_ms_ >= h.restart_at_ms) {
        h.restart_at_ms = -1;
        Start(id, false);
      }
    }
    ConnectLinks();
    AckStep();
    if (plan_.random_speeds && now_ms_ >= next_speed_draw_ms_) {
      next_speed_draw_ms_ = now_ms_ + 300;
      for (Link& l : links_) l.speed = 1u << (2 * rng_.Uniform(3));  // 1, 4 or 16
    }
    // Timers: every replica ticks every 20 ms of its clock, as the daemon does.
    for (uint32_t id = 0; id < n_; ++id) {
      Host& h = hosts_[id];
      if (!h.up || h.paused) continue;
      const int64_t local = LocalNow(id);
      if (local - h.last_tick_ms >= 20) {
        h.last_tick_ms = local;
        h.next_before_call = h.store->next_epoch();
        h.core->OnTick(local);
        if (h.twin != nullptr) h.twin->OnTick(local);
        AfterCoreCall(id);
        Mischief(id);
      }
    }
    DrainReplies();
    for (Client& c : clients_) ClientStep(c);
    DrainReplies();
    if (now_ms_ - last_record_check_ms_ >= 250) {
      last_record_check_ms_ = now_ms_;
      CheckRecords();
    }
    if (!failure_.empty()) break;
    if (now_ms_ >= plan_.heal_ms && next_event_ >= plan_.events.size() && Done()) break;
    if (now_ms_ > end_ms) {
      Fail(absl::StrCat("no progress within ", plan_.progress_bound_ms, " ms after the faults healed"));
      break;
    }
    // The network delivers about N frames per millisecond.
    if (DeliverOne()) {
      DrainReplies();
      if (++sub_ms < n_) continue;
    }
    sub_ms = 0;
    ++now_ms_;
  }
  if (failure_.empty()) CheckRecords();
  // Bounded buffers: every link's resend buffer within its limits (by construction the
  // model refuses beyond them; a refusal between correct, connected replicas is reported).
  for (uint32_t id = 0; id < n_; ++id) {
    const Host& h = hosts_[id];
    if (!h.up || Faulty(id)) continue;
    const replica::CoreCounters c = h.core->counters();
    if (c.waiting_requests > core_options_.waiting_requests_max) Fail(absl::StrCat("replica ", id, " waiting_requests over its bound"));
    if (c.mempool_requests > config_.limits.mempool_requests_max) Fail(absl::StrCat("replica ", id, " mempool over its bound"));
    const uint64_t peers = n_ - 1;
    if (c.future_frame_bytes_held > core_options_.future_frames_bytes_per_peer_max * peers) {
      Fail(absl::StrCat("replica ", id, " holds ", c.future_frame_bytes_held, " bytes of beyond-window frames, over its bound"));
    }
    if (c.catchup_bytes_held > core_options_.catchup_bytes_per_peer_max * peers) {
      Fail(absl::StrCat("replica ", id, " holds ", c.catchup_bytes_held, " bytes of catch-up records, over its bound"));
    }
    for (const auto& [name, v] : c.faults_by_kind) {
      if (name.find("epoch_out_of_window") != std::string::npos) result.refused_beyond_window += v;
    }
    result.transfers_started += c.state_transfers_started;
    result.transfers_overtaken += c.state_transfers_overtaken;
    result.epochs_caught_up += c.epochs_caught_up;
  }
  result.ok = failure_.empty();
  result.failure = failure_;
  result.trace_hash = hash_;
  result.deliveries = deliveries_;
  result.sends_refused = sends_refused_;
  result.accepted = accepted_.size();
  result.sim_ms = static_cast<uint64_t>(now_ms_);
  for (uint32_t id = 0; id < n_; ++id) {
    if (!Faulty(id) && hosts_[id].store != nullptr) result.epochs = std::max(result.epochs, hosts_[id].store->next_epoch());
  }
  return result;
}

}  // namespace

std::vector<std::string> ScenarioNames() {
  return {"mix", "benign", "finding1", "finding2", "finding3", "finding3-byzantine", "finding4"};
}

Result Run(const Options& options) {
  static const bool quiet = [] {
    SetLogLevel(LogLevel::kError);
    return true;
  }();
  (void)quiet;
  if (options.trace) SetLogLevel(LogLevel::kInfo);
  std::string replay = absl::StrCat("belfry-replica-sim --seed ", options.seed, " --scenario ", options.scenario);
  if (options.n != 0) absl::StrAppend(&replay, " --n ", options.n);
  if (!options.check_votes) absl::StrAppend(&replay, " --no-vote-check");
  absl::StatusOr<Plan> plan = PlanFor(options);
  if (!plan.ok()) {
    Result r;
    r.ok = false;
    r.failure = plan.status().ToString();
    r.replay = replay;
    return r;
  }
  Sim sim(options, *std::move(plan));
  Result r = sim.Run();
  r.replay = replay;
  return r;
}

}  // namespace belfry::rsim
