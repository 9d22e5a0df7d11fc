//! Sign-in: who is calling.
//!
//! [`Principal`] is the extractor every protected handler takes. It reads
//! `Authorization: Bearer`, verifies the token ([`tokens::authenticate`]: a companion token,
//! or a JWT access token of the organisation's IdP) and checks, at every request, that the
//! user still exists and is not disabled, and that the sign-in (`sid`) was not logged out —
//! a disabled user loses access at once, whatever tokens they hold. Anything else is 401.
//!
//! Corporate SSO (OpenID Connect) lives in [`sso`] (routes), [`oidc`] (relying party),
//! [`idp`] and [`idp_token`] (providers and their tokens), [`refresh`], [`keys`],
//! [`secrets`] and [`signin`] (its decisions; its tables are in [`crate::store::signin`]).

pub mod cli;
pub mod dev;
pub mod idp;
pub mod idp_token;
pub mod keys;
pub mod oidc;
pub mod refresh;
pub mod secrets;
pub mod signin;
pub mod sso;
pub mod tokens;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::Error;
use crate::state::AppState;

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User id.
    pub user_id: String,
    /// The user's organisation.
    pub org_id: String,
    /// Sign-in address (never logged).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Organisation administrator.
    pub is_admin: bool,
    /// May read the audit log.
    pub is_auditor: bool,
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Error::Unauthorized)?;
        let claims = tokens::authenticate(state, token).await?;
        let row = crate::store::users::user(state.store(), &claims.user_id).await?;
        match row {
            Some(u) if !u.disabled && u.org_id == claims.org_id => {
                if let Some(sid) = &claims.sid {
                    // Logged out (or refresh-token replay): the family's access tokens stop too.
                    if !crate::store::signin::family_active(state.store(), sid, &u.id).await? {
                        return Err(Error::Unauthorized);
                    }
                }
                Ok(Self {
                    user_id: u.id,
                    org_id: u.org_id,
                    email: u.email,
                    name: u.name,
                    is_admin: u.is_admin,
                    is_auditor: u.is_auditor,
                })
            }
            _ => Err(Error::Unauthorized),
        }
    }
}

/// Routes under `/api/v1/auth`.
pub fn router() -> Router<AppState> {
    Router::new().merge(dev::router()).merge(sso::router())
}
