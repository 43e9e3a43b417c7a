// belfry-setup — the one-time dealer of a Belfry cluster.
//
//   belfry-setup init --replicas N --out DIR [--faults F] [--users u1,u2,...]
//                     [--host 127.0.0.1 | --hosts h0,h1,...] [--base-port P]
//                     [--service-key-bits B | --insecure-service-key-primes FILE]
//                     [--encryption-key dealt|distributed]
//   belfry-setup add-user --dir DIR NAME [--valid-from UNIX_S] [--valid-until UNIX_S]
//   belfry-setup renew --dir DIR (--replica K | --user NAME) [--valid-until UNIX_S]
//   belfry-setup revoke --dir DIR (--replica K | --user NAME | --cert FILE) [--crl-days D]
//
// `init` creates the cluster CA, a TLS certificate and a reply-signing key per replica,
// the threshold key sets (coin and TDH2, dealt by Shamir sharing; the service key, a
// Shoup threshold RSA key, with its certificate DIR/service.crt: the dealer's secrets
// exist only in this process and are wiped when it ends), user certificates, and
// DIR/cluster.conf. The dealer is trusted once, here, offline. Secret files are 0600.
// With `--encryption-key distributed` the dealer makes no TDH2 key at all: the replicas
// generate it among themselves once they run (replica/state/key_generation.h), and no
// party ever holds its secret.
//
// `add-user`, `renew` and `revoke` need DIR/ca.key. `renew` gives a replica or user a new
// key and certificate in place (the old certificate stays valid until it expires or is
// revoked, so a rolling rotation never locks anyone out); replicas pick up their new files
// on SIGHUP. `revoke` adds a certificate (by default the one now in place) to
// DIR/revoked.pem and re-signs DIR/crl.pem, valid for D days (30): replicas refuse its
// holder from their next SIGHUP on, and close the holder's open connections. A CRL past
// its nextUpdate makes replicas refuse every certificate, so re-run `revoke` (any
// target, or the same one again) before then. `revoke --user NAME` also writes
// DIR/revocations/NAME.req, an ordered revocation signed by the CA key: submitted with
// `belfry revoke-user`, it makes every correct replica refuse NAME's requests at
// execution, whoever relays them (replica/state/README.md, "Revocation").
//
// Host names go only into cluster.conf, never into certificates: a peer or client is
// identified by its certificate's CN and role (transport/tls.h), not by the name it was
// dialled at. So `--hosts` may name replicas by container or Kubernetes DNS names, and a
// client may reach the same replicas through other addresses, without reissuing anything.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/bytes.h"
#include "base/files.h"
#include "base/rng.h"
#include "base/status.h"
#include "config/cluster_config.h"
#include "config/layout.h"
#include "config/threshold_keys.h"
#include "evidence/service_certificate.h"
#include "pki/issuer.h"
#include "proto/service.pb.h"
#include "replica/node/reply_signer.h"
#include "threshold/key_file.h"
#include "threshold/keys.h"
#include "threshold/rsa/key_file.h"
#include "threshold/rsa/keys.h"
#include "wire/document_name.h"
#include "wire/request_format.h"

