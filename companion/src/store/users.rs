//! Organisations, users, mailboxes and teams (grants and team membership are in
//! [`super::grants`]). E-mail addresses arrive here already parsed
//! ([`EmailAddress`]: lower-cased), so the `users.email` key matches whatever the case typed.

use pecdesk_core::ids::EmailAddress;

use crate::error::Result;
use crate::store::{Store, WriteTx, new_id, now_ms};
use crate::{with_pool, with_tx};

/// A user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// Id.
    pub id: String,
    /// Organisation.
    pub org_id: String,
    /// Sign-in address (lower case; never logged).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Organisation administrator.
    pub is_admin: bool,
    /// May read the audit log.
    pub is_auditor: bool,
    /// Disabled by an administrator: no access at all.
    pub disabled: bool,
}

const USER_COLS: &str = "id, org_id, email, name, is_admin, is_auditor, disabled";

/// An organisation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A mailbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailboxRow {
    /// Id.
    pub id: String,
    /// PEC address.
    pub address: String,
    /// Display name.
    pub name: String,
}

/// A team.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Made of people outside the organisation (an external firm).
    pub external: bool,
}

// ---- organisations -------------------------------------------------------------------

/// Inserts an organisation with the given id.
pub async fn insert_org(tx: &mut WriteTx, id: &str, name: &str) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)"
    )
    .bind(id)
    .bind(name)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Creates an organisation outside any write transaction (admin CLI); returns its id.
pub async fn create_org(store: &Store, name: &str) -> Result<String> {
    let id = new_id();
    with_pool!(store, |p| sqlx::query(
        "INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)"
    )
    .bind(&id)
    .bind(name)
    .bind(now_ms())
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(id)
}

/// The id of the organisation named `name`, inside a write transaction.
pub async fn org_id_by_name(tx: &mut WriteTx, name: &str) -> Result<Option<String>> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM orgs WHERE name = $1"
    )
    .bind(name)
    .fetch_optional(&mut *c)
    .await)?)
}

/// An organisation by id or by name.
pub async fn find_org(store: &Store, org: &str) -> Result<Option<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT id FROM orgs WHERE id = $1 OR name = $1 ORDER BY id LIMIT 1"
    )
    .bind(org)
    .fetch_optional(p)
    .await)?)
}

/// An organisation by id.
pub async fn org(store: &Store, id: &str) -> Result<OrgRow> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, name FROM orgs WHERE id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)?)
}

// ---- users ---------------------------------------------------------------------------

/// A user by id.
pub async fn user(store: &Store, id: &str) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(p)
        .await)?)
}

/// A user by e-mail address.
pub async fn user_by_email(store: &Store, email: &EmailAddress) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE email = $1");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(email.as_str())
        .fetch_optional(p)
        .await)?)
}

/// [`user_by_email`] inside a write transaction.
pub async fn user_by_email_tx(tx: &mut WriteTx, email: &EmailAddress) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE email = $1");
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(email.as_str())
        .fetch_optional(&mut *c)
        .await)?)
}

/// Whether the user is disabled, inside a write transaction.
pub async fn is_disabled_tx(tx: &mut WriteTx, id: &str) -> Result<bool> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT disabled FROM users WHERE id = $1"
    )
    .bind(id)
    .fetch_one(&mut *c)
    .await)?)
}

/// The users of an organisation, by e-mail address.
pub async fn users_of_org(store: &Store, org_id: &str) -> Result<Vec<UserRow>> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE org_id = $1 ORDER BY email");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(org_id)
        .fetch_all(p)
        .await)?)
}

/// A new user, as [`insert_user`] writes it.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// Id (UUIDv7).
    pub id: &'a str,
    /// Organisation.
    pub org_id: &'a str,
    /// Sign-in address.
    pub email: &'a EmailAddress,
    /// Display name.
    pub name: &'a str,
    /// Organisation administrator.
    pub is_admin: bool,
    /// May read the audit log.
    pub is_auditor: bool,
}

/// Inserts a user (enabled).
pub async fn insert_user(tx: &mut WriteTx, u: &NewUser<'_>) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO users (id, org_id, email, name, is_admin, is_auditor, disabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(u.id)
    .bind(u.org_id)
    .bind(u.email.as_str())
    .bind(u.name)
    .bind(u.is_admin)
    .bind(u.is_auditor)
    .bind(false)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A user of organisation `org_id`, inside a write (none for another organisation's).
pub async fn user_of_org_tx(tx: &mut WriteTx, org_id: &str, id: &str) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1 AND org_id = $2");
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *c)
        .await)?)
}

