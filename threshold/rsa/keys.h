// threshold/rsa/keys.h — dealt threshold RSA keys (Shoup, "Practical Threshold Signatures",
// EUROCRYPT 2000, section 2): the public key set, one node's secret key share, and the
// dealer that makes them.
//
// The modulus is N = p·q with safe primes p = 2p'+1 and q = 2q'+1, so the squares modulo N
// form a cyclic group of order m = p'q' with no small factors. The public exponent e is a
// prime greater than the number n of shares, and d = e^{-1} mod m is shared with Shamir's
// scheme over Z_m: node i (1-based) holds s_i = P(i) mod m for a random polynomial P of
// degree f with P(0) = d. Nobody can compute Lagrange coefficients modulo the unknown m,
// which is why shares and the combiner work with Δ = n! instead (signature.h). For share
// proofs everyone knows a random square v (the verification base) and the verification
// keys v_i = v^{s_i}. The dealer is trusted once, offline, and wipes p, q, m, d and the
// polynomial before returning.
//
// In this namespace n() is the number of shares, as in threshold/keys.h; the RSA modulus is
// modulus(). Integers modulo the modulus are big-endian byte strings exactly modulus_bytes()
// long, which is how they are stored, hashed and sent.
#ifndef BELFRY_THRESHOLD_RSA_KEYS_H_
#define BELFRY_THRESHOLD_RSA_KEYS_H_

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/rng.h"
#include "proto/threshold_rsa.pb.h"

namespace belfry::threshold::rsa {

namespace internal {
struct KeyShareAccess;
}  // namespace internal
// The only key-file format version this build reads and writes.
inline constexpr uint32_t kKeyFormatVersion = 1;
// Modulus sizes accepted anywhere (dealing, key sets, key files). 1024 bits is for tests;
// deployments use kModulusBitsDefault.
inline constexpr uint32_t kModulusBitsMin = 1024;
inline constexpr uint32_t kModulusBitsMax = 4096;
inline constexpr uint32_t kModulusBitsDefault = 3072;
inline constexpr size_t kModulusBytesMax = kModulusBitsMax / 8;
// The public exponent the dealer uses (F4): prime, and greater than any allowed n.
inline constexpr uint32_t kPublicExponent = 65537;
// Largest serialized public key set accepted: n = kParticipantsMax (256) keys of the
// largest modulus, with room for the other fields and protobuf's tags.
inline constexpr size_t kPublicKeySetBytesMax = (256 + 2) * (kModulusBytesMax + 8) + 64;

// Frees an EVP_PKEY (OpenSSL's own handle for the exported public key).
struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const;
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// PublicKeySet: n, f, the RSA public key (modulus, e), the verification base v and the n
// verification keys v_i. Public data; an immutable value, safe to share between threads.
class PublicKeySet {
 public:
  // Validates and builds a key set with n = verification_keys.size(). Refuses
  // kInvalidParameters unless 0 <= f < n <= kParticipantsMax, the modulus is odd with
  // kModulusBitsMin..kModulusBitsMax bits and e is a prime greater than n (and below the
  // modulus); kMalformed for a modulus with a leading zero byte, or for v or a v_i that is
  // not exactly modulus_bytes() long, not in 2..modulus-2, or not coprime to the modulus.
  // Whether the v_i fit one polynomial cannot be checked without the factors; a wrong v_i
  // makes its node's valid shares fail verification, never a wrong signature.
  static absl::StatusOr<PublicKeySet> Create(uint32_t f, Bytes modulus, uint32_t public_exponent,
                                             Bytes verification_base, std::vector<Bytes> verification_keys);

  uint32_t n() const { return static_cast<uint32_t>(verification_keys_.size()); }
  uint32_t f() const { return f_; }
  // Shares needed to combine: f+1.
  uint32_t threshold() const { return f_ + 1; }
  bool HasIndex(uint32_t index) const { return index >= 1 && index <= n(); }
  // The RSA modulus, big-endian without a leading zero byte.
  const Bytes& modulus() const { return modulus_; }
  size_t modulus_bytes() const { return modulus_.size(); }
  uint32_t modulus_bits() const { return modulus_bits_; }
  uint32_t public_exponent() const { return public_exponent_; }
  const Bytes& verification_base() const { return verification_base_; }
  // v^{s_index}; `index` must satisfy HasIndex (checked, aborts otherwise).
  const Bytes& verification_key(uint32_t index) const;

