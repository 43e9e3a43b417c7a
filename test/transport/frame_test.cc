// Tests for transport/frame.h: the length cap comes before any allocation.
#include "transport/frame.h"

#include <string>

#include <catch2/catch.hpp>

namespace belfry::transport {
namespace {

TEST_CASE("frame headers round-trip and the cap is enforced on the header", "[transport]") {
  const FrameHeader h = EncodeFrameHeader(0x01020304);
  CHECK(h == FrameHeader{1, 2, 3, 4});
  CHECK(*DecodeFrameHeader(h, 0x01020304) == 0x01020304u);
  CHECK(DecodeFrameHeader(h, 0x01020303).status().code() == absl::StatusCode::kOutOfRange);
  CHECK(DecodeFrameHeader(ByteSpan(h.data(), 3), 100).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(EncodeFrame(std::string(11, 'a'), 10).status().code() == absl::StatusCode::kOutOfRange);
  absl::StatusOr<std::string> f = EncodeFrame("abc", 10);
  REQUIRE(f.ok());
  CHECK(*f == std::string("\0\0\0\3abc", 7));
}

TEST_CASE("FrameDecoder splits a stream delivered one byte at a time", "[transport]") {
  std::string stream = *EncodeFrame("hello", 100) + *EncodeFrame("", 100) + *EncodeFrame("w", 100);
  FrameDecoder decoder(100);
  std::vector<std::string> frames;
  for (char c : stream) {
    ByteSpan in = AsBytes(std::string_view(&c, 1));
    while (!in.empty()) {
      absl::StatusOr<std::optional<std::string>> next = decoder.Next(in);
      REQUIRE(next.ok());
      if (next->has_value()) {
        frames.push_back(**next);
      }
    }
  }
  CHECK(frames == std::vector<std::string>{"hello", "", "w"});
}

TEST_CASE("FrameDecoder fails on an oversized length and stays failed", "[transport]") {
  FrameDecoder decoder(4);
  const std::string bytes = std::string("\0\0\0\5", 4) + "12345";
  ByteSpan in = AsBytes(bytes);
  CHECK(decoder.Next(in).status().code() == absl::StatusCode::kOutOfRange);
  CHECK(in.size() == 5);  // the body was never consumed
  ByteSpan more = AsBytes(std::string_view("x"));
  CHECK_FALSE(decoder.Next(more).ok());
}

}  // namespace
}  // namespace belfry::transport
