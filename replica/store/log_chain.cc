#include "replica/store/log_chain.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status.h"
#include "replica/store/store.h"

namespace belfry::store {

Digest ComputeLogHead(const Digest& previous, uint64_t epoch, const Digest& batch_digest,
                      const Digest& writes_digest) {
  ByteWriter w;
  w.LengthPrefixed(kLogHeadDomain).Raw(previous).U64(epoch).Raw(batch_digest).Raw(writes_digest);
  return wire::Sha256(w.bytes());
}

pb::ChainTip GenesisTip() {
  pb::ChainTip tip;
  tip.set_next_epoch(0);
  tip.set_head(std::string(wire::kDigestBytes, '\0'));
  tip.set_consensus_time_ms(0);
  tip.set_format_version(kStoreFormatVersion);
  return tip;
}

absl::StatusOr<Digest> DigestField(std::string_view bytes, std::string_view what) {
  if (bytes.size() != wire::kDigestBytes) {
    return absl::DataLossError(absl::StrCat(std::string(what), " is ", bytes.size(), " bytes, not 32"));
  }
  Digest d{};
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return d;
}

absl::StatusOr<pb::EpochRecord> PrepareEpochRecord(const pb::ChainTip& tip, uint64_t epoch,
                                                   int64_t consensus_time_ms,
                                                   const state::WriteSet& writes,
                                                   const Digest& batch_digest) {
  if (epoch != tip.next_epoch()) {
    return absl::FailedPreconditionError(
        absl::StrCat("epoch ", epoch, " committed out of order; the next epoch is ",
                     tip.next_epoch()));
  }
  if (consensus_time_ms < tip.consensus_time_ms()) {
    return absl::FailedPreconditionError(
        absl::StrCat("consensus time ", consensus_time_ms, " ms goes back from ",
                     tip.consensus_time_ms(), " ms"));
  }
  absl::StatusOr<Digest> previous = DigestField(tip.head(), "the chain tip's head");
  if (!previous.ok()) {
    return previous.status();
  }
  const Digest writes_digest = writes.ComputeDigest();
  const Digest head = ComputeLogHead(*previous, epoch, batch_digest, writes_digest);
  pb::EpochRecord record;
  record.set_epoch(epoch);
  record.set_consensus_time_ms(consensus_time_ms);
  record.set_batch_digest(batch_digest.data(), batch_digest.size());
  record.set_writes_digest(writes_digest.data(), writes_digest.size());
  record.set_previous_head(previous->data(), previous->size());
  record.set_head(head.data(), head.size());
  record.set_write_count(writes.size());
  return record;
}

pb::ChainTip TipAfter(const pb::EpochRecord& record) {
  pb::ChainTip tip;
  tip.set_next_epoch(record.epoch() + 1);
  tip.set_head(record.head());
  tip.set_consensus_time_ms(record.consensus_time_ms());
  tip.set_format_version(kStoreFormatVersion);
  return tip;
}

absl::Status VerifyEpochRecord(uint64_t epoch, const pb::EpochRecord& record, const Digest& head,
                               int64_t previous_time_ms) {
  const auto fail = [epoch](std::string_view why) {
    return absl::DataLossError(absl::StrCat("epoch record ", epoch, ": ", std::string(why)));
  };
  if (record.epoch() != epoch) {
    return fail("stored under another epoch number");
  }
  if (record.consensus_time_ms() < previous_time_ms) {
    return fail("consensus time goes backwards");
  }
  absl::StatusOr<Digest> batch = DigestField(record.batch_digest(), "batch digest");
  absl::StatusOr<Digest> writes = DigestField(record.writes_digest(), "writes digest");
  absl::StatusOr<Digest> previous = DigestField(record.previous_head(), "previous head");
  absl::StatusOr<Digest> stored_head = DigestField(record.head(), "head");
  if (!batch.ok() || !writes.ok() || !previous.ok() || !stored_head.ok()) {
    return fail("a digest field has the wrong length");
  }
  if (*previous != head) {
    return fail("does not follow the previous epoch's head (broken hash chain)");
  }
  if (ComputeLogHead(head, epoch, *batch, *writes) != *stored_head) {
    return fail("its head does not match its contents (broken hash chain)");
  }
  return absl::OkStatus();
}

StateDigestBuilder::StateDigestBuilder() {
  crypto_hash_sha256_init(&state_);
  const Bytes prefix = ByteWriter().LengthPrefixed(kStateDigestDomain).Take();
  crypto_hash_sha256_update(&state_, prefix.data(), prefix.size());
}

void StateDigestBuilder::Add(std::string_view key, std::string_view value) {
  ByteWriter w;
  w.U64(key.size()).Raw(key).U64(value.size());
  crypto_hash_sha256_update(&state_, w.bytes().data(), w.bytes().size());
  crypto_hash_sha256_update(&state_, reinterpret_cast<const uint8_t*>(value.data()), value.size());
  ++count_;
  bytes_ += key.size() + value.size();
}

Digest StateDigestBuilder::Finish() {
  // The count closes the encoding, so no prefix of one state digests like another.
  const Bytes suffix = ByteWriter().U64(count_).Take();
  crypto_hash_sha256_update(&state_, suffix.data(), suffix.size());
  Digest out{};
  crypto_hash_sha256_final(&state_, out.data());
  return out;
}

absl::StatusOr<Digest> StateSnapshot::ComputeDigest() const {
  BELFRY_ASSIGN_OR_RETURN(StateSummary summary, ComputeSummary());
  return summary.digest;
}

absl::StatusOr<StateSummary> StateSnapshot::ComputeSummary() const {
  StateDigestBuilder builder;
  std::string after;
  bool done = false;
  while (!done) {
    std::vector<std::pair<std::string, std::string>> entries;
    BELFRY_RETURN_IF_ERROR(Scan(after, size_t{1} << 20, &entries, &done));
    for (const auto& [key, value] : entries) builder.Add(key, value);
    if (entries.empty()) break;
    after = entries.back().first;
  }
  StateSummary summary;
  summary.entries = builder.entries();
  summary.bytes = builder.bytes();
  summary.digest = builder.Finish();
  return summary;
}

}  // namespace belfry::store
