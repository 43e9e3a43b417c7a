#include "test/sim/simulator.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/check.h"
#include "consensus/aba/binary_agreement.h"
#include "consensus/acs/common_subset.h"
#include "consensus/epoch/honey_badger.h"

namespace belfry::sim {
namespace {

using consensus::CoinScheme;
using consensus::FaultKind;
using consensus::NetworkInfo;
using consensus::epoch::Batch;
using consensus::epoch::EpochPosition;
using consensus::epoch::HbStep;
using consensus::epoch::HoneyBadger;

constexpr char kClusterId[] = "sim-cluster";
constexpr size_t kRequestPayloadMax = 48;

// Separate, fixed streams per purpose, so that (say) a change in how many requests a run
// has does not reshuffle its schedule.
uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
  DeterministicRng r(seed * 0x9e3779b97f4a7c15ULL + stream);
  return r.NextRaw();
}

bool SameBatch(const Batch& a, const Batch& b) {
  return a.epoch == b.epoch && a.consensus_time == b.consensus_time &&
         a.requests == b.requests && a.accepted_proposers == b.accepted_proposers;
}

struct Node {
  NodeId id = 0;
  bool byzantine = false;
  std::unique_ptr<CoinScheme> coin;
  std::unique_ptr<HoneyBadger> hb;
  std::unique_ptr<DeterministicRng> rng;
  uint64_t clock_skew = 0;
  uint32_t pipeline = 1;  // how many epochs ahead of its output it proposes on its own
  std::set<std::string> pending;
  uint64_t outputs = 0;
  uint64_t client_requests_output = 0;
  uint64_t last_next_output = 0;
  std::vector<Envelope> held;  // refused as beyond the window; the transport resends
};

struct ClientRequest {
  std::string body;
  uint64_t inject_step = 0;
  std::vector<NodeId> receivers;
  uint64_t inject_epoch = 0;
};

class Simulation {
 public:
  explicit Simulation(const Options& o);
  Result Run();

 private:
  void InjectDue();
  void MaybePropose(NodeId i);
  void Deliver(Envelope e);
  void Process(NodeId i, HbStep step);
  void Send(NodeId from, NodeId to, std::shared_ptr<const pb::ConsensusMessage> msg,
            uint32_t bytes);
  void ReleaseHeld(NodeId i);
  void RecordOutput(NodeId i, const Batch& batch);
  void CheckNewEpoch(const Batch& batch);
  void CheckBounds();
  bool AllDone() const;
  void Fail(std::string what);
  void HashU64(uint64_t v);
  void HashBytes(std::string_view s);
  bool CoinBit(uint64_t epoch, uint32_t instance, uint32_t round);

