//! Evidence packs: `GET /api/v1/messages/{id}/evidence.zip`,
//! `GET /api/v1/activities/{id}/evidence.zip`,
//! `GET /api/v1/mailboxes/{id}/evidence.zip?from=&to=` (format and checks:
//! [`crate::evidence`], `pecdesk archive verify`).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::Principal;
use crate::domain::evidence::{self, Scope, parse_instant};
use crate::error::{Error, ErrorEnvelope, Result};
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/messages/{id}/evidence.zip", get(message_pack))
        .route("/api/v1/activities/{id}/evidence.zip", get(activity_pack))
        .route("/api/v1/mailboxes/{id}/evidence.zip", get(mailbox_pack))
}

/// The date range of a mailbox pack.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct RangeQuery {
    /// Start (inclusive): `YYYY-MM-DD` (midnight UTC) or RFC 3339.
    pub from: String,
    /// End: `YYYY-MM-DD` (the whole day counts) or RFC 3339 (exclusive).
    pub to: String,
}

async fn answer(state: AppState, who: Principal, scope: Scope) -> Result<Response> {
    let person = grants::person(state.store(), &who).await?;
    let pack = evidence::export(&state, &who, &person, scope).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    let disposition = format!("attachment; filename=\"{}\"", pack.file_name);
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| Error::Internal(e.into()))?,
    );
    Ok((headers, pack.zip).into_response())
}

/// The evidence pack of one message: the message, its receipts, their `daticert.xml` and
/// signature checks, the audit segment proving their entries, a SHA-256 manifest and a
/// UNI 11386 (SInCRO) index, signed. Auditors and managers of the mailbox.
#[utoipa::path(get, path = "/api/v1/messages/{id}/evidence.zip", tag = "evidence",
    responses((status = 200, content_type = "application/zip", body = Vec<u8>,
               description = "IdC.xml, IdC.firma.json, manifest-sha256.txt, pacchetto.json, messaggi/..., registro/registro-audit.json"),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn message_pack(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    answer(state, who, Scope::Message(id)).await
}

/// The evidence pack of one activity: its detail, its messages with their receipts, and
/// the audit entries of the activity, its comments and messages.
#[utoipa::path(get, path = "/api/v1/activities/{id}/evidence.zip", tag = "evidence",
    responses((status = 200, content_type = "application/zip", body = Vec<u8>),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn activity_pack(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    answer(state, who, Scope::Activity(id)).await
}

/// The evidence pack of a mailbox's messages received in a date range (at most 2,000
/// messages and 256 MiB; 422 asks to narrow the range).
#[utoipa::path(get, path = "/api/v1/mailboxes/{id}/evidence.zip", tag = "evidence",
    params(RangeQuery),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn mailbox_pack(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Response> {
    let from = parse_instant(&q.from, false)?;
    let to = parse_instant(&q.to, true)?;
    answer(state, who, Scope::Mailbox { id, from, to }).await
}
