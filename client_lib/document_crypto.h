// client_lib/document_crypto.h — client-side encryption of confidential documents.
//
// Replicas never see a confidential document's plaintext or its data key: the client
// encrypts the document with a fresh AES-256-GCM key, binds the ciphertext to the
// document's TDH2 label as associated data (so a ciphertext moved to another document or
// version fails to open), and encrypts the data key under the service's threshold key.
#ifndef BELFRY_CLIENT_LIB_DOCUMENT_CRYPTO_H_
#define BELFRY_CLIENT_LIB_DOCUMENT_CRYPTO_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "base/rng.h"

namespace belfry::client {

// DataKey: a 32-byte AES-256 key that wipes itself. Move-only.
class DataKey {
 public:
  static DataKey Generate(Rng& rng);
  static DataKey FromBytes(const std::array<uint8_t, 32>& bytes);
  DataKey(DataKey&& other) noexcept;
  DataKey& operator=(DataKey&& other) noexcept;
  DataKey(const DataKey&) = delete;
  DataKey& operator=(const DataKey&) = delete;
  ~DataKey();
  const std::array<uint8_t, 32>& bytes() const { return key_; }

 private:
  DataKey() = default;
  std::array<uint8_t, 32> key_{};
};

// Seals `plaintext` under `key` with `aad` bound: nonce (12) || ciphertext || tag (16).
// The nonce comes from `rng` (fresh key per document version, so nonce reuse cannot occur
// across keys; the random nonce is defence in depth).
std::string SealDocument(const DataKey& key, absl::string_view aad, absl::string_view plaintext,
                         Rng& rng);

// Opens what SealDocument produced. DATA_LOSS when the tag does not verify (wrong key,
// wrong label, or tampered bytes); INVALID_ARGUMENT when too short to be a sealed document.
absl::StatusOr<std::string> OpenDocument(const DataKey& key, absl::string_view aad,
                                         absl::string_view sealed);

}  // namespace belfry::client

#endif  // BELFRY_CLIENT_LIB_DOCUMENT_CRYPTO_H_
