//! SSO routes: OpenID Connect sign-in (code + PKCE), token refresh, logout, and the
//! organisation administrator's IdP settings.
//!
//! ```text
//! GET  /api/v1/auth/login?org=&client=desk|thunderbird&redirect_uri=[&login_hint=]  → 303 to the IdP
//! GET  /api/v1/auth/callback?code=&state=[&iss=]                                    → TokenResponse
//! POST /api/v1/auth/refresh {refresh_token}                                          → TokenResponse
//! POST /api/v1/auth/logout  {refresh_token?} (and/or Authorization: Bearer)          → 204
//! GET|PUT /api/v1/auth/idp                                                           org admin
//! GET  /api/v1/auth/options?org=                                                     anyone: how to sign in
//! ```
//! The `redirect_uri` must be registered for the organisation and client: the IdP sends the
//! code there. The desk registers the companion's own callback; the Thunderbird extension
//! registers its `identity.getRedirectURL()` and hands the `code` and `state` it receives to
//! the callback. Either way the PKCE verifier and nonce never leave the companion.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::Principal;
use super::oidc;
use super::signin::{
    self as auth_store, CLIENTS, IdpDocument, IdpSummary, RefreshOutcome, SignedInUser,
};
use super::tokens;
use crate::error::{Error, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::audit::Action;

/// Pending sign-ins expire after 10 minutes.
const AUTH_SESSION_TTL_MS: i64 = 10 * 60 * 1000;
/// Refresh tokens live 30 days (each rotation starts a new 30 days).
const REFRESH_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// OpenAPI description of the SSO routes (merged into `/api/openapi.json`).
#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(login, callback, refresh, logout, get_idp, put_idp, options),
    components(schemas(
        TokenResponse,
        RefreshRequest,
        IdpDocument,
        IdpSummary,
        SignInOptions,
        EntraOptions
    ))
)]
pub struct SsoApiDoc;

/// Routes of SSO.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", get(login))
        .route("/api/v1/auth/callback", get(callback))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/idp", get(get_idp).put(put_idp))
        .route("/api/v1/auth/options", get(options))
}

/// Query of `GET /api/v1/auth/options`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OptionsQuery {
    /// Organisation id or name.
    pub org: String,
}

/// How the add-ins sign a user of an organisation in (public: what a sign-in redirect
/// reveals anyway, never a secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignInOptions {
    /// The organisation's id.
    pub org_id: String,
    /// The IdP's issuer.
    pub issuer: String,
    /// The companion's client id at the IdP.
    pub client_id: String,
    /// Set when the IdP is Microsoft Entra ID: Outlook's Nested App Authentication (MSAL.js)
    /// gets a token for the companion without a dialog.
    pub entra: Option<EntraOptions>,
}

/// MSAL.js settings for Nested App Authentication.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntraOptions {
    /// Application (client) id.
    pub client_id: String,
    /// `https://login.microsoftonline.com/{tenant}`.
    pub authority: String,
    /// Scopes to ask for: each accepted audience's `/.default`.
    pub scopes: Vec<String>,
}

/// The tenant of an Entra ID v2 issuer (`https://login.microsoftonline.com/{tenant}/v2.0`).
fn entra_tenant(issuer: &str) -> Option<&str> {
    let tenant = issuer
        .strip_prefix("https://login.microsoftonline.com/")?
        .strip_suffix("/v2.0")?;
    (!tenant.is_empty() && !tenant.contains('/')).then_some(tenant)
}

/// How to sign in to an organisation: its IdP, and MSAL settings when it is Entra ID.
#[utoipa::path(get, path = "/api/v1/auth/options", tag = "auth", params(OptionsQuery),
    responses((status = 200, body = SignInOptions), (status = 404, description = "no such organisation or no SSO")))]
