// threshold/dkg/encryption_key.h — a node's long-term encryption key for key generation.
//
// Dealers seal each recipient's row, and ackers each recipient's value, to the recipient's
// encryption public key (a ristretto255 point g^s; key_generation.h says how). The secret
// s lives only in an EncryptionKeyPair, which is wiped when destroyed, and in its key file,
// written like a threshold key share file (key_file.h): atomically, mode 0600, and refused
// on reading when group or others can access it.
#ifndef BELFRY_THRESHOLD_DKG_ENCRYPTION_KEY_H_
#define BELFRY_THRESHOLD_DKG_ENCRYPTION_KEY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/rng.h"
#include "proto/dkg.pb.h"
#include "threshold/group.h"
#include "threshold/key_file.h"

namespace belfry::threshold::dkg {

// The only encryption-key file format version this build reads and writes.
inline constexpr uint32_t kEncryptionKeyFormatVersion = 1;
// Largest encryption key file accepted (an honest one is 71 bytes).
inline constexpr size_t kEncryptionKeyFileBytesMax = 1024;

// EncryptionKeyPair: a secret scalar s and its public key g^s. Move-only, so the secret is
// not copied by accident; the secret is wiped on destruction and when moved from.
// Thread-compatible; const methods may be called from several threads.
class EncryptionKeyPair {
 public:
  // A fresh key pair with s drawn from `rng` (CryptoRng in production). Never fails:
  // a zero s (probability 2^-252) is drawn again.
  static EncryptionKeyPair Generate(Rng& rng);
  // The pair for a given secret; kMalformed for a zero secret (its public key would be the
  // identity, which no reader accepts).
  static absl::StatusOr<EncryptionKeyPair> FromSecret(Scalar secret);

  EncryptionKeyPair(EncryptionKeyPair&&) = default;
  EncryptionKeyPair& operator=(EncryptionKeyPair&&) = default;
  EncryptionKeyPair(const EncryptionKeyPair&) = delete;
  EncryptionKeyPair& operator=(const EncryptionKeyPair&) = delete;

  const Point& public_key() const { return public_key_; }
  // The secret, for the key-generation code that opens slots (key_generation.cc) and the
  // key-file writer. Never log or copy it elsewhere.
  const Scalar& secret() const { return secret_; }

 private:
  EncryptionKeyPair(Scalar secret, Point public_key)
      : secret_(std::move(secret)), public_key_(public_key) {}

  Scalar secret_;
  Point public_key_;
};

// Writes `key` to `path` with mode 0600, atomically; fails as WriteKeyShareFile (kFileIo,
// ALREADY_EXISTS with kRefuse when the file exists; a symlink at `path` is refused). The
// serialized bytes are wiped after writing. Thread-safe.
absl::Status WriteEncryptionKeyFile(const std::string& path, const EncryptionKeyPair& key,
                                    FileOverwrite overwrite);

// Reads and validates an encryption key file: kFileIo when it cannot be read;
// kInsecureFileMode if group or others can access it; kTooLarge beyond
// kEncryptionKeyFileBytesMax; kMalformed for undecodable bytes, unknown fields or another
// format version; kNonCanonicalScalar/kNonCanonicalPoint/kIdentityPoint for bad fields;
// kKeyMismatch when the public key is not g^secret. Buffers that held the secret are wiped.
// Thread-safe.
absl::StatusOr<EncryptionKeyPair> ReadEncryptionKeyFile(const std::string& path);

}  // namespace belfry::threshold::dkg

#endif  // BELFRY_THRESHOLD_DKG_ENCRYPTION_KEY_H_
