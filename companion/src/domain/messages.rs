//! Messages: import (raw stored once by SHA-256, idempotent per mailbox), visibility,
//! take in charge, trash and restore (never a hard delete). SQL is in
//! [`crate::store::messages`]; every permission is the core's answer through
//! [`crate::authz::authorize`], from the row and the caller's participation.

use std::sync::Arc;

use pecdesk_core::authz::{MessageFacts, Operation, Person};
use pecdesk_core::ids::MessageId;
use pecdesk_core::signature::TrustAnchors;
use pecdesk_core::{InspectOptions, Inspection};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::audit::{Action, Chain};
use crate::store::messages as store_msgs;
use crate::store::query::{Cursor, Page, page_size, paginate};
use crate::store::{Store, audit, ms_to_rfc3339, new_id, now_ms, users};

pub use crate::store::messages::{MessageRow, ReceiptRef};

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
    /// Display name of `taken_by`.
    pub taken_by_name: Option<String>,
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
    /// How the message was routed (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<crate::domain::routing::RoutingView>,
    /// Protocol data found in the message: `{segnatura?, sdi?}` (detail only; absent when
    /// none was found or the message was not evaluated yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub protocol: Option<serde_json::Value>,
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
            taken_by_name: self.taken_by_name,
            taken_at: self.taken_at.map(ms_to_rfc3339),
            trashed: self.trashed_at.is_some(),
            trashed_at: self.trashed_at.map(ms_to_rfc3339),
            received_at: ms_to_rfc3339(self.received_at),
            receipts: None,
            routing: None,
            protocol: None,
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
    if let Some(row) = store_msgs::find_by_sha_pooled(store, mailbox_id, &sha).await? {
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
        insp.summary.signature = Some(pecdesk_core::signature::verify_with(
            &raw,
            &trust,
            insp.summary.provider.as_deref(),
        ));
        (raw, insp)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?;

    // A large message's bytes go first, on a connection of their own (see the function).
    let raw = if raw.len() >= store_msgs::LARGE_BLOB {
        store_msgs::insert_large_raw_blob(store, &sha, raw).await?;
        None
    } else {
        Some(raw)
    };
    let mut tx = store.begin_write(Chain::Org(org_id)).await?;
    // Checked again under the write lock: two imports of the same bytes may have raced.
    if let Some(row) = store_msgs::find_by_sha(&mut tx, mailbox_id, &sha).await? {
        return Ok(Imported {
            row,
            created: false,
        });
    }
    let mailbox_address = users::mailbox_address(&mut tx, mailbox_id).await?;
    if let Some(raw) = raw {
        store_msgs::insert_raw_blob(&mut tx, &sha, &raw).await?;
    }

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
    let search = search_text(&insp);
    store_msgs::insert(
        &mut tx,
        &store_msgs::NewMessage {
            id: &id,
            org_id,
            mailbox_id,
            raw_sha256: &sha,
            internet_message_id: insp.message_id.as_deref(),
            identificativo: s.identificativo.as_deref(),
            kind: &kind_name(&insp),
            direction,
            subject: s.subject.as_deref(),
            sender: s.sender.as_deref(),
            summary: &summary,
            received_at: now,
            search_text: &search,
        },
    )
    .await?;
    tx.audit(audit::Entry {
        org_id: Some(org_id),
        actor_id: actor,
        action: Action::MessageImport,
        object_type: "message",
        object_id: &id,
        details: serde_json::json!({"mailbox_id": mailbox_id, "sha256": sha}),
    })
    .await?;
    let row = store_msgs::find_by_sha(&mut tx, mailbox_id, &sha)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    tracing::info!(message.id = %row.id, mailbox.id = %mailbox_id, "message imported");
    Ok(Imported { row, created: true })
}

/// Loads a message of the caller's organisation, or 404 (no permission check: the caller
/// has just written it or checked it).
pub async fn load(store: &Store, who: &Principal, id: &str) -> Result<MessageRow> {
    store_msgs::get(store, &who.org_id, id)
        .await?
        .ok_or(Error::NotFound)
}

