// transport/internal/frame_io.h — reading one length-prefixed frame from an Asio stream.
//
// Header first (4 bytes), the length checked against frame_bytes_max, and only then is
// the body buffer sized and read: an oversized announcement never allocates.
#ifndef BELFRY_TRANSPORT_INTERNAL_FRAME_IO_H_
#define BELFRY_TRANSPORT_INTERNAL_FRAME_IO_H_

#include <asio.hpp>
#include <cstddef>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "transport/frame.h"

namespace belfry::transport::internal {

// Reads one frame into `body`. `stream`, `header` and `body` must stay alive until the
// handler runs (the caller's handler keeps their owner alive). The handler is called as
// handler(asio::error_code io_error, absl::Status framing_error): an I/O error, or an
// oversized length (with io_error clear), or success (both clear, `body` holds the frame).
template <typename Stream, typename Handler>
void AsyncReadFrame(Stream& stream, FrameHeader& header, std::string& body,
                    size_t frame_bytes_max, Handler handler) {
  asio::async_read(
      stream, asio::buffer(header),
      [&stream, &header, &body, frame_bytes_max, handler = std::move(handler)](
          const asio::error_code& ec, size_t /*bytes*/) mutable {
        if (ec) {
          handler(ec, absl::OkStatus());
          return;
        }
        absl::StatusOr<uint32_t> len = DecodeFrameHeader(header, frame_bytes_max);
        if (!len.ok()) {
          handler(asio::error_code(), len.status());
          return;
        }
        body.resize(*len);
        asio::async_read(stream, asio::buffer(body),
                         [handler = std::move(handler)](const asio::error_code& ec2,
                                                        size_t /*bytes*/) mutable {
                           handler(ec2, absl::OkStatus());
                         });
      });
}

// Appends the frame header for `body_bytes` to `out`.
inline void AppendFrameHeader(std::string& out, uint32_t body_bytes) {
  const FrameHeader h = EncodeFrameHeader(body_bytes);
  out.append(reinterpret_cast<const char*>(h.data()), h.size());
}

}  // namespace belfry::transport::internal

#endif  // BELFRY_TRANSPORT_INTERNAL_FRAME_IO_H_
