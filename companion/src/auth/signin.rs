//! The sign-in's decisions over its tables (which are in [`crate::store::signin`]): IdP
//! settings (validated, client secret sealed), pending sign-ins (PKCE verifier sealed),
//! provisioning from claims, token families and refresh-token rotation with reuse
//! detection, signing keys (sealed with the master key).
//!
//! Domain writes (provisioning, sign-in, logout, refresh-token reuse) go through
//! [`crate::store::WriteTx`] with an audit entry. Pending sign-ins and refresh-token
//! rotation are protocol bookkeeping and use single atomic statements instead.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::idp::{ClaimMapping, IdpSettings, MappedIdentity};
use super::keys::SigningKey;
use super::refresh::{self, RefreshTokenState, Verdict};
use super::secrets::MasterKey;
use crate::error::{Error, Result};
use crate::store::audit::{Action, Chain, Entry};
use crate::store::signin as db;
use crate::store::{Store, grants, new_id, now_ms, users};

/// Row types and lookups used as they are (no decision to add).
pub use crate::store::signin::{AuthSessionRow, family_active, redirect_uri_registered};

/// The companion clients that may start a sign-in. `outlook`: the Office dialog of the
/// Outlook add-in, redirected to `PUBLIC_URL/addin/outlook/signin-done.html`.
pub const CLIENTS: [&str; 3] = ["desk", "thunderbird", "outlook"];

/// An organisation's IdP settings as an administrator writes them (`PUT /api/v1/auth/idp`).
/// See `docs/operations.md` for every key.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpDocument {
    /// Issuer URL, exactly as in the provider's `iss`.
    pub issuer: String,
    /// The companion's client id at the provider.
    pub client_id: String,
    /// Client secret (write-only; sealed at rest). Absent: public client, or keep the stored one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<SecretString>,
    /// Scopes (default `openid email profile`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Claim names and group → team mapping.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub claims: ClaimMapping,
    /// E-mail domains allowed to sign in (empty: any).
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Accepted `aud` of IdP bearer tokens (empty: the client id).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Redirect URIs per companion client: `desk`, `thunderbird`, `outlook`.
    #[serde(default)]
    pub redirect_uris: BTreeMap<String, Vec<String>>,
}

/// IdP settings as shown back to an administrator (never the secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdpSummary {
    /// Issuer URL.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Whether a client secret is stored.
    pub has_client_secret: bool,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Claim mapping.
    #[schema(value_type = Object)]
    pub claims: ClaimMapping,
    /// Allowed e-mail domains.
    pub allowed_domains: Vec<String>,
    /// Accepted bearer audiences.
    pub audiences: Vec<String>,
    /// Redirect URIs per client.
    pub redirect_uris: BTreeMap<String, Vec<String>>,
}

