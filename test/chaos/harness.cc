#include "test/chaos/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/bytes.h"
#include "config/cluster_config.h"
#include "proto/storage.pb.h"
#include "replica/state/state_keys.h"
#include "replica/store/rocks_store.h"

namespace belfry::chaos {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Runs a program to completion with its output in `log`; its exit status, or -1.
int RunProgram(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    FILE* out = std::freopen(log.c_str(), "a", stdout);
    if (out != nullptr) ::dup2(::fileno(stdout), 2);
    CloseInheritedDescriptors();
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// GET http://127.0.0.1:port/metrics, bounded in time (2 s per read) and size (4 MiB).
absl::StatusOr<std::string> FetchMetrics(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError("socket failed");
  timeval tv{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to metrics port ", port));
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return absl::UnavailableError("metrics request not sent");
  }
  std::string body;
  char buf[16384];
  while (body.size() < (4u << 20)) {
    const ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
    if (got <= 0) break;
    body.append(buf, static_cast<size_t>(got));
  }
  ::close(fd);
  return body;
}

// The value of an unlabelled metric on a Prometheus text page, or -1.
double MetricValue(const std::string& page, const std::string& name) {
  size_t pos = 0;
  while ((pos = page.find(name + " ", pos)) != std::string::npos) {
    if (pos == 0 || page[pos - 1] == '\n') return std::strtod(page.c_str() + pos + name.size() + 1, nullptr);
    pos += name.size();
  }
  return -1;
}

}  // namespace

Harness::Harness(RunConfig config) : config_(std::move(config)), rng_(config_.seed) {}

Harness::~Harness() {
  if (workload_ != nullptr) workload_->Stop();
  processes_.reset();
  if (proxy_ != nullptr) proxy_->Stop();
}

void Harness::Note(const std::string& what) {
  if (config_.verbose) {
    std::fprintf(stderr, "chaos t=%.1fs %s\n", static_cast<double>(MsSince(start_)) / 1000.0, what.c_str());
  }
}

std::vector<uint32_t> Harness::PickReplicas(uint32_t k) {
  std::vector<uint32_t> all;
  for (uint32_t r = 0; r < config_.n; ++r) all.push_back(r);
  for (uint32_t i = 0; i + 1 < all.size(); ++i) {
    const uint32_t j = i + static_cast<uint32_t>(rng_.Uniform(all.size() - i));
    std::swap(all[i], all[j]);
  }
  all.resize(std::min<size_t>(k, all.size()));
  return all;
}

void Harness::KillReplica(uint32_t r) {
  ++faults_;
  Note(absl::StrCat("SIGKILL replica ", r));
  // The metric lives in the process: read it before the process goes. A replica killed
  // before it finished its state transfer restarts on whatever it had installed and may
  // rightly catch up from the log instead, so the expectation ends with the process.
  if (processes_->running(r) && transfer_expected_.erase(r) != 0) {
    absl::StatusOr<std::string> page = FetchMetrics(metrics_ports_[r]);
    const double done = page.ok() ? MetricValue(*page, "belfry_state_transfers_completed_total") : -1;
    Note(absl::StrCat("replica ", r, ": belfry_state_transfers_completed_total ", done, " before the kill"));
  }
  processes_->Kill(r);
}

void Harness::StartReplica(uint32_t r) {
  Note(absl::StrCat("start replica ", r));
  absl::Status s = processes_->Start(r);
  if (!s.ok()) violations_.push_back({"harness", absl::StrCat("restart of replica ", r, ": ", s.message())});
}

void Harness::PauseReplica(uint32_t r) {
  ++faults_;
  Note(absl::StrCat("SIGSTOP replica ", r));
  processes_->Pause(r);
}

void Harness::ResumeReplica(uint32_t r) {
  Note(absl::StrCat("SIGCONT replica ", r));
  processes_->Resume(r);
}

void Harness::SetLink(uint32_t from, uint32_t to, const LinkFaults& faults, const std::string& what) {
  ++faults_;
  Note(absl::StrCat("link ", from, "->", to, ": ", what));
  proxy_->Set(from, to, faults);
}

void Harness::Isolate(uint32_t r, LinkFaults::Mode mode, bool inbound, bool outbound) {
  ++faults_;
  Note(absl::StrCat("partition replica ", r, mode == LinkFaults::Mode::kBlackhole ? " (blackhole" : " (refuse",
                    inbound ? ", inbound" : "", outbound ? ", outbound" : "", ")"));
  LinkFaults faults;
  faults.mode = mode;
  for (uint32_t j = 0; j < config_.n; ++j) {
    if (j == r) continue;
    if (outbound) proxy_->Set(r, j, faults);
    if (inbound) proxy_->Set(j, r, faults);
  }
}

void Harness::DegradeAll(const LinkFaults& faults, const std::string& what) {
  ++faults_;
  Note(absl::StrCat("all links: ", what));
  proxy_->SetAll(faults);
}

void Harness::RunByzantine(uint32_t r, const std::string& strategies) {
  ++faults_;
  byzantine_[r] = true;
  Note(absl::StrCat("replica ", r, " is Byzantine: ", strategies));
  std::vector<std::string> args = {"--byzantine", strategies, "--byzantine-seed",
                                   absl::StrCat(config_.seed * 1000 + r)};
  if (!clock_args_[r].empty()) args.insert(args.end(), {"--clock-offset-ms", clock_args_[r]});
  processes_->SetProgram(r, config_.bin_dir + "/belfry-replica-byzantine", std::move(args));
}

void Harness::OffsetClock(uint32_t r, int64_t offset_ms) {
  ++faults_;
  clock_args_[r] = absl::StrCat(offset_ms);
  Note(absl::StrCat("replica ", r, "'s clock is off by ", offset_ms, " ms"));
  if (!byzantine_[r]) {
    processes_->SetProgram(r, config_.bin_dir + "/belfry-replica-byzantine",
                           {"--clock-offset-ms", clock_args_[r]});
  }
}

absl::Status Harness::SnapshotReplica(uint32_t r, const std::string& name) {
  Note(absl::StrCat("snapshot replica ", r, " as ", name));
  return processes_->Snapshot(r, name);
}

absl::Status Harness::RestoreReplica(uint32_t r, const std::string& name) {
  ++faults_;
  Note(absl::StrCat("roll replica ", r, " back to ", name));
  return processes_->Restore(r, name);
}

absl::Status Harness::WipeReplica(uint32_t r) {
  ++faults_;
  Note(absl::StrCat("wipe replica ", r, "'s data"));
  return processes_->Wipe(r);
}

absl::Status Harness::RunPowercut(uint32_t r, const std::vector<std::string>& args) {
  if (processes_->running(r)) return absl::FailedPreconditionError("power cut of a running replica");
  std::vector<std::string> argv = {config_.bin_dir + "/belfry-powercut", processes_->DataPath(r)};
  argv.insert(argv.end(), args.begin(), args.end());
  // Its lines go to the replica's log, beside what the replica logs when it restarts.
  const int status = RunProgram(argv, processes_->LogPath(r));
  if (status != 0) {
    absl::Status s = absl::UnavailableError(absl::StrCat("belfry-powercut on replica ", r, " failed (", status,
                                                         "); see ", processes_->LogPath(r)));
    violations_.push_back({"harness", std::string(s.message())});
    return s;
  }
  return absl::OkStatus();
}

absl::Status Harness::PowerCutReplica(uint32_t r, bool tear) {
  ++faults_;
  Note(absl::StrCat("power cut replica ", r, tear ? " (torn tails)" : ""));
  std::vector<std::string> args = {"--seed", absl::StrCat(rng_.NextRaw())};
  if (tear) args.push_back("--tear");
  return RunPowercut(r, args);
}

absl::Status Harness::MakeFsyncLie(uint32_t r) {
  ++faults_;
  Note(absl::StrCat("replica ", r, "'s fsync lies from its next start"));
  liars_.insert(r);
  return WriteLyingMode(r);
}

absl::Status Harness::WriteLyingMode(uint32_t r) {
  std::error_code ec;
  fs::create_directories(processes_->DataPath(r), ec);
  std::ofstream out(processes_->DataPath(r) + "/POWERLOSS-MODE", std::ios::trunc);
  out << "lying-fsync\n";
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot set replica ", r, "'s power-loss mode"));
  return absl::OkStatus();
}

absl::Status Harness::BitRotReplica(uint32_t r, uint32_t flips) {
  ++faults_;
  Note(absl::StrCat("bit rot: ", flips, " flipped bits in replica ", r, "'s synced files"));
  return RunPowercut(r, {"--bit-rot", "--flips", absl::StrCat(flips), "--seed", absl::StrCat(rng_.NextRaw())});
}

void Harness::AllowRefusal(uint32_t r) { refusal_allowed_.insert(r); }

void Harness::ExpectStateTransfer(uint32_t r) { transfer_expected_.insert(r); }

void Harness::CheckStateTransfers() {
  for (uint32_t r : transfer_expected_) {
    absl::StatusOr<std::string> page = FetchMetrics(metrics_ports_[r]);
    const double done = page.ok() ? MetricValue(*page, "belfry_state_transfers_completed_total") : -1;
    Note(absl::StrCat("replica ", r, ": belfry_state_transfers_completed_total ", done));
    if (done < 1) {
      violations_.push_back({"state_transfer",
                             absl::StrCat("replica ", r, " did not complete a state transfer (metric ",
                                          page.ok() ? absl::StrCat(done) : std::string(page.status().message()),
                                          "); see ", processes_->LogPath(r))});
    }
  }
}

void Harness::Heal(const std::string& what) {
  if (config_.verbose) {
    // What the fault did, before it is undone: how far each replica got, and the proxy.
    std::string epochs;
    for (const ReplicaState& s : workload_->QueryStatus(std::chrono::milliseconds(500))) {
      absl::StrAppend(&epochs, " r", s.replica, "=", s.reachable ? absl::StrCat(s.next_epoch) : "-");
    }
    const LinkStats t = proxy_->TotalStats();
    Note(absl::StrCat("epochs:", epochs, "; proxy: connections ", t.connections, ", resets ", t.resets,
                      ", bytes forwarded ", t.bytes_forwarded, ", dropped ", t.bytes_dropped));
  }
  Note(absl::StrCat("heal: ", what));
  proxy_->SetAll(LinkFaults{});
  for (uint32_t r = 0; r < config_.n; ++r) {
    if (processes_->paused(r)) processes_->Resume(r);
    if (!processes_->running(r)) StartReplica(r);
  }
  heals_ns_.push_back(Workload::NowNs());
}

int64_t Harness::RemainingMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(load_end_ - Clock::now()).count();
}

