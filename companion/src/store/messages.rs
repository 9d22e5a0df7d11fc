//! Messages, their raw bytes (stored once per SHA-256) and their receipts.
//!
//! Reads that answer "may this person see it" select the participation predicate of
//! [`visibility`] as a column (`participant`), so the core's
//! [`authorize`](pecdesk_core::authz::authorize) decides from the row alone; the list
//! filters with [`visibility::message_visible`], the set form of the same rule.

use std::borrow::Cow;

use pecdesk_core::authz::{MessageFacts, Person};

use crate::bind_all;
use crate::error::Result;
use crate::store::query::{self, Bind, Binds, like_patterns};
use crate::store::visibility;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// Columns of [`MessageRow`], in order, for the messages row aliased `m`.
pub const MESSAGE_COLS: &str = "m.id, m.org_id, m.mailbox_id, m.raw_sha256, m.internet_message_id, \
    m.identificativo, m.kind, m.direction, m.subject, m.sender, m.summary, m.state, m.taken_by, \
    m.taken_at, m.trashed_at, m.received_at, m.worked_by, m.worked_at, m.folder, m.category, \
    m.tags, m.purged_at, m.archived_at";

/// A stored message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    /// Id (UUIDv7).
    pub id: String,
    /// Organisation.
    pub org_id: String,
    /// Mailbox.
    pub mailbox_id: String,
    /// SHA-256 of the raw bytes (hex), key of `raw_blobs`.
    pub raw_sha256: String,
    /// Internet Message-ID, without angle brackets.
    pub internet_message_id: Option<String>,
    /// PEC identificativo.
    pub identificativo: Option<String>,
    /// PEC kind's wire name.
    pub kind: String,
    /// `in` or `out`.
    pub direction: String,
    /// Subject.
    pub subject: Option<String>,
    /// Sender address.
    pub sender: Option<String>,
    /// The summary of `PEC.md`, JSON text.
    pub summary: String,
    /// `new`, `taken` or `worked`.
    pub state: String,
    /// Who took it in charge.
    pub taken_by: Option<String>,
    /// When (ms).
    pub taken_at: Option<i64>,
    /// When it was trashed (ms).
    pub trashed_at: Option<i64>,
    /// When it was imported (ms).
    pub received_at: i64,
    /// Who set it `worked` (by hand, or by closing its last activity).
    pub worked_by: Option<String>,
    /// When (ms).
    pub worked_at: Option<i64>,
    /// The companion-side archive folder (`Contratti/2026`).
    pub folder: Option<String>,
    /// Category (set by a rule or by hand).
    pub category: Option<String>,
    /// Tags, a JSON array of text.
    pub tags: Option<String>,
    /// When it was purged (ms): a tombstone whose raw bytes are gone.
    pub purged_at: Option<i64>,
    /// When its bytes were expunged from the provider's box by the archive policy (ms);
    /// the copy here stays.
    #[sqlx(default)]
    pub archived_at: Option<i64>,
    /// Display name of who took it in charge, read by the same query ([`TAKEN_BY_NAME`]);
    /// `None` where a query does not select it.
    #[sqlx(default)]
    pub taken_by_name: Option<String>,
}

/// The display name of `m.taken_by`, as a column of the same query (a primary-key lookup
/// per row returned, no second round trip).
pub const TAKEN_BY_NAME: &str =
    "(SELECT tu.name FROM users tu WHERE tu.id = m.taken_by) AS taken_by_name";

/// A message row with whether the asking person participates in an activity linked to it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageAccessRow {
    /// The message.
    #[sqlx(flatten)]
    pub row: MessageRow,
    /// [`visibility::message_participation`], evaluated for the asking person.
    pub participant: bool,
}

impl MessageAccessRow {
    /// The facts the core decides message operations from.
    pub fn facts(&self) -> MessageFacts {
        MessageFacts {
            mailbox_id: self.row.mailbox_id.clone(),
            participant: self.participant,
        }
    }
}