namespace belfry {
namespace {

constexpr int64_t kDay = 24 * 3600;
// The longest DNS name; config/cluster_config.cc refuses longer hosts too.
constexpr size_t kHostBytesMax = 253;

int Usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  belfry-setup init --replicas N --out DIR [--faults F] [--users u1,u2,...]\n"
               "                    [--host HOST | --hosts H0,H1,...] [--base-port P]\n"
               "                    [--service-key-bits B | --insecure-service-key-primes FILE]\n"
               "                    [--encryption-key dealt|distributed]\n"
               "  belfry-setup add-user --dir DIR NAME [--valid-from UNIX_S] [--valid-until UNIX_S]\n"
               "  belfry-setup renew --dir DIR (--replica K | --user NAME) [--valid-until UNIX_S]\n"
               "  belfry-setup revoke --dir DIR (--replica K | --user NAME | --cert FILE) [--crl-days D]\n");
  return 2;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "belfry-setup: %s\n", std::string(s.message()).c_str());
  return 1;
}

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status IssueUser(const pki::CertificateAuthority& ca, const std::string& dir,
                       const std::string& name, int64_t not_before, int64_t not_after) {
  absl::Status valid = wire::ValidateUserId(name);
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat("user \"", name, "\": ", valid.message()));
  BELFRY_RETURN_IF_ERROR(MakeDir(dir + "/users", 0755));
  const std::string user_dir = config::UserDir(dir, name);
  struct stat st {};
  if (::stat(user_dir.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(absl::StrCat("user \"", name, "\" already exists in ", dir));
  }
  BELFRY_RETURN_IF_ERROR(MakeDir(user_dir, 0700));
  BELFRY_ASSIGN_OR_RETURN(pki::IssuedCertificate issued,
                          ca.Issue({.common_name = name,
                                    .role = pki::Role::kUser,
                                    .not_before_unix_s = not_before,
                                    .not_after_unix_s = not_after}));
  return pki::WriteKeyAndCertificate(issued, absl::StrCat(user_dir, "/", name, ".key"),
                                     absl::StrCat(user_dir, "/", name, ".crt"));
}

// A DNS name or an IPv4/IPv6 literal, by its characters only: whether it resolves is
// known only where the replicas run, which is rarely where the dealer runs.
bool IsHostName(const std::string& host) {
  if (host.empty() || host.size() > kHostBytesMax) return false;
  for (const char c : host) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '.' && c != ':') return false;
  }
  return true;
}

// One host per replica, from `--host` (all replicas on one machine) or `--hosts` (in
// replica order). Prints the refusal and returns an empty vector on bad usage.
std::vector<std::string> ReplicaHosts(uint32_t n, const std::string& host, bool host_given,
                                      const std::string& hosts_list, bool hosts_given) {
  if (host_given && hosts_given) {
    std::fprintf(stderr, "belfry-setup: --host and --hosts cannot be combined; --hosts names every replica\n");
    return {};
  }
  std::vector<std::string> hosts;
  if (hosts_given) {
    hosts = absl::StrSplit(hosts_list, ',');
    if (hosts.size() != n) {
      std::fprintf(stderr, "belfry-setup: --hosts names %zu hosts for %u replicas; give exactly one per replica\n",
                   hosts.size(), n);
      return {};
    }
  } else {
    hosts.assign(n, host);
  }
  for (const std::string& h : hosts) {
    if (!IsHostName(h)) {
      std::fprintf(stderr, "belfry-setup: %s: \"%s\" is not a host name or IP address\n",
                   hosts_given ? "--hosts" : "--host", h.c_str());
      return {};
    }
  }
  return hosts;
}

// The service key: dealt like the other key sets, but RSA needs safe primes, which take
// a while to find at full size. `primes_file` (two lines "p = HEX", "q = HEX") deals from
// given primes instead, for tests that start many clusters: whoever has the file can sign
// as the service, so it is never for a real cluster.
absl::StatusOr<threshold::rsa::DealtKeySet> DealServiceKey(uint32_t n, uint32_t f, uint32_t bits,
                                                           const std::string& primes_file, Rng& rng) {
  if (primes_file.empty()) {
    std::fprintf(stderr, "belfry-setup: finding safe primes for a %u-bit service key (this can take a minute)\n",
                 bits);
    return threshold::rsa::Deal(n, f, bits, rng);
  }
  BELFRY_ASSIGN_OR_RETURN(std::string text, ReadFileBounded(primes_file, 64 * 1024));
  std::string p_hex, q_hex;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::ByAnyChar(" ="), absl::SkipEmpty());
    if (parts.size() != 2) continue;
    if (parts[0] == "p") p_hex = parts[1];
    if (parts[0] == "q") q_hex = parts[1];
  }
  absl::StatusOr<Bytes> p = FromHex(p_hex);
  absl::StatusOr<Bytes> q = FromHex(q_hex);
  if (p_hex.empty() || q_hex.empty() || !p.ok() || !q.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(primes_file, ": needs lines \"p = HEX\" and \"q = HEX\""));
  }
  std::fprintf(stderr, "belfry-setup: WARNING: the service key comes from the known primes in %s; "
                       "anyone with that file can sign as this cluster\n", primes_file.c_str());
  return threshold::rsa::DealFromPrimes(n, f, *p, *q, rng);
}

