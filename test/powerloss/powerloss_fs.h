// test/powerloss/powerloss_fs.h — a file system that forgets what was never synced.
//
// How it works. SIGKILL keeps the page cache, so a killed process loses nothing that it
// wrote; only a power cut loses unsynced data. JournalingFileSystem is a
// rocksdb::FileSystemWrapper that writes through to the real files and, beside them,
// appends one line per durability event to DIR/POWERLOSS-JOURNAL: a file created, a file
// synced up to a length, the directory synced (which makes earlier creations durable),
// a rename, a delete. The journal is written with write(2) and not synced: it lives in
// the same page cache as the data and survives SIGKILL; a power cut is simulated only
// after the process is gone. PowerCut() then replays the journal and undoes what a real
// cut would have lost: every file is cut back to its last synced length (optionally
// leaving a torn tail of garbage), and a file whose creation no directory sync covered
// is removed. The surviving files become the new baseline (the journal is emptied).
//
// Modes (DIR/POWERLOSS-MODE holds the mode's name; absent means power-cut):
//   power-cut    honest: Sync/Fsync and directory syncs are recorded as durable.
//   lying-fsync  every sync returns OK without syncing or being recorded, so a cut loses
//                data the process was told was durable (a lying disk or controller).
// BitRot() flips bits in synced table or log files, as a decaying disk would.
//
// Limits of the model, chosen so that it never loses what a real file system keeps:
// RangeSync is not counted as durable (sync_file_range persists no metadata); renames and
// deletes take effect at once (RocksDB makes them durable with a directory sync right
// after, and undoing a rename would need the replaced file's old content). Only files
// directly in DIR are tracked (the layout RocksStore uses); RocksDB's info LOG is opened
// by the Env's logger, not through the file system, and holds no data. The journal grows
// by one line per sync until the next cut. Test builds only: the production replica never
// links this.
#ifndef BELFRY_TEST_POWERLOSS_POWERLOSS_FS_H_
#define BELFRY_TEST_POWERLOSS_POWERLOSS_FS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace belfry::powerloss {

inline constexpr char kJournalName[] = "POWERLOSS-JOURNAL";
inline constexpr char kModeFileName[] = "POWERLOSS-MODE";

enum class Mode { kPowerCut, kLyingFsync };

// Reads DIR/POWERLOSS-MODE (absent: kPowerCut). INVALID_ARGUMENT for an unknown mode.
absl::StatusOr<Mode> ReadMode(const std::string& dir);
// Writes DIR/POWERLOSS-MODE (creating DIR).
absl::Status WriteMode(const std::string& dir, Mode mode);

// An Env whose file system journals durability events for files in `dir`. Owns its file
// system; must outlive every database opened with it. Thread-safe as RocksDB requires.
std::unique_ptr<rocksdb::Env> NewJournalingEnv(const std::string& dir, Mode mode);

struct CutOptions {
  bool tear = false;   // leave a tail of garbage after the synced length, where there was one
  uint64_t seed = 1;   // chooses the torn lengths and bytes
};

struct CutReport {
  uint64_t files_truncated = 0;
  uint64_t files_removed = 0;
  uint64_t bytes_dropped = 0;
  std::vector<std::string> lines;  // one per file touched, for logs
};

// Simulates a power cut of the (stopped) process that used `dir`. Errors from the file
// system; a missing journal is a no-op (nothing was written through the wrapper).
absl::StatusOr<CutReport> PowerCut(const std::string& dir, const CutOptions& options);

// Flips `flips` random bits in `dir`'s table files (*.sst), or its WAL (*.log) when there
// is no table file. Returns one line per flip. FAILED_PRECONDITION when there is nothing
// to rot.
absl::StatusOr<std::vector<std::string>> BitRot(const std::string& dir, uint32_t flips, uint64_t seed);

}  // namespace belfry::powerloss

#endif  // BELFRY_TEST_POWERLOSS_POWERLOSS_FS_H_
