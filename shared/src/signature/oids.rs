//! Object identifiers the signature check recognises, as DER contents octets
//! (what a [`super::ber::Tlv`] of an OID holds), so they compare without decoding.

/// `id-signedData` 1.2.840.113549.1.7.2.
pub const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// `id-messageDigest` 1.2.840.113549.1.9.4.
pub const MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
/// `id-signingTime` 1.2.840.113549.1.9.5.
pub const SIGNING_TIME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05];

/// `rsaEncryption` 1.2.840.113549.1.1.1.
pub const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// `sha1WithRSAEncryption` 1.2.840.113549.1.1.5.
pub const SHA1_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
/// `sha256WithRSAEncryption` 1.2.840.113549.1.1.11.
pub const SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// `sha384WithRSAEncryption` 1.2.840.113549.1.1.12.
pub const SHA384_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
/// `sha512WithRSAEncryption` 1.2.840.113549.1.1.13.
pub const SHA512_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
/// `sha224WithRSAEncryption` 1.2.840.113549.1.1.14.
pub const SHA224_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0e];

/// `id-sha1` 1.3.14.3.2.26.
pub const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
/// `id-sha256` 2.16.840.1.101.3.4.2.1.
pub const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
/// `id-sha384` 2.16.840.1.101.3.4.2.2.
pub const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
/// `id-sha512` 2.16.840.1.101.3.4.2.3.
pub const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
/// `id-sha224` 2.16.840.1.101.3.4.2.4.
pub const SHA224: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04];

/// `id-ce-subjectKeyIdentifier` 2.5.29.14.
pub const SUBJECT_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1d, 0x0e];
/// `id-ce-keyUsage` 2.5.29.15.
pub const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
/// `id-ce-basicConstraints` 2.5.29.19.
pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];

/// `id-ce-subjectAltName` 2.5.29.17.
pub const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// `id-ce-extKeyUsage` 2.5.29.37.
pub const EXTENDED_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
/// `id-kp-emailProtection` 1.3.6.1.5.5.7.3.4.
pub const EMAIL_PROTECTION: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04];
/// `id-at-organizationName` 2.5.4.10.
pub const ORGANIZATION_NAME: &[u8] = &[0x55, 0x04, 0x0a];
/// `id-at-commonName` 2.5.4.3.
pub const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// `id-at-serialNumber` 2.5.4.5 (Italian signers: `TINIT-` and the fiscal code).
pub const SERIAL_NUMBER: &[u8] = &[0x55, 0x04, 0x05];
/// `ansi-X9-62` 1.2.840.10045: the arc of ECDSA keys and signature algorithms.
pub const ANSI_X962: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d];
/// `id-RSASSA-PSS` 1.2.840.113549.1.1.10.
pub const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use x509_cert::der::oid::ObjectIdentifier;

    use super::*;

    #[test]
    fn constants_match_their_dotted_names() {
        for (bytes, dotted) in [
            (SIGNED_DATA, "1.2.840.113549.1.7.2"),
            (MESSAGE_DIGEST, "1.2.840.113549.1.9.4"),
            (SIGNING_TIME, "1.2.840.113549.1.9.5"),
            (RSA_ENCRYPTION, "1.2.840.113549.1.1.1"),
            (SHA1_WITH_RSA, "1.2.840.113549.1.1.5"),
            (SHA256_WITH_RSA, "1.2.840.113549.1.1.11"),
            (SHA384_WITH_RSA, "1.2.840.113549.1.1.12"),
            (SHA512_WITH_RSA, "1.2.840.113549.1.1.13"),
            (SHA224_WITH_RSA, "1.2.840.113549.1.1.14"),
            (SHA1, "1.3.14.3.2.26"),
            (SHA256, "2.16.840.1.101.3.4.2.1"),
            (SHA384, "2.16.840.1.101.3.4.2.2"),
            (SHA512, "2.16.840.1.101.3.4.2.3"),
            (SHA224, "2.16.840.1.101.3.4.2.4"),
            (SUBJECT_KEY_IDENTIFIER, "2.5.29.14"),
            (KEY_USAGE, "2.5.29.15"),
            (BASIC_CONSTRAINTS, "2.5.29.19"),
            (SUBJECT_ALT_NAME, "2.5.29.17"),
            (EXTENDED_KEY_USAGE, "2.5.29.37"),
            (EMAIL_PROTECTION, "1.3.6.1.5.5.7.3.4"),
            (ORGANIZATION_NAME, "2.5.4.10"),
            (COMMON_NAME, "2.5.4.3"),
            (SERIAL_NUMBER, "2.5.4.5"),
            (ANSI_X962, "1.2.840.10045"),
            (RSASSA_PSS, "1.2.840.113549.1.1.10"),
        ] {
            let oid = ObjectIdentifier::new(dotted).unwrap();
            assert_eq!(oid.as_bytes(), bytes, "{dotted}");
        }
    }
}
