#include "replica/node/replies/replies.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "base/bytes.h"
#include "base/check.h"
#include "threshold/sealed_share.h"
#include "wire/statements.h"

namespace belfry::replica {
namespace {

std::string DigestString(const store::Digest& d) { return std::string(d.begin(), d.end()); }

}  // namespace

Replies::Replies(const config::ClusterConfig& config, const ReplySigner& signer,
                 const threshold::DecryptionShareProvider* decryption, const threshold::rsa::ShareSigner* service,
                 ByteSpan service_cert_der, Limits limits, Effects& effects)
    : config_(config),
      signer_(signer),
      decryption_(decryption),
      service_(service),
      service_cert_der_(service_cert_der),
      limits_(limits),
      effects_(effects) {
  BELFRY_CHECK(limits_.waiting_frames_per_request_max > 0);
}

bool Replies::AnswerIfExecuted(const ReplyWaiter& waiter, const std::string& request_id) {
  auto done = executed_replies_.find(request_id);
  if (done == executed_replies_.end()) return false;
  // A copy of a request already executed (it reached this replica late, or the client
  // retransmitted): answer with the reply already signed, never order it again.
  if (!done->second.frame.empty()) {
    DeliverReply(waiter, done->second.uid, request_id, done->second.frame);
  } else {
    Reject(waiter.connection, request_id, pb::STATUS_UNSPECIFIED,
           "request already executed; its reply is no longer cached here");
  }
  return true;
}

bool Replies::WaitingFull(const std::string& request_id) const {
  return waiting_.size() >= limits_.waiting_requests_max && waiting_.count(request_id) == 0;
}

bool Replies::AddWaiter(const std::string& request_id, ReplyWaiter waiter) {
  std::vector<ReplyWaiter>& waiters = waiting_[request_id];
  if (waiters.size() >= limits_.waiting_frames_per_request_max) {
    RejectOverloaded(waiter.connection, request_id, "copies", "too many copies of this request are waiting");
    return false;
  }
  waiters.push_back(std::move(waiter));
  // WaitingFull turned away new ids at the bound, so this one fits.
  BELFRY_CHECK(waiting_.size() <= limits_.waiting_requests_max);
  return true;
}

void Replies::RefuseAdmission(uint64_t connection, const std::string& request_id, const state::Verdict& verdict) {
  CoreCounters& counters = effects_.counters();
  ++counters.requests_refused;
  ++counters.refused_by_status[verdict.status];
  Reject(connection, request_id, static_cast<uint32_t>(verdict.status), verdict.message);
}

std::string Replies::BuildReplyFrame(const state::Executed& executed, uint64_t epoch, uint32_t position,
                                     int64_t consensus_time_ms, const store::Digest& head) const {
  const uint32_t self = effects_.self();
  pb::ReplyBody body;
  body.set_cluster_id(config_.cluster_id());
  body.set_request_id(DigestString(executed.request_id));
  body.set_result(executed.result.SerializeAsString());
  body.set_epoch(epoch);
  body.set_position(position);
  body.set_log_head(DigestString(head));
  body.set_consensus_time_ms(consensus_time_ms);

  pb::SignedReply reply;
  reply.set_replica(self);
  reply.set_body(body.SerializeAsString());
  if (executed.decryption.has_value() && decryption_ != nullptr) {
    absl::StatusOr<threshold::Ciphertext> ct =
        threshold::Ciphertext::Parse(AsBytes(executed.decryption->ciphertext));
    if (ct.ok()) {
      const std::string label(executed.decryption->label.begin(), executed.decryption->label.end());
      absl::StatusOr<threshold::DecryptionShare> share = decryption_->MakeShare(*ct, label);
      // Sealed to the checkout's own key: the reply may be cached and sent again, and
      // whoever holds a copy of the request must not be able to use the share.
      absl::StatusOr<std::string> sealed =
          share.ok() ? threshold::SealShare(executed.decryption->recipient_key, self,
                                            executed.decryption->label, share->Serialize())
                     : share.status();
      if (sealed.ok()) reply.mutable_attachments()->set_sealed_decryption_share(*std::move(sealed));
    }
  }
  const pb::Result& result = executed.result;
  // Every correct replica builds the same attributes from the body, so f+1 shares over
  // them combine into the service key's one signature.
  std::optional<absl::StatusOr<Bytes>> attributes;
  if (service_ != nullptr && result.status() == pb::STATUS_OK && result.has_check_out() &&
      result.check_out().integrity()) {
    attributes = wire::IntegrityAttributes(config_.cluster_id(), result.check_out(), consensus_time_ms);
  } else if (service_ != nullptr && !service_cert_der_.empty() && result.status() == pb::STATUS_OK &&
             result.has_stamp()) {
    absl::StatusOr<wire::TimeStampSigning> signing =
        wire::TimeStampAttributes(body, result.stamp(), service_cert_der_);
    attributes = signing.ok() ? absl::StatusOr<Bytes>(std::move(signing->signed_attributes))
                              : absl::StatusOr<Bytes>(signing.status());
  }
  if (attributes.has_value()) {
    absl::StatusOr<threshold::rsa::SignatureShare> share =
        attributes->ok() ? service_->MakeShare(**attributes) : attributes->status();
    if (share.ok()) {
      reply.mutable_attachments()->set_service_signature_share(share->Serialize());
    } else {
      effects_.Log(LogLevel::kError, "replica", "service_share_failed").Add("reason", share.status().message());
    }
  }
  reply.set_signature(signer_.Sign(wire::ReplyStatement(self, AsBytes(reply.body()), reply.attachments())));
  pb::ClientFrame frame;
  *frame.mutable_reply() = std::move(reply);
  return frame.SerializeAsString();
}

void Replies::OnExecuted(const std::string& request_id, const std::string& uid, uint64_t epoch, std::string frame,
                         bool send, uint64_t durable_next_epoch) {
  // A reply promises that its epoch is in the log: the commit is synced before it leaves.
  BELFRY_CHECK(epoch < durable_next_epoch);
  auto waiting = waiting_.find(request_id);
  if (waiting != waiting_.end()) {
    if (send) {
      for (const ReplyWaiter& waiter : waiting->second) DeliverReply(waiter, uid, request_id, frame);
    }
    waiting_.erase(waiting);
  }
  RememberExecuted(request_id, uid, std::move(frame));
}

void Replies::DeliverReply(const ReplyWaiter& waiter, const std::string& uid, const std::string& request_id,
                           const std::string& frame) {
  CoreCounters& counters = effects_.counters();
  if (!ReplyAllowed(uid, waiter.peer_uid)) {
    ++counters.requests_refused;
    ++counters.refused_by_status[pb::STATUS_NOT_REQUESTER];
    Reject(waiter.connection, request_id, pb::STATUS_NOT_REQUESTER, std::string(kNotRequesterMessage));
    return;
  }
  effects_.SendClient(waiter.connection, frame);
  ++counters.replies_sent;
}

void Replies::RememberExecuted(const std::string& request_id, const std::string& uid, std::string reply_frame) {
  auto [it, inserted] = executed_replies_.emplace(request_id, CachedReply{});
  if (inserted) {
    executed_order_.push_back(request_id);
  } else {
    // Executed again (a retransmission that a replica without the first reply ordered
    // anew): the latest reply replaces the first. Every correct replica executes the same
    // log, so they all end up answering with the reply of the same epoch and a client
    // can gather 2f+1 matching ones; keeping the first would leave the replicas that
    // restarted (and lost their cache) answering with another epoch than the rest.
    BELFRY_CHECK(executed_reply_bytes_ >= it->second.frame.size());
    executed_reply_bytes_ -= it->second.frame.size();
    it->second.frame.clear();
  }
  it->second.uid = uid;
  if (reply_frame.size() <= limits_.executed_reply_bytes_max / 16) {
    executed_reply_bytes_ += reply_frame.size();
    it->second.frame = std::move(reply_frame);
  }
  while (executed_order_.size() > limits_.executed_remembered_max ||
         executed_reply_bytes_ > limits_.executed_reply_bytes_max) {
    auto old = executed_replies_.find(executed_order_.front());
    BELFRY_CHECK(old != executed_replies_.end());
    BELFRY_CHECK(executed_reply_bytes_ >= old->second.frame.size());
    executed_reply_bytes_ -= old->second.frame.size();
    executed_replies_.erase(old);
    executed_order_.pop_front();
  }
  // One order entry per cached id, and the byte bound holds once the oldest went.
  BELFRY_CHECK(executed_order_.size() == executed_replies_.size());
  BELFRY_CHECK(executed_reply_bytes_ <= limits_.executed_reply_bytes_max);
}

void Replies::Reject(uint64_t connection, const std::string& request_id, uint32_t code, const std::string& message) {
  const uint32_t self = effects_.self();
  pb::Rejection r;
  r.set_replica(self);
  r.set_request_id(request_id);
  r.set_code(code);
  r.set_message(message);
  r.set_signature(signer_.Sign(wire::RejectionStatement(self, AsBytes(request_id), code, message)));
  pb::ClientFrame frame;
  *frame.mutable_rejection() = std::move(r);
  effects_.SendClient(connection, frame.SerializeAsString());
}

// Code 0 is the one refusal that is not final: the client offers the request again later
// (client_lib/internal/pending_call.h), since it depends on this replica's load, not on
// the request.
void Replies::RejectOverloaded(uint64_t connection, const std::string& request_id, const char* reason,
                               const std::string& message) {
  CoreCounters& counters = effects_.counters();
  ++counters.requests_overloaded;
  ++counters.overloaded_by_reason[reason];
  Reject(connection, request_id, pb::STATUS_UNSPECIFIED, message);
}

void Replies::SendStatus(uint64_t connection, pb::ReplicaStatus status) {
  status.set_signature(signer_.Sign(wire::StatusStatement(status)));
  pb::ClientFrame frame;
  *frame.mutable_status() = std::move(status);
  effects_.SendClient(connection, frame.SerializeAsString());
}

}  // namespace belfry::replica
