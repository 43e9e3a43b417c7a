// threshold/internal/transcript.h — the one domain-separated hash behind every
// Fiat–Shamir challenge, nonce, hash-to-group and key derivation in threshold/.
//
// SHA-512 over a sequence of length-prefixed fields, the first being a domain string
// naming the use ("belfry/threshold/v1/coin/share-proof", ...). Length prefixes make the
// field boundaries unambiguous, and distinct domains keep a value hashed for one purpose
// from ever being reused for another. Fields are fed to the incremental hash directly, so
// secrets (a key share hashed into a nonce) are never copied into a growing buffer.
#ifndef BELFRY_THRESHOLD_INTERNAL_TRANSCRIPT_H_
#define BELFRY_THRESHOLD_INTERNAL_TRANSCRIPT_H_

#include <sodium.h>

#include <array>
#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "threshold/group.h"

namespace belfry::threshold::internal {

// Domain strings: one per use, never shared.
inline constexpr std::string_view kDomainDleqNonce = "belfry/threshold/v1/dleq/nonce";
inline constexpr std::string_view kDomainCoinNameToGroup = "belfry/threshold/v1/coin/name-to-group";
inline constexpr std::string_view kDomainCoinShareProof = "belfry/threshold/v1/coin/share-proof";
inline constexpr std::string_view kDomainCoinValue = "belfry/threshold/v1/coin/value";
inline constexpr std::string_view kDomainTdh2GBar = "belfry/threshold/v1/tdh2/generator-g-bar";
inline constexpr std::string_view kDomainTdh2KeyMask = "belfry/threshold/v1/tdh2/key-mask";
inline constexpr std::string_view kDomainTdh2CiphertextProof = "belfry/threshold/v1/tdh2/ciphertext-proof";
inline constexpr std::string_view kDomainTdh2ShareProof = "belfry/threshold/v1/tdh2/share-proof";
inline constexpr std::string_view kDomainRsaShareNonce = "belfry/threshold/v1/rsa/share-proof-nonce";
inline constexpr std::string_view kDomainRsaShareNonceExpand = "belfry/threshold/v1/rsa/share-proof-nonce-expand";
inline constexpr std::string_view kDomainRsaShareProof = "belfry/threshold/v1/rsa/share-proof";
inline constexpr std::string_view kDomainDkgCommitment = "belfry/threshold/v1/dkg/commitment";
inline constexpr std::string_view kDomainDkgSlotKey = "belfry/threshold/v1/dkg/slot-key";

// Transcript: an incremental SHA-512 of length-prefixed fields. Finalize exactly once.
// The hash state is wiped on destruction. Not thread-safe.
class Transcript {
 public:
  explicit Transcript(std::string_view domain);
  ~Transcript();
  Transcript(const Transcript&) = delete;
  Transcript& operator=(const Transcript&) = delete;

  // Each Append adds a u32 big-endian length and then the bytes.
  Transcript& Append(ByteSpan bytes);
  Transcript& Append(std::string_view bytes) { return Append(AsBytes(bytes)); }
  Transcript& Append(const Point& p) { return Append(p.span()); }
  Transcript& Append(const Scalar& s) { return Append(s.span()); }
  Transcript& AppendU32(uint32_t v);

  // The 64-byte digest. The caller wipes it if it derives from a secret.
  std::array<uint8_t, 64> Finalize();
  // The digest reduced mod L (a challenge or a nonce); the digest is wiped.
  Scalar FinalizeToScalar();
  // The digest mapped onto the group by crypto_core_ristretto255_from_hash.
  Point FinalizeToPoint();

 private:
  crypto_hash_sha512_state state_;
  bool finalized_ = false;
};

}  // namespace belfry::threshold::internal

#endif  // BELFRY_THRESHOLD_INTERNAL_TRANSCRIPT_H_