pub async fn options(
    State(state): State<AppState>,
    Query(q): Query<OptionsQuery>,
) -> Result<Json<SignInOptions>> {
    let org_id = crate::store::users::find_org(state.store(), &q.org)
        .await?
        .ok_or(Error::NotFound)?;
    let settings =
        auth_store::idp_settings_for_org(state.store(), state.tokens().master(), &org_id)
            .await?
            .ok_or(Error::NotFound)?;
    let entra = entra_tenant(&settings.issuer).map(|tenant| EntraOptions {
        client_id: settings.client_id.clone(),
        authority: format!("https://login.microsoftonline.com/{tenant}"),
        scopes: settings
            .bearer_audiences()
            .into_iter()
            .map(|aud| format!("{aud}/.default"))
            .collect(),
    });
    Ok(Json(SignInOptions {
        org_id,
        issuer: settings.issuer.clone(),
        client_id: settings.client_id.clone(),
        entra,
    }))
}

/// Query of `GET /api/v1/auth/login`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LoginQuery {
    /// Organisation id or name.
    pub org: String,
    /// `desk`, `thunderbird` or `outlook`.
    pub client: String,
    /// Where the IdP sends the code; must be registered for the organisation and client.
    pub redirect_uri: String,
    /// Optional e-mail to pre-fill at the IdP.
    pub login_hint: Option<String>,
}

/// Query of `GET /api/v1/auth/callback` (what the IdP appends to the redirect URI).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    /// Authorization code.
    pub code: Option<String>,
    /// The `state` of the sign-in.
    pub state: Option<String>,
    /// Issuer (RFC 9207), checked when present.
    pub iss: Option<String>,
    /// Error code from the IdP.
    pub error: Option<String>,
}

/// Tokens after sign-in or refresh.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// Companion access token (`Authorization: Bearer`).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// One-use refresh token (rotates at every refresh).
    pub refresh_token: String,
}

/// Body of refresh and logout.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token.
    #[schema(value_type = String)]
    pub refresh_token: Option<SecretString>,
}

fn token_response(
    state: &AppState,
    user_id: &str,
    org_id: &str,
    sid: &str,
    refresh: &SecretString,
) -> Result<TokenResponse> {
    let ttl = state.settings().access_token_ttl_secs;
    Ok(TokenResponse {
        access_token: tokens::issue_session_token(state, user_id, org_id, Some(sid), ttl)?,
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token: refresh.expose_secret().to_owned(),
    })
}

fn provider_unavailable(e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("identity provider: {e}"))
}

/// Starts an SSO sign-in: redirects to the organisation's IdP.
#[utoipa::path(get, path = "/api/v1/auth/login", tag = "auth", params(LoginQuery),
    responses((status = 303, description = "to the identity provider"), (status = 404, description = "no such organisation or no SSO"),
              (status = 422, description = "unknown client or unregistered redirect URI")))]
pub async fn login(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Result<Redirect> {
    if !CLIENTS.contains(&q.client.as_str()) {
        return Err(Error::invalid(
            "client sconosciuto / unknown client (desk, thunderbird, outlook)",
        ));
    }
    let keys = state.tokens();
    let org_id = crate::store::users::find_org(state.store(), &q.org)
        .await?
        .ok_or(Error::NotFound)?;
    let settings = auth_store::idp_settings_for_org(state.store(), keys.master(), &org_id)
        .await?
        .ok_or(Error::NotFound)?;
    // Never send a code to a URI the organisation did not register for this client.
    if !auth_store::redirect_uri_registered(state.store(), &org_id, &q.client, &q.redirect_uri)
        .await?
    {
        return Err(Error::invalid(
            "redirect_uri non registrato / redirect_uri not registered",
        ));
    }
    let discovered = keys
        .idp()
        .get(&settings.issuer)
        .await
        .map_err(provider_unavailable)?;
    let start = oidc::begin(
        &discovered,
        &settings,
        &q.redirect_uri,
        q.login_hint.as_deref(),
    )
    .map_err(provider_unavailable)?;
    auth_store::save_auth_session(
        state.store(),
        keys.master(),
        &start.state,
        &org_id,
        &q.client,
        &q.redirect_uri,
        &start.nonce,
        &start.pkce_verifier,
        AUTH_SESSION_TTL_MS,
    )
    .await?;
    tracing::info!(org.id = %org_id, client = %q.client, "sso sign-in started");
    Ok(Redirect::to(&start.url))
}

/// Completes an SSO sign-in: code exchange, ID-token checks, provisioning, tokens.
#[utoipa::path(get, path = "/api/v1/auth/callback", tag = "auth", params(CallbackQuery),
    responses((status = 200, body = TokenResponse),
              (status = 303, description = "the desk's browser (client `desk`, `Accept: text/html`): to `/#signed-in&access_token=..&refresh_token=..&expires_in=..`, or `/#signin-failed=STATUS`"),
              (status = 401, description = "unknown state, refused code or ID token"),
              (status = 403, description = "e-mail domain not allowed, user disabled or of another organisation")))]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response> {
    let page = wants_html(&headers);
    match finish_sign_in(&state, &q).await {
        Ok((client, tokens)) if page && client == "desk" => Ok(desk_redirect(&tokens)),
        Ok((_, tokens)) => Ok(Json(tokens).into_response()),
        // The desk's browser landed here: back to the desk, which says what went wrong.
        Err(e) if page => Ok(desk_failed(e)),
        Err(e) => Err(e),
    }
}

