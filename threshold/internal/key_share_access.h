// threshold/internal/key_share_access.h — the one door to a KeyShare's secret.
//
// Only the narrow objects that act with a key (CoinSigner, DecryptionShareProvider) and
// the key-file writer include this header; everything else sees KeyShare's public half.
#ifndef BELFRY_THRESHOLD_INTERNAL_KEY_SHARE_ACCESS_H_
#define BELFRY_THRESHOLD_INTERNAL_KEY_SHARE_ACCESS_H_

#include "proto/threshold.pb.h"
#include "threshold/keys.h"

namespace belfry::threshold::internal {

struct KeyShareAccess {
  static const Scalar& Secret(const KeyShare& share) { return share.secret_; }
  static KeyShare Make(uint32_t n, uint32_t f, uint32_t index, Scalar secret,
                       Point verification_key, Point public_key);
  // Fills `out`, secret included: the caller wipes out->mutable_secret() when done.
  static void ToProto(const KeyShare& share, pb::ThresholdSecretKeyShare* out);
};

// Overwrites and clears a proto's secret field before the proto is released.
void WipeSecretField(pb::ThresholdSecretKeyShare* proto);

}  // namespace belfry::threshold::internal

#endif  // BELFRY_THRESHOLD_INTERNAL_KEY_SHARE_ACCESS_H_