// DIR/service-key.pub and DIR/service.crt: the service key's certificate from the cluster
// CA, for time-stamping only (RFC 3161 §2.3), named after the cluster.
absl::Status WriteServiceKey(const std::string& dir, const std::string& cluster_id, const pki::CertificateAuthority& ca,
                             const threshold::rsa::PublicKeySet& keys, int64_t now) {
  BELFRY_RETURN_IF_ERROR(threshold::rsa::WritePublicKeySetFile(config::ServiceKeyPath(dir), keys,
                                                               threshold::FileOverwrite::kRefuse));
  BELFRY_ASSIGN_OR_RETURN(Bytes ca_der, pki::CertificatePemToDer(ca.cert_pem()));
  BELFRY_ASSIGN_OR_RETURN(Bytes spki, keys.SubjectPublicKeyInfoDer());
  BELFRY_ASSIGN_OR_RETURN(Bytes cert_der,
                          evidence::IssueServiceCertificate(ca_der, ca.key().native_handle(), spki,
                                                            {.common_name = absl::StrCat("belfry-service-", cluster_id),
                                                             .not_before_unix_s = now - 3600,
                                                             .not_after_unix_s = now + 10 * 365 * kDay}));
  BELFRY_ASSIGN_OR_RETURN(std::string cert_pem, pki::CertificateDerToPem(cert_der));
  return WritePublicFile(config::ServiceCertPath(dir), cert_pem);
}

