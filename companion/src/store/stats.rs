//! The reads of the statistics (`GET /api/v1/stats`): the few columns of the messages
//! received, taken or worked in a range and of the activities open or closed in it, for
//! the domain to group and rank (percentiles are computed there: one query text serves
//! both engines).

use crate::error::Result;
use crate::store::Store;
use crate::with_pool;

/// The columns of an activity the statistics group by and measure.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityFacts {
    /// Mailbox.
    pub mailbox_id: String,
    /// Assigned team.
    pub team_id: Option<String>,
    /// Assignee.
    pub assignee_id: Option<String>,
    /// Due (ms).
    pub due_at: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
    /// Closed, done or cancelled (ms); `None` while open.
    pub closed_at: Option<i64>,
}

/// Which event of a message a range selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Received (incoming PEC and mail, not receipts).
    Received,
    /// Taken in charge.
    Taken,
    /// Set worked.
    Worked,
}

fn in_list(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The column a message's event is timed by, and the filter of received messages.
fn event_column(event: Event) -> (&'static str, &'static str) {
    match event {
        Event::Received => (
            "received_at",
            " AND direction = 'in' AND kind IN ('posta-certificata', 'anomalia', 'not-pec')",
        ),
        Event::Taken => ("taken_at", ""),
        Event::Worked => ("worked_at", ""),
    }
}

/// A grouping column of `messages` (checked against a fixed list: it is put in the SQL).
fn key_expr(key: Option<&'static str>) -> &'static str {
    match key {
        Some("mailbox_id") => "mailbox_id",
        Some("routed_team_id") => "routed_team_id",
        Some("routed_user_id") => "routed_user_id",
        Some("taken_by") => "taken_by",
        Some("worked_by") => "worked_by",
        _ => "CAST(NULL AS TEXT)",
    }
}

/// How many messages of `mailboxes` had `event` in `[from, to)` (ms), per value of `key`
/// (a column of `messages`, or none) and, with `by_day`, per day (days since the epoch, UTC).
pub async fn count(
    store: &Store,
    mailboxes: &[String],
    event: Event,
    key: Option<&'static str>,
    by_day: bool,
    from: i64,
    to: i64,
) -> Result<Vec<(Option<String>, i64, i64)>> {
    if mailboxes.is_empty() {
        return Ok(Vec::new());
    }
    let (column, extra) = event_column(event);
    let day = if by_day {
        format!("{column} / 86400000")
    } else {
        "CAST(0 AS BIGINT)".to_owned()
    };
    let sql = format!(
        "SELECT {} AS k, {day} AS d, COUNT(*) AS n FROM messages WHERE mailbox_id IN ({}) \
         AND {column} >= $1 AND {column} < $2{extra} GROUP BY 1, 2",
        key_expr(key),
        in_list(3, mailboxes.len())
    );
    Ok(with_pool!(store, |p| {
        let mut q = sqlx::query_as(&sql).bind(from).bind(to);
        for m in mailboxes {
            q = q.bind(m);
        }
        q.fetch_all(p).await
    })?)
}

/// `(key, event time, received_at)` of the messages of `mailboxes` whose `event` happened
/// in `[from, to)` (ms): what the durations need.
pub async fn timings(
    store: &Store,
    mailboxes: &[String],
    event: Event,
    key: Option<&'static str>,
    from: i64,
    to: i64,
) -> Result<Vec<(Option<String>, i64, i64)>> {
    if mailboxes.is_empty() {
        return Ok(Vec::new());
    }
    let (column, extra) = event_column(event);
    let sql = format!(
        "SELECT {} AS k, {column} AS t, received_at FROM messages WHERE mailbox_id IN ({}) \
         AND {column} >= $1 AND {column} < $2{extra}",
        key_expr(key),
        in_list(3, mailboxes.len())
    );
    Ok(with_pool!(store, |p| {
        let mut q = sqlx::query_as(&sql).bind(from).bind(to);
        for m in mailboxes {
            q = q.bind(m);
        }
        q.fetch_all(p).await
    })?)
}

/// Activities of `mailboxes` open now, or closed at or after `from` with a due date before
/// `to` (what overdue-over-time needs).
pub async fn activities(
    store: &Store,
    mailboxes: &[String],
    from: i64,
    to: i64,
) -> Result<Vec<ActivityFacts>> {
    if mailboxes.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT mailbox_id, team_id, assignee_id, due_at, created_at, closed_at FROM activities \
         WHERE mailbox_id IN ({}) AND (closed_at IS NULL \
         OR (closed_at >= $1 AND due_at IS NOT NULL AND due_at < $2))",
        in_list(3, mailboxes.len())
    );
    Ok(with_pool!(store, |p| {
        let mut q = sqlx::query_as(&sql).bind(from).bind(to);
        for m in mailboxes {
            q = q.bind(m);
        }
        q.fetch_all(p).await
    })?)
}

/// `(id, name)` of the organisation's users, teams and mailboxes, for the labels.
pub async fn names(store: &Store, org_id: &str) -> Result<Vec<(String, String)>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, name FROM users WHERE org_id = $1 \
         UNION ALL SELECT id, name FROM teams WHERE org_id = $1 \
         UNION ALL SELECT id, address FROM mailboxes WHERE org_id = $1"
    )
    .bind(org_id)
    .fetch_all(p)
    .await)?)
}
