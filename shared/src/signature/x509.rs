//! X.509 certificates (RFC 5280) read with the core's own BER reader.
//!
//! Why not `x509-cert`: its decoders (`der`, `const-oid`, `spki`) were about 96 KB of the
//! add-ins' WebAssembly module for the handful of fields the check reads. Here every field
//! is a borrowed slice of the certificate and the few extensions the check uses are decoded
//! on demand. The reader is as strict as `x509-cert` where it matters for the check (the
//! structure of the certificate, definite lengths, times as RFC 5280 writes them, the
//! extensions' own syntax) and never panics: the tests compare it with `x509-cert` on every
//! certificate the repository and the public corpus carry, and feed it truncated and
//! corrupted certificates.

use super::ber::{BerError, Children, Class, Tlv, tag};

/// Universal tag numbers of the string types a `Name` holds.
mod string_tag {
    pub const BOOLEAN: u32 = 1;
    pub const UTF8_STRING: u32 = 12;
    pub const PRINTABLE_STRING: u32 = 19;
    pub const TELETEX_STRING: u32 = 20;
    pub const IA5_STRING: u32 = 22;
    pub const BMP_STRING: u32 = 30;
}

/// The fields of a certificate the check uses, borrowed from its DER.
#[derive(Debug)]
pub(crate) struct Certificate<'a> {
    /// `tbsCertificate` as it stands (what the issuer signed).
    pub tbs: &'a [u8],
    /// Serial number (INTEGER contents).
    pub serial: &'a [u8],
    /// Issuer and subject `Name`s (whole DER items).
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    /// `notBefore`, `notAfter` as seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// OID contents of the subject public key's algorithm.
    pub key_algorithm: &'a [u8],
    /// The subject public key (BIT STRING contents without the unused-bits octet).
    pub public_key: &'a [u8],
    /// OID contents of the issuer's signature algorithm.
    pub signature_algorithm: &'a [u8],
    /// The issuer's signature (BIT STRING without its unused-bits octet).
    pub signature: &'a [u8],
    pub extensions: Vec<Extension<'a>>,
}

/// One extension: its OID contents and the contents of `extnValue`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extension<'a> {
    pub oid: &'a [u8],
    pub value: &'a [u8],
}

/// One `AttributeTypeAndValue` of a `Name`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attribute<'a> {
    /// OID contents of the attribute type.
    pub oid: &'a [u8],
    /// The value item as it stands.
    pub value: Tlv<'a>,
}

impl<'a> Certificate<'a> {
    /// Reads a DER certificate. Fails on anything `x509-cert` would refuse that the check
    /// depends on: a missing or misplaced field, an indefinite length, a time that is not
    /// `YYMMDDHHMMSSZ`/`YYYYMMDDHHMMSSZ` or names no real instant, a malformed `Name`,
    /// OID or extension list, bytes after the certificate.
    pub fn read(der: &'a [u8]) -> Result<Self, BerError> {
        let cert = definite(Tlv::read_all(der)?)?.expect_universal(tag::SEQUENCE)?;
        let mut parts = cert.children();
        let tbs = next(&mut parts)?.expect_universal(tag::SEQUENCE)?;
        let signature_algorithm = algorithm(next(&mut parts)?)?;
        let signature = bit_string(next(&mut parts)?)?;
        let signature = match signature {
            (0, bits) => bits,
            _ => return Err(BerError::Unexpected),
        };
        end(parts)?;

        let mut fields = tbs.children();
        let mut item = next(&mut fields)?;
        if item.is_context(0) {
            let mut explicit = item.children();
            let version = next(&mut explicit)?.expect_universal(tag::INTEGER)?;
            if !matches!(version.content, [0..=2]) {
                return Err(BerError::Unexpected);
            }
            end(explicit)?;
            item = next(&mut fields)?;
        }
        let serial = item.expect_universal(tag::INTEGER)?.content;
        // RFC 5280 4.1.2.2: at most 20 octets; `x509-cert` reads up to 21 (sign octet).
        if serial.is_empty() || serial.len() > 21 {
            return Err(BerError::Unexpected);
        }
        let _inner_signature = algorithm(next(&mut fields)?)?;
        let issuer = name(next(&mut fields)?)?;
        let mut validity = next(&mut fields)?
            .expect_universal(tag::SEQUENCE)?
            .children();
        let not_before = time_seconds(&next(&mut validity)?).ok_or(BerError::Unexpected)?;
        let not_after = time_seconds(&next(&mut validity)?).ok_or(BerError::Unexpected)?;
        end(validity)?;
        let subject = name(next(&mut fields)?)?;
        let mut spki = next(&mut fields)?
            .expect_universal(tag::SEQUENCE)?
            .children();
        let key_algorithm = algorithm(next(&mut spki)?)?;
        let (_, public_key) = bit_string(next(&mut spki)?)?;
        end(spki)?;

        let mut extensions = Vec::new();
        let mut last = 0;
        for item in fields {
            let item = definite(item?)?;
            // issuerUniqueID [1], subjectUniqueID [2], extensions [3], in this order, once.
            let number = match item.class {
                Class::Context if (1..=3).contains(&item.number) && item.number > last => {
                    item.number
                }
                _ => return Err(BerError::Unexpected),
            };
            last = number;
            if number == 3 {
                let mut explicit = item.children();
                let list = next(&mut explicit)?.expect_universal(tag::SEQUENCE)?;
                end(explicit)?;
                for extension in list.children() {
                    extensions.push(read_extension(definite(extension?)?)?);
                }
            }
        }
        Ok(Self {
            tbs: tbs.raw,
            serial,
            issuer: issuer.raw,
            subject: subject.raw,
            not_before,
            not_after,
            key_algorithm,
            public_key,
            signature_algorithm,
            signature,
            extensions,
        })
    }
}

