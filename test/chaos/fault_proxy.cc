#include "test/chaos/fault_proxy.h"

#include <array>
#include <asio.hpp>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/rng.h"

namespace belfry::chaos {
namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

constexpr size_t kReadBytes = 16 * 1024;
constexpr size_t kQueuedBytesMax = size_t{1} << 20;

class Link;

// One proxied connection: the dialer's socket and the upstream socket, with one pump per
// direction. Lives while a handler holds it.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Link* link, tcp::socket down, asio::io_context& io)
      : link_(link), sockets_{std::move(down), tcp::socket(io)}, timers_{asio::steady_timer(io), asio::steady_timer(io)} {}

  void Start(uint16_t target_port);
  // Aborts both sides with RST (SO_LINGER 0), as a broken network would.
  void Abort();
  bool closed() const { return closed_; }
  // Drops what waits to be written (blackhole switched on).
  void DropQueued();

 private:
  struct Chunk {
    Clock::time_point due;
    std::string bytes;
  };
  struct Pump {
    std::deque<Chunk> queue;
    size_t queued_bytes = 0;
    bool reading = false;
    bool writing = false;
    Clock::time_point last_due{};
    Clock::time_point bandwidth_free{};
    std::array<char, kReadBytes> buf{};
  };

  void Read(int dir);
  void Enqueue(int dir, const char* data, size_t size);
  void Write(int dir);
  void Close();

  Link* link_;
  std::array<tcp::socket, 2> sockets_;  // 0: the dialer (down), 1: upstream
  std::array<asio::steady_timer, 2> timers_;
  std::array<Pump, 2> pumps_;  // pump d reads sockets_[d] and writes sockets_[1 - d]
  bool closed_ = false;
};

class Link {
 public:
  Link(asio::io_context& io, LinkSpec spec, uint64_t seed)
      : io_(io), spec_(spec), acceptor_(io), reset_timer_(io), rng_(seed) {}

  absl::Status Listen() {
    asio::error_code ec;
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), spec_.listen_port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("proxy ", spec_.from, "->", spec_.to, " on port ",
                                                 spec_.listen_port, ": ", ec.message()));
    }
    return absl::OkStatus();
  }

  void Accept() {
    acceptor_.async_accept([this](asio::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec != asio::error::operation_aborted) Accept();
        return;
      }
      ++stats_.connections;
      if (faults_.mode == LinkFaults::Mode::kRefuse) {
        AbortSocket(socket);
        ++stats_.resets;
      } else {
        auto conn = std::make_shared<Conn>(this, std::move(socket), io_);
        conns_.insert(conn);
        conn->Start(spec_.target_port);
      }
      Accept();
    });
  }

  void Set(const LinkFaults& faults) {
    const LinkFaults old = faults_;
    faults_ = faults;
    if (faults.mode == LinkFaults::Mode::kRefuse) {
      AbortAll();
    } else if (faults.mode == LinkFaults::Mode::kBlackhole && old.mode != LinkFaults::Mode::kBlackhole) {
      for (const auto& c : conns_) c->DropQueued();
    }
    if (faults.reset_interval_ms != old.reset_interval_ms) {
      reset_timer_.cancel();
      if (faults.reset_interval_ms != 0) ScheduleReset();
    }
  }

  void Stop() {
    asio::error_code ignored;
    acceptor_.close(ignored);
    reset_timer_.cancel();
    AbortAll();
  }

  void Forget(const std::shared_ptr<Conn>& conn) { conns_.erase(conn); }

  static void AbortSocket(tcp::socket& s) {
    asio::error_code ignored;
    s.set_option(asio::socket_base::linger(true, 0), ignored);
    s.close(ignored);
  }

  const LinkFaults& faults() const { return faults_; }
  LinkStats& stats() { return stats_; }
  const LinkSpec& spec() const { return spec_; }
  DeterministicRng& rng() { return rng_; }

 private:
  void AbortAll() {
    std::set<std::shared_ptr<Conn>> conns = conns_;
    for (const auto& c : conns) {
      if (!c->closed()) ++stats_.resets;
      c->Abort();
    }
    conns_.clear();
  }

  void ScheduleReset() {
    const uint64_t mean = faults_.reset_interval_ms;
    const uint64_t wait = mean / 2 + rng_.Uniform(mean + 1);
    reset_timer_.expires_after(std::chrono::milliseconds(wait));
    reset_timer_.async_wait([this](asio::error_code ec) {
      if (ec || faults_.reset_interval_ms == 0) return;
      AbortAll();
      ScheduleReset();
    });
  }

  asio::io_context& io_;
  LinkSpec spec_;
  tcp::acceptor acceptor_;
  asio::steady_timer reset_timer_;
  DeterministicRng rng_;
  LinkFaults faults_;
  LinkStats stats_;
  std::set<std::shared_ptr<Conn>> conns_;
};

