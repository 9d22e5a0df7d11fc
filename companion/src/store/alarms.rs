//! Alarms (migration 0019): what is due, the claim that makes each alarm fire exactly once
//! across replicas, the e-mail deliveries and the recipients' and supervisors' lists.
//!
//! **Exactly once.** [`claim`] inserts the alarm under its unique key `(kind, object_type,
//! object_id, stage, occurrence)` with `ON CONFLICT DO NOTHING`: the replica whose insert
//! took a row won and writes, in the same transaction (which holds the organisation's audit
//! head), the recipients, one delivery row each and the `alarm.fire` audit entry; a replica
//! that inserted nothing lost and writes nothing. Deliveries are claimed by
//! [`claim_deliveries`] (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers)
//! and committed as claimed before any SMTP, then marked sent: a sent row is never claimed
//! again.

use crate::error::Result;
use crate::store::audit::{Action, Chain, Entry};
use crate::store::query::{Bind, Binds, after};
use crate::store::{Engine, Store, new_id};
use crate::{bind_all, with_pool, with_tx};

/// An open activity with a due date.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueActivity {
    pub id: String,
    pub org_id: String,
    pub mailbox_id: String,
    pub due_at: i64,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
}

/// Open activities whose due date lies in `[from, to]`, except those already escalated for
/// that due date (nothing more can fire for them: each pass stays proportional to the
/// activities near their due date, not to every late one).
pub async fn due_activities(store: &Store, from: i64, to: i64) -> Result<Vec<DueActivity>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT a.id, a.org_id, a.mailbox_id, a.due_at, a.assignee_id, a.team_id \
         FROM activities a WHERE a.due_at IS NOT NULL AND a.due_at >= $1 AND a.due_at <= $2 \
         AND a.status NOT IN ('done', 'cancelled') AND NOT EXISTS (SELECT 1 FROM alarms al \
         WHERE al.kind = 'activity_due' AND al.object_type = 'activity' \
         AND al.object_id = a.id AND al.stage = 'escalation' AND al.occurrence = a.due_at) \
         ORDER BY a.due_at, a.id"
    )
    .bind(from)
    .bind(to)
    .fetch_all(p)
    .await)?)
}

/// The enabled users among `user_id` and the members of `team_id`.
pub async fn assignees(
    store: &Store,
    org_id: &str,
    user_id: Option<&str>,
    team_id: Option<&str>,
) -> Result<Vec<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT u.id FROM users u WHERE u.org_id = $1 AND u.disabled = $4 AND (u.id = $2 \
         OR u.id IN (SELECT tm.user_id FROM team_members tm WHERE tm.team_id = $3)) \
         ORDER BY u.id"
    )
    .bind(org_id)
    .bind(user_id)
    .bind(team_id)
    .bind(false)
    .fetch_all(p)
    .await)?)
}

/// The enabled users holding `policy` on `mailbox_id`, themselves or through a team.
pub async fn holders(
    store: &Store,
    org_id: &str,
    mailbox_id: &str,
    policy: &str,
) -> Result<Vec<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT u.id FROM users u WHERE u.org_id = $1 AND u.disabled = $4 AND u.id IN ( \
         SELECT g.user_id FROM grants g WHERE g.mailbox_id = $2 AND g.policy = $3 \
         AND g.user_id IS NOT NULL \
         UNION SELECT tm.user_id FROM grants g JOIN team_members tm ON tm.team_id = g.team_id \
         WHERE g.mailbox_id = $2 AND g.policy = $3) ORDER BY u.id"
    )
    .bind(org_id)
    .bind(mailbox_id)
    .bind(policy)
    .bind(false)
    .fetch_all(p)
    .await)?)
}

/// The enabled administrators of an organisation (recipients of last resort).
pub async fn admins(store: &Store, org_id: &str) -> Result<Vec<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT id FROM users WHERE org_id = $1 AND is_admin = $2 AND disabled = $3 ORDER BY id"
    )
    .bind(org_id)
    .bind(true)
    .bind(false)
    .fetch_all(p)
    .await)?)
}

