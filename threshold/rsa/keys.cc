#include "threshold/rsa/keys.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "threshold/internal/errors.h"
#include "threshold/internal/proto_fields.h"
#include "threshold/rsa/internal/bignum.h"
#include "threshold/rsa/internal/key_share_access.h"
#include "threshold/shamir.h"

namespace belfry::threshold::rsa {
namespace {

using internal::BnCopy;
using internal::BnCtxPtr;
using internal::BnFromBytes;
using internal::BnFromWord;
using internal::BnPtr;
using internal::BnToBytes;
using internal::ElementField;
using internal::NewBn;
using internal::NewBnCtx;
using internal::NewSecretBn;
using threshold::internal::MakeError;

absl::Status CheckParameters(size_t n, uint32_t f) {
  if (n == 0 || n > kParticipantsMax || f >= n) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("(n, f) = (", n, ", ", f, ") is outside 0 <= f < n <= ", kParticipantsMax));
  }
  return absl::OkStatus();
}

absl::Status CheckVersion(uint32_t version) {
  if (version != kKeyFormatVersion) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("format version ", version, "; this build reads version ", kKeyFormatVersion));
  }
  return absl::OkStatus();
}

absl::Status CheckModulusBits(int bits) {
  if (bits < static_cast<int>(kModulusBitsMin) || bits > static_cast<int>(kModulusBitsMax)) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("the modulus has ", bits, " bits; allowed are ", kModulusBitsMin, "..",
                                  kModulusBitsMax));
  }
  return absl::OkStatus();
}

// The modulus as it is stored: big-endian, no leading zero byte, odd, of an allowed size.
absl::StatusOr<BnPtr> ModulusField(ByteSpan bytes) {
  if (bytes.size() > kModulusBytesMax) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("the modulus is ", bytes.size(), " bytes; the limit is ", kModulusBytesMax));
  }
  if (!bytes.empty() && bytes[0] == 0) {
    return MakeError(ThresholdError::kMalformed, "the modulus has a leading zero byte");
  }
  BnPtr modulus = BnFromBytes(bytes);
  BELFRY_RETURN_IF_ERROR(CheckModulusBits(BN_num_bits(modulus.get())));
  if (!BN_is_odd(modulus.get())) return MakeError(ThresholdError::kInvalidParameters, "the modulus is even");
  return modulus;
}

// Shoup's combination needs e prime and greater than n, so that gcd(e, 4·n!²) = 1.
absl::Status CheckPublicExponent(uint32_t e, size_t n, BN_CTX* ctx) {
  if (e < 3 || e <= n) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("public exponent ", e, " is not a prime greater than n = ", n));
  }
  const BnPtr e_bn = BnFromWord(e);
  const int prime = BN_check_prime(e_bn.get(), ctx, nullptr);
  BELFRY_CHECK(prime >= 0);
  if (prime == 0) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("public exponent ", e, " is not a prime"));
  }
  return absl::OkStatus();
}

// The modulus, e and v, checked together; returns the modulus.
absl::StatusOr<BnPtr> CheckPublicParts(ByteSpan modulus_bytes, uint32_t e, size_t n, ByteSpan v,
                                       BN_CTX* ctx) {
  BELFRY_ASSIGN_OR_RETURN(BnPtr modulus, ModulusField(modulus_bytes));
  BELFRY_RETURN_IF_ERROR(CheckPublicExponent(e, n, ctx));
  BELFRY_ASSIGN_OR_RETURN(const BnPtr v_bn,
                          ElementField(v, modulus.get(), modulus_bytes.size(), /*unit=*/true,
                                       "verification base", ctx));
  // ±1 has order at most 2, so proofs against it would say nothing about s_i.
  BnPtr minus_one = BnCopy(modulus.get());
  BELFRY_CHECK(BN_sub_word(minus_one.get(), 1) == 1);
  if (BN_is_one(v_bn.get()) || BN_cmp(v_bn.get(), minus_one.get()) == 0) {
    return MakeError(ThresholdError::kMalformed, "the verification base is 1 or -1");
  }
  return modulus;
}

