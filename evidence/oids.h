// evidence/oids.h — the object identifiers evidence/ writes and checks, Belfry's own arc
// among them.
//
// Belfry's arc is a UUID arc under 2.25 (ITU-T X.667: "2.25.<the UUID as one decimal
// integer>"), drawn once at random so that no registration is needed and no
// other organisation can collide with it. It is defined here and nowhere else;
// evidence/README.md has the table. Never renumber or reuse an arc: evidence signed under
// an OID must keep its meaning for as long as anyone may verify it.
#ifndef BELFRY_EVIDENCE_OIDS_H_
#define BELFRY_EVIDENCE_OIDS_H_

#include <string_view>

namespace belfry::evidence {

// Belfry's arc: UUID 10c51e58-678e-400c-8dee-d339bc80ccd2 as a decimal integer.
inline constexpr std::string_view kBelfryArcOid = "2.25.22291145890105351755682843402751233234";

// Signed attributes of an integrity certificate (UTF8String / INTEGER values).
inline constexpr std::string_view kClusterIdAttributeOid =
    "2.25.22291145890105351755682843402751233234.1";
inline constexpr std::string_view kDocumentNameAttributeOid =
    "2.25.22291145890105351755682843402751233234.2";
inline constexpr std::string_view kVersionAttributeOid =
    "2.25.22291145890105351755682843402751233234.3";
inline constexpr std::string_view kOwnerAttributeOid =
    "2.25.22291145890105351755682843402751233234.4";
// TSTInfo extension: the service's 32-byte log head at the time of stamping.
inline constexpr std::string_view kLogHeadExtensionOid =
    "2.25.22291145890105351755682843402751233234.5";
// The TSA policy every Belfry time-stamp token names.
inline constexpr std::string_view kTsaPolicyOid = "2.25.22291145890105351755682843402751233234.6";

// Standard identifiers (RFC 5652 §4, §5, §11; RFC 3161 §2.4.2; RFC 5035 §3; RFC 5754 §2;
// RFC 3370 §3.2).
inline constexpr std::string_view kIdDataOid = "1.2.840.113549.1.7.1";
inline constexpr std::string_view kIdSignedDataOid = "1.2.840.113549.1.7.2";
inline constexpr std::string_view kIdCtTstInfoOid = "1.2.840.113549.1.9.16.1.4";
inline constexpr std::string_view kContentTypeAttributeOid = "1.2.840.113549.1.9.3";
inline constexpr std::string_view kMessageDigestAttributeOid = "1.2.840.113549.1.9.4";
inline constexpr std::string_view kSigningTimeAttributeOid = "1.2.840.113549.1.9.5";
inline constexpr std::string_view kSigningCertificateV2AttributeOid = "1.2.840.113549.1.9.16.2.47";
inline constexpr std::string_view kSha256Oid = "2.16.840.1.101.3.4.2.1";
inline constexpr std::string_view kSha384Oid = "2.16.840.1.101.3.4.2.2";
inline constexpr std::string_view kSha512Oid = "2.16.840.1.101.3.4.2.3";
inline constexpr std::string_view kRsaEncryptionOid = "1.2.840.113549.1.1.1";

}  // namespace belfry::evidence

#endif  // BELFRY_EVIDENCE_OIDS_H_
