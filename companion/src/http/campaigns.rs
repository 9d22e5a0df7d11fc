//! `/api/v1/campaigns`: mass sends (see [`crate::domain::campaigns`]): validate, create,
//! list, detail with counts per status, recipients with their status, CSV export, pause,
//! resume, cancel.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::handler::Handler as _;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::Principal;
use crate::domain::campaigns::{
    self, CampaignRequest, CampaignView, Control, Created, ListQuery, RecipientView,
    RecipientsQuery, Report,
};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::grants;
use crate::store::query::Page;

/// Routes of this module. Creation and validation carry the files (base64): they accept
/// bodies up to the import limit.
pub fn router(import_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/campaigns",
            get(list_campaigns).post(create_campaign.layer(DefaultBodyLimit::max(import_limit))),
        )
        .route(
            "/api/v1/campaigns/validate",
            post(validate_campaign).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route("/api/v1/campaigns/{id}", get(get_campaign))
        .route("/api/v1/campaigns/{id}/recipients", get(list_recipients))
        .route("/api/v1/campaigns/{id}/export.csv", get(export_campaign))
        .route("/api/v1/campaigns/{id}/pause", post(pause_campaign))
        .route("/api/v1/campaigns/{id}/resume", post(resume_campaign))
        .route("/api/v1/campaigns/{id}/cancel", post(cancel_campaign))
}

/// The answer of a refused campaign: the error envelope plus the whole report.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RefusedResponse {
    /// `code`: `invalid_campaign`; `message`: how many problems and the first.
    pub error: crate::error::ErrorBody,
    /// Every problem found.
    pub report: Report,
}

/// Checks a campaign without queueing anything: the report (`ok` false when it has errors).
#[utoipa::path(post, path = "/api/v1/campaigns/validate", tag = "campaigns",
    request_body = CampaignRequest,
    responses((status = 200, body = Report), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 413, body = ErrorEnvelope)))]
pub async fn validate_campaign(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<CampaignRequest>,
) -> Result<Json<Report>> {
    let person = grants::person(state.store(), &who).await?;
    let settings = &state.settings().campaigns;
    Ok(Json(
        campaigns::validate(state.store(), &who, &person, settings, &req).await?,
    ))
}

/// Validates and queues a mass send: one message per recipient in the outbox, in one
/// transaction. With any error: 422 with the whole report, and nothing written.
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns",
    request_body = CampaignRequest,
    responses((status = 201, body = CampaignView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 413, body = ErrorEnvelope),
              (status = 422, body = RefusedResponse)))]
pub async fn create_campaign(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<CampaignRequest>,
) -> Result<Response> {
    let person = grants::person(state.store(), &who).await?;
    let settings = &state.settings().campaigns;
    Ok(
        match campaigns::create(state.store(), &who, &person, settings, &req).await? {
            Created::Queued(view) => (StatusCode::CREATED, Json(*view)).into_response(),
            Created::Refused(report) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(RefusedResponse {
                    error: crate::error::ErrorBody {
                        code: "invalid_campaign".into(),
                        message: report.summary(),
                    },
                    report: *report,
                }),
            )
                .into_response(),
        },
    )
}

/// The campaigns of the mailboxes the caller may read, newest first.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns", params(ListQuery),
    responses((status = 200, body = Object), (status = 401, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn list_campaigns(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<CampaignView>>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        campaigns::list(state.store(), &who, &person, &q).await?,
    ))
}

/// A campaign with its recipients counted per status.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns",
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorEnvelope)))]
pub async fn get_campaign(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<CampaignView>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        campaigns::detail(state.store(), &who, &person, &id).await?,
    ))
}

/// A page of the campaign's recipients with their status, by CSV row.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/recipients", tag = "campaigns",
    params(RecipientsQuery),
    responses((status = 200, body = Object), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn list_recipients(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(q): Query<RecipientsQuery>,
) -> Result<Json<Page<RecipientView>>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        campaigns::recipients(state.store(), &who, &person, &id, &q).await?,
    ))
}

/// The outcome per recipient as CSV (UTF-8, comma-separated, header row).
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/export.csv", tag = "campaigns",
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 404, body = ErrorEnvelope)))]
pub async fn export_campaign(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    let person = grants::person(state.store(), &who).await?;
    let bytes = campaigns::export_csv(state.store(), &who, &person, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"invio-{id}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn control(
    state: &AppState,
    who: &Principal,
    id: &str,
    what: Control,
) -> Result<Json<CampaignView>> {
    let person = grants::person(state.store(), who).await?;
    Ok(Json(
        campaigns::control(state.store(), who, &person, id, what).await?,
    ))
}

/// Pauses: messages not yet sent are held (already paused: the campaign as it is).
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/pause", tag = "campaigns",
    responses((status = 200, body = CampaignView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn pause_campaign(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<CampaignView>> {
    control(&state, &who, &id, Control::Pause).await
}

/// Resumes a paused campaign: held messages are queued again.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/resume", tag = "campaigns",
    responses((status = 200, body = CampaignView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn resume_campaign(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<CampaignView>> {
    control(&state, &who, &id, Control::Resume).await
}

/// Cancels: messages not yet sent are cancelled (those being sent finish).
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/cancel", tag = "campaigns",
    responses((status = 200, body = CampaignView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn cancel_campaign(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<CampaignView>> {
    control(&state, &who, &id, Control::Cancel).await
}
