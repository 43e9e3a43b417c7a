#include "replica/node/keys/key_generation_driver.h"

#include <sys/stat.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "proto/dkg.pb.h"
#include "proto/storage.pb.h"
#include "replica/state/key_generation.h"
#include "wire/request_format.h"
#include "threshold/dkg/key_generation.h"
#include "threshold/key_file.h"

namespace belfry::replica {
namespace {

std::string IdOf(std::string_view bytes) {
  const wire::Digest d = wire::RequestId(bytes);
  return std::string(d.begin(), d.end());
}

}  // namespace

absl::StatusOr<std::unique_ptr<KeyGenerationDriver>> KeyGenerationDriver::Create(
    const state::Config& config, uint32_t self, std::string dir, const ReplySigner& signer,
    Rng& rng, CoreLogger* logger, Options options) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir, ": errno ", errno));
  }
  const std::string path = dir + "/dkg.key";
  absl::StatusOr<threshold::dkg::EncryptionKeyPair> key = threshold::dkg::ReadEncryptionKeyFile(path);
  if (!key.ok() && key.status().code() == absl::StatusCode::kNotFound) {
    // First start: the key is made here and nowhere else, so no dealer ever saw it.
    threshold::dkg::EncryptionKeyPair fresh = threshold::dkg::EncryptionKeyPair::Generate(rng);
    BELFRY_RETURN_IF_ERROR(
        threshold::dkg::WriteEncryptionKeyFile(path, fresh, threshold::FileOverwrite::kRefuse));
    key = std::move(fresh);
  }
  if (!key.ok()) return key.status();
  return std::unique_ptr<KeyGenerationDriver>(new KeyGenerationDriver(
      config, self, std::move(dir), signer, rng, logger, options, *std::move(key)));
}

std::string KeyGenerationDriver::Sign(pb::ReplicaMessage message) const {
  message.set_replica(self_);
  if (options_.tamper && !options_.tamper(message)) return std::string();
  pb::RequestBody body;
  body.set_cluster_id(config_.cluster_id);
  *body.mutable_replica_message() = std::move(message);
  pb::SignedRequest signed_request;
  signed_request.set_body(body.SerializeAsString());
  signed_request.set_signature(
      signer_.Sign(wire::RequestSigningMessage(signed_request.body())));
  return signed_request.SerializeAsString();
}

void KeyGenerationDriver::Offer(const std::string& slot, const std::function<std::string()>& make,
                                int64_t now_ms,
                                const std::function<bool(const std::string&)>& pending,
                                std::vector<Submission>* out) {
  auto it = sent_.find(slot);
  if (it != sent_.end()) {
    if (pending(it->second.submission.id) ||
        now_ms - it->second.at_ms < options_.resend_interval_ms) {
      return;
    }
    // Not in the state, not pending: dropped somewhere (a full mempool, a restart of the
    // epoch). The same bytes go again; the state counts the first copy only.
    it->second.at_ms = now_ms;
    out->push_back(it->second.submission);
    return;
  }
  std::string bytes = make();
  if (bytes.empty()) return;
  Submission submission{IdOf(bytes), std::move(bytes)};
  sent_[slot] = Sent{submission, now_ms};
  out->push_back(std::move(submission));
}

