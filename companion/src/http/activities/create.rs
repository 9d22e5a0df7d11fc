//! `POST /api/v1/activities` and `POST /api/v1/activities/bulk`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Serialize;

use crate::auth::Principal;
use crate::domain::activities::ActivityResponse;
use crate::domain::activities::create::{self, CreateActivityRequest};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module (the list shares the first path, see [`super::list`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/activities", post(create_activity))
        .route("/api/v1/activities/bulk", post(create_activities_bulk))
}

/// Creates an activity from messages of one mailbox, or ex novo (managers).
#[utoipa::path(post, path = "/api/v1/activities", tag = "activities", request_body = CreateActivityRequest,
    responses((status = 201, body = ActivityResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn create_activity(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<CreateActivityRequest>,
) -> Result<(StatusCode, Json<ActivityResponse>)> {
    let person = grants::person(state.store(), &who).await?;
    let created = create::create(state.store(), &who, &person, &req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Ids created by a bulk request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkResponse {
    /// One activity per message, in the order of `message_ids`.
    pub activity_ids: Vec<String>,
}

/// Creates one activity per message, all or none (managers).
#[utoipa::path(post, path = "/api/v1/activities/bulk", tag = "activities", request_body = CreateActivityRequest,
    responses((status = 201, body = BulkResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn create_activities_bulk(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<CreateActivityRequest>,
) -> Result<(StatusCode, Json<BulkResponse>)> {
    let person = grants::person(state.store(), &who).await?;
    let ids = create::create_bulk(state.store(), &who, &person, &req).await?;
    Ok((
        StatusCode::CREATED,
        Json(BulkResponse { activity_ids: ids }),
    ))
}
