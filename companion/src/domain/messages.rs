//! Messages: import (raw stored once by SHA-256, idempotent per mailbox), visibility,
//! take in charge, trash and restore (never a hard delete). SQL is in
//! [`crate::store::messages`]; every permission is the core's answer through
//! [`crate::authz::authorize`], from the row and the caller's participation.

use std::sync::Arc;

use pecdesk_core::authz::{MessageFacts, Operation, Person};
use pecdesk_core::ids::MessageId;
use pecdesk_core::signature::TrustAnchors;
use serde::Serialize;

use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::ingest;
use crate::store::audit::{Action, Chain};
use crate::store::messages as store_msgs;
use crate::store::query::{Cursor, Page, page_size, paginate};
use crate::store::{Store, audit, ms_to_rfc3339, now_ms};

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
    /// Who set it `worked` (by hand, or by closing the last of its activities).
    pub worked_by: Option<String>,
    /// When it became `worked`.
    pub worked_at: Option<String>,
    pub trashed: bool,
    pub trashed_at: Option<String>,
    /// Whether the archive policy removed it from the provider's box (PecDesk keeps it).
    pub archived: bool,
    /// When it was expunged from the provider's box.
    pub expunged_from_box_at: Option<String>,
    pub received_at: String,
    /// The companion-side archive folder (`Contratti/2026`), or `null`.
    pub folder: Option<String>,
    /// Category (set by a rule or by hand), or `null`.
    pub category: Option<String>,
    /// Tags (set by rules or by hand).
    pub tags: Vec<String>,
    /// Purged by an administrator: a tombstone whose raw bytes are gone (`raw` answers 410).
    pub purged: bool,
    /// When it was purged.
    pub purged_at: Option<String>,
    /// The summary of `PEC.md`.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// Detail only: the receipts certifying this message (linked by reconciliation) or of
    /// the same submission (same identificativo), in certified-time order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipts: Option<Vec<ReceiptRef>>,
    /// Detail of a sent message only: `true` accepted, `false` not accepted, `null` no
    /// (non-)accettazione yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<bool>)]
    pub accepted: Option<Option<bool>>,
    /// Detail of a sent message only: the (non-)accettazione deciding `accepted`
    /// (`{accepted, receipt_id, at, error, reason}`) or `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub acceptance: Option<Option<pecdesk_core::reconcile::Acceptance>>,
    /// Detail of a sent message only: one entry per recipient, `{recipient, field, state,
    /// receipt_type, error, reason, receipt_id, at}` (see docs/API.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub delivery: Option<Vec<pecdesk_core::reconcile::Delivery>>,
    /// Detail of a receipt only: the sent message it certifies, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certifies: Option<crate::domain::reconcile::Certifies>,
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
            worked_by: self.worked_by,
            worked_at: self.worked_at.map(ms_to_rfc3339),
            trashed: self.trashed_at.is_some(),
            trashed_at: self.trashed_at.map(ms_to_rfc3339),
            archived: self.archived_at.is_some(),
            expunged_from_box_at: self.archived_at.map(ms_to_rfc3339),
            received_at: ms_to_rfc3339(self.received_at),
            folder: self.folder,
            category: self.category,
            tags: parse_tags(self.tags.as_deref()),
            purged: self.purged_at.is_some(),
            purged_at: self.purged_at.map(ms_to_rfc3339),
            receipts: None,
            accepted: None,
            acceptance: None,
            delivery: None,
            certifies: None,
            routing: None,
            protocol: None,
        }
    }
}

/// The tags of a `tags` column (a JSON array of text; anything else reads as none).
pub fn parse_tags(json: Option<&str>) -> Vec<String> {
    json.and_then(|t| serde_json::from_str::<Vec<String>>(t).ok())
        .unwrap_or_default()
}

/// Result of an import.
#[derive(Debug)]
pub struct Imported {
    /// The stored message.
    pub row: MessageRow,
    /// Whether it was new (false: the same bytes, or the same PEC, were already in this
    /// mailbox; a byte-different copy of the same PEC is kept as its variant).
    pub created: bool,
}

