//! Mailbox connection settings (IMAP and SMTP) as the pollers and senders read them, the
//! secrets opened with the master key only here, at the moment of use.
//!
//! Written by the administration API (`domain::admin`); read by `imap` (and, later, the
//! outbox). A secret is sealed with [`secret_context`] as its context, so a sealed value
//! copied onto another mailbox or protocol does not open.

use secrecy::SecretString;

use crate::auth::secrets::MasterKey;
use crate::error::{Error, Result};
use crate::store::{Store, WriteTx, now_ms};
use crate::{with_pool, with_tx};

/// How a connection is protected.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS (IMAP 993, SMTP 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (IMAP 143, SMTP 587).
    Starttls,
    /// No encryption: accepted only towards a loopback address (tests, the simulator).
    Plain,
}

impl Security {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::Starttls => "starttls",
            Security::Plain => "plain",
        }
    }

    /// Parses the stored word.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tls" => Some(Security::Tls),
            "starttls" => Some(Security::Starttls),
            "plain" => Some(Security::Plain),
            _ => None,
        }
    }
}

/// Which protocol a set of settings is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Reading (IMAP).
    Imap,
    /// Sending (SMTP).
    Smtp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Smtp => "smtp",
        }
    }
}

/// The sealing context of a mailbox's secret for one protocol.
pub fn secret_context(mailbox_id: &str, protocol: Protocol) -> String {
    format!("mailbox:{mailbox_id}:{}", protocol.as_str())
}

/// Where and how to connect, with the secret opened (never logged: `SecretString`).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS, STARTTLS or plain.
    pub security: Security,
    /// User name.
    pub user: String,
    /// Password or app password.
    pub secret: SecretString,
}

/// A mailbox the companion polls.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PollTarget {
    /// Mailbox id.
    pub id: String,
    /// Its organisation.
    pub org_id: String,
    /// PEC address.
    pub address: String,
    /// The Sent folder's name when the admin set it.
    pub imap_sent_folder: Option<String>,
}

/// Mailboxes with ingestion enabled and IMAP settings, of every organisation.
pub async fn poll_targets(store: &Store) -> Result<Vec<PollTarget>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, org_id, address, imap_sent_folder FROM mailboxes \
         WHERE ingest_enabled AND imap_host IS NOT NULL ORDER BY id"
    )
    .fetch_all(p)
    .await)?)
}

#[derive(Debug, sqlx::FromRow)]
struct EndpointRow {
    host: Option<String>,
    port: Option<i32>,
    security: Option<String>,
    user: Option<String>,
    secret: Option<String>,
}

/// The mailbox's settings for `protocol` with the secret opened; `None` when not set.
pub async fn endpoint(
    store: &Store,
    master: &MasterKey,
    mailbox_id: &str,
    protocol: Protocol,
) -> Result<Option<Endpoint>> {
    let p = protocol.as_str();
    let sql = format!(
        "SELECT {p}_host AS host, {p}_port AS port, {p}_security AS security, {p}_user AS user, \
         {p}_secret AS secret FROM mailboxes WHERE id = $1"
    );
    let row: Option<EndpointRow> = with_pool!(store, |c| sqlx::query_as(&sql)
        .bind(mailbox_id)
        .fetch_optional(c)
        .await)?;
    let Some(EndpointRow {
        host: Some(host),
        port: Some(port),
        security: Some(security),
        user: Some(user),
        secret: Some(sealed),
    }) = row
    else {
        return Ok(None);
    };
    let secret = master
        .open_secret(&sealed, &secret_context(mailbox_id, protocol))
        .map_err(|e| Error::Internal(anyhow::anyhow!("mailbox secret does not open: {e}")))?;
    Ok(Some(Endpoint {
        host,
        port: u16::try_from(port).unwrap_or(0),
        security: Security::parse(&security).unwrap_or(Security::Tls),
        user,
        secret,
    }))
}

/// Settings an admin enters for one protocol.
#[derive(Debug)]
pub struct EndpointInput<'a> {
    /// Host name or address.
    pub host: &'a str,
    /// TCP port.
    pub port: u16,
    /// TLS, STARTTLS or plain.
    pub security: Security,
    /// User name.
    pub user: &'a str,
    /// The new password; `None` keeps the stored one.
    pub secret: Option<&'a SecretString>,
}

