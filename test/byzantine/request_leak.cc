#include "test/byzantine/request_leak.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status.h"
#include "proto/replica.pb.h"
#include "replica/state/state_keys.h"

namespace belfry::byzantine {

absl::Status RequestLeak::Poll(const store::Store& store) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat("leak folder ", dir_, ": ", ec.message()));
  for (; next_epoch_ < store.next_epoch(); ++next_epoch_) {
    BELFRY_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store.Get(state::BatchKey(next_epoch_)));
    if (!bytes.has_value()) continue;  // pruned, or installed by state transfer
    pb::StoredBatch batch;
    if (!batch.ParseFromString(*bytes)) continue;
    for (int i = 0; i < batch.requests_size(); ++i) {
      const std::string path = absl::StrCat(dir_, "/", next_epoch_, "-", i, ".req");
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(batch.requests(i).data(), static_cast<std::streamsize>(batch.requests(i).size()));
      if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", path));
      ++leaked_;
    }
  }
  return absl::OkStatus();
}

}  // namespace belfry::byzantine
