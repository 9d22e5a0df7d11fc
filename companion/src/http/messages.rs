//! Message endpoints: list, lookup, import, detail, raw, take, trash, restore, worked,
//! unworked, classify (folder, category, tags) and a mailbox's folders with counts.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pecdesk_core::authz::Operation;
use pecdesk_core::ids::MessageId;
use serde::Deserialize;

use crate::auth::Principal;
use crate::authz::authorize;
use crate::domain::messages::{
    self, Change, ClassifyRequest, FoldersResponse, MessageFilter, MessageResponse,
};
use crate::error::{Error, ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::http::import_body::ImportBody;
use crate::state::AppState;
use crate::store::query::Page;
use crate::store::{grants, users};

/// Routes of this module.
pub fn router(import_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/api/v1/messages", get(list_messages))
        .route("/api/v1/messages/lookup", get(lookup_message))
        .route(
            "/api/v1/messages/import",
            post(import_message).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/api/v1/messages/{id}",
            get(get_message).patch(classify_message),
        )
        .route("/api/v1/mailboxes/{id}/folders", get(list_folders))
        .route("/api/v1/messages/{id}/raw", get(get_raw))
        .route(
            "/api/v1/messages/{id}/export.zip",
            get(crate::http::export::export_message),
        )
        .route("/api/v1/messages/{id}/take", post(take_message))
        .route("/api/v1/messages/{id}/trash", post(trash_message))
        .route("/api/v1/messages/{id}/restore", post(restore_message))
        .route("/api/v1/messages/{id}/variants", get(list_variants))
        .route(
            "/api/v1/messages/{id}/variants/{sha256}/raw",
            get(get_variant_raw),
        )
        .route("/api/v1/messages/{id}/worked", post(work_message))
        .route("/api/v1/messages/{id}/unworked", post(unwork_message))
}

/// Messages the caller may read.
#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", params(MessageFilter),
    responses((status = 200, body = Page<MessageResponse>), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn list_messages(
    State(state): State<AppState>,
    who: Principal,
    Query(f): Query<MessageFilter>,
) -> Result<Json<Page<MessageResponse>>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        messages::list(state.store(), &who, &person, &f).await?,
    ))
}

/// Query of the lookup.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LookupQuery {
    /// Internet Message-ID or PEC identificativo.
    pub message_id: String,
}

/// Finds messages by Internet Message-ID or identificativo (add-ins); 404 when none is
/// visible to the caller (another organisation's message answers as a missing one).
#[utoipa::path(get, path = "/api/v1/messages/lookup", tag = "messages", params(LookupQuery),
    responses((status = 200, body = [MessageResponse]), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn lookup_message(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<LookupQuery>,
) -> Result<Json<Vec<MessageResponse>>> {
    let key = MessageId::parse(&q.message_id)?;
    let person = grants::person(state.store(), &who).await?;
    let found = messages::lookup(state.store(), &who, &person, &key).await?;
    if found.is_empty() {
        return Err(Error::NotFound);
    }
    Ok(Json(found))
}

/// Query of the import.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// Target mailbox id.
    pub mailbox: String,
}

/// Imports a raw message (idempotent: 201 when new, 200 when already there).
#[utoipa::path(post, path = "/api/v1/messages/import", tag = "messages", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "message/rfc822"),
    responses((status = 201, body = MessageResponse), (status = 200, body = MessageResponse),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 413, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn import_message(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ImportQuery>,
    body: ImportBody,
) -> Result<Response> {
    // Another organisation's mailbox answers as a missing one; then the core decides.
    if !users::mailbox_in_org(state.store(), &who.org_id, &q.mailbox).await? {
        return Err(Error::NotFound);
    }
    let person = grants::person(state.store(), &who).await?;
    authorize(
        &person,
        Operation::ImportMessage {
            mailbox_id: &q.mailbox,
        },
    )?;
    let ImportBody { bytes, permit } = body;
    if bytes.is_empty() {
        return Err(Error::invalid("messaggio vuoto / empty message"));
    }
    let imported = messages::import_raw(
        state.store(),
        Some(&who.user_id),
        &who.org_id,
        &q.mailbox,
        bytes,
        state.trust(),
    )
    .await?;
    // The import's memory is free again: the next one may start.
    drop(permit);
    let status = if imported.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(imported.row.into_response())).into_response())
}

/// A message with its receipts; a sent message with its acceptance and per-recipient
/// delivery; a receipt with the sent message it certifies.
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages",
    responses((status = 200, body = MessageResponse), (status = 404, body = ErrorEnvelope)))]
pub async fn get_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>> {
    let person = grants::person(state.store(), &who).await?;
    let row = messages::load_readable(state.store(), &who, &person, &id).await?;
    let mut r = messages::with_receipts(state.store(), row).await?;
    let (routing, protocol) = crate::domain::routing::view(state.store(), &id).await?;
    r.routing = routing;
    r.protocol = protocol;
    Ok(Json(r))
}

