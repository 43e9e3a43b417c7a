#include "config/genesis.h"

#include <sodium.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/bytes.h"

namespace belfry::config {
namespace {

std::string KeySet(const pb::ThresholdPublicKeys& keys) {
  std::string out = absl::StrCat(keys.threshold(), ":", keys.public_key_hex());
  for (const std::string& v : keys.verification_keys_hex()) absl::StrAppend(&out, ",", v);
  return out;
}

}  // namespace

std::string Genesis::Describe() const {
  std::string out;
  for (const auto& [name, value] : fields) absl::StrAppend(&out, name, "=", value, "\n");
  return out;
}

Genesis ComputeGenesis(const ClusterConfig& config, std::string_view ca_fingerprint,
                       std::string_view service_key_digest) {
  Genesis g;
  auto add = [&g](std::string name, std::string value) { g.fields.emplace_back(std::move(name), std::move(value)); };
  add("cluster_id", config.cluster_id());
  add("n", absl::StrCat(config.n()));
  add("f", absl::StrCat(config.f()));
  for (const pb::ReplicaEndpoint& r : config.proto.replicas()) {
    add(absl::StrCat("replica.", r.id(), ".name"), r.name());
    add(absl::StrCat("replica.", r.id(), ".reply_public_key"), r.reply_public_key_hex());
  }
  add("coin_keys", KeySet(config.proto.coin_keys()));
  if (config.proto.distributed_encryption_key()) {
    add("encryption_keys", "distributed");
    add("limits.dkg_announce_grace_seconds", absl::StrCat(config.limits.dkg_announce_grace_seconds));
  } else {
    add("encryption_keys", KeySet(config.proto.encryption_keys()));
  }
  add("ca", std::string(ca_fingerprint));
  add("service_key", std::string(service_key_digest));
  // The limits that change what a correct replica executes or accepts from consensus.
  const Limits& l = config.limits;
  add("limits.document_bytes_max", absl::StrCat(l.document_bytes_max));
  add("limits.request_bytes_max", absl::StrCat(l.request_bytes_max));
  add("limits.frame_bytes_max", absl::StrCat(l.frame_bytes_max));  // bounds a proposal
  add("limits.batch_requests_max", absl::StrCat(l.batch_requests_max));
  add("limits.epochs_in_flight_max", absl::StrCat(l.epochs_in_flight_max));
  add("limits.grant_seconds_max", absl::StrCat(l.grant_seconds_max));
  add("limits.session_seconds", absl::StrCat(l.session_seconds));
  add("limits.session_window_requests", absl::StrCat(l.session_window_requests));
  add("limits.login_clock_skew_seconds", absl::StrCat(l.login_clock_skew_seconds));
  add("limits.checkpoint_interval_epochs", absl::StrCat(l.checkpoint_interval_epochs));
  add("limits.log_retained_epochs", absl::StrCat(l.log_retained_epochs));  // batches kept in the state
  add("limits.aba_rounds_ahead_max", absl::StrCat(l.aba_rounds_ahead_max));

  ByteWriter w;
  w.LengthPrefixed(std::string_view("belfry/genesis/v1"));
  for (const auto& [name, value] : g.fields) w.LengthPrefixed(std::string_view(name)).LengthPrefixed(std::string_view(value));
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, w.bytes().data(), w.bytes().size());
  g.digest.assign(reinterpret_cast<const char*>(digest), sizeof(digest));
  return g;
}

absl::Status CheckGenesis(std::string_view stored, const Genesis& now) {
  std::map<std::string, std::string> before;
  for (absl::string_view line : absl::StrSplit(absl::string_view(stored.data(), stored.size()), '\n', absl::SkipEmpty())) {
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    before.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  std::string differences;
  std::map<std::string, std::string> after(now.fields.begin(), now.fields.end());
  for (const auto& [name, value] : after) {
    auto it = before.find(name);
    const std::string old_value = it == before.end() ? "(absent)" : it->second;
    if (old_value != value) absl::StrAppend(&differences, differences.empty() ? "" : "; ", name, ": ", old_value, " -> ", value);
  }
  for (const auto& [name, value] : before) {
    if (after.count(name) == 0) absl::StrAppend(&differences, differences.empty() ? "" : "; ", name, ": ", value, " -> (absent)");
  }
  if (differences.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "this replica's store was created under another genesis configuration; executing with these settings "
      "would diverge from the cluster (restore the original cluster.conf and ca.crt): ",
      differences));
}

}  // namespace belfry::config
