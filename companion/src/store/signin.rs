//! Sign-in's tables: IdP settings and registered redirect URIs, pending sign-ins, provider
//! identities, token families and refresh tokens, signing keys. SQL only: hashing,
//! sealing and every decision stay in `crate::auth::signin`; secrets arrive here already
//! sealed and tokens already hashed.
//!
//! Pending sign-ins and refresh-token rotation are protocol bookkeeping, written with
//! single atomic statements on the pool; the rest is written inside the caller's
//! [`WriteTx`] together with its audit entry.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

// ---- IdP settings --------------------------------------------------------------------

/// An organisation's stored IdP settings (lists and mapping as JSON text).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdpRow {
    /// Organisation.
    pub org_id: String,
    /// Issuer URL.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret, sealed with the master key.
    pub client_secret_sealed: Option<String>,
    /// Scopes, JSON list.
    pub scopes: String,
    /// Claim mapping, JSON object.
    pub claim_mapping: String,
    /// Allowed e-mail domains, JSON list.
    pub allowed_domains: String,
    /// Accepted bearer audiences, JSON list.
    pub audiences: String,
}

const IDP_COLUMNS: &str = "org_id, issuer, client_id, client_secret_sealed, scopes, claim_mapping, \
                           allowed_domains, audiences";

/// Stores (replaces) an organisation's IdP settings and its redirect URIs per client. A
/// `None` sealed secret keeps the stored one.
pub async fn put_idp(
    tx: &mut WriteTx,
    row: &IdpRow,
    redirect_uris: &BTreeMap<String, Vec<String>>,
    now: i64,
) -> Result<()> {
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO idp_settings (org_id, issuer, client_id, client_secret_sealed, scopes, claim_mapping, \
             allowed_domains, audiences, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (org_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id, \
             client_secret_sealed = COALESCE(excluded.client_secret_sealed, idp_settings.client_secret_sealed), \
             scopes = excluded.scopes, claim_mapping = excluded.claim_mapping, \
             allowed_domains = excluded.allowed_domains, audiences = excluded.audiences, \
             updated_at = excluded.updated_at",
        )
        .bind(&row.org_id)
        .bind(&row.issuer)
        .bind(&row.client_id)
        .bind(&row.client_secret_sealed)
        .bind(&row.scopes)
        .bind(&row.claim_mapping)
        .bind(&row.allowed_domains)
        .bind(&row.audiences)
        .bind(now)
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM auth_redirect_uris WHERE org_id = $1")
            .bind(&row.org_id)
            .execute(&mut *c)
            .await?;
        for (client, uris) in redirect_uris {
            for uri in uris {
                sqlx::query(
                    "INSERT INTO auth_redirect_uris (org_id, client, uri) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&row.org_id)
                .bind(client)
                .bind(uri)
                .execute(&mut *c)
                .await?;
            }
        }
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(())
}

/// The IdP settings of an organisation.
pub async fn idp_for_org(store: &Store, org_id: &str) -> Result<Option<IdpRow>> {
    let sql = format!("SELECT {IDP_COLUMNS} FROM idp_settings WHERE org_id = $1");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(org_id)
        .fetch_optional(p)
        .await)?)
}

/// The IdP settings of every organisation using `issuer`, by organisation id.
pub async fn idp_for_issuer(store: &Store, issuer: &str) -> Result<Vec<IdpRow>> {
    let sql = format!("SELECT {IDP_COLUMNS} FROM idp_settings WHERE issuer = $1 ORDER BY org_id");
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(issuer)
        .fetch_all(p)
        .await)?)
}

/// A registered redirect URI.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RedirectUriRow {
    /// `desk`, `thunderbird` or `outlook`.
    pub client: String,
    /// The exact URI.
    pub uri: String,
}

/// The registered redirect URIs of an organisation, by client and URI.
pub async fn redirect_uris(store: &Store, org_id: &str) -> Result<Vec<RedirectUriRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT client, uri FROM auth_redirect_uris WHERE org_id = $1 ORDER BY client, uri"
    )
    .bind(org_id)
    .fetch_all(p)
    .await)?)
}

/// `true` when `uri` is registered for `client` of the organisation (exact match).
pub async fn redirect_uri_registered(
    store: &Store,
    org_id: &str,
    client: &str,
    uri: &str,
) -> Result<bool> {
    let found: Option<String> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT uri FROM auth_redirect_uris WHERE org_id = $1 AND client = $2 AND uri = $3"
    )
    .bind(org_id)
    .bind(client)
    .bind(uri)
    .fetch_optional(p)
    .await)?;
    Ok(found.is_some())
}

