#include "tsa/tsa_server.h"

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "metrics/http_server.h"
#include "transport/asio_util.h"
#include "base/log.h"
#include "tsa/internal/stamp_workers.h"

namespace belfry::tsa {
namespace {

using metrics::HttpReply;
using metrics::HttpRequest;
using metrics::HttpRequestHead;
using metrics::HttpResponse;
using transport::Bump;

// Said to clients instead of a Stamper's error, whose text may name internals.
constexpr std::string_view kStampFailedText = "the time-stamp could not be made";
constexpr std::string_view kStampTimedOutText = "the time-stamp was not made in time";

HttpResponse Reply(std::string der) {
  return {.status = 200, .content_type = kReplyContentType, .body = std::move(der)};
}

HttpResponse Plain(int status, std::string body) {
  return {.status = status, .content_type = "text/plain; charset=utf-8", .body = std::move(body)};
}

std::string AsString(const Bytes& b) { return std::string(b.begin(), b.end()); }

// The media type of a Content-Type value without parameters, lower-cased.
std::string MediaType(std::string_view value) {
  std::string type(value.substr(0, value.find(';')));
  absl::AsciiStrToLower(&type);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  return type;
}

}  // namespace

class TsaServer::Impl {
 public:
  Impl(TsaServerConfig config, Stamper stamper, Bytes stamp_failed_der)
      : config_(std::move(config)), stamper_(std::move(stamper)),
        stamp_failed_der_(AsString(stamp_failed_der)), workers_(config_.concurrent_stamps_max) {}

  ~Impl() {
    Stop();
    workers_.Stop();
    workers_.Join();
  }

  absl::Status Listen(Bytes timed_out_der) {
    metrics::HttpServerConfig http;
    http.host = config_.host;
    http.port = config_.port;
    http.connections_max = config_.connections_max;
    http.request_bytes_max = config_.request_header_bytes_max;
    http.body_bytes_max = config_.query_bytes_max;
    http.request_timeout_ms = config_.request_timeout_ms;
    http.reply_timeout_ms = config_.stamp_timeout_ms;
    metrics::HttpService service;
    service.admit = [this](const HttpRequestHead& head) { return Admit(head); };
    service.handle = [this](HttpRequest request, HttpReply reply) {
      Handle(std::move(request), std::move(reply));
    };
    service.reply_timeout_response = Reply(AsString(timed_out_der));
    absl::StatusOr<std::unique_ptr<metrics::HttpServer>> http_server =
        metrics::HttpServer::Create(std::move(http), std::move(service));
    if (!http_server.ok()) return http_server.status();
    http_ = std::move(*http_server);
    return absl::OkStatus();
  }

  absl::Status Start() {
    workers_.Start();
    absl::Status started = http_->Start();
    if (started.ok()) {
      LogLine(LogLevel::kInfo, "tsa", "serving")
          .Add("host", config_.host)
          .Add("port", uint64_t{http_->port()})
          .Add("path", config_.path)
          .Add("concurrent_stamps_max", uint64_t{config_.concurrent_stamps_max});
    }
    return started;
  }

  void Stop() {
    if (http_ == nullptr || stopped_.exchange(true)) return;  // nullptr: Listen failed
    http_->Stop();
    workers_.Stop();
    LogLine(LogLevel::kInfo, "tsa", "stopped")
        .Add("granted", granted_.load())
        .Add("stamps_in_flight", uint64_t{workers_.in_flight()});
  }

  uint16_t port() const { return http_->port(); }

  TsaServerCounters counters() const {
    const metrics::HttpServerCounters http = http_->counters();
    return {.granted = granted_.load(),
            .refused = refused_.load(),
            .stamp_failures = stamp_failures_.load(),
            .stamp_timeouts = http.reply_timeouts,
            .busy = busy_.load(),
            .http_errors = http.bad_requests,
            .refused_connections = http.refused_capacity,
            .stamps_in_flight = workers_.in_flight()};
  }

 private:
  // The server thread, before the body: RFC 3161 §3.4 names the one method and type.
  std::optional<HttpResponse> Admit(const HttpRequestHead& head) const {
    if (head.path != config_.path) return Plain(404, "not found\n");
    if (head.method != "POST") {
      HttpResponse refusal = Plain(405, "POST a time-stamp query\n");
      refusal.headers.emplace_back("Allow", "POST");
      return refusal;
    }
    const std::optional<std::string_view> type = head.Field("content-type");
    if (!type.has_value() || MediaType(*type) != kQueryContentType) {
      return Plain(415, absl::StrCat("Content-Type must be ", kQueryContentType, "\n"));
    }
    return std::nullopt;
  }

