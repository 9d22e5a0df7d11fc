//! The audited purge of a mailbox's trashed messages outside its retention
//! (organisation administrators): [`crate::domain::retention`].

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use pecdesk_core::authz::Operation;

use crate::auth::Principal;
use crate::authz::authorize;
use crate::domain::admin::Actor;
use crate::domain::retention::{self, PurgeRequest, PurgeResponse};
use crate::error::{ErrorEnvelope, Result};
use crate::extract::Json;
use crate::state::AppState;
use crate::store::grants;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/mailboxes/{id}/purge", post(purge_mailbox))
}

/// Purges the mailbox's messages that are in the trash, received before `before`, outside
/// the mailbox's retention and not linked to an open activity: each stays as a tombstone
/// (`purged`), its raw bytes are cleared when no other message holds them, one
/// `mailbox.purge` audit entry records it. `dry_run: true` answers the same and purges
/// nothing. Messages left are listed in `skipped` with the reason.
#[utoipa::path(post, path = "/api/v1/mailboxes/{id}/purge", tag = "admin",
    params(("id" = String, Path, description = "mailbox id")), request_body = PurgeRequest,
    security(("bearer" = [])),
    responses((status = 200, body = PurgeResponse), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn purge_mailbox(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(req): Json<PurgeRequest>,
) -> Result<Json<PurgeResponse>> {
    authorize(&grants::principal_only(&who), Operation::Administer)?;
    crate::limits::ids(&[("id", Some(&id))])?;
    let actor = Actor {
        org_id: &who.org_id,
        user_id: Some(&who.user_id),
    };
    Ok(Json(
        retention::purge(state.store(), actor, &id, &req).await?,
    ))
}
