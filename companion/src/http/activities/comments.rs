//! `GET`/`POST /api/v1/activities/{id}/comments` and `PATCH /api/v1/comments/{id}`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};

use crate::auth::Principal;
use crate::domain::activities::comments::{self, CommentRequest, CommentView};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/activities/{id}/comments",
            get(list_comments).post(add_comment),
        )
        .route("/api/v1/comments/{id}", patch(edit_comment))
}

/// Comments of an activity, with edit history.
#[utoipa::path(get, path = "/api/v1/activities/{id}/comments", tag = "comments",
    responses((status = 200, body = [CommentView]), (status = 404, body = ErrorEnvelope)))]
pub async fn list_comments(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<CommentView>>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        comments::list_comments(state.store(), &who, &person, &id).await?,
    ))
}

/// Adds a comment.
#[utoipa::path(post, path = "/api/v1/activities/{id}/comments", tag = "comments", request_body = CommentRequest,
    responses((status = 201, body = CommentView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn add_comment(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<CommentRequest>,
) -> Result<(StatusCode, Json<CommentView>)> {
    let person = grants::person(state.store(), &who).await?;
    let c = comments::add_comment(state.store(), &who, &person, &id, &req.body).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Edits a comment (author only; history kept).
#[utoipa::path(patch, path = "/api/v1/comments/{id}", tag = "comments", request_body = CommentRequest,
    responses((status = 200, body = CommentView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn edit_comment(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<CommentRequest>,
) -> Result<Json<CommentView>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        comments::edit_comment(state.store(), &who, &person, &id, &req.body).await?,
    ))
}
