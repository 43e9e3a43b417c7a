// belfry-bench: closed-loop load on a running Belfry cluster through the client library,
// with latency percentiles per operation and the cluster's cost per operation.
//
//   belfry-bench --dir DIR [--clients C] [--mix checkin=70,checkout=30[,grant=..,delete=..,stamp=..]]
//                [--size 1KiB] [--confidential] [--integrity] [--ops N] [--seconds S]
//                [--warmup-ops W] [--seed X] [--docs D] [--json FILE] [--tsv FILE]
//                [--label NAME] [--op-timeout-ms T]
//   belfry-bench --free-port-range K    prints a base port P with P..P+K-1 free on loopback
//
// How it works. Each client is its own user (bench-000, bench-001, ...; issued with
// belfry-setup add-user when DIR lacks them, since one user has one session at a time),
// with its own Client, session and thread, and works only on its own D documents, so
// clients never contend for rights and every checkout finds data. When the mix reads,
// grants or deletes, a setup phase first checks in all D documents. A delete removes one
// of them, and the next checkin recreates it; a checkout, grant or delete that finds none
// of its documents present checks one in instead. The k-th operation of client i is drawn
// from a DeterministicRng seeded by (seed, i), so a seed fixes every client's sequence.
// The measured phase stops at N operations in total or after S seconds, whichever comes
// first; the servers are sampled (metrics endpoint, /proc) just before and after it.
//
// Exit status: 0; 1 when setup failed or more than 1% of the operations failed; 2 on bad
// usage.
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/rng.h"
#include "base/status.h"
#include "client_lib/client.h"
#include "evidence/timestamp_request.h"
#include "config/cluster_config.h"
#include "config/layout.h"
#include "tools/bench/bench_common.h"

namespace belfry::bench {
namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> kKinds = {"checkin", "checkout", "grant", "delete", "stamp"};
enum KindIndex : size_t { kCheckIn = 0, kCheckOut = 1, kGrant = 2, kDelete = 3, kStamp = 4 };

// Limits on what one run may ask for.
constexpr uint32_t kClientsMax = 1024;
constexpr uint32_t kDocsPerClientMax = 4096;
constexpr uint64_t kOpsMax = 100000000;
constexpr double kSecondsMax = 24 * 3600;
constexpr auto kSetupSecondsMax = std::chrono::seconds(300);

struct Options {
  std::string dir;
  uint32_t clients = 1;
  Mix mix;
  uint64_t size_bytes = 1024;
  bool confidential = false;
  bool integrity = false;
  uint64_t ops = 1000;
  double seconds = 20;
  uint64_t warmup_ops = 0;
  uint64_t seed = 1;
  uint32_t docs = 8;
  std::string json_path;
  std::string tsv_path;
  std::string label;
  std::string user_prefix = "bench-";
  int64_t op_timeout_ms = 30000;
};

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: belfry-bench --dir DIR [--clients C] [--mix checkin=70,checkout=30]\n"
               "                    [--size 1KiB] [--confidential] [--integrity] [--ops N]\n"
               "                    [--seconds S] [--warmup-ops W] [--seed X] [--docs D]\n"
               "                    [--json FILE] [--tsv FILE] [--label NAME]\n"
               "                    [--op-timeout-ms T] [--user-prefix P]\n"
               "       belfry-bench --free-port-range K   a base port P with P..P+K-1 free\n"
               "  --mix kinds: checkin, checkout, grant, delete, stamp (relative weights)\n"
               "  defaults: --clients 1 --mix checkin=100 --size 1KiB --ops 1000 --seconds 20\n"
               "            --docs 8 --seed 1 --op-timeout-ms 30000\n");
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options o;
  absl::StatusOr<Mix> mix = ParseMix("checkin=100", kKinds);
  o.mix = *mix;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--confidential") {
      o.confidential = true;
      continue;
    }
    if (flag == "--integrity") {
      o.integrity = true;
      continue;
    }
    if (i + 1 >= argc) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag or missing value: ", flag));
    }
    const std::string value = argv[++i];
    auto number = [&](auto* out, auto low, auto high) -> absl::Status {
      if (!absl::SimpleAtoi(value, out) || *out < low || *out > high) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " wants a whole number in ", low, "..", high));
      }
      return absl::OkStatus();
    };
    absl::Status s;
    if (flag == "--dir") {
      o.dir = value;
    } else if (flag == "--clients") {
      s = number(&o.clients, 1u, kClientsMax);
    } else if (flag == "--mix") {
      mix = ParseMix(value, kKinds);
      s = mix.status();
      if (mix.ok()) {
        o.mix = *mix;
      }
    } else if (flag == "--size") {
      absl::StatusOr<uint64_t> size = ParseBytes(value);
      s = size.status();
      if (size.ok()) {
        o.size_bytes = *size;
      }
    } else if (flag == "--ops") {
      s = number(&o.ops, uint64_t{1}, kOpsMax);
    } else if (flag == "--seconds") {
      if (!absl::SimpleAtod(value, &o.seconds) || !(o.seconds > 0) || o.seconds > kSecondsMax) {
        s = absl::InvalidArgumentError("--seconds wants a number of seconds above 0");
      }
    } else if (flag == "--warmup-ops") {
      s = number(&o.warmup_ops, uint64_t{0}, kOpsMax);
    } else if (flag == "--seed") {
      s = number(&o.seed, uint64_t{0}, UINT64_MAX);
    } else if (flag == "--docs") {
      s = number(&o.docs, 1u, kDocsPerClientMax);
    } else if (flag == "--json") {
      o.json_path = value;
    } else if (flag == "--tsv") {
      o.tsv_path = value;
    } else if (flag == "--label") {
      o.label = value;
    } else if (flag == "--user-prefix") {
      o.user_prefix = value;
    } else if (flag == "--op-timeout-ms") {
      s = number(&o.op_timeout_ms, int64_t{100}, int64_t{600000});
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag: ", flag));
    }
    if (!s.ok()) {
      return s;
    }
  }
  if (o.dir.empty()) {
    return absl::InvalidArgumentError("--dir is required");
  }
  return o;
}

