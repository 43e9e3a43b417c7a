// replica/node/replica_core.h — one replica's protocol logic, without threads or sockets.
//
// How it works. The core owns the consensus driver (consensus/epoch), the mempool, the 3S
// state machine, the store and the replica's keys. Every input is a call — a peer message,
// a client frame, a timer tick — and every effect leaves through the Outbox, so the daemon
// (replica/main.cc) wires it to the real transport while tests drive it directly.
//
//   client frame ──precheck──> mempool ──Propose──> HoneyBadger ──Step──> peers
//   peer message ──────────────────────────────────> HoneyBadger ──Batch──┐
//   reply <── sign <── commit (one synced write) <── StateMachine <───────┘
//
// A reply leaves only after its epoch is durable. An epoch starts when this replica has
// requests waiting or a peer has started it (so an idle cluster runs no epochs).
//
// Durable votes: whatever this replica hands its consensus (peer messages inside the
// window, its own proposals) is appended to the store's consensus input log, and the log
// is synced before any consensus message the step produced leaves (one group sync per
// step; see BeginStep). A restart replays the log into a fresh instance, which rebuilds
// the very votes this replica had sent: it never contradicts them (README.md, "Restarts
// never equivocate").
//
// The window: consensus messages for epochs beyond this replica's window are held in a
// bounded per-peer buffer (future_frames_bytes_per_peer_max) and handed in once the
// window reaches them; when the buffer had to drop some, the replica asks that peer to
// resend (JoinEpochs) once the window reaches the first epoch dropped.
//
// Catch-up: a replica that was down sees peer messages for epochs beyond its window. It
// asks every peer for the committed epochs it missed (FetchEpochs) and applies epoch e
// once f+1 peers sent byte-identical CommittedEpoch records for it — at least one of them
// is correct, so it is the batch consensus decided — checking, before it commits, that
// executing it yields the log head they reported. It then moves the running consensus
// past that epoch (HoneyBadger::AdvanceTo), keeping every later epoch and the votes it
// already sent there.
//
// Checkpoints (checkpoints.h): every checkpoint_interval_epochs epochs the core hashes
// its state, signs a vote and sends it to every peer; 2f+1 matching votes make a stable
// checkpoint, which the core keeps (store), serves from a frozen copy of the state, and
// uses to prune epoch records the retained log no longer needs. A stable checkpoint
// whose digest differs from this replica's own at that epoch means its state is corrupt.
// The frozen copy is durable (Store::FreezeStateDurably): after a restart of every
// replica, one that lost its disk still finds a peer to transfer the stable state from.
//
// Divergence after amnesia: a replica that crashes forgets the votes it sent for the
// epochs in flight, so after a power cut of several replicas one that had committed an
// epoch may find that the others, running that epoch again, committed another batch
// (never one a client accepted: that needs 2f+1 replicas to have committed it). The
// replicas that commit an epoch tell any peer whose record of it they saw differ; 2f+1
// such corrections that agree show this replica's log left the cluster's, and it goes
// back to a certified state by state transfer, then catches up.
//
// State transfer: when catch-up brings nothing (peers pruned the epochs this replica
// lacks: it was down long, lost its disk, or was restored from an old copy), or a stable
// checkpoint shows this replica's state is corrupt or rolled back, the core asks its
// peers for their stable checkpoint, verifies the 2f+1 signatures, and fetches that
// state in chunks from one signer into a staging area. Only if the whole staged state
// hashes to the certified digest does it replace the state (one atomic write); otherwise
// the source is blamed and the next replica is asked. Then ordinary catch-up fetches the
// epochs after the checkpoint. While it transfers, the replica is not ready and serves no
// replies from its stale state.
#ifndef BELFRY_REPLICA_NODE_REPLICA_CORE_H_
#define BELFRY_REPLICA_NODE_REPLICA_CORE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/rng.h"
#include "config/cluster_config.h"
#include "consensus/coin.h"
#include "consensus/epoch/honey_badger.h"
#include "metrics/exposition.h"
#include "pki/certificate.h"
#include "proto/replica.pb.h"
#include "proto/reply.pb.h"
#include "replica/mempool/mempool.h"
#include "replica/node/checkpoint/checkpoint_votes.h"
#include "replica/node/replies/reply_guard.h"
#include "replica/node/reply_signer.h"
#include "replica/state/precheck.h"
#include "replica/state/state_machine.h"
#include "replica/store/store.h"
#include "threshold/tdh2.h"

