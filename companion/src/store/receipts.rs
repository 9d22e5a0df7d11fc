//! Receipt links (migration 0010): each receipt's certified facts, the sent message it
//! certifies once known, and a sent message's recipients. The matching rule is the core's
//! ([`pecdesk_core::reconcile::match_key`]); the SQL here applies it set-wise: a receipt's
//! `match_key` is its own original Message-ID or the one of an accettazione of the same
//! `identificativo`, and the sent message is the oldest non-receipt message of the same
//! mailbox whose Internet Message-ID equals it (the first stored: smallest UUIDv7 id). Every statement names the organisation.

use std::sync::LazyLock;

use pecdesk_core::reconcile::{RECEIPT_KINDS, ReceiptFacts, SentFacts};

use crate::bind_all;
use crate::error::Result;
use crate::store::query::Binds;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// `('accettazione', ...)`: the receipt kinds as an SQL list (constants, no user input).
pub static RECEIPT_KINDS_SQL: LazyLock<String> = LazyLock::new(|| {
    let quoted: Vec<String> = RECEIPT_KINDS.iter().map(|k| format!("'{k}'")).collect();
    format!("({})", quoted.join(", "))
});

/// How many values one `IN` list binds (SQLite allows 32,766 variables; PostgreSQL 65,535).
pub const CHUNK: usize = 500;

/// What reconciliation reads of a stored message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReconcileRow {
    /// Message id.
    pub id: String,
    /// Mailbox.
    pub mailbox_id: String,
    /// PEC kind's wire name.
    pub kind: String,
    /// `in` or `out`.
    pub direction: String,
    /// Internet Message-ID.
    pub internet_message_id: Option<String>,
    /// The summary JSON.
    pub summary: String,
    /// Key of the raw bytes.
    pub raw_sha256: String,
}

/// The messages `ids` of organisation `org_id` (others' ids are ignored).
pub async fn load_for_reconcile(
    store: &Store,
    org_id: &str,
    ids: &[String],
) -> Result<Vec<ReconcileRow>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let mut b = Binds::default();
        let org = b.text(org_id);
        let list = b.list(chunk);
        let sql = format!(
            "SELECT id, mailbox_id, kind, direction, internet_message_id, summary, raw_sha256 \
             FROM messages WHERE org_id = {org} AND id IN {list}"
        );
        let rows: Vec<ReconcileRow> = with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
            .fetch_all(p)
            .await)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Records a receipt's facts (nothing when it is already recorded: idempotent). Its
