#include "replica/node/replica_core.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/check.h"
#include "base/status.h"
#include "config/genesis.h"
#include "config/threshold_keys.h"
#include "replica/node/consensus_inputs.h"
#include "replica/store/log_chain.h"
#include "replica/state/precheck.h"
#include "replica/state/request_format.h"
#include "replica/state/state_keys.h"
#include "replica/state/tdh2_ciphertext_check.h"
#include "threshold/sealed_share.h"
#include "transport/log.h"
#include "wire/statements.h"

namespace belfry::replica {
namespace {

using state::BatchKey;

// The genesis digest is bound into every batch digest, so into every log head: replicas
// configured differently can never sign matching replies or checkpoints.
store::Digest BatchDigest(std::string_view genesis, uint64_t epoch, int64_t consensus_time_ms,
                          const std::vector<std::string>& requests) {
  ByteWriter w;
  w.Raw(std::string_view("belfry/batch/v2")).LengthPrefixed(genesis).U64(epoch).U64(static_cast<uint64_t>(consensus_time_ms));
  w.U32(static_cast<uint32_t>(requests.size()));
  for (const std::string& r : requests) w.LengthPrefixed(r);
  return wire::Sha256(w.bytes());
}

std::string DigestString(const store::Digest& d) { return std::string(d.begin(), d.end()); }

std::string Sha256String(std::string_view bytes) {
  const store::Digest d = wire::Sha256(AsBytes(bytes));
  return DigestString(d);
}

constexpr std::string_view kGenesisMetaName = "genesis";

// Where a client request comes from, for per-client mempool bounds: the session key of a
// session op, the user of a login.
std::string ClientKeyOf(const state::ParsedRequest& parsed) {
  if (parsed.body.has_login()) return "login/" + parsed.body.login().uid();
  return "session/" + parsed.body.op().session_public_key();
}

}  // namespace

CoreCounters::CoreCounters()
    : epoch_latency_seconds({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
      batch_requests({0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}) {}

CoreCounters ReplicaCore::counters() const {
  CoreCounters out = counters_;
  out.mempool_requests = mempool_.size();
  out.waiting_requests = waiting_.size();
  out.in_flight_requests = in_flight_.size();
  out.future_frames_held = 0;
  out.future_frame_bytes_held = 0;
  for (const auto& [peer, held] : future_) {
    out.future_frames_held += held.frames.size();
    out.future_frame_bytes_held += held.bytes;
  }
  out.catchup_bytes_held = 0;
  for (const auto& [peer, bytes] : catchup_bytes_by_peer_) out.catchup_bytes_held += bytes;
  return out;
}

ReplicaCore::ReplicaCore(const config::ClusterConfig& config, uint32_t self, ReplicaKeys keys,
                         store::Store* store, const pki::CaBundle* ca, Outbox* outbox,
                         Options options)
    : config_(config),
      self_(self),
      keys_(std::move(keys)),
      store_(store),
      ca_(ca),
      outbox_(outbox),
      options_(options),
      mempool_(MempoolLimits{.requests_max = config.limits.mempool_requests_max,
                             .bytes_max = 4 * config.limits.frame_bytes_max,
                             .per_client_requests_max = config.limits.pending_requests_per_client_max}) {}

ReplicaCore::~ReplicaCore() = default;

ReplicaCore::Options ReplicaCore::OptionsFor(const config::ClusterConfig& config) {
  Options options;
  options.waiting_requests_max = config.limits.waiting_requests_max;
  options.executed_reply_bytes_max = config.limits.executed_reply_bytes_max;
  options.checkpoint_interval_epochs = config.limits.checkpoint_interval_epochs;
  options.retained_batches = config.limits.log_retained_epochs;
  return options;
}

absl::StatusOr<std::unique_ptr<ReplicaCore>> ReplicaCore::Create(
    const config::ClusterConfig& config, uint32_t self, ReplicaKeys keys, store::Store* store,
    const pki::CaBundle* ca, Outbox* outbox, Options options) {
  std::unique_ptr<ReplicaCore> core(
      new ReplicaCore(config, self, std::move(keys), store, ca, outbox, options));
  BELFRY_RETURN_IF_ERROR(core->Init());
  return core;
}

absl::Status ReplicaCore::Init() {
  const config::Limits& l = config_.limits;
  state_config_.cluster_id = config_.cluster_id();
  state_config_.document_bytes_max = l.document_bytes_max;
  state_config_.grant_seconds_max = l.grant_seconds_max;
  state_config_.session_seconds = l.session_seconds;
  state_config_.session_window_requests = l.session_window_requests;
  state_config_.login_clock_skew_ms_max = int64_t{l.login_clock_skew_seconds} * 1000;
  BELFRY_RETURN_IF_ERROR(state_config_.Validate());
  counters_.faults_by_peer.assign(config_.n(), 0);

  // The genesis: refuse to run under settings other than those this store was made with.
  const config::Genesis genesis = config::ComputeGenesis(config_, ca_->Fingerprint());
  genesis_digest_ = genesis.digest;
  BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> stored_genesis, store_->GetMeta(kGenesisMetaName));
  if (stored_genesis.has_value()) {
    BELFRY_RETURN_IF_ERROR(config::CheckGenesis(*stored_genesis, genesis));
  } else {
    BELFRY_RETURN_IF_ERROR(store_->PutMeta(kGenesisMetaName, genesis.Describe()));
  }

  BELFRY_ASSIGN_OR_RETURN(threshold::PublicKeySet encryption_keys,
                          config::PublicKeySetFromConfig(config_.proto.encryption_keys(), config_.f()));
  ciphertext_check_ = std::make_unique<state::Tdh2CiphertextCheck>(std::move(encryption_keys));
  BELFRY_ASSIGN_OR_RETURN(state::StateMachine sm,
                          state::StateMachine::Create(state_config_, *ca_, *ciphertext_check_));
  state_machine_ = std::make_unique<state::StateMachine>(std::move(sm));

  // Coin names carry the genesis digest too: a replica with other keys or settings cannot
  // share a coin with this cluster.
  hb_config_.cluster_id = config_.cluster_id() + genesis_digest_;
  hb_config_.epochs_in_flight_max = l.epochs_in_flight_max;
  hb_config_.batch_requests_max = l.batch_requests_max;
  // Round 0's coin is fixed (consensus/aba/binary_agreement.cc): the common case decides
  // every agreement without threshold cryptography.
  hb_config_.aba.round0_coin_fixed = true;
  hb_config_.aba.rounds_ahead_max = l.aba_rounds_ahead_max;
  hb_config_.request_bytes_max = state_config_.request_bytes_max();
  hb_config_.proposal_bytes_max =
      std::min<uint64_t>(l.frame_bytes_max / 2,
                         uint64_t{l.batch_requests_max} * (state_config_.request_bytes_max() + 16));
  // Votes are kept a few intervals ahead of the stable checkpoint: correct replicas vote
  // only for epochs they committed, within the consensus window of each other.
  checkpoint_votes_ = std::make_unique<CheckpointVotes>(
      config_, std::max<uint64_t>(4 * options_.checkpoint_interval_epochs, 64));
  BELFRY_ASSIGN_OR_RETURN(stable_, store_->ReadCheckpoint());
  if (stable_.has_value()) {
    counters_.stable_checkpoint_epoch = stable_->epoch();
    ReopenServedCheckpoint();
  }
  // Own checkpoints not yet stable died with this replica's memory of the votes.
  KeepFrozen();
  BeginStep();
  StartConsensusAt(store_->next_epoch());
  EndStep();
  return fatal_;
}

void ReplicaCore::StartConsensusAt(uint64_t epoch) {
  // What the old instance was handed must be in the log the new one replays.
  if (!unsynced_inputs_.empty()) {
    absl::Status synced = store_->AppendConsensusInputs(unsynced_inputs_);
    if (!synced.ok()) {
      Fail(std::move(synced));
      return;
    }
    ++counters_.consensus_input_syncs;
    unsynced_inputs_.clear();
    unsynced_input_bytes_ = 0;
  }
  consensus::NetworkInfo net{.self = self_, .n = config_.n(), .f = config_.f()};
  consensus::epoch::Config c = hb_config_;
  c.first_epoch = epoch;
  c.first_consensus_time = static_cast<uint64_t>(store_->last_consensus_time_ms());
  hb_ = std::make_unique<consensus::epoch::HoneyBadger>(net, c, keys_.coin.get());
  // The batches before `epoch`, as every replica committed them: their requests are
  // duplicates the peers' consensus drops from the epochs to come, and so must ours.
  for (const std::vector<std::string>& batch : RecentBatches(epoch)) hb_->RememberOutput(batch);
  epoch_started_ms_.clear();
  sent_log_.clear();
  sent_log_bytes_ = 0;
  absl::StatusOr<std::vector<store::ConsensusInput>> logged = store_->ReadConsensusInputs();
  if (!logged.ok()) {
    Fail(logged.status());
    return;
  }
  // New inputs go after every kept one.
  for (const store::ConsensusInput& record : *logged) {
    next_input_sequence_ = std::max(next_input_sequence_, record.sequence + 1);
  }
  RebuildSentLog(epoch, *logged);
  ReplayConsensusInputs(epoch, *logged);
  // Peers may be running epochs from here on already: ask them for what they sent us.
  pb::PeerMessage join;
  join.mutable_join_epochs()->set_first_epoch(epoch);
  const std::string bytes = join.SerializeAsString();
  for (uint32_t to = 0; to < config_.n(); ++to) {
    if (to != self_) SendPeer(to, bytes);
  }
}

std::vector<std::vector<std::string>> ReplicaCore::RecentBatches(uint64_t epoch) const {
  std::vector<std::vector<std::string>> out;
  const uint64_t window = hb_config_.epochs_in_flight_max;
  for (uint64_t e = epoch > window ? epoch - window : 0; e < epoch; ++e) {
    absl::StatusOr<std::optional<std::string>> stored = store_->Get(BatchKey(e));
    pb::StoredBatch batch;
    if (!stored.ok() || !stored->has_value() || !batch.ParseFromString(**stored)) continue;
    out.emplace_back(batch.requests().begin(), batch.requests().end());
  }
  return out;
}

// Replays the input log of the epochs from `first_epoch` on, epoch by epoch, each in the
// order it was handled (README.md, "Restarts never equivocate", says why that rebuilds
// the same votes). The messages the replay produces are sent again: peers ignore exact
// repeats, and a peer that never got them (this replica died before they left) needs
// them. Nothing new is proposed until the replay is over, so the log stays the order in
// which this instance was really fed.
// One logged input handed to `hb`: the step it makes, nullopt when it no longer applies
// (its epoch left the window, or a proposal that epoch's replayed state would not make),
// DATA_LOSS for a record this replica cannot have written.
absl::StatusOr<std::optional<consensus::epoch::HbStep>> ReplicaCore::ApplyLoggedInput(
    consensus::epoch::HoneyBadger& hb, const store::ConsensusInput& record) const {
  absl::StatusOr<ConsensusInput> in = ConsensusInput::Decode(record.bytes);
  if (!in.ok()) {
    return absl::DataLossError(absl::StrCat("consensus input log, epoch ", record.epoch, ": ", in.status().message()));
  }
  if (in->kind == ConsensusInput::Kind::kProposal) {
    // The replayed state of this epoch is the one in which the proposal was made, so it
    // goes to the same epoch; otherwise (a rollback past the window) it is out of reach.
    if (!hb.can_propose() || hb.next_epoch_to_propose() != record.epoch) return std::nullopt;
    return std::optional<consensus::epoch::HbStep>(hb.ProposeExact(in->requests, in->clock_reading));
  }
  pb::PeerMessage msg;
  if (!msg.ParseFromString(in->payload) || !msg.has_consensus() || in->from >= config_.n()) {
    return absl::DataLossError(
        absl::StrCat("consensus input log, epoch ", record.epoch, ": a record is not a consensus message"));
  }
  if (hb.Classify(msg.consensus().epoch()) != consensus::epoch::EpochPosition::kInWindow) return std::nullopt;
  return std::optional<consensus::epoch::HbStep>(hb.HandleMessage(in->from, msg.consensus()));
}

void ReplicaCore::ReplayConsensusInputs(uint64_t first_epoch, const std::vector<store::ConsensusInput>& logged) {
  replaying_ = true;
  for (const store::ConsensusInput& record : logged) {
    if (!fatal_.ok()) break;
    if (record.epoch < first_epoch || record.epoch < hb_->next_epoch_to_output()) continue;
    absl::StatusOr<std::optional<consensus::epoch::HbStep>> step = ApplyLoggedInput(*hb_, record);
    if (!step.ok()) {
      Fail(step.status());
      break;
    }
    ++counters_.consensus_inputs_replayed;
    if (!step->has_value()) continue;
    epoch_started_ms_.emplace(record.epoch, last_now_ms_);
    ProcessStep(**std::move(step), last_now_ms_);
  }
  replaying_ = false;
}

// The messages this replica sent for the committed epochs the sent log keeps (see
// SentLogFirstEpoch), rebuilt by replaying their logged inputs into a scratch instance:
// the instance is a pure function of its inputs, so it sends what the replica had sent.
// Nothing of the scratch instance leaves but these messages, kept to answer JoinEpochs.
void ReplicaCore::RebuildSentLog(uint64_t epoch, const std::vector<store::ConsensusInput>& logged) {
  const uint64_t first = SentLogFirstEpoch();
  auto begin = std::find_if(logged.begin(), logged.end(),
                            [&](const store::ConsensusInput& r) { return r.epoch >= first; });
  if (begin == logged.end() || begin->epoch >= epoch) return;
  consensus::NetworkInfo net{.self = self_, .n = config_.n(), .f = config_.f()};
  consensus::epoch::Config c = hb_config_;
  c.first_epoch = begin->epoch;
  consensus::epoch::HoneyBadger scratch(net, c, keys_.coin.get());
  for (auto it = begin; it != logged.end() && it->epoch < epoch; ++it) {
    absl::StatusOr<std::optional<consensus::epoch::HbStep>> step = ApplyLoggedInput(scratch, *it);
    if (!step.ok() || !step->has_value()) continue;  // the main replay reports corruption
    for (auto& tm : (*step)->messages) {
      if (tm.message.epoch() >= epoch) continue;
      pb::PeerMessage out;
      *out.mutable_consensus() = std::move(tm.message);
      std::string bytes = out.SerializeAsString();
      sent_log_bytes_ += bytes.size();
      sent_log_[out.consensus().epoch()].emplace_back(std::move(tm.target), std::move(bytes));
    }
  }
}

void ReplicaCore::AdvanceConsensus(int64_t now_ms) {
  const uint64_t next = store_->next_epoch();
  if (next < hb_->next_epoch_to_output()) {
    // The store went back (a certified state replaced a diverged log): the epochs the
    // instance ran from there on belong to that log. A new instance replays the inputs
    // this replica was handed for them, so it still sends no vote it had not sent.
    StartConsensusAt(next);
    return;
  }
  consensus::epoch::HbStep step =
      hb_->AdvanceTo(next, static_cast<uint64_t>(store_->last_consensus_time_ms()), RecentBatches(next));
  absl::Status pruned = store_->PruneConsensusInputsBefore(SentLogFirstEpoch());
  if (!pruned.ok()) {
    Fail(std::move(pruned));
    return;
  }
  PruneSentLog();
  epoch_started_ms_.erase(epoch_started_ms_.begin(), epoch_started_ms_.lower_bound(next));
  // Peers may be running epochs from here on already: ask them for what they sent us.
  pb::PeerMessage join;
  join.mutable_join_epochs()->set_first_epoch(next);
  const std::string bytes = join.SerializeAsString();
  for (uint32_t to = 0; to < config_.n(); ++to) {
    if (to != self_) SendPeer(to, bytes);
  }
  ProcessStep(std::move(step), now_ms);
}

// ---- what this replica sent, for late joiners ----

// The sent log keeps the last 2·epochs_in_flight_max committed epochs too. A peer that
// restarts replays the inputs it had synced, but a message it had received (and its
// transport acknowledged) without yet syncing is gone with it, and the sender never sends
// it again. If this replica already committed that epoch, the peer can finish it only
// from what this replica sent: catch-up needs f+1 matching records, and in a power cut
// the others may have none. So a JoinEpochs is answered with those messages as well;
// without them (chaos lying-fsync-f N=4 seed 1) three replicas stayed one window behind
// the fourth for good.
uint64_t ReplicaCore::SentLogFirstEpoch() const {
  const uint64_t kept = 2 * uint64_t{hb_config_.epochs_in_flight_max};
  const uint64_t next = store_->next_epoch();
  return next > kept ? next - kept : 0;
}

void ReplicaCore::PruneSentLog() {
  const uint64_t first = SentLogFirstEpoch();
  for (auto it = sent_log_.begin(); it != sent_log_.end() && it->first < first; it = sent_log_.erase(it)) {
    for (const auto& [target, b] : it->second) sent_log_bytes_ -= b.size();
  }
}

// ---- effects ----

void ReplicaCore::BeginStep() { ++step_depth_; }

void ReplicaCore::EndStep() {
  BELFRY_CHECK(step_depth_ > 0);
  if (--step_depth_ == 0) FlushEffects();
}

void ReplicaCore::SendPeer(uint32_t to, std::string payload, bool consensus) {
  held_consensus_ |= consensus;
  held_sends_.emplace_back(to, std::move(payload));
  if (step_depth_ == 0) FlushEffects();
}

void ReplicaCore::LogInput(uint64_t epoch, std::string bytes) {
  if (replaying_) return;  // in the log already
  unsynced_input_bytes_ += bytes.size();
  unsynced_inputs_.push_back(store::ConsensusInput{epoch, next_input_sequence_++, std::move(bytes)});
  ++counters_.consensus_inputs_logged;
}

void ReplicaCore::FlushEffects() {
  // Votes are durable before they leave: a consensus message may leave only once every
  // input it depends on is in the log. Steps that send no consensus message keep their
  // inputs in memory (a crash loses them with their effects, which never left), unless
  // too many have gathered.
  if (!unsynced_inputs_.empty() && (held_consensus_ || unsynced_input_bytes_ > options_.unsynced_input_bytes_max)) {
    absl::Status synced = store_->AppendConsensusInputs(unsynced_inputs_);
    if (!synced.ok()) {
      held_sends_.clear();  // never send what the log does not back
      held_consensus_ = false;
      Fail(std::move(synced));
      return;
    }
    ++counters_.consensus_input_syncs;
    unsynced_inputs_.clear();
    unsynced_input_bytes_ = 0;
  }
  if (!fatal_.ok()) {
    held_sends_.clear();
    held_consensus_ = false;
    return;
  }
  std::vector<std::pair<uint32_t, std::string>> sends = std::move(held_sends_);
  held_sends_.clear();
  held_consensus_ = false;
  for (auto& [to, payload] : sends) outbox_->SendPeer(to, std::move(payload));
}

uint64_t ReplicaCore::next_epoch() const { return store_->next_epoch(); }

int64_t ReplicaCore::consensus_time_ms() const { return store_->last_consensus_time_ms(); }

void ReplicaCore::Fail(absl::Status status) {
  if (fatal_.ok()) {
    fatal_ = std::move(status);
    transport::LogLine(transport::LogLevel::kWarn, "replica", "fatal").Add("reason", fatal_.message());
  }
}

// ---- peers ----

void ReplicaCore::OnPeerMessage(uint32_t from, const std::string& payload, int64_t now_ms) {
  if (!fatal_.ok() || from >= config_.n() || from == self_) return;
  last_now_ms_ = now_ms;
  BeginStep();
  HandlePeerMessage(from, payload, now_ms);
  EndStep();
}

void ReplicaCore::HandlePeerMessage(uint32_t from, const std::string& payload, int64_t now_ms) {
  pb::PeerMessage msg;
  if (!msg.ParseFromString(payload)) {
    ++counters_.peer_messages_malformed;
    ++counters_.faults;
    ++counters_.faults_by_kind[absl::StrCat(from, "/malformed_peer_message")];
    return;
  }
  switch (msg.kind_case()) {
    case pb::PeerMessage::kConsensus:
      HandleConsensus(from, msg, payload, now_ms);
      break;
    case pb::PeerMessage::kFetchEpochs:
      HandleFetch(from, msg.fetch_epochs());
      break;
    case pb::PeerMessage::kCommittedEpoch:
      HandleCommittedEpoch(from, msg.committed_epoch(), now_ms);
      break;
    case pb::PeerMessage::kCheckpointVote:
      HandleCheckpointVote(from, msg.checkpoint_vote(), now_ms);
      break;
    case pb::PeerMessage::kFetchCheckpoint:
      if (stable_.has_value()) {
        pb::PeerMessage out;
        *out.mutable_checkpoint() = *stable_;
        SendPeer(from, out.SerializeAsString());
      }
      break;
    case pb::PeerMessage::kCheckpoint:
      HandleCertificate(from, msg.checkpoint(), now_ms);
      break;
    case pb::PeerMessage::kFetchState:
      HandleFetchState(from, msg.fetch_state());
      break;
    case pb::PeerMessage::kStateChunk:
      HandleStateChunk(from, msg.state_chunk(), now_ms);
      break;
    case pb::PeerMessage::kJoinEpochs:
      HandleJoin(from, msg.join_epochs(), now_ms);
      break;
    case pb::PeerMessage::KIND_NOT_SET:
      ++counters_.peer_messages_malformed;
      break;
  }
}

void ReplicaCore::HandleConsensus(uint32_t from, const pb::PeerMessage& msg, const std::string& payload,
                                  int64_t now_ms) {
  const uint64_t epoch = msg.consensus().epoch();
  switch (hb_->Classify(epoch)) {
    case consensus::epoch::EpochPosition::kFinished:
      return;  // decided and dropped: nothing this message could change
    case consensus::epoch::EpochPosition::kBeyondWindow:
      ++counters_.faults_by_kind[absl::StrCat(from, "/", consensus::FaultKindName(consensus::FaultKind::kEpochOutOfWindow))];
      // Counted against the peer for the penalty (main.cc), which is lifted while this
      // replica catches up: then correct peers are ahead, and their frames are expected.
      ++counters_.faults_by_peer[from];
      beyond_window_[from] = epoch;
      HoldFutureFrame(from, epoch, payload);
      if (PeersAhead()) {
        // Peers are further along than our window: we missed epochs.
        behind_ = true;
        RequestCatchUp(now_ms);
      }
      return;
    case consensus::epoch::EpochPosition::kInWindow:
      break;
  }
  LogInput(epoch, ConsensusInput::EncodePeerMessage(from, payload));
  ProcessStep(hb_->HandleMessage(from, msg.consensus()), now_ms);
}

// A correct peer that is ahead counts on this replica receiving what it sent, so a frame
// beyond the window is kept and handed in when the window gets there. Bounded per peer:
// past the bound the frames of the latest epochs go first (they are needed last), and the
// first epoch that lost one is remembered, to ask that peer again (JoinEpochs) when the
// window reaches it. A Byzantine peer's far-future flood costs at most the bound.
void ReplicaCore::HoldFutureFrame(uint32_t from, uint64_t epoch, const std::string& payload) {
  FutureFrames& held = future_[from];
  // A multimap keeps equal epochs in insertion order, so each epoch's frames stay in the
  // order the link delivered them; the latest epoch's last frame is the first to go.
  held.frames.emplace_hint(held.frames.end(), epoch, payload);
  held.bytes += payload.size();
  while (held.bytes > options_.future_frames_bytes_per_peer_max) {
    auto latest = std::prev(held.frames.end());
    held.dropped_from = std::min(held.dropped_from.value_or(latest->first), latest->first);
    held.bytes -= latest->second.size();
    held.frames.erase(latest);
    ++counters_.future_frames_dropped;
  }
}

void ReplicaCore::DeliverFutureFrames(int64_t now_ms) {
  if (delivering_future_ || replaying_) return;
  delivering_future_ = true;
  // Passes over the peers until one hands nothing in: a frame from one peer may decide an
  // epoch and so let in frames of a peer already passed.
  for (bool delivered = true; delivered && fatal_.ok();) {
    delivered = false;
    for (auto& [peer, held] : future_) {
      delivered |= DeliverFutureFramesOf(peer, held, now_ms);
    }
  }
  delivering_future_ = false;
}

bool ReplicaCore::DeliverFutureFramesOf(uint32_t from, FutureFrames& held, int64_t now_ms) {
  bool delivered = false;
  if (held.dropped_from.has_value() &&
      hb_->Classify(*held.dropped_from) != consensus::epoch::EpochPosition::kBeyondWindow) {
    // Frames of these epochs were dropped here: ask the peer for them again.
    pb::PeerMessage join;
    join.mutable_join_epochs()->set_first_epoch(std::max(*held.dropped_from, hb_->next_epoch_to_output()));
    held.dropped_from.reset();
    SendPeer(from, join.SerializeAsString());
  }
  // Oldest epochs first. Handing one in may move the window further (an epoch decides),
  // which only lets more of the following frames in; it never puts a frame already
  // passed back beyond the window.
  while (!held.frames.empty() && fatal_.ok()) {
    auto first = held.frames.begin();
    const consensus::epoch::EpochPosition position = hb_->Classify(first->first);
    if (position == consensus::epoch::EpochPosition::kBeyondWindow) break;
    std::string payload = std::move(first->second);
    held.bytes -= payload.size();
    held.frames.erase(first);
    if (position != consensus::epoch::EpochPosition::kInWindow) continue;  // decided meanwhile
    ++counters_.future_frames_delivered;
    delivered = true;
    pb::PeerMessage msg;
    if (!msg.ParseFromString(payload)) continue;  // parsed once already
    HandleConsensus(from, msg, payload, now_ms);
  }
  return delivered;
}

void ReplicaCore::ProcessStep(consensus::epoch::HbStep&& step, int64_t now_ms) {
  for (auto& tm : step.messages) {
    const uint64_t epoch = tm.message.epoch();
    pb::PeerMessage out;
    *out.mutable_consensus() = std::move(tm.message);
    std::string bytes = out.SerializeAsString();
    for (uint32_t to = 0; to < config_.n(); ++to) {
      if (to != self_ && tm.target.Contains(to)) SendPeer(to, bytes, /*consensus=*/true);
    }
    if (epoch >= SentLogFirstEpoch()) {
      sent_log_bytes_ += bytes.size();
      sent_log_[epoch].emplace_back(std::move(tm.target), std::move(bytes));
      // Bounded: the newest epochs go first, as they matter least to a late joiner.
      while (sent_log_bytes_ > options_.sent_log_bytes_max && !sent_log_.empty()) {
        for (const auto& [target, b] : sent_log_.rbegin()->second) sent_log_bytes_ -= b.size();
        sent_log_.erase(std::prev(sent_log_.end()));
      }
    }
  }
  for (const consensus::Fault& fault : step.faults) {
    // A message beyond our window usually means we are behind, not that the peer lies.
    if (fault.kind == consensus::FaultKind::kEpochOutOfWindow) {
      ++counters_.faults_by_kind[absl::StrCat(fault.node, "/", consensus::FaultKindName(fault.kind))];
      continue;
    }
    ++counters_.faults;
    ++counters_.faults_by_kind[absl::StrCat(fault.node, "/", consensus::FaultKindName(fault.kind))];
    if (fault.node < counters_.faults_by_peer.size()) ++counters_.faults_by_peer[fault.node];
    transport::LogLine(transport::LogLevel::kWarn, "consensus", "peer_fault")
        .Add("peer", fault.node)
        .Add("kind", consensus::FaultKindName(fault.kind));
  }
  for (const consensus::epoch::Batch& batch : step.outputs) {
    if (!fatal_.ok()) return;
    if (batch.epoch != store_->next_epoch()) continue;  // applied already by catch-up
    absl::Status s = ExecuteAndCommit(batch.epoch, static_cast<int64_t>(batch.consensus_time),
                                      batch.requests, /*send_replies=*/true);
    if (!s.ok()) {
      Fail(std::move(s));
      return;
    }
    // A peer that sent us another record of this epoch (as it answered our JoinEpochs, say)
    // committed something else: tell it what we committed.
    CorrectConflictingRecords(batch.epoch);
    DropCatchupThrough(batch.epoch);
    auto started = epoch_started_ms_.find(batch.epoch);
    if (started != epoch_started_ms_.end()) {
      counters_.last_epoch_latency_ms = static_cast<uint64_t>(std::max<int64_t>(0, now_ms - started->second));
      counters_.epoch_latency_seconds.Observe(static_cast<double>(counters_.last_epoch_latency_ms) / 1000.0);
      epoch_started_ms_.erase(epoch_started_ms_.begin(), std::next(started));
    }
  }
  if (!step.outputs.empty()) DeliverFutureFrames(now_ms);
  MaybePropose(now_ms);
}

void ReplicaCore::MaybePropose(int64_t now_ms) {
  if (!fatal_.ok() || replaying_ || transfer_.has_value() || !hb_->can_propose()) return;
  // Propose when there is a reason to run the epoch: requests here that no running epoch
  // carries yet, or peers already running it (they need our proposal, or will count us
  // among the f missing).
  const uint64_t epoch = hb_->next_epoch_to_propose();
  const bool peers_started = hb_->peers_started(epoch);
  if (!peers_started) {
    if (mempool_.empty()) return;
    // Batching under load: while an epoch this replica proposed in is undecided, requests
    // that arrive wait for it unless a whole batch has gathered. Each epoch costs the same
    // broadcasts, agreements and coins whatever it carries, so small epochs side by side
    // waste the machine; and a request that arrived just after our proposal is often in a
    // peer's proposal for that same epoch, which would make a second epoch for it
    // redundant. An idle cluster has no epoch running, so a lone request goes at once.
    // Decided from sizes, since this runs after every protocol step: the difference
    // undercounts the requests not yet proposed (in_flight_ may still name requests another
    // proposal already ordered), never overcounts.
    const bool own_epoch_running = epoch > hb_->next_epoch_to_output();
    const size_t not_in_flight = mempool_.size() - std::min(mempool_.size(), in_flight_.size());
    if (own_epoch_running && not_in_flight < config_.limits.batch_requests_max) return;
  }
  std::vector<std::pair<std::string, std::string>> fresh =
      mempool_.OldestExcept(4 * size_t{config_.limits.batch_requests_max}, in_flight_,
                            config_.limits.proposal_requests_per_client_max);
  if (fresh.empty() && !peers_started) return;
  epoch_started_ms_.emplace(epoch, now_ms);
  std::vector<std::string> pending;
  pending.reserve(fresh.size());
  for (auto& [id, request] : fresh) {
    in_flight_[id] = epoch;
    pending.push_back(std::move(request));
  }
  // The slice is logged before it is proposed, so a restart proposes exactly it again.
  ConsensusInput in;
  in.kind = ConsensusInput::Kind::kProposal;
  Rng& rng = options_.proposal_rng != nullptr ? *options_.proposal_rng : static_cast<Rng&>(rng_);
  in.requests = hb_->SelectProposal(pending, rng);
  in.clock_reading = static_cast<uint64_t>(now_ms);
  LogInput(epoch, in.Encode());
  // ProcessStep calls MaybePropose again for the epochs after this one.
  ProcessStep(hb_->ProposeExact(in.requests, in.clock_reading), now_ms);
}

absl::Status ReplicaCore::ExecuteAndCommit(uint64_t epoch, int64_t consensus_time_ms,
                                           const std::vector<std::string>& requests,
                                           bool send_replies, const std::string* expected_head) {
  state::StateView view(*store_);
  BELFRY_ASSIGN_OR_RETURN(std::vector<state::Executed> executed,
                          state_machine_->ExecuteBatch(
                              view, epoch, consensus_time_ms, requests,
                              // Admission verified what the mempool holds: skip a second
                              // signature (and ciphertext proof) check of the same bytes.
                              [this](const store::Digest& id) {
                                return mempool_.Contains(DigestString(id));
                              }));
  pb::StoredBatch stored;
  stored.set_epoch(epoch);
  stored.set_consensus_time_ms(consensus_time_ms);
  for (const std::string& r : requests) stored.add_requests(r);
  view.Put(BatchKey(epoch), stored.SerializeAsString());
  if (epoch >= options_.retained_batches) view.Delete(BatchKey(epoch - options_.retained_batches));

  const store::Digest batch_digest = BatchDigest(genesis_digest_, epoch, consensus_time_ms, requests);
  if (expected_head != nullptr) {
    // Checked before the commit: a replica whose execution does not reproduce the head
    // f+1 peers report must not make that epoch durable (it would commit one more wrong
    // epoch at every restart); it goes back to a certified state instead.
    pb::ChainTip tip;
    tip.set_next_epoch(store_->next_epoch());
    tip.set_head(DigestString(store_->log_head()));
    tip.set_consensus_time_ms(store_->last_consensus_time_ms());
    BELFRY_ASSIGN_OR_RETURN(pb::EpochRecord record,
                            store::PrepareEpochRecord(tip, epoch, consensus_time_ms, view.writes(), batch_digest));
    if (record.head() != *expected_head) {
      return absl::AbortedError(absl::StrCat("epoch ", epoch, " executed here does not give the log head f+1 replicas report"));
    }
  }
  BELFRY_RETURN_IF_ERROR(store_->CommitEpoch(epoch, consensus_time_ms, view.writes(), batch_digest));
  // Inputs of committed epochs are replayed only to rebuild what this replica sent in the
  // last few (RebuildSentLog); older ones go, which needs no sync.
  BELFRY_RETURN_IF_ERROR(store_->PruneConsensusInputsBefore(SentLogFirstEpoch()));
  ++counters_.epochs_committed;
  counters_.requests_executed += executed.size();
  counters_.batch_requests.Observe(static_cast<double>(executed.size()));
  for (const state::Executed& e : executed) {
    ++counters_.executed_by_op_status[{e.op, e.result.status()}];
  }

  std::vector<std::string> ids;
  ids.reserve(executed.size());
  for (const state::Executed& e : executed) ids.push_back(DigestString(e.request_id));
  mempool_.Remove(ids);
  counters_.mempool_requests = mempool_.size();
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    it = it->second <= epoch ? in_flight_.erase(it) : std::next(it);
  }

  const store::Digest head = store_->log_head();
  for (size_t i = 0; i < executed.size(); ++i) {
    std::string frame =
        BuildReplyFrame(executed[i], epoch, static_cast<uint32_t>(i), consensus_time_ms, head);
    auto waiting = waiting_.find(ids[i]);
    if (waiting != waiting_.end()) {
      if (send_replies) {
        for (const ReplyWaiter& waiter : waiting->second) {
          DeliverReply(waiter, executed[i].uid, ids[i], frame);
        }
      }
      waiting_.erase(waiting);
    }
    RememberExecuted(ids[i], executed[i].uid, std::move(frame));
  }
  PruneSentLog();
  MaybeCheckpoint(epoch);
  // Debug: at load this is many lines a second; the metrics carry the same story.
  transport::LogLine(transport::LogLevel::kDebug, "replica", "epoch_committed")
      .Add("epoch", epoch)
      .Add("requests", static_cast<uint64_t>(requests.size()))
      .Add("consensus_time_ms", consensus_time_ms);
  return absl::OkStatus();
}

std::string ReplicaCore::BuildReplyFrame(const state::Executed& executed, uint64_t epoch,
                                         uint32_t position, int64_t consensus_time_ms,
                                         const store::Digest& head) {
  pb::ReplyBody body;
  body.set_cluster_id(config_.cluster_id());
  body.set_request_id(DigestString(executed.request_id));
  body.set_result(executed.result.SerializeAsString());
  body.set_epoch(epoch);
  body.set_position(position);
  body.set_log_head(DigestString(head));
  body.set_consensus_time_ms(consensus_time_ms);

  pb::SignedReply reply;
  reply.set_replica(self_);
  reply.set_body(body.SerializeAsString());
  if (executed.decryption.has_value() && keys_.decryption != nullptr) {
    absl::StatusOr<threshold::Ciphertext> ct =
        threshold::Ciphertext::Parse(AsBytes(executed.decryption->ciphertext));
    if (ct.ok()) {
      const std::string label(executed.decryption->label.begin(), executed.decryption->label.end());
      absl::StatusOr<threshold::DecryptionShare> share = keys_.decryption->MakeShare(*ct, label);
      // Sealed to the checkout's own key: the reply may be cached and sent again, and
      // whoever holds a copy of the request must not be able to use the share.
      absl::StatusOr<std::string> sealed =
          share.ok() ? threshold::SealShare(executed.decryption->recipient_key, self_,
                                            executed.decryption->label, share->Serialize())
                     : share.status();
      if (sealed.ok()) reply.mutable_attachments()->set_sealed_decryption_share(*std::move(sealed));
    }
  }
  const pb::Result& result = executed.result;
  if (result.status() == pb::STATUS_OK && result.has_check_out() && result.check_out().integrity()) {
    const pb::CheckOutResult& co = result.check_out();
    wire::Digest sha{};
    if (co.sha256().size() == sha.size()) {
      std::copy(co.sha256().begin(), co.sha256().end(), sha.begin());
      const Bytes statement = wire::IntegrityStatement(config_.cluster_id(), co.doc(), co.version(),
                                                       sha, co.confidential(), co.integrity());
      reply.mutable_attachments()->set_integrity_signature(keys_.reply.Sign(statement));
    }
  }
  reply.set_signature(keys_.reply.Sign(
      wire::ReplyStatement(self_, AsBytes(reply.body()), reply.attachments())));
  pb::ClientFrame frame;
  *frame.mutable_reply() = std::move(reply);
  return frame.SerializeAsString();
}

void ReplicaCore::RememberExecuted(const std::string& request_id, const std::string& uid,
                                   std::string reply_frame) {
  auto [it, inserted] = executed_replies_.emplace(request_id, CachedReply{});
  if (inserted) {
    executed_order_.push_back(request_id);
  } else {
    // Executed again (a retransmission that a replica without the first reply ordered
    // anew): the latest reply replaces the first. Every correct replica executes the same
    // log, so they all end up answering with the reply of the same epoch and a client
    // can gather 2f+1 matching ones; keeping the first would leave the replicas that
    // restarted (and lost their cache) answering with another epoch than the rest.
    executed_reply_bytes_ -= it->second.frame.size();
    it->second.frame.clear();
  }
  it->second.uid = uid;
  if (reply_frame.size() <= options_.executed_reply_bytes_max / 16) {
    executed_reply_bytes_ += reply_frame.size();
    it->second.frame = std::move(reply_frame);
  }
  while (executed_order_.size() > options_.executed_remembered_max ||
         executed_reply_bytes_ > options_.executed_reply_bytes_max) {
    auto old = executed_replies_.find(executed_order_.front());
    executed_reply_bytes_ -= old->second.frame.size();
    executed_replies_.erase(old);
    executed_order_.pop_front();
  }
}

// ---- clients ----

void ReplicaCore::OnClientFrame(uint64_t connection, const std::string& frame_bytes, int64_t now_ms,
                                std::optional<std::string> peer_uid) {
  CheckedFrame checked = CheckClientFrame(frame_bytes);
  checked.peer_uid = std::move(peer_uid);
  OnCheckedFrame(connection, std::move(checked), now_ms);
}

void ReplicaCore::DeliverReply(const ReplyWaiter& waiter, const std::string& uid,
                               const std::string& request_id, const std::string& frame) {
  if (!ReplyAllowed(uid, waiter.peer_uid)) {
    ++counters_.requests_refused;
    ++counters_.refused_by_status[pb::STATUS_NOT_REQUESTER];
    Reject(waiter.connection, request_id, pb::STATUS_NOT_REQUESTER, std::string(kNotRequesterMessage));
    return;
  }
  outbox_->SendClient(waiter.connection, frame);
  ++counters_.replies_sent;
}

CheckedFrame ReplicaCore::CheckClientFrame(const std::string& frame_bytes) const {
  CheckedFrame out;
  pb::ClientFrame frame;
  if (!frame.ParseFromString(frame_bytes)) return out;
  switch (frame.kind_case()) {
    case pb::ClientFrame::kRequest: {
      out.kind = CheckedFrame::Kind::kRequest;
      out.request = std::move(*frame.mutable_request());
      out.request_id = DigestString(state::RequestId(out.request));
      state::ParsedRequest parsed;
      out.verdict = state::ParseRequest(state_config_, out.request, &parsed);
      if (out.verdict.ok()) out.verdict = state::VerifyRequestCrypto(state_config_, *ciphertext_check_, parsed);
      if (out.verdict.ok()) out.client_key = ClientKeyOf(parsed);
      return out;
    }
    case pb::ClientFrame::kStatusQuery:
      if (frame.status_query().size() < wire::kStatusNonceBytesMin ||
          frame.status_query().size() > wire::kStatusNonceBytesMax) {
        return out;  // malformed
      }
      out.kind = CheckedFrame::Kind::kStatusQuery;
      out.status_nonce = std::move(*frame.mutable_status_query());
      return out;
    default:
      out.kind = CheckedFrame::Kind::kUnsupported;
      return out;
  }
}

void ReplicaCore::OnCheckedFrame(uint64_t connection, CheckedFrame checked, int64_t now_ms) {
  if (!fatal_.ok()) return;
  last_now_ms_ = now_ms;
  BeginStep();
  HandleCheckedFrame(connection, std::move(checked), now_ms);
  EndStep();
}

void ReplicaCore::HandleCheckedFrame(uint64_t connection, CheckedFrame checked, int64_t now_ms) {
  switch (checked.kind) {
    case CheckedFrame::Kind::kMalformed:
      Reject(connection, "", pb::STATUS_MALFORMED_REQUEST, "client frame does not parse");
      break;
    case CheckedFrame::Kind::kRequest:
      HandleClientRequest(connection, std::move(checked), now_ms);
      break;
    case CheckedFrame::Kind::kStatusQuery:
      HandleStatusQuery(connection, checked.status_nonce);
      break;
    case CheckedFrame::Kind::kUnsupported:
      Reject(connection, "", pb::STATUS_MALFORMED_REQUEST, "clients may send requests and status queries only");
      break;
  }
}

void ReplicaCore::HandleClientRequest(uint64_t connection, CheckedFrame checked, int64_t now_ms) {
  const std::string& id = checked.request_id;
  auto done = executed_replies_.find(id);
  if (done != executed_replies_.end()) {
    // A copy of a request already executed (it reached this replica late, or the client
    // retransmitted): answer with the reply already signed, never order it again.
    if (!done->second.frame.empty()) {
      DeliverReply({connection, checked.peer_uid}, done->second.uid, id, done->second.frame);
    } else {
      Reject(connection, id, pb::STATUS_UNSPECIFIED, "request already executed; its reply is no longer cached here");
    }
    return;
  }
  const state::Verdict& verdict = checked.verdict;
  if (!verdict.ok()) {
    ++counters_.requests_refused;
    ++counters_.refused_by_status[verdict.status];
    Reject(connection, id, static_cast<uint32_t>(verdict.status), verdict.message);
    return;
  }
  if (waiting_.size() >= options_.waiting_requests_max && waiting_.count(id) == 0) {
    RejectOverloaded(connection, id, "waiting", "replica is overloaded; retry later");
    return;
  }
  absl::Status admitted = mempool_.Add(id, std::move(checked.request), checked.client_key);
  if (admitted.code() == absl::StatusCode::kResourceExhausted) {
    const bool own_bound =
        mempool_.pending_for(checked.client_key) >= config_.limits.pending_requests_per_client_max;
    RejectOverloaded(connection, id, own_bound ? "client_pending" : "mempool",
                     std::string(admitted.message()));
    return;
  }
  if (admitted.ok()) ++counters_.requests_admitted;
  std::vector<ReplyWaiter>& waiters = waiting_[id];
  if (waiters.size() >= options_.waiting_frames_per_request_max) {
    RejectOverloaded(connection, id, "copies", "too many copies of this request are waiting");
    return;
  }
  waiters.push_back({connection, std::move(checked.peer_uid)});
  counters_.mempool_requests = mempool_.size();
  MaybePropose(now_ms);
}

void ReplicaCore::HandleStatusQuery(uint64_t connection, const std::string& nonce) {
  pb::ReplicaStatus status;
  status.set_cluster_id(config_.cluster_id());
  status.set_nonce(nonce);
  status.set_replica(self_);
  status.set_last_epoch(store_->next_epoch());
  status.set_consensus_time_ms(store_->last_consensus_time_ms());
  status.set_log_head(DigestString(store_->log_head()));
  status.set_checkpoint_epoch(stable_.has_value() ? stable_->epoch() : 0);
  status.set_faults_seen(counters_.faults);
  status.set_signature(keys_.reply.Sign(wire::StatusStatement(status)));
  pb::ClientFrame frame;
  *frame.mutable_status() = std::move(status);
  outbox_->SendClient(connection, frame.SerializeAsString());
}

void ReplicaCore::Reject(uint64_t connection, const std::string& request_id, uint32_t code,
                         const std::string& message) {
  pb::Rejection r;
  r.set_replica(self_);
  r.set_request_id(request_id);
  r.set_code(code);
  r.set_message(message);
  r.set_signature(keys_.reply.Sign(wire::RejectionStatement(self_, AsBytes(request_id), code, message)));
  pb::ClientFrame frame;
  *frame.mutable_rejection() = std::move(r);
  outbox_->SendClient(connection, frame.SerializeAsString());
}

// Code 0 is the one refusal that is not final: the client offers the request again later
// (client_lib/internal/pending_call.h), since it depends on this replica's load, not on
// the request.
void ReplicaCore::RejectOverloaded(uint64_t connection, const std::string& request_id,
                                   const char* reason, const std::string& message) {
  ++counters_.requests_overloaded;
  ++counters_.overloaded_by_reason[reason];
  Reject(connection, request_id, pb::STATUS_UNSPECIFIED, message);
}

// ---- catch-up ----

bool ReplicaCore::PeersAhead() const {
  uint32_t ahead = 0;
  for (uint32_t peer = 0; peer < config_.n(); ++peer) {
    auto beyond = beyond_window_.find(peer);
    auto joined = joined_at_.find(peer);
    if ((beyond != beyond_window_.end() &&
         hb_->Classify(beyond->second) == consensus::epoch::EpochPosition::kBeyondWindow) ||
        (joined != joined_at_.end() && joined->second > store_->next_epoch())) {
      ++ahead;
    }
  }
  return ahead >= config_.f() + 1;
}

void ReplicaCore::OnTick(int64_t now_ms) {
  if (!fatal_.ok()) return;
  last_now_ms_ = now_ms;
  BeginStep();
  if (transfer_.has_value() && now_ms - transfer_->source_started_ms > options_.state_transfer_deadline_ms) {
    // A source may answer every request in time and still never finish (a trickle, or a
    // state far larger than it should be): each source gets one overall deadline.
    ReplaceTransferSource(now_ms, "deadline");
  }
  if (want_transfer_ && !transfer_.has_value()) RequestCheckpoints();
  if (transfer_.has_value() && now_ms - transfer_->last_request_ms > options_.state_transfer_timeout_ms) {
    ReplaceTransferSource(now_ms, "timeout");
  }
  if (behind_) RequestCatchUp(now_ms);
  ServeDeferredJoins(now_ms);
  MaybePropose(now_ms);
  EndStep();
}

void ReplicaCore::RequestCatchUp(int64_t now_ms) {
  if (now_ms - last_fetch_ms_ < options_.fetch_interval_ms) return;
  last_fetch_ms_ = now_ms;
  if (++fetches_without_progress_ > 3) {
    behind_ = false;  // a later beyond-window message sets it again
    fetches_without_progress_ = 0;
    // Nobody could serve the epochs we lack: they are pruned. A stable checkpoint beyond
    // our state is then the way back.
    if (!transfer_.has_value()) {
      want_transfer_ = true;
      RequestCheckpoints();
    }
    return;
  }
  pb::PeerMessage msg;
  msg.mutable_fetch_epochs()->set_first_epoch(store_->next_epoch());
  msg.mutable_fetch_epochs()->set_count(options_.fetch_epochs_max);
  const std::string bytes = msg.SerializeAsString();
  for (uint32_t to = 0; to < config_.n(); ++to) {
    if (to != self_) SendPeer(to, bytes);
  }
}

std::optional<pb::PeerMessage> ReplicaCore::CommittedRecord(uint64_t epoch) const {
  absl::StatusOr<std::optional<std::string>> stored = store_->Get(BatchKey(epoch));
  absl::StatusOr<std::optional<pb::EpochRecord>> record = store_->ReadEpochRecord(epoch);
  if (!stored.ok() || !stored->has_value() || !record.ok() || !record->has_value()) return std::nullopt;
  pb::StoredBatch batch;
  if (!batch.ParseFromString(**stored)) return std::nullopt;
  pb::PeerMessage msg;
  pb::CommittedEpoch* c = msg.mutable_committed_epoch();
  c->set_epoch(epoch);
  c->set_consensus_time_ms(batch.consensus_time_ms());
  *c->mutable_requests() = batch.requests();
  c->set_log_head((*record)->head());
  return msg;
}

void ReplicaCore::HandleFetch(uint32_t from, const pb::FetchEpochs& fetch) {
  // Rate-limited per peer: an answer can be fetch_epochs_max whole batches, so a faulty
  // peer's stream of small fetches must not become a stream of large answers. A correct
  // peer asks every fetch_interval_ms, far less often.
  auto [last, first_time] = last_fetch_served_ms_.emplace(from, last_now_ms_);
  if (!first_time) {
    if (last_now_ms_ - last->second < options_.fetch_served_interval_ms) {
      ++counters_.fetches_refused;
      return;
    }
    last->second = last_now_ms_;
  }
  ServeEpochs(from, fetch.first_epoch(), fetch.count());
}

void ReplicaCore::ServeEpochs(uint32_t to, uint64_t first_epoch, uint64_t count) {
  count = std::min<uint64_t>(count, options_.fetch_epochs_max);
  const uint64_t end = std::min<uint64_t>(store_->next_epoch(), first_epoch + count);
  for (uint64_t e = first_epoch; e < end; ++e) {
    std::optional<pb::PeerMessage> msg = CommittedRecord(e);
    if (!msg.has_value()) return;
    SendPeer(to, msg->SerializeAsString());
  }
}

void ReplicaCore::CorrectConflictingRecords(uint64_t epoch) {
  auto it = catchup_votes_.find(epoch);
  if (it == catchup_votes_.end()) return;
  std::optional<pb::PeerMessage> own = CommittedRecord(epoch);
  if (!own.has_value()) return;
  const std::string own_record = own->committed_epoch().SerializeAsString();
  const std::string bytes = own->SerializeAsString();
  for (const auto& [record, held] : it->second) {
    if (record == own_record) continue;
    for (uint32_t to : held.senders) SendPeer(to, bytes);
  }
}

void ReplicaCore::HandleOlderRecord(uint32_t from, const pb::CommittedEpoch& committed, int64_t now_ms) {
  const uint64_t epoch = committed.epoch();
  if (diverged_ || epoch < store_->log_base_epoch()) return;
  absl::StatusOr<std::optional<pb::EpochRecord>> own = store_->ReadEpochRecord(epoch);
  if (!own.ok() || !own->has_value() || (*own)->head() == committed.log_head()) return;
  auto votes = divergence_votes_.find(epoch);
  if (votes == divergence_votes_.end()) {
    // Bounded: the newest epochs are kept, as a cluster that runs on corrects those.
    if (divergence_votes_.size() >= options_.fetch_epochs_max) {
      if (epoch < divergence_votes_.begin()->first) return;
      divergence_votes_.erase(divergence_votes_.begin());
    }
    votes = divergence_votes_.emplace(epoch, std::map<uint32_t, std::string>()).first;
  }
  // A digest, not the record: bounded at 32 bytes per peer and epoch.
  const std::string& record = votes->second[from] = Sha256String(committed.SerializeAsString());
  uint32_t agreeing = 0;
  for (const auto& [peer, r] : votes->second) agreeing += r == record ? 1 : 0;
  // 2f+1, so at least f+1 correct replicas committed that record: it is the cluster's,
  // and ours can never gather the 2f+1 replies a client needs. Fewer could be f liars.
  if (agreeing < 2 * config_.f() + 1) return;
  MarkDiverged(epoch, now_ms);
}

void ReplicaCore::MarkDiverged(uint64_t epoch, int64_t now_ms) {
  ++counters_.log_divergences;
  transport::LogLine(transport::LogLevel::kError, "replica", "log_diverged")
      .Add("epoch", epoch)
      .Add("next_epoch", store_->next_epoch())
      .Add("stable_checkpoint_epoch", stable_.has_value() ? stable_->epoch() : 0);
  diverged_ = true;
  divergence_votes_.clear();
  if (transfer_.has_value()) return;
  if (stable_.has_value() && stable_->epoch() < epoch) {
    StartTransfer(*stable_, now_ms);
  } else {
    want_transfer_ = true;
    RequestCheckpoints();
  }
}

void ReplicaCore::DropCatchupThrough(uint64_t epoch) {
  for (auto it = catchup_votes_.begin(); it != catchup_votes_.end() && it->first <= epoch;
       it = catchup_votes_.erase(it)) {
    for (const auto& [record, held] : it->second) {
      uint64_t& charged = catchup_bytes_by_peer_[held.charged_to];
      charged -= std::min<uint64_t>(charged, record.size());
    }
  }
}

void ReplicaCore::HandleCommittedEpoch(uint32_t from, const pb::CommittedEpoch& committed,
                                       int64_t now_ms) {
  const uint64_t next = store_->next_epoch();
  if (committed.epoch() < next) {
    HandleOlderRecord(from, committed, now_ms);
    return;
  }
  // Only epochs we could apply soon are kept: bounded by the fetch size.
  if (committed.epoch() >= next + options_.fetch_epochs_max) return;
  // One record per peer and epoch (its latest): a faulty peer cannot pile up records.
  std::map<std::string, CatchupRecord>& records = catchup_votes_[committed.epoch()];
  for (auto it = records.begin(); it != records.end();) {
    it->second.senders.erase(from);
    if (it->second.senders.empty()) {
      uint64_t& charged = catchup_bytes_by_peer_[it->second.charged_to];
      charged -= std::min<uint64_t>(charged, it->first.size());
      it = records.erase(it);
    } else {
      ++it;
    }
  }
  std::string bytes = committed.SerializeAsString();
  auto existing = records.find(bytes);
  if (existing == records.end()) {
    // A record nobody else sent is charged to its sender, so one peer's records (each up
    // to a frame) cannot fill memory; a record others sent already costs nothing more.
    uint64_t& charged = catchup_bytes_by_peer_[from];
    if (charged + bytes.size() > options_.catchup_bytes_per_peer_max) {
      ++counters_.catchup_records_refused;
      if (records.empty()) catchup_votes_.erase(committed.epoch());
      return;
    }
    charged += bytes.size();
    existing = records.emplace(std::move(bytes), CatchupRecord{{}, from}).first;
  }
  existing->second.senders.insert(from);

  bool applied = false;
  for (;;) {
    auto it = catchup_votes_.find(store_->next_epoch());
    if (it == catchup_votes_.end()) break;
    const std::string* winner = nullptr;
    for (const auto& [record, held] : it->second) {
      if (held.senders.size() >= config_.f() + 1) winner = &record;
    }
    if (winner == nullptr) break;
    pb::CommittedEpoch c;
    BELFRY_CHECK(c.ParseFromString(*winner));
    std::vector<std::string> requests(c.requests().begin(), c.requests().end());
    const std::string expected_head = c.log_head();
    absl::Status s = ExecuteAndCommit(c.epoch(), c.consensus_time_ms(), requests, /*send_replies=*/true, &expected_head);
    if (s.code() == absl::StatusCode::kAborted) {
      // f+1 replicas, so at least one correct one, committed this batch and reached a head
      // our execution does not: our state before it is not the cluster's.
      ++counters_.catchup_head_mismatches;
      DropCatchupThrough(c.epoch());
      MarkDiverged(c.epoch(), now_ms);
      return;
    }
    if (!s.ok()) {
      Fail(std::move(s));
      return;
    }
    BELFRY_CHECK(DigestString(store_->log_head()) == expected_head);
    ++counters_.epochs_caught_up;
    CorrectConflictingRecords(c.epoch());
    DropCatchupThrough(c.epoch());
    applied = true;
  }
  if (applied) {
    want_transfer_ = false;  // the log serves us again
    // The running instance moves past the applied epochs and keeps the later ones, with
    // every vote it already sent there (a new instance would vote again from scratch).
    AdvanceConsensus(now_ms);
    behind_ = true;
    fetches_without_progress_ = 0;  // keep fetching until a fetch brings nothing new
    last_fetch_ms_ = 0;
    RequestCatchUp(now_ms);
  }
}

// ---- checkpoints ----

void ReplicaCore::RecordFault(uint32_t peer, absl::string_view kind, absl::string_view detail) {
  ++counters_.faults;
  if (peer < counters_.faults_by_peer.size()) ++counters_.faults_by_peer[peer];
  ++counters_.faults_by_kind[absl::StrCat(peer, "/", kind)];
  transport::LogLine(transport::LogLevel::kWarn, "replica", "peer_fault")
      .Add("peer", peer)
      .Add("kind", kind)
      .Add("detail", detail);
}

void ReplicaCore::MaybeCheckpoint(uint64_t epoch) {
  const uint64_t k = options_.checkpoint_interval_epochs;
  if (k == 0 || (epoch + 1) % k != 0) return;
  absl::StatusOr<store::Digest> digest = store_->ComputeStateDigest();
  absl::StatusOr<std::shared_ptr<const store::StateSnapshot>> frozen = store_->FreezeStateDurably(epoch);
  if (!digest.ok() || !frozen.ok()) {
    Fail(!digest.ok() ? digest.status() : frozen.status());
    return;
  }
  OwnCheckpoint own{DigestString(*digest), DigestString(store_->log_head()), *std::move(frozen)};
  pb::PeerMessage msg;
  pb::CheckpointVote* vote = msg.mutable_checkpoint_vote();
  vote->set_epoch(epoch);
  vote->set_state_digest(own.state_digest);
  vote->set_log_head(own.log_head);
  vote->set_consensus_time_ms(store_->last_consensus_time_ms());
  const Bytes statement =
      CheckpointStatementOf(config_, epoch, vote->state_digest(), vote->log_head(), vote->consensus_time_ms());
  vote->set_signature(keys_.reply.Sign(statement));
  own_checkpoints_[epoch] = std::move(own);
  while (own_checkpoints_.size() > options_.served_checkpoints_max) own_checkpoints_.erase(own_checkpoints_.begin());
  KeepFrozen();
  ++counters_.checkpoints_taken;
  const std::string bytes = msg.SerializeAsString();
  for (uint32_t to = 0; to < config_.n(); ++to) {
    if (to != self_) SendPeer(to, bytes);
  }
  HandleCheckpointVote(self_, msg.checkpoint_vote(), last_now_ms_);
}

void ReplicaCore::HandleCheckpointVote(uint32_t from, const pb::CheckpointVote& vote, int64_t now_ms) {
  absl::StatusOr<std::optional<pb::CheckpointCertificate>> added =
      checkpoint_votes_->Add(from, vote, stable_checkpoint_epoch());
  if (!added.ok()) {
    if (added.status().code() != absl::StatusCode::kOutOfRange) {
      RecordFault(from, "bad_checkpoint_vote", added.status().message());
    }
    return;
  }
  if (added->has_value()) AdoptCertificate(**added, now_ms);
}

void ReplicaCore::RequestCheckpoints() {
  // Paced: when every peer answers that it no longer holds the checkpoint it certified
  // (it restarted, or moved on), asking again at once would only spin. OnTick asks again.
  if (last_checkpoint_request_ms_ >= 0 && last_now_ms_ - last_checkpoint_request_ms_ < options_.fetch_interval_ms) {
    return;
  }
  last_checkpoint_request_ms_ = last_now_ms_;
  pb::PeerMessage msg;
  msg.mutable_fetch_checkpoint();
  const std::string bytes = msg.SerializeAsString();
  for (uint32_t to = 0; to < config_.n(); ++to) {
    if (to != self_) SendPeer(to, bytes);
  }
}

void ReplicaCore::HandleCertificate(uint32_t from, const pb::CheckpointCertificate& cert, int64_t now_ms) {
  if (stable_.has_value() && cert.epoch() <= stable_->epoch()) return;
  absl::Status valid = VerifyCheckpointCertificate(config_, cert);
  if (!valid.ok()) {
    RecordFault(from, "bad_checkpoint_certificate", valid.message());
    return;
  }
  AdoptCertificate(cert, now_ms);
}

// A verified certificate, from votes or from a peer.
void ReplicaCore::AdoptCertificate(const pb::CheckpointCertificate& cert, int64_t now_ms) {
  if (stable_.has_value() && cert.epoch() <= stable_->epoch()) return;
  if (diverged_) {
    if (!transfer_.has_value()) StartTransfer(cert, now_ms);
    return;
  }
  const uint64_t next = store_->next_epoch();
  if (cert.epoch() >= next) {
    // The cluster certified a state this replica does not have. If this replica signed
    // it, it had that state once: its disk was rolled back or lost.
    bool signed_by_self = false;
    for (const pb::CheckpointSignature& sig : cert.signatures()) signed_by_self |= sig.replica() == self_;
    if (signed_by_self) {
      ++counters_.rollbacks_detected;
      transport::LogLine(transport::LogLevel::kError, "replica", "rollback_detected")
          .Add("checkpoint_epoch", cert.epoch())
          .Add("next_epoch", next);
    }
    if ((want_transfer_ || signed_by_self) && !transfer_.has_value()) StartTransfer(cert, now_ms);
    return;
  }
  std::shared_ptr<const store::StateSnapshot> state;
  auto own = own_checkpoints_.find(cert.epoch());
  if (own != own_checkpoints_.end()) {
    if (own->second.state_digest != cert.state_digest() || own->second.log_head != cert.log_head()) {
      // 2f+1 replicas, so at least f+1 correct ones, hold another state than we computed
      // at that epoch: ours is corrupt. Stop serving it and fetch theirs.
      ++counters_.state_divergences;
      transport::LogLine(transport::LogLevel::kError, "replica", "state_diverged")
          .Add("checkpoint_epoch", cert.epoch());
      if (!transfer_.has_value()) StartTransfer(cert, now_ms);
      return;
    }
    state = own->second.state;
  }
  absl::Status written = store_->WriteCheckpoint(cert);
  if (!written.ok()) {
    Fail(std::move(written));
    return;
  }
  stable_ = cert;
  ++counters_.checkpoints_stable;
  counters_.stable_checkpoint_epoch = cert.epoch();
  if (state != nullptr) {
    served_[cert.epoch()] = std::move(state);
    while (served_.size() > options_.served_checkpoints_max) served_.erase(served_.begin());
  }
  own_checkpoints_.erase(own_checkpoints_.begin(), own_checkpoints_.upper_bound(cert.epoch()));
  KeepFrozen();
  checkpoint_votes_->ForgetThrough(cert.epoch());
  // Epoch records are needed to serve catch-up for the retained batches only, and a
  // stable checkpoint covers everything before it: prune below both.
  if (next > options_.retained_batches) {
    absl::Status pruned = store_->PruneLogBefore(std::min<uint64_t>(cert.epoch() + 1, next - options_.retained_batches));
    if (!pruned.ok()) {
      Fail(std::move(pruned));
      return;
    }
  }
  counters_.log_base_epoch = store_->log_base_epoch();
}

// ---- state transfer ----

void ReplicaCore::HandleFetchState(uint32_t from, const pb::FetchState& fetch) {
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
    absl::Status scanned = it->second->Scan(fetch.after_key(), options_.state_chunk_bytes_max, &entries, &done);
    if (!scanned.ok()) {
      chunk->set_unavailable(true);
    } else {
      for (auto& [key, value] : entries) {
        pb::StateEntry* e = chunk->add_entries();
        e->set_key(std::move(key));
        e->set_value(std::move(value));
      }
      chunk->set_last(done);
      ++counters_.state_chunks_served;
    }
  }
  SendPeer(from, msg.SerializeAsString());
}

