//! Notifications (migration 0017): a user mentioned in a comment is told once per comment.
//! Written in the comment's own transaction; read and marked read by their recipient only
//! (every query names the organisation and the recipient).

use crate::error::Result;
use crate::store::{Store, WriteTx, new_id};
use crate::{bind_all, with_pool, with_tx};

use super::query::{Binds, after};

/// A stored notification, with the display name of who caused it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: String,
    /// `mention`.
    pub kind: String,
    pub activity_id: String,
    pub comment_id: String,
    pub by_user_id: String,
    /// Display name of `by_user_id`.
    pub by_name: Option<String>,
    pub excerpt: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// A mention to record.
#[derive(Debug, Clone)]
pub struct NewMention<'a> {
    pub org_id: &'a str,
    pub activity_id: &'a str,
    pub comment_id: &'a str,
    /// The comment's author.
    pub by_user_id: &'a str,
    pub excerpt: &'a str,
    pub created_at: i64,
}

/// Records a mention of each of `users` in a comment; a user already notified for this
/// comment is skipped. Returns the users notified now.
pub async fn insert_mentions(
    tx: &mut WriteTx,
    m: &NewMention<'_>,
    users: &[String],
) -> Result<Vec<String>> {
    let mut notified = Vec::new();
    for user in users {
        let n = with_tx!(tx, |c| sqlx::query(
            "INSERT INTO notifications (id, org_id, user_id, kind, activity_id, comment_id, \
             by_user_id, excerpt, created_at) VALUES ($1, $2, $3, 'mention', $4, $5, $6, $7, $8) \
             ON CONFLICT (comment_id, user_id, kind) DO NOTHING"
        )
        .bind(new_id())
        .bind(m.org_id)
        .bind(user)
        .bind(m.activity_id)
        .bind(m.comment_id)
        .bind(m.by_user_id)
        .bind(m.excerpt)
        .bind(m.created_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        if n > 0 {
            notified.push(user.clone());
        }
    }
    Ok(notified)
}

/// What [`list`] reads.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub org_id: &'a str,
    pub user_id: &'a str,
    /// Only those not yet read.
    pub unread_only: bool,
    /// After this `(created_at, id)` (newest first).
    pub after: Option<(i64, &'a str)>,
    pub limit: i64,
}

/// The notifications of one user, newest first.
pub async fn list(store: &Store, f: &ListFilter<'_>) -> Result<Vec<NotificationRow>> {
    let mut b = Binds::default();
    let org = b.text(f.org_id);
    let user = b.text(f.user_id);
    let mut sql = format!(
        "SELECT n.id, n.kind, n.activity_id, n.comment_id, n.by_user_id, u.name AS by_name, \
         n.excerpt, n.created_at, n.read_at FROM notifications n \
         LEFT JOIN users u ON u.id = n.by_user_id \
         WHERE n.org_id = {org} AND n.user_id = {user}"
    );
    if f.unread_only {
        sql.push_str(" AND n.read_at IS NULL");
    }
    if let Some((key, id)) = f.after {
        let cond = after(
            &mut b,
            "n.created_at",
            "n.id",
            super::query::Bind::Int(key),
            id,
            true,
        );
        sql.push_str(" AND ");
        sql.push_str(&cond);
    }
    let lim = b.int(f.limit);
    sql.push_str(&format!(
        " ORDER BY n.created_at DESC, n.id DESC LIMIT {lim}"
    ));
    Ok(with_pool!(store, |p| bind_all!(
        sqlx::query_as::<_, NotificationRow>(&sql),
        b
    )
    .fetch_all(p)
    .await)?)
}

/// Marks a notification of `user_id` read (the first reading time is kept); false when
/// the user has no such notification.
pub async fn mark_read(
    store: &Store,
    org_id: &str,
    user_id: &str,
    id: &str,
    now: i64,
) -> Result<Option<NotificationRow>> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE notifications SET read_at = COALESCE(read_at, $1) \
         WHERE id = $2 AND org_id = $3 AND user_id = $4"
    )
    .bind(now)
    .bind(id)
    .bind(org_id)
    .bind(user_id)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT n.id, n.kind, n.activity_id, n.comment_id, n.by_user_id, u.name AS by_name, \
         n.excerpt, n.created_at, n.read_at FROM notifications n \
         LEFT JOIN users u ON u.id = n.by_user_id \
         WHERE n.id = $1 AND n.org_id = $2 AND n.user_id = $3"
    )
    .bind(id)
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(p)
    .await)?)
}
