// client_lib/session_file.h — sessions kept on disk between runs of a command-line client.
//
// A command such as `belfry checkout` runs, signs one request and exits; the session it
// signs with has to outlive it. SessionStore keeps one file per (cluster, user):
//
//   BELFRY_HOME/<cluster id>/<uid>.session   0600: uid, key and certificate paths, the
//                                            session seed (secret), expiry, next seq,
//                                            and the last login time
//   BELFRY_HOME/<cluster id>/<uid>.lock      empty; flock()ed around every change
//
// BELFRY_HOME (default ~/.belfry) and the cluster folder are created 0700. Files are
// replaced atomically (temporary file, fsync, rename), so a crash leaves the old or the
// new version. Every read-modify-write happens under an exclusive flock on the .lock
// file (not on the session file, which rename replaces), so two processes sharing a
// session never hand out the same sequence number and login times stay strictly
// increasing. A session file readable by group or others is refused.
//
// The file format is line-based text ("key value"); paths and names may contain spaces
// but no newline. Secrets are never printed by anything here.
#ifndef BELFRY_CLIENT_LIB_SESSION_FILE_H_
#define BELFRY_CLIENT_LIB_SESSION_FILE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry {

// SessionRecord: the contents of one session file. Holds a secret (session_seed):
// move-only, wiped on destruction and when moved from. Thread-compatible.
struct SessionRecord {
  SessionRecord() = default;
  SessionRecord(SessionRecord&& other) noexcept;
  SessionRecord& operator=(SessionRecord&& other) noexcept;
  SessionRecord(const SessionRecord&) = delete;
  SessionRecord& operator=(const SessionRecord&) = delete;
  ~SessionRecord();

  std::string cluster_id;
  std::string uid;
  std::string key_path;   // the user's key and certificate, absolute paths
  std::string cert_path;
  bool active = false;    // false after logout or once the cluster ended the session
  std::array<uint8_t, 32> session_seed{};  // SECRET; zero when !active
  int64_t expires_ms = 0;                  // consensus time the session ends
  uint64_t next_seq = 1;                   // the next sequence number to hand out
  int64_t last_login_time_ms = 0;          // client_time_ms of the latest login
};

// SessionStore: the session files of one cluster under one BELFRY_HOME. Cheap to copy
// (paths only). Methods are safe to call from several threads and processes at once:
// changes are serialized by flock.
class SessionStore {
 public:
  // $BELFRY_HOME, else $HOME/.belfry. INVALID_ARGUMENT when neither is set.
  static absl::StatusOr<std::string> DefaultHome();

  // Opens (creating 0700 folders as needed) the store of `cluster_id` under `home`.
  // Errors carry ErrorKind kOther (I/O) or kInvalidInput (an unusable cluster id).
  static absl::StatusOr<SessionStore> Open(const std::string& home, const std::string& cluster_id);

  const std::string& dir() const { return dir_; }
  std::string SessionPath(const std::string& uid) const;

  // Users with an active session in this store, sorted.
  absl::StatusOr<std::vector<std::string>> ActiveUsers() const;

  // The user a command acts as: `requested` if given (it must have an active session),
  // else the only user with an active session. ErrorKind kNotLoggedIn when there is none
  // (or `requested` is not logged in); kInvalidInput when several are and none was named.
  absl::StatusOr<std::string> SelectUser(const std::optional<std::string>& requested) const;

  // The record of `uid`. NOT_FOUND (ErrorKind kNotLoggedIn) when there is no file.
  absl::StatusOr<SessionRecord> Read(const std::string& uid) const;

  // Replaces the record of record.uid, under the lock.
  absl::Status Write(const SessionRecord& record) const;

  // The login time for a new login of `uid`: max(now_ms, last login time + 1), stored
  // before returning so that the next one is larger still.
  absl::StatusOr<int64_t> NextLoginTime(const std::string& uid, int64_t now_ms) const;

  // Hands out the next sequence number of uid's active session (and stores next + 1).
  // ErrorKind kNotLoggedIn when the session is not active.
  absl::StatusOr<uint64_t> ReserveSeq(const std::string& uid) const;

  // Marks uid's session ended and wipes its secret from the file (the login time stays,
  // so later logins keep increasing). OK when there is no file.
  absl::Status EndSession(const std::string& uid) const;

 private:
  SessionStore(std::string dir, std::string cluster_id)
      : dir_(std::move(dir)), cluster_id_(std::move(cluster_id)) {}

  std::string LockPath(const std::string& uid) const;
  absl::StatusOr<SessionRecord> ReadUnlocked(const std::string& uid) const;
  absl::Status WriteUnlocked(const SessionRecord& record) const;

  std::string dir_;
  std::string cluster_id_;
};

// The text of a record (exposed for tests; contains the secret when active).
std::string FormatSessionRecord(const SessionRecord& record);
// Parses FormatSessionRecord's text. INVALID_ARGUMENT naming the problem.
absl::StatusOr<SessionRecord> ParseSessionRecord(const std::string& text);

}  // namespace belfry

#endif  // BELFRY_CLIENT_LIB_SESSION_FILE_H_
