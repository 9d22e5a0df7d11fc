//! Receipt reconciliation (`PEC.md`, "Reconciling receipts with what was sent"): which
//! receipts certify which sent message, and what they say about its acceptance and about
//! each recipient's delivery.
//!
//! The companion stores the links and asks [`reconcile`] when it shows a sent message; the
//! add-ins ask the same function (through the wasm facade) for the message on screen.
//!
//! - [`sent_facts`] reads a sent message's Message-ID and its To/Cc recipients from its
//!   headers (a message of the Sent folder is the client's original, usually `not-pec`);
//! - [`ReceiptFacts`] is what one receipt certifies, from its summary and daticert;
//! - [`match_key`] / [`matches`]: a receipt certifies the sent message whose Message-ID is
//!   its `X-Riferimento-Message-ID` (daticert `msgid`); a receipt without it borrows the
//!   one of a receipt of the same submission (same `identificativo`: the accettazione
//!   carries both). A receipt's own Message-ID is never used;
//! - [`reconcile`]: acceptance and per-recipient state. The result depends only on the set
//!   of receipts, never on their order of arrival: the latest receipt by certified time wins,
//!   and a final state (delivered, failed, virus) is never overwritten by a preavviso.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::daticert::strip_angle_brackets;
use crate::pec::{Inspection, PecKind, Recipient, Summary};

/// Whether a kind is a receipt (certifies something about a submission), not a message.
pub fn is_receipt(kind: PecKind) -> bool {
    matches!(
        kind,
        PecKind::Accettazione
            | PecKind::NonAccettazione
            | PecKind::PresaInCarico
            | PecKind::AvvenutaConsegna
            | PecKind::ErroreConsegna
            | PecKind::PreavvisoErroreConsegna
            | PecKind::RilevazioneVirus
    )
}

/// The wire names of the receipt kinds ([`is_receipt`]), for the store's SQL.
pub const RECEIPT_KINDS: [&str; 7] = [
    "accettazione",
    "non-accettazione",
    "presa-in-carico",
    "avvenuta-consegna",
    "errore-consegna",
    "preavviso-errore-consegna",
    "rilevazione-virus",
];

/// A Message-ID as the matching compares it: no angle brackets, no whitespace; `None`
/// when empty. Compared exactly (the left part of a Message-ID is case-sensitive).
pub fn normalize_message_id(raw: &str) -> Option<String> {
    strip_angle_brackets(raw)
}

/// An address as the matching compares it: trimmed, without angle brackets, lower case.
pub fn normalize_address(raw: &str) -> String {
    raw.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase()
}

/// What a sent message says about itself: its Message-ID and its recipients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SentFacts {
    /// Its Internet Message-ID (no angle brackets).
    pub message_id: Option<String>,
    /// `To` addresses, in order.
    pub to: Vec<String>,
    /// `Cc` addresses, in order (they get a sintetica delivery receipt).
    pub cc: Vec<String>,
}

/// The address in a message's `From` header (headers only; `None` when unreadable): tells a
/// message the mailbox sent, imported without its folder, from one it received.
pub fn from_address(raw: &[u8]) -> Option<String> {
    let message = mail_parser::MessageParser::new().parse_headers(header_block(raw))?;
    message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address.as_deref())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Reads a sent message's Message-ID, To and Cc from its headers (the body is not parsed,
/// so a 100 MB message costs its header block only). Never panics; unreadable headers give
/// empty facts.
pub fn sent_facts(raw: &[u8]) -> SentFacts {
    let head = header_block(raw);
    let Some(message) = mail_parser::MessageParser::new().parse_headers(head) else {
        return SentFacts::default();
    };
    let addresses = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|addr| addr.address.as_deref())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
    };
    SentFacts {
        message_id: message.message_id().and_then(normalize_message_id),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
    }
}

