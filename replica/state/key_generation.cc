#include "replica/state/key_generation.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "proto/dkg.pb.h"
#include "threshold/errors.h"
#include <sodium.h>

namespace belfry::state {
namespace {

constexpr std::string_view kDkgPrefix = "k/";
constexpr std::string_view kContextDomain = "belfry/dkg-context/v1";
constexpr std::string_view kNoKeyDomain = "belfry/dkg-no-key/v1";

pb::Result Refused(std::string message) {
  pb::Result r;
  r.set_status(pb::STATUS_DKG_REFUSED);
  r.set_message(std::move(message));
  return r;
}

// A fixed text per refusal kind: results must be byte-identical at every replica, so a
// library's own message (which a later build may word differently) is never used.
std::string Why(const absl::Status& status) {
  const std::optional<threshold::ThresholdError> e = threshold::ThresholdErrorOf(status);
  if (!e.has_value()) return "refused";
  switch (*e) {
    case threshold::ThresholdError::kDuplicateMessage: return "a second message for the same slot";
    case threshold::ThresholdError::kUnknownDealing: return "an ack of a part not in the log";
    case threshold::ThresholdError::kTooLarge: return "too large";
    case threshold::ThresholdError::kIndexOutOfRange: return "an index out of range";
    default: return "malformed or inconsistent";
  }
}

// A point nobody knows the logarithm of (hash to the group), standing in for the key of a
// replica that never announced one: what is sealed to it opens for nobody.
threshold::Point NoKeyPoint(std::string_view context, uint32_t replica) {
  ByteWriter w;
  w.LengthPrefixed(kNoKeyDomain).LengthPrefixed(context).U32(replica);
  std::array<uint8_t, threshold::kUniformBytes> h{};
  crypto_hash_sha512(h.data(), w.bytes().data(), w.bytes().size());
  return threshold::Point::FromUniformBytes(h);
}

void WriteRun(StateView& view, uint64_t run, const pb::DkgRunRecord& record) {
  view.Put(DkgRunKey(run), record.SerializeAsString());
}

// Starts the run when every replica announced, or 2f+1 did and the grace passed.
void MaybeStart(const Config& config, int64_t now_ms, pb::DkgRunRecord& record, bool* started) {
  if (record.started()) return;
  const uint32_t quorum = 2 * config.f + 1;
  const bool all = record.keys_announced() == config.replicas;
  const bool grace_over = record.keys_announced() >= quorum &&
                          now_ms >= record.quorum_announced_ms() + config.dkg_announce_grace_ms;
  if (all || grace_over) {
    record.set_started(true);
    *started = true;
  }
}

}  // namespace

std::string DkgRunKey(uint64_t run) {
  ByteWriter w;
  w.Raw(kDkgPrefix).U64(run);
  return std::string(AsStringView(w.bytes()));
}

std::string DkgLogKey(uint64_t run, uint32_t sequence) {
  ByteWriter w;
  w.Raw(kDkgPrefix).U64(run).Raw(std::string_view("/")).U32(sequence);
  return std::string(AsStringView(w.bytes()));
}

std::string DkgContext(std::string_view cluster_id, uint64_t run) {
  ByteWriter w;
  w.LengthPrefixed(kContextDomain).LengthPrefixed(cluster_id).U64(run);
  return std::string(AsStringView(w.bytes()));
}

absl::StatusOr<std::optional<pb::DkgRunRecord>> ReadDkgRun(const StateReader& state, uint64_t run) {
  BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> bytes, state.Get(DkgRunKey(run)));
  if (!bytes.has_value()) return std::optional<pb::DkgRunRecord>();
  pb::DkgRunRecord record;
  if (!record.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat("stored key generation run ", run, " does not parse"));
  }
  return std::optional<pb::DkgRunRecord>(std::move(record));
}

