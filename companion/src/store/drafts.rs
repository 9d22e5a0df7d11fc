//! Drafts and approvals: the reply draft of an activity (one per activity, versioned, with
//! who wrote each version), and the approval conversation: each request for approval and
//! each decision of the approver, with its note, bound to the draft version it saw.

use pecdesk_core::activity::Decision;

use crate::error::Result;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

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
/// sent, and records who wrote that version (segregation of duties: nobody approves a
/// draft they wrote or edited). Returns the version written, or `None` when the draft has
/// already gone out. One statement for the draft, so two editors get consecutive versions.
pub async fn write(
    tx: &mut WriteTx,
    activity_id: &str,
    content: &str,
    updated_by: &str,
    now: i64,
) -> Result<Option<i64>> {
    let version: Option<i64> = with_tx!(tx, |c| sqlx::query_scalar(
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
    .await)?;
    if let Some(v) = version {
        with_tx!(tx, |c| sqlx::query(
            "INSERT INTO draft_edits (activity_id, version, edited_by, edited_at) \
             VALUES ($1, $2, $3, $4)"
        )
        .bind(activity_id)
        .bind(v)
        .bind(updated_by)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    Ok(version)
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

/// Marks version `version` of the draft sent; `false` when the draft is at another version
/// or already sent (the caller composed a version that is no longer the draft).
pub async fn mark_sent_version(
    tx: &mut WriteTx,
    activity_id: &str,
    version: i64,
    now: i64,
) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE drafts SET sent_at = $1 WHERE activity_id = $2 AND version = $3 \
         AND sent_at IS NULL"
    )
    .bind(now)
    .bind(activity_id)
    .bind(version)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Voids any approval after a draft edit: `status` is where the activity falls back to.
/// The activity's version moves only when the edit changes the activity (its status falls
/// back or an approval is voided), so an editor's next move with the version they read
/// is not refused as stale for their own edit. Returns the activity's version after.
pub async fn void_approval(
    tx: &mut WriteTx,
    activity_id: &str,
    status: &str,
    now: i64,
) -> Result<i64> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "UPDATE activities SET version = CASE WHEN status <> $1 OR \
         approved_draft_version IS NOT NULL THEN version + 1 ELSE version END, \
         status = $1, approved_draft_version = NULL, updated_at = $2 WHERE id = $3 \
         RETURNING version"
    )
    .bind(status)
    .bind(now)
    .bind(activity_id)
    .fetch_one(&mut *c)
    .await)?)
}

/// One step of the approval conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Someone asked the approver to approve the current draft.
    Request,
    /// The approver decided.
    Decision(Decision),
}

impl Step {
    /// The stored (and wire) name: `request`, `approve`, `request_changes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Request => "request",
            Step::Decision(d) => d.as_str(),
        }
    }
}

/// One step to record: a request for approval or a decision.
#[derive(Debug, Clone)]
pub struct ApprovalRow<'a> {
    pub id: String,
    pub activity_id: &'a str,
    /// The draft version the step is about.
    pub draft_version: i64,
    pub step: Step,
    pub note: &'a str,
    /// Who asked, or who decided.
    pub decided_by: &'a str,
    pub decided_at: i64,
    /// The activity's version after the step (orders the steps of one activity).
    pub activity_version: i64,
}

/// Records a request or a decision.
pub async fn insert_approval(tx: &mut WriteTx, a: &ApprovalRow<'_>) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO approvals (id, activity_id, draft_version, decision, note, decided_by, \
         decided_at, activity_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(&a.id)
    .bind(a.activity_id)
    .bind(a.draft_version)
    .bind(a.step.as_str())
    .bind(a.note)
    .bind(a.decided_by)
    .bind(a.decided_at)
    .bind(a.activity_version)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A stored step of an activity's draft history: an edit of the draft (`edit`), a request
/// for approval (`request`) or a decision (`approve`, `request_changes`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub kind: String,
    pub draft_version: i64,
    pub note: String,
    pub by_id: String,
    /// The display name (none if the user row is gone).
    pub by_name: Option<String>,
    pub at: i64,
    /// Orders the requests and decisions of one activity (0 before migration 0006).
    pub activity_version: i64,
}

/// What an activity's draft went through: who wrote it, and the approval conversation.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Everyone who wrote or edited a version of the draft, without repeats, in the order
    /// of their first version.
    pub authors: Vec<String>,
    /// Requests and decisions, oldest first.
    pub steps: Vec<StepRow>,
}

impl History {
    fn from_rows(rows: Vec<StepRow>) -> Self {
        let (mut edits, mut steps): (Vec<StepRow>, Vec<StepRow>) =
            rows.into_iter().partition(|r| r.kind == "edit");
        edits.sort_by_key(|r| r.draft_version);
        let mut authors: Vec<String> = Vec::new();
        for e in edits {
            if !authors.contains(&e.by_id) {
                authors.push(e.by_id);
            }
        }
        steps.sort_by_key(|r| (r.activity_version, r.at, r.kind != Step::Request.as_str()));
        History { authors, steps }
    }

    /// Who asked for the latest approval.
    pub fn requested_by(&self) -> Option<&str> {
        self.steps
            .iter()
            .rev()
            .find(|r| r.kind == Step::Request.as_str())
            .map(|r| r.by_id.as_str())
    }
}

/// The draft's edits and the approval steps of one activity (the caller scoped the
/// activity by organisation).
const HISTORY: &str = "SELECT 'edit' AS kind, e.version AS draft_version, '' AS note, \
    e.edited_by AS by_id, u.name AS by_name, e.edited_at AS at, \
    CAST(0 AS BIGINT) AS activity_version \
    FROM draft_edits e LEFT JOIN users u ON u.id = e.edited_by WHERE e.activity_id = $1 \
    UNION ALL \
    SELECT p.decision, p.draft_version, p.note, p.decided_by, u.name, p.decided_at, \
    p.activity_version \
    FROM approvals p LEFT JOIN users u ON u.id = p.decided_by WHERE p.activity_id = $1";

/// Reads an activity's [`History`].
pub async fn history(store: &Store, activity_id: &str) -> Result<History> {
    let rows: Vec<StepRow> = with_pool!(store, |p| sqlx::query_as(HISTORY)
        .bind(activity_id)
        .fetch_all(p)
        .await)?;
    Ok(History::from_rows(rows))
}

/// [`history`] inside a write transaction (after a write, on its connection).
pub async fn history_tx(tx: &mut WriteTx, activity_id: &str) -> Result<History> {
    let rows: Vec<StepRow> = with_tx!(tx, |c| sqlx::query_as(HISTORY)
        .bind(activity_id)
        .fetch_all(&mut *c)
        .await)?;
    Ok(History::from_rows(rows))
}
