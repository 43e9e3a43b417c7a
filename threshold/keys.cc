#include "threshold/keys.h"

#include <numeric>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "threshold/internal/errors.h"
#include "threshold/internal/key_share_access.h"
#include "threshold/internal/proto_fields.h"

namespace belfry::threshold {

using internal::MakeError;

namespace {

absl::Status CheckParameters(uint32_t n, uint32_t f) {
  if (n == 0 || n > kParticipantsMax || f >= n) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("need 0 <= f < n <= ", kParticipantsMax, "; got n=", n, " f=", f));
  }
  return absl::OkStatus();
}

absl::Status CheckVersion(uint32_t version) {
  if (version != kKeyFormatVersion) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("key format version ", version, "; this build reads ", kKeyFormatVersion));
  }
  return absl::OkStatus();
}

// Whether all points lie on one degree-f polynomial in the exponent whose value at 0 is
// the public key. The points at 1..f and 0 determine that polynomial, so it suffices that
// each index set {1..f, j} (j = f+1..n) interpolates to the public key at 0.
absl::Status CheckOnOnePolynomial(uint32_t f, const Point& public_key,
                                  const std::vector<Point>& verification_keys) {
  std::vector<uint32_t> indices(f + 1);
  std::iota(indices.begin(), indices.end(), 1u);
  std::vector<Point> values(verification_keys.begin(), verification_keys.begin() + f + 1);
  for (uint32_t j = f + 1; j <= verification_keys.size(); ++j) {
    indices[f] = j;
    values[f] = verification_keys[j - 1];
    BELFRY_ASSIGN_OR_RETURN(const Point at_zero, InterpolateInExponentAtZero(indices, values));
    if (at_zero != public_key) {
      return MakeError(ThresholdError::kKeyMismatch,
                       absl::StrCat("verification key ", j, " is not on the key set's polynomial"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PublicKeySet> PublicKeySet::Create(uint32_t f, Point public_key,
                                                  std::vector<Point> verification_keys) {
  if (verification_keys.size() > kParticipantsMax) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat(verification_keys.size(), " verification keys; the limit is ", kParticipantsMax));
  }
  BELFRY_RETURN_IF_ERROR(CheckParameters(static_cast<uint32_t>(verification_keys.size()), f));
  BELFRY_RETURN_IF_ERROR(CheckOnOnePolynomial(f, public_key, verification_keys));
  return PublicKeySet(f, public_key, std::move(verification_keys));
}

const Point& PublicKeySet::verification_key(uint32_t index) const {
  BELFRY_CHECK(HasIndex(index));
  return verification_keys_[index - 1];
}

void PublicKeySet::ToProto(pb::ThresholdPublicKeySet* out) const {
  out->Clear();
  out->set_format_version(kKeyFormatVersion);
  out->set_n(n());
  out->set_f(f_);
  internal::AssignBytes(out->mutable_public_key(), public_key_.span());
  for (const Point& p : verification_keys_) internal::AssignBytes(out->add_verification_keys(), p.span());
}

absl::StatusOr<PublicKeySet> PublicKeySet::FromProto(const pb::ThresholdPublicKeySet& in) {
  BELFRY_RETURN_IF_ERROR(internal::CheckNoUnknownFields(in, "public key set"));
  BELFRY_RETURN_IF_ERROR(CheckVersion(in.format_version()));
  BELFRY_RETURN_IF_ERROR(CheckParameters(in.n(), in.f()));
  if (static_cast<uint32_t>(in.verification_keys_size()) != in.n()) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("public key set has ", in.verification_keys_size(),
                                  " verification keys for n=", in.n()));
  }
  BELFRY_ASSIGN_OR_RETURN(Point public_key, internal::PointField(in.public_key(), "public key"));
  std::vector<Point> keys;
  keys.reserve(in.n());
  for (int k = 0; k < in.verification_keys_size(); ++k) {
    BELFRY_ASSIGN_OR_RETURN(Point p, internal::PointField(in.verification_keys(k),
                                                          absl::StrCat("verification key ", k + 1)));
    keys.push_back(p);
  }
  return Create(in.f(), public_key, std::move(keys));
}

std::string PublicKeySet::Serialize() const {
  pb::ThresholdPublicKeySet proto;
  ToProto(&proto);
  return internal::SerializeDeterministic(proto);
}

absl::StatusOr<PublicKeySet> PublicKeySet::Parse(ByteSpan bytes) {
  pb::ThresholdPublicKeySet proto;
  BELFRY_RETURN_IF_ERROR(internal::ParseBounded(bytes, kPublicKeySetBytesMax, &proto, "public key set"));
  return FromProto(proto);
}

absl::StatusOr<KeyShare> KeyShare::Create(uint32_t n, uint32_t f, uint32_t index, Scalar secret,
                                          Point public_key) {
  BELFRY_RETURN_IF_ERROR(CheckParameters(n, f));
  if (index < 1 || index > n) {
    return MakeError(ThresholdError::kIndexOutOfRange,
                     absl::StrCat("share index ", index, " is outside 1..", n));
  }
  const Point verification_key = Point::MulBase(secret);
  return internal::KeyShareAccess::Make(n, f, index, std::move(secret), verification_key, public_key);
}

absl::StatusOr<KeyShare> KeyShare::FromProto(const pb::ThresholdSecretKeyShare& in) {
  BELFRY_RETURN_IF_ERROR(internal::CheckNoUnknownFields(in, "key share"));
  BELFRY_RETURN_IF_ERROR(CheckVersion(in.format_version()));
  BELFRY_RETURN_IF_ERROR(CheckParameters(in.n(), in.f()));
  if (in.index() < 1 || in.index() > in.n()) {
    return MakeError(ThresholdError::kIndexOutOfRange,
                     absl::StrCat("share index ", in.index(), " is outside 1..", in.n()));
  }
  BELFRY_ASSIGN_OR_RETURN(Scalar secret, internal::ScalarField(in.secret(), "secret"));
  BELFRY_ASSIGN_OR_RETURN(const Point verification_key,
                          internal::PointField(in.verification_key(), "verification key"));
  BELFRY_ASSIGN_OR_RETURN(const Point public_key, internal::PointField(in.public_key(), "public key"));
  if (Point::MulBase(secret) != verification_key) {
    return MakeError(ThresholdError::kKeyMismatch, "the secret does not match its verification key");
  }
  return internal::KeyShareAccess::Make(in.n(), in.f(), in.index(), std::move(secret),
                                        verification_key, public_key);
}

absl::Status CheckKeyShareMatches(const KeyShare& share, const PublicKeySet& keys) {
  if (share.n() != keys.n() || share.f() != keys.f()) {
    return MakeError(ThresholdError::kKeyMismatch,
                     absl::StrCat("key share is for n=", share.n(), " f=", share.f(),
                                  ", the key set for n=", keys.n(), " f=", keys.f()));
  }
  if (share.public_key() != keys.public_key()) {
    return MakeError(ThresholdError::kKeyMismatch, "key share belongs to another key set");
  }
  if (share.verification_key() != keys.verification_key(share.index())) {
    return MakeError(ThresholdError::kKeyMismatch,
                     absl::StrCat("key share ", share.index(), " does not match the set's verification key"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DealtKeySet> Deal(uint32_t n, uint32_t f, Rng& rng) {
  BELFRY_RETURN_IF_ERROR(CheckParameters(n, f));
  const Scalar secret = Scalar::Random(rng);  // wiped when this frame ends
  BELFRY_ASSIGN_OR_RETURN(std::vector<Scalar> share_secrets, SplitSecret(secret, n, f, rng));
  const Point public_key = Point::MulBase(secret);

  std::vector<Point> verification_keys;
  std::vector<KeyShare> shares;
  verification_keys.reserve(n);
  shares.reserve(n);
  for (uint32_t i = 1; i <= n; ++i) {
    const Point verification_key = Point::MulBase(share_secrets[i - 1]);
    verification_keys.push_back(verification_key);
    shares.push_back(internal::KeyShareAccess::Make(n, f, i, std::move(share_secrets[i - 1]),
                                                    verification_key, public_key));
  }
  return DealtKeySet{PublicKeySet(f, public_key, std::move(verification_keys)), std::move(shares)};
}

namespace internal {

KeyShare KeyShareAccess::Make(uint32_t n, uint32_t f, uint32_t index, Scalar secret,
                              Point verification_key, Point public_key) {
  KeyShare share;
  share.n_ = n;
  share.f_ = f;
  share.index_ = index;
  share.secret_ = std::move(secret);
  share.verification_key_ = verification_key;
  share.public_key_ = public_key;
  return share;
}

void KeyShareAccess::ToProto(const KeyShare& share, pb::ThresholdSecretKeyShare* out) {
  out->Clear();
  out->set_format_version(kKeyFormatVersion);
  out->set_n(share.n_);
  out->set_f(share.f_);
  out->set_index(share.index_);
  internal::AssignBytes(out->mutable_secret(), share.secret_.span());
  internal::AssignBytes(out->mutable_verification_key(), share.verification_key_.span());
  internal::AssignBytes(out->mutable_public_key(), share.public_key_.span());
}

void WipeSecretField(pb::ThresholdSecretKeyShare* proto) {
  std::string* secret = proto->mutable_secret();
  SecureWipe(secret->data(), secret->size());
  secret->clear();
}

}  // namespace internal
}  // namespace belfry::threshold
