#include "metrics/process_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace belfry::metrics {
namespace {

// "VmRSS:     1234 kB" -> bytes.
uint64_t StatusKb(const std::string& line) {
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return 0;
  return std::strtoull(line.c_str() + colon + 1, nullptr, 10) * 1024;
}

double BootTimeSeconds() {
  std::ifstream stat("/proc/stat");
  std::string line;
  while (std::getline(stat, line)) {
    if (line.rfind("btime ", 0) == 0) return std::strtod(line.c_str() + 6, nullptr);
  }
  return 0;
}

}  // namespace

ProcessStats ReadProcessStats() {
  ProcessStats out;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  {
    std::ifstream stat("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // The command name (field 2) may hold spaces and parentheses: fields resume after the
    // last ')'.
    const size_t close = text.rfind(')');
    if (close != std::string::npos && ticks > 0) {
      std::istringstream rest(text.substr(close + 2));
      std::string field;
      // Fields 3.. ; utime is field 14, stime 15, num_threads 20, starttime 22.
      for (int index = 3; rest >> field; ++index) {
        if (index == 14 || index == 15) out.cpu_seconds += std::strtod(field.c_str(), nullptr) / ticks;
        if (index == 20) out.threads = std::strtoull(field.c_str(), nullptr, 10);
        if (index == 22) {
          out.start_time_seconds = BootTimeSeconds() + std::strtod(field.c_str(), nullptr) / ticks;
          break;
        }
      }
    }
  }
  {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) out.resident_bytes = StatusKb(line);
      if (line.rfind("VmHWM:", 0) == 0) out.peak_resident_bytes = StatusKb(line);
      if (line.rfind("VmSize:", 0) == 0) out.virtual_bytes = StatusKb(line);
    }
  }
  if (DIR* fds = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(fds)) {
      if (e->d_name[0] != '.') ++out.open_fds;
    }
    ::closedir(fds);
    if (out.open_fds > 0) --out.open_fds;  // the directory stream's own descriptor
  }
  return out;
}

}  // namespace belfry::metrics