std::string UserName(const Options& o, uint32_t index) {
  return absl::StrFormat("%s%03d", o.user_prefix, index);
}

// Issues the bench users DIR lacks, one add-user at a time (it updates shared files).
absl::Status EnsureUsers(const Options& o) {
  const std::string setup = SelfDir() + "/belfry-setup";
  for (uint32_t i = 0; i < o.clients; ++i) {
    const std::string name = UserName(o, i);
    const std::string key = absl::StrCat(config::UserDir(o.dir, name), "/", name, ".key");
    if (::access(key.c_str(), R_OK) == 0) {
      continue;
    }
    absl::StatusOr<int> rc = RunProgram({setup, "add-user", "--dir", o.dir, name});
    if (!rc.ok()) {
      return rc.status();
    }
    if (*rc != 0) {
      return absl::InternalError(absl::StrCat(setup, " add-user ", name, " exited ", *rc));
    }
  }
  return absl::OkStatus();
}

std::string ErrorName(const absl::Status& status) {
  switch (ErrorKindOf(status)) {
    case ErrorKind::kOk:
      return "ok";
    case ErrorKind::kInvalidInput:
      return "invalid_input";
    case ErrorKind::kNotLoggedIn:
      return "not_logged_in";
    case ErrorKind::kAccessDenied:
      return "access_denied";
    case ErrorKind::kNoSuchDocument:
      return "no_such_document";
    case ErrorKind::kIntegrity:
      return "integrity";
    case ErrorKind::kNoQuorum:
      return "no_quorum";
    case ErrorKind::kOther:
      return "other";
  }
  return "other";
}

// One document of one client: whether it exists now and the tag of its last content.
struct Doc {
  std::string name;
  bool present = false;
  uint64_t tag = 0;
};

// BenchClient: one bench user with its own Client, session and documents.
class BenchClient final : public Worker {
 public:
  BenchClient(const Options& o, uint32_t index)
      : o_(o), index_(index), uid_(UserName(o, index)),
        grant_target_(o.clients > 1 ? UserName(o, (index + 1) % o.clients) : "") {
    for (uint32_t d = 0; d < o.docs; ++d) {
      docs_.push_back(Doc{absl::StrFormat("%s-doc-%04d", uid_, d), false, 0});
    }
  }

