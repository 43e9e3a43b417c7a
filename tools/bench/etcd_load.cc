// etcd-load: the same closed-loop load as belfry-bench, against etcd's HTTP/JSON gateway,
// reported in the same table and JSON, so Belfry can be measured against a crash-fault
// tolerant store on the same machine.
//
//   etcd-load --endpoints H:P[,H:P...] [--members H:P,...] [--pids P,P,...]
//             [--clients C] [--mix put=70,get=30] [--size 1KiB] [--keys K] [--ops N]
//             [--seconds S] [--warmup-ops W] [--seed X] [--json FILE] [--tsv FILE]
//             [--label NAME] [--op-timeout-ms T]
//   etcd-load --free-ports K      prints K currently free loopback TCP ports
//
// How it works. Each client is one thread with one keep-alive HTTP/1.1 connection to
// endpoints[i mod |endpoints|], doing one request at a time. put = POST /v3/kv/put of the
// client's own key (its K keys in turn, like belfry-bench's checkins of its own
// documents); get = POST /v3/kv/range, linearizable (etcd's default), of one of its keys,
// checked against the value it last wrote; sget = the same with serializable=true. When
// the mix reads, a setup phase first puts all K keys. The servers named by --members
// (their /metrics) and --pids (/proc) give the cluster figures; epochs and batch size do
// not apply to etcd and are n/a.
//
// Exit status: 0; 1 when setup failed or more than 1% of the operations failed; 2 on bad
// usage.
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/rng.h"
#include "base/status.h"
#include "tools/bench/bench_common.h"

namespace belfry::bench {
namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> kKinds = {"put", "get", "sget"};
enum KindIndex : size_t { kPut = 0, kGet = 1, kSerializableGet = 2 };

constexpr uint32_t kClientsMax = 1024;
constexpr uint32_t kKeysPerClientMax = 100000;
constexpr uint64_t kOpsMax = 100000000;
constexpr double kSecondsMax = 24 * 3600;
constexpr uint64_t kValueBytesMax = 1 << 20;  // etcd's default request limit is 1.5 MiB
constexpr uint32_t kFreePortsMax = 64;
constexpr auto kConnectTimeout = std::chrono::seconds(3);
constexpr auto kSetupSecondsMax = std::chrono::seconds(300);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

struct Options {
  std::vector<HostPort> endpoints;
  std::vector<HostPort> members;
  std::vector<pid_t> pids;
  uint32_t clients = 1;
  Mix mix;
  uint64_t size_bytes = 1024;
  uint32_t keys = 8;
  uint64_t ops = 1000;
  double seconds = 20;
  uint64_t warmup_ops = 0;
  uint64_t seed = 1;
  std::string json_path;
  std::string tsv_path;
  std::string label;
  int64_t op_timeout_ms = 30000;
};

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: etcd-load --endpoints H:P[,H:P...] [--members H:P,...] [--pids P,...]\n"
               "                 [--clients C] [--mix put=70,get=30] [--size 1KiB] [--keys K]\n"
               "                 [--ops N] [--seconds S] [--warmup-ops W] [--seed X]\n"
               "                 [--json FILE] [--tsv FILE] [--label NAME] [--op-timeout-ms T]\n"
               "       etcd-load --free-ports K\n"
               "  --mix kinds: put, get (linearizable range), sget (serializable range)\n"
               "  defaults: --clients 1 --mix put=100 --size 1KiB --keys 8 --ops 1000\n"
               "            --seconds 20 --seed 1 --op-timeout-ms 30000; --members = --endpoints\n");
}

absl::StatusOr<std::vector<HostPort>> ParseHostPorts(absl::string_view text) {
  std::vector<HostPort> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    const size_t colon = item.rfind(':');
    uint32_t port = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(item.substr(colon + 1), &port) ||
        port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("not HOST:PORT: '", item, "'"));
    }
    out.push_back(HostPort{std::string(item.substr(0, colon)), static_cast<uint16_t>(port)});
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("empty endpoint list");
  }
  return out;
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options o;
  o.mix = *ParseMix("put=100", kKinds);
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
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
    if (flag == "--endpoints" || flag == "--members") {
      absl::StatusOr<std::vector<HostPort>> list = ParseHostPorts(value);
      s = list.status();
      if (list.ok()) {
        (flag == "--endpoints" ? o.endpoints : o.members) = *std::move(list);
      }
    } else if (flag == "--pids") {
      for (absl::string_view p : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        int32_t pid = 0;
        if (!absl::SimpleAtoi(p, &pid) || pid <= 0) {
          s = absl::InvalidArgumentError(absl::StrCat("bad PID in --pids: '", p, "'"));
          break;
        }
        o.pids.push_back(pid);
      }
    } else if (flag == "--clients") {
      s = number(&o.clients, 1u, kClientsMax);
    } else if (flag == "--mix") {
      absl::StatusOr<Mix> mix = ParseMix(value, kKinds);
      s = mix.status();
      if (mix.ok()) {
        o.mix = *mix;
      }
    } else if (flag == "--size") {
      absl::StatusOr<uint64_t> size = ParseBytes(value);
      s = size.status();
      if (size.ok()) {
        o.size_bytes = *size;
        if (o.size_bytes > kValueBytesMax) {
          s = absl::InvalidArgumentError("--size above 1 MiB");
        }
      }
    } else if (flag == "--keys") {
      s = number(&o.keys, 1u, kKeysPerClientMax);
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
    } else if (flag == "--json") {
      o.json_path = value;
    } else if (flag == "--tsv") {
      o.tsv_path = value;
    } else if (flag == "--label") {
      o.label = value;
    } else if (flag == "--op-timeout-ms") {
      s = number(&o.op_timeout_ms, int64_t{100}, int64_t{600000});
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag: ", flag));
    }
    if (!s.ok()) {
      return s;
    }
  }
  if (o.endpoints.empty()) {
    return absl::InvalidArgumentError("--endpoints is required");
  }
  if (o.members.empty()) {
    o.members = o.endpoints;
  }
  if (!o.pids.empty() && o.pids.size() != o.members.size()) {
    return absl::InvalidArgumentError("--pids must name one PID per member, in --members order");
  }
  return o;
}

