#include "threshold/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "threshold/internal/errors.h"
#include "threshold/internal/key_share_access.h"
#include "threshold/internal/proto_fields.h"

namespace belfry::threshold {
namespace {

using internal::FileError;
using internal::MakeError;

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

absl::Status WriteFile(const std::string& path, const std::string& bytes, mode_t mode,
                       FileOverwrite overwrite) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
                    (overwrite == FileOverwrite::kRefuse ? O_EXCL : O_TRUNC);
  ScopedFd fd(::open(path.c_str(), flags, mode));
  if (fd.get() < 0) return FileError(errno, "cannot create", path);
  // open()'s mode applies only to a new file and is narrowed by the umask; set it exactly,
  // before any byte is written, so a replaced file never holds a secret under a wider mode.
  if (::fchmod(fd.get(), mode) != 0) return FileError(errno, "cannot chmod", path);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError(errno, "cannot write", path);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return FileError(errno, "cannot sync", path);
  if (fd.Close() != 0) return FileError(errno, "cannot close", path);
  return absl::OkStatus();
}

// Reads at most bytes_max bytes of a regular file into `out`. With `secret`, refuses a
// file accessible to group or others. `out` is sized once, so a secret is never left
// behind in a reallocated buffer; the caller wipes it.
absl::Status ReadFile(const std::string& path, size_t bytes_max, bool secret, std::string* out) {
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

// Prefixes the file name to a status's message, keeping its code and payload.
absl::Status InFile(const absl::Status& status, const std::string& path) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(path, ": ", status.message()));
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

// The body of ReadKeyShareFile; `bytes` is left for the caller to wipe on every path.
absl::StatusOr<KeyShare> ReadAndParseKeyShare(const std::string& path, std::string* bytes) {
  BELFRY_RETURN_IF_ERROR(ReadFile(path, kKeyShareFileBytesMax, /*secret=*/true, bytes));
  pb::ThresholdSecretKeyShare proto;
  const absl::Status parsed =
      internal::ParseBounded(AsBytes(*bytes), kKeyShareFileBytesMax, &proto, "key share file");
  absl::StatusOr<KeyShare> share = parsed.ok() ? KeyShare::FromProto(proto) : absl::StatusOr<KeyShare>(parsed);
  internal::WipeSecretField(&proto);
  return share;
}

}  // namespace

absl::Status WriteKeyShareFile(const std::string& path, const KeyShare& share, FileOverwrite overwrite) {
  pb::ThresholdSecretKeyShare proto;
  internal::KeyShareAccess::ToProto(share, &proto);
  std::string bytes = internal::SerializeDeterministic(proto);
  internal::WipeSecretField(&proto);
  const absl::Status status = WriteFile(path, bytes, 0600, overwrite);
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

absl::Status WritePublicKeySetFile(const std::string& path, const PublicKeySet& keys,
                                   FileOverwrite overwrite) {
  return WriteFile(path, keys.Serialize(), 0644, overwrite);
}

absl::StatusOr<PublicKeySet> ReadPublicKeySetFile(const std::string& path) {
  std::string bytes;
  absl::Status status = ReadFile(path, kPublicKeySetBytesMax, /*secret=*/false, &bytes);
  if (!status.ok()) return InFile(status, path);
  absl::StatusOr<PublicKeySet> keys = PublicKeySet::Parse(AsBytes(bytes));
  if (!keys.ok()) return InFile(keys.status(), path);
  return keys;
}

}  // namespace belfry::threshold
