// replica/node/replies/reply_guard.h — who may receive a reply.
//
// Why. Every replica sees every request's bytes (consensus orders them, the log keeps
// them), so holding a copy of a request proves nothing about who sent it. A reply, though,
// may carry a document and a decryption share. So a reply, fresh or cached, goes only to a
// client connection whose TLS certificate names the request's user: the uid a login is
// for, or the user of the session that signed the operation (state::Executed::uid). Any
// other connection that sent the request, or a copy of it, gets a signed Rejection with
// STATUS_NOT_REQUESTER instead. A request whose user is unknown (authentication failed:
// unknown session, bad login) was refused and its reply releases nothing; it goes to
// whoever sent it.
//
// This is a second lock, not the only one: shares are also sealed to the checkout's own
// key (threshold/sealed_share.h), and the state machine judges a repeated checkout again.
//
// Plain values and a pure function; thread-safe.
#ifndef BELFRY_REPLICA_NODE_REPLIES_REPLY_GUARD_H_
#define BELFRY_REPLICA_NODE_REPLIES_REPLY_GUARD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace belfry::replica {

// A client connection waiting for a reply, with the uid (certificate common name) its TLS
// peer proved. nullopt only for in-process callers without a TLS connection (unit tests and
// the simulator drive ReplicaCore directly); the daemon always sets it.
struct ReplyWaiter {
  uint64_t connection = 0;
  std::optional<std::string> peer_uid;
};

// A reply frame kept for copies that arrive after execution, with the request's user.
struct CachedReply {
  std::string frame;  // empty once evicted for size
  std::string uid;
};

// True when a reply for a request of user `request_uid` (empty: unauthenticated) may be
// sent to a connection whose certificate names `peer_uid`.
bool ReplyAllowed(std::string_view request_uid, const std::optional<std::string>& peer_uid);

// The message of the NOT_REQUESTER rejection (fixed: never names a user or a document).
inline constexpr std::string_view kNotRequesterMessage =
    "reply withheld: this connection's certificate is not the request's user";

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_REPLIES_REPLY_GUARD_H_
