#include "wire/document_name.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace belfry::wire {
namespace {

// Decodes one UTF-8 code point at name[*pos], advancing *pos; nullopt for any byte
// sequence that is not the shortest encoding of a scalar value.
std::optional<uint32_t> DecodeCodePoint(std::string_view name, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(name[i]); };
  const uint8_t b0 = byte(*pos);
  size_t len = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if (b0 < 0x80) {
    *pos += 1;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (name.size() - *pos < len) {
    return std::nullopt;
  }
  for (size_t i = 1; i < len; ++i) {
    const uint8_t b = byte(*pos + i);
    if ((b & 0xC0) != 0x80) {
      return std::nullopt;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return std::nullopt;
  }
  *pos += len;
  return cp;
}

// Characters that could hide or rewrite what a name looks like in a listing or a log.
bool IsForbiddenCodePoint(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
    return true;  // C0, DEL, C1 controls (NUL included)
  }
  if (cp == '/' || cp == '\\') {
    return true;  // path separators on any client OS
  }
  if (cp == 0x2028 || cp == 0x2029) {
    return true;  // line and paragraph separators
  }
  if (cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
      (cp >= 0x2066 && cp <= 0x2069)) {
    return true;  // bidirectional formatting: lets a name display as another
  }
  return false;
}

// "002F": upper-case hex, at least four digits, as Unicode writes code points.
std::string CodePointHex(uint32_t cp) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (int shift = 20; shift >= 0; shift -= 4) {
    const uint32_t nibble = (cp >> shift) & 0xF;
    if (nibble != 0 || !out.empty() || shift < 16) {
      out.push_back(kDigits[nibble]);
    }
  }
  return out;
}

absl::Status ValidateCharacters(std::string_view what, std::string_view name) {
  size_t pos = 0;
  while (pos < name.size()) {
    const size_t at = pos;
    std::optional<uint32_t> cp = DecodeCodePoint(name, &pos);
    if (!cp.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(what), " is not valid UTF-8 at byte ", at));
    }
    if (IsForbiddenCodePoint(*cp)) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(what),
                                                     " contains a forbidden character U+",
                                                     CodePointHex(*cp), " at byte ", at));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDocumentName(std::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("document name is empty");
  }
  if (name.size() > kDocumentNameBytesMax) {
    return absl::InvalidArgumentError(absl::StrCat("document name is ", name.size(),
                                                   " bytes; the limit is ",
                                                   kDocumentNameBytesMax));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError("document name may not be \".\" or \"..\"");
  }
  return ValidateCharacters("document name", name);
}

absl::Status ValidateUserId(std::string_view uid) {
  if (uid.empty()) {
    return absl::InvalidArgumentError("user id is empty");
  }
  if (uid.size() > kUserIdBytesMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("user id is ", uid.size(), " bytes; the limit is ", kUserIdBytesMax));
  }
  if (uid == "." || uid == "..") {
    return absl::InvalidArgumentError("user id may not be \".\" or \"..\"");
  }
  if (uid == kAllUsersWord) {
    return absl::InvalidArgumentError("user id \"ALL\" is reserved for grants to every user");
  }
  return ValidateCharacters("user id", uid);
}

}  // namespace belfry::wire
