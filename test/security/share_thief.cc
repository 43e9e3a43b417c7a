// share-thief — an outsider who got a confidential checkout's bytes from a faulty replica
// (the `leak-requests` strategy of belfry-replica-byzantine) and tries to read the
// document with them (test/security/confidential_e2e.sh).
//
//   share-thief find   --leaks DIR --doc NAME
//   share-thief replay --config C --cert CRT --key KEY --request FILE --out DIR
//
// `find` prints the path of every leaked request that is a checkout of NAME. `replay`
// connects to every replica with the given certificate, sends the request bytes, and
// writes everything that comes back to DIR (frame-R-I.bin). Then it tries every way to
// decrypt it knows: the share attachments taken as plain TDH2 shares, and opened as sealed
// boxes with a key of its own; if f+1 valid shares combine and the data opens, it writes
// the plaintext to DIR/plaintext and exits 3. It prints one line per replica and a last
// line "outcome: ..." naming the statuses seen. Exit 0: nothing decrypted; 2: a local
// error (bad flags, a connection refused is not an error: it prints "refused").
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status.h"
#include "client_lib/internal/requests.h"
#include "config/cluster_config.h"
#include "config/threshold_keys.h"
#include "proto/reply.pb.h"
#include "proto/service.pb.h"
#include "threshold/sealed_share.h"
#include "transport/client_connection.h"
#include "transport/tls.h"
#include "wire/request_format.h"