// A value uniformly distributed in [0, bound) up to a bias of 2^-128, from `rng`.
BnPtr RandomBelow(const BIGNUM* bound, Rng& rng, BN_CTX* ctx) {
  Bytes wide(internal::BytesForBits(static_cast<size_t>(BN_num_bits(bound))) + 16);
  rng.Fill(wide);
  BnPtr value = internal::SecretBnFromBytes(wide);
  SecureWipe(wide.data(), wide.size());
  BELFRY_CHECK(BN_nnmod(value.get(), value.get(), bound, ctx) == 1);
  return value;
}

// (p - 1) / 2.
BnPtr HalfBelow(const BIGNUM* p) {
  BnPtr half = NewSecretBn();
  BELFRY_CHECK(BN_rshift1(half.get(), p) == 1);
  return half;
}

absl::Status CheckSafePrime(const BIGNUM* p, const BIGNUM* half, size_t n, std::string_view name,
                            BN_CTX* ctx) {
  const int p_prime = BN_check_prime(p, ctx, nullptr);
  const int half_prime = BN_check_prime(half, ctx, nullptr);
  BELFRY_CHECK(p_prime >= 0 && half_prime >= 0);
  if (p_prime == 0 || half_prime == 0) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat(threshold::internal::Absl(name), " is not a safe prime"));
  }
  // Every prime factor of m = p'q' must exceed n, so that n! is invertible modulo m.
  if (BN_cmp(half, BnFromWord(n).get()) <= 0) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat(threshold::internal::Absl(name), " is too small for n = ", n));
  }
  return absl::OkStatus();
}

// The dealer proper, over checked parameters and candidate primes.
absl::StatusOr<DealtKeySet> DealFromBns(uint32_t n, uint32_t f, const BIGNUM* p, const BIGNUM* q, Rng& rng) {
  BnCtxPtr ctx = NewBnCtx();
  if (BN_cmp(p, q) == 0) return MakeError(ThresholdError::kInvalidParameters, "p and q are equal");
  const BnPtr p_half = HalfBelow(p);
  const BnPtr q_half = HalfBelow(q);
  BELFRY_RETURN_IF_ERROR(CheckSafePrime(p, p_half.get(), n, "p", ctx.get()));
  BELFRY_RETURN_IF_ERROR(CheckSafePrime(q, q_half.get(), n, "q", ctx.get()));
  BnPtr modulus = NewBn();
  BELFRY_CHECK(BN_mul(modulus.get(), p, q, ctx.get()) == 1);
  BELFRY_RETURN_IF_ERROR(CheckModulusBits(BN_num_bits(modulus.get())));
  BELFRY_RETURN_IF_ERROR(CheckPublicExponent(kPublicExponent, n, ctx.get()));
  const size_t modulus_bytes = internal::BytesForBits(static_cast<size_t>(BN_num_bits(modulus.get())));

  BnPtr m = NewSecretBn();
  BELFRY_CHECK(BN_mul(m.get(), p_half.get(), q_half.get(), ctx.get()) == 1);
  const BnPtr e = BnFromWord(kPublicExponent);
  BnPtr d = NewSecretBn();
  if (BN_mod_inverse(d.get(), e.get(), m.get(), ctx.get()) == nullptr) {
    ERR_clear_error();
    return MakeError(ThresholdError::kInvalidParameters, "e is not invertible modulo p'q'");
  }

  // P(X) = d + a_1 X + ... + a_f X^f over Z_m; coefficients[k] = a_k.
  std::vector<BnPtr> coefficients;
  coefficients.push_back(std::move(d));
  for (uint32_t k = 1; k <= f; ++k) coefficients.push_back(RandomBelow(m.get(), rng, ctx.get()));

  // v = u² for a random unit u, a random square: it generates the squares with
  // overwhelming probability (their group is cyclic of order p'q').
  BnPtr v = NewBn();
  for (;;) {
    const BnPtr u = RandomBelow(modulus.get(), rng, ctx.get());
    BnPtr gcd = NewBn();
    BELFRY_CHECK(BN_gcd(gcd.get(), u.get(), modulus.get(), ctx.get()) == 1);
    if (!BN_is_one(gcd.get())) continue;
    BELFRY_CHECK(BN_mod_sqr(v.get(), u.get(), modulus.get(), ctx.get()) == 1);
    if (!BN_is_one(v.get())) break;
  }

  std::vector<Bytes> secrets;
  std::vector<Bytes> verification_keys;
  BnPtr s = NewSecretBn();
  BnPtr vk = NewBn();
  for (uint32_t i = 1; i <= n; ++i) {
    // Horner: s = (((a_f·i + a_{f-1})·i + ...)·i + a_0) mod m.
    BELFRY_CHECK(BN_copy(s.get(), coefficients[f].get()) != nullptr);
    for (uint32_t k = f; k-- > 0;) {
      BELFRY_CHECK(BN_mul_word(s.get(), i) == 1);
      BELFRY_CHECK(BN_add(s.get(), s.get(), coefficients[k].get()) == 1);
      BELFRY_CHECK(BN_nnmod(s.get(), s.get(), m.get(), ctx.get()) == 1);
    }
    internal::ModExpSecret(vk.get(), v.get(), s.get(), modulus.get(), ctx.get(), nullptr);
    secrets.push_back(BnToBytes(s.get(), modulus_bytes));
    verification_keys.push_back(BnToBytes(vk.get(), modulus_bytes));
  }

  absl::StatusOr<PublicKeySet> keys =
      PublicKeySet::Create(f, BnToBytes(modulus.get(), modulus_bytes), kPublicExponent,
                           BnToBytes(v.get(), modulus_bytes), std::move(verification_keys));
  if (!keys.ok()) {
    for (Bytes& secret : secrets) SecureWipe(secret.data(), secret.size());
    return keys.status();
  }
  DealtKeySet dealt{std::move(*keys), {}};
  for (uint32_t i = 1; i <= n; ++i) {
    dealt.shares.push_back(
        internal::KeyShareAccess::Make(n, f, i, dealt.public_keys, std::move(secrets[i - 1])));
  }
  return dealt;
}

}  // namespace

