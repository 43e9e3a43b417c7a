// belfry-cluster — starts, stops and inspects a whole cluster on this machine.
//
//   belfry-cluster up|down|status --dir DIR [--replicas K,L,...] [--timeout-s S]
//                                 [--replica-args "ARGS"]
//
// `up` starts one belfry-replica per replica of DIR/cluster.conf (or the listed ones) with
// data under DIR/data/replica-K, output in DIR/logs/replica-K.log and its PID in
// DIR/run/replica-K.pid, and returns once every started replica accepts connections on its
// client port. `down` sends SIGTERM and waits (SIGKILL after the timeout). `status` prints
// each replica's PID and whether its ports answer; it exits 0 only when all are up.
// A PID file is trusted only when its process really is that replica: running (not a
// zombie), a belfry-replica by its command line, with that replica's data folder. A PID
// file naming anything else (a dead process, a zombie, a PID the system reused for
// another program) is stale: `up` removes it, says so, and starts the replica; `down`
// never signals such a process.
//
// The replica binary is looked up beside this program, then on PATH. `--replica-args`
// passes extra options (split at spaces) to every replica `up` starts, e.g.
// "--log-format json --log-level debug".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "config/cluster_config.h"

namespace belfry {
namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: belfry-cluster up|down|status --dir DIR [--replicas K,L,...] [--timeout-s S]\n"
               "                                     [--replica-args \"ARGS\"]\n");
  return 2;
}

std::vector<std::string>& ExtraReplicaArgs() {
  static std::vector<std::string> args;
  return args;
}

std::string PidPath(const std::string& dir, uint32_t id) { return absl::StrCat(dir, "/run/replica-", id, ".pid"); }
std::string LogPath(const std::string& dir, uint32_t id) { return absl::StrCat(dir, "/logs/replica-", id, ".log"); }
std::string DataPath(const std::string& dir, uint32_t id) { return absl::StrCat(dir, "/data/replica-", id); }

pid_t ReadPid(const std::string& dir, uint32_t id) {
  std::ifstream in(PidPath(dir, id));
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

// The whole of a small /proc file; empty when it cannot be read (the process is gone).
std::string ReadProcFile(pid_t pid, const char* name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", name), std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return content;
}

// The state letter of /proc/PID/stat (R, S, D, Z, X, ...), or 0 when there is no such
// process. It is the first field after the command name, which is in parentheses and may
// itself contain ") ", hence the last ')'.
char ProcessState(pid_t pid) {
  const std::string stat = ReadProcFile(pid, "stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) {
    return 0;
  }
  return stat[paren + 2];
}

// `path` made absolute against `cwd` and resolved (symbolic links, "..") when it exists.
std::string Canonical(const std::string& path, const std::string& cwd) {
  const std::string absolute = (path.empty() || path[0] == '/') ? path : cwd + "/" + path;
  char resolved[PATH_MAX] = {};
  if (::realpath(absolute.c_str(), resolved) == nullptr) {
    return absolute;
  }
  return resolved;
}

// Why process `pid` is not replica `id` of the cluster in `dir`, or "" when it is. kill(pid,
// 0) alone is not enough: it also succeeds for a zombie and for a PID the system has given
// to another program since the replica died, and then `up` would skip a replica that is
// not running and wait for it in vain.
std::string NotTheReplica(pid_t pid, const std::string& dir, uint32_t id) {
  if (pid <= 0) {
    return "no PID";
  }
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    return absl::StrCat("no process ", pid);
  }
  const char state = ProcessState(pid);
  if (state == 0) {
    return absl::StrCat("no process ", pid);
  }
  if (state == 'Z' || state == 'X') {
    return absl::StrCat("process ", pid, " has exited (state ", std::string(1, state), ")");
  }
  const std::string cmdline = ReadProcFile(pid, "cmdline");
  std::vector<std::string> argv = absl::StrSplit(cmdline, '\0', absl::SkipEmpty());
  const std::string name = argv.empty() ? "" : argv[0].substr(argv[0].find_last_of('/') + 1);
  if (name != "belfry-replica") {
    return absl::StrCat("process ", pid, " is ", name.empty() ? "unknown" : name,
                        ", not belfry-replica");
  }
  char cwd[PATH_MAX] = {};
  const ssize_t n = ::readlink(absl::StrCat("/proc/", pid, "/cwd").c_str(), cwd, sizeof(cwd) - 1);
  const std::string process_cwd = n > 0 ? std::string(cwd, static_cast<size_t>(n)) : "/";
  char here[PATH_MAX] = {};
  const std::string own_cwd = ::getcwd(here, sizeof(here)) != nullptr ? here : "/";
  const std::string want = Canonical(DataPath(dir, id), own_cwd);
  for (size_t i = 1; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--data") {
      if (Canonical(argv[i + 1], process_cwd) == want) {
        return "";
      }
      return absl::StrCat("process ", pid, " is the replica of ", argv[i + 1]);
    }
  }
  return absl::StrCat("process ", pid, " is a belfry-replica without --data");
}

