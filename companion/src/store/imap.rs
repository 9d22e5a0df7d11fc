//! The IMAP pollers' own rows: the lease and health of each mailbox (`mailbox_health`) and
//! where each folder stands (`imap_folders`). Operational state, not user actions: written
//! outside the audited write transactions, one statement at a time.

use crate::error::Result;
use crate::store::{Store, now_ms};
use crate::with_pool;

/// Ensures the mailbox has a health row (the lease lives in it).
async fn ensure_row(store: &Store, mailbox_id: &str) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "INSERT INTO mailbox_health (mailbox_id) VALUES ($1) ON CONFLICT (mailbox_id) DO NOTHING"
    )
    .bind(mailbox_id)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Takes the mailbox's lease for `owner` until `until` (ms) when nobody holds it, `owner`
/// already does, or the holder's lease ran out at `now`. One conditional UPDATE: of two
/// replicas racing, exactly one sees a row changed.
pub async fn acquire_lease(
    store: &Store,
    mailbox_id: &str,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    ensure_row(store, mailbox_id).await?;
    let r = with_pool!(store, |p| sqlx::query(
        "UPDATE mailbox_health SET lease_owner = $2, lease_until = $3 WHERE mailbox_id = $1 \
         AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until IS NULL OR lease_until < $4)"
    )
    .bind(mailbox_id)
    .bind(owner)
    .bind(until)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Extends the lease `owner` holds; `false` when another replica has taken it over.
pub async fn renew_lease(store: &Store, mailbox_id: &str, owner: &str, until: i64) -> Result<bool> {
    let r = with_pool!(store, |p| sqlx::query(
        "UPDATE mailbox_health SET lease_until = $3 WHERE mailbox_id = $1 AND lease_owner = $2"
    )
    .bind(mailbox_id)
    .bind(owner)
    .bind(until)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Gives the lease up (when `owner` still holds it).
pub async fn release_lease(store: &Store, mailbox_id: &str, owner: &str) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE mailbox_health SET lease_owner = NULL, lease_until = NULL \
         WHERE mailbox_id = $1 AND lease_owner = $2"
    )
    .bind(mailbox_id)
    .bind(owner)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A mailbox's health as an admin reads it.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct HealthRow {
    /// Mailbox id.
    pub mailbox_id: String,
    /// Last complete poll (ms).
    pub last_success_at: Option<i64>,
    /// Last failed attempt (ms).
    pub last_error_at: Option<i64>,
    /// Stable code of the last error (`auth`, `tls`, `connect`, ...).
    pub last_error_code: Option<String>,
    /// Words an admin can act on (Italian / English).
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub consecutive_failures: i32,
    /// No attempt before this time (ms): the backoff.
    pub next_attempt_at: Option<i64>,
    /// Quota used (KiB).
    pub quota_used_kb: Option<i64>,
    /// Quota total (KiB).
    pub quota_total_kb: Option<i64>,
    /// When the quota was read (ms).
    pub quota_read_at: Option<i64>,
    /// Whether the server offered IDLE.
    pub idle: Option<bool>,
    /// Replica polling the mailbox now.
    pub lease_owner: Option<String>,
    /// Until when (ms).
    pub lease_until: Option<i64>,
}

/// The mailbox's health row, when the poller has tried it.
pub async fn health(store: &Store, mailbox_id: &str) -> Result<Option<HealthRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT mailbox_id, last_success_at, last_error_at, last_error_code, last_error, \
         consecutive_failures, next_attempt_at, quota_used_kb, quota_total_kb, quota_read_at, \
         idle, lease_owner, lease_until FROM mailbox_health WHERE mailbox_id = $1"
    )
    .bind(mailbox_id)
    .fetch_optional(p)
    .await)?)
}