void EvpPkeyFree::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

absl::StatusOr<PublicKeySet> PublicKeySet::Create(uint32_t f, Bytes modulus, uint32_t public_exponent,
                                                  Bytes verification_base,
                                                  std::vector<Bytes> verification_keys) {
  BELFRY_RETURN_IF_ERROR(CheckParameters(verification_keys.size(), f));
  BnCtxPtr ctx = NewBnCtx();
  BELFRY_ASSIGN_OR_RETURN(const BnPtr modulus_bn,
                          CheckPublicParts(modulus, public_exponent, verification_keys.size(),
                                           verification_base, ctx.get()));
  for (size_t i = 0; i < verification_keys.size(); ++i) {
    BELFRY_RETURN_IF_ERROR(ElementField(verification_keys[i], modulus_bn.get(), modulus.size(), /*unit=*/true,
                                        absl::StrCat("verification key ", i + 1), ctx.get())
                               .status());
  }
  PublicKeySet keys;
  keys.f_ = f;
  keys.modulus_bits_ = static_cast<uint32_t>(BN_num_bits(modulus_bn.get()));
  keys.modulus_ = std::move(modulus);
  keys.public_exponent_ = public_exponent;
  keys.verification_base_ = std::move(verification_base);
  keys.verification_keys_ = std::move(verification_keys);
  return keys;
}

const Bytes& PublicKeySet::verification_key(uint32_t index) const {
  BELFRY_CHECK(HasIndex(index));
  return verification_keys_[index - 1];
}

