//! The audit log (registro): append-only, hash-chained.
//!
//! Entry `n` stores `prev_hash` (the hash of entry `n-1`, 64 zeros for the first) and
//! `hash = SHA-256(prev_hash | seq | at | org | actor | action | object_type | object_id |
//! details)`. Changing, removing or reordering any stored entry breaks the chain at that
//! entry, which [`verify`] names.

use sha2::{Digest, Sha256};

use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain head as read (and locked) at the start of a write transaction.
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// Sequence number of the last entry (0 when empty).
    pub seq: i64,
    /// Hash of the last entry.
    pub hash: String,
}

/// One audit record to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Organisation the action belongs to (None for system actions).
    pub org_id: Option<&'a str>,
    /// Who acted (None for the system).
    pub actor_id: Option<&'a str>,
    /// Dotted action name, e.g. `activity.transition`.
    pub action: &'a str,
    /// `activity`, `message`, `comment`, ...
    pub object_type: &'a str,
    /// The object's id.
    pub object_id: &'a str,
    /// Ids and changed field names only: never bodies, subjects or addresses.
    pub details: serde_json::Value,
}

/// A stored entry, as read back.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    /// Position in the chain (1-based).
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// Organisation.
    pub org_id: Option<String>,
    /// Actor.
    pub actor_id: Option<String>,
    /// Action name.
    pub action: String,
    /// Object type.
    pub object_type: String,
    /// Object id.
    pub object_id: String,
    /// JSON details (ids, field names).
    pub details: String,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// Hash of this entry.
    pub hash: String,
}

/// The hash of an entry's content chained to `prev_hash`.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    org_id: Option<&str>,
    actor_id: Option<&str>,
    action: &str,
    object_type: &str,
    object_id: &str,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev_hash,
        &seq.to_string(),
        &at.to_string(),
        org_id.unwrap_or(""),
        actor_id.unwrap_or(""),
        action,
        object_type,
        object_id,
        details,
    ] {
        h.update(part.len().to_string().as_bytes());
        h.update(b":");
        h.update(part.as_bytes());
        h.update(b"|");
    }
    hex::encode(h.finalize())
}

/// Takes the head row for this transaction. The UPDATE comes first on purpose: it makes
/// the transaction a writer at once (SQLite waits for the lock instead of failing later on
/// a stale snapshot; PostgreSQL locks the row until commit).
pub(crate) async fn lock_head(tx: &mut WriteTx) -> sqlx::Result<Head> {
    let (seq, hash): (i64, String) = with_tx!(tx, |c| {
        sqlx::query_as("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *c)
            .await
    })?;
    Ok(Head { seq, hash })
}

pub(crate) async fn append(tx: &mut WriteTx, e: Entry<'_>) -> sqlx::Result<()> {
    let seq = tx.head.seq + 1;
    let at = super::now_ms();
    let details = e.details.to_string();
    let hash = entry_hash(
        &tx.head.hash,
        seq,
        at,
        e.org_id,
        e.actor_id,
        e.action,
        e.object_type,
        e.object_id,
        &details,
    );
    let prev = tx.head.hash.clone();
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO audit_log (seq, at, org_id, actor_id, action, object_type, object_id, \
             details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(seq)
        .bind(at)
        .bind(e.org_id)
        .bind(e.actor_id)
        .bind(e.action)
        .bind(e.object_type)
        .bind(e.object_id)
        .bind(&details)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.head = Head { seq, hash };
    tx.appended = true;
    Ok(())
}

pub(crate) async fn store_head(tx: &mut WriteTx) -> sqlx::Result<()> {
    let (seq, hash) = (tx.head.seq, tx.head.hash.clone());
    with_tx!(tx, |c| {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&hash)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Result of [`verify`].
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Whether the whole chain verifies.
    pub ok: bool,
    /// Number of entries checked.
    pub entries: i64,
    /// Sequence number of the first entry that does not verify.
    pub first_broken: Option<i64>,
    /// Why it does not verify.
    pub reason: Option<String>,
}

/// Walks the chain from the first entry and names the first broken one.
pub async fn verify(store: &Store) -> sqlx::Result<Verification> {
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1_i64;
    let mut after = 0_i64;
    let mut checked = 0_i64;
    loop {
        let rows: Vec<AuditRow> = with_pool!(store, |p| {
            sqlx::query_as(
                "SELECT seq, at, org_id, actor_id, action, object_type, object_id, details, \
                 prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 1000",
            )
            .bind(after)
            .fetch_all(p)
            .await
        })?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let broken = |reason: &str| Verification {
                ok: false,
                entries: checked,
                first_broken: Some(r.seq),
                reason: Some(reason.to_owned()),
            };
            if r.seq != expected_seq {
                let mut v = broken("sequenza interrotta / missing entry");
                v.first_broken = Some(expected_seq);
                return Ok(v);
            }
            if r.prev_hash != prev {
                return Ok(broken("hash precedente diverso / previous hash mismatch"));
            }
            let h = entry_hash(
                &r.prev_hash,
                r.seq,
                r.at,
                r.org_id.as_deref(),
                r.actor_id.as_deref(),
                &r.action,
                &r.object_type,
                &r.object_id,
                &r.details,
            );
            if h != r.hash {
                return Ok(broken("contenuto alterato / content altered"));
            }
            prev = r.hash;
            after = r.seq;
            expected_seq += 1;
            checked += 1;
        }
    }
    // Entries cut off the end are caught by comparing with the head row.
    let (head_seq, head_hash): (i64, String) = with_pool!(store, |p| {
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(p)
            .await
    })?;
    if head_seq != checked || (checked > 0 && head_hash != prev) {
        return Ok(Verification {
            ok: false,
            entries: checked,
            first_broken: Some(checked + 1),
            reason: Some("registro troncato / log truncated".into()),
        });
    }
    Ok(Verification {
        ok: true,
        entries: checked,
        first_broken: None,
        reason: None,
    })
}
