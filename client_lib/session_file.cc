#include "client_lib/session_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/bytes.h"
#include "base/files.h"
#include "base/status.h"
#include "client_lib/client.h"
#include "client_lib/internal/errors.h"
#include "wire/document_name.h"

namespace belfry {
namespace {

using client::internal::MakeError;

constexpr char kHeader[] = "belfry-session v1";
constexpr size_t kSessionFileBytesMax = 64 * 1024;
constexpr char kSessionSuffix[] = ".session";

absl::Status IoError(const std::string& what, int err) {
  return MakeError(ErrorKind::kOther, absl::StrCat(what, ": ", std::strerror(err)));
}

// Creates `dir` with mode 0700 if it does not exist (its parents as needed, with the
// default mode); refuses a non-directory.
absl::Status EnsurePrivateDir(const std::string& dir) {
  const std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);  // mkdir reports
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return IoError(absl::StrCat("cannot create ", dir), errno);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return IoError(absl::StrCat("cannot read ", dir), errno);
  if (!S_ISDIR(st.st_mode)) {
    return MakeError(ErrorKind::kOther, absl::StrCat(dir, " is not a folder"));
  }
  return absl::OkStatus();
}

// A cluster id as a folder name: itself when it is plain ([A-Za-z0-9._-], not "." or
// ".."), otherwise its hex encoding, so no id can escape BELFRY_HOME.
std::string ClusterFolderName(const std::string& cluster_id) {
  const bool plain =
      !cluster_id.empty() && cluster_id != "." && cluster_id != ".." &&
      std::all_of(cluster_id.begin(), cluster_id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
      });
  return plain ? cluster_id : absl::StrCat("x-", ToHex(AsBytes(cluster_id)));
}

// FileLock: an exclusive flock on a lock file, held for the object's lifetime.
class FileLock {
 public:
  static absl::StatusOr<FileLock> Acquire(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return IoError(absl::StrCat("cannot open ", path), errno);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return IoError(absl::StrCat("cannot lock ", path), err);
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

bool HasNewline(const std::string& s) { return s.find('\n') != std::string::npos; }

}  // namespace

// ---- SessionRecord ----

SessionRecord::SessionRecord(SessionRecord&& other) noexcept
    : cluster_id(std::move(other.cluster_id)),
      uid(std::move(other.uid)),
      key_path(std::move(other.key_path)),
      cert_path(std::move(other.cert_path)),
      active(other.active),
      session_seed(other.session_seed),
      expires_ms(other.expires_ms),
      next_seq(other.next_seq),
      last_login_time_ms(other.last_login_time_ms) {
  SecureWipe(other.session_seed.data(), other.session_seed.size());
}

SessionRecord& SessionRecord::operator=(SessionRecord&& other) noexcept {
  if (this != &other) {
    cluster_id = std::move(other.cluster_id);
    uid = std::move(other.uid);
    key_path = std::move(other.key_path);
    cert_path = std::move(other.cert_path);
    active = other.active;
    session_seed = other.session_seed;
    expires_ms = other.expires_ms;
    next_seq = other.next_seq;
    last_login_time_ms = other.last_login_time_ms;
    SecureWipe(other.session_seed.data(), other.session_seed.size());
  }
  return *this;
}

SessionRecord::~SessionRecord() { SecureWipe(session_seed.data(), session_seed.size()); }

// ---- text form ----

std::string FormatSessionRecord(const SessionRecord& r) {
  std::string out = absl::StrCat(kHeader, "\n");
  absl::StrAppend(&out, "cluster ", r.cluster_id, "\n");
  absl::StrAppend(&out, "uid ", r.uid, "\n");
  absl::StrAppend(&out, "key_path ", r.key_path, "\n");
  absl::StrAppend(&out, "cert_path ", r.cert_path, "\n");
  absl::StrAppend(&out, "state ", r.active ? "active" : "ended", "\n");
  if (r.active) absl::StrAppend(&out, "session_seed ", ToHex(ByteSpan(r.session_seed)), "\n");
  absl::StrAppend(&out, "expires_ms ", r.expires_ms, "\n");
  absl::StrAppend(&out, "next_seq ", r.next_seq, "\n");
  absl::StrAppend(&out, "last_login_time_ms ", r.last_login_time_ms, "\n");
  return out;
}

absl::StatusOr<SessionRecord> ParseSessionRecord(const std::string& text) {
  auto bad = [](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("session file: ", why));
  };
  if (text.empty() || text.back() != '\n') return bad("truncated");
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(text.data(), text.size() - 1), '\n');
  if (lines.empty() || lines[0] != kHeader) return bad("not a session file");
  SessionRecord r;
  std::map<std::string, bool> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) return bad(absl::StrCat("line ", i + 1, " has no value"));
    const std::string key(line.substr(0, space));
    const absl::string_view value = line.substr(space + 1);
    if (seen[key]) return bad(absl::StrCat("\"", key, "\" appears twice"));
    seen[key] = true;
    bool ok = true;
    if (key == "cluster") {
      r.cluster_id = std::string(value);
    } else if (key == "uid") {
      r.uid = std::string(value);
    } else if (key == "key_path") {
      r.key_path = std::string(value);
    } else if (key == "cert_path") {
      r.cert_path = std::string(value);
    } else if (key == "state") {
      ok = value == "active" || value == "ended";
      r.active = value == "active";
    } else if (key == "session_seed") {
      absl::StatusOr<Bytes> seed = FromHex(std::string_view(value.data(), value.size()));
      ok = seed.ok() && seed->size() == r.session_seed.size();
      if (ok) std::copy(seed->begin(), seed->end(), r.session_seed.begin());
      if (seed.ok()) SecureWipe(seed->data(), seed->size());
    } else if (key == "expires_ms") {
      ok = absl::SimpleAtoi(value, &r.expires_ms);
    } else if (key == "next_seq") {
      ok = absl::SimpleAtoi(value, &r.next_seq) && r.next_seq >= 1;
    } else if (key == "last_login_time_ms") {
      ok = absl::SimpleAtoi(value, &r.last_login_time_ms);
    } else {
      return bad(absl::StrCat("unknown field \"", key, "\""));
    }
    if (!ok) return bad(absl::StrCat("bad value for \"", key, "\""));
  }
  for (const char* key : {"cluster", "uid", "state", "next_seq", "last_login_time_ms"}) {
    if (!seen[key]) return bad(absl::StrCat("\"", key, "\" is missing"));
  }
  if (r.active && !seen["session_seed"]) return bad("an active session without its key");
  return r;
}

