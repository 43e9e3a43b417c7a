// threshold/rsa/signature.h — threshold RSA signatures: Shoup, "Practical Threshold
// Signatures", EUROCRYPT 2000 (section 2, the protocol for k = t+1 shares), producing
// ordinary RSASSA-PKCS1-v1_5 signatures with SHA-256 (RFC 8017 section 8.2).
//
// How it works (N is the RSA modulus, n the number of shares): a message M becomes
// x = EMSA-PKCS1-v1_5-ENCODE(SHA-256(M)) as an integer modulo N. Node i's signature share
// is x_i = x^{2Δ·s_i} with Δ = n!, and a proof that it used the s_i behind its
// verification key: that log_{x̃}(x_i²) = log_v(v_i) for x̃ = x^{4Δ}. The proof is Shoup's (a Chaum–Pedersen proof in a group of unknown order):
// commitments v' = v^r and x' = x̃^r, challenge c = the first 128 bits of a domain-
// separated SHA-512 over N, e, v, the index, v_i, x̃, x_i², v' and x', and
// response z = s_i·c + r over the integers, so r must hide s_i·c statistically: it has
// |N| + 256 bits (L1 = 128 in the paper). The verifier recomputes v' = v^z·v_i^{-c} and
// x' = x̃^z·x_i^{-2c} and the challenge. r is not drawn at random but hashed from s_i and
// the whole statement, so a node makes the same share for the same message every time and
// never uses one r for two statements.
//
// Nobody knows m = p'q', so the Lagrange coefficients cannot be taken modulo m; Shoup
// multiplies them by Δ, which makes λ_j = Δ·Π_{j'≠j} j'/(j'−j) an integer, and the f+1
// shares combine to w = Π x_j^{2λ_j} = x^{4Δ²·d} = x^{e'·d} with e' = 4Δ². Because e is a
// prime greater than n, gcd(e', e) = 1, and with a·e' + b·e = 1 the signature is
// y = w^a·x^b, an e-th root of x: exactly the signature the whole private key would make.
// Combining is optimistic: it first combines without looking at the proofs and checks
// y^e = x. Only when that fails does it verify every share's proof, name the nodes whose
// shares fail, and combine again from f+1 shares that pass.
#ifndef BELFRY_THRESHOLD_RSA_SIGNATURE_H_
#define BELFRY_THRESHOLD_RSA_SIGNATURE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "proto/threshold_rsa.pb.h"
#include "threshold/rsa/keys.h"

namespace belfry::threshold::rsa {

// Longest message a share is made or a signature combined for (a certificate's
// to-be-signed part is a few kilobytes).
inline constexpr size_t kMessageBytesMax = 1 << 20;
// L1 in Shoup's paper: the challenge has this many bits, and the proof nonce 2·L1 more
// bits than the modulus.
inline constexpr size_t kChallengeBits = 128;
inline constexpr size_t kChallengeBytes = kChallengeBits / 8;
// Bytes of a proof response z < 2^{|N| + 2·L1 + 1}, for a modulus of `modulus_bits`.
inline constexpr size_t ResponseBytes(size_t modulus_bits) { return (modulus_bits + 2 * kChallengeBits + 1 + 7) / 8; }
// Largest serialized signature share accepted.
inline constexpr size_t kSignatureShareBytesMax = 2 * kModulusBytesMax + 2 * kChallengeBytes + 64;

// SignatureShare: node `index`'s share x^{2Δ·s_index} of one message's signature, with its
// proof (challenge c, response z). Public data; a value type. Integers are big-endian:
// value is modulus_bytes() long, challenge kChallengeBytes, response ResponseBytes(|N|).
struct SignatureShare {
  uint32_t index = 0;
  Bytes value;
  Bytes challenge;
  Bytes response;

  void ToProto(pb::ThresholdRsaSignatureShare* out) const;
  // Checks what can be checked without the key set: no unknown fields, index not 0
  // (kIndexOutOfRange), a challenge of kChallengeBytes and a value and response within the
  // largest modulus (kMalformed). VerifySignatureShare checks the rest.
  static absl::StatusOr<SignatureShare> FromProto(const pb::ThresholdRsaSignatureShare& in);
  std::string Serialize() const;
  // FromProto of at most kSignatureShareBytesMax bytes (kTooLarge beyond).
  static absl::StatusOr<SignatureShare> Parse(ByteSpan bytes);

