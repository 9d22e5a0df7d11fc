//! `GET /api/v1/mailboxes/{id}/sla/due`: the due date on a mailbox's working calendar, so
//! the desk and the task pane can show "scade il ..." before an activity exists (the
//! arithmetic is `pecdesk_core::sla`; see [`crate::domain::sla`]).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;

use crate::auth::Principal;
use crate::domain::sla::{self, DueQuery, DueResponse};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::limits;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/mailboxes/{id}/sla/due", get(get_due))
}

/// The due date `hours` working hours or `days` working days after `from` (the close of
/// office hours of the N-th working day after the day of `from`), for readers of the
/// mailbox; 404 for a mailbox the caller cannot see.
#[utoipa::path(get, path = "/api/v1/mailboxes/{id}/sla/due", tag = "sla",
    params(("id" = String, Path, description = "mailbox id"), DueQuery),
    security(("bearer" = [])),
    responses((status = 200, body = DueResponse), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn get_due(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(q): Query<DueQuery>,
) -> Result<Json<DueResponse>> {
    limits::ids(&[("id", Some(&id))])?;
    Ok(Json(sla::due(state.store(), &who, &id, &q).await?))
}