/// Loads a message of the caller's organisation with the facts the core decides from, or
/// 404.
async fn load_facts(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
) -> Result<(MessageRow, MessageFacts)> {
    let found = store_msgs::get_for(store, &who.org_id, person, id)
        .await?
        .ok_or(Error::NotFound)?;
    let facts = found.facts();
    Ok((found.row, facts))
}

/// Loads a message the caller may read, or 404.
pub async fn load_readable(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
) -> Result<MessageRow> {
    let (row, facts) = load_facts(store, who, person, id).await?;
    authorize(person, Operation::ReadMessage(&facts))?;
    Ok(row)
}

/// Receipts of the same submission as `row`.
pub async fn receipts(store: &Store, row: &MessageRow) -> Result<Vec<ReceiptRef>> {
    store_msgs::receipts(store, row).await
}

/// The raw bytes of a stored message.
pub async fn raw_bytes(store: &Store, sha: &str) -> Result<Vec<u8>> {
    store_msgs::raw_bytes(store, sha).await
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
    /// `dispatch`: the dispatcher queue (incoming messages, not receipts, not routed, in
    /// mailboxes where the caller may route).
    pub queue: Option<String>,
    /// `next_cursor` of the previous page (opaque; 422 when malformed).
    pub cursor: Option<String>,
    /// Page size (1..=200, default 50).
    pub limit: Option<i64>,
}

/// The cursor tag of the message list's one order (newest first).
const MESSAGE_SORT: &str = "-received_at";

/// Lists the messages the caller may read, newest first, one page after the cursor.
pub async fn list(
    store: &Store,
    who: &Principal,
    person: &Person,
    f: &MessageFilter,
) -> Result<Page<MessageResponse>> {
    crate::limits::text(
        "q",
        f.q.as_deref().unwrap_or_default(),
        crate::limits::QUERY,
    )?;
    let limit = page_size(f.limit);
    let after = Cursor::decode(f.cursor.as_deref(), MESSAGE_SORT)?;
    let after = match &after {
        Some(c) => Some((c.key_i64()?, c.id.as_str())),
        None => None,
    };
    if let Some(st) = &f.state
        && !matches!(st.as_str(), "new" | "taken" | "worked")
    {
        return Err(Error::invalid("stato non valido / invalid state"));
    }
    if let Some(q) = &f.queue
        && q != "dispatch"
    {
        return Err(Error::invalid("coda non valida / invalid queue"));
    }
    let filter = store_msgs::ListFilter {
        queue: f.queue.as_deref(),
        trashed: f.trashed.unwrap_or(false),
        mailbox: f.mailbox.as_deref(),
        state: f.state.as_deref(),
        kind: f.kind.as_deref(),
        q: f.q.as_deref(),
        limit: limit + 1,
        after,
    };
    let rows = store_msgs::list_visible(store, &who.org_id, person, &filter).await?;
    Ok(paginate(
        rows,
        limit,
        |r| Cursor::new(r.received_at, &r.id).encode(MESSAGE_SORT),
        MessageRow::into_response,
    ))
}

/// Finds messages by Internet Message-ID or identificativo (add-ins), among readable ones.
/// Both are looked up with the one key: a PEC identificativo has the syntax of a Message-ID.
pub async fn lookup(
    store: &Store,
    who: &Principal,
    person: &Person,
    key: &MessageId,
) -> Result<Vec<MessageResponse>> {
    let rows = store_msgs::lookup_for(store, &who.org_id, person, key.as_str()).await?;
    Ok(rows
        .into_iter()
        .filter(|r| authorize(person, Operation::ReadMessage(&r.facts())).is_ok())
        .map(|r| r.row.into_response())
        .collect())
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
    person: &Person,
    id: &str,
    what: Change,
) -> Result<MessageRow> {
    let (row, facts) = load_facts(store, who, person, id).await?;
    authorize(person, Operation::ManageMessage(&facts))?;
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let (changed, action) = match what {
        Change::Take => (
            store_msgs::take(&mut tx, id, &who.user_id, now).await?,
            Action::MessageTake,
        ),
        Change::Trash => (
            store_msgs::trash(&mut tx, id, &who.user_id, now).await?,
            Action::MessageTrash,
        ),
        Change::Restore => (
            store_msgs::restore(&mut tx, id).await?,
            Action::MessageRestore,
        ),
    };
    if !changed {
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
