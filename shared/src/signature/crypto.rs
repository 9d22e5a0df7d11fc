//! Digests, RSA PKCS#1 v1.5 verification and certificate handling for the check.
//!
//! Only verification happens here: no private keys, no randomness (so `rsa` builds for
//! wasm32 without `getrandom`). Every real PEC signature seen uses RSA with SHA-1 or
//! SHA-256; RSA-1024 keys (Aruba 2014) are accepted because the messages they signed
//! are legal documents that must still be checked.

use super::ber::{BerError, Tlv, tag};
use super::{oids, x509};
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest as _, Sha224, Sha256, Sha384, Sha512};

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

/// Verifies an RSA PKCS#1 v1.5 signature over an already computed digest with `cert`'s key.
pub(crate) fn verify_rsa(
    cert: &Cert<'_>,
    alg: DigestAlg,
    hashed: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    if cert.key_algorithm != oids::RSA_ENCRYPTION {
        return Err(KeyError::Unsupported);
    }
    let (n, e) = x509::rsa_public_key(cert.public_key).ok_or(KeyError::Unsupported)?;
    let key = RsaPublicKey::new_with_max_size(
        BigUint::from_bytes_be(n),
        BigUint::from_bytes_be(e),
        MAX_RSA_BITS,
    )
    .map_err(|_| KeyError::Unsupported)?;
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

/// A certificate with the exact bytes of the pieces the chain check compares or hashes,
/// read with the core's BER reader (see [`x509`]).
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
    /// `(notBefore, notAfter)` in seconds since the Unix epoch.
    validity: (i64, i64),
    /// OID contents of the subject key's algorithm, and the key (BIT STRING octets).
    key_algorithm: &'a [u8],
    public_key: &'a [u8],
    extensions: Vec<x509::Extension<'a>>,
}

impl<'a> Cert<'a> {
    /// Reads a DER certificate; `None` when it cannot be used.
    pub fn parse(der: &'a [u8]) -> Option<Self> {
        let read = x509::Certificate::read(der).ok()?;
        Some(Self {
            der,
            tbs: read.tbs,
            serial: read.serial,
            issuer: read.issuer,
            subject: read.subject,
            signature_algorithm: read.signature_algorithm,
            signature: read.signature,
            validity: (read.not_before, read.not_after),
            key_algorithm: read.key_algorithm,
            public_key: read.public_key,
            extensions: read.extensions,
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
        verify_rsa(issuer, alg, &hashed, self.signature).is_ok()
    }

    /// Subject key identifier extension value, when present.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        let value = self.extension(oids::SUBJECT_KEY_IDENTIFIER)?;
        let inner = Tlv::read_all(value).ok()?;
        let inner = inner.expect_universal(tag::OCTET_STRING).ok()?;
        inner.octets().ok().map(|o| o.into_owned())
    }

    /// Whether this certificate may issue others: `basicConstraints` with `cA` true and,
    /// when a `keyUsage` is present, `keyCertSign` in it (RFC 5280 4.2.1.9, 4.2.1.3).
    /// Without this, any end-entity certificate under an anchor (every PEC provider's)
    /// could mint certificates that chain.
    pub fn may_issue_certificates(&self) -> bool {
        let is_ca = self
            .extension(oids::BASIC_CONSTRAINTS)
            .and_then(x509::basic_constraints)
            .is_some_and(|(ca, _)| ca);
        is_ca && self.key_usage_allows(x509::key_usage::KEY_CERT_SIGN)
    }

    /// `(not_before, not_after)` as seconds since the Unix epoch.
    pub fn validity(&self) -> (i64, i64) {
        self.validity
    }

    /// The subject's organisation names (`O=`), as written (any string type but BMP).
    pub fn organisations(&self) -> Vec<String> {
        x509::name_values(self.subject, oids::ORGANIZATION_NAME)
    }

    /// The e-mail addresses of the `subjectAltName` extension (`rfc822Name`).
    pub fn email_addresses(&self) -> Vec<String> {
        self.extension(oids::SUBJECT_ALT_NAME)
            .and_then(x509::rfc822_names)
            .unwrap_or_default()
    }

    /// Whether the key may sign e-mail: `keyUsage`, when present, holds
    /// `digitalSignature` or `nonRepudiation`, and `extendedKeyUsage`, when present, holds
    /// `emailProtection` (RFC 5280 4.2.1.3, 4.2.1.12; RFC 8550 4.4). An unreadable
    /// extension allows nothing.
    pub fn may_sign_email(&self) -> bool {
        let extended = self
            .extension(oids::EXTENDED_KEY_USAGE)
            .is_none_or(|value| {
                x509::extended_key_usage(value)
                    .is_some_and(|purposes| purposes.contains(&oids::EMAIL_PROTECTION))
            });
        self.may_sign_documents() && extended
    }

    /// Whether `keyUsage`, when present, holds one of `bits`; an unreadable one holds none.
    fn key_usage_allows(&self, bits: u16) -> bool {
        self.extension(oids::KEY_USAGE)
            .is_none_or(|value| x509::key_usage(value).is_some_and(|usage| usage & bits != 0))
    }

    /// The value of the extension `oid`, when present.
    fn extension(&self, oid: &[u8]) -> Option<&'a [u8]> {
        self.extensions
            .iter()
            .find(|e| e.oid == oid)
            .map(|e| e.value)
    }

    /// The first value of attribute `oid` in the subject (`CN`, `O`, `serialNumber`...).
    pub fn subject_attribute(&self, oid: &[u8]) -> Option<String> {
        x509::name_attribute(self.subject, oid)
    }

    /// The first value of attribute `oid` in the issuer's name.
    pub fn issuer_attribute(&self, oid: &[u8]) -> Option<String> {
        x509::name_attribute(self.issuer, oid)
    }

    /// Whether the key may sign documents: `keyUsage`, when present, holds
    /// `nonRepudiation` (qualified signatures) or `digitalSignature`. Unreadable: no.
    pub fn may_sign_documents(&self) -> bool {
        self.key_usage_allows(x509::key_usage::DIGITAL_SIGNATURE | x509::key_usage::NON_REPUDIATION)
    }

    /// The subject in RFC 4514 form (`CN=...,O=...,C=IT`).
    pub fn subject_string(&self) -> String {
        x509::rfc4514(self.subject)
    }

    /// The issuer in RFC 4514 form.
    pub fn issuer_string(&self) -> String {
        x509::rfc4514(self.issuer)
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

/// The names and serial of a certificate read with the BER reader alone (no decoding of
/// values): a cheap look before [`Cert::parse`].
#[derive(Debug)]
pub(crate) struct RawCert<'a> {
    pub serial: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
}

impl<'a> RawCert<'a> {
    pub fn read(der: &'a [u8]) -> Result<Self, BerError> {
        let cert = Tlv::read_all(der)?.expect_universal(tag::SEQUENCE)?;
        let tbs = cert.children().next().ok_or(BerError::Unexpected)??;
        let mut fields = tbs.expect_universal(tag::SEQUENCE)?.children();
        let mut next = || fields.next().ok_or(BerError::Unexpected)?;
        let mut item = next()?;
        if item.is_context(0) {
            item = next()?;
        }
        let serial = item.expect_universal(tag::INTEGER)?.content;
        let _signature = next()?;
        let issuer = next()?.expect_universal(tag::SEQUENCE)?.raw;
        let _validity = next()?;
        let subject = next()?.expect_universal(tag::SEQUENCE)?.raw;
        Ok(Self {
            serial,
            issuer,
            subject,
        })
    }
}
