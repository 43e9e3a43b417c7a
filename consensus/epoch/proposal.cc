#include "consensus/epoch/proposal.h"

#include "base/bytes.h"
#include "base/status.h"

namespace belfry::consensus::epoch {
namespace {

constexpr uint8_t kProposalVersion = 1;
constexpr size_t kHeaderBytes = 1 + 8 + 4;  // version, clock, count

}  // namespace

size_t EncodedRequestBytes(size_t request_bytes) { return 4 + request_bytes; }

size_t EncodedProposalBytes(const std::vector<std::string>& requests) {
  size_t total = kHeaderBytes;
  for (const std::string& r : requests) total += EncodedRequestBytes(r.size());
  return total;
}

std::string EncodeProposal(const Proposal& proposal) {
  ByteWriter w;
  w.U8(kProposalVersion);
  w.U64(proposal.clock_reading);
  w.U32(static_cast<uint32_t>(proposal.requests.size()));
  for (const std::string& r : proposal.requests) w.LengthPrefixed(r);
  const Bytes& b = w.bytes();
  return std::string(b.begin(), b.end());
}

absl::StatusOr<Proposal> DecodeProposal(std::string_view bytes, const ProposalLimits& limits) {
  // The size check comes first so that nothing below ever walks an oversized buffer.
  if (bytes.size() > limits.proposal_bytes_max) {
    return absl::InvalidArgumentError("proposal larger than proposal_bytes_max");
  }
  ByteReader r(bytes);
  BELFRY_ASSIGN_OR_RETURN(const uint8_t version, r.ReadU8());
  if (version != kProposalVersion) return absl::InvalidArgumentError("unknown proposal version");
  Proposal p;
  BELFRY_ASSIGN_OR_RETURN(p.clock_reading, r.ReadU64());
  BELFRY_ASSIGN_OR_RETURN(const uint32_t count, r.ReadU32());
  if (count > limits.batch_requests_max) {
    return absl::InvalidArgumentError("more requests than batch_requests_max");
  }
  // Each request costs at least 5 encoded bytes, so a count the remaining bytes cannot
  // hold is refused before any allocation sized by it.
  if (count > r.remaining() / EncodedRequestBytes(1)) {
    return absl::InvalidArgumentError("request count exceeds the encoding");
  }
  p.requests.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    BELFRY_ASSIGN_OR_RETURN(const ByteSpan req, r.ReadLengthPrefixed(limits.request_bytes_max));
    if (req.empty()) return absl::InvalidArgumentError("empty request");
    p.requests.emplace_back(AsStringView(req));
  }
  BELFRY_RETURN_IF_ERROR(r.ExpectEnd());
  return p;
}

}  // namespace belfry::consensus::epoch
