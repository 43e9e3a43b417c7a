#include "test/powerloss/powerloss_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/rng.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace belfry::powerloss {
namespace {

namespace fs = std::filesystem;
using rocksdb::FileOptions;
using rocksdb::FSDirectory;
using rocksdb::FSWritableFile;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// Appends journal lines. One write(2) per line, so a SIGKILL never leaves half a line.
class Journal {
 public:
  explicit Journal(std::string dir) : dir_(std::move(dir)) {}
  ~Journal() {
    if (fd_ >= 0) ::close(fd_);
  }

  void Append(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fd_ < 0) {
      std::error_code ec;
      fs::create_directories(dir_, ec);
      fd_ = ::open((dir_ + "/" + kJournalName).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
      if (fd_ < 0) return;  // the journal is a test aid; the database still works without it
    }
    const std::string out = line + "\n";
    // A short write to a local file in the page cache does not happen short of a full disk,
    // and then the test fails on its own.
    [[maybe_unused]] const ssize_t written = ::write(fd_, out.data(), out.size());
  }

  // The name to journal for `path`, or empty when it is not directly in the tracked folder.
  std::string Tracked(const std::string& path) const {
    const fs::path p(path);
    if (fs::path(dir_).lexically_normal() != p.parent_path().lexically_normal()) return "";
    const std::string name = p.filename().string();
    if (name == kJournalName || name == kModeFileName) return "";
    return name;
  }

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::mutex mu_;
  int fd_ = -1;
};

class JournalingFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  JournalingFile(std::unique_ptr<FSWritableFile> target, Journal* journal, std::string name, uint64_t size,
                 Mode mode)
      : FSWritableFileOwnerWrapper(std::move(target)),
        journal_(journal),
        name_(std::move(name)),
        size_(size),
        mode_(mode) {}

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = target()->Append(data, o, dbg);
    if (s.ok()) size_ += data.size();
    return s;
  }
  IOStatus Append(const Slice& data, const IOOptions& o, const rocksdb::DataVerificationInfo& v,
                  IODebugContext* dbg) override {
    IOStatus s = target()->Append(data, o, v, dbg);
    if (s.ok()) size_ += data.size();
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = target()->PositionedAppend(data, offset, o, dbg);
    if (s.ok()) size_ = std::max<uint64_t>(size_, offset + data.size());
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            const rocksdb::DataVerificationInfo& v, IODebugContext* dbg) override {
    IOStatus s = target()->PositionedAppend(data, offset, o, v, dbg);
    if (s.ok()) size_ = std::max<uint64_t>(size_, offset + data.size());
    return s;
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = target()->Truncate(size, o, dbg);
    if (s.ok()) size_ = size;
    return s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override { return Synced(target()->Sync(o, dbg), o, dbg); }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override { return Synced(target()->Fsync(o, dbg), o, dbg); }
  // sync_file_range writes pages back but persists no metadata (not even the file size),
  // so it makes nothing durable; RocksDB always follows it with a real Sync.

 private:
  IOStatus Synced(IOStatus s, const IOOptions& o, IODebugContext* dbg) {
    (void)o;
    (void)dbg;
    if (mode_ == Mode::kLyingFsync) return IOStatus::OK();
    if (s.ok()) journal_->Append(absl::StrCat("S ", name_, " ", size_));
    return s;
  }

  Journal* journal_;
  std::string name_;
  uint64_t size_;
  Mode mode_;
};

class JournalingDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  JournalingDirectory(std::unique_ptr<FSDirectory> target, Journal* journal, bool tracked, Mode mode)
      : FSDirectoryWrapper(std::move(target)), journal_(journal), tracked_(tracked), mode_(mode) {}

  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    if (mode_ == Mode::kLyingFsync) return IOStatus::OK();
    return Synced(FSDirectoryWrapper::Fsync(o, dbg));
  }
  IOStatus FsyncWithDirOptions(const IOOptions& o, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& d) override {
    if (mode_ == Mode::kLyingFsync) return IOStatus::OK();
    return Synced(FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, d));
  }

 private:
  IOStatus Synced(IOStatus s) {
    if (s.ok() && tracked_) journal_->Append("D");
    return s;
  }

  Journal* journal_;
  bool tracked_;
  Mode mode_;
};

class JournalingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  JournalingFileSystem(const std::string& dir, Mode mode)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), journal_(dir), mode_(mode) {}

  const char* Name() const override { return "BelfryJournalingFileSystem"; }

  IOStatus NewWritableFile(const std::string& f, const FileOptions& o, std::unique_ptr<FSWritableFile>* r,
                           IODebugContext* dbg) override {
    const std::string name = journal_.Tracked(f);
    IOStatus s = target()->NewWritableFile(f, o, r, dbg);
    if (!s.ok() || name.empty()) return s;
    // A new (or truncated) file: nothing of it is durable yet, not even its name.
    journal_.Append(absl::StrCat("C ", name));
    *r = std::make_unique<JournalingFile>(std::move(*r), &journal_, name, 0, mode_);
    return s;
  }

  IOStatus ReopenWritableFile(const std::string& f, const FileOptions& o, std::unique_ptr<FSWritableFile>* r,
                              IODebugContext* dbg) override {
    const std::string name = journal_.Tracked(f);
    std::error_code ec;
    const bool existed = fs::exists(f, ec);
    const uint64_t size = existed ? fs::file_size(f, ec) : 0;
    IOStatus s = target()->ReopenWritableFile(f, o, r, dbg);
    if (!s.ok() || name.empty()) return s;
    if (!existed) journal_.Append(absl::StrCat("C ", name));
    *r = std::make_unique<JournalingFile>(std::move(*r), &journal_, name, ec ? 0 : size, mode_);
    return s;
  }

  IOStatus NewDirectory(const std::string& d, const IOOptions& o, std::unique_ptr<FSDirectory>* r,
                        IODebugContext* dbg) override {
    IOStatus s = target()->NewDirectory(d, o, r, dbg);
    if (!s.ok()) return s;
    const bool tracked = fs::path(d).lexically_normal() == fs::path(journal_.dir()).lexically_normal() ||
                         fs::path(d + "/").lexically_normal() == fs::path(journal_.dir() + "/").lexically_normal();
    *r = std::make_unique<JournalingDirectory>(std::move(*r), &journal_, tracked, mode_);
    return s;
  }

  IOStatus RenameFile(const std::string& src, const std::string& dst, const IOOptions& o,
                      IODebugContext* dbg) override {
    IOStatus s = target()->RenameFile(src, dst, o, dbg);
    const std::string a = journal_.Tracked(src), b = journal_.Tracked(dst);
    if (s.ok() && !a.empty() && !b.empty()) journal_.Append(absl::StrCat("R ", a, " ", b));
    return s;
  }

  IOStatus DeleteFile(const std::string& f, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = target()->DeleteFile(f, o, dbg);
    const std::string name = journal_.Tracked(f);
    if (s.ok() && !name.empty()) journal_.Append(absl::StrCat("X ", name));
    return s;
  }

 private:
  Journal journal_;
  Mode mode_;
};

struct Tracked {
  bool name_durable = false;
  int64_t synced = 0;
};

}  // namespace

absl::StatusOr<Mode> ReadMode(const std::string& dir) {
  std::ifstream in(dir + "/" + kModeFileName);
  if (!in) return Mode::kPowerCut;
  std::string word;
  in >> word;
  if (word.empty() || word == "power-cut") return Mode::kPowerCut;
  if (word == "lying-fsync") return Mode::kLyingFsync;
  return absl::InvalidArgumentError(absl::StrCat(dir, "/", kModeFileName, ": unknown mode \"", word, "\""));
}

absl::Status WriteMode(const std::string& dir, Mode mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream out(dir + "/" + kModeFileName, std::ios::trunc);
  out << (mode == Mode::kLyingFsync ? "lying-fsync" : "power-cut") << "\n";
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", dir, "/", kModeFileName));
  return absl::OkStatus();
}

std::unique_ptr<rocksdb::Env> NewJournalingEnv(const std::string& dir, Mode mode) {
  return rocksdb::NewCompositeEnv(std::make_shared<JournalingFileSystem>(dir, mode));
}

