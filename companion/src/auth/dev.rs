//! Development sign-in: `POST /api/v1/auth/dev-login {"email"}` → `{"token"}`.
//!
//! Security invariant: answers only when demo or dev mode is on AND the TCP peer is a
//! loopback address; otherwise 403. It must never be reachable from another machine.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::routing::post;
use pecdesk_core::ids::EmailAddress;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::extract::Json;
use crate::state::AppState;

/// Body of dev login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevLoginRequest {
    /// Sign-in address of a seeded user.
    pub email: String,
}

/// A companion access token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// Bearer token for `Authorization`.
    pub token: String,
}

/// Routes of dev login.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/auth/dev-login", post(dev_login))
}

/// Whether a peer may use dev login (loopback only, IPv4-mapped IPv6 included).
pub fn is_loopback_peer(addr: &SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Signs in a seeded user by address, in demo/dev mode and from loopback only.
#[utoipa::path(post, path = "/api/v1/auth/dev-login", tag = "auth",
    request_body = DevLoginRequest,
    responses((status = 200, body = TokenResponse), (status = 403, description = "not demo/dev mode or not loopback"),
              (status = 404, description = "unknown user")))]
pub async fn dev_login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(req): Json<DevLoginRequest>,
) -> Result<Json<TokenResponse>> {
    if !state.settings().dev_login_enabled() {
        return Err(Error::forbidden(
            "accesso di sviluppo disattivato / dev login is disabled",
        ));
    }
    if !is_loopback_peer(&peer) {
        return Err(Error::forbidden(
            "accesso di sviluppo solo da loopback / dev login only from loopback",
        ));
    }
    let email = EmailAddress::parse(&req.email)?;
    let user = crate::store::users::user_by_email(state.store(), &email)
        .await?
        .ok_or(Error::NotFound)?;
    let (user_id, org_id) = (user.id, user.org_id);
    if user.disabled {
        return Err(Error::forbidden("utente disattivato / user disabled"));
    }
    let token = super::tokens::issue_access_token(
        &state,
        &user_id,
        &org_id,
        state.settings().access_token_ttl_secs,
    )?;
    tracing::info!(user.id = %user_id, "dev login");
    Ok(Json(TokenResponse { token }))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_may_use_dev_login() {
        assert!(is_loopback_peer(&"127.0.0.1:5000".parse().expect("addr")));
        assert!(is_loopback_peer(&"[::1]:5000".parse().expect("addr")));
        assert!(is_loopback_peer(
            &"[::ffff:127.0.0.1]:5000".parse().expect("addr")
        ));
        assert!(!is_loopback_peer(&"192.0.2.2:5000".parse().expect("addr")));
        assert!(!is_loopback_peer(
            &"[::ffff:10.0.0.1]:5000".parse().expect("addr")
        ));
    }
}
