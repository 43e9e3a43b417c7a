#include "base/log.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace belfry::transport {
namespace {

// Captures lines for the test's duration and restores the defaults afterwards.
struct Captured {
  Captured() {
    SetLogSink([this](const std::string& line) { lines.push_back(line); });
  }
  ~Captured() {
    SetLogSink(nullptr);
    SetLogLevel(LogLevel::kInfo);
    SetLogFormat(LogFormat::kKeyValue);
  }
  std::vector<std::string> lines;
};

std::string WithoutTimestamp(const std::string& line) {
  // kv: "ts=... level=..." ; json: {"ts":"...","level":...
  const size_t level = line.find("level");
  return line.substr(level);
}

TEST_CASE("log: key=value lines quote hostile values") {
  Captured c;
  LogLine(LogLevel::kWarn, "peer_net", "refused").Add("peer", "a b\"c\nevent=forged").Add("n", 3);
  REQUIRE(c.lines.size() == 1);
  CHECK(c.lines[0].rfind("ts=", 0) == 0);
  CHECK(WithoutTimestamp(c.lines[0]) ==
        "level=warn component=peer_net event=refused peer=\"a b\\\"c\\x0aevent=forged\" n=3");
}

TEST_CASE("log: JSON lines are one object with typed values") {
  Captured c;
  SetLogFormat(LogFormat::kJson);
  LogLine(LogLevel::kError, "replica", "exit").Add("reason", "bad \"x\"\n").Add("epoch", uint64_t{7}).Add("ok", false);
  REQUIRE(c.lines.size() == 1);
  CHECK(c.lines[0].rfind("{\"ts\":\"", 0) == 0);
  CHECK(WithoutTimestamp(c.lines[0]) ==
        "level\":\"error\",\"component\":\"replica\",\"event\":\"exit\",\"reason\":\"bad "
        "\\\"x\\\"\\u000a\",\"epoch\":7,\"ok\":false}");
}

TEST_CASE("log: lines below the minimum level are dropped") {
  Captured c;
  LogLine(LogLevel::kDebug, "x", "hidden");
  SetLogLevel(LogLevel::kWarn);
  LogLine(LogLevel::kInfo, "x", "hidden");
  LogLine(LogLevel::kWarn, "x", "shown");
  SetLogLevel(LogLevel::kDebug);
  LogLine(LogLevel::kDebug, "x", "shown");
  REQUIRE(c.lines.size() == 2);
  CHECK(c.lines[0].find("level=warn") != std::string::npos);
  CHECK(c.lines[1].find("level=debug") != std::string::npos);
}

TEST_CASE("log: level and format names") {
  CHECK(*ParseLogLevel("debug") == LogLevel::kDebug);
  CHECK(*ParseLogLevel("error") == LogLevel::kError);
  CHECK(ParseLogLevel("loud").status().message() ==
        "log level \"loud\" is not one of debug, info, warn, error");
  CHECK(*ParseLogFormat("json") == LogFormat::kJson);
  CHECK(ParseLogFormat("xml").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("log: a log file is reopened by name after rotation") {
  char dir[] = "/tmp/belfry-logtest.XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/replica.log";
  REQUIRE(SetLogFile(path).ok());
  LogLine(LogLevel::kInfo, "x", "before");
  REQUIRE(std::rename(path.c_str(), (path + ".1").c_str()) == 0);
  LogLine(LogLevel::kInfo, "x", "still_old");  // the open descriptor follows the rename
  REQUIRE(ReopenLogFile().ok());
  LogLine(LogLevel::kInfo, "x", "after");
  REQUIRE(SetLogFile("").ok());
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const std::string old_file = read(path + ".1");
  const std::string new_file = read(path);
  CHECK(old_file.find("event=before") != std::string::npos);
  CHECK(old_file.find("event=still_old") != std::string::npos);
  CHECK(new_file.find("event=after") != std::string::npos);
  CHECK(new_file.find("event=before") == std::string::npos);
  CHECK(SetLogFile(std::string(dir) + "/no/such/dir/x.log").code() == absl::StatusCode::kUnavailable);
  std::remove(path.c_str());
  std::remove((path + ".1").c_str());
  ::rmdir(dir);
}

}  // namespace
}  // namespace belfry::transport
