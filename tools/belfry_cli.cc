// tools/belfry_cli.cc — `belfry`, the command-line client of a Belfry cluster.
//
// Each run performs one command through the client library (client_lib/client.h): it
// finds the cluster (--cluster or BELFRY_CLUSTER), the session of the user it acts as
// (client_lib/session_file.h, under BELFRY_HOME), connects to every replica with that
// user's certificate, and prints the result. Sequence numbers come from the session file
// under a lock, so several runs may share one session at once. Every failure prints one
// line "belfry: ..." to stderr and exits with the code listed in the usage text; secrets
// and document contents are never printed except the document a checkout asked for.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/bytes.h"
#include "base/files.h"
#include "base/status.h"
#include "client_lib/client.h"
#include "client_lib/internal/errors.h"
#include "client_lib/session_file.h"
#include "config/cluster_config.h"
#include "config/layout.h"
#include "evidence/integrity_certificate.h"
#include "wire/document_name.h"

namespace belfry::cli {
namespace {

using client::internal::MakeError;

constexpr char kUsage[] =
    R"(usage: belfry [--cluster DIR/cluster.conf] [--user UID] [--timeout S] COMMAND ...

Commands:
  login UID --key KEYFILE [--cert CERTFILE]
                            log in (without --cert: the .crt beside the key)
  checkin DOC FILE [--confidential] [--integrity]
                            store FILE ("-" for stdin) as document DOC
  checkout DOC [--out FILE] [--integrity-cert FILE]
                            fetch DOC (to stdout without --out); for an integrity
                            document, --integrity-cert saves its signed certificate
  grant DOC USER|ALL checkin|checkout|both SECONDS
                            give USER (or every user) a right for SECONDS (0 revokes)
  delete DOC                remove DOC, its key and its grants
  logout                    end the session
  revoke-user REVOCATION-FILE
                            submit an ordered revocation made by `belfry-setup revoke
                            --user` (DIR/revocations/UID.req): from its place in the
                            log every replica refuses that user. Connects as --user,
                            else a user found beside cluster.conf
  whoami                    show who is logged in
  status [--key KEYFILE [--cert CERTFILE]] [--max-lag EPOCHS]
                            a table of the replicas: health, epoch, consensus time,
                            checkpoint, faults seen; exit 7 when fewer than 2f+1
                            are healthy (reachable and at most --max-lag epochs,
                            default 64, behind the most advanced one). Connects as
                            --key's user, else the logged-in user, else a user
                            found beside cluster.conf
  verify DOC-FILE CERT-FILE [--ca FILE] [--service-cert FILE]
                            check an integrity certificate (DER CMS) offline: it needs
                            only the CA and service certificates, by default ca.crt
                            and service.crt beside --cluster's cluster.conf
  stamp FILE [--out FILE.tsr]
                            an RFC 3161 time-stamp of FILE through consensus: only
                            its SHA-256 is sent; writes the DER TimeStampResp (default
                            FILE.tsr) and prints its serial number and time. Check it
                            with openssl ts -verify -data FILE -in FILE.tsr
                            -CAfile ca.crt -untrusted service.crt

Options:
  --cluster PATH   cluster.conf (or its folder); default: $BELFRY_CLUSTER
  --user UID       the logged-in user to act as, when several are (sessions live in
                   $BELFRY_HOME, default ~/.belfry)
  --timeout S      give up after S seconds without 2f+1 matching replies (default 30)
  --help           this text

Environment: BELFRY_CLUSTER, BELFRY_HOME (sessions, default ~/.belfry), BELFRY_LOG=1
(print connection events to stderr).

Exit codes:
  0  success
  1  any other failure (3S 700)
  2  bad usage or invalid input
  3  not logged in, login refused, or session ended/expired
  4  access denied (3S 702)
  5  no such document (3S 704)
  6  integrity broken (3S 703)
  7  the cluster did not give 2f+1 matching replies in time
)";

// Options that take a value, and flags that do not.
const std::set<std::string> kValueOptions = {"--cluster", "--user",     "--timeout",        "--key",
                                             "--cert",    "--out",      "--integrity-cert", "--max-lag",
                                             "--ca",      "--service-cert"};
const std::set<std::string> kFlagOptions = {"--confidential", "--integrity", "--help"};
const std::set<std::string> kGlobalOptions = {"--cluster", "--user", "--timeout", "--help"};

// The options each command accepts beyond the global ones, and its positional count.
struct CommandSpec {
  std::set<std::string> options;
  size_t positional;
  const char* usage;
};
const std::map<std::string, CommandSpec>& Commands() {
  static const auto* commands = new std::map<std::string, CommandSpec>{
      {"login", {{"--key", "--cert"}, 1, "login UID --key KEYFILE [--cert CERTFILE]"}},
      {"checkin", {{"--confidential", "--integrity"}, 2,
                   "checkin DOC FILE [--confidential] [--integrity]"}},
      {"checkout", {{"--out", "--integrity-cert"}, 1,
                    "checkout DOC [--out FILE] [--integrity-cert FILE]"}},
      {"grant", {{}, 4, "grant DOC USER|ALL checkin|checkout|both SECONDS"}},
      {"delete", {{}, 1, "delete DOC"}},
      {"logout", {{}, 0, "logout"}},
      {"revoke-user", {{}, 1, "revoke-user REVOCATION-FILE"}},
      {"whoami", {{}, 0, "whoami"}},
      {"status", {{"--key", "--cert", "--max-lag"}, 0,
                  "status [--key KEYFILE [--cert CERTFILE]] [--max-lag EPOCHS]"}},
      {"verify", {{"--ca", "--service-cert"}, 2, "verify DOC-FILE CERT-FILE [--ca FILE] [--service-cert FILE]"}},
      {"stamp", {{"--out"}, 1, "stamp FILE [--out FILE.tsr]"}},
  };
  return *commands;
}

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // flags map to ""

