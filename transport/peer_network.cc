#include "transport/peer_network.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/rng.h"
#include "base/status.h"
#include "transport/asio_util.h"
#include "transport/internal/frame_io.h"
#include "transport/link.h"
#include "base/log.h"

namespace belfry::transport {
namespace {

constexpr const char* kComponent = "peer_net";

struct AtomicPeerCounters {
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> frames_received{0};
  std::atomic<uint64_t> messages_sent{0};
  std::atomic<uint64_t> messages_resent{0};
  std::atomic<uint64_t> messages_delivered{0};
  std::atomic<uint64_t> duplicates_dropped{0};
  std::atomic<uint64_t> sends_refused{0};
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> throttled{0};
  std::atomic<uint64_t> queue_messages{0};
  std::atomic<uint64_t> queue_bytes{0};
  std::atomic<bool> outbound_up{false};
};

struct AtomicNetworkCounters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> refused_tls{0};
  std::atomic<uint64_t> refused_role{0};
  std::atomic<uint64_t> refused_identity{0};
  std::atomic<uint64_t> refused_capacity{0};
  std::atomic<uint64_t> handshake_timeouts{0};
  std::atomic<uint64_t> oversized_frames{0};
  std::atomic<uint64_t> closed_untrusted{0};
};

// Inbox: delivered messages waiting for Receive. Bounded in messages and bytes; one
// message is always accepted into an empty inbox, so a single large message cannot wedge
// a link. Thread-safe.
class Inbox {
 public:
  Inbox(size_t messages_max, size_t bytes_max)
      : messages_max_(messages_max), bytes_max_(bytes_max) {}

  bool TryPush(Delivery& d) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      return false;
    }
    if (!queue_.empty() &&
        (queue_.size() >= messages_max_ || bytes_ + d.payload.size() > bytes_max_)) {
      return false;
    }
    bytes_ += d.payload.size();
    queue_.push_back(std::move(d));
    cv_.notify_one();
    return true;
  }

  std::optional<Delivery> Pop(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) {
      return std::nullopt;
    }
    Delivery d = std::move(queue_.front());
    queue_.pop_front();
    bytes_ -= d.payload.size();
    return d;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

  std::pair<uint64_t, uint64_t> Depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {queue_.size(), bytes_};
  }

 private:
  const size_t messages_max_;
  const size_t bytes_max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Delivery> queue_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

// The steady clock in microseconds: the time the link classes (link.h) are given.
uint64_t SteadyNowUs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

class PeerConnection;

// PeerSlot: everything this node keeps about one peer, for both directions. The link
// protocol itself (seqs, resend buffer, acks, hellos, pacing) is in `sender`, `receiver`
// and `delivery_budget` (link.h); the slot adds the sockets, timers and counters.
struct PeerSlot {
  PeerSlot(NodeId peer_id, asio::io_context& io, const PeerNetworkConfig& config)
      : id(peer_id),
        sender(config.resend_buffer_messages_max, config.resend_buffer_bytes_max),
        retry_timer(io),
        receiver(config.ack_delay_us, config.ack_batch_messages) {}

  const NodeId id;
  AtomicPeerCounters counters;

  // Outbound state shared with Send (any thread); guarded by mu.
  std::mutex mu;
  std::string host;
  uint16_t port = 0;
  LinkSender sender;

  // Outbound state owned by the network thread.
  std::shared_ptr<PeerConnection> out_conn;  // dialing or established
  bool out_established = false;
  asio::steady_timer retry_timer;
  uint64_t retry_generation = 0;
  uint32_t failures = 0;  // consecutive failed dials (backoff exponent)
  bool ever_connected = false;
  std::atomic<bool> kick_posted{false};

  // Inbound state (receiver side), owned by the network thread.
  std::shared_ptr<PeerConnection> in_conn;
  LinkReceiver receiver;
  TokenBucket delivery_budget;  // messages_per_second_max
  std::atomic<uint32_t> rate_override{0};  // SetPeerMessageRate; 0: the configured rate
};

}  // namespace

class PeerNetwork::Impl {
 public:
  Impl(PeerNetworkConfig config, std::shared_ptr<asio::ssl::context> server_tls,
       std::shared_ptr<asio::ssl::context> client_tls);
  ~Impl() { Stop(); }

  absl::Status Listen();
  absl::Status Start();
  void Stop();
  absl::Status Send(NodeId to, std::string payload);
  std::optional<Delivery> Receive(std::chrono::milliseconds timeout);
  absl::Status SetPeerAddress(NodeId id, std::string host, uint16_t port);
  void ResetLinks(NodeId peer);
  absl::Status UpdateCredentials(TlsCredentials credentials);
  PeerCounters Counters(NodeId peer) const;
  NetworkCounters GetNetworkCounters() const;

  // Used by PeerConnection (network thread only).
  const PeerNetworkConfig& config() const { return config_; }
  // The CA bundle peers' certificates are checked against now (replaced on reload).
  const pki::CaBundle& ca() const { return *ca_; }
  uint16_t listen_port() const { return listen_port_.load(); }
  uint64_t incarnation() const { return incarnation_; }
  AtomicNetworkCounters& net_counters() { return net_counters_; }
  PeerSlot* SlotFor(NodeId id) {
    auto it = slots_.find(id);
    return it == slots_.end() ? nullptr : it->second.get();
  }
  void OnConnectionClosed(const std::shared_ptr<PeerConnection>& conn);
  // Checks an inbound hello; on success records `conn` as the link from `slot` and returns
  // the seq to report back. An error status means: refuse the connection.
  absl::StatusOr<HelloAccepted> OnInboundHello(const std::shared_ptr<PeerConnection>& conn,
                                          PeerSlot& slot, uint64_t incarnation);
  // Outbound link established after the peer's hello: drop what it has, rewind the cursor.
  absl::Status OnOutboundHello(PeerSlot& slot, uint64_t received_seq);
  absl::Status OnAck(PeerSlot& slot, uint64_t seq);
  // Appends Data frames for the link, from its cursor, up to the batch size. Returns the
  // number of frames appended.
  uint64_t FillDataBatch(PeerSlot& slot, std::string& out);
  bool TryDeliver(Delivery& d) { return inbox_.TryPush(d); }
  // Takes one delivery token from `slot`'s budget: zero if one was there, else how long
  // until it is (the token is then spent already). Network thread only.
  std::chrono::microseconds TakeDeliveryToken(PeerSlot& slot);
  void AddPaused(const std::shared_ptr<PeerConnection>& conn);
  // An inbound connection proved its identity or closed: it no longer counts against
  // its address's handshake limit. Idempotent per connection.
  void HandshakeDone(PeerConnection& conn);