void ReplicaCore::StartTransfer(const pb::CheckpointCertificate& cert, int64_t now_ms) {
  Transfer t;
  t.cert = cert;
  t.source_started_ms = now_ms;
  t.going_back = diverged_ || cert.epoch() < store_->next_epoch();
  // A signer (signers hold that state), starting one further on with every transfer, so
  // a source that stalls one transfer is not the first one asked in the next.
  t.source = self_;
  const uint32_t offset = static_cast<uint32_t>(counters_.state_transfers_started % config_.n());
  for (uint32_t step = 1; step <= 2 * config_.n() && t.source == self_; ++step) {
    const uint32_t candidate = (self_ + offset + step) % config_.n();
    if (candidate == self_) continue;
    for (const pb::CheckpointSignature& sig : cert.signatures()) {
      if (sig.replica() == candidate) t.source = candidate;
    }
  }
  if (t.source == self_) return;  // a certificate signed only by us cannot happen (2f+1 > 1)
  absl::Status cleared = store_->ClearStaging();
  if (!cleared.ok()) {
    Fail(std::move(cleared));
    return;
  }
  transfer_ = std::move(t);
  ++counters_.state_transfers_started;
  transport::LogLine(transport::LogLevel::kWarn, "replica", "state_transfer_started")
      .Add("checkpoint_epoch", cert.epoch())
      .Add("next_epoch", store_->next_epoch())
      .Add("source", transfer_->source);
  RequestNextChunk(now_ms);
}

