// belfry-attack — denial-of-service attacks on a running local cluster, for
// test/security/dos_e2e.sh. Test-only: not installed.
//
//   belfry-attack --dir DIR oversize   --replica R --port client|peer
//   belfry-attack --dir DIR connections N --replica R [--sources K] [--hold-ms H]
//   belfry-attack --dir DIR slowloris  N --replica R [--port client|peer] [--interval-ms I]
//                                        [--max-ms M]
//   belfry-attack --dir DIR pending    N --replica R
//   belfry-attack --dir DIR far-future N [--from K] [--rate R] [--max-ms M]
//
// Each prints one line, "<attack> key=value ...", and exits 0 when it could carry the attack
// out (whether the replica defended itself is the script's to judge from these figures and
// the replica's metrics), 1 otherwise. Every loop is bounded in count and time, and every
// connection goes to the addresses in cluster.conf (loopback in the tests). Identities come
// from DIR: user alice for the client port, replica K's files (default 3) for the peer port
// — the caller stops that replica first, so this program plays it as a Byzantine replica.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "client_lib/client.h"
#include "client_lib/internal/requests.h"
#include "config/cluster_config.h"
#include "config/layout.h"
#include "proto/replica.pb.h"
#include "proto/reply.pb.h"
#include "transport/frame.h"
#include "transport/peer_network.h"
#include "transport/tls.h"

namespace belfry::attack {
namespace {

using Clock = std::chrono::steady_clock;
using SslStream = asio::ssl::stream<asio::ip::tcp::socket>;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

struct Args {
  std::string dir;
  std::string attack;
  uint64_t count = 0;
  uint32_t replica = 0;
  uint32_t from = 3;
  std::string port = "client";
  uint32_t sources = 1;
  int64_t hold_ms = 2000;
  int64_t interval_ms = 100;
  int64_t max_ms = 20000;
  uint64_t rate = 0;
};

int Usage() {
  std::fprintf(stderr,
               "usage: belfry-attack --dir DIR oversize --replica R --port client|peer\n"
               "       belfry-attack --dir DIR connections N --replica R [--sources K] [--hold-ms H]\n"
               "       belfry-attack --dir DIR slowloris N --replica R [--port client|peer]\n"
               "                                           [--interval-ms I] [--max-ms M]\n"
               "       belfry-attack --dir DIR pending N --replica R\n"
               "       belfry-attack --dir DIR far-future N [--from K] [--rate R] [--max-ms M]\n");
  return 2;
}

struct Target {
  std::string host;
  uint16_t port = 0;
};

absl::StatusOr<Target> TargetOf(const config::ClusterConfig& cfg, uint32_t replica,
                                const std::string& port_kind) {
  if (replica >= cfg.n()) return absl::InvalidArgumentError("--replica is not in cluster.conf");
  const pb::ReplicaEndpoint& r = cfg.proto.replicas(static_cast<int>(replica));
  if (port_kind == "client") return Target{r.host(), static_cast<uint16_t>(r.client_port())};
  if (port_kind == "peer") return Target{r.host(), static_cast<uint16_t>(r.peer_port())};
  return absl::InvalidArgumentError("--port is client or peer");
}

// Alice's identity for the client port, replica `from`'s for the peer port.
absl::StatusOr<transport::TlsCredentials> CredentialsFor(const Args& a, const std::string& port_kind) {
  if (port_kind == "client") {
    const std::string user = config::UserDir(a.dir, "alice");
    return transport::TlsCredentials::FromFiles(config::CaCertPath(a.dir), user + "/alice.crt",
                                                user + "/alice.key");
  }
  const config::ReplicaFiles files = config::ReplicaFiles::In(config::ReplicaDir(a.dir, a.from));
  return transport::TlsCredentials::FromFiles(config::CaCertPath(a.dir), files.tls_cert, files.tls_key);
}

// One TLS connection driven synchronously, each step bounded by a deadline (asynchronous
// operations run with run_for, so a silent server cannot hang the attack).
class TlsConn {
 public:
  static absl::StatusOr<std::unique_ptr<TlsConn>> Open(const transport::TlsCredentials& creds,
                                                       const Target& target,
                                                       std::chrono::milliseconds timeout) {
    BELFRY_ASSIGN_OR_RETURN(std::shared_ptr<asio::ssl::context> ctx,
                            transport::MakeTlsContext(creds, transport::TlsSide::kClient));
    auto conn = std::unique_ptr<TlsConn>(new TlsConn(std::move(ctx)));
    asio::error_code ec;
    const asio::ip::address address = asio::ip::make_address(target.host, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat(target.host, " is not an IP address"));
    asio::error_code result = asio::error::would_block;
    conn->stream_.lowest_layer().async_connect(
        asio::ip::tcp::endpoint(address, target.port),
        [&result](const asio::error_code& e) { result = e; });
    conn->Run(timeout, result);
    if (result) return absl::UnavailableError(absl::StrCat("connect: ", result.message()));
    result = asio::error::would_block;
    conn->stream_.async_handshake(asio::ssl::stream_base::client,
                                  [&result](const asio::error_code& e) { result = e; });
    conn->Run(timeout, result);
    if (result) return absl::UnavailableError(absl::StrCat("TLS handshake: ", result.message()));
    return conn;
  }