/// A sent message (outbox row) whose recipients may still lack a delivery receipt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SentRow {
    pub id: String,
    pub org_id: String,
    pub mailbox_id: String,
    pub sent_at: i64,
    pub activity_id: Option<String>,
    pub campaign_id: Option<String>,
    /// The campaign's author, for a campaign message.
    pub campaign_by: Option<String>,
}

/// Outbox rows sent within `[from, to]`.
pub async fn sent_between(store: &Store, from: i64, to: i64) -> Result<Vec<SentRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT o.id, o.org_id, o.mailbox_id, o.sent_at, o.activity_id, o.campaign_id, \
         c.created_by AS campaign_by FROM outbox o \
         LEFT JOIN campaigns c ON c.id = o.campaign_id \
         WHERE o.state = 'sent' AND o.sent_at >= $1 AND o.sent_at <= $2 ORDER BY o.sent_at, o.id"
    )
    .bind(from)
    .bind(to)
    .fetch_all(p)
    .await)?)
}

/// A mailbox with what its alarms read: password expiry, ingestion health, quota.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailboxState {
    pub id: String,
    pub org_id: String,
    pub ingest_enabled: bool,
    pub app_password_expires_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_error_at: Option<i64>,
    pub quota_used_kb: Option<i64>,
    pub quota_total_kb: Option<i64>,
    pub quota_read_at: Option<i64>,
}

/// Every mailbox with its health.
pub async fn mailbox_states(store: &Store) -> Result<Vec<MailboxState>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT m.id, m.org_id, m.ingest_enabled, m.app_password_expires_at, \
         h.last_success_at, h.last_error_at, h.quota_used_kb, h.quota_total_kb, h.quota_read_at \
         FROM mailboxes m LEFT JOIN mailbox_health h ON h.mailbox_id = m.id ORDER BY m.id"
    )
    .fetch_all(p)
    .await)?)
}

/// Keeps a quota reading (once per reading time) and answers the oldest reading kept since
/// `since`, `(read_at, used_kb)`.
pub async fn record_quota(
    store: &Store,
    mailbox_id: &str,
    read_at: i64,
    used_kb: i64,
    total_kb: i64,
    since: i64,
) -> Result<Option<(i64, i64)>> {
    with_pool!(store, |p| sqlx::query(
        "INSERT INTO quota_readings (mailbox_id, read_at, used_kb, total_kb) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox_id, read_at) DO NOTHING"
    )
    .bind(mailbox_id)
    .bind(read_at)
    .bind(used_kb)
    .bind(total_kb)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT read_at, used_kb FROM quota_readings WHERE mailbox_id = $1 AND read_at >= $2 \
         ORDER BY read_at LIMIT 1"
    )
    .bind(mailbox_id)
    .bind(since)
    .fetch_optional(p)
    .await)?)
}

/// An alarm to claim.
#[derive(Debug, Clone)]
pub struct NewAlarm<'a> {
    pub org_id: &'a str,
    pub mailbox_id: Option<&'a str>,
    pub kind: &'a str,
    pub stage: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    /// See the migration: what makes a new occurrence of the same alarm.
    pub occurrence: i64,
    /// When the condition began to hold.
    pub due_at: i64,
}

/// Whether the alarm is already stored (a cheap test before [`claim`], which takes the
/// organisation's audit head).
pub async fn exists(store: &Store, a: &NewAlarm<'_>) -> Result<bool> {
    let n: Option<i64> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM alarms WHERE kind = $1 AND object_type = $2 \
         AND object_id = $3 AND stage = $4 AND occurrence = $5"
    )
    .bind(a.kind)
    .bind(a.object_type)
    .bind(a.object_id)
    .bind(a.stage)
    .bind(a.occurrence)
    .fetch_optional(p)
    .await)?;
    Ok(n.is_some())
}