/// Sets a message's folder, category and tags (`MAIL_ACCOUNT_MANAGER`); the fields present
/// change, `null` clears; audited `message.classify`. 409 for a purged message.
#[utoipa::path(patch, path = "/api/v1/messages/{id}", tag = "messages", request_body = ClassifyRequest,
    responses((status = 200, body = MessageResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn classify_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<ClassifyRequest>,
) -> Result<Json<MessageResponse>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        messages::classify(state.store(), &who, &person, &id, &req)
            .await?
            .into_response(),
    ))
}

/// The folders, categories and tags of a mailbox's live messages the caller may read,
/// with counts (no policy on the mailbox, or another organisation's: 404).
#[utoipa::path(get, path = "/api/v1/mailboxes/{id}/folders", tag = "messages",
    params(("id" = String, Path, description = "mailbox id")),
    responses((status = 200, body = FoldersResponse), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn list_folders(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<FoldersResponse>> {
    crate::limits::ids(&[("id", Some(&id))])?;
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        messages::folders(state.store(), &who, &person, &id).await?,
    ))
}

/// The raw EML, exactly as imported (410 once the message was purged).
#[utoipa::path(get, path = "/api/v1/messages/{id}/raw", tag = "messages",
    responses((status = 200, content_type = "message/rfc822", body = Vec<u8>), (status = 404, body = ErrorEnvelope),
              (status = 410, body = ErrorEnvelope)))]
pub async fn get_raw(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    let person = grants::person(state.store(), &who).await?;
    let row = messages::load_readable(state.store(), &who, &person, &id).await?;
    if row.purged_at.is_some() {
        return Err(messages::purged_gone());
    }
    let bytes = messages::raw_bytes(state.store(), &row.raw_sha256).await?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], bytes).into_response())
}

async fn change(
    state: &AppState,
    who: &Principal,
    id: &str,
    what: Change,
) -> Result<Json<MessageResponse>> {
    let person = grants::person(state.store(), who).await?;
    Ok(Json(
        messages::change(state.store(), who, &person, id, what)
            .await?
            .into_response(),
    ))
}

/// Presa in carico: the caller takes the message in charge (409 when already taken).
#[utoipa::path(post, path = "/api/v1/messages/{id}/take", tag = "messages",
    responses((status = 200, body = MessageResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn take_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>> {
    change(&state, &who, &id, Change::Take).await
}

/// Moves a message to the trash (recoverable; nothing is ever hard-deleted by the API).
#[utoipa::path(post, path = "/api/v1/messages/{id}/trash", tag = "messages",
    responses((status = 200, body = MessageResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn trash_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>> {
    change(&state, &who, &id, Change::Trash).await
}

/// Restores a message from the trash.
#[utoipa::path(post, path = "/api/v1/messages/{id}/restore", tag = "messages",
    responses((status = 200, body = MessageResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn restore_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>> {
    change(&state, &who, &id, Change::Restore).await
}

/// Sets a message worked by hand, where no activity is needed (CertDoc's LAVORATO; needs
/// `MAIL_ACCOUNT_MANAGER`; 409 when already worked or trashed). A message also becomes
/// worked by itself when all its activities are closed.
#[utoipa::path(post, path = "/api/v1/messages/{id}/worked", tag = "messages",
    responses((status = 200, body = MessageResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn work_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>> {
    change(&state, &who, &id, Change::Worked).await
}

/// Undoes "worked" (a manager's correction, audited): back to taken, or new when nobody
/// had taken it. Needs `MAIL_ACCOUNT_MANAGER` and `MAIL_ACTIVITY_MANAGER`; 409 when the
/// message is not worked.
#[utoipa::path(post, path = "/api/v1/messages/{id}/unworked", tag = "messages",
    responses((status = 200, body = MessageResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn unwork_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>> {
    change(&state, &who, &id, Change::Unworked).await
}

/// The byte-different copies of a PEC kept beside the message (same kind, identificativo
/// and, for a delivery notice, recipient), oldest first.
#[utoipa::path(get, path = "/api/v1/messages/{id}/variants", tag = "messages",
    responses((status = 200, body = [crate::store::messages::VariantRow]), (status = 404, body = ErrorEnvelope)))]
pub async fn list_variants(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<crate::store::messages::VariantRow>>> {
    let person = grants::person(state.store(), &who).await?;
    let row = messages::load_readable(state.store(), &who, &person, &id).await?;
    Ok(Json(
        crate::store::messages::variants(state.store(), &row.id).await?,
    ))
}

/// The raw EML of one variant, exactly as it arrived (404 unless it is a variant of this
/// message).
#[utoipa::path(get, path = "/api/v1/messages/{id}/variants/{sha256}/raw", tag = "messages",
    responses((status = 200, content_type = "message/rfc822", body = Vec<u8>), (status = 404, body = ErrorEnvelope)))]
pub async fn get_variant_raw(
    State(state): State<AppState>,
    who: Principal,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Response> {
    let person = grants::person(state.store(), &who).await?;
    let row = messages::load_readable(state.store(), &who, &person, &id).await?;
    if !crate::store::messages::is_variant(state.store(), &row.id, &sha).await? {
        return Err(Error::NotFound);
    }
    if row.purged_at.is_some() || crate::store::retention::blob_purged(state.store(), &sha).await? {
        return Err(messages::purged_gone());
    }
    let bytes = messages::raw_bytes(state.store(), &sha).await?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], bytes).into_response())
}
