// replica/node/replica_core.h — one replica's protocol logic, without threads or sockets.
//
// How it works. The core owns the consensus driver (consensus/epoch), the mempool, the 3S
// state machine, the store and the replica's keys. Every input is a call — a peer message,
// a client frame, a timer tick — and every effect leaves through one Effects sink
// (effects/effects.h) to the Outbox, so the daemon (replica/node/main.cc) wires it to the
// real transport while tests drive it directly.
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
// Checkpoints (checkpoint/checkpoints.h): every checkpoint_interval_epochs epochs the core hashes
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
//
// Parts. ReplicaCore itself drives consensus (the durable input log, proposals, the
// window) and executes and commits epochs; everything else is a part with one job, owned
// here and handed the Effects sink, and the store only where it needs one:
//   replies/      Replies: waiting clients, the reply cache, signed replies and refusals
//   checkpoint/   Checkpoints: votes, certificates, frozen states served;
//                 StateTransfer: sources, deadlines, staging, install
//   sync/         CatchUp: being behind, f+1 records; Divergence: 2f+1 corrections;
//                 Joins: pacing JoinEpochs; SentLog: what to resend to late joiners;
//                 FutureFrames: frames beyond the window
//   effects/      Effects: held peer sends, client frames, typed faults, counters, logs
// A part decides within its job and returns what the others must do (a certificate to
// adopt, a state installed, a transfer wanted); the coordinator does it, so the rules
// that tie parts together (a transfer resets the checkpoints, the waiting replies, the
// catch-up records and the consensus instance) are written in one place.
#ifndef BELFRY_REPLICA_NODE_REPLICA_CORE_H_
#define BELFRY_REPLICA_NODE_REPLICA_CORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/rng.h"
#include "config/cluster_config.h"
#include "consensus/coin.h"
#include "consensus/epoch/honey_badger.h"
#include "pki/certificate.h"
#include "proto/replica.pb.h"
#include "proto/reply.pb.h"
#include "replica/mempool/mempool.h"
#include "replica/node/checkpoint/checkpoints.h"
#include "replica/node/checkpoint/state_transfer.h"
#include "replica/node/effects/core_counters.h"
#include "replica/node/effects/core_log.h"
#include "replica/node/effects/effects.h"
#include "replica/node/effects/peer_fault.h"
#include "replica/node/replies/replies.h"
#include "replica/node/keys/key_generation_driver.h"
#include "replica/node/replies/reply_guard.h"
#include "replica/node/reply_signer.h"
#include "replica/node/sync/catch_up.h"
#include "replica/node/sync/divergence.h"
#include "replica/node/sync/future_frames.h"
#include "replica/node/sync/joins.h"
#include "replica/node/sync/sent_log.h"
#include "replica/state/precheck.h"
#include "replica/state/state_machine.h"
#include "replica/store/store.h"
#include "threshold/rsa/signature.h"
#include "threshold/tdh2.h"

namespace belfry::replica {

// The replica's key material, moved into the core.
struct ReplicaKeys {
  ReplySigner reply;
  std::unique_ptr<consensus::CoinScheme> coin;
  std::unique_ptr<threshold::DecryptionShareProvider> decryption;
  // This replica's share of the service key, which signs integrity certificates and
  // time-stamp tokens, and the key set it belongs to (its digest is a genesis setting).
  std::unique_ptr<threshold::rsa::ShareSigner> service;
  std::string service_key_digest;  // hex SHA-256 of the public key set's serialization
  // The service certificate (DER), which time-stamp tokens name in their signed
  // attributes (ESSCertIDv2). Empty: stamp replies carry no share.
  Bytes service_cert_der;
  // Where this replica keeps its key-generation key and its share of a generated key
  // (keys/key_generation_driver.h); needed when cluster.conf says
  // distributed_encryption_key, and `decryption` is then null.
  std::string key_generation_dir;
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
    // The core's randomness. Null: a CryptoRng. Borrowed; must outlive the core.
    Rng* rng = nullptr;
    // Draws the random slice each proposal takes from the mempool. Null: `rng`. The
    // whole-replica simulator passes a seeded one, so that a seed replays a run exactly.
    // Borrowed; must outlive the core.
    Rng* proposal_rng = nullptr;
    // Where the core's log lines go. Null: LogLine, with the process-wide
    // level, format and destination (core_log.h). Borrowed; must outlive the core.
    CoreLogger* logger = nullptr;
    // Test-only: the key generation's message tamperer (keys/key_generation_driver.h).
    std::function<bool(pb::ReplicaMessage&)> key_generation_tamper;
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
  bool catching_up() const { return catch_up_.behind() || transfer_.active(); }
  // The latest stable checkpoint's epoch, if any.
  std::optional<uint64_t> stable_checkpoint_epoch() const { return checkpoints_.stable_epoch(); }

 private:
  ReplicaCore(const config::ClusterConfig& config, uint32_t self, ReplicaKeys keys,
              store::Store* store, const pki::CaBundle* ca, Outbox* outbox, Options options);
  absl::Status Init();
  void Fail(absl::Status status);
  // Fail(status) unless it is OK; returns whether it was.
  bool Check(absl::Status status);

