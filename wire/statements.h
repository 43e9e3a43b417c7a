// wire/statements.h — the exact bytes that replicas and clients sign, hash and bind.
//
// A signature is only as good as the agreement on what was signed. Replicas (which sign
// replies and integrity certificates' attributes) and clients (which verify them) both build those byte
// strings here (requests, session proofs and TDH2 labels are in replica/state/
// request_format.h, which the client library links too), each with its own domain string so a signature for one purpose can never
// be replayed as another. Every variable-length field is length-prefixed.
#ifndef BELFRY_WIRE_STATEMENTS_H_
#define BELFRY_WIRE_STATEMENTS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "proto/reply.pb.h"
#include "proto/service.pb.h"

namespace belfry::wire {

using Digest = std::array<uint8_t, 32>;

// SHA-256 of `data`.
Digest Sha256(ByteSpan data);

// What a replica's reply signature covers: its id, the body, and its attachments.
Bytes ReplyStatement(uint32_t replica, ByteSpan body, const pb::ReplyAttachments& attachments);

// What a Rejection signature covers.
Bytes RejectionStatement(uint32_t replica, ByteSpan request_id, uint32_t code,
                         absl::string_view message);

// What a ReplicaStatus signature covers (every field but the signature): the cluster id
// and the query's nonce included, so a status signed for another cluster, or recorded
// and replayed to answer a later query, is refused.
Bytes StatusStatement(const pb::ReplicaStatus& status);

// The size a status query's nonce must have (ClientFrame.status_query).
inline constexpr size_t kStatusNonceBytesMin = 16;
inline constexpr size_t kStatusNonceBytesMax = 64;

// The signed attributes of an integrity checkout's certificate
// (evidence/integrity_certificate.h): cluster id, document, version, owner and SHA-256
// from the checkout result, and the consensus time of the epoch that ordered it. Every
// correct replica computes the same bytes from the reply body, and the service key's
// signature shares are over them. INVALID_ARGUMENT for a result that cannot have one.
absl::StatusOr<Bytes> IntegrityAttributes(absl::string_view cluster_id, const pb::CheckOutResult& check_out,
                                          int64_t consensus_time_ms);

// What a replica signs in a checkpoint vote: after committing `epoch` of cluster
// `cluster_id`, its replicated state hashes to `state_digest` and its log head is
// `log_head`, at consensus time `consensus_time_ms`, and the state is `state_entries`
// entries of `state_bytes` key and value bytes. 2f+1 such signatures on one statement
// make a stable checkpoint, which a replica that lost its state may install; the size
// bounds what a transfer of it may bring.
Bytes CheckpointStatement(absl::string_view cluster_id, uint64_t epoch, ByteSpan state_digest,
                          ByteSpan log_head, int64_t consensus_time_ms, uint64_t state_entries,
                          uint64_t state_bytes);

}  // namespace belfry::wire

#endif  // BELFRY_WIRE_STATEMENTS_H_