// Binds K listening sockets on loopback port 0 at once (so the ports are distinct), prints
// their ports and closes them. Another process may take one before the caller does; the
// caller's start-up then fails and says which port.
int PrintFreePorts(const char* count_text) {
  uint32_t count = 0;
  if (!absl::SimpleAtoi(count_text, &count) || count == 0 || count > kFreePortsMax) {
    std::fprintf(stderr, "etcd-load: --free-ports wants 1..%u\n", kFreePortsMax);
    return 2;
  }
  asio::io_context io;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors;
  for (uint32_t i = 0; i < count; ++i) {
    asio::error_code ec;
    auto a = std::make_unique<asio::ip::tcp::acceptor>(io);
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    a->open(ep.protocol(), ec);
    if (!ec) {
      a->bind(ep, ec);
    }
    if (!ec) {
      a->listen(asio::socket_base::max_listen_connections, ec);
    }
    const asio::ip::tcp::endpoint bound = ec ? ep : a->local_endpoint(ec);
    if (ec) {
      std::fprintf(stderr, "etcd-load: cannot bind a loopback port: %s\n", ec.message().c_str());
      return 1;
    }
    std::printf("%u\n", bound.port());
    acceptors.push_back(std::move(a));
  }
  return 0;
}

std::string ErrorName(const absl::Status& s) {
  if (absl::IsDeadlineExceeded(s)) {
    return "timeout";
  }
  if (absl::IsDataLoss(s)) {
    return "bad_response";
  }
  return "unavailable";
}

// EtcdClient: one keep-alive connection and the client's own keys.
class EtcdClient final : public Worker {
 public:
  EtcdClient(const Options& o, uint32_t index)
      : o_(o), index_(index), endpoint_(o.endpoints[index % o.endpoints.size()]) {
    for (uint32_t k = 0; k < o.keys; ++k) {
      keys_b64_.push_back(absl::Base64Escape(absl::StrFormat("bench/c%03d/k%04d", index, k)));
    }
    values_b64_.resize(o.keys);
  }

