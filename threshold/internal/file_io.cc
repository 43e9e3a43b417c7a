#include "threshold/internal/file_io.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "threshold/internal/errors.h"

namespace belfry::threshold::internal {
namespace {

// Closes the descriptor on every path out of a function.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the result (close can report a delayed write error).
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
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

absl::Status WriteAll(int fd, const std::string& bytes, const std::string& path) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError(errno, "cannot write", path);
    }
    written += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// The directory holding `path` ("." for a bare name), whose entry must be synced for a
// link or rename to survive a crash.
std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status SyncDirectory(const std::string& path) {
  const std::string dir = DirectoryOf(path);
  ScopedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return FileError(errno, "cannot open directory", dir);
  if (::fsync(fd.get()) != 0) return FileError(errno, "cannot sync directory", dir);
  return absl::OkStatus();
}

// Refuses a symlink at `path` (the final rename would replace the link itself, which the
// O_NOFOLLOW of the old in-place write refused too), and an existing file with kRefuse.
absl::Status CheckTarget(const std::string& path, FileOverwrite overwrite) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return FileError(errno, "cannot stat", path);
  }
  if (S_ISLNK(st.st_mode)) return FileError(ELOOP, "refusing to write through a symlink at", path);
  if (overwrite == FileOverwrite::kRefuse) return FileError(EEXIST, "cannot create", path);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteKeyFile(const std::string& path, const std::string& bytes, mode_t mode,
                          FileOverwrite overwrite) {
  if (absl::Status s = CheckTarget(path, overwrite); !s.ok()) return s;
  std::string temp = path + ".tmp-XXXXXX";
  ScopedFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) return FileError(errno, "cannot create a temporary file for", path);
  TempFileGuard guard(temp);
  // mkostemp creates the file 0600 (narrowed by the umask); set the exact mode before any byte.
  if (::fchmod(fd.get(), mode) != 0) return FileError(errno, "cannot chmod", temp);
  if (absl::Status s = WriteAll(fd.get(), bytes, temp); !s.ok()) return s;
  if (::fsync(fd.get()) != 0) return FileError(errno, "cannot sync", temp);
  if (fd.Close() != 0) return FileError(errno, "cannot close", temp);
  if (overwrite == FileOverwrite::kRefuse) {
    // link() fails with EEXIST instead of replacing, also against a racing writer.
    if (::link(temp.c_str(), path.c_str()) != 0) return FileError(errno, "cannot create", path);
  } else {
    if (::rename(temp.c_str(), path.c_str()) != 0) return FileError(errno, "cannot replace", path);
    guard.Release();
  }
  return SyncDirectory(path);
}

absl::Status ReadKeyFile(const std::string& path, size_t bytes_max, bool secret, std::string* out) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return FileError(errno, "cannot open", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FileError(errno, "cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ThresholdError::kMalformed, absl::StrCat(path, " is not a regular file"));
  }
  if (secret && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return MakeError(ThresholdError::kInsecureFileMode,
                     absl::StrCat(path, " has mode ", mode,
                                  "; a key share file must not be accessible to group or others (use 0600)"));
  }
  // Reads up to one byte past the limit, so a file that grew after fstat is still caught.
  out->assign(bytes_max + 1, '\0');
  size_t got = 0;
  while (got < out->size()) {
    const ssize_t n = ::read(fd.get(), out->data() + got, out->size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError(errno, "cannot read", path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > bytes_max) {
    return MakeError(ThresholdError::kTooLarge,
                     absl::StrCat(path, " is larger than the limit of ", bytes_max, " bytes"));
  }
  out->resize(got);  // shrinking never reallocates
  return absl::OkStatus();
}

absl::Status InFile(const absl::Status& status, const std::string& path) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(path, ": ", status.message()));
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

}  // namespace belfry::threshold::internal
