//! The MIME walk: where the readable notice, `daticert.xml`, `postacert.eml` and
//! `smime.p7s` sit in a PEC message.
//!
//! Only the *top level* counts: the children of the signed `multipart/mixed` (or of the
//! root multipart of an unsigned message). A forwarded PEC inside `postacert.eml` has its
//! own `daticert.xml` one level deeper; it must never be taken for the outer one.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

/// The top-level parts of a message that matter for PEC.
#[derive(Debug)]
pub(crate) struct Layout<'m, 'x> {
    /// The root is `multipart/signed`.
    pub signed: bool,
    /// Top-level parts named `daticert.xml`, in order.
    pub daticert: Vec<&'m MessagePart<'x>>,
    /// Top-level unnamed XML parts: the daticert of a PEC whose provider forgot the name.
    pub unnamed_xml: Vec<&'m MessagePart<'x>>,
    /// The top-level `postacert.eml` (`message/rfc822`).
    pub postacert: Option<&'m MessagePart<'x>>,
    /// A multipart of the outer message lacks its closing boundary.
    pub truncated: bool,
    /// A part of the outer message could not be decoded.
    pub undecodable: bool,
}

/// Finds the top-level parts. Never panics.
pub(crate) fn layout<'m, 'x>(message: &'m Message<'x>) -> Layout<'m, 'x> {
    let part = |id: u32| message.parts.get(usize::try_from(id).ok()?);
    let root = message.parts.first();
    let signed = root.is_some_and(|root| is_type(root, "multipart", "signed"));

    let mut top: Vec<&MessagePart<'x>> = Vec::new();
    if let Some(root) = root
        && let Some(children) = root.sub_parts()
    {
        if signed {
            // The signed content is the first child; the signature is the second.
            if let Some(content) = children.first().and_then(|id| part(*id)) {
                match content.sub_parts() {
                    Some(grandchildren) => {
                        top.extend(grandchildren.iter().filter_map(|id| part(*id)))
                    }
                    None => top.push(content),
                }
            }
        } else {
            top.extend(children.iter().filter_map(|id| part(*id)));
        }
    }

    let named = |p: &&MessagePart<'x>, name: &str| {
        p.attachment_name()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
    };
    let daticert: Vec<&MessagePart<'x>> = top
        .iter()
        .copied()
        .filter(|p| named(p, "daticert.xml") && !p.is_multipart() && !p.is_message())
        .collect();
    let unnamed_xml: Vec<&MessagePart<'x>> = top
        .iter()
        .copied()
        .filter(|p| {
            p.attachment_name().is_none()
                && (is_type(p, "application", "xml") || is_type(p, "text", "xml"))
        })
        .collect();
    let is_rfc822 =
        |p: &&MessagePart<'x>| is_type(p, "message", "rfc822") || is_type(p, "message", "global");
    let postacert = top
        .iter()
        .copied()
        .find(|p| is_rfc822(p) && named(p, "postacert.eml"))
        .or_else(|| {
            let unnamed: Vec<_> = top
                .iter()
                .copied()
                .filter(|p| is_rfc822(p) && p.attachment_name().is_none())
                .collect();
            (unnamed.len() == 1).then(|| unnamed[0])
        });

    // Only the containers PEC defines are checked (the root and the signed content):
    // scanning for every boundary of an adversarial message would be quadratic.
    let raw = message.raw_message();
    let containers = root.into_iter().chain(
        root.filter(|_| signed)
            .and_then(|r| r.sub_parts())
            .and_then(|children| children.first())
            .and_then(|id| part(*id)),
    );
    let truncated = containers.into_iter().any(|p| {
        let Some(boundary) = p.content_type().and_then(|ct| ct.attribute("boundary")) else {
            return false;
        };
        // The closing delimiter follows the last child: search from there, not from the
        // start of a message that may be megabytes long.
        let last_child_end = p
            .sub_parts()
            .and_then(|children| children.last())
            .and_then(|id| part(*id))
            .and_then(|child| usize::try_from(child.offset_end).ok())
            .unwrap_or(0);
        let from = last_child_end.saturating_sub(8).min(raw.len());
        p.is_multipart()
            && !has_closing_boundary(raw.get(from..).unwrap_or(raw), boundary.as_bytes())
    });
    let undecodable =
        top.iter().any(|p| p.is_encoding_problem) || root.is_some_and(|r| r.is_encoding_problem);

    Layout {
        signed,
        daticert,
        unnamed_xml,
        postacert,
        truncated,
        undecodable,
    }
}

/// The content type is `ty/subtype` (any case).
pub(crate) fn is_type(part: &MessagePart<'_>, ty: &str, subtype: &str) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.c_type.eq_ignore_ascii_case(ty)
            && ct
                .c_subtype
                .as_deref()
                .is_some_and(|st| st.eq_ignore_ascii_case(subtype))
    })
}

/// `type/subtype` of a part, lowercase; `text/plain` when absent (RFC 2045 default).
pub(crate) fn content_type_string(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.c_subtype.as_deref() {
            Some(sub) => format!("{}/{}", ct.c_type, sub).to_ascii_lowercase(),
            None => ct.c_type.to_ascii_lowercase(),
        },
        None => {
            if matches!(part.body, PartType::Message(_)) {
                "message/rfc822".to_owned()
            } else {
                "text/plain".to_owned()
            }
        }
    }
}

fn has_closing_boundary(raw: &[u8], boundary: &[u8]) -> bool {
    // RFC 2046 caps boundaries at 70 characters; a longer one is not worth a costly scan.
    if boundary.is_empty() || boundary.len() > 200 {
        return true;
    }
    let mut needle = Vec::with_capacity(boundary.len() + 4);
    needle.extend_from_slice(b"--");
    needle.extend_from_slice(boundary);
    needle.extend_from_slice(b"--");
    raw.windows(needle.len())
        .any(|window| window == needle.as_slice())
}
