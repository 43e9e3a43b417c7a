#include "test/chaos/processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"

namespace belfry::chaos {
namespace {

namespace fs = std::filesystem;

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return "stopped";
}

}  // namespace

void CloseInheritedDescriptors() {
  if (::syscall(SYS_close_range, 3u, ~0u, 0u) == 0) return;
  for (int fd = 3; fd < 65536; ++fd) ::close(fd);
}

ReplicaProcesses::ReplicaProcesses(ReplicaLaunch launch)
    : launch_(std::move(launch)),
      pids_(launch_.n, 0),
      paused_(launch_.n, false),
      binary_(launch_.n, launch_.replica_binary),
      extra_args_(launch_.n) {}

void ReplicaProcesses::SetProgram(uint32_t r, std::string binary, std::vector<std::string> extra_args) {
  binary_[r] = std::move(binary);
  extra_args_[r] = std::move(extra_args);
}

ReplicaProcesses::~ReplicaProcesses() {
  for (uint32_t r = 0; r < launch_.n; ++r) Kill(r);
}

std::string ReplicaProcesses::DataPath(uint32_t r) const {
  return absl::StrCat(launch_.cluster_dir, "/data/replica-", r);
}

std::string ReplicaProcesses::LogPath(uint32_t r) const {
  return absl::StrCat(launch_.cluster_dir, "/logs/replica-", r, ".log");
}

absl::Status ReplicaProcesses::Start(uint32_t r) {
  if (pids_[r] > 0) return absl::OkStatus();
  std::error_code ec;
  fs::create_directories(launch_.cluster_dir + "/logs", ec);
  fs::create_directories(launch_.cluster_dir + "/data", ec);
  std::vector<std::string> args = {binary_[r],
                                   "--config", launch_.cluster_dir + "/cluster.conf",
                                   "--id", absl::StrCat(r),
                                   "--data", DataPath(r)};
  for (uint32_t j = 0; j < launch_.n; ++j) {
    if (j == r) continue;
    args.push_back("--peer-address");
    args.push_back(absl::StrCat(j, "=127.0.0.1:", launch_.dial_port[r][j]));
  }
  args.insert(args.end(), extra_args_[r].begin(), extra_args_[r].end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = LogPath(r);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot open ", log));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return absl::UnavailableError("fork failed");
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    // The harness's sockets (the proxies' connections) are not close-on-exec. A replica
    // that inherited them would keep a proxied connection open after the proxy closed it,
    // and a peer would never see its link to a killed replica break.
    CloseInheritedDescriptors();
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fd);
  pids_[r] = pid;
  paused_[r] = false;
  return absl::OkStatus();
}

void ReplicaProcesses::Kill(uint32_t r) {
  if (pids_[r] <= 0) return;
  ::kill(pids_[r], SIGKILL);
  int status = 0;
  ::waitpid(pids_[r], &status, 0);
  pids_[r] = 0;
  paused_[r] = false;
}

bool ReplicaProcesses::Stop(uint32_t r, int timeout_ms) {
  if (pids_[r] <= 0) return false;
  if (paused_[r]) Resume(r);
  ::kill(pids_[r], SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    const pid_t got = ::waitpid(pids_[r], &status, WNOHANG);
    if (got == pids_[r]) {
      pids_[r] = 0;
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill(r);
  return false;
}

void ReplicaProcesses::Pause(uint32_t r) {
  if (pids_[r] <= 0 || paused_[r]) return;
  ::kill(pids_[r], SIGSTOP);
  paused_[r] = true;
}

void ReplicaProcesses::Resume(uint32_t r) {
  if (pids_[r] <= 0 || !paused_[r]) return;
  ::kill(pids_[r], SIGCONT);
  paused_[r] = false;
}

absl::Status ReplicaProcesses::Snapshot(uint32_t r, const std::string& name) {
  if (pids_[r] > 0) return absl::FailedPreconditionError("snapshot of a running replica");
  const std::string to = absl::StrCat(launch_.cluster_dir, "/snapshots/", name);
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::create_directories(to, ec);
  fs::copy(DataPath(r), to, fs::copy_options::recursive, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("snapshot of replica ", r, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status ReplicaProcesses::Restore(uint32_t r, const std::string& name) {
  if (pids_[r] > 0) return absl::FailedPreconditionError("restore under a running replica");
  const std::string from = absl::StrCat(launch_.cluster_dir, "/snapshots/", name);
  std::error_code ec;
  fs::remove_all(DataPath(r), ec);
  fs::create_directories(DataPath(r), ec);
  fs::copy(from, DataPath(r), fs::copy_options::recursive, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("restore of replica ", r, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status ReplicaProcesses::Wipe(uint32_t r) {
  if (pids_[r] > 0) return absl::FailedPreconditionError("wipe under a running replica");
  std::error_code ec;
  fs::remove_all(DataPath(r), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("wipe of replica ", r, ": ", ec.message()));
  return absl::OkStatus();
}

std::vector<std::string> ReplicaProcesses::Reap() {
  std::vector<std::string> out;
  for (Exit& e : ReapExits()) out.push_back(std::move(e.line));
  return out;
}

std::vector<ReplicaProcesses::Exit> ReplicaProcesses::ReapExits() {
  std::vector<Exit> out;
  for (uint32_t r = 0; r < launch_.n; ++r) {
    if (pids_[r] <= 0) continue;
    int status = 0;
    if (::waitpid(pids_[r], &status, WNOHANG) == pids_[r]) {
      out.push_back({r, status, absl::StrCat("replica ", r, " exited on its own (", DescribeExit(status), "); see ",
                                             LogPath(r))});
      pids_[r] = 0;
      paused_[r] = false;
    }
  }
  return out;
}

}  // namespace belfry::chaos
