// tsa/tsa_server.h — the untrusted HTTP gateway of the time-stamping service: RFC 3161
// over HTTP (RFC 3161 §3.4) for stock clients (`openssl ts -query` + `curl
// --data-binary`, or any RFC 3161 client).
//
// How it works. A client POSTs a DER TimeStampReq with Content-Type
// application/timestamp-query; the answer is a DER TimeStampResp with Content-Type
// application/timestamp-reply (§3.4). HTTP itself is metrics/http_server.h: one request
// per connection, every size and time bounded, network I/O on one thread. This class
// admits only POST to the configured path with that content type and a Content-Length
// within query_bytes_max (404, 405, 415, 411, 413 otherwise, before any body byte is
// read), parses the body with evidence::ParseTimeStampReq and answers:
//   - a body that is no TimeStampReq the service serves: 200 with a rejection
//     TimeStampResp carrying the parser's failInfo (badDataFormat, badAlg, ...);
//   - an accepted request: it goes to the Stamper on one of concurrent_stamps_max stamp
//     threads, and its answer (a granted TimeStampResp) is the body of the 200;
//     a Stamper error, or an answer that is not a bounded DER SEQUENCE, becomes a
//     rejection with systemFailure and a fixed statusString (never the error's text,
//     which stays in the log);
//   - a stamp not done within stamp_timeout_ms: a rejection with systemFailure; the
//     Stamper call goes on and keeps its stamp thread until it returns;
//   - all stamp threads busy: 503 with Retry-After. Nothing queues.
// The gateway holds no key and decides nothing: a Stamper (the client library's call
// through consensus, or a local signer in tests) makes the token.
#ifndef BELFRY_TSA_TSA_SERVER_H_
#define BELFRY_TSA_TSA_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "evidence/timestamp_request.h"
#include "evidence/timestamp_token.h"

namespace belfry::tsa {

// Stamper: the DER TimeStampResp (status granted) answering an accepted request, or an
// error. Called on the server's stamp threads, up to concurrent_stamps_max at once, so
// it must be thread-safe; it may block (consensus). It must not throw.
using Stamper = std::function<absl::StatusOr<Bytes>(const evidence::TimeStampRequest&)>;

// The largest TimeStampResp passed on from a Stamper: a token of the largest size
// GrantedTimeStampResp wraps, and room for the status around it.
inline constexpr size_t kTimeStampRespBytesMax = evidence::kTimeStampTokenBytesMax + 1024;

inline constexpr char kQueryContentType[] = "application/timestamp-query";
inline constexpr char kReplyContentType[] = "application/timestamp-reply";

struct TsaServerConfig {
  std::string host = "127.0.0.1";  // an IP literal
  uint16_t port = 0;               // 0: an ephemeral port (read it with port())
  size_t connections_max = 64;     // open at once; more are closed at accept
  // Stamper calls at once, timed-out ones included; a request beyond them gets 503.
  size_t concurrent_stamps_max = 8;
  size_t request_header_bytes_max = 8192;  // request line + header fields
  size_t query_bytes_max = evidence::kTimeStampReqBytesMax;  // the body; at most that too
  uint32_t request_timeout_ms = 10'000;  // from accept to the whole request; again to write
  uint32_t stamp_timeout_ms = 30'000;    // from the whole request to the Stamper's answer
  uint32_t retry_after_s = 1;            // Retry-After of a 503
  std::string path = "/";                // the one path served
};

// Counters since Create. A Stamper answer that came after its timeout counts as granted
// (or failed) and as a timeout: the client got the timeout's rejection.
struct TsaServerCounters {
  uint64_t granted = 0;          // Stamper answers passed on
  uint64_t refused = 0;          // rejections of queries the parser refused
  uint64_t stamp_failures = 0;   // Stamper errors and unusable answers (systemFailure)
  uint64_t stamp_timeouts = 0;   // systemFailure sent at stamp_timeout_ms
  uint64_t busy = 0;             // 503: every stamp thread taken
  uint64_t http_errors = 0;      // malformed, refused or timed-out HTTP requests
  uint64_t refused_connections = 0;  // closed at accept: connections_max open
  uint64_t stamps_in_flight = 0;     // Stamper calls running now
};

// TsaServer: the gateway. Create, Start, Stop and counters() may be called from any
// thread (not from the Stamper).
class TsaServer {
 public:
  // Binds and listens; serving starts with Start. INVALID_ARGUMENT for a missing
  // stamper, a zero limit, query_bytes_max above evidence::kTimeStampReqBytesMax, or a
  // path that is not "/..."; UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<TsaServer>> Create(TsaServerConfig config,
                                                           Stamper stamper);
  // Stop()s, then waits for Stamper calls still running to return, so whatever the
  // Stamper uses may be destroyed once the server is.
  ~TsaServer();
  TsaServer(const TsaServer&) = delete;
  TsaServer& operator=(const TsaServer&) = delete;

  uint16_t port() const;
  absl::Status Start();
  // Idempotent and prompt: closes the listener and every connection (unanswered), and
  // drops the answers of Stamper calls in flight without waiting for them.
  void Stop();
  TsaServerCounters counters() const;

  class Impl;

 private:
  explicit TsaServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace belfry::tsa

#endif  // BELFRY_TSA_TSA_SERVER_H_
