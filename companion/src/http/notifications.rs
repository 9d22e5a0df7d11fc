//! `GET /api/v1/notifications` and `POST /api/v1/notifications/{id}/read`: the caller's
//! own notifications (today: @mentions in comments, see
//! [`crate::domain::notifications`]). Nobody reads or marks another user's: every query
//! names the caller, and another user's id answers 404 like a missing one.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::auth::Principal;
use crate::domain::notifications::{self, NotificationView};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::query::{Page, page_size};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/notifications", get(list_notifications))
        .route("/api/v1/notifications/{id}/read", post(read_notification))
}

/// Filters of `GET /api/v1/notifications`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct NotificationQuery {
    /// `true`: only those not yet read.
    pub unread: Option<bool>,
    /// `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
    /// Page size (1..=200, default 50).
    pub limit: Option<i64>,
}

/// The caller's notifications, newest first (those on an activity the caller can no
/// longer read are left out).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    params(NotificationQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<NotificationView>), (status = 401, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<NotificationQuery>,
) -> Result<Json<Page<NotificationView>>> {
    Ok(Json(
        notifications::list(
            state.store(),
            &who,
            q.unread.unwrap_or(false),
            q.cursor.as_deref(),
            page_size(q.limit),
        )
        .await?,
    ))
}

/// Marks one of the caller's notifications read (again: nothing changes) and answers with
/// it.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 200, body = NotificationView), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn read_notification(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<NotificationView>> {
    Ok(Json(
        notifications::mark_read(state.store(), &who, &id).await?,
    ))
}
