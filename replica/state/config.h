// replica/state/config.h — the limits and parameters of the 3S state machine.
//
// Every replica must run with identical values (they decide results), so the daemon
// fills this from the signed cluster configuration, never from local flags. Every size
// and duration the state machine accepts from a request is bounded by one of these.
#ifndef BELFRY_REPLICA_STATE_CONFIG_H_
#define BELFRY_REPLICA_STATE_CONFIG_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace belfry::state {

// Config: a plain value; copy freely.
struct Config {
  std::string cluster_id;                        // every request must name it
  uint64_t document_bytes_max = 8 * 1024 * 1024; // CheckIn.data
  uint64_t key_ciphertext_bytes_max = 2048;      // CheckIn.key_ciphertext (TDH2)
  uint64_t certificate_bytes_max = 16 * 1024;    // Login.user_cert_der
  uint32_t grant_seconds_max = 366 * 24 * 3600;  // Grant.seconds
  uint32_t session_seconds = 12 * 3600;          // a session lives this long from login
  uint32_t session_window_requests = 256;        // W: seqs remembered per session
  uint32_t document_grants_max = 1024;           // personal grants kept per document
  int64_t login_clock_skew_ms_max = 5 * 60 * 1000;  // |client_time - consensus time|

  // The replicas, for the messages they put into the log themselves (key_generation.h):
  // N, f, and each replica's Ed25519 reply key, which signs them. Empty replica_keys: no
  // replica message is accepted.
  uint32_t replicas = 0;
  uint32_t f = 0;
  std::vector<std::array<uint8_t, 32>> replica_keys;
  // true: the TDH2 key comes from the replicas' key generation, not from a dealer.
  bool distributed_encryption_key = false;
  int64_t dkg_announce_grace_ms = 10 * 1000;

  // Bytes of request framing beyond the document: generous for names, keys, certificate.
  uint64_t request_overhead_bytes_max() const {
    return certificate_bytes_max + key_ciphertext_bytes_max + 4096;
  }
  // Largest SignedRequest accepted, checked before anything parses it.
  uint64_t request_bytes_max() const {
    return document_bytes_max + request_overhead_bytes_max();
  }

  // OK when the values are usable: a cluster id (1..255 bytes), every limit positive and
  // small enough that no expiry computation can overflow. INVALID_ARGUMENT otherwise.
  absl::Status Validate() const;
};

}  // namespace belfry::state

#endif  // BELFRY_REPLICA_STATE_CONFIG_H_
