//! `GET /api/v1/stats`: the statistics of the mailboxes the caller manages, as JSON or CSV
//! (`Accept: text/csv` or `format=csv`). Definitions: [`crate::domain::stats`].

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::Principal;
use crate::domain::evidence::parse_instant;
use crate::domain::stats::{self, GroupBy, Stats};
use crate::error::{ErrorEnvelope, Result};
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/stats", get(get_stats))
}

/// Query of the statistics.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct StatsQuery {
    /// Start (inclusive): `YYYY-MM-DD` (midnight UTC) or RFC 3339.
    pub from: String,
    /// End: `YYYY-MM-DD` (the whole day counts) or RFC 3339 (exclusive); at most 400 days
    /// after `from`.
    pub to: String,
    /// `day` (default), `operator`, `mailbox` or `team`.
    #[param(value_type = Option<String>)]
    pub group_by: Option<GroupBy>,
    /// One mailbox (default: every mailbox the caller manages).
    pub mailbox: Option<String>,
    /// `csv` for CSV (also `Accept: text/csv`).
    pub format: Option<String>,
}

/// Received, taken, worked; time to take in charge and to close (median, p90); overdue now
/// and per day; workload per operator. Managers of the mailboxes (`MAIL_ACCOUNT_MANAGER`
/// or `MAIL_ACTIVITY_MANAGER`).
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, body = Stats, description = "JSON; with `format=csv` or `Accept: text/csv`, CSV (one line per group and the total)"),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn get_stats(
    State(state): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Query(q): Query<StatsQuery>,
) -> Result<Response> {
    let from = parse_instant(&q.from, false)?;
    let to = parse_instant(&q.to, true)?;
    let store = state.store();
    let person = grants::person(store, &who).await?;
    let s = stats::compute(
        store,
        &who,
        &person,
        from,
        to,
        q.group_by.unwrap_or(GroupBy::Day),
        q.mailbox.as_deref(),
        crate::store::now_ms(),
    )
    .await?;
    let csv = q.format.as_deref() == Some("csv")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"));
    if csv {
        let body = stats::to_csv(&s)?;
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"statistiche.csv\""),
        );
        return Ok((h, body).into_response());
    }
    Ok(axum::Json(s).into_response())
}
