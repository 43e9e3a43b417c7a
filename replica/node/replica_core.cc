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
#include "replica/state/state_keys.h"
#include "replica/state/tdh2_ciphertext_check.h"
#include "wire/request_format.h"
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

// The ciphertext check of a cluster whose key the replicas generate: the state machine
// checks against the key in the state instead, and never calls this.
class NoDealtKey final : public state::CiphertextCheck {
 public:
  absl::Status Check(std::string_view, ByteSpan) const override {
    return absl::FailedPreconditionError("no dealt encryption key");
  }
};

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

CoreCounters ReplicaCore::counters() const {
  CoreCounters out = effects_.counters();
  out.DeriveFaultViews(config_.n());
  // The running total (a signed status reports it) is the typed faults' sum.
  BELFRY_CHECK(out.faults == effects_.counters().faults);
  out.mempool_requests = mempool_.size();
  out.waiting_requests = replies_.waiting();
  out.in_flight_requests = in_flight_.size();
  out.future_frames_held = future_.frames();
  out.future_frame_bytes_held = future_.bytes();
  out.catchup_bytes_held = catch_up_.bytes_held();
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
      options_(options),
      rng_(options.rng != nullptr ? *options.rng : static_cast<Rng&>(crypto_rng_)),
      proposal_rng_(options.proposal_rng != nullptr ? *options.proposal_rng : rng_),
      effects_(self, config.n(), outbox, options.logger),
      replies_(config, keys_.reply, keys_.decryption.get(), keys_.service.get(), keys_.service_cert_der,
               Replies::Limits{.waiting_requests_max = options.waiting_requests_max,
                               .waiting_frames_per_request_max = options.waiting_frames_per_request_max,
                               .executed_remembered_max = options.executed_remembered_max,
                               .executed_reply_bytes_max = options.executed_reply_bytes_max},
               effects_),
      checkpoints_(config, keys_.reply, *store,
                   Checkpoints::Limits{.interval_epochs = options.checkpoint_interval_epochs,
                                       .served_max = options.served_checkpoints_max,
                                       .state_chunk_bytes_max = options.state_chunk_bytes_max,
                                       .retained_batches = options.retained_batches},
                   effects_),
      transfer_(config, *store,
                StateTransfer::Limits{.timeout_ms = options.state_transfer_timeout_ms,
                                      .deadline_ms = options.state_transfer_deadline_ms,
                                      .bytes_max = options.state_transfer_bytes_max,
                                      .checkpoint_request_interval_ms = options.fetch_interval_ms},
                effects_),
      catch_up_(config.f(),
                CatchUp::Limits{.fetch_epochs_max = options.fetch_epochs_max,
                                .fetch_interval_ms = options.fetch_interval_ms,
                                .fetch_served_interval_ms = options.fetch_served_interval_ms,
                                .bytes_per_peer_max = options.catchup_bytes_per_peer_max},
                effects_),
      divergence_(config.f(), options.fetch_epochs_max),
      joins_(options.join_interval_ms),
      sent_log_(options.sent_log_bytes_max),
      future_(options.future_frames_bytes_per_peer_max, effects_),
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
  state_config_.replicas = config_.n();
  state_config_.f = config_.f();
  for (uint32_t i = 0; i < config_.n(); ++i) state_config_.replica_keys.push_back(config_.reply_public_key(i));
  state_config_.distributed_encryption_key = config_.proto.distributed_encryption_key();
  state_config_.dkg_announce_grace_ms = int64_t{l.dkg_announce_grace_seconds} * 1000;
  BELFRY_RETURN_IF_ERROR(state_config_.Validate());

  // The genesis: refuse to run under settings other than those this store was made with.
  const config::Genesis genesis = config::ComputeGenesis(config_, ca_->Fingerprint(), keys_.service_key_digest);
  genesis_digest_ = genesis.digest;
  BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> stored_genesis, store_->GetMeta(kGenesisMetaName));
  if (stored_genesis.has_value()) {
    BELFRY_RETURN_IF_ERROR(config::CheckGenesis(*stored_genesis, genesis));
  } else {
    BELFRY_RETURN_IF_ERROR(store_->PutMeta(kGenesisMetaName, genesis.Describe()));
  }

  if (state_config_.distributed_encryption_key) {
    // The state machine checks ciphertexts against the generated key in the state.
    ciphertext_check_ = std::make_unique<NoDealtKey>();
    if (keys_.key_generation_dir.empty()) {
      return absl::InvalidArgumentError("a distributed encryption key needs a key generation folder");
    }
    BELFRY_ASSIGN_OR_RETURN(key_generation_,
                            KeyGenerationDriver::Create(state_config_, self_, keys_.key_generation_dir,
                                                        keys_.reply, rng_, options_.logger,
                                                        {.tamper = options_.key_generation_tamper}));
  } else {
    BELFRY_ASSIGN_OR_RETURN(threshold::PublicKeySet encryption_keys,
                            config::PublicKeySetFromConfig(config_.proto.encryption_keys(), config_.f()));
    ciphertext_check_ = std::make_unique<state::Tdh2CiphertextCheck>(std::move(encryption_keys));
  }
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
  BELFRY_RETURN_IF_ERROR(checkpoints_.Open());
  BeginStep();
  StartConsensusAt(store_->next_epoch());
  EndStep();
  return fatal_;
}

