#include "threshold/dkg/internal/slot.h"

#include <sodium.h>

#include "base/check.h"
#include "threshold/internal/errors.h"
#include "threshold/internal/transcript.h"

namespace belfry::threshold::dkg::internal {
namespace {

using threshold::internal::MakeError;
using threshold::internal::Transcript;

using SlotKey = std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_KEYBYTES>;

// The slot's AEAD key: a hash of the Diffie–Hellman point with everything that names the
// slot, so a key is never used for two slots, runs or messages.
SlotKey DeriveKey(const Config& config, const Point& shared, const Point& ephemeral_key,
                  const Point& recipient_key, const SlotId& slot,
                  std::span<const uint8_t, 32> digest) {
  Transcript t(threshold::internal::kDomainDkgSlotKey);
  t.Append(shared).Append(ephemeral_key).Append(recipient_key).Append(config.context);
  t.AppendU32(static_cast<uint32_t>(config.mode)).AppendU32(slot.dealer).AppendU32(slot.acker);
  t.AppendU32(slot.recipient).Append(ByteSpan(digest));
  std::array<uint8_t, 64> hash = t.Finalize();
  SlotKey key;
  std::copy(hash.begin(), hash.begin() + key.size(), key.begin());
  sodium_memzero(hash.data(), hash.size());
  return key;
}

}  // namespace

std::array<uint8_t, 32> CommitmentDigest(const Config& config, uint32_t dealer,
                                         std::span<const Point> commitment) {
  Transcript t(threshold::internal::kDomainDkgCommitment);
  t.Append(config.context).AppendU32(static_cast<uint32_t>(config.mode)).AppendU32(dealer);
  t.AppendU32(config.n).AppendU32(config.f);
  for (const Point& c : commitment) t.Append(c);
  const std::array<uint8_t, 64> hash = t.Finalize();
  std::array<uint8_t, 32> out;
  std::copy(hash.begin(), hash.begin() + out.size(), out.begin());
  return out;
}

std::string SealSlot(const Config& config, const Scalar& e, const Point& ephemeral_key,
                     const Point& recipient_key, const SlotId& slot,
                     std::span<const uint8_t, 32> digest, ByteSpan plaintext) {
  Point shared = recipient_key.Mul(e);
  SlotKey key = DeriveKey(config, shared, ephemeral_key, recipient_key, slot, digest);
  shared.Wipe();
  // A fresh key per slot (the hash covers a fresh e and the slot's position), so the
  // all-zero nonce is used once per key, which is all ChaCha20-Poly1305 asks.
  const std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};
  std::string out(plaintext.size() + kSealTagBytes, '\0');
  unsigned long long out_len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(reinterpret_cast<uint8_t*>(out.data()), &out_len,
                                            plaintext.data(), plaintext.size(), nullptr, 0, nullptr,
                                            nonce.data(), key.data());
  sodium_memzero(key.data(), key.size());
  BELFRY_CHECK(out_len == out.size());
  return out;
}

absl::StatusOr<Bytes> OpenSlot(const Config& config, const EncryptionKeyPair& key,
                               const Point& ephemeral_key, const SlotId& slot,
                               std::span<const uint8_t, 32> digest, std::string_view sealed,
                               size_t plaintext_bytes) {
  if (sealed.size() != plaintext_bytes + kSealTagBytes) {
    return MakeError(ThresholdError::kDecryptionFailed, "sealed slot has the wrong size");
  }
  Point shared = ephemeral_key.Mul(key.secret());
  SlotKey slot_key = DeriveKey(config, shared, ephemeral_key, key.public_key(), slot, digest);
  shared.Wipe();
  const std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};
  Bytes plain(plaintext_bytes);
  unsigned long long plain_len = 0;
  const int rc = crypto_aead_chacha20poly1305_ietf_decrypt(
      plain.data(), &plain_len, nullptr, reinterpret_cast<const uint8_t*>(sealed.data()),
      sealed.size(), nullptr, 0, nonce.data(), slot_key.data());
  sodium_memzero(slot_key.data(), slot_key.size());
  if (rc != 0 || plain_len != plaintext_bytes) {
    sodium_memzero(plain.data(), plain.size());
    return MakeError(ThresholdError::kDecryptionFailed,
                     "sealed slot does not open with this node's encryption key");
  }
  return plain;
}

size_t TriangleIndex(uint32_t t, uint32_t k, uint32_t l) {
  BELFRY_CHECK(k <= l && l <= t);
  // Rows 0..k-1 hold (t+1) + t + ... + (t+2-k) entries.
  return static_cast<size_t>(k) * (t + 1) - static_cast<size_t>(k) * (k - 1) / 2 + (l - k);
}

size_t TriangleSize(uint32_t t) { return static_cast<size_t>(t + 1) * (t + 2) / 2; }

std::vector<Point> CommitmentAt(uint32_t t, std::span<const Point> commitment, uint32_t x) {
  BELFRY_CHECK(commitment.size() == TriangleSize(t));
  const Scalar xs = Scalar::FromUint64(x);
  std::vector<Point> out;
  out.reserve(t + 1);
  for (uint32_t l = 0; l <= t; ++l) {
    // Horner over k, with C_kl = C_lk for k > l.
    auto entry = [&](uint32_t k) {
      return commitment[k <= l ? TriangleIndex(t, k, l) : TriangleIndex(t, l, k)];
    };
    Point acc = entry(t);
    for (uint32_t k = t; k-- > 0;) acc = acc.Mul(xs).Add(entry(k));
    out.push_back(acc);
  }
  return out;
}

Point EvaluateInExponent(std::span<const Point> coefficients, uint32_t y) {
  BELFRY_CHECK(!coefficients.empty());
  const Scalar ys = Scalar::FromUint64(y);
  Point acc = coefficients.back();
  for (size_t l = coefficients.size() - 1; l-- > 0;) acc = acc.Mul(ys).Add(coefficients[l]);
  return acc;
}

Scalar Evaluate(std::span<const Scalar> coefficients, uint32_t y) {
  BELFRY_CHECK(!coefficients.empty());
  const Scalar ys = Scalar::FromUint64(y);
  Scalar acc = coefficients.back();
  for (size_t l = coefficients.size() - 1; l-- > 0;) acc = acc.Mul(ys).Add(coefficients[l]);
  return acc;
}

}  // namespace belfry::threshold::dkg::internal