/// The header block of a raw message, up to and including the empty line.
fn header_block(raw: &[u8]) -> &[u8] {
    let crlf = memchr::memmem::find(raw, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(raw, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => &raw[..a.min(b)],
        (Some(a), None) | (None, Some(a)) => &raw[..a],
        (None, None) => raw,
    }
}

crate::from_json_struct!(SentFacts, "struct SentFacts", SentFacts::default(), {
    message_id: "message_id" = false,
    to: "to" = false,
    cc: "cc" = false,
});

/// What one receipt certifies. Field names follow the summary of `PEC.md`, so a summary
/// (`inspect`) with an `id` added reads as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptFacts {
    /// The receipt's id where it is stored (opaque here; the tie-breaker of equal times).
    #[serde(default)]
    pub id: String,
    /// Its kind.
    pub kind: PecKind,
    /// daticert `identificativo`: the same in every receipt of one submission.
    #[serde(default)]
    pub identificativo: Option<String>,
    /// The sent message's Message-ID (`X-Riferimento-Message-ID`, else daticert `msgid`).
    #[serde(default)]
    pub original_message_id: Option<String>,
    /// daticert `consegna`: the recipient a delivery notice is about.
    #[serde(default)]
    pub recipient: Option<String>,
    /// daticert `destinatari` (an accettazione lists every recipient).
    #[serde(default)]
    pub recipients: Vec<Recipient>,
    /// `completa` / `breve` / `sintetica` of a delivery receipt.
    #[serde(default)]
    pub receipt_type: Option<String>,
    /// daticert `errore` (`nessuno`, `no-dest`, `no-dominio`, `virus`, `altro`).
    #[serde(default)]
    pub error: Option<String>,
    /// daticert `errore-esteso`: the provider's words about the error.
    #[serde(default)]
    pub error_detail: Option<String>,
    /// A virus notice (`X-VerificaSicurezza: errore`, `errore="virus"`, rilevazione-virus).
    #[serde(default)]
    pub virus: bool,
    /// daticert `data`, ISO 8601 with offset: the certified time.
    #[serde(default)]
    pub issued_at: Option<String>,
}

crate::from_json_struct!(ReceiptFacts, "struct ReceiptFacts", ReceiptFacts {
    id: String::new(),
    kind: PecKind::NotPec,
    identificativo: None,
    original_message_id: None,
    recipient: None,
    recipients: Vec::new(),
    receipt_type: None,
    error: None,
    error_detail: None,
    virus: false,
    issued_at: None,
}, {
    id: "id" = false,
    kind: "kind" = true,
    identificativo: "identificativo" = false,
    original_message_id: "original_message_id" = false,
    recipient: "recipient" = false,
    recipients: "recipients" = false,
    receipt_type: "receipt_type" = false,
    error: "error" = false,
    error_detail: "error_detail" = false,
    virus: "virus" = false,
    issued_at: "issued_at" = false,
});

impl ReceiptFacts {
    /// The facts of a receipt from its summary alone (no `errore-esteso`; `virus` only from
    /// `errore`); `None` when the summary is not a receipt's.
    pub fn from_summary(id: &str, s: &Summary) -> Option<Self> {
        if !is_receipt(s.kind) {
            return None;
        }
        Some(Self {
            id: id.to_owned(),
            kind: s.kind,
            identificativo: s.identificativo.clone(),
            original_message_id: s
                .original_message_id
                .as_deref()
                .and_then(normalize_message_id),
            recipient: s.recipient.clone(),
            recipients: s.recipients.clone(),
            receipt_type: s.receipt_type.clone(),
            error: s.error.clone(),
            error_detail: None,
            virus: s.kind == PecKind::RilevazioneVirus || s.error.as_deref() == Some("virus"),
            issued_at: s.issued_at.clone(),
        })
    }

    /// The facts of a receipt from a full inspection: the summary's, plus daticert
    /// `errore-esteso` and the classification's virus flag.
    pub fn from_inspection(id: &str, i: &Inspection) -> Option<Self> {
        let mut f = Self::from_summary(id, &i.summary)?;
        f.virus |= i.virus;
        f.error_detail = i
            .daticert
            .as_ref()
            .and_then(|d| d.errore_esteso.as_deref())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Some(f)
    }

    /// The certified time in ms since the epoch (`None`: missing or unreadable).
    pub fn issued_ms(&self) -> Option<i64> {
        self.issued_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
    }

