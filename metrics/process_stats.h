// metrics/process_stats.h — this process's resource use, read from /proc/self (Linux).
#ifndef BELFRY_METRICS_PROCESS_STATS_H_
#define BELFRY_METRICS_PROCESS_STATS_H_

#include <cstdint>

namespace belfry::metrics {

struct ProcessStats {
  double cpu_seconds = 0;            // user + system
  uint64_t resident_bytes = 0;       // VmRSS
  uint64_t peak_resident_bytes = 0;  // VmHWM
  uint64_t virtual_bytes = 0;        // VmSize
  uint64_t open_fds = 0;
  uint64_t threads = 0;
  double start_time_seconds = 0;     // since the Unix epoch
};

// Fields that cannot be read stay 0: metrics are best effort, never a reason to stop.
ProcessStats ReadProcessStats();

}  // namespace belfry::metrics

#endif  // BELFRY_METRICS_PROCESS_STATS_H_
