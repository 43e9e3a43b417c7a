// threshold/internal/file_io.h — the one way threshold/ writes and reads key files, shared
// by the ristretto255 key files (key_file.h) and the threshold RSA ones (rsa/key_file.h).
#ifndef BELFRY_THRESHOLD_INTERNAL_FILE_IO_H_
#define BELFRY_THRESHOLD_INTERNAL_FILE_IO_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "threshold/key_file.h"

namespace belfry::threshold::internal {

// Writes `bytes` to `path` with exactly `mode`, atomically: a reader (or a restart after a
// crash) sees the old file or the whole new one, never a torn key. The bytes go to a fresh
// temporary file beside `path` whose mode is set with fchmod before any byte is written (so
// a secret never sits under a wider mode), which is fsynced and then linked (kRefuse: fails
// if `path` exists) or renamed (kReplace) onto `path`, and the directory is fsynced. A
// symlink at `path` is refused, never replaced or followed. Failures: kFileIo, and the
// temporary file is removed.
absl::Status WriteKeyFile(const std::string& path, const std::string& bytes, mode_t mode,
                                FileOverwrite overwrite);

// Reads at most bytes_max bytes of a regular file into `out`. With `secret`, refuses a file
// accessible to group or others (kInsecureFileMode). kMalformed for a non-regular file,
// kTooLarge beyond bytes_max, kFileIo for system-call failures. `out` is sized once, so a
// secret is never left behind in a reallocated buffer; the caller wipes it.
absl::Status ReadKeyFile(const std::string& path, size_t bytes_max, bool secret, std::string* out);

// `status` with "path: " prefixed to its message, keeping its code and payload.
absl::Status InFile(const absl::Status& status, const std::string& path);

}  // namespace belfry::threshold::internal

#endif  // BELFRY_THRESHOLD_INTERNAL_FILE_IO_H_