/// Writes a mailbox's settings for `protocol`, sealing the secret with the master key.
pub async fn set_endpoint(
    tx: &mut WriteTx,
    master: &MasterKey,
    mailbox_id: &str,
    protocol: Protocol,
    e: &EndpointInput<'_>,
) -> Result<()> {
    let p = protocol.as_str();
    let sealed = match e.secret {
        Some(s) => Some(
            master
                .seal_secret(s, &secret_context(mailbox_id, protocol))
                .map_err(|e| Error::Internal(anyhow::anyhow!("cannot seal a secret: {e}")))?,
        ),
        None => None,
    };
    let sql = format!(
        "UPDATE mailboxes SET {p}_host = $2, {p}_port = $3, {p}_security = $4, {p}_user = $5, \
         {p}_secret = COALESCE($6, {p}_secret), updated_at = $7 WHERE id = $1"
    );
    with_tx!(tx, |c| sqlx::query(&sql)
        .bind(mailbox_id)
        .bind(e.host)
        .bind(i32::from(e.port))
        .bind(e.security.as_str())
        .bind(e.user)
        .bind(sealed)
        .bind(now_ms())
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Turns polling of a mailbox on or off.
pub async fn set_ingest_enabled(tx: &mut WriteTx, mailbox_id: &str, on: bool) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE mailboxes SET ingest_enabled = $2, updated_at = $3 WHERE id = $1"
    )
    .bind(mailbox_id)
    .bind(on)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A mailbox's address and whether it has SMTP settings (`None`: no such mailbox).
pub async fn sending_address(store: &Store, mailbox_id: &str) -> Result<Option<(String, bool)>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT address, smtp_host IS NOT NULL AND smtp_secret IS NOT NULL FROM mailboxes \
         WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_optional(p)
    .await)?)
}

/// A mailbox's stored sending limits: per minute, recipients, bytes (`None`: no such
/// mailbox; a `None` limit: the default).
pub async fn send_limits(
    store: &Store,
    mailbox_id: &str,
) -> Result<Option<(Option<i64>, Option<i64>, Option<i64>)>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT CAST(send_per_minute AS BIGINT), CAST(send_max_recipients AS BIGINT), \
         send_max_bytes FROM mailboxes WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_optional(p)
    .await)?)
}

/// One of a mailbox's sending limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendLimit {
    /// Messages per minute.
    PerMinute,
    /// Recipients per message.
    MaxRecipients,
    /// Bytes per message.
    MaxBytes,
}

impl SendLimit {
    fn column(self) -> &'static str {
        match self {
            SendLimit::PerMinute => "send_per_minute",
            SendLimit::MaxRecipients => "send_max_recipients",
            SendLimit::MaxBytes => "send_max_bytes",
        }
    }
}

/// Writes one sending limit of a mailbox (`None`: back to the default).
pub async fn set_send_limit(
    tx: &mut WriteTx,
    mailbox_id: &str,
    limit: SendLimit,
    value: Option<i64>,
) -> Result<()> {
    // The column name is a constant of `SendLimit`, never input.
    let sql = format!("UPDATE mailboxes SET {} = $2 WHERE id = $1", limit.column());
    with_tx!(tx, |c| sqlx::query(&sql)
        .bind(mailbox_id)
        .bind(value)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The mailboxes with these addresses, of any organisation: (id, org, address).
pub async fn by_addresses(
    store: &Store,
    addresses: &[&str],
) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for a in addresses {
        let row: Option<(String, String, String)> = with_pool!(store, |p| sqlx::query_as(
            "SELECT id, org_id, address FROM mailboxes WHERE address = $1"
        )
        .bind(*a)
        .fetch_optional(p)
        .await)?;
        out.extend(row);
    }
    Ok(out)
}

/// A mailbox's SLA calendar (the JSON of `pecdesk_core::sla::SlaSettings`; `None`: the
/// default calendar, or no such mailbox).
pub async fn sla_calendar(store: &Store, mailbox_id: &str) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> = with_pool!(store, |p| sqlx::query_as(
        "SELECT sla_calendar FROM mailboxes WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_optional(p)
    .await)?;
    Ok(row.and_then(|(c,)| c))
}

/// Writes a mailbox's SLA calendar (`None`: back to the default).
pub async fn set_sla_calendar(
    tx: &mut WriteTx,
    mailbox_id: &str,
    calendar: Option<&str>,
) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE mailboxes SET sla_calendar = $2 WHERE id = $1"
    )
    .bind(mailbox_id)
    .bind(calendar)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}
