#include "client_lib/document_crypto.h"

#include <openssl/evp.h>

#include <memory>

#include "base/check.h"

namespace belfry::client {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const uint8_t* U8(absl::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

DataKey DataKey::Generate(Rng& rng) {
  DataKey k;
  rng.Fill(k.key_);
  return k;
}

DataKey DataKey::FromBytes(const std::array<uint8_t, 32>& bytes) {
  DataKey k;
  k.key_ = bytes;
  return k;
}

DataKey::DataKey(DataKey&& other) noexcept : key_(other.key_) {
  SecureWipe(other.key_.data(), other.key_.size());
}

DataKey& DataKey::operator=(DataKey&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    SecureWipe(other.key_.data(), other.key_.size());
  }
  return *this;
}

DataKey::~DataKey() { SecureWipe(key_.data(), key_.size()); }

std::string SealDocument(const DataKey& key, absl::string_view aad, absl::string_view plaintext,
                         Rng& rng) {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  uint8_t* nonce = reinterpret_cast<uint8_t*>(out.data());
  rng.Fill(std::span<uint8_t>(nonce, kNonceBytes));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  BELFRY_CHECK(ctx != nullptr);
  int len = 0;
  BELFRY_CHECK(EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes().data(), nonce) == 1);
  BELFRY_CHECK(EVP_EncryptUpdate(ctx.get(), nullptr, &len, U8(aad), static_cast<int>(aad.size())) == 1);
  uint8_t* body = nonce + kNonceBytes;
  BELFRY_CHECK(EVP_EncryptUpdate(ctx.get(), body, &len, U8(plaintext),
                                 static_cast<int>(plaintext.size())) == 1);
  BELFRY_CHECK(EVP_EncryptFinal_ex(ctx.get(), body + len, &len) == 1);
  BELFRY_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                   body + plaintext.size()) == 1);
  return out;
}

absl::StatusOr<std::string> OpenDocument(const DataKey& key, absl::string_view aad,
                                         absl::string_view sealed) {
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return absl::InvalidArgumentError("sealed document is shorter than nonce and tag");
  }
  const size_t body_bytes = sealed.size() - kNonceBytes - kTagBytes;
  const uint8_t* nonce = U8(sealed);
  const uint8_t* body = nonce + kNonceBytes;
  std::string tag(sealed.substr(kNonceBytes + body_bytes));
  std::string plain(body_bytes, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  BELFRY_CHECK(ctx != nullptr);
  int len = 0;
  BELFRY_CHECK(EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes().data(), nonce) == 1);
  BELFRY_CHECK(EVP_DecryptUpdate(ctx.get(), nullptr, &len, U8(aad), static_cast<int>(aad.size())) == 1);
  BELFRY_CHECK(EVP_DecryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()), &len, body,
                                 static_cast<int>(body_bytes)) == 1);
  BELFRY_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1);
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()) + len, &final_len) != 1) {
    SecureWipe(plain.data(), plain.size());
    return absl::DataLossError("document does not authenticate under this key and label");
  }
  return plain;
}

}  // namespace belfry::client
