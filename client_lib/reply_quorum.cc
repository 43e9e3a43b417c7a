#include "client_lib/reply_quorum.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status.h"

namespace belfry::client {

ReplyQuorum::ReplyQuorum(const config::ClusterConfig& config, const wire::Digest& request_id)
    : config_(config), request_id_(request_id) {}

absl::Status VerifyReplySignature(const config::ClusterConfig& config, uint32_t connection_replica,
                                  const pb::SignedReply& reply) {
  if (connection_replica >= config.n() || reply.replica() != connection_replica) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply claims replica ", reply.replica(), " on the connection to replica ",
                     connection_replica));
  }
  if (reply.signature().size() != crypto_sign_BYTES) {
    return absl::InvalidArgumentError("reply signature has the wrong length");
  }
  const Bytes statement =
      wire::ReplyStatement(reply.replica(), AsBytes(reply.body()), reply.attachments());
  const auto key = config.reply_public_key(reply.replica());
  if (crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(reply.signature().data()),
                                  statement.data(), statement.size(), key.data()) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("reply from replica ", reply.replica(), " has an invalid signature"));
  }
  return absl::OkStatus();
}

absl::Status ReplyQuorum::Add(uint32_t connection_replica, const pb::SignedReply& reply) {
  BELFRY_RETURN_IF_ERROR(VerifyReplySignature(config_, connection_replica, reply));
  pb::ReplyBody body;
  if (!body.ParseFromString(reply.body())) {
    return absl::InvalidArgumentError("reply body does not parse");
  }
  if (body.cluster_id() != config_.cluster_id() ||
      !ConstantTimeEquals(AsBytes(body.request_id()), request_id_)) {
    return absl::FailedPreconditionError("reply is for another request or cluster");
  }
  auto [it, inserted] = by_replica_.emplace(reply.replica(), reply.body());
  if (!inserted) {
    if (it->second == reply.body()) return absl::OkStatus();  // a duplicate changes nothing
    return absl::AlreadyExistsError(
        absl::StrCat("replica ", reply.replica(), " sent two different replies"));
  }
  auto& group = groups_[reply.body()];
  group.emplace(reply.replica(), reply.attachments());
  if (!accepted_ && group.size() >= 2 * config_.f() + 1) {
    accepted_ = reply.body();
    accepted_body_ = std::move(body);
  }
  return absl::OkStatus();
}

const std::map<uint32_t, pb::ReplyAttachments>& ReplyQuorum::agreeing() const {
  static const std::map<uint32_t, pb::ReplyAttachments> kNone;
  if (!accepted_) return kNone;
  return groups_.at(*accepted_);
}

std::vector<uint32_t> ReplyQuorum::disagreeing() const {
  std::string reference;
  if (accepted_) {
    reference = *accepted_;
  } else {
    size_t best = 0;
    for (const auto& [body, signers] : groups_) {
      if (signers.size() > best) {
        best = signers.size();
        reference = body;
      }
    }
  }
  std::vector<uint32_t> out;
  for (const auto& [replica, body] : by_replica_) {
    if (body != reference) out.push_back(replica);
  }
  return out;
}

bool ReplyQuorum::still_possible() const {
  if (accepted_) return true;
  const uint32_t missing = config_.n() - static_cast<uint32_t>(by_replica_.size());
  size_t best = 0;
  for (const auto& [body, signers] : groups_) best = std::max(best, signers.size());
  return best + missing >= 2 * config_.f() + 1;
}

}  // namespace belfry::client