// ---- SessionStore ----

absl::StatusOr<std::string> SessionStore::DefaultHome() {
  const char* home = std::getenv("BELFRY_HOME");
  if (home != nullptr && home[0] != '\0') return std::string(home);
  const char* user_home = std::getenv("HOME");
  if (user_home != nullptr && user_home[0] != '\0') return absl::StrCat(user_home, "/.belfry");
  return MakeError(ErrorKind::kInvalidInput, "neither BELFRY_HOME nor HOME is set");
}

absl::StatusOr<SessionStore> SessionStore::Open(const std::string& home,
                                                const std::string& cluster_id) {
  if (home.empty()) return MakeError(ErrorKind::kInvalidInput, "empty BELFRY_HOME");
  if (cluster_id.empty()) return MakeError(ErrorKind::kInvalidInput, "empty cluster id");
  BELFRY_RETURN_IF_ERROR(EnsurePrivateDir(home));
  const std::string dir = absl::StrCat(home, "/", ClusterFolderName(cluster_id));
  BELFRY_RETURN_IF_ERROR(EnsurePrivateDir(dir));
  return SessionStore(dir, cluster_id);
}

std::string SessionStore::SessionPath(const std::string& uid) const {
  return absl::StrCat(dir_, "/", uid, kSessionSuffix);
}

std::string SessionStore::LockPath(const std::string& uid) const {
  return absl::StrCat(dir_, "/", uid, ".lock");
}

absl::StatusOr<SessionRecord> SessionStore::ReadUnlocked(const std::string& uid) const {
  absl::Status valid = wire::ValidateUserId(uid);
  if (!valid.ok()) {
    return MakeError(ErrorKind::kInvalidInput, absl::StrCat("invalid user id: ", valid.message()));
  }
  const std::string path = SessionPath(uid);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      absl::Status missing = absl::NotFoundError(absl::StrCat(uid, " is not logged in"));
      return client::internal::WithKind(missing, ErrorKind::kNotLoggedIn);
    }
    return IoError(absl::StrCat("cannot read ", path), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorKind::kOther, absl::StrCat(path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return MakeError(ErrorKind::kOther,
                     absl::StrCat(path, " is readable by other users; remove it and log in again"));
  }
  absl::StatusOr<std::string> text = ReadFileBounded(path, kSessionFileBytesMax);
  if (!text.ok()) return client::internal::WithKind(text.status(), ErrorKind::kOther);
  absl::StatusOr<SessionRecord> record = ParseSessionRecord(*text);
  SecureWipe(text->data(), text->size());
  if (!record.ok()) {
    return MakeError(ErrorKind::kOther, absl::StrCat(path, ": ", record.status().message()));
  }
  if (record->uid != uid || record->cluster_id != cluster_id_) {
    return MakeError(ErrorKind::kOther,
                     absl::StrCat(path, " belongs to another user or cluster"));
  }
  return record;
}

