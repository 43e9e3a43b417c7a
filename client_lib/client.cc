#include "client_lib/client.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/bytes.h"
#include "base/check.h"
#include "base/files.h"
#include "base/rng.h"
#include "base/sha256.h"
#include "base/status.h"
#include "client_lib/internal/errors.h"
#include "client_lib/internal/pending_call.h"
#include "client_lib/internal/replica_link.h"
#include "client_lib/internal/requests.h"
#include "config/cluster_config.h"
#include "config/threshold_keys.h"
#include "pki/certificate.h"
#include "pki/issuer.h"
#include "transport/client_connection.h"
#include "base/log.h"
#include "transport/tls.h"
#include "wire/document_name.h"
#include "wire/request_format.h"
#include "wire/statements.h"

namespace belfry {

using client::internal::BuiltRequest;
using client::internal::MakeError;
using client::internal::PendingCall;
using client::internal::ReplicaLink;
using client::internal::ServiceError;
using client::internal::SessionKey;

// ---- SessionCredentials ----

SessionCredentials::SessionCredentials(std::string uid, const std::array<uint8_t, 32>& seed,
                                       int64_t expires_ms)
    : uid_(std::move(uid)), seed_(seed), expires_ms_(expires_ms) {}

SessionCredentials::SessionCredentials(SessionCredentials&& other) noexcept
    : uid_(std::move(other.uid_)), seed_(other.seed_), expires_ms_(other.expires_ms_) {
  SecureWipe(other.seed_.data(), other.seed_.size());
}

SessionCredentials& SessionCredentials::operator=(SessionCredentials&& other) noexcept {
  if (this != &other) {
    uid_ = std::move(other.uid_);
    seed_ = other.seed_;
    expires_ms_ = other.expires_ms_;
    SecureWipe(other.seed_.data(), other.seed_.size());
  }
  return *this;
}

SessionCredentials::~SessionCredentials() { SecureWipe(seed_.data(), seed_.size()); }

// ---- Client::Impl ----

namespace {

// The retransmission interval stops doubling here: a request still unanswered after
// this long is usually waiting for a replica to come back, not for congestion to clear.
constexpr std::chrono::milliseconds kRetransmitMax{8000};
// Requests up to this size are retransmitted on every round; larger ones only where a
// replica dropped them (see Impl::Retransmit).
constexpr size_t kRetransmitAlwaysBytesMax = 64 * 1024;
// How often a status query is repeated to replicas that have not answered.
constexpr std::chrono::milliseconds kStatusRepeat{500};
// A retransmitted checkout whose original result can no longer be rebuilt is sent again
// as a new request this many times.
constexpr int kResultUnavailableRetries = 3;

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string JoinIds(const std::vector<uint32_t>& ids) { return absl::StrJoin(ids, ", "); }

std::array<uint8_t, 32> DigestArray(const std::string& bytes) {
  std::array<uint8_t, 32> out{};
  if (bytes.size() == out.size()) std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

// What a call needs beyond 2f+1 matching replies before it can finish: for a checkout,
// enough valid decryption shares or integrity signatures among the agreeing replicas.
using AttachmentsEnough =
    std::function<bool(const pb::Result&, const std::map<uint32_t, pb::ReplyAttachments>&)>;

// CallResult: the accepted reply of one request.
struct CallResult {
  pb::ReplyBody body;
  pb::Result result;
  std::map<uint32_t, pb::ReplyAttachments> agreeing;
  ReplicaReport report;
  // A login found stale: whether any replica validly signed its success in another
  // ordering, and the expiry it reported (a claim by possibly one replica).
  std::optional<int64_t> login_success_claim_expires_ms;
};

// A refused result as an error, with the disagreeing replicas named (defined below).
absl::Status ResultError(const CallResult& call);

// The sequence number a session's first operation uses, and the first after a login
// that had to be confirmed by a probe (which used the first).
constexpr uint64_t kFirstSeq = 1;

// The session the client signs operations with. Shared (by shared_ptr) with the
// operations in flight, so a new login or a logout never frees a key in use.
struct ActiveSession {
  SessionKey key;
  std::string uid;
  int64_t expires_ms = 0;
  SequenceSource sequence;
};

}  // namespace

class Client::Impl final : public client::internal::LinkListener {
 public:
  Impl(ClientOptions options, config::ClusterConfig config, transport::TlsCredentials credentials,
       std::string cert_der, std::optional<threshold::PublicKeySet> encryption_keys)
      : options_(std::move(options)),
        config_(std::move(config)),
        credentials_(std::move(credentials)),
        cert_der_(std::move(cert_der)),
        encryption_keys_(std::move(encryption_keys)),
        service_(client::internal::LoadServiceKey(config_)) {
    const uint32_t window = std::min(config_.limits.session_window_requests,
                                     config_.limits.pending_requests_per_client_max);
    in_flight_max_ = std::max<uint32_t>(1, window / 2);
  }

  ~Impl() override {
    for (auto& link : links_) link->Stop();
  }

  void StartLinks() {
    for (uint32_t i = 0; i < config_.n(); ++i) {
      const pb::ReplicaEndpoint& endpoint = config_.proto.replicas(static_cast<int>(i));
      transport::ClientConnectionConfig c;
      c.host = endpoint.host();
      c.port = static_cast<uint16_t>(endpoint.client_port());
      c.credentials = credentials_;
      c.expected_server_name = transport::ReplicaName(i);
      c.frame_bytes_max = config_.limits.frame_bytes_max;
      c.connect_timeout_ms = static_cast<uint32_t>(options_.connect_timeout.count());
      links_.push_back(std::make_unique<ReplicaLink>(i, std::move(c), this));
    }
    for (auto& link : links_) link->Start();
  }

  // ---- LinkListener ----

