//! The directory: `GET /api/v1/users` and `GET /api/v1/teams`, the caller's organisation
//! only, for pickers (assignee, approver, team).
//!
//! Any signed-in user may read their own organisation's directory (a dispatcher must find
//! an assignee, an assignee must see who commented); the [`Principal`] carries the
//! organisation and every query is scoped by it, so another organisation's people are
//! never listed. `?mailbox=` narrows to holders of a grant on that mailbox (directly or
//! through a team); `?eligible=approver` to the users the core lets be designated approver
//! there ([`Permissions::can_approve`]).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use pecdesk_core::policy::{Permissions, Policy};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::{Error, ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::directory::{self, DirectoryFilter, DirectoryTeamRow, DirectoryUserRow, Holding};
use crate::store::query::{Cursor, Page, page_size, paginate};
use crate::store::{Store, users};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list_users))
        .route("/api/v1/teams", get(list_teams))
}

/// A user of the caller's organisation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DirectoryUser {
    pub id: String,
    /// Display name.
    pub name: String,
    pub email: String,
    /// False for a user an administrator disabled (pickers never list them).
    pub enabled: bool,
}

/// A team of the caller's organisation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DirectoryTeam {
    pub id: String,
    pub name: String,
    /// Made of people outside the organisation.
    pub external: bool,
    /// How many users belong to it (`GET /api/v1/users?team=ID` lists them).
    pub members: i64,
}

/// Filters of `GET /api/v1/users`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct UserQuery {
    /// Only enabled users holding a grant on this mailbox (own or through a team).
    pub mailbox: Option<String>,
    /// With `mailbox`: only holders of this policy (`MAIL_ACTIVITY_WRITER`, ...).
    pub policy: Option<String>,
    /// With `mailbox`: `approver`, only the users who may be designated approver there
    /// (activity read and write).
    pub eligible: Option<String>,
    /// Only members of this team.
    pub team: Option<String>,
    /// Words that must each appear in the name or the e-mail (at most 200 characters).
    pub q: Option<String>,
    /// `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
    /// Page size (1..=200, default 50).
    pub limit: Option<i64>,
}

/// Filters of `GET /api/v1/teams`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct TeamQuery {
    /// Only teams holding a grant on this mailbox.
    pub mailbox: Option<String>,
    /// With `mailbox`: only teams holding this policy.
    pub policy: Option<String>,
    /// Words that must each appear in the name (at most 200 characters).
    pub q: Option<String>,
    /// `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
    /// Page size (1..=200, default 50).
    pub limit: Option<i64>,
}

/// Cursor tags: a users cursor is refused by the teams list and the other way round.
const USERS_SORT: &str = "users-name";
const TEAMS_SORT: &str = "teams-name";

/// Users of the caller's organisation, by name; filtered for pickers.
#[utoipa::path(get, path = "/api/v1/users", tag = "directory", params(UserQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<DirectoryUser>), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn list_users(
    State(state): State<AppState>,
    who: Principal,
    Query(f): Query<UserQuery>,
) -> Result<Json<Page<DirectoryUser>>> {
    let store = state.store();
    let limit = page_size(f.limit);
    let cursor = Cursor::decode(f.cursor.as_deref(), USERS_SORT)?;
    let holding = holding(store, &who, f.mailbox.as_deref(), f.policy.as_deref()).await?;
    let approver = match f.eligible.as_deref() {
        None => false,
        Some("approver") if holding.is_some() => true,
        Some("approver") => {
            return Err(Error::invalid(
                "eligible=approver richiede mailbox / eligible=approver needs mailbox",
            ));
        }
        Some(_) => {
            return Err(Error::invalid(
                "eligible accetta solo approver / eligible takes only approver",
            ));
        }
    };
    let q = check_q(f.q.as_deref())?;
    let filter = DirectoryFilter {
        org_id: &who.org_id,
        holding,
        team: f.team.as_deref(),
        enabled_only: holding.is_some(),
        q,
        after: cursor.as_ref().map(|c| (c.key.as_str(), c.id.as_str())),
        limit: limit + 1,
    };
    let rows = match holding {
        Some(h) if approver => eligible_approvers(store, &who, h.mailbox, filter, limit).await?,
        _ => directory::users(store, &filter).await?,
    };
    Ok(Json(paginate(
        rows,
        limit,
        |r| Cursor::new(&r.name, &r.id).encode(USERS_SORT),
        |r| DirectoryUser {
            id: r.id,
            name: r.name,
            email: r.email,
            enabled: !r.disabled,
        },
    )))
}

