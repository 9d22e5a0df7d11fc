//! Finding the signed bytes and the `smime.p7s` part of a `multipart/signed` message,
//! straight from the raw bytes (RFC 1847, RFC 5751).
//!
//! The signed part must be hashed exactly as it stands on the wire, so nothing here
//! re-encodes MIME: it only finds byte ranges. Headers are read with `mail-parser`.

use std::ops::Range;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mail_parser::{DateTime, MessageParser, MimeHeaders as _};
use memchr::memmem;

/// Where the pieces of a `multipart/signed` message lie in its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLayout {
    /// The first body part (the signed content): from the byte after its delimiter line
    /// up to, not including, the line break before the next delimiter.
    pub content: Range<usize>,
    /// The second body part, headers included (the `smime.p7s` entity), when present.
    pub signature_part: Option<Range<usize>>,
    /// The `protocol` parameter of `multipart/signed`, lowercased
    /// (`application/pkcs7-signature`, `application/x-pkcs7-signature`, or OpenPGP's...).
    pub protocol: Option<String>,
}

impl SignedLayout {
    /// Whether the `protocol` parameter announces S/MIME (or is absent: then the
    /// signature part decides).
    pub fn is_smime(&self) -> bool {
        self.protocol
            .as_deref()
            .is_none_or(|p| p.contains("pkcs7-signature"))
    }
}

/// What [`read_outer`] learns from the top-level headers.
#[derive(Debug)]
pub(crate) struct Outer {
    /// `Some` for `multipart/signed` with a boundary (even when its parts are broken).
    pub layout: Option<SignedLayout>,
    /// The `Date` header as seconds since the Unix epoch.
    pub date: Option<i64>,
    /// The address of the first `From` mailbox (a PEC provider's `posta-certificata@...`).
    pub from: Option<String>,
}

/// Reads the top-level headers and, for `multipart/signed`, locates its parts.
pub(crate) fn read_outer(raw: &[u8]) -> Outer {
    let Some(message) = MessageParser::new().parse_headers(raw) else {
        return Outer {
            layout: None,
            date: None,
            from: None,
        };
    };
    let date = message.date().map(DateTime::to_timestamp);
    let from = message
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
        .map(str::to_owned);
    let layout = message.content_type().and_then(|ct| {
        let signed = ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|sub| sub.eq_ignore_ascii_case("signed"));
        let boundary = ct.attribute("boundary")?;
        if !signed || boundary.is_empty() {
            return None;
        }
        // `parse_headers` does not report where the body starts: find the empty line.
        let (head, _) = split_entity(raw);
        let mut layout = locate_parts(raw, head.len(), boundary.as_bytes());
        layout.protocol = ct
            .attribute("protocol")
            .map(|p| p.trim().to_ascii_lowercase());
        Some(layout)
    });
    Outer { layout, date, from }
}

/// Locates the first two body parts of a multipart body starting at `body_start`.
/// A part that cannot be found leaves `signature_part` as `None` (and the content empty
/// when even the first delimiter is missing): the message still *claims* a signature.
pub(crate) fn locate_parts(raw: &[u8], body_start: usize, boundary: &[u8]) -> SignedLayout {
    let without_signature = |content: Range<usize>| SignedLayout {
        content,
        signature_part: None,
        protocol: None,
    };
    let first = match find_delimiter(raw, body_start, boundary) {
        Some(first) if !first.closing => first,
        _ => return without_signature(body_start..body_start),
    };
    let Some(second) = find_delimiter(raw, first.after_line, boundary) else {
        return without_signature(first.after_line..raw.len());
    };
    let content = first.after_line..second.part_end.max(first.after_line);
    if second.closing {
        return without_signature(content);
    }
    let signature_end = find_delimiter(raw, second.after_line, boundary)
        .map_or(raw.len(), |third| third.part_end.max(second.after_line));
    SignedLayout {
        content,
        signature_part: Some(second.after_line..signature_end),
        protocol: None,
    }
}

/// One delimiter line (`--boundary` or `--boundary--`) of a multipart body.
#[derive(Debug, Clone, Copy)]
struct Delimiter {
    /// End of the previous part: the position of the line break that precedes the line.
    part_end: usize,
    /// First byte after the delimiter line's own line break.
    after_line: usize,
    /// `--boundary--`.
    closing: bool,
}

fn find_delimiter(raw: &[u8], from: usize, boundary: &[u8]) -> Option<Delimiter> {
    let mut dash_boundary = Vec::with_capacity(boundary.len() + 2);
    dash_boundary.extend_from_slice(b"--");
    dash_boundary.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&dash_boundary);
    let mut search_from = from;
    loop {
        let found = search_from + finder.find(raw.get(search_from..)?)?;
        let at_line_start = found == from || raw.get(found.wrapping_sub(1)) == Some(&b'\n');
        let after = found + dash_boundary.len();
        let tail = raw.get(after..).unwrap_or_default();
        let closing = tail.starts_with(b"--");
        // After the boundary only transport padding (spaces, tabs) may follow on the line;
        // anything else means a longer boundary-like string, not our delimiter.
        let line_end = memchr::memchr(b'\n', tail).map_or(raw.len(), |i| after + i + 1);
        let rest_of_line = raw.get(after + if closing { 2 } else { 0 }..line_end)?;
        let padding_only = rest_of_line
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        if at_line_start && padding_only {
            let part_end = if found == from {
                found
            } else if found >= 2 && raw[found - 2] == b'\r' {
                found - 2
            } else {
                found - 1
            };
            return Some(Delimiter {
                part_end,
                after_line: line_end,
                closing,
            });
        }
        search_from = found + 1;
    }
}