/// `Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET
/// STRING }`.
fn read_extension(item: Tlv<'_>) -> Result<Extension<'_>, BerError> {
    let mut parts = item.expect_universal(tag::SEQUENCE)?.children();
    let oid = oid(next(&mut parts)?)?;
    let mut item = next(&mut parts)?;
    if item.is_universal(string_tag::BOOLEAN) {
        boolean(&item)?;
        item = next(&mut parts)?;
    }
    let value = primitive(item.expect_universal(tag::OCTET_STRING)?)?.content;
    end(parts)?;
    Ok(Extension { oid, value })
}

/// The attributes of a `Name` (`SEQUENCE OF SET OF AttributeTypeAndValue`), RDN by RDN in
/// the order written; `None` when it is not one.
pub(crate) fn rdns<'a>(name: &'a [u8]) -> Option<Vec<Vec<Attribute<'a>>>> {
    let name = Tlv::read_all(name).ok()?;
    rdns_of(&name).ok()
}

fn rdns_of<'a>(name: &Tlv<'a>) -> Result<Vec<Vec<Attribute<'a>>>, BerError> {
    let name = definite(*name)?.expect_universal(tag::SEQUENCE)?;
    let mut out = Vec::new();
    for rdn in name.children() {
        let rdn = definite(rdn?)?.expect_universal(tag::SET)?;
        let mut attributes = Vec::new();
        for atv in rdn.children() {
            let mut parts = definite(atv?)?.expect_universal(tag::SEQUENCE)?.children();
            let oid = oid(next(&mut parts)?)?;
            let value = definite(next(&mut parts)?)?;
            end(parts)?;
            attributes.push(Attribute { oid, value });
        }
        if attributes.is_empty() {
            return Err(BerError::Unexpected);
        }
        out.push(attributes);
    }
    Ok(out)
}

/// Checks a `Name` and returns its item.
fn name(item: Tlv<'_>) -> Result<Tlv<'_>, BerError> {
    rdns_of(&item)?;
    Ok(item)
}

/// The first value of attribute `oid` of a `Name`, decoded from any directory string type
/// (BMPString as UTF-16, TeletexString read as Latin-1 as its writers use it, anything else
/// as UTF-8 with replacement characters).
pub(crate) fn name_attribute(name: &[u8], oid: &[u8]) -> Option<String> {
    let rdns = rdns(name)?;
    let atv = rdns.iter().flatten().find(|atv| atv.oid == oid)?;
    let bytes = atv.value.content;
    let text = match universal_tag(&atv.value) {
        Some(string_tag::BMP_STRING) => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        Some(string_tag::TELETEX_STRING) => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    };
    Some(text)
}

/// The values of attribute `oid` that are UTF-8 text, as written.
pub(crate) fn name_values(name: &[u8], oid: &[u8]) -> Vec<String> {
    rdns(name)
        .unwrap_or_default()
        .iter()
        .flatten()
        .filter(|atv| atv.oid == oid)
        .filter_map(|atv| std::str::from_utf8(atv.value.content).ok())
        .map(str::to_owned)
        .collect()
}

/// Short names of the attribute types of RFC 4514 form: the shortest name `const-oid`'s
/// database gives each (what `x509-cert`'s `Display` prints), for the attributes
/// certificates carry. Others print as `OID=#HEX`.
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
/// with RFC 4514 escapes, anything else as `OID=#` and the value's DER in hex. Empty when
/// `name` is not a `Name`.
pub(crate) fn rfc4514(name: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (i, rdn) in rdns(name).unwrap_or_default().iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let bytes = atv.value.content;
            let text = match universal_tag(&atv.value) {
                Some(string_tag::PRINTABLE_STRING) => std::str::from_utf8(bytes).ok().filter(|s| {
                    s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
                }),
                Some(string_tag::IA5_STRING) => {
                    std::str::from_utf8(bytes).ok().filter(|s| s.is_ascii())
                }
                Some(string_tag::UTF8_STRING | string_tag::TELETEX_STRING) => {
                    std::str::from_utf8(bytes).ok()
                }
                _ => None,
            };
            let oid = oid_dotted(atv.oid).unwrap_or_default();
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
                    out.push_str(&oid);
                    out.push_str("=#");
                    for b in atv.value.raw {
                        let _ = write!(out, "{b:02x}");
                    }
                }
            }
        }
    }
    out
}

