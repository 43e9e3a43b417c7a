// pki/key.h — Ed25519 private keys, signing, and the matching libsodium verification.
//
// One Ed25519 key pair serves a user both as the TLS client key and as the long-term key
// that signs a login, so the key in the user's certificate is the key that verifies the
// login. OpenSSL signs (it reads the PEM files `belfry-setup` writes); libsodium verifies
// inside the replica from the raw 32-byte public key in the certificate. Both implement
// RFC 8032 "pure" Ed25519 over the whole message, so they agree byte for byte (tested).
//
// Secrets never leave these objects except through ToPem/ExportSeed, whose outputs the
// caller must wipe (SecretString does that on destruction).
#ifndef BELFRY_PKI_KEY_H_
#define BELFRY_PKI_KEY_H_

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace belfry::pki {

inline constexpr size_t kEd25519PublicKeyBytes = 32;
inline constexpr size_t kEd25519SeedBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;

using Ed25519PublicKey = std::array<uint8_t, kEd25519PublicKeyBytes>;
using Ed25519Signature = std::array<uint8_t, kEd25519SignatureBytes>;

// SecretString: a string holding secret text (a PEM private key) that is wiped when it is
// destroyed or moved from. Move-only. Not thread-safe.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(std::move(value)) {}
  // Moves copy then wipe, because a moved-from short std::string keeps its bytes.
  SecretString(SecretString&& other) noexcept;
  SecretString& operator=(SecretString&& other) noexcept;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString() { Wipe(); }

  const std::string& value() const { return value_; }
  // Wipes and empties the string now.
  void Wipe();

 private:
  std::string value_;
};

// Ed25519PrivateKey: an Ed25519 key pair held by OpenSSL (which wipes the private half
// when the key is freed). Move-only. Every const method is thread-safe.
class Ed25519PrivateKey {
 public:
  // A fresh key from OpenSSL's CSPRNG. INTERNAL on an OpenSSL failure.
  static absl::StatusOr<Ed25519PrivateKey> Generate();
  // Parses a PEM private key (PKCS#8 "PRIVATE KEY", as ToPem writes). INVALID_ARGUMENT if
  // it is malformed, encrypted, or not an Ed25519 key.
  static absl::StatusOr<Ed25519PrivateKey> FromPem(std::string_view pem);
  // Reads and parses a PEM key file (at most kPemFileBytesMax); the file text is wiped.
  static absl::StatusOr<Ed25519PrivateKey> FromFile(const std::string& path);
  // The key pair whose RFC 8032 seed is `seed` (libsodium's crypto_sign_seed_keypair
  // derives the same pair from the same seed).
  static absl::StatusOr<Ed25519PrivateKey> FromSeed(std::span<const uint8_t, kEd25519SeedBytes> seed);

  Ed25519PrivateKey(Ed25519PrivateKey&& other) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&& other) noexcept;
  Ed25519PrivateKey(const Ed25519PrivateKey&) = delete;
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey&) = delete;
  ~Ed25519PrivateKey();

  // The raw 32-byte public key (the bytes a certificate for this key carries).
  const Ed25519PublicKey& public_key() const { return public_key_; }

  // A pure Ed25519 signature over `message` (EVP_DigestSign with no digest).
  absl::StatusOr<Ed25519Signature> Sign(ByteSpan message) const;

  // The PKCS#8 PEM encoding. The caller owns the secret text.
  absl::StatusOr<SecretString> ToPem() const;

  // Copies the 32-byte RFC 8032 seed into `out`, for code that signs with libsodium
  // (crypto_sign_seed_keypair). The caller must SecureWipe `out` when done.
  absl::Status ExportSeed(std::span<uint8_t, kEd25519SeedBytes> out) const;

  // Borrowed OpenSSL handle, valid while this object lives (for SSL_CTX_use_PrivateKey
  // and X509_sign). Callers must not free it or change it.
  EVP_PKEY* native_handle() const { return pkey_; }

 private:
  explicit Ed25519PrivateKey(EVP_PKEY* pkey);
  EVP_PKEY* pkey_ = nullptr;
  Ed25519PublicKey public_key_{};
};

// Signs `message` with the PEM private key `private_key_pem` (parsed, used, freed).
absl::StatusOr<Ed25519Signature> SignEd25519(std::string_view private_key_pem, ByteSpan message);

// Verifies a pure Ed25519 signature with libsodium (crypto_sign_verify_detached), as the
// replica does for logins. False for any invalid signature, key or encoding. Thread-safe.
bool VerifyEd25519(std::span<const uint8_t, kEd25519PublicKeyBytes> public_key, ByteSpan message,
                   std::span<const uint8_t, kEd25519SignatureBytes> signature);

}  // namespace belfry::pki

#endif  // BELFRY_PKI_KEY_H_
