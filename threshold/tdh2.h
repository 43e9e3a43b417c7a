// threshold/tdh2.h — labelled threshold encryption of 32-byte keys: TDH2 of Shoup and
// Gennaro ("Securing threshold cryptosystems against chosen ciphertext attack", 1998/2002),
// in the prime-order group ristretto255.
//
// How it works: the key set's secret x is shared as in keys.h, h = g^x is the public key,
// and ḡ is a second generator obtained by hashing a fixed string onto the group, so nobody
// knows log_g(ḡ). To encrypt a key k under label L, pick r and send c = k ⊕ H1(h^r),
// u = g^r, ū = ḡ^r and a DLEQ proof (dleq.h, context = h, L, c) that u and ū share the
// exponent r. That proof makes the ciphertext checkable by anyone and binds L and c: a
// changed component or label makes it invalid, and a node refuses to make a decryption
// share for an invalid ciphertext — the property that makes TDH2 secure against chosen-
// ciphertext attacks. Node i's decryption share is u^{x_i} with a DLEQ proof against its
// verification key g^{x_i}; any f+1 valid shares interpolate in the exponent to u^x = h^r,
// which unmasks k. Decryption shares, like coin shares, are deterministic in (key share,
// ciphertext); only Encrypt draws randomness, from an injected Rng.
#ifndef BELFRY_THRESHOLD_TDH2_H_
#define BELFRY_THRESHOLD_TDH2_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/rng.h"
#include "proto/threshold.pb.h"
#include "threshold/dleq.h"
#include "threshold/group.h"
#include "threshold/keys.h"

namespace belfry::threshold {

// Size of the key TDH2 carries (an AES-256 key).
inline constexpr size_t kSymmetricKeyBytes = 32;
// Longest label accepted (a document id and version).
inline constexpr size_t kLabelBytesMax = 4096;
// Largest serialized ciphertext and decryption share accepted.
inline constexpr size_t kCiphertextBytesMax = kLabelBytesMax + 512;
inline constexpr size_t kDecryptionShareBytesMax = 512;

// SymmetricKey: the 32-byte secret TDH2 carries (a document's AES-256-GCM key). Wiped on
// destruction; compared in constant time. Thread-compatible.
class SymmetricKey {
 public:
  SymmetricKey() = default;  // all zero
  SymmetricKey(const SymmetricKey&) = default;
  SymmetricKey& operator=(const SymmetricKey&) = default;
  ~SymmetricKey();

  // kMalformed unless exactly 32 bytes.
  static absl::StatusOr<SymmetricKey> FromBytes(ByteSpan bytes);
  static SymmetricKey Random(Rng& rng);

  const std::array<uint8_t, kSymmetricKeyBytes>& bytes() const { return bytes_; }

  friend bool operator==(const SymmetricKey& a, const SymmetricKey& b);

 private:
  std::array<uint8_t, kSymmetricKeyBytes> bytes_{};
};

// Ciphertext: a TDH2 encryption of one SymmetricKey under a label. Public data; a value.
struct Ciphertext {
  std::string label;
  std::array<uint8_t, kSymmetricKeyBytes> masked_key{};  // k ⊕ H1(h^r)
  Point u;                                              // g^r
  Point u_bar;                                          // ḡ^r
  DleqProof proof;                                      // log_g(u) = log_ḡ(ū), bound to h, label, masked_key

  void ToProto(pb::Tdh2Ciphertext* out) const;
  // Checks encodings only (sizes, canonical non-identity points and scalars, label length);
  // VerifyCiphertext checks validity.
  static absl::StatusOr<Ciphertext> FromProto(const pb::Tdh2Ciphertext& in);
  std::string Serialize() const;
  // FromProto of at most kCiphertextBytesMax bytes.
  static absl::StatusOr<Ciphertext> Parse(ByteSpan bytes);

  friend bool operator==(const Ciphertext& a, const Ciphertext& b) = default;
};

// DecryptionShare: node `index`'s share u^{x_index} of one ciphertext, with its proof.
// Public data; a value type.
struct DecryptionShare {
  uint32_t index = 0;
  Point value;
  DleqProof proof;

