#include "replica/node/effects/core_counters.h"

#include "absl/strings/str_cat.h"

namespace belfry::replica {

CoreCounters::CoreCounters()
    : epoch_latency_seconds({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
      batch_requests({0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}) {}

void CoreCounters::DeriveFaultViews(uint32_t n) {
  faults = 0;
  faults_by_kind.clear();
  faults_by_peer.assign(n, 0);
  for (const auto& [fault, count] : peer_faults) {
    if (IsProtocolFault(fault)) faults += count;
    const std::string_view name = PeerFaultName(fault);
    faults_by_kind[absl::StrCat(fault.peer, "/", absl::string_view(name.data(), name.size()))] += count;
    if (CountsTowardPenalty(fault) && fault.peer < n) faults_by_peer[fault.peer] += count;
  }
}

}  // namespace belfry::replica
