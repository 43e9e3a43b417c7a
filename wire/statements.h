// wire/statements.h — the exact bytes that replicas and clients sign, hash and bind.
//
// A signature is only as good as the agreement on what was signed. Replicas (which sign
// replies and integrity certificates' attributes) and clients (which verify them) both
// build those byte strings here, each with its own domain string so a signature for one
// purpose can never be replayed as another. What requests sign (the request signing
// message, session-key proofs, TDH2 labels) is beside this file, in
// wire/request_format.h. Every variable-length field is length-prefixed.
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
#include "wire/request_format.h"  // Digest, Sha256

namespace belfry::wire {

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

// The accuracy every Belfry time-stamp token states: one second. genTime is the epoch's
// consensus time, the lower median of the proposers' clock readings (never below the
// previous epoch's), which lies between two correct replicas' readings; the bound holds
// while correct replicas keep their clocks within a second of UTC (deploy with NTP).
inline constexpr uint32_t kStampAccuracySeconds = 1;

// TimeStampSigning: what a stamp reply body determines — the token's TSTInfo and the
// signed attributes over it, the bytes the service key's shares are over.
struct TimeStampSigning {
  Bytes tst_info;
  Bytes signed_attributes;
};

// The serial number of the token a stamp ordered at (`epoch`, `position`) gets: epoch ·
// 2^32 + position, as a big-endian magnitude without leading zeros. One log position
// holds one request, so serial numbers never repeat within a cluster's log.
Bytes StampSerialNumber(uint64_t epoch, uint32_t position);

// The time-stamp token's content for an OK stamp reply `body` whose result carries
// `stamp`, signed by the holder of `service_cert_der`: TSTInfo with Belfry's policy,
// messageImprint and nonce from `stamp`, serialNumber StampSerialNumber(epoch, position),
// genTime the body's consensus time, accuracy kStampAccuracySeconds, and the log-head
// extension holding the body's log head (the head after the epoch that ordered the
// stamp, so the token names the log that contains its own request). A pure function of
// its inputs: every correct replica and the client compute the same bytes.
// INVALID_ARGUMENT for a body or result that cannot have a token.
absl::StatusOr<TimeStampSigning> TimeStampAttributes(const pb::ReplyBody& body, const pb::StampResult& stamp,
                                                     ByteSpan service_cert_der);

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
