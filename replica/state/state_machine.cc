#include "replica/state/state_machine.h"

#include <sodium.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "proto/storage.pb.h"
#include "replica/state/key_generation.h"
#include "replica/state/precheck.h"
#include "replica/state/state_keys.h"
#include "replica/state/tdh2_ciphertext_check.h"

namespace belfry::state {

// The client-replica contract lives in wire/; these names read as before inside state/.
using wire::Digest;
using wire::DocumentLabel;
using wire::RequestId;
using wire::RequestSigningMessage;
using wire::Sha256;

namespace {

// Consensus times at or above this are refused as a caller bug: it keeps every
// "time + seconds * 1000" far from int64 overflow.
constexpr int64_t kConsensusTimeMsLimit = int64_t{1} << 53;

pb::Result Refusal(pb::Status status, std::string message) {
  pb::Result r;
  r.set_status(status);
  r.set_message(std::move(message));
  return r;
}

pb::Result Refusal(const Verdict& v) { return Refusal(v.status, v.message); }

// Reads and parses one record; a record that does not parse is local corruption.
template <typename T>
absl::StatusOr<std::optional<T>> ReadRecord(const StateView& view, const std::string& key) {
  BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> bytes, view.Get(key));
  if (!bytes.has_value()) {
    return std::optional<T>();
  }
  T record;
  if (!record.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat("stored ", T::descriptor()->name(),
                                            " record does not parse (key ",
                                            ToHex(AsBytes(key)), ")"));
  }
  return std::optional<T>(std::move(record));
}

void WriteRecord(StateView& view, std::string key, const google::protobuf::Message& record) {
  view.Put(std::move(key), record.SerializeAsString());
}

bool VerifyEd25519(std::string_view signature, ByteSpan message, ByteSpan public_key) {
  return signature.size() == crypto_sign_BYTES &&
         public_key.size() == crypto_sign_PUBLICKEYBYTES &&
         crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(signature.data()),
                                     message.data(), message.size(), public_key.data()) == 0;
}

// The lowest seq still inside a session's window is WindowFloor(high) + 1.
uint64_t WindowFloor(uint64_t high_seq, uint32_t window) {
  return high_seq > window ? high_seq - window : 0;
}

bool RightsInclude(pb::Rights rights, pb::Rights wanted) {
  return rights == pb::RIGHTS_BOTH || rights == wanted;
}

// The effective right of `uid`: the latest grant on the document whose target is uid or
// ALL, if it has not expired at `now_ms`. The owner is handled by the caller.
bool HasRight(const pb::DocumentMeta& meta, std::string_view uid, pb::Rights wanted,
              int64_t now_ms) {
  const pb::GrantRecord* latest = meta.has_all_grant() ? &meta.all_grant() : nullptr;
  const auto& users = meta.user_grants();
  auto it = std::lower_bound(users.begin(), users.end(), uid,
                             [](const pb::GrantRecord& g, std::string_view u) { return g.uid() < u; });
  if (it != users.end() && it->uid() == uid && (latest == nullptr || it->order() > latest->order())) {
    latest = &*it;
  }
  return latest != nullptr && now_ms < latest->expires_ms() &&
         RightsInclude(latest->rights(), wanted);
}

// Applies a grant and drops records that can no longer decide anything: personal grants
// older than a new ALL grant (it overrides them), and, while no unexpired ALL grant
// exists, every expired grant (with no ALL grant to fall back to, an expired latest grant
// and no grant mean the same thing). An expired personal grant newer than an unexpired
// ALL grant is kept: it is what denies that user.
void ApplyGrant(pb::DocumentMeta& meta, pb::GrantRecord grant, int64_t now_ms) {
  auto* users = meta.mutable_user_grants();
  if (grant.all_users()) {
    *meta.mutable_all_grant() = std::move(grant);
    users->Clear();
  } else {
    auto it = std::lower_bound(users->begin(), users->end(), grant.uid(),
                               [](const pb::GrantRecord& g, const std::string& u) { return g.uid() < u; });
    if (it != users->end() && it->uid() == grant.uid()) {
      *it = std::move(grant);
    } else {
      // RepeatedPtrField has no insert: append, then rotate into sorted position.
      const int pos = static_cast<int>(it - users->begin());
      *users->Add() = std::move(grant);
      for (int i = users->size() - 1; i > pos; --i) {
        users->SwapElements(i, i - 1);
      }
    }
  }
  if (meta.has_all_grant() && meta.all_grant().expires_ms() > now_ms) {
    return;
  }
  meta.clear_all_grant();
  pb::DocumentMeta kept;
  for (pb::GrantRecord& g : *users) {
    if (g.expires_ms() > now_ms) {
      *kept.add_user_grants() = std::move(g);
    }
  }
  users->Swap(kept.mutable_user_grants());
}

