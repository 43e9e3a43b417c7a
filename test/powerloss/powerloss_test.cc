#include "test/powerloss/powerloss_fs.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "replica/state/state_view.h"
#include "replica/store/rocks_store.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace belfry::powerloss {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr ? tmp : "/tmp") + "/belfry-powerloss.XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Value(uint64_t epoch) { return absl::StrCat("value-", epoch, "-", std::string(512, 'v')); }

// Commits epochs [0, epochs) through the journaling file system in a child process that
// then dies by SIGKILL, as a replica does at a power cut: nothing is closed or flushed.
void CommitAndKill(const std::string& dir, Mode mode, uint64_t epochs) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::unique_ptr<rocksdb::Env> env = NewJournalingEnv(dir, mode);
    store::StoreOptions options;
    options.env = env.get();
    auto opened = store::RocksStore::Open(dir, options);
    if (!opened.ok()) ::_exit(3);
    for (uint64_t e = 0; e < epochs; ++e) {
      state::WriteSet ws;
      ws.Put(absl::StrCat("key-", e), Value(e));
      store::Digest d{};
      d[0] = static_cast<uint8_t>(e);
      if (!(*opened)->CommitEpoch(e, static_cast<int64_t>(1000 + e), ws, d).ok()) ::_exit(4);
    }
    // Every commit was synced, so the cut must also be seen to drop something: a write in
    // flight beside the store (durable name, one synced byte, an unsynced tail).
    const std::shared_ptr<rocksdb::FileSystem>& fsys = env->GetFileSystem();
    rocksdb::IOOptions io;
    std::unique_ptr<rocksdb::FSDirectory> d;
    std::unique_ptr<rocksdb::FSWritableFile> f;
    if (!fsys->NewDirectory(dir, io, &d, nullptr).ok() ||
        !fsys->NewWritableFile(dir + "/in-flight", rocksdb::FileOptions(), &f, nullptr).ok() ||
        !f->Append("s", io, nullptr).ok() || !f->Sync(io, nullptr).ok() || !d->Fsync(io, nullptr).ok() ||
        !f->Append(std::string(4096, 'u'), io, nullptr).ok() || !f->Flush(io, nullptr).ok()) {
      ::_exit(6);
    }
    ::raise(SIGKILL);
    ::_exit(5);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
}

