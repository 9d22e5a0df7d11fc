//! Classification of a message into a [`PecKind`] from its own headers (`X-Trasporto`,
//! `X-Ricevuta`, `X-VerificaSicurezza`), case-insensitively; the subject prefix is only a
//! fallback when a PEC header is present but unreadable.
//!
//! Security invariant: a message without any PEC header is `not-pec`, whatever its subject
//! or attachments say — anyone can write `POSTA CERTIFICATA:` or attach a `daticert.xml`.

use mail_parser::Header;
use serde::{Deserialize, Serialize};

use super::{PecError, PecKind, headers};

/// What the headers say about a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// The kind (`not-pec` without any PEC header).
    pub kind: PecKind,
    /// `X-VerificaSicurezza: errore` on a non-accettazione or errore-consegna (virus notice),
    /// or a rilevazione-virus.
    pub virus: bool,
    /// What was odd.
    pub problems: Vec<PecError>,
}

/// Classifies a raw message (RFC 5322 bytes) from its top-level headers only, without
/// reading the body: cheap enough for a message list. Never panics.
pub fn classify(raw: &[u8]) -> Classification {
    match mail_parser::MessageParser::default().parse_headers(raw) {
        Some(message) => classify_headers(message.headers()),
        None => Classification {
            kind: PecKind::NotPec,
            virus: false,
            problems: vec![PecError::NotAMessage],
        },
    }
}

/// Classifies from already parsed top-level headers.
pub(crate) fn classify_headers(headers_list: &[Header<'_>]) -> Classification {
    let trasporto = headers::text(headers_list, "X-Trasporto");
    let ricevuta = headers::text(headers_list, "X-Ricevuta");
    let security_error = headers::text(headers_list, "X-VerificaSicurezza")
        .is_some_and(|value| value.eq_ignore_ascii_case("errore"));
    let subject = headers::text(headers_list, "Subject").unwrap_or_default();
    let mut problems = Vec::new();

    let (header, value) = match (&trasporto, &ricevuta) {
        (None, None) => {
            return Classification {
                kind: PecKind::NotPec,
                virus: false,
                problems,
            };
        }
        (Some(_), Some(ricevuta)) => {
            problems.push(PecError::ConflictingHeaders);
            ("X-Ricevuta", ricevuta)
        }
        (None, Some(ricevuta)) => ("X-Ricevuta", ricevuta),
        (Some(trasporto), None) => ("X-Trasporto", trasporto),
    };
    let from_header = if header == "X-Ricevuta" {
        kind_of_ricevuta(value)
    } else {
        kind_of_trasporto(value)
    };
    let kind = match from_header {
        Some(kind) => kind,
        None => {
            problems.push(PecError::UnknownHeaderValue {
                header: header.to_owned(),
                value: value.clone(),
            });
            match kind_from_subject(&subject) {
                Some(kind) => {
                    problems.push(PecError::KindFromSubject);
                    kind
                }
                // A PEC header is there but says nothing we know: not PEC for us.
                None => PecKind::NotPec,
            }
        }
    };
    let virus = match kind {
        PecKind::NonAccettazione | PecKind::ErroreConsegna => {
            security_error || is_virus_subject(&subject)
        }
        PecKind::RilevazioneVirus => true,
        _ => false,
    };
    Classification {
        kind,
        virus,
        problems,
    }
}

fn kind_of_trasporto(value: &str) -> Option<PecKind> {
    match value.trim().to_ascii_lowercase().as_str() {
        "posta-certificata" => Some(PecKind::PostaCertificata),
        "errore" => Some(PecKind::Anomalia),
        _ => None,
    }
}

fn kind_of_ricevuta(value: &str) -> Option<PecKind> {
    match value.trim().to_ascii_lowercase().as_str() {
        "accettazione" => Some(PecKind::Accettazione),
        "non-accettazione" => Some(PecKind::NonAccettazione),
        "presa-in-carico" => Some(PecKind::PresaInCarico),
        "avvenuta-consegna" => Some(PecKind::AvvenutaConsegna),
        "errore-consegna" => Some(PecKind::ErroreConsegna),
        "preavviso-errore-consegna" => Some(PecKind::PreavvisoErroreConsegna),
        "rilevazione-virus" => Some(PecKind::RilevazioneVirus),
        _ => None,
    }
}

/// The subject prefixes of each kind, longest first so that `... PER VIRUS: ` is tried
/// before its shorter sibling.
fn prefixes(kind: PecKind) -> &'static [&'static str] {
    match kind {
        PecKind::PostaCertificata => &["POSTA CERTIFICATA:"],
        PecKind::Anomalia => &["ANOMALIA MESSAGGIO:"],
        PecKind::Accettazione => &["ACCETTAZIONE:"],
        PecKind::NonAccettazione => &[
            "AVVISO DI NON ACCETTAZIONE PER VIRUS:",
            "AVVISO DI NON ACCETTAZIONE:",
        ],
        PecKind::PresaInCarico => &["PRESA IN CARICO:"],
        PecKind::AvvenutaConsegna => &["CONSEGNA:"],
        PecKind::ErroreConsegna => &[
            "AVVISO DI MANCATA CONSEGNA PER VIRUS:",
            "AVVISO DI MANCATA CONSEGNA:",
        ],
        PecKind::PreavvisoErroreConsegna => &["AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO:"],
        PecKind::RilevazioneVirus => &["PROBLEMA DI SICUREZZA:"],
        PecKind::NotPec => &[],
    }
}

