// transport/link.h — the reliability protocol of one directed peer link, without I/O.
//
// How it works. A directed link i -> j carries i's messages to j. The sending side
// (LinkSender) numbers them 1, 2, 3, ... for the life of its process and keeps each one in
// a resend buffer, bounded in messages and bytes, until the receiver acknowledges it
// (acks are cumulative). Every new connection starts with hellos: the sender gives its
// incarnation, the receiving side (LinkReceiver) answers with the last sequence number it
// delivered from that incarnation, and the sender resends everything after it. The
// receiver delivers each sequence number exactly once and in order, drops duplicates (and
// acknowledges again), and treats a gap or a zero as a protocol error (the transport
// closes the connection; the resend on the next one fills the gap). A higher incarnation
// means the sender restarted: the receiver's count starts over. A lower one is a stale
// connection and is refused. Acks are batched: written at once when ack_batch_messages
// deliveries are unacknowledged, else when a timer of ack_delay_us set by the first of
// them fires. TokenBucket paces one peer's deliveries (messages_per_second_max).
//
// Nothing here does I/O, reads a clock, starts a thread or draws a random number: the
// caller passes bytes and times in and acts on what comes back. PeerNetwork
// (peer_network.h) drives these classes from its sockets and timers; the whole-replica
// simulator (test/replica_sim) drives the same classes from its scheduler, so both run one
// implementation of the link semantics. The Append*Frame and DecodeLink* functions are
// the link's wire format (a 4-byte length, then a pb::LinkMessage; proto/net.proto).
//
// Thread-safety: none of these classes is thread-safe; the caller serializes access.
#ifndef BELFRY_TRANSPORT_LINK_H_
#define BELFRY_TRANSPORT_LINK_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry::transport {

// Bytes a LinkMessage{data{seq, payload}} adds around its payload: three tags, two length
// varints (<= 5 bytes each) and the seq varint (<= 10 bytes). A payload fits a frame of
// frame_bytes_max when payload size + this <= frame_bytes_max.
inline constexpr size_t kLinkDataOverheadBytes = 32;

// Defaults of the ack batching (PeerNetworkConfig::ack_delay_us, ack_batch_messages).
inline constexpr uint32_t kDefaultAckDelayUs = 1000;
inline constexpr uint32_t kDefaultAckBatchMessages = 64;

// ------------------------------------------------------------------ wire format

// Appends one frame (4-byte length + pb::LinkMessage) to `out`. A hello from the dialer
// has received_seq 0 (the field is then absent on the wire, as proto3 omits zeros).
void AppendHelloFrame(uint64_t incarnation, uint64_t received_seq, std::string& out);
void AppendDataFrame(uint64_t seq, std::string_view payload, std::string& out);
void AppendAckFrame(uint64_t seq, std::string& out);

// One decoded link message.
struct LinkFrame {
  enum class Kind : uint8_t {
    kNone,   // a well-formed LinkMessage with no kind set
    kHello,
    kData,
    kAck,
  };
  Kind kind = Kind::kNone;
  uint64_t incarnation = 0;   // kHello
  uint64_t received_seq = 0;  // kHello (the receiver's answer)
  uint64_t seq = 0;           // kData, kAck
  std::string payload;        // kData
};

// Decodes a frame body (the bytes after the length). INVALID_ARGUMENT if it does not
// parse as a pb::LinkMessage. Untrusted input: never crashes, never allocates more than
// the body's size.
absl::StatusOr<LinkFrame> DecodeLinkMessage(std::string_view body);

// Decodes one whole frame (length + body), e.g. a frame a simulator kept as one string.
// OUT_OF_RANGE for a length over frame_bytes_max; INVALID_ARGUMENT if the length does not
// match the bytes or the body does not parse.
absl::StatusOr<LinkFrame> DecodeLinkFrame(std::string_view frame, size_t frame_bytes_max);

// ------------------------------------------------------------------ sending side

