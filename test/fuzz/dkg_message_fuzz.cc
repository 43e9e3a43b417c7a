// Fuzz target: key generation messages as atomic broadcast delivers them —
// threshold::dkg::ParsePart / ParseAck, then KeyGeneration::AddPart / AddAck
// (threshold/dkg/key_generation.h) on the fixed run of fixtures.h (N = 4, f = 1, fresh key),
// then MakeAck, Result and MyShare on whatever the messages built.
//
// Input: records (fixtures.h), at most kRecordsMax. A record's tag picks the kind (bit 0:
// Part or Ack) and the sender ((tag >> 1) % 6: 0..5, so out-of-range senders are covered).
// Properties: nothing crashes; every refusal carries a ThresholdError; a parsed message
// re-serializes to bytes that parse to the same message; an accepted Part either gets an
// Ack from node 1 or is refused with a dealer-fault status (kDecryptionFailed,
// kNonCanonicalScalar, kCommitmentMismatch), and such an Ack is itself accepted by a copy
// of the accumulator; once done, the chosen set never changes, has f+1 dealers and
// Result() succeeds; node 1's share, when MyShare gives one, matches Result()'s
// verification key 1.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/rng.h"
#include "test/fuzz/fixtures.h"
#include "threshold/dkg/key_generation.h"
#include "threshold/errors.h"

namespace {

namespace fuzz = belfry::fuzz;
namespace threshold = belfry::threshold;
namespace dkg = belfry::threshold::dkg;
using belfry::AsBytes;
using fuzz::Require;

constexpr size_t kRecordsMax = 48;

bool IsDealerFault(const absl::Status& s) {
  const std::optional<threshold::ThresholdError> e = threshold::ThresholdErrorOf(s);
  return e == threshold::ThresholdError::kDecryptionFailed ||
         e == threshold::ThresholdError::kNonCanonicalScalar ||
         e == threshold::ThresholdError::kCommitmentMismatch;
}

void CheckRefusal(const absl::Status& s) {
  Require(s.ok() || threshold::ThresholdErrorOf(s).has_value(),
          "every refusal names a ThresholdError");
}

void AddPart(dkg::KeyGeneration& kg, uint32_t sender, std::string_view bytes, belfry::Rng& rng) {
  absl::StatusOr<belfry::pb::DkgPart> part = dkg::ParsePart(AsBytes(bytes));
  CheckRefusal(part.status());
  if (!part.ok()) return;
  absl::StatusOr<belfry::pb::DkgPart> again = dkg::ParsePart(AsBytes(dkg::SerializePart(*part)));
  Require(again.ok() && dkg::SerializePart(*again) == dkg::SerializePart(*part),
          "a parsed Part round-trips");
  const bool was_done = kg.done();
  const absl::Status added = kg.AddPart(sender, *part);
  CheckRefusal(added);
  if (!added.ok() || was_done) return;
  absl::StatusOr<belfry::pb::DkgAck> ack = kg.MakeAck(1, fuzz::DkgNodeKeys()[0], sender, rng);
  if (!ack.ok()) {
    Require(IsDealerFault(ack.status()),
            "an accepted Part is acked or refused for the dealer's fault");
    return;
  }
  dkg::KeyGeneration copy = kg;
  Require(copy.AddAck(1, *ack).ok(), "an honest Ack of an accepted Part is accepted");
}

void AddAck(dkg::KeyGeneration& kg, uint32_t sender, std::string_view bytes) {
  absl::StatusOr<belfry::pb::DkgAck> ack = dkg::ParseAck(AsBytes(bytes));
  CheckRefusal(ack.status());
  if (!ack.ok()) return;
  absl::StatusOr<belfry::pb::DkgAck> again = dkg::ParseAck(AsBytes(dkg::SerializeAck(*ack)));
  Require(again.ok() && dkg::SerializeAck(*again) == dkg::SerializeAck(*ack),
          "a parsed Ack round-trips");
  CheckRefusal(kg.AddAck(sender, *ack));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<dkg::KeyGeneration> created = dkg::KeyGeneration::Create(fuzz::DkgConfig());
  Require(created.ok(), "creating the fixed run");
  dkg::KeyGeneration& kg = *created;
  belfry::DeterministicRng rng(1);
  std::optional<std::vector<uint32_t>> decided;
  for (const fuzz::Record& r : fuzz::SplitRecords(belfry::ByteSpan(data, size), kRecordsMax)) {
    const uint32_t sender = (r.tag >> 1) % 6;
    if ((r.tag & 1) == 0) {
      AddPart(kg, sender, r.bytes, rng);
    } else {
      AddAck(kg, sender, r.bytes);
    }
    if (decided.has_value()) {
      Require(kg.chosen_dealers() == *decided, "the chosen set never changes once decided");
    } else if (kg.done()) {
      decided = kg.chosen_dealers();
      Require(decided->size() == fuzz::kF + 1, "f+1 dealers are chosen");
    }
  }
  if (!kg.done()) return 0;
  absl::StatusOr<threshold::PublicKeySet> keys = kg.Result();
  Require(keys.ok(), "a decided run has a result");
  absl::StatusOr<threshold::KeyShare> share = kg.MyShare(1, fuzz::DkgNodeKeys()[0], nullptr);
  if (share.ok()) {
    Require(share->verification_key() == keys->verification_key(1),
            "node 1's share matches the result");
  } else {
    Require(
        threshold::ThresholdErrorOf(share.status()) == threshold::ThresholdError::kNotEnoughShares,
        "node 1 lacks a share only for want of good values");
  }
  return 0;
}
