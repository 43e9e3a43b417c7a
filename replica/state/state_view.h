// replica/state/state_view.h — how the state machine reads and writes replica state.
//
// The state machine never touches storage directly. It reads through a StateView: the
// committed state (a StateReader, implemented by replica/store/) overlaid with the writes
// of the epoch being executed, which accumulate in a WriteSet. The WriteSet is an ordered
// map, so the writes of an epoch are applied, hashed and digested in one order at every
// replica. The caller commits the WriteSet atomically with the epoch record, or discards
// the whole view when execution fails.
#ifndef BELFRY_REPLICA_STATE_STATE_VIEW_H_
#define BELFRY_REPLICA_STATE_STATE_VIEW_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "wire/request_format.h"

namespace belfry::state {

// StateReader: read access to committed state keys. Implementations say their own
// thread-safety; Get fails only on local I/O error or corruption (a Status, never a
// missing key, which is nullopt).
class StateReader {
 public:
  virtual ~StateReader() = default;
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const = 0;
};

// WriteSet: the state writes of one epoch, key -> value (nullopt deletes the key), in key
// order. Later writes to a key replace earlier ones. A plain value; not thread-safe.
class WriteSet {
 public:
  void Put(std::string key, std::string value) { writes_[std::move(key)] = std::move(value); }
  void Delete(std::string key) { writes_[std::move(key)] = std::nullopt; }

  // nullopt: the key is not written here; a contained nullopt: it is deleted here.
  std::optional<std::optional<std::string>> Find(std::string_view key) const;

  const std::map<std::string, std::optional<std::string>, std::less<>>& writes() const {
    return writes_;
  }
  size_t size() const { return writes_.size(); }
  bool empty() const { return writes_.empty(); }

  // SHA-256 over "belfry/writes/v1" and every (key, value or deletion) in key order:
  // what the epoch log chains, so replicas that wrote different state diverge visibly.
  wire::Digest ComputeDigest() const;

 private:
  std::map<std::string, std::optional<std::string>, std::less<>> writes_;
};

// StateView: committed state plus pending writes. Borrows `base`, which must outlive it.
// Not thread-safe.
class StateView final : public StateReader {
 public:
  explicit StateView(const StateReader& base) : base_(base) {}

  // The pending value if the key was written or deleted in this view, else the base's.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override;
  void Put(std::string key, std::string value) { writes_.Put(std::move(key), std::move(value)); }
  void Delete(std::string key) { writes_.Delete(std::move(key)); }

  const WriteSet& writes() const { return writes_; }
  WriteSet TakeWrites() { return std::move(writes_); }

 private:
  const StateReader& base_;
  WriteSet writes_;
};

}  // namespace belfry::state

#endif  // BELFRY_REPLICA_STATE_STATE_VIEW_H_