  bool Has(const std::string& name) const { return options.count(name) != 0; }
  std::optional<std::string> Get(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end()) return std::nullopt;
    return it->second;
  }
};

absl::Status UsageError(const std::string& message) {
  return MakeError(ErrorKind::kInvalidInput, message);
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args args;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!options_done && arg == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && arg.size() > 1 && arg[0] == '-' && arg != "-") {
      if (arg == "-h") arg = "--help";
      std::optional<std::string> inline_value;
      const size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
      if (kValueOptions.count(arg) != 0) {
        if (inline_value.has_value()) {
          args.options[arg] = *inline_value;
        } else if (i + 1 < argc) {
          args.options[arg] = argv[++i];
        } else {
          return UsageError(absl::StrCat(arg, " needs a value"));
        }
      } else if (kFlagOptions.count(arg) != 0 && !inline_value.has_value()) {
        args.options[arg] = "";
      } else {
        return UsageError(absl::StrCat("unknown option ", argv[i], " (see belfry --help)"));
      }
      continue;
    }
    if (args.command.empty()) {
      args.command = arg;
    } else {
      args.positional.push_back(arg);
    }
  }
  return args;
}

absl::Status CheckArgs(const Args& args) {
  auto spec = Commands().find(args.command);
  if (spec == Commands().end()) {
    return UsageError(absl::StrCat("unknown command \"", args.command, "\" (see belfry --help)"));
  }
  for (const auto& [name, value] : args.options) {
    if (kGlobalOptions.count(name) == 0 && spec->second.options.count(name) == 0) {
      return UsageError(absl::StrCat(args.command, " does not take ", name, " (usage: belfry ",
                                     spec->second.usage, ")"));
    }
  }
  if (args.positional.size() != spec->second.positional) {
    return UsageError(absl::StrCat("usage: belfry ", spec->second.usage));
  }
  return absl::OkStatus();
}

// ---- small helpers ----

