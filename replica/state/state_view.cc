#include "replica/state/state_view.h"

#include <sodium.h>

#include "base/bytes.h"

namespace belfry::state {

// The client-replica contract lives in wire/; these names read as before inside state/.
using wire::Digest;

inline constexpr std::string_view kWritesDomain = "belfry/writes/v1";

std::optional<std::optional<std::string>> WriteSet::Find(std::string_view key) const {
  auto it = writes_.find(key);
  if (it == writes_.end()) {
    return std::nullopt;
  }
  return it->second;
}

Digest WriteSet::ComputeDigest() const {
  // Hash incrementally: an epoch may write many megabytes.
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  const auto update = [&st](const Bytes& b) { crypto_hash_sha256_update(&st, b.data(), b.size()); };
  update(ByteWriter().LengthPrefixed(kWritesDomain).U64(writes_.size()).Take());
  for (const auto& [key, value] : writes_) {
    ByteWriter w;
    w.LengthPrefixed(key);
    if (value.has_value()) {
      w.U8(1).U32(static_cast<uint32_t>(value->size()));
      update(w.Take());
      crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(value->data()),
                                value->size());
    } else {
      w.U8(0);
      update(w.Take());
    }
  }
  Digest out{};
  crypto_hash_sha256_final(&st, out.data());
  return out;
}

absl::StatusOr<std::optional<std::string>> StateView::Get(std::string_view key) const {
  std::optional<std::optional<std::string>> pending = writes_.Find(key);
  if (pending.has_value()) {
    return *pending;
  }
  return base_.Get(key);
}

}  // namespace belfry::state
