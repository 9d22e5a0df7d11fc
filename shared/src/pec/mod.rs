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
mod identity;
mod mime;
mod original;
mod parts;
mod summary;

use serde::{Deserialize, Serialize};

use crate::daticert::Daticert;
use crate::signature::{SignatureReport, TrustAnchors};

pub use classify::{Classification, classify, strip_subject_prefix};
pub use error::PecError;
pub use identity::identity;
pub use original::{OriginalView, ViewAttachment, original_attachment, original_view};
pub use parts::daticert_xml;

/// Every kind of message a PEC box can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PecKind {
    /// Transport envelope (`X-Trasporto: posta-certificata`): carries `postacert.eml`.
    PostaCertificata,
    /// Anomaly envelope (`X-Trasporto: errore`): a non-PEC mail reached a PEC box.
    Anomalia,
    /// Acceptance receipt (`X-Ricevuta: accettazione`).
    Accettazione,
    /// Non-acceptance notice, also for a virus (`X-VerificaSicurezza: errore`).
    NonAccettazione,
    /// Take-charge receipt, provider to provider.
    PresaInCarico,
    /// Delivery receipt, one per recipient: completa, breve or sintetica.
    AvvenutaConsegna,
    /// Non-delivery notice, also for a virus.
    ErroreConsegna,
    /// 12 h / 24 h warning that delivery has not happened yet.
    PreavvisoErroreConsegna,
    /// Virus detection notice, provider to provider.
    RilevazioneVirus,
    /// None of the PEC headers: an ordinary mail (or a spoof).
    NotPec,
}

crate::from_json_enum!(PecKind, {
    PecKind::PostaCertificata: "posta-certificata",
    PecKind::Anomalia: "anomalia",
    PecKind::Accettazione: "accettazione",
    PecKind::NonAccettazione: "non-accettazione",
    PecKind::PresaInCarico: "presa-in-carico",
    PecKind::AvvenutaConsegna: "avvenuta-consegna",
    PecKind::ErroreConsegna: "errore-consegna",
    PecKind::PreavvisoErroreConsegna: "preavviso-errore-consegna",
    PecKind::RilevazioneVirus: "rilevazione-virus",
    PecKind::NotPec: "not-pec",
});

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
    /// The recipient's address as daticert writes it.
    pub address: String,
    /// `certificato` or `esterno`.
    #[serde(rename = "type")]
    pub kind: String,
}

crate::from_json_struct!(Recipient, "struct Recipient", Recipient { address: String::new(), kind: String::new() }, {
    address: "address" = true,
    kind: "type" = true,
});

/// The summary of `PEC.md` ("The summary every tool prints") plus `problems` and `signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The kind, from the headers.
    pub kind: PecKind,
    /// `completa` / `breve` / `sintetica` (envelopes and delivery receipts).
    pub receipt_type: Option<String>,
    /// daticert `errore` (`nessuno`, `no-dest`, ...); only with a parsable daticert.
    pub error: Option<String>,
    /// The PEC id given at acceptance (an envelope without daticert: its Message-ID).
    pub identificativo: Option<String>,
    /// The sender client's Message-ID (`X-Riferimento-Message-ID`, else daticert `msgid`).
    pub original_message_id: Option<String>,
    /// The certified sender (daticert `mittente`, else the envelope's `Per conto di:`).
    pub sender: Option<String>,
    /// daticert `destinatari`, in order.
    pub recipients: Vec<Recipient>,
    /// daticert `oggetto`, else the decoded Subject without the kind's prefix.
    pub subject: Option<String>,
    /// daticert `gestore-emittente`.
    pub provider: Option<String>,
    /// daticert `data`, ISO 8601 with offset.
    pub issued_at: Option<String>,
    /// daticert `consegna`: the one recipient a delivery notice is about.
    pub recipient: Option<String>,
    /// `postacert.eml` sits at the top level of the message.
    pub has_original: bool,
    /// A parsable outer `daticert.xml` is present.
    pub has_daticert: bool,
    /// What could not be read, in plain words (empty when all is well).
    pub problems: Vec<String>,
    /// `None` when the check was not asked for.
    pub signature: Option<SignatureReport>,
}

/// An attachment of the original message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name (`Content-Disposition` filename or `Content-Type` name), decoded.
    pub name: Option<String>,
    /// `type/subtype`, lowercase.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
    /// For `.hash` placeholders of a breve receipt: the SHA-1 (40 hex chars) of the
    /// attachment it replaces.
    pub sha1_placeholder: Option<String>,
}

/// The original message carried as `postacert.eml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OriginalMessage {
    /// `Message-ID` (providers put the PEC id here), without angle brackets.
    pub message_id: Option<String>,
    /// `X-Riferimento-Message-ID`: the sender client's own Message-ID.
    pub riferimento_message_id: Option<String>,
    /// Address of `From`.
    pub from: Option<String>,
    /// Addresses of `To`.
    pub to: Vec<String>,
    /// Addresses of `Cc`.
    pub cc: Vec<String>,
    /// Decoded `Subject`.
    pub subject: Option<String>,
    /// `Date`, RFC 3339.
    pub date: Option<String>,
    /// The first `text/plain` body, decoded to UTF-8.
    pub text_body: Option<String>,
    /// The first `text/html` body, decoded to UTF-8.
    pub html_body: Option<String>,
    /// Attachments (and `.hash` placeholders), in order.
    pub attachments: Vec<Attachment>,
    /// Display name of `From`, when written.
    #[serde(default)]
    pub from_name: Option<String>,
}

/// Everything the core reads out of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// The summary of `PEC.md`.
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
        inspection.summary.signature = Some(crate::signature::verify_with(
            raw,
            anchors,
            inspection.summary.provider.as_deref(),
        ));
    }
    inspection
}
