// replica/node/checkpoint/state_transfer.h — fetching a certified state from the peers.
//
// How it works. A replica that cannot catch up by the log (its peers pruned the epochs
// it lacks), or whose state a stable checkpoint shows corrupt, rolled back or diverged,
// asks its peers for their stable checkpoint (RequestCheckpoints, paced) and, given a
// verified certificate, fetches that state in chunks from one signer into the store's
// staging area (Start, OnChunk). Only if the whole staged state hashes to the certified
// digest is it swapped in (Finish); otherwise the source is blamed and the next signer
// asked. A source also loses its turn when it is silent for timeout_ms, when its whole
// transfer takes longer than deadline_ms (a trickle), or when it sends more entries or
// bytes than the certificate signs for that state (or a last chunk short of them): what
// it staged is cleared, so a bad digest is always blamed on the one replica that sent all
// of it. bytes_max is this replica's own room: a certified state larger than it is not
// fetched at all, and no source is blamed. Each new transfer starts one signer further on, so a
// source that stalled one transfer is not the first asked in the next.
//
// Uses the store it is given (staging, install, checkpoint key) and the Effects sink;
// nothing else. Not thread-safe.
#ifndef BELFRY_REPLICA_NODE_CHECKPOINT_STATE_TRANSFER_H_
#define BELFRY_REPLICA_NODE_CHECKPOINT_STATE_TRANSFER_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/cluster_config.h"
#include "proto/replica.pb.h"
#include "replica/node/effects/effects.h"
#include "replica/store/store.h"

namespace belfry::replica {

class StateTransfer {
 public:
  struct Limits {
    int64_t timeout_ms = 3000;          // a source silent this long is replaced
    int64_t deadline_ms = 120000;       // one source's whole transfer, then the next
    uint64_t bytes_max = 64ull << 30;   // the largest certified state this replica stages
    int64_t checkpoint_request_interval_ms = 500;  // between FetchCheckpoint rounds
  };
  // Borrowed: `config`, `store`, `effects`; they must outlive this.
  StateTransfer(const config::ClusterConfig& config, store::Store& store, Limits limits, Effects& effects);

  // A transfer is running (the replica is not ready and proposes nothing).
  bool active() const { return transfer_.has_value(); }
  // Catch-up by log brought nothing: the next certificate beyond this replica's state
  // should start a transfer.
  bool wanted() const { return wanted_; }
  void set_wanted(bool wanted) { wanted_ = wanted; }

  // Asks every peer for its stable checkpoint, at most every checkpoint_request_interval_ms.
  void RequestCheckpoints(int64_t now_ms);
  // Starts fetching `cert`'s state. `going_back`: this replica's log or state is not the
  // cluster's, so it installs the state even when its own log is past it.
  absl::Status Start(const pb::CheckpointCertificate& cert, int64_t now_ms, bool going_back);
  // Replaces a source past its deadline or silent past its timeout; while none runs but
  // one is wanted, asks for checkpoints.
  absl::Status OnTick(int64_t now_ms);

  enum class Progress : uint8_t { kNone, kStateComplete };
  // A chunk from `from`: staged, or its source blamed and replaced. kStateComplete when
  // the whole state is staged and hashes to the certificate (call Finish).
  absl::StatusOr<Progress> OnChunk(uint32_t from, const pb::StateChunk& chunk, int64_t now_ms);
  // Installs the staged state when kStateComplete: the installed certificate, or nullopt
  // when consensus carried the replica past it meanwhile (nothing installed). The
  // transfer is over either way.
  absl::StatusOr<std::optional<pb::CheckpointCertificate>> Finish();

 private:
  void RequestNextChunk(int64_t now_ms);
  absl::Status ReplaceSource(int64_t now_ms, absl::string_view why);
  void CheckInvariants() const;

  struct Transfer {
    pb::CheckpointCertificate cert;
    uint32_t source = 0;
    std::string after_key;         // the last key staged
    std::set<uint32_t> failed;     // sources that timed out, gave up or sent bad state
    int64_t last_request_ms = 0;
    int64_t source_started_ms = 0;  // for deadline_ms
    bool going_back = false;
    uint64_t entries = 0;
    uint64_t bytes = 0;
  };
  const config::ClusterConfig& config_;
  store::Store& store_;
  const Limits limits_;
  Effects& effects_;
  std::optional<Transfer> transfer_;
  bool wanted_ = false;
  int64_t last_checkpoint_request_ms_ = -1;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_CHECKPOINT_STATE_TRANSFER_H_
