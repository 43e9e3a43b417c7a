#include "base/files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "base/bytes.h"

namespace belfry {
namespace {

absl::Status ErrnoError(int err, std::string_view what, std::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat(absl::string_view(what.data(), what.size()), " ",
                                               absl::string_view(path.data(), path.size())));
}

// Closes the descriptor on every path out of the function that opened it.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the result (close can report a deferred write error).
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Unlinks the temporary file unless it has been handed over to its final name.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
  ~TempFileGuard() {
    if (!path_.empty()) {
      ::unlink(path_.c_str());
    }
  }
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError(errno, "cannot write", path);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// The folder holding `path` ("." for a bare name), whose entry must be synced for a link
// or rename to survive a crash.
std::string FolderOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

absl::Status SyncFolder(const std::string& path) {
  const std::string folder = FolderOf(path);
  ScopedFd fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return ErrnoError(errno, "cannot open folder", folder);
  }
  if (::fsync(fd.get()) != 0) {
    return ErrnoError(errno, "cannot sync folder", folder);
  }
  return absl::OkStatus();
}

// Refuses a symlink at `path` (a rename would replace the link itself, a link would fail
// late), and an existing file with kRefuse.
absl::Status CheckTarget(const std::string& path, FileOverwrite overwrite) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return absl::OkStatus();
    }
    return ErrnoError(errno, "cannot stat", path);
  }
  if (S_ISLNK(st.st_mode)) {
    return ErrnoError(ELOOP, "refusing to write through a symlink at", path);
  }
  if (overwrite == FileOverwrite::kRefuse) {
    return ErrnoError(EEXIST, "cannot create", path);
  }
  return absl::OkStatus();
}

constexpr absl::string_view kRefusalPayload = "type.belfry/base.FileRefusal";

absl::Status Refused(absl::Status status, FileRefusal refusal) {
  status.SetPayload(kRefusalPayload, absl::Cord(std::string(1, static_cast<char>(refusal))));
  return status;
}

absl::Status TooLarge(const std::string& path, size_t bytes_max) {
  return Refused(absl::OutOfRangeError(absl::StrCat(path, " is larger than the limit of ",
                                                    bytes_max, " bytes")),
                 FileRefusal::kTooLarge);
}

}  // namespace

FileRefusal FileRefusalOf(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kRefusalPayload);
  if (!payload.has_value() || payload->size() != 1) {
    return FileRefusal::kNone;
  }
  const uint8_t value = static_cast<uint8_t>(std::string(*payload)[0]);
  if (value > static_cast<uint8_t>(FileRefusal::kTooLarge)) {
    return FileRefusal::kNone;
  }
  return static_cast<FileRefusal>(value);
}

absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t bytes_max,
                                            const FileReadOptions& options) {
  const int flags = O_RDONLY | O_CLOEXEC | (options.refuse_symlink ? O_NOFOLLOW : 0);
  ScopedFd fd(::open(path.c_str(), flags));
  if (fd.get() < 0) {
    return ErrnoError(errno, "cannot open", path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoError(errno, "cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    return Refused(absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file")),
                   FileRefusal::kNotRegular);
  }
  if (options.private_file && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Refused(
        absl::FailedPreconditionError(absl::StrCat(
            path, " has mode ", mode, "; a ",
            absl::string_view(options.private_file_kind.data(), options.private_file_kind.size()),
            " must not be accessible to group or others (use 0600)")),
        FileRefusal::kNotPrivate);
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > bytes_max) {
    return TooLarge(path, bytes_max);
  }
  // One byte past what fstat reported, so a file that grew since is still noticed; the
  // buffer is never reallocated, so no copy of a secret is left behind.
  std::string out(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      SecureWipe(out.data(), out.size());
      return ErrnoError(err, "cannot read", path);
    }
    if (n == 0) {
      break;  // The file may have shrunk while being read; what is there is the file.
    }
    done += static_cast<size_t>(n);
  }
  if (done == out.size()) {
    SecureWipe(out.data(), out.size());
    if (done > bytes_max) {
      return TooLarge(path, bytes_max);
    }
    return absl::AbortedError(absl::StrCat(path, " grew while being read"));
  }
  out.resize(done);  // shrinking never reallocates
  return out;
}

absl::StatusOr<std::string> ReadPrivateFileBounded(const std::string& path, size_t bytes_max) {
  FileReadOptions options;
  options.private_file = true;
  return ReadFileBounded(path, bytes_max, options);
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode,
                                 FileOverwrite overwrite) {
  if (absl::Status s = CheckTarget(path, overwrite); !s.ok()) {
    return s;
  }
  std::string temp = path + ".tmp-XXXXXX";
  ScopedFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) {
    return ErrnoError(errno, "cannot create a temporary file for", path);
  }
  TempFileGuard guard(temp);
  // mkostemp creates the file 0600 (narrowed by the umask); fchmod sets exactly `mode`
  // before any byte is written, so a secret never sits under a wider mode.
  if (::fchmod(fd.get(), mode) != 0) {
    return ErrnoError(errno, "cannot set the mode of", temp);
  }
  if (absl::Status s = WriteAll(fd.get(), data, temp); !s.ok()) {
    return s;
  }
  if (::fsync(fd.get()) != 0) {
    return ErrnoError(errno, "cannot sync", temp);
  }
  if (fd.Close() != 0) {
    return ErrnoError(errno, "cannot close", temp);
  }
  if (overwrite == FileOverwrite::kRefuse) {
    // link() fails with EEXIST instead of replacing, also against a racing writer; the
    // guard then removes the temporary name.
    if (::link(temp.c_str(), path.c_str()) != 0) {
      return ErrnoError(errno, "cannot create", path);
    }
  } else {
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      return ErrnoError(errno, "cannot replace", path);
    }
    guard.Release();
  }
  return SyncFolder(path);
}

absl::Status WritePrivateFile(const std::string& path, std::string_view data) {
  return WriteFileAtomically(path, data, 0600);
}

absl::Status WritePublicFile(const std::string& path, std::string_view data) {
  return WriteFileAtomically(path, data, 0644);
}

}  // namespace belfry