  absl::Status Setup(DeterministicRng& rng, const std::atomic<bool>& abort) override {
    const auto deadline = Clock::now() + kSetupSecondsMax;
    payload_.resize(o_.size_bytes);
    rng.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(payload_.data()), payload_.size()));
    ClientOptions co;
    co.cluster_config_path = config::ClusterConfigPath(o_.dir);
    const std::string user_dir = config::UserDir(o_.dir, uid_);
    co.user_cert_path = absl::StrCat(user_dir, "/", uid_, ".crt");
    co.user_key_path = absl::StrCat(user_dir, "/", uid_, ".key");
    co.deadline = std::chrono::milliseconds(o_.op_timeout_ms);
    BELFRY_ASSIGN_OR_RETURN(client_, Client::Connect(std::move(co)));
    absl::StatusOr<LoginInfo> login = client_->Login(uid_);
    if (!login.ok()) {
      return absl::Status(login.status().code(),
                          absl::StrCat("login ", uid_, ": ", login.status().message()));
    }
    const bool needs_documents =
        o_.mix.entries.size() > 1 || o_.mix.entries[0].first != kKinds[kCheckIn];
    if (!needs_documents) {
      return absl::OkStatus();
    }
    for (Doc& d : docs_) {
      if (abort.load() || Clock::now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("setup of ", uid_, " gave up"));
      }
      if (absl::Status s = CheckInDoc(d); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("setup checkin ", d.name, " as ", uid_, ": ",
                                                   s.message()));
      }
    }
    return absl::OkStatus();
  }

  StepResult Step(size_t want, DeterministicRng& rng) override {
    size_t kind = want;
    Doc* doc = nullptr;
    if (want == kStamp) {
      // An RFC 3161 stamp of a fresh SHA-256 (only the hash travels), with a nonce and the
      // certificate asked for, as `belfry stamp` and stock clients send it.
      evidence::TimeStampRequest request;
      request.imprint.hash = evidence::ImprintHash::kSha256;
      request.imprint.hashed_message.resize(32);
      rng.Fill(request.imprint.hashed_message);
      Bytes nonce(8);
      rng.Fill(nonce);
      nonce[0] |= 0x01;  // no leading zero byte: one encoding per value
      request.nonce = nonce;
      request.cert_req = true;
      absl::Status stamped = client_->Stamp(request).status();
      return StepResult{kind, stamped.ok() ? "" : ErrorName(stamped)};
    }
    if (want != kCheckIn) {
      doc = PickPresent(rng);
      if (doc == nullptr) {
        kind = kCheckIn;
      }
    }
    if (kind == kCheckIn) {
      doc = NextCheckInTarget();
    }
    absl::Status status;
    switch (kind) {
      case kCheckIn:
        status = CheckInDoc(*doc);
        break;
      case kCheckOut:
        return StepResult{kind, CheckOutDoc(*doc)};
      case kGrant: {
        const GrantTarget target = grant_target_.empty() ? GrantTarget::All()
                                                         : GrantTarget::User(grant_target_);
        status = client_->Grant(doc->name, target, Rights::kCheckOut, 60).status();
        break;
      }
      case kDelete:
        status = client_->Delete(doc->name).status();
        if (status.ok()) {
          doc->present = false;
        }
        break;
    }
    return StepResult{kind, status.ok() ? "" : ErrorName(status)};
  }

  void Teardown() override {
    if (client_) {
      // Ending the session keeps the next run's login clean; a failure changes no figure.
      absl::Status ignored = client_->Logout().status();
      (void)ignored;
      client_.reset();
    }
  }

 private:
  // Content tags make every checkin's bytes distinct and let a checkout prove it got the
  // latest version of the document back.
  absl::Status CheckInDoc(Doc& doc) {
    const uint64_t tag = (uint64_t{index_} << 40) | ++tags_issued_;
    if (payload_.size() >= sizeof(tag)) {
      std::memcpy(payload_.data(), &tag, sizeof(tag));
    }
    CheckInFlags flags;
    flags.confidential = o_.confidential;
    flags.integrity = o_.integrity;
    BELFRY_RETURN_IF_ERROR(client_->CheckIn(doc.name, payload_, flags).status());
    doc.present = true;
    doc.tag = tag;
    return absl::OkStatus();
  }

  std::string CheckOutDoc(const Doc& doc) {
    absl::StatusOr<Document> r = client_->CheckOut(doc.name);
    if (!r.ok()) {
      return ErrorName(r.status());
    }
    uint64_t got = 0;
    const bool tagged = r->data.size() >= sizeof(got);
    if (tagged) {
      std::memcpy(&got, r->data.data(), sizeof(got));
    }
    if (r->data.size() != payload_.size() || (tagged && got != doc.tag)) {
      return "wrong_data";
    }
    return "";
  }

  Doc* PickPresent(DeterministicRng& rng) {
    const size_t start = rng.Uniform(docs_.size());
    for (size_t k = 0; k < docs_.size(); ++k) {
      Doc& d = docs_[(start + k) % docs_.size()];
      if (d.present) {
        return &d;
      }
    }
    return nullptr;
  }

  // A deleted document first, so deletes do not shrink the working set; else in turn.
  Doc* NextCheckInTarget() {
    for (Doc& d : docs_) {
      if (!d.present && d.tag != 0) {
        return &d;
      }
    }
    Doc* d = &docs_[next_doc_];
    next_doc_ = (next_doc_ + 1) % docs_.size();
    return d;
  }

  const Options& o_;
  const uint32_t index_;
  const std::string uid_;
  const std::string grant_target_;
  std::unique_ptr<Client> client_;
  std::vector<Doc> docs_;
  size_t next_doc_ = 0;
  std::string payload_;
  uint64_t tags_issued_ = 0;
};