void ReplicaCore::RequestNextChunk(int64_t now_ms) {
  pb::PeerMessage msg;
  msg.mutable_fetch_state()->set_epoch(transfer_->cert.epoch());
  msg.mutable_fetch_state()->set_after_key(transfer_->after_key);
  transfer_->last_request_ms = now_ms;
  SendPeer(transfer_->source, msg.SerializeAsString());
}

void ReplicaCore::ReplaceTransferSource(int64_t now_ms, absl::string_view why) {
  ++counters_.state_transfer_source_failures;
  transfer_->failed.insert(transfer_->source);
  transport::LogLine(transport::LogLevel::kWarn, "replica", "state_transfer_source_replaced")
      .Add("source", transfer_->source)
      .Add("reason", why);
  // What was staged came from the old source and is unverified: start over, so a bad
  // digest is always blamed on the one replica that sent all of it.
  absl::Status cleared = store_->ClearStaging();
  if (!cleared.ok()) {
    Fail(std::move(cleared));
    return;
  }
  transfer_->after_key.clear();
  transfer_->entries = 0;
  transfer_->bytes = 0;
  transfer_->source_started_ms = now_ms;
  for (uint32_t step = 1; step < config_.n(); ++step) {
    const uint32_t candidate = (transfer_->source + step) % config_.n();
    if (candidate != self_ && transfer_->failed.count(candidate) == 0) {
      transfer_->source = candidate;
      RequestNextChunk(now_ms);
      return;
    }
  }
  // Every peer failed for this checkpoint (most likely they moved on and no longer hold
  // it): ask for their newest.
  transfer_.reset();
  want_transfer_ = true;
  RequestCheckpoints();
}

