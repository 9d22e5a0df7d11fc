//! A small, strict-enough reader of BER/DER tag-length-value items.
//!
//! Why not only `der`: InfoCert/Legalmail write their `smime.p7s` with BER indefinite
//! lengths, which DER decoders refuse, and the signature over the signed attributes must
//! be checked on their *original* bytes (re-encoding may reorder a SET OF). This reader
//! hands out borrowed slices of the input for every item, so the caller keeps the exact
//! bytes. It never panics: every length is checked against the input, and nesting is
//! bounded so that hostile input cannot exhaust the stack.

use std::borrow::Cow;

/// Deepest nesting accepted (real CMS structures stay under 15).
const MAX_DEPTH: usize = 64;

/// Why a BER item could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    /// The input ends inside an item.
    #[error("truncated BER item")]
    Truncated,
    /// A length or tag form this reader does not accept (e.g. a length over 4 bytes).
    #[error("unsupported BER length or tag")]
    Unsupported,
    /// A primitive item with an indefinite length, or an end-of-contents where none belongs.
    #[error("malformed BER item")]
    Malformed,
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("BER nesting too deep")]
    TooDeep,
    /// An item other than the one the structure requires.
    #[error("unexpected BER item")]
    Unexpected,
}

/// Tag classes of X.690.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Universal,
    Application,
    Context,
    Private,
}

/// Universal tag numbers used by the signature check.
pub mod tag {
    pub const INTEGER: u32 = 2;
    pub const BIT_STRING: u32 = 3;
    pub const OCTET_STRING: u32 = 4;
    pub const OID: u32 = 6;
    pub const UTC_TIME: u32 = 23;
    pub const GENERALIZED_TIME: u32 = 24;
    pub const SEQUENCE: u32 = 16;
    pub const SET: u32 = 17;
}

/// One item, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub class: Class,
    pub constructed: bool,
    pub number: u32,
    /// Whether the length was indefinite (BER only).
    pub indefinite: bool,
    /// The whole item: identifier, length, contents and (if indefinite) end-of-contents.
    pub raw: &'a [u8],
    /// The contents only (without the end-of-contents octets).
    pub content: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Reads one item at the start of `input`; returns it and the bytes after it.
    pub fn read(input: &'a [u8]) -> Result<(Self, &'a [u8]), BerError> {
        read_at_depth(input, 0)
    }

    /// Reads exactly one item filling `input` (trailing bytes are an error).
    pub fn read_all(input: &'a [u8]) -> Result<Self, BerError> {
        let (tlv, rest) = Self::read(input)?;
        if rest.is_empty() {
            Ok(tlv)
        } else {
            Err(BerError::Malformed)
        }
    }

    /// Whether this is the universal item `number`.
    pub fn is_universal(&self, number: u32) -> bool {
        self.class == Class::Universal && self.number == number
    }

    /// Whether this is the context-specific item `[number]`.
    pub fn is_context(&self, number: u32) -> bool {
        self.class == Class::Context && self.number == number
    }

    /// Fails with [`BerError::Unexpected`] unless this is the universal item `number`.
    pub fn expect_universal(self, number: u32) -> Result<Self, BerError> {
        if self.is_universal(number) {
            Ok(self)
        } else {
            Err(BerError::Unexpected)
        }
    }

    /// The items inside a constructed item, in order.
    pub fn children(&self) -> Children<'a> {
        Children {
            rest: if self.constructed { self.content } else { &[] },
            failed: false,
        }
    }

    /// The children, all read (the first malformed child fails the whole list).
    #[cfg(test)]
    pub fn child_vec(&self) -> Result<Vec<Tlv<'a>>, BerError> {
        self.children().collect()
    }

    /// The octets of a string type, joining the segments of a constructed (BER) string.
    pub fn octets(&self) -> Result<Cow<'a, [u8]>, BerError> {
        if !self.constructed {
            return Ok(Cow::Borrowed(self.content));
        }
        let mut out = Vec::new();
        collect_octets(self, &mut out, 0)?;
        Ok(Cow::Owned(out))
    }

    /// The same item with every indefinite length turned into a definite one (order of
    /// elements kept). Used only when signed attributes arrive BER-encoded: the signer
    /// hashed their DER form.
    pub fn to_definite(self) -> Result<Vec<u8>, BerError> {
        let mut out = Vec::with_capacity(self.raw.len());
        write_definite(&self, &mut out, 0)?;
        Ok(out)
    }
}