void Conn::Start(uint16_t target_port) {
  asio::error_code ignored;
  sockets_[0].set_option(tcp::no_delay(true), ignored);
  const tcp::endpoint up(asio::ip::make_address("127.0.0.1"), target_port);
  sockets_[1].async_connect(up, [self = shared_from_this()](asio::error_code ec) {
    if (self->closed_) return;
    if (ec) {
      self->Abort();
      return;
    }
    asio::error_code ignored_nodelay;
    self->sockets_[1].set_option(tcp::no_delay(true), ignored_nodelay);
    self->Read(0);
    self->Read(1);
  });
}

void Conn::Read(int dir) {
  Pump& p = pumps_[static_cast<size_t>(dir)];
  if (closed_ || p.reading || p.queued_bytes > kQueuedBytesMax) return;
  p.reading = true;
  sockets_[static_cast<size_t>(dir)].async_read_some(
      asio::buffer(p.buf), [self = shared_from_this(), dir](asio::error_code ec, size_t n) {
        Pump& pump = self->pumps_[static_cast<size_t>(dir)];
        pump.reading = false;
        if (self->closed_) return;
        if (ec) {
          self->Close();
          return;
        }
        if (self->link_->faults().mode == LinkFaults::Mode::kBlackhole) {
          self->link_->stats().bytes_dropped += n;
        } else {
          self->Enqueue(dir, pump.buf.data(), n);
        }
        self->Read(dir);
      });
}

void Conn::Enqueue(int dir, const char* data, size_t size) {
  Pump& p = pumps_[static_cast<size_t>(dir)];
  const LinkFaults& f = link_->faults();
  DeterministicRng& rng = link_->rng();
  const Clock::time_point now = Clock::now();
  size_t offset = 0;
  while (offset < size) {
    size_t take = size - offset;
    if (f.slice_bytes != 0) take = std::min<size_t>(take, 1 + rng.Uniform(f.slice_bytes));
    int64_t delay_us = int64_t{f.latency_ms} * 1000;
    if (f.jitter_ms != 0) {
      delay_us += static_cast<int64_t>(rng.Uniform(2 * uint64_t{f.jitter_ms} * 1000 + 1)) -
                  int64_t{f.jitter_ms} * 1000;
    }
    Clock::time_point due = now + std::chrono::microseconds(std::max<int64_t>(0, delay_us));
    due = std::max(due, p.last_due);  // never reorder within a direction
    if (f.bandwidth_bytes_per_s != 0) {
      const auto cost = std::chrono::microseconds(take * 1'000'000 / f.bandwidth_bytes_per_s);
      p.bandwidth_free = std::max(p.bandwidth_free, due) + cost;
      due = p.bandwidth_free;
    }
    p.last_due = due;
    p.queue.push_back(Chunk{due, std::string(data + offset, take)});
    p.queued_bytes += take;
    offset += take;
  }
  Write(dir);
}