namespace belfry::replica {

// Outbox: where the core's effects go. Implementations must not call back into the core.
class Outbox {
 public:
  virtual ~Outbox() = default;
  // A serialized PeerMessage for replica `to`.
  virtual void SendPeer(uint32_t to, std::string payload) = 0;
  // A serialized ClientFrame for client connection `connection`.
  virtual void SendClient(uint64_t connection, std::string frame) = 0;
};

// Counters a person or Prometheus reads (a snapshot; see ReplicaCore::counters()).
struct CoreCounters {
  CoreCounters();
  uint64_t epochs_committed = 0;
  uint64_t requests_executed = 0;
  uint64_t requests_admitted = 0;
  uint64_t requests_refused = 0;       // precheck failed
  uint64_t requests_overloaded = 0;    // refused with code 0: a bound was reached
  // The same, by bound: "client_pending" (pending_requests_per_client_max), "mempool"
  // (mempool_requests_max or its byte bound), "waiting" (waiting_requests_max), "copies"
  // (copies of one request awaiting it).
  std::map<std::string, uint64_t> overloaded_by_reason;
  uint64_t replies_sent = 0;
  uint64_t peer_messages_malformed = 0;
  uint64_t epochs_caught_up = 0;
  uint64_t checkpoints_taken = 0;          // votes this replica signed
  uint64_t checkpoints_stable = 0;         // certificates adopted
  uint64_t stable_checkpoint_epoch = 0;    // the latest (0 with none)
  uint64_t state_transfers_started = 0;
  uint64_t state_transfers_completed = 0;
  uint64_t state_transfers_overtaken = 0;   // abandoned: consensus committed past the checkpoint first
  uint64_t state_transfer_source_failures = 0;  // a source timed out, gave up or sent bad state
  uint64_t state_chunks_served = 0;
  uint64_t state_divergences = 0;          // own digest differed from a stable checkpoint
  uint64_t rollbacks_detected = 0;         // a stable checkpoint this replica signed is ahead of it
  uint64_t log_divergences = 0;            // 2f+1 peers committed another record at an epoch we committed
  uint64_t frozen_states_refused = 0;      // a kept stable state failed its digest at start-up
  uint64_t log_base_epoch = 0;             // epoch records before it are pruned
  uint64_t joins_served = 0;               // JoinEpochs answered with a resend
  uint64_t messages_resent_on_join = 0;
  uint64_t faults = 0;
  std::map<std::string, uint64_t> faults_by_kind;  // "peer/kind"
  // Protocol faults and beyond-window frames by the peer they are attributed to (what the
  // daemon's penalty reads).
  std::vector<uint64_t> faults_by_peer;
  uint64_t consensus_input_syncs = 0;           // synced appends to the input log
  uint64_t consensus_inputs_logged = 0;
  uint64_t consensus_inputs_replayed = 0;       // at start-up
  uint64_t future_frames_held = 0;              // gauge: beyond-window frames buffered
  uint64_t future_frame_bytes_held = 0;         // gauge
  uint64_t future_frames_dropped = 0;           // over the per-peer byte bound
  uint64_t future_frames_delivered = 0;         // handed in once the window reached them
  uint64_t fetches_refused = 0;                 // FetchEpochs over the per-peer rate
  uint64_t joins_deferred = 0;                  // JoinEpochs within the per-peer interval, served later
  uint64_t catchup_records_refused = 0;         // over the per-peer byte bound
  uint64_t catchup_bytes_held = 0;              // gauge
  uint64_t catchup_head_mismatches = 0;         // f+1 records whose head our execution missed
  uint64_t mempool_requests = 0;
  uint64_t last_epoch_latency_ms = 0;
  uint64_t waiting_requests = 0;       // request ids with a client waiting for the reply
  uint64_t in_flight_requests = 0;     // proposed in an epoch not yet decided
  // Ordered requests by (operation, 3S status); named only when a page is rendered, so
  // counting costs no string per request.
  std::map<std::pair<state::Operation, pb::Status>, uint64_t> executed_by_op_status;
  // Admission refusals (before ordering) by 3S status.
  std::map<pb::Status, uint64_t> refused_by_status;
  // From this replica's proposal of an epoch to its commit, in seconds.
  metrics::Histogram epoch_latency_seconds;
  // Requests per committed epoch.
  metrics::Histogram batch_requests;
};

// The replica's key material, moved into the core.
struct ReplicaKeys {
  ReplySigner reply;
  std::unique_ptr<consensus::CoinScheme> coin;
  std::unique_ptr<threshold::DecryptionShareProvider> decryption;
};

// CheckedFrame: a client frame after the checks that depend on its bytes alone (parsing,
// the request's signature and ciphertext proof). ReplicaCore::CheckClientFrame makes one on
// any thread, so the daemon runs these checks on the client port's I/O thread and the
// core thread only orders; OnCheckedFrame then takes it on the core thread.
struct CheckedFrame {
  enum class Kind : uint8_t { kMalformed, kRequest, kStatusQuery, kUnsupported };
  Kind kind = Kind::kMalformed;
  std::string request;     // kRequest: the SignedRequest bytes
  std::string request_id;  // kRequest: DigestString(SHA-256 of them)
  state::Verdict verdict;  // kRequest: the admission check's outcome
  std::string client_key;  // kRequest, when the verdict is OK: the mempool's fairness key
  std::string status_nonce;  // kStatusQuery: the query's nonce, echoed in the signed status
  // The uid the connection's TLS certificate names: only that user gets the reply
  // (reply_guard.h). The daemon always sets it; nullopt only for in-process callers.
  std::optional<std::string> peer_uid;
};

class ReplicaCore {
 public:
  struct Options {
    uint32_t fetch_epochs_max = 64;          // per FetchEpochs answer
    uint32_t retained_batches = 4096;        // committed batches kept for catch-up
    int64_t fetch_interval_ms = 500;         // between catch-up requests while behind
    size_t waiting_requests_max = 100000;    // request ids remembered for replies
    size_t waiting_frames_per_request_max = 8;  // duplicate frames of one request awaiting it
    size_t executed_remembered_max = 100000;     // executed request ids kept for late copies
    uint64_t executed_reply_bytes_max = 64ull << 20;  // their cached reply frames
    uint64_t checkpoint_interval_epochs = 128;        // 0: no checkpoints
    size_t state_chunk_bytes_max = size_t{1} << 20;   // per StateChunk answer
    int64_t state_transfer_timeout_ms = 3000;         // a source silent this long is replaced
    size_t served_checkpoints_max = 4;                // stable states kept for serving
    uint64_t sent_log_bytes_max = 64ull << 20;        // own messages of undecided epochs, kept to resend
    int64_t join_interval_ms = 500;                   // JoinEpochs served per peer at most this often
    int64_t fetch_served_interval_ms = 100;           // FetchEpochs served per peer at most this often
    uint64_t future_frames_bytes_per_peer_max = 16ull << 20;  // beyond-window frames held per peer
    uint64_t catchup_bytes_per_peer_max = 64ull << 20;        // catch-up records held per peer
    int64_t state_transfer_deadline_ms = 120000;      // one source's whole transfer, then the next
    uint64_t state_transfer_bytes_max = 64ull << 30;  // staged bytes of one transfer
    uint64_t unsynced_input_bytes_max = 8ull << 20;   // inputs kept in memory before a sync is forced
    // Draws the random slice each proposal takes from the mempool. Null: a CryptoRng. The
    // whole-replica simulator passes a seeded one, so that a seed replays a run exactly.
    // Borrowed; must outlive the core.
    Rng* proposal_rng = nullptr;
  };
  // Options with the bounds cluster.conf sets (limits.waiting_requests_max,
  // limits.executed_reply_bytes_max, checkpoint_interval_epochs, log_retained_epochs as
  // retained_batches); the rest at their defaults.
  static Options OptionsFor(const config::ClusterConfig& config);

