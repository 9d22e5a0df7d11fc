//! The SQL of administration: a mailbox's settings as an administrator reads them (never the
//! sealed secrets, only whether one is set) with the poller's health beside them, the plain
//! fields of a mailbox, teams and their members, grants listed, added and revoked.
//!
//! Every lookup takes the caller's organisation: another organisation's mailbox, team,
//! user or grant reads as missing. Secrets are written only through
//! [`super::mailboxes::set_endpoint`] (sealed there).

use crate::error::Result;
use crate::store::mailboxes::Protocol;
use crate::store::{Store, WriteTx, new_id, now_ms};
use crate::{with_pool, with_tx};

/// A mailbox with its settings (secrets as "set or not") and its health, as an
/// administrator reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailboxSettingsRow {
    pub id: String,
    pub org_id: String,
    pub address: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub imap_host: Option<String>,
    pub imap_port: Option<i32>,
    pub imap_security: Option<String>,
    pub imap_user: Option<String>,
    /// Whether a sealed IMAP secret is stored (the secret itself is never read here).
    pub imap_password_set: bool,
    pub imap_sent_folder: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<i32>,
    pub smtp_security: Option<String>,
    pub smtp_user: Option<String>,
    /// Whether a sealed SMTP secret is stored.
    pub smtp_password_set: bool,
    pub app_password_expires_at: Option<i64>,
    pub quota_bytes: Option<i64>,
    pub ingest_enabled: bool,
    /// Whether the poller has written a health row yet.
    pub has_health: bool,
    pub last_success_at: Option<i64>,
    pub last_error_at: Option<i64>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub quota_used_kb: Option<i64>,
    pub quota_total_kb: Option<i64>,
    pub quota_read_at: Option<i64>,
    pub idle: Option<bool>,
}

/// The columns of [`MailboxSettingsRow`]; `CASE` rather than `IS NOT NULL` so both engines
/// answer a boolean the same way.
const SETTINGS_SELECT: &str = "SELECT m.id, m.org_id, m.address, m.name, m.created_at, m.updated_at, \
     m.imap_host, m.imap_port, m.imap_security, m.imap_user, \
     CASE WHEN m.imap_secret IS NULL THEN false ELSE true END AS imap_password_set, \
     m.imap_sent_folder, m.smtp_host, m.smtp_port, m.smtp_security, m.smtp_user, \
     CASE WHEN m.smtp_secret IS NULL THEN false ELSE true END AS smtp_password_set, \
     m.app_password_expires_at, m.quota_bytes, m.ingest_enabled, \
     CASE WHEN h.mailbox_id IS NULL THEN false ELSE true END AS has_health, \
     h.last_success_at, h.last_error_at, h.last_error_code, h.last_error, \
     CAST(h.consecutive_failures AS BIGINT) AS consecutive_failures, h.next_attempt_at, \
     h.quota_used_kb, h.quota_total_kb, h.quota_read_at, h.idle \
     FROM mailboxes m LEFT JOIN mailbox_health h ON h.mailbox_id = m.id";

/// Mailbox `id` of organisation `org_id` with settings and health; `None` when missing or
/// of another organisation.
pub async fn mailbox_settings(
    store: &Store,
    org_id: &str,
    id: &str,
) -> Result<Option<MailboxSettingsRow>> {
    let sql = format!("{SETTINGS_SELECT} WHERE m.id = $1 AND m.org_id = $2");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(p)
        .await)?)
}

/// [`mailbox_settings`] inside a write transaction (what an update merges with).
pub async fn mailbox_settings_tx(
    tx: &mut WriteTx,
    org_id: &str,
    id: &str,
) -> Result<Option<MailboxSettingsRow>> {
    let sql = format!("{SETTINGS_SELECT} WHERE m.id = $1 AND m.org_id = $2");
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *c)
        .await)?)
}

/// Every mailbox of the organisation with settings and health, by address.
pub async fn mailboxes_settings(store: &Store, org_id: &str) -> Result<Vec<MailboxSettingsRow>> {
    let sql = format!("{SETTINGS_SELECT} WHERE m.org_id = $1 ORDER BY m.address");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(org_id)
        .fetch_all(p)
        .await)?)
}

/// A mailbox by id or by address: (id, organisation). The command line names mailboxes by
/// address; addresses are unique across organisations.
pub async fn find_mailbox(store: &Store, id_or_address: &str) -> Result<Option<(String, String)>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, org_id FROM mailboxes WHERE id = $1 OR address = $2 ORDER BY id LIMIT 1"
    )
    .bind(id_or_address)
    .bind(id_or_address.to_lowercase())
    .fetch_optional(p)
    .await)?)
}

