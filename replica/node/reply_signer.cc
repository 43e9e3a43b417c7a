#include "replica/node/reply_signer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace belfry::replica {

ReplySigner ReplySigner::FromSeed(const std::array<uint8_t, crypto_sign_SEEDBYTES>& seed) {
  BELFRY_CHECK(sodium_init() >= 0);
  ReplySigner s;
  crypto_sign_seed_keypair(s.public_key_.data(), s.secret_key_.data(), seed.data());
  return s;
}

absl::StatusOr<ReplySigner> ReplySigner::FromSeedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": cannot be opened"));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": reply key must not be readable by group or others (chmod 600)"));
  }
  std::array<uint8_t, crypto_sign_SEEDBYTES + 1> buf{};
  const ssize_t got = ::read(fd, buf.data(), buf.size());
  ::close(fd);
  if (got != static_cast<ssize_t>(crypto_sign_SEEDBYTES)) {
    SecureWipe(buf.data(), buf.size());
    return absl::InvalidArgumentError(absl::StrCat(path, ": reply key must be exactly 32 bytes"));
  }
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
  std::copy_n(buf.begin(), seed.size(), seed.begin());
  SecureWipe(buf.data(), buf.size());
  ReplySigner s = FromSeed(seed);
  SecureWipe(seed.data(), seed.size());
  return s;
}

absl::StatusOr<std::array<uint8_t, 32>> ReplySigner::GenerateSeedFile(const std::string& path,
                                                                     Rng& rng) {
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
  rng.Fill(seed);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    SecureWipe(seed.data(), seed.size());
    return absl::AlreadyExistsError(absl::StrCat(path, ": cannot be created (exists?)"));
  }
  const bool written = ::write(fd, seed.data(), seed.size()) == static_cast<ssize_t>(seed.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  const ReplySigner s = FromSeed(seed);
  SecureWipe(seed.data(), seed.size());
  if (!written) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return s.public_key();
}

ReplySigner::ReplySigner(ReplySigner&& other) noexcept
    : secret_key_(other.secret_key_), public_key_(other.public_key_) {
  SecureWipe(other.secret_key_.data(), other.secret_key_.size());
}

ReplySigner& ReplySigner::operator=(ReplySigner&& other) noexcept {
  if (this != &other) {
    secret_key_ = other.secret_key_;
    public_key_ = other.public_key_;
    SecureWipe(other.secret_key_.data(), other.secret_key_.size());
  }
  return *this;
}

ReplySigner::~ReplySigner() { SecureWipe(secret_key_.data(), secret_key_.size()); }

std::string ReplySigner::Sign(ByteSpan message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<uint8_t*>(sig.data()), nullptr, message.data(),
                       message.size(), secret_key_.data());
  return sig;
}

}  // namespace belfry::replica
