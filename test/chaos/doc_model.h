// test/chaos/doc_model.h — a sequential model of one document under the 3S rules, for the
// linearizability checker.
//
// It follows replica/state/README.md: a checkin creates a missing document owned by its
// writer, or needs the owner or an effective checkin right; checkout needs the owner or an
// effective checkout right; grant and delete are the owner's; grant to the owner is
// INVALID_GRANT; a grant to ALL drops every personal grant, so a personal grant that
// exists is always newer than the ALL grant and decides for its user; delete removes
// content and grants. Versions come from one cluster-wide counter, so a later checkin of
// the document always carries a larger version than the one it replaces.
//
// The workload grants either for much longer than a run ("active") or with seconds = 0
// (expired at once, a revocation), so the model needs no clock.
//
// An operation whose outcome is unknown (indeterminate) takes the outcome the rules give
// in the state it is applied to; its outputs are not checked. Values only.
#ifndef BELFRY_TEST_CHAOS_DOC_MODEL_H_
#define BELFRY_TEST_CHAOS_DOC_MODEL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "test/chaos/history.h"

namespace belfry::chaos {

// DocState: one document as the model sees it. A grant byte is 0 (none) or kGrantPresent
// | (kGrantActive if unexpired) | rights bits.
struct DocState {
  static constexpr uint8_t kGrantPresent = 0x10;
  static constexpr uint8_t kGrantActive = 0x20;

  bool exists = false;
  uint8_t owner = 0;
  uint32_t content = 0;  // content id of the current data
  uint64_t version = 0;  // 0: not known (written by an operation whose answer was lost)
  uint64_t version_floor = 0;  // the largest version known to have been written
  uint8_t all_grant = 0;
  std::array<uint8_t, kUsersMax> user_grants{};

  bool operator==(const DocState& other) const = default;
  size_t Hash() const;
};

// The state after applying `op` to `state`, or nullopt if `op`'s recorded outcome is
// impossible there. Login, logout and kNoEffect operations are not document operations:
// nullopt.
std::optional<DocState> ApplyOp(const DocState& state, const Op& op);

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_DOC_MODEL_H_
