//! The parts of a CMS `SignedData` (RFC 5652) the check needs, as borrowed slices of the
//! `smime.p7s` bytes (BER or DER).
//!
//! Only structure is read here; no cryptography. Every slice points into the input so the
//! caller can hash or verify the exact bytes the signer produced.

use std::borrow::Cow;

use super::ber::{BerError, Tlv, tag};
use super::oids;

/// A parsed `SignedData`.
#[derive(Debug)]
pub(crate) struct SignedData<'a> {
    /// Certificates carried in the signature (DER of each `Certificate`).
    pub certificates: Vec<&'a [u8]>,
    pub signers: Vec<SignerInfo<'a>>,
    /// The encapsulated content (`eContent`, segments of a BER constructed OCTET STRING
    /// joined); `None` for a detached signature (S/MIME `smime.p7s`) or when unreadable.
    pub content: Option<Cow<'a, [u8]>>,
}

/// How a signer names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignerId<'a> {
    /// Issuer `Name` (whole DER item) and serial number (INTEGER contents).
    IssuerSerial { issuer: &'a [u8], serial: &'a [u8] },
    /// Subject key identifier octets.
    KeyId(Cow<'a, [u8]>),
}

/// One `SignerInfo`.
#[derive(Debug)]
pub(crate) struct SignerInfo<'a> {
    pub sid: SignerId<'a>,
    /// OID contents of the digest algorithm.
    pub digest_algorithm: &'a [u8],
    /// The `[0] IMPLICIT` signed attributes item as it stands (tag byte 0xA0 included).
    pub signed_attrs: Option<Tlv<'a>>,
    /// OID contents of the signature algorithm.
    pub signature_algorithm: &'a [u8],
    pub signature: Cow<'a, [u8]>,
}

/// The signed attributes the check uses.
#[derive(Debug, Default)]
pub(crate) struct SignedAttributes<'a> {
    pub message_digest: Option<Cow<'a, [u8]>>,
    /// The `signingTime` value item (UTCTime or GeneralizedTime).
    pub signing_time: Option<Tlv<'a>>,
}

/// Reads a `ContentInfo` carrying `SignedData`.
pub(crate) fn parse_signed_data(p7s: &[u8]) -> Result<SignedData<'_>, BerError> {
    // Some writers pad the base64 body: ignore bytes after the ContentInfo.
    let (content_info, _) = Tlv::read(p7s)?;
    let mut ci = content_info.expect_universal(tag::SEQUENCE)?.children();
    let content_type = next(&mut ci)?.expect_universal(tag::OID)?;
    if content_type.content != oids::SIGNED_DATA {
        return Err(BerError::Unexpected);
    }
    let explicit = next(&mut ci)?;
    if !explicit.is_context(0) {
        return Err(BerError::Unexpected);
    }
    let signed_data = next(&mut explicit.children())?.expect_universal(tag::SEQUENCE)?;

    let mut fields = signed_data.children();
    let _version = next(&mut fields)?.expect_universal(tag::INTEGER)?;
    let _digest_algorithms = next(&mut fields)?.expect_universal(tag::SET)?;
    let encap = next(&mut fields)?.expect_universal(tag::SEQUENCE)?;
    let content = encapsulated_content(&encap);
    let mut certificates = Vec::new();
    let mut item = next(&mut fields)?;
    if item.is_context(0) {
        for cert in item.children() {
            let cert = cert?;
            // Other certificate choices ([0]..[3]: attribute certificates etc.) are skipped.
            if cert.is_universal(tag::SEQUENCE) {
                certificates.push(cert.raw);
            }
        }
        item = next(&mut fields)?;
    }
    if item.is_context(1) {
        item = next(&mut fields)?;
    }
    let signer_infos = item.expect_universal(tag::SET)?;
    let signers = signer_infos
        .children()
        .map(|si| parse_signer_info(si?))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SignedData {
        certificates,
        signers,
        content,
    })
}

/// `EncapsulatedContentInfo ::= SEQUENCE { eContentType, eContent [0] EXPLICIT OCTET
/// STRING OPTIONAL }`: the content octets, read leniently (a detached signature has none).
fn encapsulated_content<'a>(encap: &Tlv<'a>) -> Option<Cow<'a, [u8]>> {
    let mut parts = encap.children();
    let _content_type = parts.next()?.ok()?.expect_universal(tag::OID).ok()?;
    let explicit = parts.next()?.ok()?;
    if !explicit.is_context(0) {
        return None;
    }
    let octets = explicit.children().next()?.ok()?;
    octets
        .expect_universal(tag::OCTET_STRING)
        .ok()?
        .octets()
        .ok()
}

fn parse_signer_info(si: Tlv<'_>) -> Result<SignerInfo<'_>, BerError> {
    let mut fields = si.expect_universal(tag::SEQUENCE)?.children();
    let _version = next(&mut fields)?.expect_universal(tag::INTEGER)?;
    let sid_item = next(&mut fields)?;
    let sid = if sid_item.is_universal(tag::SEQUENCE) {
        let mut parts = sid_item.children();
        let issuer = next(&mut parts)?.expect_universal(tag::SEQUENCE)?;
        let serial = next(&mut parts)?.expect_universal(tag::INTEGER)?;
        SignerId::IssuerSerial {
            issuer: issuer.raw,
            serial: serial.content,
        }
    } else if sid_item.is_context(0) {
        SignerId::KeyId(sid_item.octets()?)
    } else {
        return Err(BerError::Unexpected);
    };
    let digest_algorithm = algorithm_oid(next(&mut fields)?)?;
    let mut item = next(&mut fields)?;
    let signed_attrs = if item.is_context(0) {
        let attrs = item;
        item = next(&mut fields)?;
        Some(attrs)
    } else {
        None
    };
    let signature_algorithm = algorithm_oid(item)?;
    let signature = next(&mut fields)?
        .expect_universal(tag::OCTET_STRING)?
        .octets()?;
    Ok(SignerInfo {
        sid,
        digest_algorithm,
        signed_attrs,
        signature_algorithm,
        signature,
    })
}

/// The OID contents of an `AlgorithmIdentifier`.
pub(crate) fn algorithm_oid(item: Tlv<'_>) -> Result<&[u8], BerError> {
    let oid = next(&mut item.expect_universal(tag::SEQUENCE)?.children())?;
    Ok(oid.expect_universal(tag::OID)?.content)
}

/// Reads `messageDigest` and `signingTime` out of the signed attributes.
pub(crate) fn read_signed_attributes<'a>(
    attrs: &Tlv<'a>,
) -> Result<SignedAttributes<'a>, BerError> {
    let mut out = SignedAttributes::default();
    for attribute in attrs.children() {
        let mut parts = attribute?.expect_universal(tag::SEQUENCE)?.children();
        let kind = next(&mut parts)?.expect_universal(tag::OID)?;
        let values = next(&mut parts)?.expect_universal(tag::SET)?;
        let first_value = values.children().next().transpose()?;
        if kind.content == oids::MESSAGE_DIGEST {
            if out.message_digest.is_some() {
                // RFC 5652 5.3: exactly one messageDigest. Two is an attack, not a quirk.
                return Err(BerError::Unexpected);
            }
            let value = first_value.ok_or(BerError::Unexpected)?;
            out.message_digest = Some(value.expect_universal(tag::OCTET_STRING)?.octets()?);
        } else if kind.content == oids::SIGNING_TIME {
            out.signing_time = first_value;
        }
    }
    Ok(out)
}

fn next<'a>(items: &mut super::ber::Children<'a>) -> Result<Tlv<'a>, BerError> {
    items.next().ok_or(BerError::Unexpected)?
}
