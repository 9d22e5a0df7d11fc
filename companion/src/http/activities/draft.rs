//! `PUT /api/v1/activities/{id}/draft`: the reply draft.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::put;

use crate::auth::Principal;
use crate::domain::activities::DraftRequest;
use crate::domain::activities::draft::{self, DraftWritten};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/activities/{id}/draft", put(put_draft))
}

/// Writes the reply draft; voids any approval; answers with the activity's new version.
#[utoipa::path(put, path = "/api/v1/activities/{id}/draft", tag = "approval", request_body = DraftRequest,
    responses((status = 200, body = DraftWritten), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn put_draft(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<DraftRequest>,
) -> Result<Json<DraftWritten>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        draft::put_draft(state.store(), &who, &person, &id, &req).await?,
    ))
}