  void ToProto(pb::Tdh2DecryptionShare* out) const;
  // Checks encodings only; VerifyDecryptionShare checks the rest.
  static absl::StatusOr<DecryptionShare> FromProto(const pb::Tdh2DecryptionShare& in);
  std::string Serialize() const;
  // FromProto of at most kDecryptionShareBytesMax bytes.
  static absl::StatusOr<DecryptionShare> Parse(ByteSpan bytes);

  friend bool operator==(const DecryptionShare& a, const DecryptionShare& b) = default;
};

// Encrypts `key` under `keys`'s public key and `label`, drawing r from `rng` (CryptoRng in
// production). kTooLarge for a label beyond kLabelBytesMax. Thread-safe if `rng` is.
absl::StatusOr<Ciphertext> Encrypt(const PublicKeySet& keys, std::string_view label,
                                   const SymmetricKey& key, Rng& rng);

// OK when `ciphertext` is valid under `keys`: its proof verifies for its own label and
// masked key. kTooLarge (label), kInvalidCiphertext otherwise. Anyone can run it; costs
// four scalar multiplications. Thread-safe.
absl::Status VerifyCiphertext(const PublicKeySet& keys, const Ciphertext& ciphertext);

// DecryptionShareProvider: holds one node's TDH2 key share (and the public key set it
// belongs to) and makes that node's decryption shares. Nothing else about the key leaves
// it. Move-only; the secret is wiped on destruction. Const methods are thread-safe.
class DecryptionShareProvider {
 public:
  // kKeyMismatch unless `share` belongs to `keys` (CheckKeyShareMatches).
  static absl::StatusOr<DecryptionShareProvider> Create(KeyShare share, PublicKeySet keys);

  uint32_t index() const { return share_.index(); }
  // This node's decryption share of `ciphertext`, which the caller has authorized for
  // `authorized_label` (the replica has executed a permitted checkout of exactly that
  // label). Refuses kLabelMismatch when the ciphertext carries another label, and
  // kInvalidCiphertext (or kTooLarge) when VerifyCiphertext does — before computing
  // anything with the secret. Deterministic: the same share for the same ciphertext.
  absl::StatusOr<DecryptionShare> MakeShare(const Ciphertext& ciphertext,
                                            std::string_view authorized_label) const;

 private:
  DecryptionShareProvider(KeyShare share, PublicKeySet keys)
      : share_(std::move(share)), keys_(std::move(keys)) {}

  KeyShare share_;
  PublicKeySet keys_;
};

// OK when `share` is a valid decryption share of `ciphertext` under `keys`. Refuses, in
// this order: kTooLarge (label), kIndexOutOfRange, kInvalidShareProof (forged value or
// proof, a share of another ciphertext or label, another index's share relabelled).
// Does not re-check the ciphertext itself (see VerifyCiphertext). Thread-safe.
absl::Status VerifyDecryptionShare(const PublicKeySet& keys, const Ciphertext& ciphertext,
                                   const DecryptionShare& share);

// VerifyDecryptionShare for a share from the node owning `sender_index`: first
// kSenderMismatch if the share claims another index.
absl::Status VerifyDecryptionShareFrom(const PublicKeySet& keys, uint32_t sender_index,
                                       const Ciphertext& ciphertext, const DecryptionShare& share);

// The key inside `ciphertext` from at least f+1 shares that VerifyDecryptionShare
// accepted (proofs are not checked again). The first f+1 are used. Refuses kTooLarge,
// kIndexOutOfRange, kDuplicateIndex, then kNotEnoughShares. Thread-safe.
absl::StatusOr<SymmetricKey> CombineDecryptionShares(const PublicKeySet& keys,
                                                     const Ciphertext& ciphertext,
                                                     std::span<const DecryptionShare> shares);

// ḡ, the second generator: the ristretto255 map of SHA-512 over a fixed domain string
// ("belfry/threshold/v1/tdh2/generator-g-bar"), a nothing-up-my-sleeve choice.
const Point& Tdh2SecondGenerator();

}  // namespace belfry::threshold

#endif  // BELFRY_THRESHOLD_TDH2_H_