/// Iterator over the children of a constructed item.
#[derive(Debug, Clone)]
pub struct Children<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Tlv<'a>, BerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match Tlv::read(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(err) => {
                self.failed = true;
                Some(Err(err))
            }
        }
    }
}

fn read_at_depth(input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    let (&first, mut pos) = (input.first().ok_or(BerError::Truncated)?, 1usize);
    let class = match first >> 6 {
        0 => Class::Universal,
        1 => Class::Application,
        2 => Class::Context,
        _ => Class::Private,
    };
    let constructed = first & 0x20 != 0;
    let mut number = u32::from(first & 0x1f);
    if number == 0x1f {
        // High tag number form: base-128, at most 4 octets (tags beyond 2^28 do not occur).
        number = 0;
        for count in 0.. {
            let byte = *input.get(pos).ok_or(BerError::Truncated)?;
            pos += 1;
            if count >= 4 {
                return Err(BerError::Unsupported);
            }
            number = (number << 7) | u32::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                break;
            }
        }
    }
    if class == Class::Universal && number == 0 {
        // End-of-contents is only meaningful inside an indefinite item (handled there).
        return Err(BerError::Malformed);
    }
    let len_byte = *input.get(pos).ok_or(BerError::Truncated)?;
    pos += 1;
    let header_len = pos;
    if len_byte == 0x80 {
        if !constructed {
            return Err(BerError::Malformed);
        }
        // Indefinite: children follow until the end-of-contents octets 00 00.
        let mut cursor = header_len;
        loop {
            let rest = input.get(cursor..).ok_or(BerError::Truncated)?;
            match rest {
                [0, 0, ..] => break,
                [] | [_] => return Err(BerError::Truncated),
                _ => {
                    let (child, _) = read_at_depth(rest, depth + 1)?;
                    cursor += child.raw.len();
                }
            }
        }
        let content = input.get(header_len..cursor).ok_or(BerError::Truncated)?;
        let end = cursor + 2;
        let raw = input.get(..end).ok_or(BerError::Truncated)?;
        let rest = input.get(end..).ok_or(BerError::Truncated)?;
        return Ok((
            Tlv {
                class,
                constructed,
                number,
                indefinite: true,
                raw,
                content,
            },
            rest,
        ));
    }
    let len = if len_byte < 0x80 {
        usize::from(len_byte)
    } else {
        let count = usize::from(len_byte & 0x7f);
        if count > 4 {
            return Err(BerError::Unsupported);
        }
        let bytes = input.get(pos..pos + count).ok_or(BerError::Truncated)?;
        pos += count;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    let end = pos.checked_add(len).ok_or(BerError::Truncated)?;
    let content = input.get(pos..end).ok_or(BerError::Truncated)?;
    let raw = input.get(..end).ok_or(BerError::Truncated)?;
    let rest = input.get(end..).ok_or(BerError::Truncated)?;
    Ok((
        Tlv {
            class,
            constructed,
            number,
            indefinite: false,
            raw,
            content,
        },
        rest,
    ))
}

fn collect_octets(tlv: &Tlv<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    if !tlv.constructed {
        out.extend_from_slice(tlv.content);
        return Ok(());
    }
    for child in tlv.children() {
        collect_octets(&child?, out, depth + 1)?;
    }
    Ok(())
}

fn write_definite(tlv: &Tlv<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    if !tlv.indefinite && !contains_indefinite(tlv, depth)? {
        out.extend_from_slice(tlv.raw);
        return Ok(());
    }
    let mut inner = Vec::with_capacity(tlv.content.len());
    for child in tlv.children() {
        write_definite(&child?, &mut inner, depth + 1)?;
    }
    // Identifier octets are the bytes before the length octets; re-read them from `raw`.
    let id_len = identifier_len(tlv.raw)?;
    out.extend_from_slice(tlv.raw.get(..id_len).ok_or(BerError::Truncated)?);
    write_length(inner.len(), out);
    out.extend_from_slice(&inner);
    Ok(())
}

