//! The original message (`postacert.eml`): its headers, text and HTML body, attachments,
//! and the `.hash` placeholders a breve delivery receipt puts in place of attachments.

use mail_parser::{Address, Message, MessagePart, MimeHeaders, PartType};

use serde::{Deserialize, Serialize};

use super::mime::content_type_string;
use super::{Attachment, OriginalMessage, PecError, headers};

/// Reads the original message. `breve` turns `name.hash` attachments into placeholders.
pub(crate) fn extract(
    message: &Message<'_>,
    breve: bool,
    problems: &mut Vec<PecError>,
) -> OriginalMessage {
    let top = message.headers();
    let (from, from_name) = match message.from().and_then(Address::first) {
        Some(addr) => (
            addr.address.as_deref().map(str::to_owned),
            addr.name.as_deref().map(str::to_owned),
        ),
        None => (None, None),
    };
    let addresses = |address: Option<&Address<'_>>| -> Vec<String> {
        address
            .map(|a| {
                a.iter()
                    .filter_map(|addr| addr.address.as_deref())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let text_body = message.text_part(0).and_then(|part| match &part.body {
        PartType::Text(text) => Some(text.to_string()),
        _ => None,
    });
    let html_body = message.html_part(0).and_then(|part| match &part.body {
        PartType::Html(html) => Some(html.to_string()),
        _ => None,
    });
    let attachments = message
        .attachments()
        .map(|part| attachment(part, breve, problems))
        .collect();
    OriginalMessage {
        message_id: headers::message_id(top, "Message-ID"),
        riferimento_message_id: headers::message_id(top, "X-Riferimento-Message-ID"),
        from,
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        subject: message.subject().map(str::to_owned),
        date: message.date().map(|date| date.to_rfc3339()),
        text_body,
        html_body,
        attachments,
        from_name,
    }
}

fn attachment(part: &MessagePart<'_>, breve: bool, problems: &mut Vec<PecError>) -> Attachment {
    let name = part.attachment_name().map(str::to_owned);
    let size = match &part.body {
        // A nested message's `contents()` may be the whole outer buffer: use its span.
        PartType::Message(_) => part.offset_end.saturating_sub(part.offset_body) as usize,
        _ => part.contents().len(),
    };
    let sha1_placeholder = match &name {
        Some(n) if breve && n.to_ascii_lowercase().ends_with(".hash") => {
            let digest = String::from_utf8_lossy(part.contents())
                .trim()
                .to_ascii_lowercase();
            if digest.len() == 40 && digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                Some(digest)
            } else {
                problems.push(PecError::BadHashPlaceholder { name: n.clone() });
                None
            }
        }
        _ => None,
    };
    Attachment {
        name,
        content_type: content_type_string(part),
        size,
        sha1_placeholder,
    }
}

/// The message to show as "the original" of a raw message: its `postacert.eml` when it
/// is a PEC carrying one (envelope, anomaly, complete delivery receipt), else the message
/// itself (an ordinary mail, or a receipt without the original).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalView {
    /// `postacert` (the envelope's original) or `message` (the message itself).
    pub source: String,
    /// Address of `From`.
    pub from: Option<String>,
    /// Display name of `From`.
    pub from_name: Option<String>,
    /// Addresses of `To`.
    pub to: Vec<String>,
    /// Addresses of `Cc`.
    pub cc: Vec<String>,
    /// Decoded `Subject`.
    pub subject: Option<String>,
    /// `Date`, RFC 3339.
    pub date: Option<String>,
    /// The first `text/plain` body, decoded to UTF-8.
    pub text: Option<String>,
    /// The first `text/html` body, decoded to UTF-8, as written: NOT sanitised (the
    /// caller must sanitise before showing it).
    pub html: Option<String>,
    /// The attachments, `index` being what [`original_attachment`] takes.
    pub attachments: Vec<ViewAttachment>,
}

/// An attachment of [`OriginalView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewAttachment {
    /// Position among the attachments (0-based).
    pub index: usize,
    /// File name, decoded.
    pub name: Option<String>,
    /// `type/subtype`, lowercase.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
    /// A signed document (`.p7m`, `application/pkcs7-mime`): open it with
    /// [`crate::signature::read_signed_document`].
    pub signed: bool,
}

/// Parses `raw` and hands the message to show to `f`; `None` when `raw` is no message.
fn with_shown<T>(raw: &[u8], f: impl FnOnce(&Message<'_>, &str) -> T) -> Option<T> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let message = mail_parser::MessageParser::default().parse(raw)?;
    let kind = super::classify::classify_headers(message.headers()).kind;
    let postacert = (kind != super::PecKind::NotPec)
        .then(|| super::mime::layout(&message).postacert)
        .flatten()
        .and_then(MessagePart::message);
    Some(match postacert {
        Some(inner) => f(inner, "postacert"),
        None => f(&message, "message"),
    })
}

/// The original message of `raw` for display (see [`OriginalView`]); `None` when `raw`
/// is not an e-mail message. Never panics.
pub fn original_view(raw: &[u8]) -> Option<OriginalView> {
    with_shown(raw, |message, source| {
        let mut ignored = Vec::new();
        let read = extract(message, false, &mut ignored);
        let attachments = message
            .attachments()
            .enumerate()
            .map(|(index, part)| {
                let name = part.attachment_name().map(str::to_owned);
                let content_type = content_type_string(part);
                let signed =
                    crate::signature::cades::is_signed_document(name.as_deref(), &content_type);
                ViewAttachment {
                    index,
                    size: attachment_bytes(part).len(),
                    name,
                    content_type,
                    signed,
                }
            })
            .collect();
        OriginalView {
            source: source.to_owned(),
            from: read.from,
            from_name: read.from_name,
            to: read.to,
            cc: read.cc,
            subject: read.subject,
            date: read.date,
            text: read.text_body,
            html: read.html_body,
            attachments,
        }
    })
}

/// The decoded bytes of attachment `index` of [`original_view`]; `None` when there is no
/// such attachment (or `raw` is no message). A nested message comes as its raw bytes.
pub fn original_attachment(raw: &[u8], index: usize) -> Option<Vec<u8>> {
    with_shown(raw, |message, _| {
        message
            .attachments()
            .nth(index)
            .map(|part| attachment_bytes(part).to_vec())
    })
    .flatten()
}

/// What a user saving the attachment gets: decoded bytes (text as UTF-8), or a nested
/// message's own bytes.
fn attachment_bytes<'a>(part: &'a MessagePart<'_>) -> &'a [u8] {
    match &part.body {
        PartType::Message(inner) => inner.raw_message(),
        _ => part.contents(),
    }
}
