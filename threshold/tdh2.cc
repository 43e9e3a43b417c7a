#include "threshold/tdh2.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "threshold/internal/combine.h"
#include "threshold/internal/errors.h"
#include "threshold/internal/key_share_access.h"
#include "threshold/internal/proto_fields.h"
#include "threshold/internal/transcript.h"

namespace belfry::threshold {
namespace {

using internal::MakeError;

absl::Status CheckLabel(std::string_view label) {
  if (label.size() > kLabelBytesMax) {
    return MakeError(ThresholdError::kTooLarge,
                     absl::StrCat("label is ", label.size(), " bytes; the limit is ", kLabelBytesMax));
  }
  return absl::OkStatus();
}

// H1: the 32-byte mask derived from the shared value h^r. The digest is wiped.
std::array<uint8_t, kSymmetricKeyBytes> KeyMask(const Point& shared) {
  internal::Transcript t(internal::kDomainTdh2KeyMask);
  t.Append(shared);
  std::array<uint8_t, 64> digest = t.Finalize();
  std::array<uint8_t, kSymmetricKeyBytes> mask;
  std::copy(digest.begin(), digest.begin() + mask.size(), mask.begin());
  SecureWipe(digest.data(), digest.size());
  return mask;
}

// The validity proof's context: the public key, the label and the masked key (u and ū
// are already in the DLEQ statement).
Bytes CiphertextContext(const Point& public_key, const Ciphertext& ct) {
  ByteWriter w;
  w.LengthPrefixed(public_key.span()).LengthPrefixed(ct.label).LengthPrefixed(ByteSpan(ct.masked_key));
  return w.Take();
}

DleqStatement CiphertextStatement(const Ciphertext& ct) {
  return DleqStatement{Point::Generator(), ct.u, Tdh2SecondGenerator(), ct.u_bar};
}

// A decryption share's proof context: the key set, the share index and the whole
// ciphertext, proof included, so a share is bound to one exact ciphertext.
Bytes ShareContext(const Point& public_key, uint32_t index, const Ciphertext& ct) {
  ByteWriter w;
  w.LengthPrefixed(public_key.span()).U32(index).LengthPrefixed(ct.label);
  w.LengthPrefixed(ByteSpan(ct.masked_key)).LengthPrefixed(ct.u.span()).LengthPrefixed(ct.u_bar.span());
  w.LengthPrefixed(ct.proof.challenge.span()).LengthPrefixed(ct.proof.response.span());
  return w.Take();
}

DleqStatement ShareStatement(const Point& verification_key, const Ciphertext& ct, const Point& value) {
  return DleqStatement{Point::Generator(), verification_key, ct.u, value};
}

}  // namespace

SymmetricKey::~SymmetricKey() { SecureWipe(bytes_.data(), bytes_.size()); }

absl::StatusOr<SymmetricKey> SymmetricKey::FromBytes(ByteSpan bytes) {
  if (bytes.size() != kSymmetricKeyBytes) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("symmetric key is ", bytes.size(), " bytes, expected 32"));
  }
  SymmetricKey key;
  std::copy(bytes.begin(), bytes.end(), key.bytes_.begin());
  return key;
}

SymmetricKey SymmetricKey::Random(Rng& rng) {
  SymmetricKey key;
  rng.Fill(key.bytes_);
  return key;
}

bool operator==(const SymmetricKey& a, const SymmetricKey& b) {
  return ConstantTimeEquals(ByteSpan(a.bytes_), ByteSpan(b.bytes_));
}

const Point& Tdh2SecondGenerator() {
  static const Point* const kGBar = [] {
    internal::Transcript t(internal::kDomainTdh2GBar);
    return new Point(t.FinalizeToPoint());
  }();
  return *kGBar;
}

void Ciphertext::ToProto(pb::Tdh2Ciphertext* out) const {
  out->Clear();
  out->set_label(label);
  internal::AssignBytes(out->mutable_masked_key(), ByteSpan(masked_key));
  internal::AssignBytes(out->mutable_u(), u.span());
  internal::AssignBytes(out->mutable_u_bar(), u_bar.span());
  internal::AssignBytes(out->mutable_challenge(), proof.challenge.span());
  internal::AssignBytes(out->mutable_response(), proof.response.span());
}