/// The tag number of a primitive universal item (the string types), `None` otherwise.
fn universal_tag(item: &Tlv<'_>) -> Option<u32> {
    (item.class == Class::Universal && !item.constructed).then_some(item.number)
}

/// An OID's contents in dotted form (`2.5.4.3`); `None` when malformed (empty, an arc
/// over 32 bits, a non-minimal or unterminated arc).
pub(crate) fn oid_dotted(contents: &[u8]) -> Option<String> {
    let arcs = oid_arcs(contents)?;
    let mut out = String::new();
    for (i, arc) in arcs.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&arc.to_string());
    }
    Some(out)
}

fn oid_arcs(contents: &[u8]) -> Option<Vec<u32>> {
    // `const-oid`'s limit (39 octets) bounds the work too.
    if contents.is_empty() || contents.len() > 39 || contents.last()? & 0x80 != 0 {
        return None;
    }
    let mut arcs = Vec::new();
    let mut value: u32 = 0;
    let mut start = true;
    for &byte in contents {
        if start && byte == 0x80 {
            return None;
        }
        value = value.checked_mul(128)? | u32::from(byte & 0x7f);
        start = byte & 0x80 == 0;
        if start {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    Some(arcs)
}

/// `KeyUsage` bits (bit 0 `digitalSignature` ... bit 8 `decipherOnly`) of an `extnValue`;
/// `None` when unreadable (not a BIT STRING, more than 16 bits).
pub(crate) fn key_usage(value: &[u8]) -> Option<u16> {
    let (unused, bytes) = bit_string(Tlv::read_all(value).ok()?).ok()?;
    let len = (bytes.len() * 8).checked_sub(usize::from(unused))?;
    if len > 16 {
        return None;
    }
    let mut flags = 0u16;
    for i in 0..len {
        let bit = (bytes[i / 8] >> (7 - i % 8)) & 1;
        flags |= u16::from(bit) << i;
    }
    Some(flags)
}

/// `KeyUsage` bit numbers (RFC 5280 4.2.1.3).
pub(crate) mod key_usage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const NON_REPUDIATION: u16 = 1 << 1;
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
}

/// `BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER
/// (0..MAX) OPTIONAL }` of an `extnValue`: `(cA, pathLenConstraint)`; `None` when
/// unreadable (a path length over 255 included, as `x509-cert` reads it into a `u8`).
pub(crate) fn basic_constraints(value: &[u8]) -> Option<(bool, Option<u8>)> {
    let seq = definite(Tlv::read_all(value).ok()?)
        .ok()?
        .expect_universal(tag::SEQUENCE)
        .ok()?;
    let mut parts = seq.children().peekable();
    let mut ca = false;
    if let Some(Ok(item)) = parts.peek()
        && item.is_universal(string_tag::BOOLEAN)
    {
        ca = boolean(item).ok()?;
        parts.next();
    }
    let path_len = match parts.next() {
        None => None,
        Some(item) => {
            let item = primitive(item.ok()?.expect_universal(tag::INTEGER).ok()?).ok()?;
            Some(small_unsigned(item.content)?)
        }
    };
    parts.next().is_none().then_some((ca, path_len))
}

/// A DER INTEGER's contents as a `u8` (minimal encoding, not negative).
fn small_unsigned(contents: &[u8]) -> Option<u8> {
    match contents {
        [b] if b & 0x80 == 0 => Some(*b),
        [0, b] if b & 0x80 != 0 => Some(*b),
        _ => None,
    }
}

/// The key purposes of an `ExtendedKeyUsage` `extnValue` (OID contents); `None` when
/// unreadable.
pub(crate) fn extended_key_usage(value: &[u8]) -> Option<Vec<&[u8]>> {
    let seq = definite(Tlv::read_all(value).ok()?)
        .ok()?
        .expect_universal(tag::SEQUENCE)
        .ok()?;
    seq.children().map(|item| oid(item.ok()?).ok()).collect()
}

/// The `rfc822Name`s of a `SubjectAltName` `extnValue`; `None` when unreadable (an entry
/// that is no `GeneralName`, an `rfc822Name` that is not IA5 text).
pub(crate) fn rfc822_names(value: &[u8]) -> Option<Vec<String>> {
    let seq = definite(Tlv::read_all(value).ok()?)
        .ok()?
        .expect_universal(tag::SEQUENCE)
        .ok()?;
    let mut out = Vec::new();
    for item in seq.children() {
        let item = definite(item.ok()?).ok()?;
        // GeneralName: otherName [0], x400Address [3], directoryName [4] and
        // ediPartyName [5] are constructed, the others primitive.
        let constructed = match (item.class, item.number) {
            (Class::Context, 0 | 3 | 4 | 5) => true,
            (Class::Context, 1 | 2 | 6 | 7 | 8) => false,
            _ => return None,
        };
        if item.constructed != constructed {
            return None;
        }
        if item.number == 1 {
            let text = std::str::from_utf8(item.content)
                .ok()
                .filter(|s| s.is_ascii())?;
            out.push(text.to_owned());
        }
    }
    Some(out)
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017
/// A.1.1): the big-endian magnitudes of both, without a leading zero octet. `None` when
/// unreadable or when either is negative or zero-length.
pub(crate) fn rsa_public_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let seq = definite(Tlv::read_all(der).ok()?)
        .ok()?
        .expect_universal(tag::SEQUENCE)
        .ok()?;
    let mut parts = seq.children();
    let mut unsigned = || -> Option<&[u8]> {
        let item = primitive(parts.next()?.ok()?.expect_universal(tag::INTEGER).ok()?).ok()?;
        match item.content {
            [] => None,
            [first, ..] if first & 0x80 != 0 => None,
            [0, rest @ ..] if !rest.is_empty() => Some(rest),
            bytes => Some(bytes),
        }
    };
    let n = unsigned()?;
    let e = unsigned()?;
    parts.next().is_none().then_some((n, e))
}

/// Reads a UTCTime (`YYMMDDHHMMSSZ`, RFC 5280 4.1.2.5.1: `YY` under 50 is 20YY, else 19YY)
/// or GeneralizedTime (`YYYYMMDDHHMMSSZ`, 4.1.2.5.2) item as seconds since the Unix epoch;
/// `None` for any other form (fractions, offsets, missing seconds) or a date that does not
/// exist.
pub(crate) fn time_seconds(item: &Tlv<'_>) -> Option<i64> {
    if item.constructed || item.class != Class::Universal {
        return None;
    }
    let digits = |bytes: &[u8]| -> Option<i64> {
        bytes.iter().try_fold(0i64, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
        })
    };
    let (year, rest) = match (item.number, item.content) {
        (tag::UTC_TIME, content) if content.len() == 13 => {
            let yy = digits(&content[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &content[2..])
        }
        (tag::GENERALIZED_TIME, content) if content.len() == 15 => {
            (digits(&content[..4])?, &content[4..])
        }
        _ => return None,
    };
    let [m1, m2, d1, d2, h1, h2, n1, n2, s1, s2, b'Z'] = rest else {
        return None;
    };
    let month = digits(&[*m1, *m2])?;
    let day = digits(&[*d1, *d2])?;
    let hour = digits(&[*h1, *h2])?;
    let minute = digits(&[*n1, *n2])?;
    let second = digits(&[*s1, *s2])?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        _ => return None,
    };
    if !(1..=month_days).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

// ---- small readers ----

fn next<'a>(items: &mut Children<'a>) -> Result<Tlv<'a>, BerError> {
    definite(items.next().ok_or(BerError::Unexpected)??)
}