  // Writes all of `bytes`; the error, if any.
  asio::error_code Write(const std::string& bytes, std::chrono::milliseconds timeout) {
    asio::error_code result = asio::error::would_block;
    asio::async_write(stream_, asio::buffer(bytes),
                      [&result](const asio::error_code& e, size_t) { result = e; });
    Run(timeout, result);
    return result;
  }

  // Reads one frame body. nullopt on a closed connection or timeout (`closed` says which).
  std::optional<std::string> ReadFrame(size_t frame_bytes_max, std::chrono::milliseconds timeout,
                                       bool* closed) {
    transport::FrameHeader header{};
    asio::error_code result = asio::error::would_block;
    asio::async_read(stream_, asio::buffer(header),
                     [&result](const asio::error_code& e, size_t) { result = e; });
    Run(timeout, result);
    *closed = result && result != asio::error::would_block && result != asio::error::timed_out;
    if (result) return std::nullopt;
    absl::StatusOr<uint32_t> len = transport::DecodeFrameHeader(header, frame_bytes_max);
    if (!len.ok()) {
      *closed = true;
      return std::nullopt;
    }
    std::string body(*len, '\0');
    result = asio::error::would_block;
    asio::async_read(stream_, asio::buffer(body),
                     [&result](const asio::error_code& e, size_t) { result = e; });
    Run(timeout, result);
    *closed = static_cast<bool>(result);
    if (result) return std::nullopt;
    return body;
  }

  // Waits until the server closes the connection; false when it is still open at timeout.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    std::array<char, 4096> sink{};
    const Clock::time_point until = Clock::now() + timeout;
    while (Clock::now() < until) {
      asio::error_code result = asio::error::would_block;
      stream_.async_read_some(asio::buffer(sink),
                              [&result](const asio::error_code& e, size_t) { result = e; });
      Run(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()), result);
      if (result == asio::error::timed_out) return false;
      if (result) return true;
    }
    return false;
  }

 private:
  explicit TlsConn(std::shared_ptr<asio::ssl::context> ctx)
      : ctx_(std::move(ctx)), stream_(io_, *ctx_) {}

  // Runs the pending operation until it completes or `timeout` passes (then cancels it and
  // sets timed_out).
  void Run(std::chrono::milliseconds timeout, asio::error_code& result) {
    io_.restart();
    io_.run_for(timeout);
    if (result == asio::error::would_block) {
      asio::error_code ignored;
      stream_.lowest_layer().cancel(ignored);
      io_.restart();
      io_.run_for(std::chrono::milliseconds(500));
      result = asio::error::timed_out;
    }
  }

  asio::io_context io_;
  std::shared_ptr<asio::ssl::context> ctx_;
  SslStream stream_;
};

// ---- oversize ----

