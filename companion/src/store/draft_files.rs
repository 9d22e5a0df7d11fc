//! Files of reply drafts (migration 0015): the bytes behind the names a draft lists, read
//! when the draft is sent.

use crate::error::Result;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// A file's metadata.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FileMeta {
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_at: i64,
}

/// A file with its bytes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FileRow {
    pub name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// A file to write.
#[derive(Debug)]
pub struct NewFile<'a> {
    pub activity_id: &'a str,
    pub name: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
    pub sha256: &'a str,
    pub uploaded_by: &'a str,
    pub now: i64,
}

/// Writes (or replaces) a file of an activity's draft.
pub async fn put(tx: &mut WriteTx, f: &NewFile<'_>) -> Result<()> {
    let size = i64::try_from(f.content.len()).unwrap_or(i64::MAX);
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO draft_files (activity_id, name, content_type, size, sha256, content, \
         uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (activity_id, name) DO UPDATE SET content_type = excluded.content_type, \
         size = excluded.size, sha256 = excluded.sha256, content = excluded.content, \
         uploaded_by = excluded.uploaded_by, uploaded_at = excluded.uploaded_at"
    )
    .bind(f.activity_id)
    .bind(f.name)
    .bind(f.content_type)
    .bind(size)
    .bind(f.sha256)
    .bind(f.content)
    .bind(f.uploaded_by)
    .bind(f.now)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Removes a file; whether there was one.
pub async fn delete(tx: &mut WriteTx, activity_id: &str, name: &str) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "DELETE FROM draft_files WHERE activity_id = $1 AND name = $2"
    )
    .bind(activity_id)
    .bind(name)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// One file with its bytes.
pub async fn get(store: &Store, activity_id: &str, name: &str) -> Result<Option<FileRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT name, content_type, content FROM draft_files WHERE activity_id = $1 AND name = $2"
    )
    .bind(activity_id)
    .bind(name)
    .fetch_optional(p)
    .await)?)
}

/// The files of an activity's draft (no bytes), by name.
pub async fn list(store: &Store, activity_id: &str) -> Result<Vec<FileMeta>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT name, content_type, size, sha256, uploaded_at FROM draft_files \
         WHERE activity_id = $1 ORDER BY name"
    )
    .bind(activity_id)
    .fetch_all(p)
    .await)?)
}

/// Total bytes of an activity's draft files other than `except`.
pub async fn total_size(store: &Store, activity_id: &str, except: &str) -> Result<i64> {
    let n: Option<i64> = with_pool!(store, |p| {
        sqlx::query_scalar(
        "SELECT CAST(SUM(size) AS BIGINT) FROM draft_files WHERE activity_id = $1 AND name <> $2"
    )
    .bind(activity_id)
    .bind(except)
    .fetch_one(p)
    .await
    })?;
    Ok(n.unwrap_or(0))
}