/// A receipt as a message's detail lists it (linked to it as its sent message, or of the
/// same submission): what it certifies, from its daticert.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct ReceiptRef {
    /// Message id.
    pub id: String,
    /// PEC kind.
    pub kind: String,
    /// daticert `consegna`: the recipient it is about (`null` for an accettazione).
    pub recipient: Option<String>,
    /// `completa`, `breve` or `sintetica` (delivery receipts).
    pub receipt_type: Option<String>,
    /// daticert `errore` (`nessuno`, `no-dest`, `no-dominio`, `virus`, `altro`).
    pub error: Option<String>,
    /// daticert `errore-esteso`: the provider's words about the error.
    pub error_detail: Option<String>,
    /// A virus notice.
    pub virus: bool,
    /// Certified time (daticert `data`, ISO 8601 with offset).
    pub issued_at: Option<String>,
}

/// A new message, as [`insert`] writes it.
#[derive(Debug)]
pub struct NewMessage<'a> {
    /// Id (UUIDv7).
    pub id: &'a str,
    /// Organisation.
    pub org_id: &'a str,
    /// Mailbox.
    pub mailbox_id: &'a str,
    /// SHA-256 of the raw bytes.
    pub raw_sha256: &'a str,
    /// Internet Message-ID.
    pub internet_message_id: Option<&'a str>,
    /// PEC identificativo.
    pub identificativo: Option<&'a str>,
    /// PEC kind's wire name.
    pub kind: &'a str,
    /// `in` or `out`.
    pub direction: &'a str,
    /// Subject.
    pub subject: Option<&'a str>,
    /// Sender.
    pub sender: Option<&'a str>,
    /// Summary JSON.
    pub summary: &'a str,
    /// Import time (ms).
    pub received_at: i64,
    /// Lower-case text searched by `q=`.
    pub search_text: &'a str,
    /// The PEC's identity ([`pecdesk_core::pec::identity`]); `None` for an ordinary mail.
    pub pec_identity: Option<&'a str>,
    /// Where it came from (`imap:INBOX`, `import`, `api`, `demo`, ...).
    pub source: &'a str,
}

const FIND_BY_SHA: &str = "m.mailbox_id = $1 AND m.raw_sha256 = $2";

/// The message with these bytes in this mailbox, inside the write transaction.
pub async fn find_by_sha(
    tx: &mut WriteTx,
    mailbox_id: &str,
    sha: &str,
) -> Result<Option<MessageRow>> {
    let sql = format!("SELECT {MESSAGE_COLS}, {TAKEN_BY_NAME} FROM messages m WHERE {FIND_BY_SHA}");
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(mailbox_id)
        .bind(sha)
        .fetch_optional(&mut *c)
        .await)?)
}

/// [`find_by_sha`] outside a transaction: the cheap early answer for a repeated import.
pub async fn find_by_sha_pooled(
    store: &Store,
    mailbox_id: &str,
    sha: &str,
) -> Result<Option<MessageRow>> {
    let sql = format!("SELECT {MESSAGE_COLS}, {TAKEN_BY_NAME} FROM messages m WHERE {FIND_BY_SHA}");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(mailbox_id)
        .bind(sha)
        .fetch_optional(p)
        .await)?)
}

/// Stores raw bytes once per SHA-256 (a second store of the same bytes does nothing).
/// Stores raw bytes once per hash (a second import of the same bytes writes nothing).
const INSERT_BLOB: &str = "INSERT INTO raw_blobs (sha256, size, bytes) VALUES ($1, $2, $3) \
                           ON CONFLICT (sha256) DO NOTHING";

