// threshold/internal/file_io.h — the one way threshold/ writes and reads key files, shared
// by the ristretto255 key files (key_file.h) and the threshold RSA ones (rsa/key_file.h):
// base/files.h's bounded, atomic file I/O, with its failures reported as the
// ThresholdError values threshold/errors.h documents.
#ifndef BELFRY_THRESHOLD_INTERNAL_FILE_IO_H_
#define BELFRY_THRESHOLD_INTERNAL_FILE_IO_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "threshold/key_file.h"

namespace belfry::threshold::internal {

// WriteFileAtomically (base/files.h) of `bytes` to `path` with exactly `mode`: a reader, or
// a restart after a crash, sees the old file or the whole new one, never a torn key; a
// symlink at `path` is refused. Failures: kFileIo with the code errno implies
// (ALREADY_EXISTS for kRefuse over an existing file).
absl::Status WriteKeyFile(const std::string& path, const std::string& bytes, mode_t mode,
                          FileOverwrite overwrite);

// Reads at most bytes_max bytes of a regular file into `out`, never through a symlink.
// With `secret`, refuses a file accessible to group or others (kInsecureFileMode).
// kMalformed for a non-regular file, kTooLarge beyond bytes_max, kFileIo for system-call
// failures. The buffer is sized once, so a secret is never left behind in a reallocated
// buffer; the caller wipes `out`.
absl::Status ReadKeyFile(const std::string& path, size_t bytes_max, bool secret, std::string* out);

// `status` with "path: " prefixed to its message, keeping its code and payload.
absl::Status InFile(const absl::Status& status, const std::string& path);

}  // namespace belfry::threshold::internal

#endif  // BELFRY_THRESHOLD_INTERNAL_FILE_IO_H_