// ---- pending sign-ins ----------------------------------------------------------------

/// A pending sign-in (what the callback needs).
#[derive(Debug, sqlx::FromRow)]
pub struct AuthSessionRow {
    /// Organisation.
    pub org_id: String,
    /// `desk`, `thunderbird` or `outlook`.
    pub client: String,
    /// The redirect URI sent to the provider (must be repeated at the token endpoint).
    pub redirect_uri: String,
    /// Expected `nonce` of the ID token.
    pub nonce: String,
    /// PKCE verifier, sealed.
    pub pkce_verifier_sealed: String,
    /// Expiry (ms).
    pub expires_at: i64,
}

/// Stores a pending sign-in under `state_hash`, sweeping the expired ones first (so the
/// table stays small without a job).
pub async fn insert_auth_session(
    store: &Store,
    state_hash: &str,
    row: &AuthSessionRow,
    now: i64,
) -> Result<()> {
    with_pool!(store, |p| {
        sqlx::query("DELETE FROM auth_sessions WHERE expires_at < $1")
            .bind(now)
            .execute(p)
            .await?;
        sqlx::query(
            "INSERT INTO auth_sessions (state_hash, org_id, client, redirect_uri, nonce, pkce_verifier_sealed, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(state_hash)
        .bind(&row.org_id)
        .bind(&row.client)
        .bind(&row.redirect_uri)
        .bind(&row.nonce)
        .bind(&row.pkce_verifier_sealed)
        .bind(row.expires_at)
        .execute(p)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Deletes and returns the pending sign-in stored under `state_hash` (each works once).
pub async fn take_auth_session(store: &Store, state_hash: &str) -> Result<Option<AuthSessionRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "DELETE FROM auth_sessions WHERE state_hash = $1 \
         RETURNING org_id, client, redirect_uri, nonce, pkce_verifier_sealed, expires_at"
    )
    .bind(state_hash)
    .fetch_optional(p)
    .await)?)
}

// ---- identities ----------------------------------------------------------------------

/// The user linked to a provider subject.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkedUserRow {
    /// User id.
    pub id: String,
    /// The user's organisation.
    pub org_id: String,
    /// Disabled by an administrator.
    pub disabled: bool,
}

const LINKED_USER: &str = "SELECT u.id, u.org_id, u.disabled FROM user_identities i \
    JOIN users u ON u.id = i.user_id WHERE i.issuer = $1 AND i.subject = $2";

/// The user linked to `(issuer, subject)`.
pub async fn linked_user(
    store: &Store,
    issuer: &str,
    subject: &str,
) -> Result<Option<LinkedUserRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(LINKED_USER)
        .bind(issuer)
        .bind(subject)
        .fetch_optional(p)
        .await)?)
}

/// [`linked_user`] inside a write transaction.
pub async fn linked_user_tx(
    tx: &mut WriteTx,
    issuer: &str,
    subject: &str,
) -> Result<Option<LinkedUserRow>> {
    Ok(with_tx!(tx, |c| sqlx::query_as(LINKED_USER)
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&mut *c)
        .await)?)
}

