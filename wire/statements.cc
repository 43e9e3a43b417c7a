#include "wire/statements.h"

#include <sodium.h>

#include "base/sha256.h"

namespace belfry::wire {
namespace {

constexpr absl::string_view kReplyDomain = "belfry/reply/v1";
constexpr absl::string_view kRejectionDomain = "belfry/rejection/v1";
constexpr absl::string_view kStatusDomain = "belfry/status/v2";
constexpr absl::string_view kIntegrityDomain = "belfry/integrity/v1";
constexpr absl::string_view kCheckpointDomain = "belfry/checkpoint/v2";

ByteSpan Span(absl::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

Digest Sha256(ByteSpan data) { return Sha256Of(data.data(), data.size()); }

Bytes ReplyStatement(uint32_t replica, ByteSpan body, const pb::ReplyAttachments& attachments) {
  ByteWriter w;
  w.LengthPrefixed(Span(kReplyDomain))
      .U32(replica)
      .LengthPrefixed(body)
      .LengthPrefixed(Span(attachments.sealed_decryption_share()))
      .LengthPrefixed(Span(attachments.integrity_signature()));
  return w.Take();
}

Bytes RejectionStatement(uint32_t replica, ByteSpan request_id, uint32_t code,
                         absl::string_view message) {
  ByteWriter w;
  w.LengthPrefixed(Span(kRejectionDomain))
      .U32(replica)
      .LengthPrefixed(request_id)
      .U32(code)
      .LengthPrefixed(Span(message));
  return w.Take();
}

Bytes StatusStatement(const pb::ReplicaStatus& s) {
  ByteWriter w;
  w.LengthPrefixed(Span(kStatusDomain))
      .LengthPrefixed(Span(s.cluster_id()))
      .LengthPrefixed(Span(s.nonce()))
      .U32(s.replica())
      .U64(s.last_epoch())
      .U64(static_cast<uint64_t>(s.consensus_time_ms()))
      .LengthPrefixed(Span(s.log_head()))
      .U64(s.checkpoint_epoch())
      .U64(s.faults_seen());
  return w.Take();
}

Bytes IntegrityStatement(absl::string_view cluster_id, absl::string_view doc, uint64_t version,
                         const Digest& sha256, bool confidential, bool integrity) {
  ByteWriter w;
  w.LengthPrefixed(Span(kIntegrityDomain))
      .LengthPrefixed(Span(cluster_id))
      .LengthPrefixed(Span(doc))
      .U64(version)
      .Raw(sha256)
      .U8(static_cast<uint8_t>((confidential ? 1 : 0) | (integrity ? 2 : 0)));
  return w.Take();
}

Bytes CheckpointStatement(absl::string_view cluster_id, uint64_t epoch, ByteSpan state_digest,
                          ByteSpan log_head, int64_t consensus_time_ms, uint64_t state_entries,
                          uint64_t state_bytes) {
  ByteWriter w;
  w.LengthPrefixed(Span(kCheckpointDomain))
      .LengthPrefixed(Span(cluster_id))
      .U64(epoch)
      .LengthPrefixed(state_digest)
      .LengthPrefixed(log_head)
      .U64(static_cast<uint64_t>(consensus_time_ms))
      .U64(state_entries)
      .U64(state_bytes);
  return w.Take();
}

}  // namespace belfry::wire