// Counters of one LinkSender (its life: one process's incarnation).
struct LinkSenderCounters {
  uint64_t messages_sent = 0;    // first transmissions
  uint64_t messages_resent = 0;  // transmissions of a seq already sent once
  uint64_t sends_refused = 0;    // Enqueue returned RESOURCE_EXHAUSTED
};

// What one AppendDataFrames call wrote.
struct DataBatch {
  uint64_t frames = 0;
  uint64_t first_sends = 0;  // frames of seqs never sent before
  uint64_t resends = 0;      // frames of seqs sent on an earlier connection
};

// LinkSender: the outgoing side of one directed link for one incarnation of the sending
// process (a restarted process starts a new one: the old buffer is gone, seqs restart at
// 1). Owns the resend buffer. A connection's life: OnHello (the receiver's answer), then
// AppendDataFrames whenever the connection can write, OnAck for every ack read.
class LinkSender {
 public:
  // Limits of the resend buffer (both at least 1, checked).
  LinkSender(size_t resend_buffer_messages_max, size_t resend_buffer_bytes_max);

  // Queues `payload` and returns its seq. RESOURCE_EXHAUSTED (counted; the payload is not
  // queued) when the buffer already holds resend_buffer_messages_max messages or the
  // payload would take it over resend_buffer_bytes_max. Nothing queued earlier is lost.
  absl::StatusOr<uint64_t> Enqueue(std::string payload);

  // A new connection's receiver answered the hello with the last seq it delivered from
  // this incarnation: drops everything up to it and rewinds the send cursor to the oldest
  // message still unacknowledged. INVALID_ARGUMENT (a protocol error: the connection must
  // be closed) if it claims a seq never enqueued.
  absl::Status OnHello(uint64_t received_seq);

  // A cumulative ack read on the current connection: drops every message <= seq.
  // INVALID_ARGUMENT (a protocol error) for an ack beyond the last seq written on it.
  absl::Status OnAck(uint64_t seq);

  // Appends data frames from the send cursor onwards to `out`, while `out` is shorter
  // than out_bytes_max and fewer than frames_max frames were appended (at least one frame
  // if any is due and `out` starts shorter than out_bytes_max), and advances the cursor.
  DataBatch AppendDataFrames(std::string& out, size_t out_bytes_max,
                             size_t frames_max = SIZE_MAX);

  // Whether a message waits to be written on the current connection.
  bool HasUnsent() const;

  size_t queue_messages() const { return unacked_.size(); }
  size_t queue_bytes() const { return unacked_bytes_; }
  uint64_t next_seq() const { return next_seq_; }
  const LinkSenderCounters& counters() const { return counters_; }

 private:
  struct Pending {
    uint64_t seq;
    std::string payload;
  };
  void DropThrough(uint64_t seq);

  size_t messages_max_;
  size_t bytes_max_;
  std::deque<Pending> unacked_;  // consecutive seqs, ascending
  size_t unacked_bytes_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t send_cursor_ = 1;  // next seq to write on the current connection
  uint64_t highest_sent_ = 0;
  LinkSenderCounters counters_;
};

// ------------------------------------------------------------------ receiving side

// The receiver's answer to an accepted hello.
struct HelloAccepted {
  uint64_t received_seq = 0;  // to put in the answering hello
  // Identifies this connection to OnData/IsCurrent: a later hello supersedes it.
  uint64_t connection = 0;
  bool restarted = false;  // a higher incarnation than the one known: the count restarted
  uint64_t previous_incarnation = 0;  // when `restarted`
};

// What to do with a data frame.
enum class DataVerdict : uint8_t {
  kDeliver,    // the next seq: deliver it, then call OnDelivered
  kDuplicate,  // delivered already: dropped (counted); write the ack (TakeAck) at once
  kZeroSeq,    // protocol error: close the connection
  kGap,        // protocol error (a seq skipped): close the connection
  kStale,      // from a superseded connection: close it, not a protocol error
};

// What to do about the ack after a delivery.
enum class AckAction : uint8_t {
  kWriteNow,  // a batch is due (or acks are not delayed): write TakeAck() now
  kArmTimer,  // arm a timer for ack_delay_us; on expiry call OnAckTimer, then TakeAck
  kWait,      // a timer is armed already; it covers this delivery too
};