    /// The order "later wins" uses: certified time (unknown first), then how final the
    /// kind is, then the id, so that equal times still give one answer in any order.
    fn order_key(&self) -> (Option<i64>, u8, &str) {
        let rank = match self.kind {
            PecKind::PreavvisoErroreConsegna => 0,
            PecKind::AvvenutaConsegna | PecKind::Accettazione => 1,
            PecKind::ErroreConsegna | PecKind::NonAccettazione => 2,
            PecKind::RilevazioneVirus => 3,
            _ => 0,
        };
        (self.issued_ms(), rank, self.id.as_str())
    }
}

fn later(a: &ReceiptFacts, b: &ReceiptFacts) -> Ordering {
    a.order_key().cmp(&b.order_key())
}

/// The Message-ID of the sent message `receipt` certifies: its own
/// `original_message_id`, else that of a receipt of the same submission (same
/// `identificativo`) among `siblings` — an accettazione's first, then the smallest, so the
/// answer does not depend on the order of `siblings`. `None` when nothing tells.
pub fn match_key(receipt: &ReceiptFacts, siblings: &[ReceiptFacts]) -> Option<String> {
    if let Some(own) = receipt
        .original_message_id
        .as_deref()
        .and_then(normalize_message_id)
    {
        return Some(own);
    }
    let ident = receipt.identificativo.as_deref()?;
    siblings
        .iter()
        .filter(|s| s.identificativo.as_deref() == Some(ident))
        .filter_map(|s| {
            let key = s
                .original_message_id
                .as_deref()
                .and_then(normalize_message_id)?;
            Some((s.kind != PecKind::Accettazione, key))
        })
        .min()
        .map(|(_, key)| key)
}

/// Whether `receipt` certifies `sent` ([`match_key`] equals the sent Message-ID).
pub fn matches(receipt: &ReceiptFacts, sent: &SentFacts, siblings: &[ReceiptFacts]) -> bool {
    let Some(sent_id) = sent.message_id.as_deref().and_then(normalize_message_id) else {
        return false;
    };
    match_key(receipt, siblings).as_deref() == Some(sent_id.as_str())
}

/// A recipient's delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryState {
    /// Nothing yet about this recipient (accepted, or acceptance not seen yet).
    Pending,
    /// An avvenuta-consegna.
    Delivered,
    /// An errore-consegna (mancata consegna), or the message was not accepted.
    Failed,
    /// A preavviso-errore-consegna and nothing final yet.
    Warned,
    /// A virus notice (rilevazione-virus, errore-consegna or non-accettazione per virus).
    Virus,
}

/// Which header named the recipient in the sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// `To`.
    To,
    /// `Cc`.
    Cc,
}

/// One recipient's delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The address (as the sent message writes it; lower case when only receipts name it).
    pub recipient: String,
    /// `to` or `cc`; `null` when only the receipts name this recipient.
    pub field: Option<Field>,
    /// The state.
    pub state: DeliveryState,
    /// For `delivered`: `completa`, `breve` or `sintetica`.
    pub receipt_type: Option<String>,
    /// daticert `errore` of the deciding receipt (failed, warned, virus).
    pub error: Option<String>,
    /// Words about a failure or warning: the provider's `errore-esteso`, else the error's
    /// meaning ("italiano / English").
    pub reason: Option<String>,
    /// The receipt that decided the state (`null` while pending).
    pub receipt_id: Option<String>,
    /// Its certified time.
    pub at: Option<String>,
}

/// Acceptance of the submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    /// An accettazione (true) or a non-accettazione (false).
    pub accepted: bool,
    /// The deciding receipt.
    pub receipt_id: String,
    /// Its certified time.
    pub at: Option<String>,
    /// daticert `errore` of a non-accettazione.
    pub error: Option<String>,
    /// Why it was not accepted (`null` when accepted).
    pub reason: Option<String>,
}

/// What a sent message's receipts say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// `true` accepted, `false` not accepted, `null` no (non-)accettazione seen yet.
    pub accepted: Option<bool>,
    /// The (non-)accettazione deciding `accepted`.
    pub acceptance: Option<Acceptance>,
    /// One entry per recipient: To then Cc in the sent message's order, then recipients
    /// only the receipts name (sorted).
    pub delivery: Vec<Delivery>,
}

