#include "threshold/rsa/signature.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"
#include "base/sha256.h"
#include "base/status.h"
#include "threshold/internal/combine.h"
#include "threshold/internal/errors.h"
#include "threshold/internal/proto_fields.h"
#include "threshold/internal/transcript.h"
#include "threshold/rsa/internal/bignum.h"
#include "threshold/rsa/internal/key_share_access.h"

namespace belfry::threshold::rsa {
namespace {

using internal::BnCtxPtr;
using internal::BnFromBytes;
using internal::BnFromWord;
using internal::BnMontPtr;
using internal::BnPtr;
using internal::BnToBytes;
using internal::BytesForBits;
using internal::ModExpPublic;
using internal::ModExpSecret;
using internal::NewBn;
using internal::NewSecretBn;
using threshold::internal::MakeError;
using threshold::internal::Transcript;

// DER of DigestInfo{sha256, NULL} up to the digest's OCTET STRING contents (RFC 8017
// section 9.2, note 1).
constexpr std::array<uint8_t, 19> kSha256DigestInfoPrefix = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                             0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                             0x01, 0x05, 0x00, 0x04, 0x20};
// RFC 8017 asks for at least eight bytes of 0xFF padding.
constexpr size_t kPaddingBytesMin = 8;

absl::Status CheckMessage(ByteSpan message) {
  if (message.size() > kMessageBytesMax) {
    return MakeError(ThresholdError::kTooLarge,
                     absl::StrCat("message is ", message.size(), " bytes; the limit is ", kMessageBytesMax));
  }
  return absl::OkStatus();
}

// What every operation under one key needs: the modulus with its Montgomery context, Δ.
struct KeyContext {
  BnCtxPtr ctx;
  BnPtr modulus;
  BnMontPtr mont;
  size_t modulus_bytes = 0;
  size_t modulus_bits = 0;
  BnPtr delta;  // n!
  BnPtr e;
};

KeyContext MakeKeyContext(const Bytes& modulus, uint32_t n, uint32_t e) {
  KeyContext k;
  k.ctx = internal::NewBnCtx();
  k.modulus = BnFromBytes(modulus);
  k.mont.reset(BN_MONT_CTX_new());
  BELFRY_CHECK(k.mont != nullptr);
  BELFRY_CHECK(BN_MONT_CTX_set(k.mont.get(), k.modulus.get(), k.ctx.get()) == 1);
  k.modulus_bytes = modulus.size();
  k.modulus_bits = static_cast<size_t>(BN_num_bits(k.modulus.get()));
  k.delta = BnFromWord(1);
  for (uint32_t i = 2; i <= n; ++i) BELFRY_CHECK(BN_mul_word(k.delta.get(), i) == 1);
  k.e = BnFromWord(e);
  return k;
}

BnPtr ModMul(const BIGNUM* a, const BIGNUM* b, const KeyContext& k) {
  BnPtr r = NewBn();
  BELFRY_CHECK(BN_mod_mul(r.get(), a, b, k.modulus.get(), k.ctx.get()) == 1);
  return r;
}

// x, the message's encoding as an integer, and x̃ = x^{4Δ}: the base of share proofs.
struct MessageContext {
  BnPtr x;
  BnPtr x_2delta;  // x^{2Δ}, the base of the share itself
  BnPtr x_tilde;
  Bytes x_tilde_bytes;
};

absl::StatusOr<MessageContext> MakeMessageContext(ByteSpan message, const KeyContext& k) {
  BELFRY_ASSIGN_OR_RETURN(const Bytes encoded, EncodePkcs1Sha256(message, k.modulus_bytes));
  MessageContext m;
  m.x = BnFromBytes(encoded);
  BnPtr two_delta = internal::BnCopy(k.delta.get());
  BELFRY_CHECK(BN_lshift1(two_delta.get(), two_delta.get()) == 1);
  m.x_2delta = NewBn();
  BELFRY_CHECK(ModExpPublic(m.x_2delta.get(), m.x.get(), two_delta.get(), k.modulus.get(), k.ctx.get(),
                            k.mont.get()));
  m.x_tilde = ModMul(m.x_2delta.get(), m.x_2delta.get(), k);
  m.x_tilde_bytes = BnToBytes(m.x_tilde.get(), k.modulus_bytes);
  return m;
}

// The public statement a share proof is about; every field is bound by the challenge.
struct ProofStatement {
  const Bytes& modulus;
  uint32_t public_exponent;
  const Bytes& verification_base;
  uint32_t index;
  const Bytes& verification_key;
  const Bytes& x_tilde;
  Bytes value_squared;  // x_i²
};

void AppendStatement(Transcript& t, const ProofStatement& st) {
  t.Append(st.modulus).AppendU32(st.public_exponent).Append(st.verification_base);
  t.AppendU32(st.index).Append(st.verification_key).Append(st.x_tilde).Append(st.value_squared);
}

Bytes Challenge(const ProofStatement& st, const Bytes& v_commitment, const Bytes& x_commitment) {
  Transcript t(threshold::internal::kDomainRsaShareProof);
  AppendStatement(t, st);
  t.Append(v_commitment).Append(x_commitment);
  const std::array<uint8_t, 64> digest = t.Finalize();
  return Bytes(digest.begin(), digest.begin() + kChallengeBytes);
}

// The proof nonce r < 2^{|n| + 2·L1}: SHA-512 of the secret with the whole statement,
// expanded in counter mode. Unpredictable without s_i, and different for every statement.
BnPtr ProofNonce(const Bytes& secret, const ProofStatement& st, size_t modulus_bits) {
  Transcript seed_transcript(threshold::internal::kDomainRsaShareNonce);
  seed_transcript.Append(secret);
  AppendStatement(seed_transcript, st);
  std::array<uint8_t, 64> seed = seed_transcript.Finalize();

  const size_t nonce_bits = modulus_bits + 2 * kChallengeBits;
  Bytes wide(BytesForBits(nonce_bits));
  size_t filled = 0;
  for (uint32_t counter = 0; filled < wide.size(); ++counter) {
    Transcript block_transcript(threshold::internal::kDomainRsaShareNonceExpand);
    block_transcript.Append(seed).AppendU32(counter);
    std::array<uint8_t, 64> block = block_transcript.Finalize();
    const size_t take = std::min(block.size(), wide.size() - filled);
    std::copy(block.begin(), block.begin() + take, wide.begin() + filled);
    filled += take;
    SecureWipe(block.data(), block.size());
  }
  wide[0] &= static_cast<uint8_t>(0xff >> (wide.size() * 8 - nonce_bits));
  BnPtr nonce = internal::SecretBnFromBytes(wide);
  SecureWipe(wide.data(), wide.size());
  SecureWipe(seed.data(), seed.size());
  return nonce;
}

// The share's value if its encoding fits this key set (kMalformed otherwise). The index
// has been checked.
absl::StatusOr<BnPtr> CheckShareEncoding(const KeyContext& k, const SignatureShare& share) {
  if (share.challenge.size() != kChallengeBytes) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("signature share ", share.index, " has a ", share.challenge.size(),
                                  "-byte challenge; it must be ", kChallengeBytes));
  }
  if (share.response.size() != ResponseBytes(k.modulus_bits)) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("signature share ", share.index, " has a ", share.response.size(),
                                  "-byte response; this modulus needs ", ResponseBytes(k.modulus_bits)));
  }
  return internal::ElementField(share.value, k.modulus.get(), k.modulus_bytes, /*unit=*/false,
                                absl::StrCat("signature share ", share.index, " value"), k.ctx.get());
}