/// `match_key` starts as its own original Message-ID.
pub async fn insert_link(
    tx: &mut WriteTx,
    org_id: &str,
    mailbox_id: &str,
    f: &ReceiptFacts,
    now: i64,
) -> Result<()> {
    let recipient = f
        .recipient
        .as_deref()
        .map(pecdesk_core::reconcile::normalize_address);
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO receipt_links (receipt_id, org_id, mailbox_id, kind, identificativo, \
         original_message_id, match_key, recipient, receipt_type, error, error_detail, virus, \
         issued_at, issued_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (receipt_id) DO NOTHING"
    )
    .bind(&f.id)
    .bind(org_id)
    .bind(mailbox_id)
    .bind(f.kind.as_str())
    .bind(f.identificativo.as_deref())
    .bind(f.original_message_id.as_deref())
    .bind(recipient.as_deref())
    .bind(f.receipt_type.as_deref())
    .bind(f.error.as_deref())
    .bind(f.error_detail.as_deref())
    .bind(f.virus)
    .bind(f.issued_at.as_deref())
    .bind(f.issued_ms())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Gives receipts without an original Message-ID the one of a receipt of the same
/// submission (same mailbox and `identificativo`; an accettazione's first, then the
/// smallest: the core's [`match_key`](pecdesk_core::reconcile::match_key)), for the
/// submissions `identificativi`. Returns the keys it gave.
pub async fn borrow_keys(
    tx: &mut WriteTx,
    org_id: &str,
    identificativi: &[String],
) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    for chunk in identificativi.chunks(CHUNK) {
        let mut b = Binds::default();
        let org = b.text(org_id);
        let list = b.list(chunk);
        let lender = |extra: &str| {
            format!(
                "(SELECT MIN(s.original_message_id) FROM receipt_links s \
                 WHERE s.org_id = l.org_id AND s.mailbox_id = l.mailbox_id \
                 AND s.identificativo = l.identificativo AND s.original_message_id IS NOT NULL{extra})"
            )
        };
        let (acc, any) = (lender(" AND s.kind = 'accettazione'"), lender(""));
        // SQLite's UPDATE cannot alias its table: the pairs are read first, then written.
        let sql = format!(
            "SELECT l.receipt_id, COALESCE({acc}, {any}) FROM receipt_links l \
             WHERE l.org_id = {org} AND l.match_key IS NULL AND l.identificativo IN {list}"
        );
        let pairs: Vec<(String, Option<String>)> =
            with_tx!(tx, |c| bind_all!(sqlx::query_as(&sql), b)
                .fetch_all(&mut *c)
                .await)?;
        for (receipt_id, key) in pairs {
            let Some(key) = key else { continue };
            with_tx!(tx, |c| {
                sqlx::query(
                "UPDATE receipt_links SET match_key = $1 WHERE receipt_id = $2 AND match_key IS NULL"
            )
            .bind(&key)
            .bind(&receipt_id)
            .execute(&mut *c)
            .await
            .map(|_| ())
            })?;
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Attaches the waiting receipts of the groups `keys` (match keys) to their sent message
/// when it is stored. Returns the sent messages that received receipts.
pub async fn attach(
    tx: &mut WriteTx,
    org_id: &str,
    keys: &[String],
    now: i64,
) -> Result<Vec<String>> {
    let kinds = &*RECEIPT_KINDS_SQL;
    let mut sent = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let mut b = Binds::default();
        let org = b.text(org_id);
        let list = b.list(chunk);
        // One pair per waiting group (mailbox, key) whose sent message exists: the first
        // stored (smallest UUIDv7 id). MIN, not ORDER BY received_at LIMIT 1: with an
        // order the planner may walk the organisation's messages by date instead of the
        // Message-ID index (20,000 receipts: 309/s instead of thousands).
        let sql = format!(
            "SELECT g.mailbox_id, g.match_key, \
               (SELECT MIN(m.id) FROM messages m WHERE m.org_id = {org} \
                AND m.internet_message_id = g.match_key AND m.mailbox_id = g.mailbox_id \
                AND m.kind NOT IN {kinds}) \
             FROM (SELECT DISTINCT mailbox_id, match_key FROM receipt_links \
                   WHERE org_id = {org} AND sent_id IS NULL AND match_key IN {list}) g"
        );
        let groups: Vec<(String, String, Option<String>)> =
            with_tx!(tx, |c| bind_all!(sqlx::query_as(&sql), b)
                .fetch_all(&mut *c)
                .await)?;
        for (mailbox_id, key, sent_id) in groups {
            let Some(sent_id) = sent_id else { continue };
            with_tx!(tx, |c| sqlx::query(
                "UPDATE receipt_links SET sent_id = $1, linked_at = $2 \
                 WHERE org_id = $3 AND mailbox_id = $4 AND match_key = $5 AND sent_id IS NULL"
            )
            .bind(&sent_id)
            .bind(now)
            .bind(org_id)
            .bind(&mailbox_id)
            .bind(&key)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
            sent.push(sent_id);
        }
    }
    Ok(sent)
}

/// Of the messages `ids`, those without recorded recipients.
pub async fn without_sent_facts(tx: &mut WriteTx, ids: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut b = Binds::default();
        let list = b.list(chunk);
        let sql = format!(
            "SELECT m.id FROM messages m WHERE m.id IN {list} \
             AND NOT EXISTS (SELECT 1 FROM sent_messages s WHERE s.message_id = m.id)"
        );
        let rows: Vec<String> = with_tx!(tx, |c| bind_all!(sqlx::query_scalar(&sql), b)
            .fetch_all(&mut *c)
            .await)?;
        out.extend(rows);
    }
    Ok(out)
}

/// The first bytes of a message's raw form: enough for its header block.
pub async fn header_bytes(tx: &mut WriteTx, message_id: &str) -> Result<Vec<u8>> {
    // substr() on a blob / bytea: both engines return the first bytes only, so a 100 MB
    // sent message costs its headers, not its attachments.
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT substr(b.bytes, 1, 262144) FROM raw_blobs b \
         JOIN messages m ON m.raw_sha256 = b.sha256 WHERE m.id = $1"
    )
    .bind(message_id)
    .fetch_one(&mut *c)
    .await)?)
}