  // `store`, `ca` and `outbox` are borrowed and must outlive the core. Fails when the
  // stored state cannot be read.
  static absl::StatusOr<std::unique_ptr<ReplicaCore>> Create(const config::ClusterConfig& config,
                                                             uint32_t self, ReplicaKeys keys,
                                                             store::Store* store,
                                                             const pki::CaBundle* ca,
                                                             Outbox* outbox, Options options);
  ~ReplicaCore();

  // Group commit: between BeginStep and EndStep (which nest), peer messages the core
  // produces are held; EndStep syncs the consensus inputs they depend on once, then sends
  // them. Each input method below is a step of its own when called outside one.
  void BeginStep();
  void EndStep();

  void OnPeerMessage(uint32_t from, const std::string& payload, int64_t now_ms);
  // OnClientFrame(c, f, t, u) is OnCheckedFrame(c, CheckClientFrame(f) with peer_uid u, t).
  void OnClientFrame(uint64_t connection, const std::string& frame, int64_t now_ms,
                     std::optional<std::string> peer_uid = std::nullopt);
  // Thread-safe (reads only what Create fixed), so it may run off the core thread.
  CheckedFrame CheckClientFrame(const std::string& frame) const;
  void OnCheckedFrame(uint64_t connection, CheckedFrame checked, int64_t now_ms);
  void OnTick(int64_t now_ms);