void ReplicaCore::HandleStateChunk(uint32_t from, const pb::StateChunk& chunk, int64_t now_ms) {
  if (!transfer_.has_value() || from != transfer_->source || chunk.epoch() != transfer_->cert.epoch() ||
      chunk.after_key() != transfer_->after_key) {
    return;  // stale, or not asked for
  }
  if (chunk.unavailable()) {
    ReplaceTransferSource(now_ms, "unavailable");
    return;
  }
  std::vector<std::pair<std::string, std::string>> entries;
  entries.reserve(chunk.entries_size());
  const std::string* previous = &transfer_->after_key;
  for (const pb::StateEntry& e : chunk.entries()) {
    if (e.key().empty() || (!previous->empty() && e.key() <= *previous)) {
      RecordFault(from, "bad_state_chunk", "keys not ascending");
      ReplaceTransferSource(now_ms, "bad_chunk");
      return;
    }
    previous = &e.key();
    transfer_->bytes += e.key().size() + e.value().size();
    entries.emplace_back(e.key(), e.value());
  }
  if (transfer_->bytes > options_.state_transfer_bytes_max) {
    // No certified state is this large: the source is sending something else.
    RecordFault(from, "bad_state_chunk", "more state than a transfer may bring");
    ReplaceTransferSource(now_ms, "oversized");
    return;
  }
  if (entries.empty() && !chunk.last()) {
    RecordFault(from, "bad_state_chunk", "an empty chunk that is not the last");
    ReplaceTransferSource(now_ms, "bad_chunk");
    return;
  }
  if (!entries.empty()) {
    absl::Status staged = store_->StageEntries(entries);
    if (!staged.ok()) {
      Fail(std::move(staged));
      return;
    }
    transfer_->after_key = entries.back().first;
    transfer_->entries += entries.size();
  }
  if (!chunk.last()) {
    RequestNextChunk(now_ms);
    return;
  }
  absl::StatusOr<store::Digest> digest = store_->ComputeStagedDigest();
  if (!digest.ok()) {
    Fail(digest.status());
    return;
  }
  if (DigestString(*digest) != transfer_->cert.state_digest()) {
    RecordFault(from, "bad_state_transfer", "the state sent does not hash to the certified digest");
    ReplaceTransferSource(now_ms, "bad_digest");
    return;
  }
  FinishTransfer(now_ms);
}

