#include "client_lib/internal/pending_call.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "wire/statements.h"

namespace belfry::client::internal {
namespace {

std::string MakeRequestFrame(const std::string& request_bytes) {
  pb::ClientFrame frame;
  frame.set_request(request_bytes);
  return frame.SerializeAsString();
}

}  // namespace

PendingCall::PendingCall(const config::ClusterConfig& config, BuiltRequest request)
    : config_(config),
      request_(std::move(request)),
      id_bytes_(AsStringView(ByteSpan(request_.id))),
      frame_(MakeRequestFrame(request_.bytes)) {}

ReplyQuorum* PendingCall::QuorumFor(uint32_t replica, uint64_t epoch) {
  // Only a per-replica bound: a shared cap is one that f faulty replicas together could
  // fill, leaving no room for the epoch the correct replicas answer in. The total stays
  // below n * kEpochsPerReplicaMax.
  std::set<uint64_t>& epochs = epochs_of_replica_[replica];
  if (epochs.count(epoch) == 0 && epochs.size() >= kEpochsPerReplicaMax) return nullptr;
  epochs.insert(epoch);
  auto it = by_epoch_.find(epoch);
  if (it == by_epoch_.end()) {
    it = by_epoch_.emplace(epoch, std::make_unique<ReplyQuorum>(config_, request_.id)).first;
  }
  return it->second.get();
}

void PendingCall::OnReply(uint32_t replica, const pb::SignedReply& reply) {
  // Signature, request and cluster are checked before anything is allocated for the
  // reply's epoch: a reply that is not the replica's own answer to this request takes no
  // room (outside the lock: Ed25519 verification is the slow part).
  absl::Status signed_ok = VerifyReplySignature(config_, replica, reply);
  pb::ReplyBody body;
  const bool parsed = signed_ok.ok() && body.ParseFromString(reply.body());
  const bool ours = parsed && body.cluster_id() == config_.cluster_id() &&
                    ConstantTimeEquals(AsBytes(body.request_id()), AsBytes(id_bytes_));
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  if (!signed_ok.ok() || !ours) {
    faults_[replica] = !signed_ok.ok() ? std::string(signed_ok.message())
                       : !parsed       ? "sent a reply whose body does not parse"
                                       : "reply is for another request or cluster";
    cv_.notify_all();
    return;
  }
  ReplyQuorum* quorum = QuorumFor(replica, body.epoch());
  if (quorum == nullptr) {
    faults_[replica] = "sent replies for too many different epochs";
    cv_.notify_all();
    return;
  }
  absl::Status added = quorum->Add(replica, reply);
  if (!added.ok()) {
    faults_[replica] = std::string(added.message());
  } else {
    answered_.insert(replica);
    if (!accepted_epoch_.has_value() && quorum->complete()) accepted_epoch_ = body.epoch();
    if (reply.body().size() <= kSmallBodyBytesMax) {
      small_groups_[body.epoch()][reply.body()].insert(replica);
    }
  }
  cv_.notify_all();
}

void PendingCall::OnRejection(uint32_t replica, const pb::Rejection& rejection) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  const Bytes statement = wire::RejectionStatement(
      rejection.replica(), AsBytes(rejection.request_id()), rejection.code(), rejection.message());
  if (rejection.replica() != replica || rejection.request_id() != id_bytes_ ||
      !VerifyReplicaSignature(config_, replica, statement, rejection.signature())) {
    faults_[replica] = "sent a refusal with an invalid signature or for another request";
  } else {
    rejections_[replica] = rejection;
    // "Overloaded" is no answer: the request should be offered to that replica again.
    if (rejection.code() != 0) answered_.insert(replica);
  }
  cv_.notify_all();
}

uint64_t PendingCall::WaitForChange(uint64_t generation,
                                    std::chrono::steady_clock::time_point until) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, until, [&] { return generation_ != generation; });
  return generation_;
}

std::optional<AcceptedReply> PendingCall::Accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!accepted_epoch_.has_value()) return std::nullopt;
  const ReplyQuorum& quorum = *by_epoch_.at(*accepted_epoch_);
  AcceptedReply out;
  out.body = quorum.body();
  out.agreeing = quorum.agreeing();
  out.disagreeing = quorum.disagreeing();
  return out;
}

uint32_t PendingCall::AcceptedReplies() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!accepted_epoch_.has_value()) return 0;
  return by_epoch_.at(*accepted_epoch_)->replies();
}

std::optional<FinalRejection> PendingCall::Rejected() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::pair<uint32_t, std::string>, std::vector<uint32_t>> groups;
  for (const auto& [replica, rejection] : rejections_) {
    if (rejection.code() == 0) continue;
    groups[{rejection.code(), rejection.message()}].push_back(replica);
  }
  for (const auto& [key, replicas] : groups) {
    if (replicas.size() >= config_.f() + 1) {
      return FinalRejection{key.first, key.second, replicas};
    }
  }
  return std::nullopt;
}

std::map<uint32_t, std::string> PendingCall::faults() const {
  std::lock_guard<std::mutex> lock(mu_);
  return faults_;
}

std::set<uint32_t> PendingCall::answered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return answered_;
}

std::vector<uint32_t> PendingCall::Disagreeing() const {
  std::lock_guard<std::mutex> lock(mu_);
  const ReplyQuorum* best = nullptr;
  for (const auto& [epoch, quorum] : by_epoch_) {
    if (best == nullptr || quorum->replies() > best->replies()) best = quorum.get();
  }
  return best == nullptr ? std::vector<uint32_t>{} : best->disagreeing();
}

uint32_t PendingCall::LargestGroup() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t best = 0;
  for (const auto& [epoch, quorum] : by_epoch_) {
    // replies() minus the disagreeing ones is the largest matching group of that epoch.
    best = std::max<uint32_t>(
        best, quorum->replies() - static_cast<uint32_t>(quorum->disagreeing().size()));
  }
  return best;
}

std::optional<AcceptedReply> PendingCall::EarliestGroup(
    uint32_t count, const std::function<bool(const pb::ReplyBody&)>& accept) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [epoch, groups] : small_groups_) {
    for (const auto& [bytes, replicas] : groups) {
      if (replicas.size() < count) continue;
      AcceptedReply out;
      if (!out.body.ParseFromString(bytes) || !accept(out.body)) continue;
      for (uint32_t r : replicas) out.agreeing[r] = pb::ReplyAttachments();
      return out;
    }
  }
  return std::nullopt;
}

std::vector<uint32_t> PendingCall::Overloaded() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint32_t> out;
  for (const auto& [replica, rejection] : rejections_) {
    if (rejection.code() == 0) out.push_back(replica);
  }
  return out;
}

}  // namespace belfry::client::internal
