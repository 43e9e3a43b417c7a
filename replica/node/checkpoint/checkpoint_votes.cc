#include "replica/node/checkpoint/checkpoint_votes.h"

#include <sodium.h>

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "wire/statements.h"

namespace belfry::replica {
namespace {

constexpr size_t kDigestBytes = 32;
constexpr size_t kSignatureBytes = crypto_sign_BYTES;

ByteSpan SpanOf(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

uint32_t Quorum(const config::ClusterConfig& config) { return 2 * config.f() + 1; }

// A vote and a certificate carry the same statement fields under the same names.
template <typename Signed>
Bytes StatementOf(const config::ClusterConfig& config, const Signed& s) {
  return wire::CheckpointStatement(config.cluster_id(), s.epoch(), SpanOf(s.state_digest()), SpanOf(s.log_head()),
                                   s.consensus_time_ms(), s.state_entries(), s.state_bytes());
}

}  // namespace

Bytes CheckpointStatementOf(const config::ClusterConfig& config, const pb::CheckpointVote& vote) {
  return StatementOf(config, vote);
}

Bytes CheckpointStatementOf(const config::ClusterConfig& config, const pb::CheckpointCertificate& certificate) {
  return StatementOf(config, certificate);
}

bool VerifyReplicaSignature(const config::ClusterConfig& config, uint32_t replica, ByteSpan statement,
                            const std::string& signature) {
  if (replica >= config.n() || signature.size() != kSignatureBytes) return false;
  const std::array<uint8_t, 32> key = config.reply_public_key(replica);
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     statement.data(), statement.size(), key.data()) == 0;
}

absl::Status VerifyCheckpointCertificate(const config::ClusterConfig& config,
                                         const pb::CheckpointCertificate& certificate) {
  if (certificate.state_digest().size() != kDigestBytes || certificate.log_head().size() != kDigestBytes) {
    return absl::InvalidArgumentError("checkpoint certificate: digest or head is not 32 bytes");
  }
  if (certificate.signatures_size() > static_cast<int>(config.n())) {
    return absl::InvalidArgumentError("checkpoint certificate: more signatures than replicas");
  }
  const Bytes statement = CheckpointStatementOf(config, certificate);
  int64_t previous = -1;
  uint32_t valid = 0;
  for (const pb::CheckpointSignature& sig : certificate.signatures()) {
    if (static_cast<int64_t>(sig.replica()) <= previous) {
      return absl::InvalidArgumentError("checkpoint certificate: signers not distinct and ascending");
    }
    previous = sig.replica();
    if (VerifyReplicaSignature(config, sig.replica(), statement, sig.signature())) ++valid;
  }
  if (valid < Quorum(config)) {
    return absl::PermissionDeniedError(
        absl::StrCat("checkpoint certificate: ", valid, " valid signatures, ", Quorum(config), " needed"));
  }
  return absl::OkStatus();
}

CheckpointVotes::CheckpointVotes(const config::ClusterConfig& config, uint64_t window_epochs)
    : config_(config), window_epochs_(window_epochs) {}

absl::StatusOr<std::optional<pb::CheckpointCertificate>> CheckpointVotes::Add(
    uint32_t from, const pb::CheckpointVote& vote, std::optional<uint64_t> stable_epoch) {
  if (from >= config_.n()) return absl::InvalidArgumentError("checkpoint vote from an unknown replica");
  if (stable_epoch.has_value() &&
      (vote.epoch() <= *stable_epoch || vote.epoch() - *stable_epoch > window_epochs_)) {
    return absl::OutOfRangeError("checkpoint vote outside the window");
  }
  if (vote.state_digest().size() != kDigestBytes || vote.log_head().size() != kDigestBytes) {
    return absl::InvalidArgumentError("checkpoint vote: digest or head is not 32 bytes");
  }
  const Bytes statement_bytes = CheckpointStatementOf(config_, vote);
  if (!VerifyReplicaSignature(config_, from, statement_bytes, vote.signature())) {
    return absl::InvalidArgumentError("checkpoint vote: bad signature");
  }
  std::string statement(statement_bytes.begin(), statement_bytes.end());
  std::map<uint64_t, Vote>& mine = votes_[from];
  auto [it, inserted] = mine.emplace(vote.epoch(), Vote{statement, vote.signature()});
  if (!inserted) {
    if (it->second.statement != statement) {
      return absl::InvalidArgumentError("checkpoint vote: a second, different vote for one epoch");
    }
    return std::optional<pb::CheckpointCertificate>();
  }
  // Each replica's votes are bounded on their own, oldest dropped first, so a faulty one
  // can waste only its own share (before any checkpoint is stable, when there is no
  // window yet).
  while (mine.size() > window_epochs_) mine.erase(mine.begin());

  std::vector<uint32_t> matching;
  for (const auto& [replica, by_epoch] : votes_) {
    auto v = by_epoch.find(vote.epoch());
    if (v != by_epoch.end() && v->second.statement == statement) matching.push_back(replica);
  }
  // Exactly at the quorum: later votes for a stable epoch add nothing.
  if (matching.size() != Quorum(config_)) return std::optional<pb::CheckpointCertificate>();
  pb::CheckpointCertificate cert;
  cert.set_epoch(vote.epoch());
  cert.set_state_digest(vote.state_digest());
  cert.set_log_head(vote.log_head());
  cert.set_consensus_time_ms(vote.consensus_time_ms());
  cert.set_state_entries(vote.state_entries());
  cert.set_state_bytes(vote.state_bytes());
  for (uint32_t replica : matching) {  // ascending: std::map order
    pb::CheckpointSignature* sig = cert.add_signatures();
    sig->set_replica(replica);
    sig->set_signature(votes_.at(replica).at(vote.epoch()).signature);
  }
  return std::optional<pb::CheckpointCertificate>(std::move(cert));
}

void CheckpointVotes::ForgetThrough(uint64_t epoch) {
  for (auto& [replica, by_epoch] : votes_) by_epoch.erase(by_epoch.begin(), by_epoch.upper_bound(epoch));
}

size_t CheckpointVotes::votes_held() const {
  size_t n = 0;
  for (const auto& [replica, by_epoch] : votes_) n += by_epoch.size();
  return n;
}

}  // namespace belfry::replica
