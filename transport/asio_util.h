// transport/asio_util.h — small Asio helpers shared by the transport classes,
// each turning Asio's throwing or error_code reporting into a Status.
#ifndef BELFRY_TRANSPORT_ASIO_UTIL_H_
#define BELFRY_TRANSPORT_ASIO_UTIL_H_

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry::transport {

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

// Runs `fn` where state owned by the I/O thread of `io` may be changed (a credential
// reload): directly while that thread has not started, else on it, returning once it has
// run. `lifecycle_mu` guards `started` and `stopped`, and is held throughout, so Stop
// cannot finish its final poll before `fn` ran. FAILED_PRECONDITION after Stop.
inline absl::Status RunOnIoThread(std::mutex& lifecycle_mu, const bool& started, const bool& stopped,
                                  asio::io_context& io, const std::function<void()>& fn) {
  std::lock_guard<std::mutex> lock(lifecycle_mu);
  if (stopped) return absl::FailedPreconditionError("the I/O thread has stopped");
  if (!started) {
    fn();
    return absl::OkStatus();
  }
  std::promise<void> done;
  std::future<void> ran = done.get_future();
  asio::post(io, [&fn, &done] {
    fn();
    done.set_value();
  });
  ran.wait();
  return absl::OkStatus();
}

inline void Bump(std::atomic<uint64_t>& c, uint64_t by = 1) {
  c.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace belfry::transport

#endif  // BELFRY_TRANSPORT_ASIO_UTIL_H_
