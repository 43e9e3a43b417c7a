// replica/node/reply_signer.h — the replica's Ed25519 reply key.
//
// Only this object holds the replica's reply signing key; it signs reply statements and
// integrity statements and exposes nothing else. The key file is the 32-byte Ed25519 seed,
// mode 0600, written once by belfry-setup.
#ifndef BELFRY_REPLICA_NODE_REPLY_SIGNER_H_
#define BELFRY_REPLICA_NODE_REPLY_SIGNER_H_

#include <sodium.h>

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/rng.h"

namespace belfry::replica {

// ReplySigner: move-only; wipes the key on destruction. Sign is thread-safe (const).
class ReplySigner {
 public:
  // Reads a seed file. PERMISSION_DENIED when the file is readable by group or others;
  // INVALID_ARGUMENT when it is not exactly 32 bytes.
  static absl::StatusOr<ReplySigner> FromSeedFile(const std::string& path);
  static ReplySigner FromSeed(const std::array<uint8_t, crypto_sign_SEEDBYTES>& seed);
  // Creates a new key, writes its seed to `path` (0600, refusing to overwrite) and
  // returns the public key.
  static absl::StatusOr<std::array<uint8_t, 32>> GenerateSeedFile(const std::string& path, Rng& rng);

  ReplySigner(ReplySigner&& other) noexcept;
  ReplySigner& operator=(ReplySigner&& other) noexcept;
  ReplySigner(const ReplySigner&) = delete;
  ReplySigner& operator=(const ReplySigner&) = delete;
  ~ReplySigner();

  // A 64-byte detached Ed25519 signature of `message`.
  std::string Sign(ByteSpan message) const;
  const std::array<uint8_t, 32>& public_key() const { return public_key_; }

 private:
  ReplySigner() = default;
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> secret_key_{};
  std::array<uint8_t, 32> public_key_{};
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_REPLY_SIGNER_H_
