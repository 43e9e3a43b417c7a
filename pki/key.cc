#include "pki/key.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/files.h"
#include "base/openssl.h"

namespace belfry::pki {

using openssl::BioPtr;
using openssl::EvpMdCtxPtr;
using openssl::EvpPkeyPtr;
using openssl::OpenSslError;

SecretString::SecretString(SecretString&& other) noexcept : value_(other.value_) {
  other.Wipe();
}

SecretString& SecretString::operator=(SecretString&& other) noexcept {
  if (this != &other) {
    Wipe();
    value_ = other.value_;
    other.Wipe();
  }
  return *this;
}

void SecretString::Wipe() {
  SecureWipe(value_.data(), value_.size());
  value_.clear();
}

Ed25519PrivateKey::Ed25519PrivateKey(EVP_PKEY* pkey) : pkey_(pkey) {
  size_t len = public_key_.size();
  // Only called on keys already checked to be Ed25519, whose public half is 32 bytes.
  BELFRY_CHECK(EVP_PKEY_get_raw_public_key(pkey_, public_key_.data(), &len) == 1);
  BELFRY_CHECK(len == public_key_.size());
}

Ed25519PrivateKey::Ed25519PrivateKey(Ed25519PrivateKey&& other) noexcept
    : pkey_(std::exchange(other.pkey_, nullptr)), public_key_(other.public_key_) {}

Ed25519PrivateKey& Ed25519PrivateKey::operator=(Ed25519PrivateKey&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    pkey_ = std::exchange(other.pkey_, nullptr);
    public_key_ = other.public_key_;
  }
  return *this;
}

Ed25519PrivateKey::~Ed25519PrivateKey() { EVP_PKEY_free(pkey_); }

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pkey == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot generate an Ed25519 key");
  }
  return Ed25519PrivateKey(pkey);
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromPem(std::string_view pem) {
  BioPtr bio = openssl::MemoryBio(pem);
  if (!bio) {
    return absl::InvalidArgumentError("private key PEM is too large");
  }
  // An empty passphrase callback result makes an encrypted key fail instead of prompting.
  auto no_passphrase = [](char*, int, int, void*) -> int { return 0; };
  EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot parse the PEM private key");
  }
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("the private key is not an Ed25519 key");
  }
  return Ed25519PrivateKey(pkey.release());
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadPrivateFileBounded(path, kPemFileBytesMax);
  if (!text.ok()) {
    return text.status();
  }
  SecretString secret(std::move(*text));
  absl::StatusOr<Ed25519PrivateKey> key = FromPem(secret.value());
  if (!key.ok()) {
    return absl::Status(key.status().code(), absl::StrCat(path, ": ", key.status().message()));
  }
  return key;
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(
    std::span<const uint8_t, kEd25519SeedBytes> seed) {
  EVP_PKEY* pkey =
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  if (pkey == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot build an Ed25519 key from a seed");
  }
  return Ed25519PrivateKey(pkey);
}

absl::StatusOr<Ed25519Signature> Ed25519PrivateKey::Sign(ByteSpan message) const {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot allocate a signing context");
  }
  // Ed25519 hashes internally (pure EdDSA), so no digest is named.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot start an Ed25519 signature");
  }
  Ed25519Signature sig{};
  size_t sig_len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len, message.data(), message.size()) != 1 ||
      sig_len != sig.size()) {
    return OpenSslError(absl::StatusCode::kInternal, "Ed25519 signing failed");
  }
  return sig;
}

absl::StatusOr<SecretString> Ed25519PrivateKey::ToPem() const {
  // A secure-memory BIO so the PEM text is cleansed when the BIO is freed.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot allocate a BIO");
  }
  if (PEM_write_bio_PrivateKey(bio.get(), pkey_, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode the private key");
  }
  return SecretString(openssl::BioContents(bio.get()));
}

absl::Status Ed25519PrivateKey::ExportSeed(std::span<uint8_t, kEd25519SeedBytes> out) const {
  size_t len = out.size();
  if (EVP_PKEY_get_raw_private_key(pkey_, out.data(), &len) != 1 || len != out.size()) {
    SecureWipe(out.data(), out.size());
    return OpenSslError(absl::StatusCode::kInternal, "cannot export the Ed25519 seed");
  }
  return absl::OkStatus();
}

absl::StatusOr<Ed25519Signature> SignEd25519(std::string_view private_key_pem, ByteSpan message) {
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPem(private_key_pem);
  if (!key.ok()) {
    return key.status();
  }
  return key->Sign(message);
}

bool VerifyEd25519(std::span<const uint8_t, kEd25519PublicKeyBytes> public_key, ByteSpan message,
                   std::span<const uint8_t, kEd25519SignatureBytes> signature) {
  static_assert(crypto_sign_PUBLICKEYBYTES == kEd25519PublicKeyBytes);
  static_assert(crypto_sign_BYTES == kEd25519SignatureBytes);
  BELFRY_CHECK(sodium_init() >= 0);
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     public_key.data()) == 0;
}

}  // namespace belfry::pki