bool Harness::Sleep(int64_t ms) {
  const auto until = std::min(Clock::now() + std::chrono::milliseconds(ms), load_end_);
  while (Clock::now() < until) {
    std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
    CheckExits();
  }
  return Clock::now() < load_end_;
}

void Harness::CheckExits() {
  for (ReplicaProcesses::Exit& e : processes_->ReapExits()) {
    // A replica that refuses the store it finds (it exits with status 1 and the reason in
    // its log) is what a lying or rotting disk should produce; the operator's answer is an
    // empty disk and state transfer. A crash or any other exit is still a violation.
    if (refusal_allowed_.count(e.replica) != 0 && WIFEXITED(e.status) && WEXITSTATUS(e.status) == 1) {
      Note(absl::StrCat("replica ", e.replica, " refused its store; wipe and restart it empty"));
      absl::Status s = processes_->Wipe(e.replica);
      // The new disk is the same lying kind: the next power cut tests the liar again.
      if (s.ok() && liars_.count(e.replica) != 0) s = WriteLyingMode(e.replica);
      if (!s.ok()) {
        violations_.push_back({"harness", std::string(s.message())});
        continue;
      }
      ExpectStateTransfer(e.replica);
      StartReplica(e.replica);
      continue;
    }
    violations_.push_back({"replica_exit", std::move(e.line)});
  }
}

