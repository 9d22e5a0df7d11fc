//! Rotating refresh tokens.
//!
//! A refresh token is 32 random bytes (base64url, prefix `pdr_`) handed to the client once;
//! the database keeps only its SHA-256, so a database dump does not yield usable tokens.
//! Tokens form *families*: the first one is issued at sign-in, every refresh marks the
//! presented token used and issues its successor in the same family. Presenting a token that
//! was already used means two parties hold it (one of them stole it): the whole family is
//! revoked and both must sign in again (OAuth 2.0 Security BCP, "refresh token rotation").
//! Logout revokes the family too. This module holds the pure parts; the SQL lives with the
//! store.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};

/// Prefix that makes a leaked PecDesk refresh token recognisable (e.g. by secret scanners).
pub const PREFIX: &str = "pdr_";

/// A newly minted refresh token: the value for the client and the hash for the database.
#[derive(Debug)]
pub struct NewRefreshToken {
    /// What the client receives; never stored, never logged.
    pub token: SecretString,
    /// Hex SHA-256 of `token`: the only thing the database holds.
    pub hash: String,
}

/// Mints a new random refresh token.
pub fn generate() -> NewRefreshToken {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", B64URL.encode(bytes));
    let hash = hash(&token);
    NewRefreshToken {
        token: SecretString::from(token),
        hash,
    }
}

/// Hex SHA-256 of a presented token (what to look up). A plain hash is enough: the token
/// has 256 bits of entropy, so there is nothing to brute-force.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The stored state of one refresh token, as the store reads it.
#[derive(Debug, Clone)]
pub struct RefreshTokenState {
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Set when it was exchanged for a successor.
    pub used_at: Option<DateTime<Utc>>,
    /// Set when its family was revoked (logout, reuse, user disabled).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: mark it used, issue the successor in the same family.
    Rotate,
    /// Already used: a replay. Revoke the whole family, answer 401.
    Reused,
    /// Its family was revoked: 401.
    Revoked,
    /// Too old: 401.
    Expired,
}

/// Decides what a presented token's state allows at `now`. Revocation wins over reuse
/// (nothing left to revoke), reuse over expiry (a replayed old token still signals theft).
pub fn judge(state: &RefreshTokenState, now: DateTime<Utc>) -> Verdict {
    if state.revoked_at.is_some() {
        Verdict::Revoked
    } else if state.used_at.is_some() {
        Verdict::Reused
    } else if state.expires_at <= now {
        Verdict::Expired
    } else {
        Verdict::Rotate
    }
}

/// `true` when `token` looks like one of ours (cheap pre-check before a database lookup).
pub fn looks_like_refresh_token(token: &str) -> bool {
    token.len() == PREFIX.len() + 43 && token.starts_with(PREFIX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::Duration;
    use secrecy::ExposeSecret as _;

    #[test]
    fn generated_tokens_are_random_prefixed_and_stored_only_as_their_hash() {
        let a = generate();
        let b = generate();
        assert_ne!(a.token.expose_secret(), b.token.expose_secret());
        assert!(looks_like_refresh_token(a.token.expose_secret()));
        assert_eq!(a.hash, hash(a.token.expose_secret()));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.token.expose_secret()[4..]));
    }

    #[test]
    fn a_fresh_unused_token_rotates() {
        let now = Utc::now();
        let s = RefreshTokenState {
            expires_at: now + Duration::days(1),
            used_at: None,
            revoked_at: None,
        };
        assert_eq!(judge(&s, now), Verdict::Rotate);
    }

    #[test]
    fn a_used_token_presented_again_is_reuse_even_when_expired() {
        let now = Utc::now();
        let s = RefreshTokenState {
            expires_at: now - Duration::days(1),
            used_at: Some(now - Duration::days(2)),
            revoked_at: None,
        };
        assert_eq!(judge(&s, now), Verdict::Reused);
    }

    #[test]
    fn revoked_and_expired_tokens_are_refused() {
        let now = Utc::now();
        let revoked = RefreshTokenState {
            expires_at: now + Duration::days(1),
            used_at: Some(now),
            revoked_at: Some(now),
        };
        assert_eq!(judge(&revoked, now), Verdict::Revoked);
        let expired = RefreshTokenState {
            expires_at: now,
            used_at: None,
            revoked_at: None,
        };
        assert_eq!(judge(&expired, now), Verdict::Expired);
    }
}
