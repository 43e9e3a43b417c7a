// consensus/internal/merkle.h — a SHA-256 Merkle tree over the stripes of one broadcast.
//
// Reliable broadcast sends each node only its own stripe, so a node must be able to check
// that a stripe is the one the proposer committed to without seeing the others: the
// proposer commits to all N stripes with one root, and each stripe travels with the
// ceil(log2 N) sibling hashes (its branch) that lead from it to that root.
//
// Hashing, all SHA-256 (OpenSSL, through base/sha256.h):
//   leaf(i, s)   = H(0x00 || u32be(i) || s)    the index is bound in, so a valid stripe
//                                               cannot be replayed at another position;
//   inner(l, r)  = H(0x01 || l || r)           distinct prefix from leaves, so an inner
//                                               node can never pass for a leaf (or back);
//   padding      = H(0x02)                     fills the leaf level up to a power of two.
// A tree of N leaves therefore always has depth MerkleDepth(N), and every branch for it
// has exactly that many siblings: a branch of any other length is malformed.
#ifndef BELFRY_CONSENSUS_INTERNAL_MERKLE_H_
#define BELFRY_CONSENSUS_INTERNAL_MERKLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace belfry::consensus::internal {

// The size of every hash in the tree (SHA-256), and so of every root and branch entry.
inline constexpr size_t kDigestBytes = 32;

// Digest: one SHA-256 output (a leaf, inner node or root).
using Digest = std::array<uint8_t, kDigestBytes>;

// The leaves a tree may hold at most; keeps every index and depth within uint32_t.
inline constexpr uint32_t kMerkleLeavesMax = uint32_t{1} << 16;

// HashLeaf: the leaf hash of `data` at position `index` (see the file comment).
Digest HashLeaf(uint32_t index, ByteSpan data);

// HashInner: the hash of an inner node with children `left` and `right`.
Digest HashInner(const Digest& left, const Digest& right);

// MerkleDepth: the number of siblings in every branch of a tree of `leaf_count` leaves,
// ceil(log2(leaf_count)); 0 for a single leaf. leaf_count must be >= 1.
uint32_t MerkleDepth(uint32_t leaf_count);

// MerkleTree: a complete tree over a list of leaves, kept in memory so that the branch of
// any leaf can be read out. Immutable once built; safe to share between threads.
class MerkleTree {
 public:
  // Builds the tree over `leaves` (each leaf's bytes are hashed with its index).
  // InvalidArgument if there are no leaves or more than kMerkleLeavesMax.
  static absl::StatusOr<MerkleTree> Build(std::span<const Bytes> leaves);

  const Digest& root() const { return levels_.back().front(); }
  uint32_t leaf_count() const { return leaf_count_; }

  // The branch of leaf `index` (< leaf_count(), else BELFRY_CHECK): siblings from the
  // leaf level upwards, MerkleDepth(leaf_count()) of them.
  std::vector<Digest> Branch(uint32_t index) const;

 private:
  MerkleTree() = default;

  // levels_[0] holds the leaf hashes padded to a power of two; each next level halves it;
  // levels_.back() holds only the root.
  std::vector<std::vector<Digest>> levels_;
  uint32_t leaf_count_ = 0;
};

// VerifyMerkleBranch: whether `leaf` at position `index` of a tree of `leaf_count` leaves
// hashes up through `branch` to `root`. False for an index out of range or a branch of
// the wrong length as well; callers that must tell "malformed" from "forged" check those
// two first.
bool VerifyMerkleBranch(const Digest& root, uint32_t leaf_count, uint32_t index, ByteSpan leaf,
                        std::span<const Digest> branch);

}  // namespace belfry::consensus::internal

#endif  // BELFRY_CONSENSUS_INTERNAL_MERKLE_H_
