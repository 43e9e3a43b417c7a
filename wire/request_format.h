// wire/request_format.h — the byte strings that requests sign and that bind a
// confidential document's key to its place, and the meaning of every result status.
//
// These encodings are the contract between the client library and every replica: a
// client builds the exact bytes below, signs or encrypts under them, and a replica
// recomputes them. Each starts with its own domain string, so a signature or a label made
// for one purpose is never valid for another. Fields are length-prefixed (base/bytes.h),
// so no two field lists share an encoding. Pure functions; thread-safe.
#ifndef BELFRY_WIRE_REQUEST_FORMAT_H_
#define BELFRY_WIRE_REQUEST_FORMAT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "proto/service.pb.h"

namespace belfry::wire {

// Sizes fixed by the wire format.
inline constexpr size_t kSessionKeyBytes = 32;    // Ed25519 public key
inline constexpr size_t kSignatureBytes = 64;     // Ed25519 signature
inline constexpr size_t kVersionNonceBytes = 16;  // CheckIn.version_nonce
inline constexpr size_t kLoginNonceBytesMin = 16;
inline constexpr size_t kLoginNonceBytesMax = 64;
inline constexpr size_t kDigestBytes = 32;        // SHA-256
inline constexpr size_t kReplyPublicKeyBytes = 32;  // CheckOut.reply_public_key (X25519)

// Domain strings. Fixed and distinct; a version suffix lets a later format coexist.
inline constexpr std::string_view kRequestDomain = "belfry/request/v1";
inline constexpr std::string_view kSessionKeyProofDomain = "belfry/session-key-proof/v1";
inline constexpr std::string_view kDocumentLabelDomain = "belfry/tdh2-label/v1";

using Digest = std::array<uint8_t, kDigestBytes>;

// SHA-256 of `data` (OpenSSL, through base/sha256.h).
Digest Sha256(ByteSpan data);
inline Digest Sha256(std::string_view data) { return Sha256(AsBytes(data)); }

// RequestId: SHA-256 of the whole SignedRequest bytes. Replies and logs name a request by
// it; a retransmission (byte-identical request) has the same id.
inline Digest RequestId(std::string_view signed_request_bytes) {
  return Sha256(signed_request_bytes);
}

// RequestSigningMessage: kRequestDomain || body — what SignedRequest.signature signs,
// with the user's long-term key for a Login and the session key for a SessionOp.
Bytes RequestSigningMessage(std::string_view body);

// SessionKeyProofMessage: what Login.session_key_proof signs with the session key:
// kSessionKeyProofDomain, then cluster_id, uid, the session key, client_time_ms and the
// nonce. It binds the key to this user's login, so the key cannot be claimed by another.
Bytes SessionKeyProofMessage(std::string_view cluster_id, std::string_view uid,
                             ByteSpan session_public_key, int64_t client_time_ms,
                             ByteSpan nonce);

// DocumentLabel: the TDH2 label under which a confidential document's key is encrypted:
// kDocumentLabelDomain, then cluster_id, doc and version_nonce. Replicas accept a
// ciphertext only under exactly this label, and each label only once.
Bytes DocumentLabel(std::string_view cluster_id, std::string_view doc, ByteSpan version_nonce);

// StatusName: the enum value's name without the STATUS_ prefix ("ACCESS_DENIED"), or
// "UNKNOWN" for a value this build does not know.
const char* StatusName(pb::Status status);

// ThreeSCode: the classic 3S code: 200 OK, 702 access denied, 703 integrity, 704 no such
// document, 700 for every other failure.
int ThreeSCode(pb::Status status);

// StatusClass: how a client reports a status (the CLI maps each class to an exit code).
enum class StatusClass : uint8_t {
  kOk,
  kInvalidInput,     // the request itself was wrong: name, size, grant, ciphertext, shape
  kNotLoggedIn,      // login refused, or the session is unknown, ended or expired
  kAccessDenied,     // 3S 702
  kNoSuchDocument,   // 3S 704
  kIntegrity,        // 3S 703
  kOther,            // 3S 700
};
StatusClass ClassifyStatus(pb::Status status);

}  // namespace belfry::wire

#endif  // BELFRY_WIRE_REQUEST_FORMAT_H_