// Shoup's verification: recompute the commitments v^z·v_i^{-c} and x̃^z·(x_i²)^{-c} and
// compare the challenge.
bool ProofHolds(const PublicKeySet& keys, const KeyContext& k, const MessageContext& m,
                const SignatureShare& share, const BIGNUM* value) {
  const BnPtr value_squared = ModMul(value, value, k);
  const ProofStatement st{keys.modulus(),
                          keys.public_exponent(),
                          keys.verification_base(),
                          share.index,
                          keys.verification_key(share.index),
                          m.x_tilde_bytes,
                          BnToBytes(value_squared.get(), k.modulus_bytes)};
  const BnPtr z = BnFromBytes(share.response);
  BnPtr minus_c = BnFromBytes(share.challenge);
  BN_set_negative(minus_c.get(), 1);
  const BnPtr v = BnFromBytes(keys.verification_base());
  const BnPtr v_i = BnFromBytes(keys.verification_key(share.index));

  BnPtr v_z = NewBn();
  BnPtr v_i_minus_c = NewBn();
  BnPtr x_z = NewBn();
  BnPtr value_minus_c = NewBn();
  if (!ModExpPublic(v_z.get(), v.get(), z.get(), k.modulus.get(), k.ctx.get(), k.mont.get()) ||
      !ModExpPublic(v_i_minus_c.get(), v_i.get(), minus_c.get(), k.modulus.get(), k.ctx.get(), k.mont.get()) ||
      !ModExpPublic(x_z.get(), m.x_tilde.get(), z.get(), k.modulus.get(), k.ctx.get(), k.mont.get()) ||
      !ModExpPublic(value_minus_c.get(), value_squared.get(), minus_c.get(), k.modulus.get(), k.ctx.get(),
                    k.mont.get())) {
    return false;  // a value sharing a factor with the modulus is never an honest share
  }
  const BnPtr v_commitment = ModMul(v_z.get(), v_i_minus_c.get(), k);
  const BnPtr x_commitment = ModMul(x_z.get(), value_minus_c.get(), k);
  // Challenges are public, so an ordinary comparison leaks nothing.
  return Challenge(st, BnToBytes(v_commitment.get(), k.modulus_bytes),
                   BnToBytes(x_commitment.get(), k.modulus_bytes)) == share.challenge;
}

