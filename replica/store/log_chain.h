// replica/store/log_chain.h — the hash chain of committed epochs and the state digest,
// shared by every Store implementation so they agree byte for byte.
#ifndef BELFRY_REPLICA_STORE_LOG_CHAIN_H_
#define BELFRY_REPLICA_STORE_LOG_CHAIN_H_

#include <sodium.h>

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "proto/storage.pb.h"
#include "replica/state/state_view.h"
#include "wire/request_format.h"

namespace belfry::store {

using wire::Digest;

inline constexpr std::string_view kLogHeadDomain = "belfry/log-head/v1";
inline constexpr std::string_view kStateDigestDomain = "belfry/state-digest/v1";
// The on-disk format this build writes and reads (ChainTip.format_version).
inline constexpr uint32_t kStoreFormatVersion = 1;

// head_e = SHA-256(kLogHeadDomain || previous || epoch (8 bytes BE) || batch || writes).
Digest ComputeLogHead(const Digest& previous, uint64_t epoch, const Digest& batch_digest,
                      const Digest& writes_digest);

// The tip of an empty log: epoch 0 next, a zero head, time 0.
pb::ChainTip GenesisTip();

// The record that committing (epoch, time, writes, batch) onto `tip` produces, or
// FAILED_PRECONDITION if the epoch is not tip.next_epoch or the time goes backwards.
absl::StatusOr<pb::EpochRecord> PrepareEpochRecord(const pb::ChainTip& tip, uint64_t epoch,
                                                   int64_t consensus_time_ms,
                                                   const state::WriteSet& writes,
                                                   const Digest& batch_digest);

// The tip after `record`.
pb::ChainTip TipAfter(const pb::EpochRecord& record);

// Checks that `record` (stored under `epoch`) correctly extends `head` (the previous
// head) at time >= `previous_time_ms`: DATA_LOSS naming the epoch otherwise.
absl::Status VerifyEpochRecord(uint64_t epoch, const pb::EpochRecord& record, const Digest& head,
                               int64_t previous_time_ms);

// A 32-byte field of a stored record as a Digest; DATA_LOSS if it is not 32 bytes.
absl::StatusOr<Digest> DigestField(std::string_view bytes, std::string_view what);

// StateDigestBuilder: feed (key, value) in strictly increasing key order, then Finish.
// Not thread-safe.
class StateDigestBuilder {
 public:
  StateDigestBuilder();
  void Add(std::string_view key, std::string_view value);
  Digest Finish();
  // What was added so far: entries, and the bytes of their keys and values.
  uint64_t entries() const { return count_; }
  uint64_t bytes() const { return bytes_; }

 private:
  crypto_hash_sha256_state state_;
  uint64_t count_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace belfry::store

#endif  // BELFRY_REPLICA_STORE_LOG_CHAIN_H_
