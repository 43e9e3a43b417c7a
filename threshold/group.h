// threshold/group.h — the ristretto255 group and its scalar field, as value types.
//
// Everything in threshold/ is arithmetic in ristretto255 (libsodium), a prime-order group
// of order L = 2^252 + 27742317777372353535851937790883648493 with canonical 32-byte
// encodings. Point and Scalar wrap those encodings so that no raw byte pointer crosses the
// API: a Point always holds a valid encoding, a Scalar always a reduced one (< L), and
// every way to build one from untrusted bytes checks that and reports a ThresholdError.
// Scalars are treated as secret throughout: they are wiped when destroyed or moved from,
// and compared in constant time.
#ifndef BELFRY_THRESHOLD_GROUP_H_
#define BELFRY_THRESHOLD_GROUP_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/rng.h"

namespace belfry::threshold {

// Sizes of the canonical encodings of a scalar and of a group element.
inline constexpr size_t kScalarBytes = 32;
inline constexpr size_t kPointBytes = 32;
// Uniform bytes reduced into one scalar or mapped onto one point (bias ≈ 2^-259).
inline constexpr size_t kUniformBytes = 64;

// Scalar: an element of Z/L, stored as its canonical little-endian encoding. A value type;
// copies are independent and every copy is wiped (SecureWipe) when destroyed or moved
// from, because most scalars in threshold/ are secrets or nonces. Thread-compatible.
class Scalar {
 public:
  Scalar() = default;  // zero
  Scalar(const Scalar& other) = default;
  Scalar& operator=(const Scalar& other) = default;
  Scalar(Scalar&& other) noexcept;
  Scalar& operator=(Scalar&& other) noexcept;
  ~Scalar();

  static Scalar Zero() { return Scalar(); }
  static Scalar One() { return FromUint64(1); }
  static Scalar FromUint64(uint64_t v);
  // The scalar 64 uniform bytes reduce to (mod L): how every random or hashed scalar is made.
  static Scalar FromUniformBytes(std::span<const uint8_t, kUniformBytes> bytes);
  // A uniformly random scalar from 64 bytes of `rng`; the bytes are wiped after use.
  static Scalar Random(Rng& rng);
  // Parses a 32-byte canonical encoding. kMalformed for a wrong size,
  // kNonCanonicalScalar for an encoding >= L.
  static absl::StatusOr<Scalar> FromCanonicalBytes(ByteSpan bytes);

  Scalar Add(const Scalar& other) const;
  Scalar Sub(const Scalar& other) const;
  Scalar Mul(const Scalar& other) const;
  Scalar Negate() const;
  // The multiplicative inverse; the scalar must not be zero (checked, aborts otherwise).
  Scalar Invert() const;
  bool IsZero() const;

  const std::array<uint8_t, kScalarBytes>& bytes() const { return bytes_; }
  ByteSpan span() const { return ByteSpan(bytes_); }

  // Constant-time comparison.
  friend bool operator==(const Scalar& a, const Scalar& b);

 private:
  std::array<uint8_t, kScalarBytes> bytes_{};
};

// Point: an element of ristretto255, stored as its canonical encoding. Public data (not
// wiped). Default-constructed it is the identity; parsed from untrusted bytes it is never
// the identity (no honest share, key or ciphertext component is). Thread-compatible.
class Point {
 public:
  Point() = default;  // the identity

  // The standard generator g.
  static const Point& Generator();
  // Parses a 32-byte encoding. kMalformed for a wrong size, kNonCanonicalPoint when
  // crypto_core_ristretto255_is_valid_point refuses it, kIdentityPoint for the identity.
  static absl::StatusOr<Point> FromBytes(ByteSpan bytes);
  // Maps 64 uniform bytes (a domain-separated hash) onto the group with the ristretto255
  // one-way map (crypto_core_ristretto255_from_hash): nobody learns the result's discrete log.
  static Point FromUniformBytes(std::span<const uint8_t, kUniformBytes> bytes);
  // g^s, using libsodium's fixed-base tables.
  static Point MulBase(const Scalar& s);

  // this^s (the identity if s is zero or this is the identity).
  Point Mul(const Scalar& s) const;
  Point Add(const Point& other) const;
  Point Sub(const Point& other) const;
  bool IsIdentity() const;
  // Overwrites the point with the identity, for the few points that are secret (the
  // shared value h^r that masks a TDH2 key, decryption shares and their partial
  // combinations). Other points are public and never wiped.
  void Wipe();

  const std::array<uint8_t, kPointBytes>& bytes() const { return bytes_; }
  ByteSpan span() const { return ByteSpan(bytes_); }

  friend bool operator==(const Point& a, const Point& b) = default;

 private:
  std::array<uint8_t, kPointBytes> bytes_{};
};

}  // namespace belfry::threshold

#endif  // BELFRY_THRESHOLD_GROUP_H_
