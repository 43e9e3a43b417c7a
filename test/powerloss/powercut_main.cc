// belfry-powercut — simulates a power cut, or bit rot, on a stopped replica's data folder.
//
//   belfry-powercut DATA_DIR [--tear] [--seed S]      drop what was never synced
//   belfry-powercut DATA_DIR --bit-rot [--flips K] [--seed S]
//
// The replica must have run as belfry-replica-powerloss (which journals every sync in
// DATA_DIR) and must be stopped (SIGKILL is the point). Prints one line per file touched;
// exit status 0 on success, 1 on an error, 2 on bad usage. Test builds only.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "test/powerloss/powerloss_fs.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: belfry-powercut DATA_DIR [--tear] [--seed S]\n"
               "       belfry-powercut DATA_DIR --bit-rot [--flips K] [--seed S]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string dir = argv[1];
  belfry::powerloss::CutOptions options;
  bool rot = false;
  uint32_t flips = 1;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--tear") {
      options.tear = true;
    } else if (arg == "--bit-rot") {
      rot = true;
    } else if (arg == "--seed" && i + 1 < argc) {
      options.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--flips" && i + 1 < argc) {
      flips = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      return Usage();
    }
  }
  if (rot) {
    auto lines = belfry::powerloss::BitRot(dir, flips, options.seed);
    if (!lines.ok()) {
      std::fprintf(stderr, "belfry-powercut: %s\n", std::string(lines.status().message()).c_str());
      return 1;
    }
    for (const std::string& l : *lines) std::printf("%s\n", l.c_str());
    return 0;
  }
  auto report = belfry::powerloss::PowerCut(dir, options);
  if (!report.ok()) {
    std::fprintf(stderr, "belfry-powercut: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  for (const std::string& l : report->lines) std::printf("%s\n", l.c_str());
  std::printf("power cut %s: %llu files cut, %llu removed, %llu bytes dropped\n", dir.c_str(),
              static_cast<unsigned long long>(report->files_truncated),
              static_cast<unsigned long long>(report->files_removed),
              static_cast<unsigned long long>(report->bytes_dropped));
  return 0;
}