std::string FormatTimeMs(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return absl::StrCat(ms, " ms");
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<std::string> ClusterPath(const Args& args) {
  std::optional<std::string> path = args.Get("--cluster");
  if (!path.has_value()) {
    const char* env = std::getenv("BELFRY_CLUSTER");
    if (env != nullptr && env[0] != '\0') path = env;
  }
  if (!path.has_value() || path->empty()) {
    return UsageError("no cluster: give --cluster DIR/cluster.conf or set BELFRY_CLUSTER");
  }
  std::error_code ec;
  if (std::filesystem::is_directory(*path, ec)) return absl::StrCat(*path, "/cluster.conf");
  return *path;
}

absl::StatusOr<config::ClusterConfig> LoadCluster(const std::string& path) {
  absl::StatusOr<config::ClusterConfig> config = config::LoadClusterConfig(path);
  if (!config.ok()) {
    return UsageError(absl::StrCat("cannot use the cluster configuration: ",
                                   config.status().message()));
  }
  return config;
}

absl::StatusOr<std::chrono::milliseconds> Timeout(const Args& args) {
  std::optional<std::string> value = args.Get("--timeout");
  if (!value.has_value()) return std::chrono::milliseconds(30000);
  double seconds = 0;
  if (!absl::SimpleAtod(*value, &seconds) || !(seconds > 0) || seconds > 86400) {
    return UsageError("--timeout needs a number of seconds between 0 and 86400");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// The certificate beside a key: NAME.key -> NAME.crt.
std::string CertBesideKey(const std::string& key_path) {
  const std::string suffix = ".key";
  if (key_path.size() > suffix.size() &&
      key_path.compare(key_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return key_path.substr(0, key_path.size() - suffix.size()) + ".crt";
  }
  return key_path + ".crt";
}

absl::StatusOr<std::string> ReadInput(const std::string& path, size_t bytes_max,
                                      const std::string& what) {
  if (path == "-") {
    std::string data;
    char buf[65536];
    size_t got = 0;
    while ((got = std::fread(buf, 1, sizeof(buf), stdin)) > 0) {
      data.append(buf, got);
      if (data.size() > bytes_max) {
        return UsageError(absl::StrCat("standard input is larger than ", what, " (", bytes_max,
                                       " bytes)"));
      }
    }
    if (std::ferror(stdin)) return MakeError(ErrorKind::kOther, "cannot read standard input");
    return data;
  }
  absl::StatusOr<std::string> data = ReadFileBounded(path, bytes_max);
  if (!data.ok()) {
    if (data.status().code() == absl::StatusCode::kOutOfRange) {
      return UsageError(absl::StrCat(path, " is larger than ", what, " (", bytes_max, " bytes)"));
    }
    return UsageError(absl::StrCat("cannot read ", path, ": ", data.status().message()));
  }
  return data;
}

absl::Status WriteStdout(const std::string& data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() || std::fflush(stdout) != 0) {
    return MakeError(ErrorKind::kOther, "cannot write to standard output");
  }
  return absl::OkStatus();
}

absl::Status WriteOutputFile(const std::string& path, const std::string& data, mode_t mode) {
  absl::Status written = WriteFileAtomically(path, data, mode);
  if (!written.ok()) {
    return MakeError(ErrorKind::kOther,
                     absl::StrCat("cannot write ", path, ": ", written.message()));
  }
  return absl::OkStatus();
}

// Replica-level findings that did not stop a command, one stderr line each.
void Warn(const ReplicaReport& report) {
  if (!report.disagreeing.empty()) {
    std::cerr << "belfry: warning: replicas " << absl::StrJoin(report.disagreeing, ", ")
              << " sent a different result than the 2f+1 that agreed\n";
  }
  for (const auto& [replica, fault] : report.faults) {
    std::cerr << "belfry: warning: replica " << replica << " " << fault << "\n";
  }
}

// ---- session context ----

// Context: the cluster, the session store and the selected user's connected client.
struct Context {
  std::string cluster_path;
  config::ClusterConfig config;
  std::optional<SessionStore> store;
  std::string uid;
  std::unique_ptr<Client> client;
};

absl::StatusOr<SessionStore> OpenStore(const config::ClusterConfig& config) {
  BELFRY_ASSIGN_OR_RETURN(std::string home, SessionStore::DefaultHome());
  return SessionStore::Open(home, config.cluster_id());
}

absl::StatusOr<Context> BaseContext(const Args& args) {
  Context ctx;
  BELFRY_ASSIGN_OR_RETURN(ctx.cluster_path, ClusterPath(args));
  BELFRY_ASSIGN_OR_RETURN(ctx.config, LoadCluster(ctx.cluster_path));
  BELFRY_ASSIGN_OR_RETURN(SessionStore store, OpenStore(ctx.config));
  ctx.store = std::move(store);
  return ctx;
}

// The selected user's session, connected and resumed.
absl::StatusOr<Context> SessionContext(const Args& args) {
  BELFRY_ASSIGN_OR_RETURN(Context ctx, BaseContext(args));
  BELFRY_ASSIGN_OR_RETURN(ctx.uid, ctx.store->SelectUser(args.Get("--user")));
  BELFRY_ASSIGN_OR_RETURN(SessionRecord record, ctx.store->Read(ctx.uid));
  BELFRY_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, Timeout(args));
  ClientOptions options;
  options.cluster_config_path = ctx.cluster_path;
  options.user_cert_path = record.cert_path;
  options.user_key_path = record.key_path;
  options.deadline = timeout;
  BELFRY_ASSIGN_OR_RETURN(ctx.client, Client::Connect(std::move(options)));
  const SessionStore store = *ctx.store;
  const std::string uid = ctx.uid;
  ctx.client->ResumeSession(SessionCredentials(record.uid, record.session_seed, record.expires_ms),
                            [store, uid]() { return store.ReserveSeq(uid); });
  return ctx;
}

// After a failed operation: a session the cluster ended is ended here too, so `whoami`
// and the default-user choice reflect it.
absl::Status AfterFailure(const Context& ctx, absl::Status status) {
  std::optional<pb::Status> service = ServiceStatusOf(status);
  if (service.has_value() &&
      (*service == pb::STATUS_SESSION_ENDED || *service == pb::STATUS_SESSION_EXPIRED ||
       *service == pb::STATUS_SESSION_UNKNOWN)) {
    // Best effort: the command fails with the cluster's answer either way.
    ctx.store->EndSession(ctx.uid).IgnoreError();
  }
  return status;
}

// ---- commands ----

absl::Status RunLogin(const Args& args) {
  BELFRY_ASSIGN_OR_RETURN(Context ctx, BaseContext(args));
  const std::string& uid = args.positional[0];
  absl::Status valid = wire::ValidateUserId(uid);
  if (!valid.ok()) return UsageError(absl::StrCat("invalid user id: ", valid.message()));
  std::optional<std::string> key = args.Get("--key");
  if (!key.has_value()) {
    return UsageError("usage: belfry login UID --key KEYFILE [--cert CERTFILE]");
  }
  const std::string key_path = Absolute(*key);
  const std::string cert_path = Absolute(args.Get("--cert").value_or(CertBesideKey(*key)));
  BELFRY_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, Timeout(args));
  ClientOptions options;
  options.cluster_config_path = ctx.cluster_path;
  options.user_cert_path = cert_path;
  options.user_key_path = key_path;
  options.deadline = timeout;
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Connect(std::move(options)));
  BELFRY_ASSIGN_OR_RETURN(int64_t login_time, ctx.store->NextLoginTime(uid, WallClockMs()));
  BELFRY_ASSIGN_OR_RETURN(LoginInfo info, client->Login(uid, login_time));
  BELFRY_ASSIGN_OR_RETURN(SessionCredentials credentials, client->ExportSession());
  SessionRecord record;
  record.cluster_id = ctx.config.cluster_id();
  record.uid = uid;
  record.key_path = key_path;
  record.cert_path = cert_path;
  record.active = true;
  record.session_seed = credentials.seed();
  record.expires_ms = info.session_expires_ms;
  record.next_seq = info.next_seq;
  record.last_login_time_ms = login_time;
  BELFRY_RETURN_IF_ERROR(ctx.store->Write(record));
  Warn(info.replicas);
  std::cout << "logged in as " << uid << " (session expires "
            << FormatTimeMs(info.session_expires_ms) << ")\n";
  return absl::OkStatus();
}

