// The `belfry` command against fake replicas (fake_cluster.h): every command, the
// session files under BELFRY_HOME, --user selection, exit codes, one stderr line per
// failure (issue 4, "Programs"). The command runs as a separate process, as a user runs
// it; BELFRY_CLI is its path (set by CMake).
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "absl/strings/str_split.h"
#include "test/client_lib/client_test_util.h"
#include "test/client_lib/fake_cluster.h"

namespace belfry {
namespace {

using client::testing::FakeReplicaCluster;
using client::testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

class Cli {
 public:
  Cli() {
    auto started = FakeReplicaCluster::Start(tmp_.path(), {"alice", "bob"});
    INFO(started.status().ToString());
    REQUIRE(started.ok());
    cluster_ = *std::move(started);
  }

  // Runs `belfry ARGS` (ARGS is shell text; test paths have no special characters).
  Run operator()(const std::string& args) {
    const std::string out = tmp_.path() + "/stdout";
    const std::string err = tmp_.path() + "/stderr";
    const std::string command = "BELFRY_HOME='" + home() + "' BELFRY_CLUSTER='" +
                                cluster_->config_path() + "' '" + BELFRY_CLI + "' " + args +
                                " >'" + out + "' 2>'" + err + "'";
    const int status = std::system(command.c_str());
    Run run;
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = ReadAll(out);
    run.err = ReadAll(err);
    return run;
  }

  std::string home() const { return tmp_.path() + "/home"; }
  std::string path(const std::string& name) const { return tmp_.path() + "/" + name; }
  FakeReplicaCluster& cluster() { return *cluster_; }

