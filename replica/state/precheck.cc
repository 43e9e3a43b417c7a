#include "replica/state/precheck.h"

#include <sodium.h>

#include <climits>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "evidence/timestamp_request.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"
#include "wire/document_name.h"
#include "wire/request_format.h"

namespace belfry::state {

// The client-replica contract lives in wire/; these names read as before inside state/.
using wire::DocumentLabel;
using wire::RequestSigningMessage;
using wire::SessionKeyProofMessage;
using wire::ValidateDocumentName;
using wire::ValidateUserId;
using wire::kLoginNonceBytesMax;
using wire::kLoginNonceBytesMin;
using wire::kReplyPublicKeyBytes;
using wire::kSessionKeyBytes;
using wire::kSignatureBytes;
using wire::kVersionNonceBytes;

namespace {

Verdict Refuse(pb::Status status, std::string message) {
  return Verdict{status, std::move(message)};
}

// Unknown fields would be bytes the signer signed but no replica interprets; refusing
// them keeps "what was signed" equal to "what was executed".
bool HasUnknownFields(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* refl = m.GetReflection();
  if (!refl->GetUnknownFields(m).empty()) {
    return true;
  }
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  refl->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    if (f->is_repeated()) {
      for (int i = 0; i < refl->FieldSize(m, f); ++i) {
        if (HasUnknownFields(refl->GetRepeatedMessage(m, f, i))) {
          return true;
        }
      }
    } else if (HasUnknownFields(refl->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

bool ParseStrict(std::string_view bytes, google::protobuf::Message* m) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return false;
  }
  return m->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) && !HasUnknownFields(*m);
}

Verdict CheckDocName(std::string_view doc) {
  absl::Status s = ValidateDocumentName(doc);
  if (!s.ok()) {
    return Refuse(pb::STATUS_INVALID_DOCUMENT_NAME, std::string(s.message()));
  }
  return {};
}

Verdict CheckLoginShape(const Config& config, const pb::Login& login) {
  absl::Status uid = ValidateUserId(login.uid());
  if (!uid.ok()) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, absl::StrCat("login: ", uid.message()));
  }
  if (login.user_cert_der().empty() || login.user_cert_der().size() > config.certificate_bytes_max) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST,
                  absl::StrCat("login: certificate must be 1..", config.certificate_bytes_max,
                               " bytes"));
  }
  if (login.session_public_key().size() != kSessionKeyBytes) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, "login: session key must be 32 bytes");
  }
  if (login.nonce().size() < kLoginNonceBytesMin || login.nonce().size() > kLoginNonceBytesMax) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, "login: nonce must be 16..64 bytes");
  }
  if (login.session_key_proof().size() != kSignatureBytes) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, "login: session key proof must be 64 bytes");
  }
  return {};
}

Verdict CheckRevocationShape(const Config& config, const pb::Revocation& revocation) {
  absl::Status uid = ValidateUserId(revocation.uid());
  if (!uid.ok()) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, absl::StrCat("revocation: ", uid.message()));
  }
  if (revocation.ca_cert_der().empty() || revocation.ca_cert_der().size() > config.certificate_bytes_max) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST,
                  absl::StrCat("revocation: CA certificate must be 1..", config.certificate_bytes_max, " bytes"));
  }
  return {};
}

Verdict CheckCheckInShape(const Config& config, const pb::CheckIn& in) {
  if (Verdict v = CheckDocName(in.doc()); !v.ok()) {
    return v;
  }
  if (in.data().size() > config.document_bytes_max) {
    return Refuse(pb::STATUS_DOCUMENT_TOO_LARGE,
                  absl::StrCat("document is ", in.data().size(), " bytes; the limit is ",
                               config.document_bytes_max));
  }
  if (!in.confidential()) {
    if (!in.key_ciphertext().empty() || !in.version_nonce().empty()) {
      return Refuse(pb::STATUS_MALFORMED_REQUEST,
                    "checkin: key ciphertext and version nonce are for confidential documents");
    }
    return {};
  }
  if (in.version_nonce().size() != kVersionNonceBytes) {
    return Refuse(pb::STATUS_INVALID_CIPHERTEXT, "checkin: version nonce must be 16 bytes");
  }
  if (in.key_ciphertext().empty() || in.key_ciphertext().size() > config.key_ciphertext_bytes_max) {
    return Refuse(pb::STATUS_INVALID_CIPHERTEXT,
                  absl::StrCat("checkin: key ciphertext must be 1..",
                               config.key_ciphertext_bytes_max, " bytes"));
  }
  return {};
}

