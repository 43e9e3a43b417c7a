#include "consensus/internal/merkle.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/sha256.h"

namespace belfry::consensus::internal {
namespace {

// Domain-separation prefixes (see merkle.h).
constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kInnerPrefix = 0x01;
constexpr uint8_t kPaddingPrefix = 0x02;

Digest PaddingHash() { return Sha256Of(&kPaddingPrefix, 1); }

}  // namespace

Digest HashLeaf(uint32_t index, ByteSpan data) {
  const uint8_t header[5] = {kLeafPrefix, static_cast<uint8_t>(index >> 24),
                             static_cast<uint8_t>(index >> 16), static_cast<uint8_t>(index >> 8),
                             static_cast<uint8_t>(index)};
  Sha256Hasher h;
  return h.Update(header, sizeof(header)).Update(data.data(), data.size()).Finish();
}

Digest HashInner(const Digest& left, const Digest& right) {
  Sha256Hasher h;
  return h.Update(&kInnerPrefix, 1).Update(left.data(), left.size()).Update(right.data(), right.size()).Finish();
}

uint32_t MerkleDepth(uint32_t leaf_count) {
  BELFRY_CHECK(leaf_count >= 1);
  uint32_t depth = 0;
  while ((uint64_t{1} << depth) < leaf_count) {
    ++depth;
  }
  return depth;
}

absl::StatusOr<MerkleTree> MerkleTree::Build(std::span<const Bytes> leaves) {
  if (leaves.empty() || leaves.size() > kMerkleLeavesMax) {
    return absl::InvalidArgumentError(absl::StrCat("a Merkle tree needs 1 to ", kMerkleLeavesMax,
                                                   " leaves, not ", leaves.size()));
  }
  MerkleTree tree;
  tree.leaf_count_ = static_cast<uint32_t>(leaves.size());
  const size_t width = size_t{1} << MerkleDepth(tree.leaf_count_);
  std::vector<Digest> level(width, PaddingHash());
  for (uint32_t i = 0; i < tree.leaf_count_; ++i) {
    level[i] = HashLeaf(i, leaves[i]);
  }
  tree.levels_.push_back(std::move(level));
  while (tree.levels_.back().size() > 1) {
    const std::vector<Digest>& below = tree.levels_.back();
    std::vector<Digest> above(below.size() / 2);
    for (size_t i = 0; i < above.size(); ++i) {
      above[i] = HashInner(below[2 * i], below[2 * i + 1]);
    }
    tree.levels_.push_back(std::move(above));
  }
  return tree;
}

std::vector<Digest> MerkleTree::Branch(uint32_t index) const {
  BELFRY_CHECK(index < leaf_count_);
  std::vector<Digest> branch;
  branch.reserve(levels_.size() - 1);
  size_t position = index;
  for (size_t l = 0; l + 1 < levels_.size(); ++l) {
    branch.push_back(levels_[l][position ^ 1]);
    position >>= 1;
  }
  return branch;
}

bool VerifyMerkleBranch(const Digest& root, uint32_t leaf_count, uint32_t index, ByteSpan leaf,
                        std::span<const Digest> branch) {
  if (leaf_count == 0 || leaf_count > kMerkleLeavesMax || index >= leaf_count ||
      branch.size() != MerkleDepth(leaf_count)) {
    return false;
  }
  Digest node = HashLeaf(index, leaf);
  uint32_t position = index;
  for (const Digest& sibling : branch) {
    node = (position & 1) != 0 ? HashInner(sibling, node) : HashInner(node, sibling);
    position >>= 1;
  }
  // The root is public, so an ordinary comparison leaks nothing worth a constant-time one.
  return node == root;
}

}  // namespace belfry::consensus::internal
