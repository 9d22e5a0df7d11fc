//! The outbox (migration 0014): one row per message to send. Written by the action that
//! asks for the send, in its own transaction ([`enqueue`]); claimed, attempted and
//! concluded by the worker (`crate::outbox`).

use crate::error::Result;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// What asked for a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// The reply draft of an activity, at this draft version.
    Reply {
        /// The activity.
        activity_id: &'a str,
        /// The draft version sent (the approved one in the approval flow).
        draft_version: i64,
    },
    /// One recipient's message of a mass send.
    Campaign {
        /// The campaign.
        campaign_id: &'a str,
    },
}

/// A message to send.
#[derive(Debug)]
pub struct NewOutgoing<'a> {
    pub org_id: &'a str,
    pub mailbox_id: &'a str,
    /// Our Message-ID (no angle brackets), as in `raw`.
    pub message_id: &'a str,
    pub origin: Origin<'a>,
    /// SMTP MAIL FROM: the mailbox's address.
    pub envelope_from: &'a str,
    /// Every SMTP RCPT TO (To and Cc).
    pub recipients: &'a [String],
    /// The message as it is submitted.
    pub raw: &'a [u8],
    /// `queued`, or `held` for a paused campaign.
    pub held: bool,
    /// Now (ms).
    pub now: i64,
}

/// Writes the row in the caller's transaction and returns its id. Nothing is sent until
/// that transaction commits.
pub async fn enqueue(tx: &mut WriteTx, m: &NewOutgoing<'_>) -> Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let (origin, activity_id, draft_version, campaign_id) = match m.origin {
        Origin::Reply {
            activity_id,
            draft_version,
        } => ("reply", Some(activity_id), Some(draft_version), None),
        Origin::Campaign { campaign_id } => ("campaign", None, None, Some(campaign_id)),
    };
    let recipients = serde_json::to_string(m.recipients).unwrap_or_else(|_| "[]".into());
    let size = i64::try_from(m.raw.len()).unwrap_or(i64::MAX);
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO outbox (id, org_id, mailbox_id, message_id, origin, activity_id, \
         draft_version, campaign_id, envelope_from, recipients, raw, size, state, not_before, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $14)"
    )
    .bind(&id)
    .bind(m.org_id)
    .bind(m.mailbox_id)
    .bind(m.message_id)
    .bind(origin)
    .bind(activity_id)
    .bind(draft_version)
    .bind(campaign_id)
    .bind(m.envelope_from)
    .bind(&recipients)
    .bind(m.raw)
    .bind(size)
    .bind(if m.held { "held" } else { "queued" })
    .bind(m.now)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(id)
}

/// A row the worker holds: what it needs to send and conclude.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedRow {
    pub id: String,
    pub org_id: String,
    pub mailbox_id: String,
    /// Our Message-ID (no angle brackets).
    pub message_id: String,
    pub envelope_from: String,
    /// JSON array of addresses.
    pub recipients: String,
    pub raw: Vec<u8>,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

impl ClaimedRow {
    /// The SMTP recipients.
    pub fn recipient_list(&self) -> Vec<String> {
        serde_json::from_str(&self.recipients).unwrap_or_default()
    }
}

/// Mailboxes with rows due at `now` (queued, `not_before` passed), oldest due first.
pub async fn due_mailboxes(store: &Store, now: i64) -> Result<Vec<String>> {
    let rows: Vec<(String, i64)> = with_pool!(store, |p| sqlx::query_as(
        "SELECT mailbox_id, MIN(not_before) FROM outbox \
         WHERE state = 'queued' AND not_before <= $1 GROUP BY mailbox_id ORDER BY 2"
    )
    .bind(now)
    .fetch_all(p)
    .await)?;
    Ok(rows.into_iter().map(|(m, _)| m).collect())
}

/// A claim: who, when, for how long.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The worker (one per process).
    pub worker: &'a str,
    /// Now (ms): the attempt's start.
    pub now: i64,
    /// Until when the claim holds (ms).
    pub until: i64,
    /// At most this many rows.
    pub max: usize,
}

