//! Assembles the summary of `PEC.md` ("The summary every tool prints") from the
//! classification, the outer `daticert.xml` and the envelope headers.

use mail_parser::{Header, MessageParser, MessagePart, PartType};

use super::classify::{classify_headers, strip_subject_prefix};
use super::{
    Inspection, OriginalMessage, PecError, PecKind, Recipient, Summary, headers, mime, original,
};
use crate::daticert::{self, Daticert, DaticertError, DaticertWarning};

const RECEIPT_TYPES: [&str; 3] = ["completa", "breve", "sintetica"];

fn empty_summary() -> Summary {
    Summary {
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
    }
}

fn failed(error: PecError) -> Inspection {
    let mut summary = empty_summary();
    summary.problems.push(error.message_it());
    Inspection {
        summary,
        message_id: None,
        original: None,
        errors: vec![error],
        virus: false,
        daticert: None,
    }
}

/// Reads one raw message into an [`Inspection`] (signature not checked). The steps:
/// classify on the headers, walk the MIME tree, read the outer daticert, fill the
/// summary, read the original message.
pub(crate) fn inspect_message(raw: &[u8]) -> Inspection {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return failed(PecError::EmptyInput);
    }
    let Some(message) = MessageParser::default().parse(raw) else {
        return failed(PecError::NotAMessage);
    };
    let top = message.headers();
    let class = classify_headers(top);
    let kind = class.kind;
    let mut errors = class.problems;

    let layout = mime::layout(&message);
    if layout.truncated {
        errors.push(PecError::TruncatedMime);
    }
    if layout.undecodable {
        errors.push(PecError::UndecodablePart);
    }
    if kind != PecKind::NotPec && !layout.signed {
        errors.push(PecError::NotSigned);
    }

    let (daticert, parsable) = read_certification(kind, &layout, &mut errors);
    let mut summary = empty_summary();
    summary.kind = kind;
    summary.has_original = layout.postacert.is_some();
    summary.has_daticert = parsable;
    let message_id = headers::message_id(top, "Message-ID");
    let decoded_subject = message.subject().map(str::to_owned);
    if kind == PecKind::NotPec {
        // Whatever a non-PEC mail carries, it certifies nothing.
        summary.subject = decoded_subject;
    } else {
        let envelope = Envelope {
            headers: top,
            raw: message.raw_message(),
            message_id: message_id.as_deref(),
            subject: decoded_subject.as_deref(),
        };
        fill_certified(
            &mut summary,
            daticert.as_ref(),
            parsable,
            &envelope,
            &mut errors,
        );
    }

    let original = read_original(&summary, &layout, &mut errors);
    summary.problems = errors.iter().map(PecError::message_it).collect();
    // daticert `errore="virus"` confirms a virus notice the headers did not flag.
    let virus = class.virus
        || (matches!(kind, PecKind::NonAccettazione | PecKind::ErroreConsegna)
            && summary.error.as_deref() == Some("virus"));
    Inspection {
        summary,
        message_id,
        original,
        errors,
        virus,
        daticert,
    }
}

/// The outer message's own top-level `daticert.xml`, only on a message whose headers make
/// it PEC (else it is a spoof) and not on an anomaly envelope (which never has one).
/// Returns what was read (also from a malformed file) and whether it parsed to the end.
fn read_certification(
    kind: PecKind,
    layout: &mime::Layout<'_, '_>,
    errors: &mut Vec<PecError>,
) -> (Option<Daticert>, bool) {
    match kind {
        PecKind::NotPec => {
            if !layout.daticert.is_empty() {
                errors.push(PecError::SpoofedDaticert);
            }
            return (None, false);
        }
        PecKind::Anomalia => {
            if !layout.daticert.is_empty() {
                errors.push(PecError::UnexpectedDaticert);
            }
            return (None, false);
        }
        _ => {}
    }
    // Tolerance: an unnamed XML part stands in when no part is named daticert.xml.
    let candidates = if layout.daticert.is_empty() {
        &layout.unnamed_xml
    } else {
        &layout.daticert
    };
    if candidates.len() > 1 {
        errors.push(PecError::MultipleDaticert);
    }
    let Some(part) = candidates.first() else {
        errors.push(PecError::MissingDaticert);
        return (None, false);
    };
    let warnings = |d: &Daticert, partial: bool| -> Vec<PecError> {
        d.warnings
            .iter()
            // After a break, "missing element" only repeats that the file broke off.
            .filter(|w| !(partial && matches!(w, DaticertWarning::MissingElement { .. })))
            .cloned()
            .map(|warning| PecError::Daticert { warning })
            .collect()
    };
    let (daticert, parsable) = match read_daticert(part) {
        Ok(read) => {
            errors.extend(warnings(&read, false));
            (read, true)
        }
        Err(DaticertError::Malformed { message, partial }) => {
            errors.push(PecError::MalformedDaticert { detail: message });
            errors.extend(warnings(&partial, true));
            (*partial, false)
        }
        Err(other) => {
            errors.push(PecError::UnreadableDaticert {
                detail: other.to_string(),
            });
            return (None, false);
        }
    };
    if let Some(tipo) = daticert.tipo.as_deref()
        && tipo != kind.as_str()
    {
        errors.push(PecError::KindMismatch {
            header: kind.as_str().to_owned(),
            daticert: tipo.to_owned(),
        });
    }
    (Some(daticert), parsable)
}

