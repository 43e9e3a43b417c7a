#include "threshold/sealed_share.h"

#include <sodium.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "base/check.h"

namespace belfry::threshold {
namespace {

constexpr std::string_view kSealedShareDomain = "belfry/sealed-share/v1";

// What goes inside the box: domain, replica index, label, then the share.
Bytes BoxPlaintext(uint32_t replica, ByteSpan label, std::string_view share) {
  ByteWriter w;
  w.Raw(kSealedShareDomain).U32(replica).LengthPrefixed(label).LengthPrefixed(share);
  return w.Take();
}

}  // namespace

ShareRecipientKey ShareRecipientKey::Generate() {
  BELFRY_CHECK(sodium_init() >= 0);
  ShareRecipientKey key;
  crypto_box_keypair(key.public_key_.data(), key.secret_key_.data());
  return key;
}

ShareRecipientKey::ShareRecipientKey(ShareRecipientKey&& other) noexcept
    : secret_key_(other.secret_key_), public_key_(other.public_key_) {
  other.Wipe();
}

ShareRecipientKey& ShareRecipientKey::operator=(ShareRecipientKey&& other) noexcept {
  if (this != &other) {
    secret_key_ = other.secret_key_;
    public_key_ = other.public_key_;
    other.Wipe();
  }
  return *this;
}

ShareRecipientKey::~ShareRecipientKey() { Wipe(); }

void ShareRecipientKey::Wipe() {
  sodium_memzero(secret_key_.data(), secret_key_.size());
  public_key_.fill(0);
}

std::string ShareRecipientKey::public_key_string() const {
  return std::string(reinterpret_cast<const char*>(public_key_.data()), public_key_.size());
}

absl::StatusOr<std::string> ShareRecipientKey::Open(std::string_view sealed, uint32_t replica,
                                                    ByteSpan label) const {
  if (sealed.size() < crypto_box_SEALBYTES || sealed.size() > kSealedShareBytesMax) {
    return absl::DataLossError("sealed decryption share has an impossible size");
  }
  Bytes plain(sealed.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(plain.data(), reinterpret_cast<const uint8_t*>(sealed.data()),
                           sealed.size(), public_key_.data(), secret_key_.data()) != 0) {
    return absl::DataLossError("sealed decryption share does not open with this checkout's key");
  }
  std::string out;
  {
    ByteReader r{ByteSpan(plain)};
    absl::StatusOr<ByteSpan> domain = r.ReadBytes(kSealedShareDomain.size());
    absl::StatusOr<uint32_t> from = domain.ok() ? r.ReadU32() : absl::StatusOr<uint32_t>(domain.status());
    absl::StatusOr<ByteSpan> got_label =
        from.ok() ? r.ReadLengthPrefixed(kSealedShareBytesMax) : absl::StatusOr<ByteSpan>(from.status());
    absl::StatusOr<ByteSpan> share =
        got_label.ok() ? r.ReadLengthPrefixed(kSealedShareBytesMax) : got_label;
    if (share.ok() && r.ExpectEnd().ok() && AsStringView(*domain) == kSealedShareDomain &&
        *from == replica && got_label->size() == label.size() &&
        std::equal(got_label->begin(), got_label->end(), label.begin()) && !share->empty()) {
      out.assign(reinterpret_cast<const char*>(share->data()), share->size());
    }
  }
  sodium_memzero(plain.data(), plain.size());
  if (out.empty()) {
    return absl::DataLossError("sealed decryption share is for another replica or document version");
  }
  return out;
}

absl::StatusOr<std::string> SealShare(ByteSpan recipient_public_key, uint32_t replica,
                                      ByteSpan label, std::string_view share) {
  if (recipient_public_key.size() != kShareRecipientKeyBytes) {
    return absl::InvalidArgumentError("share recipient key must be 32 bytes");
  }
  Bytes plain = BoxPlaintext(replica, label, share);
  if (plain.size() + crypto_box_SEALBYTES > kSealedShareBytesMax) {
    return absl::InvalidArgumentError("decryption share too large to seal");
  }
  std::string out(plain.size() + crypto_box_SEALBYTES, '\0');
  const int rc = crypto_box_seal(reinterpret_cast<uint8_t*>(out.data()), plain.data(), plain.size(),
                                 recipient_public_key.data());
  sodium_memzero(plain.data(), plain.size());
  if (rc != 0) return absl::InvalidArgumentError("share recipient key is not a usable X25519 key");
  return out;
}

}  // namespace belfry::threshold