void ReplicaCore::FinishTransfer(int64_t now_ms) {
  const pb::CheckpointCertificate cert = transfer_->cert;
  if (!transfer_->going_back && store_->next_epoch() > cert.epoch()) {
    // Consensus carried this replica past the checkpoint while the state came in (its
    // epochs went on deciding). Installing it now would take the store back to epochs
    // whose logged consensus inputs are pruned already, and the consensus instance rebuilt
    // there would propose and vote in them again, differently. Its own log is good: keep
    // it. (A replica whose log or state is not the cluster's goes back on purpose.)
    transport::LogLine(transport::LogLevel::kInfo, "replica", "state_transfer_overtaken")
        .Add("checkpoint_epoch", cert.epoch())
        .Add("next_epoch", store_->next_epoch());
    ++counters_.state_transfers_overtaken;
    transfer_.reset();
    want_transfer_ = false;
    absl::Status cleared = store_->ClearStaging();
    if (!cleared.ok()) Fail(std::move(cleared));
    return;
  }
  store::Digest head{};
  std::copy(cert.log_head().begin(), cert.log_head().end(), head.begin());
  absl::Status installed = store_->InstallStaged(cert.epoch() + 1, head, cert.consensus_time_ms());
  if (installed.ok()) installed = store_->WriteCheckpoint(cert);
  if (!installed.ok()) {
    Fail(std::move(installed));
    return;
  }
  transport::LogLine(transport::LogLevel::kWarn, "replica", "state_transfer_finished")
      .Add("checkpoint_epoch", cert.epoch())
      .Add("entries", transfer_->entries)
      .Add("source", transfer_->source);
  transfer_.reset();
  want_transfer_ = false;
  diverged_ = false;
  divergence_votes_.clear();
  ++counters_.state_transfers_completed;
  stable_ = cert;
  counters_.stable_checkpoint_epoch = cert.epoch();
  counters_.log_base_epoch = store_->log_base_epoch();
  served_.clear();
  own_checkpoints_.clear();
  // The state now is the certified one: kept to serve the next replica that needs it.
  absl::StatusOr<std::shared_ptr<const store::StateSnapshot>> frozen = store_->FreezeStateDurably(cert.epoch());
  if (frozen.ok()) {
    served_[cert.epoch()] = *std::move(frozen);
  } else {
    transport::LogLine(transport::LogLevel::kWarn, "replica", "freeze_failed").Add("reason", frozen.status().message());
  }
  KeepFrozen();
  checkpoint_votes_->ForgetThrough(cert.epoch());
  // Requests answered in the epochs we skipped get their replies from other replicas.
  waiting_.clear();
  in_flight_.clear();
  DropCatchupThrough(UINT64_MAX);
  // Forward: the running instance keeps its epochs after the checkpoint. Back (this
  // replica had diverged past it): a new instance, fed the logged inputs.
  AdvanceConsensus(now_ms);
  // Then the epochs after the checkpoint, by ordinary catch-up.
  behind_ = true;
  fetches_without_progress_ = 0;
  last_fetch_ms_ = 0;
  RequestCatchUp(now_ms);
}