 private:
  void RunIo();
  void DoAccept();
  void OnAccepted(asio::ip::tcp::socket socket);
  void Dial(PeerSlot& slot);
  void ScheduleRetry(PeerSlot& slot);
  void Kick(PeerSlot& slot);
  void ResumePaused();
  void CloseAll();
  void UpdateQueueGauges(PeerSlot& slot);  // caller holds slot.mu

  const PeerNetworkConfig config_;
  const uint64_t incarnation_;
  // Before every socket and timer, so it is destroyed after them.
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  // Network thread once started (UpdateCredentials swaps them there).
  std::shared_ptr<asio::ssl::context> server_tls_;
  std::shared_ptr<asio::ssl::context> client_tls_;
  std::shared_ptr<const pki::CaBundle> ca_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;
  std::map<NodeId, std::unique_ptr<PeerSlot>> slots_;  // fixed after construction
  Inbox inbox_;
  AtomicNetworkCounters net_counters_;
  std::atomic<uint16_t> listen_port_{0};

  // Network thread only.
  std::set<std::shared_ptr<PeerConnection>> live_;
  size_t inbound_open_ = 0;
  std::map<std::string, size_t> handshakes_per_address_;
  std::deque<std::weak_ptr<PeerConnection>> paused_;
  DeterministicRng jitter_;  // backoff jitter only; not a secret
  bool stopping_ = false;

  std::atomic<size_t> paused_count_{0};
  std::atomic<bool> resume_posted_{false};

  std::mutex lifecycle_mu_;
  bool listening_ = false;
  bool started_ = false;
  bool stopped_ = false;
  std::thread thread_;

};

namespace {

// PeerConnection: one TLS connection of a link, either direction. Lives on the network
// thread; kept alive by the handlers of its pending operations and by its slot.
class PeerConnection : public std::enable_shared_from_this<PeerConnection> {
 public:
  enum class Direction : uint8_t { kOutbound, kInbound };
  enum class State : uint8_t { kConnecting, kHandshaking, kHello, kEstablished, kClosed };

  PeerConnection(PeerNetwork::Impl* net, Direction direction, std::unique_ptr<SslStream> stream,
                 std::shared_ptr<asio::ssl::context> tls, PeerSlot* slot, std::string remote)
      : net_(net),
        direction_(direction),
        tls_(std::move(tls)),
        stream_(std::move(stream)),
        deadline_(stream_->get_executor()),
        slot_(slot),
        remote_(std::move(remote)) {}

  Direction direction() const { return direction_; }
  State state() const { return state_; }
  bool closed() const { return state_ == State::kClosed; }
  PeerSlot* slot() const { return slot_; }
  uint64_t incarnation() const { return incarnation_; }

  void StartInbound() {
    ArmDeadline();
    state_ = State::kHandshaking;
    stream_->async_handshake(asio::ssl::stream_base::server,
                             [self = shared_from_this()](const asio::error_code& ec) {
                               self->OnServerHandshake(ec);
                             });
  }

  void StartOutbound(const std::string& host, uint16_t port) {
    ArmDeadline();
    resolver_ = std::make_unique<asio::ip::tcp::resolver>(stream_->get_executor());
    resolver_->async_resolve(
        host, std::to_string(port),
        [self = shared_from_this()](const asio::error_code& ec,
                                    asio::ip::tcp::resolver::results_type results) {
          self->OnResolved(ec, std::move(results));
        });
  }

  // Writes whatever is due: control frames, an ack, a batch of data.
  void PumpWrites() {
    if (closed() || writing_) {
      return;
    }
    write_buf_.clear();
    if (write_buf_.capacity() > 4 * net_->config().write_batch_bytes_max) {
      std::string().swap(write_buf_);  // Give back the room a huge message needed.
    }
    uint64_t frames = control_frames_;
    write_buf_.swap(control_buf_);
    control_frames_ = 0;
    if (direction_ == Direction::kInbound && state_ == State::kEstablished &&
        slot_->receiver.IsCurrent(link_connection_)) {
      if (const std::optional<uint64_t> ack = slot_->receiver.TakeAck(); ack.has_value()) {
        AppendAckFrame(*ack, write_buf_);
        ++frames;
      }
    }
    if (direction_ == Direction::kOutbound && state_ == State::kEstablished) {
      frames += net_->FillDataBatch(*slot_, write_buf_);
    }
    if (write_buf_.empty()) {
      return;
    }
    writing_ = true;
    const uint64_t bytes = write_buf_.size();
    asio::async_write(*stream_, asio::buffer(write_buf_),
                      [self = shared_from_this(), frames, bytes](const asio::error_code& ec,
                                                                 size_t /*n*/) {
                        self->writing_ = false;
                        if (self->closed()) {
                          return;
                        }
                        if (ec) {
                          self->Close("write_error", ec.message());
                          return;
                        }
                        if (self->slot_ != nullptr) {
                          Bump(self->slot_->counters.frames_sent, frames);
                          Bump(self->slot_->counters.bytes_sent, bytes);
                        }
                        self->PumpWrites();
                      });
  }

  // Tries again to deliver the message held while the inbox was full. True if it went in
  // (or was discarded because the link is gone) and the connection no longer waits.
  bool TryResume() {
    if (closed() || !held_.has_value()) {
      return true;
    }
    if (slot_->in_conn.get() != this || !slot_->receiver.IsCurrent(link_connection_)) {
      Close("stale_connection", "");
      return true;
    }
    if (!net_->TryDeliver(*held_)) {
      return false;
    }
    held_.reset();
    Accepted(held_seq_);
    ReadNext();
    return true;
  }