Operation OperationOf(const pb::RequestBody& body) {
  if (body.has_login()) return Operation::kLogin;
  if (body.has_revocation()) return Operation::kRevoke;
  if (body.has_replica_message()) return Operation::kReplica;
  switch (body.op().op_case()) {
    case pb::SessionOp::kCheckIn: return Operation::kCheckIn;
    case pb::SessionOp::kCheckOut: return Operation::kCheckOut;
    case pb::SessionOp::kGrant: return Operation::kGrant;
    case pb::SessionOp::kDelete: return Operation::kDelete;
    case pb::SessionOp::kLogout: return Operation::kLogout;
    case pb::SessionOp::kStamp: return Operation::kStamp;
    case pb::SessionOp::kKeys: return Operation::kKeys;
    case pb::SessionOp::OP_NOT_SET: break;
  }
  return Operation::kUnparsed;
}

// Executor: executes the requests of one batch; lives for one ExecuteBatch call.
class Executor {
 public:
  Executor(const Config& config, const pki::CaBundle& ca, const CiphertextCheck& ciphertexts,
           StateView& view, uint64_t epoch, int64_t now_ms,
           const std::function<bool(const Digest&)>& crypto_verified)
      : config_(config), ca_(ca), ciphertexts_(ciphertexts), view_(view), epoch_(epoch),
        now_ms_(now_ms), crypto_verified_(crypto_verified) {}

  absl::StatusOr<Executed> Execute(std::string_view request_bytes) {
    Executed ex;
    ex.request_id = RequestId(request_bytes);
    ex.original_epoch = epoch_;
    ParsedRequest req;
    Verdict v = ParseRequest(config_, request_bytes, &req);
    if (v.ok()) {
      ex.op = OperationOf(req.body);
      if (!crypto_verified_ || !crypto_verified_(ex.request_id)) {
        v = VerifyRequestCrypto(config_, ciphertexts_, req);
      }
    }
    if (!v.ok()) {
      ex.result = Refusal(v);
      return ex;
    }
    if (req.body.has_login()) {
      BELFRY_RETURN_IF_ERROR(ExecuteLogin(req, &ex));
    } else if (req.body.has_revocation()) {
      BELFRY_RETURN_IF_ERROR(ExecuteRevocation(req, &ex));
    } else if (req.body.has_replica_message()) {
      ex.uid = absl::StrCat("replica-", req.body.replica_message().replica());
      BELFRY_RETURN_IF_ERROR(ExecuteReplicaMessage(config_, view_, epoch_, now_ms_,
                                                   req.body.replica_message(), &ex.result));
    } else {
      BELFRY_RETURN_IF_ERROR(ExecuteSessionOp(req, &ex));
    }
    return ex;
  }

 private:
  // ---- login ----