fn secret_context(org_id: &str) -> String {
    format!("idp.client_secret:{org_id}")
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Normalises and checks a document; 422 on nonsense.
fn validate(doc: &mut IdpDocument) -> Result<()> {
    let issuer = openidconnect::url::Url::parse(&doc.issuer)
        .map_err(|_| Error::invalid("issuer non valido / invalid issuer URL"))?;
    let loopback = matches!(issuer.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if issuer.scheme() != "https" && !(issuer.scheme() == "http" && loopback) {
        return Err(Error::invalid(
            "l'issuer deve usare https / the issuer must use https",
        ));
    }
    if doc.client_id.trim().is_empty() {
        return Err(Error::invalid("client_id mancante / client_id is required"));
    }
    for (client, uris) in &doc.redirect_uris {
        if !CLIENTS.contains(&client.as_str()) {
            return Err(Error::invalid(format!(
                "client sconosciuto / unknown client `{client}` (desk, thunderbird, outlook)"
            )));
        }
        for uri in uris {
            let parsed = openidconnect::url::Url::parse(uri)
                .map_err(|_| Error::invalid("redirect URI non valido / invalid redirect URI"))?;
            if parsed.fragment().is_some() {
                return Err(Error::invalid(
                    "redirect URI con frammento / redirect URI with a fragment",
                ));
            }
        }
    }
    doc.allowed_domains = doc
        .allowed_domains
        .iter()
        .map(|d| d.trim().trim_start_matches('@').to_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    Ok(())
}

/// Stores (replaces) an organisation's IdP settings and redirect URIs. A missing
/// `client_secret` keeps the stored one.
pub async fn put_idp_settings(
    store: &Store,
    master: &MasterKey,
    org_id: &str,
    actor_id: Option<&str>,
    mut doc: IdpDocument,
) -> Result<()> {
    validate(&mut doc)?;
    let sealed = match &doc.client_secret {
        Some(secret) => Some(
            master
                .seal_secret(secret, &secret_context(org_id))
                .map_err(|e| Error::Internal(e.into()))?,
        ),
        None => None,
    };
    let claims = serde_json::to_string(&doc.claims).map_err(|e| Error::Internal(e.into()))?;
    let row = db::IdpRow {
        org_id: org_id.to_owned(),
        issuer: doc.issuer.clone(),
        client_id: doc.client_id.clone(),
        client_secret_sealed: sealed.clone(),
        scopes: json_list(&doc.scopes),
        claim_mapping: claims,
        allowed_domains: json_list(&doc.allowed_domains),
        audiences: json_list(&doc.audiences),
    };
    let mut tx = store.begin_write(Chain::Org(org_id)).await?;
    db::put_idp(&mut tx, &row, &doc.redirect_uris, now_ms()).await?;
    tx.audit(Entry {
        org_id: Some(org_id),
        actor_id,
        action: Action::AuthIdpSettings,
        object_type: "org",
        object_id: org_id,
        details: json!({"secret_changed": sealed.is_some()}),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Opens a stored row into settings (the client secret unsealed).
fn into_settings(row: db::IdpRow, master: &MasterKey) -> Result<IdpSettings> {
    let client_secret = match &row.client_secret_sealed {
        Some(sealed) => Some(
            master
                .open_secret(sealed, &secret_context(&row.org_id))
                .map_err(|e| Error::Internal(anyhow::anyhow!("idp client secret: {e}")))?,
        ),
        None => None,
    };
    let parse = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
    Ok(IdpSettings {
        org_id: row.org_id.clone(),
        issuer: row.issuer,
        client_id: row.client_id,
        client_secret,
        scopes: parse(&row.scopes),
        claims: serde_json::from_str(&row.claim_mapping).unwrap_or_default(),
        allowed_domains: parse(&row.allowed_domains),
        audiences: parse(&row.audiences),
    })
}

/// The IdP settings of an organisation.
pub async fn idp_settings_for_org(
    store: &Store,
    master: &MasterKey,
    org_id: &str,
) -> Result<Option<IdpSettings>> {
    let row = db::idp_for_org(store, org_id).await?;
    row.map(|r| into_settings(r, master)).transpose()
}

/// Every organisation whose provider has this issuer (several for a shared issuer such as
/// Google's; the audience then tells them apart).
pub async fn idp_settings_for_issuer(
    store: &Store,
    master: &MasterKey,
    issuer: &str,
) -> Result<Vec<IdpSettings>> {
    let rows = db::idp_for_issuer(store, issuer).await?;
    rows.into_iter().map(|r| into_settings(r, master)).collect()
}

/// The settings of an organisation for its administrator (no secret).
pub async fn idp_summary(
    store: &Store,
    master: &MasterKey,
    org_id: &str,
) -> Result<Option<IdpSummary>> {
    let Some(s) = idp_settings_for_org(store, master, org_id).await? else {
        return Ok(None);
    };
    let rows = db::redirect_uris(store, org_id).await?;
    let mut redirect_uris: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        redirect_uris.entry(r.client).or_default().push(r.uri);
    }
    Ok(Some(IdpSummary {
        issuer: s.issuer,
        client_id: s.client_id,
        has_client_secret: s.client_secret.is_some(),
        scopes: s.scopes,
        claims: s.claims,
        allowed_domains: s.allowed_domains,
        audiences: s.audiences,
        redirect_uris,
    }))
}

fn verifier_context(state_hash: &str) -> String {
    format!("auth.pkce:{state_hash}")
}

/// Remembers a started sign-in under the hash of its `state`.
#[allow(clippy::too_many_arguments)]
pub async fn save_auth_session(
    store: &Store,
    master: &MasterKey,
    state: &str,
    org_id: &str,
    client: &str,
    redirect_uri: &str,
    nonce: &str,
    pkce_verifier: &SecretString,
    ttl_ms: i64,
) -> Result<()> {
    let state_hash = refresh::hash(state);
    let sealed = master
        .seal_secret(pkce_verifier, &verifier_context(&state_hash))
        .map_err(|e| Error::Internal(e.into()))?;
    let now = now_ms();
    let row = AuthSessionRow {
        org_id: org_id.to_owned(),
        client: client.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        nonce: nonce.to_owned(),
        pkce_verifier_sealed: sealed,
        expires_at: now + ttl_ms,
    };
    db::insert_auth_session(store, &state_hash, &row, now).await?;
    Ok(())
}

/// Takes (deletes and returns) a pending sign-in: each `state` works once. Returns the row
/// and the opened PKCE verifier; `None` when unknown or expired.
pub async fn take_auth_session(
    store: &Store,
    master: &MasterKey,
    state: &str,
) -> Result<Option<(AuthSessionRow, SecretString)>> {
    let state_hash = refresh::hash(state);
    let row = db::take_auth_session(store, &state_hash).await?;
    let Some(row) = row.filter(|r| r.expires_at > now_ms()) else {
        return Ok(None);
    };
    let verifier = master
        .open_secret(&row.pkce_verifier_sealed, &verifier_context(&state_hash))
        .map_err(|e| Error::Internal(e.into()))?;
    Ok(Some((row, verifier)))
}

/// Who signed in, after provisioning.
#[derive(Debug, Clone)]
pub struct SignedInUser {
    /// User id.
    pub user_id: String,
    /// Organisation id.
    pub org_id: String,
    /// Disabled by an administrator.
    pub disabled: bool,
}

/// Finds or creates the user for a verified identity of `settings`' organisation, links the
/// provider subject, creates teams from groups and adds the user to them. Refuses (403) an
/// e-mail that already belongs to another organisation.
pub async fn provision(
    store: &Store,
    settings: &IdpSettings,
    identity: &MappedIdentity,
) -> Result<SignedInUser> {
    let org_id = settings.org_id.as_str();
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(org_id)).await?;
    let linked = db::linked_user_tx(&mut tx, &settings.issuer, &identity.subject).await?;
    let (user_id, created) = match linked {
        Some(u) if u.org_id != org_id => {
            // A shared issuer (e.g. Google) with a subject linked in another organisation.
            tracing::warn!(user.id = %u.id, org.id = %org_id, "identity belongs to another organisation");
            return Err(Error::forbidden(
                "utente di un'altra organizzazione / user of another organisation",
            ));
        }
        Some(u) => (u.id, false),
        None => {
            let (id, created) = match users::user_by_email_tx(&mut tx, &identity.email).await? {
                Some(u) if u.org_id != org_id => {
                    return Err(Error::forbidden(
                        "indirizzo già usato in un'altra organizzazione / address used by another organisation",
                    ));
                }
                // An account an administrator created before the first sign-in.
                Some(u) => (u.id, false),
                None => (new_id(), true),
            };
            if created {
                users::insert_user(
                    &mut tx,
                    &users::NewUser {
                        id: &id,
                        org_id,
                        email: &identity.email,
                        name: &identity.name,
                        is_admin: false,
                        is_auditor: false,
                    },
                )
                .await?;
            }
            db::insert_identity(&mut tx, &settings.issuer, &identity.subject, &id, now).await?;
            (id, created)
        }
    };
    let mut team_ids = Vec::new();
    for team in &identity.teams {
        let team_id = users::ensure_team(&mut tx, org_id, team).await?;
        grants::add_member(&mut tx, &team_id, &user_id).await?;
        team_ids.push(team_id);
    }
    let disabled = users::is_disabled_tx(&mut tx, &user_id).await?;
    if created {
        tx.audit(Entry {
            org_id: Some(org_id),
            actor_id: Some(&user_id),
            action: Action::UserProvisioned,
            object_type: "user",
            object_id: &user_id,
            details: json!({"teams": team_ids}),
        })
        .await?;
    }
    tx.commit().await?;
    Ok(SignedInUser {
        user_id,
        org_id: org_id.to_owned(),
        disabled,
    })
}

/// A freshly issued refresh token and its family.
#[derive(Debug)]
pub struct IssuedRefresh {
    /// The token for the client.
    pub token: SecretString,
    /// The family (`sid` of access tokens).
    pub family_id: String,
}

/// Starts a token family for a sign-in and issues its first refresh token.
pub async fn start_family(
    store: &Store,
    user: &SignedInUser,
    client: &str,
    ttl_ms: i64,
) -> Result<IssuedRefresh> {
    let family_id = new_id();
    let fresh = refresh::generate();
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&user.org_id)).await?;
    db::insert_family(
        &mut tx,
        &family_id,
        &user.org_id,
        &user.user_id,
        client,
        &fresh.hash,
        now,
        now + ttl_ms,
    )
    .await?;
    tx.audit(Entry {
        org_id: Some(&user.org_id),
        actor_id: Some(&user.user_id),
        action: Action::AuthSignIn,
        object_type: "session",
        object_id: &family_id,
        details: json!({"client": client}),
    })
    .await?;
    tx.commit().await?;
    Ok(IssuedRefresh {
        token: fresh.token,
        family_id,
    })
}

/// Outcome of presenting a refresh token.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// Rotated: the successor and who it belongs to.
    Rotated {
        /// The new refresh token.
        refresh: IssuedRefresh,
        /// User id.
        user_id: String,
        /// Organisation id.
        org_id: String,
    },
    /// Refused (unknown, expired, revoked, reused, disabled user).
    Refused,
}

fn ms(t: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(t).unwrap_or_default()
}

/// Exchanges a refresh token for its successor; a replay revokes the whole family.
pub async fn rotate_refresh(store: &Store, presented: &str, ttl_ms: i64) -> Result<RefreshOutcome> {
    if !refresh::looks_like_refresh_token(presented) {
        return Ok(RefreshOutcome::Refused);
    }
    let hash = refresh::hash(presented);
    let now = now_ms();
    // Claim the token atomically: of two concurrent uses exactly one wins, the other is a reuse.
    let claimed = db::claim_refresh_token(store, &hash, now).await?;
    let row = db::refresh_token(store, &hash).await?;
    let Some(row) = row else {
        return Ok(RefreshOutcome::Refused);
    };
    if !claimed {
        let state = RefreshTokenState {
            expires_at: ms(row.expires_at),
            used_at: row.used_at.map(ms),
            revoked_at: row.revoked_at.map(ms),
        };
        if refresh::judge(&state, ms(now)) == Verdict::Reused {
            tracing::warn!(session.id = %row.family_id, user.id = %row.user_id, "refresh token reuse: family revoked");
            revoke_family(
                store,
                &row.family_id,
                &row.org_id,
                &row.user_id,
                Action::AuthRefreshReuse,
            )
            .await?;
        }
        return Ok(RefreshOutcome::Refused);
    }
    if row.disabled {
        revoke_family(
            store,
            &row.family_id,
            &row.org_id,
            &row.user_id,
            Action::AuthUserDisabled,
        )
        .await?;
        return Ok(RefreshOutcome::Refused);
    }
    let fresh = refresh::generate();
    db::insert_refresh_token(store, &fresh.hash, &row.family_id, now, now + ttl_ms).await?;
    Ok(RefreshOutcome::Rotated {
        refresh: IssuedRefresh {
            token: fresh.token,
            family_id: row.family_id,
        },
        user_id: row.user_id,
        org_id: row.org_id,
    })
}

/// Revokes a token family (its refresh tokens and the access tokens carrying its `sid`).
pub async fn revoke_family(
    store: &Store,
    family_id: &str,
    org_id: &str,
    actor_id: &str,
    action: Action,
) -> Result<()> {
    let mut tx = store.begin_write(Chain::Org(org_id)).await?;
    let changed = db::revoke_family(&mut tx, family_id, now_ms()).await?;
    if changed {
        tx.audit(Entry {
            org_id: Some(org_id),
            actor_id: Some(actor_id),
            action,
            object_type: "session",
            object_id: family_id,
            details: json!({}),
        })
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The family a refresh token belongs to, with its owner (for logout): `(family, org, user)`.
pub async fn family_of_refresh(
    store: &Store,
    presented: &str,
) -> Result<Option<(String, String, String)>> {
    Ok(db::family_of_refresh(store, &refresh::hash(presented))
        .await?
        .map(|f| (f.id, f.org_id, f.user_id)))
}

/// The user already linked to a provider subject (read-only fast path of bearer tokens).
pub async fn linked_user(
    store: &Store,
    issuer: &str,
    subject: &str,
) -> Result<Option<SignedInUser>> {
    Ok(db::linked_user(store, issuer, subject)
        .await?
        .map(|u| SignedInUser {
            user_id: u.id,
            org_id: u.org_id,
            disabled: u.disabled,
        }))
}

fn key_context(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// Loads the signing keys that still verify (newest first), creating the first one on an
/// empty database and a new one when the current key is older than `rotate_after_ms`.
pub async fn load_signing_keys(
    store: &Store,
    master: &MasterKey,
    rotate_after_ms: i64,
    grace_ms: i64,
) -> anyhow::Result<Vec<SigningKey>> {
    let newest = db::newest_signing_key_at(store).await?;
    if newest.is_none_or(|t| now_ms() - t > rotate_after_ms) {
        rotate_signing_key(store, master).await?;
    }
    let rows = db::verifying_signing_keys(store, now_ms() - grace_ms).await?;
    let mut keys = Vec::with_capacity(rows.len());
    for db::SigningKeyRow { kid, secret_sealed } in rows {
        let bytes = master.open(&secret_sealed, &key_context(&kid))?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("signing key {kid} has the wrong length"))?;
        keys.push(SigningKey::from_parts(kid, secret));
    }
    Ok(keys)
}

/// Creates a new signing key and retires the others (they keep verifying for the grace
/// period, so nobody is logged out). Returns the new `kid`.
pub async fn rotate_signing_key(store: &Store, master: &MasterKey) -> anyhow::Result<String> {
    let key = SigningKey::generate();
    let sealed = master.seal(key.secret_bytes(), &key_context(&key.kid))?;
    let now = now_ms();
    let mut tx = store.begin_write(Chain::System).await?;
    db::replace_signing_key(&mut tx, &key.kid, &sealed, now).await?;
    tx.audit(Entry {
        org_id: None,
        actor_id: None,
        action: Action::AuthSigningKeyRotated,
        object_type: "signing_key",
        object_id: &key.kid,
        details: json!({}),
    })
    .await?;
    tx.commit().await?;
    Ok(key.kid)
}
