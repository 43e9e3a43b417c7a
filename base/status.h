// base/status.h — the error-propagation helpers every Belfry module uses.
//
// Modules return absl::Status / absl::StatusOr<T> and never let an exception escape.
// Debian 12's Abseil predates absl's own RETURN_IF_ERROR macros, so these are ours.
#ifndef BELFRY_BASE_STATUS_H_
#define BELFRY_BASE_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define BELFRY_STATUS_CONCAT_INNER_(a, b) a##b
#define BELFRY_STATUS_CONCAT_(a, b) BELFRY_STATUS_CONCAT_INNER_(a, b)

// BELFRY_RETURN_IF_ERROR(expr): evaluates expr (a Status) and returns it if not OK.
#define BELFRY_RETURN_IF_ERROR(expr)                        \
  do {                                                      \
    ::absl::Status belfry_status_ = (expr);                 \
    if (!belfry_status_.ok()) return belfry_status_;        \
  } while (false)

// BELFRY_ASSIGN_OR_RETURN(lhs, expr): evaluates expr (a StatusOr<T>); on error returns
// its status, otherwise moves the value into lhs (which may be a declaration).
#define BELFRY_ASSIGN_OR_RETURN(lhs, expr)                                              \
  BELFRY_ASSIGN_OR_RETURN_IMPL_(BELFRY_STATUS_CONCAT_(belfry_statusor_, __LINE__), lhs, \
                                expr)
#define BELFRY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#endif  // BELFRY_BASE_STATUS_H_