/// Records a sent message's recipients (nothing when already recorded).
pub async fn insert_sent(
    tx: &mut WriteTx,
    org_id: &str,
    message_id: &str,
    facts: &SentFacts,
    now: i64,
) -> Result<()> {
    let json = serde_json::to_string(facts).unwrap_or_else(|_| "{}".into());
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO sent_messages (message_id, org_id, facts, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING"
    )
    .bind(message_id)
    .bind(org_id)
    .bind(&json)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A receipt as a message's detail lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReceiptRow {
    /// The receipt's message id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Its summary JSON.
    pub summary: String,
    /// daticert errore-esteso (NULL until reconciled or when absent).
    pub error_detail: Option<String>,
    /// A virus notice (NULL until reconciled).
    pub virus: Option<bool>,
    /// The sent message it certifies, when known.
    pub sent_id: Option<String>,
}

impl ReceiptRow {
    /// The core's facts of this receipt.
    pub fn facts(&self) -> Option<ReceiptFacts> {
        let summary: pecdesk_core::Summary = serde_json::from_str(&self.summary).ok()?;
        let mut f = ReceiptFacts::from_summary(&self.id, &summary)?;
        if self.error_detail.is_some() {
            f.error_detail.clone_from(&self.error_detail);
        }
        f.virus |= self.virus.unwrap_or(false);
        Some(f)
    }
}

/// The receipts of message `id` of `org_id`: those linked to it as their sent message, and
/// (`identificativo` given) those of the same submission, oldest import first.
pub async fn receipts_of(
    store: &Store,
    org_id: &str,
    id: &str,
    identificativo: Option<&str>,
) -> Result<Vec<ReceiptRow>> {
    let kinds = &*RECEIPT_KINDS_SQL;
    let mut b = Binds::default();
    let org = b.text(org_id);
    let me = b.text(id);
    // Two indexed sets (links by sent message, messages by identificativo), not an OR
    // across the join, which would read every message of the organisation.
    let same_submission = match identificativo {
        Some(ident) => format!(
            " UNION SELECT s.id FROM messages s WHERE s.org_id = {org} AND s.identificativo = {}",
            b.text(ident)
        ),
        None => String::new(),
    };
    let sql = format!(
        "SELECT m.id, m.kind, m.summary, l.error_detail, l.virus, l.sent_id FROM messages m \
         LEFT JOIN receipt_links l ON l.receipt_id = m.id \
         WHERE m.id IN (SELECT r.receipt_id FROM receipt_links r WHERE r.sent_id = {me}\
         {same_submission}) \
         AND m.org_id = {org} AND m.id <> {me} AND m.kind IN {kinds} \
         ORDER BY m.received_at, m.id"
    );
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// The recorded recipients of a sent message (`None`: not recorded).
pub async fn sent_facts(store: &Store, message_id: &str) -> Result<Option<SentFacts>> {
    let json: Option<String> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT facts FROM sent_messages WHERE message_id = $1"
    )
    .bind(message_id)
    .fetch_optional(p)
    .await)?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

/// The sent message a receipt certifies and the recipient it names, when linked.
pub async fn certifies(
    store: &Store,
    receipt_id: &str,
) -> Result<Option<(String, Option<String>)>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT sent_id, recipient FROM receipt_links WHERE receipt_id = $1 AND sent_id IS NOT NULL"
    )
    .bind(receipt_id)
    .fetch_optional(p)
    .await)?)
}

/// The match keys already waiting in `org_id` among `keys` (Message-IDs of messages of a
/// batch): those messages are sent messages whose receipts came first.
pub async fn waiting_keys(tx: &mut WriteTx, org_id: &str, keys: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let mut b = Binds::default();
        let org = b.text(org_id);
        let list = b.list(chunk);
        let sql = format!(
            "SELECT DISTINCT match_key FROM receipt_links \
             WHERE org_id = {org} AND sent_id IS NULL AND match_key IN {list}"
        );
        let rows: Vec<String> = with_tx!(tx, |c| bind_all!(sqlx::query_scalar(&sql), b)
            .fetch_all(&mut *c)
            .await)?;
        out.extend(rows);
    }
    Ok(out)
}
