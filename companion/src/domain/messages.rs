//! Messages: import (raw stored once by SHA-256, idempotent per mailbox), visibility,
//! take in charge, trash and restore (never a hard delete).

use std::sync::Arc;

use pecdesk_core::signature::TrustAnchors;
use pecdesk_core::{InspectOptions, Inspection};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use pecdesk_core::authz::Person;

use crate::bind_all;
use crate::error::{Error, Result};
use crate::store::audit::{Action, Chain};
use crate::store::query::{Binds, Page, like_patterns, parse_cursor};
use crate::store::visibility;
use crate::store::{Store, WriteTx, audit, ms_to_rfc3339, new_id, now_ms};
use crate::{with_pool, with_tx};

/// Columns of [`MessageRow`], in order.
pub const MESSAGE_COLS: &str = "m.id, m.org_id, m.mailbox_id, m.raw_sha256, m.internet_message_id, \
    m.identificativo, m.kind, m.direction, m.subject, m.sender, m.summary, m.state, m.taken_by, \
    m.taken_at, m.trashed_at, m.received_at";

/// A stored message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: String,
    pub org_id: String,
    pub mailbox_id: String,
    pub raw_sha256: String,
    pub internet_message_id: Option<String>,
    pub identificativo: Option<String>,
    pub kind: String,
    pub direction: String,
    pub subject: Option<String>,
    pub sender: Option<String>,
    pub summary: String,
    pub state: String,
    pub taken_by: Option<String>,
    pub taken_at: Option<i64>,
    pub trashed_at: Option<i64>,
    pub received_at: i64,
}

/// A message as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageResponse {
    pub id: String,
    pub mailbox_id: String,
    /// SHA-256 of the raw message (hex).
    pub sha256: String,
    pub message_id: Option<String>,
    pub identificativo: Option<String>,
    /// PEC kind (`posta-certificata`, `accettazione`, ...).
    pub kind: String,
    /// `in` or `out`.
    pub direction: String,
    pub subject: Option<String>,
    pub sender: Option<String>,
    /// `new`, `taken` or `worked`.
    pub state: String,
    pub taken_by: Option<String>,
    pub taken_at: Option<String>,
    pub trashed: bool,
    pub trashed_at: Option<String>,
    pub received_at: String,
    /// The summary of `PEC.md`.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// Receipts of the same submission (same identificativo), ids and kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipts: Option<Vec<ReceiptRef>>,
}

/// A receipt linked to a message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct ReceiptRef {
    pub id: String,
    pub kind: String,
}

impl MessageRow {
    /// The API view (without receipts).
    pub fn into_response(self) -> MessageResponse {
        MessageResponse {
            summary: serde_json::from_str(&self.summary).unwrap_or(serde_json::Value::Null),
            id: self.id,
            mailbox_id: self.mailbox_id,
            sha256: self.raw_sha256,
            message_id: self.internet_message_id,
            identificativo: self.identificativo,
            kind: self.kind,
            direction: self.direction,
            subject: self.subject,
            sender: self.sender,
            state: self.state,
            taken_by: self.taken_by,
            taken_at: self.taken_at.map(ms_to_rfc3339),
            trashed: self.trashed_at.is_some(),
            trashed_at: self.trashed_at.map(ms_to_rfc3339),
            received_at: ms_to_rfc3339(self.received_at),
            receipts: None,
        }
    }
}

/// Kind's wire name (`posta-certificata`, ...).
fn kind_name(i: &Inspection) -> String {
    serde_json::to_value(i.summary.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "not-pec".into())
}

/// Lower-case text searched by `q=`: ids, sender, subjects, the original's text.
fn search_text(i: &Inspection) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let s = &i.summary;
    for v in [&s.subject, &s.sender, &s.identificativo, &i.message_id]
        .into_iter()
        .flatten()
    {
        parts.push(v);
    }
    if let Some(o) = &i.original {
        for v in [&o.subject, &o.from, &o.text_body].into_iter().flatten() {
            parts.push(v);
        }
    }
    let mut t = parts.join(" \u{1f} ").to_lowercase();
    if t.len() > 8000 {
        let mut cut = 8000;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
    }
    t
}

