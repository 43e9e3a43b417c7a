// test/chaos/processes.h — the replica processes of one chaos run, and the process faults.
//
// Each replica is a child belfry-replica with its data under DIR/data/replica-K, its log
// appended to DIR/logs/replica-K.log, its metrics on the port from cluster.conf, and
// `--peer-address J=127.0.0.1:P` for every peer J so that every link it dials goes through
// the fault proxy. Children get SIGKILL if the harness dies (PR_SET_PDEATHSIG), so a
// crashed run leaves no replica behind; that signal follows the thread that forked, so
// every method that starts a process must be called from one thread that lives as long as
// the run (the harness's main thread). Not thread-safe otherwise.
//
// A child keeps only stdin (/dev/null), stdout and stderr (the log) of the harness's file
// descriptors.
//
// Process faults: Kill (SIGKILL), Pause/Resume (SIGSTOP/SIGCONT), Start again on the same
// data, and data-folder snapshots for rolled-back restarts. A child that exits without
// being told to is reported by Reap.
#ifndef BELFRY_TEST_CHAOS_PROCESSES_H_
#define BELFRY_TEST_CHAOS_PROCESSES_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace belfry::chaos {

struct ReplicaLaunch {
  std::string replica_binary;
  std::string cluster_dir;
  uint32_t n = 0;
  // peer_address[i][j]: the port replica i dials for peer j (i != j).
  std::vector<std::vector<uint16_t>> dial_port;
};

// Closes every file descriptor above stderr; for a child between fork and exec.
void CloseInheritedDescriptors();

class ReplicaProcesses {
 public:
  explicit ReplicaProcesses(ReplicaLaunch launch);
  ~ReplicaProcesses();  // kills whatever still runs

  absl::Status Start(uint32_t r);
  // From the next Start on, replica r runs `binary` with `extra_args` after the usual
  // ones (belfry-replica-byzantine and its flags).
  void SetProgram(uint32_t r, std::string binary, std::vector<std::string> extra_args);
  // SIGKILL and wait for the exit.
  void Kill(uint32_t r);
  // SIGTERM, wait up to `timeout_ms`, then SIGKILL. True when it stopped by itself with
  // exit status 0.
  bool Stop(uint32_t r, int timeout_ms);
  void Pause(uint32_t r);
  void Resume(uint32_t r);
  bool running(uint32_t r) const { return pids_[r] > 0; }
  bool paused(uint32_t r) const { return paused_[r]; }

  // Copies replica r's data folder (r must not be running) to a snapshot named `name`,
  // and back. Errors from the file system.
  absl::Status Snapshot(uint32_t r, const std::string& name);
  absl::Status Restore(uint32_t r, const std::string& name);
  absl::Status Wipe(uint32_t r);

  // Collects children that exited on their own; one line per exit, for the report.
  std::vector<std::string> Reap();
  struct Exit {
    uint32_t replica = 0;
    int status = 0;  // as waitpid gives it
    std::string line;
  };
  // The same, with which replica exited and how.
  std::vector<Exit> ReapExits();

  std::string DataPath(uint32_t r) const;
  std::string LogPath(uint32_t r) const;

 private:
  ReplicaLaunch launch_;
  std::vector<pid_t> pids_;
  std::vector<bool> paused_;
  std::vector<std::string> binary_;
  std::vector<std::vector<std::string>> extra_args_;
};

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_PROCESSES_H_
