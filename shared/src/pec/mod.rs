//! Classification and summary of PEC messages (see `PEC.md`).

use serde::{Deserialize, Serialize};

use crate::signature::{SignatureReport, TrustAnchors};

/// Every kind of message a PEC box can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PecKind {
    PostaCertificata,
    Anomalia,
    Accettazione,
    NonAccettazione,
    PresaInCarico,
    AvvenutaConsegna,
    ErroreConsegna,
    PreavvisoErroreConsegna,
    RilevazioneVirus,
    NotPec,
}

/// One entry of daticert `destinatari`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub address: String,
    /// `certificato` or `esterno`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The summary of `PEC.md` ("The summary every tool prints") plus `problems` and `signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub kind: PecKind,
    pub receipt_type: Option<String>,
    pub error: Option<String>,
    pub identificativo: Option<String>,
    pub original_message_id: Option<String>,
    pub sender: Option<String>,
    pub recipients: Vec<Recipient>,
    pub subject: Option<String>,
    pub provider: Option<String>,
    pub issued_at: Option<String>,
    pub recipient: Option<String>,
    pub has_original: bool,
    pub has_daticert: bool,
    /// What could not be read, in plain words (empty when all is well).
    pub problems: Vec<String>,
    /// `None` when the check was not asked for.
    pub signature: Option<SignatureReport>,
}

/// An attachment of the original message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    pub size: usize,
    /// For `.hash` placeholders of a breve receipt: the SHA-1 (40 hex chars) of the
    /// attachment it replaces.
    pub sha1_placeholder: Option<String>,
}

/// The original message carried as `postacert.eml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OriginalMessage {
    pub message_id: Option<String>,
    pub riferimento_message_id: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Everything the core reads out of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    pub summary: Summary,
    /// The outer message's own `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    /// The original message (`postacert.eml`) when present.
    pub original: Option<OriginalMessage>,
}

/// Options of [`inspect`].
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// Check `smime.p7s`; `None` leaves `summary.signature` as `None`.
    pub signature: Option<TrustAnchors>,
}

/// Reads one raw message (RFC 5322 bytes, LF or CRLF). Never panics.
///
/// PLACEHOLDER in the workspace skeleton: replaced by the real parser.
pub fn inspect(_raw: &[u8], _options: &InspectOptions) -> Inspection {
    Inspection {
        summary: Summary {
            kind: PecKind::NotPec,
            receipt_type: None,
            error: None,
            identificativo: None,
            original_message_id: None,
            sender: None,
            recipients: Vec::new(),
            subject: None,
            provider: None,
            issued_at: None,
            recipient: None,
            has_original: false,
            has_daticert: false,
            problems: Vec::new(),
            signature: None,
        },
        message_id: None,
        original: None,
    }
}
