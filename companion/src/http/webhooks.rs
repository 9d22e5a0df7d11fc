//! Webhook subscriptions of the caller's organisation (administrators): list, create, read,
//! edit, delete, test, the delivery log and a redelivery. The deliveries' body, headers and
//! signature are described here and in docs/API.md ("Webhook").
//!
//! Every delivery is a `POST` with `Content-Type: application/json` and the headers
//! `X-PecDesk-Event` (the event type), `X-PecDesk-Delivery` (the event id: de-duplicate by
//! it), `X-PecDesk-Timestamp` (Unix seconds) and `X-PecDesk-Signature: sha256=<hex
//! HMAC-SHA256(secret, timestamp + "." + body)>`. A 2xx answer within the timeout is a
//! delivery; anything else is tried again with exponential backoff (at least once).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::auth::Principal;
use crate::domain::webhooks::{
    self, CreateWebhook, DeliveryView, TestResult, UpdateWebhook, WebhookCreated, WebhookView,
};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::grants;
use crate::store::query::{Page, page_size};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks", get(list_webhooks).post(create_webhook))
        .route(
            "/api/v1/webhooks/{id}",
            get(get_webhook)
                .patch(update_webhook)
                .delete(delete_webhook),
        )
        .route("/api/v1/webhooks/{id}/test", post(test_webhook))
        .route("/api/v1/webhooks/{id}/secret", post(rotate_secret))
        .route("/api/v1/webhooks/{id}/deliveries", get(list_deliveries))
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
            post(retry_delivery),
        )
}

/// The organisation's webhook subscriptions (administrators; never their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = [WebhookView]), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<WebhookView>>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(webhooks::list(state.store(), &who, &person).await?))
}

/// Subscribes a URL to events. The answer carries the signing `secret` this once; it is
/// stored encrypted and never shown again. Each delivery is a signed `POST` of a
/// [`crate::webhooks::events::Event`] (format `generic`), a Slack message (`slack`) or a
/// Teams MessageCard (`teams`), with the headers `X-PecDesk-Event`, `X-PecDesk-Delivery`
/// (the event id, to de-duplicate), `X-PecDesk-Timestamp` and `X-PecDesk-Signature:
/// sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. Event types:
/// `message.received`, `message.routed`, `activity.created`, `activity.assigned`,
/// `activity.closed`, `approval.requested`, `approval.decided`, `receipt.failed`,
/// `alarm.fired`.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    security(("bearer" = [])),
    responses((status = 201, body = WebhookCreated), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookCreated>)> {
    let person = grants::person(state.store(), &who).await?;
    let created =
        webhooks::create(state.store(), state.tokens().master(), &who, &person, &req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One subscription (404 when missing, deleted or another organisation's).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        webhooks::get(state.store(), &who, &person, &id).await?,
    ))
}

/// Edits a subscription (the fields given). Re-enabling delivers what happens from then
/// on, not what happened while it was disabled.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    request_body = UpdateWebhook, security(("bearer" = [])),
    responses((status = 200, body = WebhookView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn update_webhook(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<UpdateWebhook>,
) -> Result<Json<WebhookView>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        webhooks::update(state.store(), &who, &person, &id, &req).await?,
    ))
}

/// Deletes a subscription: nothing more is delivered (it is kept, with its log, for the
/// audit).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let person = grants::person(state.store(), &who).await?;
    webhooks::delete(state.store(), &who, &person, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a `webhook.test` event now (signed like every delivery) and answers with the
/// receiver's status; the attempt joins the delivery log.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 200, body = TestResult), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn test_webhook(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<TestResult>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(webhooks::test(&state, &who, &person, &id).await?))
}

/// Gives the subscription a new signing secret, shown in this answer only; the old one
/// stops at once (pending and retried deliveries are signed with the new one).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/secret", tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 200, body = WebhookCreated), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<WebhookCreated>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        webhooks::rotate_secret(state.store(), state.tokens().master(), &who, &person, &id).await?,
    ))
}

/// Filters of the delivery log.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct DeliveryQuery {
    /// `pending`, `delivering`, `delivered` or `failed`.
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1..=200, default 50).
    pub limit: Option<i64>,
}

/// A subscription's deliveries, newest first: status, attempts, last answer, next attempt.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(DeliveryQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DeliveryView>), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<Page<DeliveryView>>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        webhooks::deliveries(
            state.store(),
            &who,
            &person,
            &id,
            q.status.as_deref(),
            q.cursor.as_deref(),
            page_size(q.limit),
        )
        .await?,
    ))
}

/// Queues a delivered or failed delivery again (same event id, a new round of attempts).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
    tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = DeliveryView), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn retry_delivery(
    State(state): State<AppState>,
    who: Principal,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Json<DeliveryView>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(
        webhooks::redeliver(state.store(), &who, &person, &id, &delivery_id).await?,
    ))
}