// λ_j = Δ·Π_{j'∈S, j'≠j} j' / (j' − j): Shoup's integer Lagrange coefficient at zero.
BnPtr LagrangeTimesDelta(std::span<const uint32_t> indices, uint32_t j, const KeyContext& k) {
  BnPtr numerator = internal::BnCopy(k.delta.get());
  BnPtr denominator = BnFromWord(1);
  bool negative = false;
  for (const uint32_t other : indices) {
    if (other == j) continue;
    BELFRY_CHECK(BN_mul_word(numerator.get(), other) == 1);
    BELFRY_CHECK(BN_mul_word(denominator.get(), other > j ? other - j : j - other) == 1);
    if (other < j) negative = !negative;
  }
  BnPtr lambda = NewBn();
  BnPtr remainder = NewBn();
  BELFRY_CHECK(BN_div(lambda.get(), remainder.get(), numerator.get(), denominator.get(), k.ctx.get()) == 1);
  BELFRY_CHECK(BN_is_zero(remainder.get()));  // Δ clears every denominator (Shoup, Lemma 1)
  BN_set_negative(lambda.get(), negative ? 1 : 0);
  return lambda;
}

// y = w^a·x^b with w = Π x_j^{2λ_j} and a·4Δ² + b·e = 1, or nullopt if a value is not a
// unit modulo n (then it cannot be an honest share).
std::optional<BnPtr> Interpolate(const KeyContext& k, const MessageContext& m, std::span<const uint32_t> indices,
                                 std::span<const BIGNUM* const> values) {
  BnPtr w = BnFromWord(1);
  BnPtr term = NewBn();
  for (size_t s = 0; s < indices.size(); ++s) {
    BnPtr exponent = LagrangeTimesDelta(indices, indices[s], k);
    BELFRY_CHECK(BN_lshift1(exponent.get(), exponent.get()) == 1);
    if (!ModExpPublic(term.get(), values[s], exponent.get(), k.modulus.get(), k.ctx.get(), k.mont.get())) {
      return std::nullopt;
    }
    w = ModMul(w.get(), term.get(), k);
  }
  // e' = 4Δ²; a = e'^{-1} mod e, so b = (1 − a·e')/e is an exact (non-positive) integer.
  BnPtr e_prime = NewBn();
  BELFRY_CHECK(BN_sqr(e_prime.get(), k.delta.get(), k.ctx.get()) == 1);
  BELFRY_CHECK(BN_lshift(e_prime.get(), e_prime.get(), 2) == 1);
  BnPtr a = NewBn();
  BELFRY_CHECK(BN_mod_inverse(a.get(), e_prime.get(), k.e.get(), k.ctx.get()) != nullptr);
  BnPtr b = NewBn();
  BELFRY_CHECK(BN_mul(b.get(), a.get(), e_prime.get(), k.ctx.get()) == 1);
  BELFRY_CHECK(BN_sub(b.get(), BnFromWord(1).get(), b.get()) == 1);
  BnPtr b_over_e = NewBn();
  BnPtr remainder = NewBn();
  BELFRY_CHECK(BN_div(b_over_e.get(), remainder.get(), b.get(), k.e.get(), k.ctx.get()) == 1);
  BELFRY_CHECK(BN_is_zero(remainder.get()));
  b = std::move(b_over_e);

  BnPtr w_a = NewBn();
  BnPtr x_b = NewBn();
  BELFRY_CHECK(ModExpPublic(w_a.get(), w.get(), a.get(), k.modulus.get(), k.ctx.get(), k.mont.get()));
  if (!ModExpPublic(x_b.get(), m.x.get(), b.get(), k.modulus.get(), k.ctx.get(), k.mont.get())) {
    return std::nullopt;
  }
  return ModMul(w_a.get(), x_b.get(), k);
}