  friend bool operator==(const SignatureShare& a, const SignatureShare& b) = default;
};

// EMSA-PKCS1-v1_5-ENCODE(SHA-256(message), modulus_bytes) of RFC 8017 section 9.2:
// 00 01 FF..FF 00 || DigestInfo(SHA-256) || hash. kTooLarge beyond kMessageBytesMax;
// kInvalidParameters if modulus_bytes leaves fewer than 8 bytes of padding. Thread-safe.
absl::StatusOr<Bytes> EncodePkcs1Sha256(ByteSpan message, size_t modulus_bytes);

// ShareSigner: holds one node's threshold RSA key share and makes that node's signature
// shares. Nothing else about the key leaves it. Move-only; the secret is wiped on
// destruction. Const methods are thread-safe.
class ShareSigner {
 public:
  explicit ShareSigner(KeyShare share) : share_(std::move(share)) {}

  uint32_t index() const { return share_.index(); }
  // This node's share of `message`'s signature, with its proof. Deterministic: the same
  // share for the same message. kTooLarge beyond kMessageBytesMax. The secret exponent is
  // used only in constant-time exponentiations (BN_mod_exp_mont_consttime). Costs three
  // exponentiations modulo N, two of them with (|N| + 256)-bit exponents.
  absl::StatusOr<SignatureShare> MakeShare(ByteSpan message) const;

 private:
  KeyShare share_;
};

// OK when `share` is a valid signature share of `message` under `keys`. Refuses, in this
// order: kTooLarge (message), kIndexOutOfRange, kMalformed (a value, challenge or response
// of the wrong size for this modulus, or a value not in 1..modulus-1), kInvalidShareProof
// (a forged value or proof, a share of another message, another index's share
// relabelled, a share under another key set). Costs about two exponentiations modulo N
// with (|N| + 257)-bit exponents. Thread-safe.
absl::Status VerifySignatureShare(const PublicKeySet& keys, ByteSpan message, const SignatureShare& share);

// VerifySignatureShare for a share from the node owning `sender_index`: first
// kSenderMismatch if the share claims another index.
absl::Status VerifySignatureShareFrom(const PublicKeySet& keys, uint32_t sender_index, ByteSpan message,
                                      const SignatureShare& share);

// CombineResult: the outcome of CombineSignatureShares. `signature` is the RSA signature
// (big-endian, exactly modulus_bytes() long) or why there is none. `faulty_indices` names,
// in ascending order, the shares found bad, also when combining failed: a share malformed
// for this key set always, a share whose proof fails when the optimistic path did not
// succeed (proofs are not looked at when it does). These are the indices the shares
// claim: to blame senders, tie each share's index to its sender first (the caller knows
// who sent what; VerifySignatureShareFrom's sender check).
struct CombineResult {
  absl::StatusOr<Bytes> signature;
  std::vector<uint32_t> faulty_indices;
};

// Combines shares of `message` into its RSA signature. Shares need not have been verified:
// the first f+1 well-formed shares are combined and the result checked (y^e = x); only if
// that fails are the proofs of all well-formed shares checked, the bad ones named in faulty_indices,
// and the first f+1 good ones combined. Refuses, in this order: kTooLarge (message),
// kIndexOutOfRange, kDuplicateIndex, kNotEnoughShares (fewer than f+1 shares given);
// kInvalidShareProof when, after removing bad shares, fewer than f+1 remain; kKeyMismatch
// if f+1 shares with valid proofs still do not give a valid signature (the key set does
// not match the shares: a corrupted set). Thread-safe.
[[nodiscard]] CombineResult CombineSignatureShares(const PublicKeySet& keys, ByteSpan message,
                                                   std::span<const SignatureShare> shares);

// OK when `signature` is the RSASSA-PKCS1-v1_5 SHA-256 signature of `message` under
// (modulus, e); kTooLarge (message), kMalformed (not modulus_bytes() long or not below the
// modulus), kInvalidSignature otherwise. Thread-safe.
absl::Status VerifySignature(const PublicKeySet& keys, ByteSpan message, ByteSpan signature);

}  // namespace belfry::threshold::rsa

#endif  // BELFRY_THRESHOLD_RSA_SIGNATURE_H_
