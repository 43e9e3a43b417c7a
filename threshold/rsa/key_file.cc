#include "threshold/rsa/key_file.h"

#include "base/status.h"
#include "threshold/internal/file_io.h"
#include "threshold/internal/proto_fields.h"
#include "threshold/rsa/internal/key_share_access.h"

namespace belfry::threshold::rsa {
namespace {

using threshold::internal::InFile;
using threshold::internal::ReadKeyFile;
using threshold::internal::WriteKeyFile;

// The body of ReadKeyShareFile; `bytes` is left for the caller to wipe on every path.
absl::StatusOr<KeyShare> ReadAndParseKeyShare(const std::string& path, std::string* bytes) {
  BELFRY_RETURN_IF_ERROR(ReadKeyFile(path, kKeyShareFileBytesMax, /*secret=*/true, bytes));
  pb::ThresholdRsaSecretKeyShare proto;
  const absl::Status parsed =
      threshold::internal::ParseBounded(AsBytes(*bytes), kKeyShareFileBytesMax, &proto, "RSA key share file");
  absl::StatusOr<KeyShare> share = parsed.ok() ? KeyShare::FromProto(proto) : absl::StatusOr<KeyShare>(parsed);
  internal::WipeSecretField(&proto);
  return share;
}

}  // namespace

absl::Status WriteKeyShareFile(const std::string& path, const KeyShare& share, FileOverwrite overwrite) {
  pb::ThresholdRsaSecretKeyShare proto;
  internal::KeyShareAccess::ToProto(share, &proto);
  std::string bytes = threshold::internal::SerializeDeterministic(proto);
  internal::WipeSecretField(&proto);
  const absl::Status status = WriteKeyFile(path, bytes, 0600, overwrite);
  SecureWipe(bytes.data(), bytes.size());
  return status;
}

absl::StatusOr<KeyShare> ReadKeyShareFile(const std::string& path) {
  std::string bytes;
  absl::StatusOr<KeyShare> share = ReadAndParseKeyShare(path, &bytes);
  SecureWipe(bytes.data(), bytes.size());
  if (!share.ok()) return InFile(share.status(), path);
  return share;
}

absl::Status WritePublicKeySetFile(const std::string& path, const PublicKeySet& keys, FileOverwrite overwrite) {
  return WriteKeyFile(path, keys.Serialize(), 0644, overwrite);
}

absl::StatusOr<PublicKeySet> ReadPublicKeySetFile(const std::string& path) {
  std::string bytes;
  absl::Status status = ReadKeyFile(path, kPublicKeySetBytesMax, /*secret=*/false, &bytes);
  if (!status.ok()) return InFile(status, path);
  absl::StatusOr<PublicKeySet> keys = PublicKeySet::Parse(AsBytes(bytes));
  if (!keys.ok()) return InFile(keys.status(), path);
  return keys;
}

}  // namespace belfry::threshold::rsa