  void OnLinkUp(uint32_t replica) override {
    // Whatever is unanswered goes to the new connection: the old one took its replies
    // with it.
    std::vector<std::shared_ptr<PendingCall>> calls;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, call] : pending_) calls.push_back(call);
    }
    for (const auto& call : calls) links_[replica]->Send(call->frame());
  }

  void OnLinkFrame(uint32_t replica, std::string bytes) override {
    pb::ClientFrame frame;
    if (!frame.ParseFromString(bytes)) return;  // nothing to attribute it to a request
    switch (frame.kind_case()) {
      case pb::ClientFrame::kReply: {
        pb::ReplyBody body;
        if (!body.ParseFromString(frame.reply().body())) return;
        if (std::shared_ptr<PendingCall> call = Find(body.request_id())) {
          call->OnReply(replica, frame.reply());
        }
        return;
      }
      case pb::ClientFrame::kRejection:
        if (std::shared_ptr<PendingCall> call = Find(frame.rejection().request_id())) {
          call->OnRejection(replica, frame.rejection());
        }
        return;
      case pb::ClientFrame::kStatus:
        OnStatus(replica, frame.status());
        return;
      default:
        return;
    }
  }

  // ---- calls ----

  // Sends `request` to every replica and waits for its answer (see client.h).
  absl::StatusOr<CallResult> Call(BuiltRequest request, const AttachmentsEnough& enough,
                                  bool login = false) {
    if (request.bytes.size() > config_.limits.request_bytes_max ||
        request.bytes.size() + 64 > config_.limits.frame_bytes_max) {
      return MakeError(ErrorKind::kInvalidInput,
                       absl::StrCat("the request is ", request.bytes.size(),
                                    " bytes; the cluster accepts at most ",
                                    config_.limits.request_bytes_max));
    }
    auto call = std::make_shared<PendingCall>(config_, std::move(request));
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_[call->id_bytes()] = call;
    }
    absl::StatusOr<CallResult> out = Await(*call, enough, login);
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.erase(call->id_bytes());
    }
    return out;
  }

  // ---- sessions ----

  absl::StatusOr<std::shared_ptr<ActiveSession>> CurrentSession() const {
    std::lock_guard<std::mutex> lock(session_mu_);
    if (session_ == nullptr) return MakeError(ErrorKind::kNotLoggedIn, "not logged in");
    return session_;
  }

  void SetSession(std::shared_ptr<ActiveSession> session) {
    std::lock_guard<std::mutex> lock(session_mu_);
    session_ = std::move(session);
  }

  void ForgetSession(const std::shared_ptr<ActiveSession>& session) {
    std::lock_guard<std::mutex> lock(session_mu_);
    if (session_ == session) session_.reset();
  }

  // Builds and runs one session operation, holding an in-flight slot while it waits.
  absl::StatusOr<CallResult> RunOp(const pb::SessionOp& op, const AttachmentsEnough& enough,
                                   std::shared_ptr<ActiveSession>* used = nullptr) {
    BELFRY_ASSIGN_OR_RETURN(std::shared_ptr<ActiveSession> session, CurrentSession());
    if (used != nullptr) *used = session;
    InFlightSlot slot(this);
    absl::StatusOr<uint64_t> seq = session->sequence();
    if (!seq.ok()) {
      return client::internal::WithKind(
          absl::Status(seq.status().code(),
                       absl::StrCat("no sequence number for the request: ",
                                    seq.status().message())),
          ErrorKind::kOther);
    }
    return Call(client::internal::BuildSessionOp(config_.cluster_id(), session->key, *seq, op),
                enough);
  }

  // Whether `key` names a live session at the cluster: a checkout of an unused random
  // name under it is refused for the document (NO_SUCH_DOCUMENT) when the session exists,
  // and for the session (SESSION_UNKNOWN) when it does not. Uses seq kFirstSeq.
  absl::StatusOr<bool> ProbeSession(const SessionKey& key) {
    CryptoRng rng;
    std::array<uint8_t, 16> nonce{};
    rng.Fill(nonce);
    pb::SessionOp op;
    op.mutable_check_out()->set_doc(absl::StrCat("belfry-login-check-", ToHex(nonce)));
    // The name is unused, so no share is ever sealed to this key; it is only required.
    op.mutable_check_out()->set_reply_public_key(
        threshold::ShareRecipientKey::Generate().public_key_string());
    BELFRY_ASSIGN_OR_RETURN(
        CallResult probe,
        Call(client::internal::BuildSessionOp(config_.cluster_id(), key, kFirstSeq, op),
             nullptr));
    const pb::Status status = probe.result.status();
    return status == pb::STATUS_OK || status == pb::STATUS_NO_SUCH_DOCUMENT ||
           status == pb::STATUS_ACCESS_DENIED;
  }

  // ---- status ----

  std::vector<ReplicaState> QueryStatus(std::chrono::milliseconds timeout) {
    std::lock_guard<std::mutex> query_lock(status_query_mu_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // A fresh nonce per query: a status answers this query only (a recorded one replayed
    // by a man in the middle of a broken link, or by a faulty relay, does not verify).
    std::string nonce(wire::kStatusNonceBytesMin, '\0');
    CryptoRng().Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(nonce.data()), nonce.size()));
    pb::ClientFrame query;
    query.set_status_query(nonce);
    const std::string frame = query.SerializeAsString();
    {
      std::lock_guard<std::mutex> lock(status_mu_);
      statuses_.clear();
      status_faults_.clear();
      status_nonce_ = nonce;
    }
    std::map<uint32_t, std::chrono::steady_clock::time_point> last_sent;
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      std::set<uint32_t> answered;
      {
        std::lock_guard<std::mutex> lock(status_mu_);
        for (const auto& [replica, status] : statuses_) answered.insert(replica);
      }
      if (answered.size() == links_.size() || now >= deadline) break;
      for (auto& link : links_) {
        if (answered.count(link->replica()) != 0) continue;
        auto sent = last_sent.find(link->replica());
        if (sent != last_sent.end() && now - sent->second < kStatusRepeat) continue;
        if (link->Send(frame)) last_sent[link->replica()] = now;
      }
      std::unique_lock<std::mutex> lock(status_mu_);
      status_cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
    }
    std::vector<ReplicaState> out;
    std::lock_guard<std::mutex> lock(status_mu_);
    for (auto& link : links_) {
      ReplicaState state;
      state.replica = link->replica();
      state.address = link->address();
      auto it = statuses_.find(link->replica());
      if (it != statuses_.end()) {
        state.reachable = true;
        state.next_epoch = it->second.last_epoch();
        state.consensus_time_ms = it->second.consensus_time_ms();
        state.checkpoint_epoch = it->second.checkpoint_epoch();
        state.faults_seen = it->second.faults_seen();
      } else {
        auto fault = status_faults_.find(link->replica());
        if (fault != status_faults_.end()) {
          state.error = fault->second;
        } else if (!link->connected()) {
          const std::string why = link->last_error();
          state.error = why.empty() ? "not connected" : absl::StrCat("not connected: ", why);
        } else {
          state.error = "no answer in time";
        }
      }
      out.push_back(std::move(state));
    }
    return out;
  }

  const ClientOptions& options() const { return options_; }
  const config::ClusterConfig& config() const { return config_; }
  const transport::TlsCredentials& credentials() const { return credentials_; }
  const std::string& cert_der() const { return cert_der_; }
  // The TDH2 key set: cluster.conf's, or, when the replicas generate it, the one 2f+1 of
  // them answer a KeysQuery with (asked once, then kept). nullopt while the generation
  // runs: then no confidential document exists yet either.
  absl::StatusOr<std::optional<threshold::PublicKeySet>> EncryptionKeys() {
    {
      std::lock_guard<std::mutex> lock(keys_mu_);
      if (encryption_keys_.has_value() || !config_.proto.distributed_encryption_key()) {
        return encryption_keys_;
      }
    }
    pb::SessionOp op;
    op.mutable_keys();
    BELFRY_ASSIGN_OR_RETURN(CallResult call, RunOp(op, nullptr));
    if (call.result.status() == pb::STATUS_KEYS_NOT_READY) {
      return std::optional<threshold::PublicKeySet>();
    }
    if (call.result.status() != pb::STATUS_OK) return ResultError(call);
    absl::StatusOr<threshold::PublicKeySet> keys =
        threshold::PublicKeySet::Parse(AsBytes(call.result.keys().encryption_keys()));
    if (!keys.ok() || keys->n() != config_.n() || keys->f() != config_.f()) {
      return MakeError(ErrorKind::kOther,
                       "the cluster's generated encryption key set does not fit this cluster");
    }
    std::lock_guard<std::mutex> lock(keys_mu_);
    encryption_keys_ = *std::move(keys);
    return encryption_keys_;
  }
  // Only integrity checkouts need it: a cluster.conf without one still serves the rest.
  const absl::StatusOr<client::internal::ServiceKey>& service() const { return service_; }
  uint32_t in_flight_max() const { return in_flight_max_; }

 private:
  // InFlightSlot: one of in_flight_max_ permits for session operations, held while the
  // operation waits for its answer.
  class InFlightSlot {
   public:
    explicit InFlightSlot(Impl* impl) : impl_(impl) {
      std::unique_lock<std::mutex> lock(impl_->slots_mu_);
      impl_->slots_cv_.wait(lock, [this] { return impl_->in_flight_ < impl_->in_flight_max_; });
      ++impl_->in_flight_;
    }
    ~InFlightSlot() {
      {
        std::lock_guard<std::mutex> lock(impl_->slots_mu_);
        --impl_->in_flight_;
      }
      impl_->slots_cv_.notify_one();
    }
    InFlightSlot(const InFlightSlot&) = delete;
    InFlightSlot& operator=(const InFlightSlot&) = delete;

   private:
    Impl* impl_;
  };

  std::shared_ptr<PendingCall> Find(const std::string& request_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(request_id);
    return it == pending_.end() ? nullptr : it->second;
  }

  void SendToAll(const std::string& frame) {
    for (auto& link : links_) link->Send(frame);
  }

  // Sends the identical bytes again. Only replicas that have not answered are asked: one
  // that answered has ordered the request, and a copy would only be ordered again (a
  // replica answers a re-ordered request with the original result, but a login is stale
  // the second time). A large request goes again only to a replica that said it was
  // overloaded: on a live connection nothing is lost, a reconnection resends everything
  // (OnLinkUp), and a copy a replica already holds costs it the request's size in
  // connection buffer until the connection closes. Once every reachable replica has
  // answered without 2f+1 agreeing on one ordering, or, for a small request, from the
  // third round on (a silent replica may never answer), all are asked, so that they
  // answer about one new ordering together.
  void Retransmit(const PendingCall& call, int round) {
    const std::set<uint32_t> answered = call.answered();
    const std::vector<uint32_t> overloaded_list = call.Overloaded();
    const std::set<uint32_t> overloaded(overloaded_list.begin(), overloaded_list.end());
    const bool small = call.frame().size() <= kRetransmitAlwaysBytesMax;
    bool waiting_for_someone = false;
    for (auto& link : links_) {
      if (answered.count(link->replica()) != 0) continue;
      if (small || overloaded.count(link->replica()) != 0) link->Send(call.frame());
      if (link->connected()) waiting_for_someone = true;
    }
    if (!waiting_for_someone || (small && round >= 3)) {
      for (auto& link : links_) {
        if (answered.count(link->replica()) != 0) link->Send(call.frame());
      }
    }
  }

  void OnStatus(uint32_t replica, const pb::ReplicaStatus& status) {
    const Bytes statement = wire::StatusStatement(status);
    std::lock_guard<std::mutex> lock(status_mu_);
    if (status.replica() != replica ||
        !client::internal::VerifyReplicaSignature(config_, replica, statement,
                                                  status.signature())) {
      status_faults_[replica] = "sent a status with an invalid signature";
    } else if (status.cluster_id() != config_.cluster_id() || status_nonce_.empty() ||
               !ConstantTimeEquals(AsBytes(status.nonce()), AsBytes(status_nonce_))) {
      status_faults_[replica] = "sent a status for another cluster or another query";
    } else {
      statuses_[replica] = status;
    }
    status_cv_.notify_all();
  }

  // A login that 2f+1 replicas found stale in one ordering, while f+1 replicas (one of
  // them correct) signed its success in an earlier ordering of the same bytes: the
  // retransmission was ordered again after the login had taken effect. The earlier
  // outcome is the login's; the later one only says that the same bytes came twice.
  void ReconsiderStaleLogin(const PendingCall& call, client::internal::AcceptedReply& accepted,
                            pb::Result& result) {
    const uint64_t stale_epoch = accepted.body.epoch();
    std::optional<client::internal::AcceptedReply> earlier =
        call.EarliestGroup(config_.f() + 1, [&](const pb::ReplyBody& body) {
          pb::Result r;
          return body.epoch() < stale_epoch && r.ParseFromString(body.result()) &&
                 r.status() == pb::STATUS_OK && r.has_login();
        });
    if (!earlier.has_value()) return;
    pb::Result ok;
    if (!ok.ParseFromString(earlier->body.result())) return;
    accepted = std::move(*earlier);
    result = std::move(ok);
  }

  // The expiry f+1 replicas signed identically in a successful reply to this login, in
  // any ordering: at least one of them is correct, so it is the session's. (One replica's
  // word is not enough: a faulty one could claim any expiry.)
  std::optional<int64_t> LoginSuccessClaim(const PendingCall& call) const {
    std::optional<client::internal::AcceptedReply> any =
        call.EarliestGroup(config_.f() + 1, [](const pb::ReplyBody& body) {
          pb::Result r;
          return r.ParseFromString(body.result()) && r.status() == pb::STATUS_OK &&
                 r.has_login();
        });
    if (!any.has_value()) return std::nullopt;
    pb::Result r;
    if (!r.ParseFromString(any->body.result())) return std::nullopt;
    return r.login().session_expires_ms();
  }

  absl::StatusOr<CallResult> Await(PendingCall& call, const AttachmentsEnough& enough,
                                   bool login) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const auto deadline = start + options_.deadline;
    auto interval = std::max(options_.retransmit_after, std::chrono::milliseconds(10));
    auto next_retransmit = start + interval;
    SendToAll(call.frame());
    uint64_t generation = 0;
    int round = 0;
    std::optional<Clock::time_point> accepted_at;
    for (;;) {
      if (std::optional<client::internal::AcceptedReply> accepted = call.Accepted()) {
        pb::Result result;
        if (!result.ParseFromString(accepted->body.result())) {
          // 2f+1 replicas signed it, so it is what the service answered; a build that
          // cannot read it cannot use it.
          return MakeError(ErrorKind::kOther, "the cluster's result does not parse");
        }
        const auto now = Clock::now();
        if (!accepted_at.has_value()) accepted_at = now;
        // Attachments from the remaining replicas are waited for only briefly: among 2f+1
        // agreeing replicas f+1 are correct, so a shortfall means the checkout's own
        // verification will fail, and it reports why.
        const bool settled = !enough || result.status() != pb::STATUS_OK ||
                             enough(result, accepted->agreeing) ||
                             call.AcceptedReplies() >= config_.n() ||
                             now >= std::min(deadline, *accepted_at + AttachmentGrace());
        if (settled) {
          if (login && result.status() == pb::STATUS_LOGIN_STALE) {
            ReconsiderStaleLogin(call, *accepted, result);
          }
          CallResult out = Finish(call, std::move(*accepted), std::move(result));
          if (login && out.result.status() == pb::STATUS_LOGIN_STALE) {
            out.login_success_claim_expires_ms = LoginSuccessClaim(call);
          }
          return out;
        }
        // Retransmitting now would only start new orderings; wait for late replies.
        generation = call.WaitForChange(
            generation, std::min(deadline, *accepted_at + AttachmentGrace()));
        continue;
      }
      if (std::optional<client::internal::FinalRejection> rejected = call.Rejected()) {
        return ServiceError(static_cast<pb::Status>(rejected->code),
                            absl::StrCat(rejected->message, " (refused by replicas ",
                                         JoinIds(rejected->replicas), ")"));
      }
      const auto now = Clock::now();
      if (now >= deadline) return NoQuorumError(call);
      if (now >= next_retransmit) {
        Retransmit(call, ++round);
        interval = std::min<std::chrono::milliseconds>(interval * 2, kRetransmitMax);
        next_retransmit = now + interval;
      }
      generation = call.WaitForChange(generation, std::min(deadline, next_retransmit));
    }
  }

  std::chrono::milliseconds AttachmentGrace() const {
    return std::max<std::chrono::milliseconds>(std::chrono::milliseconds(1000),
                                               2 * options_.retransmit_after);
  }

  CallResult Finish(const PendingCall& call, client::internal::AcceptedReply accepted,
                    pb::Result result) {
    CallResult out;
    out.body = std::move(accepted.body);
    out.result = std::move(result);
    out.agreeing = std::move(accepted.agreeing);
    for (const auto& [replica, attachments] : out.agreeing) out.report.agreeing.push_back(replica);
    out.report.disagreeing = std::move(accepted.disagreeing);
    out.report.faults = call.faults();
    out.report.epoch = out.body.epoch();
    out.report.position = out.body.position();
    out.report.consensus_time_ms = out.body.consensus_time_ms();
    return out;
  }

  absl::Status NoQuorumError(const PendingCall& call) {
    const std::set<uint32_t> answered = call.answered();
    std::string message = absl::StrCat(
        "the cluster did not give 2f+1 matching replies in time (", config_.n(), " replicas, ",
        2 * config_.f() + 1, " needed; ", answered.size(), " answered, at most ",
        call.LargestGroup(), " agreed");
    const std::vector<uint32_t> disagreeing = call.Disagreeing();
    if (!disagreeing.empty()) {
      absl::StrAppend(&message, "; replicas ", JoinIds(disagreeing), " disagreed");
    }
    const std::vector<uint32_t> overloaded = call.Overloaded();
    if (!overloaded.empty()) {
      absl::StrAppend(&message, "; replicas ", JoinIds(overloaded), " were overloaded");
    }
    for (const auto& [replica, fault] : call.faults()) {
      absl::StrAppend(&message, "; replica ", replica, ": ", fault);
    }
    for (const auto& link : links_) {
      if (answered.count(link->replica()) != 0 || link->connected()) continue;
      const std::string why = link->last_error();
      absl::StrAppend(&message, "; replica ", link->replica(), " unreachable",
                      why.empty() ? "" : ": ", why);
    }
    absl::StrAppend(&message, ")");
    return MakeError(ErrorKind::kNoQuorum, message);
  }

  const ClientOptions options_;
  const config::ClusterConfig config_;
  const transport::TlsCredentials credentials_;
  const std::string cert_der_;
  std::mutex keys_mu_;  // guards encryption_keys_
  std::optional<threshold::PublicKeySet> encryption_keys_;
  const absl::StatusOr<client::internal::ServiceKey> service_;
  std::vector<std::unique_ptr<ReplicaLink>> links_;  // fixed after StartLinks

  std::mutex mu_;  // guards pending_
  std::map<std::string, std::shared_ptr<PendingCall>> pending_;

  mutable std::mutex session_mu_;
  std::shared_ptr<ActiveSession> session_;

  std::mutex slots_mu_;
  std::condition_variable slots_cv_;
  uint32_t in_flight_ = 0;
  uint32_t in_flight_max_ = 1;

  std::mutex status_query_mu_;  // one QueryStatus at a time
  std::string status_nonce_;    // the running query's nonce (under status_mu_)
  std::mutex status_mu_;
  std::condition_variable status_cv_;
  std::map<uint32_t, pb::ReplicaStatus> statuses_;
  std::map<uint32_t, std::string> status_faults_;
};

