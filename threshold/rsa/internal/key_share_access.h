// threshold/rsa/internal/key_share_access.h — the one door to a threshold RSA KeyShare's
// secret, and the field checks every reader of threshold RSA values shares.
//
// Only ShareSigner and the key-file writer include this header for the secret; everything
// else sees KeyShare's public half.
#ifndef BELFRY_THRESHOLD_RSA_INTERNAL_KEY_SHARE_ACCESS_H_
#define BELFRY_THRESHOLD_RSA_INTERNAL_KEY_SHARE_ACCESS_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "proto/threshold_rsa.pb.h"
#include "threshold/rsa/internal/bignum.h"
#include "threshold/rsa/keys.h"

namespace belfry::threshold::rsa::internal {

struct KeyShareAccess {
  // s_i, big-endian, modulus_bytes() long.
  static const Bytes& Secret(const KeyShare& share) { return share.secret_; }
  // Builds a share from checked parts; takes ownership of the secret (the caller's buffer
  // is moved from, not copied).
  static KeyShare Make(uint32_t n, uint32_t f, uint32_t index, const PublicKeySet& keys, Bytes secret);
  // Fills `out`, secret included: the caller wipes it with WipeSecretField when done.
  static void ToProto(const KeyShare& share, pb::ThresholdRsaSecretKeyShare* out);
};

// Overwrites and clears a proto's secret field before the proto is released.
void WipeSecretField(pb::ThresholdRsaSecretKeyShare* proto);

// An integer modulo `modulus` as it travels: exactly `modulus_bytes` big-endian bytes with a
// value in 1..modulus-1 (kMalformed otherwise, naming `what`). With `unit`, it must also be
// coprime to the modulus.
absl::StatusOr<BnPtr> ElementField(ByteSpan bytes, const BIGNUM* modulus, size_t modulus_bytes,
                                   bool unit, std::string_view what, BN_CTX* ctx);

}  // namespace belfry::threshold::rsa::internal

#endif  // BELFRY_THRESHOLD_RSA_INTERNAL_KEY_SHARE_ACCESS_H_
