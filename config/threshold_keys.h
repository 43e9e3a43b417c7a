// config/threshold_keys.h — the threshold public keys as cluster.conf spells them.
//
// cluster.conf carries each threshold key set's public half in hex; replicas (to verify
// coin and decryption shares) and clients (to encrypt data keys and combine shares) turn
// it into a threshold::PublicKeySet here, and belfry-setup turns a dealt set into it.
#ifndef BELFRY_CONFIG_THRESHOLD_KEYS_H_
#define BELFRY_CONFIG_THRESHOLD_KEYS_H_

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "threshold/keys.h"

namespace belfry::config {

// INVALID_ARGUMENT when a key is not a canonical ristretto255 encoding or the threshold
// does not match f+1.
absl::StatusOr<threshold::PublicKeySet> PublicKeySetFromConfig(const pb::ThresholdPublicKeys& keys,
                                                               uint32_t f);

pb::ThresholdPublicKeys PublicKeySetToConfig(const threshold::PublicKeySet& keys);

}  // namespace belfry::config

#endif  // BELFRY_CONFIG_THRESHOLD_KEYS_H_