/// Fails unless the children are all read.
fn end(mut items: Children<'_>) -> Result<(), BerError> {
    match items.next() {
        None => Ok(()),
        Some(_) => Err(BerError::Unexpected),
    }
}

/// DER has no indefinite lengths.
fn definite(item: Tlv<'_>) -> Result<Tlv<'_>, BerError> {
    if item.indefinite {
        Err(BerError::Malformed)
    } else {
        Ok(item)
    }
}

/// DER has no constructed strings.
fn primitive(item: Tlv<'_>) -> Result<Tlv<'_>, BerError> {
    if item.constructed {
        Err(BerError::Malformed)
    } else {
        Ok(item)
    }
}

/// A well-formed OID item's contents.
fn oid(item: Tlv<'_>) -> Result<&[u8], BerError> {
    let item = primitive(item.expect_universal(tag::OID)?)?;
    oid_arcs(item.content).ok_or(BerError::Malformed)?;
    Ok(item.content)
}

/// `AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }`: the OID.
fn algorithm(item: Tlv<'_>) -> Result<&[u8], BerError> {
    let mut parts = item.expect_universal(tag::SEQUENCE)?.children();
    let oid = oid(next(&mut parts)?)?;
    if parts.next().transpose()?.is_some() {
        end(parts)?;
    }
    Ok(oid)
}

/// A BIT STRING: `(unused bits, octets)`.
fn bit_string(item: Tlv<'_>) -> Result<(u8, &[u8]), BerError> {
    let item = primitive(item.expect_universal(tag::BIT_STRING)?)?;
    match item.content {
        [unused, bytes @ ..] if *unused <= 7 && (*unused == 0 || !bytes.is_empty()) => {
            Ok((*unused, bytes))
        }
        _ => Err(BerError::Malformed),
    }
}

/// A DER BOOLEAN (`00` or `FF`).
fn boolean(item: &Tlv<'_>) -> Result<bool, BerError> {
    match (item.constructed, item.content) {
        (false, [0x00]) => Ok(false),
        (false, [0xff]) => Ok(true),
        _ => Err(BerError::Malformed),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::{Path, PathBuf};

    use x509_cert::der::{Decode as _, Encode as _};

    use super::super::crypto::Cert;
    use super::super::{cms, mime, oids};
    use super::*;

    /// Every certificate the repository and (when `PECDESK_CORPUS` is set) the public corpus
    /// carry: built-in providers, PEM files, the certificates inside every signed message,
    /// CAdES file and trusted list, with where each came from.
    fn carried_certificates() -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = super::super::providers::builtin()
            .into_iter()
            .flat_map(|p| p.certificates)
            .map(|der| ("built-in providers".to_owned(), der))
            .collect();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for dir in [
            "shared/tests/fixtures",
            "companion/demo",
            "companion/simulator",
            "fuzz/seeds",
        ] {
            walk(&root.join(dir), &mut files);
        }
        if let Ok(corpus) = std::env::var("PECDESK_CORPUS") {
            walk(&Path::new(&corpus).join("public"), &mut files);
        }
        for path in files {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let name = path.display().to_string();
            let mut ders = Vec::new();
            match path.extension().and_then(|e| e.to_str()) {
                Some("pem") => {
                    ders.extend(between(&bytes, "-----BEGIN CERTIFICATE-----", "-----END"))
                }
                Some("xml" | "in") => ders.extend(between(&bytes, "X509Certificate>", "<")),
                Some("eml") => {
                    let layout = mime::read_outer(&bytes).layout;
                    if let Some(p7s) = layout
                        .and_then(|l| l.signature_part)
                        .and_then(|range| mime::signature_bytes(&bytes[range]))
                    {
                        signed_data_certificates(&p7s, &mut ders, 0);
                    }
                }
                Some("p7m" | "p7s") => {
                    let der = if bytes.first() == Some(&0x30) {
                        Some(bytes.clone())
                    } else {
                        let text = String::from_utf8_lossy(&bytes);
                        let body: String =
                            text.lines().filter(|l| !l.starts_with("-----")).collect();
                        mime::decode_base64(body.as_bytes())
                    };
                    if let Some(der) = der {
                        signed_data_certificates(&der, &mut ders, 0);
                    }
                }
                _ => {}
            }
            out.extend(ders.into_iter().map(|der| (name.clone(), der)));
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out.dedup_by(|a, b| a.1 == b.1);
        out
    }

    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else {
                files.push(path);
            }
        }
    }

    /// Base64 bodies between `start` and `end` markers, decoded.
    fn between(bytes: &[u8], start: &str, end: &str) -> Vec<Vec<u8>> {
        let text = String::from_utf8_lossy(bytes);
        text.split(start)
            .skip(1)
            .filter_map(|rest| rest.split(end).next())
            .filter_map(|body| {
                let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                mime::decode_base64(body.as_bytes())
            })
            .collect()
    }

    fn signed_data_certificates(p7: &[u8], out: &mut Vec<Vec<u8>>, depth: usize) {
        let Ok(signed) = cms::parse_signed_data(p7) else {
            return;
        };
        out.extend(signed.certificates.iter().map(|c| c.to_vec()));
        if let Some(content) = &signed.content
            && depth < 3
        {
            signed_data_certificates(content, out, depth + 1);
        }
    }

    // ---- what the code read with `x509-cert` before (the reference) ----

    fn reference_name_attribute(name: &x509_cert::name::Name, oid: &[u8]) -> Option<String> {
        use x509_cert::der::Tag;
        let atv = name
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find(|atv| atv.oid.as_bytes() == oid)?;
        let bytes = atv.value.value();
        Some(match x509_cert::der::Tagged::tag(&atv.value) {
            Tag::BmpString => {
                let units: Vec<u16> = bytes
                    .chunks_exact(2)
                    .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                    .collect();
                String::from_utf16_lossy(&units)
            }
            Tag::TeletexString => bytes.iter().map(|&b| char::from(b)).collect(),
            _ => String::from_utf8_lossy(bytes).into_owned(),
        })
    }

    fn reference_key_usage(value: &[u8]) -> Option<u16> {
        x509_cert::ext::pkix::KeyUsage::from_der(value)
            .ok()
            .map(|ku| ku.0.bits())
    }

    fn reference_basic_constraints(value: &[u8]) -> Option<(bool, Option<u8>)> {
        x509_cert::ext::pkix::BasicConstraints::from_der(value)
            .ok()
            .map(|bc| (bc.ca, bc.path_len_constraint))
    }

    fn reference_extended_key_usage(value: &[u8]) -> Option<Vec<Vec<u8>>> {
        x509_cert::ext::pkix::ExtendedKeyUsage::from_der(value)
            .ok()
            .map(|eku| eku.0.iter().map(|o| o.as_bytes().to_vec()).collect())
    }

    fn reference_rfc822_names(value: &[u8]) -> Option<Vec<String>> {
        use x509_cert::ext::pkix::name::GeneralName;
        x509_cert::ext::pkix::SubjectAltName::from_der(value)
            .ok()
            .map(|san| {
                san.0
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::Rfc822Name(address) => Some(address.to_string()),
                        _ => None,
                    })
                    .collect()
            })
    }

    /// Everything the check reads from a certificate, ours against `x509-cert`'s.
    fn assert_same_reading(origin: &str, der: &[u8], reference: &x509_cert::Certificate) {
        let cert = Cert::parse(der).unwrap_or_else(|| panic!("{origin}: ours refuses"));
        let read = Certificate::read(der).unwrap();
        let tbs = &reference.tbs_certificate;
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        assert_eq!(
            cert.validity(),
            (secs(tbs.validity.not_before), secs(tbs.validity.not_after)),
            "{origin}: validity"
        );
        assert_eq!(read.tbs, tbs.to_der().unwrap(), "{origin}: tbs");
        assert_eq!(
            read.serial,
            tbs.serial_number.as_bytes(),
            "{origin}: serial"
        );
        assert_eq!(
            cert.issuer,
            tbs.issuer.to_der().unwrap(),
            "{origin}: issuer"
        );
        assert_eq!(
            cert.subject,
            tbs.subject.to_der().unwrap(),
            "{origin}: subject"
        );
        assert_eq!(cert.subject_string(), tbs.subject.to_string(), "{origin}");
        assert_eq!(cert.issuer_string(), tbs.issuer.to_string(), "{origin}");
        for oid in [
            oids::COMMON_NAME,
            oids::ORGANIZATION_NAME,
            oids::SERIAL_NUMBER,
        ] {
            assert_eq!(
                cert.subject_attribute(oid),
                reference_name_attribute(&tbs.subject, oid),
                "{origin}: subject attribute"
            );
            assert_eq!(
                cert.issuer_attribute(oid),
                reference_name_attribute(&tbs.issuer, oid),
                "{origin}: issuer attribute"
            );
        }
        let organisations: Vec<String> = tbs
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .filter(|atv| atv.oid.as_bytes() == oids::ORGANIZATION_NAME)
            .filter_map(|atv| std::str::from_utf8(atv.value.value()).ok())
            .map(str::to_owned)
            .collect();
        assert_eq!(cert.organisations(), organisations, "{origin}: O=");
        assert_eq!(
            read.signature_algorithm,
            reference.signature_algorithm.oid.as_bytes(),
            "{origin}"
        );
        assert_eq!(
            read.signature,
            reference.signature.raw_bytes(),
            "{origin}: signature"
        );

        // The key, as `rsa::pkcs1` reads it.
        let spki = &tbs.subject_public_key_info;
        assert_eq!(
            read.key_algorithm,
            spki.algorithm.oid.as_bytes(),
            "{origin}"
        );
        assert_eq!(
            read.public_key,
            spki.subject_public_key.raw_bytes(),
            "{origin}"
        );
        let ours = rsa_public_key(read.public_key);
        let theirs = <rsa::pkcs1::RsaPublicKey as x509_cert::der::Decode>::from_der(
            spki.subject_public_key.raw_bytes(),
        )
        .ok();
        assert_eq!(
            ours,
            theirs
                .as_ref()
                .map(|k| (k.modulus.as_bytes(), k.public_exponent.as_bytes())),
            "{origin}: RSA key"
        );

        // Extensions, one by one, and what the check concludes from them.
        let extensions = tbs.extensions.clone().unwrap_or_default();
        assert_eq!(read.extensions.len(), extensions.len(), "{origin}");
        for (ours, theirs) in read.extensions.iter().zip(&extensions) {
            assert_eq!(ours.oid, theirs.extn_id.as_bytes(), "{origin}");
            assert_eq!(ours.value, theirs.extn_value.as_bytes(), "{origin}");
            assert_same_extension(origin, ours.oid, ours.value);
        }
        let find = |oid: &[u8]| {
            extensions
                .iter()
                .find(|e| e.extn_id.as_bytes() == oid)
                .map(|e| e.extn_value.as_bytes())
        };
        let ski = find(oids::SUBJECT_KEY_IDENTIFIER).and_then(|v| {
            x509_cert::ext::pkix::SubjectKeyIdentifier::from_der(v)
                .ok()
                .map(|id| id.0.as_bytes().to_vec())
        });
        assert_eq!(cert.subject_key_id(), ski, "{origin}: SKI");
        let ku = find(oids::KEY_USAGE).map(reference_key_usage);
        let ku_allows = |bits: u16| ku.is_none_or(|ku| ku.is_some_and(|ku| ku & bits != 0));
        let is_ca = find(oids::BASIC_CONSTRAINTS)
            .and_then(reference_basic_constraints)
            .is_some_and(|(ca, _)| ca);
        assert_eq!(
            cert.may_issue_certificates(),
            is_ca && ku_allows(1 << 5),
            "{origin}: may issue"
        );
        assert_eq!(cert.may_sign_documents(), ku_allows(0b11), "{origin}");
        let eku_email = find(oids::EXTENDED_KEY_USAGE).is_none_or(|v| {
            reference_extended_key_usage(v)
                .is_some_and(|eku| eku.iter().any(|o| o == oids::EMAIL_PROTECTION))
        });
        assert_eq!(
            cert.may_sign_email(),
            ku_allows(0b11) && eku_email,
            "{origin}: may sign e-mail"
        );
        assert_eq!(
            cert.email_addresses(),
            find(oids::SUBJECT_ALT_NAME)
                .and_then(reference_rfc822_names)
                .unwrap_or_default(),
            "{origin}: SAN"
        );
    }

    fn assert_same_extension(origin: &str, oid: &[u8], value: &[u8]) {
        match oid {
            o if o == oids::KEY_USAGE => {
                // `x509-cert` keeps the nine defined bits only.
                assert_eq!(
                    key_usage(value).map(|bits| bits & 0x1ff),
                    reference_key_usage(value),
                    "{origin}: KU"
                );
            }
            o if o == oids::BASIC_CONSTRAINTS => assert_eq!(
                basic_constraints(value),
                reference_basic_constraints(value),
                "{origin}: BC"
            ),
            o if o == oids::EXTENDED_KEY_USAGE => assert_eq!(
                extended_key_usage(value).map(|v| v.iter().map(|o| o.to_vec()).collect()),
                reference_extended_key_usage(value),
                "{origin}: EKU"
            ),
            o if o == oids::SUBJECT_ALT_NAME => assert_eq!(
                rfc822_names(value),
                reference_rfc822_names(value),
                "{origin}: SAN"
            ),
            _ => {}
        }
    }

    /// The reader gives what `x509-cert` gave on every certificate we carry (validity, names,
    /// RFC 4514 forms, SAN, KU, EKU, BC, SKI, the RSA key) and accepts exactly the same
    /// certificates.
    #[test]
    fn reads_every_carried_certificate_as_x509_cert_does() {
        let certificates = carried_certificates();
        assert!(
            certificates.len() >= 15,
            "certificates to compare: {}",
            certificates.len()
        );
        let mut with = [0usize; 4];
        for (origin, der) in &certificates {
            let reference = x509_cert::Certificate::from_der(der);
            assert_eq!(
                Cert::parse(der).is_some(),
                reference.is_ok(),
                "{origin}: accepted by one reader only"
            );
            let Ok(reference) = reference else { continue };
            assert_same_reading(origin, der, &reference);
            let cert = Cert::parse(der).unwrap();
            with[0] += usize::from(!cert.email_addresses().is_empty());
            with[1] += usize::from(cert.may_issue_certificates());
            with[2] += usize::from(cert.subject_key_id().is_some());
            with[3] += usize::from(
                Certificate::read(der)
                    .unwrap()
                    .extensions
                    .iter()
                    .any(|e| e.oid == oids::EXTENDED_KEY_USAGE),
            );
        }
        eprintln!("x509: {} certificates compared", certificates.len());
        // The comparison covered each kind of field.
        assert!(with.iter().all(|&n| n > 0), "coverage {with:?}");
    }

    /// Truncated and corrupted certificates: no panic, a strict prefix is refused, and
    /// whenever both readers accept a corrupted certificate they read it the same way.
    #[test]
    fn hostile_certificates_do_not_panic_and_agree_with_x509_cert() {
        let certificates = carried_certificates();
        for (origin, der) in certificates.iter().step_by(certificates.len() / 4).take(4) {
            for len in 0..der.len() {
                assert!(Cert::parse(&der[..len]).is_none(), "{origin}: prefix {len}");
            }
            for i in 0..der.len() {
                for flip in [0xff, 0x01] {
                    let mut bad = der.clone();
                    bad[i] ^= flip;
                    let ours = Cert::parse(&bad);
                    if let Some(cert) = &ours {
                        let _ = (
                            cert.subject_string(),
                            cert.issuer_string(),
                            cert.email_addresses(),
                            cert.may_issue_certificates(),
                            cert.may_sign_email(),
                            cert.subject_key_id(),
                            cert.organisations(),
                            cert.subject_attribute(oids::COMMON_NAME),
                            verify_public_key(cert),
                        );
                    }
                    if let (Some(cert), Ok(reference)) =
                        (&ours, x509_cert::Certificate::from_der(&bad))
                    {
                        let tbs = &reference.tbs_certificate;
                        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
                        let what = format!("{origin}: byte {i} ^ {flip:#x}");
                        assert_eq!(
                            cert.validity(),
                            (secs(tbs.validity.not_before), secs(tbs.validity.not_after)),
                            "{what}"
                        );
                        // Types outside our table print as `OID=#HEX` (`Display` knows
                        // the whole OID database): compare names of known types only.
                        if named_types_only(cert.subject) {
                            assert_eq!(cert.subject_string(), tbs.subject.to_string(), "{what}");
                        }
                        if named_types_only(cert.issuer) {
                            assert_eq!(cert.issuer_string(), tbs.issuer.to_string(), "{what}");
                        }
                    }
                }
            }
        }
    }

    fn named_types_only(name: &[u8]) -> bool {
        rdns(name).unwrap_or_default().iter().flatten().all(|atv| {
            let dotted = oid_dotted(atv.oid).unwrap_or_default();
            ATTRIBUTE_NAMES.iter().any(|(known, _)| *known == dotted)
        })
    }

    fn verify_public_key(cert: &Cert<'_>) -> bool {
        super::super::crypto::verify_rsa(
            cert,
            super::super::crypto::DigestAlg::Sha256,
            &[0; 32],
            &[0; 256],
        )
        .is_ok()
    }

    fn time(number: u32, text: &str) -> Option<i64> {
        let mut der = vec![number as u8, text.len() as u8];
        der.extend_from_slice(text.as_bytes());
        time_seconds(&Tlv::read_all(&der).unwrap())
    }

    /// UTCTime and GeneralizedTime as `der` reads them, and RFC 5280's rules.
    #[test]
    fn times_read_as_der_reads_them() {
        use x509_cert::der::asn1::{GeneralizedTime, UtcTime};
        let utc = [
            "700101000000Z",
            "491231235959Z",
            "991231235959Z",
            "000229120000Z",
            "240229000000Z",
            "230229000000Z",
            "241301000000Z",
            "240100000000Z",
            "240431000000Z",
            "240101240000Z",
            "240101236000Z",
            "240101235960Z",
            "2401012359Z",
            "240101235959+0100",
            "24010123595aZ",
            "2401012359590",
            "-40101235959Z",
        ];
        for text in utc {
            let mut der = vec![0x17, text.len() as u8];
            der.extend_from_slice(text.as_bytes());
            let theirs = UtcTime::from_der(&der)
                .ok()
                .map(|t| t.to_unix_duration().as_secs() as i64);
            assert_eq!(time(tag::UTC_TIME, text), theirs, "{text}");
        }
        let generalized = [
            "19700101000000Z",
            "20491231235959Z",
            "20500101000000Z",
            "21000229000000Z",
            "20000229000000Z",
            "99991231235959Z",
            "20240101000000.5Z",
            "202401010000Z",
            "20240101000000+0100",
            "2024010100000Z",
        ];
        for text in generalized {
            let mut der = vec![0x18, text.len() as u8];
            der.extend_from_slice(text.as_bytes());
            let theirs = GeneralizedTime::from_der(&der)
                .ok()
                .map(|t| t.to_unix_duration().as_secs() as i64);
            assert_eq!(time(tag::GENERALIZED_TIME, text), theirs, "{text}");
        }
        // RFC 5280 4.1.2.5.1 reads 50..99 as 19YY; `der` stops at 1970, we do not.
        assert_eq!(time(tag::UTC_TIME, "500101000000Z"), Some(-631_152_000));
        assert_eq!(time(tag::UTC_TIME, "691231235959Z"), Some(-1));
        assert_eq!(time(tag::GENERALIZED_TIME, "19691231235959Z"), Some(-1));
        // Other tags are no time.
        assert_eq!(time(tag::OCTET_STRING, "240101000000Z"), None);
    }

    #[test]
    fn oids_print_in_dotted_form_and_bad_ones_are_refused() {
        assert_eq!(oid_dotted(oids::COMMON_NAME).as_deref(), Some("2.5.4.3"));
        assert_eq!(
            oid_dotted(oids::RSA_ENCRYPTION).as_deref(),
            Some("1.2.840.113549.1.1.1")
        );
        assert_eq!(
            oid_dotted(&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19]).as_deref(),
            Some("0.9.2342.19200300.100.1.25")
        );
        assert_eq!(oid_dotted(&[0x88, 0x37, 0x03]).as_deref(), Some("2.999.3"));
        for bad in [&[][..], &[0x55, 0x84], &[0x55, 0x80, 0x01], &[0xff; 8]] {
            assert_eq!(oid_dotted(bad), None, "{bad:?}");
        }
    }

    /// RFC 4514 form on names with escapes, multi-valued RDNs, unknown types and non-string
    /// values, against `x509-cert`'s `Display`.
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
            let der = name.to_der().unwrap();
            assert_eq!(rfc4514(&der), name.to_string(), "{text}");
        }
    }

    #[test]
    fn key_usage_basic_constraints_and_keys_read_their_der() {
        // keyUsage: digitalSignature, nonRepudiation (06 unused bits of 1 octet: c0).
        assert_eq!(key_usage(&[0x03, 0x02, 0x06, 0xc0]), Some(0b11));
        // keyCertSign + cRLSign.
        assert_eq!(key_usage(&[0x03, 0x02, 0x01, 0x06]), Some(0b110_0000));
        // decipherOnly (bit 8) in a second octet.
        assert_eq!(key_usage(&[0x03, 0x03, 0x07, 0x00, 0x80]), Some(1 << 8));
        assert_eq!(key_usage(&[0x03, 0x01, 0x08]), None);
        assert_eq!(key_usage(&[0x03, 0x04, 0x00, 0, 0, 0]), None);
        assert_eq!(key_usage(&[0x04, 0x02, 0x06, 0xc0]), None);
        assert_eq!(basic_constraints(&[0x30, 0x00]), Some((false, None)));
        assert_eq!(
            basic_constraints(&[0x30, 0x03, 0x01, 0x01, 0xff]),
            Some((true, None))
        );
        assert_eq!(
            basic_constraints(&[0x30, 0x07, 0x01, 0x01, 0xff, 0x02, 0x02, 0x00, 0xc8]),
            Some((true, Some(200)))
        );
        assert_eq!(basic_constraints(&[0x30, 0x03, 0x01, 0x01, 0x01]), None);
        assert_eq!(
            basic_constraints(&[0x30, 0x04, 0x02, 0x02, 0x01, 0x00]),
            None
        );
        assert_eq!(
            rsa_public_key(&[0x30, 0x08, 0x02, 0x03, 0x00, 0x80, 0x01, 0x02, 0x01, 0x03]),
            Some((&[0x80, 0x01][..], &[0x03][..]))
        );
        assert_eq!(
            rsa_public_key(&[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x03]),
            None
        );
        assert_eq!(rsa_public_key(&[0x30, 0x03, 0x02, 0x01, 0x01]), None);
    }
}
