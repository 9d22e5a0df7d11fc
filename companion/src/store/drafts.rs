//! Drafts and approvals: the reply draft of an activity (one per activity, versioned) and
//! the approver's decisions, each bound to the draft version it saw.

use pecdesk_core::activity::Decision;

use crate::error::Result;
use crate::store::WriteTx;
use crate::with_tx;

/// A stored draft; `content` is the JSON of the draft's fields.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DraftRow {
    pub version: i64,
    pub content: String,
    pub updated_by: String,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
}

impl DraftRow {
    /// The version still to send, if the draft has not gone out.
    pub fn unsent_version(&self) -> Option<i64> {
        self.sent_at.is_none().then_some(self.version)
    }
}

/// Writes the draft of an activity: version 1, or the next version of a draft not yet
/// sent. Returns the version written, or `None` when the draft has already gone out. One
/// statement, so two editors get consecutive versions.
pub async fn write(
    tx: &mut WriteTx,
    activity_id: &str,
    content: &str,
    updated_by: &str,
    now: i64,
) -> Result<Option<i64>> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO drafts (activity_id, version, content, updated_by, updated_at) \
         VALUES ($1, 1, $2, $3, $4) ON CONFLICT (activity_id) DO UPDATE SET \
         version = drafts.version + 1, content = excluded.content, \
         updated_by = excluded.updated_by, updated_at = excluded.updated_at \
         WHERE drafts.sent_at IS NULL RETURNING version"
    )
    .bind(activity_id)
    .bind(content)
    .bind(updated_by)
    .bind(now)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Marks the draft sent.
pub async fn mark_sent(tx: &mut WriteTx, activity_id: &str, now: i64) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE drafts SET sent_at = $1 WHERE activity_id = $2"
    )
    .bind(now)
    .bind(activity_id)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Voids any approval after a draft edit: `status` is where the activity falls back to.
pub async fn void_approval(
    tx: &mut WriteTx,
    activity_id: &str,
    status: &str,
    now: i64,
) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE activities SET status = $1, approved_draft_version = NULL, version = version + 1, \
         updated_at = $2 WHERE id = $3"
    )
    .bind(status)
    .bind(now)
    .bind(activity_id)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// One decision of the approver.
#[derive(Debug, Clone)]
pub struct ApprovalRow<'a> {
    pub id: String,
    pub activity_id: &'a str,
    /// The draft version the decision is about.
    pub draft_version: i64,
    pub decision: Decision,
    pub note: &'a str,
    pub decided_by: &'a str,
    pub decided_at: i64,
}

/// Records a decision.
pub async fn insert_approval(tx: &mut WriteTx, a: &ApprovalRow<'_>) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO approvals (id, activity_id, draft_version, decision, note, decided_by, \
         decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(&a.id)
    .bind(a.activity_id)
    .bind(a.draft_version)
    .bind(a.decision.as_str())
    .bind(a.note)
    .bind(a.decided_by)
    .bind(a.decided_at)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}
