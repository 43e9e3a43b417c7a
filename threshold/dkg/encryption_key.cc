#include "threshold/dkg/encryption_key.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "threshold/internal/errors.h"
#include "threshold/internal/file_io.h"
#include "threshold/internal/proto_fields.h"

namespace belfry::threshold::dkg {
namespace {

using internal::MakeError;

void WipeSecret(pb::DkgEncryptionKey* proto) {
  std::string* secret = proto->mutable_secret();
  SecureWipe(secret->data(), secret->size());
  secret->clear();
}

absl::StatusOr<EncryptionKeyPair> FromProto(const pb::DkgEncryptionKey& in) {
  if (in.format_version() != kEncryptionKeyFormatVersion) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("encryption key format version ", in.format_version(),
                                  "; this build reads ", kEncryptionKeyFormatVersion));
  }
  BELFRY_ASSIGN_OR_RETURN(Scalar secret, internal::ScalarField(in.secret(), "secret"));
  BELFRY_ASSIGN_OR_RETURN(const Point public_key,
                          internal::PointField(in.public_key(), "public key"));
  BELFRY_ASSIGN_OR_RETURN(EncryptionKeyPair key, EncryptionKeyPair::FromSecret(std::move(secret)));
  if (key.public_key() != public_key) {
    return MakeError(ThresholdError::kKeyMismatch, "the secret does not match its public key");
  }
  return key;
}

// The body of ReadEncryptionKeyFile; `bytes` is left for the caller to wipe on every path.
absl::StatusOr<EncryptionKeyPair> ReadAndParse(const std::string& path, std::string* bytes) {
  BELFRY_RETURN_IF_ERROR(
      internal::ReadKeyFile(path, kEncryptionKeyFileBytesMax, /*secret=*/true, bytes));
  pb::DkgEncryptionKey proto;
  const absl::Status parsed = internal::ParseBounded(AsBytes(*bytes), kEncryptionKeyFileBytesMax,
                                                     &proto, "encryption key file");
  absl::StatusOr<EncryptionKeyPair> key =
      parsed.ok() ? FromProto(proto) : absl::StatusOr<EncryptionKeyPair>(parsed);
  WipeSecret(&proto);
  return key;
}

}  // namespace

EncryptionKeyPair EncryptionKeyPair::Generate(Rng& rng) {
  Scalar secret = Scalar::Random(rng);
  while (secret.IsZero()) secret = Scalar::Random(rng);
  const Point public_key = Point::MulBase(secret);
  return EncryptionKeyPair(std::move(secret), public_key);
}

absl::StatusOr<EncryptionKeyPair> EncryptionKeyPair::FromSecret(Scalar secret) {
  if (secret.IsZero()) {
    return MakeError(ThresholdError::kMalformed, "an encryption secret of zero");
  }
  const Point public_key = Point::MulBase(secret);
  return EncryptionKeyPair(std::move(secret), public_key);
}

absl::Status WriteEncryptionKeyFile(const std::string& path, const EncryptionKeyPair& key,
                                    FileOverwrite overwrite) {
  pb::DkgEncryptionKey proto;
  proto.set_format_version(kEncryptionKeyFormatVersion);
  internal::AssignBytes(proto.mutable_secret(), key.secret().span());
  internal::AssignBytes(proto.mutable_public_key(), key.public_key().span());
  std::string bytes = internal::SerializeDeterministic(proto);
  WipeSecret(&proto);
  const absl::Status status = internal::WriteKeyFile(path, bytes, 0600, overwrite);
  SecureWipe(bytes.data(), bytes.size());
  return status;
}

absl::StatusOr<EncryptionKeyPair> ReadEncryptionKeyFile(const std::string& path) {
  std::string bytes;
  absl::StatusOr<EncryptionKeyPair> key = ReadAndParse(path, &bytes);
  SecureWipe(bytes.data(), bytes.size());
  if (!key.ok()) return internal::InFile(key.status(), path);
  return key;
}

}  // namespace belfry::threshold::dkg
