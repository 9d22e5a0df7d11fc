//! The reads of an evidence pack: a mailbox's messages in a range, the activities of
//! messages, and which audit entries of a chain are about given objects.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::store::Store;
use crate::store::messages::{MESSAGE_COLS, MessageRow, TAKEN_BY_NAME};
use crate::with_pool;

/// Ids bound per statement (SQLite's limit on host parameters is far above).
const CHUNK: usize = 400;

fn placeholders(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Messages of `mailbox_id` (organisation `org_id`) received in `[from, to)` (ms), oldest
/// first, at most `limit`.
pub async fn messages_in_range(
    store: &Store,
    org_id: &str,
    mailbox_id: &str,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<MessageRow>> {
    let sql = format!(
        "SELECT {MESSAGE_COLS}, {TAKEN_BY_NAME} FROM messages m \
         WHERE m.mailbox_id = $1 AND m.org_id = $2 AND m.received_at >= $3 AND m.received_at < $4 \
         ORDER BY m.received_at, m.id LIMIT $5"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(mailbox_id)
        .bind(org_id)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(p)
        .await)?)
}

/// Ids of the activities linked to any of `message_ids`, sorted.
pub async fn activities_of_messages(store: &Store, message_ids: &[String]) -> Result<Vec<String>> {
    let mut out = BTreeSet::new();
    for chunk in message_ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT DISTINCT activity_id FROM activity_messages WHERE message_id IN ({})",
            placeholders(1, chunk.len())
        );
        let ids: Vec<String> = with_pool!(store, |p| {
            let mut q = sqlx::query_scalar(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(p).await
        })?;
        out.extend(ids);
    }
    Ok(out.into_iter().collect())
}

/// Ids of the comments of an activity.
pub async fn comment_ids(store: &Store, activity_id: &str) -> Result<Vec<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT id FROM comments WHERE activity_id = $1 ORDER BY id"
    )
    .bind(activity_id)
    .fetch_all(p)
    .await)?)
}

/// Sequence numbers of the entries of `chain` about `object_type` objects with these ids.
pub async fn audit_seqs_about(
    store: &Store,
    chain: &str,
    object_type: &str,
    ids: &[String],
) -> Result<BTreeSet<i64>> {
    let mut out = BTreeSet::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT seq FROM audit_log WHERE chain = $1 AND object_type = $2 AND object_id IN ({})",
            placeholders(3, chunk.len())
        );
        let seqs: Vec<i64> = with_pool!(store, |p| {
            let mut q = sqlx::query_scalar(&sql).bind(chain).bind(object_type);
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(p).await
        })?;
        out.extend(seqs);
    }
    Ok(out)
}