/// Byte length of the kind's prefix at the start of `subject` (any case), spaces after
/// the colon included.
fn subject_prefix_len(subject: &str, kind: PecKind) -> Option<usize> {
    let trimmed = subject.trim_start();
    let lead = subject.len() - trimmed.len();
    prefixes(kind).iter().find_map(|prefix| {
        let head = trimmed.get(..prefix.len())?;
        if !head.eq_ignore_ascii_case(prefix) {
            return None;
        }
        let after = trimmed.get(prefix.len()..)?;
        let spaces = after.len() - after.trim_start().len();
        Some(lead + prefix.len() + spaces)
    })
}

/// The subject starts with a `... PER VIRUS:` prefix (only the prefix counts: the original
/// subject after it may say anything).
fn is_virus_subject(subject: &str) -> bool {
    let trimmed = subject.trim_start();
    [
        "AVVISO DI NON ACCETTAZIONE PER VIRUS:",
        "AVVISO DI MANCATA CONSEGNA PER VIRUS:",
    ]
    .iter()
    .any(|prefix| {
        trimmed
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    })
}

/// The subject without the kind's prefix, removed once: a second prefix belongs to the
/// original subject (a reply to a PEC keeps `POSTA CERTIFICATA:` and daticert `oggetto`
/// then shows it too).
pub fn strip_subject_prefix(subject: &str, kind: PecKind) -> String {
    match subject_prefix_len(subject, kind) {
        Some(len) => subject.get(len..).unwrap_or_default().to_owned(),
        None => subject.trim_start().to_owned(),
    }
}

/// The kind a subject prefix names, for the fallback. The more specific prefixes
/// (`... PER SUP. TEMPO MASSIMO`) are tried before the ones they start with.
fn kind_from_subject(subject: &str) -> Option<PecKind> {
    [
        PecKind::PreavvisoErroreConsegna,
        PecKind::ErroreConsegna,
        PecKind::NonAccettazione,
        PecKind::PostaCertificata,
        PecKind::Anomalia,
        PecKind::Accettazione,
        PecKind::PresaInCarico,
        PecKind::AvvenutaConsegna,
        PecKind::RilevazioneVirus,
    ]
    .into_iter()
    .find(|kind| subject_prefix_len(subject, *kind).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_removed_once_and_case_insensitively() {
        assert_eq!(
            strip_subject_prefix(
                "POSTA CERTIFICATA: POSTA CERTIFICATA: x",
                PecKind::PostaCertificata
            ),
            "POSTA CERTIFICATA: x"
        );
        assert_eq!(
            strip_subject_prefix("posta certificata:  y", PecKind::PostaCertificata),
            "y"
        );
        assert_eq!(
            strip_subject_prefix(
                "AVVISO DI MANCATA CONSEGNA PER VIRUS: z",
                PecKind::ErroreConsegna
            ),
            "z"
        );
        assert_eq!(
            strip_subject_prefix("other", PecKind::Accettazione),
            "other"
        );
    }

    #[test]
    fn only_the_prefix_marks_a_virus_notice() {
        assert!(is_virus_subject("AVVISO DI MANCATA CONSEGNA PER VIRUS: x"));
        assert!(is_virus_subject("avviso di non accettazione per virus: x"));
        assert!(!is_virus_subject(
            "AVVISO DI MANCATA CONSEGNA: nota per virus: x"
        ));
    }

    #[test]
    fn subject_fallback_prefers_the_longest_prefix() {
        assert_eq!(
            kind_from_subject("AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: a"),
            Some(PecKind::PreavvisoErroreConsegna)
        );
        assert_eq!(
            kind_from_subject("AVVISO DI MANCATA CONSEGNA: a"),
            Some(PecKind::ErroreConsegna)
        );
        assert_eq!(
            kind_from_subject("CONSEGNA: a"),
            Some(PecKind::AvvenutaConsegna)
        );
        assert_eq!(kind_from_subject("hello"), None);
    }
}