pub async fn insert_raw_blob(tx: &mut WriteTx, sha: &str, raw: &[u8]) -> Result<()> {
    let size = i64::try_from(raw.len()).unwrap_or(i64::MAX);
    with_tx!(tx, |c| sqlx::query(INSERT_BLOB)
        .bind(sha)
        .bind(size)
        .bind(raw)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Raw messages at least this large are written by [`insert_large_raw_blob`].
pub const LARGE_BLOB: usize = 1024 * 1024;

/// Stores the raw bytes of a large message before its message row, on a connection of
/// its own that is closed right after.
///
/// A pooled connection keeps what its largest statement needed: PostgreSQL's connection
/// keeps a write buffer as large as the largest row it sent, SQLite's statement cache keeps
/// the last bound blob. After a few 30 MB imports every connection of the pool would hold
/// its own 30 MB for good (docs/BENCHMARKS.md, "Memory of concurrent imports"). Writing the
/// blob first is safe: it is keyed by its hash (`ON CONFLICT DO NOTHING`), so a crash before
/// the message row leaves a blob the next import of the same bytes reuses, never a message
/// without its bytes. The bytes are taken by value: SQLite's binding then moves them
/// instead of copying 30 MB once more.
pub async fn insert_large_raw_blob(store: &Store, sha: &str, raw: Vec<u8>) -> Result<()> {
    use sqlx::{ConnectOptions as _, Connection as _};
    let size = i64::try_from(raw.len()).unwrap_or(i64::MAX);
    // The same statement on a fresh connection of either engine, closed after.
    macro_rules! on_own_connection {
        ($pool:expr) => {{
            let mut c = $pool.connect_options().connect().await?;
            sqlx::query(INSERT_BLOB)
                .bind(sha)
                .bind(size)
                .bind(raw)
                .execute(&mut c)
                .await?;
            c.close().await?;
        }};
    }
    match &store.pool {
        crate::store::Pool::Sqlite(p) => on_own_connection!(p),
        crate::store::Pool::Postgres(p) => on_own_connection!(p),
    }
    Ok(())
}

/// The text rule of message-derived data (`docs/architecture.md`, "Text and NUL bytes"):
/// a NUL character becomes U+FFFD (the replacement character). PostgreSQL text cannot hold
/// NUL and a message may carry one anywhere (a Subject, a Message-ID); the raw bytes are
/// stored as they came, so nothing is lost. Applied by [`insert`], the one write of
/// message-derived text, so both engines store the same text.
pub fn nul_free(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// [`nul_free`] for JSON text (the summary): the escape `\u0000` becomes `\ufffd`. Every
/// backslash of JSON starts a two-character escape, so walking escape by escape never
/// takes an escaped backslash followed by `u0000` (text, not a NUL) for one.
fn nul_free_json(s: &str) -> Cow<'_, str> {
    if !s.contains("\\u0000") && !s.contains('\0') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if b[i + 1..].starts_with(b"u0000") => {
                out.extend_from_slice(b"\\ufffd");
                i += 6;
            }
            b'\\' => {
                out.extend_from_slice(&b[i..(i + 2).min(b.len())]);
                i += 2;
            }
            0 => {
                out.extend_from_slice("\u{fffd}".as_bytes());
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    // Only ASCII was replaced at ASCII positions: still UTF-8.
    Cow::Owned(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// Inserts a new message in state `new`, its text made NUL-free ([`nul_free`]).
pub async fn insert(tx: &mut WriteTx, m: &NewMessage<'_>) -> Result<()> {
    let text = |v: Option<&str>| v.map(|v| nul_free(v).into_owned());
    let (message_id, identificativo) = (text(m.internet_message_id), text(m.identificativo));
    let (subject, sender) = (text(m.subject), text(m.sender));
    let summary = nul_free_json(m.summary);
    let search_text = nul_free(m.search_text);
    let pec_identity = text(m.pec_identity);
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO messages (id, org_id, mailbox_id, raw_sha256, internet_message_id, identificativo, \
         kind, direction, subject, sender, summary, state, received_at, search_text, \
         pec_identity, source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'new', $12, $13, $14, $15)"
    )
    .bind(m.id)
    .bind(m.org_id)
    .bind(m.mailbox_id)
    .bind(m.raw_sha256)
    .bind(message_id.as_deref())
    .bind(identificativo.as_deref())
    .bind(m.kind)
    .bind(m.direction)
    .bind(subject.as_deref())
    .bind(sender.as_deref())
    .bind(summary.as_ref())
    .bind(m.received_at)
    .bind(search_text.as_ref())
    .bind(pec_identity.as_deref())
    .bind(m.source)
    .execute(&mut *c)
    .await
    .map(|_| ())
    })?;
    Ok(())
}

/// A message of organisation `org_id` (none when missing or of another organisation).
pub async fn get(store: &Store, org_id: &str, id: &str) -> Result<Option<MessageRow>> {
    let sql = format!(
        "SELECT {MESSAGE_COLS}, {TAKEN_BY_NAME} FROM messages m WHERE m.id = $1 AND m.org_id = $2"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(p)
        .await)?)
}

/// A message of organisation `org_id` with `who`'s participation, for the core to decide.
pub async fn get_for(
    store: &Store,
    org_id: &str,
    who: &Person,
    id: &str,
) -> Result<Option<MessageAccessRow>> {
    let mut b = Binds::default();
    let id = b.text(id);
    let org = b.text(org_id);
    let part = visibility::message_participation(&mut b, "m", &org, who);
    let sql = format!(
        "SELECT {MESSAGE_COLS}, {TAKEN_BY_NAME}, {part} AS participant FROM messages m \
         WHERE m.id = {id} AND m.org_id = {org}"
    );
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_optional(p)
        .await)?)
}