/// Imports raw bytes into a mailbox through the one ingestion path
/// ([`crate::ingest::ingest_one`]: stored, then reconciled and routed). Idempotent: the
/// same bytes in the same mailbox give the same message, and so does the same PEC with
/// other bytes (kept as a variant). The raw bytes are stored once per SHA-256 across
/// mailboxes. Its callers are the import endpoint (`source` `api`, with the user as
/// actor) and the demo seed (`demo`, no actor).
pub async fn import_raw(
    store: &Store,
    actor: Option<&str>,
    org_id: &str,
    mailbox_id: &str,
    raw: Vec<u8>,
    trust: &Arc<TrustAnchors>,
) -> Result<Imported> {
    let source = if actor.is_some() { "api" } else { "demo" };
    let incoming = ingest::Incoming {
        raw,
        source: source.to_owned(),
        direction: None,
    };
    let outcome = ingest::ingest_one(store, trust, actor, org_id, mailbox_id, incoming).await?;
    let row = store_msgs::get(store, org_id, &outcome.message_id)
        .await?
        .ok_or(Error::NotFound)?;
    if outcome.status == ingest::Status::Created {
        tracing::info!(message.id = %row.id, mailbox.id = %mailbox_id, "message imported");
    }
    Ok(Imported {
        row,
        created: outcome.status == ingest::Status::Created,
    })
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

/// The detail of `row` with its receipts, its delivery (a sent message) and what it
/// certifies (a receipt): see [`crate::domain::reconcile::view`].
pub async fn with_receipts(store: &Store, row: MessageRow) -> Result<MessageResponse> {
    let v = crate::domain::reconcile::view(store, &row).await?;
    let mut r = row.into_response();
    r.receipts = Some(v.receipts);
    if let Some(rec) = v.reconciliation {
        r.accepted = Some(rec.accepted);
        r.acceptance = Some(rec.acceptance);
        r.delivery = Some(rec.delivery);
    }
    r.certifies = v.certifies;
    Ok(r)
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
    /// `hide`: no receipts; `only`: receipts only (`state=new` never lists receipts).
    pub receipts: Option<String>,
    /// `true` to list the trash instead.
    pub trashed: Option<bool>,
    /// `dispatch`: the dispatcher queue (incoming messages, not receipts, not routed, in
    /// mailboxes where the caller may route).
    pub queue: Option<String>,
    /// A folder: the messages in it and in the folders below it.
    pub folder: Option<String>,
    /// A category.
    pub category: Option<String>,
    /// A tag.
    pub tag: Option<String>,
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
    for (name, v, max) in [
        ("folder", &f.folder, FOLDER_MAX),
        ("category", &f.category, LABEL_MAX),
        ("tag", &f.tag, LABEL_MAX),
    ] {
        crate::limits::text(name, v.as_deref().unwrap_or_default(), max)?;
    }
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
    let receipts = match f.receipts.as_deref() {
        None => None,
        Some("hide") => Some(false),
        Some("only") => Some(true),
        Some(_) => {
            return Err(Error::invalid(
                "receipts deve essere hide o only / receipts must be hide or only",
            ));
        }
    };
    if let Some(q) = &f.queue
        && q != "dispatch"
    {
        return Err(Error::invalid("coda non valida / invalid queue"));
    }
    let filter = store_msgs::ListFilter {
        receipts,
        queue: f.queue.as_deref(),
        folder: f.folder.as_deref(),
        category: f.category.as_deref(),
        tag: f.tag.as_deref(),
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
    /// Set worked by hand, where no activity is needed (CertDoc's LAVORATO).
    Worked,
    /// Undo worked (a manager's correction: `Operation::UndoWorked`).
    Unworked,
}

/// Takes in charge, trashes, restores or sets worked a message (needs
/// `MAIL_ACCOUNT_MANAGER`); undoes worked (needs the manager's two policies,
/// `Operation::UndoWorked`). Each change is audited.
pub async fn change(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    what: Change,
) -> Result<MessageRow> {
    let (row, facts) = load_facts(store, who, person, id).await?;
    match what {
        Change::Unworked => authorize(person, Operation::UndoWorked(&facts))?,
        _ => authorize(person, Operation::ManageMessage(&facts))?,
    }
    let now = now_ms();
    let mut details = serde_json::json!({"mailbox_id": row.mailbox_id});
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
        Change::Worked => (
            store_msgs::set_worked(&mut tx, id, &who.user_id, now).await?,
            Action::MessageWorked,
        ),
        Change::Unworked => {
            details["worked_by"] = serde_json::json!(row.worked_by);
            (
                store_msgs::unset_worked(&mut tx, id).await?,
                Action::MessageUnworked,
            )
        }
    };
    if !changed {
        return Err(Error::conflict(match what {
            Change::Take => {
                "messaggio già preso in carico o nel cestino / message already taken or trashed"
            }
            Change::Trash => "messaggio già nel cestino / message already in the trash",
            Change::Restore => "messaggio non nel cestino / message is not in the trash",
            Change::Worked => {
                "messaggio già lavorato o nel cestino / message already worked or trashed"
            }
            Change::Unworked => "messaggio non lavorato / message is not worked",
        }));
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action,
        object_type: "message",
        object_id: id,
        details,
    })
    .await?;
    tx.commit().await?;
    tracing::info!(message.id = %id, user.id = %who.user_id, action = action.as_str(), "message changed");
    load(store, who, id).await
}

