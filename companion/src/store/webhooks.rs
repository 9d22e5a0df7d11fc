//! Webhooks (migration 0020): an organisation's subscriptions, their deliveries, and the
//! read of the audit chain that events come from. All their SQL lives here.
//!
//! Every query of a subscription names its organisation (another organisation's id reads
//! as missing). Deliveries are claimed like the outbox's rows: one UPDATE that marks them
//! `delivering` for a while, the rows taken `FOR UPDATE SKIP LOCKED` on PostgreSQL, and
//! committed before anything is sent.

use crate::error::Result;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// A stored subscription (the secret stays sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: String,
    pub org_id: String,
    pub url: String,
    /// `generic`, `teams` or `slack`.
    pub format: String,
    /// JSON array of event type names.
    pub events: String,
    pub enabled: bool,
    pub description: String,
    /// Sealed with the master key (context [`secret_context`]).
    pub secret: String,
    /// The last audit seq of the organisation's chain turned into deliveries.
    pub audit_cursor: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The sealing context of a subscription's secret.
pub fn secret_context(webhook_id: &str) -> String {
    format!("webhook:{webhook_id}")
}

const COLUMNS: &str = "id, org_id, url, format, events, enabled, description, secret, \
     audit_cursor, created_by, created_at, updated_at";

/// Stores a new subscription.
pub async fn insert(tx: &mut WriteTx, r: &WebhookRow) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO webhooks (id, org_id, url, format, events, enabled, description, secret, \
         audit_cursor, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    )
    .bind(&r.id)
    .bind(&r.org_id)
    .bind(&r.url)
    .bind(&r.format)
    .bind(&r.events)
    .bind(r.enabled)
    .bind(&r.description)
    .bind(&r.secret)
    .bind(r.audit_cursor)
    .bind(&r.created_by)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Writes a subscription's editable fields (url, format, events, enabled, description),
/// and its cursor when given (re-enabled: from the chain's head).
pub async fn update(tx: &mut WriteTx, r: &WebhookRow, cursor: Option<i64>) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE webhooks SET url = $3, format = $4, events = $5, enabled = $6, \
         description = $7, updated_at = $8, audit_cursor = COALESCE($9, audit_cursor) \
         WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    )
    .bind(&r.id)
    .bind(&r.org_id)
    .bind(&r.url)
    .bind(&r.format)
    .bind(&r.events)
    .bind(r.enabled)
    .bind(&r.description)
    .bind(r.updated_at)
    .bind(cursor)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Replaces a subscription's sealed secret (rotation); false when missing or deleted.
pub async fn set_secret(
    tx: &mut WriteTx,
    org_id: &str,
    id: &str,
    sealed: &str,
    now: i64,
) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE webhooks SET secret = $3, updated_at = $4 \
         WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    )
    .bind(id)
    .bind(org_id)
    .bind(sealed)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Marks a subscription deleted (kept with its delivery log); its pending deliveries fail.
pub async fn delete(tx: &mut WriteTx, org_id: &str, id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE webhooks SET deleted_at = $3, enabled = false, updated_at = $3 \
         WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    )
    .bind(id)
    .bind(org_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    if n > 0 {
        with_tx!(tx, |c| sqlx::query(
            "UPDATE webhook_deliveries SET status = 'failed', last_error = $2, \
             next_attempt_at = NULL, claimed_by = NULL, claimed_until = NULL, updated_at = $3 \
             WHERE webhook_id = $1 AND status = 'pending'"
        )
        .bind(id)
        .bind("subscription deleted")
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    Ok(n > 0)
}

/// One subscription of the organisation (None when missing, deleted or another's).
pub async fn get(store: &Store, org_id: &str, id: &str) -> Result<Option<WebhookRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(p)
        .await)?)
}

/// [`get`] inside a write transaction.
pub async fn get_tx(tx: &mut WriteTx, org_id: &str, id: &str) -> Result<Option<WebhookRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    );
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *c)
        .await)?)
}

/// The organisation's subscriptions, oldest first.
pub async fn list(store: &Store, org_id: &str) -> Result<Vec<WebhookRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhooks WHERE org_id = $1 AND deleted_at IS NULL \
         ORDER BY created_at, id"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(org_id)
        .fetch_all(p)
        .await)?)
}

/// Every enabled subscription of every organisation (the worker's pass).
pub async fn enabled(store: &Store) -> Result<Vec<WebhookRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhooks WHERE enabled = true AND deleted_at IS NULL \
         ORDER BY org_id, id"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .fetch_all(p)
        .await)?)
}