  // Closes the connection; `log` false when the caller already logged why.
  void Close(std::string_view reason, absl::string_view detail, bool log = true) {
    if (closed()) {
      return;
    }
    const bool was_established = state_ == State::kEstablished;
    state_ = State::kClosed;
    held_.reset();
    deadline_.cancel();
    ack_timer_.cancel();
    throttle_.cancel();
    if (resolver_) {
      resolver_->cancel();
    }
    asio::error_code ignored;
    stream_->lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_->lowest_layer().close(ignored);
    if (log) {
      LogLine line(was_established ? LogLevel::kInfo : LogLevel::kWarn, kComponent,
                   was_established ? "disconnect" : "connect_failed");
      line.Add("self", net_->config().self)
          .Add("direction", direction_ == Direction::kOutbound ? "out" : "in")
          .Add("remote", remote_)
          .Add("reason", reason);
      if (slot_ != nullptr) {
        line.Add("peer", slot_->id);
      }
      if (!detail.empty()) {
        line.Add("detail", detail);
      }
    }
    was_established_ = was_established;
    net_->OnConnectionClosed(shared_from_this());
  }

  // After a credential reload: a connection past its TLS handshake whose peer certificate
  // no longer verifies under `ca` is closed. Returns whether it was.
  bool CloseIfUntrusted(const pki::CaBundle& ca, int64_t now_unix_s) {
    if (state_ != State::kHello && state_ != State::kEstablished) {
      return false;
    }
    absl::StatusOr<pki::CertIdentity> id = PeerIdentity(stream_->native_handle(), ca, now_unix_s);
    if (id.ok()) {
      return false;
    }
    Close("certificate_no_longer_trusted", id.status().message());
    return true;
  }

  // Refuses an inbound connection: counted by the caller, logged here, then closed.
  void Refuse(std::string_view reason, absl::string_view detail) {
    LogLine(LogLevel::kWarn, kComponent, "refused")
        .Add("self", net_->config().self)
        .Add("remote", remote_)
        .Add("reason", reason)
        .Add("detail", detail);
    Close(reason, "", /*log=*/false);
  }

  bool was_established() const { return was_established_; }
  void set_handshake_address(std::string ip) { handshake_address_ = std::move(ip); }
  // The address counted against the handshake limit, once ("" afterwards).
  std::string take_handshake_address() { return std::exchange(handshake_address_, std::string()); }

