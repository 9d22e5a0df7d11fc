//! `PUT|GET|DELETE /api/v1/activities/{id}/draft/attachments/{name}`: the bytes of the
//! files a reply draft names (sent with the draft).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;

use crate::auth::Principal;
use crate::domain::activities::files;
use crate::error::{ErrorEnvelope, Result};
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/activities/{id}/draft/attachments/{name}",
        put(put_draft_file)
            .get(get_draft_file)
            .delete(delete_draft_file)
            .layer(DefaultBodyLimit::max(files::MAX_FILE)),
    )
}

/// Uploads (or replaces) a file of the draft; the body is the file, `Content-Type` its
/// type. A new draft version: an approval given or pending is void.
#[utoipa::path(put, path = "/api/v1/activities/{id}/draft/attachments/{name}", tag = "approval",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 413, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn put_draft_file(
    State(state): State<AppState>,
    who: Principal,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let person = grants::person(state.store(), &who).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.parse::<lettre::message::header::ContentType>().is_ok())
        .unwrap_or("application/octet-stream");
    files::put_file(state.store(), &who, &person, &id, &name, ct, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A file of the draft.
#[utoipa::path(get, path = "/api/v1/activities/{id}/draft/attachments/{name}", tag = "approval",
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = ErrorEnvelope)))]
pub async fn get_draft_file(
    State(state): State<AppState>,
    who: Principal,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response> {
    let person = grants::person(state.store(), &who).await?;
    let f = files::get_file(state.store(), &who, &person, &id, &name).await?;
    Ok((
        [
            (header::CONTENT_TYPE, f.content_type),
            (header::CONTENT_DISPOSITION, "attachment".to_owned()),
        ],
        f.content,
    )
        .into_response())
}

/// Removes a file of the draft (a new draft version).
#[utoipa::path(delete, path = "/api/v1/activities/{id}/draft/attachments/{name}", tag = "approval",
    responses((status = 204), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn delete_draft_file(
    State(state): State<AppState>,
    who: Principal,
    Path((id, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    let person = grants::person(state.store(), &who).await?;
    files::delete_file(state.store(), &who, &person, &id, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