int Init(int argc, char** argv) {
  uint32_t n = 0;
  int64_t faults = -1;
  std::string out, host = "127.0.0.1", hosts_list, users;
  bool host_given = false;
  bool hosts_given = false;
  uint32_t base_port = 7100;
  uint32_t service_key_bits = threshold::rsa::kModulusBitsDefault;
  std::string service_key_primes;
  bool distributed_encryption_key = false;
  for (int i = 0; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    if (flag == "--replicas") {
      n = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    } else if (flag == "--faults") {
      faults = std::strtol(value.c_str(), nullptr, 10);
    } else if (flag == "--out") {
      out = value;
    } else if (flag == "--users") {
      users = value;
    } else if (flag == "--host") {
      host = value;
      host_given = true;
    } else if (flag == "--hosts") {
      hosts_list = value;
      hosts_given = true;
    } else if (flag == "--base-port") {
      base_port = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    } else if (flag == "--service-key-bits") {
      service_key_bits = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    } else if (flag == "--insecure-service-key-primes") {
      service_key_primes = value;
    } else if (flag == "--encryption-key") {
      if (value != "dealt" && value != "distributed") {
        std::fprintf(stderr, "belfry-setup: --encryption-key %s: say dealt or distributed\n", value.c_str());
        return 2;
      }
      distributed_encryption_key = value == "distributed";
    } else {
      return Usage();
    }
  }
  if (out.empty()) return Usage();
  if (n < 4) {
    std::fprintf(stderr, "belfry-setup: --replicas %u: Belfry needs N >= 4 (N = 3f+1 with f >= 1)\n", n);
    return 2;
  }
  const uint32_t f = faults < 0 ? (n - 1) / 3 : static_cast<uint32_t>(faults);
  if (f < 1 || n < 3 * f + 1) {
    std::fprintf(stderr, "belfry-setup: N = %u cannot tolerate f = %u Byzantine replicas (need N >= 3f+1)\n",
                 n, f);
    return 2;
  }
  if (service_key_bits < static_cast<uint32_t>(evidence::kServiceRsaBitsMin) ||
      service_key_bits > threshold::rsa::kModulusBitsMax) {
    std::fprintf(stderr, "belfry-setup: --service-key-bits %u: the service key needs %d..%u bits\n",
                 service_key_bits, evidence::kServiceRsaBitsMin, threshold::rsa::kModulusBitsMax);
    return 2;
  }
  if (base_port == 0 || base_port + 3 * n > 65535) {
    std::fprintf(stderr, "belfry-setup: --base-port %u leaves no room for %u replicas\n", base_port, n);
    return 2;
  }
  const std::vector<std::string> hosts = ReplicaHosts(n, host, host_given, hosts_list, hosts_given);
  if (hosts.empty()) return 2;
  struct stat st {};
  if (::stat(config::ClusterConfigPath(out).c_str(), &st) == 0) {
    std::fprintf(stderr, "belfry-setup: %s already holds a cluster; refusing to overwrite it\n", out.c_str());
    return 2;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  absl::Status s = MakeDir(out, 0755);
  if (s.ok()) s = MakeDir(out + "/replicas", 0755);
  if (!s.ok()) return Fail(s);

  CryptoRng rng;
  std::array<uint8_t, 8> id_bytes{};
  rng.Fill(id_bytes);
  pb::ClusterConfig cfg;
  cfg.set_cluster_id(ToHex(id_bytes));
  cfg.set_f(f);
  cfg.set_ca_cert_file("ca.crt");

  auto ca = pki::CertificateAuthority::Create(absl::StrCat("belfry-ca-", cfg.cluster_id()), now - 3600,
                                              now + 10 * 365 * kDay);
  if (!ca.ok()) return Fail(ca.status());
  auto ca_key_pem = ca->key().ToPem();
  if (!ca_key_pem.ok()) return Fail(ca_key_pem.status());
  s = WritePublicFile(config::CaCertPath(out), ca->cert_pem());
  if (s.ok()) s = WritePrivateFile(config::CaKeyPath(out), ca_key_pem->value());
  if (!s.ok()) return Fail(s);

  // The dealer: both key sets exist in full only inside Deal and these objects.
  auto coin = threshold::Deal(n, f, rng);
  if (!coin.ok()) return Fail(coin.status());
  *cfg.mutable_coin_keys() = config::PublicKeySetToConfig(coin->public_keys);
  std::optional<threshold::DealtKeySet> tdh2;
  if (distributed_encryption_key) {
    cfg.set_distributed_encryption_key(true);
  } else {
    auto dealt = threshold::Deal(n, f, rng);
    if (!dealt.ok()) return Fail(dealt.status());
    *cfg.mutable_encryption_keys() = config::PublicKeySetToConfig(dealt->public_keys);
    tdh2 = *std::move(dealt);
  }
  absl::StatusOr<threshold::rsa::DealtKeySet> service =
      DealServiceKey(n, f, service_key_bits, service_key_primes, rng);
  if (!service.ok()) return Fail(service.status());
  s = WriteServiceKey(out, cfg.cluster_id(), *ca, service->public_keys, now);
  if (!s.ok()) return Fail(s);
  cfg.set_service_key_file("service-key.pub");
  cfg.set_service_cert_file("service.crt");

  for (uint32_t id = 0; id < n; ++id) {
    const std::string rdir = config::ReplicaDir(out, id);
    s = MakeDir(rdir, 0700);
    if (!s.ok()) return Fail(s);
    const config::ReplicaFiles files = config::ReplicaFiles::In(rdir);
    auto issued = ca->Issue({.common_name = absl::StrCat("replica-", id),
                             .role = pki::Role::kReplica,
                             .not_before_unix_s = now - 3600,
                             .not_after_unix_s = now + 5 * 365 * kDay});
    if (!issued.ok()) return Fail(issued.status());
    s = pki::WriteKeyAndCertificate(*issued, files.tls_key, files.tls_cert);
    if (!s.ok()) return Fail(s);
    auto reply_key = replica::ReplySigner::GenerateSeedFile(files.reply_key, rng);
    if (!reply_key.ok()) return Fail(reply_key.status());
    s = threshold::WriteKeyShareFile(files.coin_share, coin->shares[id], threshold::FileOverwrite::kRefuse);
    if (s.ok() && tdh2.has_value()) {
      s = threshold::WriteKeyShareFile(files.tdh2_share, tdh2->shares[id], threshold::FileOverwrite::kRefuse);
    }
    if (s.ok()) {
      s = threshold::rsa::WriteKeyShareFile(files.service_share, service->shares[id],
                                            threshold::FileOverwrite::kRefuse);
    }
    if (!s.ok()) return Fail(s);

    pb::ReplicaEndpoint* r = cfg.add_replicas();
    r->set_id(id);
    r->set_name(absl::StrCat("replica-", id));
    r->set_host(hosts[id]);
    r->set_peer_port(base_port + 3 * id);
    r->set_client_port(base_port + 3 * id + 1);
    r->set_metrics_port(base_port + 3 * id + 2);
    r->set_reply_public_key_hex(ToHex(*reply_key));
  }
  s = config::ValidateClusterConfig(cfg, "generated cluster.conf");
  if (s.ok()) s = WritePublicFile(config::ClusterConfigPath(out), config::FormatClusterConfig(cfg));
  if (!s.ok()) return Fail(s);

  if (!users.empty()) {
    for (absl::string_view u : absl::StrSplit(users, ',')) {
      s = IssueUser(*ca, out, std::string(u), now - 3600, now + 365 * kDay);
      if (!s.ok()) return Fail(s);
    }
  }
  std::printf("belfry-setup: cluster %s: N=%u f=%u in %s (replicas on %s, ports %u..%u)\n",
              cfg.cluster_id().c_str(), n, f, out.c_str(),
              hosts_given ? hosts_list.c_str() : host.c_str(), base_port, base_port + 3 * n - 1);
  return 0;
}

// The cluster CA from DIR/ca.crt and DIR/ca.key; the key's PEM is wiped once parsed.
absl::StatusOr<pki::CertificateAuthority> LoadCa(const std::string& dir) {
  BELFRY_ASSIGN_OR_RETURN(std::string cert, ReadFileBounded(config::CaCertPath(dir), kPemFileBytesMax));
  BELFRY_ASSIGN_OR_RETURN(std::string key, ReadPrivateFileBounded(config::CaKeyPath(dir), kPemFileBytesMax));
  absl::StatusOr<pki::CertificateAuthority> ca = pki::CertificateAuthority::FromPem(cert, key);
  SecureWipe(key.data(), key.size());
  return ca;
}

// A decimal number of seconds since the Unix epoch.
bool ParseUnixSeconds(const char* text, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

// The flags add-user, renew and revoke share.
struct LeafFlags {
  std::string dir;
  std::string user;        // --user NAME (or add-user's NAME)
  int64_t replica = -1;    // --replica K
  std::string cert_file;   // --cert FILE (revoke)
  int64_t valid_from = -1;
  int64_t valid_until = -1;
  int64_t crl_days = 30;
};

bool ParseLeafFlags(int argc, char** argv, bool positional_user, LeafFlags* f) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--dir" && has_value) {
      f->dir = argv[++i];
    } else if (arg == "--user" && has_value && !positional_user) {
      f->user = argv[++i];
    } else if (arg == "--replica" && has_value && !positional_user) {
      if (!ParseUnixSeconds(argv[++i], &f->replica)) return false;
    } else if (arg == "--cert" && has_value && !positional_user) {
      f->cert_file = argv[++i];
    } else if (arg == "--valid-from" && has_value) {
      if (!ParseUnixSeconds(argv[++i], &f->valid_from)) return false;
    } else if (arg == "--valid-until" && has_value) {
      if (!ParseUnixSeconds(argv[++i], &f->valid_until)) return false;
    } else if (arg == "--crl-days" && has_value) {
      if (!ParseUnixSeconds(argv[++i], &f->crl_days) || f->crl_days < 1 || f->crl_days > 3650) return false;
    } else if (positional_user && f->user.empty() && !arg.empty() && arg[0] != '-') {
      f->user = arg;
    } else {
      return false;
    }
  }
  return !f->dir.empty();
}

