//! Receipt reconciliation in the store: each receipt tied to the sent message it certifies
//! and to its recipient, per-recipient delivery state on the sent message. The matching
//! logic is the core's (`pecdesk_core::reconcile`), shared with the add-ins.
//!
//! [`process`] records each receipt's facts (`receipt_links`, migration 0010) and attaches
//! it to its sent message — the oldest non-receipt message of the same mailbox whose
//! Message-ID is the receipt's original one (or, without it, the one of the accettazione
//! of the same `identificativo`). A receipt whose sent message is not stored yet waits,
//! grouped by that Message-ID, and is attached when the sent message is processed: in
//! either order the links end the same.
//!
//! The per-recipient delivery state is computed on read ([`view`]) by the core's
//! `reconcile()` from the links, not stored: it is the function the add-ins run, a late
//! or out-of-order receipt needs no stored state to be corrected, and a detail reads one
//! indexed set of links.

use pecdesk_core::PecKind;
use pecdesk_core::reconcile::{self, ReceiptFacts, Reconciliation, SentFacts};
use pecdesk_core::{InspectOptions, Summary};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::audit::Chain;
use crate::store::messages::{self as store_msgs, MessageRow, ReceiptRef};
use crate::store::receipts as store_rc;
use crate::store::{Store, now_ms};

/// Kinds whose facts need the raw message (daticert `errore-esteso`, the virus header):
/// the notices of trouble, all small. Delivery receipts (a completa carries the whole
/// message again) are read from their stored summary.
fn needs_raw(kind: PecKind) -> bool {
    matches!(
        kind,
        PecKind::NonAccettazione
            | PecKind::ErroreConsegna
            | PecKind::PreavvisoErroreConsegna
            | PecKind::RilevazioneVirus
    )
}

/// Reconciles the given stored messages (receipts and sent messages, in any order).
/// Idempotent: running it twice over the same messages changes nothing the second time.
pub async fn process(store: &Store, org_id: &str, message_ids: &[String]) -> Result<()> {
    if message_ids.is_empty() {
        return Ok(());
    }
    let rows = store_rc::load_for_reconcile(store, org_id, message_ids).await?;

    // The facts first, outside the write lock (parsing is the slow part).
    let mut receipts: Vec<(String, ReceiptFacts)> = Vec::new();
    let mut others: Vec<(String, String, bool)> = Vec::new();
    for row in rows {
        let Ok(summary) = serde_json::from_str::<Summary>(&row.summary) else {
            continue;
        };
        if !reconcile::is_receipt(summary.kind) {
            if let Some(mid) = row.internet_message_id {
                // Sent from the mailbox: the client's original (an envelope of a message
                // sent to oneself is `out` too, but it is not what was sent).
                let sent = row.direction == "out" && summary.kind == PecKind::NotPec;
                others.push((row.id, mid, sent));
            }
            continue;
        }
        let facts = if needs_raw(summary.kind) {
            let raw = store_msgs::raw_bytes(store, &row.raw_sha256).await?;
            let id = row.id.clone();
            tokio::task::spawn_blocking(move || {
                let insp = pecdesk_core::inspect(&raw, &InspectOptions::default());
                ReceiptFacts::from_inspection(&id, &insp)
            })
            .await
            .map_err(|e| Error::Internal(e.into()))?
        } else {
            ReceiptFacts::from_summary(&row.id, &summary)
        };
        if let Some(f) = facts {
            receipts.push((row.mailbox_id, f));
        }
    }

    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(org_id)).await?;
    for (mailbox_id, f) in &receipts {
        store_rc::insert_link(&mut tx, org_id, mailbox_id, f, now).await?;
    }
    // Receipts without an original Message-ID borrow their submission's, whichever of
    // them came first.
    let mut idents: Vec<String> = receipts
        .iter()
        .filter_map(|(_, f)| f.identificativo.clone())
        .collect();
    idents.sort();
    idents.dedup();
    let borrowed = store_rc::borrow_keys(&mut tx, org_id, &idents).await?;
    // The groups to attach: this batch's receipts, and the Message-IDs of its messages
    // (a sent message whose receipts came first).
    let mut keys: Vec<String> = receipts
        .iter()
        .filter_map(|(_, f)| f.original_message_id.clone())
        .chain(borrowed)
        .chain(others.iter().map(|(_, mid, _)| mid.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let mut sent = store_rc::attach(&mut tx, org_id, &keys, now).await?;
    // Recipients of every sent message: those that just got receipts and those sent from
    // the mailbox (the Sent folder).
    sent.extend(
        others
            .iter()
            .filter(|(_, _, out)| *out)
            .map(|(id, _, _)| id.clone()),
    );
    sent.sort();
    sent.dedup();
    for id in store_rc::without_sent_facts(&mut tx, &sent).await? {
        let head = store_rc::header_bytes(&mut tx, &id).await?;
        let facts = reconcile::sent_facts(&head);
        store_rc::insert_sent(&mut tx, org_id, &id, &facts, now).await?;
    }
    tx.commit().await?;
    tracing::debug!(
        org.id = %org_id,
        receipts = receipts.len(),
        "receipts reconciled"
    );
    Ok(())
}

/// The sent message a receipt certifies.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Certifies {
    /// The sent message's id.
    pub message_id: String,
    /// The recipient the receipt is about (daticert `consegna`, lower case); `null` for an
    /// accettazione.
    pub recipient: Option<String>,
}