absl::StatusOr<threshold::dkg::Config> DkgConfigOf(const Config& config, uint64_t run,
                                                   const pb::DkgRunRecord& record) {
  if (!record.started()) {
    return absl::FailedPreconditionError(absl::StrCat("key generation run ", run, " has not started"));
  }
  threshold::dkg::Config out;
  out.mode = threshold::dkg::Mode::kFresh;
  out.n = config.replicas;
  out.f = config.f;
  out.n_dealers = config.replicas;
  out.f_dealers = config.f;
  out.context = DkgContext(config.cluster_id, run);
  for (uint32_t i = 0; i < config.replicas; ++i) {
    const std::string& bytes = i < static_cast<uint32_t>(record.encryption_keys_size())
                                   ? record.encryption_keys(static_cast<int>(i))
                                   : std::string();
    if (bytes.empty()) {
      out.encryption_keys.push_back(NoKeyPoint(out.context, i));
      continue;
    }
    absl::StatusOr<threshold::Point> key = threshold::Point::FromBytes(AsBytes(bytes));
    if (!key.ok()) return absl::DataLossError("a stored key generation key does not parse");
    out.encryption_keys.push_back(*key);
  }
  return out;
}

absl::StatusOr<threshold::dkg::KeyGeneration> ReplayDkgRun(const Config& config,
                                                           const StateReader& state,
                                                           uint64_t run,
                                                           const pb::DkgRunRecord& record) {
  BELFRY_ASSIGN_OR_RETURN(threshold::dkg::Config dkg_config, DkgConfigOf(config, run, record));
  BELFRY_ASSIGN_OR_RETURN(threshold::dkg::KeyGeneration generation,
                          threshold::dkg::KeyGeneration::Create(std::move(dkg_config)));
  for (uint32_t seq = 0; seq < record.messages(); ++seq) {
    BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> bytes, state.Get(DkgLogKey(run, seq)));
    pb::DkgLogEntry entry;
    if (!bytes.has_value() || !entry.ParseFromString(*bytes)) {
      return absl::DataLossError(absl::StrCat("key generation message ", seq, " of run ", run,
                                              " is missing or does not parse"));
    }
    absl::Status s;
    if (entry.is_ack()) {
      absl::StatusOr<pb::DkgAck> ack = threshold::dkg::ParseAck(AsBytes(entry.message()));
      s = ack.ok() ? generation.AddAck(entry.sender() + 1, *ack) : ack.status();
    } else {
      absl::StatusOr<pb::DkgPart> part = threshold::dkg::ParsePart(AsBytes(entry.message()));
      s = part.ok() ? generation.AddPart(entry.sender() + 1, *part) : part.status();
    }
    if (!s.ok()) {
      return absl::DataLossError(absl::StrCat("key generation message ", seq, " of run ", run,
                                              " was accepted once and is refused now"));
    }
  }
  return generation;
}

absl::StatusOr<std::optional<threshold::PublicKeySet>> GeneratedEncryptionKeys(
    const StateReader& state) {
  BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DkgRunRecord> record,
                          ReadDkgRun(state, kEncryptionKeyRun));
  if (!record.has_value() || !record->finished()) return std::optional<threshold::PublicKeySet>();
  absl::StatusOr<threshold::PublicKeySet> keys =
      threshold::PublicKeySet::Parse(AsBytes(record->encryption_keys_result()));
  if (!keys.ok()) return absl::DataLossError("the generated encryption key set does not parse");
  return std::optional<threshold::PublicKeySet>(*std::move(keys));
}