/// Messages of organisation `org_id` whose Internet Message-ID or identificativo is `key`,
/// with `who`'s participation (at most 50, oldest first).
pub async fn lookup_for(
    store: &Store,
    org_id: &str,
    who: &Person,
    key: &str,
) -> Result<Vec<MessageAccessRow>> {
    let mut b = Binds::default();
    let org = b.text(org_id);
    let key = b.text(key);
    let part = visibility::message_participation(&mut b, "m", &org, who);
    let sql = format!(
        "SELECT {MESSAGE_COLS}, {TAKEN_BY_NAME}, {part} AS participant FROM messages m \
         WHERE m.org_id = {org} AND \
         (m.internet_message_id = {key} OR m.identificativo = {key}) \
         ORDER BY m.received_at, m.id LIMIT 50"
    );
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// Filters of [`list_visible`] (already checked by the caller).
#[derive(Debug, Default, Clone)]
pub struct ListFilter<'a> {
    /// The trash instead of the live messages.
    pub trashed: bool,
    /// One mailbox.
    pub mailbox: Option<&'a str>,
    /// `new`, `taken` or `worked`.
    pub state: Option<&'a str>,
    /// PEC kind.
    pub kind: Option<&'a str>,
    /// Search words.
    pub q: Option<&'a str>,
    /// `Some(false)`: no receipts; `Some(true)`: receipts only.
    pub receipts: Option<bool>,
    /// `dispatch`: the dispatcher queue ([`crate::store::routing::dispatch_queue`]).
    pub queue: Option<&'a str>,
    /// A folder and its subfolders.
    pub folder: Option<&'a str>,
    /// One category.
    pub category: Option<&'a str>,
    /// One tag.
    pub tag: Option<&'a str>,
    /// Rows to return.
    pub limit: i64,
    /// The last row of the previous page: `received_at` (ms) and id.
    pub after: Option<(i64, &'a str)>,
}

/// The list's order, newest first; the keyset of [`ListFilter::after`] follows it.
const LIST_ORDER: &str = "m.received_at DESC, m.id DESC";

/// Messages of organisation `org_id` visible to `who`, newest first, after the cursor.
pub async fn list_visible(
    store: &Store,
    org_id: &str,
    who: &Person,
    f: &ListFilter<'_>,
) -> Result<Vec<MessageRow>> {
    let mut b = Binds::default();
    let org = b.text(org_id);
    let visible = visibility::message_visible(&mut b, "m", &org, who);
    let mut sql = format!("SELECT m.* FROM messages m WHERE m.org_id = {org} AND {visible}");
    if f.trashed {
        sql.push_str(" AND m.trashed_at IS NOT NULL");
    } else {
        sql.push_str(" AND m.trashed_at IS NULL");
    }
    if let Some(mb) = f.mailbox {
        sql.push_str(&format!(" AND m.mailbox_id = {}", b.text(mb)));
    }
    if let Some(st) = f.state {
        sql.push_str(&format!(" AND m.state = {}", b.text(st)));
        // What the mailbox sent (the Sent folder's copies) is nobody's new work either.
        if st == "new" {
            sql.push_str(" AND m.direction = 'in'");
        }
    }
    if let Some(k) = f.kind {
        sql.push_str(&format!(" AND m.kind = {}", b.text(k)));
    }
    // Receipts are never "new" work: `state=new` leaves them out too.
    let kinds = &*crate::store::receipts::RECEIPT_KINDS_SQL;
    match (f.receipts, f.state) {
        (Some(true), _) => sql.push_str(&format!(" AND m.kind IN {kinds}")),
        (Some(false), _) | (None, Some("new")) => {
            sql.push_str(&format!(" AND m.kind NOT IN {kinds}"));
        }
        (None, _) => {}
    }
    if let Some(q) = f.q {
        for pat in like_patterns(q) {
            sql.push_str(&format!(
                " AND m.search_text LIKE {} ESCAPE '\\'",
                b.text(pat)
            ));
        }
    }
    if let Some(folder) = f.folder {
        // The folder itself or one below it (`Contratti` lists `Contratti/2026`).
        let exact = b.text(folder);
        let below = b.text(format!("{folder}/"));
        let n = b.int(i64::try_from(folder.chars().count() + 1).unwrap_or(i64::MAX));
        sql.push_str(&format!(
            " AND (m.folder = {exact} OR substr(m.folder, 1, CAST({n} AS INTEGER)) = {below})"
        ));
    }
    if let Some(c) = f.category {
        sql.push_str(&format!(" AND m.category = {}", b.text(c)));
    }
    if let Some(t) = f.tag {
        // `tags` is a JSON array: its elements are the JSON strings inside it; replace()
        // is case-sensitive on both engines (LIKE is not on SQLite).
        let needle = b.text(serde_json::Value::from(t).to_string());
        sql.push_str(&format!(
            " AND m.tags IS NOT NULL AND replace(m.tags, {needle}, '') <> m.tags"
        ));
    }
    if f.queue == Some("dispatch") {
        let cond = crate::store::routing::dispatch_queue(&mut b, "m", who);
        sql.push_str(&format!(" AND {cond}"));
    }
    if let Some((at, id)) = f.after {
        let cond = query::after(&mut b, "m.received_at", "m.id", Bind::Int(at), id, true);
        sql.push_str(&format!(" AND {cond}"));
    }
    let limit = b.int(f.limit);
    sql.push_str(&format!(" ORDER BY {LIST_ORDER} LIMIT {limit}"));
    // The names are looked up for the page only, not for every row the order considers.
    let sql = format!(
        "SELECT {MESSAGE_COLS}, {TAKEN_BY_NAME} FROM ({sql}) m ORDER BY {LIST_ORDER} LIMIT {limit}"
    );
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// The raw bytes stored under `sha`.
pub async fn raw_bytes(store: &Store, sha: &str) -> Result<Vec<u8>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT bytes FROM raw_blobs WHERE sha256 = $1"
    )
    .bind(sha)
    .fetch_one(p)
    .await)?)
}

