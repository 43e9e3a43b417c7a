#include "transport/link.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "proto/net.pb.h"
#include "transport/frame.h"

namespace belfry::transport {
namespace {

void AppendMessage(const pb::LinkMessage& msg, std::string& out) {
  const FrameHeader h = EncodeFrameHeader(static_cast<uint32_t>(msg.ByteSizeLong()));
  out.append(reinterpret_cast<const char*>(h.data()), h.size());
  msg.AppendToString(&out);
}

}  // namespace

void AppendHelloFrame(uint64_t incarnation, uint64_t received_seq, std::string& out) {
  pb::LinkMessage msg;
  msg.mutable_hello()->set_incarnation(incarnation);
  msg.mutable_hello()->set_received_seq(received_seq);
  AppendMessage(msg, out);
}

void AppendDataFrame(uint64_t seq, std::string_view payload, std::string& out) {
  pb::LinkMessage msg;
  msg.mutable_data()->set_seq(seq);
  msg.mutable_data()->set_payload(std::string(payload));
  AppendMessage(msg, out);
}

void AppendAckFrame(uint64_t seq, std::string& out) {
  pb::LinkMessage msg;
  msg.mutable_ack()->set_seq(seq);
  AppendMessage(msg, out);
}

absl::StatusOr<LinkFrame> DecodeLinkMessage(std::string_view body) {
  pb::LinkMessage msg;
  if (!msg.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return absl::InvalidArgumentError("malformed link message");
  }
  LinkFrame f;
  switch (msg.kind_case()) {
    case pb::LinkMessage::kHello:
      f.kind = LinkFrame::Kind::kHello;
      f.incarnation = msg.hello().incarnation();
      f.received_seq = msg.hello().received_seq();
      break;
    case pb::LinkMessage::kData:
      f.kind = LinkFrame::Kind::kData;
      f.seq = msg.data().seq();
      f.payload = std::move(*msg.mutable_data()->mutable_payload());
      break;
    case pb::LinkMessage::kAck:
      f.kind = LinkFrame::Kind::kAck;
      f.seq = msg.ack().seq();
      break;
    case pb::LinkMessage::KIND_NOT_SET:
      break;
  }
  return f;
}

absl::StatusOr<LinkFrame> DecodeLinkFrame(std::string_view frame, size_t frame_bytes_max) {
  if (frame.size() < kFrameHeaderBytes) {
    return absl::InvalidArgumentError("a link frame is shorter than its header");
  }
  absl::StatusOr<uint32_t> len = DecodeFrameHeader(
      ByteSpan(reinterpret_cast<const uint8_t*>(frame.data()), kFrameHeaderBytes), frame_bytes_max);
  if (!len.ok()) {
    return len.status();
  }
  if (*len != frame.size() - kFrameHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a link frame announces ", *len, " bytes but has ",
                                                   frame.size() - kFrameHeaderBytes));
  }
  return DecodeLinkMessage(frame.substr(kFrameHeaderBytes));
}

// ------------------------------------------------------------------ LinkSender

LinkSender::LinkSender(size_t resend_buffer_messages_max, size_t resend_buffer_bytes_max)
    : messages_max_(resend_buffer_messages_max), bytes_max_(resend_buffer_bytes_max) {
  BELFRY_CHECK(messages_max_ > 0 && bytes_max_ > 0);
}

absl::StatusOr<uint64_t> LinkSender::Enqueue(std::string payload) {
  if (unacked_.size() >= messages_max_ || unacked_bytes_ + payload.size() > bytes_max_) {
    ++counters_.sends_refused;
    return absl::ResourceExhaustedError(absl::StrCat("resend buffer is full (", unacked_.size(),
                                                     " messages, ", unacked_bytes_,
                                                     " bytes unacknowledged)"));
  }
  const uint64_t seq = next_seq_++;
  unacked_bytes_ += payload.size();
  unacked_.push_back(Pending{seq, std::move(payload)});
  return seq;
}

void LinkSender::DropThrough(uint64_t seq) {
  while (!unacked_.empty() && unacked_.front().seq <= seq) {
    unacked_bytes_ -= unacked_.front().payload.size();
    unacked_.pop_front();
  }
}

absl::Status LinkSender::OnHello(uint64_t received_seq) {
  if (received_seq >= next_seq_) {
    return absl::InvalidArgumentError(absl::StrCat("peer claims seq ", received_seq, " but only ",
                                                   next_seq_ - 1, " were sent"));
  }
  DropThrough(received_seq);
  send_cursor_ = unacked_.empty() ? next_seq_ : unacked_.front().seq;
  return absl::OkStatus();
}

absl::Status LinkSender::OnAck(uint64_t seq) {
  if (seq >= send_cursor_) {
    return absl::InvalidArgumentError(
        absl::StrCat("ack ", seq, " beyond the last seq sent ", send_cursor_ - 1));
  }
  DropThrough(seq);
  return absl::OkStatus();
}

