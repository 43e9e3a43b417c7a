// client_lib/reply_quorum.h — accepting a result only when 2f+1 replicas vouch for it.
//
// A client trusts no single replica: up to f may lie with valid signatures. Every correct
// replica that executed a request produces a byte-identical ReplyBody, so the client
// groups signed replies by body and accepts the first body that 2f+1 distinct replicas
// signed. Among any 2f+1 at least f+1 are correct, and correct replicas never sign two
// different bodies for one request, so two clients can never accept different results.
#ifndef BELFRY_CLIENT_LIB_REPLY_QUORUM_H_
#define BELFRY_CLIENT_LIB_REPLY_QUORUM_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "config/cluster_config.h"
#include "proto/reply.pb.h"
#include "wire/statements.h"

namespace belfry::client {

// Checks that `reply`, received on the connection to `connection_replica`, names that
// replica and carries its valid reply-key signature: INVALID_ARGUMENT or
// PERMISSION_DENIED with the reason otherwise. Nothing else about the reply is judged.
absl::Status VerifyReplySignature(const config::ClusterConfig& config, uint32_t connection_replica,
                                  const pb::SignedReply& reply);

// ReplyQuorum: collects the signed replies for one request. Not thread-safe; one per request.
class ReplyQuorum {
 public:
  // `config` must outlive the quorum.
  ReplyQuorum(const config::ClusterConfig& config, const wire::Digest& request_id);

  // Adds a reply received on the connection to replica `connection_replica` (the replica
  // the TLS certificate authenticated). Refused, and counted against that replica:
  // INVALID_ARGUMENT for a malformed reply or one claiming another replica id,
  // PERMISSION_DENIED for a bad signature, FAILED_PRECONDITION for a reply about another
  // request or cluster, ALREADY_EXISTS for a second, different reply from one replica.
  absl::Status Add(uint32_t connection_replica, const pb::SignedReply& reply);

  // True once 2f+1 distinct replicas signed one identical body.
  bool complete() const { return accepted_.has_value(); }
  // The accepted body (only when complete()).
  const pb::ReplyBody& body() const { return accepted_body_; }
  // The replicas that signed the accepted body, with their attachments.
  const std::map<uint32_t, pb::ReplyAttachments>& agreeing() const;
  // Replicas whose valid reply differs from the accepted body (or from the largest group
  // while none is accepted): evidence a user can report.
  std::vector<uint32_t> disagreeing() const;
  // Whether a quorum is still possible given who has not answered yet.
  bool still_possible() const;
  uint32_t replies() const { return static_cast<uint32_t>(by_replica_.size()); }

 private:
  const config::ClusterConfig& config_;
  wire::Digest request_id_;
  std::map<uint32_t, std::string> by_replica_;                       // replica -> body bytes
  std::map<std::string, std::map<uint32_t, pb::ReplyAttachments>> groups_;  // body -> signers
  std::optional<std::string> accepted_;
  pb::ReplyBody accepted_body_;
};

}  // namespace belfry::client

#endif  // BELFRY_CLIENT_LIB_REPLY_QUORUM_H_