/// A browser navigating (the desk's sign-in), not a script asking for JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// Back to the desk with the tokens in the URL's fragment, which the browser never sends
/// to a server (so they reach no log and no `Referer`); the desk reads and removes it.
fn desk_redirect(t: &TokenResponse) -> Response {
    let fragment = format!(
        "/#signed-in&access_token={}&refresh_token={}&expires_in={}",
        urlencoding_component(&t.access_token),
        urlencoding_component(&t.refresh_token),
        t.expires_in
    );
    no_store(Redirect::to(&fragment).into_response())
}

/// Back to the desk saying why the sign-in failed (the status only, never a detail).
fn desk_failed(e: Error) -> Response {
    // The envelope is not sent, but building it logs a server error as every answer does.
    let status = e.into_response().status().as_u16();
    no_store(Redirect::to(&format!("/#signin-failed={status}")).into_response())
}

fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    h.insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// Tokens are base64url and hex, but escape anything else a fragment parameter would split on.
fn urlencoding_component(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | '~' => c.to_string(),
            other => {
                let mut buf = [0u8; 4];
                other
                    .encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

/// The sign-in behind the callback: the client that started it and its tokens.
async fn finish_sign_in(state: &AppState, q: &CallbackQuery) -> Result<(String, TokenResponse)> {
    let keys = state.tokens();
    let state_param = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(Error::Unauthorized)?;
    // One use: the pending sign-in is deleted whatever happens next.
    let (session, verifier) =
        auth_store::take_auth_session(state.store(), keys.master(), state_param)
            .await?
            .ok_or(Error::Unauthorized)?;
    if let Some(error) = &q.error {
        tracing::info!(org.id = %session.org_id, idp.error = %error, "identity provider refused the sign-in");
        return Err(Error::Unauthorized);
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or(Error::Unauthorized)?;
    let settings = auth_store::idp_settings_for_org(state.store(), keys.master(), &session.org_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    // RFC 9207: a response carrying another issuer is a mix-up attempt.
    if q.iss.as_deref().is_some_and(|iss| iss != settings.issuer) {
        return Err(Error::Unauthorized);
    }
    let claims = oidc::finish(
        keys.idp(),
        &settings,
        &session.redirect_uri,
        code,
        &verifier,
        &session.nonce,
    )
    .await
    .map_err(|e| match e {
        oidc::OidcError::Provider(_) => provider_unavailable(e),
        other => {
            tracing::info!(org.id = %session.org_id, reason = %other, "sso sign-in refused");
            Error::Unauthorized
        }
    })?;
    let identity = settings.map_claims(&claims).map_err(|e| {
        tracing::info!(org.id = %session.org_id, reason = %e, "sso claims refused");
        match e {
            super::idp::ClaimsError::DomainNotAllowed => {
                Error::forbidden("dominio e-mail non ammesso / e-mail domain not allowed")
            }
            _ => Error::Unauthorized,
        }
    })?;
    let user: SignedInUser = auth_store::provision(state.store(), &settings, &identity).await?;
    if user.disabled {
        return Err(Error::forbidden("utente disattivato / user disabled"));
    }
    let family =
        auth_store::start_family(state.store(), &user, &session.client, REFRESH_TTL_MS).await?;
    tracing::info!(org.id = %user.org_id, user.id = %user.user_id, session.id = %family.family_id, "sso sign-in");
    let tokens = token_response(
        state,
        &user.user_id,
        &user.org_id,
        &family.family_id,
        &family.token,
    )?;
    Ok((session.client, tokens))
}

/// Exchanges a refresh token for a new access token and its successor.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "unknown, expired, revoked or replayed refresh token")))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>> {
    let presented = req.refresh_token.ok_or(Error::Unauthorized)?;
    match auth_store::rotate_refresh(state.store(), presented.expose_secret(), REFRESH_TTL_MS)
        .await?
    {
        RefreshOutcome::Rotated {
            refresh,
            user_id,
            org_id,
        } => Ok(Json(token_response(
            &state,
            &user_id,
            &org_id,
            &refresh.family_id,
            &refresh.token,
        )?)),
        RefreshOutcome::Refused => Err(Error::Unauthorized),
    }
}

/// Ends a sign-in: revokes the token family of the refresh token and/or of the bearer token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "revoked"), (status = 401, description = "nothing to log out")))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let mut revoked = false;
    // The body is optional (a bearer token alone may log out), so it is parsed by hand.
    let presented = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let req: RefreshRequest = serde_json::from_slice(&body)
            .map_err(|_| Error::BadRequest("JSON non valido / malformed JSON".into()))?;
        req.refresh_token
    };
    if let Some(presented) = presented
        && let Some((family, org, user)) =
            auth_store::family_of_refresh(state.store(), presented.expose_secret()).await?
    {
        auth_store::revoke_family(state.store(), &family, &org, &user, Action::AuthLogout).await?;
        revoked = true;
    }
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(token) = bearer
        && let Ok(auth) = tokens::authenticate(&state, token).await
        && let Some(sid) = auth.sid
    {
        auth_store::revoke_family(
            state.store(),
            &sid,
            &auth.org_id,
            &auth.user_id,
            Action::AuthLogout,
        )
        .await?;
        revoked = true;
    }
    if revoked {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::Unauthorized)
    }
}