Verdict CheckGrantShape(const Config& config, const pb::Grant& g) {
  if (Verdict v = CheckDocName(g.doc()); !v.ok()) {
    return v;
  }
  if (g.all_users()) {
    if (!g.target_uid().empty()) {
      return Refuse(pb::STATUS_INVALID_GRANT, "grant: a grant to ALL names no user");
    }
  } else if (absl::Status s = ValidateUserId(g.target_uid()); !s.ok()) {
    return Refuse(pb::STATUS_INVALID_GRANT, absl::StrCat("grant: target ", s.message()));
  }
  if (g.rights() != pb::RIGHTS_CHECKIN && g.rights() != pb::RIGHTS_CHECKOUT &&
      g.rights() != pb::RIGHTS_BOTH) {
    return Refuse(pb::STATUS_INVALID_GRANT, "grant: rights must be checkin, checkout or both");
  }
  if (g.seconds() > config.grant_seconds_max) {
    return Refuse(pb::STATUS_INVALID_GRANT,
                  absl::StrCat("grant: ", g.seconds(), " seconds exceeds the limit of ",
                               config.grant_seconds_max));
  }
  return {};
}

// The stamp's fields become the TSTInfo every replica builds and signs: one encoding for
// each value (a nonce without leading zero bytes), so replicas never disagree over bytes.
Verdict CheckStampShape(const pb::Stamp& stamp) {
  const std::optional<evidence::ImprintHash> hash = evidence::ImprintHashFromOid(stamp.hash_algorithm());
  if (!hash.has_value()) {
    return Refuse(pb::STATUS_STAMP_BAD_ALGORITHM, "stamp: the hash algorithm must be SHA-256, SHA-384 or SHA-512");
  }
  const size_t digest_bytes = evidence::ImprintHashBytes(*hash);
  if (stamp.hashed_message().size() != digest_bytes) {
    return Refuse(pb::STATUS_STAMP_BAD_HASH,
                  absl::StrCat("stamp: the hash must be ", digest_bytes, " bytes for its algorithm"));
  }
  if (!stamp.has_nonce() && !stamp.nonce().empty()) {
    return Refuse(pb::STATUS_STAMP_BAD_NONCE, "stamp: a nonce is given but has_nonce is false");
  }
  if (stamp.nonce().size() > kStampNonceBytesMax) {
    return Refuse(pb::STATUS_STAMP_BAD_NONCE, "stamp: the nonce must be at most 20 bytes");
  }
  if (!stamp.nonce().empty() && stamp.nonce()[0] == '\0') {
    return Refuse(pb::STATUS_STAMP_BAD_NONCE, "stamp: the nonce must have no leading zero byte");
  }
  return {};
}

Verdict CheckSessionOpShape(const Config& config, const pb::SessionOp& op) {
  if (op.session_public_key().size() != kSessionKeyBytes) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, "session key must be 32 bytes");
  }
  if (op.seq() == 0) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, "sequence numbers start at 1");
  }
  switch (op.op_case()) {
    case pb::SessionOp::kCheckIn:
      return CheckCheckInShape(config, op.check_in());
    case pb::SessionOp::kCheckOut:
      // Without a key to seal to, a replica could only send its decryption share in the
      // clear, to whoever holds a copy of these bytes.
      if (op.check_out().reply_public_key().size() != kReplyPublicKeyBytes) {
        return Refuse(pb::STATUS_MALFORMED_REQUEST, "checkout: reply public key must be 32 bytes");
      }
      return CheckDocName(op.check_out().doc());
    case pb::SessionOp::kGrant:
      return CheckGrantShape(config, op.grant());
    case pb::SessionOp::kDelete:
      return CheckDocName(op.delete_().doc());
    case pb::SessionOp::kLogout:
      return {};
    case pb::SessionOp::kStamp:
      return CheckStampShape(op.stamp());
    case pb::SessionOp::kKeys:
      return {};
    case pb::SessionOp::OP_NOT_SET:
      break;
  }
  return Refuse(pb::STATUS_MALFORMED_REQUEST, "session operation names no operation");
}

bool VerifyEd25519(std::string_view signature, ByteSpan message, std::string_view public_key) {
  if (signature.size() != crypto_sign_BYTES || public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(signature.data()),
                                     message.data(), message.size(),
                                     reinterpret_cast<const uint8_t*>(public_key.data())) == 0;
}

}  // namespace