/// Sets `worked` the messages of activity `activity_id` whose activities are now all
/// closed (done or cancelled), with one audit entry each, inside the closing transaction.
/// Reopening an activity does not undo it: a manager does (`unworked`).
pub async fn work_when_activities_closed(
    tx: &mut crate::store::WriteTx,
    org_id: &str,
    user_id: &str,
    activity_id: &str,
    now: i64,
) -> Result<Vec<String>> {
    let ids = store_msgs::work_when_all_closed(tx, activity_id, user_id, now).await?;
    for id in &ids {
        tx.audit(audit::Entry {
            org_id: Some(org_id),
            actor_id: Some(user_id),
            action: Action::MessageWorked,
            object_type: "message",
            object_id: id,
            details: serde_json::json!({"auto": true, "activity_id": activity_id}),
        })
        .await?;
    }
    Ok(ids)
}

// ---- folders, categories, tags --------------------------------------------------------

/// Longest folder filter (the longest folder path).
const FOLDER_MAX: usize = pecdesk_core::folder::MAX_CHARS;
/// Longest category or tag (the rules' limits).
const LABEL_MAX: usize = pecdesk_core::rules::limits::CATEGORY;

/// `PATCH /api/v1/messages/{id}`: the fields present change; `null` clears a folder or a
/// category, `[]` clears the tags.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    /// Folder path (`Contratti/2026`: no empty level, at most 200 characters) or `null`.
    #[serde(default, deserialize_with = "crate::domain::admin::double_option")]
    #[schema(value_type = Option<String>)]
    pub folder: Option<Option<String>>,
    /// Category (at most 100 characters) or `null`.
    #[serde(default, deserialize_with = "crate::domain::admin::double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    /// Tags (at most 20, 50 characters each; repeated ones are kept once).
    pub tags: Option<Vec<String>>,
}

/// A category or a tag: trimmed, not empty, no control character, at most `max`.
fn label(field: &str, s: &str, max: usize) -> Result<String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::invalid(format!(
            "campo `{field}`: scrivi un testo o togli il campo / field `{field}`: write a text or leave the field out"
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "campo `{field}`: caratteri di controllo non ammessi / field `{field}`: control characters are not allowed"
        )));
    }
    crate::limits::text(field, t, max)?;
    Ok(t.to_owned())
}

/// The checked new values: `(folder, category, tags JSON)`, each `None` when absent.
type Checked = (
    Option<Option<String>>,
    Option<Option<String>>,
    Option<Option<String>>,
);

