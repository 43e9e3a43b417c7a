#include "test/chaos/history.h"

#include "absl/strings/str_cat.h"

namespace belfry::chaos {

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kLogin: return "login";
    case OpKind::kLogout: return "logout";
    case OpKind::kCheckIn: return "checkin";
    case OpKind::kCheckOut: return "checkout";
    case OpKind::kGrant: return "grant";
    case OpKind::kDelete: return "delete";
  }
  return "?";
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kRefused: return "refused";
    case Outcome::kNoEffect: return "no_effect";
    case Outcome::kIndeterminate: return "indeterminate";
  }
  return "?";
}

const char* RefusalName(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNone: return "none";
    case Refusal::kAccessDenied: return "ACCESS_DENIED";
    case Refusal::kNoSuchDocument: return "NO_SUCH_DOCUMENT";
    case Refusal::kInvalidGrant: return "INVALID_GRANT";
    case Refusal::kTooManyGrants: return "TOO_MANY_GRANTS";
  }
  return "?";
}

std::string DescribeOp(const Op& op) {
  std::string out = absl::StrCat("op#", op.id, " user", op.user, " ", OpKindName(op.kind));
  if (!op.doc.empty()) absl::StrAppend(&out, " ", op.doc);
  switch (op.kind) {
    case OpKind::kCheckIn:
      absl::StrAppend(&out, " content=", op.content);
      break;
    case OpKind::kGrant:
      absl::StrAppend(&out, " to=", op.grant_all ? std::string("ALL") : absl::StrCat("user", op.grant_target),
                      " rights=", op.grant_rights, op.grant_active ? " active" : " revoke");
      break;
    default:
      break;
  }
  absl::StrAppend(&out, " [", op.invoke_ns, ", ",
                  op.complete_ns == kNever ? std::string("never") : absl::StrCat(op.complete_ns), "] -> ",
                  OutcomeName(op.outcome));
  if (op.outcome == Outcome::kRefused) absl::StrAppend(&out, " ", RefusalName(op.refusal));
  if (op.outcome == Outcome::kOk) {
    if (op.kind == OpKind::kCheckOut) {
      absl::StrAppend(&out, " content=",
                      op.out_content == kForeignContent ? std::string("FOREIGN") : absl::StrCat(op.out_content));
    }
    if (op.kind == OpKind::kCheckIn || op.kind == OpKind::kCheckOut) {
      absl::StrAppend(&out, " version=", op.version, " owner=user", op.owner);
    }
    if (op.kind == OpKind::kCheckIn) absl::StrAppend(&out, op.created ? " created" : " updated");
    if (op.ordered) absl::StrAppend(&out, " epoch=", op.epoch, " ct=", op.consensus_time_ms);
  }
  if (op.final_read) absl::StrAppend(&out, " (final read)");
  if (!op.error.empty()) absl::StrAppend(&out, " (", op.error, ")");
  return out;
}

}  // namespace belfry::chaos
