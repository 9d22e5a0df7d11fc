//! Bearer tokens: the companion's own short-lived access tokens, and access tokens issued by
//! an organisation's OpenID provider (what Outlook's SSO hands an add-in).
//!
//! Companion tokens are HS256 JWTs signed by a key of the rotating key ring
//! ([`super::keys`]); the keys live in the database sealed with the master key, so every
//! replica sharing a PostgreSQL database accepts the same tokens. Tokens issued at an SSO
//! sign-in carry the id of their token family (`sid`): logging out or a refresh-token replay
//! revokes the family and, through the check in [`super::Principal`], those access tokens too.
//!
//! Routing a bearer token: the unverified `iss` only chooses *how* to verify. `iss` equal to
//! [`ISSUER`] → the key ring; any other issuer → the organisations whose IdP has that issuer
//! ([`super::idp_token`]). Either path then verifies everything.

use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use super::idp::IdpDirectory;
use super::idp_token;
use super::keys::{KeyError, KeyRing};
use super::secrets::MasterKey;
use super::signin as auth_store;
use crate::config::Settings;
use crate::error::Error;
use crate::state::AppState;
use crate::store::{Store, now_ms};

/// Issuer of companion tokens.
pub const ISSUER: &str = "pecdesk-companion";
/// Audience of companion access tokens.
pub const AUDIENCE: &str = "pecdesk-api";
/// Environment variable with the base64 master key (else `data_dir/master.key`).
pub const MASTER_KEY_ENV: &str = "PECDESK_MASTER_KEY";
/// A new signing key is made when the current one is older than this.
pub const KEY_ROTATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// Retired signing keys keep verifying this long (longer than any access token lives).
pub const KEY_GRACE: Duration = Duration::from_secs(2 * 24 * 3600);
/// Forced JWKS refreshes per issuer (unknown `kid`) happen at most this often.
pub const JWKS_MIN_REFRESH: Duration = Duration::from_secs(60);
/// Cached discovery documents and JWKS are re-fetched after this.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// Reloads of the key ring from the database (another replica rotated) at most this often.
const RING_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Claims of a companion access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Organisation id.
    pub org: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Token family of an SSO sign-in (absent for dev-login tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Key material of authentication: the token key ring, the master key, the IdP cache.
pub struct TokenKeys {
    ring: RwLock<KeyRing>,
    master: MasterKey,
    idp: IdpDirectory,
    last_reload: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

/// The master key: `PECDESK_MASTER_KEY` (base64), else `data_dir/master.key` (created once).
pub fn master_key(settings: &Settings) -> anyhow::Result<MasterKey> {
    Ok(match std::env::var(MASTER_KEY_ENV) {
        Ok(b64) if !b64.trim().is_empty() => MasterKey::from_base64(&b64)?,
        _ => MasterKey::load_or_create(&settings.data_dir)?,
    })
}

impl TokenKeys {
    /// Loads the master key (`PECDESK_MASTER_KEY`, else `data_dir/master.key`, created once)
    /// and the signing keys (creating or rotating the current one when due).
    pub async fn load_or_create(store: &Store, settings: &Settings) -> anyhow::Result<Self> {
        let master = master_key(settings)?;
        let keys =
            auth_store::load_signing_keys(store, &master, millis(KEY_ROTATION), millis(KEY_GRACE))
                .await?;
        Ok(Self {
            ring: RwLock::new(KeyRing::new(keys)),
            master,
            idp: IdpDirectory::new(JWKS_MIN_REFRESH, JWKS_MAX_AGE)?,
            last_reload: Mutex::new(None),
        })
    }

    /// The master key (sealing IdP client secrets and signing keys).
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The discovery + JWKS cache of the organisations' providers.
    pub fn idp(&self) -> &IdpDirectory {
        &self.idp
    }

    /// Makes a new signing key current; tokens signed before keep verifying. Returns its `kid`.
    pub async fn rotate(&self, store: &Store) -> anyhow::Result<String> {
        let kid = auth_store::rotate_signing_key(store, &self.master).await?;
        self.reload(store).await?;
        Ok(kid)
    }

    async fn reload(&self, store: &Store) -> anyhow::Result<()> {
        let keys = auth_store::load_signing_keys(
            store,
            &self.master,
            millis(KEY_ROTATION),
            millis(KEY_GRACE),
        )
        .await?;
        if let Ok(mut ring) = self.ring.write() {
            *ring = KeyRing::new(keys);
        }
        Ok(())
    }

    /// Reloads from the database unless that happened moments ago.
    async fn reload_rate_limited(&self, store: &Store) -> bool {
        {
            let Ok(mut last) = self.last_reload.lock() else {
                return false;
            };
            if last.is_some_and(|t| t.elapsed() < RING_RELOAD_INTERVAL) {
                return false;
            }
            *last = Some(Instant::now());
        }
        self.reload(store).await.is_ok()
    }

    fn ring(&self) -> KeyRing {
        self.ring.read().map(|r| r.clone()).unwrap_or_default()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 5;
    v
}

/// Issues an access token for a user of an organisation, valid for `ttl_secs`.
pub fn issue_access_token(
    state: &AppState,
    user_id: &str,
    org_id: &str,
    ttl_secs: u64,
) -> Result<String, Error> {
    issue_session_token(state, user_id, org_id, None, ttl_secs)
}

/// Issues an access token bound to an SSO token family (`sid`).
pub fn issue_session_token(
    state: &AppState,
    user_id: &str,
    org_id: &str,
    sid: Option<&str>,
    ttl_secs: u64,
) -> Result<String, Error> {
    let now = now_ms() / 1000;
    let claims = AccessClaims {
        sub: user_id.to_owned(),
        org: org_id.to_owned(),
        iat: now,
        exp: now + i64::try_from(ttl_secs).unwrap_or(3600),
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        sid: sid.map(str::to_owned),
    };
    state
        .tokens()
        .ring()
        .sign(&claims)
        .map_err(|e| Error::Internal(e.into()))
}

/// Verifies a companion access token with the current key ring; anything wrong → 401.
pub fn verify_access_token(state: &AppState, token: &str) -> Result<AccessClaims, Error> {
    state
        .tokens()
        .ring()
        .verify(token, &validation())
        .map_err(|_| Error::Unauthorized)
}

/// Who a verified bearer token names (the caller still checks the user row).
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// User id.
    pub user_id: String,
    /// Organisation id.
    pub org_id: String,
    /// Token family, for companion tokens from an SSO sign-in.
    pub sid: Option<String>,
}

/// Verifies any bearer token the companion accepts: its own, or an IdP's. → 401 otherwise.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Authenticated, Error> {
    let issuer = idp_token::unverified_issuer(token).ok_or(Error::Unauthorized)?;
    if issuer == ISSUER {
        return authenticate_companion(state, token).await;
    }
    authenticate_idp(state, &issuer, token).await
}

async fn authenticate_companion(state: &AppState, token: &str) -> Result<Authenticated, Error> {
    let keys = state.tokens();
    let claims = match keys.ring().verify::<AccessClaims>(token, &validation()) {
        Err(KeyError::UnknownKey) if keys.reload_rate_limited(state.store()).await => {
            // Another replica may have rotated the signing key.
            keys.ring().verify::<AccessClaims>(token, &validation())
        }
        other => other,
    }
    .map_err(|_| Error::Unauthorized)?;
    Ok(Authenticated {
        user_id: claims.sub,
        org_id: claims.org,
        sid: claims.sid,
    })
}

async fn authenticate_idp(
    state: &AppState,
    issuer: &str,
    token: &str,
) -> Result<Authenticated, Error> {
    let keys = state.tokens();
    let candidates =
        auth_store::idp_settings_for_issuer(state.store(), keys.master(), issuer).await?;
    for settings in candidates {
        let claims = match idp_token::verify(keys.idp(), &settings, token).await {
            Ok(claims) => claims,
            Err(idp_token::IdpTokenError::Provider(e)) => {
                tracing::warn!(org.id = %settings.org_id, error = %e, "identity provider unavailable");
                continue;
            }
            Err(e) => {
                tracing::debug!(org.id = %settings.org_id, reason = %e, "idp bearer token refused");
                continue;
            }
        };
        // Verified for this organisation: from here on a refusal is final.
        let identity = settings.map_claims(&claims).map_err(|e| {
            tracing::info!(org.id = %settings.org_id, reason = %e, "idp bearer token claims refused");
            Error::Unauthorized
        })?;
        let user = match auth_store::linked_user(state.store(), &settings.issuer, &identity.subject)
            .await?
        {
            Some(user) => user,
            None => auth_store::provision(state.store(), &settings, &identity)
                .await
                .map_err(|e| match e {
                    Error::Forbidden(_) => Error::Unauthorized,
                    other => other,
                })?,
        };
        if user.org_id != settings.org_id {
            return Err(Error::Unauthorized);
        }
        return Ok(Authenticated {
            user_id: user.user_id,
            org_id: user.org_id,
            sid: None,
        });
    }
    Err(Error::Unauthorized)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    async fn state(dir: &std::path::Path) -> AppState {
        let settings = Settings::for_data_dir(dir);
        let store = Store::connect(&settings).await.unwrap();
        AppState::new(settings, store).await.unwrap()
    }

    fn kid(token: &str) -> String {
        jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
    }

    #[tokio::test]
    async fn tokens_signed_before_a_key_rotation_keep_working_and_new_ones_use_the_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let before = issue_access_token(&state, "u1", "o1", 60).unwrap();
        let new_kid = state.tokens().rotate(state.store()).await.unwrap();
        assert_ne!(kid(&before), new_kid);
        assert_eq!(verify_access_token(&state, &before).unwrap().sub, "u1");
        let after = issue_access_token(&state, "u1", "o1", 60).unwrap();
        assert_eq!(kid(&after), new_kid);
        assert_eq!(verify_access_token(&state, &after).unwrap().org, "o1");
    }

    #[tokio::test]
    async fn keys_survive_a_restart_and_are_sealed_in_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let token = {
            let state = state(dir.path()).await;
            issue_access_token(&state, "u1", "o1", 60).unwrap()
        };
        let state = state(dir.path()).await;
        assert_eq!(verify_access_token(&state, &token).unwrap().sub, "u1");
        let sealed = crate::store::signin::sealed_signing_keys(state.store())
            .await
            .unwrap();
        assert!(!sealed.is_empty() && sealed.iter().all(|s| s.starts_with("v1:")));
        // With another master key the stored signing keys cannot be opened.
        let other = tempfile::tempdir().unwrap();
        let settings = Settings::for_data_dir(other.path());
        assert!(
            TokenKeys::load_or_create(state.store(), &settings)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_token_of_a_foreign_issuer_without_sso_settings_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let forged = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &serde_json::json!({"iss": "https://idp.example", "sub": "u", "exp": 9_999_999_999_i64}),
            &jsonwebtoken::EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(matches!(
            authenticate(&state, &forged).await,
            Err(Error::Unauthorized)
        ));
        assert!(matches!(
            authenticate(&state, "garbage").await,
            Err(Error::Unauthorized)
        ));
    }
}
