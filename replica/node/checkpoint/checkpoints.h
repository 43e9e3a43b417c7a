// replica/node/checkpoint/checkpoints.h — this replica's checkpoints and the states it serves.
//
// How it works. Every interval_epochs epochs, after committing epoch e, the replica
// hashes its state, freezes a durable copy of it (Store::FreezeStateDurably) and signs a
// vote (MaybeTake), which the coordinator sends to every peer and counts itself. Votes
// gather in CheckpointVotes (checkpoint_votes.h); 2f+1 matching ones, or a verified
// certificate from a peer, make a stable checkpoint. Before adopting one the coordinator
// asks Judge: a certificate ahead of this replica's state (signed by this replica: a
// rollback) or one whose digest differs from this replica's own at that epoch (corrupt
// state) calls for a state transfer, not an adoption. Adopt keeps the certificate
// durably, serves the frozen state it matches, and prunes the epoch records neither the
// retained batches nor the checkpoint need.
//
// Frozen states on disk are exactly those of the own checkpoints not yet stable and of
// the stable ones served (KeepFrozen), at most served_checkpoints_max of each: at
// start-up the stable one is reopened and checked against its certificate before it is
// served again, so a replica that lost its disk finds a peer to transfer from even after
// every replica restarted.
//
// Uses the store it is given (checkpoint keys, frozen states, log pruning) and the
// Effects sink; nothing else. Not thread-safe.
#ifndef BELFRY_REPLICA_NODE_CHECKPOINT_CHECKPOINTS_H_
#define BELFRY_REPLICA_NODE_CHECKPOINT_CHECKPOINTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/cluster_config.h"
#include "proto/replica.pb.h"
#include "replica/node/checkpoint/checkpoint_votes.h"
#include "replica/node/effects/effects.h"
#include "replica/node/reply_signer.h"
#include "replica/store/store.h"

namespace belfry::replica {

class Checkpoints {
 public:
  struct Limits {
    uint64_t interval_epochs = 128;       // 0: no checkpoints
    size_t served_max = 4;                // own checkpoints and served states kept, each
    size_t state_chunk_bytes_max = size_t{1} << 20;
    uint64_t retained_batches = 4096;     // epoch records kept for catch-up
  };
  // Borrowed: `config`, `signer`, `store`, `effects`; they must outlive this.
  Checkpoints(const config::ClusterConfig& config, const ReplySigner& signer, store::Store& store, Limits limits,
              Effects& effects);

  // At start-up: the stable certificate, its frozen state if kept and intact; drops every
  // other frozen state (own checkpoints not yet stable died with the votes in memory).
  absl::Status Open();

  const std::optional<pb::CheckpointCertificate>& stable() const { return stable_; }
  std::optional<uint64_t> stable_epoch() const {
    return stable_.has_value() ? std::optional<uint64_t>(stable_->epoch()) : std::nullopt;
  }
  // Whether `cert` is no newer than the stable checkpoint (nothing to do with it).
  bool IsStale(const pb::CheckpointCertificate& cert) const {
    return stable_.has_value() && cert.epoch() <= stable_->epoch();
  }

  // After committing `epoch`: on the interval, this replica's signed vote (already sent to
  // every peer; the caller counts it as its own with AddVote); nullopt off the interval.
  absl::StatusOr<std::optional<pb::CheckpointVote>> MaybeTake(uint64_t epoch);
  // Replica `from`'s vote; the certificate when it completes one. A bad vote is a fault.
  std::optional<pb::CheckpointCertificate> AddVote(uint32_t from, const pb::CheckpointVote& vote);
  // Whether a certificate a peer sent is newer than ours and valid; a bad one is a fault.
  bool Accept(uint32_t from, const pb::CheckpointCertificate& cert);

  enum class Verdict : uint8_t {
    kAhead,             // beyond this replica's state
    kAheadSignedBySelf, // beyond it, and this replica signed it: its disk went back
    kOwnStateDiffers,   // this replica's own checkpoint at that epoch differs: corrupt
    kAdoptable,
  };
  // How a verified certificate newer than the stable one relates to this replica, whose
  // store's next epoch is `next_epoch` (counts and logs rollbacks and divergences).
  Verdict Judge(const pb::CheckpointCertificate& cert, uint64_t next_epoch);
  // Makes a kAdoptable certificate the stable checkpoint and prunes the log.
  absl::Status Adopt(const pb::CheckpointCertificate& cert, uint64_t next_epoch);
  // After a state transfer installed `cert`'s state: it is the stable checkpoint, the
  // only state served, and no own checkpoint of the old state is kept.
  void ResetTo(const pb::CheckpointCertificate& cert);

  // Answers FetchCheckpoint (nothing without a stable checkpoint) and FetchState.
  void ServeStable(uint32_t to);
  void ServeState(uint32_t to, const pb::FetchState& fetch);

 private:
  // Drops the durably frozen states no own or served checkpoint needs.
  void KeepFrozen();
  void ReopenServed();
  void CheckBounds() const;

  struct OwnCheckpoint {
    std::string state_digest;
    std::string log_head;
    std::shared_ptr<const store::StateSnapshot> state;
  };
  const config::ClusterConfig& config_;
  const ReplySigner& signer_;
  store::Store& store_;
  const Limits limits_;
  Effects& effects_;
  CheckpointVotes votes_;
  std::optional<pb::CheckpointCertificate> stable_;
  // Checkpoints this replica took and voted for, not yet stable.
  std::map<uint64_t, OwnCheckpoint> own_;
  // Stable checkpoints whose state this replica can serve, newest last.
  std::map<uint64_t, std::shared_ptr<const store::StateSnapshot>> served_;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_CHECKPOINT_CHECKPOINTS_H_
