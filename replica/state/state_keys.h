// replica/state/state_keys.h — the layout of the 3S state in the key space.
//
// Every key starts with a one-letter prefix and '/', so the record kinds never collide
// and a scan in key order visits them grouped. Names are validated before they become
// keys (document_name.h), and the prefixes are fixed-length, so "d/" + name is
// unambiguous. The layout is part of the on-disk format: changing it needs a migration.
#ifndef BELFRY_REPLICA_STATE_STATE_KEYS_H_
#define BELFRY_REPLICA_STATE_STATE_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace belfry::state {

inline constexpr std::string_view kUserPrefix = "u/";       // + uid -> UserRecord
inline constexpr std::string_view kSessionPrefix = "s/";    // + session key -> SessionRecord
inline constexpr std::string_view kResultPrefix = "r/";     // + session key + seq -> StoredResult
inline constexpr std::string_view kDocMetaPrefix = "d/";    // + name -> DocumentMeta
inline constexpr std::string_view kDocContentPrefix = "c/"; // + name -> DocumentContent
inline constexpr std::string_view kLabelPrefix = "l/";      // + SHA-256(label) -> "" (used once)
inline constexpr std::string_view kCounterKey = "m/counter"; // StateCounter
inline constexpr std::string_view kRevokedPrefix = "v/";    // + uid -> RevocationRecord
inline constexpr std::string_view kKeyGenerationPrefix = "k/";  // key_generation.h
// Every prefix above: the 3S state proper, without what else the replica keeps in the
// replicated state (the retained batches under "b/").
inline constexpr std::string_view kServiceStatePrefixes[] = {kUserPrefix, kSessionPrefix, kResultPrefix,
                                                             kDocMetaPrefix, kDocContentPrefix, kLabelPrefix,
                                                             "m/", kRevokedPrefix, kKeyGenerationPrefix};

// The replica keeps its committed batches in the replicated state too, so that every
// correct replica holds the same ones and catch-up can be served by any of them:
// "b/" + big-endian epoch -> StoredBatch (replica/node/replica_core.cc).
inline constexpr std::string_view kBatchPrefix = "b/";
inline std::string BatchKey(uint64_t epoch) {
  ByteWriter w;
  w.Raw(kBatchPrefix).U64(epoch);
  return std::string(AsStringView(w.bytes()));
}

inline std::string UserKey(std::string_view uid) { return std::string(kUserPrefix).append(uid); }
inline std::string RevokedKey(std::string_view uid) { return std::string(kRevokedPrefix).append(uid); }
inline std::string SessionKey(ByteSpan session_public_key) {
  return std::string(kSessionPrefix).append(AsStringView(session_public_key));
}
// The seq is big-endian so one session's results sort by seq.
inline std::string ResultKey(ByteSpan session_public_key, uint64_t seq) {
  ByteWriter w;
  w.Raw(kResultPrefix).Raw(session_public_key).U64(seq);
  return std::string(AsStringView(w.bytes()));
}
inline std::string DocMetaKey(std::string_view name) {
  return std::string(kDocMetaPrefix).append(name);
}
inline std::string DocContentKey(std::string_view name) {
  return std::string(kDocContentPrefix).append(name);
}
inline std::string LabelKey(ByteSpan label_digest) {
  return std::string(kLabelPrefix).append(AsStringView(label_digest));
}

}  // namespace belfry::state

#endif  // BELFRY_REPLICA_STATE_STATE_KEYS_H_
