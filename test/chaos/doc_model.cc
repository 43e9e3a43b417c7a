#include "test/chaos/doc_model.h"

#include <algorithm>

namespace belfry::chaos {
namespace {

uint8_t GrantByte(uint8_t rights, bool active) {
  return static_cast<uint8_t>(DocState::kGrantPresent | (active ? DocState::kGrantActive : 0) |
                              (rights & (kRightCheckIn | kRightCheckOut)));
}

// The latest grant whose target is `user` or ALL decides; a personal grant that exists is
// newer than the ALL grant (an ALL grant drops them all).
bool HasRight(const DocState& s, uint32_t user, uint8_t wanted) {
  uint8_t g = s.user_grants[user];
  if ((g & DocState::kGrantPresent) == 0) g = s.all_grant;
  return (g & DocState::kGrantPresent) != 0 && (g & DocState::kGrantActive) != 0 &&
         (g & wanted) != 0;
}

bool Allowed(const DocState& s, uint32_t user, uint8_t wanted) {
  return s.owner == user || HasRight(s, user, wanted);
}

bool Determinate(const Op& op) { return op.outcome == Outcome::kOk || op.outcome == Outcome::kRefused; }

std::optional<DocState> CheckIn(const DocState& s, const Op& op) {
  const bool allowed = !s.exists || Allowed(s, op.user, kRightCheckIn);
  if (op.outcome == Outcome::kRefused) {
    if (op.refusal != Refusal::kAccessDenied || allowed) return std::nullopt;
    return s;
  }
  if (!allowed) {
    // An unanswered checkin the rules refuse here changes nothing.
    if (op.outcome == Outcome::kIndeterminate) return s;
    return std::nullopt;
  }
  DocState next = s;
  if (!s.exists) {
    next.exists = true;
    next.owner = static_cast<uint8_t>(op.user);
    next.all_grant = 0;
    next.user_grants.fill(0);
  }
  next.content = op.content;
  if (op.outcome == Outcome::kOk) {
    if (op.created != !s.exists || op.owner != next.owner || op.version <= s.version_floor) {
      return std::nullopt;
    }
    next.version = op.version;
    next.version_floor = op.version;
  } else {
    next.version = 0;
  }
  return next;
}

std::optional<DocState> CheckOut(const DocState& s, const Op& op) {
  if (!Determinate(op)) return std::nullopt;  // unanswered reads are left out of histories
  if (op.outcome == Outcome::kRefused) {
    if (op.refusal == Refusal::kNoSuchDocument) return s.exists ? std::nullopt : std::optional(s);
    if (op.refusal == Refusal::kAccessDenied) {
      return s.exists && !Allowed(s, op.user, kRightCheckOut) ? std::optional(s) : std::nullopt;
    }
    return std::nullopt;
  }
  if (!s.exists || !Allowed(s, op.user, kRightCheckOut) || op.out_content != s.content ||
      op.owner != s.owner) {
    return std::nullopt;
  }
  if (s.version != 0) {
    return op.version == s.version ? std::optional(s) : std::nullopt;
  }
  // The write's own answer was lost: the read teaches the model its version.
  if (op.version <= s.version_floor) return std::nullopt;
  DocState next = s;
  next.version = op.version;
  next.version_floor = op.version;
  return next;
}

std::optional<DocState> Grant(const DocState& s, const Op& op) {
  Refusal decided = Refusal::kNone;
  if (!s.exists) {
    decided = Refusal::kNoSuchDocument;
  } else if (s.owner != op.user) {
    decided = Refusal::kAccessDenied;
  } else if (!op.grant_all && op.grant_target == s.owner) {
    decided = Refusal::kInvalidGrant;
  }
  if (op.outcome == Outcome::kRefused) {
    return op.refusal == decided && decided != Refusal::kNone ? std::optional(s) : std::nullopt;
  }
  if (decided != Refusal::kNone) {
    return op.outcome == Outcome::kIndeterminate ? std::optional(s) : std::nullopt;
  }
  DocState next = s;
  const uint8_t g = GrantByte(op.grant_rights, op.grant_active);
  if (op.grant_all) {
    next.all_grant = g;
    next.user_grants.fill(0);
  } else {
    next.user_grants[op.grant_target] = g;
  }
  return next;
}

std::optional<DocState> Delete(const DocState& s, const Op& op) {
  Refusal decided = Refusal::kNone;
  if (!s.exists) {
    decided = Refusal::kNoSuchDocument;
  } else if (s.owner != op.user) {
    decided = Refusal::kAccessDenied;
  }
  if (op.outcome == Outcome::kRefused) {
    return op.refusal == decided && decided != Refusal::kNone ? std::optional(s) : std::nullopt;
  }
  if (decided != Refusal::kNone) {
    return op.outcome == Outcome::kIndeterminate ? std::optional(s) : std::nullopt;
  }
  DocState next;
  next.version_floor = s.version_floor;
  return next;
}

}  // namespace

size_t DocState::Hash() const {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) {
    h ^= v;
    h *= 1099511628211ull;
  };
  mix(exists);
  mix(owner);
  mix(content);
  mix(version);
  mix(version_floor);
  mix(all_grant);
  for (uint8_t g : user_grants) mix(g);
  return static_cast<size_t>(h);
}

std::optional<DocState> ApplyOp(const DocState& state, const Op& op) {
  if (op.outcome == Outcome::kNoEffect || op.user >= kUsersMax) return std::nullopt;
  if (op.kind == OpKind::kGrant && !op.grant_all && op.grant_target >= kUsersMax) return std::nullopt;
  switch (op.kind) {
    case OpKind::kCheckIn:
      return CheckIn(state, op);
    case OpKind::kCheckOut:
      return CheckOut(state, op);
    case OpKind::kGrant:
      return Grant(state, op);
    case OpKind::kDelete:
      return Delete(state, op);
    case OpKind::kLogin:
    case OpKind::kLogout:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace belfry::chaos
