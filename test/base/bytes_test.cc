#include "base/bytes.h"

#include <catch2/catch.hpp>

namespace belfry {
namespace {

TEST_CASE("ByteReader refuses to read past the end", "[base]") {
  const Bytes data = {0x00, 0x00, 0x00, 0x05, 'a', 'b'};
  ByteReader r{ByteSpan(data)};
  auto field = r.ReadLengthPrefixed(100);
  REQUIRE_FALSE(field.ok());
  CHECK(field.status().code() == absl::StatusCode::kOutOfRange);
}

TEST_CASE("ByteReader enforces a length-prefix limit before reading", "[base]") {
  ByteWriter w;
  w.LengthPrefixed(std::string_view("hello"));
  ByteReader r{ByteSpan(w.bytes())};
  auto field = r.ReadLengthPrefixed(4);
  REQUIRE_FALSE(field.ok());
  CHECK(field.status().code() == absl::StatusCode::kOutOfRange);
}

TEST_CASE("ByteWriter and ByteReader round-trip big-endian fields", "[base]") {
  ByteWriter w;
  w.U8(7).U32(0xdeadbeef).U64(0x0102030405060708ULL).LengthPrefixed(std::string_view("xy"));
  ByteReader r{ByteSpan(w.bytes())};
  CHECK(*r.ReadU8() == 7);
  CHECK(*r.ReadU32() == 0xdeadbeef);
  CHECK(*r.ReadU64() == 0x0102030405060708ULL);
  CHECK(AsStringView(*r.ReadLengthPrefixed(10)) == "xy");
  CHECK(r.ExpectEnd().ok());
}

TEST_CASE("ExpectEnd reports trailing bytes", "[base]") {
  const Bytes data = {1, 2};
  ByteReader r{ByteSpan(data)};
  REQUIRE(r.ReadU8().ok());
  CHECK(r.ExpectEnd().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("hex round-trips and refuses bad digits", "[base]") {
  const Bytes data = {0x00, 0xab, 0xff};
  CHECK(ToHex(data) == "00abff");
  CHECK(*FromHex("00ABff") == data);
  CHECK_FALSE(FromHex("0g").ok());
  CHECK_FALSE(FromHex("abc").ok());
}

TEST_CASE("ConstantTimeEquals compares contents and lengths", "[base]") {
  const Bytes a = {1, 2, 3};
  const Bytes b = {1, 2, 3};
  const Bytes c = {1, 2, 4};
  const Bytes d = {1, 2};
  CHECK(ConstantTimeEquals(a, b));
  CHECK_FALSE(ConstantTimeEquals(a, c));
  CHECK_FALSE(ConstantTimeEquals(a, d));
}

}  // namespace
}  // namespace belfry
