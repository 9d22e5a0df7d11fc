//! Presence (migration 0016): who has a message or an activity open in the pane, or is
//! replying to it, right now. Ephemeral bookkeeping, not a domain write: single statements,
//! no audit entry. "Now" is a parameter so the expiry can be tested without waiting.

use crate::error::Result;
use crate::store::Store;
use crate::with_pool;

/// A row counts for this long after its last refresh (clients refresh every 20 s).
pub const TTL_MS: i64 = 60_000;

/// One person on an object.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PresenceRow {
    /// User id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// `viewing` or `replying`.
    pub state: String,
    /// When this state began (milliseconds).
    pub since_ms: i64,
}

/// Records that `user_id` is on the object in `state` at `now_ms`. The start (`since`) is
/// kept while the state stays the same and the row has not expired. Expired rows of every
/// organisation are deleted on the way (the table never grows beyond the people online).
pub async fn touch(
    store: &Store,
    org_id: &str,
    kind: &str,
    object_id: &str,
    user_id: &str,
    state: &str,
    now_ms: i64,
) -> Result<()> {
    let cutoff = now_ms - TTL_MS;
    with_pool!(store, |p| sqlx::query(
        "INSERT INTO presence (org_id, object_kind, object_id, user_id, state, since_ms, seen_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (org_id, object_kind, object_id, user_id) DO UPDATE SET \
         since_ms = CASE WHEN presence.state = excluded.state AND presence.seen_ms >= $7 \
                    THEN presence.since_ms ELSE excluded.since_ms END, \
         state = excluded.state, seen_ms = excluded.seen_ms"
    )
    .bind(org_id)
    .bind(kind)
    .bind(object_id)
    .bind(user_id)
    .bind(state)
    .bind(now_ms)
    .bind(cutoff)
    .execute(p)
    .await
    .map(|_| ()))?;
    with_pool!(store, |p| sqlx::query(
        "DELETE FROM presence WHERE seen_ms < $1"
    )
    .bind(cutoff)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Removes `user_id` from the object (the pane was closed).
pub async fn leave(
    store: &Store,
    org_id: &str,
    kind: &str,
    object_id: &str,
    user_id: &str,
) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "DELETE FROM presence WHERE org_id = $1 AND object_kind = $2 AND object_id = $3 \
         AND user_id = $4"
    )
    .bind(org_id)
    .bind(kind)
    .bind(object_id)
    .bind(user_id)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The people on the object at `now_ms` (unexpired rows of the organisation), longest
/// there first.
pub async fn list(
    store: &Store,
    org_id: &str,
    kind: &str,
    object_id: &str,
    now_ms: i64,
) -> Result<Vec<PresenceRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as::<_, PresenceRow>(
        "SELECT p.user_id, u.name, p.state, p.since_ms FROM presence p \
         JOIN users u ON u.id = p.user_id AND u.org_id = p.org_id \
         WHERE p.org_id = $1 AND p.object_kind = $2 AND p.object_id = $3 AND p.seen_ms >= $4 \
         ORDER BY p.since_ms, p.user_id"
    )
    .bind(org_id)
    .bind(kind)
    .bind(object_id)
    .bind(now_ms - TTL_MS)
    .fetch_all(p)
    .await)?)
}