bool IsSignatureOf(const KeyContext& k, const BIGNUM* x, const BIGNUM* y) {
  BnPtr y_e = NewBn();
  BELFRY_CHECK(ModExpPublic(y_e.get(), y, k.e.get(), k.modulus.get(), k.ctx.get(), k.mont.get()));
  return BN_cmp(y_e.get(), x) == 0;
}

// A well-formed share, its value decoded.
struct Candidate {
  const SignatureShare* share;
  BnPtr value;
};

// Interpolates from the first f+1 candidates; the signature, if it verifies.
std::optional<Bytes> TryCombine(const PublicKeySet& keys, const KeyContext& k, const MessageContext& m,
                                std::span<const Candidate* const> candidates) {
  if (candidates.size() < keys.threshold()) return std::nullopt;
  std::vector<uint32_t> indices;
  std::vector<const BIGNUM*> values;
  for (size_t s = 0; s < keys.threshold(); ++s) {
    indices.push_back(candidates[s]->share->index);
    values.push_back(candidates[s]->value.get());
  }
  const std::optional<BnPtr> y = Interpolate(k, m, indices, values);
  if (!y.has_value() || !IsSignatureOf(k, m.x.get(), y->get())) return std::nullopt;
  return BnToBytes(y->get(), k.modulus_bytes);
}

absl::Status CheckIndex(const PublicKeySet& keys, uint32_t index) {
  if (!keys.HasIndex(index)) {
    return MakeError(ThresholdError::kIndexOutOfRange,
                     absl::StrCat("signature share index ", index, " is outside 1..", keys.n()));
  }
  return absl::OkStatus();
}

absl::Status CheckIndicesAndCount(const PublicKeySet& keys, std::span<const SignatureShare> shares) {
  std::vector<uint32_t> indices;
  for (const SignatureShare& share : shares) {
    BELFRY_RETURN_IF_ERROR(CheckIndex(keys, share.index));
    indices.push_back(share.index);
  }
  std::sort(indices.begin(), indices.end());
  if (std::adjacent_find(indices.begin(), indices.end()) != indices.end()) {
    return MakeError(ThresholdError::kDuplicateIndex, "two signature shares carry the same index");
  }
  if (shares.size() < keys.threshold()) {
    return MakeError(ThresholdError::kNotEnoughShares,
                     absl::StrCat(shares.size(), " signature shares given; ", keys.threshold(), " are needed"));
  }
  return absl::OkStatus();
}

}  // namespace

void SignatureShare::ToProto(pb::ThresholdRsaSignatureShare* out) const {
  out->Clear();
  out->set_index(index);
  threshold::internal::AssignBytes(out->mutable_value(), value);
  threshold::internal::AssignBytes(out->mutable_challenge(), challenge);
  threshold::internal::AssignBytes(out->mutable_response(), response);
}

absl::StatusOr<SignatureShare> SignatureShare::FromProto(const pb::ThresholdRsaSignatureShare& in) {
  BELFRY_RETURN_IF_ERROR(threshold::internal::CheckNoUnknownFields(in, "RSA signature share"));
  if (in.index() == 0) return MakeError(ThresholdError::kIndexOutOfRange, "RSA signature share index 0");
  if (in.challenge().size() != kChallengeBytes) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("RSA signature share challenge is ", in.challenge().size(), " bytes; it must be ",
                                  kChallengeBytes));
  }
  if (in.value().empty() || in.value().size() > kModulusBytesMax) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("RSA signature share value is ", in.value().size(), " bytes; it must be 1..",
                                  kModulusBytesMax));
  }
  if (in.response().empty() || in.response().size() > ResponseBytes(kModulusBitsMax)) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("RSA signature share response is ", in.response().size(),
                                  " bytes; it must be 1..", ResponseBytes(kModulusBitsMax)));
  }
  SignatureShare share;
  share.index = in.index();
  share.value.assign(in.value().begin(), in.value().end());
  share.challenge.assign(in.challenge().begin(), in.challenge().end());
  share.response.assign(in.response().begin(), in.response().end());
  return share;
}

