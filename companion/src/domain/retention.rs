//! Retention per mailbox and the audited purge (issue 16, item 4; DESIGN.md: "purge is an
//! admin action that respects retention and leaves an audit record").
//!
//! A purge takes only messages that are in the trash, received before the given time,
//! outside their mailbox's retention (`received_at + retention < now`; a mailbox without
//! retention keeps everything) and not linked to an open activity. It leaves a tombstone:
//! the row stays with its id, hashes, kind, dates and identificativo, marked purged; the raw
//! bytes are cleared when no message still holding them remains. One `mailbox.purge` audit
//! entry names the count, the hashes and the reason. A dry run does all of it inside a
//! transaction that is rolled back, so its answer is exactly what the purge would do.

use serde::{Deserialize, Serialize};

use crate::domain::admin::Actor;
use crate::error::{Error, Result};
use crate::store::audit::{Action, Chain, Entry};
use crate::store::retention as db;
use crate::store::{Store, ms_to_rfc3339, now_ms};

/// One day in milliseconds.
const DAY_MS: i64 = 86_400_000;
/// Longest retention: 100 years.
pub const MAX_DAYS: i64 = 36_500;
/// Messages one purge considers; run it again for the rest (`more` says so).
pub const BATCH: i64 = 1_000;

/// A mailbox's retention, in `PATCH /api/v1/mailboxes/{id}` (`retention: {days}`) and in
/// its view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Days a message is kept from its receipt (1..=36500; 3650 is ten years, the usual
    /// term for commercial documents in Italy); `null`: kept forever, nothing may be purged.
    pub days: Option<i64>,
}

/// Checks a retention setting.
pub fn check_retention(r: &Retention) -> Result<Option<i64>> {
    match r.days {
        Some(d) if !(1..=MAX_DAYS).contains(&d) => Err(Error::invalid(format!(
            "conservazione: da 1 a {MAX_DAYS} giorni, o null per conservare per sempre / \
             retention: 1 to {MAX_DAYS} days, or null to keep forever"
        ))),
        other => Ok(other),
    }
}

/// A mailbox's retention as its view shows it.
pub async fn retention(store: &Store, mailbox_id: &str) -> Result<Retention> {
    Ok(Retention {
        days: db::retention_days(store, mailbox_id).await?,
    })
}

/// `POST /api/v1/mailboxes/{id}/purge`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Only messages received before this time (ms since the epoch).
    pub before: i64,
    /// `true`: answer what would be purged and purge nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Why (required; kept in the audit entry).
    pub reason: String,
}

/// A purged message (or one a dry run would purge).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PurgedMessage {
    pub id: String,
    /// SHA-256 of its raw bytes.
    pub sha256: String,
    pub received_at: String,
}

/// A trashed message the purge left, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SkippedMessage {
    pub id: String,
    pub received_at: String,
    /// `no_retention` (the mailbox keeps everything), `retention` (inside its retention),
    /// `open_activity` (linked to an activity not yet done or cancelled).
    pub reason: String,
    /// The reason in words (Italian / English).
    pub message: String,
    /// When it leaves its retention (reason `retention`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retained_until: Option<String>,
}

/// What a purge did (or, `dry_run`, would do).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PurgeResponse {
    pub dry_run: bool,
    /// The mailbox's retention in days (`null`: kept forever).
    pub retention_days: Option<i64>,
    pub purged: Vec<PurgedMessage>,
    pub skipped: Vec<SkippedMessage>,
    /// Messages received before `before` that are not in the trash: a purge never takes
    /// what users still see.
    pub not_trashed: i64,
    /// Hashes whose raw bytes were cleared (no other message holds them).
    pub blobs_cleared: Vec<String>,
    /// More trashed messages wait: run the purge again.
    pub more: bool,
}

fn skipped(c: &db::PurgeCandidate, reason: &str, until: Option<i64>) -> SkippedMessage {
    let message = match reason {
        "no_retention" => {
            "la casella conserva i messaggi per sempre: imposta una conservazione per \
             poterli eliminare / the mailbox keeps its messages forever: set a retention to \
             purge them"
        }
        "retention" => "ancora nel periodo di conservazione / still inside its retention period",
        _ => {
            "collegato a un'attività aperta: chiudila o annullala prima / linked to an open \
             activity: close or cancel it first"
        }
    };
    SkippedMessage {
        id: c.id.clone(),
        received_at: ms_to_rfc3339(c.received_at),
        reason: reason.to_owned(),
        message: message.to_owned(),
        retained_until: until.map(ms_to_rfc3339),
    }
}