absl::Status KeyGenerationDriver::InstallShare(const state::StateReader& state) {
  BELFRY_ASSIGN_OR_RETURN(std::optional<threshold::PublicKeySet> keys,
                          state::GeneratedEncryptionKeys(state));
  if (!keys.has_value()) return absl::OkStatus();
  done_ = true;
  const std::string path = dir_ + "/tdh2.share";
  absl::StatusOr<threshold::KeyShare> share = threshold::ReadKeyShareFile(path);
  if (share.ok()) {
    BELFRY_RETURN_IF_ERROR(threshold::CheckKeyShareMatches(*share, *keys));
  } else if (share.status().code() == absl::StatusCode::kNotFound) {
    BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DkgRunRecord> record,
                            state::ReadDkgRun(state, state::kEncryptionKeyRun));
    BELFRY_ASSIGN_OR_RETURN(
        threshold::dkg::KeyGeneration generation,
        state::ReplayDkgRun(config_, state, state::kEncryptionKeyRun, *record));
    share = generation.MyShare(self_ + 1, key_, nullptr);
    if (!share.ok()) {
      // Possible only for a replica whose key was not announced in time: it is one of
      // the f this key does without.
      CoreLogLine(logger_, LogLevel::kWarn, "replica", "key_generation_no_share")
          .Add("reason", share.status().message());
      return absl::OkStatus();
    }
    BELFRY_RETURN_IF_ERROR(threshold::CheckKeyShareMatches(*share, *keys));
    BELFRY_RETURN_IF_ERROR(
        threshold::WriteKeyShareFile(path, *share, threshold::FileOverwrite::kRefuse));
  } else {
    return share.status();
  }
  BELFRY_ASSIGN_OR_RETURN(threshold::DecryptionShareProvider provider,
                          threshold::DecryptionShareProvider::Create(*std::move(share), *keys));
  decryption_ = std::make_unique<threshold::DecryptionShareProvider>(std::move(provider));
  CoreLogLine(logger_, LogLevel::kInfo, "replica", "key_generation_share_installed")
      .Add("share_index", self_ + 1);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KeyGenerationDriver::Submission>> KeyGenerationDriver::Reconcile(
    const state::StateReader& state, int64_t now_ms,
    const std::function<bool(const std::string&)>& pending) {
  std::vector<Submission> out;
  if (done_) return out;
  BELFRY_ASSIGN_OR_RETURN(std::optional<pb::DkgRunRecord> stored,
                          state::ReadDkgRun(state, state::kEncryptionKeyRun));
  const pb::DkgRunRecord record = stored.value_or(pb::DkgRunRecord());
  if (record.finished()) {
    BELFRY_RETURN_IF_ERROR(InstallShare(state));
    sent_.clear();
    return out;
  }
  const bool announced = static_cast<uint32_t>(record.encryption_keys_size()) > self_ &&
                         !record.encryption_keys(static_cast<int>(self_)).empty();
  if (!record.started()) {
    if (!announced) {
      Offer("key", [this] {
        pb::ReplicaMessage m;
        m.mutable_dkg_key()->set_run(state::kEncryptionKeyRun);
        const auto& pk = key_.public_key().bytes();
        m.mutable_dkg_key()->set_public_key(pk.data(), pk.size());
        return Sign(std::move(m));
      }, now_ms, pending, &out);
    }
    if (record.keys_announced() >= 2 * config_.f + 1 &&
        now_ms >= record.quorum_announced_ms() + config_.dkg_announce_grace_ms) {
      // Fresh bytes each time (sent_ms): a poke is a nudge, not a message to deliver once.
      auto it = sent_.find("poke");
      if (it == sent_.end() || now_ms - it->second.at_ms >= options_.resend_interval_ms) {
        sent_.erase("poke");
        Offer("poke", [this, now_ms] {
          pb::ReplicaMessage m;
          m.mutable_dkg_poke()->set_run(state::kEncryptionKeyRun);
          m.mutable_dkg_poke()->set_sent_ms(now_ms);
          return Sign(std::move(m));
        }, now_ms, pending, &out);
      }
    }
    return out;
  }

  // Which messages of ours the state has.
  bool dealt = false;
  std::set<uint32_t> parts;
  std::set<uint32_t> acked;
  for (uint32_t seq = 0; seq < record.messages(); ++seq) {
    BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                            state.Get(state::DkgLogKey(state::kEncryptionKeyRun, seq)));
    pb::DkgLogEntry entry;
    if (!bytes.has_value() || !entry.ParseFromString(*bytes)) {
      return absl::DataLossError("a stored key generation message does not parse");
    }
    if (!entry.is_ack()) parts.insert(entry.sender());
    if (entry.sender() != self_) continue;
    if (entry.is_ack()) {
      acked.insert(entry.dealer());
    } else {
      dealt = true;
    }
  }
  BELFRY_ASSIGN_OR_RETURN(threshold::dkg::Config dkg_config,
                          state::DkgConfigOf(config_, state::kEncryptionKeyRun, record));
  if (!dealt) {
    absl::Status made = absl::OkStatus();
    Offer("part", [&] {
      absl::StatusOr<pb::DkgPart> part = threshold::dkg::MakePart(dkg_config, self_ + 1, nullptr, rng_);
      if (!part.ok()) {
        made = part.status();
        return std::string();
      }
      pb::ReplicaMessage m;
      m.mutable_dkg_part()->set_run(state::kEncryptionKeyRun);
      m.mutable_dkg_part()->set_part(threshold::dkg::SerializePart(*part));
      return Sign(std::move(m));
    }, now_ms, pending, &out);
    BELFRY_RETURN_IF_ERROR(made);
  }
  if (!announced) return out;  // no key in the run: we can open no row, so ack nothing
  std::optional<threshold::dkg::KeyGeneration> generation;
  for (uint32_t dealer : parts) {
    if (acked.count(dealer) != 0 || bad_rows_.count(dealer) != 0) continue;
    const std::string slot = absl::StrCat("ack/", dealer);
    if (sent_.count(slot) == 0 && !generation.has_value()) {
      BELFRY_ASSIGN_OR_RETURN(threshold::dkg::KeyGeneration replayed,
                              state::ReplayDkgRun(config_, state, state::kEncryptionKeyRun, record));
      generation.emplace(std::move(replayed));
    }
    Offer(slot, [&, dealer] {
      absl::StatusOr<pb::DkgAck> ack = generation->MakeAck(self_ + 1, key_, dealer + 1, rng_);
      if (!ack.ok()) {
        // The dealer sent us a row off its commitment (or one we cannot open): say so,
        // and never vouch for that Part.
        bad_rows_.insert(dealer);
        CoreLogLine(logger_, LogLevel::kWarn, "replica", "key_generation_bad_row")
            .Add("dealer", dealer)
            .Add("reason", ack.status().message());
        return std::string();
      }
      pb::ReplicaMessage m;
      m.mutable_dkg_ack()->set_run(state::kEncryptionKeyRun);
      m.mutable_dkg_ack()->set_dealer(dealer);
      m.mutable_dkg_ack()->set_ack(threshold::dkg::SerializeAck(*ack));
      return Sign(std::move(m));
    }, now_ms, pending, &out);
  }
  return out;
}

}  // namespace belfry::replica
