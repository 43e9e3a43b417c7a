// threshold/coin.h — the threshold common coin of Cachin, Kursawe and Shoup (2000/2005).
//
// How it works: a coin has a name (for binary agreement: cluster id, epoch, instance,
// round). The name is hashed onto the group, G = H(name), with the ristretto255 one-way
// map over a 64-byte domain-separated hash, so nobody knows log_g(G) — unlike g^hash(name),
// whose value anyone could compute from the public key. The coin is the hash of G^x,
// where x is the key set's secret. Node i releases G^{x_i} with a DLEQ proof (dleq.h) that
// it used the same exponent as its public verification key g^{x_i}; any f+1 valid shares
// interpolate in the exponent to G^x (Lagrange at zero), so every subset gives the same
// coin, while f or fewer shares reveal nothing about it. The proof binds the name, the
// share index and the key set, so a share cannot be replayed under another name or index.
// A node's share is a deterministic function of (its key share, name): no randomness.
#ifndef BELFRY_THRESHOLD_COIN_H_
#define BELFRY_THRESHOLD_COIN_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "proto/threshold.pb.h"
#include "threshold/dleq.h"
#include "threshold/group.h"
#include "threshold/keys.h"

namespace belfry::threshold {

// Longest coin name accepted.
inline constexpr size_t kCoinNameBytesMax = 4096;
// Largest serialized coin share accepted (an honest one is about 140 bytes).
inline constexpr size_t kCoinShareBytesMax = 512;

// CoinShare: node `index`'s share H(name)^{x_index} of one coin, with its proof. The name
// is not inside: the verifier supplies the name it expects. Public data; a value type.
struct CoinShare {
  uint32_t index = 0;
  Point value;
  DleqProof proof;

  void ToProto(pb::ThresholdCoinShare* out) const;
  // Checks encodings only (index nonzero, canonical non-identity point, canonical proof
  // scalars); VerifyCoinShare checks the rest.
  static absl::StatusOr<CoinShare> FromProto(const pb::ThresholdCoinShare& in);
  std::string Serialize() const;
  // FromProto of at most kCoinShareBytesMax bytes.
  static absl::StatusOr<CoinShare> Parse(ByteSpan bytes);

  friend bool operator==(const CoinShare& a, const CoinShare& b) = default;
};

// CoinValue: the coin of one name: 32 uniformly distributed bytes and the bit from them.
struct CoinValue {
  std::array<uint8_t, 32> bytes{};
  bool bit() const { return (bytes[0] & 1) != 0; }

  friend bool operator==(const CoinValue& a, const CoinValue& b) = default;
};

// H(name): the coin name on the group. Public; exposed for tests and documentation.
Point HashCoinName(std::string_view name);

// CoinSigner: holds one node's coin key share and makes that node's coin shares. Nothing
// else about the key leaves it. Move-only; the secret is wiped on destruction. Const
// methods are thread-safe.
class CoinSigner {
 public:
  explicit CoinSigner(KeyShare share) : share_(std::move(share)) {}

  uint32_t index() const { return share_.index(); }
  // This node's share of the coin `name`: the same bytes every time for the same name.
  // kTooLarge for a name longer than kCoinNameBytesMax.
  absl::StatusOr<CoinShare> MakeShare(std::string_view name) const;

 private:
  KeyShare share_;
};

// OK when `share` is a valid share of the coin `name` under `keys`. Refuses, in this
// order: kTooLarge (name), kIndexOutOfRange (index not in 1..n), kInvalidShareProof (the
// proof fails: forged value or proof, another name, another index's share relabelled, or
// another key set). Costs four scalar multiplications. Thread-safe.
absl::Status VerifyCoinShare(const PublicKeySet& keys, std::string_view name, const CoinShare& share);

// VerifyCoinShare for a share received from the node that owns `sender_index` (as the
// transport authenticated it): first kSenderMismatch if the share claims another index,
// so a node cannot pass off another node's share as its own.
absl::Status VerifyCoinShareFrom(const PublicKeySet& keys, uint32_t sender_index, std::string_view name,
                                 const CoinShare& share);

// The coin `name` from at least f+1 shares, each of which VerifyCoinShare accepted (their
// proofs are not checked again here: callers verify each share on arrival, to attribute
// faults). The first f+1 shares are used; any f+1 valid shares give the same value.
// Refuses kTooLarge (name), kIndexOutOfRange, kDuplicateIndex (two shares with one index,
// anywhere in the span), then kNotEnoughShares (fewer than f+1). Thread-safe.
absl::StatusOr<CoinValue> CombineCoin(const PublicKeySet& keys, std::string_view name,
                                      std::span<const CoinShare> shares);

}  // namespace belfry::threshold

#endif  // BELFRY_THRESHOLD_COIN_H_
