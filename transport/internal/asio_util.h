// transport/internal/asio_util.h — small Asio helpers shared by the transport classes,
// each turning Asio's throwing or error_code reporting into a Status.
#ifndef BELFRY_TRANSPORT_INTERNAL_ASIO_UTIL_H_
#define BELFRY_TRANSPORT_INTERNAL_ASIO_UTIL_H_

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry::transport::internal {

using SslStream = asio::ssl::stream<asio::ip::tcp::socket>;

// A TLS stream over `socket`. SSL_new can fail (memory), which asio reports by throwing;
// this reports it as INTERNAL instead.
absl::StatusOr<std::unique_ptr<SslStream>> MakeStream(asio::ip::tcp::socket socket,
                                                      asio::ssl::context& tls);

// "ip:port" of the remote end, or "unknown".
std::string RemoteOf(const asio::ip::tcp::socket& socket);
// The remote IP alone, or "unknown".
std::string RemoteIpOf(const asio::ip::tcp::socket& socket);

// Opens, binds (SO_REUSEADDR) and listens on host:port (host must be an IP literal).
// Returns the bound port. INVALID_ARGUMENT for a bad host, UNAVAILABLE if binding fails.
absl::StatusOr<uint16_t> OpenListener(asio::ip::tcp::acceptor& acceptor, const std::string& host,
                                      uint16_t port);

// Runs `fn` on the thread that runs `io` and returns once it has run, for state owned by
// that thread which another thread must change now (a credential reload). The caller
// guarantees `io` still runs handlers (started and not past Stop's final poll).
inline void RunOnIoThreadAndWait(asio::io_context& io, std::function<void()> fn) {
  std::promise<void> done;
  std::future<void> ran = done.get_future();
  asio::post(io, [&fn, &done] {
    fn();
    done.set_value();
  });
  ran.wait();
}

inline void Bump(std::atomic<uint64_t>& c, uint64_t by = 1) {
  c.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace belfry::transport::internal

#endif  // BELFRY_TRANSPORT_INTERNAL_ASIO_UTIL_H_
