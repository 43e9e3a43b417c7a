// replica/mempool/mempool.h — requests waiting to be ordered.
//
// Clients send each request to every replica; each replica keeps it here until an epoch
// orders it. Each epoch, the consensus driver proposes a random slice of what is here, so
// replicas do not all propose the same requests, and a request any correct replica holds
// is eventually proposed. Everything is bounded: in total and per client (a session key,
// or a user id for logins), so one client cannot crowd out the others.
#ifndef BELFRY_REPLICA_MEMPOOL_MEMPOOL_H_
#define BELFRY_REPLICA_MEMPOOL_MEMPOOL_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace belfry::replica {

struct MempoolLimits {
  uint32_t requests_max = 20000;           // all clients together
  uint64_t bytes_max = 256ull << 20;       // all request bytes together
  uint32_t per_client_requests_max = 256;  // one client's requests awaiting order
};

// Mempool: pending requests keyed by request id, in arrival order. Not thread-safe: the
// replica's core thread owns it.
class Mempool {
 public:
  explicit Mempool(MempoolLimits limits) : limits_(limits) {}

  // Admits a request. ALREADY_EXISTS if it is already pending (harmless: clients
  // retransmit); RESOURCE_EXHAUSTED (with which bound) when full.
  absl::Status Add(const std::string& request_id, std::string request, const std::string& client);

  // Forgets requests once ordered (ids not present are ignored).
  void Remove(const std::vector<std::string>& request_ids);

  // The pending requests, oldest first, at most `max` of them.
  std::vector<std::string> Oldest(size_t max) const;
  // As Oldest, skipping the requests `skip` says are already proposed, and taking at most
  // `per_client_max` of any one client's (0: no such cap); with their ids. The cap keeps
  // a client that pipelines thousands of requests from filling every epoch, which would
  // make every other client wait for epochs of its size.
  std::vector<std::pair<std::string, std::string>> OldestExcept(
      size_t max, const std::map<std::string, uint64_t>& skip, size_t per_client_max = 0) const;

  // Whether `request_id` is pending here (so it passed this replica's admission check).
  bool Contains(const std::string& request_id) const { return entries_.count(request_id) != 0; }
  size_t size() const { return entries_.size(); }
  // Requests of `client` pending here (what per_client_requests_max bounds).
  uint32_t pending_for(const std::string& client) const {
    auto it = per_client_.find(client);
    return it == per_client_.end() ? 0 : it->second;
  }
  uint64_t bytes() const { return bytes_; }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    std::string id;
    std::string request;
    std::string client;
  };
  MempoolLimits limits_;
  std::list<Entry> order_;
  std::map<std::string, std::list<Entry>::iterator> entries_;
  std::map<std::string, uint32_t> per_client_;
  uint64_t bytes_ = 0;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_MEMPOOL_MEMPOOL_H_
