// test/byzantine/request_leak.h — the `leak-requests` strategy: a replica that hands
// every request it orders to an outsider.
//
// Why. Every replica keeps the ordered requests' bytes (the batches, for
// log_retained_epochs), so a compromised replica can give them to anyone. The attack tests
// (test/security/confidential_e2e.sh) play that outsider: they replay another user's
// confidential checkout and must get nothing usable. This writes each committed batch's
// requests, as the replica stores them, to a folder: DIR/E-P.req for position P of epoch E.
//
// Not thread-safe; the daemon polls it from its core thread.
#ifndef BELFRY_TEST_BYZANTINE_REQUEST_LEAK_H_
#define BELFRY_TEST_BYZANTINE_REQUEST_LEAK_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "replica/store/store.h"

namespace belfry::byzantine {

class RequestLeak {
 public:
  // Leaks batches from `first_epoch` on into `dir` (created if missing).
  RequestLeak(std::string dir, uint64_t first_epoch) : dir_(std::move(dir)), next_epoch_(first_epoch) {}

  // Writes the requests of every batch committed since the last call. An I/O error is
  // returned (the daemon logs it and goes on; this is test equipment).
  absl::Status Poll(const store::Store& store);

  uint64_t requests_leaked() const { return leaked_; }

 private:
  std::string dir_;
  uint64_t next_epoch_;
  uint64_t leaked_ = 0;
};

}  // namespace belfry::byzantine

#endif  // BELFRY_TEST_BYZANTINE_REQUEST_LEAK_H_
