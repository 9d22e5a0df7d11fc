//! Digests, RSA PKCS#1 v1.5 verification and certificate handling for the check.
//!
//! Only verification happens here: no private keys, no randomness (so `rsa` builds for
//! wasm32 without `getrandom`). Every real PEC signature seen uses RSA with SHA-1 or
//! SHA-256; RSA-1024 keys (Aruba 2014) are accepted because the messages they signed
//! are legal documents that must still be checked.

use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest as _, Sha224, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_cert::der::Decode as _;

use super::ber::{BerError, Tlv, tag};
use super::oids;

/// Largest RSA modulus accepted (bits); bounds the work a hostile key can cause.
const MAX_RSA_BITS: usize = 8192;

/// Hash functions the check knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigestAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    /// From a digest algorithm OID (`id-sha1`, `id-sha256`, ...).
    pub fn from_digest_oid(oid: &[u8]) -> Option<Self> {
        match oid {
            o if o == oids::SHA1 => Some(Self::Sha1),
            o if o == oids::SHA224 => Some(Self::Sha224),
            o if o == oids::SHA256 => Some(Self::Sha256),
            o if o == oids::SHA384 => Some(Self::Sha384),
            o if o == oids::SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// From a `shaNNNWithRSAEncryption` signature algorithm OID.
    pub fn from_rsa_signature_oid(oid: &[u8]) -> Option<Self> {
        match oid {
            o if o == oids::SHA1_WITH_RSA => Some(Self::Sha1),
            o if o == oids::SHA224_WITH_RSA => Some(Self::Sha224),
            o if o == oids::SHA256_WITH_RSA => Some(Self::Sha256),
            o if o == oids::SHA384_WITH_RSA => Some(Self::Sha384),
            o if o == oids::SHA512_WITH_RSA => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            Self::Sha1 => Hasher::Sha1(Sha1::new()),
            Self::Sha224 => Hasher::Sha224(Sha224::new()),
            Self::Sha256 => Hasher::Sha256(Sha256::new()),
            Self::Sha384 => Hasher::Sha384(Sha384::new()),
            Self::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finalize()
    }

    fn pkcs1v15(self) -> Pkcs1v15Sign {
        match self {
            Self::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
            Self::Sha224 => Pkcs1v15Sign::new::<Sha224>(),
            Self::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
            Self::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
            Self::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
        }
    }
}

/// A running hash of one of the [`DigestAlg`]s.
#[derive(Debug, Clone)]
pub(crate) enum Hasher {
    Sha1(Sha1),
    Sha224(Sha224),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha224(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    pub fn finalize(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha224(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// Why a public-key operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// Not an RSA key, or a key this check refuses.
    Unsupported,
    /// The signature does not verify.
    Mismatch,
}

/// Verifies an RSA PKCS#1 v1.5 signature over an already computed digest.
pub(crate) fn verify_rsa(
    cert: &Certificate,
    alg: DigestAlg,
    hashed: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid.as_bytes() != oids::RSA_ENCRYPTION {
        return Err(KeyError::Unsupported);
    }
    let key = rsa::pkcs1::RsaPublicKey::from_der(spki.subject_public_key.raw_bytes())
        .map_err(|_| KeyError::Unsupported)?;
    let n = BigUint::from_bytes_be(key.modulus.as_bytes());
    let e = BigUint::from_bytes_be(key.public_exponent.as_bytes());
    let key =
        RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS).map_err(|_| KeyError::Unsupported)?;
    // Some writers drop leading zero octets of the signature: pad back to the key size.
    let size = rsa::traits::PublicKeyParts::size(&key);
    let padded;
    let signature = if signature.len() < size {
        let mut buf = vec![0u8; size - signature.len()];
        buf.extend_from_slice(signature);
        padded = buf;
        &padded[..]
    } else {
        signature
    };
    key.verify(alg.pkcs1v15(), hashed, signature)
        .map_err(|_| KeyError::Mismatch)
}

/// A certificate with the exact bytes of the pieces the chain check compares or hashes.
#[derive(Debug)]
pub(crate) struct Cert<'a> {
    pub der: &'a [u8],
    /// `tbsCertificate` as it stands (what the issuer signed).
    pub tbs: &'a [u8],
    /// Serial number (INTEGER contents).
    pub serial: &'a [u8],
    /// Issuer and subject `Name`s (whole DER items).
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    /// OID contents of the issuer's signature algorithm.
    pub signature_algorithm: &'a [u8],
    /// The issuer's signature (BIT STRING without its unused-bits octet).
    pub signature: &'a [u8],
    pub decoded: Certificate,
}

impl<'a> Cert<'a> {
    /// Reads a DER certificate; `None` when it cannot be used.
    pub fn parse(der: &'a [u8]) -> Option<Self> {
        let raw = RawCert::read(der).ok()?;
        let decoded = Certificate::from_der(der).ok()?;
        Some(Self {
            der,
            tbs: raw.tbs,
            serial: raw.serial,
            issuer: raw.issuer,
            subject: raw.subject,
            signature_algorithm: raw.signature_algorithm,
            signature: raw.signature,
            decoded,
        })
    }

    /// Whether `issuer`'s key signed this certificate.
    pub fn issued_by(&self, issuer: &Cert<'_>) -> bool {
        if self.issuer != issuer.subject {
            return false;
        }
        let Some(alg) = DigestAlg::from_rsa_signature_oid(self.signature_algorithm) else {
            return false;
        };
        let hashed = alg.digest(self.tbs);
        verify_rsa(&issuer.decoded, alg, &hashed, self.signature).is_ok()
    }

    /// Subject key identifier extension value, when present.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        let extensions = self.decoded.tbs_certificate.extensions.as_ref()?;
        let ext = extensions
            .iter()
            .find(|e| e.extn_id.as_bytes() == oids::SUBJECT_KEY_IDENTIFIER)?;
        let inner = Tlv::read_all(ext.extn_value.as_bytes()).ok()?;
        let inner = inner.expect_universal(tag::OCTET_STRING).ok()?;
        inner.octets().ok().map(|o| o.into_owned())
    }

    /// Whether this certificate may issue others: `basicConstraints` with `cA` true and,
    /// when a `keyUsage` is present, `keyCertSign` in it (RFC 5280 4.2.1.9, 4.2.1.3).
    /// Without this, any end-entity certificate under an anchor (every PEC provider's)
    /// could mint certificates that chain.
    pub fn may_issue_certificates(&self) -> bool {
        use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
        let Some(extensions) = self.decoded.tbs_certificate.extensions.as_ref() else {
            return false;
        };
        let find = |oid: &[u8]| extensions.iter().find(|e| e.extn_id.as_bytes() == oid);
        let is_ca = find(oids::BASIC_CONSTRAINTS)
            .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
            .is_some_and(|bc| bc.ca);
        let may_sign_certs = find(oids::KEY_USAGE).is_none_or(|e| {
            KeyUsage::from_der(e.extn_value.as_bytes()).is_ok_and(|ku| ku.key_cert_sign())
        });
        is_ca && may_sign_certs
    }

    /// `(not_before, not_after)` as seconds since the Unix epoch.
    pub fn validity(&self) -> (i64, i64) {
        let v = &self.decoded.tbs_certificate.validity;
        let secs = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        (secs(v.not_before), secs(v.not_after))
    }

    /// The subject's organisation names (`O=`), as written (any string type but BMP).
    pub fn organisations(&self) -> Vec<String> {
        self.decoded
            .tbs_certificate
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .filter(|atv| atv.oid.as_bytes() == oids::ORGANIZATION_NAME)
            .filter_map(|atv| std::str::from_utf8(atv.value.value()).ok())
            .map(str::to_owned)
            .collect()
    }

    /// The e-mail addresses of the `subjectAltName` extension (`rfc822Name`).
    pub fn email_addresses(&self) -> Vec<String> {
        use x509_cert::ext::pkix::SubjectAltName;
        use x509_cert::ext::pkix::name::GeneralName;
        let Some(ext) = self.extension(oids::SUBJECT_ALT_NAME) else {
            return Vec::new();
        };
        let Ok(names) = SubjectAltName::from_der(ext) else {
            return Vec::new();
        };
        names
            .0
            .iter()
            .filter_map(|name| match name {
                GeneralName::Rfc822Name(address) => Some(address.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Whether the key may sign e-mail: `keyUsage`, when present, holds
    /// `digitalSignature` or `nonRepudiation`, and `extendedKeyUsage`, when present, holds
    /// `emailProtection` (RFC 5280 4.2.1.3, 4.2.1.12; RFC 8550 4.4). An unreadable
    /// extension allows nothing.
    pub fn may_sign_email(&self) -> bool {
        use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage};
        let key_usage = self.extension(oids::KEY_USAGE).is_none_or(|value| {
            KeyUsage::from_der(value).is_ok_and(|ku| ku.digital_signature() || ku.non_repudiation())
        });
        let extended = self
            .extension(oids::EXTENDED_KEY_USAGE)
            .is_none_or(|value| {
                ExtendedKeyUsage::from_der(value).is_ok_and(|eku| {
                    eku.0
                        .iter()
                        .any(|oid| oid.as_bytes() == oids::EMAIL_PROTECTION)
                })
            });
        key_usage && extended
    }

    /// The value of the extension `oid`, when present.
    fn extension(&self, oid: &[u8]) -> Option<&[u8]> {
        self.decoded
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id.as_bytes() == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    /// The first value of attribute `oid` in the subject (`CN`, `O`, `serialNumber`...).
    pub fn subject_attribute(&self, oid: &[u8]) -> Option<String> {
        name_attribute(&self.decoded.tbs_certificate.subject, oid)
    }

    /// The first value of attribute `oid` in the issuer's name.
    pub fn issuer_attribute(&self, oid: &[u8]) -> Option<String> {
        name_attribute(&self.decoded.tbs_certificate.issuer, oid)
    }

    /// Whether the key may sign documents: `keyUsage`, when present, holds
    /// `nonRepudiation` (qualified signatures) or `digitalSignature`. Unreadable: no.
    pub fn may_sign_documents(&self) -> bool {
        use x509_cert::ext::pkix::KeyUsage;
        self.extension(oids::KEY_USAGE).is_none_or(|value| {
            KeyUsage::from_der(value).is_ok_and(|ku| ku.digital_signature() || ku.non_repudiation())
        })
    }

    /// The subject in RFC 4514 form (`CN=...,O=...,C=IT`).
    pub fn subject_string(&self) -> String {
        rfc4514(&self.decoded.tbs_certificate.subject)
    }

    /// The issuer in RFC 4514 form.
    pub fn issuer_string(&self) -> String {
        rfc4514(&self.decoded.tbs_certificate.issuer)
    }
}

/// The next certificate up a path: one of `bundled` (the certificates a signature
/// carries), not already on `path`, allowed to issue certificates, whose key signed
/// `current`. Shared by the PEC and the signed-document checks.
pub(crate) fn next_issuer<'c, 'a>(
    bundled: &'c [Cert<'a>],
    path: &[&Cert<'a>],
    current: &Cert<'a>,
) -> Option<&'c Cert<'a>> {
    bundled.iter().find(|c| {
        !path.iter().any(|p| p.der == c.der) && c.may_issue_certificates() && current.issued_by(c)
    })
}

/// A certificate written as PEM or bare base64 (whitespace ignored), decoded and checked to
/// parse; `None` otherwise.
pub(crate) fn decode_certificate_text(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .ok()
        .filter(|der| Cert::parse(der).is_some())
}

/// Short names of the attribute types of RFC 4514 form: the shortest name `const-oid`'s
/// database gives each (what `x509-cert`'s `Display` prints), for the attributes certificates
/// carry. Kept here instead of calling that `Display`: it links the whole OID database,
/// about a third of the add-ins' WebAssembly module. Others print as `OID=#HEX`.
const ATTRIBUTE_NAMES: [(&str, &str); 27] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.4", "SN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.12", "TITLE"),
    ("2.5.4.13", "DESCRIPTION"),
    ("2.5.4.14", "SEARCHGUIDE"),
    ("2.5.4.15", "BUSINESSCATEGORY"),
    ("2.5.4.16", "POSTALADDRESS"),
    ("2.5.4.17", "POSTALCODE"),
    ("2.5.4.18", "POSTOFFICEBOX"),
    ("2.5.4.20", "TELEPHONENUMBER"),
    ("2.5.4.41", "NAME"),
    ("2.5.4.42", "GIVENNAME"),
    ("2.5.4.43", "INITIALS"),
    ("2.5.4.44", "GENERATIONQUALIFIER"),
    ("2.5.4.45", "X500UNIQUEIDENTIFIER"),
    ("2.5.4.46", "DNQUALIFIER"),
    ("2.5.4.65", "PSEUDONYM"),
    ("1.2.840.113549.1.9.1", "EMAIL"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// A `Name` in RFC 4514 form, exactly as `x509-cert` 0.2 displays it: RDNs last first,
/// joined by `,`, multi-valued RDNs by `+`; a string value of a named type as `KEY=value`
/// with RFC 4514 escapes, anything else as `OID=#` and the value's DER in hex.
fn rfc4514(name: &x509_cert::name::Name) -> String {
    use std::fmt::Write as _;
    use x509_cert::der::{Encode as _, Tag, Tagged as _};
    let mut out = String::new();
    for (i, rdn) in name.0.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.0.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let bytes = atv.value.value();
            let text = match atv.value.tag() {
                Tag::PrintableString => std::str::from_utf8(bytes).ok().filter(|s| {
                    s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
                }),
                Tag::Ia5String => std::str::from_utf8(bytes).ok().filter(|s| s.is_ascii()),
                Tag::Utf8String | Tag::TeletexString => std::str::from_utf8(bytes).ok(),
                _ => None,
            };
            let oid = atv.oid.to_string();
            let key = ATTRIBUTE_NAMES
                .iter()
                .find(|(dotted, _)| *dotted == oid)
                .map(|(_, key)| *key);
            match (key, text) {
                (Some(key), Some(text)) => {
                    out.push_str(key);
                    out.push('=');
                    let mut chars = text.char_indices().peekable();
                    while let Some((k, c)) = chars.next() {
                        match c {
                            '#' if k == 0 => out.push_str("\\#"),
                            ' ' if k == 0 || chars.peek().is_none() => out.push_str("\\ "),
                            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                                out.push('\\');
                                out.push(c);
                            }
                            '\x00'..='\x1f' | '\x7f' => {
                                let _ = write!(out, "\\{:02x}", c as u8);
                            }
                            _ => out.push(c),
                        }
                    }
                }
                _ => {
                    let _ = write!(out, "{oid}=#");
                    for b in atv.value.to_der().unwrap_or_default() {
                        let _ = write!(out, "{b:02x}");
                    }
                }
            }
        }
    }
    out
}

/// The first value of attribute `oid` of a `Name`, decoded from any directory string type
/// (BMPString as UTF-16, TeletexString read as Latin-1 as its writers use it).
fn name_attribute(name: &x509_cert::name::Name, oid: &[u8]) -> Option<String> {
    use x509_cert::der::Tag;
    let atv = name
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid.as_bytes() == oid)?;
    let bytes = atv.value.value();
    let text = match x509_cert::der::Tagged::tag(&atv.value) {
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        Tag::TeletexString => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    };
    Some(text)
}

/// Slices of a certificate read with the BER reader (no decoding of values).
#[derive(Debug)]
pub(crate) struct RawCert<'a> {
    pub tbs: &'a [u8],
    pub serial: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub signature_algorithm: &'a [u8],
    pub signature: &'a [u8],
}

impl<'a> RawCert<'a> {
    pub fn read(der: &'a [u8]) -> Result<Self, BerError> {
        let cert = Tlv::read_all(der)?.expect_universal(tag::SEQUENCE)?;
        let mut parts = cert.children();
        let tbs = parts.next().ok_or(BerError::Unexpected)??;
        let tbs = tbs.expect_universal(tag::SEQUENCE)?;
        let signature_algorithm =
            super::cms::algorithm_oid(parts.next().ok_or(BerError::Unexpected)??)?;
        let bits = parts
            .next()
            .ok_or(BerError::Unexpected)??
            .expect_universal(tag::BIT_STRING)?;
        let signature = match bits.content {
            [0, rest @ ..] => rest,
            _ => return Err(BerError::Unexpected),
        };
        let mut fields = tbs.children();
        let mut item = fields.next().ok_or(BerError::Unexpected)??;
        if item.is_context(0) {
            item = fields.next().ok_or(BerError::Unexpected)??;
        }
        let serial = item.expect_universal(tag::INTEGER)?.content;
        let _signature = fields.next().ok_or(BerError::Unexpected)??;
        let issuer = fields
            .next()
            .ok_or(BerError::Unexpected)??
            .expect_universal(tag::SEQUENCE)?
            .raw;
        let _validity = fields.next().ok_or(BerError::Unexpected)??;
        let subject = fields
            .next()
            .ok_or(BerError::Unexpected)??
            .expect_universal(tag::SEQUENCE)?
            .raw;
        Ok(Self {
            tbs: tbs.raw,
            serial,
            issuer,
            subject,
            signature_algorithm,
            signature,
        })
    }
}

/// Reads a UTCTime or GeneralizedTime item as seconds since the Unix epoch.
pub(crate) fn time_item_seconds(item: &Tlv<'_>) -> Option<i64> {
    use x509_cert::der::asn1::{GeneralizedTime, UtcTime};
    let duration = if item.is_universal(tag::UTC_TIME) {
        UtcTime::from_der(item.raw).ok()?.to_unix_duration()
    } else if item.is_universal(tag::GENERALIZED_TIME) {
        GeneralizedTime::from_der(item.raw).ok()?.to_unix_duration()
    } else {
        return None;
    };
    i64::try_from(duration.as_secs()).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Our RFC 4514 form is `x509-cert`'s `Display` (which links the OID database) for
    /// every certificate we carry: the built-in PEC providers', the demo's and the simulator's.
    #[test]
    fn rfc4514_matches_x509_certs_display_on_every_carried_certificate() {
        let mut ders: Vec<Vec<u8>> = super::super::providers::builtin()
            .into_iter()
            .flat_map(|p| p.certificates)
            .collect();
        for pem in [
            &include_bytes!("../../../companion/demo/demo-ca.pem")[..],
            &include_bytes!("../../../companion/simulator/ca.pem")[..],
        ] {
            ders.extend(
                super::super::TrustAnchors::from_pem(pem)
                    .expect("pem")
                    .certificates,
            );
        }
        assert!(ders.len() >= 3, "certificates to compare");
        for der in &ders {
            let cert = Cert::parse(der).expect("certificate");
            let tbs = &cert.decoded.tbs_certificate;
            assert_eq!(rfc4514(&tbs.subject), tbs.subject.to_string());
            assert_eq!(rfc4514(&tbs.issuer), tbs.issuer.to_string());
        }
    }

    /// Escapes, multi-valued RDNs, unknown types and non-string values, against `Display`.
    #[test]
    fn rfc4514_matches_display_on_awkward_names() {
        use std::str::FromStr as _;
        for text in [
            "CN=\\#hash leading,O=Acme\\, S.p.A.,C=IT",
            "CN=\\ spaced\\ ,OU=a+OU=b,O=x",
            "CN=Mario Rossi+SERIALNUMBER=TINIT-RSSMRA80A01H501U,O=Ente\\;x <y>,C=IT",
            "2.5.4.97=#0c1156415449542d3132333435363738393031,CN=x",
            "UID=u1,DC=example,DC=it",
        ] {
            let name = x509_cert::name::Name::from_str(text).expect(text);
            assert_eq!(rfc4514(&name), name.to_string(), "{text}");
        }
    }
}