absl::Status ExecuteReplicaMessage(const Config& config, StateView& view, uint64_t epoch,
                                   int64_t now_ms, const pb::ReplicaMessage& message,
                                   pb::Result* result) {
  if (!config.distributed_encryption_key) {
    *result = Refused("key generation: this cluster's encryption key was dealt");
    return absl::OkStatus();
  }
  uint64_t run = 0;
  switch (message.kind_case()) {
    case pb::ReplicaMessage::kDkgKey: run = message.dkg_key().run(); break;
    case pb::ReplicaMessage::kDkgPart: run = message.dkg_part().run(); break;
    case pb::ReplicaMessage::kDkgAck: run = message.dkg_ack().run(); break;
    case pb::ReplicaMessage::kDkgPoke: run = message.dkg_poke().run(); break;
    case pb::ReplicaMessage::KIND_NOT_SET: break;
  }
  if (run != kEncryptionKeyRun) {
    *result = Refused("key generation: no such run");
    return absl::OkStatus();
  }
  BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DkgRunRecord> stored, ReadDkgRun(view, run));
  pb::DkgRunRecord record = stored.value_or(pb::DkgRunRecord());
  if (record.finished()) {
    *result = Refused("key generation: the run has finished");
    return absl::OkStatus();
  }
  while (record.encryption_keys_size() < static_cast<int>(config.replicas)) {
    record.add_encryption_keys();
  }
  const uint32_t sender = message.replica();
  pb::KeyGenerationResult out;
  out.set_run(run);
  bool started = false;

  switch (message.kind_case()) {
    case pb::ReplicaMessage::kDkgKey: {
      if (record.started()) {
        *result = Refused("key generation: the recipients are fixed already");
        return absl::OkStatus();
      }
      if (!record.encryption_keys(static_cast<int>(sender)).empty()) {
        *result = Refused("key generation: this replica announced its key already");
        return absl::OkStatus();
      }
      if (!threshold::Point::FromBytes(AsBytes(message.dkg_key().public_key())).ok()) {
        *result = Refused("key generation: the key is not a valid group element");
        return absl::OkStatus();
      }
      record.set_encryption_keys(static_cast<int>(sender), message.dkg_key().public_key());
      record.set_keys_announced(record.keys_announced() + 1);
      if (record.keys_announced() == 2 * config.f + 1) record.set_quorum_announced_ms(now_ms);
      MaybeStart(config, now_ms, record, &started);
      break;
    }
    case pb::ReplicaMessage::kDkgPoke:
      MaybeStart(config, now_ms, record, &started);
      break;
    case pb::ReplicaMessage::kDkgPart:
    case pb::ReplicaMessage::kDkgAck: {
      if (!record.started()) {
        *result = Refused("key generation: the run has not started");
        return absl::OkStatus();
      }
      const bool is_ack = message.has_dkg_ack();
      const std::string& bytes = is_ack ? message.dkg_ack().ack() : message.dkg_part().part();
      if (bytes.size() > kDkgMessageBytesMax) {
        *result = Refused("key generation: message too large");
        return absl::OkStatus();
      }
      BELFRY_ASSIGN_OR_RETURN(threshold::dkg::KeyGeneration generation,
                              ReplayDkgRun(config, view, run, record));
      absl::Status s;
      pb::DkgLogEntry entry;
      entry.set_sender(sender);
      entry.set_is_ack(is_ack);
      entry.set_message(bytes);
      if (is_ack) {
        absl::StatusOr<pb::DkgAck> parsed = threshold::dkg::ParseAck(AsBytes(bytes));
        if (!parsed.ok() || parsed->dealer() != message.dkg_ack().dealer() + 1) {
          *result = Refused("key generation: the ack does not parse or names another dealer");
          return absl::OkStatus();
        }
        entry.set_dealer(message.dkg_ack().dealer());
        s = generation.AddAck(sender + 1, *parsed);
      } else {
        absl::StatusOr<pb::DkgPart> parsed = threshold::dkg::ParsePart(AsBytes(bytes));
        if (!parsed.ok()) {
          *result = Refused("key generation: the part does not parse");
          return absl::OkStatus();
        }
        s = generation.AddPart(sender + 1, *parsed);
      }
      if (!s.ok()) {
        *result = Refused(absl::StrCat("key generation: ", is_ack ? "ack" : "part", " refused: ",
                                       Why(s)));
        return absl::OkStatus();
      }
      view.Put(DkgLogKey(run, record.messages()), entry.SerializeAsString());
      record.set_messages(record.messages() + 1);
      if (generation.done()) {
        BELFRY_ASSIGN_OR_RETURN(threshold::PublicKeySet keys, generation.Result());
        record.set_finished(true);
        record.set_encryption_keys_result(keys.Serialize());
        for (uint32_t dealer : generation.chosen_dealers()) record.add_chosen_dealers(dealer - 1);
        record.set_finished_epoch(epoch);
        out.set_finished(true);
      }
      break;
    }
    case pb::ReplicaMessage::KIND_NOT_SET:
      *result = Refused("key generation: an empty message");
      return absl::OkStatus();
  }
  out.set_started(started);
  WriteRun(view, run, record);
  result->set_status(pb::STATUS_OK);
  result->set_message(out.finished() ? "key generation finished"
                                     : (started ? "key generation started" : "accepted"));
  *result->mutable_key_generation() = out;
  return absl::OkStatus();
}

}  // namespace belfry::state