/// What a message's detail shows about receipts.
#[derive(Debug, Clone, Default)]
pub struct ReceiptsView {
    /// Its receipts (linked to it, or of the same submission).
    pub receipts: Vec<ReceiptRef>,
    /// For a sent message: acceptance and per-recipient delivery.
    pub reconciliation: Option<Reconciliation>,
    /// For a receipt: the sent message it certifies.
    pub certifies: Option<Certifies>,
}

/// The receipts of `row`, its delivery when it is a sent message, and what it certifies
/// when it is a receipt.
pub async fn view(store: &Store, row: &MessageRow) -> Result<ReceiptsView> {
    let rows =
        store_rc::receipts_of(store, &row.org_id, &row.id, row.identificativo.as_deref()).await?;
    let mut receipts = Vec::with_capacity(rows.len());
    let mut linked: Vec<ReceiptFacts> = Vec::new();
    for r in &rows {
        let facts = r.facts();
        receipts.push(match &facts {
            Some(f) => ReceiptRef {
                id: r.id.clone(),
                kind: r.kind.clone(),
                recipient: f.recipient.clone(),
                receipt_type: f.receipt_type.clone(),
                error: f.error.clone(),
                error_detail: f.error_detail.clone(),
                virus: f.virus,
                issued_at: f.issued_at.clone(),
            },
            None => ReceiptRef {
                id: r.id.clone(),
                kind: r.kind.clone(),
                ..ReceiptRef::default()
            },
        });
        if r.sent_id.as_deref() == Some(row.id.as_str())
            && let Some(f) = facts
        {
            linked.push(f);
        }
    }
    // Certified time first (the order of events), then import order.
    let time = |r: &ReceiptRef| {
        r.issued_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
    };
    receipts.sort_by_key(|r| time(r).unwrap_or(i64::MAX));

    let recorded = store_rc::sent_facts(store, &row.id).await?;
    let reconciliation = if recorded.is_some() || !linked.is_empty() {
        let sent = recorded.unwrap_or_else(|| SentFacts {
            message_id: row.internet_message_id.clone(),
            ..SentFacts::default()
        });
        Some(reconcile::reconcile(&sent, &linked))
    } else {
        None
    };
    let certifies = if reconcile::RECEIPT_KINDS.contains(&row.kind.as_str()) {
        store_rc::certifies(store, &row.id)
            .await?
            .map(|(message_id, recipient)| Certifies {
                message_id,
                recipient,
            })
    } else {
        None
    };
    Ok(ReceiptsView {
        receipts,
        reconciliation,
        certifies,
    })
}
