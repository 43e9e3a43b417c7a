// Fuzz target: document names and user ids (wire/document_name.h), checked by
// every replica on every request and used by clients as file names.
//
// Properties: nothing crashes; an accepted name is 1..255 bytes with no '/', '\\', NUL,
// C0 control or DEL byte and is not "." or ".."; an accepted user id also obeys the name
// rules, is at most 64 bytes and is not "ALL".
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "test/fuzz/fixtures.h"
#include "wire/document_name.h"

namespace {

namespace wire = belfry::wire;
using belfry::fuzz::Require;

bool SafeBytes(std::string_view s) {
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f || c == '/' || c == '\\') return false;
  }
  return s != "." && s != "..";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  const bool name_ok = wire::ValidateDocumentName(s).ok();
  const bool uid_ok = wire::ValidateUserId(s).ok();
  if (name_ok) {
    Require(!s.empty() && s.size() <= wire::kDocumentNameBytesMax && SafeBytes(s),
            "an accepted document name is safe");
  }
  if (uid_ok) {
    Require(name_ok && s.size() <= wire::kUserIdBytesMax && s != wire::kAllUsersWord,
            "an accepted user id is a safe name and not ALL");
  }
  return 0;
}
