// test/chaos/workload.h — the seeded client workload of a chaos run, recording a history.
//
// One thread and one client_lib Client per simulated user (one user has one session at a
// time). Each thread runs a closed loop of login, checkin (content unique per write),
// checkout, grant, delete and logout on a small set of documents shared by all users, so
// rights, ownership and concurrent writes all matter. The k-th choice of user u comes
// from a DeterministicRng seeded by (seed, u); which operations overlap depends on the
// scheduler, so a replay repeats the choices, not the interleaving.
//
// Every operation is recorded (history.h) with its invocation and completion on the
// steady clock. Checkin contents are registered before they are sent, so a checkout's
// bytes map back to the checkin that wrote them (or to kForeignContent).
//
// Threading: Start runs the user threads; Stop asks them to finish their current call and
// joins them. FinalReads runs after Stop. Everything else is thread-safe.
#ifndef BELFRY_TEST_CHAOS_WORKLOAD_H_
#define BELFRY_TEST_CHAOS_WORKLOAD_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "client_lib/client.h"
#include "test/chaos/history.h"

namespace belfry::chaos {

struct WorkloadOptions {
  std::string cluster_dir;
  std::vector<std::string> users;  // at most kUsersMax
  uint32_t docs = 4;
  uint64_t seed = 1;
  std::chrono::milliseconds op_deadline{15000};
  std::chrono::milliseconds retransmit_after{300};
  uint32_t think_ms_max = 10;  // pause between a user's calls, drawn in [0, max]
};

class Workload {
 public:
  explicit Workload(WorkloadOptions options);
  ~Workload();

  // Connects one client per user. Errors: unreadable cluster folder or user files.
  absl::Status Connect();
  void Start();
  void Stop();
  // Every user checks out every document, retrying an unanswered read a few times; the
  // reads are recorded with final_read set. Bounded by `budget`.
  void FinalReads(std::chrono::milliseconds budget);
  // A few logins to make the cluster order epochs (a replica that is behind learns so from
  // a later epoch's messages); recorded like any login.
  void Nudge();

  // The replicas' own signed status, through user 0's client.
  std::vector<ReplicaState> QueryStatus(std::chrono::milliseconds timeout);

  std::vector<Op> History() const;
  // Operations completed so far (any outcome but kIndeterminate).
  uint64_t completed() const { return completed_.load(); }
  // Problems that are violations by themselves (a checkout that failed verification).
  std::vector<std::string> Anomalies() const;

  // Nanoseconds on the clock the history uses.
  static int64_t NowNs();

 private:
  struct User;
  void Run(User& user);
  void RunFinalReads(User& user, std::chrono::steady_clock::time_point deadline);
  bool EnsureLoggedIn(User& user);
  void DoCheckIn(User& user, const std::string& doc);
  void DoCheckOut(User& user, const std::string& doc, bool final_read);
  void DoGrant(User& user, const std::string& doc);
  void DoDelete(User& user, const std::string& doc);
  void DoLogout(User& user);
  // Sets op's outcome from a failed call's status (see history.h for the classes).
  void Classify(User& user, const absl::Status& status, Op& op);
  void Record(Op op);
  uint32_t ContentId(const std::string& data) const;

  WorkloadOptions options_;
  std::vector<std::unique_ptr<User>> users_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> completed_{0};
  mutable std::mutex mu_;
  std::vector<Op> history_;
  std::map<std::string, uint32_t> contents_;
  std::vector<std::string> anomalies_;
};

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_WORKLOAD_H_
