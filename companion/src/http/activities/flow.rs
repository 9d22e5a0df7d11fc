//! `POST /api/v1/activities/{id}/transitions` and `POST /api/v1/activities/{id}/send`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use pecdesk_core::activity::Status;
use serde::Deserialize;

use crate::auth::Principal;
use crate::domain::activities::ActivityResponse;
use crate::domain::activities::flow::{self, Move, Via};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/activities/{id}/transitions",
            post(transition_activity),
        )
        .route("/api/v1/activities/{id}/send", post(send_draft))
}

/// Body of a transition.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// Target status: `open`, `in_progress`, `awaiting_approval`, `approved`,
    /// `changes_requested`, `done`, `cancelled`.
    #[schema(value_type = String)]
    pub to: Status,
    /// The version the caller last saw.
    pub version: i64,
}

/// Moves the activity along its flow (409 when the flow forbids it or `version` is stale).
#[utoipa::path(post, path = "/api/v1/activities/{id}/transitions", tag = "activities", request_body = TransitionRequest,
    responses((status = 200, body = ActivityResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn transition_activity(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<TransitionRequest>,
) -> Result<Json<ActivityResponse>> {
    let person = grants::person(state.store(), &who).await?;
    let mv = Move {
        via: Via::Transition(req.to),
        version: Some(req.version),
        note: None,
    };
    Ok(Json(
        flow::move_to(state.store(), &who, &person, &id, mv).await?,
    ))
}

/// Optional version check for the approval and send endpoints.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionRequest {
    /// The version the caller last saw (checked when given).
    pub version: Option<i64>,
}

/// Sends the draft (approval flow: only the approved version) and closes the activity.
#[utoipa::path(post, path = "/api/v1/activities/{id}/send", tag = "approval", request_body = VersionRequest,
    responses((status = 200, body = ActivityResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn send_draft(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<VersionRequest>,
) -> Result<Json<ActivityResponse>> {
    let person = grants::person(state.store(), &who).await?;
    let mv = Move {
        via: Via::Send,
        version: req.version,
        note: None,
    };
    Ok(Json(
        flow::move_to(state.store(), &who, &person, &id, mv).await?,
    ))
}
