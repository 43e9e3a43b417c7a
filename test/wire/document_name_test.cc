// Document-name and user-id syntax (issue 4: "1..255 bytes of valid UTF-8, no '/', '\',
// NUL, control characters, and not '.' or '..'").
#include <catch2/catch.hpp>

#include <string>

#include "wire/document_name.h"

namespace belfry::wire {
namespace {

bool Valid(const std::string& name) { return ValidateDocumentName(name).ok(); }

TEST_CASE("names: ordinary names are accepted", "[names]") {
  CHECK(Valid("a"));
  CHECK(Valid("report 2024.pdf"));
  CHECK(Valid(".hidden"));
  CHECK(Valid("..."));
  CHECK(Valid("r\xc3\xa9sum\xc3\xa9"));          // é
  CHECK(Valid("\xe6\x96\x87\xe6\x9b\xb8"));      // CJK
  CHECK(Valid("\xf0\x9f\x94\x94 bell"));          // U+1F514
  CHECK(Valid(std::string(255, 'x')));
}

TEST_CASE("names: length is 1..255 bytes", "[names]") {
  CHECK_FALSE(Valid(""));
  CHECK_FALSE(Valid(std::string(256, 'x')));
  CHECK_FALSE(Valid(std::string(85, '\0') + "x"));
}

TEST_CASE("names: separators, NUL, controls and dot names are refused", "[names]") {
  CHECK_FALSE(Valid("."));
  CHECK_FALSE(Valid(".."));
  CHECK_FALSE(Valid("a/b"));
  CHECK_FALSE(Valid("/"));
  CHECK_FALSE(Valid("a\\b"));
  CHECK_FALSE(Valid(std::string("a\0b", 3)));
  for (int c = 1; c < 0x20; ++c) {
    CHECK_FALSE(Valid("a" + std::string(1, static_cast<char>(c))));
  }
  CHECK_FALSE(Valid("a\x7f"));
  CHECK_FALSE(Valid("a\xc2\x85"));        // U+0085 (C1 NEL)
  CHECK_FALSE(Valid("a\xe2\x80\xa8"));    // U+2028 line separator
  CHECK_FALSE(Valid("a\xe2\x80\xae" "fdp.exe"));  // U+202E right-to-left override
  CHECK_FALSE(Valid("a\xe2\x81\xa6"));    // U+2066 isolate
}

TEST_CASE("names: invalid UTF-8 is refused", "[names]") {
  CHECK_FALSE(Valid("\x80"));                  // lone continuation
  CHECK_FALSE(Valid("\xc3"));                  // truncated
  CHECK_FALSE(Valid("\xc0\xaf"));              // overlong '/'
  CHECK_FALSE(Valid("\xe0\x80\xaf"));          // overlong '/'
  CHECK_FALSE(Valid("\xed\xa0\x80"));          // surrogate U+D800
  CHECK_FALSE(Valid("\xf4\x90\x80\x80"));      // above U+10FFFF
  CHECK_FALSE(Valid("\xff"));
  CHECK_FALSE(Valid("ab\xe2\x82"));            // truncated at the end
}

TEST_CASE("names: the error says why", "[names]") {
  absl::Status s = ValidateDocumentName("a/b");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("U+002F") != std::string::npos);
}

TEST_CASE("user ids: same characters, at most 64 bytes, never ALL", "[names]") {
  CHECK(ValidateUserId("alice").ok());
  CHECK(ValidateUserId(std::string(64, 'u')).ok());
  CHECK_FALSE(ValidateUserId(std::string(65, 'u')).ok());
  CHECK_FALSE(ValidateUserId("").ok());
  CHECK_FALSE(ValidateUserId("ALL").ok());
  CHECK(ValidateUserId("all").ok());
  CHECK_FALSE(ValidateUserId("a/b").ok());
  CHECK_FALSE(ValidateUserId("..").ok());
}

}  // namespace
}  // namespace belfry::wire
