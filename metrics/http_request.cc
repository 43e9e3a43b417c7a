// The request-head parser of http_server.h: the one place bytes from an HTTP client are
// read. Strict where leniency has been used to smuggle requests past proxies (RFC 9112
// §11.2): bare CR or LF, obs-fold, blanks before the colon and repeated length fields are
// all refused rather than guessed at.
#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "metrics/http_server.h"

namespace belfry::metrics {
namespace {

// tchar (RFC 9110 §5.6.2).
bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return kExtra.find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// field-value (RFC 9110 §5.5): VCHAR, obs-text, SP, HTAB.
bool IsFieldValue(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t') return false;
    if (u == 0x7f) return false;
  }
  return true;
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return absl::StartsWithIgnoreCase(absl::string_view(s.data(), s.size()),
                                    absl::string_view(prefix.data(), prefix.size()));
}

// The path of a request target (RFC 9112 §3.2), or nullopt for a form not taken.
std::optional<std::string> TargetPath(std::string_view target) {
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return std::nullopt;
  }
  if (target == "*") return std::string(target);
  if (target.front() != '/') {
    std::string_view rest;
    if (StartsWithNoCase(target, "http://")) {
      rest = target.substr(7);
    } else if (StartsWithNoCase(target, "https://")) {
      rest = target.substr(8);
    } else {
      return std::nullopt;
    }
    const size_t slash = rest.find_first_of("/?");
    if (slash == std::string_view::npos) return std::string("/");
    target = rest.substr(slash);
    if (target.front() == '?') return std::string("/");
  }
  return std::string(target.substr(0, target.find('?')));
}

// Fields whose repetition would make the request mean two things.
bool MustBeSingle(std::string_view name) {
  static constexpr std::array<std::string_view, 4> kSingle = {"content-length", "content-type",
                                                              "expect", "host"};
  for (std::string_view s : kSingle) {
    if (name == s) return true;
  }
  return false;
}

absl::Status ParseRequestLine(std::string_view line, HttpRequestHead& head) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError("the request line is not method, target and version");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return absl::InvalidArgumentError("the method is not a token");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return absl::InvalidArgumentError("not HTTP/1.0 or HTTP/1.1");
  }
  if (target.empty()) return absl::InvalidArgumentError("an empty request target");
  std::optional<std::string> path = TargetPath(target);
  if (!path.has_value()) return absl::InvalidArgumentError("a request target of no known form");
  head.method = std::string(method);
  head.path = std::move(*path);
  head.version = std::string(version);
  return absl::OkStatus();
}

absl::Status ParseFieldLine(std::string_view line, HttpRequestHead& head) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return absl::InvalidArgumentError("a field without ':'");
  const std::string_view name = line.substr(0, colon);
  // A blank before the colon or at the start (obs-fold) leaves a name that is no token.
  if (!IsToken(name)) return absl::InvalidArgumentError("a field name that is not a token");
  const std::string_view value = TrimBlanks(line.substr(colon + 1));
  if (!IsFieldValue(value)) return absl::InvalidArgumentError("a field value with controls");
  std::string lower(name);
  absl::AsciiStrToLower(&lower);
  if (MustBeSingle(lower) && head.Field(lower).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("a repeated ", lower, " field"));
  }
  head.fields.emplace_back(std::move(lower), std::string(value));
  return absl::OkStatus();
}

}  // namespace

std::optional<std::string_view> HttpRequestHead::Field(std::string_view lower_case_name) const {
  for (const auto& [name, value] : fields) {
    if (name == lower_case_name) return std::string_view(value);
  }
  return std::nullopt;
}

absl::StatusOr<HttpRequestHead> ParseHttpRequestHead(std::string_view text) {
  if (text.size() > kHttpRequestHeadBytesMax) {
    return absl::InvalidArgumentError("the request head is too long");
  }
  HttpRequestHead head;
  bool first = true;
  while (true) {
    const size_t end = text.find("\r\n");
    const std::string_view line = text.substr(0, end);
    // What is left in a line after splitting at CRLF is a bare CR or LF, or a NUL.
    if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      return absl::InvalidArgumentError("a bare CR, LF or NUL in the request head");
    }
    absl::Status parsed = first ? ParseRequestLine(line, head) : ParseFieldLine(line, head);
    if (!parsed.ok()) return parsed;
    first = false;
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 2);
  }
  return head;
}

}  // namespace belfry::metrics