/// Result of an import.
#[derive(Debug)]
pub struct Imported {
    /// The stored message.
    pub row: MessageRow,
    /// Whether it was new (false: the same bytes were already in this mailbox).
    pub created: bool,
}

/// Imports raw bytes into a mailbox. Idempotent: the same bytes in the same mailbox give
/// the same message. The raw bytes are stored once per SHA-256 across mailboxes.
pub async fn import_raw(
    store: &Store,
    actor: Option<&str>,
    org_id: &str,
    mailbox_id: &str,
    raw: Vec<u8>,
    trust: &Arc<TrustAnchors>,
) -> Result<Imported> {
    // Hashing, parsing a large MIME tree and checking the signature is CPU work: off the
    // async threads.
    let (raw, sha) = tokio::task::spawn_blocking(move || {
        let sha = hex::encode(Sha256::digest(&raw));
        (raw, sha)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?;
    // The same bytes delivered again (a mailbox poll seeing a message twice, a second click)
    // are answered before the parse, the signature check and the write lock.
    if let Some(row) = find_by_sha_pooled(store, mailbox_id, &sha).await? {
        return Ok(Imported {
            row,
            created: false,
        });
    }
    let trust = Arc::clone(trust);
    let (raw, insp) = tokio::task::spawn_blocking(move || {
        let mut insp = pecdesk_core::inspect(&raw, &InspectOptions::default());
        // Verified here rather than through `InspectOptions` so the (possibly large) anchor
        // list is shared, not copied per message.
        insp.summary.signature = Some(pecdesk_core::signature::verify(&raw, &trust));
        (raw, insp)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?;

    let mut tx = store.begin_write(Chain::Org(org_id)).await?;
    // Checked again under the write lock: two imports of the same bytes may have raced.
    if let Some(row) = find_by_sha(&mut tx, mailbox_id, &sha).await? {
        return Ok(Imported {
            row,
            created: false,
        });
    }
    let mailbox_address: String = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT address FROM mailboxes WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_one(&mut *c)
    .await)?;
    let size = i64::try_from(raw.len()).unwrap_or(i64::MAX);
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO raw_blobs (sha256, size, bytes) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING"
    )
    .bind(&sha)
    .bind(size)
    .bind(&raw)
    .execute(&mut *c)
    .await
    .map(|_| ())
    })?;

    let id = new_id();
    let s = &insp.summary;
    let direction = if s
        .sender
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case(&mailbox_address))
    {
        "out"
    } else {
        "in"
    };
    let summary = serde_json::to_string(&insp.summary).map_err(|e| Error::Internal(e.into()))?;
    let now = now_ms();
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO messages (id, org_id, mailbox_id, raw_sha256, internet_message_id, identificativo, \
         kind, direction, subject, sender, summary, state, received_at, search_text) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'new', $12, $13)"
    )
    .bind(&id)
    .bind(org_id)
    .bind(mailbox_id)
    .bind(&sha)
    .bind(&insp.message_id)
    .bind(&s.identificativo)
    .bind(kind_name(&insp))
    .bind(direction)
    .bind(&s.subject)
    .bind(&s.sender)
    .bind(&summary)
    .bind(now)
    .bind(search_text(&insp))
    .execute(&mut *c)
    .await
    .map(|_| ())
    })?;
    tx.audit(audit::Entry {
        org_id: Some(org_id),
        actor_id: actor,
        action: Action::MessageImport,
        object_type: "message",
        object_id: &id,
        details: serde_json::json!({"mailbox_id": mailbox_id, "sha256": sha}),
    })
    .await?;
    let row = find_by_sha(&mut tx, mailbox_id, &sha)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    tracing::info!(message.id = %row.id, mailbox.id = %mailbox_id, "message imported");
    Ok(Imported { row, created: true })
}

const FIND_BY_SHA: &str = "m.mailbox_id = $1 AND m.raw_sha256 = $2";

async fn find_by_sha(tx: &mut WriteTx, mailbox_id: &str, sha: &str) -> Result<Option<MessageRow>> {
    let sql = format!("SELECT {MESSAGE_COLS} FROM messages m WHERE {FIND_BY_SHA}");
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(mailbox_id)
        .bind(sha)
        .fetch_optional(&mut *c)
        .await)?)
}

