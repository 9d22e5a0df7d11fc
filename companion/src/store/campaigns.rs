//! Mass sends (migration 0014): campaigns, their files and recipients. Each recipient's
//! message is an outbox row ([`crate::store::outbox`]); its status is read from that row
//! and the receipts certifying it (`receipt_links.match_key` = the row's Message-ID), not
//! stored twice.
//!
//! Every function taking an id from a caller is scoped by organisation; the domain
//! (`crate::domain::campaigns`) decides permissions before calling.

use crate::bind_all;
use crate::error::Result;
use crate::store::query::{self, Bind, Binds};
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// Columns of [`CampaignRow`].
const CAMPAIGN_COLS: &str = "id, org_id, mailbox_id, name, subject_template, body_template, \
    state, activities, activity_id, CAST(recipients_total AS BIGINT) AS recipients_total, \
    created_by, created_at, updated_at, finished_at";

/// A stored campaign.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignRow {
    pub id: String,
    pub org_id: String,
    pub mailbox_id: String,
    pub name: String,
    pub subject_template: String,
    pub body_template: String,
    /// `running`, `paused`, `cancelled`, `done`.
    pub state: String,
    /// `none`, `campaign`, `failures`.
    pub activities: String,
    pub activity_id: Option<String>,
    pub recipients_total: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

/// What validating a campaign reads of its mailbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailboxFacts {
    pub id: String,
    /// The PEC address (the sender).
    pub address: String,
    /// SMTP settings are present.
    pub smtp_configured: bool,
    /// `mailboxes.send_max_bytes` (NULL: the default).
    pub send_max_bytes: Option<i64>,
    /// `mailboxes.send_max_recipients`.
    pub send_max_recipients: Option<i64>,
    /// The box's size by contract, bytes.
    pub quota_bytes: Option<i64>,
    /// IMAP QUOTA as last read, KiB.
    pub quota_used_kb: Option<i64>,
    /// IMAP QUOTA limit as last read, KiB.
    pub quota_total_kb: Option<i64>,
}

/// The mailbox `mailbox_id` of organisation `org` (`None`: missing or another org's).
pub async fn mailbox_facts(
    store: &Store,
    org: &str,
    mailbox_id: &str,
) -> Result<Option<MailboxFacts>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT m.id, m.address, (m.smtp_host IS NOT NULL) AS smtp_configured, \
         m.send_max_bytes, m.send_max_recipients, m.quota_bytes, h.quota_used_kb, \
         h.quota_total_kb FROM mailboxes m LEFT JOIN mailbox_health h ON h.mailbox_id = m.id \
         WHERE m.org_id = $1 AND m.id = $2"
    )
    .bind(org)
    .bind(mailbox_id)
    .fetch_optional(p)
    .await)?)
}

/// Bytes of the messages stored for a mailbox (what its box holds, as far as we know):
/// the used space when only the configured quota is known.
pub async fn stored_bytes(store: &Store, mailbox_id: &str) -> Result<i64> {
    let n: Option<i64> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT CAST(SUM(b.size) AS BIGINT) FROM messages m \
         JOIN raw_blobs b ON b.sha256 = m.raw_sha256 WHERE m.mailbox_id = $1"
    )
    .bind(mailbox_id)
    .fetch_one(p)
    .await)?;
    Ok(n.unwrap_or(0))
}

