#include "replica/node/effects/peer_fault.h"

namespace belfry::replica {

std::string_view PeerFaultName(const PeerFault& fault) {
  switch (fault.kind) {
    case PeerFaultKind::kConsensus:
      return consensus::FaultKindName(fault.consensus_kind);
    case PeerFaultKind::kFrameBeyondWindow:
      return consensus::FaultKindName(consensus::FaultKind::kEpochOutOfWindow);
    case PeerFaultKind::kMalformedPeerMessage:
      return "malformed_peer_message";
    case PeerFaultKind::kBadCheckpointVote:
      return "bad_checkpoint_vote";
    case PeerFaultKind::kBadCheckpointCertificate:
      return "bad_checkpoint_certificate";
    case PeerFaultKind::kBadStateChunk:
      return "bad_state_chunk";
    case PeerFaultKind::kBadStateTransfer:
      return "bad_state_transfer";
  }
  return "unknown";
}

bool IsProtocolFault(const PeerFault& fault) {
  switch (fault.kind) {
    case PeerFaultKind::kConsensus:
      return fault.consensus_kind != consensus::FaultKind::kEpochOutOfWindow;
    case PeerFaultKind::kFrameBeyondWindow:
      return false;
    default:
      return true;
  }
}

bool CountsTowardPenalty(const PeerFault& fault) {
  switch (fault.kind) {
    case PeerFaultKind::kConsensus:
      return fault.consensus_kind != consensus::FaultKind::kEpochOutOfWindow;
    case PeerFaultKind::kFrameBeyondWindow:
      return true;
    // The penalty has never counted unparsable messages (they are in the fault total
    // and peer_messages_malformed); kept so, since this change moves code only.
    case PeerFaultKind::kMalformedPeerMessage:
      return false;
    default:
      return true;
  }
}

}  // namespace belfry::replica