int AddUser(int argc, char** argv) {
  LeafFlags flags;
  if (!ParseLeafFlags(argc, argv, /*positional_user=*/true, &flags) || flags.user.empty()) return Usage();
  auto ca = LoadCa(flags.dir);
  if (!ca.ok()) return Fail(ca.status());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t from = flags.valid_from >= 0 ? flags.valid_from : now - 3600;
  const int64_t until = flags.valid_until >= 0 ? flags.valid_until : now + 365 * kDay;
  absl::Status s = IssueUser(*ca, flags.dir, flags.user, from, until);
  if (!s.ok()) return Fail(s);
  std::printf("belfry-setup: user %s: %s/users/%s/%s.{key,crt}\n", flags.user.c_str(), flags.dir.c_str(),
              flags.user.c_str(), flags.user.c_str());
  return 0;
}

// Where the certificate and key of `--replica K` or `--user NAME` live, and its subject.
struct LeafFiles {
  std::string cert;
  std::string key;
  pki::CertificateRequest request;
};

absl::StatusOr<LeafFiles> LeafFilesOf(const LeafFlags& flags) {
  if ((flags.replica >= 0) == !flags.user.empty()) {
    return absl::InvalidArgumentError("name exactly one of --replica K and --user NAME");
  }
  LeafFiles out;
  if (flags.replica >= 0) {
    BELFRY_ASSIGN_OR_RETURN(config::ClusterConfig cfg, config::LoadClusterConfig(config::ClusterConfigPath(flags.dir)));
    if (flags.replica >= cfg.n()) {
      return absl::InvalidArgumentError(absl::StrCat("--replica ", flags.replica, ": the cluster has ", cfg.n(), " replicas"));
    }
    const config::ReplicaFiles files = config::ReplicaFiles::In(config::ReplicaDir(flags.dir, static_cast<uint32_t>(flags.replica)));
    out.cert = files.tls_cert;
    out.key = files.tls_key;
    out.request.common_name = absl::StrCat("replica-", flags.replica);
    out.request.role = pki::Role::kReplica;
  } else {
    BELFRY_RETURN_IF_ERROR(wire::ValidateUserId(flags.user));
    const std::string user_dir = config::UserDir(flags.dir, flags.user);
    out.cert = absl::StrCat(user_dir, "/", flags.user, ".crt");
    out.key = absl::StrCat(user_dir, "/", flags.user, ".key");
    out.request.common_name = flags.user;
    out.request.role = pki::Role::kUser;
  }
  return out;
}