/// Writes a new campaign.
pub async fn insert(tx: &mut WriteTx, c: &CampaignRow) -> Result<()> {
    with_tx!(tx, |x| sqlx::query(
        "INSERT INTO campaigns (id, org_id, mailbox_id, name, subject_template, body_template, \
         state, activities, activity_id, recipients_total, created_by, created_at, updated_at, \
         finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    )
    .bind(&c.id)
    .bind(&c.org_id)
    .bind(&c.mailbox_id)
    .bind(&c.name)
    .bind(&c.subject_template)
    .bind(&c.body_template)
    .bind(&c.state)
    .bind(&c.activities)
    .bind(&c.activity_id)
    .bind(c.recipients_total)
    .bind(&c.created_by)
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(c.finished_at)
    .execute(&mut *x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// One file of a campaign.
#[derive(Debug, Clone)]
pub struct FileRow<'a> {
    pub name: &'a str,
    pub content_type: &'a str,
    pub common: bool,
    pub sha256: String,
    pub content: &'a [u8],
}

/// Writes a campaign's file.
pub async fn insert_file(tx: &mut WriteTx, campaign_id: &str, f: &FileRow<'_>) -> Result<()> {
    let size = i64::try_from(f.content.len()).unwrap_or(i64::MAX);
    with_tx!(tx, |x| sqlx::query(
        "INSERT INTO campaign_files (campaign_id, name, content_type, common, size, sha256, \
         content) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(campaign_id)
    .bind(f.name)
    .bind(f.content_type)
    .bind(f.common)
    .bind(size)
    .bind(&f.sha256)
    .bind(f.content)
    .execute(&mut *x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// One recipient to write.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    pub row_no: i64,
    pub address: String,
    /// JSON object of the row's fields.
    pub fields: String,
    /// JSON array of the row's own attachments.
    pub attachments: String,
    pub outbox_id: String,
}

/// Writes recipients in batches (multi-row `INSERT`s: 10,000 rows are 20 statements).
pub async fn insert_recipients(
    tx: &mut WriteTx,
    campaign_id: &str,
    rows: &[NewRecipient],
) -> Result<()> {
    for chunk in rows.chunks(500) {
        let mut b = Binds::default();
        let cid = b.text(campaign_id);
        let values: Vec<String> = chunk
            .iter()
            .map(|r| {
                format!(
                    "({cid}, {}, {}, {}, {}, {})",
                    b.int(r.row_no),
                    b.text(r.address.clone()),
                    b.text(r.fields.clone()),
                    b.text(r.attachments.clone()),
                    b.text(r.outbox_id.clone())
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO campaign_recipients (campaign_id, row_no, address, fields, attachments, \
             outbox_id) VALUES {}",
            values.join(", ")
        );
        with_tx!(tx, |x| bind_all!(sqlx::query(&sql), b)
            .execute(&mut *x)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

/// The campaign `id` of organisation `org`.
pub async fn get(store: &Store, org: &str, id: &str) -> Result<Option<CampaignRow>> {
    let sql = format!("SELECT {CAMPAIGN_COLS} FROM campaigns WHERE org_id = $1 AND id = $2");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(org)
        .bind(id)
        .fetch_optional(p)
        .await)?)
}

/// [`get`] inside a write transaction.
pub async fn get_tx(tx: &mut WriteTx, org: &str, id: &str) -> Result<Option<CampaignRow>> {
    let sql = format!("SELECT {CAMPAIGN_COLS} FROM campaigns WHERE org_id = $1 AND id = $2");
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(org)
        .bind(id)
        .fetch_optional(&mut *c)
        .await)?)
}

/// A page of the organisation's campaigns on `mailboxes`, newest first.
pub async fn list(
    store: &Store,
    org: &str,
    mailboxes: &[String],
    after: Option<&query::Cursor>,
    limit: i64,
) -> Result<Vec<CampaignRow>> {
    let mut b = Binds::default();
    let o = b.text(org);
    let mbs = b.list(mailboxes);
    let mut sql =
        format!("SELECT {CAMPAIGN_COLS} FROM campaigns WHERE org_id = {o} AND mailbox_id IN {mbs}");
    if let Some(c) = after {
        let cond = query::after(
            &mut b,
            "created_at",
            "id",
            Bind::Int(c.key_i64()?),
            &c.id,
            true,
        );
        sql.push_str(&format!(" AND {cond}"));
    }
    let lim = b.int(limit + 1);
    sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {lim}"));
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// Campaigns not finished (`running`, `paused`): what the sweep looks at.
pub async fn unfinished(store: &Store) -> Result<Vec<CampaignRow>> {
    let sql = format!(
        "SELECT {CAMPAIGN_COLS} FROM campaigns WHERE state IN ('running', 'paused') \
         OR (state = 'cancelled' AND finished_at IS NULL) ORDER BY created_at"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .fetch_all(p)
        .await)?)
}

/// One recipient with its outbox row and one receipt certifying it (a row per receipt;
/// `receipt_id` NULL when none): what a recipient's status is read from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecipientReceiptRow {
    pub row_no: i64,
    pub address: String,
    pub attachments: String,
    pub activity_id: Option<String>,
    pub outbox_id: Option<String>,
    pub message_id: Option<String>,
    pub outbox_state: Option<String>,
    pub attempts: Option<i64>,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub created_at: Option<i64>,
    pub stored_message_id: Option<String>,
    pub receipt_id: Option<String>,
    pub kind: Option<String>,
    pub recipient: Option<String>,
    pub receipt_type: Option<String>,
    pub error: Option<String>,
    pub error_detail: Option<String>,
    pub virus: Option<bool>,
    pub issued_at: Option<String>,
}

/// The recipients of a campaign with rows `from_row..` (at most `limit` recipients, all
/// when `None`), each joined with its outbox row and the receipts certifying it, ordered by
/// row: one query, through the indexes on `outbox.id` and `receipt_links (org_id,
/// match_key)`.
pub async fn recipients_with_receipts(
    store: &Store,
    org: &str,
    campaign_id: &str,
    from_row: i64,
    limit: Option<i64>,
) -> Result<Vec<RecipientReceiptRow>> {
    let mut b = Binds::default();
    let o = b.text(org);
    let c = b.text(campaign_id);
    let from = b.int(from_row);
    let upto = match limit {
        Some(l) => format!(" AND r.row_no < {}", b.int(from_row.saturating_add(l))),
        None => String::new(),
    };
    let sql = format!(
        "SELECT CAST(r.row_no AS BIGINT) AS row_no, r.address, r.attachments, r.activity_id, r.outbox_id, \
         o.message_id, o.state AS outbox_state, CAST(o.attempts AS BIGINT) AS attempts, \
         o.last_error, o.sent_at, o.created_at, o.stored_message_id, \
         l.receipt_id, l.kind, l.recipient, l.receipt_type, l.error, l.error_detail, l.virus, \
         l.issued_at \
         FROM campaign_recipients r \
         LEFT JOIN outbox o ON o.id = r.outbox_id \
         LEFT JOIN receipt_links l ON l.org_id = {o} AND l.match_key = o.message_id \
         AND l.mailbox_id = o.mailbox_id \
         WHERE r.campaign_id = {c} AND r.row_no >= {from}{upto} \
         ORDER BY r.row_no"
    );
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// Moves the campaign's outbox rows in state `from` to `to` (pause: queued → held;
/// resume: held → queued; cancel: queued or held → cancelled). Rows already `sending`
/// are in the provider's hands and are left alone. Returns how many moved.
pub async fn move_outbox(
    tx: &mut WriteTx,
    campaign_id: &str,
    from: &[&str],
    to: &str,
    now: i64,
) -> Result<u64> {
    let mut b = Binds::default();
    let t = b.text(to);
    let n = b.int(now);
    let c = b.text(campaign_id);
    let states: Vec<String> = from.iter().map(|s| (*s).to_owned()).collect();
    let list = b.list(&states);
    let sql = format!(
        "UPDATE outbox SET state = {t}, updated_at = {n} \
         WHERE campaign_id = {c} AND state IN {list}"
    );
    Ok(with_tx!(tx, |x| bind_all!(sqlx::query(&sql), b)
        .execute(&mut *x)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Sets a campaign's state (and `finished_at` when given); only from `expected`, so two
/// concurrent changes cannot both apply. Returns whether it changed.
pub async fn set_state(
    tx: &mut WriteTx,
    id: &str,
    expected: &str,
    state: &str,
    finished_at: Option<i64>,
    now: i64,
) -> Result<bool> {
    Ok(with_tx!(tx, |x| sqlx::query(
        "UPDATE campaigns SET state = $1, finished_at = COALESCE($2, finished_at), \
         updated_at = $3 WHERE id = $4 AND state = $5"
    )
    .bind(state)
    .bind(finished_at)
    .bind(now)
    .bind(id)
    .bind(expected)
    .execute(&mut *x)
    .await
    .map(|r| r.rows_affected() == 1))?)
}

/// Sets the campaign's own activity.
pub async fn set_activity(tx: &mut WriteTx, id: &str, activity_id: &str) -> Result<()> {
    with_tx!(tx, |x| sqlx::query(
        "UPDATE campaigns SET activity_id = $1 WHERE id = $2"
    )
    .bind(activity_id)
    .bind(id)
    .execute(&mut *x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Records the activity opened for a recipient's failure, once: false when one was
/// already recorded (another sweep got there first).
pub async fn set_recipient_activity(
    tx: &mut WriteTx,
    campaign_id: &str,
    row_no: i64,
    activity_id: &str,
) -> Result<bool> {
    Ok(with_tx!(tx, |x| sqlx::query(
        "UPDATE campaign_recipients SET activity_id = $1 \
         WHERE campaign_id = $2 AND row_no = $3 AND activity_id IS NULL"
    )
    .bind(activity_id)
    .bind(campaign_id)
    .bind(row_no)
    .execute(&mut *x)
    .await
    .map(|r| r.rows_affected() == 1))?)
}

/// The id of the mailbox with `address` in organisation `org`.
pub async fn mailbox_by_address(store: &Store, org: &str, address: &str) -> Result<Option<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT id FROM mailboxes WHERE org_id = $1 AND lower(address) = lower($2)"
    )
    .bind(org)
    .bind(address.trim())
    .fetch_optional(p)
    .await)?)
}
