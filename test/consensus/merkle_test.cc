// Tests of consensus/internal/merkle.h: the commitment that lets a node check its own RBC
// stripe against the proposer's root (Cachin–Tessaro 2005, AVID; HoneyBadgerBFT Fig. 2).
#include "consensus/internal/merkle.h"

#include <sodium.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "base/bytes.h"

namespace belfry::consensus::internal {
namespace {

std::vector<Bytes> MakeLeaves(uint32_t count) {
  std::vector<Bytes> leaves;
  for (uint32_t i = 0; i < count; ++i) {
    // Different lengths, including empty, so lengths are exercised too.
    leaves.push_back(Bytes(i % 5, static_cast<uint8_t>(0x40 + i)));
  }
  return leaves;
}

Digest Sha256(ByteSpan data) {
  Digest d;
  crypto_hash_sha256(d.data(), data.data(), data.size());
  return d;
}

TEST_CASE("MerkleDepth is ceil(log2 N)", "[merkle]") {
  CHECK(MerkleDepth(1) == 0);
  CHECK(MerkleDepth(2) == 1);
  CHECK(MerkleDepth(3) == 2);
  CHECK(MerkleDepth(4) == 2);
  CHECK(MerkleDepth(5) == 3);
  CHECK(MerkleDepth(7) == 3);
  CHECK(MerkleDepth(8) == 3);
  CHECK(MerkleDepth(10) == 4);
  CHECK(MerkleDepth(256) == 8);
}

TEST_CASE("Hashes are domain-separated and bind the leaf index (known answer)", "[merkle]") {
  const Bytes data = {'a', 'b', 'c'};
  // leaf(i, s) = SHA-256(0x00 || u32be(i) || s)
  const Bytes leaf_input = {0x00, 0x00, 0x00, 0x00, 0x07, 'a', 'b', 'c'};
  CHECK(HashLeaf(7, data) == Sha256(leaf_input));
  CHECK(HashLeaf(7, data) != HashLeaf(6, data));
  // inner(l, r) = SHA-256(0x01 || l || r): never equal to a leaf over the same 64 bytes.
  const Digest l = HashLeaf(0, data);
  const Digest r = HashLeaf(1, data);
  Bytes inner_input = {0x01};
  inner_input.insert(inner_input.end(), l.begin(), l.end());
  inner_input.insert(inner_input.end(), r.begin(), r.end());
  CHECK(HashInner(l, r) == Sha256(inner_input));
  Bytes concat(l.begin(), l.end());
  concat.insert(concat.end(), r.begin(), r.end());
  CHECK(HashInner(l, r) != Sha256(concat));
  CHECK(HashInner(l, r) != HashInner(r, l));
}

TEST_CASE("Every leaf's branch verifies, for 1..20 leaves", "[merkle]") {
  for (uint32_t n = 1; n <= 20; ++n) {
    const std::vector<Bytes> leaves = MakeLeaves(n);
    absl::StatusOr<MerkleTree> tree = MerkleTree::Build(leaves);
    REQUIRE(tree.ok());
    REQUIRE(tree->leaf_count() == n);
    for (uint32_t i = 0; i < n; ++i) {
      const std::vector<Digest> branch = tree->Branch(i);
      REQUIRE(branch.size() == MerkleDepth(n));
      CHECK(VerifyMerkleBranch(tree->root(), n, i, leaves[i], branch));
    }
  }
}

TEST_CASE("A single leaf's root is its leaf hash", "[merkle]") {
  const std::vector<Bytes> leaves = {Bytes{1, 2, 3}};
  absl::StatusOr<MerkleTree> tree = MerkleTree::Build(leaves);
  REQUIRE(tree.ok());
  CHECK(tree->root() == HashLeaf(0, leaves[0]));
  CHECK(tree->Branch(0).empty());
}

TEST_CASE("Forged branches, leaves, indices and roots are refused", "[merkle]") {
  for (uint32_t n : {2u, 3u, 4u, 7u, 10u}) {
    const std::vector<Bytes> leaves = MakeLeaves(n);
    absl::StatusOr<MerkleTree> tree = MerkleTree::Build(leaves);
    REQUIRE(tree.ok());
    for (uint32_t i = 0; i < n; ++i) {
      const std::vector<Digest> branch = tree->Branch(i);
      Bytes other_leaf = leaves[i];
      other_leaf.push_back(0);
      CHECK_FALSE(VerifyMerkleBranch(tree->root(), n, i, other_leaf, branch));
      // Index binding: leaf i's bytes and branch do not verify at another position.
      CHECK_FALSE(VerifyMerkleBranch(tree->root(), n, (i + 1) % n, leaves[i], branch));
      for (size_t s = 0; s < branch.size(); ++s) {
        std::vector<Digest> bad = branch;
        bad[s][0] ^= 1;
        CHECK_FALSE(VerifyMerkleBranch(tree->root(), n, i, leaves[i], bad));
      }
      Digest bad_root = tree->root();
      bad_root[31] ^= 0x80;
      CHECK_FALSE(VerifyMerkleBranch(bad_root, n, i, leaves[i], branch));
      // Malformed shapes: wrong depth, index out of range, wrong leaf count.
      std::vector<Digest> longer = branch;
      longer.push_back(Digest{});
      CHECK_FALSE(VerifyMerkleBranch(tree->root(), n, i, leaves[i], longer));
      std::vector<Digest> shorter(branch.begin(), branch.end() - 1);
      CHECK_FALSE(VerifyMerkleBranch(tree->root(), n, i, leaves[i], shorter));
      CHECK_FALSE(VerifyMerkleBranch(tree->root(), n, n + i, leaves[i], branch));
      CHECK_FALSE(VerifyMerkleBranch(tree->root(), 0, i, leaves[i], branch));
    }
  }
}

TEST_CASE("The root commits to every leaf, its position and the leaf count", "[merkle]") {
  const std::vector<Bytes> leaves = MakeLeaves(7);
  const Digest root = MerkleTree::Build(leaves)->root();
  for (size_t i = 0; i < leaves.size(); ++i) {
    std::vector<Bytes> changed = leaves;
    changed[i].push_back(0xff);
    CHECK(MerkleTree::Build(changed)->root() != root);
  }
  std::vector<Bytes> swapped = leaves;
  std::swap(swapped[1], swapped[2]);
  CHECK(MerkleTree::Build(swapped)->root() != root);
  // Padding is not a leaf: 3 leaves and the same 3 plus an empty fourth differ.
  std::vector<Bytes> three(leaves.begin(), leaves.begin() + 3);
  std::vector<Bytes> four = three;
  four.push_back(Bytes{});
  CHECK(MerkleTree::Build(three)->root() != MerkleTree::Build(four)->root());
}

TEST_CASE("Building a tree of no leaves is refused", "[merkle]") {
  std::vector<Bytes> none;
  CHECK(MerkleTree::Build(none).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace belfry::consensus::internal
