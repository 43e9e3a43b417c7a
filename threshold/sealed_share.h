// threshold/sealed_share.h — a TDH2 decryption share sealed to the one client that asked.
//
// Why. A replica hands out its decryption share only for an authorized checkout, but the
// request bytes are seen by every replica (consensus orders them) and replies travel
// through proxies and logs. If the share were in the clear, anyone holding a copy of the
// request or of f+1 replies could combine the shares. So each checkout carries a fresh
// X25519 public key inside its signed body, and each replica seals its share to it with a
// libsodium sealed box (X25519 + XSalsa20-Poly1305, an ephemeral sender key per box): only
// the holder of the matching secret, the client that built the request, can open it. This
// is what CODEX does with its "blinded" shares.
//
// Inside the box the share is preceded by a domain string, the replica index and the
// document label, so an opened share is accepted only as that replica's share for that
// label (a faulty replica cannot pass another replica's box off as its own).
//
// Pure functions and a move-only key object; thread-safe; no exceptions.
#ifndef BELFRY_THRESHOLD_SEALED_SHARE_H_
#define BELFRY_THRESHOLD_SEALED_SHARE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace belfry::threshold {

inline constexpr size_t kShareRecipientKeyBytes = 32;  // X25519 public key
// An opened box larger than this is refused before it is parsed (a share is ~100 bytes).
inline constexpr size_t kSealedShareBytesMax = 4096;

// ShareRecipientKey: the client's ephemeral X25519 key pair for one checkout. Move-only;
// the secret key is wiped on destruction and when moved from.
class ShareRecipientKey {
 public:
  // A fresh key pair from the OS CSPRNG (libsodium).
  static ShareRecipientKey Generate();

  ShareRecipientKey(ShareRecipientKey&& other) noexcept;
  ShareRecipientKey& operator=(ShareRecipientKey&& other) noexcept;
  ShareRecipientKey(const ShareRecipientKey&) = delete;
  ShareRecipientKey& operator=(const ShareRecipientKey&) = delete;
  ~ShareRecipientKey();

  const std::array<uint8_t, kShareRecipientKeyBytes>& public_key() const { return public_key_; }
  std::string public_key_string() const;

  // Opens a box that replica `replica` sealed for `label`: the serialized share inside.
  // DATA_LOSS when the box does not open with this key, or opens to another replica's or
  // another label's share, or is larger than kSealedShareBytesMax.
  absl::StatusOr<std::string> Open(std::string_view sealed, uint32_t replica, ByteSpan label) const;

 private:
  ShareRecipientKey() = default;
  void Wipe();
  std::array<uint8_t, 32> secret_key_{};
  std::array<uint8_t, kShareRecipientKeyBytes> public_key_{};
};

// Seals `share` (a serialized DecryptionShare) made by replica `replica` for `label` to
// `recipient_public_key`. INVALID_ARGUMENT when the key is not 32 bytes or is not a valid
// X25519 point (libsodium refuses low-order points), or the share is too large.
absl::StatusOr<std::string> SealShare(ByteSpan recipient_public_key, uint32_t replica,
                                      ByteSpan label, std::string_view share);

}  // namespace belfry::threshold

#endif  // BELFRY_THRESHOLD_SEALED_SHARE_H_