/// Claims due rows of `mailbox_id` and COMMITS before returning (nothing is sent before
/// the claim is durable). `decide` gets the mailbox's `send_per_minute` and the starts of
/// the attempts of the trailing minute and answers how many may start now.
///
/// Across replicas: the mailbox row is locked first (an UPDATE, on both engines), so two
/// claimers of one mailbox count the same window one after the other; on PostgreSQL the
/// rows are taken `FOR UPDATE SKIP LOCKED`. SQLite has one writer: the first statement
/// being a write takes the database lock at once.
pub async fn claim(
    store: &Store,
    mailbox_id: &str,
    c: Claim<'_>,
    decide: impl FnOnce(Option<i64>, &[i64]) -> usize,
) -> Result<Vec<ClaimedRow>> {
    let mut tx = store.begin_unchained().await?;
    let limit: Option<Option<i64>> = with_tx!(tx, |x| sqlx::query_scalar(
        "UPDATE mailboxes SET send_per_minute = send_per_minute WHERE id = $1 \
         RETURNING CAST(send_per_minute AS BIGINT)"
    )
    .bind(mailbox_id)
    .fetch_optional(&mut *x)
    .await)?;
    let Some(limit) = limit else {
        return Ok(Vec::new());
    };
    let starts: Vec<i64> = with_tx!(tx, |x| sqlx::query_scalar(
        "SELECT attempt_started_at FROM outbox WHERE mailbox_id = $1 \
         AND attempt_started_at > $2"
    )
    .bind(mailbox_id)
    .bind(c.now - crate::outbox::throttle::WINDOW_MS)
    .fetch_all(&mut *x)
    .await)?;
    let n = decide(limit, &starts).min(c.max);
    if n == 0 {
        return Ok(Vec::new());
    }
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let lock = match store.engine() {
        crate::store::Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        crate::store::Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, \
         attempt_started_at = $2, claimed_by = $3, claimed_until = $4, updated_at = $2 \
         WHERE id IN (SELECT id FROM outbox WHERE mailbox_id = $1 AND state = 'queued' \
         AND not_before <= $2 ORDER BY not_before, id LIMIT $5{lock}) \
         RETURNING id, org_id, mailbox_id, message_id, envelope_from, recipients, raw, \
         CAST(attempts AS BIGINT) AS attempts"
    );
    let mut rows: Vec<ClaimedRow> = with_tx!(tx, |x| sqlx::query_as(&sql)
        .bind(mailbox_id)
        .bind(c.now)
        .bind(c.worker)
        .bind(c.until)
        .bind(n)
        .fetch_all(&mut *x)
        .await)?;
    tx.commit().await?;
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rows)
}

/// The provider accepted the row: `sent`. Also from `queued` (a recovery that re-queued
/// it while this attempt was still running must not send it again).
pub async fn mark_sent(store: &Store, id: &str, now: i64, reply: &str) -> Result<bool> {
    let n = with_pool!(store, |p| sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $2, smtp_reply = $3, last_error = NULL, \
         claimed_by = NULL, claimed_until = NULL, updated_at = $2 \
         WHERE id = $1 AND state IN ('sending', 'queued')"
    )
    .bind(id)
    .bind(now)
    .bind(reply)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A transient failure: back to `queued`, not before `not_before`.
pub async fn mark_retry(
    store: &Store,
    id: &str,
    now: i64,
    not_before: i64,
    reply: Option<&str>,
    error: &str,
) -> Result<()> {
    with_pool!(store, |p| {
        sqlx::query(
        "UPDATE outbox SET state = 'queued', not_before = $3, smtp_reply = COALESCE($4, smtp_reply), \
         last_error = $5, claimed_by = NULL, claimed_until = NULL, updated_at = $2 \
         WHERE id = $1 AND state = 'sending'"
    )
    .bind(id)
    .bind(now)
    .bind(not_before)
    .bind(reply)
    .bind(error)
    .execute(p)
    .await
    .map(|_| ())
    })?;
    Ok(())
}

/// A permanent failure (or attempts exhausted, or the provider's non-accettazione).
pub async fn mark_failed(
    store: &Store,
    id: &str,
    now: i64,
    reply: Option<&str>,
    error: &str,
) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE outbox SET state = 'failed', smtp_reply = COALESCE($3, smtp_reply), \
         last_error = $4, claimed_by = NULL, claimed_until = NULL, updated_at = $2 \
         WHERE id = $1 AND state IN ('sending', 'queued')"
    )
    .bind(id)
    .bind(now)
    .bind(reply)
    .bind(error)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The attempt's outcome is unknown (the connection broke while the message was being
/// submitted): the claim ends now, and recovery decides from the provider's receipts.
pub async fn mark_uncertain(store: &Store, id: &str, now: i64, error: &str) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE outbox SET claimed_until = $2, last_error = $3, updated_at = $2 \
         WHERE id = $1 AND state = 'sending'"
    )
    .bind(id)
    .bind(now)
    .bind(error)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A row left `sending` whose claim has expired: its attempt may or may not have reached
/// the provider.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UncertainRow {
    pub id: String,
    pub org_id: String,
    pub mailbox_id: String,
    pub message_id: String,
    pub attempt_started_at: Option<i64>,
}