/// [`find_by_sha`] outside a transaction: the cheap early answer for a repeated import.
async fn find_by_sha_pooled(
    store: &Store,
    mailbox_id: &str,
    sha: &str,
) -> Result<Option<MessageRow>> {
    let sql = format!("SELECT {MESSAGE_COLS} FROM messages m WHERE {FIND_BY_SHA}");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(mailbox_id)
        .bind(sha)
        .fetch_optional(p)
        .await)?)
}

/// Loads a message of the caller's organisation, or 404.
pub async fn load(store: &Store, who: &Principal, id: &str) -> Result<MessageRow> {
    let sql = format!("SELECT {MESSAGE_COLS} FROM messages m WHERE m.id = $1 AND m.org_id = $2");
    let row: Option<MessageRow> = with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(&who.org_id)
        .fetch_optional(p)
        .await)?;
    row.ok_or(Error::NotFound)
}

/// Whether `who` participates (assignee, assigned team, approver) in an activity linked
/// to the message: that alone makes the message readable.
pub async fn is_participant(store: &Store, who: &Principal, message_id: &str) -> Result<bool> {
    let hit: Option<i64> = with_pool!(store, |p| {
        sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM activity_messages am JOIN activities a ON a.id = am.activity_id \
         WHERE am.message_id = $1 AND a.org_id = $2 AND (a.assignee_id = $3 OR a.approver_id = $3 \
         OR a.team_id IN (SELECT team_id FROM team_members WHERE user_id = $3)) LIMIT 1"
    )
    .bind(message_id)
    .bind(&who.org_id)
    .bind(&who.user_id)
    .fetch_optional(p)
    .await
    })?;
    Ok(hit.is_some())
}

/// Loads a message the caller may read, or 404.
pub async fn load_readable(
    store: &Store,
    who: &Principal,
    grants: &Person,
    id: &str,
) -> Result<MessageRow> {
    let row = load(store, who, id).await?;
    if grants.on(&row.mailbox_id).can_read_messages() || is_participant(store, who, &row.id).await?
    {
        Ok(row)
    } else {
        Err(Error::NotFound)
    }
}

/// Receipts of the same submission as `row`.
pub async fn receipts(store: &Store, row: &MessageRow) -> Result<Vec<ReceiptRef>> {
    let Some(ident) = &row.identificativo else {
        return Ok(Vec::new());
    };
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, kind FROM messages WHERE org_id = $1 AND identificativo = $2 AND id <> $3 \
         AND kind NOT IN ('posta-certificata', 'anomalia', 'not-pec') ORDER BY received_at, id"
    )
    .bind(&row.org_id)
    .bind(ident)
    .bind(&row.id)
    .fetch_all(p)
    .await)?)
}

/// The raw bytes of a stored message.
pub async fn raw_bytes(store: &Store, sha: &str) -> Result<Vec<u8>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT bytes FROM raw_blobs WHERE sha256 = $1"
    )
    .bind(sha)
    .fetch_one(p)
    .await)?)
}

/// Filters of the message list.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
pub struct MessageFilter {
    /// Mailbox id.
    pub mailbox: Option<String>,
    /// `new`, `taken` or `worked`.
    pub state: Option<String>,
    /// PEC kind.
    pub kind: Option<String>,
    /// Words searched in subject, sender, ids and text.
    pub q: Option<String>,
    /// `true` to list the trash instead.
    pub trashed: Option<bool>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1..=200, default 50).
    pub limit: Option<i64>,
}