  // Non-OK once a local failure (a store write) makes continuing unsafe: the daemon must
  // exit and be restarted (it then resumes from the last durable epoch).
  const absl::Status& fatal() const { return fatal_; }
  // A snapshot, gauges included.
  CoreCounters counters() const;
  uint64_t next_epoch() const;
  int64_t consensus_time_ms() const;
  // True while this replica fetches committed epochs it missed from its peers, or
  // transfers a checkpoint's state.
  bool catching_up() const { return behind_ || transfer_.has_value(); }
  // The latest stable checkpoint's epoch, if any.
  std::optional<uint64_t> stable_checkpoint_epoch() const {
    return stable_.has_value() ? std::optional<uint64_t>(stable_->epoch()) : std::nullopt;
  }

 private:
  ReplicaCore(const config::ClusterConfig& config, uint32_t self, ReplicaKeys keys,
              store::Store* store, const pki::CaBundle* ca, Outbox* outbox, Options options);
  absl::Status Init();
  // A new consensus instance at `epoch`, fed the durable input log of the epochs from
  // there on: at start-up, and when this replica rolls back to a certified state behind
  // its own window.
  void StartConsensusAt(uint64_t epoch);
  // Moves the running instance to the store's next epoch (after catch-up or a transfer
  // that left it ahead), keeping the later epochs; falls back to StartConsensusAt when
  // the store went back.
  void AdvanceConsensus(int64_t now_ms);
  std::vector<std::vector<std::string>> RecentBatches(uint64_t epoch) const;
  void ReplayConsensusInputs(uint64_t first_epoch, const std::vector<store::ConsensusInput>& logged);
  void RebuildSentLog(uint64_t epoch, const std::vector<store::ConsensusInput>& logged);
  absl::StatusOr<std::optional<consensus::epoch::HbStep>> ApplyLoggedInput(
      consensus::epoch::HoneyBadger& hb, const store::ConsensusInput& record) const;
  void LogInput(uint64_t epoch, std::string bytes);
  void SendPeer(uint32_t to, std::string payload, bool consensus = false);
  void FlushEffects();
  uint64_t SentLogFirstEpoch() const;
  void PruneSentLog();
  void HoldFutureFrame(uint32_t from, uint64_t epoch, const std::string& payload);
  void DeliverFutureFrames(int64_t now_ms);
  void HandleConsensus(uint32_t from, const pb::PeerMessage& msg, const std::string& payload, int64_t now_ms);
  void HandlePeerMessage(uint32_t from, const std::string& payload, int64_t now_ms);
  void HandleCheckedFrame(uint64_t connection, CheckedFrame checked, int64_t now_ms);
  // Sends our committed records from `first_epoch` on (FetchEpochs answers, joins).
  void ServeEpochs(uint32_t to, uint64_t first_epoch, uint64_t count);
  void ProcessStep(consensus::epoch::HbStep&& step, int64_t now_ms);
  void MaybePropose(int64_t now_ms);
  // Executes and durably commits `epoch`. With `expected_head`, checks before the commit
  // that the epoch's log head would be that one: ABORTED, and nothing committed, if not.
  absl::Status ExecuteAndCommit(uint64_t epoch, int64_t consensus_time_ms,
                                const std::vector<std::string>& requests, bool send_replies,
                                const std::string* expected_head = nullptr);
  std::string BuildReplyFrame(const state::Executed& executed, uint64_t epoch, uint32_t position,
                              int64_t consensus_time_ms, const store::Digest& head);
  void RememberExecuted(const std::string& request_id, const std::string& uid,
                        std::string reply_frame);
  void HandleClientRequest(uint64_t connection, CheckedFrame checked, int64_t now_ms);
  // Sends `frame`, the reply to request `request_id` of user `uid`, to `waiter` if its
  // certificate names that user, else a NOT_REQUESTER rejection (reply_guard.h).
  void DeliverReply(const ReplyWaiter& waiter, const std::string& uid,
                    const std::string& request_id, const std::string& frame);
  void HandleStatusQuery(uint64_t connection, const std::string& nonce);
  void HandleFetch(uint32_t from, const pb::FetchEpochs& fetch);
  void HandleCommittedEpoch(uint32_t from, const pb::CommittedEpoch& committed, int64_t now_ms);
  void RequestCatchUp(int64_t now_ms);
  void Reject(uint64_t connection, const std::string& request_id, uint32_t code,
              const std::string& message);
  void RejectOverloaded(uint64_t connection, const std::string& request_id, const char* reason,
                        const std::string& message);
  // Whether f+1 peers (so at least one correct one) sent messages for epochs beyond this
  // replica's window, or joined consensus after its last committed epoch: only then is it
  // behind. One Byzantine peer alone must not make it fetch, nor report itself not ready.
  bool PeersAhead() const;
  void Fail(absl::Status status);
  void RecordFault(uint32_t peer, absl::string_view kind, absl::string_view detail);
  // This replica's own log left the cluster's (2f+1 peers, or f+1 records whose head our
  // execution does not reproduce): go back to a certified state.
  void MarkDiverged(uint64_t epoch, int64_t now_ms);