absl::StatusOr<EvpPkeyPtr> PublicKeySet::ToEvpPkey() const {
  const BnPtr n = BnFromBytes(modulus_);
  const BnPtr e = BnFromWord(public_exponent_);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> builder(OSSL_PARAM_BLD_new(),
                                                                           &OSSL_PARAM_BLD_free);
  BELFRY_CHECK(builder != nullptr);
  BELFRY_CHECK(OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) == 1);
  BELFRY_CHECK(OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) == 1);
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(builder.get()),
                                                                 &OSSL_PARAM_free);
  BELFRY_CHECK(params != nullptr);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return absl::InternalError("OpenSSL refused to build the RSA public key");
  }
  return EvpPkeyPtr(raw);
}

absl::StatusOr<Bytes> PublicKeySet::SubjectPublicKeyInfoDer() const {
  BELFRY_ASSIGN_OR_RETURN(const EvpPkeyPtr key, ToEvpPkey());
  const int size = i2d_PUBKEY(key.get(), nullptr);
  if (size <= 0) {
    ERR_clear_error();
    return absl::InternalError("OpenSSL cannot encode the RSA public key");
  }
  Bytes der(static_cast<size_t>(size));
  uint8_t* out = der.data();
  BELFRY_CHECK(i2d_PUBKEY(key.get(), &out) == size);
  return der;
}

void PublicKeySet::ToProto(pb::ThresholdRsaPublicKeySet* out) const {
  out->Clear();
  out->set_format_version(kKeyFormatVersion);
  out->set_n(n());
  out->set_f(f_);
  threshold::internal::AssignBytes(out->mutable_modulus(), modulus_);
  out->set_public_exponent(public_exponent_);
  threshold::internal::AssignBytes(out->mutable_verification_base(), verification_base_);
  for (const Bytes& key : verification_keys_) {
    threshold::internal::AssignBytes(out->add_verification_keys(), key);
  }
}

absl::StatusOr<PublicKeySet> PublicKeySet::FromProto(const pb::ThresholdRsaPublicKeySet& in) {
  BELFRY_RETURN_IF_ERROR(threshold::internal::CheckNoUnknownFields(in, "RSA public key set"));
  BELFRY_RETURN_IF_ERROR(CheckVersion(in.format_version()));
  if (in.n() != static_cast<uint32_t>(in.verification_keys_size())) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("RSA public key set says n = ", in.n(), " but holds ",
                                  in.verification_keys_size(), " verification keys"));
  }
  std::vector<Bytes> verification_keys;
  verification_keys.reserve(static_cast<size_t>(in.verification_keys_size()));
  for (const std::string& key : in.verification_keys()) verification_keys.emplace_back(key.begin(), key.end());
  return Create(in.f(), Bytes(in.modulus().begin(), in.modulus().end()), in.public_exponent(),
                Bytes(in.verification_base().begin(), in.verification_base().end()),
                std::move(verification_keys));
}

std::string PublicKeySet::Serialize() const {
  pb::ThresholdRsaPublicKeySet proto;
  ToProto(&proto);
  return threshold::internal::SerializeDeterministic(proto);
}

absl::StatusOr<PublicKeySet> PublicKeySet::Parse(ByteSpan bytes) {
  pb::ThresholdRsaPublicKeySet proto;
  BELFRY_RETURN_IF_ERROR(
      threshold::internal::ParseBounded(bytes, kPublicKeySetBytesMax, &proto, "RSA public key set"));
  return FromProto(proto);
}

KeyShare::~KeyShare() { SecureWipe(secret_.data(), secret_.size()); }

KeyShare& KeyShare::operator=(KeyShare&& other) noexcept {
  if (this != &other) {
    // The vector's move assignment frees the old buffer without wiping it.
    SecureWipe(secret_.data(), secret_.size());
    n_ = other.n_;
    f_ = other.f_;
    index_ = other.index_;
    modulus_ = std::move(other.modulus_);
    public_exponent_ = other.public_exponent_;
    verification_base_ = std::move(other.verification_base_);
    verification_key_ = std::move(other.verification_key_);
    secret_ = std::move(other.secret_);
  }
  return *this;
}

