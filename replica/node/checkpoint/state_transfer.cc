#include "replica/node/checkpoint/state_transfer.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/status.h"

namespace belfry::replica {
namespace {

std::string DigestString(const store::Digest& d) { return std::string(d.begin(), d.end()); }

}  // namespace

StateTransfer::StateTransfer(const config::ClusterConfig& config, store::Store& store, Limits limits,
                             Effects& effects)
    : config_(config), store_(store), limits_(limits), effects_(effects) {}

void StateTransfer::RequestCheckpoints(int64_t now_ms) {
  // Paced: when every peer answers that it no longer holds the checkpoint it certified
  // (it restarted, or moved on), asking again at once would only spin. OnTick asks again.
  if (last_checkpoint_request_ms_ >= 0 && now_ms - last_checkpoint_request_ms_ < limits_.checkpoint_request_interval_ms) {
    return;
  }
  last_checkpoint_request_ms_ = now_ms;
  pb::PeerMessage msg;
  msg.mutable_fetch_checkpoint();
  effects_.SendOtherPeers(msg.SerializeAsString());
}

absl::Status StateTransfer::Start(const pb::CheckpointCertificate& cert, int64_t now_ms, bool going_back) {
  BELFRY_CHECK(!transfer_.has_value());
  const uint32_t self = effects_.self();
  const uint32_t n = config_.n();
  Transfer t;
  t.cert = cert;
  t.source_started_ms = now_ms;
  t.going_back = going_back;
  // A signer (signers hold that state), starting one further on with every transfer, so
  // a source that stalls one transfer is not the first one asked in the next.
  t.source = self;
  const uint32_t offset = static_cast<uint32_t>(effects_.counters().state_transfers_started % n);
  for (uint32_t step = 1; step <= 2 * n && t.source == self; ++step) {
    const uint32_t candidate = (self + offset + step) % n;
    if (candidate == self) continue;
    for (const pb::CheckpointSignature& sig : cert.signatures()) {
      if (sig.replica() == candidate) t.source = candidate;
    }
  }
  if (t.source == self) return absl::OkStatus();  // a certificate signed only by us cannot happen (2f+1 > 1)
  if (cert.state_bytes() > limits_.bytes_max) {
    // 2f+1 replicas certified this size, so it is the state's: this replica is configured
    // with too little room for it, and no source is to blame. Say so and stay behind.
    effects_.Log(LogLevel::kError, "replica", "state_transfer_too_large")
        .Add("checkpoint_epoch", cert.epoch())
        .Add("state_bytes", cert.state_bytes())
        .Add("state_transfer_bytes_max", limits_.bytes_max);
    return absl::OkStatus();
  }
  BELFRY_RETURN_IF_ERROR(store_.ClearStaging());
  transfer_ = std::move(t);
  ++effects_.counters().state_transfers_started;
  effects_.Log(LogLevel::kWarn, "replica", "state_transfer_started")
      .Add("checkpoint_epoch", cert.epoch())
      .Add("next_epoch", store_.next_epoch())
      .Add("source", transfer_->source);
  RequestNextChunk(now_ms);
  return absl::OkStatus();
}

absl::Status StateTransfer::OnTick(int64_t now_ms) {
  if (transfer_.has_value() && now_ms - transfer_->source_started_ms > limits_.deadline_ms) {
    // A source may answer every request in time and still never finish (a trickle, or a
    // state far larger than it should be): each source gets one overall deadline.
    BELFRY_RETURN_IF_ERROR(ReplaceSource(now_ms, "deadline"));
  }
  if (wanted_ && !transfer_.has_value()) RequestCheckpoints(now_ms);
  if (transfer_.has_value() && now_ms - transfer_->last_request_ms > limits_.timeout_ms) {
    BELFRY_RETURN_IF_ERROR(ReplaceSource(now_ms, "timeout"));
  }
  return absl::OkStatus();
}

void StateTransfer::RequestNextChunk(int64_t now_ms) {
  CheckInvariants();
  pb::PeerMessage msg;
  msg.mutable_fetch_state()->set_epoch(transfer_->cert.epoch());
  msg.mutable_fetch_state()->set_after_key(transfer_->after_key);
  transfer_->last_request_ms = now_ms;
  effects_.SendPeer(transfer_->source, msg.SerializeAsString());
}

absl::Status StateTransfer::ReplaceSource(int64_t now_ms, absl::string_view why) {
  BELFRY_CHECK(transfer_.has_value());
  ++effects_.counters().state_transfer_source_failures;
  transfer_->failed.insert(transfer_->source);
  effects_.Log(LogLevel::kWarn, "replica", "state_transfer_source_replaced")
      .Add("source", transfer_->source)
      .Add("reason", why);
  // What was staged came from the old source and is unverified: start over, so a bad
  // digest is always blamed on the one replica that sent all of it.
  BELFRY_RETURN_IF_ERROR(store_.ClearStaging());
  transfer_->after_key.clear();
  transfer_->entries = 0;
  transfer_->bytes = 0;
  transfer_->source_started_ms = now_ms;
  const uint32_t self = effects_.self();
  for (uint32_t step = 1; step < config_.n(); ++step) {
    const uint32_t candidate = (transfer_->source + step) % config_.n();
    if (candidate != self && transfer_->failed.count(candidate) == 0) {
      transfer_->source = candidate;
      RequestNextChunk(now_ms);
      return absl::OkStatus();
    }
  }
  // Every peer failed for this checkpoint (most likely they moved on and no longer hold
  // it): ask for their newest.
  transfer_.reset();
  wanted_ = true;
  RequestCheckpoints(now_ms);
  return absl::OkStatus();
}

absl::StatusOr<StateTransfer::Progress> StateTransfer::OnChunk(uint32_t from, const pb::StateChunk& chunk,
                                                                int64_t now_ms) {
  if (!transfer_.has_value() || from != transfer_->source || chunk.epoch() != transfer_->cert.epoch() ||
      chunk.after_key() != transfer_->after_key) {
    return Progress::kNone;  // stale, or not asked for
  }
  if (chunk.unavailable()) {
    BELFRY_RETURN_IF_ERROR(ReplaceSource(now_ms, "unavailable"));
    return Progress::kNone;
  }
  std::vector<std::pair<std::string, std::string>> entries;
  entries.reserve(chunk.entries_size());
  const std::string* previous = &transfer_->after_key;
  for (const pb::StateEntry& e : chunk.entries()) {
    if (e.key().empty() || (!previous->empty() && e.key() <= *previous)) {
      effects_.Fault({.peer = from, .kind = PeerFaultKind::kBadStateChunk}, "keys not ascending");
      BELFRY_RETURN_IF_ERROR(ReplaceSource(now_ms, "bad_chunk"));
      return Progress::kNone;
    }
    previous = &e.key();
    transfer_->bytes += e.key().size() + e.value().size();
    entries.emplace_back(e.key(), e.value());
  }
  const pb::CheckpointCertificate& cert = transfer_->cert;
  if (transfer_->entries + entries.size() > cert.state_entries() || transfer_->bytes > cert.state_bytes()) {
    // The certificate signs the state's size with its digest: a source past it is sending
    // something else, and is stopped at this chunk rather than when the whole is hashed.
    effects_.Fault({.peer = from, .kind = PeerFaultKind::kBadStateChunk}, "more state than the checkpoint certifies");
    BELFRY_RETURN_IF_ERROR(ReplaceSource(now_ms, "oversized"));
    return Progress::kNone;
  }
  if (entries.empty() && !chunk.last()) {
    effects_.Fault({.peer = from, .kind = PeerFaultKind::kBadStateChunk}, "an empty chunk that is not the last");
    BELFRY_RETURN_IF_ERROR(ReplaceSource(now_ms, "bad_chunk"));
    return Progress::kNone;
  }
  if (!entries.empty()) {
    BELFRY_RETURN_IF_ERROR(store_.StageEntries(entries));
    transfer_->after_key = entries.back().first;
    transfer_->entries += entries.size();
  }
  CheckInvariants();
  if (!chunk.last()) {
    RequestNextChunk(now_ms);
    return Progress::kNone;
  }
  if (transfer_->entries != cert.state_entries() || transfer_->bytes != cert.state_bytes()) {
    effects_.Fault({.peer = from, .kind = PeerFaultKind::kBadStateTransfer},
                   "less state than the checkpoint certifies");
    BELFRY_RETURN_IF_ERROR(ReplaceSource(now_ms, "undersized"));
    return Progress::kNone;
  }
  BELFRY_ASSIGN_OR_RETURN(store::Digest digest, store_.ComputeStagedDigest());
  if (DigestString(digest) != transfer_->cert.state_digest()) {
    effects_.Fault({.peer = from, .kind = PeerFaultKind::kBadStateTransfer},
                   "the state sent does not hash to the certified digest");
    BELFRY_RETURN_IF_ERROR(ReplaceSource(now_ms, "bad_digest"));
    return Progress::kNone;
  }
  return Progress::kStateComplete;
}

absl::StatusOr<std::optional<pb::CheckpointCertificate>> StateTransfer::Finish() {
  BELFRY_CHECK(transfer_.has_value());
  const pb::CheckpointCertificate cert = transfer_->cert;
  if (!transfer_->going_back && store_.next_epoch() > cert.epoch()) {
    // Consensus carried this replica past the checkpoint while the state came in (its
    // epochs went on deciding). Installing it now would take the store back to epochs
    // whose logged consensus inputs are pruned already, and the consensus instance rebuilt
    // there would propose and vote in them again, differently. Its own log is good: keep
    // it. (A replica whose log or state is not the cluster's goes back on purpose.)
    effects_.Log(LogLevel::kInfo, "replica", "state_transfer_overtaken")
        .Add("checkpoint_epoch", cert.epoch())
        .Add("next_epoch", store_.next_epoch());
    ++effects_.counters().state_transfers_overtaken;
    transfer_.reset();
    wanted_ = false;
    BELFRY_RETURN_IF_ERROR(store_.ClearStaging());
    return std::optional<pb::CheckpointCertificate>();
  }
  store::Digest head{};
  std::copy(cert.log_head().begin(), cert.log_head().end(), head.begin());
  BELFRY_RETURN_IF_ERROR(store_.InstallStaged(cert.epoch() + 1, head, cert.consensus_time_ms()));
  BELFRY_RETURN_IF_ERROR(store_.WriteCheckpoint(cert));
  // The store now stands right after the certified epoch, at its head.
  BELFRY_CHECK(store_.next_epoch() == cert.epoch() + 1);
  BELFRY_CHECK(DigestString(store_.log_head()) == cert.log_head());
  effects_.Log(LogLevel::kWarn, "replica", "state_transfer_finished")
      .Add("checkpoint_epoch", cert.epoch())
      .Add("entries", transfer_->entries)
      .Add("source", transfer_->source);
  transfer_.reset();
  wanted_ = false;
  ++effects_.counters().state_transfers_completed;
  return std::optional<pb::CheckpointCertificate>(cert);
}

void StateTransfer::CheckInvariants() const {
  BELFRY_CHECK(transfer_.has_value());
  // A transfer's source is a peer that has not failed it, and what it staged fits the bound.
  BELFRY_CHECK(transfer_->source != effects_.self() && transfer_->source < config_.n());
  BELFRY_CHECK(transfer_->failed.count(transfer_->source) == 0);
  BELFRY_CHECK(transfer_->bytes <= transfer_->cert.state_bytes() && transfer_->bytes <= limits_.bytes_max);
  BELFRY_CHECK(transfer_->entries <= transfer_->cert.state_entries());
}

}  // namespace belfry::replica