absl::StatusOr<Ciphertext> Ciphertext::FromProto(const pb::Tdh2Ciphertext& in) {
  BELFRY_RETURN_IF_ERROR(internal::CheckNoUnknownFields(in, "ciphertext"));
  BELFRY_RETURN_IF_ERROR(CheckLabel(in.label()));
  if (in.masked_key().size() != kSymmetricKeyBytes) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("masked key is ", in.masked_key().size(), " bytes, expected 32"));
  }
  Ciphertext ct;
  ct.label = in.label();
  std::copy(in.masked_key().begin(), in.masked_key().end(), ct.masked_key.begin());
  BELFRY_ASSIGN_OR_RETURN(ct.u, internal::PointField(in.u(), "ciphertext u"));
  BELFRY_ASSIGN_OR_RETURN(ct.u_bar, internal::PointField(in.u_bar(), "ciphertext u_bar"));
  BELFRY_ASSIGN_OR_RETURN(ct.proof.challenge, internal::ScalarField(in.challenge(), "ciphertext challenge"));
  BELFRY_ASSIGN_OR_RETURN(ct.proof.response, internal::ScalarField(in.response(), "ciphertext response"));
  return ct;
}

std::string Ciphertext::Serialize() const {
  pb::Tdh2Ciphertext proto;
  ToProto(&proto);
  return internal::SerializeDeterministic(proto);
}

absl::StatusOr<Ciphertext> Ciphertext::Parse(ByteSpan bytes) {
  pb::Tdh2Ciphertext proto;
  BELFRY_RETURN_IF_ERROR(internal::ParseBounded(bytes, kCiphertextBytesMax, &proto, "ciphertext"));
  return FromProto(proto);
}

void DecryptionShare::ToProto(pb::Tdh2DecryptionShare* out) const {
  out->Clear();
  out->set_index(index);
  internal::AssignBytes(out->mutable_value(), value.span());
  proof.ToProto(out->mutable_proof());
}

absl::StatusOr<DecryptionShare> DecryptionShare::FromProto(const pb::Tdh2DecryptionShare& in) {
  BELFRY_RETURN_IF_ERROR(internal::CheckNoUnknownFields(in, "decryption share"));
  if (in.index() == 0) {
    return MakeError(ThresholdError::kIndexOutOfRange, "decryption share index 0");
  }
  if (!in.has_proof()) return MakeError(ThresholdError::kMalformed, "decryption share has no proof");
  DecryptionShare share;
  share.index = in.index();
  BELFRY_ASSIGN_OR_RETURN(share.value, internal::PointField(in.value(), "decryption share value"));
  BELFRY_ASSIGN_OR_RETURN(share.proof, DleqProof::FromProto(in.proof()));
  return share;
}

std::string DecryptionShare::Serialize() const {
  pb::Tdh2DecryptionShare proto;
  ToProto(&proto);
  return internal::SerializeDeterministic(proto);
}

absl::StatusOr<DecryptionShare> DecryptionShare::Parse(ByteSpan bytes) {
  pb::Tdh2DecryptionShare proto;
  BELFRY_RETURN_IF_ERROR(
      internal::ParseBounded(bytes, kDecryptionShareBytesMax, &proto, "decryption share"));
  return FromProto(proto);
}

absl::StatusOr<Ciphertext> Encrypt(const PublicKeySet& keys, std::string_view label,
                                   const SymmetricKey& key, Rng& rng) {
  BELFRY_RETURN_IF_ERROR(CheckLabel(label));
  const Scalar r = Scalar::Random(rng);
  Ciphertext ct;
  ct.label = std::string(label);
  Point shared = keys.public_key().Mul(r);
  std::array<uint8_t, kSymmetricKeyBytes> mask = KeyMask(shared);
  shared.Wipe();
  for (size_t k = 0; k < mask.size(); ++k) ct.masked_key[k] = key.bytes()[k] ^ mask[k];
  SecureWipe(mask.data(), mask.size());
  ct.u = Point::MulBase(r);
  ct.u_bar = Tdh2SecondGenerator().Mul(r);
  // The proof's nonce is derived from r (fresh and secret) and the statement, as for
  // shares; r's randomness is what makes it unpredictable.
  const Bytes context = CiphertextContext(keys.public_key(), ct);
  ct.proof = ProveDleq(internal::kDomainTdh2CiphertextProof, context, CiphertextStatement(ct), r);
  return ct;
}

