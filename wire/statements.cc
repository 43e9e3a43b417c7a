#include "wire/statements.h"

#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <optional>

#include "base/sha256.h"
#include "base/status.h"
#include "evidence/integrity_certificate.h"
#include "evidence/timestamp_request.h"
#include "evidence/timestamp_token.h"

namespace belfry::wire {
namespace {

constexpr absl::string_view kReplyDomain = "belfry/reply/v2";
constexpr absl::string_view kRejectionDomain = "belfry/rejection/v1";
constexpr absl::string_view kStatusDomain = "belfry/status/v2";
constexpr absl::string_view kCheckpointDomain = "belfry/checkpoint/v2";

ByteSpan Span(absl::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

Bytes ReplyStatement(uint32_t replica, ByteSpan body, const pb::ReplyAttachments& attachments) {
  ByteWriter w;
  w.LengthPrefixed(Span(kReplyDomain))
      .U32(replica)
      .LengthPrefixed(body)
      .LengthPrefixed(Span(attachments.sealed_decryption_share()))
      .LengthPrefixed(Span(attachments.service_signature_share()));
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

absl::StatusOr<Bytes> IntegrityAttributes(absl::string_view cluster_id, const pb::CheckOutResult& check_out,
                                          int64_t consensus_time_ms) {
  evidence::IntegrityFacts facts;
  facts.cluster_id = std::string(cluster_id);
  facts.document_name = check_out.doc();
  facts.version = check_out.version();
  facts.owner = check_out.owner();
  if (check_out.sha256().size() != facts.document_sha256.size()) {
    return absl::InvalidArgumentError("the checkout result's SHA-256 is not 32 bytes");
  }
  std::copy(check_out.sha256().begin(), check_out.sha256().end(), facts.document_sha256.begin());
  facts.consensus_time_ms = consensus_time_ms;
  return evidence::IntegritySignedAttributesDer(facts);
}

Bytes StampSerialNumber(uint64_t epoch, uint32_t position) {
  Bytes out;
  ByteWriter w;
  w.U64(epoch >> 32).U64((epoch << 32) | position);
  const Bytes raw = w.Take();
  size_t first = 0;
  while (first < raw.size() && raw[first] == 0) ++first;
  out.assign(raw.begin() + static_cast<std::ptrdiff_t>(first), raw.end());
  return out;
}

absl::StatusOr<TimeStampSigning> TimeStampAttributes(const pb::ReplyBody& body, const pb::StampResult& stamp,
                                                     ByteSpan service_cert_der) {
  evidence::TstInfoFields fields;
  const std::optional<evidence::ImprintHash> hash = evidence::ImprintHashFromOid(stamp.hash_algorithm());
  if (!hash.has_value()) return absl::InvalidArgumentError("the stamp's hash algorithm is not SHA-256/384/512");
  fields.imprint.hash = *hash;
  fields.imprint.parameters_null = stamp.hash_parameters_null();
  fields.imprint.hashed_message.assign(stamp.hashed_message().begin(), stamp.hashed_message().end());
  fields.serial_number = StampSerialNumber(body.epoch(), body.position());
  fields.consensus_time_ms = body.consensus_time_ms();
  fields.accuracy.seconds = kStampAccuracySeconds;
  if (stamp.has_nonce()) {
    fields.nonce = Bytes(stamp.nonce().begin(), stamp.nonce().end());
  } else if (!stamp.nonce().empty()) {
    return absl::InvalidArgumentError("the stamp has a nonce but has_nonce is false");
  }
  if (body.log_head().size() != fields.log_head.size()) {
    return absl::InvalidArgumentError("the reply body's log head is not 32 bytes");
  }
  std::copy(body.log_head().begin(), body.log_head().end(), fields.log_head.begin());
  TimeStampSigning out;
  BELFRY_ASSIGN_OR_RETURN(out.tst_info, evidence::TstInfoDer(fields));
  BELFRY_ASSIGN_OR_RETURN(out.signed_attributes,
                          evidence::TimeStampTokenSignedAttributesDer(out.tst_info, service_cert_der));
  return out;
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