absl::Status SessionStore::WriteUnlocked(const SessionRecord& record) const {
  if (record.cluster_id != cluster_id_) {
    return MakeError(ErrorKind::kOther, "session record of another cluster");
  }
  absl::Status valid = wire::ValidateUserId(record.uid);
  if (!valid.ok()) {
    return MakeError(ErrorKind::kInvalidInput, absl::StrCat("invalid user id: ", valid.message()));
  }
  if (HasNewline(record.key_path) || HasNewline(record.cert_path)) {
    return MakeError(ErrorKind::kInvalidInput, "a key or certificate path contains a newline");
  }
  std::string text = FormatSessionRecord(record);
  absl::Status written = WritePrivateFile(SessionPath(record.uid), text);
  SecureWipe(text.data(), text.size());
  return client::internal::WithKind(written, ErrorKind::kOther);
}

absl::StatusOr<std::vector<std::string>> SessionStore::ActiveUsers() const {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return IoError(absl::StrCat("cannot list ", dir_), errno);
  std::vector<std::string> candidates;
  while (const struct dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    const size_t suffix = std::strlen(kSessionSuffix);
    if (name.size() > suffix && name.compare(name.size() - suffix, suffix, kSessionSuffix) == 0) {
      candidates.push_back(name.substr(0, name.size() - suffix));
    }
  }
  ::closedir(d);
  std::vector<std::string> active;
  for (const std::string& uid : candidates) {
    absl::StatusOr<SessionRecord> record = ReadUnlocked(uid);
    if (record.ok() && record->active) active.push_back(uid);
  }
  std::sort(active.begin(), active.end());
  return active;
}

absl::StatusOr<std::string> SessionStore::SelectUser(
    const std::optional<std::string>& requested) const {
  if (requested.has_value()) {
    BELFRY_ASSIGN_OR_RETURN(SessionRecord record, ReadUnlocked(*requested));
    if (!record.active) {
      return MakeError(ErrorKind::kNotLoggedIn,
                       absl::StrCat(*requested, " is not logged in (the session has ended)"));
    }
    return *requested;
  }
  BELFRY_ASSIGN_OR_RETURN(std::vector<std::string> active, ActiveUsers());
  if (active.empty()) {
    return MakeError(ErrorKind::kNotLoggedIn,
                     "not logged in (run: belfry login UID --key KEYFILE)");
  }
  if (active.size() > 1) {
    std::string names;
    for (const std::string& uid : active) absl::StrAppend(&names, names.empty() ? "" : ", ", uid);
    return MakeError(ErrorKind::kInvalidInput,
                     absl::StrCat("several users are logged in (", names,
                                  "); choose one with --user UID"));
  }
  return active[0];
}

absl::StatusOr<SessionRecord> SessionStore::Read(const std::string& uid) const {
  return ReadUnlocked(uid);
}

absl::Status SessionStore::Write(const SessionRecord& record) const {
  BELFRY_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(LockPath(record.uid)));
  return WriteUnlocked(record);
}

absl::StatusOr<int64_t> SessionStore::NextLoginTime(const std::string& uid,
                                                    int64_t now_ms) const {
  absl::Status valid = wire::ValidateUserId(uid);
  if (!valid.ok()) {
    return MakeError(ErrorKind::kInvalidInput, absl::StrCat("invalid user id: ", valid.message()));
  }
  BELFRY_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(LockPath(uid)));
  absl::StatusOr<SessionRecord> record = ReadUnlocked(uid);
  SessionRecord fresh;
  if (!record.ok()) {
    if (record.status().code() != absl::StatusCode::kNotFound) return record.status();
    fresh.cluster_id = cluster_id_;
    fresh.uid = uid;
    record = std::move(fresh);
  }
  const int64_t time_ms = std::max(now_ms, record->last_login_time_ms + 1);
  record->last_login_time_ms = time_ms;
  BELFRY_RETURN_IF_ERROR(WriteUnlocked(*record));
  return time_ms;
}

absl::StatusOr<uint64_t> SessionStore::ReserveSeq(const std::string& uid) const {
  BELFRY_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(LockPath(uid)));
  BELFRY_ASSIGN_OR_RETURN(SessionRecord record, ReadUnlocked(uid));
  if (!record.active) {
    return MakeError(ErrorKind::kNotLoggedIn, absl::StrCat(uid, "'s session has ended"));
  }
  const uint64_t seq = record.next_seq;
  record.next_seq = seq + 1;
  BELFRY_RETURN_IF_ERROR(WriteUnlocked(record));
  return seq;
}

absl::Status SessionStore::EndSession(const std::string& uid) const {
  BELFRY_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(LockPath(uid)));
  absl::StatusOr<SessionRecord> record = ReadUnlocked(uid);
  if (!record.ok()) {
    return record.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus()
                                                                  : record.status();
  }
  record->active = false;
  SecureWipe(record->session_seed.data(), record->session_seed.size());
  return WriteUnlocked(*record);
}

}  // namespace belfry
