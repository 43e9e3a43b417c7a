#include "replica/node/checkpoint/checkpoints.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/status.h"

namespace belfry::replica {
namespace {

std::string DigestString(const store::Digest& d) { return std::string(d.begin(), d.end()); }

}  // namespace

// Votes are kept a few intervals ahead of the stable checkpoint: correct replicas vote
// only for epochs they committed, within the consensus window of each other.
Checkpoints::Checkpoints(const config::ClusterConfig& config, const ReplySigner& signer, store::Store& store,
                         Limits limits, Effects& effects)
    : config_(config),
      signer_(signer),
      store_(store),
      limits_(limits),
      effects_(effects),
      votes_(config, std::max<uint64_t>(4 * limits.interval_epochs, 64)) {}

absl::Status Checkpoints::Open() {
  BELFRY_ASSIGN_OR_RETURN(stable_, store_.ReadCheckpoint());
  if (stable_.has_value()) {
    effects_.counters().stable_checkpoint_epoch = stable_->epoch();
    ReopenServed();
  }
  KeepFrozen();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<pb::CheckpointVote>> Checkpoints::MaybeTake(uint64_t epoch) {
  const uint64_t k = limits_.interval_epochs;
  if (k == 0 || (epoch + 1) % k != 0) return std::optional<pb::CheckpointVote>();
  // Taken right after committing `epoch`, so the state and head are those of its end.
  BELFRY_CHECK(store_.next_epoch() == epoch + 1);
  absl::StatusOr<std::shared_ptr<const store::StateSnapshot>> frozen = store_.FreezeStateDurably(epoch);
  if (!frozen.ok()) return frozen.status();
  // Digest and size from the frozen state itself, so what is signed is exactly what will
  // be served.
  absl::StatusOr<store::StateSummary> summary = (*frozen)->ComputeSummary();
  if (!summary.ok()) return summary.status();
  OwnCheckpoint own{DigestString(summary->digest), DigestString(store_.log_head()), *std::move(frozen)};
  pb::PeerMessage msg;
  pb::CheckpointVote* vote = msg.mutable_checkpoint_vote();
  vote->set_epoch(epoch);
  vote->set_state_digest(own.state_digest);
  vote->set_log_head(own.log_head);
  vote->set_consensus_time_ms(store_.last_consensus_time_ms());
  vote->set_state_entries(summary->entries);
  vote->set_state_bytes(summary->bytes);
  vote->set_signature(signer_.Sign(CheckpointStatementOf(config_, *vote)));
  own_[epoch] = std::move(own);
  while (own_.size() > limits_.served_max) own_.erase(own_.begin());
  KeepFrozen();
  ++effects_.counters().checkpoints_taken;
  effects_.SendOtherPeers(msg.SerializeAsString());
  CheckBounds();
  return std::optional<pb::CheckpointVote>(msg.checkpoint_vote());
}

std::optional<pb::CheckpointCertificate> Checkpoints::AddVote(uint32_t from, const pb::CheckpointVote& vote) {
  absl::StatusOr<std::optional<pb::CheckpointCertificate>> added = votes_.Add(from, vote, stable_epoch());
  if (!added.ok()) {
    if (added.status().code() != absl::StatusCode::kOutOfRange) {
      effects_.Fault({.peer = from, .kind = PeerFaultKind::kBadCheckpointVote}, added.status().message());
    }
    return std::nullopt;
  }
  return *std::move(added);
}

bool Checkpoints::Accept(uint32_t from, const pb::CheckpointCertificate& cert) {
  if (IsStale(cert)) return false;
  absl::Status valid = VerifyCheckpointCertificate(config_, cert);
  if (!valid.ok()) {
    effects_.Fault({.peer = from, .kind = PeerFaultKind::kBadCheckpointCertificate}, valid.message());
    return false;
  }
  return true;
}

Checkpoints::Verdict Checkpoints::Judge(const pb::CheckpointCertificate& cert, uint64_t next_epoch) {
  BELFRY_CHECK(!IsStale(cert));
  if (cert.epoch() >= next_epoch) {
    // The cluster certified a state this replica does not have. If this replica signed
    // it, it had that state once: its disk was rolled back or lost.
    bool signed_by_self = false;
    for (const pb::CheckpointSignature& sig : cert.signatures()) signed_by_self |= sig.replica() == effects_.self();
    if (!signed_by_self) return Verdict::kAhead;
    ++effects_.counters().rollbacks_detected;
    effects_.Log(LogLevel::kError, "replica", "rollback_detected")
        .Add("checkpoint_epoch", cert.epoch())
        .Add("next_epoch", next_epoch);
    return Verdict::kAheadSignedBySelf;
  }
  auto own = own_.find(cert.epoch());
  if (own != own_.end() &&
      (own->second.state_digest != cert.state_digest() || own->second.log_head != cert.log_head())) {
    // 2f+1 replicas, so at least f+1 correct ones, hold another state than we computed
    // at that epoch: ours is corrupt. Stop serving it and fetch theirs.
    ++effects_.counters().state_divergences;
    effects_.Log(LogLevel::kError, "replica", "state_diverged").Add("checkpoint_epoch", cert.epoch());
    return Verdict::kOwnStateDiffers;
  }
  return Verdict::kAdoptable;
}

absl::Status Checkpoints::Adopt(const pb::CheckpointCertificate& cert, uint64_t next_epoch) {
  // Stable checkpoints only move forward, and only to a state this replica has.
  BELFRY_CHECK(!IsStale(cert));
  BELFRY_CHECK(cert.epoch() < next_epoch);
  std::shared_ptr<const store::StateSnapshot> state;
  auto own = own_.find(cert.epoch());
  if (own != own_.end()) state = own->second.state;
  BELFRY_RETURN_IF_ERROR(store_.WriteCheckpoint(cert));
  stable_ = cert;
  CoreCounters& counters = effects_.counters();
  ++counters.checkpoints_stable;
  counters.stable_checkpoint_epoch = cert.epoch();
  if (state != nullptr) {
    served_[cert.epoch()] = std::move(state);
    while (served_.size() > limits_.served_max) served_.erase(served_.begin());
  }
  own_.erase(own_.begin(), own_.upper_bound(cert.epoch()));
  KeepFrozen();
  votes_.ForgetThrough(cert.epoch());
  // Epoch records are needed to serve catch-up for the retained batches only, and a
  // stable checkpoint covers everything before it: prune below both.
  if (next_epoch > limits_.retained_batches) {
    BELFRY_RETURN_IF_ERROR(
        store_.PruneLogBefore(std::min<uint64_t>(cert.epoch() + 1, next_epoch - limits_.retained_batches)));
  }
  counters.log_base_epoch = store_.log_base_epoch();
  // The log keeps every record from the stable checkpoint on: catch-up and divergence
  // checks need them.
  BELFRY_CHECK(store_.log_base_epoch() <= cert.epoch() + 1);
  CheckBounds();
  return absl::OkStatus();
}

void Checkpoints::ResetTo(const pb::CheckpointCertificate& cert) {
  stable_ = cert;
  CoreCounters& counters = effects_.counters();
  counters.stable_checkpoint_epoch = cert.epoch();
  counters.log_base_epoch = store_.log_base_epoch();
  served_.clear();
  own_.clear();
  // The state now is the certified one: kept to serve the next replica that needs it.
  absl::StatusOr<std::shared_ptr<const store::StateSnapshot>> frozen = store_.FreezeStateDurably(cert.epoch());
  if (frozen.ok()) {
    served_[cert.epoch()] = *std::move(frozen);
  } else {
    effects_.Log(LogLevel::kWarn, "replica", "freeze_failed").Add("reason", frozen.status().message());
  }
  KeepFrozen();
  votes_.ForgetThrough(cert.epoch());
  CheckBounds();
}

void Checkpoints::ServeStable(uint32_t to) {
  if (!stable_.has_value()) return;
  pb::PeerMessage out;
  *out.mutable_checkpoint() = *stable_;
  effects_.SendPeer(to, out.SerializeAsString());
}

void Checkpoints::ServeState(uint32_t to, const pb::FetchState& fetch) {
  pb::PeerMessage msg;
  pb::StateChunk* chunk = msg.mutable_state_chunk();
  chunk->set_epoch(fetch.epoch());
  chunk->set_after_key(fetch.after_key());
  auto it = served_.find(fetch.epoch());
  if (it == served_.end()) {
    chunk->set_unavailable(true);
  } else {
    std::vector<std::pair<std::string, std::string>> entries;
    bool done = false;
    absl::Status scanned = it->second->Scan(fetch.after_key(), limits_.state_chunk_bytes_max, &entries, &done);
    if (!scanned.ok()) {
      chunk->set_unavailable(true);
    } else {
      for (auto& [key, value] : entries) {
        pb::StateEntry* e = chunk->add_entries();
        e->set_key(std::move(key));
        e->set_value(std::move(value));
      }
      chunk->set_last(done);
      ++effects_.counters().state_chunks_served;
    }
  }
  effects_.SendPeer(to, msg.SerializeAsString());
}

void Checkpoints::KeepFrozen() {
  std::set<uint64_t> keep;
  for (const auto& [epoch, own] : own_) keep.insert(epoch);
  for (const auto& [epoch, state] : served_) keep.insert(epoch);
  absl::Status dropped = store_.DropFrozenExcept(keep);
  if (!dropped.ok()) {
    // Only disk space is at stake; the next checkpoint tries again.
    effects_.Log(LogLevel::kWarn, "replica", "frozen_drop_failed").Add("reason", dropped.message());
  }
}

void Checkpoints::ReopenServed() {
  const uint64_t epoch = stable_->epoch();
  absl::StatusOr<std::shared_ptr<const store::StateSnapshot>> frozen = store_.OpenFrozen(epoch);
  if (!frozen.ok()) {
    if (frozen.status().code() != absl::StatusCode::kNotFound) {
      ++effects_.counters().frozen_states_refused;
      effects_.Log(LogLevel::kWarn, "replica", "frozen_state_unreadable")
          .Add("checkpoint_epoch", epoch)
          .Add("reason", frozen.status().message());
    }
    return;
  }
  // Checked in full before it is served: a peer would find a bad chunk only at the end of
  // a transfer, and blame us.
  absl::StatusOr<store::Digest> digest = (*frozen)->ComputeDigest();
  if (!digest.ok() || DigestString(*digest) != stable_->state_digest()) {
    ++effects_.counters().frozen_states_refused;
    effects_.Log(LogLevel::kError, "replica", "frozen_state_refused")
        .Add("checkpoint_epoch", epoch)
        .Add("reason", digest.ok() ? "digest differs from the certificate" : digest.status().message());
    return;
  }
  served_[epoch] = *std::move(frozen);
}

void Checkpoints::CheckBounds() const {
  BELFRY_CHECK(own_.size() <= limits_.served_max);
  BELFRY_CHECK(served_.size() <= std::max<size_t>(limits_.served_max, 1));
  // A served state is a stable one: none newer than the stable checkpoint.
  BELFRY_CHECK(served_.empty() || (stable_.has_value() && served_.rbegin()->first <= stable_->epoch()));
}

}  // namespace belfry::replica
