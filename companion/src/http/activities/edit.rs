//! `PATCH /api/v1/activities/{id}` (fields) and `POST /api/v1/activities/{id}/messages`
//! (link a message).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{patch, post};
use serde::Deserialize;

use crate::auth::Principal;
use crate::domain::activities::ActivityResponse;
use crate::domain::activities::edit::{self, PatchActivityRequest};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/activities/{id}", patch(update_activity))
        .route("/api/v1/activities/{id}/messages", post(link_message))
}

/// Edits assignee, team, due date, priority, title, approver... (managers; `version` required).
#[utoipa::path(patch, path = "/api/v1/activities/{id}", tag = "activities", request_body = PatchActivityRequest,
    responses((status = 200, body = ActivityResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn update_activity(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<PatchActivityRequest>,
) -> Result<Json<ActivityResponse>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        edit::patch(state.store(), &who, &person, &id, &req).await?,
    ))
}

/// Body of a message link.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub message_id: String,
}

/// Links a message of the same mailbox.
#[utoipa::path(post, path = "/api/v1/activities/{id}/messages", tag = "activities", request_body = LinkRequest,
    responses((status = 200, body = ActivityResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn link_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<LinkRequest>,
) -> Result<Json<ActivityResponse>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        edit::link_message(state.store(), &who, &person, &id, &req.message_id).await?,
    ))
}
