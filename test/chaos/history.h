// test/chaos/history.h — what the fault-injection workload did and saw, as the checkers
// read it.
//
// Every client operation becomes one Op: who invoked it, on which document, with which
// inputs, when it was invoked and when it completed (steady-clock nanoseconds on the
// harness), and its outcome. The outcome classes follow what a client can know:
//   kOk            2f+1 replicas agreed on success; the outputs are filled in.
//   kRefused       2f+1 replicas agreed on a 3S refusal decided against the document
//                  (ACCESS_DENIED, NO_SUCH_DOCUMENT, INVALID_GRANT, TOO_MANY_GRANTS): the
//                  operation was ordered and changed no document state.
//   kNoEffect      refused before the document was looked at (a session or admission
//                  refusal), or a checkout whose result is no longer available: it says
//                  nothing about the document, so the checkers leave it out.
//   kIndeterminate no answer in time: it may have taken effect at any point after its
//                  invocation, or never. Its completion time is kNever.
// Values only; thread-compatible.
#ifndef BELFRY_TEST_CHAOS_HISTORY_H_
#define BELFRY_TEST_CHAOS_HISTORY_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace belfry::chaos {

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// Users the model tracks per document (rights are kept per user in a fixed array).
inline constexpr uint32_t kUsersMax = 8;
// A checkout returned bytes that no checkin of the run ever sent.
inline constexpr uint32_t kForeignContent = std::numeric_limits<uint32_t>::max();

enum class OpKind : uint8_t { kLogin, kLogout, kCheckIn, kCheckOut, kGrant, kDelete };
enum class Outcome : uint8_t { kOk, kRefused, kNoEffect, kIndeterminate };
// The 3S refusals that depend on a document's state (replica/state/README.md).
enum class Refusal : uint8_t { kNone, kAccessDenied, kNoSuchDocument, kInvalidGrant, kTooManyGrants };

// Rights bits as the model keeps them.
inline constexpr uint8_t kRightCheckIn = 1;
inline constexpr uint8_t kRightCheckOut = 2;

struct Op {
  uint64_t id = 0;      // index in the history
  uint32_t user = 0;    // < kUsersMax
  OpKind kind = OpKind::kCheckOut;
  std::string doc;      // empty for login/logout
  // Inputs.
  uint32_t content = 0;       // checkin: the content id written (unique per checkin, >= 1)
  bool grant_all = false;     // grant: to ALL
  uint32_t grant_target = 0;  // grant: the user, when !grant_all
  uint8_t grant_rights = 0;   // grant: kRightCheckIn | kRightCheckOut
  bool grant_active = false;  // grant: seconds > 0 (long enough never to expire in a run)
  // Timing, steady-clock nanoseconds.
  int64_t invoke_ns = 0;
  int64_t complete_ns = kNever;
  // Outcome and outputs.
  Outcome outcome = Outcome::kIndeterminate;
  Refusal refusal = Refusal::kNone;  // kRefused
  uint32_t out_content = 0;  // checkout kOk: the content id returned
  uint64_t version = 0;      // checkin / checkout kOk
  uint32_t owner = 0;        // checkin / checkout kOk
  bool created = false;      // checkin kOk
  bool ordered = false;      // kOk: epoch and consensus time come from the accepted reply
  uint64_t epoch = 0;
  int64_t consensus_time_ms = 0;
  bool final_read = false;   // one of the reads after every fault healed
  std::string error;         // kIndeterminate / kNoEffect: why, for reports
};

const char* OpKindName(OpKind kind);
const char* OutcomeName(Outcome outcome);
const char* RefusalName(Refusal refusal);
// One line describing `op` for reports (no document contents: content ids only).
std::string DescribeOp(const Op& op);

}  // namespace belfry::chaos

#endif  // BELFRY_TEST_CHAOS_HISTORY_H_
