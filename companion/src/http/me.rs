//! `GET /api/v1/me` (user, organisation, grants) and `GET /api/v1/mailboxes`.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

use pecdesk_core::authz::Operation;

use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::Result;
use crate::extract::Json;
use crate::state::AppState;
use crate::store::{grants, users};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(get_me))
        .route("/api/v1/mailboxes", get(list_mailboxes))
}

/// The signed-in user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub org_id: String,
    pub is_admin: bool,
    pub is_auditor: bool,
}

/// An organisation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgView {
    pub id: String,
    pub name: String,
}

/// A mailbox and the caller's policies on it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MailboxView {
    pub id: String,
    pub address: String,
    pub name: String,
    pub policies: Vec<String>,
    /// For administrators in `GET /api/v1/mailboxes` only: polling, health and the
    /// app-password warning at a glance (details: `GET /api/v1/mailboxes/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<crate::domain::admin::MailboxSummary>,
}

/// A team the caller belongs to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TeamView {
    pub id: String,
    pub name: String,
    pub external: bool,
}

/// Body of `GET /api/v1/me`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub orgs: Vec<OrgView>,
    pub grants: Vec<MailboxView>,
    pub teams: Vec<TeamView>,
}

/// The organisation's mailboxes the core lets the caller see (`SeeMailbox`), with the
/// caller's policies on each.
async fn mailboxes_of(state: &AppState, who: &Principal) -> Result<Vec<MailboxView>> {
    let person = grants::person(state.store(), who).await?;
    let all = users::mailboxes_of_org(state.store(), &who.org_id).await?;
    Ok(all
        .into_iter()
        .filter_map(|m| {
            let policies: Vec<String> = person
                .on(&m.id)
                .policies()
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect();
            authorize(&person, Operation::SeeMailbox { mailbox_id: &m.id })
                .is_ok()
                .then_some(MailboxView {
                    id: m.id,
                    address: m.address,
                    name: m.name,
                    policies,
                    admin: None,
                })
        })
        .collect())
}

/// The signed-in user, their organisation, grants and teams.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = crate::error::ErrorEnvelope)))]
pub async fn get_me(State(state): State<AppState>, who: Principal) -> Result<Json<MeResponse>> {
    let org = users::org(state.store(), &who.org_id).await?;
    let org = OrgView {
        id: org.id,
        name: org.name,
    };
    let teams = users::teams_of_user(state.store(), &who.user_id)
        .await?
        .into_iter()
        .map(|t| TeamView {
            id: t.id,
            name: t.name,
            external: t.external,
        })
        .collect();
    let grants = mailboxes_of(&state, &who)
        .await?
        .into_iter()
        .filter(|m| !m.policies.is_empty())
        .collect();
    Ok(Json(MeResponse {
        user: UserView {
            id: who.user_id,
            email: who.email,
            name: who.name,
            org_id: who.org_id,
            is_admin: who.is_admin,
            is_auditor: who.is_auditor,
        },
        orgs: vec![org],
        grants,
        teams,
    }))
}

/// Mailboxes where the caller holds any policy (all of the organisation for admins, with
/// a health and app-password summary of each).
#[utoipa::path(get, path = "/api/v1/mailboxes", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = [MailboxView]), (status = 401, body = crate::error::ErrorEnvelope)))]
pub async fn list_mailboxes(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<MailboxView>>> {
    let mut list = mailboxes_of(&state, &who).await?;
    if who.is_admin {
        let mut summaries = crate::domain::admin::summaries(state.store(), &who.org_id).await?;
        for m in &mut list {
            m.admin = summaries.remove(&m.id);
        }
    }
    Ok(Json(list))
}
