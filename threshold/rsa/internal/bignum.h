// threshold/rsa/internal/bignum.h — owning handles for OpenSSL's BIGNUM and BN_CTX, and the
// fixed-length big-endian encodings threshold/rsa/ stores and hashes.
//
// Every BIGNUM is freed with BN_clear_free, public or not: the cost is a memset, and it
// removes the chance of freeing a secret (p, q, d, s_i, a proof nonce) without wiping it.
// Contexts that hold secret temporaries come from BN_CTX_secure_new, whose pool is cleared
// when freed. An allocation failure inside OpenSSL aborts (BELFRY_CHECK): there is no
// useful way to continue a signing protocol without memory.
#ifndef BELFRY_THRESHOLD_RSA_INTERNAL_BIGNUM_H_
#define BELFRY_THRESHOLD_RSA_INTERNAL_BIGNUM_H_

#include <openssl/bn.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "base/bytes.h"

namespace belfry::threshold::rsa::internal {

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

struct BnCtxFree {
  void operator()(BN_CTX* ctx) const { BN_CTX_free(ctx); }
};
using BnCtxPtr = std::unique_ptr<BN_CTX, BnCtxFree>;

struct BnMontFree {
  void operator()(BN_MONT_CTX* mont) const { BN_MONT_CTX_free(mont); }
};
using BnMontPtr = std::unique_ptr<BN_MONT_CTX, BnMontFree>;

// A fresh zero.
BnPtr NewBn();
// A fresh zero flagged BN_FLG_CONSTTIME, for secrets and values derived from them.
BnPtr NewSecretBn();
BnPtr BnFromWord(uint64_t value);
BnPtr BnCopy(const BIGNUM* bn);
// The unsigned big-endian integer `bytes` encode (leading zeros allowed).
BnPtr BnFromBytes(ByteSpan bytes);
// BnFromBytes with BN_FLG_CONSTTIME set.
BnPtr SecretBnFromBytes(ByteSpan bytes);
// A context whose temporaries are cleared when freed.
BnCtxPtr NewBnCtx();

// `bn` (non-negative) as exactly `size` big-endian bytes; it must fit (checked). Buffers
// that receive a secret are the caller's to wipe.
Bytes BnToBytes(const BIGNUM* bn, size_t size);
// Writes `bn` as exactly out.size() big-endian bytes; it must fit (checked).
void BnToBytesInto(const BIGNUM* bn, std::span<uint8_t> out);

// Bytes needed for an integer of `bits` bits.
inline constexpr size_t BytesForBits(size_t bits) { return (bits + 7) / 8; }

// r = a^p mod m for a secret exponent p (BN_mod_exp_mont_consttime); a must be reduced.
// `mont` may be null.
void ModExpSecret(BIGNUM* r, const BIGNUM* a, const BIGNUM* p, const BIGNUM* m, BN_CTX* ctx,
                  BN_MONT_CTX* mont);
// r = a^p mod m for public a and p (variable time); p may be negative, in which case a must
// be invertible modulo m. Returns false only when it is not.
[[nodiscard]] bool ModExpPublic(BIGNUM* r, const BIGNUM* a, const BIGNUM* p, const BIGNUM* m,
                                BN_CTX* ctx, BN_MONT_CTX* mont);

}  // namespace belfry::threshold::rsa::internal

#endif  // BELFRY_THRESHOLD_RSA_INTERNAL_BIGNUM_H_