int Renew(int argc, char** argv) {
  LeafFlags flags;
  if (!ParseLeafFlags(argc, argv, /*positional_user=*/false, &flags) || !flags.cert_file.empty()) return Usage();
  auto leaf = LeafFilesOf(flags);
  if (!leaf.ok()) return Fail(leaf.status());
  struct stat st {};
  if (::stat(leaf->cert.c_str(), &st) != 0) {
    return Fail(absl::NotFoundError(absl::StrCat(leaf->cert, " does not exist: nothing to renew")));
  }
  auto ca = LoadCa(flags.dir);
  if (!ca.ok()) return Fail(ca.status());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  leaf->request.not_before_unix_s = now - 3600;
  leaf->request.not_after_unix_s =
      flags.valid_until >= 0 ? flags.valid_until
                             : now + (leaf->request.role == pki::Role::kReplica ? 5 * 365 : 365) * kDay;
  auto issued = ca->Issue(leaf->request);
  if (!issued.ok()) return Fail(issued.status());
  // Key first: a reload between the two writes sees a mismatched pair, refuses it and
  // keeps the old credentials; the next reload picks up the finished pair.
  absl::Status s = pki::WriteKeyAndCertificate(*issued, leaf->key, leaf->cert);
  if (!s.ok()) return Fail(s);
  std::printf("belfry-setup: renewed %s: %s (SIGHUP the replica that uses it)\n",
              leaf->request.common_name.c_str(), leaf->cert.c_str());
  return 0;
}