std::string SignatureShare::Serialize() const {
  pb::ThresholdRsaSignatureShare proto;
  ToProto(&proto);
  return threshold::internal::SerializeDeterministic(proto);
}

absl::StatusOr<SignatureShare> SignatureShare::Parse(ByteSpan bytes) {
  pb::ThresholdRsaSignatureShare proto;
  BELFRY_RETURN_IF_ERROR(
      threshold::internal::ParseBounded(bytes, kSignatureShareBytesMax, &proto, "RSA signature share"));
  return FromProto(proto);
}

absl::StatusOr<Bytes> EncodePkcs1Sha256(ByteSpan message, size_t modulus_bytes) {
  BELFRY_RETURN_IF_ERROR(CheckMessage(message));
  const size_t t_bytes = kSha256DigestInfoPrefix.size() + 32;
  if (modulus_bytes < t_bytes + 3 + kPaddingBytesMin) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("a ", modulus_bytes, "-byte modulus is too short for PKCS #1 v1.5 with SHA-256"));
  }
  const Sha256Digest digest = Sha256Of(message.data(), message.size());
  Bytes em(modulus_bytes, 0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  const size_t t_start = modulus_bytes - t_bytes;
  em[t_start - 1] = 0x00;
  std::copy(kSha256DigestInfoPrefix.begin(), kSha256DigestInfoPrefix.end(), em.begin() + t_start);
  std::copy(digest.begin(), digest.end(), em.begin() + t_start + kSha256DigestInfoPrefix.size());
  return em;
}

absl::StatusOr<SignatureShare> ShareSigner::MakeShare(ByteSpan message) const {
  BELFRY_RETURN_IF_ERROR(CheckMessage(message));
  const KeyContext k = MakeKeyContext(share_.modulus(), share_.n(), share_.public_exponent());
  BELFRY_ASSIGN_OR_RETURN(const MessageContext m, MakeMessageContext(message, k));
  const Bytes& secret_bytes = internal::KeyShareAccess::Secret(share_);
  const BnPtr secret = internal::SecretBnFromBytes(secret_bytes);

  // x_i = (x^{2Δ})^{s_i}: the public part of the exponent first, the secret part in
  // constant time.
  BnPtr value = NewBn();
  ModExpSecret(value.get(), m.x_2delta.get(), secret.get(), k.modulus.get(), k.ctx.get(), k.mont.get());
  const BnPtr value_squared = ModMul(value.get(), value.get(), k);
  const ProofStatement st{share_.modulus(),
                          share_.public_exponent(),
                          share_.verification_base(),
                          share_.index(),
                          share_.verification_key(),
                          m.x_tilde_bytes,
                          BnToBytes(value_squared.get(), k.modulus_bytes)};

  const BnPtr r = ProofNonce(secret_bytes, st, k.modulus_bits);
  const BnPtr v = BnFromBytes(share_.verification_base());
  BnPtr v_commitment = NewBn();
  BnPtr x_commitment = NewBn();
  ModExpSecret(v_commitment.get(), v.get(), r.get(), k.modulus.get(), k.ctx.get(), k.mont.get());
  ModExpSecret(x_commitment.get(), m.x_tilde.get(), r.get(), k.modulus.get(), k.ctx.get(), k.mont.get());

  SignatureShare out;
  out.index = share_.index();
  out.value = BnToBytes(value.get(), k.modulus_bytes);
  out.challenge = Challenge(st, BnToBytes(v_commitment.get(), k.modulus_bytes),
                            BnToBytes(x_commitment.get(), k.modulus_bytes));
  // z = s_i·c + r over the integers; r is 2·L1 bits longer than s_i·c can reach, so z
  // reveals nothing about s_i beyond a statistical distance of about 2^-128.
  const BnPtr c = BnFromBytes(out.challenge);
  BnPtr z = NewSecretBn();
  BELFRY_CHECK(BN_mul(z.get(), secret.get(), c.get(), k.ctx.get()) == 1);
  BELFRY_CHECK(BN_add(z.get(), z.get(), r.get()) == 1);
  out.response = BnToBytes(z.get(), ResponseBytes(k.modulus_bits));
  return out;
}