void Conn::Write(int dir) {
  Pump& p = pumps_[static_cast<size_t>(dir)];
  if (closed_ || p.writing || p.queue.empty()) return;
  p.writing = true;
  const size_t out = 1 - static_cast<size_t>(dir);
  if (p.queue.front().due > Clock::now()) {
    timers_[static_cast<size_t>(dir)].expires_at(p.queue.front().due);
    timers_[static_cast<size_t>(dir)].async_wait([self = shared_from_this(), dir](asio::error_code) {
      self->pumps_[static_cast<size_t>(dir)].writing = false;
      self->Write(dir);
    });
    return;
  }
  asio::async_write(sockets_[out], asio::buffer(p.queue.front().bytes),
                    [self = shared_from_this(), dir](asio::error_code ec, size_t n) {
                      Pump& pump = self->pumps_[static_cast<size_t>(dir)];
                      pump.writing = false;
                      if (self->closed_) return;
                      if (ec) {
                        self->Close();
                        return;
                      }
                      self->link_->stats().bytes_forwarded += n;
                      pump.queued_bytes -= pump.queue.front().bytes.size();
                      pump.queue.pop_front();
                      self->Read(dir);  // resumes a direction paused by the byte bound
                      self->Write(dir);
                    });
}

void Conn::DropQueued() {
  for (Pump& p : pumps_) {
    // A write in progress keeps its chunk; the rest is dropped.
    while (p.queue.size() > (p.writing ? 1u : 0u)) {
      link_->stats().bytes_dropped += p.queue.back().bytes.size();
      p.queued_bytes -= p.queue.back().bytes.size();
      p.queue.pop_back();
    }
  }
}

void Conn::Close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ignored;
  for (tcp::socket& s : sockets_) s.close(ignored);
  for (asio::steady_timer& t : timers_) t.cancel();
  link_->Forget(shared_from_this());
}

void Conn::Abort() {
  if (closed_) return;
  closed_ = true;
  for (tcp::socket& s : sockets_) Link::AbortSocket(s);
  for (asio::steady_timer& t : timers_) t.cancel();
  link_->Forget(shared_from_this());
}

}  // namespace

class FaultProxy::Impl {
 public:
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::map<std::pair<uint32_t, uint32_t>, std::unique_ptr<Link>> links;
  std::thread thread;
  bool started = false;
  bool stopped = false;

  template <typename Fn>
  void RunAndWait(Fn fn) {
    if (!started || stopped) {
      fn();
      return;
    }
    std::promise<void> done;
    asio::post(io, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
};

FaultProxy::FaultProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FaultProxy::~FaultProxy() { Stop(); }

absl::StatusOr<std::unique_ptr<FaultProxy>> FaultProxy::Create(const std::vector<LinkSpec>& links,
                                                               uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  DeterministicRng seeds(seed);
  for (const LinkSpec& spec : links) {
    auto link = std::make_unique<Link>(impl->io, spec, seeds.Next64());
    absl::Status s = link->Listen();
    if (!s.ok()) return s;
    impl->links[{spec.from, spec.to}] = std::move(link);
  }
  return std::unique_ptr<FaultProxy>(new FaultProxy(std::move(impl)));
}

void FaultProxy::Start() {
  if (impl_->started) return;
  impl_->started = true;
  impl_->work.emplace(impl_->io.get_executor());
  for (auto& [key, link] : impl_->links) link->Accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void FaultProxy::Stop() {
  if (!impl_->started || impl_->stopped) return;
  impl_->RunAndWait([this] {
    for (auto& [key, link] : impl_->links) link->Stop();
  });
  impl_->stopped = true;
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void FaultProxy::Set(uint32_t from, uint32_t to, const LinkFaults& faults) {
  impl_->RunAndWait([&] {
    auto it = impl_->links.find({from, to});
    if (it != impl_->links.end()) it->second->Set(faults);
  });
}

void FaultProxy::SetAll(const LinkFaults& faults) {
  impl_->RunAndWait([&] {
    for (auto& [key, link] : impl_->links) link->Set(faults);
  });
}

LinkStats FaultProxy::Stats(uint32_t from, uint32_t to) {
  LinkStats out;
  impl_->RunAndWait([&] {
    auto it = impl_->links.find({from, to});
    if (it != impl_->links.end()) out = it->second->stats();
  });
  return out;
}

LinkStats FaultProxy::TotalStats() {
  LinkStats out;
  impl_->RunAndWait([&] {
    for (auto& [key, link] : impl_->links) {
      const LinkStats& s = link->stats();
      out.connections += s.connections;
      out.resets += s.resets;
      out.bytes_forwarded += s.bytes_forwarded;
      out.bytes_dropped += s.bytes_dropped;
    }
  });
  return out;
}

}  // namespace belfry::chaos
