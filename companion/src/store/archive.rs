//! Archive and expunge: each mailbox's policy (`mailboxes.archive_expunge_after_days`),
//! what the poller checks before removing a message from the provider's box (the stored
//! copies of exact bytes), what it removed (`imap_expunged`, `messages.archived_at`) and
//! the last run on the mailbox's health.

use crate::error::Result;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// The mailbox's policy: messages older than this many days leave the provider's box once
/// stored (`None`: off).
pub async fn policy(store: &Store, mailbox_id: &str) -> Result<Option<i64>> {
    let v: Option<Option<i64>> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT CAST(archive_expunge_after_days AS BIGINT) FROM mailboxes WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_optional(p)
    .await)?;
    Ok(v.flatten())
}

/// Writes the mailbox's policy (`None`: off).
pub async fn set_policy(tx: &mut WriteTx, mailbox_id: &str, days: Option<i64>) -> Result<()> {
    let days = days.and_then(|d| i32::try_from(d).ok());
    with_tx!(tx, |c| sqlx::query(
        "UPDATE mailboxes SET archive_expunge_after_days = $2 WHERE id = $1"
    )
    .bind(mailbox_id)
    .bind(days)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A message of the mailbox whose bytes (as the message or as one of its variants) have a
/// given SHA-256.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCopy {
    /// The message.
    pub message_id: String,
    /// Its organisation.
    pub org_id: String,
    /// When the companion stored it (ms).
    pub received_at: i64,
    /// Its summary (JSON text): the certified time is read from it.
    pub summary: String,
}

/// The messages of `mailbox_id` holding the bytes `sha` (as their own or as a variant).
pub async fn stored_copies(store: &Store, mailbox_id: &str, sha: &str) -> Result<Vec<StoredCopy>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT m.id AS message_id, m.org_id, m.received_at, m.summary FROM messages m \
         WHERE m.mailbox_id = $1 AND m.raw_sha256 = $2 \
         UNION ALL \
         SELECT m.id AS message_id, m.org_id, m.received_at, m.summary \
         FROM message_variants v JOIN messages m ON m.id = v.message_id \
         WHERE m.mailbox_id = $1 AND v.raw_sha256 = $2"
    )
    .bind(mailbox_id)
    .bind(sha)
    .fetch_all(p)
    .await)?)
}

/// The stored bytes keyed `sha`, when there are any.
pub async fn blob(store: &Store, sha: &str) -> Result<Option<Vec<u8>>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT bytes FROM raw_blobs WHERE sha256 = $1"
    )
    .bind(sha)
    .fetch_optional(p)
    .await)?)
}

/// One message removed from the provider's box.
#[derive(Debug, Clone)]
pub struct Expunged<'a> {
    pub mailbox_id: &'a str,
    pub folder: &'a str,
    pub uidvalidity: i64,
    pub uid: i64,
    pub sha: &'a str,
    pub message_id: &'a str,
    pub size: i64,
    pub at: i64,
}

/// Records a message removed from the box and marks it archived (the first time only).
pub async fn record_expunged(tx: &mut WriteTx, e: &Expunged<'_>) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO imap_expunged (mailbox_id, folder, uidvalidity, uid, raw_sha256, \
         message_id, size, expunged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (mailbox_id, folder, uidvalidity, uid) DO NOTHING"
    )
    .bind(e.mailbox_id)
    .bind(e.folder)
    .bind(e.uidvalidity)
    .bind(e.uid)
    .bind(e.sha)
    .bind(e.message_id)
    .bind(e.size)
    .bind(e.at)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET archived_at = $2 WHERE id = $1 AND archived_at IS NULL"
    )
    .bind(e.message_id)
    .bind(e.at)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The last archive run of a mailbox, as its health shows it.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct RunRow {
    /// When the last run that found the policy on ended (ms).
    pub archive_run_at: Option<i64>,
    /// Messages it expunged.
    pub archive_expunged: Option<i64>,
    /// Bytes it freed.
    pub archive_bytes_freed: Option<i64>,
    /// Why expunging is unavailable (words an admin reads), when it is.
    pub archive_unavailable: Option<String>,
}

/// The mailbox's last archive run, when the poller has tried the mailbox.
pub async fn last_run(store: &Store, mailbox_id: &str) -> Result<Option<RunRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT archive_run_at, archive_expunged, archive_bytes_freed, archive_unavailable \
         FROM mailbox_health WHERE mailbox_id = $1"
    )
    .bind(mailbox_id)
    .fetch_optional(p)
    .await)?)
}

/// Records a run: what it expunged and freed (`unavailable`: why it could not expunge).
pub async fn record_run(
    store: &Store,
    mailbox_id: &str,
    at: i64,
    expunged: i64,
    bytes: i64,
    unavailable: Option<&str>,
) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE mailbox_health SET archive_run_at = $2, archive_expunged = $3, \
         archive_bytes_freed = $4, archive_unavailable = $5 WHERE mailbox_id = $1"
    )
    .bind(mailbox_id)
    .bind(at)
    .bind(expunged)
    .bind(bytes)
    .bind(unavailable)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Messages and bytes expunged from the mailbox's box so far.
pub async fn totals(store: &Store, mailbox_id: &str) -> Result<(i64, i64)> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM imap_expunged \
         WHERE mailbox_id = $1"
    )
    .bind(mailbox_id)
    .fetch_one(p)
    .await)?)
}