 private:
  TempDir tmp_;
  std::unique_ptr<FakeReplicaCluster> cluster_;
};

// A failure prints exactly one line, "belfry: ...", and nothing else on stderr.
bool OneErrorLine(const Run& run) {
  return run.err.rfind("belfry: ", 0) == 0 && run.err.find('\n') == run.err.size() - 1;
}

TEST_CASE("belfry: a 3S session through the command line", "[cli]") {
  Cli belfry;
  const std::string alice_key = belfry.cluster().key_path("alice");
  const std::string bob_key = belfry.cluster().key_path("bob");

  Run r = belfry("whoami");
  CHECK(r.code == 3);
  CHECK(OneErrorLine(r));

  r = belfry("login alice --key '" + alice_key + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("logged in as alice") != std::string::npos);
  CHECK(r.err.empty());
  // The session file is private, and holds no PEM key material of the user.
  struct stat st {};
  const std::string session = belfry.home() + "/fake-cluster/alice.session";
  REQUIRE(::stat(session.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(ReadAll(session).find("PRIVATE KEY") == std::string::npos);

  r = belfry("whoami");
  CHECK(r.code == 0);
  CHECK(r.out.rfind("alice on cluster fake-cluster", 0) == 0);

  WriteAll(belfry.path("secret.txt"), "CANARY-91c2 top secret\n");
  r = belfry("checkin plans " + belfry.path("secret.txt") + " --confidential --integrity");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("plans version") != std::string::npos);

  r = belfry("checkout plans --out " + belfry.path("plans.out") + " --integrity-cert " +
             belfry.path("plans.cert"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(ReadAll(belfry.path("plans.out")) == "CANARY-91c2 top secret\n");
  CHECK(ReadAll(belfry.path("plans.cert")).rfind("\x30", 0) == 0);  // DER: a CMS ContentInfo SEQUENCE

  // A plain integrity document: checkout to stdout, then verify offline.
  WriteAll(belfry.path("terms.txt"), "the terms");
  REQUIRE(belfry("checkin terms " + belfry.path("terms.txt") + " --integrity").code == 0);
  r = belfry("checkout terms --integrity-cert " + belfry.path("terms.cert"));
  REQUIRE(r.code == 0);
  CHECK(r.out == "the terms");
  r = belfry("verify " + belfry.path("terms.txt") + " " + belfry.path("terms.cert"));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.rfind("valid: terms version", 0) == 0);
  WriteAll(belfry.path("forged.txt"), "the terms, amended");
  r = belfry("verify " + belfry.path("forged.txt") + " " + belfry.path("terms.cert"));
  CHECK(r.code == 6);
  CHECK(OneErrorLine(r));
  // A damaged signature makes the certificate invalid.
  std::string cert = ReadAll(belfry.path("terms.cert"));
  cert[cert.size() - 10] ^= 0x01;  // inside the RSA signature, the last field
  WriteAll(belfry.path("terms-forged.cert"), cert);
  r = belfry("verify " + belfry.path("terms.txt") + " " + belfry.path("terms-forged.cert"));
  CHECK(r.code == 6);
  WriteAll(belfry.path("junk.cert"), "not a certificate\n");
  r = belfry("verify " + belfry.path("terms.txt") + " " + belfry.path("junk.cert"));
  CHECK(r.code == 2);
  CHECK(OneErrorLine(r));
  r = belfry("checkout plans --integrity-cert " + belfry.path("x.cert"));  // fine: has one
  CHECK(r.code == 0);
  REQUIRE(belfry("checkin plain " + belfry.path("terms.txt")).code == 0);
  r = belfry("checkout plain --integrity-cert " + belfry.path("y.cert"));
  CHECK(r.code == 2);

  // A second user: now --user is needed.
  r = belfry("login bob --key '" + bob_key + "' --cert '" + belfry.cluster().cert_path("bob") +
             "'");
  REQUIRE(r.code == 0);
  r = belfry("checkout plans");
  CHECK(r.code == 2);
  CHECK(OneErrorLine(r));
  CHECK(r.err.find("--user") != std::string::npos);
  r = belfry("--user bob checkout plans");
  CHECK(r.code == 4);
  CHECK(OneErrorLine(r));
  CHECK(belfry("--user alice grant plans bob checkout 60").code == 0);
  r = belfry("checkout plans --user bob --out " + belfry.path("bob.out"));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(ReadAll(belfry.path("bob.out")) == "CANARY-91c2 top secret\n");
  CHECK(belfry("--user alice grant plans ALL both 0").code == 0);  // latest grant: revoked
  CHECK(belfry("--user bob checkout plans").code == 4);
  CHECK(belfry("--user alice delete plans").code == 0);
  r = belfry("--user bob checkout plans");
  CHECK(r.code == 5);
  CHECK(OneErrorLine(r));

  // Logout ends the session here and at the cluster.
  r = belfry("--user alice logout");
  CHECK(r.code == 0);
  CHECK(belfry("--user alice whoami").code == 3);
  CHECK(belfry("--user alice checkout terms").code == 3);
  r = belfry("whoami");
  CHECK(r.code == 0);
  CHECK(r.out.rfind("bob on cluster", 0) == 0);
}

TEST_CASE("belfry: several processes share one session", "[cli]") {
  Cli belfry;
  REQUIRE(belfry("login alice --key " + belfry.cluster().key_path("alice")).code == 0);
  WriteAll(belfry.path("f"), "x");
  // Four checkins at once: the session file's lock hands each its own sequence number.
  std::string script = "sh -c '";
  for (int i = 0; i < 4; ++i) {
    script += "BELFRY_HOME=" + belfry.home() + " BELFRY_CLUSTER=" +
              belfry.cluster().config_path() + " " + BELFRY_CLI + " checkin doc" +
              std::to_string(i) + " " + belfry.path("f") + " >/dev/null 2>" +
              belfry.path("err" + std::to_string(i)) + " || echo fail" + std::to_string(i) +
              " & ";
  }
  script += "wait'";
  Run r = belfry("whoami");  // warm: the session exists
  REQUIRE(r.code == 0);
  const std::string out_path = belfry.path("parallel.out");
  REQUIRE(std::system((script + " >" + out_path).c_str()) == 0);
  CHECK(ReadAll(out_path).empty());
  for (int i = 0; i < 4; ++i) CHECK(ReadAll(belfry.path("err" + std::to_string(i))).empty());
  for (int i = 0; i < 4; ++i) CHECK(belfry("checkout doc" + std::to_string(i)).out == "x");
}

TEST_CASE("belfry: usage errors, refusals and an unresponsive cluster", "[cli]") {
  Cli belfry;
  Run r = belfry("");
  CHECK(r.code == 2);
  CHECK(OneErrorLine(r));
  r = belfry("--help");
  CHECK(r.code == 0);
  CHECK(r.out.find("Exit codes:") != std::string::npos);
  CHECK(belfry("frobnicate").code == 2);
  CHECK(belfry("checkout").code == 2);
  CHECK(belfry("checkout a b").code == 2);
  CHECK(belfry("checkout a --confidential").code == 2);
  CHECK(belfry("--cluster /nonexistent/cluster.conf whoami").code == 2);

  // Before anyone logs in, status connects as a user found beside cluster.conf.
  r = belfry("status");
  INFO(r.err);
  CHECK(r.code == 0);

  // Another user's key with alice's certificate: login refused.
  r = belfry("login alice --key " + belfry.cluster().key_path("bob") + " --cert " +
             belfry.cluster().cert_path("alice"));
  CHECK(r.code == 3);
  CHECK(OneErrorLine(r));
  CHECK(belfry("login alice --key /nonexistent.key").code == 2);

  REQUIRE(belfry("login alice --key " + belfry.cluster().key_path("alice")).code == 0);
  CHECK(belfry("grant d bob sometimes 10").code == 2);
  CHECK(belfry("grant d bob both soon").code == 2);
  CHECK(belfry("checkin a/b " + belfry.cluster().config_path()).code == 2);
  CHECK(belfry("checkin d /nonexistent").code == 2);
  CHECK(belfry("checkout missing").code == 5);

  r = belfry("status");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("4 of 4 replicas healthy") != std::string::npos);
  CHECK(r.out.find("REPLICA  ADDRESS") == 0);

  belfry.cluster().replica(0).behaviour().silent = true;
  belfry.cluster().replica(2).behaviour().silent = true;
  r = belfry("status --timeout 1");
  CHECK(r.code == 7);
  CHECK(OneErrorLine(r));
  CHECK(r.out.find("2 of 4 replicas healthy") != std::string::npos);
  CHECK(r.out.find("unreachable") != std::string::npos);
  r = belfry("checkin d " + belfry.cluster().config_path() + " --timeout 1");
  CHECK(r.code == 7);
  CHECK(OneErrorLine(r));
  CHECK(r.err.find("2f+1") != std::string::npos);
}

}  // namespace
}  // namespace belfry
