#include "base/openssl.h"

#include <openssl/err.h>

#include <climits>

#include "absl/strings/str_cat.h"

namespace belfry::openssl {

std::string DrainOpenSslErrors() {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out;
}

void ClearOpenSslErrors() { ERR_clear_error(); }

absl::Status OpenSslError(absl::StatusCode code, absl::string_view what) {
  std::string reason = DrainOpenSslErrors();
  if (reason.empty()) {
    return absl::Status(code, what);
  }
  return absl::Status(code, absl::StrCat(what, ": ", reason));
}

BioPtr MemoryBio(std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return nullptr;
  }
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

BioPtr MemoryBio(ByteSpan data) {
  return MemoryBio(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) {
    return std::string();
  }
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace belfry::openssl
