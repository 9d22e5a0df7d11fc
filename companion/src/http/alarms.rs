//! `GET /api/v1/alarms` and `POST /api/v1/alarms/{id}/ack`: SLA and mailbox alarms for
//! their recipients and the supervisors of their mailbox (see [`crate::domain::alarms`]).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::auth::Principal;
use crate::domain::alarms::{self, AlarmView};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::query::{Page, page_size};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alarms", get(list_alarms))
        .route("/api/v1/alarms/{id}/ack", post(ack_alarm))
}

/// Filters of `GET /api/v1/alarms`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct AlarmQuery {
    /// `open` or `acked`.
    pub state: Option<String>,
    /// `activity_due`, `pec_unconfirmed`, `quota`, `app_password`, `ingest_failing`.
    pub kind: Option<String>,
    /// `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
    /// Page size (1..=200, default 50).
    pub limit: Option<i64>,
}

/// The alarms the caller receives or supervises (all of the organisation's for an
/// administrator), newest first, each with its recipients and e-mails.
#[utoipa::path(get, path = "/api/v1/alarms", tag = "alarms",
    params(AlarmQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<AlarmView>), (status = 401, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn list_alarms(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<AlarmQuery>,
) -> Result<Json<Page<AlarmView>>> {
    Ok(Json(
        alarms::list(
            state.store(),
            &who,
            q.state.as_deref(),
            q.kind.as_deref(),
            q.cursor.as_deref(),
            page_size(q.limit),
        )
        .await?,
    ))
}

/// Acknowledges an alarm (audited `alarm.ack`; again: nothing changes) and answers with it.
#[utoipa::path(post, path = "/api/v1/alarms/{id}/ack", tag = "alarms",
    security(("bearer" = [])),
    responses((status = 200, body = AlarmView), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn ack_alarm(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<AlarmView>> {
    Ok(Json(alarms::ack(state.store(), &who, &id).await?))
}