 private:
  void ArmDeadline() {
    deadline_.expires_after(std::chrono::milliseconds(net_->config().handshake_timeout_ms));
    deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec || self->closed() || self->state_ == State::kEstablished) {
        return;
      }
      Bump(self->net_->net_counters().handshake_timeouts);
      if (self->direction_ == Direction::kInbound) {
        self->Refuse("handshake_timeout", "no complete handshake in time");
      } else {
        self->Close("handshake_timeout", "");
      }
    });
  }

  void OnResolved(const asio::error_code& ec, asio::ip::tcp::resolver::results_type results) {
    if (closed()) {
      return;
    }
    if (ec) {
      Close("resolve_failed", ec.message());
      return;
    }
    state_ = State::kConnecting;
    asio::async_connect(stream_->lowest_layer(), results,
                        [self = shared_from_this()](const asio::error_code& ec2,
                                                   const asio::ip::tcp::endpoint& ep) {
                          self->OnConnected(ec2, ep);
                        });
  }

  void OnConnected(const asio::error_code& ec, const asio::ip::tcp::endpoint& ep) {
    if (closed()) {
      return;
    }
    if (ec) {
      Close("connect_failed", ec.message());
      return;
    }
    remote_ = absl::StrCat(ep.address().to_string(), ":", ep.port());
    asio::error_code ignored;
    stream_->lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
    state_ = State::kHandshaking;
    stream_->async_handshake(asio::ssl::stream_base::client,
                             [self = shared_from_this()](const asio::error_code& ec2) {
                               self->OnClientHandshake(ec2);
                             });
  }

  void OnClientHandshake(const asio::error_code& ec) {
    if (closed()) {
      return;
    }
    if (ec) {
      Close("tls_handshake_failed", ec.message());
      return;
    }
    // The side we reached must be the replica we dialed, not merely some replica.
    absl::StatusOr<pki::CertIdentity> id =
        PeerIdentity(stream_->native_handle(), net_->ca(), WallClockUnixSeconds());
    if (!id.ok()) {
      Close("bad_server_certificate", id.status().message());
      return;
    }
    if (id->role != pki::Role::kReplica || id->common_name != ReplicaName(slot_->id)) {
      Bump(net_->net_counters().refused_identity);
      Close("wrong_server_identity", id->common_name);
      return;
    }
    AppendHelloFrame(net_->incarnation(), /*received_seq=*/0, control_buf_);
    ++control_frames_;
    state_ = State::kHello;
    PumpWrites();
    ReadNext();
  }

  void OnServerHandshake(const asio::error_code& ec) {
    if (closed()) {
      return;
    }
    if (ec) {
      Bump(net_->net_counters().refused_tls);
      Refuse("tls_handshake_failed", ec.message());
      return;
    }
    absl::StatusOr<pki::CertIdentity> id =
        PeerIdentity(stream_->native_handle(), net_->ca(), WallClockUnixSeconds());
    if (!id.ok()) {
      Bump(net_->net_counters().refused_tls);
      Refuse("bad_certificate", id.status().message());
      return;
    }
    if (id->role != pki::Role::kReplica) {
      Bump(net_->net_counters().refused_role);
      Refuse("wrong_role",
             absl::StrCat("cn=", id->common_name, " role=", pki::RoleName(id->role)));
      return;
    }
    absl::StatusOr<uint32_t> peer_id = ParseReplicaName(id->common_name);
    PeerSlot* slot = peer_id.ok() ? net_->SlotFor(*peer_id) : nullptr;
    if (slot == nullptr) {
      Bump(net_->net_counters().refused_identity);
      Refuse("unknown_replica", id->common_name);
      return;
    }
    slot_ = slot;
    state_ = State::kHello;
    ReadNext();
  }

  void ReadNext() {
    if (closed() || held_.has_value()) {
      return;
    }
    internal::AsyncReadFrame(*stream_, header_, body_, net_->config().frame_bytes_max,
                             [self = shared_from_this()](const asio::error_code& ec,
                                                         const absl::Status& framing) {
                               self->OnFrame(ec, framing);
                             });
  }

  void OnFrame(const asio::error_code& ec, const absl::Status& framing) {
    if (closed()) {
      return;
    }
    if (ec) {
      Close(ec == asio::error::eof ? "peer_closed" : "read_error", ec.message());
      return;
    }
    if (!framing.ok()) {
      Bump(net_->net_counters().oversized_frames);
      ProtocolError("oversized_frame", framing.message());
      return;
    }
    if (slot_ != nullptr) {
      Bump(slot_->counters.frames_received);
      Bump(slot_->counters.bytes_received, kFrameHeaderBytes + body_.size());
    }
    absl::StatusOr<LinkFrame> msg = DecodeLinkMessage(body_);
    body_.clear();
    if (!msg.ok()) {
      ProtocolError("malformed_frame", "");
      return;
    }
    if (direction_ == Direction::kInbound) {
      OnInboundMessage(*msg);
    } else {
      OnOutboundMessage(*msg);
    }
    ReadNext();
  }

  void OnInboundMessage(LinkFrame& msg) {
    if (state_ == State::kHello) {
      if (msg.kind != LinkFrame::Kind::kHello) {
        ProtocolError("expected_hello", "");
        return;
      }
      absl::StatusOr<HelloAccepted> accepted =
          net_->OnInboundHello(shared_from_this(), *slot_, msg.incarnation);
      if (!accepted.ok()) {
        Bump(net_->net_counters().refused_identity);
        Refuse("stale_incarnation", accepted.status().message());
        return;
      }
      incarnation_ = msg.incarnation;
      link_connection_ = accepted->connection;
      AppendHelloFrame(net_->incarnation(), accepted->received_seq, control_buf_);
      ++control_frames_;
      Established();
      return;
    }
    if (msg.kind != LinkFrame::Kind::kData) {
      ProtocolError("expected_data", "");
      return;
    }
    OnData(msg.seq, std::move(msg.payload));
  }

  void OnOutboundMessage(LinkFrame& msg) {
    if (state_ == State::kHello) {
      if (msg.kind != LinkFrame::Kind::kHello) {
        ProtocolError("expected_hello", "");
        return;
      }
      incarnation_ = msg.incarnation;
      absl::Status ok = net_->OnOutboundHello(*slot_, msg.received_seq);
      if (!ok.ok()) {
        ProtocolError("bad_hello", ok.message());
        return;
      }
      Established();
      return;
    }
    if (msg.kind != LinkFrame::Kind::kAck) {
      ProtocolError("expected_ack", "");
      return;
    }
    absl::Status ok = net_->OnAck(*slot_, msg.seq);
    if (!ok.ok()) {
      ProtocolError("bad_ack", ok.message());
    }
  }

  void Established() {
    state_ = State::kEstablished;
    deadline_.cancel();
    if (direction_ == Direction::kInbound) {
      net_->HandshakeDone(*this);
    }
    LogLine(LogLevel::kInfo, kComponent, "connect")
        .Add("self", net_->config().self)
        .Add("peer", slot_->id)
        .Add("direction", direction_ == Direction::kOutbound ? "out" : "in")
        .Add("remote", remote_)
        .Add("peer_incarnation", incarnation_);
    PumpWrites();
  }

  void OnData(uint64_t seq, std::string payload) {
    PeerSlot& s = *slot_;
    if (s.in_conn.get() != this) {
      Close("stale_connection", "");
      return;
    }
    switch (s.receiver.OnData(link_connection_, seq)) {
      case DataVerdict::kStale:
        Close("stale_connection", "");
        return;
      case DataVerdict::kZeroSeq:
        ProtocolError("zero_seq", "");
        return;
      case DataVerdict::kDuplicate:
        // Resent after a reconnect but already delivered: dropped; ack again at once.
        Bump(s.counters.duplicates_dropped);
        PumpWrites();
        return;
      case DataVerdict::kGap:
        ProtocolError("sequence_gap",
                      absl::StrCat("expected ", s.receiver.last_delivered() + 1, " got ", seq));
        return;
      case DataVerdict::kDeliver:
        break;
    }
    Delivery d{s.id, std::move(payload)};
    const std::chrono::microseconds wait = net_->TakeDeliveryToken(s);
    if (wait.count() > 0) {
      // Over this peer's budget: hold the message and stop reading this link until its
      // token is due. TCP then slows the sender; nothing is dropped.
      held_ = std::move(d);
      held_seq_ = seq;
      Bump(s.counters.throttled);
      throttle_.expires_after(wait);
      throttle_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
        if (!ec && !self->TryResume()) self->net_->AddPaused(self);
      });
      return;
    }
    if (!net_->TryDeliver(d)) {
      // The inbox is full: hold this one message and stop reading until there is room.
      held_ = std::move(d);
      held_seq_ = seq;
      net_->AddPaused(shared_from_this());
      return;
    }
    Accepted(seq);
  }

  // The message went into the inbox: it counts as delivered and is owed an ack, written
  // at once when a batch is due, else within ack_delay_us (one write per batch of small
  // messages instead of one per message).
  void Accepted(uint64_t seq) {
    PeerSlot& s = *slot_;
    Bump(s.counters.messages_delivered);
    switch (s.receiver.OnDelivered(seq, SteadyNowUs())) {
      case AckAction::kWriteNow:
        PumpWrites();
        return;
      case AckAction::kArmTimer:
        ack_timer_.expires_after(std::chrono::microseconds(net_->config().ack_delay_us));
        ack_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
          // A cancelled timer of a superseded connection must not disarm the current
          // connection's timer, which shares the receiver's ack state.
          if (!self->slot_->receiver.IsCurrent(self->link_connection_)) return;
          self->slot_->receiver.OnAckTimer();
          if (!ec) self->PumpWrites();
        });
        return;
      case AckAction::kWait:
        return;
    }
  }

  void ProtocolError(std::string_view reason, absl::string_view detail) {
    if (slot_ != nullptr) {
      Bump(slot_->counters.protocol_errors);
    }
    if (state_ != State::kEstablished && direction_ == Direction::kInbound) {
      Refuse(reason, detail);
      return;
    }
    Close(reason, detail);
  }

  PeerNetwork::Impl* const net_;
  const Direction direction_;
  std::shared_ptr<asio::ssl::context> tls_;  // outlives the SSL object made from it
  std::unique_ptr<SslStream> stream_;
  asio::steady_timer deadline_;
  std::unique_ptr<asio::ip::tcp::resolver> resolver_;
  PeerSlot* slot_;  // null for an inbound connection until its certificate names it
  std::string remote_;
  std::string handshake_address_;  // inbound, until established or closed
  State state_ = State::kConnecting;
  bool was_established_ = false;
  uint64_t incarnation_ = 0;  // the dialer's (inbound) or the acceptor's (outbound)
  uint64_t link_connection_ = 0;  // inbound: LinkReceiver's id of this connection

  FrameHeader header_{};
  std::string body_;
  std::string write_buf_;
  std::string control_buf_;
  uint64_t control_frames_ = 0;
  bool writing_ = false;
  asio::steady_timer ack_timer_{stream_->get_executor()};
  asio::steady_timer throttle_{stream_->get_executor()};
  std::optional<Delivery> held_;
  uint64_t held_seq_ = 0;
};

}  // namespace

