// threshold/internal/sodium.h — one-time libsodium initialization.
#ifndef BELFRY_THRESHOLD_INTERNAL_SODIUM_H_
#define BELFRY_THRESHOLD_INTERNAL_SODIUM_H_

namespace belfry::threshold::internal {

// Runs sodium_init() once per process (thread-safe); aborts if libsodium cannot start.
// Called by every entry point that reaches libsodium, so callers never need to.
void EnsureSodium();

}  // namespace belfry::threshold::internal

#endif  // BELFRY_THRESHOLD_INTERNAL_SODIUM_H_
