// Fuzz target: the session file a command-line client reads back
// (client_lib/session_file.h ParseSessionRecord). The file is the user's own, but it lives
// on disk between runs where anything may have changed it.
//
// Properties: nothing crashes; a parsed record formats back to text that parses to the
// same record.
#include <cstddef>
#include <cstdint>
#include <string>

#include "client_lib/session_file.h"
#include "test/fuzz/fixtures.h"

namespace {

using belfry::SessionRecord;
using belfry::fuzz::Require;

bool Same(const SessionRecord& a, const SessionRecord& b) {
  return a.cluster_id == b.cluster_id && a.uid == b.uid && a.key_path == b.key_path &&
         a.cert_path == b.cert_path && a.active == b.active && a.session_seed == b.session_seed &&
         a.expires_ms == b.expires_ms && a.next_seq == b.next_seq &&
         a.last_login_time_ms == b.last_login_time_ms;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SessionRecord> record = belfry::ParseSessionRecord(text);
  if (!record.ok()) return 0;
  absl::StatusOr<SessionRecord> again = belfry::ParseSessionRecord(belfry::FormatSessionRecord(*record));
  Require(again.ok() && Same(*again, *record), "a parsed session record round-trips");
  return 0;
}