PeerNetwork::Impl::Impl(PeerNetworkConfig config, std::shared_ptr<asio::ssl::context> server_tls,
                        std::shared_ptr<asio::ssl::context> client_tls)
    : config_(std::move(config)),
      incarnation_(config_.incarnation != 0
                       ? config_.incarnation
                       : static_cast<uint64_t>(
                             std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count())),
      work_(asio::make_work_guard(io_)),
      server_tls_(std::move(server_tls)),
      client_tls_(std::move(client_tls)),
      ca_(config_.credentials.ca),
      acceptor_(io_),
      accept_retry_timer_(io_),
      inbox_(config_.inbox_messages_max, config_.inbox_bytes_max),
      jitter_(incarnation_ ^ (uint64_t{config_.self} << 48)) {
  for (const PeerAddress& p : config_.peers) {
    auto slot = std::make_unique<PeerSlot>(p.id, io_, config_);
    slot->host = p.host;
    slot->port = p.port;
    slots_.emplace(p.id, std::move(slot));
  }
}

absl::Status PeerNetwork::Impl::Listen() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_ || started_) {
    return absl::FailedPreconditionError("Listen after Start or Stop");
  }
  if (listening_) {
    return absl::OkStatus();
  }
  absl::StatusOr<uint16_t> bound = OpenListener(acceptor_, config_.listen_host,
                                                          config_.listen_port);
  if (!bound.ok()) {
    return bound.status();
  }
  listen_port_ = *bound;
  listening_ = true;
  LogLine(LogLevel::kInfo, kComponent, "listen")
      .Add("self", config_.self)
      .Add("addr", absl::StrCat(config_.listen_host, ":", *bound))
      .Add("incarnation", incarnation_);
  return absl::OkStatus();
}

absl::Status PeerNetwork::Impl::Start() {
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (stopped_ || started_) {
      return absl::FailedPreconditionError("PeerNetwork can be started once");
    }
  }
  absl::Status listening = Listen();
  if (!listening.ok()) {
    return listening;
  }
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_ || started_) {
    return absl::FailedPreconditionError("PeerNetwork can be started once");
  }
  asio::post(io_, [this] {
    DoAccept();
    for (auto& [id, slot] : slots_) {
      Dial(*slot);
    }
  });
  try {
    thread_ = std::thread([this] { RunIo(); });
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot start the network thread: ", e.what()));
  }
  started_ = true;
  return absl::OkStatus();
}

void PeerNetwork::Impl::RunIo() {
  // Handlers do not throw; anything that does is a bug, and a network thread that died
  // quietly would look like a partition forever, so stop loudly instead.
  try {
    io_.run();
  } catch (const std::exception& e) {
    LogLine(LogLevel::kWarn, kComponent, "fatal").Add("detail", e.what());
    BELFRY_CHECK(false && "exception escaped a network handler");
  }
}

void PeerNetwork::Impl::Stop() {
  bool was_started = false;
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (stopped_) {
      return;
    }
    stopped_ = true;
    was_started = started_;
  }
  inbox_.Close();
  if (!was_started) {
    asio::error_code ignored;
    acceptor_.close(ignored);
    return;
  }
  asio::post(io_, [this] {
    CloseAll();
    io_.stop();
  });
  thread_.join();
  // Run the completions of the operations CloseAll aborted, here, so every connection is
  // released before the members it points to are destroyed.
  try {
    io_.restart();
    io_.poll();
  } catch (const std::exception& e) {
    LogLine(LogLevel::kWarn, kComponent, "stop_error").Add("detail", e.what());
  }
  LogLine(LogLevel::kInfo, kComponent, "stopped").Add("self", config_.self);
}

void PeerNetwork::Impl::CloseAll() {
  stopping_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_timer_.cancel();
  for (auto& [id, slot] : slots_) {
    slot->retry_timer.cancel();
  }
  const std::set<std::shared_ptr<PeerConnection>> live = live_;
  for (const auto& conn : live) {
    conn->Close("shutdown", "");
  }
  paused_.clear();
  paused_count_ = 0;
  work_.reset();
}

void PeerNetwork::Impl::DoAccept() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (stopping_) {
      return;
    }
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        return;
      }
      // Out of descriptors and the like: pause briefly rather than spin.
      LogLine(LogLevel::kWarn, kComponent, "accept_error")
          .Add("self", config_.self)
          .Add("detail", ec.message());
      accept_retry_timer_.expires_after(std::chrono::milliseconds(100));
      accept_retry_timer_.async_wait([this](const asio::error_code& ec2) {
        if (!ec2 && !stopping_) {
          DoAccept();
        }
      });
      return;
    }
    OnAccepted(std::move(socket));
    DoAccept();
  });
}