pid_t LocalPid(const std::string& dir, uint32_t id) {
  std::ifstream in(absl::StrCat(dir, "/run/replica-", id, ".pid"));
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return 0;
  }
  // A stale PID file may name an unrelated process by now.
  std::ifstream comm(absl::StrCat("/proc/", pid, "/comm"));
  std::string name;
  if (!std::getline(comm, name) || name != "belfry-replica") {
    return 0;
  }
  return static_cast<pid_t>(pid);
}

std::string Headline(const Options& o, const config::ClusterConfig& cfg) {
  return absl::StrFormat("N=%d f=%d, %d client%s, %s, %d B%s%s, ops<=%d, <=%g s, seed %d",
                         cfg.n(), cfg.f(), o.clients, o.clients == 1 ? "" : "s",
                         o.mix.ToString(), o.size_bytes, o.confidential ? ", confidential" : "",
                         o.integrity ? ", integrity" : "", o.ops, o.seconds, o.seed);
}

int Run(const Options& o) {
  absl::StatusOr<config::ClusterConfig> cfg =
      config::LoadClusterConfig(config::ClusterConfigPath(o.dir));
  if (!cfg.ok()) {
    std::fprintf(stderr, "belfry-bench: %s\n", std::string(cfg.status().message()).c_str());
    return 1;
  }
  if (o.size_bytes > cfg->limits.document_bytes_max) {
    std::fprintf(stderr, "belfry-bench: --size %llu is above the cluster's document limit %llu\n",
                 static_cast<unsigned long long>(o.size_bytes),
                 static_cast<unsigned long long>(cfg->limits.document_bytes_max));
    return 2;
  }
  if (absl::Status s = EnsureUsers(o); !s.ok()) {
    std::fprintf(stderr, "belfry-bench: issuing users: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::vector<ServerTarget> targets;
  for (const pb::ReplicaEndpoint& r : cfg->proto.replicas()) {
    targets.push_back(ServerTarget{absl::StrCat("replica-", r.id()), r.host(),
                                   static_cast<uint16_t>(r.metrics_port()),
                                   LocalPid(o.dir, r.id())});
  }
  // Connection events would drown the progress line.
  SetConnectionLogSink([](const std::string&) {});
  std::vector<std::unique_ptr<Worker>> workers;
  for (uint32_t i = 0; i < o.clients; ++i) {
    workers.push_back(std::make_unique<BenchClient>(o, i));
  }
  LoopOptions loop;
  loop.program = "belfry-bench";
  loop.kinds = kKinds;
  loop.mix = o.mix;
  loop.ops = o.ops;
  loop.seconds = o.seconds;
  loop.warmup_ops = o.warmup_ops;
  loop.seed = o.seed;
  Report report;
  report.system = "belfry";
  report.label = o.label;
  report.headline = Headline(o, *cfg);
  report.parameters = {
      {"dir", JsonString(o.dir)},
      {"replicas", absl::StrCat(cfg->n())},
      {"f", absl::StrCat(cfg->f())},
      {"clients", absl::StrCat(o.clients)},
      {"mix", JsonString(o.mix.ToString())},
      {"size_bytes", absl::StrCat(o.size_bytes)},
      {"confidential", o.confidential ? "true" : "false"},
      {"integrity", o.integrity ? "true" : "false"},
      {"ops", absl::StrCat(o.ops)},
      {"seconds", absl::StrFormat("%g", o.seconds)},
      {"warmup_ops", absl::StrCat(o.warmup_ops)},
      {"seed", absl::StrCat(o.seed)},
      {"docs_per_client", absl::StrCat(o.docs)},
      {"op_timeout_ms", absl::StrCat(o.op_timeout_ms)},
  };

  return MeasureAndReport(loop, workers, targets, BelfrySeries(), std::move(report), o.json_path,
                          o.tsv_path);
}

}  // namespace
}  // namespace belfry::bench

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    belfry::bench::Usage(stdout);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--free-port-range") == 0) {
    uint32_t count = 0;
    absl::StatusOr<uint16_t> base = absl::SimpleAtoi(argv[2], &count)
                                        ? belfry::bench::FindFreePortRange(count)
                                        : absl::InvalidArgumentError("--free-port-range COUNT");
    if (!base.ok()) {
      std::fprintf(stderr, "belfry-bench: %s\n", std::string(base.status().message()).c_str());
      return 1;
    }
    std::printf("%u\n", *base);
    return 0;
  }
  absl::StatusOr<belfry::bench::Options> options = belfry::bench::ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "belfry-bench: %s\n", std::string(options.status().message()).c_str());
    belfry::bench::Usage(stderr);
    return 2;
  }
  return belfry::bench::Run(*options);
}
