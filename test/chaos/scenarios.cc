#include "test/chaos/scenarios.h"

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
      {"wiped-disk", "restart one replica on an empty data folder",
       [](Harness& h) {
         if (!h.Sleep(kWarmupMs)) return;
         const uint32_t r = h.PickReplicas(1)[0];
         h.KillReplica(r);
         if (!h.WipeReplica(r).ok()) return;
         h.Heal("restart on an empty folder");
         h.Sleep(h.RemainingMs());
       },
       "needs state transfer: a replica whose peers have pruned the epochs it lacks cannot catch up"},
  };
  return *scenarios;
}

const Scenario* FindScenario(const std::string& name) {
  for (const Scenario& s : Scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace belfry::chaos
