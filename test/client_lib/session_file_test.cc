// Session files (client_lib/session_file.h): private modes, atomic replacement, locked
// sequence numbers shared by several processes, strictly increasing login times, and the
// choice of user when several are logged in (issue 4, "Programs": belfry --user).
#include "client_lib/session_file.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "client_lib/client.h"
#include "test/client_lib/client_test_util.h"

namespace belfry {
namespace {

using client::testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SessionRecord ActiveRecord(const std::string& uid, uint8_t seed_byte = 7) {
  SessionRecord r;
  r.cluster_id = "c0ffee";
  r.uid = uid;
  r.key_path = "/keys/" + uid + " dir/" + uid + ".key";  // a space survives
  r.cert_path = "/keys/" + uid + ".crt";
  r.active = true;
  r.session_seed.fill(seed_byte);
  r.expires_ms = 1'700'000'000'000;
  r.next_seq = 1;
  r.last_login_time_ms = 1'699'999'000'000;
  return r;
}

TEST_CASE("session store: folders 0700, session files 0600, contents round-trip",
          "[client][session]") {
  TempDir tmp;
  const std::string home = tmp.path() + "/home";
  auto store = SessionStore::Open(home, "c0ffee");
  REQUIRE(store.ok());
  CHECK(ModeOf(home) == 0700);
  CHECK(ModeOf(store->dir()) == 0700);
  REQUIRE(store->Write(ActiveRecord("alice")).ok());
  CHECK(ModeOf(store->SessionPath("alice")) == 0600);

  auto read = store->Read("alice");
  REQUIRE(read.ok());
  const SessionRecord expected = ActiveRecord("alice");
  CHECK(read->uid == "alice");
  CHECK(read->key_path == expected.key_path);
  CHECK(read->cert_path == expected.cert_path);
  CHECK(read->active);
  CHECK(read->session_seed == expected.session_seed);
  CHECK(read->expires_ms == expected.expires_ms);
  CHECK(read->next_seq == 1);
  CHECK(read->last_login_time_ms == expected.last_login_time_ms);
}

TEST_CASE("session store: a session file readable by others is refused", "[client][session]") {
  TempDir tmp;
  auto store = SessionStore::Open(tmp.path(), "c0ffee");
  REQUIRE(store.ok());
  REQUIRE(store->Write(ActiveRecord("alice")).ok());
  REQUIRE(::chmod(store->SessionPath("alice").c_str(), 0644) == 0);
  auto read = store->Read("alice");
  REQUIRE_FALSE(read.ok());
  CHECK(std::string(read.status().message()).find("readable by other users") != std::string::npos);
}

TEST_CASE("session store: sequence numbers are strictly increasing and never reused",
          "[client][session]") {
  TempDir tmp;
  auto store = SessionStore::Open(tmp.path(), "c0ffee");
  REQUIRE(store.ok());
  REQUIRE(store->Write(ActiveRecord("alice")).ok());
  CHECK(*store->ReserveSeq("alice") == 1);
  CHECK(*store->ReserveSeq("alice") == 2);
  CHECK(*store->ReserveSeq("alice") == 3);
  CHECK(store->Read("alice")->next_seq == 4);

  SECTION("threads with their own file descriptors never get the same number") {
    std::vector<std::vector<uint64_t>> got(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < got.size(); ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 40; ++i) {
          auto seq = store->ReserveSeq("alice");
          if (seq.ok()) got[t].push_back(*seq);
        }
      });
    }
    for (auto& th : threads) th.join();
    std::set<uint64_t> all;
    for (const auto& g : got) {
      CHECK(g.size() == 40);
      CHECK(std::is_sorted(g.begin(), g.end()));
      all.insert(g.begin(), g.end());
    }
    CHECK(all.size() == 160);
    CHECK(*all.begin() == 4);
    CHECK(*all.rbegin() == 163);
  }

  SECTION("separate processes (flock) never get the same number") {
    const int children = 3;
    const int each = 30;
    for (int c = 0; c < children; ++c) {
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        std::ofstream out(tmp.path() + "/seqs-" + std::to_string(c));
        for (int i = 0; i < each; ++i) {
          auto seq = store->ReserveSeq("alice");
          if (!seq.ok()) ::_exit(1);
          out << *seq << "\n";
        }
        out.close();
        ::_exit(0);
      }
    }
    for (int c = 0; c < children; ++c) {
      int status = 0;
      REQUIRE(::wait(&status) > 0);
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
    }
    std::set<uint64_t> all;
    for (int c = 0; c < children; ++c) {
      std::istringstream in(ReadAll(tmp.path() + "/seqs-" + std::to_string(c)));
      uint64_t v = 0;
      while (in >> v) all.insert(v);
    }
    CHECK(all.size() == children * each);
    CHECK(store->Read("alice")->next_seq == 4 + children * each);
  }
}

