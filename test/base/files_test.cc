// base/files.h: bounded reads, private-file refusal, atomic writes that never follow a
// symlink. The file rules key files depend on (CONVENTIONS "key files 0600").
#include "base/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/match.h"

namespace belfry {
namespace {

// A fresh folder under /tmp, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = "/tmp/belfry-files-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("files: a private file is written 0600 and read back", "[base][files]") {
  ScratchDir dir;
  const std::string path = dir.File("key");
  REQUIRE(WritePrivateFile(path, "secret").ok());
  CHECK(ModeOf(path) == 0600);
  absl::StatusOr<std::string> read = ReadPrivateFileBounded(path, 64);
  REQUIRE(read.ok());
  CHECK(*read == "secret");
  REQUIRE(WritePublicFile(dir.File("cert"), "public").ok());
  CHECK(ModeOf(dir.File("cert")) == 0644);
}

TEST_CASE("files: a private file group or others may read is refused, naming it",
          "[base][files]") {
  ScratchDir dir;
  const std::string path = dir.File("key");
  REQUIRE(WriteFileAtomically(path, "secret", 0640).ok());
  absl::StatusOr<std::string> read = ReadPrivateFileBounded(path, 64);
  CHECK(read.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(read.status().message() ==
        path + " has mode 0640; a private key file must not be accessible to group or others "
               "(use 0600)");
  CHECK(FileRefusalOf(read.status()) == FileRefusal::kNotPrivate);
  // The same file is fine to read when it is not a secret.
  CHECK(ReadFileBounded(path, 64).ok());
}

TEST_CASE("files: a file beyond bytes_max is refused before it is read", "[base][files]") {
  ScratchDir dir;
  const std::string path = dir.File("big");
  REQUIRE(WritePublicFile(path, std::string(65, 'x')).ok());
  CHECK(ReadFileBounded(path, 65).ok());
  absl::StatusOr<std::string> read = ReadFileBounded(path, 64);
  CHECK(read.status().code() == absl::StatusCode::kOutOfRange);
  CHECK(read.status().message() == path + " is larger than the limit of 64 bytes");
  CHECK(FileRefusalOf(read.status()) == FileRefusal::kTooLarge);
}

TEST_CASE("files: a missing file and a folder are told apart", "[base][files]") {
  ScratchDir dir;
  absl::StatusOr<std::string> missing = ReadFileBounded(dir.File("none"), 64);
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK(FileRefusalOf(missing.status()) == FileRefusal::kNone);
  REQUIRE(::mkdir(dir.File("sub").c_str(), 0700) == 0);
  absl::StatusOr<std::string> folder = ReadFileBounded(dir.File("sub"), 64);
  CHECK(folder.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(folder.status().message() == dir.File("sub") + " is not a regular file");
  CHECK(FileRefusalOf(folder.status()) == FileRefusal::kNotRegular);
}

TEST_CASE("files: a symlink is never written through, and read only when allowed",
          "[base][files]") {
  ScratchDir dir;
  const std::string target = dir.File("target");
  const std::string link = dir.File("link");
  REQUIRE(WritePrivateFile(target, "old").ok());
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  absl::Status write = WritePrivateFile(link, "new");
  CHECK(!write.ok());
  CHECK(absl::StrContains(write.message(), "refusing to write through a symlink at " + link));
  CHECK(*ReadFileBounded(target, 64) == "old");
  CHECK(*ReadFileBounded(link, 64) == "old");
  FileReadOptions no_symlink;
  no_symlink.refuse_symlink = true;
  CHECK(!ReadFileBounded(link, 64, no_symlink).ok());
}

TEST_CASE("files: kRefuse never replaces, kReplace does, and no temporary file is left",
          "[base][files]") {
  ScratchDir dir;
  const std::string path = dir.File("share");
  REQUIRE(WriteFileAtomically(path, "first", 0600, FileOverwrite::kRefuse).ok());
  absl::Status again = WriteFileAtomically(path, "second", 0600, FileOverwrite::kRefuse);
  CHECK(again.code() == absl::StatusCode::kAlreadyExists);
  CHECK(*ReadFileBounded(path, 64) == "first");
  REQUIRE(WriteFileAtomically(path, "third", 0600, FileOverwrite::kReplace).ok());
  CHECK(*ReadFileBounded(path, 64) == "third");
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.File(""))) {
    (void)entry;
    ++entries;
  }
  CHECK(entries == 1);
}

}  // namespace
}  // namespace belfry
