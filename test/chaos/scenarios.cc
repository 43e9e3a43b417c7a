#include "test/chaos/scenarios.h"

#include <functional>
#include <string>

#include "absl/strings/str_cat.h"

namespace belfry::chaos {
namespace {

// Load before the first fault, so that every scenario starts from a cluster with state.
constexpr int64_t kWarmupMs = 2500;
// Load after each heal before the next fault, so that recovery happens under load.
constexpr int64_t kRecoverMs = 3000;
// A fault phase is not started unless this much of the load span is left.
constexpr int64_t kPhaseMinMs = 6000;

int64_t Between(Harness& h, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(h.rng().Uniform(static_cast<uint64_t>(hi - lo + 1)));
}

void KillRestartF(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  while (h.RemainingMs() > kPhaseMinMs) {
    for (uint32_t r : h.PickReplicas(h.f())) h.KillReplica(r);
    h.Sleep(Between(h, 1500, 3500));
    h.Heal("restart the killed replicas");
    h.Sleep(kRecoverMs);
  }
}

void PartitionOne(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  while (h.RemainingMs() > kPhaseMinMs) {
    const uint32_t r = h.PickReplicas(1)[0];
    const auto mode = h.rng().Uniform(2) == 0 ? LinkFaults::Mode::kBlackhole : LinkFaults::Mode::kRefuse;
    h.Isolate(r, mode, /*inbound=*/true, /*outbound=*/true);
    h.Sleep(Between(h, 2500, 4500));
    h.Heal("reconnect the isolated replica");
    h.Sleep(kRecoverMs);
  }
}

void PartitionAsymmetric(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  bool inbound = h.rng().Uniform(2) == 0;
  while (h.RemainingMs() > kPhaseMinMs) {
    const uint32_t r = h.PickReplicas(1)[0];
    h.Isolate(r, LinkFaults::Mode::kBlackhole, inbound, !inbound);
    inbound = !inbound;
    h.Sleep(Between(h, 2500, 4500));
    h.Heal("reopen the one-way partition");
    h.Sleep(kRecoverMs);
  }
}

void DegradedLinks(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  while (h.RemainingMs() > kPhaseMinMs) {
    for (uint32_t from = 0; from < h.n(); ++from) {
      for (uint32_t to = 0; to < h.n(); ++to) {
        if (from == to) continue;
        LinkFaults f;
        f.latency_ms = static_cast<uint32_t>(Between(h, 2, 40));
        f.jitter_ms = static_cast<uint32_t>(Between(h, 0, 20));
        f.slice_bytes = static_cast<uint32_t>(Between(h, 1, 96));
        f.bandwidth_bytes_per_s = static_cast<uint64_t>(Between(h, 256, 4096)) * 1024;
        f.reset_interval_ms = static_cast<uint32_t>(Between(h, 800, 3000));
        h.SetLink(from, to, f,
                  absl::StrCat("latency ", f.latency_ms, "±", f.jitter_ms, " ms, slices of 1..", f.slice_bytes,
                               " B, ", f.bandwidth_bytes_per_s / 1024, " KiB/s, resets every ~",
                               f.reset_interval_ms, " ms"));
      }
    }
    h.Sleep(Between(h, 5000, 8000));
    h.Heal("clear link degradation");
    h.Sleep(kRecoverMs);
  }
}

void Pause(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  while (h.RemainingMs() > kPhaseMinMs) {
    for (uint32_t r : h.PickReplicas(h.f())) h.PauseReplica(r);
    h.Sleep(Between(h, 1500, 4000));
    h.Heal("resume the paused replicas");
    h.Sleep(kRecoverMs);
  }
}

void KillAll(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  while (h.RemainingMs() > kPhaseMinMs) {
    for (uint32_t r = 0; r < h.n(); ++r) h.KillReplica(r);
    h.Sleep(Between(h, 300, 1500));
    h.Heal("restart every replica");
    h.Sleep(kRecoverMs + 1000);
  }
}

// One replica restarts on a copy of its data folder taken earlier: it has forgotten
// epochs it executed and replies it signed, and must catch up again without the cluster
// (or its own later answers) going wrong. Within f, it is a replica that lies about its
// past.
void RollbackOne(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  int round = 0;
  while (h.RemainingMs() > kPhaseMinMs + 4000) {
    const uint32_t r = h.PickReplicas(1)[0];
    const std::string name = absl::StrCat("round-", round++);
    h.KillReplica(r);
    if (absl::Status s = h.SnapshotReplica(r, name); !s.ok()) return;
    h.Heal("restart after the snapshot");
    h.Sleep(Between(h, 2500, 4000));
    h.KillReplica(r);
    if (absl::Status s = h.RestoreReplica(r, name); !s.ok()) return;
    h.Heal("restart on the rolled-back copy");
    h.Sleep(kRecoverMs);
  }
}

// One replica loses its disk and comes back empty after its peers have checkpointed and
// pruned the log past everything it had (SetupFor keeps the log short): only state
// transfer can bring it back.
void WipedDisk(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  const uint32_t r = h.PickReplicas(1)[0];
  h.KillReplica(r);
  if (!h.WipeReplica(r).ok()) return;
  h.ExpectStateTransfer(r);
  h.Sleep(Between(h, 1000, 2500));
  h.Heal("restart on an empty folder");
  h.Sleep(h.RemainingMs());
}

// Every replica loses power at once: SIGKILL, then whatever was not synced is gone
// (sometimes with torn tails). An acknowledged write was synced by 2f+1 replicas before
// they signed their replies, so none may be lost.
void PowerCutAll(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  while (h.RemainingMs() > kPhaseMinMs) {
    const bool tear = h.rng().Uniform(2) == 0;
    for (uint32_t r = 0; r < h.n(); ++r) h.KillReplica(r);
    for (uint32_t r = 0; r < h.n(); ++r) {
      if (!h.PowerCutReplica(r, tear).ok()) return;
    }
    h.Sleep(Between(h, 300, 1500));
    h.Heal("power back on");
    h.Sleep(kRecoverMs + 1000);
  }
}

// f replicas run on disks whose fsync lies; then the power fails everywhere. The liars
// lose epochs they had reported durable (they come back behind, or refuse their store and
// are restarted empty); the 2f+1 honest replicas keep every acknowledged write.
void LyingFsyncF(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  const std::vector<uint32_t> liars = h.PickReplicas(h.f());
  for (uint32_t r : liars) {
    h.KillReplica(r);
    if (!h.MakeFsyncLie(r).ok()) return;
    h.AllowRefusal(r);
  }
  h.Heal("restart the liars on their lying disks");
  while (h.RemainingMs() > kPhaseMinMs) {
    h.Sleep(Between(h, 1500, 3000));
    for (uint32_t r = 0; r < h.n(); ++r) h.KillReplica(r);
    for (uint32_t r = 0; r < h.n(); ++r) {
      if (!h.PowerCutReplica(r, false).ok()) return;
    }
    h.Sleep(Between(h, 300, 1000));
    h.Heal("power back on");
    h.Sleep(kRecoverMs);
  }
}

// Bits flip in synced table or log files of f stopped replicas. Each must refuse its
// store (and is then restarted empty) or come back without the rotten part; it must never
// serve or sign rotten state, which the digest and linearizability checks would show.
void BitRotF(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  while (h.RemainingMs() > kPhaseMinMs) {
    const std::vector<uint32_t> rotten = h.PickReplicas(h.f());
    for (uint32_t r : rotten) {
      h.KillReplica(r);
      if (!h.BitRotReplica(r, 8).ok()) return;
      h.AllowRefusal(r);
    }
    h.Sleep(Between(h, 300, 1000));
    h.Heal("restart the replicas with rotten disks");
    h.Sleep(kRecoverMs);
  }
}

// Any of the above, one after another, chosen by the seed.
void Mixed(Harness& h) {
  if (!h.Sleep(kWarmupMs)) return;
  while (h.RemainingMs() > kPhaseMinMs) {
    switch (h.rng().Uniform(5)) {
      case 0:
        for (uint32_t r : h.PickReplicas(h.f())) h.KillReplica(r);
        break;
      case 1:
        h.Isolate(h.PickReplicas(1)[0], LinkFaults::Mode::kBlackhole, true, h.rng().Uniform(2) == 0);
        break;
      case 2:
        for (uint32_t r : h.PickReplicas(h.f())) h.PauseReplica(r);
        break;
      case 3: {
        LinkFaults f;
        f.latency_ms = static_cast<uint32_t>(Between(h, 5, 30));
        f.jitter_ms = 10;
        f.slice_bytes = 32;
        f.reset_interval_ms = 1500;
        h.DegradeAll(f, "latency, slicing and resets");
        break;
      }
      default: {
        // Isolate f replicas from each other's view: a minority partition.
        for (uint32_t r : h.PickReplicas(h.f())) h.Isolate(r, LinkFaults::Mode::kRefuse, true, true);
        break;
      }
    }
    h.Sleep(Between(h, 1500, 3500));
    h.Heal("end of the phase");
    h.Sleep(kRecoverMs);
  }
}

// Byzantine and clock scenarios do their damage from the first message on (prepare);
// the load span itself has nothing more to inject.
void LoadOnly(Harness& h) { h.Sleep(h.RemainingMs()); }

// f seeded replicas run `strategies` (test/byzantine/README.md) for the whole run.
std::function<void(Harness&)> ByzantineF(std::string strategies) {
  return [strategies](Harness& h) {
    for (uint32_t r : h.PickReplicas(h.f())) h.RunByzantine(r, strategies);
  };
}

// f seeded replicas, each with one or two strategies drawn by the seed.
void ByzantineSeeded(Harness& h) {
  static constexpr const char* kStrategies[] = {"silent",        "equivocate",   "phantom-echo",
                                                "flip-votes",    "bad-shares",   "withhold-shares",
                                                "wrong-replies", "replay-old",   "flood-future",
                                                "clock"};
  constexpr uint64_t kCount = sizeof(kStrategies) / sizeof(kStrategies[0]);
  for (uint32_t r : h.PickReplicas(h.f())) {
    std::string chosen = kStrategies[h.rng().Uniform(kCount)];
    const std::string second = kStrategies[h.rng().Uniform(kCount)];
    if (h.rng().Uniform(2) == 0 && second != chosen) absl::StrAppend(&chosen, ",", second);
    h.RunByzantine(r, chosen);
  }
}

// Correct replicas with wrong clocks: up to f of them hours ahead or behind, the others
// off by up to two seconds. Consensus time is the lower median of the accepted readings,
// so it must stay within the correct-enough clocks and never go back.
void ClockSkew(Harness& h) {
  std::vector<uint32_t> order = h.PickReplicas(h.n());
  const uint32_t far = 1 + static_cast<uint32_t>(h.rng().Uniform(h.f()));
  for (uint32_t i = 0; i < order.size(); ++i) {
    const int64_t sign = h.rng().Uniform(2) == 0 ? 1 : -1;
    const int64_t offset = i < far ? Between(h, 3'600'000, 3 * 3'600'000) : Between(h, 0, 2000);
    h.OffsetClock(order[i], sign * offset);
  }
}

}  // namespace

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario>* scenarios = new std::vector<Scenario>{
      {"baseline", "no faults: the checkers on a healthy cluster", [](Harness& h) { h.Sleep(h.RemainingMs()); }, ""},
      {"kill-restart-f", "SIGKILL f replicas under load, restart them on their data; repeated", KillRestartF, ""},
      {"partition-one", "isolate one replica (blackhole or refused connections) in both directions, then heal; repeated",
       PartitionOne, ""},
      {"partition-asym", "one replica can send but not receive, or receive but not send (blackhole), then heal",
       PartitionAsymmetric, ""},
      {"degraded-links", "every link: latency with jitter, bandwidth cap, tiny segments, periodic TCP resets",
       DegradedLinks, ""},
      {"pause", "SIGSTOP f replicas, SIGCONT after a few seconds; repeated", Pause, ""},
      {"kill-all", "SIGKILL all N replicas at once and restart them; every acknowledged write must survive", KillAll,
       ""},
      {"rollback-one", "restart one replica on an older copy of its data folder", RollbackOne, ""},
      {"mixed", "a seeded sequence of the faults above", Mixed, ""},
      {"wiped-disk", "restart one replica on an empty data folder after its peers pruned their logs; it catches up "
       "by state transfer", WipedDisk, ""},
      {"power-cut-all", "all N replicas lose power (SIGKILL, unsynced data dropped, tails sometimes torn) and restart",
       PowerCutAll, ""},
      {"lying-fsync-f", "f replicas' fsync lies; then all N lose power", LyingFsyncF, ""},
      {"bit-rot-f", "flip bits in synced table/log files of f stopped replicas, restart them", BitRotF, ""},
      {"byzantine-f", "f replicas run belfry-replica-byzantine with one or two seeded strategies", LoadOnly, "",
       ByzantineSeeded},
      {"byzantine-equivocate", "f Byzantine replicas: equivocating RBC stripes, phantom ECHO/READY, old-epoch replays",
       LoadOnly, "", ByzantineF("equivocate,phantom-echo,replay-old")},
      {"byzantine-votes-shares",
       "f Byzantine replicas: flipped BVAL/AUX/CONF/TERM, invalid coin and decryption shares, wrong signed replies, "
       "clock hours off",
       LoadOnly, "", ByzantineF("flip-votes,bad-shares,wrong-replies,clock")},
      {"byzantine-flood", "f Byzantine replicas: far-future epochs, near-maximum frames, withheld shares", LoadOnly, "",
       ByzantineF("flood-future,withhold-shares")},
      {"byzantine-silent", "f Byzantine replicas that send nothing to peers or clients", LoadOnly, "",
       ByzantineF("silent")},
      {"clock-skew", "correct replicas' clocks offset: up to f by 1-3 hours, the rest by up to 2 s", LoadOnly, "",
       ClockSkew},
  };
  return *scenarios;
}

ScenarioSetup SetupFor(const std::string& name) {
  ScenarioSetup s;
  const bool powerloss = name == "power-cut-all" || name == "lying-fsync-f";
  s.powerloss_replicas = powerloss;
  if (name == "wiped-disk" || name == "lying-fsync-f" || name == "bit-rot-f") {
    // At tens of epochs a second, peers prune past an empty replica's needs within the
    // warm-up, so it can only come back by state transfer.
    s.log_retained_epochs = 16;
    s.checkpoint_interval_epochs = 8;
  }
  return s;
}

const Scenario* FindScenario(const std::string& name) {
  for (const Scenario& s : Scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace belfry::chaos