// ---- Client ----

void SetConnectionLogSink(std::function<void(const std::string&)> sink) {
  SetLogSink(std::move(sink));
}

namespace {

absl::Status Invalid(const std::string& what, const absl::Status& why) {
  return MakeError(ErrorKind::kInvalidInput, absl::StrCat(what, ": ", why.message()));
}

absl::Status CheckDocumentName(const std::string& doc) {
  absl::Status valid = wire::ValidateDocumentName(doc);
  if (!valid.ok()) return Invalid("invalid document name", valid);
  return absl::OkStatus();
}

// A refused result as an error, with the disagreeing replicas named.
absl::Status ResultError(const CallResult& call) {
  std::string message = call.result.message();
  if (!call.report.disagreeing.empty()) {
    absl::StrAppend(&message, message.empty() ? "" : "; ", "replicas ",
                    JoinIds(call.report.disagreeing), " disagreed");
  }
  return ServiceError(call.result.status(), message);
}

pb::Rights ToProtoRights(Rights rights) {
  switch (rights) {
    case Rights::kCheckIn:
      return pb::RIGHTS_CHECKIN;
    case Rights::kCheckOut:
      return pb::RIGHTS_CHECKOUT;
    case Rights::kBoth:
      return pb::RIGHTS_BOTH;
  }
  return pb::RIGHTS_UNSPECIFIED;
}

Rights FromProtoRights(pb::Rights rights) {
  switch (rights) {
    case pb::RIGHTS_CHECKIN:
      return Rights::kCheckIn;
    case pb::RIGHTS_CHECKOUT:
      return Rights::kCheckOut;
    default:
      return Rights::kBoth;
  }
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(ClientOptions options) {
  if (sodium_init() < 0) return MakeError(ErrorKind::kOther, "libsodium failed to initialize");
  absl::StatusOr<config::ClusterConfig> config =
      config::LoadClusterConfig(options.cluster_config_path);
  if (!config.ok()) return Invalid("cluster configuration", config.status());
  std::optional<threshold::PublicKeySet> encryption_keys;
  if (!config->proto.distributed_encryption_key()) {
    absl::StatusOr<threshold::PublicKeySet> dealt =
        config::PublicKeySetFromConfig(config->proto.encryption_keys(), config->f());
    if (!dealt.ok()) return Invalid("cluster encryption keys", dealt.status());
    encryption_keys = *std::move(dealt);
  }
  absl::StatusOr<transport::TlsCredentials> credentials = transport::TlsCredentials::FromFiles(
      config->ca_cert_path(), options.user_cert_path, options.user_key_path);
  if (!credentials.ok()) return Invalid("user identity", credentials.status());
  absl::StatusOr<Bytes> cert_der = pki::CertificatePemToDer(credentials->cert_pem);
  if (!cert_der.ok()) return Invalid(options.user_cert_path, cert_der.status());
  // The certificate's key must be the key that signs: otherwise every login would be
  // refused by the replicas with a less helpful message.
  absl::StatusOr<pki::CertIdentity> identity =
      credentials->ca->Verify(*cert_der, transport::WallClockUnixSeconds());
  if (!identity.ok()) {
    return MakeError(ErrorKind::kNotLoggedIn,
                     absl::StrCat(options.user_cert_path, " is not a valid certificate of this "
                                  "cluster: ", identity.status().message()));
  }
  if (identity->ed25519_public_key != credentials->key->public_key()) {
    return MakeError(ErrorKind::kNotLoggedIn,
                     absl::StrCat(options.user_key_path, " is not the key of the certificate ",
                                  options.user_cert_path));
  }
  auto impl = std::make_unique<Impl>(
      std::move(options), *std::move(config), *std::move(credentials),
      std::string(AsStringView(*cert_der)), std::move(encryption_keys));
  impl->StartLinks();
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

uint32_t Client::n() const { return impl_->config().n(); }
uint32_t Client::f() const { return impl_->config().f(); }
const std::string& Client::cluster_id() const { return impl_->config().cluster_id(); }
uint32_t Client::in_flight_max() const { return impl_->in_flight_max(); }

absl::StatusOr<LoginInfo> Client::Login(const std::string& uid, int64_t client_time_ms) {
  absl::Status valid = wire::ValidateUserId(uid);
  if (!valid.ok()) return Invalid("invalid user id", valid);
  absl::StatusOr<pki::CertIdentity> identity = impl_->credentials().ca->Verify(
      AsBytes(impl_->cert_der()), transport::WallClockUnixSeconds());
  if (!identity.ok()) {
    return MakeError(ErrorKind::kNotLoggedIn,
                     absl::StrCat("certificate refused: ", identity.status().message()));
  }
  if (identity->common_name != uid) {
    return MakeError(ErrorKind::kNotLoggedIn,
                     absl::StrCat("the certificate is ", identity->common_name, "'s, not ", uid,
                                  "'s"));
  }
  if (identity->role != pki::Role::kUser) {
    return MakeError(ErrorKind::kNotLoggedIn, "the certificate is not a user certificate");
  }
  SessionKey key = SessionKey::Generate();
  CryptoRng rng;
  const int64_t time_ms = client_time_ms != 0 ? client_time_ms : WallClockMs();
  absl::StatusOr<BuiltRequest> request =
      client::internal::BuildLogin(impl_->config().cluster_id(), uid, impl_->cert_der(),
                                   *impl_->credentials().key, key, time_ms, rng);
  if (!request.ok()) {
    return client::internal::WithKind(request.status(), ErrorKind::kOther);
  }
  BELFRY_ASSIGN_OR_RETURN(CallResult call,
                          impl_->Call(*std::move(request), nullptr, /*login=*/true));
  int64_t expires_ms = 0;
  uint64_t next_seq = kFirstSeq;
  if (call.result.status() == pb::STATUS_OK && call.result.has_login()) {
    expires_ms = call.result.login().session_expires_ms();
  } else if (call.result.status() == pb::STATUS_LOGIN_STALE) {
    // A copy of this login that reached a replica after the login had executed can be
    // ordered a second time, where it is stale; fewer than f+1 signed the first outcome.
    // Whether the session exists is then asked of the cluster directly, with a harmless
    // operation under the new session key: a checkout of a name nobody uses.
    BELFRY_ASSIGN_OR_RETURN(bool exists, impl_->ProbeSession(key));
    if (!exists) return ResultError(call);
    // Without f+1 signatures on the expiry, the earliest it can be: the login executed at
    // a consensus time at least time_ms - login_clock_skew (else it would have been
    // refused), and expires session_seconds after that. Early is safe (the client logs in
    // again sooner); late is not.
    const config::Limits& limits = impl_->config().limits;
    const int64_t earliest_ms = time_ms - int64_t{limits.login_clock_skew_seconds} * 1000 +
                                int64_t{limits.session_seconds} * 1000;
    expires_ms = call.login_success_claim_expires_ms.value_or(earliest_ms);
    next_seq = kFirstSeq + 1;
  } else if (call.result.status() != pb::STATUS_OK) {
    return ResultError(call);
  } else {
    return MakeError(ErrorKind::kOther, "the cluster's login result has no session");
  }
  auto session =
      std::make_shared<ActiveSession>(ActiveSession{std::move(key), uid, expires_ms, nullptr});
  auto counter = std::make_shared<std::atomic<uint64_t>>(next_seq);
  session->sequence = [counter]() -> absl::StatusOr<uint64_t> { return counter->fetch_add(1); };
  impl_->SetSession(std::move(session));
  LoginInfo info;
  info.uid = uid;
  info.session_expires_ms = expires_ms;
  info.next_seq = next_seq;
  info.replicas = std::move(call.report);
  return info;
}

void Client::ResumeSession(SessionCredentials credentials, SequenceSource sequence,
                           uint64_t first_seq) {
  auto session = std::make_shared<ActiveSession>(ActiveSession{
      SessionKey::FromSeed(credentials.seed()), credentials.uid(), credentials.expires_ms(),
      std::move(sequence)});
  if (!session->sequence) {
    auto counter = std::make_shared<std::atomic<uint64_t>>(std::max<uint64_t>(1, first_seq));
    session->sequence = [counter]() -> absl::StatusOr<uint64_t> {
      return counter->fetch_add(1);
    };
  }
  impl_->SetSession(std::move(session));
}

absl::StatusOr<SessionCredentials> Client::ExportSession() const {
  BELFRY_ASSIGN_OR_RETURN(std::shared_ptr<ActiveSession> session, impl_->CurrentSession());
  return SessionCredentials(session->uid, session->key.seed(), session->expires_ms);
}

absl::StatusOr<CheckInInfo> Client::CheckIn(const std::string& doc, const std::string& data,
                                            CheckInFlags flags) {
  BELFRY_RETURN_IF_ERROR(CheckDocumentName(doc));
  const config::ClusterConfig& config = impl_->config();
  pb::SessionOp op;
  pb::CheckIn* check_in = op.mutable_check_in();
  check_in->set_doc(doc);
  check_in->set_confidential(flags.confidential);
  check_in->set_integrity(flags.integrity);
  if (flags.confidential) {
    BELFRY_ASSIGN_OR_RETURN(std::optional<threshold::PublicKeySet> keys, impl_->EncryptionKeys());
    if (!keys.has_value()) {
      return client::internal::ServiceError(
          pb::STATUS_KEYS_NOT_READY,
          "the cluster's encryption key is still being generated; retry shortly");
    }
    CryptoRng rng;
    absl::StatusOr<client::internal::SealedDocument> sealed = client::internal::SealConfidential(
        config.cluster_id(), doc, data, *keys, rng);
    if (!sealed.ok()) return client::internal::WithKind(sealed.status(), ErrorKind::kOther);
    check_in->set_data(std::move(sealed->data));
    check_in->set_key_ciphertext(std::move(sealed->key_ciphertext));
    check_in->set_version_nonce(std::move(sealed->version_nonce));
  } else {
    check_in->set_data(data);
  }
  if (check_in->data().size() > config.limits.document_bytes_max) {
    return MakeError(
        ErrorKind::kInvalidInput,
        absl::StrCat("the document is ", check_in->data().size(), " bytes",
                     flags.confidential ? " once encrypted" : "",
                     "; the cluster accepts at most ", config.limits.document_bytes_max));
  }
  const wire::Digest sent_sha = wire::Sha256(AsBytes(check_in->data()));
  BELFRY_ASSIGN_OR_RETURN(CallResult call, impl_->RunOp(op, nullptr));
  if (call.result.status() != pb::STATUS_OK) return ResultError(call);
  const pb::CheckInResult& r = call.result.check_in();
  if (DigestArray(r.sha256()) != sent_sha) {
    return MakeError(ErrorKind::kIntegrity,
                     "the cluster reports a SHA-256 other than that of the bytes sent");
  }
  CheckInInfo info;
  info.doc = r.doc();
  info.version = r.version();
  info.sha256 = sent_sha;
  info.owner = r.owner();
  info.created = r.created();
  info.replicas = std::move(call.report);
  return info;
}

absl::StatusOr<Document> Client::CheckOut(const std::string& doc) {
  BELFRY_RETURN_IF_ERROR(CheckDocumentName(doc));
  const config::ClusterConfig& config = impl_->config();
  // Without a key set (a generation still running) no document is confidential yet.
  BELFRY_ASSIGN_OR_RETURN(const std::optional<threshold::PublicKeySet> maybe_keys,
                          impl_->EncryptionKeys());
  const uint32_t needed = config.f() + 1;
  // A key for this checkout only: replicas seal their decryption shares to it, so they are
  // of no use to anyone who copies the request or reads the replies.
  const threshold::ShareRecipientKey share_key = threshold::ShareRecipientKey::Generate();
  // Confidential: f+1 valid decryption shares; integrity: f+1 service signature shares. Among
  // 2f+1 agreeing replicas at least f+1 are correct, so this normally holds at once.
  AttachmentsEnough enough = [&](const pb::Result& result,
                                 const std::map<uint32_t, pb::ReplyAttachments>& agreeing) {
    if (!result.has_check_out()) return true;
    const pb::CheckOutResult& co = result.check_out();
    if (co.confidential() && maybe_keys.has_value()) {
      const threshold::PublicKeySet& keys = *maybe_keys;
      std::map<uint32_t, std::string> sealed;
      for (const auto& [replica, a] : agreeing) sealed[replica] = a.sealed_decryption_share();
      std::map<uint32_t, std::string> shares =
          client::internal::OpenSealedShares(config.cluster_id(), co, share_key, sealed, nullptr);
      const uint32_t valid = client::internal::CountValidShares(config.cluster_id(), co, keys, shares);
      client::internal::WipeShares(shares);
      if (valid < needed) return false;
    }
    if (co.integrity()) {
      std::map<uint32_t, std::string> shares;
      for (const auto& [replica, a] : agreeing) shares[replica] = a.service_signature_share();
      if (client::internal::CountServiceShares(shares) < needed) return false;
    }
    return true;
  };
  pb::SessionOp op;
  op.mutable_check_out()->set_doc(doc);
  op.mutable_check_out()->set_reply_public_key(share_key.public_key_string());
  absl::StatusOr<CallResult> call = impl_->RunOp(op, enough);
  // RESULT_UNAVAILABLE: a retransmission reached the cluster after the version it
  // returned was replaced; a new request (new sequence number) gets the current one.
  for (int retry = 0; retry < kResultUnavailableRetries && call.ok() &&
                      call->result.status() == pb::STATUS_RESULT_UNAVAILABLE;
       ++retry) {
    call = impl_->RunOp(op, enough);
  }
  if (!call.ok()) return call.status();
  if (call->result.status() != pb::STATUS_OK) return ResultError(*call);
  if (!call->result.has_check_out()) {
    return MakeError(ErrorKind::kOther, "the cluster's checkout result has no document");
  }
  const pb::CheckOutResult& co = call->result.check_out();
  Document out;
  out.doc = co.doc();
  out.owner = co.owner();
  out.version = co.version();
  out.confidential = co.confidential();
  out.integrity = co.integrity();
  out.sha256 = DigestArray(co.sha256());
  out.replicas = std::move(call->report);
  if (co.sha256().size() != 32 || wire::Sha256(AsBytes(co.data())) != out.sha256) {
    return MakeError(ErrorKind::kIntegrity,
                     "the document's SHA-256 does not match the hash the replicas report");
  }
  if (co.integrity()) {
    if (!impl_->service().ok()) return impl_->service().status();
    std::map<uint32_t, std::string> shares;
    for (const auto& [replica, a] : call->agreeing) shares[replica] = a.service_signature_share();
    BELFRY_ASSIGN_OR_RETURN(out.integrity_certificate,
                            client::internal::CollectIntegrityCertificate(config, *impl_->service(), co,
                                                                          call->body.consensus_time_ms(), shares,
                                                                          &out.replicas.faults));
  }
  if (co.confidential()) {
    if (!maybe_keys.has_value()) {
      return MakeError(ErrorKind::kOther,
                       "a confidential document, but the cluster's encryption key is not known");
    }
    const threshold::PublicKeySet& keys = *maybe_keys;
    std::map<uint32_t, std::string> sealed;
    for (const auto& [replica, a] : call->agreeing) sealed[replica] = a.sealed_decryption_share();
    std::map<uint32_t, std::string> shares = client::internal::OpenSealedShares(
        config.cluster_id(), co, share_key, sealed, &out.replicas.faults);
    absl::StatusOr<std::string> data = client::internal::OpenConfidential(
        config.cluster_id(), co, keys, shares, &out.replicas.faults);
    client::internal::WipeShares(shares);
    if (!data.ok()) return data.status();
    out.data = *std::move(data);
  } else {
    out.data = co.data();
  }
  return out;
}

absl::StatusOr<GrantInfo> Client::Grant(const std::string& doc, const GrantTarget& target,
                                        Rights rights, uint32_t seconds) {
  BELFRY_RETURN_IF_ERROR(CheckDocumentName(doc));
  pb::SessionOp op;
  pb::Grant* grant = op.mutable_grant();
  grant->set_doc(doc);
  if (target.all_users) {
    grant->set_all_users(true);
  } else {
    absl::Status valid = wire::ValidateUserId(target.uid);
    if (!valid.ok()) return Invalid("invalid grant target", valid);
    grant->set_target_uid(target.uid);
  }
  if (seconds > impl_->config().limits.grant_seconds_max) {
    return MakeError(ErrorKind::kInvalidInput,
                     absl::StrCat("a grant may last at most ",
                                  impl_->config().limits.grant_seconds_max, " seconds"));
  }
  grant->set_rights(ToProtoRights(rights));
  grant->set_seconds(seconds);
  BELFRY_ASSIGN_OR_RETURN(CallResult call, impl_->RunOp(op, nullptr));
  if (call.result.status() != pb::STATUS_OK) return ResultError(call);
  const pb::GrantResult& r = call.result.grant();
  GrantInfo info;
  info.doc = r.doc();
  info.target = r.all_users() ? GrantTarget::All() : GrantTarget::User(r.target_uid());
  info.rights = FromProtoRights(r.rights());
  info.expires_ms = r.expires_ms();
  info.replicas = std::move(call.report);
  return info;
}

absl::StatusOr<OpInfo> Client::Delete(const std::string& doc) {
  BELFRY_RETURN_IF_ERROR(CheckDocumentName(doc));
  pb::SessionOp op;
  op.mutable_delete_()->set_doc(doc);
  BELFRY_ASSIGN_OR_RETURN(CallResult call, impl_->RunOp(op, nullptr));
  if (call.result.status() != pb::STATUS_OK) return ResultError(call);
  return OpInfo{std::move(call.report)};
}

absl::StatusOr<OpInfo> Client::SubmitRevocation(const std::string& request_bytes) {
  client::internal::BuiltRequest request;
  request.bytes = request_bytes;
  request.id = wire::RequestId(request.bytes);
  BELFRY_ASSIGN_OR_RETURN(CallResult call, impl_->Call(std::move(request), nullptr, /*login=*/false));
  if (call.result.status() != pb::STATUS_OK) return ResultError(call);
  return OpInfo{std::move(call.report)};
}

absl::StatusOr<OpInfo> Client::Logout() {
  pb::SessionOp op;
  op.mutable_logout();
  std::shared_ptr<ActiveSession> session;
  BELFRY_ASSIGN_OR_RETURN(CallResult call, impl_->RunOp(op, nullptr, &session));
  const pb::Status status = call.result.status();
  // A session the cluster already ended is over here too.
  if (status == pb::STATUS_OK || status == pb::STATUS_SESSION_ENDED ||
      status == pb::STATUS_SESSION_EXPIRED || status == pb::STATUS_SESSION_UNKNOWN) {
    impl_->ForgetSession(session);
  }
  if (status != pb::STATUS_OK) return ResultError(call);
  return OpInfo{std::move(call.report)};
}

absl::StatusOr<Bytes> Client::Stamp(const evidence::TimeStampRequest& request) {
  BELFRY_ASSIGN_OR_RETURN(TimeStampInfo info, StampWithReport(request));
  return std::move(info.response_der);
}

absl::StatusOr<TimeStampInfo> Client::StampWithReport(const evidence::TimeStampRequest& request) {
  if (request.imprint.hashed_message.size() != evidence::ImprintHashBytes(request.imprint.hash)) {
    return MakeError(ErrorKind::kInvalidInput, "the hash is not its algorithm's length");
  }
  if (!impl_->service().ok()) return impl_->service().status();
  const uint32_t needed = impl_->config().f() + 1;
  // f+1 service signature shares; among 2f+1 agreeing replicas at least f+1 are correct.
  AttachmentsEnough enough = [&](const pb::Result& result,
                                 const std::map<uint32_t, pb::ReplyAttachments>& agreeing) {
    if (result.status() != pb::STATUS_OK || !result.has_stamp()) return true;
    std::map<uint32_t, std::string> shares;
    for (const auto& [replica, a] : agreeing) shares[replica] = a.service_signature_share();
    return client::internal::CountServiceShares(shares) >= needed;
  };
  pb::SessionOp op;
  *op.mutable_stamp() = client::internal::StampFor(request);
  BELFRY_ASSIGN_OR_RETURN(CallResult call, impl_->RunOp(op, enough));
  if (call.result.status() != pb::STATUS_OK) return ResultError(call);
  if (!call.result.has_stamp() || !client::internal::StampEchoes(op.stamp(), call.result.stamp())) {
    return MakeError(ErrorKind::kIntegrity, "the cluster's stamp result does not echo the stamp sent");
  }
  TimeStampInfo info;
  info.replicas = std::move(call.report);
  std::map<uint32_t, std::string> shares;
  for (const auto& [replica, a] : call.agreeing) shares[replica] = a.service_signature_share();
  BELFRY_ASSIGN_OR_RETURN(info.response_der,
                          client::internal::CollectTimeStampResp(*impl_->service(), call.body, call.result.stamp(),
                                                                 shares, &info.replicas.faults));
  info.serial_number = wire::StampSerialNumber(call.body.epoch(), call.body.position());
  info.gen_time_ms = call.body.consensus_time_ms();
  return info;
}

absl::StatusOr<TimeStampInfo> Client::StampFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorKind::kInvalidInput, absl::StrCat(path, ": cannot open"));
  Sha256Hasher hasher;
  std::vector<char> chunk(size_t{1} << 16);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hasher.Update(chunk.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return MakeError(ErrorKind::kInvalidInput, absl::StrCat(path, ": read error"));
  const Sha256Digest digest = hasher.Finish();
  evidence::TimeStampRequest request;
  request.imprint.hash = evidence::ImprintHash::kSha256;
  request.imprint.hashed_message.assign(digest.begin(), digest.end());
  // A fresh nonce ties the response to this request (RFC 3161 §2.4.1); 64 bits as
  // `openssl ts -query` uses.
  Bytes nonce(8);
  CryptoRng rng;
  rng.Fill(nonce);
  request.nonce = std::move(nonce);
  request.cert_req = true;
  return StampWithReport(request);
}

std::vector<ReplicaState> Client::QueryStatus(std::chrono::milliseconds timeout) {
  return impl_->QueryStatus(timeout);
}

}  // namespace belfry