/// Words for a daticert `errore` code without `errore-esteso`.
fn error_words(kind: PecKind, error: Option<&str>, virus: bool) -> String {
    if virus {
        return "virus rilevato / virus detected".into();
    }
    match (kind, error) {
        (_, Some("no-dest")) => "destinatario inesistente / no such recipient".into(),
        (_, Some("no-dominio")) => "dominio inesistente / no such domain".into(),
        (PecKind::PreavvisoErroreConsegna, _) => {
            "consegna non ancora avvenuta (preavviso) / not delivered yet (warning)".into()
        }
        (PecKind::NonAccettazione, _) => "messaggio non accettato / message not accepted".into(),
        _ => "mancata consegna / not delivered".into(),
    }
}

fn reason_of(r: &ReceiptFacts) -> String {
    r.error_detail
        .clone()
        .unwrap_or_else(|| error_words(r.kind, r.error.as_deref(), r.virus))
}

/// Acceptance and per-recipient delivery of `sent` from `receipts`, which are the receipts
/// already matched to it ([`matches`], or the store's links). Receipts of kinds that say
/// nothing here (presa-in-carico) and delivery notices without `consegna` are ignored.
/// The result is the same for any order of `receipts`.
pub fn reconcile(sent: &SentFacts, receipts: &[ReceiptFacts]) -> Reconciliation {
    // Acceptance: the latest (non-)accettazione.
    let acceptance = receipts
        .iter()
        .filter(|r| matches!(r.kind, PecKind::Accettazione | PecKind::NonAccettazione))
        .max_by(|a, b| later(a, b));
    let accepted = acceptance.map(|a| a.kind == PecKind::Accettazione);
    let acceptance = acceptance.map(|a| Acceptance {
        accepted: a.kind == PecKind::Accettazione,
        receipt_id: a.id.clone(),
        at: a.issued_at.clone(),
        error: (a.kind == PecKind::NonAccettazione)
            .then(|| a.error.clone())
            .flatten(),
        reason: (a.kind == PecKind::NonAccettazione).then(|| reason_of(a)),
    });

    // Recipients: the sent message's To and Cc, then those only the receipts name.
    type Entry = (String, String, Option<Field>);
    fn push(addr: &str, field: Option<Field>, order: &mut Vec<Entry>) {
        let key = normalize_address(addr);
        if key.is_empty() || order.iter().any(|(k, _, _)| *k == key) {
            return;
        }
        order.push((key, addr.trim().to_owned(), field));
    }
    let mut order: Vec<Entry> = Vec::new();
    for a in &sent.to {
        push(a, Some(Field::To), &mut order);
    }
    for a in &sent.cc {
        push(a, Some(Field::Cc), &mut order);
    }
    let mut extra: Vec<String> = receipts
        .iter()
        .flat_map(|r| {
            let named = r.recipient.iter().map(String::as_str);
            let listed: Box<dyn Iterator<Item = &str>> = if r.kind == PecKind::Accettazione {
                Box::new(r.recipients.iter().map(|d| d.address.as_str()))
            } else {
                Box::new(std::iter::empty())
            };
            named.chain(listed).map(normalize_address)
        })
        .filter(|k| !k.is_empty())
        .collect();
    extra.sort();
    extra.dedup();
    for k in extra {
        push(&k, None, &mut order);
    }

    // Per recipient: the latest final receipt, else the latest preavviso.
    let mut by_recipient: BTreeMap<String, (Option<&ReceiptFacts>, Option<&ReceiptFacts>)> =
        BTreeMap::new();
    for r in receipts {
        let is_final = match r.kind {
            PecKind::AvvenutaConsegna | PecKind::ErroreConsegna | PecKind::RilevazioneVirus => true,
            PecKind::PreavvisoErroreConsegna => false,
            _ => continue,
        };
        let Some(who) = r.recipient.as_deref().map(normalize_address) else {
            continue;
        };
        let slot = by_recipient.entry(who).or_default();
        let best = if is_final { &mut slot.0 } else { &mut slot.1 };
        if best.is_none_or(|b| later(r, b) == Ordering::Greater) {
            *best = Some(r);
        }
    }
    let not_accepted = receipts
        .iter()
        .filter(|r| r.kind == PecKind::NonAccettazione)
        .max_by(|a, b| later(a, b))
        .filter(|_| accepted == Some(false));

    let delivery = order
        .into_iter()
        .map(|(key, address, field)| {
            let (fin, warn) = by_recipient.get(&key).copied().unwrap_or((None, None));
            let decided = fin.or(warn).or(not_accepted);
            let state = match decided {
                None => DeliveryState::Pending,
                Some(r) => match r.kind {
                    _ if r.virus => DeliveryState::Virus,
                    PecKind::AvvenutaConsegna => DeliveryState::Delivered,
                    PecKind::PreavvisoErroreConsegna => DeliveryState::Warned,
                    _ => DeliveryState::Failed,
                },
            };
            let failing = !matches!(state, DeliveryState::Pending | DeliveryState::Delivered);
            Delivery {
                recipient: address,
                field,
                state,
                receipt_type: decided
                    .filter(|_| state == DeliveryState::Delivered)
                    .and_then(|r| r.receipt_type.clone()),
                error: decided
                    .filter(|_| failing)
                    .and_then(|r| r.error.clone())
                    .filter(|e| e != "nessuno"),
                reason: decided.filter(|_| failing).map(reason_of),
                receipt_id: decided.map(|r| r.id.clone()),
                at: decided.and_then(|r| r.issued_at.clone()),
            }
        })
        .collect();
    Reconciliation {
        accepted,
        acceptance,
        delivery,
    }
}

