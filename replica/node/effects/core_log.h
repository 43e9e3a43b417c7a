// replica/node/effects/core_log.h — where the replica core's log lines go.
//
// The core logs significant events (faults, transfers, divergence) as structured lines.
// By default they go through LogLine (process-wide level, format and
// destination, as the daemon configures them), at the cost of one comparison for a line
// below the level. A test or the simulator may hand the core a CoreLogger instead, to
// silence one replica or capture its events without touching the process-wide sink that
// every other replica and the transport share.
#ifndef BELFRY_REPLICA_NODE_EFFECTS_CORE_LOG_H_
#define BELFRY_REPLICA_NODE_EFFECTS_CORE_LOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "base/log.h"

namespace belfry::replica {

// One key=value of a line; `number` is false for quoted strings.
struct LogField {
  std::string key;
  std::string value;
  bool number = false;
};

// CoreLogger: receives the core's lines. Called on the core's thread only; must not call
// back into the core.
class CoreLogger {
 public:
  virtual ~CoreLogger() = default;
  // Lines below this are not built at all.
  virtual bool Enabled(LogLevel level) const = 0;
  virtual void Log(LogLevel level, std::string_view component, std::string_view event,
                   std::vector<LogField> fields) = 0;
};

// CoreLogLine: one line, emitted when destroyed; use as a temporary, like LogLine.
// With a null logger it is a LogLine.
class CoreLogLine {
 public:
  CoreLogLine(CoreLogger* logger, LogLevel level, std::string_view component, std::string_view event);
  CoreLogLine(const CoreLogLine&) = delete;
  CoreLogLine& operator=(const CoreLogLine&) = delete;
  ~CoreLogLine();

  CoreLogLine& Add(std::string_view key, std::string_view value);
  CoreLogLine& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  CoreLogLine& Add(std::string_view key, const std::string& value) { return Add(key, std::string_view(value)); }
  CoreLogLine& Add(std::string_view key, absl::string_view value) {
    return Add(key, std::string_view(value.data(), value.size()));
  }
  CoreLogLine& Add(std::string_view key, uint64_t value);
  CoreLogLine& Add(std::string_view key, int64_t value);
  CoreLogLine& Add(std::string_view key, uint32_t value) { return Add(key, uint64_t{value}); }
  CoreLogLine& Add(std::string_view key, int value) { return Add(key, int64_t{value}); }
  CoreLogLine& Add(std::string_view key, bool value);

 private:
  CoreLogger* logger_;
  bool enabled_;
  LogLevel level_;
  std::string component_;
  std::string event_;
  std::vector<LogField> fields_;
  std::optional<LogLine> line_;  // with a null logger
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_EFFECTS_CORE_LOG_H_