void ReplicaCore::StartConsensusAt(uint64_t epoch) {
  // What the old instance was handed must be in the log the new one replays.
  if (!unsynced_inputs_.empty()) {
    if (!Check(store_->AppendConsensusInputs(unsynced_inputs_))) return;
    ++effects_.counters().consensus_input_syncs;
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
  sent_log_.Clear();
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
  SendJoinToPeers(epoch);
}

void ReplicaCore::SendJoinToPeers(uint64_t first_epoch) {
  pb::PeerMessage join;
  join.mutable_join_epochs()->set_first_epoch(first_epoch);
  effects_.SendOtherPeers(join.SerializeAsString());
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
    ++effects_.counters().consensus_inputs_replayed;
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
      const uint64_t sent_epoch = out.consensus().epoch();
      sent_log_.AddRebuilt(sent_epoch, std::move(tm.target), out.SerializeAsString());
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
  if (!Check(store_->PruneConsensusInputsBefore(SentLogFirstEpoch()))) return;
  sent_log_.PruneBefore(SentLogFirstEpoch());
  epoch_started_ms_.erase(epoch_started_ms_.begin(), epoch_started_ms_.lower_bound(next));
  // Peers may be running epochs from here on already: ask them for what they sent us.
  SendJoinToPeers(next);
  ProcessStep(std::move(step), now_ms);
}

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

// ---- effects ----

void ReplicaCore::BeginStep() { effects_.BeginStep(); }

void ReplicaCore::EndStep() {
  if (effects_.EndStep()) FlushEffects();
}

void ReplicaCore::LogInput(uint64_t epoch, std::string bytes) {
  if (replaying_) return;  // in the log already
  unsynced_input_bytes_ += bytes.size();
  unsynced_inputs_.push_back(store::ConsensusInput{epoch, next_input_sequence_++, std::move(bytes)});
  ++effects_.counters().consensus_inputs_logged;
}

void ReplicaCore::FlushEffects() {
  // Votes are durable before they leave: a consensus message may leave only once every
  // input it depends on is in the log. Steps that send no consensus message keep their
  // inputs in memory (a crash loses them with their effects, which never left), unless
  // too many have gathered.
  if (!unsynced_inputs_.empty() &&
      (effects_.held_consensus() || unsynced_input_bytes_ > options_.unsynced_input_bytes_max)) {
    absl::Status synced = store_->AppendConsensusInputs(unsynced_inputs_);
    if (!synced.ok()) {
      effects_.DropPeerSends();  // never send what the log does not back
      Fail(std::move(synced));
      return;
    }
    ++effects_.counters().consensus_input_syncs;
    unsynced_inputs_.clear();
    unsynced_input_bytes_ = 0;
  }
  if (!fatal_.ok()) {
    effects_.DropPeerSends();
    return;
  }
  // The durable-votes rule itself: no consensus message leaves ahead of its inputs.
  BELFRY_CHECK(!effects_.held_consensus() || unsynced_inputs_.empty());
  BELFRY_CHECK(unsynced_input_bytes_ <= options_.unsynced_input_bytes_max || unsynced_inputs_.empty());
  effects_.ReleasePeerSends();
}

uint64_t ReplicaCore::next_epoch() const { return store_->next_epoch(); }

int64_t ReplicaCore::consensus_time_ms() const { return store_->last_consensus_time_ms(); }

void ReplicaCore::Fail(absl::Status status) {
  BELFRY_CHECK(!status.ok());
  if (fatal_.ok()) {
    fatal_ = std::move(status);
    effects_.Log(LogLevel::kWarn, "replica", "fatal").Add("reason", fatal_.message());
  }
}

bool ReplicaCore::Check(absl::Status status) {
  if (status.ok()) return true;
  Fail(std::move(status));
  return false;
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
    ++effects_.counters().peer_messages_malformed;
    effects_.Fault({.peer = from, .kind = PeerFaultKind::kMalformedPeerMessage});
    return;
  }
  switch (msg.kind_case()) {
    case pb::PeerMessage::kConsensus:
      HandleConsensus(from, msg, payload, now_ms);
      break;
    case pb::PeerMessage::kFetchEpochs:
      if (catch_up_.AllowServing(from, last_now_ms_)) {
        ServeEpochs(from, msg.fetch_epochs().first_epoch(), msg.fetch_epochs().count());
      }
      break;
    case pb::PeerMessage::kCommittedEpoch:
      HandleCommittedEpoch(from, msg.committed_epoch(), now_ms);
      break;
    case pb::PeerMessage::kCheckpointVote:
      HandleCheckpointVote(from, msg.checkpoint_vote(), now_ms);
      break;
    case pb::PeerMessage::kFetchCheckpoint:
      checkpoints_.ServeStable(from);
      break;
    case pb::PeerMessage::kCheckpoint:
      if (checkpoints_.Accept(from, msg.checkpoint())) AdoptCertificate(msg.checkpoint(), now_ms);
      break;
    case pb::PeerMessage::kFetchState:
      checkpoints_.ServeState(from, msg.fetch_state());
      break;
    case pb::PeerMessage::kStateChunk:
      HandleStateChunk(from, msg.state_chunk(), now_ms);
      break;
    case pb::PeerMessage::kJoinEpochs:
      HandleJoin(from, msg.join_epochs(), now_ms);
      break;
    case pb::PeerMessage::KIND_NOT_SET:
      ++effects_.counters().peer_messages_malformed;
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
      // Counted against the peer for the penalty (main.cc), which is lifted while this
      // replica catches up: then correct peers are ahead, and their frames are expected.
      effects_.Fault({.peer = from, .kind = PeerFaultKind::kFrameBeyondWindow});
      catch_up_.NoteBeyondWindow(from, epoch);
      future_.Hold(from, epoch, payload);
      if (catch_up_.PeersAhead(*hb_, store_->next_epoch())) {
        // Peers are further along than our window: we missed epochs.
        catch_up_.set_behind(true);
        RequestCatchUp(now_ms);
      }
      return;
    case consensus::epoch::EpochPosition::kInWindow:
      break;
  }
  LogInput(epoch, ConsensusInput::EncodePeerMessage(from, payload));
  ProcessStep(hb_->HandleMessage(from, msg.consensus()), now_ms);
}

