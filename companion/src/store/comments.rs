//! Comments on activities (with their author's name) and their edit history.

use crate::error::Result;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// A stored comment.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentRow {
    pub id: String,
    pub activity_id: String,
    pub author_id: String,
    pub body: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    /// Display name of the author, read by the same query; `None` where not selected.
    #[sqlx(default)]
    pub author_name: Option<String>,
}

/// The columns of [`CommentRow`] for the comments row aliased `c`, the author's name
/// joined from `users` aliased `cu`.
const COMMENT_COLS: &str =
    "c.id, c.activity_id, c.author_id, c.body, c.created_at, c.edited_at, cu.name AS author_name";

/// An earlier text of a comment.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentEditRow {
    pub comment_id: String,
    pub body: String,
    pub replaced_at: i64,
}

/// The comments of an activity, oldest first.
pub async fn list(store: &Store, activity_id: &str) -> Result<Vec<CommentRow>> {
    let sql = format!(
        "SELECT {COMMENT_COLS} FROM comments c LEFT JOIN users cu ON cu.id = c.author_id \
         WHERE c.activity_id = $1 ORDER BY c.created_at, c.id"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(activity_id)
        .fetch_all(p)
        .await)?)
}

/// The earlier texts of every comment of an activity, oldest first (one query for all).
pub async fn history_of_activity(store: &Store, activity_id: &str) -> Result<Vec<CommentEditRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT ce.comment_id, ce.body, ce.replaced_at FROM comment_edits ce \
         JOIN comments c ON c.id = ce.comment_id WHERE c.activity_id = $1 \
         ORDER BY ce.replaced_at"
    )
    .bind(activity_id)
    .fetch_all(p)
    .await)?)
}

/// A comment of organisation `org`.
pub async fn load(store: &Store, org: &str, id: &str) -> Result<Option<CommentRow>> {
    let sql = format!(
        "SELECT {COMMENT_COLS} FROM comments c LEFT JOIN users cu ON cu.id = c.author_id \
         WHERE c.id = $1 AND c.org_id = $2"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(org)
        .fetch_optional(p)
        .await)?)
}

/// Inserts a new comment of organisation `org`.
pub async fn insert(tx: &mut WriteTx, org: &str, c: &CommentRow) -> Result<()> {
    with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO comments (id, org_id, activity_id, author_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(&c.id)
    .bind(org)
    .bind(&c.activity_id)
    .bind(&c.author_id)
    .bind(&c.body)
    .bind(c.created_at)
    .execute(&mut *conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Replaces a comment's text, keeping the old one in the history; returns the whole
/// history, oldest first.
pub async fn edit(tx: &mut WriteTx, id: &str, body: &str, now: i64) -> Result<Vec<CommentEditRow>> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO comment_edits (comment_id, body, replaced_at) \
         SELECT id, body, $2 FROM comments WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    with_tx!(tx, |c| sqlx::query(
        "UPDATE comments SET body = $1, edited_at = $2 WHERE id = $3"
    )
    .bind(body)
    .bind(now)
    .bind(id)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(with_tx!(tx, |c| sqlx::query_as(
        "SELECT comment_id, body, replaced_at FROM comment_edits WHERE comment_id = $1 \
         ORDER BY replaced_at"
    )
    .bind(id)
    .fetch_all(&mut *c)
    .await)?)
}
