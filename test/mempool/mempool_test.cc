#include "replica/mempool/mempool.h"

#include <catch2/catch.hpp>

namespace belfry::replica {
namespace {

TEST_CASE("requests leave the mempool when ordered, oldest first", "[mempool]") {
  Mempool m({});
  REQUIRE(m.Add("a", "req-a", "c1").ok());
  REQUIRE(m.Add("b", "req-b", "c2").ok());
  REQUIRE(m.Add("c", "req-c", "c1").ok());
  CHECK(m.Oldest(2) == std::vector<std::string>{"req-a", "req-b"});
  m.Remove({"b", "zzz"});
  CHECK(m.Oldest(10) == std::vector<std::string>{"req-a", "req-c"});
  CHECK(m.bytes() == 10);
}

TEST_CASE("a retransmitted request is not admitted twice", "[mempool]") {
  Mempool m({});
  REQUIRE(m.Add("a", "req-a", "c1").ok());
  CHECK(m.Add("a", "req-a", "c1").code() == absl::StatusCode::kAlreadyExists);
  CHECK(m.size() == 1);
}

TEST_CASE("one client cannot fill the mempool", "[mempool]") {
  Mempool m({.requests_max = 100, .bytes_max = 1 << 20, .per_client_requests_max = 2});
  REQUIRE(m.Add("a", "x", "greedy").ok());
  REQUIRE(m.Add("b", "x", "greedy").ok());
  CHECK(m.Add("c", "x", "greedy").code() == absl::StatusCode::kResourceExhausted);
  CHECK(m.Add("d", "x", "polite").ok());
  m.Remove({"a"});
  CHECK(m.Add("c", "x", "greedy").ok());
}

TEST_CASE("a proposal takes at most per_client_max of one client's requests", "[mempool]") {
  Mempool m({});
  for (int i = 0; i < 10; ++i) REQUIRE(m.Add("g" + std::to_string(i), "greedy", "greedy").ok());
  REQUIRE(m.Add("p", "polite", "polite").ok());
  const auto picked = m.OldestExcept(100, {}, 3);
  REQUIRE(picked.size() == 4);
  CHECK(picked[0].first == "g0");
  CHECK(picked[2].first == "g2");
  CHECK(picked[3].first == "p");  // behind ten of the greedy client's, and still taken
  CHECK(m.OldestExcept(100, {}, 0).size() == 11);
  // Skipped (already proposed) requests do not use up the client's share.
  CHECK(m.OldestExcept(100, {{"g0", 1}, {"g1", 1}}, 3)[2].first == "g4");
}

TEST_CASE("total request and byte bounds hold", "[mempool]") {
  Mempool m({.requests_max = 2, .bytes_max = 10, .per_client_requests_max = 10});
  REQUIRE(m.Add("a", "12345", "c").ok());
  CHECK(m.Add("b", "123456", "c").code() == absl::StatusCode::kResourceExhausted);
  REQUIRE(m.Add("b", "12345", "c").ok());
  CHECK(m.Add("c", "1", "c").code() == absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace belfry::replica