/// Teams of the caller's organisation, by name, with their member counts.
#[utoipa::path(get, path = "/api/v1/teams", tag = "directory", params(TeamQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<DirectoryTeam>), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn list_teams(
    State(state): State<AppState>,
    who: Principal,
    Query(f): Query<TeamQuery>,
) -> Result<Json<Page<DirectoryTeam>>> {
    let store = state.store();
    let limit = page_size(f.limit);
    let cursor = Cursor::decode(f.cursor.as_deref(), TEAMS_SORT)?;
    let filter = DirectoryFilter {
        org_id: &who.org_id,
        holding: holding(store, &who, f.mailbox.as_deref(), f.policy.as_deref()).await?,
        q: check_q(f.q.as_deref())?,
        after: cursor.as_ref().map(|c| (c.key.as_str(), c.id.as_str())),
        limit: limit + 1,
        ..DirectoryFilter::default()
    };
    let rows: Vec<DirectoryTeamRow> = directory::teams(store, &filter).await?;
    Ok(Json(paginate(
        rows,
        limit,
        |r| Cursor::new(&r.name, &r.id).encode(TEAMS_SORT),
        |r| DirectoryTeam {
            id: r.id,
            name: r.name,
            external: r.external,
            members: r.members,
        },
    )))
}

/// The grant filter of `?mailbox=&policy=`: the mailbox must be of the caller's
/// organisation (404 otherwise, as for any other organisation's id), the policy one of the
/// five, and a policy needs a mailbox.
async fn holding<'a>(
    store: &Store,
    who: &Principal,
    mailbox: Option<&'a str>,
    policy: Option<&'a str>,
) -> Result<Option<Holding<'a>>> {
    let policy = match policy {
        None => None,
        Some(p) => Some(Policy::parse(p).map(Policy::as_str).ok_or_else(|| {
            Error::invalid(
                "policy sconosciuta: MAIL_ACCOUNT_READER, MAIL_ACCOUNT_MANAGER, \
                 MAIL_ACTIVITY_READER, MAIL_ACTIVITY_WRITER o MAIL_ACTIVITY_MANAGER / unknown \
                 policy: use one of those five",
            )
        })?),
    };
    match (mailbox, policy) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(Error::invalid(
            "policy richiede mailbox / policy needs mailbox",
        )),
        (Some(mb), policy) => {
            if !users::mailbox_in_org(store, &who.org_id, mb).await? {
                return Err(Error::NotFound);
            }
            Ok(Some(Holding {
                mailbox: mb,
                policy,
            }))
        }
    }
}

/// Longest `q` of the directory.
const MAX_Q: usize = 200;

fn check_q(q: Option<&str>) -> Result<Option<&str>> {
    match q {
        Some(q) if q.chars().count() > MAX_Q => Err(Error::invalid(
            "ricerca troppo lunga (al massimo 200 caratteri) / search too long (at most 200 \
             characters)",
        )),
        Some(q) if q.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// The users with a grant on `mailbox` whom the core lets be designated approver there,
/// `limit + 1` at most (one more than a page, to know whether there is more). Candidates
/// are read a page at a time by name; the core decides each from their policies on the
/// mailbox (one query per page of candidates).
async fn eligible_approvers(
    store: &Store,
    who: &Principal,
    mailbox: &str,
    filter: DirectoryFilter<'_>,
    limit: i64,
) -> Result<Vec<DirectoryUserRow>> {
    let want = usize::try_from(limit + 1).unwrap_or(201);
    let mut out: Vec<DirectoryUserRow> = Vec::new();
    let mut after: Option<(String, String)> = filter.after.map(|(k, i)| (k.into(), i.into()));
    loop {
        let batch = DirectoryFilter {
            after: after.as_ref().map(|(k, i)| (k.as_str(), i.as_str())),
            ..filter.clone()
        };
        let rows = directory::users(store, &batch).await?;
        let exhausted = i64::try_from(rows.len()).unwrap_or(0) < filter.limit;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let pairs = directory::policies_on(store, &who.org_id, mailbox, &ids).await?;
        after = rows.last().map(|r| (r.name.clone(), r.id.clone()));
        for r in rows {
            let perms = pairs
                .iter()
                .filter(|(u, _)| *u == r.id)
                .filter_map(|(_, p)| Policy::parse(p))
                .fold(Permissions::NONE, Permissions::with);
            if perms.can_approve() {
                out.push(r);
                if out.len() == want {
                    return Ok(out);
                }
            }
        }
        if exhausted {
            return Ok(out);
        }
    }
}
