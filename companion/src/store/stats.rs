//! The reads of the statistics (`GET /api/v1/stats`): the few columns of the messages
//! received, taken or worked in a range and of the activities open or closed in it, for
//! the domain to group and rank (percentiles are computed there: one query text serves
//! both engines).

use crate::error::Result;
use crate::store::Store;
use crate::with_pool;

/// The columns of a message the statistics group by and measure.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageFacts {
    /// Mailbox.
    pub mailbox_id: String,
    /// Team it was routed to.
    pub team_id: Option<String>,
    /// User it was routed to.
    pub routed_user_id: Option<String>,
    /// Who took it in charge.
    pub taken_by: Option<String>,
    /// Who set it worked.
    pub worked_by: Option<String>,
    /// Received (ms).
    pub received_at: i64,
    /// Taken in charge (ms).
    pub taken_at: Option<i64>,
    /// Worked (ms).
    pub worked_at: Option<i64>,
}

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

const MESSAGE_COLS: &str = "mailbox_id, routed_team_id AS team_id, routed_user_id, taken_by, \
     worked_by, received_at, taken_at, worked_at";

fn in_list(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Messages of `mailboxes` whose `event` happened in `[from, to)` (ms).
pub async fn messages(
    store: &Store,
    mailboxes: &[String],
    event: Event,
    from: i64,
    to: i64,
) -> Result<Vec<MessageFacts>> {
    if mailboxes.is_empty() {
        return Ok(Vec::new());
    }
    let (column, extra) = match event {
        Event::Received => (
            "received_at",
            " AND direction = 'in' AND kind IN ('posta-certificata', 'anomalia', 'not-pec')",
        ),
        Event::Taken => ("taken_at", ""),
        Event::Worked => ("worked_at", ""),
    };
    let sql = format!(
        "SELECT {MESSAGE_COLS} FROM messages WHERE mailbox_id IN ({}) \
         AND {column} >= $1 AND {column} < $2{extra}",
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
