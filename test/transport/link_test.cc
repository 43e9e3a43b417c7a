// Transcript tests of the sans-IO link protocol (transport/link.h): a LinkSender and a
// LinkReceiver exchange frames encoded as on the wire, with every time given explicitly.
// Each test states the rule of transport/peer_network.h it checks; PeerNetwork and the
// whole-replica simulator both run this code, so these rules hold for both.
#include "transport/link.h"

#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "proto/net.pb.h"
#include "transport/frame.h"

namespace belfry::transport {
namespace {

constexpr size_t kFrameMax = size_t{1} << 20;

// Splits bytes written on a connection into decoded link messages.
std::vector<LinkFrame> Split(const std::string& bytes) {
  std::vector<LinkFrame> out;
  FrameDecoder decoder(kFrameMax);
  ByteSpan input = AsBytes(bytes);
  while (!input.empty()) {
    absl::StatusOr<std::optional<std::string>> body = decoder.Next(input);
    REQUIRE(body.ok());
    REQUIRE(body->has_value());
    absl::StatusOr<LinkFrame> f = DecodeLinkMessage(**body);
    REQUIRE(f.ok());
    out.push_back(*std::move(f));
  }
  return out;
}

// One directed link: a sender of incarnation `incarnation`, a receiver, and the current
// connection between them. Delivered payloads are collected in `delivered`.
struct Pipe {
  explicit Pipe(size_t messages_max = 100, size_t bytes_max = 1 << 20, uint32_t ack_delay_us = 1000,
                uint32_t ack_batch = 64)
      : sender(messages_max, bytes_max), receiver(ack_delay_us, ack_batch) {}

  // A new connection: the dialer's hello, the receiver's answer, as bytes on the wire.
  // Returns the received_seq the receiver answered.
  uint64_t Connect() {
    std::string hello;
    AppendHelloFrame(incarnation, 0, hello);
    const std::vector<LinkFrame> in = Split(hello);
    REQUIRE(in.size() == 1);
    REQUIRE(in[0].kind == LinkFrame::Kind::kHello);
    absl::StatusOr<HelloAccepted> accepted = receiver.OnHello(in[0].incarnation);
    REQUIRE(accepted.ok());
    connection = accepted->connection;
    std::string answer;
    AppendHelloFrame(99, accepted->received_seq, answer);
    const std::vector<LinkFrame> back = Split(answer);
    REQUIRE(back.size() == 1);
    REQUIRE(back[0].incarnation == 99);
    REQUIRE(sender.OnHello(back[0].received_seq).ok());
    return back[0].received_seq;
  }

  // Everything the sender has due on the connection, decoded.
  std::vector<LinkFrame> Write() {
    std::string bytes;
    sender.AppendDataFrames(bytes, SIZE_MAX);
    return Split(bytes);
  }

  // The receiver reads one data frame; a kDeliver is delivered at once.
  DataVerdict Read(const LinkFrame& f) {
    REQUIRE(f.kind == LinkFrame::Kind::kData);
    const DataVerdict v = receiver.OnData(connection, f.seq);
    if (v == DataVerdict::kDeliver) {
      delivered.push_back(f.payload);
      last_ack_action = receiver.OnDelivered(f.seq, now_us);
    }
    return v;
  }

  // The ack the receiver owes now, carried to the sender as an ack frame.
  std::optional<uint64_t> CarryAck() {
    const std::optional<uint64_t> ack = receiver.TakeAck();
    if (!ack.has_value()) return std::nullopt;
    std::string bytes;
    AppendAckFrame(*ack, bytes);
    const std::vector<LinkFrame> in = Split(bytes);
    REQUIRE(in.size() == 1);
    REQUIRE(in[0].kind == LinkFrame::Kind::kAck);
    REQUIRE(sender.OnAck(in[0].seq).ok());
    return in[0].seq;
  }

  void Send(const std::string& payload) { REQUIRE(sender.Enqueue(payload).ok()); }

