// replica/state/key_generation.h — the distributed generation of the cluster's TDH2 key,
// as part of the replicated state.
//
// How it works. When cluster.conf says distributed_encryption_key, no dealer ever made the
// TDH2 key: the replicas make it with the key generation of threshold/dkg/ (hbbft's
// SyncKeyGen: symmetric bivariate Feldman dealings, Acks carrying each recipient's values),
// and the ordered log is its broadcast channel. Each replica signs its messages with its
// reply key (service.proto ReplicaMessage) and puts them into its own proposals; the state
// machine executes them here, in log order, so every correct replica takes the same
// decisions from the same bytes:
//   1. every replica announces its own encryption key (made on its first start, never by
//      the dealer). The recipients are fixed — the run starts — once all N announced, or
//      once 2f+1 did and consensus time passed the announcement grace (a replica whose
//      clock is past it sends a DkgPoke, so an idle log still reaches it). A replica that
//      never announced gets a slot sealed to a point nobody knows the logarithm of: it
//      holds no share, and counts among the f faulty for this key;
//   2. after the start every replica deals one Part; each recipient whose row checks out
//      Acks it. The first Part of a dealer and the first Ack of an acker for a Part count;
//   3. the run finishes at the first message after which f+1 Parts have 2f+1 Acks: the
//      public key set is then fixed in the state (KeysQuery answers it), and each replica
//      computes its own share from the Acks, outside the state machine.
// The state keeps the accepted messages themselves ("k/" keys), so a replica that restarts
// or installs the state from a checkpoint computes its share from them, and the run's
// decisions are replayed, not trusted. Refused messages change nothing.
#ifndef BELFRY_REPLICA_STATE_KEY_GENERATION_H_
#define BELFRY_REPLICA_STATE_KEY_GENERATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "proto/service.pb.h"
#include "proto/storage.pb.h"
#include "replica/state/config.h"
#include "replica/state/state_view.h"
#include "threshold/dkg/key_generation.h"
#include "threshold/keys.h"

namespace belfry::state {

// The run that makes the cluster's TDH2 key.
inline constexpr uint64_t kEncryptionKeyRun = 1;
// Largest serialized Part or Ack a replica message may carry (the state bounds what it
// keeps: N Parts and N^2 Acks of a run).
inline constexpr size_t kDkgMessageBytesMax = 256 * 1024;

// "k/" + big-endian run -> DkgRunRecord; + "/" + big-endian sequence -> DkgLogEntry.
std::string DkgRunKey(uint64_t run);
std::string DkgLogKey(uint64_t run, uint32_t sequence);

// The bytes every hash of run `run` is bound to: the domain, the cluster id and the run.
std::string DkgContext(std::string_view cluster_id, uint64_t run);

// The run's record, or nullopt before its first accepted message. DATA_LOSS when stored
// bytes do not parse.
absl::StatusOr<std::optional<pb::DkgRunRecord>> ReadDkgRun(const StateReader& state, uint64_t run);

// The key generation's parameters once the run started (recipients fixed): n, f, the
// context, and the announced keys with a nobody-knows point for every unannounced slot.
// FAILED_PRECONDITION before the start.
absl::StatusOr<threshold::dkg::Config> DkgConfigOf(const Config& config, uint64_t run,
                                                   const pb::DkgRunRecord& record);

// A fresh accumulator fed, in log order, every message the run accepted: the same state
// every correct replica's accumulator is in. DATA_LOSS when a kept message no longer
// parses or is refused (the state is corrupt).
absl::StatusOr<threshold::dkg::KeyGeneration> ReplayDkgRun(const Config& config,
                                                           const StateReader& state,
                                                           uint64_t run,
                                                           const pb::DkgRunRecord& record);

// The TDH2 public key set the run made, once finished; nullopt before (or for a dealt
// key). DATA_LOSS when the stored set does not parse.
absl::StatusOr<std::optional<threshold::PublicKeySet>> GeneratedEncryptionKeys(
    const StateReader& state);

// Executes one ReplicaMessage whose signature was verified: fills `result` (OK with a
// KeyGenerationResult, or STATUS_DKG_REFUSED with a fixed message) and writes what it
// accepted. A non-OK return is local trouble (corrupt state), as in ExecuteBatch.
absl::Status ExecuteReplicaMessage(const Config& config, StateView& view, uint64_t epoch,
                                   int64_t now_ms, const pb::ReplicaMessage& message,
                                   pb::Result* result);

}  // namespace belfry::state

#endif  // BELFRY_REPLICA_STATE_KEY_GENERATION_H_