absl::Status Harness::SetUp() {
  if (config_.work_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/belfry-chaos.XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) return absl::UnavailableError("mkdtemp failed");
    config_.work_dir = pattern;
    created_work_dir_ = true;
  } else {
    std::error_code ec;
    fs::create_directories(config_.work_dir, ec);
  }
  cluster_dir_ = config_.work_dir + "/cluster";
  std::vector<std::string> users;
  for (uint32_t u = 0; u < config_.users; ++u) users.push_back(absl::StrCat("user", u));
  const int setup = RunProgram({config_.bin_dir + "/belfry-setup", "init", "--replicas", absl::StrCat(config_.n),
                                "--out", cluster_dir_, "--users", absl::StrJoin(users, ","), "--base-port",
                                absl::StrCat(config_.base_port), "--insecure-service-key-primes",
                                config_.bin_dir + "/test-service-key-primes.txt"},
                               config_.work_dir + "/setup.log");
  if (setup != 0) {
    return absl::UnavailableError(absl::StrCat("belfry-setup failed (", setup, "); see ", config_.work_dir, "/setup.log"));
  }
  absl::StatusOr<config::ClusterConfig> cfg = config::LoadClusterConfig(cluster_dir_ + "/cluster.conf");
  if (!cfg.ok()) return cfg.status();
  if (config_.log_retained_epochs != 0 || config_.checkpoint_interval_epochs != 0) {
    // Scenarios that need state transfer prune the log within seconds of load.
    pb::Limits* limits = cfg->proto.mutable_limits();
    if (config_.log_retained_epochs != 0) limits->set_log_retained_epochs(config_.log_retained_epochs);
    if (config_.checkpoint_interval_epochs != 0) {
      limits->set_checkpoint_interval_epochs(config_.checkpoint_interval_epochs);
    }
    std::ofstream out(cluster_dir_ + "/cluster.conf", std::ios::trunc);
    out << config::FormatClusterConfig(cfg->proto);
    out.close();
    if (!out) return absl::UnavailableError("cannot rewrite cluster.conf");
    cfg = config::LoadClusterConfig(cluster_dir_ + "/cluster.conf");
    if (!cfg.ok()) return cfg.status();
  }
  const uint32_t n = config_.n;
  std::vector<LinkSpec> links;
  ReplicaLaunch launch;
  launch.replica_binary =
      config_.bin_dir + (config_.powerloss_replicas ? "/belfry-replica-powerloss" : "/belfry-replica");
  launch.cluster_dir = cluster_dir_;
  launch.n = n;
  launch.dial_port.assign(n, std::vector<uint16_t>(n, 0));
  for (uint32_t i = 0; i < n; ++i) {
    client_ports_.push_back(static_cast<uint16_t>(cfg->proto.replicas(static_cast<int>(i)).client_port()));
    metrics_ports_.push_back(static_cast<uint16_t>(cfg->proto.replicas(static_cast<int>(i)).metrics_port()));
    for (uint32_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const auto port = static_cast<uint16_t>(config_.base_port + 3 * n + i * n + j);
      links.push_back({.from = i, .to = j, .listen_port = port,
                       .target_port = static_cast<uint16_t>(cfg->proto.replicas(static_cast<int>(j)).peer_port())});
      launch.dial_port[i][j] = port;
    }
  }
  absl::StatusOr<std::unique_ptr<FaultProxy>> proxy = FaultProxy::Create(links, config_.seed);
  if (!proxy.ok()) return proxy.status();
  proxy_ = std::move(*proxy);
  proxy_->Start();
  processes_ = std::make_unique<ReplicaProcesses>(launch);
  byzantine_.assign(n, false);
  clock_args_.assign(n, "");
  if (prepare_) prepare_(*this);
  for (uint32_t r = 0; r < n; ++r) {
    absl::Status s = processes_->Start(r);
    if (!s.ok()) return s;
  }
  WorkloadOptions wo;
  wo.cluster_dir = cluster_dir_;
  wo.users = users;
  wo.docs = config_.docs;
  wo.seed = config_.seed;
  workload_ = std::make_unique<Workload>(wo);
  if (absl::Status s = workload_->Connect(); !s.ok()) return s;
  // Every replica must answer before the clock starts.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    CheckExits();
    if (!violations_.empty()) return absl::UnavailableError(violations_.front().detail);
    size_t up = 0;
    size_t correct = 0;
    for (const ReplicaState& s : workload_->QueryStatus(std::chrono::milliseconds(1000))) {
      // A silent Byzantine replica never answers; the run starts once the others do.
      if (!byzantine_[s.replica]) {
        up += s.reachable;
        ++correct;
      }
    }
    if (up == correct) break;
    if (Clock::now() > deadline) return absl::DeadlineExceededError("the cluster did not come up in 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::OkStatus();
}

