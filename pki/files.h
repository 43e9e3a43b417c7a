// pki/files.h — reading and writing the small files that hold keys and certificates.
//
// Key files must never be readable by anyone but their owner, not even for an instant, so
// they are created with mode 0600 from the first system call (never widened later) and
// replaced atomically (write a fresh temporary file, fsync, rename), so a crash leaves
// either the old file or the new one and never a half-written key.
#ifndef BELFRY_PKI_FILES_H_
#define BELFRY_PKI_FILES_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry::pki {

// Upper bound for any PEM file Belfry reads (certificates, keys, CA bundles, CRLs).
inline constexpr size_t kPemFileBytesMax = size_t{1} << 20;

// Reads the whole file at `path`. NOT_FOUND if it does not exist, OUT_OF_RANGE if it is
// larger than `bytes_max` (checked before reading), INTERNAL for other I/O errors. The
// returned string is the caller's; for secrets, wrap it in a SecretString (pki/key.h).
absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t bytes_max);

// ReadFileBounded for a private key (TLS and user keys, ca.key): the same rule as key
// share files (threshold/key_file.h). FAILED_PRECONDITION "PATH has mode 0644; a private
// key file must not be accessible to group or others (use 0600)" when group or others have
// any access, checked on the open file before a byte is read.
absl::StatusOr<std::string> ReadPrivateFileBounded(const std::string& path, size_t bytes_max);

// Writes `data` to `path` atomically with exactly `mode` (e.g. 0600): a temporary file in
// the same folder is created with O_EXCL and `mode`, written, fsynced and renamed over
// `path`, then the folder is fsynced. Never follows a symlink at the temporary name. On
// failure the temporary file is removed and `path` is unchanged. Thread-compatible.
absl::Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode);

// WriteFileAtomically with mode 0600 (private keys, key shares).
absl::Status WritePrivateFile(const std::string& path, std::string_view data);

// WriteFileAtomically with mode 0644 (certificates, CA bundles, CRLs).
absl::Status WritePublicFile(const std::string& path, std::string_view data);

}  // namespace belfry::pki

#endif  // BELFRY_PKI_FILES_H_
