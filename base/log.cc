#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"

namespace belfry {
namespace {

std::atomic<LogLevel> g_min_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kKeyValue};

// Guards the destination (sink, file) and serializes emission across threads.
struct Output {
  std::mutex mu;
  std::function<void(const std::string&)> sink;
  std::string file_path;
  int fd = -1;
};

Output& Out() {
  static Output* out = new Output();  // never destroyed: threads may log during exit
  return *out;
}

// RFC 3339 UTC with milliseconds.
std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  return buf;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

bool NeedsQuoting(std::string_view v) {
  if (v.empty()) {
    return true;
  }
  for (char c : v) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7f || c == '"' || c == '=' || c == '\\') {
      return true;
    }
  }
  return false;
}

// Quoted and escaped: backslash and quote get a backslash; control bytes become \xHH
// (key=value) or \u00HH (JSON), so a value can never end the line or forge a field. Bytes
// >= 0x80 pass through (values are UTF-8).
void AppendQuoted(std::string& out, std::string_view v, const char* control_format) {
  out.push_back('"');
  for (char c : v) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (b < 0x20 || b == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), control_format, b);
      out.append(esc);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void AppendKvValue(std::string& out, std::string_view v) {
  if (NeedsQuoting(v)) {
    AppendQuoted(out, v, "\\x%02x");
  } else {
    out.append(v);
  }
}

void AppendJsonString(std::string& out, std::string_view v) { AppendQuoted(out, v, "\\u%04x"); }

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk must not stop the replica; the line is lost
    done += static_cast<size_t>(n);
  }
}

absl::StatusOr<int> OpenLogFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open log file ", path, ": ",
                                               std::strerror(errno)));
  }
  return fd;
}

}  // namespace

LogLine::LogLine(LogLevel level, std::string_view component, std::string_view event)
    : enabled_(level >= g_min_level.load(std::memory_order_relaxed)), level_(level) {
  if (!enabled_) return;
  fields_.reserve(8);
  Add("component", component);
  Add("event", event);
}

LogLine& LogLine::AddField(std::string_view key, std::string value, bool quoted_in_json) {
  if (enabled_) fields_.push_back({std::string(key), std::move(value), quoted_in_json});
  return *this;
}

LogLine& LogLine::Add(std::string_view key, std::string_view value) {
  return enabled_ ? AddField(key, std::string(value), true) : *this;
}

LogLine& LogLine::Add(std::string_view key, uint64_t value) {
  return enabled_ ? AddField(key, std::to_string(value), false) : *this;
}

LogLine& LogLine::Add(std::string_view key, int64_t value) {
  return enabled_ ? AddField(key, std::to_string(value), false) : *this;
}

LogLine& LogLine::Add(std::string_view key, bool value) {
  return enabled_ ? AddField(key, value ? "true" : "false", false) : *this;
}

LogLine::~LogLine() {
  if (!enabled_) return;
  std::string line;
  line.reserve(192);
  if (g_format.load(std::memory_order_relaxed) == LogFormat::kJson) {
    line.append("{\"ts\":\"").append(Timestamp()).append("\",\"level\":\"");
    line.append(LevelName(level_)).push_back('"');
    for (const Field& f : fields_) {
      line.push_back(',');
      AppendJsonString(line, f.key);
      line.push_back(':');
      if (f.quoted_in_json) {
        AppendJsonString(line, f.value);
      } else {
        line.append(f.value);
      }
    }
    line.push_back('}');
  } else {
    line.append("ts=").append(Timestamp());
    line.append(" level=").append(LevelName(level_));
    for (const Field& f : fields_) {
      line.push_back(' ');
      line.append(f.key);
      line.push_back('=');
      AppendKvValue(line, f.value);
    }
  }
  Output& out = Out();
  std::lock_guard<std::mutex> lock(out.mu);
  if (out.sink) {
    out.sink(line);
    return;
  }
  line.push_back('\n');
  WriteAll(out.fd >= 0 ? out.fd : STDERR_FILENO, line);
}

void SetLogSink(std::function<void(const std::string&)> sink) {
  Output& out = Out();
  std::lock_guard<std::mutex> lock(out.mu);
  out.sink = std::move(sink);
}

void SetLogLevel(LogLevel min_level) { g_min_level.store(min_level); }
void SetLogFormat(LogFormat format) { g_format.store(format); }

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat("log level \"", std::string(name),
                                                 "\" is not one of debug, info, warn, error"));
}

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "kv") return LogFormat::kKeyValue;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("log format \"", std::string(name), "\" is not one of kv, json"));
}

absl::Status SetLogFile(const std::string& path) {
  int fd = -1;
  if (!path.empty()) {
    absl::StatusOr<int> opened = OpenLogFile(path);
    if (!opened.ok()) return opened.status();
    fd = *opened;
  }
  Output& out = Out();
  std::lock_guard<std::mutex> lock(out.mu);
  if (out.fd >= 0) ::close(out.fd);
  out.fd = fd;
  out.file_path = path;
  return absl::OkStatus();
}

absl::Status ReopenLogFile() {
  Output& out = Out();
  std::lock_guard<std::mutex> lock(out.mu);
  if (out.file_path.empty()) return absl::OkStatus();
  absl::StatusOr<int> opened = OpenLogFile(out.file_path);
  if (!opened.ok()) return opened.status();  // keep writing to the old file
  if (out.fd >= 0) ::close(out.fd);
  out.fd = *opened;
  return absl::OkStatus();
}

}  // namespace belfry
