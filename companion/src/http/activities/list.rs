//! `GET /api/v1/activities` (list), `GET /api/v1/activities/workload` (the team queues'
//! counts) and `GET /api/v1/activities/{id}` (detail).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;

use crate::auth::Principal;
use crate::domain::activities::ActivityResponse;
use crate::domain::activities::list::{self, ActivityFilter, WorkloadResponse};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::grants;
use crate::store::query::Page;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/activities", get(list_activities))
        .route("/api/v1/activities/workload", get(activity_workload))
        .route("/api/v1/activities/{id}", get(get_activity))
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
    let person = if f.is_mine() {
        grants::principal_only(&who)
    } else {
        grants::person(state.store(), &who).await?
    };
    Ok(Json(list::list(state.store(), &who, &person, &f).await?))
}

/// An activity with linked messages, draft and the actions allowed now.
#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "activities",
    responses((status = 200, body = ActivityResponse), (status = 404, body = ErrorEnvelope)))]
pub async fn get_activity(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<ActivityResponse>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(list::detail(state.store(), &who, &person, &id).await?))
}

/// The open activities the caller may read, counted per team (open, free, overdue,
/// awaiting approval) and per assignee: the team queues' figures without reading the
/// activities.
#[utoipa::path(get, path = "/api/v1/activities/workload", tag = "activities",
    responses((status = 200, body = WorkloadResponse), (status = 401, body = ErrorEnvelope)))]
pub async fn activity_workload(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<WorkloadResponse>> {
    let person = grants::person(state.store(), &who).await?;
    Ok(Json(list::workload(state.store(), &who, &person).await?))
}