void PeerNetwork::Impl::OnAccepted(asio::ip::tcp::socket socket) {
  Bump(net_counters_.connections_accepted);
  const std::string remote = RemoteOf(socket);
  const std::string remote_ip = RemoteIpOf(socket);
  const char* refusal = nullptr;
  if (inbound_open_ >= config_.inbound_connections_max) {
    refusal = "too_many_connections";
  } else if (handshakes_per_address_[remote_ip] >= config_.handshakes_per_address_max) {
    refusal = "too_many_handshakes_from_address";
  }
  if (refusal != nullptr) {
    if (handshakes_per_address_[remote_ip] == 0) {
      handshakes_per_address_.erase(remote_ip);
    }
    Bump(net_counters_.refused_capacity);
    LogLine(LogLevel::kWarn, kComponent, "refused")
        .Add("self", config_.self)
        .Add("remote", remote)
        .Add("reason", refusal);
    asio::error_code ignored;
    socket.close(ignored);
    return;
  }
  asio::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  absl::StatusOr<std::unique_ptr<SslStream>> stream = MakeStream(std::move(socket), *server_tls_);
  if (!stream.ok()) {
    LogLine(LogLevel::kWarn, kComponent, "refused")
        .Add("self", config_.self)
        .Add("remote", remote)
        .Add("reason", "internal")
        .Add("detail", stream.status().message());
    return;
  }
  auto conn = std::make_shared<PeerConnection>(this, PeerConnection::Direction::kInbound,
                                               std::move(*stream), server_tls_, nullptr, remote);
  conn->set_handshake_address(remote_ip);
  ++handshakes_per_address_[remote_ip];
  ++inbound_open_;
  live_.insert(conn);
  conn->StartInbound();
}

void PeerNetwork::Impl::Dial(PeerSlot& slot) {
  if (stopping_ || slot.out_conn) {
    return;
  }
  std::string host;
  uint16_t port = 0;
  {
    std::lock_guard<std::mutex> lock(slot.mu);
    host = slot.host;
    port = slot.port;
  }
  if (port == 0 || host.empty()) {
    return;  // SetPeerAddress will dial.
  }
  absl::StatusOr<std::unique_ptr<SslStream>> stream =
      MakeStream(asio::ip::tcp::socket(io_), *client_tls_);
  if (!stream.ok()) {
    Bump(slot.counters.connect_failures);
    ScheduleRetry(slot);
    return;
  }
  auto conn = std::make_shared<PeerConnection>(this, PeerConnection::Direction::kOutbound,
                                               std::move(*stream), client_tls_, &slot,
                                               absl::StrCat(host, ":", port));
  slot.out_conn = conn;
  slot.out_established = false;
  slot.counters.outbound_up.store(false);
  live_.insert(conn);
  conn->StartOutbound(host, port);
}

void PeerNetwork::Impl::ScheduleRetry(PeerSlot& slot) {
  if (stopping_) {
    return;
  }
  ++slot.failures;
  const uint32_t shift = std::min<uint32_t>(slot.failures - 1, 16);
  const uint64_t base = std::min<uint64_t>(config_.reconnect_delay_max_ms,
                                           uint64_t{config_.reconnect_delay_min_ms} << shift);
  // Full jitter over the upper half: peers that lost each other at the same moment do
  // not all come back at the same moment.
  const uint64_t delay_ms = base / 2 + jitter_.Uniform(base / 2 + 1);
  const uint64_t generation = ++slot.retry_generation;
  slot.retry_timer.expires_after(std::chrono::milliseconds(delay_ms));
  slot.retry_timer.async_wait([this, &slot, generation](const asio::error_code& ec) {
    if (ec || stopping_ || generation != slot.retry_generation) {
      return;
    }
    Dial(slot);
  });
}

void PeerNetwork::Impl::OnConnectionClosed(const std::shared_ptr<PeerConnection>& conn) {
  live_.erase(conn);
  PeerSlot* slot = conn->slot();
  if (conn->direction() == PeerConnection::Direction::kInbound) {
    --inbound_open_;
    HandshakeDone(*conn);
    if (slot != nullptr && slot->in_conn == conn) {
      slot->in_conn.reset();
    }
    if (slot != nullptr && conn->was_established()) {
      Bump(slot->counters.disconnects);
    }
    return;
  }
  if (slot == nullptr || slot->out_conn != conn) {
    return;
  }
  slot->out_conn.reset();
  if (slot->out_established) {
    Bump(slot->counters.disconnects);
  } else {
    Bump(slot->counters.connect_failures);
  }
  slot->out_established = false;
  slot->counters.outbound_up.store(false);
  ScheduleRetry(*slot);
}

absl::StatusOr<HelloAccepted> PeerNetwork::Impl::OnInboundHello(
    const std::shared_ptr<PeerConnection>& conn, PeerSlot& slot, uint64_t incarnation) {
  absl::StatusOr<HelloAccepted> accepted = slot.receiver.OnHello(incarnation);
  if (!accepted.ok()) {
    return accepted.status();
  }
  if (accepted->restarted) {
    LogLine(LogLevel::kInfo, kComponent, "peer_restarted")
        .Add("self", config_.self)
        .Add("peer", slot.id)
        .Add("old_incarnation", accepted->previous_incarnation)
        .Add("new_incarnation", incarnation);
  }
  if (slot.in_conn && slot.in_conn != conn) {
    // The dialer gave up on the old connection (it only ever has one); so do we.
    slot.in_conn->Close("superseded", "");
  }
  slot.in_conn = conn;
  return accepted;
}

absl::Status PeerNetwork::Impl::OnOutboundHello(PeerSlot& slot, uint64_t received_seq) {
  std::lock_guard<std::mutex> lock(slot.mu);
  BELFRY_RETURN_IF_ERROR(slot.sender.OnHello(received_seq));
  UpdateQueueGauges(slot);
  slot.out_established = true;
  slot.counters.outbound_up.store(true);
  slot.failures = 0;
  Bump(slot.counters.connects);
  if (slot.ever_connected) {
    Bump(slot.counters.reconnects);
  }
  slot.ever_connected = true;
  return absl::OkStatus();
}