  absl::Status ExecuteLogin(const ParsedRequest& req, Executed* ex) {
    const pb::Login& login = req.body.login();
    absl::StatusOr<pki::CertIdentity> id =
        ca_.Verify(AsBytes(login.user_cert_der()), now_ms_ / 1000);
    if (!id.ok()) {
      // The pki message is not used: it may differ between library builds, and results
      // must be byte-identical at every replica.
      ex->result = Refusal(pb::STATUS_LOGIN_BAD_CERTIFICATE,
                           "login: the certificate is not valid for this cluster at this time");
      return absl::OkStatus();
    }
    if (id->role != pki::Role::kUser) {
      ex->result = Refusal(pb::STATUS_LOGIN_WRONG_ROLE, "login: the certificate is not a user's");
      return absl::OkStatus();
    }
    if (id->common_name != login.uid()) {
      ex->result = Refusal(pb::STATUS_LOGIN_UID_MISMATCH,
                           "login: the certificate belongs to another user");
      return absl::OkStatus();
    }
    if (!VerifyEd25519(req.signed_request.signature(),
                       RequestSigningMessage(req.signed_request.body()),
                       ByteSpan(id->ed25519_public_key))) {
      ex->result = Refusal(pb::STATUS_LOGIN_BAD_SIGNATURE,
                           "login: the signature does not verify under the certificate's key");
      return absl::OkStatus();
    }
    BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> revoked, view_.Get(RevokedKey(login.uid())));
    if (revoked.has_value()) {
      ex->result = Refusal(pb::STATUS_LOGIN_REVOKED, "login: the user was revoked");
      return absl::OkStatus();
    }
    const std::string user_key = UserKey(login.uid());
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::UserRecord> user,
                            ReadRecord<pb::UserRecord>(view_, user_key));
    const int64_t t = login.client_time_ms();
    if (t < now_ms_ - config_.login_clock_skew_ms_max ||
        t > now_ms_ + config_.login_clock_skew_ms_max) {
      ex->result = Refusal(pb::STATUS_LOGIN_STALE,
                           "login: the client time is too far from consensus time");
      return absl::OkStatus();
    }
    if (user.has_value() && t <= user->last_login_client_time_ms()) {
      ex->result = Refusal(pb::STATUS_LOGIN_STALE,
                           "login: the client time is not after the user's previous login");
      return absl::OkStatus();
    }
    const ByteSpan session_pk = AsBytes(login.session_public_key());
    BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> existing, view_.Get(SessionKey(session_pk)));
    if (existing.has_value()) {
      ex->result = Refusal(pb::STATUS_SESSION_KEY_REUSED,
                           "login: this session key has been registered before");
      return absl::OkStatus();
    }

    // Accepted: end the previous session, then register the new one.
    if (user.has_value() && !user->session_public_key().empty()) {
      BELFRY_RETURN_IF_ERROR(EndPreviousSession(AsBytes(user->session_public_key())));
    }
    pb::SessionRecord session;
    session.set_uid(login.uid());
    session.set_state(pb::SESSION_STATE_ACTIVE);
    session.set_created_ms(now_ms_);
    session.set_expires_ms(std::min<int64_t>(now_ms_ + int64_t{config_.session_seconds} * 1000,
                                             std::max<int64_t>(id->not_after_unix_s, 0) * 1000));
    session.set_high_seq(0);
    WriteRecord(view_, SessionKey(session_pk), session);

    pb::UserRecord updated;
    updated.set_uid(login.uid());
    updated.set_session_public_key(login.session_public_key());
    updated.set_last_login_client_time_ms(t);
    updated.set_last_login_ms(now_ms_);
    WriteRecord(view_, user_key, updated);

    ex->uid = login.uid();
    ex->result.set_status(pb::STATUS_OK);
    ex->result.set_message("logged in");
    ex->result.mutable_login()->set_uid(login.uid());
    ex->result.mutable_login()->set_session_expires_ms(session.expires_ms());
    return absl::OkStatus();
  }

  // ---- revocation ----

  // Only a key of the genesis CA revokes. From this log position on the user's logins and
  // session operations are refused, and its session ends, at every correct replica alike:
  // unlike the CRL, which a faulty replica can ignore, this is part of the ordered state.
  absl::Status ExecuteRevocation(const ParsedRequest& req, Executed* ex) {
    const pb::Revocation& revocation = req.body.revocation();
    const std::optional<std::array<uint8_t, 32>> ca_key = ca_.CaPublicKey(AsBytes(revocation.ca_cert_der()));
    if (!ca_key.has_value() ||
        !VerifyEd25519(req.signed_request.signature(), RequestSigningMessage(req.signed_request.body()),
                       ByteSpan(*ca_key))) {
      ex->result = Refusal(pb::STATUS_REVOCATION_INVALID,
                           "revocation: not signed by the key of one of the cluster's CA certificates");
      return absl::OkStatus();
    }
    const std::string key = RevokedKey(revocation.uid());
    BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> already, view_.Get(key));
    if (!already.has_value()) {
      pb::RevocationRecord record;
      record.set_revoked_ms(now_ms_);
      WriteRecord(view_, key, record);
      BELFRY_ASSIGN_OR_RETURN(std::optional<pb::UserRecord> user,
                              ReadRecord<pb::UserRecord>(view_, UserKey(revocation.uid())));
      if (user.has_value() && !user->session_public_key().empty()) {
        const std::string session_key = SessionKey(AsBytes(user->session_public_key()));
        BELFRY_ASSIGN_OR_RETURN(std::optional<pb::SessionRecord> session,
                                ReadRecord<pb::SessionRecord>(view_, session_key));
        if (session.has_value() && session->state() == pb::SESSION_STATE_ACTIVE) {
          session->set_state(pb::SESSION_STATE_REVOKED);
          WriteRecord(view_, session_key, *session);
        }
      }
    }
    ex->result.set_status(pb::STATUS_OK);
    ex->result.set_message(already.has_value() ? "the user was revoked already" : "revoked");
    ex->result.mutable_revocation()->set_uid(revocation.uid());
    ex->result.mutable_revocation()->set_newly_revoked(!already.has_value());
    return absl::OkStatus();
  }

  // Marks the user's previous session replaced (if still active) and drops its stored
  // results: one active session per user, and results only for the latest one.
  absl::Status EndPreviousSession(ByteSpan session_pk) {
    const std::string key = SessionKey(session_pk);
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::SessionRecord> prev,
                            ReadRecord<pb::SessionRecord>(view_, key));
    if (!prev.has_value()) {
      return absl::DataLossError("a user record names a session that does not exist");
    }
    const uint64_t high = prev->high_seq();
    for (uint64_t s = WindowFloor(high, config_.session_window_requests) + 1; s <= high && s != 0;
         ++s) {
      view_.Delete(ResultKey(session_pk, s));
    }
    if (prev->state() == pb::SESSION_STATE_ACTIVE) {
      prev->set_state(pb::SESSION_STATE_REPLACED);
    }
    WriteRecord(view_, key, *prev);
    return absl::OkStatus();
  }

  // ---- session operations ----

  absl::Status ExecuteSessionOp(const ParsedRequest& req, Executed* ex) {
    const pb::SessionOp& op = req.body.op();
    const ByteSpan pk = AsBytes(op.session_public_key());
    const std::string session_key = SessionKey(pk);
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::SessionRecord> session,
                            ReadRecord<pb::SessionRecord>(view_, session_key));
    if (!session.has_value()) {
      ex->result = Refusal(pb::STATUS_SESSION_UNKNOWN, "no session has this key");
      return absl::OkStatus();
    }
    const uint32_t window = config_.session_window_requests;
    const uint64_t floor = WindowFloor(session->high_seq(), window);
    const uint64_t seq = op.seq();
    if (seq > floor) {
      BELFRY_ASSIGN_OR_RETURN(std::optional<pb::StoredResult> stored,
                              ReadRecord<pb::StoredResult>(view_, ResultKey(pk, seq)));
      if (stored.has_value()) {
        if (stored->request_id() != AsStringView(ByteSpan(ex->request_id))) {
          ex->result = Refusal(pb::STATUS_REPLAYED_SEQUENCE,
                               "this sequence number was used by a different request");
          return absl::OkStatus();
        }
        ex->uid = session->uid();
        return ReturnStored(std::move(*stored), *session, op, ex);
      }
    }
    if (session->state() == pb::SESSION_STATE_REVOKED) {
      ex->result = Refusal(pb::STATUS_USER_REVOKED, "the session's user was revoked");
      return absl::OkStatus();
    }
    if (session->state() != pb::SESSION_STATE_ACTIVE) {
      ex->result = Refusal(pb::STATUS_SESSION_ENDED,
                           session->state() == pb::SESSION_STATE_LOGGED_OUT
                               ? "the session was logged out"
                               : "the session was replaced by a newer login");
      return absl::OkStatus();
    }
    if (now_ms_ >= session->expires_ms()) {
      ex->result = Refusal(pb::STATUS_SESSION_EXPIRED, "the session has expired");
      return absl::OkStatus();
    }
    if (seq <= floor) {
      ex->result = Refusal(pb::STATUS_REPLAYED_SEQUENCE,
                           "the sequence number is below the session's window");
      return absl::OkStatus();
    }

    ex->uid = session->uid();
    pb::Result result;
    switch (op.op_case()) {
      case pb::SessionOp::kCheckIn: {
        BELFRY_ASSIGN_OR_RETURN(result, CheckIn(session->uid(), op.check_in()));
        break;
      }
      case pb::SessionOp::kCheckOut: {
        BELFRY_ASSIGN_OR_RETURN(result, CheckOut(session->uid(), op.check_out().doc(),
                                                 &ex->decryption));
        SetRecipient(op, ex);
        break;
      }
      case pb::SessionOp::kGrant: {
        BELFRY_ASSIGN_OR_RETURN(result, Grant(session->uid(), op.grant()));
        break;
      }
      case pb::SessionOp::kDelete: {
        BELFRY_ASSIGN_OR_RETURN(result, Delete(session->uid(), op.delete_().doc()));
        break;
      }
      case pb::SessionOp::kLogout: {
        session->set_state(pb::SESSION_STATE_LOGGED_OUT);
        result.set_status(pb::STATUS_OK);
        result.set_message("logged out");
        result.mutable_logout();
        break;
      }
      case pb::SessionOp::kStamp: {
        result = Stamp(op.stamp());
        break;
      }
      case pb::SessionOp::kKeys: {
        BELFRY_ASSIGN_OR_RETURN(result, Keys());
        break;
      }
      case pb::SessionOp::OP_NOT_SET:
        BELFRY_CHECK(false);  // ParseRequest refuses it
    }
    RecordResult(pk, seq, ex->request_id, result, &*session);
    WriteRecord(view_, session_key, *session);
    ex->result = std::move(result);
    return absl::OkStatus();
  }

  // Stores the outcome under its seq and slides the window: results that fall below the
  // new floor are deleted (at most W of them, whatever the jump in seq).
  void RecordResult(ByteSpan pk, uint64_t seq, const Digest& request_id, const pb::Result& result,
                    pb::SessionRecord* session) {
    pb::StoredResult stored;
    stored.set_request_id(request_id.data(), request_id.size());
    *stored.mutable_result() = result;
    stored.set_epoch(epoch_);
    if (result.status() == pb::STATUS_OK && result.has_check_out()) {
      stored.mutable_result()->mutable_check_out()->clear_data();
      stored.mutable_result()->mutable_check_out()->clear_key_ciphertext();
      stored.set_payload_elided(true);
    }
    WriteRecord(view_, ResultKey(pk, seq), stored);
    const uint64_t high = session->high_seq();
    if (seq <= high) {
      return;
    }
    const uint32_t window = config_.session_window_requests;
    const uint64_t last_dropped = std::min(WindowFloor(seq, window), high);
    for (uint64_t s = WindowFloor(high, window) + 1; s <= last_dropped; ++s) {
      view_.Delete(ResultKey(pk, s));
    }
    session->set_high_seq(seq);
  }

  // The decryption share goes to the key the checkout carries, and to nobody else.
  static void SetRecipient(const pb::SessionOp& op, Executed* ex) {
    if (ex->decryption.has_value()) {
      const std::string& key = op.check_out().reply_public_key();
      ex->decryption->recipient_key.assign(key.begin(), key.end());
    }
  }

  absl::Status ReturnStored(pb::StoredResult stored, const pb::SessionRecord& session,
                            const pb::SessionOp& op, Executed* ex) {
    ex->retransmission = true;
    ex->original_epoch = stored.epoch();
    if (!stored.payload_elided()) {
      ex->result = std::move(*stored.mutable_result());
      return absl::OkStatus();
    }
    // A checkout: rebuilding it releases the document and a decryption share again, so it
    // is judged again as of now. Request bytes outlive the session that signed them (every
    // replica keeps them in its log), and a copy must not read what its signer no longer
    // may: after a logout, a newer login, the session's expiry or the loss of the right.
    const pb::CheckOutResult& original = stored.result().check_out();
    if (session.state() == pb::SESSION_STATE_REVOKED) {
      ex->result = Refusal(pb::STATUS_USER_REVOKED, "a repeated checkout: the session's user was revoked");
      return absl::OkStatus();
    }
    if (session.state() != pb::SESSION_STATE_ACTIVE) {
      ex->result = Refusal(pb::STATUS_SESSION_ENDED,
                           "a repeated checkout: the session that made it has ended");
      return absl::OkStatus();
    }
    if (now_ms_ >= session.expires_ms()) {
      ex->result = Refusal(pb::STATUS_SESSION_EXPIRED,
                           "a repeated checkout: the session that made it has expired");
      return absl::OkStatus();
    }
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DocumentMeta> meta,
                            ReadRecord<pb::DocumentMeta>(view_, DocMetaKey(original.doc())));
    if (meta.has_value() && session.uid() != meta->owner() &&
        !HasRight(*meta, session.uid(), pb::RIGHTS_CHECKOUT, now_ms_)) {
      ex->result = Refusal(pb::STATUS_ACCESS_DENIED,
                           "a repeated checkout: the user no longer has a checkout right");
      return absl::OkStatus();
    }
    if (!meta.has_value() || meta->version() != original.version()) {
      ex->result = Refusal(pb::STATUS_RESULT_UNAVAILABLE,
                           "the checkout was executed before, and that version of the document "
                           "is no longer stored");
      return absl::OkStatus();
    }
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DocumentContent> content, LoadVerifiedContent(*meta));
    if (!content.has_value()) {
      ex->result = IntegrityRefusal();
      return absl::OkStatus();
    }
    ex->result = std::move(*stored.mutable_result());
    FillCheckOut(*meta, std::move(*content), ex->result.mutable_check_out(), &ex->decryption);
    SetRecipient(op, ex);
    return absl::OkStatus();
  }

  // ---- the 3S operations: each reads, decides, and writes only on success ----

  absl::StatusOr<pb::Result> CheckIn(const std::string& uid, const pb::CheckIn& in) {
    const std::string meta_key = DocMetaKey(in.doc());
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DocumentMeta> meta,
                            ReadRecord<pb::DocumentMeta>(view_, meta_key));
    const bool created = !meta.has_value();
    if (!created && uid != meta->owner() &&
        !HasRight(*meta, uid, pb::RIGHTS_CHECKIN, now_ms_)) {
      return Refusal(pb::STATUS_ACCESS_DENIED, "checkin: no checkin right on this document");
    }
    std::string label_key;
    if (in.confidential()) {
      const Bytes label = DocumentLabel(config_.cluster_id, in.doc(), AsBytes(in.version_nonce()));
      if (config_.distributed_encryption_key) {
        // The stateless check could not run: the key is only in the state.
        BELFRY_ASSIGN_OR_RETURN(const CiphertextCheck* generated, GeneratedKeyCheck());
        if (generated == nullptr) {
          return Refusal(pb::STATUS_KEYS_NOT_READY,
                         "checkin: the cluster's encryption key is still being generated");
        }
        if (!generated->Check(in.key_ciphertext(), label).ok()) {
          return Refusal(pb::STATUS_INVALID_CIPHERTEXT,
                         "checkin: the key ciphertext is invalid or not bound to this "
                         "document's label");
        }
      }
      label_key = LabelKey(Sha256(label));
      BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> used, view_.Get(label_key));
      if (used.has_value()) {
        return Refusal(pb::STATUS_LABEL_REUSED,
                       "checkin: this version nonce was already used for this document");
      }
    }
    BELFRY_ASSIGN_OR_RETURN(uint64_t version, NextCounter());
    const Digest sha = Sha256(in.data());
    if (created) {
      meta.emplace();
      meta->set_name(in.doc());
      meta->set_owner(uid);
    }
    meta->set_confidential(in.confidential());
    meta->set_integrity(in.integrity());
    meta->set_version(version);
    meta->set_sha256(sha.data(), sha.size());
    meta->set_version_nonce(in.version_nonce());
    pb::DocumentContent content;
    content.set_version(version);
    content.set_data(in.data());
    content.set_key_ciphertext(in.key_ciphertext());
    WriteRecord(view_, meta_key, *meta);
    WriteRecord(view_, DocContentKey(in.doc()), content);
    if (!label_key.empty()) {
      view_.Put(label_key, "");
    }
    CommitCounter(version);

    pb::Result r;
    r.set_status(pb::STATUS_OK);
    r.set_message(created ? "document created" : "document updated");
    pb::CheckInResult* out = r.mutable_check_in();
    out->set_doc(in.doc());
    out->set_version(version);
    out->set_sha256(sha.data(), sha.size());
    out->set_owner(meta->owner());
    out->set_created(created);
    return r;
  }

  absl::StatusOr<pb::Result> CheckOut(const std::string& uid, const std::string& doc,
                                      std::optional<DecryptionAuthorization>* decryption) {
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DocumentMeta> meta,
                            ReadRecord<pb::DocumentMeta>(view_, DocMetaKey(doc)));
    if (!meta.has_value()) {
      return Refusal(pb::STATUS_NO_SUCH_DOCUMENT, "checkout: no such document");
    }
    if (uid != meta->owner() && !HasRight(*meta, uid, pb::RIGHTS_CHECKOUT, now_ms_)) {
      return Refusal(pb::STATUS_ACCESS_DENIED, "checkout: no checkout right on this document");
    }
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DocumentContent> content, LoadVerifiedContent(*meta));
    if (!content.has_value()) {
      return IntegrityRefusal();
    }
    pb::Result r;
    r.set_status(pb::STATUS_OK);
    r.set_message("document checked out");
    FillCheckOut(*meta, std::move(*content), r.mutable_check_out(), decryption);
    return r;
  }

  absl::StatusOr<pb::Result> Grant(const std::string& uid, const pb::Grant& g) {
    const std::string meta_key = DocMetaKey(g.doc());
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DocumentMeta> meta,
                            ReadRecord<pb::DocumentMeta>(view_, meta_key));
    if (!meta.has_value()) {
      return Refusal(pb::STATUS_NO_SUCH_DOCUMENT, "grant: no such document");
    }
    if (uid != meta->owner()) {
      return Refusal(pb::STATUS_ACCESS_DENIED, "grant: only the owner grants rights");
    }
    if (!g.all_users() && g.target_uid() == meta->owner()) {
      return Refusal(pb::STATUS_INVALID_GRANT, "grant: the owner already holds every right");
    }
    BELFRY_ASSIGN_OR_RETURN(uint64_t order, NextCounter());
    pb::GrantRecord record;
    record.set_all_users(g.all_users());
    record.set_uid(g.target_uid());
    record.set_rights(g.rights());
    record.set_expires_ms(now_ms_ + int64_t{g.seconds()} * 1000);
    record.set_order(order);
    const int64_t expires_ms = record.expires_ms();
    ApplyGrant(*meta, std::move(record), now_ms_);
    if (static_cast<uint64_t>(meta->user_grants_size()) > config_.document_grants_max) {
      return Refusal(pb::STATUS_TOO_MANY_GRANTS,
                     absl::StrCat("grant: the document already has ", config_.document_grants_max,
                                  " personal grants; a grant to ALL replaces them"));
    }
    WriteRecord(view_, meta_key, *meta);
    CommitCounter(order);

    pb::Result r;
    r.set_status(pb::STATUS_OK);
    r.set_message(g.seconds() == 0 ? "grant revoked" : "grant recorded");
    pb::GrantResult* out = r.mutable_grant();
    out->set_doc(g.doc());
    out->set_all_users(g.all_users());
    out->set_target_uid(g.target_uid());
    out->set_rights(g.rights());
    out->set_expires_ms(expires_ms);
    return r;
  }

  absl::StatusOr<pb::Result> Delete(const std::string& uid, const std::string& doc) {
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DocumentMeta> meta,
                            ReadRecord<pb::DocumentMeta>(view_, DocMetaKey(doc)));
    if (!meta.has_value()) {
      return Refusal(pb::STATUS_NO_SUCH_DOCUMENT, "delete: no such document");
    }
    if (uid != meta->owner()) {
      return Refusal(pb::STATUS_ACCESS_DENIED, "delete: only the owner deletes");
    }
    // Content, key ciphertext and grants go; the label stays spent, so the deleted key
    // ciphertext can never be checked in (and decrypted) again.
    view_.Delete(DocMetaKey(doc));
    view_.Delete(DocContentKey(doc));
    pb::Result r;
    r.set_status(pb::STATUS_OK);
    r.set_message("document deleted");
    r.mutable_delete_()->set_doc(doc);
    return r;
  }

  // Any session may stamp, and nothing is written beyond the session's window: the token
  // is made from the reply body (its epoch, position, time and log head), not from state.
  static pb::Result Stamp(const pb::Stamp& stamp) {
    pb::Result r;
    r.set_status(pb::STATUS_OK);
    r.set_message("time-stamped");
    pb::StampResult* out = r.mutable_stamp();
    out->set_hash_algorithm(stamp.hash_algorithm());
    out->set_hashed_message(stamp.hashed_message());
    out->set_nonce(stamp.nonce());
    out->set_has_nonce(stamp.has_nonce());
    out->set_cert_req(stamp.cert_req());
    out->set_hash_parameters_null(stamp.hash_parameters_null());
    return r;
  }

  // ---- helpers ----

  // The ciphertext check against the dealt key, or the generated one in the state.
  absl::StatusOr<bool> CiphertextValid(std::string_view ciphertext, ByteSpan label) {
    if (!config_.distributed_encryption_key) return ciphertexts_.Check(ciphertext, label).ok();
    BELFRY_ASSIGN_OR_RETURN(const CiphertextCheck* generated, GeneratedKeyCheck());
    return generated != nullptr && generated->Check(ciphertext, label).ok();
  }

  // The check against the generated key set, or null while it is being generated. Parsed
  // (with PublicKeySet's consistency check) once per batch: once generated, the key never
  // changes, so a batch of confidential checkouts does not parse it again for each.
  absl::StatusOr<const CiphertextCheck*> GeneratedKeyCheck() {
    if (generated_check_ == nullptr) {
      BELFRY_ASSIGN_OR_RETURN(std::optional<threshold::PublicKeySet> keys,
                              GeneratedEncryptionKeys(view_));
      if (!keys.has_value()) return nullptr;
      generated_check_ = std::make_unique<Tdh2CiphertextCheck>(*std::move(keys));
    }
    return generated_check_.get();
  }

  // KeysQuery: the generated TDH2 key set, for clients (cluster.conf has none then).
  absl::StatusOr<pb::Result> Keys() {
    if (!config_.distributed_encryption_key) {
      return Refusal(pb::STATUS_KEYS_NOT_READY,
                     "keys: this cluster's encryption key was dealt and is in cluster.conf");
    }
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DkgRunRecord> run,
                            ReadDkgRun(view_, kEncryptionKeyRun));
    if (!run.has_value() || !run->finished()) {
      return Refusal(pb::STATUS_KEYS_NOT_READY, "keys: the encryption key is still being generated");
    }
    pb::Result r;
    r.set_status(pb::STATUS_OK);
    r.set_message("the generated encryption key");
    r.mutable_keys()->set_encryption_keys(run->encryption_keys_result());
    r.mutable_keys()->set_run(kEncryptionKeyRun);
    return r;
  }

  static pb::Result IntegrityRefusal() {
    return Refusal(pb::STATUS_INTEGRITY_FAILURE,
                   "this replica's stored copy of the document failed its integrity check");
  }

  // The document's content if it matches its metadata (version, SHA-256 and, when
  // confidential, a ciphertext still valid for the label); nullopt if this replica's
  // copy is damaged, so corrupted bytes are never returned as the document.
  absl::StatusOr<std::optional<pb::DocumentContent>> LoadVerifiedContent(
      const pb::DocumentMeta& meta) {
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DocumentContent> content,
                            ReadRecord<pb::DocumentContent>(view_, DocContentKey(meta.name())));
    if (!content.has_value() || content->version() != meta.version()) {
      return std::optional<pb::DocumentContent>();
    }
    const Digest sha = Sha256(content->data());
    if (meta.sha256() != AsStringView(ByteSpan(sha))) {
      return std::optional<pb::DocumentContent>();
    }
    if (meta.confidential()) {
      const Bytes label =
          DocumentLabel(config_.cluster_id, meta.name(), AsBytes(meta.version_nonce()));
      BELFRY_ASSIGN_OR_RETURN(bool valid, CiphertextValid(content->key_ciphertext(), label));
      if (!valid) return std::optional<pb::DocumentContent>();
    }
    return content;
  }

  void FillCheckOut(const pb::DocumentMeta& meta, pb::DocumentContent content,
                    pb::CheckOutResult* out, std::optional<DecryptionAuthorization>* decryption) {
    out->set_doc(meta.name());
    out->set_confidential(meta.confidential());
    out->set_integrity(meta.integrity());
    out->set_version(meta.version());
    out->set_sha256(meta.sha256());
    out->set_version_nonce(meta.version_nonce());
    out->set_owner(meta.owner());
    if (meta.confidential()) {
      DecryptionAuthorization auth;
      auth.label = DocumentLabel(config_.cluster_id, meta.name(), AsBytes(meta.version_nonce()));
      auth.ciphertext = content.key_ciphertext();
      *decryption = std::move(auth);
    }
    out->set_key_ciphertext(std::move(*content.mutable_key_ciphertext()));
    out->set_data(std::move(*content.mutable_data()));
  }

  // The next value of the state counter (versions and grant order share it, so each is
  // unique cluster-wide). Written only by CommitCounter, once the operation succeeds.
  absl::StatusOr<uint64_t> NextCounter() {
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::StateCounter> counter,
                            ReadRecord<pb::StateCounter>(view_, std::string(kCounterKey)));
    const uint64_t last = counter.has_value() ? counter->last() : 0;
    if (last == UINT64_MAX) {
      return absl::ResourceExhaustedError("the state counter is exhausted");
    }
    return last + 1;
  }

  void CommitCounter(uint64_t value) {
    pb::StateCounter counter;
    counter.set_last(value);
    WriteRecord(view_, std::string(kCounterKey), counter);
  }

  const Config& config_;
  const pki::CaBundle& ca_;
  const CiphertextCheck& ciphertexts_;
  StateView& view_;
  const uint64_t epoch_;
  const int64_t now_ms_;
  const std::function<bool(const Digest&)>& crypto_verified_;
  std::unique_ptr<Tdh2CiphertextCheck> generated_check_;  // GeneratedKeyCheck's, once found
};

}  // namespace