/// The last seq of a chain as committed (0 when it has none).
pub async fn chain_head(store: &Store, chain: &str) -> Result<i64> {
    let seq: Option<i64> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT seq FROM audit_heads WHERE chain = $1"
    )
    .bind(chain)
    .fetch_optional(p)
    .await)?;
    Ok(seq.unwrap_or(0))
}

/// An audit entry with what the events made of it need from the objects it names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SourceRow {
    pub seq: i64,
    pub at: i64,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// JSON details of the entry (ids, field names).
    pub details: String,
    /// The message's kind (`posta-certificata`, `non-accettazione`, ...), for a message.
    pub message_kind: Option<String>,
    /// `in` or `out`, for a message.
    pub message_direction: Option<String>,
    /// The mailbox of the message or activity named.
    pub mailbox_id: Option<String>,
    /// The activity's assignee now.
    pub assignee_id: Option<String>,
    /// The activity's team now.
    pub team_id: Option<String>,
    /// The activity's designated approver now.
    pub approver_id: Option<String>,
    /// For a receipt: the sent message it certifies, once known.
    pub sent_message_id: Option<String>,
}

/// Entries of `chain` with `after < seq <= upto`, oldest first, at most `limit`.
pub async fn source_rows(
    store: &Store,
    chain: &str,
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<Vec<SourceRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT a.seq, a.at, a.action, a.object_type, a.object_id, a.details, \
         m.kind AS message_kind, m.direction AS message_direction, \
         COALESCE(m.mailbox_id, act.mailbox_id) AS mailbox_id, \
         act.assignee_id, act.team_id, act.approver_id, rl.sent_id AS sent_message_id \
         FROM audit_log a \
         LEFT JOIN messages m ON a.object_type = 'message' AND m.id = a.object_id \
         LEFT JOIN activities act ON a.object_type = 'activity' AND act.id = a.object_id \
         LEFT JOIN receipt_links rl ON a.object_type = 'message' AND rl.receipt_id = a.object_id \
         WHERE a.chain = $1 AND a.seq > $2 AND a.seq <= $3 ORDER BY a.seq LIMIT $4"
    )
    .bind(chain)
    .bind(after)
    .bind(upto)
    .bind(limit)
    .fetch_all(p)
    .await)?)
}

/// A delivery to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub id: &'a str,
    pub webhook_id: &'a str,
    pub org_id: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
}

/// Queues deliveries (one already queued for the same subscription and event is skipped)
/// and moves the subscription's cursor forward to `cursor`, in one transaction. Returns
/// how many were queued now.
pub async fn enqueue(
    store: &Store,
    webhook_id: &str,
    rows: &[NewDelivery<'_>],
    cursor: i64,
    now: i64,
) -> Result<usize> {
    let mut tx = store.begin_unchained().await?;
    let mut queued = 0;
    for d in rows {
        let n = with_tx!(tx, |c| sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, org_id, event_id, event_type, \
             payload, status, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7) \
             ON CONFLICT (webhook_id, event_id) DO NOTHING"
        )
        .bind(d.id)
        .bind(d.webhook_id)
        .bind(d.org_id)
        .bind(d.event_id)
        .bind(d.event_type)
        .bind(d.payload)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        queued += usize::try_from(n).unwrap_or(0);
    }
    with_tx!(tx, |c| sqlx::query(
        "UPDATE webhooks SET audit_cursor = $2 WHERE id = $1 AND audit_cursor < $2"
    )
    .bind(webhook_id)
    .bind(cursor)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    tx.commit().await?;
    Ok(queued)
}

/// A stored delivery, as the log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, status, \
     CAST(attempts AS BIGINT) AS attempts, next_attempt_at, \
     CAST(last_status AS BIGINT) AS last_status, last_error, created_at, updated_at, \
     delivered_at";

/// A subscription's deliveries, newest first, before the delivery `before` (its id) when
/// given, optionally of one status; at most `limit`.
pub async fn deliveries(
    store: &Store,
    org_id: &str,
    webhook_id: &str,
    status: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<DeliveryRow>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
         AND org_id = $2 AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(webhook_id)
        .bind(org_id)
        .bind(status)
        .bind(before)
        .bind(limit)
        .fetch_all(p)
        .await)?)
}

/// One delivery of a subscription of the organisation.
pub async fn delivery(
    store: &Store,
    org_id: &str,
    webhook_id: &str,
    id: &str,
) -> Result<Option<DeliveryRow>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2 \
         AND org_id = $3"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(webhook_id)
        .bind(org_id)
        .fetch_optional(p)
        .await)?)
}