void ReplicaCore::DeliverFutureFrames(int64_t now_ms) {
  if (delivering_future_ || replaying_) return;
  delivering_future_ = true;
  // Passes over the peers until one hands nothing in: a frame from one peer may decide an
  // epoch and so let in frames of a peer already passed.
  for (bool delivered = true; delivered && fatal_.ok();) {
    delivered = false;
    for (std::optional<uint32_t> peer = future_.PeerAfter(std::nullopt); peer.has_value();
         peer = future_.PeerAfter(peer)) {
      delivered |= DeliverFutureFramesOf(*peer, now_ms);
    }
  }
  delivering_future_ = false;
}

bool ReplicaCore::DeliverFutureFramesOf(uint32_t from, int64_t now_ms) {
  bool delivered = false;
  const std::optional<uint64_t> dropped_from = future_.dropped_from(from);
  if (dropped_from.has_value() && hb_->Classify(*dropped_from) != consensus::epoch::EpochPosition::kBeyondWindow) {
    // Frames of these epochs were dropped here: ask the peer for them again.
    pb::PeerMessage join;
    join.mutable_join_epochs()->set_first_epoch(std::max(*dropped_from, hb_->next_epoch_to_output()));
    future_.ClearDropped(from);
    effects_.SendPeer(from, join.SerializeAsString());
  }
  // Oldest epochs first. Handing one in may move the window further (an epoch decides),
  // which only lets more of the following frames in; it never puts a frame already
  // passed back beyond the window.
  while (fatal_.ok()) {
    const std::optional<uint64_t> epoch = future_.FrontEpoch(from);
    if (!epoch.has_value()) break;
    const consensus::epoch::EpochPosition position = hb_->Classify(*epoch);
    if (position == consensus::epoch::EpochPosition::kBeyondWindow) break;
    std::string payload = future_.PopFront(from);
    if (position != consensus::epoch::EpochPosition::kInWindow) continue;  // decided meanwhile
    ++effects_.counters().future_frames_delivered;
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
      if (to != self_ && tm.target.Contains(to)) effects_.SendConsensus(to, bytes);
    }
    if (epoch >= SentLogFirstEpoch()) sent_log_.Add(epoch, std::move(tm.target), std::move(bytes));
  }
  for (const consensus::Fault& fault : step.faults) {
    // A message beyond our window usually means we are behind, not that the peer lies:
    // counted by name only (peer_fault.h).
    effects_.Fault({.peer = fault.node, .kind = PeerFaultKind::kConsensus, .consensus_kind = fault.kind});
  }
  for (const consensus::epoch::Batch& batch : step.outputs) {
    if (!fatal_.ok()) return;
    if (batch.epoch != store_->next_epoch()) continue;  // applied already by catch-up
    if (!Check(ExecuteAndCommit(batch.epoch, static_cast<int64_t>(batch.consensus_time), batch.requests,
                                /*send_replies=*/true))) {
      return;
    }
    // A peer that sent us another record of this epoch (as it answered our JoinEpochs, say)
    // committed something else: tell it what we committed.
    CorrectConflictingRecords(batch.epoch);
    catch_up_.DropThrough(batch.epoch);
    auto started = epoch_started_ms_.find(batch.epoch);
    if (started != epoch_started_ms_.end()) {
      CoreCounters& counters = effects_.counters();
      counters.last_epoch_latency_ms = static_cast<uint64_t>(std::max<int64_t>(0, now_ms - started->second));
      counters.epoch_latency_seconds.Observe(static_cast<double>(counters.last_epoch_latency_ms) / 1000.0);
      epoch_started_ms_.erase(epoch_started_ms_.begin(), std::next(started));
    }
  }
  if (!step.outputs.empty()) DeliverFutureFrames(now_ms);
  MaybePropose(now_ms);
}

