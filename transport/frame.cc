#include "transport/frame.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace belfry::transport {

FrameHeader EncodeFrameHeader(uint32_t body_bytes) {
  return FrameHeader{static_cast<uint8_t>(body_bytes >> 24), static_cast<uint8_t>(body_bytes >> 16),
                     static_cast<uint8_t>(body_bytes >> 8), static_cast<uint8_t>(body_bytes)};
}

absl::StatusOr<uint32_t> DecodeFrameHeader(ByteSpan header, size_t frame_bytes_max) {
  if (header.size() != kFrameHeaderBytes) {
    return absl::InvalidArgumentError("a frame header is exactly 4 bytes");
  }
  ByteReader reader(header);
  absl::StatusOr<uint32_t> len = reader.ReadU32();
  if (!len.ok()) {
    return len.status();
  }
  if (*len > frame_bytes_max) {
    return absl::OutOfRangeError(absl::StrCat("frame of ", *len,
                                              " bytes exceeds frame_bytes_max of ",
                                              frame_bytes_max));
  }
  return *len;
}

absl::StatusOr<std::string> EncodeFrame(std::string_view body, size_t frame_bytes_max) {
  if (body.size() > frame_bytes_max || body.size() > UINT32_MAX) {
    return absl::OutOfRangeError(absl::StrCat("frame of ", body.size(),
                                              " bytes exceeds frame_bytes_max of ",
                                              frame_bytes_max));
  }
  const FrameHeader header = EncodeFrameHeader(static_cast<uint32_t>(body.size()));
  std::string out;
  out.reserve(kFrameHeaderBytes + body.size());
  out.append(reinterpret_cast<const char*>(header.data()), header.size());
  out.append(body);
  return out;
}

absl::StatusOr<std::optional<std::string>> FrameDecoder::Next(ByteSpan& input) {
  if (!failed_.ok()) {
    return failed_;
  }
  if (!body_len_.has_value()) {
    const size_t take = std::min(kFrameHeaderBytes - header_have_, input.size());
    std::copy_n(input.begin(), take, header_.begin() + static_cast<ptrdiff_t>(header_have_));
    header_have_ += take;
    input = input.subspan(take);
    if (header_have_ < kFrameHeaderBytes) {
      return std::optional<std::string>();
    }
    absl::StatusOr<uint32_t> len = DecodeFrameHeader(header_, frame_bytes_max_);
    if (!len.ok()) {
      failed_ = len.status();
      return failed_;
    }
    body_len_ = *len;
    body_.clear();
    body_.reserve(*len);  // Bounded by frame_bytes_max, checked just above.
  }
  const size_t take = std::min<size_t>(*body_len_ - body_.size(), input.size());
  body_.append(reinterpret_cast<const char*>(input.data()), take);
  input = input.subspan(take);
  if (body_.size() < *body_len_) {
    return std::optional<std::string>();
  }
  header_have_ = 0;
  body_len_.reset();
  return std::optional<std::string>(std::move(body_));
}

}  // namespace belfry::transport
