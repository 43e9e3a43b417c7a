#include "wire/request_format.h"

#include "base/sha256.h"

namespace belfry::wire {

Digest Sha256(ByteSpan data) { return Sha256Of(data.data(), data.size()); }

Bytes RequestSigningMessage(std::string_view body) {
  ByteWriter w;
  w.Raw(kRequestDomain).Raw(body);
  return w.Take();
}

Bytes SessionKeyProofMessage(std::string_view cluster_id, std::string_view uid,
                             ByteSpan session_public_key, int64_t client_time_ms,
                             ByteSpan nonce) {
  ByteWriter w;
  w.LengthPrefixed(kSessionKeyProofDomain)
      .LengthPrefixed(cluster_id)
      .LengthPrefixed(uid)
      .LengthPrefixed(session_public_key)
      .U64(static_cast<uint64_t>(client_time_ms))
      .LengthPrefixed(nonce);
  return w.Take();
}

Bytes DocumentLabel(std::string_view cluster_id, std::string_view doc, ByteSpan version_nonce) {
  ByteWriter w;
  w.LengthPrefixed(kDocumentLabelDomain)
      .LengthPrefixed(cluster_id)
      .LengthPrefixed(doc)
      .LengthPrefixed(version_nonce);
  return w.Take();
}

const char* StatusName(pb::Status status) {
  switch (status) {
    case pb::STATUS_UNSPECIFIED: return "UNSPECIFIED";
    case pb::STATUS_OK: return "OK";
    case pb::STATUS_ACCESS_DENIED: return "ACCESS_DENIED";
    case pb::STATUS_NO_SUCH_DOCUMENT: return "NO_SUCH_DOCUMENT";
    case pb::STATUS_INTEGRITY_FAILURE: return "INTEGRITY_FAILURE";
    case pb::STATUS_MALFORMED_REQUEST: return "MALFORMED_REQUEST";
    case pb::STATUS_WRONG_CLUSTER: return "WRONG_CLUSTER";
    case pb::STATUS_LOGIN_BAD_CERTIFICATE: return "LOGIN_BAD_CERTIFICATE";
    case pb::STATUS_LOGIN_WRONG_ROLE: return "LOGIN_WRONG_ROLE";
    case pb::STATUS_LOGIN_UID_MISMATCH: return "LOGIN_UID_MISMATCH";
    case pb::STATUS_LOGIN_BAD_SIGNATURE: return "LOGIN_BAD_SIGNATURE";
    case pb::STATUS_LOGIN_BAD_SESSION_PROOF: return "LOGIN_BAD_SESSION_PROOF";
    case pb::STATUS_LOGIN_STALE: return "LOGIN_STALE";
    case pb::STATUS_SESSION_KEY_REUSED: return "SESSION_KEY_REUSED";
    case pb::STATUS_LOGIN_REVOKED: return "LOGIN_REVOKED";
    case pb::STATUS_USER_REVOKED: return "USER_REVOKED";
    case pb::STATUS_REVOCATION_INVALID: return "REVOCATION_INVALID";
    case pb::STATUS_SESSION_UNKNOWN: return "SESSION_UNKNOWN";
    case pb::STATUS_SESSION_EXPIRED: return "SESSION_EXPIRED";
    case pb::STATUS_SESSION_ENDED: return "SESSION_ENDED";
    case pb::STATUS_BAD_SIGNATURE: return "BAD_SIGNATURE";
    case pb::STATUS_REPLAYED_SEQUENCE: return "REPLAYED_SEQUENCE";
    case pb::STATUS_RESULT_UNAVAILABLE: return "RESULT_UNAVAILABLE";
    case pb::STATUS_NOT_REQUESTER: return "NOT_REQUESTER";
    case pb::STATUS_INVALID_DOCUMENT_NAME: return "INVALID_DOCUMENT_NAME";
    case pb::STATUS_DOCUMENT_TOO_LARGE: return "DOCUMENT_TOO_LARGE";
    case pb::STATUS_INVALID_CIPHERTEXT: return "INVALID_CIPHERTEXT";
    case pb::STATUS_LABEL_REUSED: return "LABEL_REUSED";
    case pb::STATUS_INVALID_GRANT: return "INVALID_GRANT";
    case pb::STATUS_TOO_MANY_GRANTS: return "TOO_MANY_GRANTS";
    case pb::STATUS_STAMP_BAD_ALGORITHM: return "STAMP_BAD_ALGORITHM";
    case pb::STATUS_STAMP_BAD_HASH: return "STAMP_BAD_HASH";
    case pb::STATUS_STAMP_BAD_NONCE: return "STAMP_BAD_NONCE";
    case pb::STATUS_KEYS_NOT_READY: return "KEYS_NOT_READY";
    case pb::STATUS_REPLICA_MESSAGE_INVALID: return "REPLICA_MESSAGE_INVALID";
    case pb::STATUS_DKG_REFUSED: return "DKG_REFUSED";
    default: return "UNKNOWN";
  }
}

int ThreeSCode(pb::Status status) {
  switch (status) {
    case pb::STATUS_OK: return 200;
    case pb::STATUS_ACCESS_DENIED: return 702;
    case pb::STATUS_INTEGRITY_FAILURE: return 703;
    case pb::STATUS_NO_SUCH_DOCUMENT: return 704;
    default: return 700;
  }
}

StatusClass ClassifyStatus(pb::Status status) {
  switch (status) {
    case pb::STATUS_OK:
      return StatusClass::kOk;
    case pb::STATUS_ACCESS_DENIED:
    case pb::STATUS_NOT_REQUESTER:
      return StatusClass::kAccessDenied;
    case pb::STATUS_NO_SUCH_DOCUMENT:
      return StatusClass::kNoSuchDocument;
    case pb::STATUS_INTEGRITY_FAILURE:
      return StatusClass::kIntegrity;
    case pb::STATUS_MALFORMED_REQUEST:
    case pb::STATUS_INVALID_DOCUMENT_NAME:
    case pb::STATUS_DOCUMENT_TOO_LARGE:
    case pb::STATUS_INVALID_CIPHERTEXT:
    case pb::STATUS_INVALID_GRANT:
    case pb::STATUS_STAMP_BAD_ALGORITHM:
    case pb::STATUS_STAMP_BAD_HASH:
    case pb::STATUS_STAMP_BAD_NONCE:
    case pb::STATUS_REPLICA_MESSAGE_INVALID:
    case pb::STATUS_DKG_REFUSED:
      return StatusClass::kInvalidInput;
    case pb::STATUS_LOGIN_BAD_CERTIFICATE:
    case pb::STATUS_LOGIN_WRONG_ROLE:
    case pb::STATUS_LOGIN_UID_MISMATCH:
    case pb::STATUS_LOGIN_BAD_SIGNATURE:
    case pb::STATUS_LOGIN_BAD_SESSION_PROOF:
    case pb::STATUS_LOGIN_STALE:
    case pb::STATUS_SESSION_KEY_REUSED:
    case pb::STATUS_SESSION_UNKNOWN:
    case pb::STATUS_SESSION_EXPIRED:
    case pb::STATUS_SESSION_ENDED:
    case pb::STATUS_LOGIN_REVOKED:
    case pb::STATUS_USER_REVOKED:
      return StatusClass::kNotLoggedIn;
    default:
      return StatusClass::kOther;
  }
}

}  // namespace belfry::wire
