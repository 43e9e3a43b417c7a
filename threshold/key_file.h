// threshold/key_file.h — reading and writing key shares and public key sets as files.
//
// A key share file is a serialized pb::ThresholdSecretKeyShare with mode 0600. It is
// written atomically (a synced temporary file linked or renamed onto the name, then the
// directory synced), so a crash leaves the old file or the new one, never a torn key.
// Reading refuses a file that group or others may access, as ssh does
// for private keys, then validates every field (KeyShare::FromProto). Buffers that held
// the secret are wiped. A public key set file is a serialized pb::ThresholdPublicKeySet,
// written with mode 0644. All functions are thread-safe (they share no state).
#ifndef BELFRY_THRESHOLD_KEY_FILE_H_
#define BELFRY_THRESHOLD_KEY_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/files.h"
#include "threshold/keys.h"

namespace belfry::threshold {

// Largest key share file accepted (an honest one is about 120 bytes).
inline constexpr size_t kKeyShareFileBytesMax = 4096;

// Whether writing over an existing file is allowed (base/files.h: kRefuse or kReplace).
using ::belfry::FileOverwrite;

// Writes `share` to `path` with mode 0600, atomically. With kRefuse an existing file is an
// error (kFileIo, ALREADY_EXISTS). A symlink at `path` is refused (kFileIo). Other
// failures: kFileIo with the code errno implies.
absl::Status WriteKeyShareFile(const std::string& path, const KeyShare& share, FileOverwrite overwrite);

// Reads and validates a key share file. kFileIo (NOT_FOUND, PERMISSION_DENIED, ...) when it
// cannot be read; kInsecureFileMode if its mode grants group or others any access;
// kTooLarge beyond kKeyShareFileBytesMax; otherwise whatever KeyShare::FromProto refuses.
absl::StatusOr<KeyShare> ReadKeyShareFile(const std::string& path);

// Writes `keys` to `path` with mode 0644; failures as WriteKeyShareFile.
absl::Status WritePublicKeySetFile(const std::string& path, const PublicKeySet& keys,
                                   FileOverwrite overwrite);

// Reads and validates a public key set file (PublicKeySet::Parse).
absl::StatusOr<PublicKeySet> ReadPublicKeySetFile(const std::string& path);

}  // namespace belfry::threshold

#endif  // BELFRY_THRESHOLD_KEY_FILE_H_