int Oversize(const Args& a, const config::ClusterConfig& cfg) {
  absl::StatusOr<Target> target = TargetOf(cfg, a.replica, a.port);
  absl::StatusOr<transport::TlsCredentials> creds = CredentialsFor(a, a.port);
  for (const absl::Status& s : {target.status(), creds.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "belfry-attack: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  absl::StatusOr<std::unique_ptr<TlsConn>> conn =
      TlsConn::Open(*creds, *target, std::chrono::milliseconds(5000));
  if (!conn.ok()) {
    std::printf("oversize port=%s replica=%u handshake=failed detail=\"%s\"\n", a.port.c_str(),
                a.replica, std::string(conn.status().message()).c_str());
    return 1;
  }
  // The header announces one byte more than any frame may hold; a little of the body
  // follows, as a real sender would start streaming it.
  const uint64_t announced = cfg.limits.frame_bytes_max + 1;
  const transport::FrameHeader header = transport::EncodeFrameHeader(static_cast<uint32_t>(announced));
  std::string bytes(reinterpret_cast<const char*>(header.data()), header.size());
  bytes.append(64 << 10, 'x');
  const Clock::time_point start = Clock::now();
  const asio::error_code write_error = (*conn)->Write(bytes, std::chrono::milliseconds(5000));
  const bool closed = (*conn)->WaitClosed(std::chrono::milliseconds(5000));
  std::printf("oversize port=%s replica=%u handshake=ok announced=%llu body_sent=%u write_error=%d "
              "closed_by_server=%d close_ms=%lld\n",
              a.port.c_str(), a.replica, static_cast<unsigned long long>(announced), 64u << 10,
              write_error ? 1 : 0, closed ? 1 : 0, static_cast<long long>(MsSince(start)));
  return 0;
}

// ---- raw TCP connections (connections, slowloris) ----

// A TCP connection from 127.0.0.`source` (loopback: any 127/8 address is local) to
// `target`; -1 on failure.
int DialFrom(const Target& target, uint32_t source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(0x7f000000u | source);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(target.port);
  if (::inet_pton(AF_INET, target.host.c_str(), &remote.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the server has closed `fd` (EOF or reset), without consuming data.
bool ServerClosed(int fd) {
  char c = 0;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

void RaiseFdLimit(uint64_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < wanted + 64) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, wanted + 64);
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

int Connections(const Args& a, const config::ClusterConfig& cfg) {
  absl::StatusOr<Target> target = TargetOf(cfg, a.replica, a.port);
  if (!target.ok() || a.count == 0 || a.count > 5000 || a.sources == 0 || a.sources > 200) {
    return Usage();
  }
  RaiseFdLimit(a.count);
  std::vector<int> fds;
  uint64_t failed = 0, refused = 0, peak_open = 0;
  const Clock::time_point start = Clock::now();
  // In batches that fit the listen backlog (a burst beyond it is dropped by the kernel,
  // before the replica sees it). Each batch is checked right away: a connection the
  // server closed within that moment was refused at accept, long before any handshake
  // timeout could have cut it.
  constexpr uint64_t kBatch = 50;
  // Source addresses one after the other, each an equal block: the first sources meet the
  // per-address limit before the total limit is reached, the last ones the total limit.
  std::vector<int64_t> opened_ms;
  for (uint64_t i = 0; i < a.count && MsSince(start) < a.max_ms; i += kBatch) {
    for (uint64_t j = i; j < std::min(a.count, i + kBatch); ++j) {
      const int fd = DialFrom(*target, 1 + static_cast<uint32_t>(j * a.sources / a.count));
      if (fd < 0) {
        ++failed;
      } else {
        fds.push_back(fd);
        opened_ms.push_back(MsSince(start));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Then watch every connection for the hold time. A refusal is a close soon after
  // accept (on a loaded machine the replica's thread may take a moment); an accepted one
  // stays open until the handshake timeout cuts it, which is seconds later. How many are
  // open at once is what client_connections_max bounds.
  constexpr int64_t kRefusalWindowMs = 1900;  // the test runs with 2 s handshake timeouts
  std::vector<int64_t> closed_ms(fds.size(), -1);
  const int64_t watch_until = MsSince(start) + static_cast<int64_t>(a.hold_ms);
  while (MsSince(start) < watch_until) {
    uint64_t open_now = 0;
    for (size_t k = 0; k < fds.size(); ++k) {
      if (closed_ms[k] < 0 && ServerClosed(fds[k])) closed_ms[k] = MsSince(start);
      open_now += closed_ms[k] < 0 ? 1 : 0;
    }
    peak_open = std::max(peak_open, open_now);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (size_t k = 0; k < fds.size(); ++k) {
    if (closed_ms[k] >= 0 && closed_ms[k] - opened_ms[k] < kRefusalWindowMs) ++refused;
  }
  uint64_t open_at_end = 0;
  for (int fd : fds) {
    open_at_end += ServerClosed(fd) ? 0 : 1;
    ::close(fd);
  }
  std::printf("connections attempted=%llu connected=%zu connect_failed=%llu refused=%llu "
              "accepted=%llu peak_open=%llu open_after_hold=%llu sources=%u\n",
              static_cast<unsigned long long>(a.count), fds.size(),
              static_cast<unsigned long long>(failed), static_cast<unsigned long long>(refused),
              static_cast<unsigned long long>(fds.size() - refused),
              static_cast<unsigned long long>(peak_open), static_cast<unsigned long long>(open_at_end),
              a.sources);
  return fds.empty() ? 1 : 0;
}

// The first bytes of a TLS 1.3 ClientHello: a handshake record announcing 512 bytes, a
// ClientHello header, legacy version and a random. Never more than this is sent.
std::string PartialClientHello() {
  std::string hello = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, static_cast<char>(0xfc), 0x03, 0x03};
  for (int i = 0; i < 32; ++i) hello.push_back(static_cast<char>(i * 7 + 1));
  return hello;
}

int Slowloris(const Args& a, const config::ClusterConfig& cfg) {
  absl::StatusOr<Target> target = TargetOf(cfg, a.replica, a.port);
  if (!target.ok() || a.count == 0 || a.count > 2000 || a.interval_ms <= 0) return Usage();
  RaiseFdLimit(a.count);
  const std::string hello = PartialClientHello();
  struct Conn {
    int fd = -1;
    size_t sent = 0;
    int64_t cut_ms = -1;
  };
  std::vector<Conn> conns;
  const Clock::time_point start = Clock::now();
  for (uint64_t i = 0; i < a.count; ++i) {
    const int fd = DialFrom(*target, 1);
    if (fd >= 0) conns.push_back(Conn{.fd = fd});
  }
  size_t open = conns.size();
  while (open > 0 && MsSince(start) < a.max_ms) {
    for (Conn& c : conns) {
      if (c.cut_ms >= 0) continue;
      if (ServerClosed(c.fd)) {
        c.cut_ms = MsSince(start);
        --open;
        continue;
      }
      // One byte per interval, and never the whole hello: the handshake cannot complete.
      if (c.sent + 1 < hello.size() &&
          ::send(c.fd, hello.data() + c.sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
        ++c.sent;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(a.interval_ms));
  }
  int64_t cut_min = -1, cut_max = -1;
  uint64_t cut = 0;
  size_t bytes_max = 0;
  for (Conn& c : conns) {
    if (c.cut_ms >= 0) {
      ++cut;
      cut_min = cut_min < 0 ? c.cut_ms : std::min(cut_min, c.cut_ms);
      cut_max = std::max(cut_max, c.cut_ms);
    }
    bytes_max = std::max(bytes_max, c.sent);
    ::close(c.fd);
  }
  std::printf("slowloris port=%s replica=%u connections=%zu cut=%llu still_open=%zu cut_ms_min=%lld "
              "cut_ms_max=%lld bytes_sent_max=%zu\n",
              a.port.c_str(), a.replica, conns.size(), static_cast<unsigned long long>(cut), open,
              static_cast<long long>(cut_min), static_cast<long long>(cut_max), bytes_max);
  return conns.empty() ? 1 : 0;
}

// ---- pending ----

int Pending(const Args& a, const config::ClusterConfig& cfg) {
  absl::StatusOr<Target> target = TargetOf(cfg, a.replica, "client");
  absl::StatusOr<transport::TlsCredentials> creds = CredentialsFor(a, "client");
  if (!target.ok() || !creds.ok() || a.count == 0 || a.count > 100000) return Usage();
  // A real login through the client library: the flood is signed by a valid session.
  const std::string user = config::UserDir(a.dir, "alice");
  ClientOptions options{.cluster_config_path = config::ClusterConfigPath(a.dir),
                        .user_cert_path = user + "/alice.crt",
                        .user_key_path = user + "/alice.key"};
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(std::move(options));
  if (!client.ok()) {
    std::fprintf(stderr, "belfry-attack: %s\n", std::string(client.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<LoginInfo> login = (*client)->Login("alice");
  absl::StatusOr<SessionCredentials> session =
      login.ok() ? (*client)->ExportSession() : absl::StatusOr<SessionCredentials>(login.status());
  if (!session.ok()) {
    std::fprintf(stderr, "belfry-attack: login: %s\n", std::string(session.status().message()).c_str());
    return 1;
  }
  const client::internal::SessionKey key = client::internal::SessionKey::FromSeed(session->seed());
  const uint64_t first_seq = login->next_seq;
  client.value().reset();

  // Every request built first, so that they leave back to back.
  std::string wire;
  for (uint64_t i = 0; i < a.count; ++i) {
    pb::SessionOp op;
    op.mutable_check_out()->set_doc(absl::StrCat("dos-pending-", i));
    op.mutable_check_out()->set_reply_public_key(std::string(32, '\x07'));
    client::internal::BuiltRequest request =
        client::internal::BuildSessionOp(cfg.cluster_id(), key, first_seq + i, std::move(op));
    pb::ClientFrame frame;
    frame.set_request(std::move(request.bytes));
    const std::string body = frame.SerializeAsString();
    const transport::FrameHeader header = transport::EncodeFrameHeader(static_cast<uint32_t>(body.size()));
    wire.append(reinterpret_cast<const char*>(header.data()), header.size());
    wire.append(body);
  }
  absl::StatusOr<std::unique_ptr<TlsConn>> conn =
      TlsConn::Open(*creds, *target, std::chrono::milliseconds(5000));
  if (!conn.ok()) {
    std::fprintf(stderr, "belfry-attack: %s\n", std::string(conn.status().message()).c_str());
    return 1;
  }
  const Clock::time_point start = Clock::now();
  // A replica that throttles the flood stops reading it, so the write may not finish:
  // give it half the time, then read what came back (the replica answers what it read).
  const asio::error_code write_error =
      (*conn)->Write(wire, std::chrono::milliseconds(std::max<uint64_t>(1000, a.max_ms / 2)));
  uint64_t replies = 0, overloaded = 0, client_pending = 0, other_rejections = 0;
  std::map<uint32_t, uint64_t> other_codes;
  bool closed = false;
  uint64_t answered = 0;
  while (answered < a.count && !closed && MsSince(start) < a.max_ms) {
    std::optional<std::string> body =
        (*conn)->ReadFrame(cfg.limits.frame_bytes_max, std::chrono::milliseconds(5000), &closed);
    if (!body.has_value()) {
      if (!closed) break;  // nothing for 5 s: every answer that will come has come
      continue;
    }
    pb::ClientFrame frame;
    if (!frame.ParseFromString(*body)) continue;
    ++answered;
    if (frame.has_reply()) {
      ++replies;
    } else if (frame.has_rejection() && frame.rejection().code() == 0) {
      ++overloaded;
      if (frame.rejection().message().find("requests waiting") != std::string::npos) ++client_pending;
    } else {
      ++other_rejections;
    }
  }
  std::printf("pending replica=%u sent=%llu write_error=%d answered=%llu replies=%llu "
              "overloaded=%llu overloaded_client_pending=%llu other_rejections=%llu "
              "connection_closed=%d elapsed_ms=%lld\n",
              a.replica, static_cast<unsigned long long>(a.count), write_error ? 1 : 0,
              static_cast<unsigned long long>(answered), static_cast<unsigned long long>(replies),
              static_cast<unsigned long long>(overloaded),
              static_cast<unsigned long long>(client_pending),
              static_cast<unsigned long long>(other_rejections), closed ? 1 : 0,
              static_cast<long long>(MsSince(start)));
  return 0;
}

// ---- far-future ----

int FarFuture(const Args& a, const config::ClusterConfig& cfg) {
  absl::StatusOr<transport::TlsCredentials> creds = CredentialsFor(a, "peer");
  if (!creds.ok() || a.from >= cfg.n() || a.count == 0 || a.count > 10000000) return Usage();
  transport::PeerNetworkConfig net_cfg;
  net_cfg.self = a.from;
  net_cfg.listen_port = 0;  // not the real replica's port: only this side dials
  net_cfg.credentials = *creds;
  net_cfg.frame_bytes_max = cfg.limits.frame_bytes_max;
  std::vector<uint32_t> targets;
  for (const pb::ReplicaEndpoint& r : cfg.proto.replicas()) {
    if (r.id() == a.from) continue;
    net_cfg.peers.push_back({.id = r.id(), .host = r.host(), .port = static_cast<uint16_t>(r.peer_port())});
    targets.push_back(r.id());
  }
  absl::StatusOr<std::unique_ptr<transport::PeerNetwork>> net = transport::PeerNetwork::Create(net_cfg);
  if (!net.ok() || !(*net)->Start().ok()) {
    std::fprintf(stderr, "belfry-attack: cannot start the peer network\n");
    return 1;
  }
  // Well-formed consensus messages (an ordering-coin share) for epochs a million and more
  // ahead of anything the cluster has run; each epoch different, so none is a duplicate.
  const uint64_t base_epoch = uint64_t{1} << 40;
  const Clock::time_point start = Clock::now();
  uint64_t sent = 0, refused = 0;
  for (uint64_t i = 0; i < a.count && MsSince(start) < a.max_ms; ++i) {
    // --rate R: at most R messages per second to each peer (0: as fast as possible).
    while (a.rate > 0 && i > static_cast<uint64_t>(MsSince(start)) * a.rate / 1000 &&
           MsSince(start) < a.max_ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    pb::PeerMessage msg;
    pb::ConsensusMessage* c = msg.mutable_consensus();
    c->set_epoch(base_epoch + i);
    c->mutable_order_share()->set_share(std::string(96, static_cast<char>(i & 0xff)));
    const std::string payload = msg.SerializeAsString();
    for (uint32_t to : targets) {
      // A full resend buffer means the receiver reads slower than this loop writes: wait
      // for it (bounded by max_ms) rather than drop, so every message is really received.
      while (!(*net)->Send(to, payload).ok() && MsSince(start) < a.max_ms) {
        ++refused;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      ++sent;
    }
  }
  // Until every receiver acknowledged everything (it has been read and handed on).
  bool drained = false;
  while (!drained && MsSince(start) < a.max_ms) {
    drained = true;
    for (uint32_t to : targets) drained = drained && (*net)->counters(to).queue_messages == 0;
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  uint64_t delivered = 0, links = 0;
  for (uint32_t to : targets) {
    const transport::PeerCounters c = (*net)->counters(to);
    delivered += c.messages_sent - c.queue_messages;
    links += c.connects;
  }
  (*net)->Stop();
  std::printf("far-future from=%u peers=%zu sent=%llu acknowledged=%llu send_waits=%llu links=%llu "
              "drained=%d elapsed_ms=%lld\n",
              a.from, targets.size(), static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(refused),
              static_cast<unsigned long long>(links), drained ? 1 : 0,
              static_cast<long long>(MsSince(start)));
  return drained ? 0 : 1;
}

bool ParseU64(const std::string& text, uint64_t* out) { return absl::SimpleAtoi(text, out); }

}  // namespace
}  // namespace belfry::attack

int main(int argc, char** argv) {
  using belfry::attack::Args;
  std::signal(SIGPIPE, SIG_IGN);
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    uint64_t n = 0;
    if (arg == "--dir" && has_value) {
      a.dir = argv[++i];
    } else if (arg == "--replica" && has_value && belfry::attack::ParseU64(argv[++i], &n)) {
      a.replica = static_cast<uint32_t>(n);
    } else if (arg == "--from" && has_value && belfry::attack::ParseU64(argv[++i], &n)) {
      a.from = static_cast<uint32_t>(n);
    } else if (arg == "--port" && has_value) {
      a.port = argv[++i];
    } else if (arg == "--sources" && has_value && belfry::attack::ParseU64(argv[++i], &n)) {
      a.sources = static_cast<uint32_t>(n);
    } else if (arg == "--hold-ms" && has_value && belfry::attack::ParseU64(argv[++i], &n)) {
      a.hold_ms = static_cast<int64_t>(n);
    } else if (arg == "--interval-ms" && has_value && belfry::attack::ParseU64(argv[++i], &n)) {
      a.interval_ms = static_cast<int64_t>(n);
    } else if (arg == "--rate" && has_value && belfry::attack::ParseU64(argv[++i], &n)) {
      a.rate = n;
    } else if (arg == "--max-ms" && has_value && belfry::attack::ParseU64(argv[++i], &n)) {
      a.max_ms = static_cast<int64_t>(std::min<uint64_t>(n, 120000));
    } else if (a.attack.empty() && arg.rfind("--", 0) != 0) {
      a.attack = arg;
      if (a.attack != "oversize") {
        if (!has_value || !belfry::attack::ParseU64(argv[++i], &a.count)) return belfry::attack::Usage();
      }
    } else {
      return belfry::attack::Usage();
    }
  }
  if (a.dir.empty() || a.attack.empty()) return belfry::attack::Usage();
  absl::StatusOr<belfry::config::ClusterConfig> cfg =
      belfry::config::LoadClusterConfig(belfry::config::ClusterConfigPath(a.dir));
  if (!cfg.ok()) {
    std::fprintf(stderr, "belfry-attack: %s\n", std::string(cfg.status().message()).c_str());
    return 1;
  }
  if (a.attack == "oversize") return belfry::attack::Oversize(a, *cfg);
  if (a.attack == "connections") return belfry::attack::Connections(a, *cfg);
  if (a.attack == "slowloris") return belfry::attack::Slowloris(a, *cfg);
  if (a.attack == "pending") return belfry::attack::Pending(a, *cfg);
  if (a.attack == "far-future") return belfry::attack::FarFuture(a, *cfg);
  return belfry::attack::Usage();
}
