//! `GET /api/v1/audit` (the organisation's entries) and `GET /api/v1/audit/verify`
//! (walks the whole hash chain and names the first broken entry). Admins and auditors only.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::{Error, ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::audit::{self, AuditRow, Verification};
use crate::with_pool;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit", get(list_audit))
        .route("/api/v1/audit/verify", get(verify_audit))
}

fn check_auditor(who: &Principal) -> Result<()> {
    if who.is_admin || who.is_auditor {
        Ok(())
    } else {
        Err(Error::forbidden(
            "solo amministratori e revisori / admins and auditors only",
        ))
    }
}

/// Query of the audit list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Entries after this sequence number.
    pub after: Option<i64>,
    /// 1..=500, default 100.
    pub limit: Option<i64>,
}

/// The organisation's audit entries, oldest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [AuditRow]), (status = 403, body = ErrorEnvelope)))]
pub async fn list_audit(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRow>>> {
    check_auditor(&who)?;
    let rows: Vec<AuditRow> = with_pool!(state.store(), |p| {
        sqlx::query_as(
        "SELECT seq, at, org_id, actor_id, action, object_type, object_id, details, prev_hash, hash \
         FROM audit_log WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    )
    .bind(&who.org_id)
    .bind(q.after.unwrap_or(0))
    .bind(q.limit.unwrap_or(100).clamp(1, 500))
    .fetch_all(p)
    .await
    })?;
    Ok(Json(rows))
}

/// Verifies the hash chain; `first_broken` names the first entry that does not verify.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = Verification), (status = 403, body = ErrorEnvelope)))]
pub async fn verify_audit(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Verification>> {
    check_auditor(&who)?;
    Ok(Json(audit::verify(state.store()).await?))
}
