//! Assembles the summary of `PEC.md` ("The summary every tool prints") from the
//! classification, the outer `daticert.xml` and the envelope headers.

use mail_parser::{MessageParser, MessagePart, PartType};

use super::classify::{classify_headers, strip_subject_prefix};
use super::{Inspection, PecError, PecKind, Recipient, Summary, headers, mime, original};
use crate::daticert::{self, Daticert, DaticertError};

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

/// Reads one raw message into an [`Inspection`] (signature not checked).
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
    let is_pec = kind != PecKind::NotPec;
    if is_pec && !layout.signed {
        errors.push(PecError::NotSigned);
    }

    // The certification data: only the outer message's own top-level daticert.xml, and
    // only on a message whose headers make it PEC (else it is a spoof).
    let mut daticert: Option<Daticert> = None;
    let mut parsable = false;
    match kind {
        PecKind::NotPec if !layout.daticert.is_empty() => errors.push(PecError::SpoofedDaticert),
        PecKind::NotPec => {}
        PecKind::Anomalia if !layout.daticert.is_empty() => {
            errors.push(PecError::UnexpectedDaticert);
        }
        PecKind::Anomalia => {}
        _ => {
            // Tolerance: an unnamed XML part stands in when no part is named daticert.xml.
            let candidates = if layout.daticert.is_empty() {
                &layout.unnamed_xml
            } else {
                &layout.daticert
            };
            if candidates.len() > 1 {
                errors.push(PecError::MultipleDaticert);
            }
            match candidates.first() {
                None => errors.push(PecError::MissingDaticert),
                Some(part) => match read_daticert(part) {
                    Ok(read) => {
                        parsable = true;
                        errors.extend(
                            read.warnings
                                .iter()
                                .cloned()
                                .map(|warning| PecError::Daticert { warning }),
                        );
                        daticert = Some(read);
                    }
                    Err(DaticertError::Malformed { message, partial }) => {
                        errors.push(PecError::MalformedDaticert { detail: message });
                        errors.extend(
                            partial
                                .warnings
                                .iter()
                                .cloned()
                                .map(|warning| PecError::Daticert { warning }),
                        );
                        daticert = Some(*partial);
                    }
                    Err(other) => errors.push(PecError::UnreadableDaticert {
                        detail: other.to_string(),
                    }),
                },
            }
        }
    }
    if let Some(tipo) = daticert.as_ref().and_then(|d| d.tipo.as_deref())
        && tipo != kind.as_str()
    {
        errors.push(PecError::KindMismatch {
            header: kind.as_str().to_owned(),
            daticert: tipo.to_owned(),
        });
    }

    let message_id = headers::message_id(top, "Message-ID");
    let decoded_subject = message.subject().map(str::to_owned);
    let mut summary = empty_summary();
    summary.kind = kind;
    summary.has_original = layout.postacert.is_some();
    summary.has_daticert = parsable;

    if is_pec {
        let d = daticert.as_ref();
        summary.receipt_type = receipt_type(kind, d, top, &mut errors);
        summary.error = d.filter(|_| parsable).map(|d| d.errore.clone());
        summary.identificativo = match kind {
            PecKind::Anomalia => None,
            PecKind::PostaCertificata => d
                .and_then(|d| d.identificativo.clone())
                .or_else(|| message_id.clone()),
            _ => d.and_then(|d| d.identificativo.clone()),
        };
        summary.original_message_id = headers::message_id(top, "X-Riferimento-Message-ID")
            .or_else(|| d.and_then(Daticert::msgid_unescaped));
        summary.sender = d
            .and_then(|d| d.mittente.clone())
            .or_else(|| headers::per_conto_di(top, message.raw_message()));
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
            decoded_subject
                .as_deref()
                .map(|subject| strip_subject_prefix(subject, kind))
        });
        summary.provider = d.and_then(|d| d.gestore_emittente.clone());
        summary.issued_at = d.and_then(Daticert::issued_at);
        summary.recipient = d.and_then(|d| d.consegna.clone());
    } else {
        summary.subject = decoded_subject;
    }

    let carries_original = matches!(kind, PecKind::PostaCertificata | PecKind::Anomalia)
        || (kind == PecKind::AvvenutaConsegna
            && matches!(summary.receipt_type.as_deref(), Some("completa" | "breve")));
    if carries_original && !summary.has_original {
        errors.push(PecError::MissingOriginal);
    }
    let breve = summary.receipt_type.as_deref() == Some("breve");
    let original = layout.postacert.and_then(|part| match part.message() {
        Some(inner) => Some(original::extract(inner, breve, &mut errors)),
        None => {
            errors.push(PecError::UnreadableOriginal);
            None
        }
    });

    summary.problems = errors.iter().map(PecError::message_it).collect();
    Inspection {
        summary,
        message_id,
        original,
        errors,
        virus: class.virus,
        daticert,
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
    top: &[mail_parser::Header<'_>],
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
