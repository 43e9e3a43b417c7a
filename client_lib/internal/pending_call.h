// client_lib/internal/pending_call.h — what the client knows about one request while it
// waits for the cluster's answer.
//
// Replies are grouped by the epoch that ordered the request. A retransmission that
// reaches a replica after it executed the request is ordered again, and correct replicas
// then answer with the original result inside a new ReplyBody (new epoch, position and log
// head); one ReplyQuorum per epoch keeps those answers from being mistaken for
// disagreement, and the first epoch with 2f+1 matching signed bodies wins. A Byzantine
// replica could invent epochs, so the number of epochs tracked is bounded per replica
// (never by a shared cap, which f replicas could fill together), and a reply takes room
// only once its signature verified and it names this request.
//
// Signed admission refusals (Rejection) are collected beside the replies: f+1 identical
// ones with a non-zero code are final, because the admission check is deterministic at
// correct replicas and at least one of the f+1 is correct. Code 0 means "overloaded, try
// again" and decides nothing.
//
// Thread-safety: every method is thread-safe; the connection threads add replies while
// the calling thread waits.
#ifndef BELFRY_CLIENT_LIB_INTERNAL_PENDING_CALL_H_
#define BELFRY_CLIENT_LIB_INTERNAL_PENDING_CALL_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client_lib/internal/requests.h"
#include "client_lib/reply_quorum.h"
#include "config/cluster_config.h"
#include "proto/reply.pb.h"

namespace belfry::client::internal {

// Bounds on what one call remembers.
// Epochs one replica's replies may name; the epochs tracked are at most n times this.
inline constexpr size_t kEpochsPerReplicaMax = 8;
// Reply bodies up to this size are also kept per epoch for EarliestGroup (a login's reply
// is about 1 KiB; a checkout's may be megabytes and is not needed there).
inline constexpr size_t kSmallBodyBytesMax = 64 * 1024;

// AcceptedReply: the body 2f+1 replicas signed and who signed it.
struct AcceptedReply {
  pb::ReplyBody body;
  std::map<uint32_t, pb::ReplyAttachments> agreeing;
  std::vector<uint32_t> disagreeing;
};

// FinalRejection: a refusal f+1 replicas signed identically.
struct FinalRejection {
  uint32_t code = 0;
  std::string message;
  std::vector<uint32_t> replicas;
};

class PendingCall {
 public:
  // `config` must outlive the call.
  PendingCall(const config::ClusterConfig& config, BuiltRequest request);

  const BuiltRequest& request() const { return request_; }
  // The request id as the raw 32 bytes replies carry.
  const std::string& id_bytes() const { return id_bytes_; }
  // The ClientFrame{request} to send to every replica.
  const std::string& frame() const { return frame_; }

  // A reply from the connection to `replica`. An invalid one is recorded as that
  // replica's fault.
  void OnReply(uint32_t replica, const pb::SignedReply& reply);
  // A refusal from the connection to `replica`, checked against its reply key.
  void OnRejection(uint32_t replica, const pb::Rejection& rejection);

  // Waits until something changed since `generation` or `until`, and returns the
  // current generation.
  uint64_t WaitForChange(uint64_t generation, std::chrono::steady_clock::time_point until);

  std::optional<AcceptedReply> Accepted() const;
  std::optional<FinalRejection> Rejected() const;
  // Replicas whose reply for the accepted epoch has arrived (all n: no more will come).
  uint32_t AcceptedReplies() const;

  // For reports: replica -> what was wrong with what it sent.
  std::map<uint32_t, std::string> faults() const;
  // Replicas that sent a valid reply or a signed refusal.
  std::set<uint32_t> answered() const;
  // The replicas whose valid reply differs from the largest group (none accepted yet).
  std::vector<uint32_t> Disagreeing() const;
  // The size of the largest group of matching replies.
  uint32_t LargestGroup() const;
  // Replicas that said they were overloaded (code 0) and nothing else.
  std::vector<uint32_t> Overloaded() const;

  // The earliest ordering in which at least `count` replicas signed one identical small
  // body that `accept` approves. With count = f+1, at least one correct replica executed
  // the request with that outcome. Used for a login whose retransmission was ordered a
  // second time (and found stale there) after its first ordering had succeeded.
  std::optional<AcceptedReply> EarliestGroup(
      uint32_t count, const std::function<bool(const pb::ReplyBody&)>& accept) const;

 private:
  ReplyQuorum* QuorumFor(uint32_t replica, uint64_t epoch);  // mu_ held; nullptr if bounded out

  const config::ClusterConfig& config_;
  const BuiltRequest request_;
  const std::string id_bytes_;
  const std::string frame_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  std::map<uint64_t, std::unique_ptr<ReplyQuorum>> by_epoch_;
  std::map<uint32_t, std::set<uint64_t>> epochs_of_replica_;
  std::optional<uint64_t> accepted_epoch_;
  std::map<uint32_t, pb::Rejection> rejections_;
  std::map<uint32_t, std::string> faults_;
  std::set<uint32_t> answered_;
  // epoch -> small body -> replicas that validly signed it.
  std::map<uint64_t, std::map<std::string, std::set<uint32_t>>> small_groups_;
};

}  // namespace belfry::client::internal

#endif  // BELFRY_CLIENT_LIB_INTERNAL_PENDING_CALL_H_