absl::Status VerifyCiphertext(const PublicKeySet& keys, const Ciphertext& ct) {
  BELFRY_RETURN_IF_ERROR(CheckLabel(ct.label));
  const Bytes context = CiphertextContext(keys.public_key(), ct);
  if (!VerifyDleq(internal::kDomainTdh2CiphertextProof, context, CiphertextStatement(ct), ct.proof)) {
    return MakeError(ThresholdError::kInvalidCiphertext,
                     "ciphertext's validity proof fails: a component or the label was changed");
  }
  return absl::OkStatus();
}

absl::StatusOr<DecryptionShareProvider> DecryptionShareProvider::Create(KeyShare share,
                                                                        PublicKeySet keys) {
  BELFRY_RETURN_IF_ERROR(CheckKeyShareMatches(share, keys));
  return DecryptionShareProvider(std::move(share), std::move(keys));
}

absl::StatusOr<DecryptionShare> DecryptionShareProvider::MakeShare(
    const Ciphertext& ct, std::string_view authorized_label) const {
  if (ct.label != authorized_label) {
    return MakeError(ThresholdError::kLabelMismatch,
                     "ciphertext's label is not the label this decryption was authorized for");
  }
  // An invalid ciphertext gets no share: this check is what TDH2's chosen-ciphertext
  // security rests on.
  BELFRY_RETURN_IF_ERROR(VerifyCiphertext(keys_, ct));
  const Scalar& secret = internal::KeyShareAccess::Secret(share_);
  DecryptionShare out;
  out.index = share_.index();
  out.value = ct.u.Mul(secret);
  const Bytes context = ShareContext(keys_.public_key(), out.index, ct);
  out.proof = ProveDleq(internal::kDomainTdh2ShareProof, context,
                        ShareStatement(share_.verification_key(), ct, out.value), secret);
  return out;
}

absl::Status VerifyDecryptionShare(const PublicKeySet& keys, const Ciphertext& ct,
                                   const DecryptionShare& share) {
  BELFRY_RETURN_IF_ERROR(CheckLabel(ct.label));
  BELFRY_RETURN_IF_ERROR(internal::CheckShareIndex(keys, share.index));
  const Bytes context = ShareContext(keys.public_key(), share.index, ct);
  const DleqStatement statement = ShareStatement(keys.verification_key(share.index), ct, share.value);
  if (!VerifyDleq(internal::kDomainTdh2ShareProof, context, statement, share.proof)) {
    return MakeError(ThresholdError::kInvalidShareProof,
                     absl::StrCat("decryption share ", share.index, " has an invalid proof for this ciphertext"));
  }
  return absl::OkStatus();
}

absl::Status VerifyDecryptionShareFrom(const PublicKeySet& keys, uint32_t sender_index,
                                       const Ciphertext& ct, const DecryptionShare& share) {
  BELFRY_RETURN_IF_ERROR(internal::CheckSender(sender_index, share.index));
  return VerifyDecryptionShare(keys, ct, share);
}

absl::StatusOr<SymmetricKey> CombineDecryptionShares(const PublicKeySet& keys, const Ciphertext& ct,
                                                     std::span<const DecryptionShare> shares) {
  BELFRY_RETURN_IF_ERROR(CheckLabel(ct.label));
  std::vector<uint32_t> indices;
  std::vector<Point> values;
  indices.reserve(shares.size());
  values.reserve(shares.size());
  for (const DecryptionShare& s : shares) {
    indices.push_back(s.index);
    values.push_back(s.value);
  }
  absl::StatusOr<Point> combined = internal::CombineInExponent(keys, indices, values);
  for (Point& v : values) v.Wipe();  // copies of the shares: f+1 of them open the key
  BELFRY_RETURN_IF_ERROR(combined.status());
  Point shared = *combined;
  combined->Wipe();
  std::array<uint8_t, kSymmetricKeyBytes> plain = KeyMask(shared);
  shared.Wipe();
  for (size_t k = 0; k < plain.size(); ++k) plain[k] ^= ct.masked_key[k];
  absl::StatusOr<SymmetricKey> key = SymmetricKey::FromBytes(ByteSpan(plain));
  SecureWipe(plain.data(), plain.size());
  return key;
}

}  // namespace belfry::threshold
