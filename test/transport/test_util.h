// test/transport/test_util.h — helpers for transport tests: credentials from a test CA,
// a bare TLS client whose every step is bounded in time, and running an outside command
// (openssl s_client) with a timeout.
#ifndef BELFRY_TEST_TRANSPORT_TEST_UTIL_H_
#define BELFRY_TEST_TRANSPORT_TEST_UTIL_H_

#include <openssl/ssl.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "base/files.h"
#include "test/pki/test_ca.h"
#include "transport/frame.h"
#include "transport/tls.h"

namespace belfry::testing {

using namespace std::chrono_literals;

// Credentials holding a certificate `trust_ca` did not necessarily issue: `issuer` issues,
// `trust_ca` is what the holder trusts.
inline transport::TlsCredentials CredentialsFrom(const TestCa& trust_ca, const TestCa& issuer,
                                                 const std::string& cn, pki::Role role) {
  pki::IssuedCertificate issued = issuer.Issue(cn, role);
  transport::TlsCredentials creds;
  creds.ca = std::make_shared<const pki::CaBundle>(trust_ca.Bundle());
  creds.cert_pem = issued.cert_pem;
  creds.key = std::make_shared<const pki::Ed25519PrivateKey>(std::move(issued.key));
  return creds;
}

inline transport::TlsCredentials CredentialsFor(const TestCa& ca, const std::string& cn,
                                                pki::Role role) {
  return CredentialsFrom(ca, ca, cn, role);
}

// Writes credentials as PEM files dir/NAME.{crt,key} and dir/ca.crt for outside tools.
struct CredentialFiles {
  std::string ca;
  std::string cert;
  std::string key;
};
inline CredentialFiles WriteCredentialFiles(const TempDir& dir, const TestCa& ca,
                                            const transport::TlsCredentials& creds,
                                            const std::string& name) {
  CredentialFiles f{dir.File("ca.crt"), dir.File(name + ".crt"), dir.File(name + ".key")};
  REQUIRE(WritePublicFile(f.ca, ca.cert_pem()).ok());
  REQUIRE(WritePublicFile(f.cert, creds.cert_pem).ok());
  absl::StatusOr<pki::SecretString> key = creds.key->ToPem();
  REQUIRE(key.ok());
  REQUIRE(WritePrivateFile(f.key, key->value()).ok());
  return f;
}

// RawTlsClient: a TLS client driven step by step from the test thread, for playing a
// misbehaving peer or client. Each step runs the private io_context for at most its
// timeout, so no test can hang on it.
class RawTlsClient {
 public:
  explicit RawTlsClient(std::shared_ptr<asio::ssl::context> ctx)
      : ctx_(std::move(ctx)), stream_(io_, *ctx_) {}

  // A client context with no certificate at all (trusting nothing, verifying nothing).
  static std::shared_ptr<asio::ssl::context> NoCertificateContext() {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx->native_handle(), SSL_VERIFY_NONE, nullptr);
    return ctx;
  }

  // TCP connect and TLS handshake. In TLS 1.3 the client finishes its handshake before
  // the server has judged the client certificate, so OK here does not mean accepted.
  asio::error_code Connect(uint16_t port, std::chrono::milliseconds timeout = 5s) {
    asio::error_code result = asio::error::timed_out;
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    stream_.lowest_layer().async_connect(ep, [&](const asio::error_code& ec) {
      if (ec) {
        result = ec;
        return;
      }
      stream_.async_handshake(asio::ssl::stream_base::client,
                              [&](const asio::error_code& ec2) { result = ec2; });
    });
    Run(timeout);
    return result;
  }

  asio::error_code Write(const std::string& bytes, std::chrono::milliseconds timeout = 5s) {
    asio::error_code result = asio::error::timed_out;
    asio::async_write(stream_, asio::buffer(bytes),
                      [&](const asio::error_code& ec, size_t) { result = ec; });
    Run(timeout);
    return result;
  }

  // Reads one frame body (at most frame_bytes_max); nullopt on error, close or timeout.
  std::optional<std::string> ReadFrame(std::chrono::milliseconds timeout = 5s,
                                       size_t frame_bytes_max = transport::kDefaultFrameBytesMax) {
    std::array<uint8_t, 4> header{};
    asio::error_code result = asio::error::timed_out;
    asio::async_read(stream_, asio::buffer(header),
                     [&](const asio::error_code& ec, size_t) { result = ec; });
    Run(timeout);
    if (result) {
      return std::nullopt;
    }
    absl::StatusOr<uint32_t> len = transport::DecodeFrameHeader(header, frame_bytes_max);
    if (!len.ok()) {
      return std::nullopt;
    }
    std::string body(*len, '\0');
    result = asio::error::timed_out;
    asio::async_read(stream_, asio::buffer(body),
                     [&](const asio::error_code& ec, size_t) { result = ec; });
    Run(timeout);
    if (result) {
      return std::nullopt;
    }
    return body;
  }

  // True if the server closes the connection (or fails it) within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout = 5s) {
    std::array<char, 256> buf{};
    bool closed = false;
    std::function<void()> read_more;
    read_more = [&] {
      stream_.async_read_some(asio::buffer(buf), [&](const asio::error_code& ec, size_t) {
        if (ec) {
          closed = true;
          return;
        }
        read_more();  // Discard anything sent before the close.
      });
    };
    read_more();
    Run(timeout);
    return closed;
  }

  asio::ssl::stream<asio::ip::tcp::socket>& stream() { return stream_; }

 private:
  void Run(std::chrono::milliseconds timeout) {
    io_.restart();
    io_.run_for(timeout);
    if (!io_.stopped()) {
      // Timed out with an operation pending: abort it so its handler (which refers to the
      // caller's locals) runs now, not later.
      asio::error_code ignored;
      stream_.lowest_layer().cancel(ignored);
      io_.restart();
      io_.run_for(1s);
    }
  }

  asio::io_context io_;
  std::shared_ptr<asio::ssl::context> ctx_;
  asio::ssl::stream<asio::ip::tcp::socket> stream_;
};

// RawTcpClient: a plain TCP connection that never starts TLS (a slow-loris client).
class RawTcpClient {
 public:
  RawTcpClient() : socket_(io_) {}

  bool Connect(uint16_t port) {
    asio::error_code ec;
    socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    return !ec;
  }

  // True if the server closes the connection within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    std::array<char, 64> buf{};
    bool closed = false;
    socket_.async_read_some(asio::buffer(buf),
                            [&](const asio::error_code& ec, size_t) { closed = !!ec; });
    io_.restart();
    io_.run_for(timeout);
    if (!io_.stopped()) {
      asio::error_code ignored;
      socket_.cancel(ignored);
      io_.restart();
      io_.run_for(1s);
      return false;
    }
    return closed;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

// Runs a shell command with stdin from /dev/null under `timeout SECONDS`; returns the exit
// status and everything it printed (stdout and stderr).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
inline CommandResult RunCommand(const std::string& command, int timeout_seconds = 10) {
  const std::string full = "timeout " + std::to_string(timeout_seconds) + " " + command +
                           " </dev/null 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(full.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    result.output.append(buf.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Polls `cond` every few milliseconds until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

}  // namespace belfry::testing

#endif  // BELFRY_TEST_TRANSPORT_TEST_UTIL_H_