/// Splits a MIME entity into its header block and body at the first empty line; the
/// empty line itself belongs to neither. Without one, it is all header.
fn split_entity(entity: &[u8]) -> (&[u8], &[u8]) {
    let mut pos = 0;
    while pos < entity.len() {
        let line_end = memchr::memchr(b'\n', &entity[pos..]).map_or(entity.len(), |i| pos + i + 1);
        let line = &entity[pos..line_end];
        if line == b"\n" || line == b"\r\n" {
            return (&entity[..pos], &entity[line_end..]);
        }
        pos = line_end;
    }
    (entity, &[])
}

/// The DER/BER bytes of the `smime.p7s` entity, decoded from its transfer encoding.
pub(crate) fn signature_bytes(entity: &[u8]) -> Option<Vec<u8>> {
    let (head, body) = split_entity(entity);
    let headers = MessageParser::new().parse_headers(head);
    let encoding = headers
        .as_ref()
        .and_then(|m| m.header_raw("Content-Transfer-Encoding"))
        .map(|v| v.trim().to_ascii_lowercase());
    // Without a Content-Transfer-Encoding, base64 is still what every writer sends.
    let base64 = match encoding.as_deref() {
        Some("base64") => true,
        None => looks_like_base64(body),
        Some(_) => false,
    };
    if base64 {
        decode_base64(body)
    } else {
        Some(body.to_vec())
    }
}

fn looks_like_base64(body: &[u8]) -> bool {
    body.iter().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\r' | b'\n' | b' ' | b'\t')
    })
}

pub(crate) fn decode_base64(body: &[u8]) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    LENIENT.decode(clean).ok()
}

/// Feeds `data` to `update` as RFC 5751 canonical text: every bare LF becomes CRLF.
/// No copy of the data is made; only the missing CRs are inserted.
pub(crate) fn feed_canonical(data: &[u8], mut update: impl FnMut(&[u8])) {
    let mut start = 0;
    for lf in memchr::memchr_iter(b'\n', data) {
        if lf > 0 && data[lf - 1] == b'\r' {
            continue;
        }
        update(&data[start..lf]);
        update(b"\r\n");
        start = lf + 1;
    }
    update(&data[start..]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn canonical(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        feed_canonical(data, |chunk| out.extend_from_slice(chunk));
        out
    }

    #[test]
    fn bare_line_feeds_become_crlf_and_existing_crlf_stay() {
        assert_eq!(canonical(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(canonical(b"\n\n"), b"\r\n\r\n");
        assert_eq!(canonical(b"no break"), b"no break");
    }

    const LF: &[u8] = b"Content-Type: multipart/signed; boundary=\"XX\"; protocol=\"application/pkcs7-signature\"\n\npreamble\n--XX\nContent-Type: text/plain\n\nhello\n--XXnot\n--XX \nContent-Type: application/pkcs7-signature\nContent-Transfer-Encoding: base64\n\nAAEC\n--XX--\n";

    #[test]
    fn parts_are_found_in_an_lf_message() {
        let outer = read_outer(LF);
        let layout = outer.layout.unwrap();
        assert_eq!(
            &LF[layout.content.clone()],
            b"Content-Type: text/plain\n\nhello\n--XXnot"
        );
        let sig = &LF[layout.signature_part.unwrap()];
        assert_eq!(signature_bytes(sig).unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn parts_are_found_in_a_crlf_message() {
        let crlf: Vec<u8> = canonical(LF);
        let layout = read_outer(&crlf).layout.unwrap();
        assert!(layout.is_smime());
        assert_eq!(
            &crlf[layout.content.clone()],
            b"Content-Type: text/plain\r\n\r\nhello\r\n--XXnot"
        );
        let sig = &crlf[layout.signature_part.unwrap()];
        assert_eq!(signature_bytes(sig).unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn a_plain_message_has_no_signed_layout() {
        let outer = read_outer(b"Subject: x\nDate: Tue, 13 Nov 2018 16:39:27 +0100\n\nbody\n");
        assert!(outer.layout.is_none());
        assert_eq!(outer.date, Some(1_542_123_567));
    }

    #[test]
    fn a_truncated_multipart_signed_has_no_signature_part_and_no_panic() {
        for cut in 0..LF.len() {
            let _ = read_outer(&LF[..cut]);
        }
        let layout = read_outer(&LF[..LF.len() / 2]).layout.unwrap();
        assert_eq!(layout.signature_part, None);
    }
}