/// Writes a user's display name, administrator flag and disabled flag (an administrator's
/// edit; the user row is never deleted).
pub async fn set_user_fields(
    tx: &mut WriteTx,
    id: &str,
    name: &str,
    is_admin: bool,
    disabled: bool,
) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE users SET name = $2, is_admin = $3, disabled = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(name)
    .bind(is_admin)
    .bind(disabled)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Inserts an administrator outside any write transaction (admin CLI); returns the id.
pub async fn create_admin(store: &Store, org_id: &str, email: &EmailAddress) -> Result<String> {
    let id = new_id();
    with_pool!(store, |p| sqlx::query(
        "INSERT INTO users (id, org_id, email, name, is_admin, created_at) \
         VALUES ($1, $2, $3, $4, true, $5)"
    )
    .bind(&id)
    .bind(org_id)
    .bind(email.as_str())
    .bind(email.as_str())
    .bind(now_ms())
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(id)
}

/// Makes a user an administrator of their organisation (admin CLI).
pub async fn promote_admin(store: &Store, id: &str) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "UPDATE users SET is_admin = true WHERE id = $1"
    )
    .bind(id)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

// ---- mailboxes -----------------------------------------------------------------------

/// Inserts a mailbox; returns its id.
pub async fn insert_mailbox(
    tx: &mut WriteTx,
    org_id: &str,
    address: &str,
    name: &str,
) -> Result<String> {
    let id = new_id();
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO mailboxes (id, org_id, address, name, created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(&id)
    .bind(org_id)
    .bind(address)
    .bind(name)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(id)
}

/// The mailboxes of an organisation, by address.
pub async fn mailboxes_of_org(store: &Store, org_id: &str) -> Result<Vec<MailboxRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT id, address, name FROM mailboxes WHERE org_id = $1 ORDER BY address"
    )
    .bind(org_id)
    .fetch_all(p)
    .await)?)
}

/// Whether mailbox `id` exists in organisation `org_id` (another organisation's mailbox
/// answers as missing).
pub async fn mailbox_in_org(store: &Store, org_id: &str, id: &str) -> Result<bool> {
    let hit: Option<i64> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM mailboxes WHERE id = $1 AND org_id = $2"
    )
    .bind(id)
    .bind(org_id)
    .fetch_optional(p)
    .await)?;
    Ok(hit.is_some())
}

/// The PEC address of a mailbox, inside a write transaction.
pub async fn mailbox_address(tx: &mut WriteTx, id: &str) -> Result<String> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT address FROM mailboxes WHERE id = $1"
    )
    .bind(id)
    .fetch_one(&mut *c)
    .await)?)
}

// ---- teams ---------------------------------------------------------------------------

/// Inserts a team; returns its id.
pub async fn insert_team(
    tx: &mut WriteTx,
    org_id: &str,
    name: &str,
    external: bool,
) -> Result<String> {
    let id = new_id();
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO teams (id, org_id, name, external, created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(&id)
    .bind(org_id)
    .bind(name)
    .bind(external)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(id)
}

/// The id of the organisation's team named `name`, creating it (internal) when missing.
pub async fn ensure_team(tx: &mut WriteTx, org_id: &str, name: &str) -> Result<String> {
    Ok(with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO teams (id, org_id, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, name) DO NOTHING",
        )
        .bind(new_id())
        .bind(org_id)
        .bind(name)
        .bind(now_ms())
        .execute(&mut *c)
        .await?;
        sqlx::query_scalar("SELECT id FROM teams WHERE org_id = $1 AND name = $2")
            .bind(org_id)
            .bind(name)
            .fetch_one(&mut *c)
            .await
    })?)
}

/// The teams a user belongs to, by name.
pub async fn teams_of_user(store: &Store, user_id: &str) -> Result<Vec<TeamRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT t.id, t.name, t.external FROM teams t JOIN team_members tm ON tm.team_id = t.id \
         WHERE tm.user_id = $1 ORDER BY t.name"
    )
    .bind(user_id)
    .fetch_all(p)
    .await)?)
}
