#include "replica/node/replies/reply_guard.h"

namespace belfry::replica {

bool ReplyAllowed(std::string_view request_uid, const std::optional<std::string>& peer_uid) {
  if (request_uid.empty() || !peer_uid.has_value()) return true;
  // Certificate names are public; a plain comparison leaks nothing secret.
  return *peer_uid == request_uid;
}

}  // namespace belfry::replica
