#include "threshold/internal/file_io.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "threshold/internal/errors.h"

namespace belfry::threshold::internal {
namespace {

// base/files.h's failure in threshold's terms: its own refusals become the matching
// ThresholdError, a failed system call kFileIo with its code and text unchanged.
absl::Status AsThresholdError(const absl::Status& status) {
  if (status.ok()) {
    return status;
  }
  const std::string message(status.message());
  switch (FileRefusalOf(status)) {
    case FileRefusal::kNotRegular:
      return MakeError(ThresholdError::kMalformed, message);
    case FileRefusal::kNotPrivate:
      return MakeError(ThresholdError::kInsecureFileMode, message);
    case FileRefusal::kTooLarge:
      return MakeError(ThresholdError::kTooLarge, message);
    case FileRefusal::kNone:
      break;
  }
  return WithFileIoPayload(status);
}

}  // namespace

absl::Status WriteKeyFile(const std::string& path, const std::string& bytes, mode_t mode,
                          FileOverwrite overwrite) {
  return AsThresholdError(WriteFileAtomically(path, bytes, mode, overwrite));
}

absl::Status ReadKeyFile(const std::string& path, size_t bytes_max, bool secret, std::string* out) {
  FileReadOptions options;
  options.private_file = secret;
  options.refuse_symlink = true;
  options.private_file_kind = "key share file";
  absl::StatusOr<std::string> read = ReadFileBounded(path, bytes_max, options);
  if (!read.ok()) {
    return AsThresholdError(read.status());
  }
  *out = std::move(*read);  // a move: the buffer, and any secret in it, is not copied
  return absl::OkStatus();
}

absl::Status InFile(const absl::Status& status, const std::string& path) {
  if (status.ok()) {
    return status;
  }
  absl::Status out(status.code(), absl::StrCat(path, ": ", status.message()));
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

}  // namespace belfry::threshold::internal