namespace belfry {
namespace {

using namespace std::chrono_literals;

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Find(const std::string& leaks, const std::string& doc) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(leaks, ec)) {
    absl::StatusOr<std::string> bytes = ReadAll(entry.path().string());
    if (!bytes.ok()) continue;
    pb::SignedRequest req;
    pb::RequestBody body;
    if (!req.ParseFromString(*bytes) || !body.ParseFromString(req.body())) continue;
    if (body.has_op() && body.op().has_check_out() && body.op().check_out().doc() == doc) {
      std::printf("%s\n", entry.path().c_str());
    }
  }
  return 0;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

int Replay(const std::string& config_path, const std::string& cert, const std::string& key,
           const std::string& request_path, const std::string& out_dir) {
  absl::StatusOr<config::ClusterConfig> cfg = config::LoadClusterConfig(config_path);
  absl::StatusOr<std::string> request = ReadAll(request_path);
  if (!cfg.ok() || !request.ok()) {
    std::fprintf(stderr, "share-thief: %s %s\n", cfg.status().ToString().c_str(),
                 request.status().ToString().c_str());
    return 2;
  }
  absl::StatusOr<threshold::PublicKeySet> keys =
      config::PublicKeySetFromConfig(cfg->proto.encryption_keys(), cfg->f());
  if (!keys.ok()) {
    std::fprintf(stderr, "share-thief: %s\n", keys.status().ToString().c_str());
    return 2;
  }
  std::filesystem::create_directories(out_dir);
  absl::StatusOr<transport::TlsCredentials> creds =
      transport::TlsCredentials::FromFiles(cfg->ca_cert_path(), cert, key);
  if (!creds.ok()) {
    std::fprintf(stderr, "share-thief: %s\n", creds.status().ToString().c_str());
    return 2;
  }
  const wire::Digest id_digest = wire::RequestId(*request);
  const std::string id(reinterpret_cast<const char*>(id_digest.data()), id_digest.size());
  pb::ClientFrame frame;
  frame.set_request(*request);
  const std::string wire = frame.SerializeAsString();

  std::vector<std::unique_ptr<transport::ClientConnection>> conns(cfg->n());
  for (const pb::ReplicaEndpoint& r : cfg->proto.replicas()) {
    transport::ClientConnectionConfig c;
    c.host = r.host();
    c.port = static_cast<uint16_t>(r.client_port());
    c.credentials = *creds;
    c.expected_server_name = transport::ReplicaName(r.id());
    absl::StatusOr<std::unique_ptr<transport::ClientConnection>> conn =
        transport::ClientConnection::Connect(std::move(c));
    if (!conn.ok() || !(*conn)->Send(wire).ok()) {
      std::printf("replica %u: refused (%s)\n", r.id(), conn.ok() ? "send failed" : std::string(conn.status().message()).c_str());
      continue;
    }
    conns[r.id()] = *std::move(conn);
  }

  // replica -> its answer (a reply or a rejection for this request).
  std::map<uint32_t, pb::ClientFrame> answers;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  uint32_t frames = 0;
  size_t open = 0;
  for (const auto& c : conns) open += c != nullptr ? 1 : 0;
  while (answers.size() < open && std::chrono::steady_clock::now() < deadline) {
    for (uint32_t r = 0; r < conns.size(); ++r) {
      if (conns[r] == nullptr || answers.count(r) != 0) continue;
      absl::StatusOr<std::string> got = conns[r]->Receive(20ms);
      if (!got.ok()) continue;
      Write(absl::StrCat(out_dir, "/frame-", r, "-", frames++, ".bin"), *got);
      pb::ClientFrame f;
      if (!f.ParseFromString(*got)) continue;
      if (f.has_rejection() && f.rejection().request_id() == id) answers[r] = f;
      if (f.has_reply()) {
        pb::ReplyBody body;
        if (body.ParseFromString(f.reply().body()) && body.request_id() == id) answers[r] = f;
      }
    }
  }

  std::set<std::string> outcomes;
  std::optional<pb::CheckOutResult> checkout;
  std::map<uint32_t, std::string> attachments;
  for (const auto& [r, f] : answers) {
    if (f.has_rejection()) {
      const std::string s = wire::StatusName(static_cast<pb::Status>(f.rejection().code()));
      std::printf("replica %u: rejection %s\n", r, s.c_str());
      outcomes.insert(absl::StrCat("rejected ", s));
      continue;
    }
    pb::ReplyBody body;
    pb::Result result;
    if (!body.ParseFromString(f.reply().body()) || !result.ParseFromString(body.result())) continue;
    const std::string s = wire::StatusName(result.status());
    std::printf("replica %u: reply %s, share attachment %zu bytes\n", r, s.c_str(),
                f.reply().attachments().sealed_decryption_share().size());
    outcomes.insert(absl::StrCat("reply ", s));
    if (result.has_check_out()) checkout = result.check_out();
    if (!f.reply().attachments().sealed_decryption_share().empty()) {
      attachments[r] = f.reply().attachments().sealed_decryption_share();
    }
  }
  if (answers.empty()) outcomes.insert("no answer");

  // Every way this outsider can try: the attachments as plain shares (as replicas sent
  // them before shares were sealed), and as sealed boxes opened with a key of its own.
  if (checkout.has_value() && checkout->confidential()) {
    const threshold::ShareRecipientKey own = threshold::ShareRecipientKey::Generate();
    const std::map<uint32_t, std::string> opened = client::internal::OpenSealedShares(
        cfg->cluster_id(), *checkout, own, attachments, nullptr);
    for (const std::map<uint32_t, std::string>* shares :
         std::initializer_list<const std::map<uint32_t, std::string>*>{&attachments, &opened}) {
      absl::StatusOr<std::string> plain =
          client::internal::OpenConfidential(cfg->cluster_id(), *checkout, *keys, *shares, nullptr);
      if (plain.ok()) {
        Write(out_dir + "/plaintext", *plain);
        std::printf("outcome: DECRYPTED the document with %zu shares from the replies\n", shares->size());
        return 3;
      }
    }
    std::printf("decryption failed: %zu attachments, none usable\n", attachments.size());
  }
  std::string line;
  for (const std::string& o : outcomes) line += (line.empty() ? "" : ", ") + o;
  std::printf("outcome: %s\n", line.c_str());
  return 0;
}

}  // namespace
}  // namespace belfry

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "find" && flags.count("--leaks") && flags.count("--doc")) {
    return belfry::Find(flags["--leaks"], flags["--doc"]);
  }
  if (command == "replay" && flags.count("--config") && flags.count("--cert") && flags.count("--key") &&
      flags.count("--request") && flags.count("--out")) {
    return belfry::Replay(flags["--config"], flags["--cert"], flags["--key"], flags["--request"], flags["--out"]);
  }
  std::fprintf(stderr,
               "usage: share-thief find --leaks DIR --doc NAME\n"
               "       share-thief replay --config C --cert CRT --key KEY --request FILE --out DIR\n");
  return 2;
}