// Every epoch the store has must carry exactly what was committed: a store may lose a
// suffix (and then must be caught up), never serve a wrong value.
void CheckPrefixIntact(store::RocksStore& s) {
  for (uint64_t e = 0; e < s.next_epoch(); ++e) {
    auto got = s.Get(absl::StrCat("key-", e));
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK(**got == Value(e));
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE("power cut: every synced epoch survives and the chain verifies (3S: acknowledged writes persist)",
          "[powerloss]") {
  for (const bool tear : {false, true}) {
    TempDir dir;
    CommitAndKill(dir.path(), Mode::kPowerCut, 50);
    auto report = PowerCut(dir.path(), CutOptions{.tear = tear, .seed = 7});
    REQUIRE(report.ok());
    // A cut that dropped nothing would prove nothing.
    CHECK(report->files_truncated >= 1);
    CHECK(fs::file_size(dir.path() + "/in-flight") >= 1);
    if (!tear) CHECK(fs::file_size(dir.path() + "/in-flight") == 1);
    store::StoreOptions options;
    options.create_if_missing = false;
    auto reopened = store::RocksStore::Open(dir.path(), options);  // walks and verifies the chain
    REQUIRE(reopened.ok());
    CHECK((*reopened)->next_epoch() == 50);
    CheckPrefixIntact(**reopened);
  }
}

// Durable votes rest on AppendConsensusInputs being synced before the replica sends what
// the inputs caused: every appended input must survive a power cut. (Pruning is not
// synced: pruned inputs may come back, and a replay skips them.)
TEST_CASE("power cut: every appended consensus input survives", "[powerloss][inputs]") {
  TempDir dir;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::unique_ptr<rocksdb::Env> env = NewJournalingEnv(dir.path(), Mode::kPowerCut);
    store::StoreOptions options;
    options.env = env.get();
    auto opened = store::RocksStore::Open(dir.path(), options);
    if (!opened.ok()) ::_exit(3);
    for (uint64_t seq = 0; seq < 40; ++seq) {
      if (!(*opened)->AppendConsensusInputs({{seq / 4, seq, absl::StrCat("input-", seq)}}).ok()) ::_exit(4);
    }
    if (!(*opened)->PruneConsensusInputsBefore(2).ok()) ::_exit(5);
    ::raise(SIGKILL);
    ::_exit(6);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(PowerCut(dir.path(), CutOptions{.tear = true, .seed = 11}).ok());
  store::StoreOptions options;
  options.create_if_missing = false;
  auto reopened = store::RocksStore::Open(dir.path(), options);
  REQUIRE(reopened.ok());
  auto read = (*reopened)->ReadConsensusInputs();
  REQUIRE(read.ok());
  std::set<uint64_t> kept;
  for (const store::ConsensusInput& in : *read) {
    CHECK(in.bytes == absl::StrCat("input-", in.sequence));
    kept.insert(in.sequence);
  }
  for (uint64_t seq = 8; seq < 40; ++seq) CHECK(kept.count(seq) == 1);
}

TEST_CASE("power cut: unsynced bytes and files whose creation was never synced are dropped", "[powerloss]") {
  TempDir dir;
  std::unique_ptr<rocksdb::Env> env = NewJournalingEnv(dir.path(), Mode::kPowerCut);
  const std::shared_ptr<rocksdb::FileSystem>& fsys = env->GetFileSystem();
  rocksdb::IOOptions io;
  std::unique_ptr<rocksdb::FSDirectory> d;
  REQUIRE(fsys->NewDirectory(dir.path(), io, &d, nullptr).ok());
  auto write = [&](const std::string& name, bool dir_sync) {
    std::unique_ptr<rocksdb::FSWritableFile> f;
    REQUIRE(fsys->NewWritableFile(dir.path() + "/" + name, rocksdb::FileOptions(), &f, nullptr).ok());
    REQUIRE(f->Append("synced", io, nullptr).ok());
    REQUIRE(f->Sync(io, nullptr).ok());
    if (dir_sync) REQUIRE(d->Fsync(io, nullptr).ok());
    REQUIRE(f->Append("-lost", io, nullptr).ok());
    REQUIRE(f->Flush(io, nullptr).ok());
    REQUIRE(f->Close(io, nullptr).ok());
  };
  write("durable", true);
  write("unnamed", false);
  CHECK(ReadAll(dir.path() + "/durable") == "synced-lost");
  auto report = PowerCut(dir.path(), CutOptions{});
  REQUIRE(report.ok());
  CHECK(ReadAll(dir.path() + "/durable") == "synced");
  CHECK_FALSE(fs::exists(dir.path() + "/unnamed"));
  CHECK(report->files_truncated == 1);
  CHECK(report->files_removed == 1);
  // The survivors are the new baseline: a second cut changes nothing.
  auto again = PowerCut(dir.path(), CutOptions{});
  REQUIRE(again.ok());
  CHECK(again->files_truncated + again->files_removed == 0);
}

TEST_CASE("lying fsync: a cut loses epochs the store was told were durable", "[powerloss]") {
  TempDir dir;
  REQUIRE(WriteMode(dir.path(), Mode::kLyingFsync).ok());
  REQUIRE(*ReadMode(dir.path()) == Mode::kLyingFsync);
  CommitAndKill(dir.path(), Mode::kLyingFsync, 20);
  REQUIRE(PowerCut(dir.path(), CutOptions{}).ok());
  store::StoreOptions options;
  auto reopened = store::RocksStore::Open(dir.path(), options);
  // Either refused or behind; never the 20 epochs, and never a wrong value.
  if (reopened.ok()) {
    CHECK((*reopened)->next_epoch() < 20);
    CheckPrefixIntact(**reopened);
  } else {
    CHECK(reopened.status().code() == absl::StatusCode::kDataLoss);
  }
}

TEST_CASE("bit rot in synced files is refused or cut off, never served", "[powerloss]") {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    TempDir dir;
    CommitAndKill(dir.path(), Mode::kPowerCut, 30);
    REQUIRE(PowerCut(dir.path(), CutOptions{}).ok());
    auto flipped = BitRot(dir.path(), 4, seed);
    REQUIRE(flipped.ok());
    REQUIRE(flipped->size() == 4);
    store::StoreOptions options;
    options.create_if_missing = false;
    auto reopened = store::RocksStore::Open(dir.path(), options);
    INFO("seed " << seed << ": " << (reopened.ok() ? "opened" : std::string(reopened.status().message())));
    if (reopened.ok()) {
      CHECK((*reopened)->next_epoch() <= 30);
      CheckPrefixIntact(**reopened);
    } else {
      CHECK(reopened.status().code() == absl::StatusCode::kDataLoss);
    }
  }
}

TEST_CASE("an unknown power-loss mode is refused", "[powerloss]") {
  TempDir dir;
  std::ofstream(dir.path() + "/" + kModeFileName) << "flaky\n";
  CHECK(ReadMode(dir.path()).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace belfry::powerloss