// Writes DIR/revocations/UID.req: a SignedRequest whose body is a Revocation of `uid`
// (proto/service.proto), signed with the CA key. Public: it reveals nothing and anyone may
// submit it. Returns its path.
absl::StatusOr<std::string> WriteRevocation(const std::string& dir, const std::string& uid,
                                            const pki::CertificateAuthority& ca, int64_t now_unix_s) {
  BELFRY_ASSIGN_OR_RETURN(config::ClusterConfig cluster, config::LoadClusterConfig(config::ClusterConfigPath(dir)));
  BELFRY_ASSIGN_OR_RETURN(Bytes ca_der, pki::CertificatePemToDer(ca.cert_pem()));
  pb::RequestBody body;
  body.set_cluster_id(cluster.cluster_id());
  body.mutable_revocation()->set_uid(uid);
  body.mutable_revocation()->set_ca_cert_der(std::string(ca_der.begin(), ca_der.end()));
  body.mutable_revocation()->set_issued_unix_ms(now_unix_s * 1000);
  pb::SignedRequest request;
  request.set_body(body.SerializeAsString());
  BELFRY_ASSIGN_OR_RETURN(pki::Ed25519Signature sig, ca.key().Sign(wire::RequestSigningMessage(request.body())));
  request.set_signature(std::string(sig.begin(), sig.end()));
  const std::string folder = dir + "/revocations";
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", folder, ": ", ec.message()));
  const std::string path = absl::StrCat(folder, "/", uid, ".req");
  BELFRY_RETURN_IF_ERROR(WritePublicFile(path, request.SerializeAsString()));
  return path;
}

int Revoke(int argc, char** argv) {
  LeafFlags flags;
  if (!ParseLeafFlags(argc, argv, /*positional_user=*/false, &flags)) return Usage();
  std::string cert_path = flags.cert_file;
  if (cert_path.empty()) {
    auto leaf = LeafFilesOf(flags);
    if (!leaf.ok()) return Fail(leaf.status());
    cert_path = leaf->cert;
  } else if (flags.replica >= 0 || !flags.user.empty()) {
    return Usage();
  }
  auto cert = ReadFileBounded(cert_path, kPemFileBytesMax);
  if (!cert.ok()) return Fail(cert.status());
  auto ca = LoadCa(flags.dir);
  if (!ca.ok()) return Fail(ca.status());
  // Every certificate revoked so far, so the new CRL still lists them.
  std::string revoked;
  auto previous = ReadFileBounded(config::RevokedCertsPath(flags.dir), kPemFileBytesMax);
  if (previous.ok()) {
    revoked = *std::move(previous);
  } else if (previous.status().code() != absl::StatusCode::kNotFound) {
    return Fail(previous.status());
  }
  if (revoked.find(*cert) == std::string::npos) revoked += *cert;
  std::vector<std::string> pems;
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  for (size_t start = 0, end; (end = revoked.find(kEnd, start)) != std::string::npos; start = end + kEnd.size()) {
    pems.push_back(revoked.substr(start, end + kEnd.size() - start));
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto crl = ca->MakeCrl(pems, now - 60, now + flags.crl_days * kDay);
  if (!crl.ok()) return Fail(crl.status());
  absl::Status s = WritePublicFile(config::RevokedCertsPath(flags.dir), revoked);
  if (s.ok()) s = WritePublicFile(config::CrlPath(flags.dir), *crl);
  if (!s.ok()) return Fail(s);
  std::printf("belfry-setup: %zu certificate(s) revoked; %s valid for %lld days (SIGHUP the replicas)\n",
              pems.size(), config::CrlPath(flags.dir).c_str(), static_cast<long long>(flags.crl_days));
  if (!flags.user.empty()) {
    // The CRL closes the user's own connections; the ordered revocation makes every
    // correct replica refuse the user's requests whoever relays them.
    auto path = WriteRevocation(flags.dir, flags.user, *ca, now);
    if (!path.ok()) return Fail(path.status());
    std::printf("belfry-setup: ordered revocation of %s in %s (submit it: belfry revoke-user %s)\n",
                flags.user.c_str(), path->c_str(), path->c_str());
  }
  return 0;
}

}  // namespace
}  // namespace belfry

int main(int argc, char** argv) {
  if (argc < 2) return belfry::Usage();
  const std::string command = argv[1];
  if (command == "init") return belfry::Init(argc - 2, argv + 2);
  if (command == "add-user") return belfry::AddUser(argc - 2, argv + 2);
  if (command == "renew") return belfry::Renew(argc - 2, argv + 2);
  if (command == "revoke") return belfry::Revoke(argc - 2, argv + 2);
  return belfry::Usage();
}