// Counters of one LinkReceiver.
struct LinkReceiverCounters {
  uint64_t messages_delivered = 0;
  uint64_t duplicates_dropped = 0;
};

// LinkReceiver: the incoming side of one directed link in the receiving process; it
// outlives connections (the last delivered seq of the sender's incarnation survives a
// reconnect) but not the process (a restarted receiver starts with nothing known, answers
// 0, and so is resent everything still unacknowledged).
class LinkReceiver {
 public:
  // ack_batch_messages 0 behaves as 1; ack_delay_us 0 writes every ack at once.
  LinkReceiver(uint32_t ack_delay_us, uint32_t ack_batch_messages);

  // A new connection's hello from the sender's `incarnation`. PERMISSION_DENIED for an
  // incarnation older than the one known (a stale connection: refuse it). Otherwise the
  // connection becomes the current one (any earlier connection is superseded) and its ack
  // state starts empty.
  absl::StatusOr<HelloAccepted> OnHello(uint64_t incarnation);

  // Checks data frame `seq` read on `connection`. A kDeliver changes nothing yet: the
  // caller hands the payload on (perhaps after holding it for pacing or for room) and then
  // calls OnDelivered(seq), so a message lost before that is resent. kDuplicate owes an
  // ack at once.
  DataVerdict OnData(uint64_t connection, uint64_t seq);

  // `seq` (a kDeliver) went to the layer above at `now_us`: it is now the last
  // delivered, and owed an ack. Says when to write the ack.
  AckAction OnDelivered(uint64_t seq, uint64_t now_us);

  // The ack timer armed after kArmTimer fired (or was cancelled with its connection).
  void OnAckTimer();
  // Whether an armed ack timer (kArmTimer at time t) has expired at `now_us`, i.e.
  // now_us >= t + ack_delay_us; for a caller that polls instead of arming timers, which
  // then calls OnAckTimer and TakeAck.
  bool AckTimerDue(uint64_t now_us) const;

  // The cumulative ack to write now, if one is owed on the current connection (then it is
  // counted as written).
  std::optional<uint64_t> TakeAck();

  // Whether `connection` is still the current one.
  bool IsCurrent(uint64_t connection) const { return known_ && connection == connection_; }

  bool known() const { return known_; }
  uint64_t incarnation() const { return incarnation_; }
  uint64_t last_delivered() const { return last_seq_; }
  const LinkReceiverCounters& counters() const { return counters_; }

 private:
  uint32_t ack_delay_us_;
  uint32_t ack_batch_messages_;
  bool known_ = false;
  uint64_t incarnation_ = 0;
  bool started_ = false;  // a seq was delivered from this incarnation
  uint64_t last_seq_ = 0;
  uint64_t connection_ = 0;
  // Ack state of the current connection.
  uint64_t pending_ack_ = 0;
  uint64_t sent_ack_ = 0;
  std::optional<uint64_t> ack_timer_due_us_;  // armed
  LinkReceiverCounters counters_;
};

// ------------------------------------------------------------------ pacing

// TokenBucket: at most `rate` deliveries per second from one peer, with a burst of one
// second's worth (the bucket starts full). The rate is passed on every call so that an
// override (PeerNetwork::SetPeerMessageRate) applies at once.
class TokenBucket {
 public:
  // Takes one token at `now_us` (a monotonic time in microseconds). Returns 0 if one was
  // there, else the microseconds until it is (the token is spent already: the caller
  // holds the message that long). rate 0: unlimited, always 0.
  uint64_t Take(uint32_t rate, uint64_t now_us);

  // How long until Take(rate, now_us) would return 0, without taking anything.
  uint64_t WaitUs(uint32_t rate, uint64_t now_us) const;

 private:
  double TokensAt(uint32_t rate, uint64_t now_us) const;

  double tokens_ = 0;
  uint64_t at_us_ = 0;
  bool started_ = false;
};

}  // namespace belfry::transport

#endif  // BELFRY_TRANSPORT_LINK_H_