/// Takes a `new`, live message in charge; returns whether it changed.
pub async fn take(tx: &mut WriteTx, id: &str, user_id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET state = 'taken', taken_by = $2, taken_at = $3 \
         WHERE id = $1 AND state = 'new' AND trashed_at IS NULL"
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Moves a live message to the trash; returns whether it changed.
pub async fn trash(tx: &mut WriteTx, id: &str, user_id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, |c| {
        sqlx::query(
        "UPDATE messages SET trashed_at = $3, trashed_by = $2 WHERE id = $1 AND trashed_at IS NULL"
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Restores a trashed message (not a purged one); returns whether it changed.
pub async fn restore(tx: &mut WriteTx, id: &str) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET trashed_at = NULL, trashed_by = NULL \
         WHERE id = $1 AND trashed_at IS NOT NULL AND purged_at IS NULL"
    )
    .bind(id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A message's folder, category and tags (JSON) as [`classify`] writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification<'a> {
    /// Folder path, or none.
    pub folder: Option<&'a str>,
    /// Category, or none.
    pub category: Option<&'a str>,
    /// JSON array of tags, or none.
    pub tags: Option<&'a str>,
}

/// Writes a message's folder, category and tags (a purged message keeps what it had);
/// returns whether a row changed.
pub async fn classify(tx: &mut WriteTx, id: &str, c: &Classification<'_>) -> Result<bool> {
    let n = with_tx!(tx, |conn| sqlx::query(
        "UPDATE messages SET folder = $2, category = $3, tags = $4 \
         WHERE id = $1 AND purged_at IS NULL"
    )
    .bind(id)
    .bind(c.folder)
    .bind(c.category)
    .bind(c.tags)
    .execute(&mut *conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Folders, categories and tag lists of the live messages of `mailbox_id` visible to
/// `who`, with how many messages each: `(kind, value, count)`, kind `folder` or
/// `category`; tags come back as their JSON arrays (`tags`) with the count of messages
/// holding that exact array, for the caller to split.
pub async fn classification_counts(
    store: &Store,
    org_id: &str,
    mailbox_id: &str,
    who: &Person,
) -> Result<Vec<(String, String, i64)>> {
    let mut b = Binds::default();
    let org = b.text(org_id);
    let mb = b.text(mailbox_id);
    let visible = visibility::message_visible(&mut b, "m", &org, who);
    let base = format!(
        "FROM messages m WHERE m.org_id = {org} AND m.mailbox_id = {mb} \
         AND m.trashed_at IS NULL AND {visible}"
    );
    let sql = format!(
        "SELECT 'folder' AS kind, m.folder AS value, COUNT(*) AS n {base} \
         AND m.folder IS NOT NULL GROUP BY m.folder \
         UNION ALL SELECT 'category', m.category, COUNT(*) {base} \
         AND m.category IS NOT NULL GROUP BY m.category \
         UNION ALL SELECT 'tags', m.tags, COUNT(*) {base} \
         AND m.tags IS NOT NULL GROUP BY m.tags"
    );
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// Ids of a mailbox's messages, oldest import first (the demo's story picks its messages).
pub async fn ids_by_mailbox(store: &Store, mailbox_id: &str) -> Result<Vec<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT id FROM messages WHERE mailbox_id = $1 ORDER BY received_at, id"
    )
    .bind(mailbox_id)
    .fetch_all(p)
    .await)?)
}

// ---- ingestion (crate::ingest) --------------------------------------------------------

/// Of `shas`, those already stored in mailbox `mailbox_id` (as a message or as a
/// variant), with the message each is: the cheap early answer for messages seen before,
/// outside any transaction. Final: nothing is ever hard-deleted.
pub async fn known_shas(
    store: &Store,
    mailbox_id: &str,
    shas: &[&str],
) -> Result<std::collections::HashMap<String, String>> {
    let mut known = std::collections::HashMap::new();
    // Bounded IN lists: far below either engine's limit of bound parameters. Variants are
    // looked up from their hash (EXISTS, not a join): with a join SQLite (no statistics)
    // walked every message of the mailbox per lookup, a cost growing with the mailbox.
    for chunk in shas.chunks(500) {
        let mut b = Binds::default();
        let mb = b.text(mailbox_id);
        let list: Vec<String> = chunk.iter().map(|s| b.text(*s)).collect();
        let list = list.join(", ");
        let sql = format!(
            "SELECT m.raw_sha256, m.id FROM messages m WHERE m.mailbox_id = {mb} \
             AND m.raw_sha256 IN ({list}) \
             UNION SELECT v.raw_sha256, v.message_id FROM message_variants v \
             WHERE v.raw_sha256 IN ({list}) AND EXISTS (SELECT 1 FROM messages m \
             WHERE m.id = v.message_id AND m.mailbox_id = {mb})"
        );
        let rows: Vec<(String, String)> = with_pool!(store, |p| bind_all!(
            sqlx::query_as(&sql).persistent(false),
            b
        )
        .fetch_all(p)
        .await)?;
        known.extend(rows);
    }
    Ok(known)
}

/// The message of mailbox `mailbox_id` these bytes are (its own bytes or a variant's),
/// inside the write transaction.
pub async fn id_by_sha(tx: &mut WriteTx, mailbox_id: &str, sha: &str) -> Result<Option<String>> {
    Ok(with_tx!(tx, |c| {
        sqlx::query_scalar(
            "SELECT id FROM messages WHERE mailbox_id = $1 AND raw_sha256 = $2 \
         UNION ALL SELECT v.message_id FROM message_variants v \
         WHERE v.raw_sha256 = $2 AND EXISTS (SELECT 1 FROM messages m \
         WHERE m.id = v.message_id AND m.mailbox_id = $1) LIMIT 1",
        )
        // Planned for its values each time: a plan cached while the mailbox was empty
        // would walk the whole mailbox once it is large (PostgreSQL's generic plans).
        .persistent(false)
        .bind(mailbox_id)
        .bind(sha)
        .fetch_optional(&mut *c)
        .await
    })?)
}

/// The message of mailbox `mailbox_id` with this PEC identity, inside the write transaction.
pub async fn id_by_identity(
    tx: &mut WriteTx,
    mailbox_id: &str,
    identity: &str,
) -> Result<Option<String>> {
    let identity = nul_free(identity);
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM messages WHERE mailbox_id = $1 AND pec_identity = $2"
    )
    .persistent(false)
    .bind(mailbox_id)
    .bind(identity.as_ref())
    .fetch_optional(&mut *c)
    .await)?)
}

/// Records a byte-different copy of message `message_id` (its bytes already stored).
pub async fn insert_variant(
    tx: &mut WriteTx,
    message_id: &str,
    sha: &str,
    source: &str,
    received_at: i64,
) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO message_variants (message_id, raw_sha256, source, received_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (message_id, raw_sha256) DO NOTHING"
    )
    .bind(message_id)
    .bind(sha)
    .bind(source)
    .bind(received_at)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A variant of a message: where its bytes are.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct VariantRow {
    /// SHA-256 of the copy's raw bytes (hex); its raw at
    /// `/api/v1/messages/{id}/variants/{sha256}/raw`.
    #[serde(rename = "sha256")]
    pub raw_sha256: String,
    /// Where the copy came from.
    pub source: Option<String>,
    /// When it arrived (ms).
    pub received_at: i64,
}

/// The variants of a message, oldest first.
pub async fn variants(store: &Store, message_id: &str) -> Result<Vec<VariantRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT raw_sha256, source, received_at FROM message_variants WHERE message_id = $1 \
         ORDER BY received_at, raw_sha256"
    )
    .bind(message_id)
    .fetch_all(p)
    .await)?)
}

