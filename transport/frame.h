// transport/frame.h — length-prefixed frames on a byte stream.
//
// A frame is a 4-byte big-endian body length followed by that many body bytes. The
// receiver knows the largest frame it accepts (frame_bytes_max, a config value) and checks
// the announced length against it before it allocates or reads a single body byte, so a
// peer cannot make it reserve memory by lying about a length. Protobuf would otherwise
// accept bodies up to 2 GiB; the cap comes first.
#ifndef BELFRY_TRANSPORT_FRAME_H_
#define BELFRY_TRANSPORT_FRAME_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace belfry::transport {

inline constexpr size_t kFrameHeaderBytes = 4;
// The transport's own default frame_bytes_max, for a caller that sets none: room for a
// maximal 8 MiB document plus its envelope. Replicas and clients pass cluster.conf's
// frame_bytes_max instead (config::Limits, 24 MiB by default).
inline constexpr size_t kDefaultFrameBytesMax = size_t{16} << 20;
// The largest frame_bytes_max a config may set (the length field is 32 bits; this keeps
// well clear of protobuf's 2 GiB ceiling).
inline constexpr size_t kFrameBytesMaxLimit = size_t{1} << 30;

using FrameHeader = std::array<uint8_t, kFrameHeaderBytes>;

// The header announcing a body of `body_bytes`.
FrameHeader EncodeFrameHeader(uint32_t body_bytes);

// The body length a header announces. OUT_OF_RANGE if it exceeds frame_bytes_max (the
// connection must then be closed: the stream cannot be resynchronized), INVALID_ARGUMENT
// if `header` is not exactly 4 bytes.
absl::StatusOr<uint32_t> DecodeFrameHeader(ByteSpan header, size_t frame_bytes_max);

// Header + body as one string. OUT_OF_RANGE if the body exceeds frame_bytes_max.
absl::StatusOr<std::string> EncodeFrame(std::string_view body, size_t frame_bytes_max);

// FrameDecoder: splits a byte stream that arrives in arbitrary pieces into frames. Holds
// at most one header plus one body of at most frame_bytes_max. After an error it stays
// failed (a framing error cannot be recovered from). Not thread-safe.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t frame_bytes_max) : frame_bytes_max_(frame_bytes_max) {}

  // Consumes bytes from `input` (advancing it) until one frame is complete, and returns
  // it; returns nullopt when `input` is used up first. OUT_OF_RANGE for an oversized
  // announced length.
  absl::StatusOr<std::optional<std::string>> Next(ByteSpan& input);

 private:
  size_t frame_bytes_max_;
  FrameHeader header_{};
  size_t header_have_ = 0;
  std::optional<uint32_t> body_len_;
  std::string body_;
  absl::Status failed_;
};

}  // namespace belfry::transport

#endif  // BELFRY_TRANSPORT_FRAME_H_