absl::Status VerifySignatureShare(const PublicKeySet& keys, ByteSpan message, const SignatureShare& share) {
  BELFRY_RETURN_IF_ERROR(CheckMessage(message));
  BELFRY_RETURN_IF_ERROR(CheckIndex(keys, share.index));
  const KeyContext k = MakeKeyContext(keys.modulus(), keys.n(), keys.public_exponent());
  BELFRY_ASSIGN_OR_RETURN(const BnPtr value, CheckShareEncoding(k, share));
  BELFRY_ASSIGN_OR_RETURN(const MessageContext m, MakeMessageContext(message, k));
  if (!ProofHolds(keys, k, m, share, value.get())) {
    return MakeError(ThresholdError::kInvalidShareProof,
                     absl::StrCat("RSA signature share ", share.index, " has an invalid proof for this message"));
  }
  return absl::OkStatus();
}

absl::Status VerifySignatureShareFrom(const PublicKeySet& keys, uint32_t sender_index, ByteSpan message,
                                      const SignatureShare& share) {
  BELFRY_RETURN_IF_ERROR(threshold::internal::CheckSender(sender_index, share.index));
  return VerifySignatureShare(keys, message, share);
}

CombineResult CombineSignatureShares(const PublicKeySet& keys, ByteSpan message,
                                     std::span<const SignatureShare> shares) {
  CombineResult result{absl::UnknownError("not combined"), {}};
  if (absl::Status s = CheckMessage(message); !s.ok()) {
    result.signature = s;
    return result;
  }
  if (absl::Status s = CheckIndicesAndCount(keys, shares); !s.ok()) {
    result.signature = s;
    return result;
  }
  const KeyContext k = MakeKeyContext(keys.modulus(), keys.n(), keys.public_exponent());
  absl::StatusOr<MessageContext> m = MakeMessageContext(message, k);
  if (!m.ok()) {
    result.signature = m.status();
    return result;
  }

  std::vector<Candidate> well_formed;
  well_formed.reserve(shares.size());
  for (const SignatureShare& share : shares) {
    absl::StatusOr<BnPtr> value = CheckShareEncoding(k, share);
    if (value.ok()) {
      well_formed.push_back(Candidate{&share, std::move(*value)});
    } else {
      result.faulty_indices.push_back(share.index);
    }
  }
  std::vector<const Candidate*> candidates;
  for (const Candidate& c : well_formed) candidates.push_back(&c);

  // Optimistic path: honest shares combine to a signature that verifies, and checking one
  // signature costs far less than checking f+1 proofs.
  if (std::optional<Bytes> signature = TryCombine(keys, k, *m, candidates)) {
    result.signature = std::move(*signature);
    return result;
  }

  std::vector<const Candidate*> good;
  for (const Candidate* c : candidates) {
    if (ProofHolds(keys, k, *m, *c->share, c->value.get())) {
      good.push_back(c);
    } else {
      result.faulty_indices.push_back(c->share->index);
    }
  }
  std::sort(result.faulty_indices.begin(), result.faulty_indices.end());
  if (good.size() < keys.threshold()) {
    result.signature = MakeError(
        ThresholdError::kInvalidShareProof,
        absl::StrCat("RSA signature shares ", absl::StrJoin(result.faulty_indices, ", "), " are invalid; ",
                     good.size(), " valid shares remain and ", keys.threshold(), " are needed"));
    return result;
  }
  if (std::optional<Bytes> signature = TryCombine(keys, k, *m, good)) {
    result.signature = std::move(*signature);
  } else {
    result.signature = MakeError(ThresholdError::kKeyMismatch,
                                 "RSA signature shares with valid proofs do not combine to a valid signature; "
                                 "the public key set does not match the shares");
  }
  return result;
}

absl::Status VerifySignature(const PublicKeySet& keys, ByteSpan message, ByteSpan signature) {
  BELFRY_RETURN_IF_ERROR(CheckMessage(message));
  const KeyContext k = MakeKeyContext(keys.modulus(), keys.n(), keys.public_exponent());
  if (signature.size() != k.modulus_bytes) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("RSA signature is ", signature.size(), " bytes; the modulus is ", k.modulus_bytes));
  }
  const BnPtr y = BnFromBytes(signature);
  if (BN_cmp(y.get(), k.modulus.get()) >= 0) {
    return MakeError(ThresholdError::kMalformed, "RSA signature is not below the modulus");
  }
  BELFRY_ASSIGN_OR_RETURN(const Bytes encoded, EncodePkcs1Sha256(message, k.modulus_bytes));
  if (!IsSignatureOf(k, BnFromBytes(encoded).get(), y.get())) {
    return MakeError(ThresholdError::kInvalidSignature, "RSA signature does not verify for this message");
  }
  return absl::OkStatus();
}

}  // namespace belfry::threshold::rsa