fn require_admin(p: &Principal) -> Result<()> {
    if p.is_admin {
        Ok(())
    } else {
        Err(Error::forbidden(
            "solo amministratori / administrators only",
        ))
    }
}

/// The organisation's IdP settings (no secret).
#[utoipa::path(get, path = "/api/v1/auth/idp", tag = "auth",
    responses((status = 200, body = IdpSummary), (status = 403, description = "not an administrator"), (status = 404, description = "no SSO configured")))]
pub async fn get_idp(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<IdpSummary>> {
    require_admin(&principal)?;
    let summary =
        auth_store::idp_summary(state.store(), state.tokens().master(), &principal.org_id).await?;
    summary.map(Json).ok_or(Error::NotFound)
}

/// Sets the organisation's IdP settings (client secret sealed at rest).
#[utoipa::path(put, path = "/api/v1/auth/idp", tag = "auth", request_body = IdpDocument,
    responses((status = 204, description = "stored"), (status = 403, description = "not an administrator"), (status = 422, description = "invalid settings")))]
pub async fn put_idp(
    State(state): State<AppState>,
    principal: Principal,
    Json(doc): Json<IdpDocument>,
) -> Result<StatusCode> {
    require_admin(&principal)?;
    auth_store::put_idp_settings(
        state.store(),
        state.tokens().master(),
        &principal.org_id,
        Some(&principal.user_id),
        doc,
    )
    .await?;
    tracing::info!(org.id = %principal.org_id, user.id = %principal.user_id, "idp settings updated");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::entra_tenant;

    #[test]
    fn entra_is_recognised_by_its_v2_issuer_only() {
        assert_eq!(
            entra_tenant("https://login.microsoftonline.com/7c1d-42/v2.0"),
            Some("7c1d-42")
        );
        for other in [
            "https://login.microsoftonline.com/7c1d-42",
            "https://login.microsoftonline.com//v2.0",
            "https://login.microsoftonline.com.evil.test/x/v2.0",
            "https://idp.example/realms/acme",
        ] {
            assert_eq!(entra_tenant(other), None, "{other}");
        }
    }
}