absl::StatusOr<KeyShare> KeyShare::FromProto(const pb::ThresholdRsaSecretKeyShare& in) {
  BELFRY_RETURN_IF_ERROR(threshold::internal::CheckNoUnknownFields(in, "RSA key share"));
  BELFRY_RETURN_IF_ERROR(CheckVersion(in.format_version()));
  BELFRY_RETURN_IF_ERROR(CheckParameters(in.n(), in.f()));
  if (in.index() < 1 || in.index() > in.n()) {
    return MakeError(ThresholdError::kIndexOutOfRange,
                     absl::StrCat("share index ", in.index(), " is outside 1..", in.n()));
  }
  BnCtxPtr ctx = NewBnCtx();
  BELFRY_ASSIGN_OR_RETURN(const BnPtr modulus,
                          CheckPublicParts(AsBytes(in.modulus()), in.public_exponent(), in.n(),
                                           AsBytes(in.verification_base()), ctx.get()));
  const size_t modulus_bytes = in.modulus().size();
  BELFRY_ASSIGN_OR_RETURN(const BnPtr vk, ElementField(AsBytes(in.verification_key()), modulus.get(),
                                                       modulus_bytes, /*unit=*/true, "verification key",
                                                       ctx.get()));
  if (in.secret().size() != modulus_bytes) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("the secret is ", in.secret().size(), " bytes; the modulus is ",
                                  modulus_bytes));
  }
  const BnPtr secret = internal::SecretBnFromBytes(AsBytes(in.secret()));
  if (BN_cmp(secret.get(), modulus.get()) >= 0) {
    return MakeError(ThresholdError::kMalformed, "the secret is not below the modulus");
  }
  const BnPtr v = BnFromBytes(AsBytes(in.verification_base()));
  BnPtr expected = NewBn();
  internal::ModExpSecret(expected.get(), v.get(), secret.get(), modulus.get(), ctx.get(), nullptr);
  if (BN_cmp(expected.get(), vk.get()) != 0) {
    return MakeError(ThresholdError::kKeyMismatch, "the secret does not match its verification key");
  }
  KeyShare share;
  share.n_ = in.n();
  share.f_ = in.f();
  share.index_ = in.index();
  share.modulus_.assign(in.modulus().begin(), in.modulus().end());
  share.public_exponent_ = in.public_exponent();
  share.verification_base_.assign(in.verification_base().begin(), in.verification_base().end());
  share.verification_key_.assign(in.verification_key().begin(), in.verification_key().end());
  share.secret_.assign(in.secret().begin(), in.secret().end());
  return share;
}

