#include "pki/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/rng.h"

namespace belfry::pki {
namespace {

absl::Status ErrnoStatus(const char* what, const std::string& path, int err) {
  const std::string text = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) {
    return absl::NotFoundError(text);
  }
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(text);
  }
  return absl::InternalError(text);
}

// Closes the descriptor on every path out of the function that opened it.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
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

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoStatus("cannot write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status WriteTemporary(const std::string& tmp, std::string_view data, mode_t mode) {
  // O_EXCL + O_NOFOLLOW: never reuse or follow a file someone else planted at this name.
  // The mode is given to open() so the file is never more readable than `mode`.
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) {
    return ErrnoStatus("cannot create", tmp, errno);
  }
  // The umask can only have removed bits from `mode`; this sets exactly `mode` (for a
  // public file, 0644 under a strict umask) and can never widen past what was asked for.
  if (::fchmod(fd.get(), mode) != 0) {
    return ErrnoStatus("cannot set the mode of", tmp, errno);
  }
  absl::Status written = WriteAll(fd.get(), data, tmp);
  if (!written.ok()) {
    return written;
  }
  if (::fsync(fd.get()) != 0) {
    return ErrnoStatus("cannot sync", tmp, errno);
  }
  if (fd.Close() != 0) {
    return ErrnoStatus("cannot close", tmp, errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path, size_t bytes_max, bool private_key) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return ErrnoStatus("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoStatus("cannot stat", path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  if (private_key && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return absl::FailedPreconditionError(
        absl::StrCat(path, " has mode ", mode,
                     "; a private key file must not be accessible to group or others (use 0600)"));
  }
  if (static_cast<uint64_t>(st.st_size) > bytes_max) {
    return absl::OutOfRangeError(absl::StrCat(path, " is ", st.st_size,
                                              " bytes, more than the limit of ", bytes_max));
  }
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      SecureWipe(out.data(), out.size());
      return ErrnoStatus("cannot read", path, err);
    }
    if (n == 0) {
      break;  // The file shrank while being read; return what is there.
    }
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t bytes_max) {
  return ReadFile(path, bytes_max, /*private_key=*/false);
}

absl::StatusOr<std::string> ReadPrivateFileBounded(const std::string& path, size_t bytes_max) {
  return ReadFile(path, bytes_max, /*private_key=*/true);
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode) {
  std::array<uint8_t, 8> suffix{};
  CryptoRng().Fill(suffix);
  const std::string tmp = absl::StrCat(path, ".tmp-", ToHex(suffix));
  absl::Status status = WriteTemporary(tmp, data, mode);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus("cannot rename into", path, errno);
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());  // Best effort: the temporary file may not exist.
    return status;
  }
  // Make the rename itself durable.
  const std::string folder = FolderOf(path);
  Fd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0 && ::fsync(dir.get()) != 0) {
    return ErrnoStatus("cannot sync folder", folder, errno);
  }
  return absl::OkStatus();
}

absl::Status WritePrivateFile(const std::string& path, std::string_view data) {
  return WriteFileAtomically(path, data, 0600);
}

absl::Status WritePublicFile(const std::string& path, std::string_view data) {
  return WriteFileAtomically(path, data, 0644);
}

}  // namespace belfry::pki
