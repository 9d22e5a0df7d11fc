//! `POST /api/v1/activities/{id}/approval-request` (ask the approver) and
//! `POST /api/v1/activities/{id}/approval` (the approver's decision).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use pecdesk_core::activity::Decision;
use serde::Deserialize;

use crate::auth::Principal;
use crate::domain::activities::{ActivityResponse, approval};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/activities/{id}/approval-request",
            post(request_approval),
        )
        .route("/api/v1/activities/{id}/approval", post(decide_approval))
}

/// Body of a request for approval.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestApprovalRequest {
    /// A note for the approver (shown in the activity's `approvals`).
    #[serde(default)]
    pub note: String,
    /// The version the caller last saw (checked when given).
    pub version: Option<i64>,
}

/// Asks the designated approver to approve the current draft.
#[utoipa::path(post, path = "/api/v1/activities/{id}/approval-request", tag = "approval", request_body = RequestApprovalRequest,
    responses((status = 200, body = ActivityResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn request_approval(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<RequestApprovalRequest>,
) -> Result<Json<ActivityResponse>> {
    crate::limits::text("note", &req.note, crate::limits::NOTE)?;
    let person = grants::person(state.store(), &who).await?;
    let answer = approval::request(state.store(), &who, &person, &id, &req.note, req.version);
    Ok(Json(answer.await?))
}

/// The approver's decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// `approve` or `request_changes`.
    #[schema(value_type = String)]
    pub decision: Decision,
    #[serde(default)]
    pub note: String,
    pub version: Option<i64>,
}

/// Approves the exact current draft version, or asks for changes (approver only).
#[utoipa::path(post, path = "/api/v1/activities/{id}/approval", tag = "approval", request_body = ApprovalRequest,
    responses((status = 200, body = ActivityResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn decide_approval(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<ApprovalRequest>,
) -> Result<Json<ActivityResponse>> {
    crate::limits::text("note", &req.note, crate::limits::NOTE)?;
    let person = grants::person(state.store(), &who).await?;
    let answer = approval::decide(
        state.store(),
        &who,
        &person,
        &id,
        req.decision,
        &req.note,
        req.version,
    )
    .await?;
    Ok(Json(answer))
}