/// Rows `sending` with an expired claim.
pub async fn expired_claims(store: &Store, now: i64, max: i64) -> Result<Vec<UncertainRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, org_id, mailbox_id, message_id, attempt_started_at FROM outbox \
         WHERE state = 'sending' AND claimed_until < $1 ORDER BY claimed_until LIMIT $2"
    )
    .bind(now)
    .bind(max)
    .fetch_all(p)
    .await)?)
}

/// What the provider said of our Message-ID: `Some(true)` an accettazione, `Some(false)`
/// a non-accettazione (with its error words), `None` nothing yet. Receipts still waiting
/// for their sent message count (their link names the original Message-ID).
pub async fn provider_verdict(
    store: &Store,
    org_id: &str,
    mailbox_id: &str,
    message_id: &str,
) -> Result<Option<(bool, Option<String>)>> {
    let rows: Vec<(String, Option<String>, Option<String>)> = with_pool!(store, |p| {
        sqlx::query_as(
            "SELECT kind, error, error_detail FROM receipt_links \
             WHERE org_id = $1 AND mailbox_id = $2 AND (original_message_id = $3 OR match_key = $3) \
             AND kind IN ('accettazione', 'non-accettazione')",
        )
        .bind(org_id)
        .bind(mailbox_id)
        .bind(message_id)
        .fetch_all(p)
        .await
    })?;
    if rows.iter().any(|(k, _, _)| k == "accettazione") {
        return Ok(Some((true, None)));
    }
    Ok(rows.into_iter().next().map(|(_, e, d)| (false, d.or(e))))
}

/// A copy of our message among the mailbox's sent messages (its Sent folder, or our own
/// stored copy): the message went out.
pub async fn sent_copy(
    store: &Store,
    org_id: &str,
    mailbox_id: &str,
    message_id: &str,
) -> Result<Option<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT id FROM messages WHERE org_id = $1 AND internet_message_id = $2 \
         AND mailbox_id = $3 AND direction = 'out' ORDER BY id LIMIT 1"
    )
    .bind(org_id)
    .bind(message_id)
    .bind(mailbox_id)
    .fetch_optional(p)
    .await)?)
}

/// Back to `queued` (due now) a row whose claim expired, when it is still so.
pub async fn requeue_expired(store: &Store, id: &str, now: i64) -> Result<bool> {
    let n = with_pool!(store, |p| sqlx::query(
        "UPDATE outbox SET state = 'queued', not_before = $2, claimed_by = NULL, \
         claimed_until = NULL, updated_at = $2 \
         WHERE id = $1 AND state = 'sending' AND claimed_until < $2"
    )
    .bind(id)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A sent row whose copy is not stored yet.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnstoredRow {
    pub id: String,
    pub org_id: String,
    pub mailbox_id: String,
    pub raw: Vec<u8>,
}

/// Sent rows without their stored copy (the worker stores them after the send; a crash in
/// between is finished here).
pub async fn unstored(store: &Store, max: i64) -> Result<Vec<UnstoredRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, org_id, mailbox_id, raw FROM outbox \
         WHERE state = 'sent' AND stored_message_id IS NULL ORDER BY id LIMIT $1"
    )
    .bind(max)
    .fetch_all(p)
    .await)?)
}

/// Records the stored copy of a sent row.
pub async fn set_stored(store: &Store, id: &str, message_id: &str) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE outbox SET stored_message_id = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(message_id)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// One outbox row as an activity or a campaign shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxView {
    pub id: String,
    pub message_id: String,
    pub origin: String,
    pub draft_version: Option<i64>,
    pub recipients: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub smtp_reply: Option<String>,
    pub sent_at: Option<i64>,
    pub stored_message_id: Option<String>,
    pub created_at: i64,
}

const VIEW_COLUMNS: &str = "id, message_id, origin, draft_version, recipients, state, \
    CAST(attempts AS BIGINT) AS attempts, last_error, smtp_reply, sent_at, stored_message_id, \
    created_at";

/// The outbox rows of an activity, oldest first.
pub async fn of_activity(store: &Store, activity_id: &str) -> Result<Vec<OutboxView>> {
    let sql =
        format!("SELECT {VIEW_COLUMNS} FROM outbox WHERE activity_id = $1 ORDER BY created_at, id");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(activity_id)
        .fetch_all(p)
        .await)?)
}

/// One outbox row by id.
pub async fn view(store: &Store, id: &str) -> Result<Option<OutboxView>> {
    let sql = format!("SELECT {VIEW_COLUMNS} FROM outbox WHERE id = $1");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(p)
        .await)?)
}