/// Claims the alarm: `Some(id)` when this call stored it (and its recipients, their
/// deliveries — `queued`, or `unsent` when `email` is false — and the `alarm.fire` audit
/// entry, all in one transaction); `None` when another call, here or on another replica,
/// already did.
pub async fn claim(
    store: &Store,
    a: &NewAlarm<'_>,
    recipients: &[String],
    email: bool,
    now: i64,
) -> Result<Option<String>> {
    let mut tx = store.begin_write(Chain::Org(a.org_id)).await?;
    let id = new_id();
    let won = with_tx!(tx, |c| sqlx::query(
        "INSERT INTO alarms (id, org_id, mailbox_id, kind, stage, object_type, object_id, \
         occurrence, due_at, fired_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         'open') ON CONFLICT (kind, object_type, object_id, stage, occurrence) DO NOTHING"
    )
    .bind(&id)
    .bind(a.org_id)
    .bind(a.mailbox_id)
    .bind(a.kind)
    .bind(a.stage)
    .bind(a.object_type)
    .bind(a.object_id)
    .bind(a.occurrence)
    .bind(a.due_at)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    if won == 0 {
        // Lost: the transaction rolls back on drop, nothing was written.
        return Ok(None);
    }
    let state = if email { "queued" } else { "unsent" };
    let error = (!email).then_some(
        "non inviata: nessun server SMTP configurato ([alarms] smtp_url) / not sent: no SMTP \
         configured ([alarms] smtp_url)",
    );
    for user in recipients {
        with_tx!(tx, |c| sqlx::query(
            "INSERT INTO alarm_recipients (alarm_id, user_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING"
        )
        .bind(&id)
        .bind(user)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
        with_tx!(tx, |c| sqlx::query(
            "INSERT INTO alarm_deliveries (id, alarm_id, user_id, state, not_before, last_error, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $5, $5) \
             ON CONFLICT (alarm_id, user_id) DO NOTHING"
        )
        .bind(new_id())
        .bind(&id)
        .bind(user)
        .bind(state)
        .bind(now)
        .bind(error)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    tx.audit(Entry {
        org_id: Some(a.org_id),
        actor_id: None,
        action: Action::AlarmFire,
        object_type: "alarm",
        object_id: &id,
        // Ids only: recipients by user id, never their addresses.
        details: serde_json::json!({
            "kind": a.kind,
            "stage": a.stage,
            "object_type": a.object_type,
            "object_id": a.object_id,
            "recipients": recipients,
        }),
    })
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// A claimed delivery with what its e-mail needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryJob {
    pub id: String,
    pub alarm_id: String,
    pub attempts: i64,
    pub email: String,
    pub name: String,
    pub org_id: String,
    pub kind: String,
    pub stage: String,
    pub object_type: String,
    pub object_id: String,
    pub due_at: i64,
}

/// Puts back deliveries whose sender's claim ran out (a crash mid-send): they go again.
pub async fn recover_deliveries(store: &Store, now: i64) -> Result<u64> {
    Ok(with_pool!(store, |p| sqlx::query(
        "UPDATE alarm_deliveries SET state = 'queued', claimed_by = NULL, claimed_until = NULL, \
         updated_at = $1 WHERE state = 'sending' AND claimed_until < $1"
    )
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Claims up to `max` due deliveries for `worker` until `until` and COMMITS (nothing is
/// sent before the claim is durable). Rows another replica holds are skipped.
pub async fn claim_deliveries(
    store: &Store,
    worker: &str,
    now: i64,
    until: i64,
    max: i64,
) -> Result<Vec<DeliveryJob>> {
    let lock = match store.engine() {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE alarm_deliveries SET state = 'sending', attempts = attempts + 1, \
         claimed_by = $2, claimed_until = $3, updated_at = $1 \
         WHERE state = 'queued' AND id IN (SELECT id FROM alarm_deliveries \
         WHERE state = 'queued' AND not_before <= $1 \
         ORDER BY not_before, id LIMIT $4{lock}) RETURNING id"
    );
    let ids: Vec<String> = with_pool!(store, |p| sqlx::query_scalar(&sql)
        .bind(now)
        .bind(worker)
        .bind(until)
        .bind(max)
        .fetch_all(p)
        .await)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut b = Binds::default();
    let list = b.list(&ids);
    let w = b.text(worker);
    let sql = format!(
        "SELECT d.id, d.alarm_id, CAST(d.attempts AS BIGINT) AS attempts, u.email, u.name, \
         a.org_id, a.kind, a.stage, a.object_type, a.object_id, a.due_at \
         FROM alarm_deliveries d JOIN alarms a ON a.id = d.alarm_id \
         JOIN users u ON u.id = d.user_id WHERE d.id IN {list} AND d.claimed_by = {w} \
         ORDER BY d.id"
    );
    Ok(with_pool!(store, |p| bind_all!(
        sqlx::query_as::<_, DeliveryJob>(&sql),
        b
    )
    .fetch_all(p)
    .await)?)
}

/// The SMTP server took the e-mail: `sent`, for good.
pub async fn mark_sent(store: &Store, id: &str, worker: &str, now: i64, reply: &str) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE alarm_deliveries SET state = 'sent', sent_at = $3, smtp_reply = $4, \
         last_error = NULL, claimed_by = NULL, claimed_until = NULL, updated_at = $3 \
         WHERE id = $1 AND state = 'sending' AND claimed_by = $2"
    )
    .bind(id)
    .bind(worker)
    .bind(now)
    .bind(reply)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The send failed: `queued` again not before `not_before`, or `failed` for good when
/// `not_before` is `None`.
pub async fn mark_failed(
    store: &Store,
    id: &str,
    worker: &str,
    now: i64,
    not_before: Option<i64>,
    error: &str,
) -> Result<()> {
    let state = if not_before.is_some() {
        "queued"
    } else {
        "failed"
    };
    with_pool!(store, |p| sqlx::query(
        "UPDATE alarm_deliveries SET state = $3, not_before = COALESCE($4, not_before), \
         last_error = $5, claimed_by = NULL, claimed_until = NULL, updated_at = $6 \
         WHERE id = $1 AND state = 'sending' AND claimed_by = $2"
    )
    .bind(id)
    .bind(worker)
    .bind(state)
    .bind(not_before)
    .bind(error)
    .bind(now)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A stored alarm.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlarmRow {
    pub id: String,
    pub org_id: String,
    pub mailbox_id: Option<String>,
    pub kind: String,
    pub stage: String,
    pub object_type: String,
    pub object_id: String,
    pub due_at: i64,
    pub fired_at: i64,
    pub state: String,
    pub acked_by: Option<String>,
    pub acked_at: Option<i64>,
}

const ALARM_COLS: &str = "a.id, a.org_id, a.mailbox_id, a.kind, a.stage, a.object_type, \
     a.object_id, a.due_at, a.fired_at, a.state, a.acked_by, a.acked_at";

/// A delivery as listed with its alarm.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub alarm_id: String,
    pub user_id: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

/// What [`list`] reads.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub org_id: &'a str,
    pub user_id: &'a str,
    /// Every alarm of the organisation (administrators).
    pub all: bool,
    /// Mailboxes whose alarms the caller supervises.
    pub supervised: Vec<String>,
    pub state: Option<&'a str>,
    pub kind: Option<&'a str>,
    /// After this `(fired_at, id)` (newest first).
    pub after: Option<(i64, &'a str)>,
    pub limit: i64,
}

/// Alarms the caller receives or supervises, newest first.
pub async fn list(store: &Store, f: &ListFilter<'_>) -> Result<Vec<AlarmRow>> {
    let mut b = Binds::default();
    let org = b.text(f.org_id);
    let mut sql = format!("SELECT {ALARM_COLS} FROM alarms a WHERE a.org_id = {org}");
    if !f.all {
        let user = b.text(f.user_id);
        let boxes = b.list(&f.supervised);
        sql.push_str(&format!(
            " AND (a.mailbox_id IN {boxes} OR EXISTS (SELECT 1 FROM alarm_recipients r \
             WHERE r.alarm_id = a.id AND r.user_id = {user}))"
        ));
    }
    if let Some(s) = f.state {
        let s = b.text(s);
        sql.push_str(&format!(" AND a.state = {s}"));
    }
    if let Some(k) = f.kind {
        let k = b.text(k);
        sql.push_str(&format!(" AND a.kind = {k}"));
    }
    if let Some((key, id)) = f.after {
        let cond = after(&mut b, "a.fired_at", "a.id", Bind::Int(key), id, true);
        sql.push_str(" AND ");
        sql.push_str(&cond);
    }
    let lim = b.int(f.limit);
    sql.push_str(&format!(" ORDER BY a.fired_at DESC, a.id DESC LIMIT {lim}"));
    Ok(with_pool!(store, |p| bind_all!(
        sqlx::query_as::<_, AlarmRow>(&sql),
        b
    )
    .fetch_all(p)
    .await)?)
}

/// One alarm of an organisation.
pub async fn get(store: &Store, org_id: &str, id: &str) -> Result<Option<AlarmRow>> {
    let sql = format!("SELECT {ALARM_COLS} FROM alarms a WHERE a.id = $1 AND a.org_id = $2");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(p)
        .await)?)
}

/// The recipients (user ids) of each of `ids`.
pub async fn recipients_of(store: &Store, ids: &[String]) -> Result<Vec<(String, String)>> {
    let mut b = Binds::default();
    let list = b.list(ids);
    let sql = format!(
        "SELECT alarm_id, user_id FROM alarm_recipients WHERE alarm_id IN {list} \
         ORDER BY alarm_id, user_id"
    );
    Ok(with_pool!(store, |p| bind_all!(
        sqlx::query_as::<_, (String, String)>(&sql),
        b
    )
    .fetch_all(p)
    .await)?)
}

/// The deliveries of each of `ids`.
pub async fn deliveries_of(store: &Store, ids: &[String]) -> Result<Vec<DeliveryRow>> {
    let mut b = Binds::default();
    let list = b.list(ids);
    let sql = format!(
        "SELECT alarm_id, user_id, state, CAST(attempts AS BIGINT) AS attempts, last_error, \
         sent_at FROM alarm_deliveries WHERE alarm_id IN {list} ORDER BY alarm_id, user_id"
    );
    Ok(with_pool!(store, |p| bind_all!(
        sqlx::query_as::<_, DeliveryRow>(&sql),
        b
    )
    .fetch_all(p)
    .await)?)
}

/// Acknowledges an open alarm (`alarm.ack` in the same transaction); false when it was
/// already acknowledged (nothing written).
pub async fn ack(store: &Store, org_id: &str, id: &str, user_id: &str, now: i64) -> Result<bool> {
    let mut tx = store.begin_write(Chain::Org(org_id)).await?;
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE alarms SET state = 'acked', acked_by = $3, acked_at = $4 \
         WHERE id = $1 AND org_id = $2 AND state = 'open'"
    )
    .bind(id)
    .bind(org_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    tx.audit(Entry {
        org_id: Some(org_id),
        actor_id: Some(user_id),
        action: Action::AlarmAck,
        object_type: "alarm",
        object_id: id,
        details: serde_json::json!({}),
    })
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// An activity's assignee and team.
pub async fn assignment_of(
    store: &Store,
    id: &str,
) -> Result<Option<(Option<String>, Option<String>)>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT assignee_id, team_id FROM activities WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?)
}

/// The title of an activity (for the e-mail only: never logged).
pub async fn activity_title(store: &Store, id: &str) -> Result<Option<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT title FROM activities WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?)
}

/// The name and address of a mailbox (for the e-mail only).
pub async fn mailbox_label(store: &Store, id: &str) -> Result<Option<(String, String)>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT name, address FROM mailboxes WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?)
}