void ReplicaCore::MaybePropose(int64_t now_ms) {
  if (!fatal_.ok() || replaying_ || transfer_.active() || !hb_->can_propose()) return;
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
  in.requests = hb_->SelectProposal(pending, proposal_rng_);
  in.clock_reading = static_cast<uint64_t>(now_ms);
  LogInput(epoch, in.Encode());
  // ProcessStep calls MaybePropose again for the epochs after this one.
  ProcessStep(hb_->ProposeExact(in.requests, in.clock_reading), now_ms);
}

absl::Status ReplicaCore::ExecuteAndCommit(uint64_t epoch, int64_t consensus_time_ms,
                                           const std::vector<std::string>& requests,
                                           bool send_replies, const std::string* expected_head) {
  // Epochs commit one after another: never one twice, never one skipped.
  BELFRY_CHECK(epoch == store_->next_epoch());
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
  BELFRY_CHECK(store_->next_epoch() == epoch + 1);
  // Inputs of committed epochs are replayed only to rebuild what this replica sent in the
  // last few (RebuildSentLog); older ones go, which needs no sync.
  BELFRY_RETURN_IF_ERROR(store_->PruneConsensusInputsBefore(SentLogFirstEpoch()));
  CoreCounters& counters = effects_.counters();
  ++counters.epochs_committed;
  counters.requests_executed += executed.size();
  counters.batch_requests.Observe(static_cast<double>(executed.size()));
  for (const state::Executed& e : executed) {
    ++counters.executed_by_op_status[{e.op, e.result.status()}];
  }

  std::vector<std::string> ids;
  ids.reserve(executed.size());
  for (const state::Executed& e : executed) ids.push_back(DigestString(e.request_id));
  mempool_.Remove(ids);
  counters.mempool_requests = mempool_.size();
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    it = it->second <= epoch ? in_flight_.erase(it) : std::next(it);
  }

  const store::Digest head = store_->log_head();
  for (size_t i = 0; i < executed.size(); ++i) {
    std::string frame = replies_.BuildReplyFrame(executed[i], epoch, static_cast<uint32_t>(i), consensus_time_ms, head);
    replies_.OnExecuted(ids[i], executed[i].uid, epoch, std::move(frame), send_replies, store_->next_epoch());
  }
  sent_log_.PruneBefore(SentLogFirstEpoch());
  MaybeCheckpoint(epoch);
  if (key_generation_ != nullptr && !replaying_) ReconcileKeyGeneration(last_now_ms_);
  // Debug: at load this is many lines a second; the metrics carry the same story.
  effects_.Log(LogLevel::kDebug, "replica", "epoch_committed")
      .Add("epoch", epoch)
      .Add("requests", static_cast<uint64_t>(requests.size()))
      .Add("consensus_time_ms", consensus_time_ms);
  return absl::OkStatus();
}