/// What the envelope itself says, for the fields daticert does not give.
struct Envelope<'a, 'x> {
    headers: &'a [Header<'x>],
    raw: &'a [u8],
    message_id: Option<&'a str>,
    subject: Option<&'a str>,
}

/// The certification keys of a PEC kind: daticert first, the envelope as the fallback
/// `PEC.md` allows.
fn fill_certified(
    summary: &mut Summary,
    d: Option<&Daticert>,
    parsable: bool,
    envelope: &Envelope<'_, '_>,
    errors: &mut Vec<PecError>,
) {
    let kind = summary.kind;
    summary.receipt_type = receipt_type(kind, d, envelope.headers, errors);
    summary.error = d.filter(|_| parsable).map(|d| d.errore.clone());
    summary.identificativo = match kind {
        PecKind::Anomalia => None,
        // A receipt's own Message-ID is new: only an envelope's equals the PEC id.
        PecKind::PostaCertificata => d
            .and_then(|d| d.identificativo.clone())
            .or_else(|| envelope.message_id.map(str::to_owned)),
        _ => d.and_then(|d| d.identificativo.clone()),
    };
    summary.original_message_id = headers::message_id(envelope.headers, "X-Riferimento-Message-ID")
        .or_else(|| d.and_then(Daticert::msgid_unescaped));
    summary.sender = d
        .and_then(|d| d.mittente.clone())
        .or_else(|| headers::per_conto_di(envelope.headers, envelope.raw));
    summary.recipients = d
        .map(|d| {
            d.destinatari
                .iter()
                .map(|r| Recipient {
                    address: r.address.clone(),
                    kind: r.tipo.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    summary.subject = d.and_then(|d| d.oggetto.clone()).or_else(|| {
        envelope
            .subject
            .map(|subject| strip_subject_prefix(subject, kind))
    });
    summary.provider = d.and_then(|d| d.gestore_emittente.clone());
    summary.issued_at = d.and_then(Daticert::issued_at);
    summary.recipient = d.and_then(|d| d.consegna.clone());
}

/// The original message, and the problem when a kind that carries one lacks it.
fn read_original(
    summary: &Summary,
    layout: &mime::Layout<'_, '_>,
    errors: &mut Vec<PecError>,
) -> Option<OriginalMessage> {
    let kind = summary.kind;
    let receipt_type = summary.receipt_type.as_deref();
    let carries_original = matches!(kind, PecKind::PostaCertificata | PecKind::Anomalia)
        || (kind == PecKind::AvvenutaConsegna
            && matches!(receipt_type, Some("completa" | "breve")));
    if carries_original && !summary.has_original {
        errors.push(PecError::MissingOriginal);
    }
    let breve = receipt_type == Some("breve");
    let part = layout.postacert?;
    match part.message() {
        Some(inner) => Some(original::extract(inner, breve, errors)),
        None => {
            errors.push(PecError::UnreadableOriginal);
            None
        }
    }
}

fn read_daticert(part: &MessagePart<'_>) -> Result<Daticert, DaticertError> {
    match &part.body {
        PartType::Text(text) | PartType::Html(text) => daticert::parse_text(text),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => daticert::parse(bytes),
        PartType::Message(_) | PartType::Multipart(_) => Err(DaticertError::NotDaticert),
    }
}

/// `completa` / `breve` / `sintetica` for the kinds that have one (the envelope says
/// what its sender asked for; a delivery receipt says what it is): daticert `ricevuta`
/// first, then `X-TipoRicevuta`.
fn receipt_type(
    kind: PecKind,
    daticert: Option<&Daticert>,
    top: &[Header<'_>],
    errors: &mut Vec<PecError>,
) -> Option<String> {
    if !matches!(kind, PecKind::PostaCertificata | PecKind::AvvenutaConsegna) {
        return None;
    }
    if let Some(ricevuta) = daticert.and_then(|d| d.ricevuta.as_deref()) {
        let ricevuta = ricevuta.to_ascii_lowercase();
        if RECEIPT_TYPES.contains(&ricevuta.as_str()) {
            return Some(ricevuta);
        }
    }
    let value = headers::text(top, "X-TipoRicevuta")?;
    let lower = value.trim().to_ascii_lowercase();
    if RECEIPT_TYPES.contains(&lower.as_str()) {
        return Some(lower);
    }
    errors.push(PecError::BadReceiptType {
        value: value.clone(),
    });
    // A truncated value (`complet`) that names exactly one type is still read.
    let matches: Vec<&str> = RECEIPT_TYPES
        .iter()
        .copied()
        .filter(|t| lower.len() >= 3 && t.starts_with(lower.as_str()))
        .collect();
    (matches.len() == 1).then(|| matches[0].to_owned())
}
