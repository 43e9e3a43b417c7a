#include "transport/asio_util.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"

namespace belfry::transport {

namespace {
constexpr int kListenBacklog = 128;
}  // namespace

absl::StatusOr<std::unique_ptr<SslStream>> MakeStream(asio::ip::tcp::socket socket,
                                                      asio::ssl::context& tls) {
  try {
    return std::make_unique<SslStream>(std::move(socket), tls);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot create a TLS stream: ", e.what()));
  }
}

std::string RemoteOf(const asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  const asio::ip::tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) {
    return "unknown";
  }
  return absl::StrCat(ep.address().to_string(), ":", ep.port());
}

std::string RemoteIpOf(const asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  const asio::ip::tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) {
    return "unknown";
  }
  return ep.address().to_string();
}

absl::StatusOr<uint16_t> OpenListener(asio::ip::tcp::acceptor& acceptor, const std::string& host,
                                      uint16_t port) {
  asio::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("listen address ", host,
                                                   " is not an IP address"));
  }
  const asio::ip::tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(kListenBacklog, ec);
  }
  asio::ip::tcp::endpoint bound;
  if (!ec) {
    bound = acceptor.local_endpoint(ec);
  }
  if (ec) {
    asio::error_code ignored;
    acceptor.close(ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", host, ":", port, ": ", ec.message()));
  }
  return bound.port();
}

}  // namespace belfry::transport