/// Purges (or, `dry_run`, tells what it would purge) the trashed messages of `mailbox_id`
/// received before `req.before` and outside its retention. The caller is an organisation
/// administrator (checked by the handler); another organisation's mailbox is 404.
pub async fn purge(
    store: &Store,
    actor: Actor<'_>,
    mailbox_id: &str,
    req: &PurgeRequest,
) -> Result<PurgeResponse> {
    let reason = req.reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "motivo obbligatorio: scrivi perché elimini questi messaggi / reason required: \
             write why these messages are purged",
        ));
    }
    crate::limits::text("reason", reason, 500)?;
    if req.before <= 0 {
        return Err(Error::invalid(
            "before: un istante in millisecondi dall'epoca / before: a time in milliseconds \
             since the epoch",
        ));
    }
    if !crate::store::users::mailbox_in_org(store, actor.org_id, mailbox_id).await? {
        return Err(Error::NotFound);
    }
    let now = now_ms();
    let user_id = actor.user_id.unwrap_or_default();
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    let days = db::retention_days_tx(&mut tx, mailbox_id).await?;
    let candidates = db::candidates(&mut tx, actor.org_id, mailbox_id, req.before, BATCH).await?;
    let more = i64::try_from(candidates.len()).unwrap_or(i64::MAX) >= BATCH;
    let not_trashed = db::not_trashed(&mut tx, mailbox_id, req.before).await?;
    let mut purged = Vec::new();
    let mut skipped_list = Vec::new();
    let mut shas: Vec<String> = Vec::new();
    for c in &candidates {
        // A message inside its retention is never purged: the one rule of this module.
        let Some(d) = days else {
            skipped_list.push(skipped(c, "no_retention", None));
            continue;
        };
        let until = c.received_at.saturating_add(d.saturating_mul(DAY_MS));
        if until >= now {
            skipped_list.push(skipped(c, "retention", Some(until)));
            continue;
        }
        if c.open_activity {
            skipped_list.push(skipped(c, "open_activity", None));
            continue;
        }
        if !db::tombstone(&mut tx, &c.id, user_id, now).await? {
            continue;
        }
        for sha in
            std::iter::once(c.raw_sha256.clone()).chain(db::variant_shas(&mut tx, &c.id).await?)
        {
            if !shas.contains(&sha) {
                shas.push(sha);
            }
        }
        purged.push(PurgedMessage {
            id: c.id.clone(),
            sha256: c.raw_sha256.clone(),
            received_at: ms_to_rfc3339(c.received_at),
        });
    }
    let mut blobs_cleared = Vec::new();
    for sha in &shas {
        if db::clear_blob(&mut tx, sha, now).await? {
            blobs_cleared.push(sha.clone());
        }
    }
    if !purged.is_empty() {
        tx.audit(Entry {
            org_id: Some(actor.org_id),
            actor_id: actor.user_id,
            action: Action::MailboxPurge,
            object_type: "mailbox",
            object_id: mailbox_id,
            details: serde_json::json!({
                "count": purged.len(),
                "messages": purged.iter().map(|p| &p.id).collect::<Vec<_>>(),
                "sha256": purged.iter().map(|p| &p.sha256).collect::<Vec<_>>(),
                "blobs_cleared": blobs_cleared.len(),
                "skipped": skipped_list.len(),
                "before": req.before,
                "retention_days": days,
                "reason": reason,
            }),
        })
        .await?;
    }
    if req.dry_run {
        // Dropped, not committed: nothing of the above is kept.
        drop(tx);
    } else {
        tx.commit().await?;
        tracing::info!(mailbox.id = %mailbox_id, purged = purged.len(), "mailbox purged");
    }
    Ok(PurgeResponse {
        dry_run: req.dry_run,
        retention_days: days,
        purged,
        skipped: skipped_list,
        not_trashed,
        blobs_cleared,
        more,
    })
}

/// Sets a mailbox's retention alone, as an administrator's change with its
/// `mailbox.update` entry (the demo's seed; the API goes through the mailbox `PATCH`).
pub async fn set_retention(
    store: &Store,
    actor: Actor<'_>,
    mailbox_id: &str,
    days: Option<i64>,
) -> Result<()> {
    let days = check_retention(&Retention { days })?;
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    let old = db::retention_days_tx(&mut tx, mailbox_id).await?;
    db::set_retention_days(&mut tx, mailbox_id, days).await?;
    tx.audit(Entry {
        org_id: Some(actor.org_id),
        actor_id: actor.user_id,
        action: Action::MailboxUpdate,
        object_type: "mailbox",
        object_id: mailbox_id,
        details: serde_json::json!({
            "fields": ["retention"],
            "secrets_changed": [],
            "retention_days": {"old": old, "new": days},
        }),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}