  LinkSender sender;
  LinkReceiver receiver;
  uint64_t incarnation = 7;
  uint64_t connection = 0;
  uint64_t now_us = 0;
  std::vector<std::string> delivered;
  std::optional<AckAction> last_ack_action;
};

using Payloads = std::vector<std::string>;

TEST_CASE("link: messages are numbered 1, 2, 3 and delivered in order; acks are cumulative",
          "[link]") {
  Pipe p;
  for (const char* m : {"a", "b", "c"}) p.Send(m);
  CHECK(p.sender.next_seq() == 4);
  CHECK(p.Connect() == 0);
  const std::vector<LinkFrame> frames = p.Write();
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].seq == 1);
  CHECK(frames[2].seq == 3);
  CHECK(p.sender.counters().messages_sent == 3);
  CHECK_FALSE(p.sender.HasUnsent());
  CHECK(p.Read(frames[0]) == DataVerdict::kDeliver);
  CHECK(p.Read(frames[1]) == DataVerdict::kDeliver);
  // One cumulative ack covers both; the third stays buffered until its own ack.
  CHECK(p.CarryAck() == 2u);
  CHECK(p.sender.queue_messages() == 1);
  CHECK(p.sender.queue_bytes() == 1);
  CHECK(p.Read(frames[2]) == DataVerdict::kDeliver);
  CHECK(p.CarryAck() == 3u);
  CHECK(p.sender.queue_messages() == 0);
  CHECK(p.delivered == Payloads{"a", "b", "c"});
  CHECK(p.receiver.counters().messages_delivered == 3);
  // An ack for a seq never written is a protocol error.
  CHECK(p.sender.OnAck(4).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("link: after a reconnect the sender resends everything after the receiver's last "
          "delivered seq",
          "[link]") {
  Pipe p;
  for (const char* m : {"a", "b", "c", "d"}) p.Send(m);
  p.Connect();
  std::vector<LinkFrame> frames = p.Write();
  REQUIRE(frames.size() == 4);
  CHECK(p.Read(frames[0]) == DataVerdict::kDeliver);
  CHECK(p.Read(frames[1]) == DataVerdict::kDeliver);
  // The connection drops before any ack and before c and d arrive.
  CHECK(p.sender.queue_messages() == 4);
  CHECK(p.Connect() == 2);  // same incarnation: the receiver remembers
  CHECK(p.sender.queue_messages() == 2);  // the answer acknowledged a and b
  frames = p.Write();
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].seq == 3);
  CHECK(frames[0].payload == "c");
  CHECK(p.sender.counters().messages_resent == 2);
  CHECK(p.sender.counters().messages_sent == 4);
  for (const LinkFrame& f : frames) CHECK(p.Read(f) == DataVerdict::kDeliver);
  CHECK(p.delivered == Payloads{"a", "b", "c", "d"});
  // A claim of a seq never sent is refused.
  CHECK(p.sender.OnHello(5).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("link: a duplicate is dropped and acknowledged at once", "[link]") {
  Pipe p;
  for (const char* m : {"a", "b"}) p.Send(m);
  p.Connect();
  const std::vector<LinkFrame> frames = p.Write();
  for (const LinkFrame& f : frames) CHECK(p.Read(f) == DataVerdict::kDeliver);
  CHECK(p.CarryAck() == 2u);
  // On the connection that acknowledged it already, a duplicate owes nothing more.
  CHECK(p.Read(frames[0]) == DataVerdict::kDuplicate);
  CHECK_FALSE(p.receiver.TakeAck().has_value());
  // On a new connection (which starts with nothing acknowledged) it owes the ack of the
  // last delivered seq at once, with no batching delay: the sender evidently missed it.
  p.Connect();
  CHECK(p.Read(frames[1]) == DataVerdict::kDuplicate);
  CHECK(p.receiver.TakeAck() == 2u);
  CHECK(p.delivered == Payloads{"a", "b"});
  CHECK(p.receiver.counters().duplicates_dropped == 2);
}

TEST_CASE("link: a gap or a zero seq is a protocol error and delivers nothing", "[link]") {
  Pipe p;
  for (const char* m : {"a", "b", "c"}) p.Send(m);
  p.Connect();
  const std::vector<LinkFrame> frames = p.Write();
  CHECK(p.Read(frames[0]) == DataVerdict::kDeliver);
  CHECK(p.Read(frames[2]) == DataVerdict::kGap);
  LinkFrame zero = frames[1];
  zero.seq = 0;
  CHECK(p.Read(zero) == DataVerdict::kZeroSeq);
  CHECK(p.receiver.last_delivered() == 1);
  CHECK(p.delivered == Payloads{"a"});
  // The transport closes the connection; the next one fills the gap.
  CHECK(p.Connect() == 1);
  for (const LinkFrame& f : p.Write()) CHECK(p.Read(f) == DataVerdict::kDeliver);
  CHECK(p.delivered == Payloads{"a", "b", "c"});
}

TEST_CASE("link: a hello from an older incarnation is refused as stale", "[link]") {
  Pipe p;
  p.incarnation = 10;
  p.Send("a");
  p.Connect();
  for (const LinkFrame& f : p.Write()) CHECK(p.Read(f) == DataVerdict::kDeliver);
  absl::StatusOr<HelloAccepted> stale = p.receiver.OnHello(9);
  CHECK(stale.status().code() == absl::StatusCode::kPermissionDenied);
  // The refusal changes nothing: the current connection and count stay.
  CHECK(p.receiver.IsCurrent(p.connection));
  CHECK(p.receiver.incarnation() == 10);
  CHECK(p.receiver.last_delivered() == 1);
}

TEST_CASE("link: a higher incarnation restarts the receiver's count and supersedes the old "
          "connection",
          "[link]") {
  Pipe p;
  p.incarnation = 10;
  for (const char* m : {"a", "b", "c"}) p.Send(m);
  p.Connect();
  const uint64_t old_connection = p.connection;
  const std::vector<LinkFrame> old_frames = p.Write();
  CHECK(p.Read(old_frames[0]) == DataVerdict::kDeliver);
  CHECK(p.Read(old_frames[1]) == DataVerdict::kDeliver);
  // The sending process restarts: a new sender, numbering from 1 again.
  p.sender = LinkSender(100, 1 << 20);
  p.incarnation = 11;
  p.Send("x");
  absl::StatusOr<HelloAccepted> accepted = p.receiver.OnHello(p.incarnation);
  REQUIRE(accepted.ok());
  CHECK(accepted->restarted);
  CHECK(accepted->previous_incarnation == 10);
  CHECK(accepted->received_seq == 0);
  p.connection = accepted->connection;
  REQUIRE(p.sender.OnHello(accepted->received_seq).ok());
  // What the old connection still carried is stale.
  CHECK_FALSE(p.receiver.IsCurrent(old_connection));
  CHECK(p.receiver.OnData(old_connection, 3) == DataVerdict::kStale);
  const std::vector<LinkFrame> frames = p.Write();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].seq == 1);
  CHECK(p.Read(frames[0]) == DataVerdict::kDeliver);
  CHECK(p.delivered == Payloads{"a", "b", "x"});
}