/// [`reconcile`] over the receipts among `candidates` that certify `sent` ([`matches`],
/// the fallback to `identificativo` looking among `candidates`): what the add-ins call with
/// every receipt they hold.
pub fn reconcile_matching(sent: &SentFacts, candidates: &[ReceiptFacts]) -> Reconciliation {
    let mine: Vec<ReceiptFacts> = candidates
        .iter()
        .filter(|r| matches(r, sent, candidates))
        .cloned()
        .collect();
    reconcile(sent, &mine)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MSGID: &str = "20261116111958.client-3@demo.test";
    const IDENT: &str = "opec21.20261116112000.1234.1.1.1@pec.prova-gestore.test";

    fn sent() -> SentFacts {
        SentFacts {
            message_id: Some(MSGID.into()),
            to: vec!["Uno@pec.uno.test".into(), "due@pec.due.test".into()],
            cc: vec!["tre@pec.tre.test".into()],
        }
    }

    fn r(id: &str, kind: PecKind, to: Option<&str>, at: &str) -> ReceiptFacts {
        ReceiptFacts {
            id: id.into(),
            kind,
            identificativo: Some(IDENT.into()),
            original_message_id: Some(MSGID.into()),
            recipient: to.map(str::to_owned),
            recipients: Vec::new(),
            receipt_type: match kind {
                PecKind::AvvenutaConsegna => Some("completa".into()),
                _ => None,
            },
            error: Some(match kind {
                PecKind::ErroreConsegna => "no-dest".into(),
                PecKind::PreavvisoErroreConsegna => "altro".into(),
                _ => "nessuno".into(),
            }),
            error_detail: None,
            virus: kind == PecKind::RilevazioneVirus,
            issued_at: Some(at.into()),
        }
    }

    /// The story of the companion's test: accettazione, two consegne (To, Cc sintetica),
    /// a preavviso then an errore-consegna for the second To.
    fn story() -> Vec<ReceiptFacts> {
        let mut cc = r(
            "r3",
            PecKind::AvvenutaConsegna,
            Some("tre@pec.tre.test"),
            "2026-11-16T11:20:09+01:00",
        );
        cc.receipt_type = Some("sintetica".into());
        let mut err = r(
            "r5",
            PecKind::ErroreConsegna,
            Some("due@pec.due.test"),
            "2026-11-17T11:20:00+01:00",
        );
        err.error_detail = Some("5.1.1 - casella inesistente".into());
        vec![
            r(
                "r1",
                PecKind::Accettazione,
                None,
                "2026-11-16T11:20:00+01:00",
            ),
            r(
                "r2",
                PecKind::AvvenutaConsegna,
                Some("uno@pec.uno.test"),
                "2026-11-16T11:20:05+01:00",
            ),
            cc,
            r(
                "r4",
                PecKind::PreavvisoErroreConsegna,
                Some("due@pec.due.test"),
                "2026-11-16T23:20:00+01:00",
            ),
            err,
        ]
    }

    fn states(rec: &Reconciliation) -> Vec<(String, DeliveryState, Option<String>)> {
        rec.delivery
            .iter()
            .map(|d| (d.recipient.clone(), d.state, d.receipt_id.clone()))
            .collect()
    }

    #[test]
    fn the_story_ends_delivered_delivered_failed_with_the_providers_words() {
        let rec = reconcile(&sent(), &story());
        assert_eq!(rec.accepted, Some(true));
        assert_eq!(rec.acceptance.as_ref().unwrap().receipt_id, "r1");
        assert_eq!(
            states(&rec),
            vec![
                (
                    "Uno@pec.uno.test".into(),
                    DeliveryState::Delivered,
                    Some("r2".into())
                ),
                (
                    "due@pec.due.test".into(),
                    DeliveryState::Failed,
                    Some("r5".into())
                ),
                (
                    "tre@pec.tre.test".into(),
                    DeliveryState::Delivered,
                    Some("r3".into())
                ),
            ]
        );
        assert_eq!(rec.delivery[0].field, Some(Field::To));
        assert_eq!(rec.delivery[2].field, Some(Field::Cc));
        assert_eq!(rec.delivery[2].receipt_type.as_deref(), Some("sintetica"));
        assert_eq!(
            rec.delivery[1].reason.as_deref(),
            Some("5.1.1 - casella inesistente")
        );
        assert_eq!(rec.delivery[1].error.as_deref(), Some("no-dest"));
        assert_eq!(rec.delivery[0].reason, None);
    }

    #[test]
    fn nothing_yet_is_pending_and_acceptance_unknown() {
        let rec = reconcile(&sent(), &[]);
        assert_eq!(rec.accepted, None);
        assert!(
            rec.delivery
                .iter()
                .all(|d| d.state == DeliveryState::Pending)
        );
        assert_eq!(rec.delivery.len(), 3);
    }

    #[test]
    fn a_preavviso_never_overwrites_a_delivery_even_when_certified_later() {
        let rs = vec![
            r(
                "a",
                PecKind::AvvenutaConsegna,
                Some("due@pec.due.test"),
                "2026-11-16T11:20:05+01:00",
            ),
            r(
                "b",
                PecKind::PreavvisoErroreConsegna,
                Some("due@pec.due.test"),
                "2026-11-16T23:20:05+01:00",
            ),
        ];
        let rec = reconcile(&sent(), &rs);
        assert_eq!(rec.delivery[1].state, DeliveryState::Delivered);
        // Alone, the preavviso warns, with words.
        let rec = reconcile(&sent(), &rs[1..]);
        assert_eq!(rec.delivery[1].state, DeliveryState::Warned);
        assert!(
            rec.delivery[1]
                .reason
                .as_deref()
                .unwrap()
                .contains("preavviso")
        );
    }

    #[test]
    fn a_later_failure_wins_over_an_earlier_delivery_by_certified_time_not_by_position() {
        // Written in different offsets: 10:00Z is later than 10:30+01:00 (09:30Z).
        let rs = vec![
            r(
                "late",
                PecKind::ErroreConsegna,
                Some("uno@pec.uno.test"),
                "2026-11-16T10:00:00+00:00",
            ),
            r(
                "early",
                PecKind::AvvenutaConsegna,
                Some("uno@pec.uno.test"),
                "2026-11-16T10:30:00+01:00",
            ),
        ];
        let rec = reconcile(&sent(), &rs);
        assert_eq!(rec.delivery[0].state, DeliveryState::Failed);
        assert_eq!(rec.delivery[0].receipt_id.as_deref(), Some("late"));
    }

    #[test]
    fn virus_notices_and_non_acceptance() {
        let mut v = r(
            "v",
            PecKind::ErroreConsegna,
            Some("tre@pec.tre.test"),
            "2026-11-16T11:21:00+01:00",
        );
        v.virus = true;
        v.error = Some("virus".into());
        let rec = reconcile(&sent(), &[v]);
        assert_eq!(rec.delivery[2].state, DeliveryState::Virus);
        assert_eq!(rec.delivery[2].error.as_deref(), Some("virus"));

        let rv = r(
            "rv",
            PecKind::RilevazioneVirus,
            Some("uno@pec.uno.test"),
            "2026-11-16T11:21:00+01:00",
        );
        assert_eq!(
            reconcile(&sent(), &[rv]).delivery[0].state,
            DeliveryState::Virus
        );

        let mut na = r(
            "na",
            PecKind::NonAccettazione,
            None,
            "2026-11-16T11:20:00+01:00",
        );
        na.error = Some("altro".into());
        na.error_detail = Some("destinatari oltre il limite".into());
        let rec = reconcile(&sent(), &[na]);
        assert_eq!(rec.accepted, Some(false));
        let acc = rec.acceptance.unwrap();
        assert!(!acc.accepted);
        assert_eq!(acc.reason.as_deref(), Some("destinatari oltre il limite"));
        assert!(
            rec.delivery
                .iter()
                .all(|d| d.state == DeliveryState::Failed && d.receipt_id.as_deref() == Some("na"))
        );
    }

    #[test]
    fn recipients_only_the_receipts_name_are_listed_after_to_and_cc() {
        let mut acc = r(
            "a",
            PecKind::Accettazione,
            None,
            "2026-11-16T11:20:00+01:00",
        );
        acc.recipients = vec![
            Recipient {
                address: "UNO@pec.uno.test".into(),
                kind: "certificato".into(),
            },
            Recipient {
                address: "zeta@pec.zeta.test".into(),
                kind: "certificato".into(),
            },
        ];
        let d = r(
            "d",
            PecKind::AvvenutaConsegna,
            Some("alfa@pec.alfa.test"),
            "2026-11-16T11:20:05+01:00",
        );
        let rec = reconcile(&sent(), &[acc, d]);
        let names: Vec<&str> = rec.delivery.iter().map(|d| d.recipient.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "Uno@pec.uno.test",
                "due@pec.due.test",
                "tre@pec.tre.test",
                "alfa@pec.alfa.test",
                "zeta@pec.zeta.test"
            ]
        );
        assert_eq!(rec.delivery[3].field, None);
        assert_eq!(rec.delivery[3].state, DeliveryState::Delivered);
    }

    #[test]
    fn matching_uses_the_original_message_id_then_the_accettazione_identificativo() {
        let acc = r(
            "a",
            PecKind::Accettazione,
            None,
            "2026-11-16T11:20:00+01:00",
        );
        let mut bare = r(
            "b",
            PecKind::AvvenutaConsegna,
            Some("uno@pec.uno.test"),
            "2026-11-16T11:20:05+01:00",
        );
        bare.original_message_id = None;
        assert!(matches(&acc, &sent(), &[]));
        assert!(
            !matches(&bare, &sent(), &[]),
            "nothing tells without the acceptance"
        );
        assert!(matches(&bare, &sent(), &[acc.clone(), bare.clone()]));
        // Angle brackets and whitespace do not matter; case does (Message-ID left part).
        let with_brackets = SentFacts {
            message_id: Some(format!("<{MSGID}> ")),
            ..sent()
        };
        assert!(matches(&acc, &with_brackets, &[]));
        let other_case = SentFacts {
            message_id: Some(MSGID.to_uppercase()),
            ..sent()
        };
        assert!(!matches(&acc, &other_case, &[]));
        // Another submission's acceptance lends nothing.
        let mut foreign = acc.clone();
        foreign.identificativo = Some("altro@pec.prova-gestore.test".into());
        assert!(!matches(&bare, &sent(), &[foreign]));
        // A sent message without Message-ID matches nothing.
        assert!(!matches(&acc, &SentFacts::default(), &[]));
        // reconcile_matching drops receipts of other messages.
        let mut stranger = acc.clone();
        stranger.id = "s".into();
        stranger.original_message_id = Some("altro@client.test".into());
        stranger.identificativo = Some("altro-ident".into());
        let rec = reconcile_matching(&sent(), &[stranger, bare]);
        assert_eq!(rec.accepted, None);
        assert_eq!(rec.delivery[0].state, DeliveryState::Pending);
    }

    #[test]
    fn sent_facts_reads_message_id_to_and_cc_from_the_headers_only() {
        let raw = b"From: Mario <protocollo@pec.demo.test>\r\n\
            To: \"Uno\" <uno@pec.uno.test>, due@pec.due.test\r\n\
            Cc: <tre@pec.tre.test>\r\n\
            Subject: prova\r\n\
            Message-ID: <20261116111958.client-3@demo.test>\r\n\r\n\
            To: nascosto@body.test\r\n";
        let f = sent_facts(raw);
        assert_eq!(f.message_id.as_deref(), Some(MSGID));
        assert_eq!(f.to, vec!["uno@pec.uno.test", "due@pec.due.test"]);
        assert_eq!(f.cc, vec!["tre@pec.tre.test"]);
        assert_eq!(sent_facts(b""), SentFacts::default());
        assert_eq!(sent_facts(b"\xff\xfe garbage").message_id, None);
    }

    #[test]
    fn a_summary_with_an_id_reads_as_receipt_facts() {
        let json = r#"{"id": "x", "kind": "avvenuta-consegna", "receipt_type": "sintetica",
            "error": "nessuno", "identificativo": "i", "original_message_id": "m",
            "sender": "a@b", "recipients": [{"address": "c@d", "type": "certificato"}],
            "subject": "s", "provider": "p", "issued_at": "2026-11-16T11:20:05+01:00",
            "recipient": "c@d", "has_original": false, "has_daticert": true}"#;
        let f: ReceiptFacts = serde_json::from_str(json).unwrap();
        assert_eq!(f.kind, PecKind::AvvenutaConsegna);
        assert_eq!(f.recipient.as_deref(), Some("c@d"));
        let utc = chrono::DateTime::parse_from_rfc3339("2026-11-16T10:20:05Z").unwrap();
        assert_eq!(f.issued_ms(), Some(utc.timestamp_millis()));
    }

    proptest! {
        /// Any order of arrival gives the same reconciliation.
        #[test]
        fn any_order_of_arrival_gives_the_same_result(
            order in Just((0..5usize).collect::<Vec<_>>()).prop_shuffle(),
            drop_msgid in proptest::collection::vec(any::<bool>(), 5),
        ) {
            let mut all = story();
            // Receipts other than the accettazione may lack the msgid: they borrow it.
            for (i, d) in drop_msgid.iter().enumerate() {
                if i > 0 && *d {
                    all[i].original_message_id = None;
                }
            }
            let expected = reconcile_matching(&sent(), &all);
            let shuffled: Vec<ReceiptFacts> = order.iter().map(|&i| all[i].clone()).collect();
            let got = reconcile_matching(&sent(), &shuffled);
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(
                got.delivery.iter().map(|d| d.state).collect::<Vec<_>>(),
                vec![DeliveryState::Delivered, DeliveryState::Failed, DeliveryState::Delivered]
            );
        }

        /// Whatever the receipts, reconciling never panics and keeps one entry per recipient.
        #[test]
        fn arbitrary_receipts_keep_one_entry_per_sent_recipient(
            kinds in proptest::collection::vec(0..7usize, 0..12),
            who in proptest::collection::vec(0..4usize, 12),
            minutes in proptest::collection::vec(0..100_000i64, 12),
        ) {
            let names = ["uno@pec.uno.test", "DUE@pec.due.test", "tre@pec.tre.test", "x@y.test"];
            let rs: Vec<ReceiptFacts> = kinds.iter().enumerate().map(|(i, k)| {
                let kind = [PecKind::Accettazione, PecKind::NonAccettazione, PecKind::PresaInCarico,
                    PecKind::AvvenutaConsegna, PecKind::ErroreConsegna,
                    PecKind::PreavvisoErroreConsegna, PecKind::RilevazioneVirus][*k];
                let at = chrono::DateTime::from_timestamp(1_763_000_000 + minutes[i] * 60, 0)
                    .unwrap().to_rfc3339();
                r(&format!("r{i}"), kind, Some(names[who[i]]), &at)
            }).collect();
            let rec = reconcile(&sent(), &rs);
            prop_assert!(rec.delivery.len() >= 3);
            let mut rev = rs.clone();
            rev.reverse();
            prop_assert_eq!(reconcile(&sent(), &rev), rec);
        }
    }
}