fn contains_indefinite(tlv: &Tlv<'_>, depth: usize) -> Result<bool, BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    if tlv.indefinite {
        return Ok(true);
    }
    for child in tlv.children() {
        if contains_indefinite(&child?, depth + 1)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn identifier_len(raw: &[u8]) -> Result<usize, BerError> {
    let first = *raw.first().ok_or(BerError::Truncated)?;
    if first & 0x1f != 0x1f {
        return Ok(1);
    }
    let mut pos = 1;
    loop {
        let byte = *raw.get(pos).ok_or(BerError::Truncated)?;
        pos += 1;
        if byte & 0x80 == 0 {
            return Ok(pos);
        }
    }
}

/// Appends a DER length.
pub fn write_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        // Fits the short form: the cast cannot truncate.
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let significant = &bytes[skip..];
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn definite_sequence_gives_its_children() {
        // SEQUENCE { INTEGER 5, OCTET STRING "ab" }
        let der = [0x30, 0x07, 0x02, 0x01, 0x05, 0x04, 0x02, b'a', b'b'];
        let tlv = Tlv::read_all(&der).unwrap();
        assert!(tlv.is_universal(tag::SEQUENCE) && tlv.constructed && !tlv.indefinite);
        let kids = tlv.child_vec().unwrap();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].content, &[5]);
        assert_eq!(kids[1].content, b"ab");
    }

    #[test]
    fn indefinite_lengths_are_read_and_end_at_end_of_contents() {
        // SEQUENCE (indefinite) { [0] (indefinite) { INTEGER 1 } , OCTET STRING "x" } + trailer
        let ber = [
            0x30, 0x80, 0xa0, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00, 0x04, 0x01, b'x', 0x00, 0x00,
            0xff,
        ];
        let (tlv, rest) = Tlv::read(&ber).unwrap();
        assert!(tlv.indefinite);
        assert_eq!(rest, &[0xff]);
        assert_eq!(tlv.raw.len(), 14);
        let kids = tlv.child_vec().unwrap();
        assert_eq!(kids.len(), 2);
        assert!(kids[0].is_context(0) && kids[0].indefinite);
        assert_eq!(kids[0].child_vec().unwrap()[0].content, &[1]);
        assert_eq!(kids[1].content, b"x");
    }

    #[test]
    fn indefinite_lengths_become_definite_in_the_same_order() {
        let ber = [
            0x31, 0x80, 0x04, 0x01, b'b', 0x30, 0x80, 0x02, 0x01, 0x07, 0x00, 0x00, 0x04, 0x01,
            b'a', 0x00, 0x00,
        ];
        let tlv = Tlv::read_all(&ber).unwrap();
        let der = tlv.to_definite().unwrap();
        // Same element order (no SET OF sorting), definite lengths.
        assert_eq!(
            der,
            vec![
                0x31, 0x0b, 0x04, 0x01, b'b', 0x30, 0x03, 0x02, 0x01, 0x07, 0x04, 0x01, b'a'
            ]
        );
    }

    #[test]
    fn constructed_octet_strings_are_joined() {
        // OCTET STRING (constructed, indefinite) { "ab", "cd" }
        let ber = [
            0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x02, b'c', b'd', 0x00, 0x00,
        ];
        let tlv = Tlv::read_all(&ber).unwrap();
        assert_eq!(tlv.octets().unwrap().as_ref(), b"abcd");
    }

    #[test]
    fn long_form_lengths_are_read() {
        let mut der = vec![0x04, 0x82, 0x01, 0x00];
        der.extend(std::iter::repeat_n(7u8, 256));
        let tlv = Tlv::read_all(&der).unwrap();
        assert_eq!(tlv.content.len(), 256);
        let mut len = Vec::new();
        write_length(256, &mut len);
        assert_eq!(len, vec![0x82, 0x01, 0x00]);
    }

    #[test]
    fn truncated_and_hostile_inputs_fail_without_panicking() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x02],
            &[0x30, 0x80, 0x02, 0x01, 0x01],
            &[0x04, 0x80, 0x00, 0x00],
            &[0x04, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            &[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00],
            &[0x00, 0x00],
        ] {
            assert!(Tlv::read(bad).is_err(), "{bad:?}");
        }
        // Deep nesting of indefinite items is refused, not a stack overflow.
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        assert_eq!(Tlv::read(&deep), Err(BerError::TooDeep));
    }
}