  // ---- consensus driving ----
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
  // Syncs the input log when a held consensus message needs it, then lets the held peer
  // messages go (or drops them when the sync failed).
  void FlushEffects();
  // The first epoch whose sent messages and logged inputs are kept (see replica_core.cc).
  uint64_t SentLogFirstEpoch() const;
  void SendJoinToPeers(uint64_t first_epoch);
  void DeliverFutureFrames(int64_t now_ms);
  // Hands in `from`'s held frames now inside the window; true if it handed in any.
  bool DeliverFutureFramesOf(uint32_t from, int64_t now_ms);
  void HandleConsensus(uint32_t from, const pb::PeerMessage& msg, const std::string& payload, int64_t now_ms);
  void ProcessStep(consensus::epoch::HbStep&& step, int64_t now_ms);
  void MaybePropose(int64_t now_ms);
  // Puts this replica's key-generation messages that the committed state still lacks into
  // its mempool, and hands a newly made decryption share maker to the replies.
  void ReconcileKeyGeneration(int64_t now_ms);
  // Executes and durably commits `epoch`. With `expected_head`, checks before the commit
  // that the epoch's log head would be that one: ABORTED, and nothing committed, if not.
  absl::Status ExecuteAndCommit(uint64_t epoch, int64_t consensus_time_ms,
                                const std::vector<std::string>& requests, bool send_replies,
                                const std::string* expected_head = nullptr);

  // ---- inputs ----
  void HandlePeerMessage(uint32_t from, const std::string& payload, int64_t now_ms);
  void HandleCheckedFrame(uint64_t connection, CheckedFrame checked, int64_t now_ms);
  void HandleClientRequest(uint64_t connection, CheckedFrame checked, int64_t now_ms);
  void HandleStatusQuery(uint64_t connection, const std::string& nonce);

  // ---- catch-up and divergence (sync/) ----
  void RequestCatchUp(int64_t now_ms);
  // Sends our committed records from `first_epoch` on (FetchEpochs answers, joins).
  void ServeEpochs(uint32_t to, uint64_t first_epoch, uint64_t count);
  void HandleCommittedEpoch(uint32_t from, const pb::CommittedEpoch& committed, int64_t now_ms);
  // This replica's CommittedEpoch record of `epoch`, as catch-up serves it.
  std::optional<pb::PeerMessage> CommittedRecord(uint64_t epoch) const;
  // After committing `epoch`: sends our record to the peers whose record of it differed.
  void CorrectConflictingRecords(uint64_t epoch);
  // A peer's record of an epoch this replica committed already.
  void HandleOlderRecord(uint32_t from, const pb::CommittedEpoch& committed, int64_t now_ms);
  // This replica's own log left the cluster's (2f+1 peers, or f+1 records whose head our
  // execution does not reproduce): go back to a certified state.
  void MarkDiverged(uint64_t epoch, int64_t now_ms);
  void HandleJoin(uint32_t from, const pb::JoinEpochs& join, int64_t now_ms);
  void ServeJoin(uint32_t from, uint64_t first_epoch);

  // ---- checkpoints and state transfer (checkpoint/) ----
  void MaybeCheckpoint(uint64_t epoch);
  void HandleCheckpointVote(uint32_t from, const pb::CheckpointVote& vote, int64_t now_ms);
  // A verified certificate, from votes or from a peer.
  void AdoptCertificate(const pb::CheckpointCertificate& cert, int64_t now_ms);
  void StartTransfer(const pb::CheckpointCertificate& cert, int64_t now_ms);
  void RequestCheckpoints();
  void HandleStateChunk(uint32_t from, const pb::StateChunk& chunk, int64_t now_ms);
  // The transfer's state is staged and verified: install it and start over from there.
  void FinishTransfer(int64_t now_ms);

  const config::ClusterConfig& config_;
  const uint32_t self_;
  ReplicaKeys keys_;
  store::Store* store_;
  const pki::CaBundle* ca_;
  Options options_;
  CryptoRng crypto_rng_;
  // options_.rng, else crypto_rng_; and options_.proposal_rng, else that.
  Rng& rng_;
  Rng& proposal_rng_;
  std::unique_ptr<state::CiphertextCheck> ciphertext_check_;
  std::unique_ptr<KeyGenerationDriver> key_generation_;  // distributed_encryption_key only
  int64_t key_generation_next_ms_ = 0;
  std::unique_ptr<state::StateMachine> state_machine_;
  state::Config state_config_;
  consensus::epoch::Config hb_config_;
  std::string genesis_digest_;

  // The parts. `effects_` first: the others hold a reference to it.
  Effects effects_;
  Replies replies_;
  Checkpoints checkpoints_;
  StateTransfer transfer_;
  CatchUp catch_up_;
  Divergence divergence_;
  Joins joins_;
  SentLog sent_log_;
  FutureFrames future_;

  // ---- consensus driving ----
  std::unique_ptr<consensus::epoch::HoneyBadger> hb_;
  Mempool mempool_;
  std::map<uint64_t, int64_t> epoch_started_ms_;
  // Requests proposed in an epoch still running (id -> epoch): not proposed again until
  // that epoch is decided, so one request does not start every epoch of the window.
  std::map<std::string, uint64_t> in_flight_;
  // The durable input log: inputs not yet synced (their sends wait for them).
  std::vector<store::ConsensusInput> unsynced_inputs_;
  uint64_t unsynced_input_bytes_ = 0;
  uint64_t next_input_sequence_ = 0;
  bool replaying_ = false;
  bool delivering_future_ = false;
  int64_t last_now_ms_ = 0;  // the latest time an input carried
  absl::Status fatal_;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_REPLICA_CORE_H_
