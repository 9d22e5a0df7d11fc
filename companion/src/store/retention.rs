//! Retention per mailbox and the purge of trashed messages outside it (issue 16, item 4):
//! the SQL of [`crate::domain::retention`].
//!
//! A purge is a tombstone: the message row stays with `purged_at` and `purged_by`; the raw
//! bytes are cleared only when no message that is not purged (nor any of its variants)
//! still holds them, and the `raw_blobs` row keeps its hash and size.

use crate::error::Result;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// A mailbox's retention in days (`None`: kept forever), inside the transaction.
pub async fn retention_days_tx(tx: &mut WriteTx, mailbox_id: &str) -> Result<Option<i64>> {
    let v: Option<Option<i64>> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT retention_days FROM mailboxes WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_optional(&mut *c)
    .await)?;
    Ok(v.flatten())
}

/// A mailbox's retention in days (`None`: kept forever).
pub async fn retention_days(store: &Store, mailbox_id: &str) -> Result<Option<i64>> {
    let v: Option<Option<i64>> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT retention_days FROM mailboxes WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_optional(p)
    .await)?;
    Ok(v.flatten())
}

/// Sets a mailbox's retention in days (`None`: kept forever).
pub async fn set_retention_days(
    tx: &mut WriteTx,
    mailbox_id: &str,
    days: Option<i64>,
) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE mailboxes SET retention_days = $2 WHERE id = $1"
    )
    .bind(mailbox_id)
    .bind(days)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A trashed message a purge considers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PurgeCandidate {
    /// Message id.
    pub id: String,
    /// SHA-256 of its raw bytes.
    pub raw_sha256: String,
    /// When it was received (ms).
    pub received_at: i64,
    /// Linked to an activity that is neither done nor cancelled.
    pub open_activity: bool,
}

/// The trashed, not yet purged messages of `mailbox_id` received before `before` (ms),
/// oldest first, at most `limit`, inside the purge's transaction.
pub async fn candidates(
    tx: &mut WriteTx,
    org_id: &str,
    mailbox_id: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<PurgeCandidate>> {
    Ok(with_tx!(tx, |c| sqlx::query_as(
        "SELECT m.id, m.raw_sha256, m.received_at, EXISTS (SELECT 1 FROM activity_messages am \
         JOIN activities a ON a.id = am.activity_id WHERE am.message_id = m.id \
         AND a.status NOT IN ('done', 'cancelled')) AS open_activity \
         FROM messages m WHERE m.org_id = $1 AND m.mailbox_id = $2 AND m.received_at < $3 \
         AND m.trashed_at IS NOT NULL AND m.purged_at IS NULL ORDER BY m.received_at, m.id \
         LIMIT $4"
    )
    .bind(org_id)
    .bind(mailbox_id)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await)?)
}

/// How many messages of `mailbox_id` received before `before` are not in the trash (a
/// purge never takes them).
pub async fn not_trashed(tx: &mut WriteTx, mailbox_id: &str, before: i64) -> Result<i64> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1 AND received_at < $2 \
         AND trashed_at IS NULL"
    )
    .bind(mailbox_id)
    .bind(before)
    .fetch_one(&mut *c)
    .await)?)
}

/// The hashes of a message's variants.
pub async fn variant_shas(tx: &mut WriteTx, message_id: &str) -> Result<Vec<String>> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT raw_sha256 FROM message_variants WHERE message_id = $1 ORDER BY raw_sha256"
    )
    .bind(message_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// Marks a trashed message purged, clearing what was read from its content (subject,
/// sender, summary, search text, protocol data, the rules' matches); the id, hashes, Message-ID,
/// identificativo, kind, direction, states and dates stay. Returns whether it changed.
pub async fn tombstone(tx: &mut WriteTx, id: &str, user_id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET purged_at = $3, purged_by = $2, subject = NULL, sender = NULL, \
         summary = '{}', search_text = '', protocol = NULL, routing_matched = NULL \
         WHERE id = $1 AND trashed_at IS NOT NULL AND purged_at IS NULL"
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Clears the raw bytes under `sha` unless a message that is not purged holds them (as
/// its own bytes or as a variant); returns whether they were cleared.
pub async fn clear_blob(tx: &mut WriteTx, sha: &str, now: i64) -> Result<bool> {
    let empty: Vec<u8> = Vec::new();
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE raw_blobs SET bytes = $3, purged_at = $2 WHERE sha256 = $1 \
         AND purged_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.raw_sha256 = $1 \
         AND m.purged_at IS NULL) \
         AND NOT EXISTS (SELECT 1 FROM message_variants v JOIN messages m \
         ON m.id = v.message_id WHERE v.raw_sha256 = $1 AND m.purged_at IS NULL)"
    )
    .bind(sha)
    .bind(now)
    .bind(&empty)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Whether the bytes under `sha` were cleared by a purge.
pub async fn blob_purged(store: &Store, sha: &str) -> Result<bool> {
    let at: Option<Option<i64>> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT purged_at FROM raw_blobs WHERE sha256 = $1"
    )
    .bind(sha)
    .fetch_optional(p)
    .await)?;
    Ok(at.flatten().is_some())
}
