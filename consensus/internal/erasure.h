// consensus/internal/erasure.h — systematic Reed–Solomon erasure coding with Intel ISA-L.
//
// Reliable broadcast (Cachin–Tessaro AVID) cuts a value into k data stripes and adds N−k
// parity stripes so that any k of the N stripes give the value back: each node then carries
// one stripe of about |v|/k bytes instead of the whole value.
//
// The code is defined by ISA-L's Cauchy generator matrix (gf_gen_cauchy1_matrix): the top
// k rows are the identity (stripe i < k is data stripe i, unchanged), and every k×k
// sub-matrix of its rows is invertible over GF(2^8), which is what makes every k-subset
// decodable. GF(2^8) allows at most 256 stripes (kStripesMax).
//
// Nothing here is secret or random: encoding is a fixed function of its input, so every
// node that re-encodes a value gets the same stripes.
#ifndef BELFRY_CONSENSUS_INTERNAL_ERASURE_H_
#define BELFRY_CONSENSUS_INTERNAL_ERASURE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace belfry::consensus::internal {

// IndexedStripe: one received stripe and its position 0..N-1 in the code. Does not own
// its bytes.
struct IndexedStripe {
  uint32_t index = 0;
  ByteSpan data;
};

// ErasureCoder: the (N, k) code for one membership. Immutable after Create; safe to share
// between threads. Copyable.
class ErasureCoder {
 public:
  // GF(2^8) has 256 elements; the Cauchy construction needs distinct ones per row.
  static constexpr uint32_t kStripesMax = 256;

  // InvalidArgument unless 1 <= data_stripes <= total_stripes <= kStripesMax.
  static absl::StatusOr<ErasureCoder> Create(uint32_t data_stripes, uint32_t total_stripes);

  uint32_t data_stripes() const { return k_; }
  uint32_t total_stripes() const { return n_; }

  // The size of each stripe for `data_bytes` bytes of data: ceil(data_bytes / k), but at
  // least 1, so that even empty data has stripes a Merkle tree can commit to.
  size_t StripeBytesFor(size_t data_bytes) const;

  // The N stripes of `data` (zero-padded at the end to k * StripeBytesFor(|data|) bytes),
  // each StripeBytesFor(|data|) long. BELFRY_CHECK that a stripe fits ISA-L's int lengths.
  std::vector<Bytes> Encode(ByteSpan data) const;

  // The k * s bytes of data (padding included) from the first k of `stripes`, which must
  // have distinct indices < N and one common size s >= 1. InvalidArgument otherwise
  // (fewer than k stripes, a repeated or out-of-range index, unequal or empty sizes).
  absl::StatusOr<Bytes> Decode(std::span<const IndexedStripe> stripes) const;

 private:
  ErasureCoder() = default;

  uint32_t k_ = 0;
  uint32_t n_ = 0;
  Bytes matrix_;         // N×k generator matrix, row-major; the top k×k is the identity
  Bytes parity_tables_;  // ec_init_tables() expansion of the N−k parity rows
};

}  // namespace belfry::consensus::internal

#endif  // BELFRY_CONSENSUS_INTERNAL_ERASURE_H_
