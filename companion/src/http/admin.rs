//! Administration routes of an organisation's admins: mailboxes with their IMAP and SMTP
//! settings, teams and members, users (create, disable, enable: never delete), grants. Every route asks the core for
//! `Operation::Administer` first (403 `admin_only` otherwise), then looks the ids up in the
//! caller's organisation (404 for anything else).
//!
//! Passwords arrive in request bodies only; the request log records method and path (see
//! `build_app`), never bodies, and no answer carries a password (only `password_set`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use pecdesk_core::authz::Operation;
use serde::Deserialize;

use crate::auth::Principal;
use crate::authz::authorize;
use crate::domain::admin::{
    self, Actor, CreateGrantRequest, CreateMailboxRequest, CreateTeamRequest, GrantView,
    GrantsResponse, MailboxAdminView, PatchMailboxRequest, PatchTeamRequest, TeamAdminView,
};
use crate::domain::users::{
    self as admin_users, CreateUserRequest, PatchUserRequest, UserAdminView,
};
use crate::error::{Error, ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::limits;
use crate::state::AppState;
use crate::store::admin::GrantFilter;
use crate::store::{grants, users};

/// Routes of this module (`GET /api/v1/mailboxes` stays in `me`, `GET /api/v1/teams` in
/// `directory`: the methods merge on the same paths).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/mailboxes", post(create_mailbox))
        .route(
            "/api/v1/mailboxes/{id}",
            get(get_mailbox).patch(update_mailbox),
        )
        .route("/api/v1/teams", post(create_team))
        .route("/api/v1/teams/{id}", patch(update_team))
        .route(
            "/api/v1/teams/{id}/members/{user_id}",
            put(add_member).delete(remove_member),
        )
        .route("/api/v1/users", post(create_user))
        .route("/api/v1/users/{id}", patch(update_user))
        .route("/api/v1/grants", get(list_grants).post(create_grant))
        .route("/api/v1/grants/{id}", delete(revoke_grant))
}

/// The caller as the acting administrator, or 403 `admin_only`.
fn administrator(who: &Principal) -> Result<Actor<'_>> {
    authorize(&grants::principal_only(who), Operation::Administer)?;
    Ok(Actor {
        org_id: &who.org_id,
        user_id: Some(&who.user_id),
    })
}

