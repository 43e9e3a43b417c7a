#include "replica/state/config.h"

#include "absl/strings/str_cat.h"

namespace belfry::state {
namespace {

absl::Status CheckRange(const char* name, uint64_t value, uint64_t min, uint64_t max) {
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is ", value, "; it must lie in [", min, ", ", max, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Config::Validate() const {
  if (cluster_id.empty() || cluster_id.size() > 255) {
    return absl::InvalidArgumentError("cluster_id must be 1..255 bytes");
  }
  // Upper bounds keep every request under protobuf's 2 GiB and every expiry
  // (consensus time + seconds * 1000) far from int64 overflow.
  absl::Status s = CheckRange("document_bytes_max", document_bytes_max, 1, 1ULL << 30);
  if (s.ok()) s = CheckRange("key_ciphertext_bytes_max", key_ciphertext_bytes_max, 1, 1 << 16);
  if (s.ok()) s = CheckRange("certificate_bytes_max", certificate_bytes_max, 1, 1 << 20);
  if (s.ok()) s = CheckRange("grant_seconds_max", grant_seconds_max, 1, 100ULL * 366 * 86400);
  if (s.ok()) s = CheckRange("session_seconds", session_seconds, 1, 10ULL * 366 * 86400);
  if (s.ok()) s = CheckRange("session_window_requests", session_window_requests, 1, 1 << 16);
  if (s.ok()) s = CheckRange("document_grants_max", document_grants_max, 1, 1 << 16);
  if (s.ok()) {
    s = CheckRange("login_clock_skew_ms_max", static_cast<uint64_t>(login_clock_skew_ms_max), 1,
                   86400ULL * 1000);
  }
  if (s.ok() && !replica_keys.empty()) {
    if (replica_keys.size() != replicas || replicas < 3 * f + 1 || f < 1) {
      s = absl::InvalidArgumentError(absl::StrCat("replicas (", replicas, "), f (", f,
                                                  ") and the replica keys (",
                                                  replica_keys.size(), ") disagree"));
    }
  }
  if (s.ok() && distributed_encryption_key && replica_keys.empty()) {
    s = absl::InvalidArgumentError("a distributed encryption key needs the replicas' keys");
  }
  if (s.ok()) {
    s = CheckRange("dkg_announce_grace_ms", static_cast<uint64_t>(dkg_announce_grace_ms), 1,
                   86400ULL * 1000);
  }
  return s;
}

}  // namespace belfry::state
