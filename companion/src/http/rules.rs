//! Routing endpoints: the organisation's rules (list, create, read, edit, delete, preview:
//! administrators every rule, a mailbox's Responsabile the rules confined to the mailboxes
//! they lead; reorder: administrators) and routing a message of the dispatcher queue by hand
//! (Smistatore). The queue itself is `GET /api/v1/messages?queue=dispatch`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use pecdesk_core::rules::RuleSpec;

use crate::auth::Principal;
use crate::domain::messages::{self, MessageResponse};
use crate::domain::routing::{self, RouteRequest};
use crate::domain::rules::{
    self, PreviewRequest, PreviewResponse, ReorderRequest, RulePatch, RuleResponse,
};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rules", get(list_rules).post(create_rule))
        .route("/api/v1/rules/reorder", post(reorder_rules))
        .route("/api/v1/rules/preview", post(preview_rule))
        .route(
            "/api/v1/rules/{id}",
            get(get_rule).patch(update_rule).delete(delete_rule),
        )
        .route("/api/v1/messages/{id}/route", post(route_message))
}

/// The organisation's routing rules the caller may read, in their order, each with
/// `confined_to` and `editable` (administrators: all; a Responsabile: those that may match
/// in a mailbox they hold a policy on).
#[utoipa::path(get, path = "/api/v1/rules", tag = "rules",
    responses((status = 200, body = [RuleResponse]), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope)))]
pub async fn list_rules(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<RuleResponse>>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(rules::list(state.store(), &who, &person).await?))
}

/// Creates a rule, last in the order (administrators; a Responsabile a rule confined to
/// mailboxes they lead). The body is the rule's JSON
/// (`{name, enabled?, stop?, conditions[], actions{}}`, see docs/API.md).
#[utoipa::path(post, path = "/api/v1/rules", tag = "rules", request_body = Object,
    responses((status = 201, body = RuleResponse), (status = 403, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn create_rule(
    State(state): State<AppState>,
    who: Principal,
    Json(spec): Json<RuleSpec>,
) -> Result<(StatusCode, Json<RuleResponse>)> {
    let person = grants::person(state.store(), &who).await?;
    let r = rules::create_as(state.store(), &who, &person, &spec).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// One rule (404 when missing, of another organisation, or not visible to the caller).
#[utoipa::path(get, path = "/api/v1/rules/{id}", tag = "rules",
    responses((status = 200, body = RuleResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn get_rule(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<RuleResponse>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(rules::get(state.store(), &who, &person, &id).await?))
}

/// Edits a rule: the fields given replace the stored ones (403 when the rule, as stored or
/// as edited, is not confined to mailboxes a non-administrator leads).
#[utoipa::path(patch, path = "/api/v1/rules/{id}", tag = "rules", request_body = RulePatch,
    responses((status = 200, body = RuleResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn update_rule(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(patch): Json<RulePatch>,
) -> Result<Json<RuleResponse>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        rules::update(state.store(), &who, &person, &id, &patch).await?,
    ))
}

/// Deletes a rule (audited; the messages it routed keep naming it).
#[utoipa::path(delete, path = "/api/v1/rules/{id}", tag = "rules",
    responses((status = 204), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn delete_rule(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let person = grants::person(state.store(), &who).await?;
    rules::delete_as(state.store(), &who, &person, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Puts the rules in a new order: `ids` lists every rule once (administrators).
#[utoipa::path(post, path = "/api/v1/rules/reorder", tag = "rules", request_body = ReorderRequest,
    responses((status = 200, body = [RuleResponse]), (status = 403, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn reorder_rules(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<ReorderRequest>,
) -> Result<Json<Vec<RuleResponse>>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        rules::reorder(state.store(), &who, &person, &req).await?,
    ))
}

/// The messages of the last `days` days (readable by the caller) the rule would have
/// matched, with why.
#[utoipa::path(post, path = "/api/v1/rules/preview", tag = "rules", request_body = PreviewRequest,
    responses((status = 200, body = PreviewResponse), (status = 403, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn preview_rule(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<PreviewRequest>,
) -> Result<Json<PreviewResponse>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        rules::preview(state.store(), &who, &person, &req).await?,
    ))
}

/// Routes a message by hand (Smistatore, `MAIL_ACTIVITY_MANAGER`): to a team or a user,
/// optionally creating an activity; 409 when already routed unless `reroute` by a
/// manager. Answers with the message's detail.
#[utoipa::path(post, path = "/api/v1/messages/{id}/route", tag = "messages",
    request_body = RouteRequest,
    responses((status = 200, body = MessageResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn route_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<RouteRequest>,
) -> Result<Json<MessageResponse>> {
    let person = grants::person(state.store(), &who).await?;
    routing::route_by_hand(state.store(), &who, &person, &id, &req).await?;
    let row = messages::load_readable(state.store(), &who, &person, &id).await?;
    let mut r = row.into_response();
    let (routing, protocol) = routing::view(state.store(), &id).await?;
    r.routing = routing;
    r.protocol = protocol;
    Ok(Json(r))
}