/// Links a provider subject to a user.
pub async fn insert_identity(
    tx: &mut WriteTx,
    issuer: &str,
    subject: &str,
    user_id: &str,
    now: i64,
) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO user_identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)"
    )
    .bind(issuer)
    .bind(subject)
    .bind(user_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

// ---- token families and refresh tokens -----------------------------------------------

/// Starts a token family with its first refresh token (stored as its hash).
#[allow(clippy::too_many_arguments)]
pub async fn insert_family(
    tx: &mut WriteTx,
    family_id: &str,
    org_id: &str,
    user_id: &str,
    client: &str,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO token_families (id, org_id, user_id, client, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(family_id)
        .bind(org_id)
        .bind(user_id)
        .bind(client)
        .bind(now)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(family_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?;
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(())
}

/// Marks a refresh token used, atomically: `true` only for the one caller that finds it
/// unused, unexpired and in a live family (of two concurrent uses exactly one wins).
pub async fn claim_refresh_token(store: &Store, token_hash: &str, now: i64) -> Result<bool> {
    Ok(with_pool!(store, |p| {
        sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
         AND expires_at > $1 AND family_id IN (SELECT id FROM token_families WHERE revoked_at IS NULL)"
    )
    .bind(now)
    .bind(token_hash)
    .execute(p)
    .await
    .map(|r| r.rows_affected() == 1)
    })?)
}

/// A refresh token with its family and owner.
#[derive(Debug, sqlx::FromRow)]
pub struct RefreshRow {
    /// Family id (`sid` of access tokens).
    pub family_id: String,
    /// Expiry (ms).
    pub expires_at: i64,
    /// When it was used (ms).
    pub used_at: Option<i64>,
    /// When the family was revoked (ms).
    pub revoked_at: Option<i64>,
    /// Owner.
    pub user_id: String,
    /// Owner's organisation.
    pub org_id: String,
    /// Owner disabled.
    pub disabled: bool,
}

/// The refresh token stored under `token_hash`.
pub async fn refresh_token(store: &Store, token_hash: &str) -> Result<Option<RefreshRow>> {
    Ok(with_pool!(store, |p| {
        sqlx::query_as(
        "SELECT r.family_id, r.expires_at, r.used_at, f.revoked_at, f.user_id, f.org_id, u.disabled \
         FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
         JOIN users u ON u.id = f.user_id WHERE r.token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(p)
    .await
    })?)
}

/// Adds the successor refresh token of a family.
pub async fn insert_refresh_token(
    store: &Store,
    token_hash: &str,
    family_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)"
    )
    .bind(token_hash)
    .bind(family_id)
    .bind(now)
    .bind(expires_at)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Revokes a live family; returns whether it was live.
pub async fn revoke_family(tx: &mut WriteTx, family_id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
    )
    .bind(now)
    .bind(family_id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A token family and its owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FamilyRow {
    /// Family id.
    pub id: String,
    /// Owner's organisation.
    pub org_id: String,
    /// Owner.
    pub user_id: String,
}

/// The family of the refresh token stored under `token_hash`.
pub async fn family_of_refresh(store: &Store, token_hash: &str) -> Result<Option<FamilyRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT f.id, f.org_id, f.user_id FROM refresh_tokens r \
         JOIN token_families f ON f.id = r.family_id WHERE r.token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(p)
    .await)?)
}

/// `true` when the family exists, belongs to `user_id` and is not revoked.
pub async fn family_active(store: &Store, family_id: &str, user_id: &str) -> Result<bool> {
    let found: Option<String> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT id FROM token_families WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"
    )
    .bind(family_id)
    .bind(user_id)
    .fetch_optional(p)
    .await)?;
    Ok(found.is_some())
}

// ---- signing keys --------------------------------------------------------------------

/// When the current (not retired) signing key was created, if there is one.
pub async fn newest_signing_key_at(store: &Store) -> Result<Option<i64>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT MAX(created_at) FROM signing_keys WHERE retired_at IS NULL"
    )
    .fetch_one(p)
    .await)?)
}

/// A stored signing key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRow {
    /// Key id (`kid` of tokens).
    pub kid: String,
    /// The secret, sealed with the master key.
    pub secret_sealed: String,
}

/// Signing keys that still verify: current, or retired after `retired_after` (ms); the
/// current one first, then newest first.
pub async fn verifying_signing_keys(
    store: &Store,
    retired_after: i64,
) -> Result<Vec<SigningKeyRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT kid, secret_sealed FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 \
         ORDER BY (retired_at IS NULL) DESC, created_at DESC"
    )
    .bind(retired_after)
    .fetch_all(p)
    .await)?)
}

/// Retires every current signing key and stores a new one (sealed).
pub async fn replace_signing_key(
    tx: &mut WriteTx,
    kid: &str,
    secret_sealed: &str,
    now: i64,
) -> Result<()> {
    with_tx!(tx, |c| {
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *c)
            .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, secret_sealed, created_at) VALUES ($1, $2, $3)",
        )
        .bind(kid)
        .bind(secret_sealed)
        .bind(now)
        .execute(&mut *c)
        .await?;
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(())
}

/// Every stored signing key, still sealed (a test checks none is kept in the clear).
#[cfg(test)]
pub(crate) async fn sealed_signing_keys(store: &Store) -> Result<Vec<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT secret_sealed FROM signing_keys"
    )
    .fetch_all(p)
    .await)?)
}