/// One mailbox with a sealed secret, and for which protocol: what the command line opens
/// to check it holds the server's master key.
pub async fn any_sealed_secret(store: &Store) -> Result<Option<(String, Protocol)>> {
    let row: Option<(String, bool)> = with_pool!(store, |p| sqlx::query_as(
        "SELECT id, CASE WHEN imap_secret IS NULL THEN false ELSE true END FROM mailboxes \
         WHERE imap_host IS NOT NULL AND imap_secret IS NOT NULL \
         OR smtp_host IS NOT NULL AND smtp_secret IS NOT NULL ORDER BY id LIMIT 1"
    )
    .fetch_optional(p)
    .await)?;
    Ok(row.map(|(id, imap)| (id, if imap { Protocol::Imap } else { Protocol::Smtp })))
}

/// The fields of a mailbox that are neither endpoints nor secrets, written all at once.
#[derive(Debug, Clone)]
pub struct MailboxFields<'a> {
    pub name: &'a str,
    pub imap_sent_folder: Option<&'a str>,
    pub app_password_expires_at: Option<i64>,
    pub quota_bytes: Option<i64>,
    pub ingest_enabled: bool,
}

/// Writes [`MailboxFields`] of mailbox `id`.
pub async fn set_mailbox_fields(tx: &mut WriteTx, id: &str, f: &MailboxFields<'_>) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE mailboxes SET name = $2, imap_sent_folder = $3, app_password_expires_at = $4, \
         quota_bytes = $5, ingest_enabled = $6, updated_at = $7 WHERE id = $1"
    )
    .bind(id)
    .bind(f.name)
    .bind(f.imap_sent_folder)
    .bind(f.app_password_expires_at)
    .bind(f.quota_bytes)
    .bind(f.ingest_enabled)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

// ---- teams ---------------------------------------------------------------------------

/// A team with its member count.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamAdminRow {
    pub id: String,
    pub name: String,
    pub external: bool,
    pub members: i64,
}

const TEAM_SELECT: &str = "SELECT t.id, t.name, t.external, \
     (SELECT COUNT(*) FROM team_members tm WHERE tm.team_id = t.id) AS members FROM teams t";

/// Team `id` of organisation `org_id`, inside a write transaction.
pub async fn team_tx(tx: &mut WriteTx, org_id: &str, id: &str) -> Result<Option<TeamAdminRow>> {
    let sql = format!("{TEAM_SELECT} WHERE t.id = $1 AND t.org_id = $2");
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *c)
        .await)?)
}

/// Team `id` of organisation `org_id`.
pub async fn team(store: &Store, org_id: &str, id: &str) -> Result<Option<TeamAdminRow>> {
    let sql = format!("{TEAM_SELECT} WHERE t.id = $1 AND t.org_id = $2");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(p)
        .await)?)
}

/// A team of the organisation by id or by name (the command line).
pub async fn find_team(store: &Store, org_id: &str, id_or_name: &str) -> Result<Option<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT id FROM teams WHERE org_id = $1 AND (id = $2 OR name = $2) ORDER BY id LIMIT 1"
    )
    .bind(org_id)
    .bind(id_or_name)
    .fetch_optional(p)
    .await)?)
}

/// The organisation's teams by name.
pub async fn teams(store: &Store, org_id: &str) -> Result<Vec<TeamAdminRow>> {
    let sql = format!("{TEAM_SELECT} WHERE t.org_id = $1 ORDER BY t.name, t.id");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(org_id)
        .fetch_all(p)
        .await)?)
}

/// Renames a team and sets whether it is external.
pub async fn update_team(tx: &mut WriteTx, id: &str, name: &str, external: bool) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE teams SET name = $2, external = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(name)
    .bind(external)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Removes a user from a team; whether they were a member.
pub async fn remove_member(tx: &mut WriteTx, team_id: &str, user_id: &str) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2"
    )
    .bind(team_id)
    .bind(user_id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Whether user `id` belongs to organisation `org_id`, inside a write transaction.
pub async fn user_in_org_tx(tx: &mut WriteTx, org_id: &str, id: &str) -> Result<bool> {
    let hit: Option<i64> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM users WHERE id = $1 AND org_id = $2"
    )
    .bind(id)
    .bind(org_id)
    .fetch_optional(&mut *c)
    .await)?;
    Ok(hit.is_some())
}

