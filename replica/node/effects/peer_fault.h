// replica/node/effects/peer_fault.h — a peer's misbehaviour as a typed event.
//
// Why typed. The daemon throttles a peer whose messages keep being refused, and a
// dashboard shows faults by peer and kind. Both used to read one map keyed by
// "peer/kind" strings; a penalty that depends on parsing a metric label breaks the day
// a label is renamed. Here the kind is an enum, the metric name is derived from it in
// one place (PeerFaultName), and whether a fault counts toward the penalty or the
// protocol-fault total is a property of the kind, not of its spelling.
//
// Plain values and pure functions; thread-safe.
#ifndef BELFRY_REPLICA_NODE_EFFECTS_PEER_FAULT_H_
#define BELFRY_REPLICA_NODE_EFFECTS_PEER_FAULT_H_

#include <compare>
#include <cstdint>
#include <string_view>

#include "consensus/step.h"

namespace belfry::replica {

enum class PeerFaultKind : uint8_t {
  // Reported by consensus (PeerFault::consensus_kind says which). Its kEpochOutOfWindow
  // is counted by name only: a message beyond the window usually means this replica is
  // behind, not that the peer lies.
  kConsensus,
  // A consensus frame for an epoch beyond this replica's window, held for later. Not a
  // protocol fault, but it counts toward the penalty: a peer flooding far-future epochs
  // is throttled (the daemon lifts the penalty while this replica catches up).
  kFrameBeyondWindow,
  kMalformedPeerMessage,     // a PeerMessage that did not parse
  kBadCheckpointVote,        // bad signature, malformed, or a second different vote
  kBadCheckpointCertificate,
  kBadStateChunk,            // keys not ascending, empty but not last, or past the certified size
  kBadStateTransfer,         // the whole state sent is short of the certified size or digest
};

// PeerFault: what a peer did; the key of the typed fault counter.
struct PeerFault {
  uint32_t peer = 0;
  PeerFaultKind kind = PeerFaultKind::kConsensus;
  // kConsensus only; kMalformedMessage otherwise, so that equal faults compare equal.
  consensus::FaultKind consensus_kind = consensus::FaultKind::kMalformedMessage;

  friend auto operator<=>(const PeerFault&, const PeerFault&) = default;
};

// The `kind` label of belfry_peer_faults_by_kind_total (and of CoreCounters::faults_by_kind):
// the consensus fault's name for kConsensus, "epoch_out_of_window" for a frame beyond the
// window, else the snake_case name of the kind. Static storage.
std::string_view PeerFaultName(const PeerFault& fault);

// Whether the fault is in belfry_peer_faults_total (and the faults_seen of a signed status).
bool IsProtocolFault(const PeerFault& fault);

// Whether the fault counts toward the daemon's per-peer penalty.
bool CountsTowardPenalty(const PeerFault& fault);

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_EFFECTS_PEER_FAULT_H_