  // ---- checkpoints and state transfer ----
  void MaybeCheckpoint(uint64_t epoch);
  void HandleCheckpointVote(uint32_t from, const pb::CheckpointVote& vote, int64_t now_ms);
  void HandleCertificate(uint32_t from, const pb::CheckpointCertificate& cert, int64_t now_ms);
  void AdoptCertificate(const pb::CheckpointCertificate& cert, int64_t now_ms);
  void HandleFetchState(uint32_t from, const pb::FetchState& fetch);
  void HandleStateChunk(uint32_t from, const pb::StateChunk& chunk, int64_t now_ms);
  void RequestCheckpoints();
  void StartTransfer(const pb::CheckpointCertificate& cert, int64_t now_ms);
  void RequestNextChunk(int64_t now_ms);
  void ReplaceTransferSource(int64_t now_ms, absl::string_view why);
  void FinishTransfer(int64_t now_ms);
  void HandleJoin(uint32_t from, const pb::JoinEpochs& join, int64_t now_ms);
  // Drops the durably frozen states no own or served checkpoint needs.
  void KeepFrozen();
  // At start-up: the stable checkpoint's frozen state, if kept and intact, is served again.
  void ReopenServedCheckpoint();
  // This replica's CommittedEpoch record of `epoch`, as catch-up serves it.
  std::optional<pb::PeerMessage> CommittedRecord(uint64_t epoch) const;
  // After committing `epoch`: sends our record to the peers whose record of it differed.
  void CorrectConflictingRecords(uint64_t epoch);
  // A peer's record of an epoch this replica committed already.
  void HandleOlderRecord(uint32_t from, const pb::CommittedEpoch& committed, int64_t now_ms);