absl::Status RunCheckIn(const Args& args) {
  BELFRY_ASSIGN_OR_RETURN(Context ctx, SessionContext(args));
  const std::string& doc = args.positional[0];
  BELFRY_ASSIGN_OR_RETURN(
      std::string data,
      ReadInput(args.positional[1], ctx.config.limits.document_bytes_max,
                "the cluster's document limit"));
  CheckInFlags flags;
  flags.confidential = args.Has("--confidential");
  flags.integrity = args.Has("--integrity");
  absl::StatusOr<CheckInInfo> info = ctx.client->CheckIn(doc, data, flags);
  SecureWipe(data.data(), data.size());
  if (!info.ok()) return AfterFailure(ctx, info.status());
  Warn(info->replicas);
  std::vector<std::string> kinds;
  if (flags.confidential) kinds.push_back("confidential");
  if (flags.integrity) kinds.push_back("integrity");
  std::cout << (info->created ? "created " : "checked in ") << info->doc << " version "
            << info->version
            << (kinds.empty() ? "" : absl::StrCat(" (", absl::StrJoin(kinds, ", "), ")"))
            << ", owner " << info->owner << "\n";
  return absl::OkStatus();
}

absl::Status RunCheckOut(const Args& args) {
  BELFRY_ASSIGN_OR_RETURN(Context ctx, SessionContext(args));
  absl::StatusOr<Document> doc = ctx.client->CheckOut(args.positional[0]);
  if (!doc.ok()) return AfterFailure(ctx, doc.status());
  std::optional<std::string> cert_path = args.Get("--integrity-cert");
  if (cert_path.has_value() && !doc->integrity_certificate.has_value()) {
    return UsageError(absl::StrCat(doc->doc, " was not checked in with --integrity: there is "
                                   "no integrity certificate to save"));
  }
  Warn(doc->replicas);
  if (cert_path.has_value()) {
    BELFRY_RETURN_IF_ERROR(WriteOutputFile(*cert_path, doc->integrity_certificate->der, 0644));
  }
  std::optional<std::string> out = args.Get("--out");
  absl::Status written = out.has_value()
                             ? WriteOutputFile(*out, doc->data, doc->confidential ? 0600 : 0644)
                             : WriteStdout(doc->data);
  if (doc->confidential) SecureWipe(doc->data.data(), doc->data.size());
  BELFRY_RETURN_IF_ERROR(written);
  if (out.has_value()) {
    std::cout << "checked out " << doc->doc << " version " << doc->version << " (owner "
              << doc->owner << ") to " << *out << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunGrant(const Args& args) {
  const std::string& target_word = args.positional[1];
  const std::string& rights_word = args.positional[2];
  Rights rights;
  if (rights_word == "checkin") {
    rights = Rights::kCheckIn;
  } else if (rights_word == "checkout") {
    rights = Rights::kCheckOut;
  } else if (rights_word == "both") {
    rights = Rights::kBoth;
  } else {
    return UsageError(absl::StrCat("rights must be checkin, checkout or both, not \"", rights_word,
                                   "\""));
  }
  uint32_t seconds = 0;
  if (!absl::SimpleAtoi(args.positional[3], &seconds)) {
    return UsageError(absl::StrCat("SECONDS must be a whole number, not \"", args.positional[3],
                                   "\""));
  }
  const GrantTarget target = target_word == wire::kAllUsersWord ? GrantTarget::All()
                                                                 : GrantTarget::User(target_word);
  BELFRY_ASSIGN_OR_RETURN(Context ctx, SessionContext(args));
  absl::StatusOr<GrantInfo> info = ctx.client->Grant(args.positional[0], target, rights, seconds);
  if (!info.ok()) return AfterFailure(ctx, info.status());
  Warn(info->replicas);
  const std::string who = info->target.all_users ? "every user" : info->target.uid;
  if (seconds == 0) {
    std::cout << "revoked " << who << "'s rights on " << info->doc << "\n";
  } else {
    std::cout << "granted " << who << " " << rights_word << " on " << info->doc << " until "
              << FormatTimeMs(info->expires_ms) << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunDelete(const Args& args) {
  BELFRY_ASSIGN_OR_RETURN(Context ctx, SessionContext(args));
  absl::StatusOr<OpInfo> info = ctx.client->Delete(args.positional[0]);
  if (!info.ok()) return AfterFailure(ctx, info.status());
  Warn(info->replicas);
  std::cout << "deleted " << args.positional[0] << "\n";
  return absl::OkStatus();
}

absl::Status RunLogout(const Args& args) {
  BELFRY_ASSIGN_OR_RETURN(Context ctx, SessionContext(args));
  absl::StatusOr<OpInfo> info = ctx.client->Logout();
  if (!info.ok()) return AfterFailure(ctx, info.status());
  BELFRY_RETURN_IF_ERROR(ctx.store->EndSession(ctx.uid));
  Warn(info->replicas);
  std::cout << "logged out " << ctx.uid << "\n";
  return absl::OkStatus();
}

absl::Status RunWhoami(const Args& args) {
  BELFRY_ASSIGN_OR_RETURN(Context ctx, BaseContext(args));
  std::vector<std::string> users;
  if (std::optional<std::string> requested = args.Get("--user")) {
    BELFRY_ASSIGN_OR_RETURN(std::string uid, ctx.store->SelectUser(requested));
    users.push_back(uid);
  } else {
    BELFRY_ASSIGN_OR_RETURN(users, ctx.store->ActiveUsers());
  }
  if (users.empty()) {
    return MakeError(ErrorKind::kNotLoggedIn,
                     "not logged in (run: belfry login UID --key KEYFILE)");
  }
  const int64_t now = WallClockMs();
  for (const std::string& uid : users) {
    BELFRY_ASSIGN_OR_RETURN(SessionRecord record, ctx.store->Read(uid));
    std::cout << uid << " on cluster " << ctx.config.cluster_id() << ", session "
              << (record.expires_ms <= now ? "expired " : "expires ")
              << FormatTimeMs(record.expires_ms) << "\n";
  }
  if (users.size() > 1) std::cout << "(several users are logged in: choose one with --user UID)\n";
  return absl::OkStatus();
}

struct UserFiles {
  std::string key_path;
  std::string cert_path;
};

// Whose certificate `status` connects with: --user's session, else any active session,
// else the first user belfry-setup issued beside cluster.conf (DIR/users/NAME/NAME.key).
absl::StatusOr<std::optional<UserFiles>> StatusIdentity(const Args& args, const Context& ctx) {
  if (std::optional<std::string> requested = args.Get("--user")) {
    BELFRY_ASSIGN_OR_RETURN(std::string uid, ctx.store->SelectUser(requested));
    BELFRY_ASSIGN_OR_RETURN(SessionRecord record, ctx.store->Read(uid));
    return UserFiles{record.key_path, record.cert_path};
  }
  BELFRY_ASSIGN_OR_RETURN(std::vector<std::string> active, ctx.store->ActiveUsers());
  if (!active.empty()) {
    BELFRY_ASSIGN_OR_RETURN(SessionRecord record, ctx.store->Read(active.front()));
    return UserFiles{record.key_path, record.cert_path};
  }
  std::error_code ec;
  const std::filesystem::path users = std::filesystem::path(ctx.config.dir) / "users";
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(users, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string base = (users / name / name).string();
    if (::access((base + ".key").c_str(), R_OK) == 0 &&
        ::access((base + ".crt").c_str(), R_OK) == 0) {
      return UserFiles{base + ".key", base + ".crt"};
    }
  }
  return std::optional<UserFiles>();
}

// A connection as the session's user or any user found beside cluster.conf: requests that
// need no session (a status query, a CA-signed revocation) are not about who sends them.
absl::StatusOr<std::unique_ptr<Client>> ConnectAsAnyUser(const Args& args, const Context& ctx,
                                                         const char* what) {
  ClientOptions options;
  options.cluster_config_path = ctx.cluster_path;
  BELFRY_ASSIGN_OR_RETURN(std::optional<UserFiles> user, StatusIdentity(args, ctx));
  if (!user.has_value()) {
    return MakeError(ErrorKind::kNotLoggedIn, absl::StrCat(what, " needs a user certificate: log in first"));
  }
  options.user_key_path = user->key_path;
  options.user_cert_path = user->cert_path;
  BELFRY_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, Timeout(args));
  options.deadline = timeout;
  return Client::Connect(std::move(options));
}

absl::Status RunRevokeUser(const Args& args) {
  BELFRY_ASSIGN_OR_RETURN(Context ctx, BaseContext(args));
  BELFRY_ASSIGN_OR_RETURN(std::string revocation,
                          ReadInput(args.positional[0], ctx.config.limits.request_bytes_max, "a revocation"));
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, ConnectAsAnyUser(args, ctx, "revoke-user"));
  BELFRY_ASSIGN_OR_RETURN(OpInfo info, client->SubmitRevocation(revocation));
  Warn(info.replicas);
  std::cout << "revoked: every replica refuses that user from here on\n";
  return absl::OkStatus();
}

absl::Status RunStatus(const Args& args) {
  BELFRY_ASSIGN_OR_RETURN(Context ctx, BaseContext(args));
  ClientOptions options;
  options.cluster_config_path = ctx.cluster_path;
  if (std::optional<std::string> key = args.Get("--key")) {
    options.user_key_path = Absolute(*key);
    options.user_cert_path = Absolute(args.Get("--cert").value_or(CertBesideKey(*key)));
  } else {
    // The replicas accept only user certificates: the session's, or any user's found in
    // the cluster folder (status is not about who asks).
    BELFRY_ASSIGN_OR_RETURN(std::optional<UserFiles> user, StatusIdentity(args, ctx));
    if (!user.has_value()) {
      return MakeError(ErrorKind::kNotLoggedIn,
                       "status needs a user certificate: log in first or give --key KEYFILE");
    }
    options.user_key_path = user->key_path;
    options.user_cert_path = user->cert_path;
  }
  BELFRY_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, Timeout(args));
  // A status needs no consensus: a few seconds is plenty for a replica that is up.
  timeout = std::min(timeout, std::chrono::milliseconds(5000));
  uint64_t max_lag = 64;
  if (std::optional<std::string> lag = args.Get("--max-lag")) {
    char* end = nullptr;
    max_lag = std::strtoull(lag->c_str(), &end, 10);
    if (lag->empty() || *end != '\0' || (*lag)[0] == '-') {
      return MakeError(ErrorKind::kInvalidInput,
                       absl::StrCat("--max-lag \"", *lag, "\" is not a number of epochs"));
    }
  }
  BELFRY_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Connect(std::move(options)));
  const std::vector<ReplicaState> states = client->QueryStatus(timeout);
  uint64_t highest = 0;
  for (const ReplicaState& s : states) {
    if (s.reachable) highest = std::max(highest, s.next_epoch);
  }
  // One row per replica; "-" where an unreachable replica has nothing to show.
  std::vector<std::vector<std::string>> rows = {
      {"REPLICA", "ADDRESS", "HEALTH", "EPOCH", "CONSENSUS TIME", "CHECKPOINT", "FAULTS", "NOTE"}};
  uint32_t healthy = 0;
  for (const ReplicaState& s : states) {
    if (!s.reachable) {
      rows.push_back({std::to_string(s.replica), s.address, "unreachable", "-", "-", "-", "-", s.error});
      continue;
    }
    const uint64_t lag = highest - s.next_epoch;
    const bool ok = lag <= max_lag;
    healthy += ok ? 1 : 0;
    rows.push_back({std::to_string(s.replica), s.address, ok ? "healthy" : "lagging",
                    std::to_string(s.next_epoch),
                    s.consensus_time_ms > 0 ? FormatTimeMs(s.consensus_time_ms) : "none yet",
                    std::to_string(s.checkpoint_epoch), std::to_string(s.faults_seen),
                    ok ? "" : absl::StrCat(lag, " epochs behind")});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
  const uint32_t needed = 2 * client->f() + 1;
  std::cout << healthy << " of " << client->n() << " replicas healthy; " << needed
            << " are needed to serve requests\n";
  std::cout.flush();
  if (healthy < needed) {
    return MakeError(ErrorKind::kNoQuorum,
                     absl::StrCat("only ", healthy, " of ", client->n(),
                                  " replicas are healthy; the cluster needs ", needed));
  }
  return absl::OkStatus();
}

absl::Status RunVerify(const Args& args) {
  // Only public certificates are needed, so the verifier may be anyone: ca.crt and
  // service.crt given, or found beside cluster.conf.
  std::optional<std::string> ca = args.Get("--ca");
  std::optional<std::string> service = args.Get("--service-cert");
  if (!ca.has_value() || !service.has_value()) {
    absl::StatusOr<std::string> cluster_path = ClusterPath(args);
    if (!cluster_path.ok()) {
      return UsageError("verify needs --ca and --service-cert, or --cluster to find ca.crt and service.crt");
    }
    const std::string dir = std::filesystem::path(*cluster_path).parent_path().string();
    const std::string base = dir.empty() ? "." : dir;
    if (!ca.has_value()) ca = config::CaCertPath(base);
    if (!service.has_value()) service = config::ServiceCertPath(base);
  }
  BELFRY_ASSIGN_OR_RETURN(std::string data, ReadInput(args.positional[0], config::Limits{}.document_bytes_max,
                                                      "the default document limit"));
  BELFRY_ASSIGN_OR_RETURN(std::string der, ReadInput(args.positional[1], evidence::kIntegrityCertificateBytesMax,
                                                     "an integrity certificate"));
  BELFRY_ASSIGN_OR_RETURN(IntegrityCertificate cert, VerifyIntegrityCertificate(*ca, *service, data, der));
  std::cout << "valid: " << cert.doc << " version " << cert.version << " of " << cert.owner << ", SHA-256 "
            << ToHex(ByteSpan(cert.sha256)) << ", cluster " << cert.cluster_id << ", signed by the service key at "
            << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(cert.signing_time_ms), absl::UTCTimeZone())
            << "\n";
  return absl::OkStatus();
}

