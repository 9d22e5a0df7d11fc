//! `GET /api/v1/audit` (the caller's organisation's chain, by seq) and
//! `GET /api/v1/audit/verify` (walks that chain and names the first broken entry). Admins
//! and auditors only; the other organisations' chains are neither read nor needed.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;

use pecdesk_core::authz::Operation;

use crate::auth::Principal;
use crate::error::{ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::audit::{self, AuditRow, Chain, Verification};
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit", get(list_audit))
        .route("/api/v1/audit/verify", get(verify_audit))
}

/// Admins and auditors only: decided by the core from the principal alone.
fn check_auditor(who: &Principal) -> Result<()> {
    crate::authz::authorize(&grants::principal_only(who), Operation::ReadAudit)
}

/// Query of the audit list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Entries after this sequence number.
    pub after: Option<i64>,
    /// 1..=500, default 100.
    pub limit: Option<i64>,
}

/// The organisation's audit entries, oldest first, by their seq in its chain.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [AuditRow]), (status = 403, body = ErrorEnvelope)))]
pub async fn list_audit(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRow>>> {
    check_auditor(&who)?;
    let rows = audit::list(
        state.store(),
        Chain::Org(&who.org_id),
        q.after.unwrap_or(0),
        q.limit.unwrap_or(100).clamp(1, 500),
    )
    .await?;
    Ok(Json(rows))
}

/// Verifies the organisation's hash chain; `first_broken` names the first entry that does
/// not verify.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = Verification), (status = 403, body = ErrorEnvelope)))]
pub async fn verify_audit(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Verification>> {
    check_auditor(&who)?;
    Ok(Json(
        audit::verify(state.store(), Chain::Org(&who.org_id)).await?,
    ))
}
