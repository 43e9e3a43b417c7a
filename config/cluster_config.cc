#include "config/cluster_config.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/check.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace belfry::config {
namespace {

// Collects the first parse error with its position; protobuf reports 0-based lines.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

absl::Status Invalid(absl::string_view source, absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", field, ": ", why));
}

absl::Status CheckHexKey(absl::string_view source, absl::string_view field, const std::string& hex) {
  absl::StatusOr<Bytes> key = FromHex(hex);
  if (!key.ok() || key->size() != 32) {
    return Invalid(source, field, "must be 64 hex digits (a 32-byte key)");
  }
  return absl::OkStatus();
}

absl::Status CheckThresholdKeys(absl::string_view source, absl::string_view field,
                                const pb::ThresholdPublicKeys& keys, uint32_t n, uint32_t f) {
  if (keys.threshold() != f + 1) {
    return Invalid(source, absl::StrCat(field, ".threshold"),
                   absl::StrCat("is ", keys.threshold(), ", must be f+1 = ", f + 1));
  }
  absl::Status s = CheckHexKey(source, absl::StrCat(field, ".public_key_hex"), keys.public_key_hex());
  if (!s.ok()) return s;
  if (static_cast<uint32_t>(keys.verification_keys_hex_size()) != n) {
    return Invalid(source, absl::StrCat(field, ".verification_keys_hex"),
                   absl::StrCat("has ", keys.verification_keys_hex_size(), " keys, need one per replica (",
                                n, ")"));
  }
  for (int i = 0; i < keys.verification_keys_hex_size(); ++i) {
    s = CheckHexKey(source, absl::StrCat(field, ".verification_keys_hex[", i, "]"),
                    keys.verification_keys_hex(i));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// A limit may be absent (default) but never absurd: each has a floor and a ceiling.
absl::Status CheckRange(absl::string_view source, absl::string_view field, uint64_t value,
                        uint64_t lo, uint64_t hi) {
  if (value != 0 && (value < lo || value > hi)) {
    return Invalid(source, absl::StrCat("limits.", field),
                   absl::StrCat(value, " is outside [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

absl::Status CheckLimits(absl::string_view source, const pb::Limits& l) {
  const std::pair<absl::string_view, std::array<uint64_t, 3>> checks[] = {
      {"document_bytes_max", {l.document_bytes_max(), 1, 256ull << 20}},
      {"request_bytes_max", {l.request_bytes_max(), 1024, 257ull << 20}},
      {"frame_bytes_max", {l.frame_bytes_max(), 4096, 1ull << 30}},
      {"batch_requests_max", {l.batch_requests_max(), 1, 100000}},
      {"epochs_in_flight_max", {l.epochs_in_flight_max(), 1, 64}},
      {"pending_requests_per_client_max", {l.pending_requests_per_client_max(), 1, 100000}},
      {"mempool_requests_max", {l.mempool_requests_max(), 1, 10000000}},
      {"client_connections_max", {l.client_connections_max(), 1, 100000}},
      {"grant_seconds_max", {l.grant_seconds_max(), 1, 100ull * 365 * 24 * 3600}},
      {"session_seconds", {l.session_seconds(), 1, 365ull * 24 * 3600}},
      {"session_window_requests", {l.session_window_requests(), 1, 65536}},
      {"login_clock_skew_seconds", {l.login_clock_skew_seconds(), 1, 24 * 3600}},
      {"checkpoint_interval_epochs", {l.checkpoint_interval_epochs(), 1, 1000000}},
      {"log_retained_epochs", {l.log_retained_epochs(), 16, 100000000}},
      {"client_connections_per_address_max", {l.client_connections_per_address_max(), 1, 100000}},
      {"client_handshake_timeout_ms", {l.client_handshake_timeout_ms(), 100, 600000}},
      {"client_request_bytes_in_flight_max",
       {l.client_request_bytes_in_flight_max(), 64ull << 10, 4ull << 30}},
      {"client_reply_bytes_queued_max", {l.client_reply_bytes_queued_max(), 64ull << 10, 4ull << 30}},
      {"client_queue_frames_max", {l.client_queue_frames_max(), 1, 10000000}},
      {"client_queue_bytes_max", {l.client_queue_bytes_max(), 1ull << 20, 64ull << 30}},
      {"peer_handshake_timeout_ms", {l.peer_handshake_timeout_ms(), 100, 600000}},
      {"peer_inbound_connections_max", {l.peer_inbound_connections_max(), 1, 100000}},
      {"peer_handshakes_per_address_max", {l.peer_handshakes_per_address_max(), 1, 100000}},
      {"peer_resend_buffer_bytes_max", {l.peer_resend_buffer_bytes_max(), 1ull << 20, 64ull << 30}},
      {"peer_resend_buffer_messages_max", {l.peer_resend_buffer_messages_max(), 1024, 100000000}},
      {"peer_inbox_bytes_max", {l.peer_inbox_bytes_max(), 1ull << 20, 64ull << 30}},
      {"peer_inbox_messages_max", {l.peer_inbox_messages_max(), 1024, 100000000}},
      {"waiting_requests_max", {l.waiting_requests_max(), 1, 10000000}},
      {"executed_reply_bytes_max", {l.executed_reply_bytes_max(), 1ull << 20, 64ull << 30}},
      {"aba_rounds_ahead_max", {l.aba_rounds_ahead_max(), 1, 64}},
      {"peer_messages_per_second_max", {l.peer_messages_per_second_max(), 100, 100000000}},
      {"proposal_requests_per_client_max", {l.proposal_requests_per_client_max(), 1, 1000000}},
      {"client_frame_bytes_reading_max", {l.client_frame_bytes_reading_max(), 1ull << 20, 64ull << 30}},
      {"client_requests_in_flight_max", {l.client_requests_in_flight_max(), 1, 1000000}},
      {"dkg_announce_grace_seconds", {l.dkg_announce_grace_seconds(), 1, 86400}},
  };
  for (const auto& [name, v] : checks) {
    absl::Status s = CheckRange(source, name, v[0], v[1], v[2]);
    if (!s.ok()) return s;
  }
  const Limits eff = EffectiveLimits(l);
  if (eff.request_bytes_max <= eff.document_bytes_max) {
    return Invalid(source, "limits.request_bytes_max", "must exceed document_bytes_max");
  }
  if (eff.frame_bytes_max <= eff.request_bytes_max) {
    return Invalid(source, "limits.frame_bytes_max", "must exceed request_bytes_max");
  }
  // A replica that restarts consensus reads the batches of the last epochs_in_flight_max
  // epochs from its state (duplicate removal must match its peers'), so they must be kept.
  if (eff.log_retained_epochs < eff.epochs_in_flight_max) {
    return Invalid(source, "limits.log_retained_epochs",
                   absl::StrCat(eff.log_retained_epochs, " is below epochs_in_flight_max (",
                                eff.epochs_in_flight_max, ")"));
  }
  // Each of these holds whole frames: below one frame, a legitimate maximal request or
  // reply could never pass and would look like an attack.
  const std::pair<absl::string_view, uint64_t> whole_frame[] = {
      {"client_reply_bytes_queued_max", eff.client_reply_bytes_queued_max},
      {"client_queue_bytes_max", eff.client_queue_bytes_max},
      {"peer_resend_buffer_bytes_max", eff.peer_resend_buffer_bytes_max},
      {"peer_inbox_bytes_max", eff.peer_inbox_bytes_max},
  };
  for (const auto& [name, value] : whole_frame) {
    if (value < eff.frame_bytes_max) {
      return Invalid(source, absl::StrCat("limits.", name),
                     absl::StrCat(value, " is below frame_bytes_max (", eff.frame_bytes_max, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

std::string Resolve(const std::string& dir, const std::string& file) {
  if (file.empty() || file[0] == '/') return file;
  return dir.empty() ? file : absl::StrCat(dir, "/", file);
}

}  // namespace

std::string ClusterConfig::ca_cert_path() const { return Resolve(dir, proto.ca_cert_file()); }
std::string ClusterConfig::service_key_path() const { return Resolve(dir, proto.service_key_file()); }
std::string ClusterConfig::service_cert_path() const { return Resolve(dir, proto.service_cert_file()); }

std::array<uint8_t, 32> ClusterConfig::reply_public_key(uint32_t id) const {
  BELFRY_CHECK(id < n());
  absl::StatusOr<Bytes> key = FromHex(proto.replicas(static_cast<int>(id)).reply_public_key_hex());
  BELFRY_CHECK(key.ok() && key->size() == 32);  // validated at load
  std::array<uint8_t, 32> out{};
  std::copy(key->begin(), key->end(), out.begin());
  return out;
}

Limits EffectiveLimits(const pb::Limits& p) {
  Limits l;
  auto pick = [](auto configured, auto& field) {
    if (configured != 0) field = static_cast<std::remove_reference_t<decltype(field)>>(configured);
  };
  pick(p.document_bytes_max(), l.document_bytes_max);
  pick(p.request_bytes_max(), l.request_bytes_max);
  pick(p.frame_bytes_max(), l.frame_bytes_max);
  pick(p.batch_requests_max(), l.batch_requests_max);
  pick(p.epochs_in_flight_max(), l.epochs_in_flight_max);
  pick(p.pending_requests_per_client_max(), l.pending_requests_per_client_max);
  pick(p.mempool_requests_max(), l.mempool_requests_max);
  pick(p.client_connections_max(), l.client_connections_max);
  pick(p.grant_seconds_max(), l.grant_seconds_max);
  pick(p.session_seconds(), l.session_seconds);
  pick(p.session_window_requests(), l.session_window_requests);
  pick(p.login_clock_skew_seconds(), l.login_clock_skew_seconds);
  pick(p.checkpoint_interval_epochs(), l.checkpoint_interval_epochs);
  pick(p.log_retained_epochs(), l.log_retained_epochs);
  pick(p.client_connections_per_address_max(), l.client_connections_per_address_max);
  pick(p.client_handshake_timeout_ms(), l.client_handshake_timeout_ms);
  pick(p.client_request_bytes_in_flight_max(), l.client_request_bytes_in_flight_max);
  pick(p.client_reply_bytes_queued_max(), l.client_reply_bytes_queued_max);
  pick(p.client_queue_frames_max(), l.client_queue_frames_max);
  pick(p.client_queue_bytes_max(), l.client_queue_bytes_max);
  pick(p.peer_handshake_timeout_ms(), l.peer_handshake_timeout_ms);
  pick(p.peer_inbound_connections_max(), l.peer_inbound_connections_max);
  pick(p.peer_handshakes_per_address_max(), l.peer_handshakes_per_address_max);
  pick(p.peer_resend_buffer_bytes_max(), l.peer_resend_buffer_bytes_max);
  pick(p.peer_resend_buffer_messages_max(), l.peer_resend_buffer_messages_max);
  pick(p.peer_inbox_bytes_max(), l.peer_inbox_bytes_max);
  pick(p.peer_inbox_messages_max(), l.peer_inbox_messages_max);
  pick(p.waiting_requests_max(), l.waiting_requests_max);
  pick(p.executed_reply_bytes_max(), l.executed_reply_bytes_max);
  pick(p.aba_rounds_ahead_max(), l.aba_rounds_ahead_max);
  pick(p.peer_messages_per_second_max(), l.peer_messages_per_second_max);
  pick(p.proposal_requests_per_client_max(), l.proposal_requests_per_client_max);
  pick(p.client_frame_bytes_reading_max(), l.client_frame_bytes_reading_max);
  pick(p.client_requests_in_flight_max(), l.client_requests_in_flight_max);
  pick(p.dkg_announce_grace_seconds(), l.dkg_announce_grace_seconds);
  return l;
}

absl::Status ValidateClusterConfig(const pb::ClusterConfig& p, absl::string_view source) {
  if (p.cluster_id().empty() || p.cluster_id().size() > 64) {
    return Invalid(source, "cluster_id", "must be 1..64 characters");
  }
  const uint32_t n = static_cast<uint32_t>(p.replicas_size());
  if (n < 4) return Invalid(source, "replicas", absl::StrCat("has ", n, "; Belfry needs at least 4"));
  if (n > 256) return Invalid(source, "replicas", absl::StrCat("has ", n, "; at most 256 are supported"));
  if (p.f() < 1 || n < 3 * p.f() + 1) {
    return Invalid(source, "f",
                   absl::StrCat("is ", p.f(), "; need 1 <= f and N >= 3f+1 (N = ", n, ")"));
  }
  std::set<std::pair<std::string, uint32_t>> endpoints;
  // Decoded reply key -> the replica listing it. A key listed twice would let one
  // replica's signature count as two towards a client's 2f+1.
  std::map<Bytes, uint32_t> reply_keys;
  for (uint32_t i = 0; i < n; ++i) {
    const pb::ReplicaEndpoint& r = p.replicas(static_cast<int>(i));
    const std::string field = absl::StrCat("replicas[", i, "]");
    if (r.id() != i) return Invalid(source, field + ".id", absl::StrCat("is ", r.id(), ", must be ", i));
    if (r.name() != absl::StrCat("replica-", i)) {
      return Invalid(source, field + ".name", absl::StrCat("must be \"replica-", i, "\""));
    }
    if (r.host().empty() || r.host().size() > 253) return Invalid(source, field + ".host", "must be set");
    for (const auto& [port_name, port] :
         {std::pair<const char*, uint32_t>{"peer_port", r.peer_port()}, {"client_port", r.client_port()}}) {
      if (port == 0 || port > 65535) {
        return Invalid(source, absl::StrCat(field, ".", port_name), "must be in 1..65535");
      }
      if (!endpoints.insert({r.host(), port}).second) {
        return Invalid(source, absl::StrCat(field, ".", port_name),
                       absl::StrCat(r.host(), ":", port, " is used twice"));
      }
    }
    if (r.metrics_port() > 65535) return Invalid(source, field + ".metrics_port", "must be in 0..65535");
    absl::Status s = CheckHexKey(source, field + ".reply_public_key_hex", r.reply_public_key_hex());
    if (!s.ok()) return s;
    const auto [seen, fresh] = reply_keys.emplace(*FromHex(r.reply_public_key_hex()), i);
    if (!fresh) {
      return Invalid(source, field + ".reply_public_key_hex",
                     absl::StrCat("is the same key as replicas[", seen->second,
                                  "]'s; every replica needs its own reply key"));
    }
  }
  if (p.ca_cert_file().empty()) return Invalid(source, "ca_cert_file", "must be set");
  absl::Status s = CheckThresholdKeys(source, "coin_keys", p.coin_keys(), n, p.f());
  if (!s.ok()) return s;
  if (p.distributed_encryption_key()) {
    // The replicas make this key themselves; a dealt one beside it would be a second key
    // that some party once knew.
    if (p.has_encryption_keys()) {
      return Invalid(source, "encryption_keys",
                     "must be absent when distributed_encryption_key is true (the replicas "
                     "generate the key)");
    }
  } else {
    s = CheckThresholdKeys(source, "encryption_keys", p.encryption_keys(), n, p.f());
    if (!s.ok()) return s;
  }
  s = CheckLimits(source, p.limits());
  if (!s.ok()) return s;
  // Every other replica must be able to hold a link to this one at the same time.
  const Limits eff = EffectiveLimits(p.limits());
  if (eff.peer_inbound_connections_max < n - 1) {
    return Invalid(source, "limits.peer_inbound_connections_max",
                   absl::StrCat(eff.peer_inbound_connections_max, " is below N-1 = ", n - 1,
                                " (one link per peer)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ClusterConfig> ParseClusterConfig(absl::string_view text, absl::string_view source,
                                                 std::string dir) {
  ClusterConfig out;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  // Unknown fields are refused (the parser's default): a typo must not silently become a
  // default value.
  if (!parser.ParseFromString(std::string(text), &out.proto)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", errors.error()));
  }
  absl::Status s = ValidateClusterConfig(out.proto, source);
  if (!s.ok()) return s;
  out.limits = EffectiveLimits(out.proto.limits());
  out.dir = std::move(dir);
  return out;
}

absl::StatusOr<ClusterConfig> LoadClusterConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1u << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": larger than 1 MiB"));
  }
  const size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return ParseClusterConfig(text.str(), path, std::move(dir));
}

std::string FormatClusterConfig(const pb::ClusterConfig& proto) {
  std::string out;
  google::protobuf::TextFormat::Printer printer;
  BELFRY_CHECK(printer.PrintToString(proto, &out));
  return out;
}

}  // namespace belfry::config
