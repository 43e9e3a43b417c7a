#include "threshold/internal/sodium.h"

#include <sodium.h>

#include "base/check.h"

namespace belfry::threshold::internal {

void EnsureSodium() {
  // A function-local static: initialized exactly once even with concurrent callers.
  static const bool kReady = sodium_init() >= 0;
  BELFRY_CHECK(kReady);
}

}  // namespace belfry::threshold::internal