// ---- durable frozen states ----

void ReplicaCore::KeepFrozen() {
  std::set<uint64_t> keep;
  for (const auto& [epoch, own] : own_checkpoints_) keep.insert(epoch);
  for (const auto& [epoch, state] : served_) keep.insert(epoch);
  absl::Status dropped = store_->DropFrozenExcept(keep);
  if (!dropped.ok()) {
    // Only disk space is at stake; the next checkpoint tries again.
    transport::LogLine(transport::LogLevel::kWarn, "replica", "frozen_drop_failed").Add("reason", dropped.message());
  }
}

void ReplicaCore::ReopenServedCheckpoint() {
  const uint64_t epoch = stable_->epoch();
  absl::StatusOr<std::shared_ptr<const store::StateSnapshot>> frozen = store_->OpenFrozen(epoch);
  if (!frozen.ok()) {
    if (frozen.status().code() != absl::StatusCode::kNotFound) {
      ++counters_.frozen_states_refused;
      transport::LogLine(transport::LogLevel::kWarn, "replica", "frozen_state_unreadable")
          .Add("checkpoint_epoch", epoch)
          .Add("reason", frozen.status().message());
    }
    return;
  }
  // Checked in full before it is served: a peer would find a bad chunk only at the end of
  // a transfer, and blame us.
  absl::StatusOr<store::Digest> digest = (*frozen)->ComputeDigest();
  if (!digest.ok() || DigestString(*digest) != stable_->state_digest()) {
    ++counters_.frozen_states_refused;
    transport::LogLine(transport::LogLevel::kError, "replica", "frozen_state_refused")
        .Add("checkpoint_epoch", epoch)
        .Add("reason", digest.ok() ? "digest differs from the certificate" : digest.status().message());
    return;
  }
  served_[epoch] = *std::move(frozen);
}

