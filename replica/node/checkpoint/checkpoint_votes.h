// replica/node/checkpoint/checkpoint_votes.h — checkpoint votes and certificates, without I/O.
//
// Every checkpoint_interval_epochs epochs each replica hashes its whole replicated state
// (Store::ComputeStateDigest) after committing epoch e and signs
// wire::CheckpointStatement(cluster, e, digest, log head, consensus time, state size)
// with its reply key. 2f+1 signatures on one statement make a stable checkpoint: at least f+1 correct
// replicas hold exactly that state, so a replica that lost its own may install it from
// any peer (state transfer, checked against the digest), and older log can be pruned.
//
// CheckpointVotes collects the votes. It is bounded: it keeps votes only for epochs in a
// window above the latest stable checkpoint and at most a window's worth per replica,
// one vote per replica and epoch (a second, different vote from the same replica is a
// fault), and forgets what a newer stable checkpoint makes moot.
#ifndef BELFRY_REPLICA_NODE_CHECKPOINT_CHECKPOINT_VOTES_H_
#define BELFRY_REPLICA_NODE_CHECKPOINT_CHECKPOINT_VOTES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "config/cluster_config.h"
#include "proto/replica.pb.h"
#include "proto/storage.pb.h"

namespace belfry::replica {

// The statement a vote or a certificate is signed over.
Bytes CheckpointStatementOf(const config::ClusterConfig& config, const pb::CheckpointVote& vote);
Bytes CheckpointStatementOf(const config::ClusterConfig& config, const pb::CheckpointCertificate& certificate);

// Whether `signature` is replica `replica`'s reply-key signature of `statement`.
bool VerifyReplicaSignature(const config::ClusterConfig& config, uint32_t replica, ByteSpan statement,
                            const std::string& signature);

// Checks a certificate received from anyone: 32-byte digest and head, at least 2f+1
// signatures from distinct replicas of the configuration in ascending order, each valid.
// INVALID_ARGUMENT for a malformed one, PERMISSION_DENIED for too few valid signatures.
absl::Status VerifyCheckpointCertificate(const config::ClusterConfig& config,
                                         const pb::CheckpointCertificate& certificate);

class CheckpointVotes {
 public:
  // `window_epochs`: how far above the stable checkpoint votes are kept (a replica votes
  // for epochs it has committed, so correct ones are never far apart).
  CheckpointVotes(const config::ClusterConfig& config, uint64_t window_epochs);

  // Adds replica `from`'s vote (this replica's own included). Returns the certificate
  // when this vote completes 2f+1 matching signatures for an epoch above
  // `stable_epoch_or_none` (nullopt: no stable checkpoint yet); nullopt while it does
  // not. INVALID_ARGUMENT (a fault of `from`) for a bad signature, malformed fields or a
  // second, different vote for one epoch; OUT_OF_RANGE (ignored, not a fault) outside
  // the window.
  absl::StatusOr<std::optional<pb::CheckpointCertificate>> Add(uint32_t from, const pb::CheckpointVote& vote,
                                                               std::optional<uint64_t> stable_epoch);

  // Drops every vote for epochs at or below `epoch`.
  void ForgetThrough(uint64_t epoch);
  size_t votes_held() const;

 private:
  struct Vote {
    std::string statement;
    std::string signature;
  };
  const config::ClusterConfig& config_;
  const uint64_t window_epochs_;
  // replica -> epoch -> its vote.
  std::map<uint32_t, std::map<uint64_t, Vote>> votes_;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_CHECKPOINT_CHECKPOINT_VOTES_H_