  Options opt_;
  uint32_t f_;
  std::vector<Node> nodes_;
  std::vector<NodeId> correct_;
  DeterministicRng sched_rng_;
  DeterministicRng net_rng_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Adversary> adversary_;
  std::vector<ClientRequest> requests_;
  std::map<std::string, size_t> request_index_;
  size_t next_request_ = 0;
  std::vector<Batch> canonical_;
  std::set<std::string> output_seen_;
  uint64_t now_ = 0;
  uint64_t next_id_ = 0;
  uint64_t max_skew_ = 0;
  uint64_t duplicates_left_ = 0;
  uint64_t in_flight_bound_ = 0;
  uint64_t steps_max_ = 0;
  crypto_generichash_state trace_;
  Result result_;
};

Simulation::Simulation(const Options& o)
    : opt_(o),
      f_(o.f()),
      sched_rng_(StreamSeed(o.seed, 1)),
      net_rng_(StreamSeed(o.seed, 2)) {
  BELFRY_CHECK(sodium_init() >= 0);
  BELFRY_CHECK(opt_.n >= 4);
  crypto_generichash_init(&trace_, nullptr, 0, 32);
  DeterministicRng setup(StreamSeed(o.seed, 3));

  // Which nodes are Byzantine: f random ones, unless the run has none.
  std::vector<bool> byzantine(opt_.n, false);
  if (opt_.byzantine != Strategy::kNone) {
    for (uint32_t placed = 0; placed < f_;) {
      const auto i = static_cast<size_t>(setup.Uniform(opt_.n));
      if (!byzantine[i]) {
        byzantine[i] = true;
        ++placed;
      }
    }
  }
  std::vector<std::unique_ptr<CoinScheme>> coins = MakeCoins(opt_.coin, opt_.n, f_, o.seed);

  consensus::epoch::Config config;
  config.cluster_id = kClusterId;
  config.epochs_in_flight_max = opt_.window;
  config.batch_requests_max = opt_.batch;
  config.request_bytes_max = 256;
  config.proposal_bytes_max = 4096;
  config.aba.conf_phase = opt_.conf_phase;
  config.aba.round0_coin_fixed = opt_.round0_coin_fixed;

  nodes_.resize(opt_.n);
  for (NodeId i = 0; i < opt_.n; ++i) {
    Node& nd = nodes_[i];
    nd.id = i;
    nd.byzantine = byzantine[i];
    nd.coin = std::move(coins[i]);
    nd.hb = std::make_unique<HoneyBadger>(NetworkInfo{i, opt_.n, f_}, config, nd.coin.get());
    nd.rng = std::make_unique<DeterministicRng>(StreamSeed(o.seed, 100 + i));
    nd.clock_skew = setup.Uniform(50);
    nd.pipeline = 1 + static_cast<uint32_t>(setup.Uniform(opt_.window));
    max_skew_ = std::max(max_skew_, nd.byzantine ? 0 : nd.clock_skew);
    if (!nd.byzantine) correct_.push_back(i);
  }

  AdversaryParams ap;
  ap.n = opt_.n;
  ap.f = f_;
  ap.byzantine = byzantine;
  ap.window = opt_.window;
  ap.proposal_bytes_max = config.proposal_bytes_max;
  ap.flood_budget = 300;
  adversary_ = std::make_unique<Adversary>(ap, opt_.byzantine, StreamSeed(o.seed, 4));

  SchedulerView view;
  view.n = opt_.n;
  view.f = f_;
  view.byzantine = byzantine;
  view.coin_bit = [this](uint64_t e, uint32_t j, uint32_t r) { return CoinBit(e, j, r); };
  // The fairness bound: long enough for a scheduler to play its game for a while (the
  // round-maximiser needs a few rounds' worth of deliveries), finite so every message
  // between correct nodes is delivered.
  uint64_t fair = 400 + 40ULL * opt_.n * opt_.n;
  if (opt_.scheduler == SchedulerKind::kAbaMax) fair *= 8;
  const NodeId victim = correct_[setup.Uniform(correct_.size())];
  scheduler_ = MakeScheduler(opt_.scheduler, std::move(view), fair, victim,
                             /*partition_steps=*/fair * 2, setup);

  // Requests: most go to every node (clients send to all replicas), some only to f+1
  // correct ones (a client that reached only a few), at random times.
  DeterministicRng req_rng(StreamSeed(o.seed, 5));
  const uint64_t span = 150ULL * opt_.n * opt_.n;
  for (uint32_t k = 0; k < opt_.requests; ++k) {
    ClientRequest r;
    r.body = absl::StrCat("req/", o.seed, "/", k, "/");
    const size_t payload = 1 + req_rng.Uniform(kRequestPayloadMax);
    for (size_t b = 0; b < payload; ++b) r.body.push_back(static_cast<char>('a' + req_rng.Uniform(26)));
    r.inject_step = req_rng.Uniform(span);
    if (req_rng.Uniform(4) != 0) {
      for (NodeId i = 0; i < opt_.n; ++i) r.receivers.push_back(i);
    } else {
      std::vector<NodeId> pool = correct_;
      for (uint32_t c = 0; c < f_ + 1; ++c) {
        const size_t pick = c + req_rng.Uniform(pool.size() - c);
        std::swap(pool[c], pool[pick]);
        r.receivers.push_back(pool[c]);
      }
    }
    requests_.push_back(std::move(r));
  }
  std::stable_sort(requests_.begin(), requests_.end(),
                   [](const ClientRequest& a, const ClientRequest& b) {
                     return a.inject_step < b.inject_step;
                   });
  for (size_t k = 0; k < requests_.size(); ++k) request_index_[requests_[k].body] = k;

  duplicates_left_ = opt_.duplicates ? 200 : 0;
  // Per epoch and correct node at most: a VAL per peer, an ECHO and a READY per instance
  // and peer, and per agreement and round ~6 votes/shares per peer, plus the ordering share.
  // Rounds are bounded by rounds_ahead_max in flight; a slow node may lag the window.
  const uint64_t n = opt_.n;
  const uint64_t per_epoch = n * (n - 1) * (1 + 2 * n + 6 * n * 8 + 1);
  in_flight_bound_ = per_epoch * (4ULL * opt_.window + 4) + 3ULL * ap.flood_budget * f_ * 4 +
                     duplicates_left_;
  steps_max_ = opt_.steps_max != 0 ? opt_.steps_max
                                   : 400000ULL + 60000ULL * n * n + 2000ULL * opt_.requests * n;
}

void Simulation::Fail(std::string what) {
  if (!result_.ok) return;  // keep the first failure
  result_.ok = false;
  result_.failure = std::move(what);
}

void Simulation::HashU64(uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  crypto_generichash_update(&trace_, b, sizeof b);
}

void Simulation::HashBytes(std::string_view s) {
  HashU64(s.size());
  crypto_generichash_update(&trace_, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

bool Simulation::CoinBit(uint64_t epoch, uint32_t instance, uint32_t round) {
  // The same name the epoch driver, ACS and ABA build.
  const std::string name = consensus::aba::CoinName(
      consensus::acs::AbaCoinPrefix(consensus::epoch::AcsCoinPrefix(kClusterId, epoch), instance),
      round);
  std::vector<std::pair<NodeId, std::string>> shares;
  for (NodeId i = 0; i <= f_; ++i) shares.emplace_back(i, nodes_[i].coin->MakeShare(name));
  std::optional<consensus::CoinValue> v = nodes_[0].coin->Combine(name, shares);
  BELFRY_CHECK(v.has_value());
  return v->bit();
}

void Simulation::Send(NodeId from, NodeId to, std::shared_ptr<const pb::ConsensusMessage> msg,
                      uint32_t bytes) {
  if (!nodes_[from].byzantine) {
    ++result_.stats.messages_sent;
    result_.stats.bytes_sent += bytes;
  }
  Envelope e;
  e.id = next_id_++;
  e.from = from;
  e.to = to;
  e.enqueued_step = now_;
  e.msg = std::move(msg);
  e.bytes = bytes;
  scheduler_->Add(std::move(e), now_);
}

void Simulation::InjectDue() {
  while (next_request_ < requests_.size() && requests_[next_request_].inject_step <= now_) {
    ClientRequest& r = requests_[next_request_++];
    uint64_t epoch = 0;
    for (NodeId i : correct_) epoch = std::max(epoch, nodes_[i].hb->next_epoch_to_output());
    r.inject_epoch = epoch;
    for (NodeId i : r.receivers) {
      // A node that has already output it (a Byzantine node proposed it first) ignores it.
      if (output_seen_.count(r.body) == 0) nodes_[i].pending.insert(r.body);
    }
    for (NodeId i : r.receivers) MaybePropose(i);
  }
}

void Simulation::MaybePropose(NodeId i) {
  Node& nd = nodes_[i];
  if (nd.byzantine && !adversary_->proposes(i)) return;
  for (uint32_t guard = 0; guard <= opt_.window; ++guard) {
    if (!result_.ok || !nd.hb->can_propose()) return;
    const uint64_t e = nd.hb->next_epoch_to_propose();
    const bool useful =
        nd.hb->peers_started(e) ||
        (!nd.pending.empty() && e < nd.hb->next_epoch_to_output() + nd.pipeline);
    if (!useful) return;
    std::vector<std::string> pending(nd.pending.begin(), nd.pending.end());
    uint64_t clock = now_ + nd.clock_skew;
    if (nd.byzantine) clock = adversary_->ClockReading(i, clock);
    Process(i, nd.hb->Propose(pending, clock, *nd.rng));
  }
}

void Simulation::Deliver(Envelope e) {
  ++result_.stats.steps;
  HashU64(now_);
  HashU64(e.from);
  HashU64(e.to);
  HashBytes(e.msg->SerializeAsString());
  Node& nd = nodes_[e.to];
  // The network may deliver a message twice.
  if (duplicates_left_ > 0 && net_rng_.Uniform(64) == 0) {
    --duplicates_left_;
    Envelope copy = e;
    copy.id = next_id_++;
    copy.enqueued_step = now_;
    scheduler_->Add(std::move(copy), now_);
  }
  // A correct receiver's transport refuses a frame beyond the window without consuming it;
  // a correct sender's transport keeps it and sends it again once the window has moved.
  if (!nd.byzantine && !nodes_[e.from].byzantine &&
      nd.hb->Classify(e.msg->epoch()) == EpochPosition::kBeyondWindow) {
    ++result_.stats.held_for_window;
    nd.held.push_back(std::move(e));
    return;
  }
  if (opt_.trace) {
    const char* what = "";
    if (nd.hb->Classify(e.msg->epoch()) == EpochPosition::kBeyondWindow) what = " (refused)";
    if (nd.hb->Classify(e.msg->epoch()) == EpochPosition::kFinished) what = " (finished)";
    std::printf("step %llu: %u -> %u%s %s\n", static_cast<unsigned long long>(now_), e.from,
                e.to, what, e.msg->ShortDebugString().substr(0, 160).c_str());
  }
  if (nd.byzantine) adversary_->Observe(e.to, e.from, *e.msg);
  const NodeId to = e.to;
  Process(to, nd.hb->HandleMessage(e.from, *e.msg));
  MaybePropose(to);
}

void Simulation::Process(NodeId i, HbStep step) {
  Node& nd = nodes_[i];
  if (nd.byzantine) {
    std::vector<Outgoing> outs =
        adversary_->Emit(i, std::move(step.messages), nd.hb->next_epoch_to_output());
    for (Outgoing& o : outs) {
      auto msg = std::make_shared<const pb::ConsensusMessage>(std::move(o.msg));
      const auto bytes = static_cast<uint32_t>(msg->ByteSizeLong());
      Send(i, o.to, std::move(msg), bytes);
    }
    for (const Batch& b : step.outputs) {
      for (const std::string& r : b.requests) nd.pending.erase(r);
    }
    nd.hb->TakeAbaRounds();
  } else {
    for (auto& tm : step.messages) {
      auto msg = std::make_shared<const pb::ConsensusMessage>(std::move(tm.message));
      const auto bytes = static_cast<uint32_t>(msg->ByteSizeLong());
      for (NodeId to = 0; to < opt_.n; ++to) {
        if (to != i && tm.target.Contains(to)) Send(i, to, msg, bytes);
      }
    }
    for (const consensus::Fault& fault : step.faults) {
      // A refusal for being too far ahead is not evidence: a correct peer may be ahead.
      if (fault.kind == FaultKind::kEpochOutOfWindow && !nodes_[fault.node].byzantine) {
        ++result_.stats.correct_refused_ahead;
        continue;
      }
      if (!nodes_[fault.node].byzantine) {
        Fail(absl::StrCat("false accusation: node ", i, " blamed correct node ", fault.node,
                          " for ", consensus::FaultKindName(fault.kind), " (", fault.detail,
                          ")"));
        continue;
      }
      if (fault.kind == FaultKind::kEpochOutOfWindow) ++result_.stats.refused_out_of_window;
      ++result_.stats.faults[consensus::FaultKindName(fault.kind)];
    }
    for (const Batch& b : step.outputs) RecordOutput(i, b);
    for (uint32_t rounds : nd.hb->TakeAbaRounds()) {
      result_.stats.aba_rounds.push_back(rounds);
      if (opt_.aba_rounds_max != 0 && rounds > opt_.aba_rounds_max) {
        Fail(absl::StrCat("liveness bound: an agreement at node ", i, " took ", rounds,
                          " rounds (bound ", opt_.aba_rounds_max, ")"));
      }
    }
  }
  if (nd.hb->next_epoch_to_output() != nd.last_next_output) {
    nd.last_next_output = nd.hb->next_epoch_to_output();
    ReleaseHeld(i);
  }
}

void Simulation::ReleaseHeld(NodeId i) {
  Node& nd = nodes_[i];
  std::vector<Envelope> keep;
  for (Envelope& e : nd.held) {
    if (nd.hb->Classify(e.msg->epoch()) == EpochPosition::kBeyondWindow) {
      keep.push_back(std::move(e));
      continue;
    }
    e.id = next_id_++;
    e.enqueued_step = now_;
    scheduler_->Add(std::move(e), now_);
  }
  nd.held = std::move(keep);
}

void Simulation::RecordOutput(NodeId i, const Batch& batch) {
  Node& nd = nodes_[i];
  if (batch.epoch != nd.outputs) {
    Fail(absl::StrCat("total order: node ", i, " output epoch ", batch.epoch, " after ",
                      nd.outputs, " epochs"));
    return;
  }
  ++nd.outputs;
  if (canonical_.size() == batch.epoch) {
    canonical_.push_back(batch);
    CheckNewEpoch(batch);
  } else if (!SameBatch(canonical_[batch.epoch], batch)) {
    Fail(absl::StrCat("agreement: node ", i, " output a different batch for epoch ",
                      batch.epoch));
    return;
  }
  for (const std::string& r : batch.requests) {
    nd.pending.erase(r);
    if (request_index_.count(r) != 0) ++nd.client_requests_output;
  }
  HashU64(i);
  HashU64(batch.epoch);
  HashU64(batch.consensus_time);
  HashU64(batch.requests.size());
}

void Simulation::CheckNewEpoch(const Batch& batch) {
  if (batch.epoch > 0 && batch.consensus_time < canonical_[batch.epoch - 1].consensus_time) {
    Fail(absl::StrCat("consensus time decreased at epoch ", batch.epoch));
  }
  if (batch.consensus_time > now_ + max_skew_) {
    Fail(absl::StrCat("consensus time ", batch.consensus_time, " at epoch ", batch.epoch,
                      " is ahead of every correct clock (", now_ + max_skew_, ")"));
  }
  if (batch.accepted_proposers.size() < opt_.n - f_) {
    Fail(absl::StrCat("epoch ", batch.epoch, " accepted only ", batch.accepted_proposers.size(),
                      " proposals"));
  }
  for (const std::string& r : batch.requests) {
    auto it = request_index_.find(r);
    if (it == request_index_.end() && adversary_->crafted_requests().count(r) == 0) {
      Fail(absl::StrCat("integrity: epoch ", batch.epoch, " output a request nobody proposed"));
    }
    if (!output_seen_.insert(r).second) {
      Fail(absl::StrCat("integrity: epoch ", batch.epoch, " output a request a second time"));
    }
    if (it != request_index_.end()) {
      result_.stats.request_latency_epochs.push_back(
          static_cast<uint32_t>(batch.epoch - requests_[it->second].inject_epoch + 1));
    }
  }
}

void Simulation::CheckBounds() {
  uint64_t in_flight = scheduler_->size();
  for (const Node& nd : nodes_) in_flight += nd.held.size();
  result_.stats.max_in_flight = std::max(result_.stats.max_in_flight, in_flight);
  if (in_flight > in_flight_bound_) {
    Fail(absl::StrCat("bounded memory: ", in_flight, " messages in flight, bound ",
                      in_flight_bound_));
  }
  for (NodeId i : correct_) {
    const uint64_t held = nodes_[i].hb->epochs_in_memory();
    result_.stats.max_epochs_in_memory = std::max(result_.stats.max_epochs_in_memory, held);
    if (held > 2ULL * opt_.window) {
      Fail(absl::StrCat("bounded memory: node ", i, " holds ", held, " epochs, window ",
                        opt_.window));
    }
  }
}

bool Simulation::AllDone() const {
  if (next_request_ < requests_.size()) return false;
  for (NodeId i : correct_) {
    if (nodes_[i].client_requests_output < requests_.size()) return false;
  }
  return true;
}

Result Simulation::Run() {
  const std::clock_t start = std::clock();
  for (NodeId i = 0; i < opt_.n; ++i) MaybePropose(i);
  while (result_.ok) {
    InjectDue();
    if (AllDone()) break;
    if (now_ >= steps_max_) {
      uint64_t least = UINT64_MAX;
      for (NodeId i : correct_) least = std::min(least, nodes_[i].outputs);
      Fail(absl::StrCat("liveness: not every request output after ", now_,
                        " steps (slowest correct node at epoch ", least, ")"));
      break;
    }
    std::optional<Envelope> e = scheduler_->Next(now_, sched_rng_);
    if (!e.has_value()) {
      if (next_request_ < requests_.size()) {
        now_ = std::max(now_, requests_[next_request_].inject_step);  // idle until then
        continue;
      }
      Fail("liveness: nothing left in flight, yet not every request was output");
      if (opt_.trace) {
        for (NodeId i : correct_) {
          std::printf("node %u (%zu held for its window): %s\n", i, nodes_[i].held.size(),
                      nodes_[i].hb->DebugString().c_str());
        }
      }
      break;
    }
    Deliver(*std::move(e));
    ++now_;
    CheckBounds();
  }
  uint64_t least = UINT64_MAX;
  for (NodeId i : correct_) least = std::min(least, nodes_[i].outputs);
  result_.stats.epochs = least;
  result_.stats.cpu_seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  HashU64(result_.ok ? 1 : 0);
  uint8_t digest[32];
  crypto_generichash_final(&trace_, digest, sizeof digest);
  result_.trace_hash = ToHex(ByteSpan(digest, 16));
  return std::move(result_);
}

}  // namespace

Result RunSimulation(const Options& options) {
  Simulation sim(options);
  return sim.Run();
}

std::string DescribeOptions(const Options& o) {
  return absl::StrCat("--seed ", o.seed, " --n ", o.n, " --scheduler ", SchedulerName(o.scheduler),
                      " --byzantine ", StrategyName(o.byzantine), " --coin ", CoinKindName(o.coin),
                      " --conf-phase ", o.conf_phase ? "on" : "off", " --round0-coin-fixed ",
                      o.round0_coin_fixed ? "on" : "off", " --window ", o.window,
                      " --batch ", o.batch, " --requests ", o.requests, " --steps-max ",
                      o.steps_max, " --aba-rounds-max ", o.aba_rounds_max, " --duplicates ",
                      o.duplicates ? "on" : "off");
}

std::string ReplayCommand(const Options& o) {
  return absl::StrCat("build/test/sim/belfry-sim ", DescribeOptions(o));
}

}  // namespace belfry::sim
