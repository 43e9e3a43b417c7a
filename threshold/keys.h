// threshold/keys.h — dealt key sets: the public key set, one node's secret key share, and
// the dealer that makes them.
//
// A key set is a secret x shared with Shamir's scheme (shamir.h) among n nodes so that any
// f+1 can act and no f learn anything. Node i (1-based) holds x_i = p(i); everyone knows
// the public key g^x and each verification key g^{x_i}, against which shares are checked.
// The coin and TDH2 each use their own key set (two calls to Deal): keys are never shared
// between schemes. The dealer is trusted once, offline, and forgets x and p on return.
#ifndef BELFRY_THRESHOLD_KEYS_H_
#define BELFRY_THRESHOLD_KEYS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/rng.h"
#include "proto/threshold.pb.h"
#include "threshold/group.h"
#include "threshold/shamir.h"

namespace belfry::threshold {

namespace internal {
struct KeyShareAccess;
}  // namespace internal
struct DealtKeySet;

// The only key-file format version this build reads and writes.
inline constexpr uint32_t kKeyFormatVersion = 1;
// Largest serialized public key set accepted (n = kParticipantsMax fits with room).
inline constexpr size_t kPublicKeySetBytesMax = 16 * 1024;

// PublicKeySet: n, f, the public key g^x and the n verification keys. Public data; an
// immutable value, safe to share between threads.
class PublicKeySet {
 public:
  // Validates and builds a key set with n = verification_keys.size(): kInvalidParameters
  // unless 0 <= f < n <= kParticipantsMax; kKeyMismatch unless every verification key and
  // the public key lie on one polynomial of degree f in the exponent (a corrupted or
  // tampered set would otherwise make valid shares combine to different values).
  // Costs about (n-f)(f+1) scalar multiplications.
  static absl::StatusOr<PublicKeySet> Create(uint32_t f, Point public_key,
                                             std::vector<Point> verification_keys);

  uint32_t n() const { return static_cast<uint32_t>(verification_keys_.size()); }
  uint32_t f() const { return f_; }
  // Shares needed to combine: f+1.
  uint32_t threshold() const { return f_ + 1; }
  const Point& public_key() const { return public_key_; }
  bool HasIndex(uint32_t index) const { return index >= 1 && index <= n(); }
  // g^{x_index}; `index` must satisfy HasIndex (checked, aborts otherwise).
  const Point& verification_key(uint32_t index) const;

  void ToProto(pb::ThresholdPublicKeySet* out) const;
  // Checks the format version, every point, and everything Create checks.
  static absl::StatusOr<PublicKeySet> FromProto(const pb::ThresholdPublicKeySet& in);
  std::string Serialize() const;
  // FromProto of at most kPublicKeySetBytesMax bytes (kTooLarge beyond).
  static absl::StatusOr<PublicKeySet> Parse(ByteSpan bytes);

  friend bool operator==(const PublicKeySet& a, const PublicKeySet& b) = default;

 private:
  // The dealer builds sets that are consistent by construction and skips the check.
  friend absl::StatusOr<DealtKeySet> Deal(uint32_t n, uint32_t f, Rng& rng);
  PublicKeySet(uint32_t f, Point public_key, std::vector<Point> verification_keys)
      : f_(f), public_key_(public_key), verification_keys_(std::move(verification_keys)) {}

  uint32_t f_ = 0;
  Point public_key_;
  std::vector<Point> verification_keys_;
};

// KeyShare: node `index`'s secret share x_i of one key set, with the public values that
// identify it. Move-only, so the secret is not copied by accident; wiped on destruction.
// It exposes no secret: only CoinSigner, DecryptionShareProvider and the key-file writer
// use x_i (through internal::KeyShareAccess). Thread-compatible.
class KeyShare {
 public:
  // kInvalidParameters for bad (n, f); kIndexOutOfRange unless 1 <= index <= n.
  static absl::StatusOr<KeyShare> Create(uint32_t n, uint32_t f, uint32_t index, Scalar secret,
                                         Point public_key);

  KeyShare(KeyShare&&) = default;
  KeyShare& operator=(KeyShare&&) = default;
  KeyShare(const KeyShare&) = delete;
  KeyShare& operator=(const KeyShare&) = delete;

  uint32_t n() const { return n_; }
  uint32_t f() const { return f_; }
  uint32_t index() const { return index_; }
  // g^{x_i}, computed from the secret when the share was built.
  const Point& verification_key() const { return verification_key_; }
  const Point& public_key() const { return public_key_; }

  // Validates every field: format version, (n, f), index range, canonical secret and
  // points, and that the stored verification key is g^secret (kKeyMismatch otherwise, so
  // a flipped bit in the secret is caught on load rather than as bad shares later).
  static absl::StatusOr<KeyShare> FromProto(const pb::ThresholdSecretKeyShare& in);

 private:
  friend struct internal::KeyShareAccess;
  KeyShare() = default;

  uint32_t n_ = 0;
  uint32_t f_ = 0;
  uint32_t index_ = 0;
  Scalar secret_;
  Point verification_key_;
  Point public_key_;
};

// kKeyMismatch unless `share` belongs to `keys`: same n, f and public key, and the
// share's verification key is the set's entry for its index.
absl::Status CheckKeyShareMatches(const KeyShare& share, const PublicKeySet& keys);

// DealtKeySet: what the dealer hands out. shares[k] has index k+1.
struct DealtKeySet {
  PublicKeySet public_keys;
  std::vector<KeyShare> shares;
};

// Deals a fresh key set for n nodes tolerating f faults: x and the polynomial come from
// `rng` (CryptoRng in production; a seeded DeterministicRng gives a fixed key set for
// known-answer tests) and are wiped before returning. kInvalidParameters unless
// 0 <= f < n <= kParticipantsMax.
absl::StatusOr<DealtKeySet> Deal(uint32_t n, uint32_t f, Rng& rng);

}  // namespace belfry::threshold

#endif  // BELFRY_THRESHOLD_KEYS_H_