// The PID of replica `id` when its PID file names that running replica, else 0.
pid_t RunningReplica(const std::string& dir, uint32_t id) {
  const pid_t pid = ReadPid(dir, id);
  return NotTheReplica(pid, dir, id).empty() ? pid : 0;
}

// Whether `pid` (a replica found running before) has not exited yet.
bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) {
    return false;
  }
  const char state = ProcessState(pid);
  return state != 0 && state != 'Z' && state != 'X';
}

bool PortOpen(const std::string& host, uint32_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1 &&
                  ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string ReplicaBinary() {
  char self[4096] = {};
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    std::string dir(self, static_cast<size_t>(n));
    dir = dir.substr(0, dir.find_last_of('/'));
    const std::string beside = dir + "/belfry-replica";
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
  return "belfry-replica";  // execvp searches PATH
}

pid_t Spawn(const std::string& binary, const std::string& config, uint32_t id, const std::string& data,
            const std::string& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: its own process group, so a terminal's ^C to the launcher does not reach it.
  ::setsid();
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd >= 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
  }
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
  const std::string id_str = absl::StrCat(id);
  std::vector<std::string> args = {binary, "--config", config, "--id", id_str, "--data", data};
  args.insert(args.end(), ExtraReplicaArgs().begin(), ExtraReplicaArgs().end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(binary.c_str(), argv.data());
  std::fprintf(stderr, "belfry-cluster: cannot run %s: %s\n", binary.c_str(), std::strerror(errno));
  ::_exit(127);
}

int Up(const config::ClusterConfig& cfg, const std::string& dir, const std::vector<uint32_t>& ids,
       int timeout_s) {
  for (const char* sub : {"/run", "/logs", "/data"}) ::mkdir((dir + sub).c_str(), 0750);
  const std::string binary = ReplicaBinary();
  const std::string config_path = dir + "/cluster.conf";
  std::vector<pid_t> started(cfg.n(), 0);
  for (uint32_t id : ids) {
    const pid_t recorded = ReadPid(dir, id);
    const std::string not_replica = NotTheReplica(recorded, dir, id);
    if (not_replica.empty()) {
      std::printf("replica-%u already running (pid %d)\n", id, recorded);
      continue;
    }
    if (recorded > 0 || ::access(PidPath(dir, id).c_str(), F_OK) == 0) {
      std::printf("replica-%u: removing stale PID file %s (%s)\n", id, PidPath(dir, id).c_str(),
                  not_replica.c_str());
      ::unlink(PidPath(dir, id).c_str());
    }
    const pid_t pid = Spawn(binary, config_path, id, DataPath(dir, id), LogPath(dir, id));
    if (pid < 0) {
      std::fprintf(stderr, "belfry-cluster: fork failed: %s\n", std::strerror(errno));
      return 1;
    }
    std::ofstream(PidPath(dir, id)) << pid << "\n";
    started[id] = pid;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (uint32_t id : ids) {
    const pb::ReplicaEndpoint& r = cfg.proto.replicas(static_cast<int>(id));
    for (;;) {
      if (PortOpen(r.host(), r.client_port())) break;
      if (started[id] != 0 && ::waitpid(started[id], nullptr, WNOHANG) == started[id]) {
        std::fprintf(stderr, "belfry-cluster: replica-%u exited at start; see %s\n", id,
                     LogPath(dir, id).c_str());
        return 1;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "belfry-cluster: replica-%u is not serving after %d s; see %s\n", id,
                     timeout_s, LogPath(dir, id).c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::printf("replica-%u serving on %s:%u (pid %d)\n", id, r.host().c_str(), r.client_port(),
                ReadPid(dir, id));
  }
  return 0;
}

int Down(const std::string& dir, const std::vector<uint32_t>& ids, int timeout_s) {
  // Only processes that are the replica get a signal: a stale PID file may name a PID the
  // system has given to another program.
  std::vector<pid_t> pids;
  for (uint32_t id : ids) {
    const pid_t pid = RunningReplica(dir, id);
    pids.push_back(pid);
    if (pid > 0) ::kill(pid, SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int rc = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint32_t id = ids[i];
    const pid_t pid = pids[i];
    while (Alive(pid) && std::chrono::steady_clock::now() < deadline) {
      ::waitpid(pid, nullptr, WNOHANG);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (Alive(pid)) {
      std::fprintf(stderr, "belfry-cluster: replica-%u (pid %d) ignored SIGTERM; killing it\n", id, pid);
      ::kill(pid, SIGKILL);
      rc = 1;
    }
    if (pid > 0) std::printf("replica-%u stopped\n", id);
    ::unlink(PidPath(dir, id).c_str());
  }
  return rc;
}

int Status(const config::ClusterConfig& cfg, const std::string& dir, const std::vector<uint32_t>& ids) {
  int up = 0;
  for (uint32_t id : ids) {
    const pb::ReplicaEndpoint& r = cfg.proto.replicas(static_cast<int>(id));
    const pid_t pid = RunningReplica(dir, id);
    const bool alive = pid > 0;
    const bool serving = PortOpen(r.host(), r.client_port());
    std::printf("replica-%u  pid %-7d %-8s client %s:%u %s\n", id, alive ? pid : 0,
                alive ? "running" : "stopped", r.host().c_str(), r.client_port(),
                serving ? "answers" : "closed");
    if (alive && serving) ++up;
  }
  return up == static_cast<int>(ids.size()) ? 0 : 1;
}

}  // namespace
}  // namespace belfry

int main(int argc, char** argv) {
  if (argc < 2) return belfry::Usage();
  const std::string command = argv[1];
  std::string dir, only;
  int timeout_s = 30;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return belfry::Usage();
    const std::string value = argv[++i];
    if (arg == "--dir") {
      dir = value;
    } else if (arg == "--replicas") {
      only = value;
    } else if (arg == "--replica-args") {
      for (absl::string_view part : absl::StrSplit(value, ' ', absl::SkipEmpty())) {
        belfry::ExtraReplicaArgs().emplace_back(part);
      }
    } else if (arg == "--timeout-s") {
      if (!absl::SimpleAtoi(value, &timeout_s) || timeout_s <= 0) return belfry::Usage();
    } else {
      return belfry::Usage();
    }
  }
  if (dir.empty()) return belfry::Usage();
  auto cfg = belfry::config::LoadClusterConfig(dir + "/cluster.conf");
  if (!cfg.ok()) {
    std::fprintf(stderr, "belfry-cluster: %s\n", std::string(cfg.status().message()).c_str());
    return 2;
  }
  std::vector<uint32_t> ids;
  if (only.empty()) {
    for (uint32_t i = 0; i < cfg->n(); ++i) ids.push_back(i);
  } else {
    for (absl::string_view part : absl::StrSplit(only, ',')) {
      uint32_t id = 0;
      if (!absl::SimpleAtoi(part, &id) || id >= cfg->n()) return belfry::Usage();
      ids.push_back(id);
    }
  }
  if (command == "up") return belfry::Up(*cfg, dir, ids, timeout_s);
  if (command == "down") return belfry::Down(dir, ids, timeout_s);
  if (command == "status") return belfry::Status(*cfg, dir, ids);
  return belfry::Usage();
}
