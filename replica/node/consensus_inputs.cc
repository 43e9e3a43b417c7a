#include "replica/node/consensus_inputs.h"

#include "absl/status/status.h"
#include "base/bytes.h"

namespace belfry::replica {

std::string ConsensusInput::EncodePeerMessage(uint32_t from, std::string_view payload) {
  std::string out;
  out.reserve(5 + payload.size());
  out.push_back(static_cast<char>(Kind::kPeerMessage));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((from >> shift) & 0xff));
  out.append(payload);
  return out;
}

std::string ConsensusInput::Encode() const {
  if (kind == Kind::kPeerMessage) return EncodePeerMessage(from, payload);
  ByteWriter w;
  w.U8(static_cast<uint8_t>(kind)).U64(clock_reading).U32(static_cast<uint32_t>(requests.size()));
  for (const std::string& r : requests) w.LengthPrefixed(std::string_view(r));
  return std::string(AsStringView(w.bytes()));
}

absl::StatusOr<ConsensusInput> ConsensusInput::Decode(const std::string& bytes) {
  ByteReader r{std::string_view(bytes)};
  const absl::Status corrupt = absl::InvalidArgumentError("a consensus input record does not decode");
  absl::StatusOr<uint8_t> kind = r.ReadU8();
  if (!kind.ok()) return corrupt;
  ConsensusInput in;
  if (*kind == static_cast<uint8_t>(Kind::kPeerMessage)) {
    absl::StatusOr<uint32_t> from = r.ReadU32();
    if (!from.ok()) return corrupt;
    in.kind = Kind::kPeerMessage;
    in.from = *from;
    absl::StatusOr<ByteSpan> rest = r.ReadBytes(r.remaining());
    if (!rest.ok()) return corrupt;
    in.payload.assign(reinterpret_cast<const char*>(rest->data()), rest->size());
    return in;
  }
  if (*kind != static_cast<uint8_t>(Kind::kProposal)) return corrupt;
  in.kind = Kind::kProposal;
  absl::StatusOr<uint64_t> clock = r.ReadU64();
  absl::StatusOr<uint32_t> count = r.ReadU32();
  if (!clock.ok() || !count.ok() || *count > r.remaining() / 4) return corrupt;
  in.clock_reading = *clock;
  in.requests.reserve(*count);
  for (uint32_t i = 0; i < *count; ++i) {
    absl::StatusOr<ByteSpan> request = r.ReadLengthPrefixed(r.remaining());
    if (!request.ok()) return corrupt;
    in.requests.emplace_back(reinterpret_cast<const char*>(request->data()), request->size());
  }
  if (!r.ExpectEnd().ok()) return corrupt;
  return in;
}

}  // namespace belfry::replica
