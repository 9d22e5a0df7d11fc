//! The original message (`postacert.eml`): its headers, text and HTML body, attachments,
//! and the `.hash` placeholders a breve delivery receipt puts in place of attachments.

use mail_parser::{Address, Message, MessagePart, MimeHeaders, PartType};

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