  // The RSA public key (modulus, e) as an OpenSSL key, for EVP_DigestVerify or for
  // building a certificate. kInternal if OpenSSL refuses (it does not for a valid set).
  absl::StatusOr<EvpPkeyPtr> ToEvpPkey() const;
  // The RSA public key as a DER SubjectPublicKeyInfo (rsaEncryption, RFC 8017 A.1.1).
  absl::StatusOr<Bytes> SubjectPublicKeyInfoDer() const;

  void ToProto(pb::ThresholdRsaPublicKeySet* out) const;
  // Checks the format version, unknown fields and everything Create checks.
  static absl::StatusOr<PublicKeySet> FromProto(const pb::ThresholdRsaPublicKeySet& in);
  std::string Serialize() const;
  // FromProto of at most kPublicKeySetBytesMax bytes (kTooLarge beyond).
  static absl::StatusOr<PublicKeySet> Parse(ByteSpan bytes);

  friend bool operator==(const PublicKeySet& a, const PublicKeySet& b) = default;

 private:
  PublicKeySet() = default;

  uint32_t f_ = 0;
  Bytes modulus_;
  uint32_t modulus_bits_ = 0;
  uint32_t public_exponent_ = 0;
  Bytes verification_base_;
  std::vector<Bytes> verification_keys_;
};

// KeyShare: node `index`'s secret share s_i of one threshold RSA key, with the public values
// a signer needs (modulus, e, v, v_i). Move-only, so the secret is not copied by accident;
// wiped on destruction. It exposes no secret: only ShareSigner and the key-file writer use
// s_i (through internal::KeyShareAccess). Thread-compatible.
class KeyShare {
 public:
  KeyShare(KeyShare&&) = default;
  // Wipes this share's secret before taking the other's.
  KeyShare& operator=(KeyShare&& other) noexcept;
  KeyShare(const KeyShare&) = delete;
  KeyShare& operator=(const KeyShare&) = delete;
  ~KeyShare();

  uint32_t n() const { return n_; }
  uint32_t f() const { return f_; }
  uint32_t index() const { return index_; }
  const Bytes& modulus() const { return modulus_; }
  uint32_t public_exponent() const { return public_exponent_; }
  const Bytes& verification_base() const { return verification_base_; }
  const Bytes& verification_key() const { return verification_key_; }

  // Validates every field: format version, (n, f), index range, the public values as
  // PublicKeySet::Create does, a secret of exactly modulus_bytes() below the modulus, and
  // that v^secret is the stored verification key (kKeyMismatch otherwise, so a flipped bit
  // in the secret is caught on load rather than as bad shares later). Costs one modular
  // exponentiation.
  static absl::StatusOr<KeyShare> FromProto(const pb::ThresholdRsaSecretKeyShare& in);

 private:
  friend struct internal::KeyShareAccess;
  KeyShare() = default;

  uint32_t n_ = 0;
  uint32_t f_ = 0;
  uint32_t index_ = 0;
  Bytes modulus_;
  uint32_t public_exponent_ = 0;
  Bytes verification_base_;
  Bytes verification_key_;
  Bytes secret_;  // s_i, big-endian, modulus_bytes() long
};

// kKeyMismatch unless `share` belongs to `keys`: same n, f, modulus, e and v, and the
// share's verification key is the set's entry for its index.
absl::Status CheckKeyShareMatches(const KeyShare& share, const PublicKeySet& keys);

// DealtKeySet: what the dealer hands out. shares[k] has index k+1.
struct DealtKeySet {
  PublicKeySet public_keys;
  std::vector<KeyShare> shares;
};

// Deals a fresh key with a `modulus_bits`-bit modulus (even, kModulusBitsMin..Max) for n
// nodes tolerating f faults. The safe primes come from OpenSSL's BN_generate_prime_ex
// (OpenSSL's own CSPRNG: prime generation cannot draw from an injected Rng); the
// polynomial and v come from `rng`, so only DealFromPrimes is reproducible. Safe primes
// are slow to find: seconds for 2048 bits, up to minutes for 3072 or more.
// kInvalidParameters for bad (n, f) or size.
absl::StatusOr<DealtKeySet> Deal(uint32_t n, uint32_t f, uint32_t modulus_bits, Rng& rng);

// Deals from given safe primes p and q (big-endian), with e = kPublicExponent and the
// polynomial and v drawn from `rng`: with a DeterministicRng the key set is fixed, for
// known-answer tests. kInvalidParameters unless p != q are both safe primes greater than
// 2n+1 whose product has kModulusBitsMin..kModulusBitsMax bits.
absl::StatusOr<DealtKeySet> DealFromPrimes(uint32_t n, uint32_t f, ByteSpan p, ByteSpan q, Rng& rng);

}  // namespace belfry::threshold::rsa

#endif  // BELFRY_THRESHOLD_RSA_KEYS_H_