const char* OperationName(Operation op) {
  switch (op) {
    case Operation::kUnparsed: return "unparsed";
    case Operation::kLogin: return "login";
    case Operation::kCheckIn: return "checkin";
    case Operation::kCheckOut: return "checkout";
    case Operation::kGrant: return "grant";
    case Operation::kDelete: return "delete";
    case Operation::kLogout: return "logout";
    case Operation::kRevoke: return "revoke";
    case Operation::kStamp: return "stamp";
    case Operation::kReplica: return "replica";
    case Operation::kKeys: return "keys";
  }
  return "unparsed";
}

absl::StatusOr<StateMachine> StateMachine::Create(Config config, const pki::CaBundle& ca,
                                                  const CiphertextCheck& ciphertexts) {
  BELFRY_RETURN_IF_ERROR(config.Validate());
  return StateMachine(std::move(config), ca, ciphertexts);
}

absl::StatusOr<std::vector<Executed>> StateMachine::ExecuteBatch(
    StateView& view, uint64_t epoch, int64_t consensus_time_ms,
    const std::vector<std::string>& requests,
    const std::function<bool(const Digest& request_id)>& crypto_verified) const {
  if (consensus_time_ms < 0 || consensus_time_ms >= kConsensusTimeMsLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("consensus time ", consensus_time_ms, " ms is out of range"));
  }
  Executor executor(config_, *ca_, *ciphertexts_, view, epoch, consensus_time_ms, crypto_verified);
  std::vector<Executed> out;
  out.reserve(requests.size());
  for (const std::string& request : requests) {
    BELFRY_ASSIGN_OR_RETURN(Executed ex, executor.Execute(request));
    out.push_back(std::move(ex));
  }
  return out;
}

}  // namespace belfry::state