/// Creates a mailbox with its IMAP and SMTP settings (passwords sealed at rest).
#[utoipa::path(post, path = "/api/v1/mailboxes", tag = "admin", request_body = CreateMailboxRequest,
    security(("bearer" = [])),
    responses((status = 201, body = MailboxAdminView), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn create_mailbox(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<CreateMailboxRequest>,
) -> Result<Response> {
    let actor = administrator(&who)?;
    let view = admin::create_mailbox(state.store(), state.tokens().master(), actor, req).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// A mailbox's settings (no password: `password_set` only), health, quota and app-password
/// expiry.
#[utoipa::path(get, path = "/api/v1/mailboxes/{id}", tag = "admin",
    params(("id" = String, Path, description = "mailbox id")), security(("bearer" = [])),
    responses((status = 200, body = MailboxAdminView), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn get_mailbox(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<MailboxAdminView>> {
    let actor = administrator(&who)?;
    limits::ids(&[("id", Some(&id))])?;
    Ok(Json(
        admin::get_mailbox(state.store(), actor.org_id, &id).await?,
    ))
}

/// Changes the fields present; an absent password keeps the stored one.
#[utoipa::path(patch, path = "/api/v1/mailboxes/{id}", tag = "admin",
    params(("id" = String, Path, description = "mailbox id")), request_body = PatchMailboxRequest,
    security(("bearer" = [])),
    responses((status = 200, body = MailboxAdminView), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn update_mailbox(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<PatchMailboxRequest>,
) -> Result<Json<MailboxAdminView>> {
    let actor = administrator(&who)?;
    limits::ids(&[("id", Some(&id))])?;
    Ok(Json(
        admin::update_mailbox(state.store(), state.tokens().master(), actor, &id, req).await?,
    ))
}

/// Creates a user of the organisation (enabled; 409 when the address is taken).
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = CreateUserRequest,
    security(("bearer" = [])),
    responses((status = 201, body = UserAdminView), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn create_user(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<CreateUserRequest>,
) -> Result<Response> {
    let actor = administrator(&who)?;
    let view = admin_users::create_user(state.store(), actor, req).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Renames a user, makes or unmakes them administrator, disables them (no access at all,
/// at once) or enables them again. Users are never deleted.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "user id")), request_body = PatchUserRequest,
    security(("bearer" = [])),
    responses((status = 200, body = UserAdminView), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn update_user(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<PatchUserRequest>,
) -> Result<Json<UserAdminView>> {
    let actor = administrator(&who)?;
    limits::ids(&[("id", Some(&id))])?;
    Ok(Json(
        admin_users::update_user(state.store(), actor, &id, req).await?,
    ))
}

/// Creates a team.
#[utoipa::path(post, path = "/api/v1/teams", tag = "admin", request_body = CreateTeamRequest,
    security(("bearer" = [])),
    responses((status = 201, body = TeamAdminView), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn create_team(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<CreateTeamRequest>,
) -> Result<Response> {
    let actor = administrator(&who)?;
    let team = admin::create_team(state.store(), actor, req).await?;
    Ok((StatusCode::CREATED, Json(team)).into_response())
}

/// Renames a team or changes whether it is external.
#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "admin",
    params(("id" = String, Path, description = "team id")), request_body = PatchTeamRequest,
    security(("bearer" = [])),
    responses((status = 200, body = TeamAdminView), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn update_team(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<PatchTeamRequest>,
) -> Result<Json<TeamAdminView>> {
    let actor = administrator(&who)?;
    limits::ids(&[("id", Some(&id))])?;
    Ok(Json(
        admin::update_team(state.store(), actor, &id, req).await?,
    ))
}

async fn member(
    state: &AppState,
    who: &Principal,
    team: &str,
    user: &str,
    add: bool,
) -> Result<StatusCode> {
    let actor = administrator(who)?;
    limits::ids(&[
        ("id", Some(&team.to_owned())),
        ("user_id", Some(&user.to_owned())),
    ])?;
    admin::set_member(state.store(), actor, team, user, add).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a user to a team (idempotent).
#[utoipa::path(put, path = "/api/v1/teams/{id}/members/{user_id}", tag = "admin",
    params(("id" = String, Path, description = "team id"),
           ("user_id" = String, Path, description = "user id")),
    security(("bearer" = [])),
    responses((status = 204, description = "the user is a member"),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn add_member(
    State(state): State<AppState>,
    who: Principal,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    member(&state, &who, &id, &user_id, true).await
}

/// Removes a user from a team (idempotent).
#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}", tag = "admin",
    params(("id" = String, Path, description = "team id"),
           ("user_id" = String, Path, description = "user id")),
    security(("bearer" = [])),
    responses((status = 204, description = "the user is not a member"),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn remove_member(
    State(state): State<AppState>,
    who: Principal,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    member(&state, &who, &id, &user_id, false).await
}

/// Filters of `GET /api/v1/grants`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct GrantQuery {
    /// Only grants on this mailbox.
    pub mailbox: Option<String>,
    /// Only grants to this user (own grants, not their teams').
    pub user: Option<String>,
    /// Only grants to this team.
    pub team: Option<String>,
}

/// The organisation's grants, by mailbox, holder and policy.
#[utoipa::path(get, path = "/api/v1/grants", tag = "admin", params(GrantQuery),
    security(("bearer" = [])),
    responses((status = 200, body = [GrantView]), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn list_grants(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<GrantQuery>,
) -> Result<Json<Vec<GrantView>>> {
    let actor = administrator(&who)?;
    limits::ids(&[
        ("mailbox", q.mailbox.as_ref()),
        ("user", q.user.as_ref()),
        ("team", q.team.as_ref()),
    ])?;
    // Another organisation's mailbox as a filter is missing, as in the directory.
    if let Some(mb) = &q.mailbox
        && !users::mailbox_in_org(state.store(), actor.org_id, mb).await?
    {
        return Err(Error::NotFound);
    }
    let filter = GrantFilter {
        org_id: actor.org_id,
        mailbox_id: q.mailbox.as_deref(),
        user_id: q.user.as_deref(),
        team_id: q.team.as_deref(),
    };
    Ok(Json(admin::list_grants(state.store(), &filter).await?))
}

/// Grants a policy, or a role's policies, on a mailbox to a user or a team (201 when
/// anything was new, 200 when every policy was already held).
#[utoipa::path(post, path = "/api/v1/grants", tag = "admin", request_body = CreateGrantRequest,
    security(("bearer" = [])),
    responses((status = 201, body = GrantsResponse), (status = 200, body = GrantsResponse),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn create_grant(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<CreateGrantRequest>,
) -> Result<Response> {
    let actor = administrator(&who)?;
    let r = admin::add_grant(state.store(), actor, req).await?;
    let status = if r.created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(r)).into_response())
}

/// Revokes a grant (access removed; no message is deleted); audited.
#[utoipa::path(delete, path = "/api/v1/grants/{id}", tag = "admin",
    params(("id" = String, Path, description = "grant id")), security(("bearer" = [])),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn revoke_grant(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let actor = administrator(&who)?;
    limits::ids(&[("id", Some(&id))])?;
    admin::revoke_grant(state.store(), actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
