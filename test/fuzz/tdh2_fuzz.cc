// Fuzz target: TDH2 data from the network — threshold::Ciphertext::Parse and
// VerifyCiphertext (a client's confidential checkin), DecryptionShare::Parse and
// VerifyDecryptionShareFrom (a replica's share, checked by the client), and
// PublicKeySet::Parse, all over the fixed TDH2 key set (threshold/tdh2.h, keys.h).
//
// Input: a mode byte (byte % 3), then:
//   0  a serialized ciphertext. Valid ones must round-trip, and node 0 must agree to
//      make a decryption share for its own label, which must verify;
//   1  a sender byte (byte % 4) and a serialized decryption share of the fixed
//      ciphertext. One that verifies from its sender, combined with an honest share,
//      must open the fixed key;
//   2  a serialized public key set, which must round-trip.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "test/fuzz/fixtures.h"
#include "threshold/keys.h"
#include "threshold/tdh2.h"

namespace {

namespace fuzz = belfry::fuzz;
namespace threshold = belfry::threshold;
using belfry::ByteSpan;
using fuzz::Require;

const std::vector<threshold::DecryptionShareProvider>& Providers() {
  static const auto* providers = [] {
    auto* out = new std::vector<threshold::DecryptionShareProvider>();
    for (uint32_t i = 0; i < fuzz::kN; ++i) {
      threshold::DealtKeySet dealt = fuzz::DealFixed(fuzz::kTdh2KeySeed);
      auto p = threshold::DecryptionShareProvider::Create(std::move(dealt.shares[i]), dealt.public_keys);
      Require(p.ok(), "building a decryption share provider");
      out->push_back(std::move(*p));
    }
    return out;
  }();
  return *providers;
}

void FuzzCiphertext(ByteSpan bytes) {
  const threshold::PublicKeySet& keys = fuzz::Tdh2PublicKeys();
  absl::StatusOr<threshold::Ciphertext> ct = threshold::Ciphertext::Parse(bytes);
  if (!ct.ok()) return;
  absl::StatusOr<threshold::Ciphertext> again = threshold::Ciphertext::Parse(belfry::AsBytes(ct->Serialize()));
  Require(again.ok() && *again == *ct, "a parsed ciphertext round-trips");
  if (!threshold::VerifyCiphertext(keys, *ct).ok()) {
    Require(!Providers()[0].MakeShare(*ct, ct->label).ok(), "no share for an invalid ciphertext");
    return;
  }
  absl::StatusOr<threshold::DecryptionShare> share = Providers()[0].MakeShare(*ct, ct->label);
  Require(share.ok(), "a valid ciphertext gets a share");
  Require(threshold::VerifyDecryptionShareFrom(keys, 1, *ct, *share).ok(), "an honest share verifies");
}

void FuzzDecryptionShare(ByteSpan input) {
  if (input.empty()) return;
  const threshold::PublicKeySet& keys = fuzz::Tdh2PublicKeys();
  const threshold::Ciphertext& ct = fuzz::FixedCiphertext();
  const uint32_t from = input[0] % fuzz::kN;
  absl::StatusOr<threshold::DecryptionShare> share = threshold::DecryptionShare::Parse(input.subspan(1));
  if (!share.ok()) return;
  absl::StatusOr<threshold::DecryptionShare> again =
      threshold::DecryptionShare::Parse(belfry::AsBytes(share->Serialize()));
  Require(again.ok() && *again == *share, "a parsed share round-trips");
  if (!threshold::VerifyDecryptionShareFrom(keys, from + 1, ct, *share).ok()) return;
  const uint32_t other = (from + 1) % fuzz::kN;
  absl::StatusOr<threshold::DecryptionShare> honest = Providers()[other].MakeShare(ct, ct.label);
  Require(honest.ok(), "an honest share of the fixed ciphertext");
  const std::vector<threshold::DecryptionShare> shares{*share, *honest};
  absl::StatusOr<threshold::SymmetricKey> key = threshold::CombineDecryptionShares(keys, ct, shares);
  Require(key.ok() && *key == fuzz::FixedSymmetricKey(), "a share that verifies opens the one key");
}

void FuzzPublicKeySet(ByteSpan bytes) {
  absl::StatusOr<threshold::PublicKeySet> keys = threshold::PublicKeySet::Parse(bytes);
  if (!keys.ok()) return;
  absl::StatusOr<threshold::PublicKeySet> again = threshold::PublicKeySet::Parse(belfry::AsBytes(keys->Serialize()));
  Require(again.ok() && *again == *keys, "a parsed key set round-trips");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ByteSpan rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: FuzzCiphertext(rest); break;
    case 1: FuzzDecryptionShare(rest); break;
    default: FuzzPublicKeySet(rest); break;
  }
  return 0;
}
