#include "consensus/step.h"

#include <algorithm>

namespace belfry::consensus {

bool Target::Contains(NodeId id) const {
  const bool listed = std::find(nodes.begin(), nodes.end(), id) != nodes.end();
  switch (kind) {
    case Kind::kAll:
      return true;
    case Kind::kAllExcept:
      return !listed;
    case Kind::kNodes:
      return listed;
  }
  return false;
}

const char* FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kMalformedMessage: return "malformed_message";
    case FaultKind::kUnexpectedSender: return "unexpected_sender";
    case FaultKind::kInvalidMerkleProof: return "invalid_merkle_proof";
    case FaultKind::kConflictingEcho: return "conflicting_echo";
    case FaultKind::kConflictingReady: return "conflicting_ready";
    case FaultKind::kDuplicateValue: return "duplicate_value";
    case FaultKind::kInvalidEncoding: return "invalid_encoding";
    case FaultKind::kConflictingVote: return "conflicting_vote";
    case FaultKind::kInvalidCoinShare: return "invalid_coin_share";
    case FaultKind::kDuplicateCoinShare: return "duplicate_coin_share";
    case FaultKind::kEpochOutOfWindow: return "epoch_out_of_window";
    case FaultKind::kInvalidProposal: return "invalid_proposal";
    case FaultKind::kInvalidDecryptionShare: return "invalid_decryption_share";
  }
  return "unknown";
}

}  // namespace belfry::consensus