  const config::ClusterConfig& config_;
  const uint32_t self_;
  ReplicaKeys keys_;
  store::Store* store_;
  const pki::CaBundle* ca_;
  Outbox* outbox_;
  Options options_;
  CryptoRng rng_;
  std::unique_ptr<state::CiphertextCheck> ciphertext_check_;
  std::unique_ptr<state::StateMachine> state_machine_;
  state::Config state_config_;
  consensus::epoch::Config hb_config_;
  std::unique_ptr<consensus::epoch::HoneyBadger> hb_;
  Mempool mempool_;
  // request id -> client connections waiting for its reply, one entry per frame received
  // (the client port expects one answer per request frame; bounded by options).
  std::map<std::string, std::vector<ReplyWaiter>> waiting_;
  // Recently executed requests, oldest first, with this replica's signed reply frame (empty
  // once evicted for size): a copy that arrives after its execution is answered from here
  // instead of being ordered a second time.
  std::map<std::string, CachedReply> executed_replies_;
  std::deque<std::string> executed_order_;
  uint64_t executed_reply_bytes_ = 0;
  std::map<uint64_t, int64_t> epoch_started_ms_;
  // Requests proposed in an epoch still running (id -> epoch): not proposed again until
  // that epoch is decided, so one request does not start every epoch of the window.
  std::map<std::string, uint64_t> in_flight_;
  // Catch-up: epoch -> serialized CommittedEpoch -> senders. Each distinct record is
  // charged to the peer that brought it (catchup_bytes_by_peer_, bounded per peer).
  struct CatchupRecord {
    std::set<uint32_t> senders;
    uint32_t charged_to = 0;
  };
  std::map<uint64_t, std::map<std::string, CatchupRecord>> catchup_votes_;
  std::map<uint32_t, uint64_t> catchup_bytes_by_peer_;
  void DropCatchupThrough(uint64_t epoch);
  // The durable input log: inputs not yet synced (their sends wait for them).
  std::vector<store::ConsensusInput> unsynced_inputs_;
  uint64_t unsynced_input_bytes_ = 0;
  uint64_t next_input_sequence_ = 0;
  bool replaying_ = false;
  // Group commit: peer messages held until the step ends.
  int step_depth_ = 0;
  std::vector<std::pair<uint32_t, std::string>> held_sends_;
  bool held_consensus_ = false;
  // Beyond-window consensus frames by peer, by epoch, each epoch's in arrival order
  // (bounded in bytes; the latest epochs' frames go first).
  struct FutureFrames {
    std::multimap<uint64_t, std::string> frames;
    uint64_t bytes = 0;
    std::optional<uint64_t> dropped_from;  // the first epoch a dropped frame belonged to
  };
  std::map<uint32_t, FutureFrames> future_;
  // Hands in `from`'s held frames now inside the window; true if it handed in any.
  bool DeliverFutureFramesOf(uint32_t from, FutureFrames& held, int64_t now_ms);
  bool delivering_future_ = false;
  std::map<uint32_t, int64_t> last_fetch_served_ms_;
  std::string genesis_digest_;
  bool behind_ = false;
  // Peer -> the latest epoch beyond the window it sent a message for (at most N-1 entries).
  std::map<uint32_t, uint64_t> beyond_window_;
  // Peer -> the first epoch of its latest JoinEpochs (at most N-1 entries).
  std::map<uint32_t, uint64_t> joined_at_;
  uint32_t fetches_without_progress_ = 0;  // stop asking once peers have nothing newer
  int64_t last_fetch_ms_ = 0;

