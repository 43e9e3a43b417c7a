// consensus/epoch/proposal.h — the bytes one node reliably broadcasts in an epoch.
//
// A proposal is a batch of client requests plus the proposer's clock reading. It is read
// from the bytes the RBC delivered, which a Byzantine proposer chose, so decoding goes
// through one bounded cursor (base/bytes.h) and is strict: one canonical encoding, every
// bound checked, no trailing bytes. Strictness is what makes "this proposal is invalid" the
// same verdict at every correct node.
#ifndef BELFRY_CONSENSUS_EPOCH_PROPOSAL_H_
#define BELFRY_CONSENSUS_EPOCH_PROPOSAL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace belfry::consensus::epoch {

// ProposalLimits: the bounds a decoded proposal must respect.
struct ProposalLimits {
  size_t proposal_bytes_max = 0;    // the whole encoding
  uint32_t batch_requests_max = 0;  // number of requests
  size_t request_bytes_max = 0;     // each request; an empty request is refused too
};

// Proposal: what a node contributes to one epoch.
struct Proposal {
  uint64_t clock_reading = 0;  // the proposer's clock, in the cluster's time unit
  std::vector<std::string> requests;
};

// EncodeProposal: the canonical encoding (version byte 1, u64 clock, u32 count, then each
// request length-prefixed). Never fails; the caller keeps within the limits.
std::string EncodeProposal(const Proposal& proposal);

// The encoded size of a proposal with these requests, without building it.
size_t EncodedProposalBytes(const std::vector<std::string>& requests);
// The bytes one more request of `request_bytes` adds to an encoding.
size_t EncodedRequestBytes(size_t request_bytes);

// DecodeProposal: parses untrusted bytes. INVALID_ARGUMENT (with the reason) when the
// encoding is not canonical or breaks a limit.
absl::StatusOr<Proposal> DecodeProposal(std::string_view bytes, const ProposalLimits& limits);

}  // namespace belfry::consensus::epoch

#endif  // BELFRY_CONSENSUS_EPOCH_PROPOSAL_H_