fn check_classify(req: &ClassifyRequest) -> Result<Checked> {
    use pecdesk_core::rules::limits;
    let folder = match &req.folder {
        Some(Some(f)) => Some(Some(
            pecdesk_core::folder::FolderPath::parse(f)
                .map_err(|e| Error::invalid(e.to_string()))?
                .as_str()
                .to_owned(),
        )),
        Some(None) => Some(None),
        None => None,
    };
    let category = match &req.category {
        Some(Some(c)) => Some(Some(label("category", c, limits::CATEGORY)?)),
        Some(None) => Some(None),
        None => None,
    };
    let tags = match &req.tags {
        Some(list) => {
            crate::limits::count("tags", list.len(), limits::TAGS)?;
            let mut out: Vec<String> = Vec::new();
            for (i, t) in list.iter().enumerate() {
                let t = label(&format!("tags[{i}]"), t, limits::TAG)?;
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            Some((!out.is_empty()).then(|| serde_json::Value::from(out).to_string()))
        }
        None => None,
    };
    Ok((folder, category, tags))
}

/// Sets a message's folder, category and tags (`MAIL_ACCOUNT_MANAGER`: "categorise,
/// move"); audited `message.classify` with the old and new values of what changed. A
/// purged message answers 409.
pub async fn classify(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    req: &ClassifyRequest,
) -> Result<MessageRow> {
    let (folder, category, tags) = check_classify(req)?;
    let (row, facts) = load_facts(store, who, person, id).await?;
    authorize(person, Operation::ManageMessage(&facts))?;
    if row.purged_at.is_some() {
        return Err(purged_conflict());
    }
    let new_folder = folder.unwrap_or_else(|| row.folder.clone());
    let new_category = category.unwrap_or_else(|| row.category.clone());
    let new_tags = tags.unwrap_or_else(|| row.tags.clone());
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    let mut note = |name: &str, before: &Option<String>, after: &Option<String>, tags: bool| {
        if before != after {
            let v = |x: &Option<String>| {
                if tags {
                    serde_json::json!(parse_tags(x.as_deref()))
                } else {
                    serde_json::json!(x)
                }
            };
            old.insert(name.to_owned(), v(before));
            new.insert(name.to_owned(), v(after));
        }
    };
    note("folder", &row.folder, &new_folder, false);
    note("category", &row.category, &new_category, false);
    note("tags", &row.tags, &new_tags, true);
    if new.is_empty() {
        return Ok(row);
    }
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let c = store_msgs::Classification {
        folder: new_folder.as_deref(),
        category: new_category.as_deref(),
        tags: new_tags.as_deref(),
    };
    if !store_msgs::classify(&mut tx, id, &c).await? {
        return Err(purged_conflict());
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::MessageClassify,
        object_type: "message",
        object_id: id,
        details: serde_json::json!({
            "mailbox_id": row.mailbox_id,
            "fields": new.keys().collect::<Vec<_>>(),
            "old": old,
            "new": new,
        }),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(message.id = %id, user.id = %who.user_id, "message classified");
    load(store, who, id).await
}

/// A purged message cannot change.
pub fn purged_conflict() -> Error {
    Error::conflict(
        "messaggio eliminato definitivamente (purge): resta solo la sua traccia / message \
         purged: only its record remains",
    )
}

/// The raw bytes of a purged message are gone (410).
pub fn purged_gone() -> Error {
    Error::Gone(
        "messaggio eliminato definitivamente da un amministratore (purge): restano la sua \
         traccia e le impronte SHA-256, non il contenuto / message purged by an \
         administrator: its record and SHA-256 hashes remain, not its content"
            .to_owned(),
    )
}

/// One folder, category or tag with how many live messages carry it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LabelCount {
    /// The folder path, category or tag.
    pub name: String,
    /// Live (not trashed) messages visible to the caller.
    pub count: i64,
}

/// `GET /api/v1/mailboxes/{id}/folders`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FoldersResponse {
    /// Folders in name order (a message counts in its own folder only).
    pub folders: Vec<LabelCount>,
    /// Categories in name order.
    pub categories: Vec<LabelCount>,
    /// Tags in name order.
    pub tags: Vec<LabelCount>,
}

/// The folders, categories and tags of a mailbox's live messages the caller may read,
/// with counts (another organisation's mailbox, or one the caller has no policy on,
/// answers 404).
pub async fn folders(
    store: &Store,
    who: &Principal,
    person: &Person,
    mailbox_id: &str,
) -> Result<FoldersResponse> {
    if !crate::store::users::mailbox_in_org(store, &who.org_id, mailbox_id).await? {
        return Err(Error::NotFound);
    }
    authorize(person, Operation::SeeMailbox { mailbox_id })?;
    let rows = store_msgs::classification_counts(store, &who.org_id, mailbox_id, person).await?;
    let mut folders = std::collections::BTreeMap::<String, i64>::new();
    let mut categories = std::collections::BTreeMap::<String, i64>::new();
    let mut tags = std::collections::BTreeMap::<String, i64>::new();
    for (kind, value, n) in rows {
        match kind.as_str() {
            "folder" => *folders.entry(value).or_default() += n,
            "category" => *categories.entry(value).or_default() += n,
            _ => {
                for t in parse_tags(Some(&value)) {
                    *tags.entry(t).or_default() += n;
                }
            }
        }
    }
    let list = |m: std::collections::BTreeMap<String, i64>| {
        m.into_iter()
            .map(|(name, count)| LabelCount { name, count })
            .collect()
    };
    Ok(FoldersResponse {
        folders: list(folders),
        categories: list(categories),
        tags: list(tags),
    })
}
