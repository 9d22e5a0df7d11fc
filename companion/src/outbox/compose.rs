//! Building an outgoing PEC: a plain MIME message (the provider wraps it in its transport
//! envelope), with a Message-ID we generate and store (the key receipts come back with, in
//! `X-Riferimento-Message-ID`), In-Reply-To/References for replies, and `X-TipoRicevuta`
//! asking the provider for a full, short or summary delivery receipt.

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::error::{Error, Result};

/// Which delivery receipt the sender asks for (`X-TipoRicevuta`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptType {
    /// The whole message again, attachments included (the provider's default).
    #[default]
    Completa,
    /// The message with each attachment replaced by its hash: saves the box's space.
    Breve,
    /// Only the certification data.
    Sintetica,
}

impl ReceiptType {
    /// The header's word.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptType::Completa => "completa",
            ReceiptType::Breve => "breve",
            ReceiptType::Sintetica => "sintetica",
        }
    }
}

/// `X-TipoRicevuta: completa|breve|sintetica`.
#[derive(Debug, Clone)]
struct XTipoRicevuta(ReceiptType);

impl Header for XTipoRicevuta {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-TipoRicevuta")
    }

    fn parse(s: &str) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        match s.trim() {
            "completa" => Ok(Self(ReceiptType::Completa)),
            "breve" => Ok(Self(ReceiptType::Breve)),
            "sintetica" => Ok(Self(ReceiptType::Sintetica)),
            other => Err(format!("unknown receipt type {other}").into()),
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.as_str().to_owned())
    }
}

/// One attached file.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The file name the recipient sees.
    pub name: String,
    /// Its MIME type (`application/pdf`, ...).
    pub content_type: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// What to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// The mailbox's PEC address.
    pub from: &'a str,
    pub to: &'a [String],
    pub cc: &'a [String],
    pub subject: &'a str,
    /// Plain text.
    pub body: &'a str,
    pub attachments: &'a [FilePart],
    /// The Message-ID of the message replied to (no angle brackets).
    pub in_reply_to: Option<&'a str>,
    /// The thread's Message-IDs, oldest first (no angle brackets).
    pub references: &'a [String],
    pub receipt: ReceiptType,
}

impl Outgoing<'_> {
    /// Every SMTP recipient: To then Cc, each once (PEC has no Bcc).
    pub fn recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(self.to.len() + self.cc.len());
        for a in self.to.iter().chain(self.cc) {
            let a = a.trim().to_ascii_lowercase();
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }
}

/// A new Message-ID (no angle brackets) on the sender's domain: unique, and recognisably
/// ours (`pecdesk.` prefix) when it comes back in a receipt.
pub fn new_message_id(from: &str) -> String {
    let domain = from.rsplit_once('@').map_or("localhost", |(_, d)| d);
    format!(
        "pecdesk.{}@{}",
        uuid::Uuid::now_v7().simple(),
        domain.to_ascii_lowercase()
    )
}

fn mailbox(field: &str, a: &str) -> Result<Mailbox> {
    a.trim().parse::<Mailbox>().map_err(|e| {
        Error::invalid(format!(
            "`{field}`: indirizzo non valido / invalid address {a:?}: {e}"
        ))
    })
}

fn angle(id: &str) -> String {
    format!("<{}>", id.trim_matches(['<', '>']))
}

/// Builds the message with `message_id` (no angle brackets). Addresses are checked here
/// too: an address that does not parse is a 422 naming the field.
pub fn compose(o: &Outgoing<'_>, message_id: &str) -> Result<Vec<u8>> {
    if o.to.is_empty() {
        return Err(Error::invalid(
            "manca il destinatario / `to` needs at least one address",
        ));
    }
    let mut b = lettre::Message::builder()
        .message_id(Some(angle(message_id)))
        .from(mailbox("from", o.from)?)
        .subject(o.subject)
        .header(XTipoRicevuta(o.receipt));
    for a in o.to {
        b = b.to(mailbox("to", a)?);
    }
    for a in o.cc {
        b = b.cc(mailbox("cc", a)?);
    }
    if let Some(r) = o.in_reply_to {
        b = b.in_reply_to(angle(r));
    }
    if !o.references.is_empty() {
        let refs: Vec<String> = o.references.iter().map(|r| angle(r)).collect();
        b = b.references(refs.join(" "));
    }
    let text = SinglePart::plain(o.body.to_owned());
    let message = if o.attachments.is_empty() {
        b.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for f in o.attachments {
            let ct = ContentType::parse(&f.content_type).map_err(|_| {
                Error::invalid(format!(
                    "tipo di allegato non valido / invalid attachment type {:?}",
                    f.content_type
                ))
            })?;
            parts = parts.singlepart(Attachment::new(f.name.clone()).body(f.content.clone(), ct));
        }
        b.multipart(parts)
    }
    .map_err(|e| {
        Error::invalid(format!(
            "messaggio non componibile / cannot build the message: {e}"
        ))
    })?;
    Ok(message.formatted())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_carries_our_id_the_thread_and_the_receipt_type() {
        let to = vec!["protocollo@pec.comune.example".to_owned()];
        let cc = vec![
            "Ufficio@PEC.example".to_owned(),
            "protocollo@pec.comune.example".to_owned(),
        ];
        let refs = vec!["a@x".to_owned(), "b@y".to_owned()];
        let files = vec![FilePart {
            name: "risposta.pdf".into(),
            content_type: "application/pdf".into(),
            content: b"%PDF-1.4 test".to_vec(),
        }];
        let o = Outgoing {
            from: "ufficio@pec.demo.example",
            to: &to,
            cc: &cc,
            subject: "Re: Richiesta atti n. 42 — è urgente",
            body: "Gentile Comune,\nin allegato quanto richiesto.\n",
            attachments: &files,
            in_reply_to: Some("b@y"),
            references: &refs,
            receipt: ReceiptType::Breve,
        };
        let id = new_message_id(o.from);
        assert!(
            id.starts_with("pecdesk.") && id.ends_with("@pec.demo.example"),
            "{id}"
        );
        let raw = compose(&o, &id).expect("composes");
        let parsed = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("parses back");
        assert_eq!(parsed.message_id(), Some(id.as_str()));
        assert_eq!(
            parsed.subject(),
            Some("Re: Richiesta atti n. 42 — è urgente")
        );
        assert_eq!(parsed.in_reply_to().as_text(), Some("b@y"));
        assert_eq!(parsed.references().as_text_list().map(|l| l.len()), Some(2));
        assert_eq!(
            parsed.header_raw("X-TipoRicevuta").map(str::trim),
            Some("breve")
        );
        assert_eq!(parsed.attachment_count(), 1);
        assert_eq!(
            o.recipients(),
            vec!["protocollo@pec.comune.example", "ufficio@pec.example"]
        );
        assert!(parsed.header_raw("Bcc").is_none());
    }

    #[test]
    fn a_bad_address_is_named() {
        let to = vec!["not an address".to_owned()];
        let o = Outgoing {
            from: "ufficio@pec.demo.example",
            to: &to,
            cc: &[],
            subject: "x",
            body: "x",
            attachments: &[],
            in_reply_to: None,
            references: &[],
            receipt: ReceiptType::Completa,
        };
        let e = compose(&o, "id@x").expect_err("refused").to_string();
        assert!(e.contains("`to`"), "{e}");
    }
}