DataBatch LinkSender::AppendDataFrames(std::string& out, size_t out_bytes_max, size_t frames_max) {
  DataBatch batch;
  if (unacked_.empty()) {
    return batch;
  }
  const uint64_t front = unacked_.front().seq;
  // Acked while the cursor pointed below them (an ack can only cover what was written,
  // so this happens only after the cursor was rewound by a hello).
  send_cursor_ = std::max(send_cursor_, front);
  for (size_t i = send_cursor_ - front;
       i < unacked_.size() && out.size() < out_bytes_max && batch.frames < frames_max; ++i) {
    const Pending& m = unacked_[i];
    AppendDataFrame(m.seq, m.payload, out);
    if (m.seq <= highest_sent_) {
      ++batch.resends;
      ++counters_.messages_resent;
    } else {
      ++batch.first_sends;
      ++counters_.messages_sent;
      highest_sent_ = m.seq;
    }
    send_cursor_ = m.seq + 1;
    ++batch.frames;
  }
  return batch;
}

bool LinkSender::HasUnsent() const {
  return !unacked_.empty() && send_cursor_ <= unacked_.back().seq;
}

// ------------------------------------------------------------------ LinkReceiver

LinkReceiver::LinkReceiver(uint32_t ack_delay_us, uint32_t ack_batch_messages)
    : ack_delay_us_(ack_delay_us), ack_batch_messages_(std::max<uint32_t>(ack_batch_messages, 1)) {}

absl::StatusOr<HelloAccepted> LinkReceiver::OnHello(uint64_t incarnation) {
  if (known_ && incarnation < incarnation_) {
    return absl::PermissionDeniedError(
        absl::StrCat("incarnation ", incarnation, " is older than ", incarnation_));
  }
  HelloAccepted out;
  if (!known_ || incarnation > incarnation_) {
    out.restarted = known_;
    out.previous_incarnation = incarnation_;
    known_ = true;
    incarnation_ = incarnation;
    started_ = false;
    last_seq_ = 0;
  }
  ++connection_;
  pending_ack_ = 0;
  sent_ack_ = 0;
  ack_timer_due_us_.reset();
  out.connection = connection_;
  out.received_seq = last_seq_;
  return out;
}

DataVerdict LinkReceiver::OnData(uint64_t connection, uint64_t seq) {
  if (!IsCurrent(connection)) {
    return DataVerdict::kStale;
  }
  if (seq == 0) {
    return DataVerdict::kZeroSeq;
  }
  if (started_ && seq <= last_seq_) {
    // Resent after a reconnect but delivered already: the sender missed the ack.
    ++counters_.duplicates_dropped;
    pending_ack_ = std::max(pending_ack_, last_seq_);
    return DataVerdict::kDuplicate;
  }
  if (started_ && seq != last_seq_ + 1) {
    return DataVerdict::kGap;
  }
  // The first seq from an incarnation may be above 1: the receiver restarted and the
  // sender's buffer starts where the previous receiver's acks left it.
  return DataVerdict::kDeliver;
}

AckAction LinkReceiver::OnDelivered(uint64_t seq, uint64_t now_us) {
  BELFRY_CHECK(!started_ || seq == last_seq_ + 1);
  started_ = true;
  last_seq_ = seq;
  ++counters_.messages_delivered;
  pending_ack_ = seq;
  if (pending_ack_ - sent_ack_ >= ack_batch_messages_ || ack_delay_us_ == 0) {
    return AckAction::kWriteNow;
  }
  if (ack_timer_due_us_.has_value()) {
    return AckAction::kWait;
  }
  ack_timer_due_us_ = now_us + ack_delay_us_;
  return AckAction::kArmTimer;
}

void LinkReceiver::OnAckTimer() { ack_timer_due_us_.reset(); }

bool LinkReceiver::AckTimerDue(uint64_t now_us) const {
  return ack_timer_due_us_.has_value() && now_us >= *ack_timer_due_us_;
}

std::optional<uint64_t> LinkReceiver::TakeAck() {
  if (pending_ack_ <= sent_ack_) {
    return std::nullopt;
  }
  sent_ack_ = pending_ack_;
  return sent_ack_;
}

// ------------------------------------------------------------------ TokenBucket

double TokenBucket::TokensAt(uint32_t rate, uint64_t now_us) const {
  if (!started_) {
    return rate;  // a full second's burst to start with
  }
  const uint64_t elapsed_us = now_us > at_us_ ? now_us - at_us_ : 0;
  return std::min<double>(rate, tokens_ + static_cast<double>(elapsed_us) * rate / 1e6);
}

uint64_t TokenBucket::Take(uint32_t rate, uint64_t now_us) {
  if (rate == 0) {
    return 0;
  }
  tokens_ = TokensAt(rate, now_us) - 1;
  started_ = true;
  at_us_ = std::max(at_us_, now_us);
  if (tokens_ >= 0) {
    return 0;
  }
  return static_cast<uint64_t>(-tokens_ * 1e6 / rate) + 1;
}

uint64_t TokenBucket::WaitUs(uint32_t rate, uint64_t now_us) const {
  if (rate == 0) {
    return 0;
  }
  const double after = TokensAt(rate, now_us) - 1;
  if (after >= 0) {
    return 0;
  }
  return static_cast<uint64_t>(-after * 1e6 / rate) + 1;
}

}  // namespace belfry::transport