TEST_CASE("session store: login times increase strictly even if the clock goes back",
          "[client][session]") {
  TempDir tmp;
  auto store = SessionStore::Open(tmp.path(), "c0ffee");
  REQUIRE(store.ok());
  CHECK(*store->NextLoginTime("alice", 1000) == 1000);
  CHECK(*store->NextLoginTime("alice", 1000) == 1001);
  CHECK(*store->NextLoginTime("alice", 500) == 1002);
  CHECK(*store->NextLoginTime("alice", 5000) == 5000);
  // A file that only remembers the clock is not a session.
  CHECK_FALSE(store->Read("alice")->active);
  CHECK(store->ActiveUsers()->empty());
}

TEST_CASE("session store: ending a session wipes its key and keeps the login clock",
          "[client][session]") {
  TempDir tmp;
  auto store = SessionStore::Open(tmp.path(), "c0ffee");
  REQUIRE(store.ok());
  REQUIRE(store->Write(ActiveRecord("alice", 0xab)).ok());
  CHECK(ReadAll(store->SessionPath("alice")).find("abababab") != std::string::npos);
  REQUIRE(store->EndSession("alice").ok());
  const std::string text = ReadAll(store->SessionPath("alice"));
  CHECK(text.find("session_seed") == std::string::npos);
  CHECK(text.find("abababab") == std::string::npos);
  auto read = store->Read("alice");
  REQUIRE(read.ok());
  CHECK_FALSE(read->active);
  CHECK(read->last_login_time_ms == ActiveRecord("alice").last_login_time_ms);
  CHECK(ErrorKindOf(store->ReserveSeq("alice").status()) == ErrorKind::kNotLoggedIn);
  CHECK(store->EndSession("nobody").ok());
}

TEST_CASE("session store: --user picks among several users; one user is the default",
          "[client][session]") {
  TempDir tmp;
  auto store = SessionStore::Open(tmp.path(), "c0ffee");
  REQUIRE(store.ok());
  auto none = store->SelectUser(std::nullopt);
  CHECK(ErrorKindOf(none.status()) == ErrorKind::kNotLoggedIn);

  REQUIRE(store->Write(ActiveRecord("alice")).ok());
  CHECK(*store->SelectUser(std::nullopt) == "alice");
  CHECK(ErrorKindOf(store->SelectUser(std::string("bob")).status()) == ErrorKind::kNotLoggedIn);

  REQUIRE(store->Write(ActiveRecord("bob")).ok());
  auto ambiguous = store->SelectUser(std::nullopt);
  CHECK(ErrorKindOf(ambiguous.status()) == ErrorKind::kInvalidInput);
  CHECK(std::string(ambiguous.status().message()).find("alice, bob") != std::string::npos);
  CHECK(*store->SelectUser(std::string("bob")) == "bob");
  CHECK(*store->ActiveUsers() == std::vector<std::string>{"alice", "bob"});

  REQUIRE(store->EndSession("alice").ok());
  CHECK(*store->SelectUser(std::nullopt) == "bob");
  CHECK(ErrorKindOf(store->SelectUser(std::string("alice")).status()) == ErrorKind::kNotLoggedIn);
  CHECK(ErrorKindOf(store->SelectUser(std::string("a/b")).status()) == ErrorKind::kInvalidInput);

  SECTION("another cluster under the same home has its own sessions") {
    auto other = SessionStore::Open(tmp.path(), "other-cluster");
    REQUIRE(other.ok());
    CHECK(other->ActiveUsers()->empty());
  }
}

TEST_CASE("session store: a cluster id cannot escape BELFRY_HOME", "[client][session]") {
  TempDir tmp;
  auto store = SessionStore::Open(tmp.path(), "../../etc");
  REQUIRE(store.ok());
  CHECK(store->dir().rfind(tmp.path() + "/x-", 0) == 0);
}

TEST_CASE("session records: malformed text is refused", "[client][session]") {
  const std::string good = FormatSessionRecord(ActiveRecord("alice"));
  REQUIRE(ParseSessionRecord(good).ok());
  CHECK_FALSE(ParseSessionRecord("").ok());
  CHECK_FALSE(ParseSessionRecord(good.substr(0, good.size() - 1)).ok());       // no final newline
  CHECK_FALSE(ParseSessionRecord(good + "extra 1\n").ok());                    // unknown field
  CHECK_FALSE(ParseSessionRecord(good + "next_seq 9\n").ok());                 // twice
  CHECK_FALSE(ParseSessionRecord("belfry-session v2\n" + good.substr(good.find('\n') + 1)).ok());
  std::string no_seed = good;
  no_seed.erase(no_seed.find("session_seed"), no_seed.find('\n', no_seed.find("session_seed")) -
                                                  no_seed.find("session_seed") + 1);
  CHECK_FALSE(ParseSessionRecord(no_seed).ok());  // active without its key
}

}  // namespace
}  // namespace belfry
