#include "threshold/coin.h"

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

absl::Status CheckName(std::string_view name) {
  if (name.size() > kCoinNameBytesMax) {
    return MakeError(ThresholdError::kTooLarge,
                     absl::StrCat("coin name is ", name.size(), " bytes; the limit is ", kCoinNameBytesMax));
  }
  return absl::OkStatus();
}

// The DLEQ context: everything the statement's points do not already say.
Bytes ShareContext(const Point& public_key, uint32_t index, std::string_view name) {
  ByteWriter w;
  w.LengthPrefixed(public_key.span()).U32(index).LengthPrefixed(name);
  return w.Take();
}

DleqStatement ShareStatement(const Point& verification_key, const Point& name_point,
                             const Point& value) {
  return DleqStatement{Point::Generator(), verification_key, name_point, value};
}

}  // namespace

void CoinShare::ToProto(pb::ThresholdCoinShare* out) const {
  out->Clear();
  out->set_index(index);
  internal::AssignBytes(out->mutable_value(), value.span());
  proof.ToProto(out->mutable_proof());
}

absl::StatusOr<CoinShare> CoinShare::FromProto(const pb::ThresholdCoinShare& in) {
  BELFRY_RETURN_IF_ERROR(internal::CheckNoUnknownFields(in, "coin share"));
  if (in.index() == 0) {
    return MakeError(ThresholdError::kIndexOutOfRange, "coin share index 0");
  }
  if (!in.has_proof()) return MakeError(ThresholdError::kMalformed, "coin share has no proof");
  CoinShare share;
  share.index = in.index();
  BELFRY_ASSIGN_OR_RETURN(share.value, internal::PointField(in.value(), "coin share value"));
  BELFRY_ASSIGN_OR_RETURN(share.proof, DleqProof::FromProto(in.proof()));
  return share;
}

std::string CoinShare::Serialize() const {
  pb::ThresholdCoinShare proto;
  ToProto(&proto);
  return internal::SerializeDeterministic(proto);
}

absl::StatusOr<CoinShare> CoinShare::Parse(ByteSpan bytes) {
  pb::ThresholdCoinShare proto;
  BELFRY_RETURN_IF_ERROR(internal::ParseBounded(bytes, kCoinShareBytesMax, &proto, "coin share"));
  return FromProto(proto);
}

Point HashCoinName(std::string_view name) {
  internal::Transcript t(internal::kDomainCoinNameToGroup);
  t.Append(name);
  return t.FinalizeToPoint();
}

absl::StatusOr<CoinShare> CoinSigner::MakeShare(std::string_view name) const {
  BELFRY_RETURN_IF_ERROR(CheckName(name));
  const Scalar& secret = internal::KeyShareAccess::Secret(share_);
  const Point name_point = HashCoinName(name);
  CoinShare out;
  out.index = share_.index();
  out.value = name_point.Mul(secret);
  const Bytes context = ShareContext(share_.public_key(), out.index, name);
  out.proof = ProveDleq(internal::kDomainCoinShareProof, context,
                        ShareStatement(share_.verification_key(), name_point, out.value), secret);
  return out;
}

absl::Status VerifyCoinShare(const PublicKeySet& keys, std::string_view name, const CoinShare& share) {
  BELFRY_RETURN_IF_ERROR(CheckName(name));
  BELFRY_RETURN_IF_ERROR(internal::CheckShareIndex(keys, share.index));
  const Bytes context = ShareContext(keys.public_key(), share.index, name);
  const DleqStatement statement =
      ShareStatement(keys.verification_key(share.index), HashCoinName(name), share.value);
  if (!VerifyDleq(internal::kDomainCoinShareProof, context, statement, share.proof)) {
    return MakeError(ThresholdError::kInvalidShareProof,
                     absl::StrCat("coin share ", share.index, " has an invalid proof for this name"));
  }
  return absl::OkStatus();
}

absl::Status VerifyCoinShareFrom(const PublicKeySet& keys, uint32_t sender_index, std::string_view name,
                                 const CoinShare& share) {
  BELFRY_RETURN_IF_ERROR(internal::CheckSender(sender_index, share.index));
  return VerifyCoinShare(keys, name, share);
}

absl::StatusOr<CoinValue> CombineCoin(const PublicKeySet& keys, std::string_view name,
                                      std::span<const CoinShare> shares) {
  BELFRY_RETURN_IF_ERROR(CheckName(name));
  std::vector<uint32_t> indices;
  std::vector<Point> values;
  indices.reserve(shares.size());
  values.reserve(shares.size());
  for (const CoinShare& s : shares) {
    indices.push_back(s.index);
    values.push_back(s.value);
  }
  BELFRY_ASSIGN_OR_RETURN(const Point combined, internal::CombineInExponent(keys, indices, values));
  internal::Transcript t(internal::kDomainCoinValue);
  t.Append(keys.public_key()).Append(name).Append(combined);
  const std::array<uint8_t, 64> digest = t.Finalize();
  CoinValue coin;
  std::copy(digest.begin(), digest.begin() + coin.bytes.size(), coin.bytes.begin());
  return coin;
}

}  // namespace belfry::threshold