// ---- late joiners ----

void ReplicaCore::HandleJoin(uint32_t from, const pb::JoinEpochs& join, int64_t now_ms) {
  // A peer that (re)starts consensus after epochs this replica has not committed has
  // committed them. In an idle cluster nothing else may ever show this replica that it
  // is behind (no epoch runs, so no frame arrives beyond its window), and the peers that
  // restarted no longer hold the consensus state of those epochs. f+1 such peers, as for
  // frames beyond the window, so that one faulty peer cannot make it fetch.
  joined_at_[from] = join.first_epoch();
  if (join.first_epoch() > store_->next_epoch() && PeersAhead()) {
    behind_ = true;
    RequestCatchUp(now_ms);
  }
  // Bounded: one join per peer is served per interval; one that comes sooner is deferred,
  // never dropped (the peer counts on it: it asks only when it (re)starts consensus), and
  // a deferred one is replaced by the next, keeping the earlier first epoch. So a faulty
  // peer's flood of joins, rising first epochs or not, costs one resend per interval.
  JoinServed& last = last_join_served_[from];
  if (now_ms - last.at_ms < options_.join_interval_ms) {
    ++counters_.joins_deferred;
    deferred_joins_[from] = std::min(deferred_joins_.count(from) != 0 ? deferred_joins_[from] : UINT64_MAX,
                                     join.first_epoch());
    return;
  }
  ServeJoin(from, join.first_epoch(), now_ms);
}