/// Records a complete poll: the error and the backoff are cleared.
pub async fn record_success(store: &Store, mailbox_id: &str, at: i64) -> Result<()> {
    ensure_row(store, mailbox_id).await?;
    with_pool!(store, |p| sqlx::query(
        "UPDATE mailbox_health SET last_success_at = $2, consecutive_failures = 0, \
         next_attempt_at = NULL, last_error_code = NULL, last_error = NULL WHERE mailbox_id = $1"
    )
    .bind(mailbox_id)
    .bind(at)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Records a failed attempt; returns the number of consecutive failures so far. The next
/// attempt time is set by [`set_next_attempt`] from that number.
pub async fn record_failure(
    store: &Store,
    mailbox_id: &str,
    at: i64,
    code: &str,
    words: &str,
) -> Result<i32> {
    ensure_row(store, mailbox_id).await?;
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "UPDATE mailbox_health SET last_error_at = $2, last_error_code = $3, last_error = $4, \
         consecutive_failures = consecutive_failures + 1 WHERE mailbox_id = $1 \
         RETURNING consecutive_failures"
    )
    .bind(mailbox_id)
    .bind(at)
    .bind(code)
    .bind(words)
    .fetch_one(p)
    .await)?)
}

/// Sets when the next attempt may start (ms; `None`: at once).
pub async fn set_next_attempt(store: &Store, mailbox_id: &str, at: Option<i64>) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE mailbox_health SET next_attempt_at = $2 WHERE mailbox_id = $1"
    )
    .bind(mailbox_id)
    .bind(at)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Records whether the server offered IDLE at the last connection.
pub async fn set_idle(store: &Store, mailbox_id: &str, idle: bool) -> Result<()> {
    ensure_row(store, mailbox_id).await?;
    with_pool!(store, |p| sqlx::query(
        "UPDATE mailbox_health SET idle = $2 WHERE mailbox_id = $1"
    )
    .bind(mailbox_id)
    .bind(idle)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Records the box's quota (KiB) as the server reported it.
pub async fn set_quota(
    store: &Store,
    mailbox_id: &str,
    used_kb: i64,
    total_kb: Option<i64>,
    at: i64,
) -> Result<()> {
    ensure_row(store, mailbox_id).await?;
    with_pool!(store, |p| sqlx::query(
        "UPDATE mailbox_health SET quota_used_kb = $2, quota_total_kb = $3, quota_read_at = $4 \
         WHERE mailbox_id = $1"
    )
    .bind(mailbox_id)
    .bind(used_kb)
    .bind(total_kb)
    .bind(at)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Where the poller stands in one folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct FolderState {
    /// The folder's UIDVALIDITY when `last_uid` was recorded.
    pub uidvalidity: i64,
    /// Every UID up to this one is safely stored.
    pub last_uid: i64,
}

/// The folder's state, when the poller has read it before.
pub async fn folder(store: &Store, mailbox_id: &str, folder: &str) -> Result<Option<FolderState>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT uidvalidity, last_uid FROM imap_folders WHERE mailbox_id = $1 AND folder = $2"
    )
    .bind(mailbox_id)
    .bind(folder)
    .fetch_optional(p)
    .await)?)
}

/// Starts (or restarts, after a UIDVALIDITY change) a folder at UID 0: everything in it is
/// read again, which is safe because ingestion is idempotent by bytes.
pub async fn reset_folder(
    store: &Store,
    mailbox_id: &str,
    folder: &str,
    uidvalidity: i64,
) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "INSERT INTO imap_folders (mailbox_id, folder, uidvalidity, last_uid, updated_at) \
         VALUES ($1, $2, $3, 0, $4) ON CONFLICT (mailbox_id, folder) \
         DO UPDATE SET uidvalidity = $3, last_uid = 0, updated_at = $4"
    )
    .bind(mailbox_id)
    .bind(folder)
    .bind(uidvalidity)
    .bind(now_ms())
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Moves the folder's mark forward to `last_uid` (never back; only under the same
/// UIDVALIDITY).
pub async fn advance_folder(
    store: &Store,
    mailbox_id: &str,
    folder: &str,
    uidvalidity: i64,
    last_uid: i64,
) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE imap_folders SET last_uid = $4, updated_at = $5 WHERE mailbox_id = $1 \
         AND folder = $2 AND uidvalidity = $3 AND last_uid < $4"
    )
    .bind(mailbox_id)
    .bind(folder)
    .bind(uidvalidity)
    .bind(last_uid)
    .bind(now_ms())
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}
