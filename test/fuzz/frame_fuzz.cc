// Fuzz target: transport/frame.h — frame headers and the streaming frame decoder, the
// first code that touches bytes from any peer or client connection.
//
// Input: one byte choosing frame_bytes_max (0..4080, so that the bound is hit often), one
// byte choosing how the stream is cut into reads, then the stream. Properties: an announced
// length above the bound is refused before any body byte is buffered; how the stream is
// cut does not change the frames; the frames re-encode to exactly the bytes consumed.
// Each frame body then goes to the peer link's parser (transport/link.h
// DecodeLinkMessage), which refuses only with INVALID_ARGUMENT, and a data message it
// accepts survives a round trip through the link encoding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "test/fuzz/fixtures.h"
#include "transport/frame.h"
#include "transport/link.h"

namespace {

using belfry::ByteSpan;
using belfry::fuzz::Require;
namespace transport = belfry::transport;

struct Decoded {
  std::vector<std::string> frames;
  bool failed = false;
};

// Feeds `stream` to a decoder in pieces of `step` bytes (or 1, 2, 3, ... when step is 0).
Decoded Decode(ByteSpan stream, size_t frame_bytes_max, size_t step) {
  Decoded out;
  transport::FrameDecoder decoder(frame_bytes_max);
  size_t pos = 0;
  size_t piece = 1;
  while (pos < stream.size() && !out.failed) {
    const size_t take = std::min(step == 0 ? piece++ : step, stream.size() - pos);
    ByteSpan input = stream.subspan(pos, take);
    pos += take;
    while (!input.empty()) {
      absl::StatusOr<std::optional<std::string>> next = decoder.Next(input);
      if (!next.ok()) {
        Require(next.status().code() == absl::StatusCode::kOutOfRange, "framing errors are OUT_OF_RANGE");
        // A failed decoder stays failed.
        ByteSpan more = stream.subspan(pos);
        Require(!decoder.Next(more).ok(), "a failed decoder stays failed");
        out.failed = true;
        break;
      }
      if (next->has_value()) {
        Require((*next)->size() <= frame_bytes_max, "frames respect frame_bytes_max");
        out.frames.push_back(std::move(**next));
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t frame_bytes_max = size_t{data[0]} * 16;
  const size_t step = data[1] % 8;
  const ByteSpan stream(data + 2, size - 2);

  absl::StatusOr<uint32_t> header = transport::DecodeFrameHeader(
      stream.first(std::min(stream.size(), transport::kFrameHeaderBytes + (data[1] >> 7))),
      frame_bytes_max);
  if (header.ok()) {
    Require(*header <= frame_bytes_max, "a decoded length respects the bound");
  }

  const Decoded whole = Decode(stream, frame_bytes_max, stream.size());
  const Decoded cut = Decode(stream, frame_bytes_max, step);
  Require(whole.frames == cut.frames && whole.failed == cut.failed,
          "how the stream is cut does not change the frames");

  std::string reencoded;
  for (const std::string& frame : whole.frames) {
    absl::StatusOr<std::string> f = transport::EncodeFrame(frame, frame_bytes_max);
    Require(f.ok(), "a decoded frame re-encodes");
    reencoded += *f;
  }
  Require(reencoded.size() <= stream.size() &&
              reencoded == belfry::AsStringView(stream.first(reencoded.size())),
          "frames re-encode to the bytes they came from");

  for (const std::string& body : whole.frames) {
    absl::StatusOr<transport::LinkFrame> msg = transport::DecodeLinkMessage(body);
    if (!msg.ok()) {
      Require(msg.status().code() == absl::StatusCode::kInvalidArgument,
              "link parse errors are INVALID_ARGUMENT");
      continue;
    }
    if (msg->kind != transport::LinkFrame::Kind::kData) continue;
    std::string again;
    transport::AppendDataFrame(msg->seq, msg->payload, again);
    absl::StatusOr<transport::LinkFrame> back = transport::DecodeLinkFrame(again, again.size());
    Require(back.ok() && back->kind == transport::LinkFrame::Kind::kData && back->seq == msg->seq &&
                back->payload == msg->payload,
            "a link data message survives a round trip");
  }
  return 0;
}
