// base/log.h — one structured line per significant event.
//
// Lines are `key=value` pairs ("ts=... level=warn component=peer_net event=refused
// reason=wrong_role peer=alice"), so a person can read them and a log pipeline can parse
// them without a schema; or, with SetLogFormat(kJson), one JSON object per line with the
// same keys (numbers as JSON numbers). Callers log events and identities (names from
// certificates, addresses, counts), never payloads or key material. Values that could come
// from a peer (certificate names, error text) are quoted and escaped, so a hostile name
// cannot forge extra fields or lines.
//
// Lines below the minimum level (SetLogLevel; default info) cost one comparison. Lines go
// to a sink if one is set (tests), else to a log file if one is set (reopened by
// ReopenLogFile, for rotation on SIGHUP), else to stderr (what a container runtime
// collects).
#ifndef BELFRY_BASE_LOG_H_
#define BELFRY_BASE_LOG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace belfry {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError };
enum class LogFormat : uint8_t { kKeyValue, kJson };

// LogLine: builds one line and emits it when destroyed. Use as a temporary:
//   LogLine(LogLevel::kInfo, "peer_net", "connect").Add("peer", 2).Add("addr", a);
// Not thread-safe itself; emission is serialized across threads.
class LogLine {
 public:
  LogLine(LogLevel level, std::string_view component, std::string_view event);
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine();

  LogLine& Add(std::string_view key, std::string_view value);
  LogLine& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  LogLine& Add(std::string_view key, const std::string& value) {
    return Add(key, std::string_view(value));
  }
  // Abseil's own string_view (a distinct type in this Abseil build): status messages.
  LogLine& Add(std::string_view key, absl::string_view value) {
    return Add(key, std::string_view(value.data(), value.size()));
  }
  LogLine& Add(std::string_view key, uint64_t value);
  LogLine& Add(std::string_view key, int64_t value);
  LogLine& Add(std::string_view key, uint32_t value) { return Add(key, uint64_t{value}); }
  LogLine& Add(std::string_view key, int value) { return Add(key, int64_t{value}); }
  LogLine& Add(std::string_view key, bool value);

 private:
  struct Field {
    std::string key;
    std::string value;
    bool quoted_in_json;  // false for numbers and booleans
  };
  LogLine& AddField(std::string_view key, std::string value, bool quoted_in_json);
  bool enabled_;
  LogLevel level_;
  std::vector<Field> fields_;
};

// Where lines go: by default stderr. A sink receives each finished line (without the
// newline); nullptr restores stderr. Thread-safe; meant for tests and for daemons that
// route logs elsewhere. The sink runs under the emission lock, so it must not log.
void SetLogSink(std::function<void(const std::string&)> sink);

// Process-wide settings, safe to change from any thread.
void SetLogLevel(LogLevel min_level);
void SetLogFormat(LogFormat format);
// "debug", "info", "warn", "error" / "kv", "json"; INVALID_ARGUMENT naming the choices.
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name);
absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name);
// Appends to `path` (created 0640) instead of stderr; an empty path returns to stderr.
// UNAVAILABLE when the file cannot be opened (the previous destination stays).
absl::Status SetLogFile(const std::string& path);
// Reopens the log file by name, so a rotated file is released. Call from a normal thread
// after a SIGHUP (not from the signal handler). No-op without a log file.
absl::Status ReopenLogFile();

}  // namespace belfry

#endif  // BELFRY_BASE_LOG_H_
