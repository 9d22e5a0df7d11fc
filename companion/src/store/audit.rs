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

/// Which hash chain a write transaction appends to: one per organisation, one for system
/// actions (those of no organisation, like a signing-key rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain<'a> {
    /// The chain of this organisation.
    Org(&'a str),
    /// The chain of system actions.
    System,
}

/// Declares [`Action`] with its dotted wire names, in one table.
macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// Every action the audit log records. The dotted names are stable: statistics and
        /// preservation exports read them (catalogue in `docs/audit.md`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action, in catalogue order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The dotted name stored in the log (`activity.transition`, ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// Parses a stored name.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|a| a.as_str() == s)
            }
        }
    };
}

actions! {
    /// A message was imported into a mailbox.
    MessageImport => "message.import",
    /// A message was taken in charge (presa in carico).
    MessageTake => "message.take",
    /// A message was moved to the trash.
    MessageTrash => "message.trash",
    /// A message was restored from the trash.
    MessageRestore => "message.restore",
    /// An activity was created.
    ActivityCreate => "activity.create",
    /// An activity's fields were edited (names of the changed fields in the details).
    ActivityUpdate => "activity.update",
    /// An activity moved along its flow.
    ActivityTransition => "activity.transition",
    /// Approval of the draft was requested.
    ActivityApprovalRequest => "activity.approval_request",
    /// The approver decided (approve or request changes).
    ActivityApproval => "activity.approval",
    /// The draft was sent and the activity closed.
    ActivitySend => "activity.send",
    /// A message was linked to an activity.
    ActivityLinkMessage => "activity.link_message",
    /// A comment was added.
    CommentCreate => "comment.create",
    /// A comment was edited (the old text is kept).
    CommentEdit => "comment.edit",
    /// The reply draft was written (a new version).
    DraftUpdate => "draft.update",
    /// The organisation's identity-provider settings were changed.
    AuthIdpSettings => "auth.idp_settings",
    /// A user signed in.
    AuthSignIn => "auth.sign_in",
    /// A user signed out (their session ended).
    AuthLogout => "auth.logout",
    /// A refresh token was used twice: the whole session was revoked.
    AuthRefreshReuse => "auth.refresh_reuse",
    /// A disabled user's session was revoked.
    AuthUserDisabled => "auth.user_disabled",
    /// The companion's token-signing key was rotated (system chain).
    AuthSigningKeyRotated => "auth.signing_key_rotated",
    /// A user was created at first sign-in from the provider's claims.
    UserProvisioned => "user.provisioned",
    /// The demo data were seeded.
    DemoSeed => "demo.seed",
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit record to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Organisation the action belongs to (None for system actions).
    pub org_id: Option<&'a str>,
    /// Who acted (None for the system).
    pub actor_id: Option<&'a str>,
    /// What was done.
    pub action: Action,
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
    // Security invariant: an organisation's chain holds only its own entries, so it can be
    // verified and exported without anyone else's.
    if e.org_id != tx.chain_org.as_deref() {
        return Err(sqlx::Error::Protocol(format!(
            "audit entry {} does not belong to the transaction's chain",
            e.action
        )));
    }
    let seq = tx.head.seq + 1;
    let at = super::now_ms();
    let details = e.details.to_string();
    let hash = entry_hash(
        &tx.head.hash,
        seq,
        at,
        e.org_id,
        e.actor_id,
        e.action.as_str(),
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
        .bind(e.action.as_str())
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