TEST_CASE("link: a restarted receiver answers 0 and is resent everything unacknowledged",
          "[link]") {
  Pipe p;
  for (const char* m : {"a", "b", "c", "d"}) p.Send(m);
  p.Connect();
  const std::vector<LinkFrame> frames = p.Write();
  CHECK(p.Read(frames[0]) == DataVerdict::kDeliver);
  CHECK(p.CarryAck() == 1u);
  CHECK(p.Read(frames[1]) == DataVerdict::kDeliver);  // delivered, not acknowledged
  // The receiving process restarts and knows nothing.
  p.receiver = LinkReceiver(1000, 64);
  CHECK(p.Connect() == 0);
  const std::vector<LinkFrame> resent = p.Write();
  REQUIRE(resent.size() == 3);
  CHECK(resent[0].seq == 2);  // the first seq of an incarnation may be above 1
  for (const LinkFrame& f : resent) CHECK(p.Read(f) == DataVerdict::kDeliver);
  CHECK(p.delivered == Payloads{"a", "b", "b", "c", "d"});
}

TEST_CASE("link: a full resend buffer refuses by messages with RESOURCE_EXHAUSTED and loses "
          "nothing queued",
          "[link]") {
  Pipe p(/*messages_max=*/3, /*bytes_max=*/1000);
  for (const char* m : {"a", "b", "c"}) p.Send(m);
  absl::StatusOr<uint64_t> refused = p.sender.Enqueue("d");
  CHECK(refused.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(p.sender.counters().sends_refused == 1);
  CHECK(p.sender.queue_messages() == 3);
  p.Connect();
  for (const LinkFrame& f : p.Write()) CHECK(p.Read(f) == DataVerdict::kDeliver);
  CHECK(p.delivered == Payloads{"a", "b", "c"});
  // Delivered is not enough: room comes back only with the ack.
  CHECK(p.sender.Enqueue("d").status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(p.CarryAck() == 3u);
  absl::StatusOr<uint64_t> seq = p.sender.Enqueue("d");
  REQUIRE(seq.ok());
  CHECK(*seq == 4);  // the refused sends took no seq
}

TEST_CASE("link: a full resend buffer refuses by bytes with RESOURCE_EXHAUSTED and loses "
          "nothing queued",
          "[link]") {
  Pipe p(/*messages_max=*/100, /*bytes_max=*/10);
  p.Send("12345");
  CHECK(p.sender.Enqueue("123456").status().code() == absl::StatusCode::kResourceExhausted);
  p.Send("abcde");  // exactly at the bound
  CHECK(p.sender.queue_bytes() == 10);
  CHECK(p.sender.Enqueue("x").status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(p.sender.counters().sends_refused == 2);
  p.Connect();
  for (const LinkFrame& f : p.Write()) CHECK(p.Read(f) == DataVerdict::kDeliver);
  CHECK(p.delivered == Payloads{"12345", "abcde"});
}

TEST_CASE("link: acks wait for ack_delay_us or a batch of ack_batch_messages", "[link]") {
  Pipe p(100, 1 << 20, /*ack_delay_us=*/1000, /*ack_batch=*/4);
  for (int i = 0; i < 6; ++i) p.Send(std::string(1, static_cast<char>('a' + i)));
  p.Connect();
  const std::vector<LinkFrame> frames = p.Write();
  p.now_us = 5000;
  p.Read(frames[0]);
  CHECK(p.last_ack_action == AckAction::kArmTimer);
  p.now_us = 5200;
  p.Read(frames[1]);
  CHECK(p.last_ack_action == AckAction::kWait);  // the timer armed at 5000 covers it
  CHECK_FALSE(p.receiver.AckTimerDue(5999));
  CHECK(p.receiver.AckTimerDue(6000));
  p.receiver.OnAckTimer();
  CHECK(p.CarryAck() == 2u);
  // A batch of 4 unacknowledged deliveries is acknowledged at once, timer or not.
  p.Read(frames[2]);
  CHECK(p.last_ack_action == AckAction::kArmTimer);
  p.Read(frames[3]);
  p.Read(frames[4]);
  CHECK(p.last_ack_action == AckAction::kWait);
  p.Read(frames[5]);
  CHECK(p.last_ack_action == AckAction::kWriteNow);
  CHECK(p.CarryAck() == 6u);
  CHECK_FALSE(p.receiver.TakeAck().has_value());

  // ack_delay_us 0: every delivery is acknowledged at once.
  Pipe eager(100, 1 << 20, /*ack_delay_us=*/0, /*ack_batch=*/64);
  eager.Send("a");
  eager.Connect();
  eager.Read(eager.Write()[0]);
  CHECK(eager.last_ack_action == AckAction::kWriteNow);
}

TEST_CASE("link: a new connection starts with no ack owed and no timer", "[link]") {
  Pipe p;
  p.Send("a");
  p.Connect();
  p.Read(p.Write()[0]);
  CHECK(p.last_ack_action == AckAction::kArmTimer);
  p.Connect();  // the hello answer carries seq 1 instead
  CHECK_FALSE(p.receiver.TakeAck().has_value());
  CHECK_FALSE(p.receiver.AckTimerDue(UINT64_MAX));
}

TEST_CASE("link: the token bucket paces deliveries at messages_per_second_max", "[link]") {
  TokenBucket b;
  constexpr uint32_t kRate = 10;
  // A second's burst at the start.
  for (int i = 0; i < 10; ++i) CHECK(b.Take(kRate, 1'000'000) == 0);
  CHECK(b.WaitUs(kRate, 1'000'000) == 100'001);
  // Over budget: the token is spent already and the caller holds the message 0.1 s.
  CHECK(b.Take(kRate, 1'000'000) == 100'001);
  CHECK(b.WaitUs(kRate, 1'100'000) > 0);
  CHECK(b.WaitUs(kRate, 1'200'000) == 0);
  CHECK(b.Take(kRate, 1'200'000) == 0);
  CHECK(b.Take(kRate, 1'200'000) == 100'001);
  // Idle time refills at most one second's worth.
  TokenBucket idle;
  CHECK(idle.Take(kRate, 0) == 0);
  int free_takes = 0;
  while (idle.Take(kRate, 100'000'000) == 0) ++free_takes;
  CHECK(free_takes == 10);
  // Rate 0: unlimited.
  TokenBucket unlimited;
  for (int i = 0; i < 1000; ++i) CHECK(unlimited.Take(0, 0) == 0);
}

TEST_CASE("link: frames keep the wire format of proto/net.proto", "[link]") {
  // The dialer's hello is a LinkMessage with only the incarnation set.
  pb::LinkMessage hello;
  hello.mutable_hello()->set_incarnation(12345);
  std::string expected;
  const FrameHeader h = EncodeFrameHeader(static_cast<uint32_t>(hello.ByteSizeLong()));
  expected.append(reinterpret_cast<const char*>(h.data()), h.size());
  expected += hello.SerializeAsString();
  std::string got;
  AppendHelloFrame(12345, 0, got);
  CHECK(got == expected);

  std::string data;
  AppendDataFrame(42, std::string("pay\0load", 8), data);
  absl::StatusOr<LinkFrame> f = DecodeLinkFrame(data, kFrameMax);
  REQUIRE(f.ok());
  CHECK(f->kind == LinkFrame::Kind::kData);
  CHECK(f->seq == 42);
  CHECK(f->payload == std::string("pay\0load", 8));
  CHECK(data.size() <= 8 + kLinkDataOverheadBytes + kFrameHeaderBytes);

  CHECK(DecodeLinkFrame(data, 4).status().code() == absl::StatusCode::kOutOfRange);
  CHECK(DecodeLinkFrame(data.substr(0, data.size() - 1), kFrameMax).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(DecodeLinkMessage("\xff\xff\xff").status().code() == absl::StatusCode::kInvalidArgument);
  absl::StatusOr<LinkFrame> empty = DecodeLinkMessage("");
  REQUIRE(empty.ok());
  CHECK(empty->kind == LinkFrame::Kind::kNone);
}

}  // namespace
}  // namespace belfry::transport
