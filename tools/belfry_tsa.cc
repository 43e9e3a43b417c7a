// tools/belfry_tsa.cc — `belfry-tsa`, an RFC 3161 time-stamping gateway in front of a
// Belfry cluster.
//
// It logs in as one user (its own session, so give it a user of its own: a later login of
// that user elsewhere ends this session) and serves tsa::TsaServer on HOST:PORT. Each
// accepted TimeStampReq becomes a stamp ordered through consensus (Client::Stamp), whose
// token f+1 replicas' service key shares sign. The gateway holds no service key and
// decides nothing: a faulty gateway can refuse to answer, never forge a token. It prints
// "listening on HOST:PORT" once it serves, logs one line per stop, and exits 0 on SIGINT
// or SIGTERM.
#include <signal.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status.h"
#include "client_lib/client.h"
#include "client_lib/internal/errors.h"
#include "config/cluster_config.h"
#include "pki/certificate.h"
#include "pki/issuer.h"
#include "transport/tls.h"
#include "tsa/tsa_server.h"

namespace belfry::tsa_tool {
namespace {

using client::internal::MakeError;

constexpr char kUsage[] =
    R"(usage: belfry-tsa --cluster DIR/cluster.conf --key USERKEY [--cert CERT] --listen HOST:PORT

Serves RFC 3161 time-stamping over HTTP (POST application/timestamp-query) on HOST:PORT
(an IP literal; port 0 picks a free one), each stamp ordered through the cluster and
signed by its threshold service key. Logs in as the user of USERKEY (without --cert: the
.crt beside the key); give the gateway a user of its own. Prints "listening on HOST:PORT"
when ready; SIGINT or SIGTERM stop it.

  openssl ts -query -data FILE -sha256 -cert -out FILE.tsq
  curl -s -H 'Content-Type: application/timestamp-query' --data-binary @FILE.tsq \
      http://HOST:PORT/ -o FILE.tsr
  openssl ts -verify -queryfile FILE.tsq -in FILE.tsr -CAfile ca.crt -untrusted service.crt
)";

struct Flags {
  std::string cluster;
  std::string key;
  std::string cert;
  std::string host;
  uint16_t port = 0;
};

absl::Status Usage(const std::string& message) { return MakeError(ErrorKind::kInvalidInput, message); }

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg != "--cluster" && arg != "--key" && arg != "--cert" && arg != "--listen") {
      return Usage(absl::StrCat("unknown argument ", arg, " (see belfry-tsa --help)"));
    }
    if (i + 1 >= argc) return Usage(absl::StrCat(arg, " needs a value"));
    values[arg] = argv[++i];
  }
  Flags flags;
  flags.cluster = values["--cluster"];
  flags.key = values["--key"];
  const std::string listen = values["--listen"];
  if (flags.cluster.empty() || flags.key.empty() || listen.empty()) {
    return Usage("--cluster, --key and --listen are required (see belfry-tsa --help)");
  }
  const std::string suffix = ".key";
  flags.cert = values.count("--cert") != 0 ? values["--cert"]
               : flags.key.size() > suffix.size() && flags.key.ends_with(suffix)
                   ? flags.key.substr(0, flags.key.size() - suffix.size()) + ".crt"
                   : flags.key + ".crt";
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port > UINT16_MAX) {
    return Usage(absl::StrCat("--listen needs HOST:PORT, not \"", listen, "\""));
  }
  flags.host = listen.substr(0, colon);
  flags.port = static_cast<uint16_t>(port);
  return flags;
}

// The user the key's certificate names, checked against the cluster's CA now: the
// replicas would refuse the login of any other certificate anyway, and this says why.
absl::StatusOr<std::string> UserOf(const config::ClusterConfig& config, const std::string& cert_path) {
  BELFRY_ASSIGN_OR_RETURN(pki::CaBundle ca, pki::CaBundle::FromFile(config.ca_cert_path()));
  BELFRY_ASSIGN_OR_RETURN(std::string pem, ReadFileBounded(cert_path, kPemFileBytesMax));
  BELFRY_ASSIGN_OR_RETURN(Bytes der, pki::CertificatePemToDer(pem));
  BELFRY_ASSIGN_OR_RETURN(pki::CertIdentity id, ca.Verify(der, transport::WallClockUnixSeconds()));
  if (id.role != pki::Role::kUser) {
    return Usage(absl::StrCat(cert_path, " is not a user's certificate"));
  }
  return id.common_name;
}

absl::Status Run(const Flags& flags) {
  BELFRY_ASSIGN_OR_RETURN(config::ClusterConfig config, config::LoadClusterConfig(flags.cluster));
  BELFRY_ASSIGN_OR_RETURN(std::string uid, UserOf(config, flags.cert));
  ClientOptions options;
  options.cluster_config_path = flags.cluster;
  options.user_cert_path = flags.cert;
  options.user_key_path = flags.key;
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Connect(std::move(options)));
  BELFRY_ASSIGN_OR_RETURN(LoginInfo login, client->Login(uid));
  std::cerr << "belfry-tsa: event=login uid=" << uid << " session_expires_ms=" << login.session_expires_ms
            << "\n";

  Client* stamping = client.get();
  tsa::TsaServerConfig server_config;
  server_config.host = flags.host;
  server_config.port = flags.port;
  BELFRY_ASSIGN_OR_RETURN(
      std::unique_ptr<tsa::TsaServer> server,
      tsa::TsaServer::Create(server_config, [stamping](const evidence::TimeStampRequest& request) {
        return stamping->Stamp(request);
      }));
  BELFRY_RETURN_IF_ERROR(server->Start());
  std::cout << "listening on " << flags.host << ":" << server->port() << std::endl;

  // SIGINT and SIGTERM were blocked before any thread started, so only this wait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  int signal_number = 0;
  if (sigwait(&stop_signals, &signal_number) != 0) {
    return MakeError(ErrorKind::kOther, "waiting for a stop signal failed");
  }
  server->Stop();
  const tsa::TsaServerCounters counters = server->counters();
  std::cerr << "belfry-tsa: event=stop signal=" << signal_number << " granted=" << counters.granted
            << " refused=" << counters.refused << " stamp_failures=" << counters.stamp_failures
            << " stamp_timeouts=" << counters.stamp_timeouts << " busy=" << counters.busy << "\n";
  // The server goes first: it waits for Stamper calls still using the client.
  server.reset();
  client.reset();
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  absl::StatusOr<Flags> flags = ParseFlags(argc, argv);
  const absl::Status status = flags.ok() ? Run(*flags) : flags.status();
  if (status.ok()) return 0;
  std::string line(status.message());
  for (char& ch : line) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  std::cerr << "belfry-tsa: " << line << "\n";
  return ExitCodeFor(ErrorKindOf(status));
}

}  // namespace
}  // namespace belfry::tsa_tool

int main(int argc, char** argv) { return belfry::tsa_tool::Main(argc, argv); }