  absl::Status Setup(DeterministicRng& rng, const std::atomic<bool>& abort) override {
    const auto deadline = Clock::now() + kSetupSecondsMax;
    value_.resize(o_.size_bytes);
    rng.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(value_.data()), value_.size()));
    connection_ = std::make_unique<HttpConnection>(endpoint_.host, endpoint_.port);
    BELFRY_RETURN_IF_ERROR(connection_->Reconnect(kConnectTimeout));
    const bool needs_keys = o_.mix.entries.size() > 1 || o_.mix.entries[0].first != kKinds[kPut];
    if (!needs_keys) {
      return absl::OkStatus();
    }
    for (size_t k = 0; k < keys_b64_.size(); ++k) {
      if (abort.load() || Clock::now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("setup of client ", index_, " gave up"));
      }
      if (std::string error = Put(k); !error.empty()) {
        return absl::UnavailableError(absl::StrCat("setup put by client ", index_, ": ", error));
      }
    }
    return absl::OkStatus();
  }

  StepResult Step(size_t want, DeterministicRng& rng) override {
    size_t kind = want;
    size_t key = 0;
    if (want == kPut) {
      key = next_key_;
      next_key_ = (next_key_ + 1) % keys_b64_.size();
    } else {
      key = rng.Uniform(keys_b64_.size());
      if (values_b64_[key].empty()) {
        kind = kPut;  // nothing written there yet: write it instead
      }
    }
    return StepResult{kind, kind == kPut ? Put(key) : Get(key, kind == kSerializableGet)};
  }

 private:
  // One request; on a transport failure the connection is reopened for the next one.
  // Returns "" on success or the error's name.
  std::string Call(absl::string_view path, const std::string& body, std::string* response_body) {
    if (!connection_) {
      connection_ = std::make_unique<HttpConnection>(endpoint_.host, endpoint_.port);
      if (absl::Status s = connection_->Reconnect(kConnectTimeout); !s.ok()) {
        connection_.reset();
        return ErrorName(s);
      }
    }
    absl::StatusOr<HttpResponse> r =
        connection_->Request(path, body, std::chrono::milliseconds(o_.op_timeout_ms));
    if (!r.ok()) {
      connection_.reset();
      return ErrorName(r.status());
    }
    if (r->status != 200) {
      return absl::StrCat("http_", r->status);
    }
    if (r->body.find("\"error\"") != std::string::npos) {
      return "etcd_error";
    }
    *response_body = std::move(r->body);
    return "";
  }

  std::string Put(size_t key) {
    const uint64_t tag = (uint64_t{index_} << 40) | ++tags_issued_;
    if (value_.size() >= sizeof(tag)) {
      std::memcpy(value_.data(), &tag, sizeof(tag));
    }
    std::string value_b64 = absl::Base64Escape(value_);
    const std::string body =
        absl::StrCat("{\"key\":\"", keys_b64_[key], "\",\"value\":\"", value_b64, "\"}");
    std::string response;
    std::string error = Call("/v3/kv/put", body, &response);
    if (error.empty()) {
      values_b64_[key] = std::move(value_b64);
    }
    return error;
  }

  std::string Get(size_t key, bool serializable) {
    const std::string body = absl::StrCat("{\"key\":\"", keys_b64_[key], "\"",
                                          serializable ? ",\"serializable\":true" : "", "}");
    std::string response;
    std::string error = Call("/v3/kv/range", body, &response);
    if (!error.empty()) {
      return error;
    }
    if (response.find("\"kvs\"") == std::string::npos) {
      return "no_such_key";
    }
    // Only this client writes its keys, so a linearizable read must see its last write.
    if (!serializable && response.find(absl::StrCat("\"value\":\"", values_b64_[key], "\"")) ==
                             std::string::npos) {
      return "wrong_data";
    }
    return "";
  }

  const Options& o_;
  const uint32_t index_;
  const HostPort endpoint_;
  std::unique_ptr<HttpConnection> connection_;
  std::vector<std::string> keys_b64_;
  std::vector<std::string> values_b64_;  // last value written to each key ("" = none yet)
  size_t next_key_ = 0;
  std::string value_;
  uint64_t tags_issued_ = 0;
};

int Run(const Options& o) {
  std::vector<ServerTarget> targets;
  for (size_t i = 0; i < o.members.size(); ++i) {
    targets.push_back(ServerTarget{absl::StrCat("etcd-", i), o.members[i].host,
                                   o.members[i].port, o.pids.empty() ? 0 : o.pids[i]});
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (uint32_t i = 0; i < o.clients; ++i) {
    workers.push_back(std::make_unique<EtcdClient>(o, i));
  }
  LoopOptions loop;
  loop.program = "etcd-load";
  loop.kinds = kKinds;
  loop.mix = o.mix;
  loop.ops = o.ops;
  loop.seconds = o.seconds;
  loop.warmup_ops = o.warmup_ops;
  loop.seed = o.seed;
  Report report;
  report.system = "etcd";
  report.label = o.label;
  std::string endpoints;
  for (const HostPort& e : o.endpoints) {
    absl::StrAppend(&endpoints, endpoints.empty() ? "" : ",", e.host, ":", e.port);
  }
  report.headline = absl::StrFormat(
      "%d members, %d client%s on %s, %s, %d B, ops<=%d, <=%g s, seed %d", o.members.size(),
      o.clients, o.clients == 1 ? "" : "s", endpoints, o.mix.ToString(), o.size_bytes, o.ops,
      o.seconds, o.seed);
  report.parameters = {
      {"endpoints", JsonString(endpoints)},
      {"members", absl::StrCat(o.members.size())},
      {"clients", absl::StrCat(o.clients)},
      {"mix", JsonString(o.mix.ToString())},
      {"size_bytes", absl::StrCat(o.size_bytes)},
      {"keys_per_client", absl::StrCat(o.keys)},
      {"ops", absl::StrCat(o.ops)},
      {"seconds", absl::StrFormat("%g", o.seconds)},
      {"warmup_ops", absl::StrCat(o.warmup_ops)},
      {"seed", absl::StrCat(o.seed)},
      {"op_timeout_ms", absl::StrCat(o.op_timeout_ms)},
  };

  return MeasureAndReport(loop, workers, targets, EtcdSeries(), std::move(report), o.json_path,
                          o.tsv_path);
}

}  // namespace
}  // namespace belfry::bench

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    belfry::bench::Usage(stdout);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--free-ports") == 0) {
    return belfry::bench::PrintFreePorts(argv[2]);
  }
  absl::StatusOr<belfry::bench::Options> options = belfry::bench::ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "etcd-load: %s\n", std::string(options.status().message()).c_str());
    belfry::bench::Usage(stderr);
    return 2;
  }
  return belfry::bench::Run(*options);
}