absl::Status PeerNetwork::Impl::OnAck(PeerSlot& slot, uint64_t seq) {
  std::lock_guard<std::mutex> lock(slot.mu);
  BELFRY_RETURN_IF_ERROR(slot.sender.OnAck(seq));
  UpdateQueueGauges(slot);
  return absl::OkStatus();
}

uint64_t PeerNetwork::Impl::FillDataBatch(PeerSlot& slot, std::string& out) {
  std::lock_guard<std::mutex> lock(slot.mu);
  const DataBatch batch = slot.sender.AppendDataFrames(out, config_.write_batch_bytes_max);
  Bump(slot.counters.messages_sent, batch.first_sends);
  Bump(slot.counters.messages_resent, batch.resends);
  return batch.frames;
}

void PeerNetwork::Impl::UpdateQueueGauges(PeerSlot& slot) {
  slot.counters.queue_messages.store(slot.sender.queue_messages(), std::memory_order_relaxed);
  slot.counters.queue_bytes.store(slot.sender.queue_bytes(), std::memory_order_relaxed);
}

void PeerNetwork::Impl::Kick(PeerSlot& slot) {
  if (slot.kick_posted.exchange(true)) {
    return;  // One wake-up already on its way covers this message too.
  }
  asio::post(io_, [this, &slot] {
    slot.kick_posted = false;
    if (!stopping_ && slot.out_conn && slot.out_established) {
      slot.out_conn->PumpWrites();
    }
  });
}

absl::Status PeerNetwork::Impl::Send(NodeId to, std::string payload) {
  PeerSlot* slot = SlotFor(to);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("no peer ", to));
  }
  if (payload.size() + kLinkDataOverheadBytes > config_.frame_bytes_max) {
    return absl::InvalidArgumentError(absl::StrCat("payload of ", payload.size(),
                                                   " bytes does not fit frame_bytes_max of ",
                                                   config_.frame_bytes_max));
  }
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (stopped_) {
      return absl::FailedPreconditionError("the network is stopped");
    }
  }
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    absl::StatusOr<uint64_t> seq = slot->sender.Enqueue(std::move(payload));
    if (!seq.ok()) {
      Bump(slot->counters.sends_refused);
      return absl::ResourceExhaustedError(absl::StrCat(
          "resend buffer for peer ", to, " is full (", slot->sender.queue_messages(),
          " messages, ", slot->sender.queue_bytes(), " bytes unacknowledged)"));
    }
    UpdateQueueGauges(*slot);
  }
  Kick(*slot);
  return absl::OkStatus();
}

void PeerNetwork::Impl::HandshakeDone(PeerConnection& conn) {
  const std::string address = conn.take_handshake_address();
  if (address.empty()) {
    return;
  }
  auto it = handshakes_per_address_.find(address);
  if (it != handshakes_per_address_.end() && --it->second == 0) {
    handshakes_per_address_.erase(it);
  }
}

std::chrono::microseconds PeerNetwork::Impl::TakeDeliveryToken(PeerSlot& slot) {
  const uint32_t override_rate = slot.rate_override.load(std::memory_order_relaxed);
  const uint32_t rate = override_rate != 0 ? override_rate : config_.messages_per_second_max;
  return std::chrono::microseconds(slot.delivery_budget.Take(rate, SteadyNowUs()));
}

void PeerNetwork::Impl::AddPaused(const std::shared_ptr<PeerConnection>& conn) {
  paused_.push_back(conn);
  paused_count_ = paused_.size();
  // Receive may have emptied the inbox between the failed push and the count above
  // without seeing a paused link; one more attempt closes that window.
  if (!resume_posted_.exchange(true)) {
    asio::post(io_, [this] { ResumePaused(); });
  }
}

void PeerNetwork::Impl::ResumePaused() {
  resume_posted_ = false;
  while (!paused_.empty() && !stopping_) {
    std::shared_ptr<PeerConnection> conn = paused_.front().lock();
    if (conn && !conn->TryResume()) {
      break;  // Still full; the next Receive tries again.
    }
    paused_.pop_front();
  }
  paused_count_ = paused_.size();
}

std::optional<Delivery> PeerNetwork::Impl::Receive(std::chrono::milliseconds timeout) {
  std::optional<Delivery> d = inbox_.Pop(timeout);
  if (d.has_value() && paused_count_.load() > 0 && !resume_posted_.exchange(true)) {
    asio::post(io_, [this] { ResumePaused(); });
  }
  return d;
}

absl::Status PeerNetwork::Impl::SetPeerAddress(NodeId id, std::string host, uint16_t port) {
  PeerSlot* slot = SlotFor(id);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("no peer ", id));
  }
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    slot->host = std::move(host);
    slot->port = port;
  }
  asio::post(io_, [this, slot] {
    if (stopping_ || slot->out_conn) {
      return;  // A live or in-progress connection keeps going; a retry uses the new address.
    }
    ++slot->retry_generation;
    slot->retry_timer.cancel();
    slot->failures = 0;
    Dial(*slot);
  });
  return absl::OkStatus();
}

void PeerNetwork::Impl::ResetLinks(NodeId peer) {
  PeerSlot* slot = SlotFor(peer);
  if (slot == nullptr) {
    return;
  }
  asio::post(io_, [slot] {
    if (slot->out_conn) {
      slot->out_conn->Close("reset", "");
    }
    if (slot->in_conn) {
      slot->in_conn->Close("reset", "");
    }
  });
}

absl::Status PeerNetwork::Impl::UpdateCredentials(TlsCredentials credentials) {
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> server =
      MakeTlsContext(credentials, TlsSide::kServer);
  if (!server.ok()) {
    return server.status();
  }
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> client =
      MakeTlsContext(credentials, TlsSide::kClient);
  if (!client.ok()) {
    return client.status();
  }
  auto apply = [this, &server, &client, &credentials] {
    server_tls_ = std::move(*server);
    client_tls_ = std::move(*client);
    ca_ = credentials.ca;
    const int64_t now = WallClockUnixSeconds();
    const std::set<std::shared_ptr<PeerConnection>> live = live_;
    for (const std::shared_ptr<PeerConnection>& conn : live) {
      if (conn->CloseIfUntrusted(*ca_, now)) {
        Bump(net_counters_.closed_untrusted);
      }
    }
  };
  absl::Status applied = RunOnIoThread(lifecycle_mu_, started_, stopped_, io_, apply);
  if (!applied.ok()) {
    return absl::FailedPreconditionError("UpdateCredentials after Stop");
  }
  LogLine(LogLevel::kInfo, kComponent, "credentials_updated").Add("self", config_.self);
  return absl::OkStatus();
}

