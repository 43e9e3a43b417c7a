// Fuzz target: metrics::ParseHttpRequestHead (metrics/http_server.h), which reads the
// request line and header fields any HTTP client sends: Prometheus scrapes, health
// checks, and time-stamp queries to the RFC 3161 gateway (tsa/).
//
// The input is what a client sends; the head is cut at the first CRLF CRLF as the server
// cuts it. Properties: nothing crashes; parsing is deterministic; an accepted head has a
// token method, HTTP/1.0 or HTTP/1.1, a path that is "*" or starts with "/" and holds no
// query, field names that are lower-case tokens and values without CR, LF or NUL, and
// at most one Content-Length; and it came from text without a bare CR or LF.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/http_server.h"
#include "test/fuzz/fixtures.h"

namespace {

using belfry::fuzz::Require;

bool LowerToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return false;
    }
  }
  return true;
}

void CheckAccepted(const belfry::metrics::HttpRequestHead& head, std::string_view text) {
  Require(!head.method.empty() && head.method.find_first_of(" \r\n") == std::string::npos,
          "the method is a token");
  Require(head.version == "HTTP/1.1" || head.version == "HTTP/1.0", "the version is HTTP/1.x");
  Require(head.path == "*" || (!head.path.empty() && head.path.front() == '/'),
          "the path is * or absolute");
  Require(head.path.find('?') == std::string::npos, "the path holds no query");
  size_t lengths = 0;
  for (const auto& [name, value] : head.fields) {
    Require(LowerToken(name), "field names are lower-case tokens");
    Require(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
            "field values hold no CR, LF or NUL");
    if (name == "content-length") ++lengths;
  }
  Require(lengths <= 1, "at most one Content-Length");
  size_t crlf = 0;
  size_t lone = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++crlf;
      ++i;
    } else if (text[i] == '\r' || text[i] == '\n') {
      ++lone;
    }
  }
  Require(lone == 0, "an accepted head has no bare CR or LF");
  Require(crlf == head.fields.size(), "one field per line after the request line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view text = input.substr(0, input.find("\r\n\r\n"));
  const auto first = belfry::metrics::ParseHttpRequestHead(text);
  const auto second = belfry::metrics::ParseHttpRequestHead(text);
  Require(first.ok() == second.ok(), "parsing is deterministic");
  if (first.ok()) {
    Require(first->method == second->method && first->path == second->path &&
                first->fields == second->fields,
            "parsing is deterministic");
    CheckAccepted(*first, text);
  }
  return 0;
}
