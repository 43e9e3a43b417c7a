// base/files.h — reading and writing the small files that hold keys, key shares,
// certificates and configuration, bounded and atomic.
//
// Key files must never be readable by anyone but their owner, not even for an instant, so
// a file is created with its final mode before a byte is written (never widened later),
// and replaced atomically (a fresh temporary file beside it, fsynced, then renamed or
// linked over it, and the folder fsynced), so a crash leaves either the old file or the
// whole new one, never a torn key. Reads are bounded before they start. pki/ (certificates,
// keys, CRLs) and threshold/ (key share files) both go through here.
//
// Errors are canonical absl codes; a failed system call keeps the code its errno implies
// (absl::ErrnoToStatus: ENOENT is NOT_FOUND, EACCES PERMISSION_DENIED, ...), with
// "WHAT PATH: strerror" as its text.
// Every function is thread-compatible: concurrent writers of one path race as rename does.
#ifndef BELFRY_BASE_FILES_H_
#define BELFRY_BASE_FILES_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry {

// Upper bound for any PEM file Belfry reads (certificates, keys, CA bundles, CRLs).
inline constexpr size_t kPemFileBytesMax = size_t{1} << 20;

// How ReadFileBounded treats the file it opens.
struct FileReadOptions {
  // Refuse a file that group or others may access in any way, checked on the open file
  // before a byte is read.
  bool private_file = false;
  // Refuse a symlink at the path (O_NOFOLLOW) instead of reading what it points to.
  bool refuse_symlink = false;
  // What the refusal of a non-private file calls it ("a private key file must not...").
  std::string_view private_file_kind = "private key file";
};

// Reads the whole regular file at `path`, at most `bytes_max` bytes. Failures: the errno
// code of open/fstat/read ("cannot open PATH: ..."); INVALID_ARGUMENT "PATH is not a
// regular file"; FAILED_PRECONDITION "PATH has mode 0644; a private key file must not be
// accessible to group or others (use 0600)" (with options.private_file); OUT_OF_RANGE
// "PATH is larger than the limit of N bytes", checked on the size before reading and on
// what was read. The buffer is sized once, so a secret is never left behind in a
// reallocated buffer, and it is wiped on failure; a secret result is the caller's to
// wipe (pki::SecretString, threshold's key objects).
absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t bytes_max,
                                            const FileReadOptions& options = {});

// What ReadFileBounded refused on its own account (not a failed system call), so a caller
// that reports errors in its own terms (threshold/errors.h) can tell them apart whatever
// their code. Carried as a status payload.
enum class FileRefusal : uint8_t { kNone, kNotRegular, kNotPrivate, kTooLarge };
FileRefusal FileRefusalOf(const absl::Status& status);

// ReadFileBounded for a private key (TLS and user keys, ca.key): private_file set.
absl::StatusOr<std::string> ReadPrivateFileBounded(const std::string& path, size_t bytes_max);

// Whether WriteFileAtomically may replace an existing file.
enum class FileOverwrite : uint8_t {
  kReplace,  // rename over `path`
  kRefuse,   // link onto `path`: ALREADY_EXISTS if it exists, also against a racing writer
};

// Writes `data` to `path` atomically with exactly `mode` (e.g. 0600): a fresh temporary
// file beside `path` (mkostemp: O_EXCL, never a planted file) gets `mode` by fchmod before
// any byte, is written, fsynced, and renamed or linked onto `path`, then the folder is
// fsynced. A symlink at `path` is refused (ELOOP's code, "refusing to write through a
// symlink at PATH: ..."), never replaced or followed. On failure the temporary file is
// removed and `path` is unchanged.
absl::Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode,
                                 FileOverwrite overwrite = FileOverwrite::kReplace);

// WriteFileAtomically with mode 0600 (private keys, key shares).
absl::Status WritePrivateFile(const std::string& path, std::string_view data);

// WriteFileAtomically with mode 0644 (certificates, CA bundles, CRLs).
absl::Status WritePublicFile(const std::string& path, std::string_view data);

}  // namespace belfry

#endif  // BELFRY_BASE_FILES_H_