/// Whether `sha` is the bytes of a variant of message `message_id`.
pub async fn is_variant(store: &Store, message_id: &str, sha: &str) -> Result<bool> {
    let hit: Option<i64> = with_pool!(store, |p| {
        sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM message_variants WHERE message_id = $1 AND raw_sha256 = $2"
    )
    .bind(message_id)
    .bind(sha)
    .fetch_optional(p)
    .await
    })?;
    Ok(hit.is_some())
}

/// A message the steps after storage have not yet processed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingRow {
    /// Message id.
    pub id: String,
    /// Its organisation.
    pub org_id: String,
    /// When it was stored (ms), the order of processing.
    pub received_at: i64,
}

/// Up to `limit` unprocessed messages after `(received_at, id)`, oldest first.
pub async fn unprocessed(
    store: &Store,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<PendingRow>> {
    let (at, id) = after.unwrap_or((i64::MIN, ""));
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, org_id, received_at FROM messages WHERE processed_at IS NULL \
         AND (received_at > $1 OR (received_at = $1 AND id > $2)) \
         ORDER BY received_at, id LIMIT $3"
    )
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(p)
    .await)?)
}

/// Marks messages processed (those not yet marked).
pub async fn mark_processed(tx: &mut WriteTx, ids: &[String], now: i64) -> Result<()> {
    for chunk in ids.chunks(500) {
        let mut b = Binds::default();
        let at = b.int(now);
        let list: Vec<String> = chunk.iter().map(|s| b.text(s.as_str())).collect();
        let sql = format!(
            "UPDATE messages SET processed_at = {at} WHERE processed_at IS NULL AND id IN ({})",
            list.join(", ")
        );
        with_tx!(tx, |c| bind_all!(sqlx::query(&sql), b)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

/// A PEC stored before identities were recorded (migration 0008), to backfill.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdentityCandidate {
    /// Message id.
    pub id: String,
    /// Its organisation.
    pub org_id: String,
    /// Its mailbox.
    pub mailbox_id: String,
    /// Its summary (JSON text).
    pub summary: String,
}

/// Messages stored before migration 0008 (no `source`), oldest first, after `id`
/// (index `messages_without_source`, empty once [`mark_legacy`] has run over them).
pub async fn identity_candidates(
    store: &Store,
    after: &str,
    limit: i64,
) -> Result<Vec<IdentityCandidate>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, org_id, mailbox_id, summary FROM messages WHERE source IS NULL \
         AND id > $1 ORDER BY id LIMIT $2"
    )
    .bind(after)
    .bind(limit)
    .fetch_all(p)
    .await)?)
}