absl::Status CheckKeyShareMatches(const KeyShare& share, const PublicKeySet& keys) {
  if (share.n() != keys.n() || share.f() != keys.f()) {
    return MakeError(ThresholdError::kKeyMismatch,
                     absl::StrCat("RSA key share is for n=", share.n(), " f=", share.f(), ", the key set for n=",
                                  keys.n(), " f=", keys.f()));
  }
  if (share.modulus() != keys.modulus() || share.public_exponent() != keys.public_exponent() ||
      share.verification_base() != keys.verification_base()) {
    return MakeError(ThresholdError::kKeyMismatch, "RSA key share belongs to another key set");
  }
  if (share.verification_key() != keys.verification_key(share.index())) {
    return MakeError(ThresholdError::kKeyMismatch,
                     absl::StrCat("RSA key share ", share.index(), " does not match the set's verification key"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DealtKeySet> Deal(uint32_t n, uint32_t f, uint32_t modulus_bits, Rng& rng) {
  BELFRY_RETURN_IF_ERROR(CheckParameters(n, f));
  BELFRY_RETURN_IF_ERROR(CheckModulusBits(static_cast<int>(modulus_bits)));
  if (modulus_bits % 2 != 0) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("modulus size ", modulus_bits, " is odd; p and q get half each"));
  }
  BnCtxPtr ctx = NewBnCtx();
  BnPtr p = NewSecretBn();
  BnPtr q = NewSecretBn();
  BnPtr product = NewSecretBn();
  // OpenSSL sets the top two bits of each prime, so the product has exactly modulus_bits
  // bits; the loop guards that and p != q rather than trusting it.
  do {
    if (BN_generate_prime_ex(p.get(), static_cast<int>(modulus_bits / 2), /*safe=*/1, nullptr, nullptr,
                             nullptr) != 1 ||
        BN_generate_prime_ex(q.get(), static_cast<int>(modulus_bits / 2), /*safe=*/1, nullptr, nullptr,
                             nullptr) != 1) {
      ERR_clear_error();
      return absl::InternalError("OpenSSL failed to generate a safe prime");
    }
    BELFRY_CHECK(BN_mul(product.get(), p.get(), q.get(), ctx.get()) == 1);
  } while (BN_cmp(p.get(), q.get()) == 0 || BN_num_bits(product.get()) != static_cast<int>(modulus_bits));
  return DealFromBns(n, f, p.get(), q.get(), rng);
}

absl::StatusOr<DealtKeySet> DealFromPrimes(uint32_t n, uint32_t f, ByteSpan p, ByteSpan q, Rng& rng) {
  BELFRY_RETURN_IF_ERROR(CheckParameters(n, f));
  if (p.size() > kModulusBytesMax || q.size() > kModulusBytesMax) {
    return MakeError(ThresholdError::kInvalidParameters, "a prime is longer than the largest modulus");
  }
  const BnPtr p_bn = internal::SecretBnFromBytes(p);
  const BnPtr q_bn = internal::SecretBnFromBytes(q);
  return DealFromBns(n, f, p_bn.get(), q_bn.get(), rng);
}

namespace internal {

KeyShare KeyShareAccess::Make(uint32_t n, uint32_t f, uint32_t index, const PublicKeySet& keys, Bytes secret) {
  KeyShare share;
  share.n_ = n;
  share.f_ = f;
  share.index_ = index;
  share.modulus_ = keys.modulus();
  share.public_exponent_ = keys.public_exponent();
  share.verification_base_ = keys.verification_base();
  share.verification_key_ = keys.verification_key(index);
  share.secret_ = std::move(secret);
  return share;
}

void KeyShareAccess::ToProto(const KeyShare& share, pb::ThresholdRsaSecretKeyShare* out) {
  out->Clear();
  out->set_format_version(kKeyFormatVersion);
  out->set_n(share.n_);
  out->set_f(share.f_);
  out->set_index(share.index_);
  threshold::internal::AssignBytes(out->mutable_modulus(), share.modulus_);
  out->set_public_exponent(share.public_exponent_);
  threshold::internal::AssignBytes(out->mutable_verification_base(), share.verification_base_);
  threshold::internal::AssignBytes(out->mutable_verification_key(), share.verification_key_);
  threshold::internal::AssignBytes(out->mutable_secret(), share.secret_);
}

void WipeSecretField(pb::ThresholdRsaSecretKeyShare* proto) {
  std::string* secret = proto->mutable_secret();
  SecureWipe(secret->data(), secret->size());
  secret->clear();
}

absl::StatusOr<BnPtr> ElementField(ByteSpan bytes, const BIGNUM* modulus, size_t modulus_bytes, bool unit,
                                   std::string_view what, BN_CTX* ctx) {
  const absl::string_view name = threshold::internal::Absl(what);
  if (bytes.size() != modulus_bytes) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat(name, " is ", bytes.size(), " bytes; the modulus is ", modulus_bytes));
  }
  BnPtr value = BnFromBytes(bytes);
  if (BN_is_zero(value.get()) || BN_cmp(value.get(), modulus) >= 0) {
    return MakeError(ThresholdError::kMalformed, absl::StrCat(name, " is not in 1..modulus-1"));
  }
  if (unit) {
    BnPtr gcd = NewBn();
    BELFRY_CHECK(BN_gcd(gcd.get(), value.get(), modulus, ctx) == 1);
    if (!BN_is_one(gcd.get())) {
      return MakeError(ThresholdError::kMalformed, absl::StrCat(name, " shares a factor with the modulus"));
    }
  }
  return value;
}

}  // namespace internal
}  // namespace belfry::threshold::rsa
