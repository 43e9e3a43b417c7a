// test/chaos/fault_proxy.h — a TCP proxy on every directed replica link, with faults the
// harness switches while the cluster runs.
//
// How it works. Replica i dials peer j at the proxy of link i->j (belfry-replica
// --peer-address j=127.0.0.1:PORT), which connects on to j's real peer port and copies
// bytes both ways. TLS runs end to end through it, so the proxy sees ciphertext only and
// the replicas still authenticate each other; a fault is therefore exactly what a network
// could do. Per link, at run time:
//   latency + jitter   every chunk is held for latency ± jitter (order kept per direction);
//   bandwidth          chunks leave no faster than the cap;
//   slicing            chunks are cut into segments of 1..slice_bytes, each written alone
//                      with Nagle off, so the receiver's frame reader sees tiny reads;
//   resets             every ~reset_interval_ms (seeded jitter) the link's connections are
//                      aborted with a TCP RST;
//   blackhole          data in both directions is read and silently dropped; connections
//                      stay open, so nothing tells the sender;
//   refuse             connections are aborted and new ones closed at once.
// A partition is a set of links in blackhole or refuse; an asymmetric one covers only one
// direction (link i->j carries i's messages to j and j's acknowledgements back).
//
// Threading: one asio::io_context on its own thread owns every socket and all link state.
// Set, SetAll and Stats are thread-safe (they post to that thread and wait). Memory is
// bounded: a direction stops reading while more than kQueuedBytesMax wait to be written.
#ifndef BELFRY_TEST_CHAOS_FAULT_PROXY_H_
#define BELFRY_TEST_CHAOS_FAULT_PROXY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace belfry::chaos {

struct LinkFaults {
  enum class Mode : uint8_t { kPass, kBlackhole, kRefuse };
  Mode mode = Mode::kPass;
  uint32_t latency_ms = 0;
  uint32_t jitter_ms = 0;
  uint64_t bandwidth_bytes_per_s = 0;  // 0: no cap
  uint32_t slice_bytes = 0;            // 0: chunks as read
  uint32_t reset_interval_ms = 0;      // 0: never
  bool operator==(const LinkFaults& other) const = default;
};

struct LinkSpec {
  uint32_t from = 0;
  uint32_t to = 0;
  uint16_t listen_port = 0;  // where `from` dials `to`
  uint16_t target_port = 0;  // `to`'s real peer port
};

struct LinkStats {
  uint64_t connections = 0;
  uint64_t resets = 0;           // connections aborted by a fault
  uint64_t bytes_forwarded = 0;
  uint64_t bytes_dropped = 0;
};

// FaultProxy: see the file comment. Create binds every listener (UNAVAILABLE if a port is
// taken); Start runs the thread; Stop (or destruction) closes everything.
class FaultProxy {
 public:
  static absl::StatusOr<std::unique_ptr<FaultProxy>> Create(const std::vector<LinkSpec>& links,
                                                            uint64_t seed);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  void Start();
  void Stop();
  // Sets link from->to's faults (no-op for an unknown link).
  void Set(uint32_t from, uint32_t to, const LinkFaults& faults);
  void SetAll(const LinkFaults& faults);
  LinkStats Stats(uint32_t from, uint32_t to);
  LinkStats TotalStats();

  class Impl;

 private:
  explicit FaultProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_FAULT_PROXY_H_
