//! The provider's signature: a detached CMS `SignedData` (RFC 5652) over the first part of
//! `multipart/signed`, RSA PKCS#1 v1.5 with SHA-256 and signed attributes (`contentType`,
//! `signingTime`, `messageDigest`), as PEC providers make them. The DER is written here by
//! hand (a few dozen lines) so the simulator needs no CMS crate.

use anyhow::Context as _;
use base64::Engine as _;
use chrono::{DateTime, Datelike as _, Utc};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest as _, Sha256};
use x509_cert::der::{Decode as _, Encode as _};

/// The committed TEST ONLY identity (`companion/simulator/`, see its README).
const TEST_CA: &str = include_str!("../../simulator/ca.pem");
const TEST_CERT: &str = include_str!("../../simulator/provider.pem");
const TEST_KEY: &str = include_str!("../../simulator/provider.key");

/// Who the simulated provider is: the CA a companion trusts, the signing certificate and
/// its private key, all PEM. The default is the committed test identity.
#[derive(Clone)]
pub struct Identity {
    /// PEM of the CA that issued the provider certificate (the trust anchor).
    pub ca_pem: String,
    /// PEM of the provider's signing certificate.
    pub cert_pem: String,
    /// PEM of the provider's private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
    pub key_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs even though the test one is public.
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

impl Identity {
    /// The committed TEST ONLY identity (`companion/simulator/`).
    pub fn test() -> Self {
        Self {
            ca_pem: TEST_CA.to_owned(),
            cert_pem: TEST_CERT.to_owned(),
            key_pem: TEST_KEY.to_owned(),
        }
    }
}

/// A loaded identity, ready to sign.
pub(crate) struct Signer {
    key: RsaPrivateKey,
    /// DER of the signer certificate and of the CA (both carried in the signature).
    certificates: Vec<Vec<u8>>,
    /// DER `IssuerAndSerialNumber` of the signer certificate.
    issuer_and_serial: Vec<u8>,
}

impl Signer {
    pub(crate) fn load(identity: &Identity) -> anyhow::Result<Self> {
        let key = RsaPrivateKey::from_pkcs8_pem(&identity.key_pem)
            .or_else(|_| {
                use rsa::pkcs1::DecodeRsaPrivateKey as _;
                RsaPrivateKey::from_pkcs1_pem(&identity.key_pem)
            })
            .context("simulator identity: unreadable private key")?;
        let cert = pem_der(&identity.cert_pem).context("simulator identity: certificate")?;
        let ca = pem_der(&identity.ca_pem).context("simulator identity: CA")?;
        let parsed = x509_cert::Certificate::from_der(&cert)
            .map_err(|e| anyhow::anyhow!("simulator identity: certificate: {e}"))?;
        let issuer = parsed
            .tbs_certificate
            .issuer
            .to_der()
            .map_err(|e| anyhow::anyhow!("simulator identity: issuer: {e}"))?;
        let serial = parsed.tbs_certificate.serial_number.as_bytes();
        let issuer_and_serial = seq(&[issuer, tlv(0x02, serial)]);
        Ok(Self {
            key,
            certificates: vec![cert, ca],
            issuer_and_serial,
        })
    }

    /// The DER `ContentInfo` of a detached signature over `content` made at `at`.
    pub(crate) fn sign(&self, content: &[u8], at: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
        let digest = Sha256::digest(content);
        let mut attributes = [
            seq(&[oid(OID_CONTENT_TYPE), set(&[oid(OID_DATA)])]),
            seq(&[oid(OID_SIGNING_TIME), set(&[time(at)])]),
            seq(&[oid(OID_MESSAGE_DIGEST), set(&[tlv(0x04, &digest[..])])]),
        ];
        // DER: the elements of a SET OF in the order of their encodings.
        attributes.sort();
        let attributes = attributes.concat();
        // The signature covers the attributes as a SET (0x31); they travel as [0] (0xA0).
        let to_sign = tlv(0x31, &attributes);
        let hashed = Sha256::digest(&to_sign);
        let signature = self
            .key
            .sign(Pkcs1v15Sign::new::<Sha256>(), &hashed)
            .context("RSA signature")?;
        let sha256 = seq(&[oid(OID_SHA256), NULL.to_vec()]);
        let signer_info = seq(&[
            tlv(0x02, &[1]),
            self.issuer_and_serial.clone(),
            sha256.clone(),
            tlv(0xA0, &attributes),
            seq(&[oid(OID_RSA), NULL.to_vec()]),
            tlv(0x04, &signature),
        ]);
        let signed_data = seq(&[
            tlv(0x02, &[1]),
            set(std::slice::from_ref(&sha256)),
            seq(&[oid(OID_DATA)]),
            tlv(0xA0, &self.certificates.concat()),
            set(&[signer_info]),
        ]);
        Ok(seq(&[oid(OID_SIGNED_DATA), tlv(0xA0, &signed_data)]))
    }
}

/// The first certificate of a PEM text, as DER.
pub(crate) fn pem_der(pem: &str) -> anyhow::Result<Vec<u8>> {
    let begin = pem
        .find("-----BEGIN CERTIFICATE-----")
        .context("no BEGIN CERTIFICATE")?;
    let rest = &pem[begin + "-----BEGIN CERTIFICATE-----".len()..];
    let end = rest.find("-----END").context("no END CERTIFICATE")?;
    let b64: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .context("certificate base64")
}

const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const OID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
const OID_SIGNING_TIME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const NULL: &[u8] = &[0x05, 0x00];

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &items.concat())
}

fn set(items: &[Vec<u8>]) -> Vec<u8> {
    let mut sorted = items.to_vec();
    sorted.sort();
    tlv(0x31, &sorted.concat())
}

fn oid(content: &[u8]) -> Vec<u8> {
    tlv(0x06, content)
}

/// `Time`: UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5).
fn time(at: DateTime<Utc>) -> Vec<u8> {
    if (1950..2050).contains(&at.year()) {
        tlv(0x17, at.format("%y%m%d%H%M%SZ").to_string().as_bytes())
    } else {
        tlv(0x18, at.format("%Y%m%d%H%M%SZ").to_string().as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_are_encoded_in_the_fewest_octets() {
        assert_eq!(tlv(0x04, &[0; 5])[..2], [0x04, 5]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn the_test_identity_loads_and_signs() {
        let signer = Signer::load(&Identity::test()).expect("identity");
        let der = signer.sign(b"hello", Utc::now()).expect("sign");
        assert_eq!(der[0], 0x30);
    }
}
