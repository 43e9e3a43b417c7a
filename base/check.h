// base/check.h — invariant checks that stay on in release builds.
//
// BELFRY_CHECK is for conditions that can only fail through a bug in Belfry itself
// (never for untrusted input, which gets a Status or a Fault). A failed check prints
// the condition and location and aborts: continuing on a broken invariant in a
// replicated state machine risks diverging from the other replicas.
#ifndef BELFRY_BASE_CHECK_H_
#define BELFRY_BASE_CHECK_H_

namespace belfry::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace belfry::internal

#define BELFRY_CHECK(cond)                                              \
  do {                                                                  \
    if (!(cond)) ::belfry::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (false)

#endif  // BELFRY_BASE_CHECK_H_
