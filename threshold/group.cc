#include "threshold/group.h"

#include <sodium.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "threshold/internal/errors.h"
#include "threshold/internal/sodium.h"

namespace belfry::threshold {

using internal::MakeError;

Scalar::Scalar(Scalar&& other) noexcept : bytes_(other.bytes_) {
  SecureWipe(other.bytes_.data(), other.bytes_.size());
}

Scalar& Scalar::operator=(Scalar&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    SecureWipe(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

Scalar::~Scalar() { SecureWipe(bytes_.data(), bytes_.size()); }

Scalar Scalar::FromUint64(uint64_t v) {
  Scalar s;
  for (size_t i = 0; i < 8; ++i) s.bytes_[i] = static_cast<uint8_t>(v >> (8 * i));
  return s;  // < 2^64 < L, already reduced
}

Scalar Scalar::FromUniformBytes(std::span<const uint8_t, kUniformBytes> bytes) {
  internal::EnsureSodium();
  Scalar s;
  crypto_core_ristretto255_scalar_reduce(s.bytes_.data(), bytes.data());
  return s;
}

Scalar Scalar::Random(Rng& rng) {
  std::array<uint8_t, kUniformBytes> wide;
  rng.Fill(wide);
  Scalar s = FromUniformBytes(wide);
  SecureWipe(wide.data(), wide.size());
  return s;
}

absl::StatusOr<Scalar> Scalar::FromCanonicalBytes(ByteSpan bytes) {
  if (bytes.size() != kScalarBytes) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("scalar is ", bytes.size(), " bytes, expected 32"));
  }
  // An encoding is canonical exactly when reducing it (zero-extended to 64 bytes) leaves
  // it unchanged; libsodium 1.0.18 has no public is-canonical check for these scalars.
  std::array<uint8_t, kUniformBytes> wide{};
  std::memcpy(wide.data(), bytes.data(), kScalarBytes);
  Scalar s = FromUniformBytes(wide);
  SecureWipe(wide.data(), wide.size());
  if (!ConstantTimeEquals(s.span(), bytes)) {
    return MakeError(ThresholdError::kNonCanonicalScalar, "scalar encoding is not below the group order");
  }
  return s;
}

Scalar Scalar::Add(const Scalar& other) const {
  Scalar r;
  crypto_core_ristretto255_scalar_add(r.bytes_.data(), bytes_.data(), other.bytes_.data());
  return r;
}

Scalar Scalar::Sub(const Scalar& other) const {
  Scalar r;
  crypto_core_ristretto255_scalar_sub(r.bytes_.data(), bytes_.data(), other.bytes_.data());
  return r;
}

Scalar Scalar::Mul(const Scalar& other) const {
  Scalar r;
  crypto_core_ristretto255_scalar_mul(r.bytes_.data(), bytes_.data(), other.bytes_.data());
  return r;
}

Scalar Scalar::Negate() const {
  Scalar r;
  crypto_core_ristretto255_scalar_negate(r.bytes_.data(), bytes_.data());
  return r;
}

Scalar Scalar::Invert() const {
  Scalar r;
  BELFRY_CHECK(crypto_core_ristretto255_scalar_invert(r.bytes_.data(), bytes_.data()) == 0);
  return r;
}

bool Scalar::IsZero() const { return sodium_is_zero(bytes_.data(), bytes_.size()) == 1; }

bool operator==(const Scalar& a, const Scalar& b) { return ConstantTimeEquals(a.span(), b.span()); }

const Point& Point::Generator() {
  static const Point* const kGenerator = [] {
    internal::EnsureSodium();
    auto* g = new Point();
    BELFRY_CHECK(crypto_scalarmult_ristretto255_base(g->bytes_.data(), Scalar::One().bytes().data()) == 0);
    return g;
  }();
  return *kGenerator;
}

absl::StatusOr<Point> Point::FromBytes(ByteSpan bytes) {
  if (bytes.size() != kPointBytes) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("group element is ", bytes.size(), " bytes, expected 32"));
  }
  internal::EnsureSodium();
  // RFC 9496 decoding fails for any 32-byte string whose integer value is >= p, which
  // includes every string with the top bit set. libsodium 1.0.18 masks that bit before
  // its range check (so two strings would decode to one point), so it is refused here.
  if ((bytes[kPointBytes - 1] & 0x80) != 0 || crypto_core_ristretto255_is_valid_point(bytes.data()) != 1) {
    return MakeError(ThresholdError::kNonCanonicalPoint,
                     "group element is not a canonical ristretto255 encoding");
  }
  Point p;
  std::memcpy(p.bytes_.data(), bytes.data(), kPointBytes);
  if (p.IsIdentity()) {
    return MakeError(ThresholdError::kIdentityPoint, "group element is the identity");
  }
  return p;
}

Point Point::FromUniformBytes(std::span<const uint8_t, kUniformBytes> bytes) {
  internal::EnsureSodium();
  Point p;
  BELFRY_CHECK(crypto_core_ristretto255_from_hash(p.bytes_.data(), bytes.data()) == 0);
  return p;
}

Point Point::MulBase(const Scalar& s) {
  internal::EnsureSodium();
  Point p;
  // Fails only when the result is the identity (s = 0), which the zero encoding already is.
  if (crypto_scalarmult_ristretto255_base(p.bytes_.data(), s.bytes().data()) != 0) {
    p.bytes_.fill(0);
  }
  return p;
}

Point Point::Mul(const Scalar& s) const {
  if (*this == Generator()) return MulBase(s);
  Point p;
  // The input is always a valid encoding, so failure means the result is the identity.
  if (crypto_scalarmult_ristretto255(p.bytes_.data(), s.bytes().data(), bytes_.data()) != 0) {
    p.bytes_.fill(0);
  }
  return p;
}

Point Point::Add(const Point& other) const {
  Point p;
  BELFRY_CHECK(crypto_core_ristretto255_add(p.bytes_.data(), bytes_.data(), other.bytes_.data()) == 0);
  return p;
}

Point Point::Sub(const Point& other) const {
  Point p;
  BELFRY_CHECK(crypto_core_ristretto255_sub(p.bytes_.data(), bytes_.data(), other.bytes_.data()) == 0);
  return p;
}

void Point::Wipe() { SecureWipe(bytes_.data(), bytes_.size()); }

bool Point::IsIdentity() const { return sodium_is_zero(bytes_.data(), bytes_.size()) == 1; }

}  // namespace belfry::threshold
