#include "base/sha256.h"

#include <openssl/evp.h>

#include "base/check.h"

namespace belfry {
namespace {

// Fetched once: EVP_sha256() per call would repeat the provider lookup.
const EVP_MD* Md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  BELFRY_CHECK(md != nullptr);
  return md;
}

}  // namespace

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  BELFRY_CHECK(ctx_ != nullptr);
  BELFRY_CHECK(EVP_DigestInit_ex(ctx_, Md(), nullptr) == 1);
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(ctx_); }

Sha256Hasher& Sha256Hasher::Update(const void* data, size_t size) {
  BELFRY_CHECK(EVP_DigestUpdate(ctx_, data, size) == 1);
  return *this;
}

Sha256Digest Sha256Hasher::Finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  BELFRY_CHECK(EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1 && len == out.size());
  BELFRY_CHECK(EVP_DigestInit_ex(ctx_, Md(), nullptr) == 1);
  return out;
}

Sha256Digest Sha256Of(const void* data, size_t size) {
  Sha256Digest out{};
  unsigned int len = 0;
  BELFRY_CHECK(EVP_Digest(data, size, out.data(), &len, Md(), nullptr) == 1 && len == out.size());
  return out;
}

}  // namespace belfry