/// Queues a delivery again (a new round of attempts, due at `now`): from `failed` or
/// `delivered` only. Returns whether it was.
pub async fn requeue(tx: &mut WriteTx, webhook_id: &str, id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $3, \
         claimed_by = NULL, claimed_until = NULL, updated_at = $3 \
         WHERE id = $1 AND webhook_id = $2 AND status IN ('failed', 'delivered')"
    )
    .bind(id)
    .bind(webhook_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Records the outcome of a test send (`POST /webhooks/{id}/test`) in the log.
pub async fn insert_test(
    store: &Store,
    d: &NewDelivery<'_>,
    delivered: bool,
    last_status: Option<i64>,
    last_error: Option<&str>,
    now: i64,
) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, org_id, event_id, event_type, payload, \
         status, attempts, last_status, last_error, created_at, updated_at, delivered_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $10, $11)"
    )
    .bind(d.id)
    .bind(d.webhook_id)
    .bind(d.org_id)
    .bind(d.event_id)
    .bind(d.event_type)
    .bind(d.payload)
    .bind(if delivered { "delivered" } else { "failed" })
    .bind(last_status.and_then(|s| i32::try_from(s).ok()))
    .bind(last_error)
    .bind(now)
    .bind(delivered.then_some(now))
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    /// Attempts including this one.
    pub attempts: i64,
    pub url: String,
    pub format: String,
    /// Sealed.
    pub secret: String,
}

/// Claims due deliveries (pending and due, or `delivering` whose claim expired: the worker
/// that held it died, so it is sent again — at least once) of enabled subscriptions and
/// COMMITS before returning.
pub async fn claim(
    store: &Store,
    worker: &str,
    now: i64,
    until: i64,
    max: i64,
) -> Result<Vec<ClaimedDelivery>> {
    let lock = match store.engine() {
        crate::store::Engine::Postgres => " FOR UPDATE OF d SKIP LOCKED",
        crate::store::Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET status = 'delivering', attempts = attempts + 1, \
         claimed_by = $2, claimed_until = $3, updated_at = $1 \
         WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
         WHERE w.enabled = true AND w.deleted_at IS NULL AND \
         ((d.status = 'pending' AND d.next_attempt_at <= $1) OR \
          (d.status = 'delivering' AND d.claimed_until < $1)) \
         ORDER BY d.next_attempt_at, d.id LIMIT $4{lock}) \
         AND (status = 'pending' OR (status = 'delivering' AND claimed_until < $1)) \
         RETURNING id"
    );
    let mut tx = store.begin_unchained().await?;
    let ids: Vec<String> = with_tx!(tx, |c| sqlx::query_scalar(&sql)
        .bind(now)
        .bind(worker)
        .bind(until)
        .bind(max)
        .fetch_all(&mut *c)
        .await)?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<ClaimedDelivery> = with_pool!(store, |p| sqlx::query_as(
            "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.payload, \
             CAST(d.attempts AS BIGINT) AS attempts, w.url, w.format, w.secret \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.id = $1 AND d.claimed_by = $2"
        )
        .bind(&id)
        .bind(worker)
        .fetch_optional(p)
        .await)?;
        out.extend(row);
    }
    Ok(out)
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// 2xx.
    Delivered { status: i64 },
    /// Try again at `next_at`.
    Retry {
        status: Option<i64>,
        error: &'a str,
        next_at: i64,
    },
    /// Attempts exhausted (or refused for good).
    Failed { status: Option<i64>, error: &'a str },
}

/// Concludes this worker's attempt of a delivery.
pub async fn conclude(
    store: &Store,
    id: &str,
    worker: &str,
    outcome: Outcome<'_>,
    now: i64,
) -> Result<()> {
    let (status, code, error, next_at, delivered_at) = match outcome {
        Outcome::Delivered { status } => ("delivered", Some(status), None, None, Some(now)),
        Outcome::Retry {
            status,
            error,
            next_at,
        } => ("pending", status, Some(error), Some(next_at), None),
        Outcome::Failed { status, error } => ("failed", status, Some(error), None, None),
    };
    with_pool!(store, |p| sqlx::query(
        "UPDATE webhook_deliveries SET status = $3, last_status = $4, last_error = $5, \
         next_attempt_at = $6, delivered_at = $7, claimed_by = NULL, claimed_until = NULL, \
         updated_at = $8 WHERE id = $1 AND claimed_by = $2 AND status = 'delivering'"
    )
    .bind(id)
    .bind(worker)
    .bind(status)
    .bind(code.and_then(|c| i32::try_from(c).ok()))
    .bind(error)
    .bind(next_at)
    .bind(delivered_at)
    .bind(now)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}
