//! Activity endpoints: create (single, bulk), list, detail, edit, transitions, linked
//! messages, comments, draft, approval request and decision, send.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use pecdesk_core::activity::Status;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::domain::activities::{
    self as act, ActivityFilter, ActivityResponse, CommentRequest, CommentView,
    CreateActivityRequest, DraftRequest, DraftView, PatchActivityRequest, Via,
};
use crate::error::{Error, ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::grants;
use crate::store::query::Page;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/activities",
            post(create_activity).get(list_activities),
        )
        .route("/api/v1/activities/bulk", post(create_activities_bulk))
        .route(
            "/api/v1/activities/{id}",
            get(get_activity).patch(update_activity),
        )
        .route(
            "/api/v1/activities/{id}/transitions",
            post(transition_activity),
        )
        .route("/api/v1/activities/{id}/messages", post(link_message))
        .route(
            "/api/v1/activities/{id}/comments",
            get(list_comments).post(add_comment),
        )
        .route("/api/v1/comments/{id}", patch(edit_comment))
        .route("/api/v1/activities/{id}/draft", put(put_draft))
        .route(
            "/api/v1/activities/{id}/approval-request",
            post(request_approval),
        )
        .route("/api/v1/activities/{id}/approval", post(decide_approval))
        .route("/api/v1/activities/{id}/send", post(send_draft))
}

/// Makes one move (transition, approval step or send) and answers with the new detail.
async fn move_then_detail(
    state: &AppState,
    who: &Principal,
    id: &str,
    mv: act::Move<'_>,
) -> Result<Json<ActivityResponse>> {
    let grants = grants::person(state.store(), who).await?;
    act::move_to(state.store(), who, &grants, id, mv).await?;
    detail(state, who, &grants, id).await
}

async fn detail(
    state: &AppState,
    who: &Principal,
    grants: &pecdesk_core::authz::Person,
    id: &str,
) -> Result<Json<ActivityResponse>> {
    let l = act::load(state.store(), who, grants, id).await?;
    Ok(Json(act::detail(state.store(), who, l).await?))
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
    let grants = grants::person(state.store(), &who).await?;
    let id = act::create(state.store(), &who, &grants, &req).await?;
    Ok((
        StatusCode::CREATED,
        detail(&state, &who, &grants, &id).await?,
    ))
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
    let grants = grants::person(state.store(), &who).await?;
    let ids = act::create_bulk(state.store(), &who, &grants, &req).await?;
    Ok((
        StatusCode::CREATED,
        Json(BulkResponse { activity_ids: ids }),
    ))
}

/// Activities the caller may read (by mailbox grant or participation).
#[utoipa::path(get, path = "/api/v1/activities", tag = "activities", params(ActivityFilter),
    responses((status = 200, body = Page<ActivityResponse>), (status = 422, body = ErrorEnvelope)))]
pub async fn list_activities(
    State(state): State<AppState>,
    who: Principal,
    Query(f): Query<ActivityFilter>,
) -> Result<Json<Page<ActivityResponse>>> {
    // "My activities" needs no grants (the assignee always sees their own): one query less
    // on the busiest path.
    let grants = if f.assignee.as_deref() == Some("me") {
        grants::principal_only(&who)
    } else {
        grants::person(state.store(), &who).await?
    };
    Ok(Json(act::list(state.store(), &who, &grants, &f).await?))
}

/// An activity with linked messages, draft and the actions allowed now.
#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "activities",
    responses((status = 200, body = ActivityResponse), (status = 404, body = ErrorEnvelope)))]
pub async fn get_activity(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<ActivityResponse>> {
    let grants = grants::person(state.store(), &who).await?;
    detail(&state, &who, &grants, &id).await
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
    let grants = grants::person(state.store(), &who).await?;
    act::patch(state.store(), &who, &grants, &id, &req).await?;
    detail(&state, &who, &grants, &id).await
}

/// Body of a transition.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TransitionRequest {
    /// Target status.
    pub to: String,
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
    let to = Status::parse(&req.to)
        .ok_or_else(|| Error::invalid("stato non valido / invalid status"))?;
    move_then_detail(
        &state,
        &who,
        &id,
        act::Move {
            to: Some(to),
            version: Some(req.version),
            via: Via::Transition,
            note: None,
        },
    )
    .await
}

/// Body of a message link.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
    let grants = grants::person(state.store(), &who).await?;
    act::link_message(state.store(), &who, &grants, &id, &req.message_id).await?;
    detail(&state, &who, &grants, &id).await
}

/// Comments of an activity, with edit history.
#[utoipa::path(get, path = "/api/v1/activities/{id}/comments", tag = "comments",
    responses((status = 200, body = [CommentView]), (status = 404, body = ErrorEnvelope)))]
pub async fn list_comments(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<CommentView>>> {
    let grants = grants::person(state.store(), &who).await?;
    Ok(Json(
        act::list_comments(state.store(), &who, &grants, &id).await?,
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
    let grants = grants::person(state.store(), &who).await?;
    let c = act::add_comment(state.store(), &who, &grants, &id, &req.body).await?;
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
    let grants = grants::person(state.store(), &who).await?;
    Ok(Json(
        act::edit_comment(state.store(), &who, &grants, &id, &req.body).await?,
    ))
}

/// Writes the reply draft; voids any approval.
#[utoipa::path(put, path = "/api/v1/activities/{id}/draft", tag = "approval", request_body = DraftRequest,
    responses((status = 200, body = DraftView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn put_draft(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<DraftRequest>,
) -> Result<Json<DraftView>> {
    let grants = grants::person(state.store(), &who).await?;
    Ok(Json(
        act::put_draft(state.store(), &who, &grants, &id, &req).await?,
    ))
}

/// Optional version check for the approval endpoints.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct VersionRequest {
    /// The version the caller last saw (checked when given).
    pub version: Option<i64>,
}

/// Asks the designated approver to approve the current draft.
#[utoipa::path(post, path = "/api/v1/activities/{id}/approval-request", tag = "approval", request_body = VersionRequest,
    responses((status = 200, body = ActivityResponse), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn request_approval(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<VersionRequest>,
) -> Result<Json<ActivityResponse>> {
    move_then_detail(
        &state,
        &who,
        &id,
        act::Move {
            to: Some(Status::AwaitingApproval),
            version: req.version,
            via: Via::ApprovalRequest,
            note: None,
        },
    )
    .await
}

/// The approver's decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ApprovalRequest {
    /// `approve` or `request_changes`.
    pub decision: String,
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
    let to = match req.decision.as_str() {
        "approve" => Status::Approved,
        "request_changes" => Status::ChangesRequested,
        _ => {
            return Err(Error::invalid(
                "decisione non valida (approve, request_changes) / invalid decision",
            ));
        }
    };
    if req.note.len() > 8 * 1024 {
        return Err(Error::invalid("nota troppo lunga / note too long"));
    }
    move_then_detail(
        &state,
        &who,
        &id,
        act::Move {
            to: Some(to),
            version: req.version,
            via: Via::Approval,
            note: Some(&req.note),
        },
    )
    .await
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
    move_then_detail(
        &state,
        &who,
        &id,
        act::Move {
            to: None,
            version: req.version,
            via: Via::Send,
            note: None,
        },
    )
    .await
}