/// Whether mailbox `id` belongs to organisation `org_id`, inside a write transaction.
pub async fn mailbox_in_org_tx(tx: &mut WriteTx, org_id: &str, id: &str) -> Result<bool> {
    let hit: Option<i64> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM mailboxes WHERE id = $1 AND org_id = $2"
    )
    .bind(id)
    .bind(org_id)
    .fetch_optional(&mut *c)
    .await)?;
    Ok(hit.is_some())
}

// ---- grants --------------------------------------------------------------------------

/// A grant with the names beside its ids.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub mailbox_id: String,
    pub mailbox_address: String,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub policy: String,
}

const GRANT_SELECT: &str = "SELECT g.id, g.mailbox_id, m.address AS mailbox_address, g.user_id, \
     u.name AS user_name, g.team_id, t.name AS team_name, g.policy FROM grants g \
     JOIN mailboxes m ON m.id = g.mailbox_id LEFT JOIN users u ON u.id = g.user_id \
     LEFT JOIN teams t ON t.id = g.team_id";

/// Filters of [`grants`] (all optional but the organisation).
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantFilter<'a> {
    pub org_id: &'a str,
    pub mailbox_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub team_id: Option<&'a str>,
}

/// The organisation's grants, narrowed by the filter, ordered by mailbox, holder, policy.
pub async fn grants(store: &Store, f: &GrantFilter<'_>) -> Result<Vec<GrantRow>> {
    // A NULL filter matches everything: one query text for every combination.
    let sql = format!(
        "{GRANT_SELECT} WHERE g.org_id = $1 AND ($2 IS NULL OR g.mailbox_id = $2) \
         AND ($3 IS NULL OR g.user_id = $3) AND ($4 IS NULL OR g.team_id = $4) \
         ORDER BY m.address, u.name, t.name, g.policy, g.id"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(f.org_id)
        .bind(f.mailbox_id)
        .bind(f.user_id)
        .bind(f.team_id)
        .fetch_all(p)
        .await)?)
}

/// Grant `id` of organisation `org_id`, inside a write transaction.
pub async fn grant_tx(tx: &mut WriteTx, org_id: &str, id: &str) -> Result<Option<GrantRow>> {
    let sql = format!("{GRANT_SELECT} WHERE g.id = $1 AND g.org_id = $2");
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *c)
        .await)?)
}

/// The organisation of grant `id` (the command line finds it by id alone).
pub async fn grant_org(store: &Store, id: &str) -> Result<Option<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT org_id FROM grants WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?)
}

/// Who a grant is for: a user or a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    /// A user.
    User(&'a str),
    /// A team (its members hold the policy).
    Team(&'a str),
}

impl<'a> Holder<'a> {
    fn ids(self) -> (Option<&'a str>, Option<&'a str>) {
        match self {
            Holder::User(u) => (Some(u), None),
            Holder::Team(t) => (None, Some(t)),
        }
    }
}

/// The id of the grant of `policy` on `mailbox_id` to `holder`, when it exists.
pub async fn existing_grant(
    tx: &mut WriteTx,
    mailbox_id: &str,
    holder: Holder<'_>,
    policy: &str,
) -> Result<Option<String>> {
    let (user, team) = holder.ids();
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM grants WHERE mailbox_id = $1 AND policy = $2 \
         AND (($3 IS NULL AND user_id IS NULL) OR user_id = $3) \
         AND (($4 IS NULL AND team_id IS NULL) OR team_id = $4) ORDER BY id LIMIT 1"
    )
    .bind(mailbox_id)
    .bind(policy)
    .bind(user)
    .bind(team)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Inserts one grant; returns its id.
pub async fn insert_grant(
    tx: &mut WriteTx,
    org_id: &str,
    mailbox_id: &str,
    holder: Holder<'_>,
    policy: &str,
) -> Result<String> {
    let id = new_id();
    let (user, team) = holder.ids();
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO grants (id, org_id, mailbox_id, user_id, team_id, policy) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(&id)
    .bind(org_id)
    .bind(mailbox_id)
    .bind(user)
    .bind(team)
    .bind(policy)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(id)
}

/// Revokes (removes) grant `id`. Access is what is taken away; no message is touched.
pub async fn delete_grant(tx: &mut WriteTx, id: &str) -> Result<()> {
    with_tx!(tx, |c| sqlx::query("DELETE FROM grants WHERE id = $1")
        .bind(id)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    Ok(())
}