/// Marks a message stored before migration 0008 as seen by the backfill (`source` =
/// `legacy`: where it came from was not recorded then).
pub async fn mark_legacy(tx: &mut WriteTx, id: &str) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET source = 'legacy' WHERE id = $1 AND source IS NULL"
    )
    .bind(id)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Records a message's identity unless another message of its mailbox holds it already
/// (two copies stored before identities existed stay two messages); returns whether set.
pub async fn set_identity(tx: &mut WriteTx, id: &str, identity: &str) -> Result<bool> {
    let identity = nul_free(identity);
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET pec_identity = $2 WHERE id = $1 AND pec_identity IS NULL \
         AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.mailbox_id = messages.mailbox_id \
         AND o.pec_identity = $2)"
    )
    .bind(id)
    .bind(identity.as_ref())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The mailbox with this address: `(organisation, mailbox id)` of each match.
pub async fn mailboxes_by_address(store: &Store, address: &str) -> Result<Vec<(String, String)>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT org_id, id FROM mailboxes WHERE lower(address) = lower($1) ORDER BY id"
    )
    .bind(address)
    .fetch_all(p)
    .await)?)
}

// ---- worked (presa in carico) ---------------------------------------------------------

/// Sets a live `new` or `taken` message `worked` by hand; returns whether it changed.
pub async fn set_worked(tx: &mut WriteTx, id: &str, user_id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET state = 'worked', worked_by = $2, worked_at = $3 \
         WHERE id = $1 AND state IN ('new', 'taken') AND trashed_at IS NULL"
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Undoes `worked`: back to `taken` when someone had taken it, else `new`; returns
/// whether it changed.
pub async fn unset_worked(tx: &mut WriteTx, id: &str) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET state = CASE WHEN taken_by IS NULL THEN 'new' ELSE 'taken' END, \
         worked_by = NULL, worked_at = NULL WHERE id = $1 AND state = 'worked'"
    )
    .bind(id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Sets `worked` every message linked to activity `activity_id` whose linked activities
/// are now all closed (done or cancelled); returns the ids it changed.
pub async fn work_when_all_closed(
    tx: &mut WriteTx,
    activity_id: &str,
    user_id: &str,
    now: i64,
) -> Result<Vec<String>> {
    Ok(with_tx!(tx, |c| {
        sqlx::query_scalar(
        "UPDATE messages SET state = 'worked', worked_by = $2, worked_at = $3 \
         WHERE id IN (SELECT message_id FROM activity_messages WHERE activity_id = $1) \
         AND state <> 'worked' \
         AND NOT EXISTS (SELECT 1 FROM activity_messages am JOIN activities a ON a.id = am.activity_id \
         WHERE am.message_id = messages.id AND a.status NOT IN ('done', 'cancelled')) \
         RETURNING id"
    )
    .bind(activity_id)
    .bind(user_id)
    .bind(now)
    .fetch_all(&mut *c)
    .await
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_becomes_the_replacement_character_in_text_and_json() {
        assert_eq!(nul_free("a\0b"), "a\u{fffd}b");
        assert!(matches!(nul_free("ab"), Cow::Borrowed(_)));
        let json = serde_json::to_string(&serde_json::json!({"s": "a\0b", "t": "\\u0000"}))
            .unwrap_or_default();
        let clean = nul_free_json(&json);
        let v: serde_json::Value = serde_json::from_str(&clean).unwrap_or_default();
        assert_eq!(v["s"], "a\u{fffd}b");
        // A backslash followed by `u0000` is text and stays as it is.
        assert_eq!(v["t"], "\\u0000");
    }
}