  // The server thread, with the whole query: refusals are answered here, accepted
  // requests go to a stamp thread or get 503.
  void Handle(HttpRequest request, HttpReply reply) {
    evidence::TimeStampReqParse parse = evidence::ParseTimeStampReq(AsBytes(request.body));
    if (const auto* refusal = std::get_if<evidence::TimeStampRefusal>(&parse)) {
      Bump(refused_);
      LogLine(LogLevel::kDebug, "tsa", "refused")
          .Add("fail_info", evidence::FailureInfoName(refusal->fail_info))
          .Add("reason", refusal->reason);
      reply(Rejection(refusal->fail_info, refusal->reason));
      return;
    }
    auto job = [this, accepted = std::move(std::get<evidence::TimeStampRequest>(parse)),
                reply]() { reply(Stamp(accepted)); };
    if (!workers_.TrySubmit(std::move(job))) {
      Bump(busy_);
      HttpResponse busy = Plain(503, "every time-stamp slot is taken; try again\n");
      busy.headers.emplace_back("Retry-After", absl::StrCat(config_.retry_after_s));
      reply(std::move(busy));
    }
  }

  // A stamp thread.
  HttpResponse Stamp(const evidence::TimeStampRequest& request) {
    absl::StatusOr<Bytes> resp = stamper_(request);
    if (!resp.ok()) {
      Bump(stamp_failures_);
      LogLine(LogLevel::kWarn, "tsa", "stamp_failed")
          .Add("code", absl::StatusCodeToString(resp.status().code()))
          .Add("error", resp.status().message());
      return Reply(stamp_failed_der_);
    }
    // A DER SEQUENCE within bound: enough to hand on without parsing what the service
    // signed; clients verify the token themselves.
    if (resp->empty() || resp->size() > kTimeStampRespBytesMax || (*resp)[0] != 0x30) {
      Bump(stamp_failures_);
      LogLine(LogLevel::kWarn, "tsa", "stamp_failed")
          .Add("error", "the stamper's answer is no bounded DER SEQUENCE")
          .Add("bytes", uint64_t{resp->size()});
      return Reply(stamp_failed_der_);
    }
    Bump(granted_);
    return Reply(AsString(*resp));
  }

  HttpResponse Rejection(evidence::FailureInfo fail_info, std::string_view reason) const {
    absl::StatusOr<Bytes> der = evidence::RejectionTimeStampResp(fail_info, reason);
    if (!der.ok()) {
      // A reason the status string cannot carry; the failInfo alone still answers.
      der = evidence::RejectionTimeStampResp(fail_info, "");
    }
    if (!der.ok()) return Plain(500, "internal error\n");
    return Reply(AsString(*der));
  }

  const TsaServerConfig config_;
  const Stamper stamper_;
  const std::string stamp_failed_der_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> granted_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> stamp_failures_{0};
  std::atomic<uint64_t> busy_{0};
  internal::StampWorkers workers_;
  std::unique_ptr<metrics::HttpServer> http_;
};

TsaServer::TsaServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TsaServer::~TsaServer() = default;

absl::StatusOr<std::unique_ptr<TsaServer>> TsaServer::Create(TsaServerConfig config,
                                                             Stamper stamper) {
  if (!stamper) return absl::InvalidArgumentError("a time-stamp server needs a stamper");
  if (config.connections_max == 0 || config.concurrent_stamps_max == 0 ||
      config.request_header_bytes_max == 0 || config.query_bytes_max == 0 ||
      config.request_timeout_ms == 0 || config.stamp_timeout_ms == 0) {
    return absl::InvalidArgumentError("time-stamp server limits must be positive");
  }
  if (config.query_bytes_max > evidence::kTimeStampReqBytesMax) {
    return absl::InvalidArgumentError(absl::StrCat("query_bytes_max is above ",
                                                   evidence::kTimeStampReqBytesMax));
  }
  if (config.path.empty() || config.path.front() != '/' ||
      config.path.find_first_of("? \r\n") != std::string::npos) {
    return absl::InvalidArgumentError("the path must be \"/...\" without a query");
  }
  absl::StatusOr<Bytes> failed =
      evidence::RejectionTimeStampResp(evidence::FailureInfo::kSystemFailure, kStampFailedText);
  absl::StatusOr<Bytes> timed_out =
      evidence::RejectionTimeStampResp(evidence::FailureInfo::kSystemFailure, kStampTimedOutText);
  if (!failed.ok()) return failed.status();
  if (!timed_out.ok()) return timed_out.status();
  auto impl = std::make_unique<Impl>(std::move(config), std::move(stamper), *failed);
  absl::Status listening = impl->Listen(*timed_out);
  if (!listening.ok()) return listening;
  return std::unique_ptr<TsaServer>(new TsaServer(std::move(impl)));
}

uint16_t TsaServer::port() const { return impl_->port(); }
absl::Status TsaServer::Start() { return impl_->Start(); }
void TsaServer::Stop() { impl_->Stop(); }
TsaServerCounters TsaServer::counters() const { return impl_->counters(); }

}  // namespace belfry::tsa