absl::Status RunStamp(const Args& args) {
  const std::string& file = args.positional[0];
  const std::string out = args.Get("--out").value_or(absl::StrCat(file, ".tsr"));
  BELFRY_ASSIGN_OR_RETURN(Context ctx, SessionContext(args));
  absl::StatusOr<TimeStampInfo> info = ctx.client->StampFile(file);
  if (!info.ok()) return AfterFailure(ctx, info.status());
  Warn(info->replicas);
  BELFRY_RETURN_IF_ERROR(WriteOutputFile(out, std::string(AsStringView(info->response_der)), 0644));
  // The serial as `openssl ts -reply -text` prints it.
  std::string serial = ToHex(info->serial_number);
  for (char& ch : serial) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  std::cout << "stamped " << file << ": serial 0x" << (serial.empty() ? "00" : serial) << ", time "
            << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(info->gen_time_ms), absl::UTCTimeZone())
            << ", response " << out << "\n";
  return absl::OkStatus();
}

absl::Status Run(const Args& args) {
  BELFRY_RETURN_IF_ERROR(CheckArgs(args));
  const std::string& c = args.command;
  if (c == "login") return RunLogin(args);
  if (c == "checkin") return RunCheckIn(args);
  if (c == "checkout") return RunCheckOut(args);
  if (c == "grant") return RunGrant(args);
  if (c == "delete") return RunDelete(args);
  if (c == "logout") return RunLogout(args);
  if (c == "revoke-user") return RunRevokeUser(args);
  if (c == "whoami") return RunWhoami(args);
  if (c == "status") return RunStatus(args);
  if (c == "verify") return RunVerify(args);
  if (c == "stamp") return RunStamp(args);
  return UsageError(absl::StrCat("unknown command \"", c, "\""));
}

int Main(int argc, char** argv) {
  // A reader that goes away (belfry checkout DOC | head) must not kill the process
  // mid-way; the write then fails and is reported.
  ::signal(SIGPIPE, SIG_IGN);
  // Connection events would break the one-line-per-failure rule on stderr; BELFRY_LOG=1
  // shows them when diagnosing a cluster.
  const char* log = std::getenv("BELFRY_LOG");
  if (log == nullptr || log[0] == '\0' || std::string(log) == "0") {
    SetConnectionLogSink([](const std::string&) {});
  }
  absl::StatusOr<Args> args = ParseArgs(argc, argv);
  if (args.ok() && args->Has("--help")) {
    std::cout << kUsage;
    return 0;
  }
  absl::Status status = args.ok() ? (args->command.empty()
                                         ? UsageError("no command given (see belfry --help)")
                                         : Run(*args))
                                  : args.status();
  if (status.ok()) return 0;
  // Exactly one line, whatever the message carries.
  std::string line(status.message());
  for (char& ch : line) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  std::cerr << "belfry: " << line << "\n";
  return ExitCodeFor(ErrorKindOf(status));
}

}  // namespace
}  // namespace belfry::cli

int main(int argc, char** argv) { return belfry::cli::Main(argc, argv); }
