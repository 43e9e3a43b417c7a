// test/threshold/test_util.h — helpers shared by the threshold tests.
#ifndef BELFRY_TEST_THRESHOLD_TEST_UTIL_H_
#define BELFRY_TEST_THRESHOLD_TEST_UTIL_H_

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/bytes.h"
#include "threshold/errors.h"

namespace belfry::threshold::testing {

// Asserts that `status_expr` fails with exactly `code` and ThresholdError `kind`.
#define REQUIRE_THRESHOLD_ERROR(status_expr, status_code, kind)                     \
  do {                                                                              \
    const ::absl::Status belfry_s_ = (status_expr);                                 \
    INFO("status: " << belfry_s_.ToString());                                       \
    REQUIRE(belfry_s_.code() == ::absl::StatusCode::status_code);                   \
    REQUIRE(::belfry::threshold::ThresholdErrorOf(belfry_s_) ==                     \
            ::belfry::threshold::ThresholdError::kind);                             \
  } while (false)

#define REQUIRE_OK(status_expr)                      \
  do {                                               \
    const ::absl::Status belfry_s_ = (status_expr);  \
    INFO("status: " << belfry_s_.ToString());        \
    REQUIRE(belfry_s_.ok());                         \
  } while (false)

// Every k-element subset of {1..n}, as sorted index lists, in lexicographic order.
inline std::vector<std::vector<uint32_t>> Subsets(uint32_t n, uint32_t k) {
  std::vector<std::vector<uint32_t>> out;
  std::vector<uint32_t> current;
  auto recurse = [&](auto&& self, uint32_t next) -> void {
    if (current.size() == k) {
      out.push_back(current);
      return;
    }
    for (uint32_t i = next; i <= n; ++i) {
      current.push_back(i);
      self(self, i + 1);
      current.pop_back();
    }
  };
  recurse(recurse, 1);
  return out;
}

inline Bytes MustFromHex(std::string_view hex) {
  absl::StatusOr<Bytes> b = FromHex(hex);
  REQUIRE(b.ok());
  return *b;
}

inline std::string ToString(ByteSpan b) { return std::string(AsStringView(b)); }

}  // namespace belfry::threshold::testing

#endif  // BELFRY_TEST_THRESHOLD_TEST_UTIL_H_