int64_t Harness::ConvergeMs(int64_t since_ns) {
  const auto deadline = Clock::now() + std::chrono::seconds(45);
  auto last_nudge = Clock::now();
  std::vector<ReplicaState> statuses;
  for (;;) {
    CheckExits();
    statuses = workload_->QueryStatus(std::chrono::milliseconds(2000));
    std::set<uint64_t> epochs;
    size_t reachable = 0;
    size_t byzantine = 0;
    for (const ReplicaState& s : statuses) {
      // Only correct replicas must converge; a Byzantine one may be anywhere, or silent.
      if (byzantine_[s.replica]) {
        ++byzantine;
      } else if (s.reachable) {
        ++reachable;
        epochs.insert(s.next_epoch);
      }
    }
    if (reachable + byzantine == config_.n && epochs.size() == 1) {
      return (Workload::NowNs() - since_ns) / 1'000'000;
    }
    if (Clock::now() > deadline) break;
    // An idle cluster runs no epochs, and a replica that missed some learns it only from
    // later epochs' messages: order something now and then.
    if (MsSince(last_nudge) > 2000) {
      workload_->Nudge();
      last_nudge = Clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::string detail = "replicas did not reach one epoch within 45 s after the load ended:";
  for (const ReplicaState& s : statuses) {
    absl::StrAppend(&detail, " r", s.replica, "=", s.reachable ? absl::StrCat(s.next_epoch) : "unreachable");
  }
  violations_.push_back({"converged", detail});
  return -1;
}

void Harness::CompareStores() {
  struct Seen {
    uint64_t next_epoch = 0;
    std::string head;
    std::string digest;
  };
  std::vector<std::optional<Seen>> seen(config_.n);
  for (uint32_t r = 0; r < config_.n; ++r) {
    // A Byzantine replica's store is its own business (its core is correct, but what it
    // sent was not, so it may have fallen behind); only correct replicas must agree.
    if (byzantine_[r]) continue;
    store::StoreOptions options;
    options.create_if_missing = false;
    options.block_cache_bytes = 8 << 20;
    absl::StatusOr<std::unique_ptr<store::RocksStore>> opened = store::RocksStore::Open(processes_->DataPath(r), options);
    if (!opened.ok()) {
      violations_.push_back({"digest", absl::StrCat("replica ", r, "'s store does not open: ", opened.status().message())});
      continue;
    }
    absl::StatusOr<store::Digest> digest = (*opened)->ComputeStateDigest();
    if (!digest.ok()) {
      violations_.push_back({"digest", absl::StrCat("replica ", r, "'s state digest: ", digest.status().message())});
      continue;
    }
    Seen s;
    s.next_epoch = (*opened)->next_epoch();
    s.head = ToHex((*opened)->log_head());
    s.digest = ToHex(*digest);
    seen[r] = s;
    absl::StatusOr<std::optional<std::string>> counter = (*opened)->Get(state::kCounterKey);
    if (counter.ok() && !state_counter_.has_value()) {
      pb::StateCounter c;
      if (!counter->has_value()) {
        state_counter_ = 0;
      } else if (c.ParseFromString(**counter)) {
        state_counter_ = c.last();
      }
    }
  }
  std::optional<uint32_t> first;
  for (uint32_t r = 0; r < config_.n; ++r) {
    if (!seen[r].has_value()) continue;
    if (!first.has_value()) {
      first = r;
      continue;
    }
    const Seen& a = *seen[*first];
    const Seen& b = *seen[r];
    if (a.next_epoch != b.next_epoch || a.head != b.head || a.digest != b.digest) {
      violations_.push_back({"digest", absl::StrCat("replica ", *first, " (epochs ", a.next_epoch, ", head ",
                                                    a.head.substr(0, 16), ", state ", a.digest.substr(0, 16),
                                                    ") and replica ", r, " (epochs ", b.next_epoch, ", head ",
                                                    b.head.substr(0, 16), ", state ", b.digest.substr(0, 16),
                                                    ") differ")});
    }
  }
}

RunSummary Harness::Run(const std::function<void(Harness&)>& scenario,
                        const std::function<void(Harness&)>& prepare) {
  prepare_ = prepare;
  RunSummary summary;
  summary.scenario = config_.scenario;
  summary.seed = config_.seed;
  summary.n = config_.n;
  start_ = Clock::now();
  load_end_ = start_;
  if (absl::Status s = SetUp(); !s.ok()) {
    violations_.push_back({"harness", absl::StrCat("set-up: ", s.message())});
  } else {
    start_ = Clock::now();
    load_end_ = start_ + std::chrono::seconds(config_.load_seconds);
    workload_->Start();
    scenario(*this);
    Heal("end of the fault schedule");
    // The load goes on a little after the last heal: progress must resume under load.
    Sleep(RemainingMs());
    workload_->Stop();
    workload_->FinalReads(std::chrono::seconds(60));
    summary.converge_ms = ConvergeMs(Workload::NowNs());
    CheckExits();
    CheckStateTransfers();
    for (uint32_t r = 0; r < config_.n; ++r) {
      if (processes_->running(r) && !processes_->Stop(r, 10000)) {
        violations_.push_back({"replica_exit", absl::StrCat("replica ", r, " did not stop cleanly on SIGTERM; see ",
                                                            processes_->LogPath(r))});
      }
    }
    CompareStores();
    const std::vector<Op> history = workload_->History();
    for (const std::string& a : workload_->Anomalies()) violations_.push_back({"anomaly", a});
    LinearizabilityStats lin;
    for (Violation& v : CheckLinearizability(history, 20'000'000, &lin)) violations_.push_back(std::move(v));
    for (Violation& v : CheckAcknowledgedWrites(history)) violations_.push_back(std::move(v));
    for (Violation& v : CheckOrdering(history)) violations_.push_back(std::move(v));
    for (Violation& v : CheckExecutedOnce(history, state_counter_)) violations_.push_back(std::move(v));
    for (const Op& op : history) {
      if (op.outcome == Outcome::kIndeterminate) {
        ++summary.indeterminate;
      } else {
        ++summary.ops;
      }
    }
    // Time to progress: from each heal to the first call answered with success after it.
    for (int64_t heal : heals_ns_) {
      int64_t first = kNever;
      for (const Op& op : history) {
        if (op.outcome == Outcome::kOk && op.complete_ns >= heal) first = std::min(first, op.complete_ns);
      }
      if (first != kNever) {
        summary.progress_after_heal_ms = std::max(summary.progress_after_heal_ms, (first - heal) / 1'000'000);
      } else {
        violations_.push_back({"progress", "no call succeeded after a heal"});
      }
    }
    std::ofstream out(config_.work_dir + "/history.txt");
    for (const Op& op : history) out << DescribeOp(op) << "\n";
  }
  summary.faults = faults_;
  summary.violations = violations_;
  summary.seconds = static_cast<double>(MsSince(start_)) / 1000.0;
  summary.work_dir = config_.work_dir;
  TearDown(violations_.empty());
  return summary;
}

void Harness::TearDown(bool passed) {
  if (workload_ != nullptr) workload_->Stop();
  workload_.reset();
  processes_.reset();
  if (proxy_ != nullptr) proxy_->Stop();
  if (passed && !config_.keep && created_work_dir_) {
    std::error_code ec;
    fs::remove_all(config_.work_dir, ec);
  }
}

}  // namespace belfry::chaos
