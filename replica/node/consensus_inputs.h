// replica/node/consensus_inputs.h — the encoding of the durable consensus input log.
//
// Why inputs and not the votes themselves: consensus/ is a pure function of what it is
// handed (peer messages in order, and this replica's own proposals). Replaying the same
// inputs into a fresh instance therefore rebuilds the very state that produced the votes
// this replica sent, so after a restart it goes on from there instead of voting again from
// scratch (which could contradict what its peers already counted). Each record belongs to
// one epoch; see replica/node/README.md ("Restarts never equivocate") for why replaying
// the records of each epoch in their own order, epoch after epoch, is enough.
#ifndef BELFRY_REPLICA_NODE_CONSENSUS_INPUTS_H_
#define BELFRY_REPLICA_NODE_CONSENSUS_INPUTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace belfry::replica {

// ConsensusInput: one input handed to the epoch driver.
struct ConsensusInput {
  enum class Kind : uint8_t { kPeerMessage = 1, kProposal = 2 };
  Kind kind = Kind::kPeerMessage;
  // kPeerMessage: the sender and the PeerMessage bytes as received.
  uint32_t from = 0;
  std::string payload;
  // kProposal: the exact slice proposed (HoneyBadger::ProposeExact) and the clock reading.
  std::vector<std::string> requests;
  uint64_t clock_reading = 0;

  // Canonical bytes: kind (1 byte), then from (4) and the payload, or the clock reading (8),
  // a count (4) and length-prefixed requests.
  std::string Encode() const;
  // Encode() of a kPeerMessage input, built straight from the received bytes: this runs
  // for every consensus message a replica handles, so it makes one allocation and copy.
  static std::string EncodePeerMessage(uint32_t from, std::string_view payload);
  // INVALID_ARGUMENT for bytes Encode did not make (a corrupt log).
  static absl::StatusOr<ConsensusInput> Decode(const std::string& bytes);
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_CONSENSUS_INPUTS_H_
