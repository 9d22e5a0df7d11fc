//! What an activity sent: each outbox row with its state, and per recipient what the
//! provider's receipts say (the message detail's reconciliation, read from the stored sent
//! copy), flagged when a recipient failed or is still unconfirmed a day after sending.
//! "Now" is a parameter.

use pecdesk_core::reconcile::{DeliveryState, Reconciliation};
use serde::Serialize;

use crate::domain::reconcile;
use crate::error::Result;
use crate::store::outbox::{self as store_outbox, OutboxView};
use crate::store::{Store, messages as store_msgs, ms_to_rfc3339};

/// A recipient unconfirmed this long after sending is flagged (24 h).
pub const UNCONFIRMED_AFTER_MS: i64 = 24 * 3600 * 1000;

/// One recipient of a sent message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecipientStatus {
    pub address: String,
    /// `queued` (not sent yet), `sent` (submitted, no acceptance seen), `accepted`,
    /// `delivered`, `warned` (preavviso: not delivered yet), `failed`.
    pub state: String,
    /// Why it failed or was warned (the provider's words), when it did.
    pub reason: Option<String>,
    /// `completa`, `breve` or `sintetica` for a delivery.
    pub receipt_type: Option<String>,
    /// The certified time of the receipt that decided the state.
    pub at: Option<String>,
    /// That receipt (a message id).
    pub receipt_id: Option<String>,
}

/// One message the activity sent (or is sending).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutgoingView {
    /// The outbox row.
    pub id: String,
    /// Our Message-ID (no angle brackets).
    pub message_id: String,
    /// The draft version it carries.
    pub draft_version: Option<i64>,
    /// `queued`, `held`, `sending`, `sent`, `failed`, `cancelled`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Why the last attempt failed, in words to act on.
    pub error: Option<String>,
    /// When the provider took it.
    pub sent_at: Option<String>,
    /// The stored sent copy (a message id), once stored.
    pub stored_message_id: Option<String>,
    /// The provider's acceptance: `true` accettazione, `false` non-accettazione, `null` not
    /// seen yet.
    pub accepted: Option<bool>,
    /// Per recipient, To then Cc.
    pub recipients: Vec<RecipientStatus>,
    /// A recipient failed, or is unconfirmed 24 h after sending, or the send failed.
    pub flagged: bool,
    /// Why it is flagged (Italian / English).
    pub flag_reason: Option<String>,
}

fn recipient(address: &str, state: &str) -> RecipientStatus {
    RecipientStatus {
        address: address.to_owned(),
        state: state.to_owned(),
        reason: None,
        receipt_type: None,
        at: None,
        receipt_id: None,
    }
}

/// Per-recipient states of a sent row from its reconciliation.
fn from_reconciliation(addresses: &[String], rec: &Reconciliation) -> Vec<RecipientStatus> {
    if rec.accepted == Some(false) {
        let reason = rec.acceptance.as_ref().and_then(|a| a.reason.clone());
        return addresses
            .iter()
            .map(|a| RecipientStatus {
                reason: reason.clone(),
                ..recipient(a, "failed")
            })
            .collect();
    }
    let accepted = rec.accepted == Some(true);
    let mut out: Vec<RecipientStatus> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for d in &rec.delivery {
        let key = pecdesk_core::reconcile::normalize_address(&d.recipient);
        seen.push(key);
        let state = match d.state {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed | DeliveryState::Virus => "failed",
            DeliveryState::Warned => "warned",
            DeliveryState::Pending if accepted => "accepted",
            DeliveryState::Pending => "sent",
        };
        out.push(RecipientStatus {
            address: d.recipient.clone(),
            state: state.to_owned(),
            reason: d.reason.clone(),
            receipt_type: d.receipt_type.clone(),
            at: d.at.clone(),
            receipt_id: d.receipt_id.clone(),
        });
    }
    for a in addresses {
        if !seen.contains(&pecdesk_core::reconcile::normalize_address(a)) {
            out.push(recipient(a, if accepted { "accepted" } else { "sent" }));
        }
    }
    out
}

/// The view of one outbox row at `now` (ms).
pub async fn view_of(
    store: &Store,
    org_id: &str,
    row: OutboxView,
    now: i64,
) -> Result<OutgoingView> {
    let addresses: Vec<String> = serde_json::from_str(&row.recipients).unwrap_or_default();
    let mut accepted = None;
    let recipients = match (row.state.as_str(), &row.stored_message_id) {
        ("sent", Some(mid)) => match store_msgs::get(store, org_id, mid).await? {
            Some(m) => {
                let v = reconcile::view(store, &m).await?;
                match v.reconciliation {
                    Some(rec) => {
                        accepted = rec.accepted;
                        from_reconciliation(&addresses, &rec)
                    }
                    None => addresses.iter().map(|a| recipient(a, "sent")).collect(),
                }
            }
            None => addresses.iter().map(|a| recipient(a, "sent")).collect(),
        },
        ("sent", None) => addresses.iter().map(|a| recipient(a, "sent")).collect(),
        ("failed", _) => addresses
            .iter()
            .map(|a| RecipientStatus {
                reason: row.last_error.clone(),
                ..recipient(a, "failed")
            })
            .collect(),
        _ => addresses.iter().map(|a| recipient(a, "queued")).collect(),
    };
    let failed = recipients.iter().filter(|r| r.state == "failed").count();
    let unconfirmed = recipients
        .iter()
        .filter(|r| r.state != "delivered" && r.state != "failed")
        .count();
    let late = row.sent_at.is_some_and(|t| now - t >= UNCONFIRMED_AFTER_MS);
    let flag_reason = if row.state == "failed" {
        Some("invio non riuscito: vedi l'errore / the send failed: see the error".to_owned())
    } else if failed > 0 {
        Some(format!(
            "consegna non riuscita per {failed} destinatari / delivery failed for {failed} \
             recipient(s)"
        ))
    } else if late && unconfirmed > 0 {
        Some(format!(
            "{unconfirmed} destinatari senza conferma di consegna dopo 24 ore / {unconfirmed} \
             recipient(s) without a delivery receipt after 24 hours"
        ))
    } else {
        None
    };
    Ok(OutgoingView {
        id: row.id,
        message_id: row.message_id,
        draft_version: row.draft_version,
        state: row.state,
        attempts: row.attempts,
        error: row.last_error,
        sent_at: row.sent_at.map(ms_to_rfc3339),
        stored_message_id: row.stored_message_id,
        accepted,
        recipients,
        flagged: flag_reason.is_some(),
        flag_reason,
    })
}

/// Everything an activity sent, oldest first, at `now` (ms). The caller has checked that
/// the activity is readable (and scoped it by organisation).
pub async fn of_activity(store: &Store, activity_id: &str, now: i64) -> Result<Vec<OutgoingView>> {
    let rows = store_outbox::of_activity(store, activity_id).await?;
    let org = crate::store::activities::org_of(store, activity_id).await?;
    let Some(org) = org else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(view_of(store, &org, r, now).await?);
    }
    Ok(out)
}