absl::StatusOr<CutReport> PowerCut(const std::string& dir, const CutOptions& options) {
  CutReport report;
  const std::string journal_path = dir + "/" + kJournalName;
  std::ifstream in(journal_path);
  if (!in) return report;
  // Files the journal names; a file it never names predates it and is left alone.
  std::map<std::string, Tracked> files;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string op, a, b;
    words >> op >> a >> b;
    if (op == "C") {
      files[a] = Tracked{};
    } else if (op == "S") {
      Tracked& t = files.try_emplace(a, Tracked{.name_durable = true, .synced = 0}).first->second;
      t.synced = std::stoll(b);
    } else if (op == "D") {
      for (auto& [name, t] : files) t.name_durable = true;
    } else if (op == "R") {
      auto it = files.find(a);
      Tracked t = it != files.end() ? it->second : Tracked{.name_durable = true, .synced = -1};
      t.name_durable = true;  // see the header: renames take effect at once
      if (it != files.end()) files.erase(it);
      files[b] = t;
    } else if (op == "X") {
      files.erase(a);
    }
    // Anything else is the torn last line of a journal the process was writing when it
    // died; its event never completed.
  }
  in.close();
  DeterministicRng rng(options.seed);
  for (const auto& [name, t] : files) {
    const std::string path = dir + "/" + name;
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    const auto size = static_cast<int64_t>(fs::file_size(path, ec));
    if (ec) return absl::UnavailableError(absl::StrCat(path, ": ", ec.message()));
    if (!t.name_durable) {
      fs::remove(path, ec);
      if (ec) return absl::UnavailableError(absl::StrCat("removing ", path, ": ", ec.message()));
      ++report.files_removed;
      report.bytes_dropped += static_cast<uint64_t>(size);
      report.lines.push_back(absl::StrCat("removed ", name, " (", size, " bytes, creation never synced)"));
      continue;
    }
    if (t.synced < 0 || size <= t.synced) continue;
    int64_t keep = t.synced;
    std::string garbage;
    if (options.tear) {
      // A torn tail: part of the unsynced bytes reached the disk, but not as written.
      const auto torn = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(size - t.synced) + 1));
      garbage.resize(static_cast<size_t>(torn));
      rng.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(garbage.data()), garbage.size()));
    }
    fs::resize_file(path, static_cast<uintmax_t>(keep), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("truncating ", path, ": ", ec.message()));
    if (!garbage.empty()) {
      std::ofstream out(path, std::ios::binary | std::ios::app);
      out.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
      if (!out) return absl::UnavailableError(absl::StrCat("tearing ", path));
    }
    ++report.files_truncated;
    report.bytes_dropped += static_cast<uint64_t>(size - keep);
    report.lines.push_back(absl::StrCat("cut ", name, " from ", size, " to ", keep, " synced bytes",
                                        garbage.empty() ? "" : absl::StrCat(" + ", garbage.size(), " torn")));
  }
  // What survived is the new baseline.
  std::error_code ec;
  fs::resize_file(journal_path, 0, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("emptying ", journal_path, ": ", ec.message()));
  return report;
}

absl::StatusOr<std::vector<std::string>> BitRot(const std::string& dir, uint32_t flips, uint64_t seed) {
  std::vector<fs::path> tables, logs;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file() || e.file_size() == 0) continue;
    if (e.path().extension() == ".sst") tables.push_back(e.path());
    if (e.path().extension() == ".log") logs.push_back(e.path());
  }
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": ", ec.message()));
  std::vector<fs::path>& pool = tables.empty() ? logs : tables;
  if (pool.empty()) return absl::FailedPreconditionError(absl::StrCat("no table or log file in ", dir));
  std::sort(pool.begin(), pool.end());
  DeterministicRng rng(seed);
  std::vector<std::string> lines;
  for (uint32_t i = 0; i < flips; ++i) {
    const fs::path& p = pool[rng.Uniform(pool.size())];
    const uint64_t size = fs::file_size(p, ec);
    if (ec || size == 0) continue;
    const uint64_t offset = rng.Uniform(size);
    const int bit = static_cast<int>(rng.Uniform(8));
    std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.get(c);
    c = static_cast<char>(c ^ (1 << bit));
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(c);
    f.close();
    if (!f) return absl::UnavailableError(absl::StrCat("flipping a bit in ", p.string()));
    lines.push_back(absl::StrCat("flipped bit ", bit, " at offset ", offset, " of ", p.filename().string(), " (",
                                 size, " bytes)"));
  }
  return lines;
}

}  // namespace belfry::powerloss
