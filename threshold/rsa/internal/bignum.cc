#include "threshold/rsa/internal/bignum.h"

#include <openssl/err.h>

#include "base/check.h"

namespace belfry::threshold::rsa::internal {

BnPtr NewBn() {
  BnPtr bn(BN_new());
  BELFRY_CHECK(bn != nullptr);
  return bn;
}

BnPtr NewSecretBn() {
  BnPtr bn(BN_secure_new());
  BELFRY_CHECK(bn != nullptr);
  BN_set_flags(bn.get(), BN_FLG_CONSTTIME);
  return bn;
}

BnPtr BnFromWord(uint64_t value) {
  BnPtr bn = NewBn();
  BELFRY_CHECK(BN_set_word(bn.get(), value) == 1);
  return bn;
}

BnPtr BnCopy(const BIGNUM* bn) {
  BnPtr out(BN_dup(bn));
  BELFRY_CHECK(out != nullptr);
  return out;
}

BnPtr BnFromBytes(ByteSpan bytes) {
  BnPtr bn = NewBn();
  BELFRY_CHECK(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), bn.get()) != nullptr);
  return bn;
}

BnPtr SecretBnFromBytes(ByteSpan bytes) {
  BnPtr bn = NewSecretBn();
  BELFRY_CHECK(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), bn.get()) != nullptr);
  return bn;
}

BnCtxPtr NewBnCtx() {
  BnCtxPtr ctx(BN_CTX_secure_new());
  BELFRY_CHECK(ctx != nullptr);
  return ctx;
}

Bytes BnToBytes(const BIGNUM* bn, size_t size) {
  Bytes out(size);
  BnToBytesInto(bn, out);
  return out;
}

void BnToBytesInto(const BIGNUM* bn, std::span<uint8_t> out) {
  BELFRY_CHECK(!BN_is_negative(bn));
  BELFRY_CHECK(BN_bn2binpad(bn, out.data(), static_cast<int>(out.size())) == static_cast<int>(out.size()));
}

void ModExpSecret(BIGNUM* r, const BIGNUM* a, const BIGNUM* p, const BIGNUM* m, BN_CTX* ctx,
                  BN_MONT_CTX* mont) {
  BELFRY_CHECK(BN_mod_exp_mont_consttime(r, a, p, m, ctx, mont) == 1);
}

bool ModExpPublic(BIGNUM* r, const BIGNUM* a, const BIGNUM* p, const BIGNUM* m, BN_CTX* ctx,
                  BN_MONT_CTX* mont) {
  if (!BN_is_negative(p)) {
    BELFRY_CHECK(BN_mod_exp_mont(r, a, p, m, ctx, mont) == 1);
    return true;
  }
  BnPtr inverse = NewBn();
  if (BN_mod_inverse(inverse.get(), a, m, ctx) == nullptr) {
    ERR_clear_error();
    return false;
  }
  BnPtr magnitude = BnCopy(p);
  BN_set_negative(magnitude.get(), 0);
  BELFRY_CHECK(BN_mod_exp_mont(r, inverse.get(), magnitude.get(), m, ctx, mont) == 1);
  return true;
}

}  // namespace belfry::threshold::rsa::internal