PeerCounters PeerNetwork::Impl::Counters(NodeId peer) const {
  auto it = slots_.find(peer);
  if (it == slots_.end()) {
    return PeerCounters{};
  }
  const AtomicPeerCounters& c = it->second->counters;
  PeerCounters out;
  out.bytes_sent = c.bytes_sent.load();
  out.frames_sent = c.frames_sent.load();
  out.bytes_received = c.bytes_received.load();
  out.frames_received = c.frames_received.load();
  out.messages_sent = c.messages_sent.load();
  out.messages_resent = c.messages_resent.load();
  out.messages_delivered = c.messages_delivered.load();
  out.duplicates_dropped = c.duplicates_dropped.load();
  out.sends_refused = c.sends_refused.load();
  out.connects = c.connects.load();
  out.reconnects = c.reconnects.load();
  out.connect_failures = c.connect_failures.load();
  out.disconnects = c.disconnects.load();
  out.protocol_errors = c.protocol_errors.load();
  out.throttled = c.throttled.load();
  out.queue_messages = c.queue_messages.load();
  out.queue_bytes = c.queue_bytes.load();
  out.outbound_up = c.outbound_up.load();
  return out;
}

NetworkCounters PeerNetwork::Impl::GetNetworkCounters() const {
  NetworkCounters out;
  out.connections_accepted = net_counters_.connections_accepted.load();
  out.refused_tls = net_counters_.refused_tls.load();
  out.refused_role = net_counters_.refused_role.load();
  out.refused_identity = net_counters_.refused_identity.load();
  out.refused_capacity = net_counters_.refused_capacity.load();
  out.handshake_timeouts = net_counters_.handshake_timeouts.load();
  out.oversized_frames = net_counters_.oversized_frames.load();
  out.closed_untrusted = net_counters_.closed_untrusted.load();
  const auto [messages, bytes] = inbox_.Depth();
  out.inbox_messages = messages;
  out.inbox_bytes = bytes;
  return out;
}

// --- PeerNetwork: the public face. ---

absl::StatusOr<std::unique_ptr<PeerNetwork>> PeerNetwork::Create(PeerNetworkConfig config) {
  std::set<NodeId> ids;
  for (const PeerAddress& p : config.peers) {
    if (p.id == config.self) {
      return absl::InvalidArgumentError("a peer has this replica's own id");
    }
    if (!ids.insert(p.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("peer id ", p.id, " appears twice"));
    }
  }
  if (config.frame_bytes_max <= kLinkDataOverheadBytes ||
      config.frame_bytes_max > kFrameBytesMaxLimit || config.resend_buffer_bytes_max == 0 ||
      config.resend_buffer_messages_max == 0 || config.inbox_bytes_max == 0 ||
      config.inbox_messages_max == 0 || config.write_batch_bytes_max == 0 ||
      config.reconnect_delay_min_ms == 0 ||
      config.reconnect_delay_max_ms < config.reconnect_delay_min_ms ||
      config.handshake_timeout_ms == 0 || config.inbound_connections_max == 0 ||
      config.handshakes_per_address_max == 0) {
    return absl::InvalidArgumentError("a PeerNetwork limit is zero or out of range");
  }
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> server =
      MakeTlsContext(config.credentials, TlsSide::kServer);
  if (!server.ok()) {
    return server.status();
  }
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> client =
      MakeTlsContext(config.credentials, TlsSide::kClient);
  if (!client.ok()) {
    return client.status();
  }
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(std::move(config), std::move(*server), std::move(*client));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot create the peer network: ", e.what()));
  }
  return std::unique_ptr<PeerNetwork>(new PeerNetwork(std::move(impl)));
}

PeerNetwork::PeerNetwork(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PeerNetwork::~PeerNetwork() { impl_->Stop(); }

absl::Status PeerNetwork::Listen() { return impl_->Listen(); }
uint16_t PeerNetwork::listen_port() const { return impl_->listen_port(); }
absl::Status PeerNetwork::Start() { return impl_->Start(); }
absl::Status PeerNetwork::SetPeerAddress(NodeId id, std::string host, uint16_t port) {
  return impl_->SetPeerAddress(id, std::move(host), port);
}
absl::Status PeerNetwork::Send(NodeId to, std::string payload) {
  return impl_->Send(to, std::move(payload));
}
std::optional<Delivery> PeerNetwork::Receive(std::chrono::milliseconds timeout) {
  return impl_->Receive(timeout);
}
std::optional<Delivery> PeerNetwork::TryReceive() {
  return impl_->Receive(std::chrono::milliseconds(0));
}
void PeerNetwork::ResetLinks(NodeId peer) { impl_->ResetLinks(peer); }
absl::Status PeerNetwork::UpdateCredentials(TlsCredentials credentials) {
  return impl_->UpdateCredentials(std::move(credentials));
}
void PeerNetwork::SetPeerMessageRate(NodeId peer, uint32_t messages_per_second) {
  PeerSlot* slot = impl_->SlotFor(peer);
  if (slot != nullptr) slot->rate_override.store(messages_per_second, std::memory_order_relaxed);
}
void PeerNetwork::Stop() { impl_->Stop(); }
NodeId PeerNetwork::self() const { return impl_->config().self; }
uint64_t PeerNetwork::incarnation() const { return impl_->incarnation(); }
PeerCounters PeerNetwork::counters(NodeId peer) const { return impl_->Counters(peer); }
NetworkCounters PeerNetwork::network_counters() const { return impl_->GetNetworkCounters(); }

}  // namespace belfry::transport