/// Lists the messages the caller may read.
pub async fn list(
    store: &Store,
    who: &Principal,
    grants: &Person,
    f: &MessageFilter,
) -> Result<Page<MessageResponse>> {
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    let offset = parse_cursor(f.cursor.as_deref())?;
    let mut b = Binds::default();
    let org = b.text(who.org_id.clone());
    let visible = visibility::message_visible(&mut b, "m", &org, grants);
    let mut sql =
        format!("SELECT {MESSAGE_COLS} FROM messages m WHERE m.org_id = {org} AND {visible}");
    if f.trashed.unwrap_or(false) {
        sql.push_str(" AND m.trashed_at IS NOT NULL");
    } else {
        sql.push_str(" AND m.trashed_at IS NULL");
    }
    if let Some(mb) = &f.mailbox {
        sql.push_str(&format!(" AND m.mailbox_id = {}", b.text(mb.clone())));
    }
    if let Some(st) = &f.state {
        if !matches!(st.as_str(), "new" | "taken" | "worked") {
            return Err(Error::invalid("stato non valido / invalid state"));
        }
        sql.push_str(&format!(" AND m.state = {}", b.text(st.clone())));
    }
    if let Some(k) = &f.kind {
        sql.push_str(&format!(" AND m.kind = {}", b.text(k.clone())));
    }
    if let Some(q) = &f.q {
        for pat in like_patterns(q) {
            sql.push_str(&format!(
                " AND m.search_text LIKE {} ESCAPE '\\'",
                b.text(pat)
            ));
        }
    }
    sql.push_str(&format!(
        " ORDER BY m.received_at DESC, m.id DESC LIMIT {} OFFSET {}",
        b.int(limit + 1),
        b.int(offset)
    ));
    let mut rows: Vec<MessageRow> = with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(50);
    rows.truncate(usize::try_from(limit).unwrap_or(50));
    Ok(Page {
        items: rows.into_iter().map(MessageRow::into_response).collect(),
        next_cursor: more.then(|| (offset + limit).to_string()),
    })
}

/// Finds a message by Internet Message-ID or identificativo (add-ins), among readable ones.
pub async fn lookup(
    store: &Store,
    who: &Principal,
    grants: &Person,
    key: &str,
) -> Result<Vec<MessageResponse>> {
    let key = key.trim().trim_start_matches('<').trim_end_matches('>');
    let sql = format!(
        "SELECT {MESSAGE_COLS} FROM messages m WHERE m.org_id = $1 AND \
         (m.internet_message_id = $2 OR m.identificativo = $2) ORDER BY m.received_at, m.id LIMIT 50"
    );
    let rows: Vec<MessageRow> = with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(&who.org_id)
        .bind(key)
        .fetch_all(p)
        .await)?;
    let mut out = Vec::new();
    for r in rows {
        if grants.on(&r.mailbox_id).can_read_messages() || is_participant(store, who, &r.id).await?
        {
            out.push(r.into_response());
        }
    }
    Ok(out)
}

/// Which message change to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Presa in carico.
    Take,
    /// Move to the trash (recoverable).
    Trash,
    /// Restore from the trash.
    Restore,
}

/// Takes in charge, trashes or restores a message (needs `MAIL_ACCOUNT_MANAGER`).
pub async fn change(
    store: &Store,
    who: &Principal,
    grants: &Person,
    id: &str,
    what: Change,
) -> Result<MessageRow> {
    let row = load_readable(store, who, grants, id).await?;
    if !grants.on(&row.mailbox_id).can_manage_messages() {
        return Err(Error::forbidden(
            "serve MAIL_ACCOUNT_MANAGER sulla casella / MAIL_ACCOUNT_MANAGER needed on the mailbox",
        ));
    }
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let (sql, action) = match what {
        Change::Take => (
            "UPDATE messages SET state = 'taken', taken_by = $2, taken_at = $3 \
             WHERE id = $1 AND state = 'new' AND trashed_at IS NULL",
            Action::MessageTake,
        ),
        Change::Trash => (
            "UPDATE messages SET trashed_at = $3, trashed_by = $2 WHERE id = $1 AND trashed_at IS NULL",
            Action::MessageTrash,
        ),
        Change::Restore => (
            "UPDATE messages SET trashed_at = NULL, trashed_by = NULL \
             WHERE id = $1 AND trashed_at IS NOT NULL AND $2 <> '' AND $3 > 0",
            Action::MessageRestore,
        ),
    };
    let n = with_tx!(tx, |c| sqlx::query(sql)
        .bind(id)
        .bind(&who.user_id)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(Error::conflict(match what {
            Change::Take => {
                "messaggio già preso in carico o nel cestino / message already taken or trashed"
            }
            Change::Trash => "messaggio già nel cestino / message already in the trash",
            Change::Restore => "messaggio non nel cestino / message is not in the trash",
        }));
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action,
        object_type: "message",
        object_id: id,
        details: serde_json::json!({"mailbox_id": row.mailbox_id}),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(message.id = %id, user.id = %who.user_id, action = action.as_str(), "message changed");
    load(store, who, id).await
}
