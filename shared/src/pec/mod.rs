//! Classification and summary of PEC messages (see `PEC.md`).
//!
//! [`inspect`] reads one raw message: [`classify`] names its kind from the headers, the
//! MIME walk (`mime`) finds the top-level `daticert.xml` and `postacert.eml`,
//! [`crate::daticert`] reads the certification data, `original` reads the original
//! message and `summary` assembles the JSON summary of `PEC.md`. Nothing here panics on
//! input: what cannot be read becomes a [`PecError`] in the result.

mod classify;
mod error;
mod headers;
mod mime;
mod original;
mod summary;

use serde::{Deserialize, Serialize};

use crate::daticert::Daticert;
use crate::signature::{SignatureReport, TrustAnchors};

pub use classify::{Classification, classify, strip_subject_prefix};
pub use error::PecError;

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

impl PecKind {
    /// Every kind, in the order of `PEC.md`.
    pub const ALL: [PecKind; 10] = [
        PecKind::PostaCertificata,
        PecKind::Anomalia,
        PecKind::Accettazione,
        PecKind::NonAccettazione,
        PecKind::PresaInCarico,
        PecKind::AvvenutaConsegna,
        PecKind::ErroreConsegna,
        PecKind::PreavvisoErroreConsegna,
        PecKind::RilevazioneVirus,
        PecKind::NotPec,
    ];

    /// The kebab-case name used in JSON and in daticert `tipo`.
    pub fn as_str(self) -> &'static str {
        match self {
            PecKind::PostaCertificata => "posta-certificata",
            PecKind::Anomalia => "anomalia",
            PecKind::Accettazione => "accettazione",
            PecKind::NonAccettazione => "non-accettazione",
            PecKind::PresaInCarico => "presa-in-carico",
            PecKind::AvvenutaConsegna => "avvenuta-consegna",
            PecKind::ErroreConsegna => "errore-consegna",
            PecKind::PreavvisoErroreConsegna => "preavviso-errore-consegna",
            PecKind::RilevazioneVirus => "rilevazione-virus",
            PecKind::NotPec => "not-pec",
        }
    }
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
    /// Display name of `From`, when written.
    #[serde(default)]
    pub from_name: Option<String>,
}

/// Everything the core reads out of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    pub summary: Summary,
    /// The outer message's own `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    /// The original message (`postacert.eml`) when present.
    pub original: Option<OriginalMessage>,
    /// The problems of `summary.problems`, typed (the summary holds their Italian text).
    #[serde(default)]
    pub errors: Vec<PecError>,
    /// A virus notice (`X-VerificaSicurezza: errore`, `... PER VIRUS:`, rilevazione-virus).
    #[serde(default)]
    pub virus: bool,
    /// The outer `daticert.xml` as read (also when malformed: the fields read before the
    /// error); `None` when absent or ignored (not-pec, anomalia).
    #[serde(default)]
    pub daticert: Option<Daticert>,
}

/// Options of [`inspect`].
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// Check `smime.p7s`; `None` leaves `summary.signature` as `None`.
    pub signature: Option<TrustAnchors>,
}

/// Reads one raw message (RFC 5322 bytes, LF or CRLF). Never panics: whatever cannot be
/// read is reported in `summary.problems` (and typed in `errors`).
pub fn inspect(raw: &[u8], options: &InspectOptions) -> Inspection {
    let mut inspection = summary::inspect_message(raw);
    if let Some(anchors) = &options.signature {
        inspection.summary.signature = Some(crate::signature::verify(raw, anchors));
    }
    inspection
}