void ReplicaCore::ServeDeferredJoins(int64_t now_ms) {
  for (auto it = deferred_joins_.begin(); it != deferred_joins_.end();) {
    if (now_ms - last_join_served_[it->first].at_ms < options_.join_interval_ms) {
      ++it;
      continue;
    }
    const auto [from, first_epoch] = *it;
    it = deferred_joins_.erase(it);
    ServeJoin(from, first_epoch, now_ms);
  }
}

void ReplicaCore::ServeJoin(uint32_t from, uint64_t first_epoch, int64_t now_ms) {
  last_join_served_[from] = JoinServed{first_epoch, now_ms};
  ++counters_.joins_served;
  if (first_epoch < store_->next_epoch()) {
    // It joins epochs we already committed: it is behind. Our records of them, with f+1
    // other replicas' matching ones, let it catch up at once, even when the cluster is
    // idle or its peers are still within its window (then nothing else would tell it).
    ServeEpochs(from, first_epoch, options_.fetch_epochs_max);
  }
  for (auto it = sent_log_.lower_bound(first_epoch); it != sent_log_.end(); ++it) {
    for (const auto& [target, bytes] : it->second) {
      if (target.Contains(from)) {
        SendPeer(from, bytes);
        ++counters_.messages_resent_on_join;
      }
    }
  }
}

}  // namespace belfry::replica
