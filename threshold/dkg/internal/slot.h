// threshold/dkg/internal/slot.h — sealing one row or value of a Part or Ack to one
// recipient, and the commitment arithmetic both sides check against.
#ifndef BELFRY_THRESHOLD_DKG_INTERNAL_SLOT_H_
#define BELFRY_THRESHOLD_DKG_INTERNAL_SLOT_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "threshold/dkg/key_generation.h"
#include "threshold/group.h"

namespace belfry::threshold::dkg::internal {

// Where a slot sits: dealer i's Part (acker 0) or acker j's Ack of dealer i's Part, and
// the recipient it is sealed to. Every field goes into the slot's key.
struct SlotId {
  uint32_t dealer = 0;
  uint32_t acker = 0;
  uint32_t recipient = 0;
};

// The digest of dealer `dealer`'s commitment (its upper triangle, C_00 included) in this
// run: bound into every slot key of the Part and of its Acks.
std::array<uint8_t, 32> CommitmentDigest(const Config& config, uint32_t dealer,
                                         std::span<const Point> commitment);

// Seals `plaintext` for recipient slot.recipient (public key `recipient_key`) with the
// message's ephemeral secret `e` (E = g^e = `ephemeral_key`). The key is used for this one
// slot only, so the all-zero nonce is never reused under one key.
std::string SealSlot(const Config& config, const Scalar& e, const Point& ephemeral_key,
                     const Point& recipient_key, const SlotId& slot,
                     std::span<const uint8_t, 32> digest, ByteSpan plaintext);

// Opens a slot sealed to `key`'s owner; kDecryptionFailed when the tag does not verify
// (a wrong key, slot, run or tampered bytes) or the size is not plaintext_bytes + tag.
// The caller wipes the returned plaintext.
absl::StatusOr<Bytes> OpenSlot(const Config& config, const EncryptionKeyPair& key,
                               const Point& ephemeral_key, const SlotId& slot,
                               std::span<const uint8_t, 32> digest, std::string_view sealed,
                               size_t plaintext_bytes);

// Index of C_kl (k <= l <= t) in the upper-triangle order (0,0), (0,1), ..., (t,t).
size_t TriangleIndex(uint32_t t, uint32_t k, uint32_t l);
// Entries in the upper triangle of a (t+1)×(t+1) matrix.
size_t TriangleSize(uint32_t t);

// The commitment to the one-variable polynomial φ(x, y) at x = `x`: entry l is
// g^{Σ_k a_kl x^k} = Π_k C_kl^{x^k}. Costs (t+1)·t scalar multiplications.
std::vector<Point> CommitmentAt(uint32_t t, std::span<const Point> commitment, uint32_t x);

// Σ_l y^l·coefficients[l] in the exponent (Horner): g^{p(y)} from the commitment to p.
Point EvaluateInExponent(std::span<const Point> coefficients, uint32_t y);
// Σ_l y^l·coefficients[l].
Scalar Evaluate(std::span<const Scalar> coefficients, uint32_t y);

}  // namespace belfry::threshold::dkg::internal

#endif  // BELFRY_THRESHOLD_DKG_INTERNAL_SLOT_H_