Verdict ParseRequest(const Config& config, std::string_view request_bytes, ParsedRequest* out) {
  if (request_bytes.size() > config.request_bytes_max()) {
    // Distinguish an oversized document from other garbage where we can: the document is
    // what users make large.
    return Refuse(pb::STATUS_DOCUMENT_TOO_LARGE,
                  absl::StrCat("request is ", request_bytes.size(), " bytes; the limit is ",
                               config.request_bytes_max()));
  }
  if (!ParseStrict(request_bytes, &out->signed_request)) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, "request does not parse as a SignedRequest");
  }
  if (out->signed_request.signature().size() != kSignatureBytes) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, "signature must be 64 bytes");
  }
  if (!ParseStrict(out->signed_request.body(), &out->body)) {
    return Refuse(pb::STATUS_MALFORMED_REQUEST, "request body does not parse");
  }
  if (out->body.cluster_id() != config.cluster_id) {
    return Refuse(pb::STATUS_WRONG_CLUSTER, "request is for another cluster");
  }
  switch (out->body.kind_case()) {
    case pb::RequestBody::kLogin:
      return CheckLoginShape(config, out->body.login());
    case pb::RequestBody::kOp:
      return CheckSessionOpShape(config, out->body.op());
    case pb::RequestBody::kRevocation:
      return CheckRevocationShape(config, out->body.revocation());
    case pb::RequestBody::kReplicaMessage:
      if (out->body.replica_message().replica() >= config.replica_keys.size()) {
        return Refuse(pb::STATUS_REPLICA_MESSAGE_INVALID,
                      "replica message: the signer is not a replica of this cluster");
      }
      if (out->body.replica_message().kind_case() == pb::ReplicaMessage::KIND_NOT_SET) {
        return Refuse(pb::STATUS_MALFORMED_REQUEST, "replica message: no message");
      }
      return {};
    case pb::RequestBody::KIND_NOT_SET:
      break;
  }
  return Refuse(pb::STATUS_MALFORMED_REQUEST,
                "request is neither a login, a session operation, a revocation nor a replica "
                "message");
}

Verdict VerifyRequestCrypto(const Config& config, const CiphertextCheck& ciphertexts,
                            const ParsedRequest& request) {
  const pb::RequestBody& body = request.body;
  if (body.has_login()) {
    const pb::Login& login = body.login();
    const Bytes proof_message = SessionKeyProofMessage(
        body.cluster_id(), login.uid(), AsBytes(login.session_public_key()),
        login.client_time_ms(), AsBytes(login.nonce()));
    if (!VerifyEd25519(login.session_key_proof(), proof_message, login.session_public_key())) {
      return Refuse(pb::STATUS_LOGIN_BAD_SESSION_PROOF,
                    "login: the session key proof does not verify");
    }
    return {};
  }
  // A revocation's signature is checked against the genesis CA at execution (the CA
  // bundle lives in the state machine).
  if (body.has_revocation()) return {};
  if (body.has_replica_message()) {
    const std::array<uint8_t, 32>& key = config.replica_keys[body.replica_message().replica()];
    if (!VerifyEd25519(request.signed_request.signature(),
                       RequestSigningMessage(request.signed_request.body()),
                       AsStringView(ByteSpan(key)))) {
      return Refuse(pb::STATUS_REPLICA_MESSAGE_INVALID,
                    "replica message: the signature does not verify under the replica's key");
    }
    return {};
  }
  const pb::SessionOp& op = body.op();
  const Bytes message = RequestSigningMessage(request.signed_request.body());
  if (!VerifyEd25519(request.signed_request.signature(), message, op.session_public_key())) {
    return Refuse(pb::STATUS_BAD_SIGNATURE, "the signature does not verify under the session key");
  }
  // A generated key lives in the state: the state machine checks the ciphertext against
  // it at execution (state_machine.cc), where the state is at hand.
  if (op.has_check_in() && op.check_in().confidential() && !config.distributed_encryption_key) {
    const pb::CheckIn& in = op.check_in();
    const Bytes label = DocumentLabel(config.cluster_id, in.doc(), AsBytes(in.version_nonce()));
    if (!ciphertexts.Check(in.key_ciphertext(), label).ok()) {
      return Refuse(pb::STATUS_INVALID_CIPHERTEXT,
                    "checkin: the key ciphertext is invalid or not bound to this document's "
                    "label");
    }
  }
  return {};
}

Verdict PrecheckRequest(const Config& config, const CiphertextCheck& ciphertexts,
                        std::string_view request_bytes) {
  ParsedRequest parsed;
  if (Verdict v = ParseRequest(config, request_bytes, &parsed); !v.ok()) {
    return v;
  }
  return VerifyRequestCrypto(config, ciphertexts, parsed);
}

}  // namespace belfry::state
