#include "consensus/aba/testing/fake_coin.h"

#include <set>

namespace belfry::consensus::aba::testing {
namespace {

// splitmix64's finalizer: a fixed, well-mixing 64-bit permutation.
uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A keyed hash of (seed, domain, node, name). Not cryptographic — nothing here needs to be.
uint64_t Hash(uint64_t seed, uint64_t domain, uint64_t node, std::string_view name) {
  uint64_t h = Mix(seed ^ Mix(domain ^ Mix(node)));
  h = Mix(h ^ name.size());
  uint64_t word = 0;
  size_t filled = 0;
  for (char c : name) {
    word = (word << 8) | static_cast<uint8_t>(c);
    if (++filled == 8) {
      h = Mix(h ^ word);
      word = 0;
      filled = 0;
    }
  }
  return Mix(h ^ word ^ (uint64_t{filled} << 56));
}

void AppendU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

std::string FakeCoin::ShareOf(NodeId node, std::string_view name) const {
  std::string share;
  AppendU64(share, Hash(seed_, 1, node, name));
  AppendU64(share, Hash(seed_, 2, node, name));
  return share;
}

std::string FakeCoin::MakeShare(std::string_view name) { return ShareOf(net_.self, name); }

bool FakeCoin::VerifyShare(NodeId from, std::string_view name, std::string_view share) {
  ++verify_calls_;
  return net_.valid_node(from) && share == ShareOf(from, name);
}

std::optional<CoinValue> FakeCoin::Combine(
    std::string_view name, const std::vector<std::pair<NodeId, std::string>>& shares) {
  std::set<NodeId> valid;
  for (const auto& [node, share] : shares) {
    if (net_.valid_node(node) && share == ShareOf(node, name)) valid.insert(node);
  }
  if (valid.size() < net_.one_correct()) return std::nullopt;
  return ValueForChecking(name);
}

CoinValue FakeCoin::ValueForChecking(std::string_view name) const {
  CoinValue value;
  for (size_t word = 0; word < 4; ++word) {
    const uint64_t h = Hash(seed_, 3 + word, 0, name);
    for (size_t i = 0; i < 8; ++i) value.bytes[8 * word + i] = static_cast<uint8_t>(h >> (8 * i));
  }
  return value;
}

}  // namespace belfry::consensus::aba::testing