// ---- clients ----

void ReplicaCore::OnClientFrame(uint64_t connection, const std::string& frame_bytes, int64_t now_ms,
                                std::optional<std::string> peer_uid) {
  CheckedFrame checked = CheckClientFrame(frame_bytes);
  checked.peer_uid = std::move(peer_uid);
  OnCheckedFrame(connection, std::move(checked), now_ms);
}

CheckedFrame ReplicaCore::CheckClientFrame(const std::string& frame_bytes) const {
  CheckedFrame out;
  pb::ClientFrame frame;
  if (!frame.ParseFromString(frame_bytes)) return out;
  switch (frame.kind_case()) {
    case pb::ClientFrame::kRequest: {
      out.kind = CheckedFrame::Kind::kRequest;
      out.request = std::move(*frame.mutable_request());
      out.request_id = DigestString(wire::RequestId(out.request));
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
      replies_.Reject(connection, "", pb::STATUS_MALFORMED_REQUEST, "client frame does not parse");
      break;
    case CheckedFrame::Kind::kRequest:
      HandleClientRequest(connection, std::move(checked), now_ms);
      break;
    case CheckedFrame::Kind::kStatusQuery:
      HandleStatusQuery(connection, checked.status_nonce);
      break;
    case CheckedFrame::Kind::kUnsupported:
      replies_.Reject(connection, "", pb::STATUS_MALFORMED_REQUEST, "clients may send requests and status queries only");
      break;
  }
}

void ReplicaCore::HandleClientRequest(uint64_t connection, CheckedFrame checked, int64_t now_ms) {
  const std::string& id = checked.request_id;
  if (replies_.AnswerIfExecuted({connection, checked.peer_uid}, id)) return;
  const state::Verdict& verdict = checked.verdict;
  if (!verdict.ok()) {
    replies_.RefuseAdmission(connection, id, verdict);
    return;
  }
  if (replies_.WaitingFull(id)) {
    replies_.RejectOverloaded(connection, id, "waiting", "replica is overloaded; retry later");
    return;
  }
  absl::Status admitted = mempool_.Add(id, std::move(checked.request), checked.client_key);
  if (admitted.code() == absl::StatusCode::kResourceExhausted) {
    const bool own_bound =
        mempool_.pending_for(checked.client_key) >= config_.limits.pending_requests_per_client_max;
    replies_.RejectOverloaded(connection, id, own_bound ? "client_pending" : "mempool",
                              std::string(admitted.message()));
    return;
  }
  if (admitted.ok()) ++effects_.counters().requests_admitted;
  if (!replies_.AddWaiter(id, {connection, std::move(checked.peer_uid)})) return;
  effects_.counters().mempool_requests = mempool_.size();
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
  status.set_checkpoint_epoch(checkpoints_.stable_epoch().value_or(0));
  status.set_faults_seen(effects_.counters().faults);
  replies_.SendStatus(connection, std::move(status));
}

// ---- catch-up and divergence ----

void ReplicaCore::OnTick(int64_t now_ms) {
  if (!fatal_.ok()) return;
  last_now_ms_ = now_ms;
  BeginStep();
  Check(transfer_.OnTick(now_ms));
  if (catch_up_.behind()) RequestCatchUp(now_ms);
  for (const auto& [from, first_epoch] : joins_.TakeDue(now_ms)) {
    joins_.Served(from, first_epoch, now_ms);
    ServeJoin(from, first_epoch);
  }
  if (key_generation_ != nullptr && now_ms >= key_generation_next_ms_) {
    key_generation_next_ms_ = now_ms + 500;
    ReconcileKeyGeneration(now_ms);
  }
  MaybePropose(now_ms);
  EndStep();
}

void ReplicaCore::ReconcileKeyGeneration(int64_t now_ms) {
  if (key_generation_->done() || transfer_.active()) return;
  absl::StatusOr<std::vector<KeyGenerationDriver::Submission>> submissions =
      key_generation_->Reconcile(*store_, now_ms, [this](const std::string& id) {
        return mempool_.Contains(id) || in_flight_.count(id) != 0;
      });
  if (!Check(submissions.status())) return;
  for (KeyGenerationDriver::Submission& s : *submissions) {
    absl::Status added = mempool_.Add(s.id, std::move(s.bytes), absl::StrCat("replica/", self_));
    if (!added.ok() && added.code() != absl::StatusCode::kAlreadyExists) {
      effects_.Log(LogLevel::kWarn, "replica", "key_generation_not_queued").Add("reason", added.message());
    }
  }
  effects_.counters().mempool_requests = mempool_.size();
  if (key_generation_->decryption() != nullptr) replies_.set_decryption(key_generation_->decryption());
}

void ReplicaCore::RequestCatchUp(int64_t now_ms) {
  if (catch_up_.Request(now_ms, store_->next_epoch()) != CatchUp::Fetch::kGaveUp) return;
  // Nobody could serve the epochs we lack: they are pruned. A stable checkpoint beyond
  // our state is then the way back.
  if (!transfer_.active()) {
    transfer_.set_wanted(true);
    RequestCheckpoints();
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

void ReplicaCore::ServeEpochs(uint32_t to, uint64_t first_epoch, uint64_t count) {
  count = std::min<uint64_t>(count, options_.fetch_epochs_max);
  const uint64_t end = std::min<uint64_t>(store_->next_epoch(), first_epoch + count);
  for (uint64_t e = first_epoch; e < end; ++e) {
    std::optional<pb::PeerMessage> msg = CommittedRecord(e);
    if (!msg.has_value()) return;
    effects_.SendPeer(to, msg->SerializeAsString());
  }
}

void ReplicaCore::CorrectConflictingRecords(uint64_t epoch) {
  if (!catch_up_.Holds(epoch)) return;
  std::optional<pb::PeerMessage> own = CommittedRecord(epoch);
  if (!own.has_value()) return;
  const std::string bytes = own->SerializeAsString();
  for (uint32_t to : catch_up_.SendersOfOtherRecords(epoch, own->committed_epoch().SerializeAsString())) {
    effects_.SendPeer(to, bytes);
  }
}

void ReplicaCore::HandleOlderRecord(uint32_t from, const pb::CommittedEpoch& committed, int64_t now_ms) {
  const uint64_t epoch = committed.epoch();
  if (divergence_.diverged() || epoch < store_->log_base_epoch()) return;
  absl::StatusOr<std::optional<pb::EpochRecord>> own = store_->ReadEpochRecord(epoch);
  if (!own.ok() || !own->has_value() || (*own)->head() == committed.log_head()) return;
  // A digest, not the record: bounded at 32 bytes per peer and epoch.
  if (divergence_.AddCorrection(from, epoch, Sha256String(committed.SerializeAsString()))) {
    MarkDiverged(epoch, now_ms);
  }
}

void ReplicaCore::MarkDiverged(uint64_t epoch, int64_t now_ms) {
  ++effects_.counters().log_divergences;
  effects_.Log(LogLevel::kError, "replica", "log_diverged")
      .Add("epoch", epoch)
      .Add("next_epoch", store_->next_epoch())
      .Add("stable_checkpoint_epoch", checkpoints_.stable_epoch().value_or(0));
  divergence_.MarkDiverged();
  if (transfer_.active()) return;
  const std::optional<pb::CheckpointCertificate>& stable = checkpoints_.stable();
  if (stable.has_value() && stable->epoch() < epoch) {
    StartTransfer(*stable, now_ms);
  } else {
    transfer_.set_wanted(true);
    RequestCheckpoints();
  }
}

void ReplicaCore::HandleCommittedEpoch(uint32_t from, const pb::CommittedEpoch& committed, int64_t now_ms) {
  if (committed.epoch() < store_->next_epoch()) {
    HandleOlderRecord(from, committed, now_ms);
    return;
  }
  if (!catch_up_.Add(from, committed, store_->next_epoch())) return;
  bool applied = false;
  for (;;) {
    std::optional<pb::CommittedEpoch> c = catch_up_.Agreed(store_->next_epoch());
    if (!c.has_value()) break;
    std::vector<std::string> requests(c->requests().begin(), c->requests().end());
    const std::string expected_head = c->log_head();
    absl::Status s = ExecuteAndCommit(c->epoch(), c->consensus_time_ms(), requests, /*send_replies=*/true, &expected_head);
    if (s.code() == absl::StatusCode::kAborted) {
      // f+1 replicas, so at least one correct one, committed this batch and reached a head
      // our execution does not: our state before it is not the cluster's.
      ++effects_.counters().catchup_head_mismatches;
      catch_up_.DropThrough(c->epoch());
      // The epochs applied before this one are committed: move the instance past them
      // first, or it would keep running epochs the store is done with, its window stuck
      // behind them until a transfer restarts it.
      if (applied) AdvanceConsensus(now_ms);
      MarkDiverged(c->epoch(), now_ms);
      return;
    }
    if (!Check(std::move(s))) return;
    BELFRY_CHECK(DigestString(store_->log_head()) == expected_head);
    ++effects_.counters().epochs_caught_up;
    CorrectConflictingRecords(c->epoch());
    catch_up_.DropThrough(c->epoch());
    applied = true;
  }
  if (applied) {
    transfer_.set_wanted(false);  // the log serves us again
    // The running instance moves past the applied epochs and keeps the later ones, with
    // every vote it already sent there (a new instance would vote again from scratch).
    AdvanceConsensus(now_ms);
    catch_up_.Resume();
    RequestCatchUp(now_ms);
  }
}

void ReplicaCore::HandleJoin(uint32_t from, const pb::JoinEpochs& join, int64_t now_ms) {
  // A peer that (re)starts consensus after epochs this replica has not committed has
  // committed them. In an idle cluster nothing else may ever show this replica that it
  // is behind (no epoch runs, so no frame arrives beyond its window), and the peers that
  // restarted no longer hold the consensus state of those epochs. f+1 such peers, as for
  // frames beyond the window, so that one faulty peer cannot make it fetch.
  catch_up_.NoteJoin(from, join.first_epoch());
  if (join.first_epoch() > store_->next_epoch() && catch_up_.PeersAhead(*hb_, store_->next_epoch())) {
    catch_up_.set_behind(true);
    RequestCatchUp(now_ms);
  }
  if (!joins_.Admit(from, join.first_epoch(), now_ms)) {
    ++effects_.counters().joins_deferred;
    BELFRY_CHECK(joins_.deferred() < config_.n());
    return;
  }
  joins_.Served(from, join.first_epoch(), now_ms);
  ServeJoin(from, join.first_epoch());
}

void ReplicaCore::ServeJoin(uint32_t from, uint64_t first_epoch) {
  ++effects_.counters().joins_served;
  if (first_epoch < store_->next_epoch()) {
    // It joins epochs we already committed: it is behind. Our records of them, with f+1
    // other replicas' matching ones, let it catch up at once, even when the cluster is
    // idle or its peers are still within its window (then nothing else would tell it).
    ServeEpochs(from, first_epoch, options_.fetch_epochs_max);
  }
  for (const std::string* bytes : sent_log_.SentTo(from, first_epoch)) {
    effects_.SendPeer(from, *bytes);
    ++effects_.counters().messages_resent_on_join;
  }
}

// ---- checkpoints and state transfer ----

void ReplicaCore::MaybeCheckpoint(uint64_t epoch) {
  absl::StatusOr<std::optional<pb::CheckpointVote>> vote = checkpoints_.MaybeTake(epoch);
  if (!vote.ok()) {
    Fail(vote.status());
    return;
  }
  if (vote->has_value()) HandleCheckpointVote(self_, **vote, last_now_ms_);
}

void ReplicaCore::HandleCheckpointVote(uint32_t from, const pb::CheckpointVote& vote, int64_t now_ms) {
  std::optional<pb::CheckpointCertificate> cert = checkpoints_.AddVote(from, vote);
  if (cert.has_value()) AdoptCertificate(*cert, now_ms);
}

void ReplicaCore::AdoptCertificate(const pb::CheckpointCertificate& cert, int64_t now_ms) {
  if (checkpoints_.IsStale(cert)) return;
  if (divergence_.diverged()) {
    if (!transfer_.active()) StartTransfer(cert, now_ms);
    return;
  }
  const uint64_t next = store_->next_epoch();
  switch (checkpoints_.Judge(cert, next)) {
    case Checkpoints::Verdict::kAhead:
      if (transfer_.wanted() && !transfer_.active()) StartTransfer(cert, now_ms);
      return;
    case Checkpoints::Verdict::kAheadSignedBySelf:
    case Checkpoints::Verdict::kOwnStateDiffers:
      if (!transfer_.active()) StartTransfer(cert, now_ms);
      return;
    case Checkpoints::Verdict::kAdoptable:
      break;
  }
  if (!Check(checkpoints_.Adopt(cert, next))) return;
}

void ReplicaCore::StartTransfer(const pb::CheckpointCertificate& cert, int64_t now_ms) {
  Check(transfer_.Start(cert, now_ms, divergence_.diverged() || cert.epoch() < store_->next_epoch()));
}

void ReplicaCore::RequestCheckpoints() { transfer_.RequestCheckpoints(last_now_ms_); }

void ReplicaCore::HandleStateChunk(uint32_t from, const pb::StateChunk& chunk, int64_t now_ms) {
  absl::StatusOr<StateTransfer::Progress> progress = transfer_.OnChunk(from, chunk, now_ms);
  if (!progress.ok()) {
    Fail(progress.status());
    return;
  }
  if (*progress == StateTransfer::Progress::kStateComplete) FinishTransfer(now_ms);
}

void ReplicaCore::FinishTransfer(int64_t now_ms) {
  absl::StatusOr<std::optional<pb::CheckpointCertificate>> installed = transfer_.Finish();
  if (!installed.ok()) {
    Fail(installed.status());
    return;
  }
  if (!installed->has_value()) return;  // overtaken: this replica's own log is good
  const pb::CheckpointCertificate& cert = **installed;
  divergence_.Clear();
  checkpoints_.ResetTo(cert);
  // Requests answered in the epochs we skipped get their replies from other replicas.
  replies_.ForgetWaiting();
  in_flight_.clear();
  catch_up_.DropThrough(UINT64_MAX);
  // Forward: the running instance keeps its epochs after the checkpoint. Back (this
  // replica had diverged past it): a new instance, fed the logged inputs.
  AdvanceConsensus(now_ms);
  // Then the epochs after the checkpoint, by ordinary catch-up.
  catch_up_.Resume();
  RequestCatchUp(now_ms);
}

}  // namespace belfry::replica