  std::unique_ptr<CheckpointVotes> checkpoint_votes_;
  std::optional<pb::CheckpointCertificate> stable_;
  // Checkpoints this replica took and voted for, not yet stable (bounded).
  struct OwnCheckpoint {
    std::string state_digest;
    std::string log_head;
    std::shared_ptr<const store::StateSnapshot> state;
  };
  std::map<uint64_t, OwnCheckpoint> own_checkpoints_;
  // Stable checkpoints whose state this replica can serve, newest last (bounded).
  std::map<uint64_t, std::shared_ptr<const store::StateSnapshot>> served_;
  // Set when catch-up by log brought nothing: the next certificate beyond this replica's
  // state starts a transfer.
  bool want_transfer_ = false;
  // Set when 2f+1 peers showed that this replica's log diverged: any certified state is
  // better than its own, until a transfer installs one.
  bool diverged_ = false;
  // Epoch -> peer -> its record's SHA-256, for epochs this replica committed and recorded
  // otherwise (bounded: fetch_epochs_max epochs, one digest per peer).
  std::map<uint64_t, std::map<uint32_t, std::string>> divergence_votes_;
  int64_t last_checkpoint_request_ms_ = -1;
  int64_t last_now_ms_ = 0;  // the latest time an input carried
  struct Transfer {
    pb::CheckpointCertificate cert;
    uint32_t source = 0;
    std::string after_key;         // the last key staged
    std::set<uint32_t> failed;     // sources that timed out, gave up or sent bad state
    int64_t last_request_ms = 0;
    int64_t source_started_ms = 0;  // for state_transfer_deadline_ms
    // Started to go back on purpose (this replica's log or state is not the cluster's),
    // not to catch up to a checkpoint ahead of it.
    bool going_back = false;
    uint64_t entries = 0;
    uint64_t bytes = 0;
  };
  std::optional<Transfer> transfer_;
  // What this replica sent for each undecided epoch and the last few committed ones
  // (recipients, PeerMessage bytes), to resend to a peer that joins those epochs late
  // (JoinEpochs). Pruned below SentLogFirstEpoch(); rebuilt at a restart.
  std::map<uint64_t, std::vector<std::pair<consensus::Target, std::string>>> sent_log_;
  uint64_t sent_log_bytes_ = 0;
  struct JoinServed {
    uint64_t first_epoch = 0;
    int64_t at_ms = INT64_MIN / 2;
  };
  std::map<uint32_t, JoinServed> last_join_served_;
  // Peer -> the first epoch of a join that came within join_interval_ms of the last one
  // served; served by OnTick once the interval is over (at most N-1 entries).
  std::map<uint32_t, uint64_t> deferred_joins_;
  void ServeJoin(uint32_t from, uint64_t first_epoch, int64_t now_ms);
  void ServeDeferredJoins(int64_t now_ms);
  absl::Status fatal_;
  CoreCounters counters_;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_REPLICA_CORE_H_
