//! Companion-issued short-lived access tokens (HS256 JWTs).
//!
//! The signing key is generated once by the companion and kept in the database
//! (`server_keys`), so every replica sharing a PostgreSQL database accepts the same tokens.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::state::AppState;
use crate::store::{Store, now_ms};
use crate::with_pool;

/// Issuer and audience of companion tokens.
pub const ISSUER: &str = "pecdesk-companion";
/// Audience of companion access tokens.
pub const AUDIENCE: &str = "pecdesk-api";

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
}

/// The signing and verification keys.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Reads the key from `server_keys`, creating it on first start (race-safe:
    /// `ON CONFLICT DO NOTHING`, then read back whichever won).
    pub async fn load_or_create(store: &Store) -> anyhow::Result<Self> {
        let mut bytes = [0_u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let candidate = hex::encode(bytes);
        let secret: String = with_pool!(store, |p| {
            sqlx::query(
                "INSERT INTO server_keys (name, secret, created_at) VALUES ('access_token_hs256', $1, $2) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(&candidate)
            .bind(now_ms())
            .execute(p)
            .await?;
            sqlx::query_scalar("SELECT secret FROM server_keys WHERE name = 'access_token_hs256'")
                .fetch_one(p)
                .await?
        });
        Ok(Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        })
    }
}

/// Issues an access token for a user of an organisation, valid for `ttl_secs`.
pub fn issue_access_token(
    state: &AppState,
    user_id: &str,
    org_id: &str,
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
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &state.tokens().encoding,
    )
    .map_err(|e| Error::Internal(e.into()))
}

/// Verifies signature, issuer, audience and expiry; anything wrong → 401.
pub fn verify_access_token(state: &AppState, token: &str) -> Result<AccessClaims, Error> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.leeway = 5;
    jsonwebtoken::decode::<AccessClaims>(token, &state.tokens().decoding, &v)
        .map(|d| d.claims)
        .map_err(|_| Error::Unauthorized)
}
