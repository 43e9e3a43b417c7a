#include "client_lib/internal/replica_link.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace belfry::client::internal {
namespace {

constexpr uint32_t kPauseFirstMs = 100;
constexpr uint32_t kPauseMaxMs = 2000;
// How long one Receive waits before the thread looks at the stop flag again.
constexpr std::chrono::milliseconds kReceivePoll{250};

}  // namespace

ReplicaLink::ReplicaLink(uint32_t replica, transport::ClientConnectionConfig config,
                         LinkListener* listener)
    : replica_(replica),
      config_(std::move(config)),
      address_(absl::StrCat(config_.host, ":", config_.port)),
      listener_(listener) {}

ReplicaLink::~ReplicaLink() { Stop(); }

void ReplicaLink::Start() { thread_ = std::thread([this] { Run(); }); }

void ReplicaLink::Stop() {
  std::shared_ptr<transport::ClientConnection> connection;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    connection = connection_;
  }
  cv_.notify_all();
  if (connection != nullptr) connection->Close();
  if (thread_.joinable()) thread_.join();
}

bool ReplicaLink::Send(const std::string& frame) {
  std::shared_ptr<transport::ClientConnection> connection;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connection = connection_;
  }
  if (connection == nullptr) return false;
  return connection->Send(frame).ok();
}

bool ReplicaLink::connected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connection_ != nullptr && connection_->is_open();
}

std::string ReplicaLink::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

bool ReplicaLink::Pause(uint32_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
  return !stopping_;
}

void ReplicaLink::Run() {
  uint32_t pause_ms = kPauseFirstMs;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    absl::StatusOr<std::unique_ptr<transport::ClientConnection>> dialed =
        transport::ClientConnection::Connect(config_);
    if (!dialed.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_error_ = std::string(dialed.status().message());
      }
      if (!Pause(pause_ms)) return;
      pause_ms = std::min(pause_ms * 2, kPauseMaxMs);
      continue;
    }
    std::shared_ptr<transport::ClientConnection> connection = std::move(*dialed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      connection_ = connection;
    }
    listener_->OnLinkUp(replica_);
    bool had_frame = false;
    for (;;) {
      absl::StatusOr<std::string> frame = connection->Receive(kReceivePoll);
      if (frame.ok()) {
        had_frame = true;
        listener_->OnLinkFrame(replica_, *std::move(frame));
        continue;
      }
      if (frame.status().code() == absl::StatusCode::kDeadlineExceeded) {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) break;
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = std::string(frame.status().message());
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      connection_.reset();
      if (stopping_) return;
    }
    // A connection that closed before saying anything is likely refused by the replica
    // (for example the user's certificate): back off as after a failed dial.
    if (had_frame) pause_ms = kPauseFirstMs;
    if (!Pause(pause_ms)) return;
    pause_ms = std::min(pause_ms * 2, kPauseMaxMs);
  }
}

}  // namespace belfry::client::internal
