//! Reading activities: the list (visible to the caller, filtered, keyset-paged, with the
//! names beside the ids) and the detail.

use pecdesk_core::activity::Status;
use pecdesk_core::authz::{Operation, Person};
use serde::{Deserialize, Serialize};

use super::{ActivityResponse, check_due, detail_view, load};
use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::activities::{self as store_activities, Assignee, ListQuery, Sort, TeamFilter};
use crate::store::query::{Cursor, Page, page_size, paginate};
use crate::store::{Store, directory};

/// Filters and order of the activity list.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct ActivityFilter {
    pub mailbox: Option<String>,
    /// Only the activities linked to this message (its companion id).
    pub message: Option<String>,
    /// `me`, `none` (assigned to nobody: free work) or a user id.
    pub assignee: Option<String>,
    /// A team's id, or `none` (routed to no team).
    pub team: Option<String>,
    /// One or more statuses, comma-separated.
    pub status: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`.
    pub due_before: Option<String>,
    pub q: Option<String>,
    /// `due_at` (default), `-due_at`, `created_at`, `-created_at`, `updated_at`, `-updated_at`.
    pub sort: Option<String>,
    /// `next_cursor` of the previous page with the same `sort` (opaque; 422 when malformed
    /// or from another sort).
    pub cursor: Option<String>,
    /// 1..=200, default 50.
    pub limit: Option<i64>,
}

impl ActivityFilter {
    /// "My activities": the caller's own, which need no grants to be visible.
    pub fn is_mine(&self) -> bool {
        self.assignee.as_deref() == Some("me")
    }
}

/// Lists the activities `who` may read. For "my activities" `person` may come without
/// grants (the assignee always sees their own).
pub async fn list(
    store: &Store,
    who: &Principal,
    person: &Person,
    f: &ActivityFilter,
) -> Result<Page<ActivityResponse>> {
    crate::limits::text(
        "q",
        f.q.as_deref().unwrap_or_default(),
        crate::limits::QUERY,
    )?;
    let limit = page_size(f.limit);
    let statuses = match &f.status {
        None => Vec::new(),
        Some(st) => st
            .split(',')
            .map(|s| {
                Status::parse(s.trim())
                    .ok_or_else(|| Error::invalid("stato non valido / invalid status"))
            })
            .collect::<Result<_>>()?,
    };
    let sort = match f.sort.as_deref() {
        None => Sort::default(),
        Some(s) => {
            Sort::parse(s).ok_or_else(|| Error::invalid("ordinamento non valido / invalid sort"))?
        }
    };
    // A cursor carries its sort: one from another order is refused, not misread.
    let after = match Cursor::decode(f.cursor.as_deref(), sort.name())? {
        Some(c) => Some((c.key_i64()?, c.id)),
        None => None,
    };
    let assignee = match f.assignee.as_deref() {
        Some("me") => Assignee::Me(who.user_id.clone()),
        Some("none") => Assignee::Nobody,
        Some(u) => Assignee::User(u.to_owned()),
        None => Assignee::Any,
    };
    let lq = ListQuery {
        org_id: who.org_id.clone(),
        assignee,
        mailbox: f.mailbox.clone(),
        message: f.message.clone(),
        team: f.team.as_deref().map(|t| match t {
            "none" => TeamFilter::Nobody,
            id => TeamFilter::Team(id.to_owned()),
        }),
        statuses,
        due_before: match &f.due_before {
            Some(d) => Some(check_due(Some(d))?.unwrap_or_default()),
            None => None,
        },
        q: f.q.clone(),
        sort,
        limit: limit + 1,
        after,
    };
    let rows = store_activities::list(store, person, &lq).await?;
    Ok(paginate(
        rows,
        limit,
        |r| Cursor::new(sort.key_of(&r.row), &r.row.id).encode(sort.name()),
        ActivityResponse::from,
    ))
}

/// The detail of a readable activity: linked messages, draft, allowed actions.
pub async fn detail(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
) -> Result<ActivityResponse> {
    let a = load(store, who, id).await?;
    authorize(person, Operation::ReadActivity(&a.facts()))?;
    // Linked messages and names in one query: the detail reads as many times as before
    // the names.
    let (names, message_ids) = directory::names_and_message_ids(store, &who.org_id, id).await?;
    let mut r = detail_view(person, a, message_ids);
    r.outgoing = Some(super::outgoing::of_activity(store, id, crate::store::now_ms()).await?);
    Ok(r.named(names))
}

/// The open activities of one team (or of no team) as counted for the team queues.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct TeamWorkload {
    /// None: activities routed to no team.
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    /// Open (not done nor cancelled).
    pub open: i64,
    /// Open and assigned to nobody.
    pub free: i64,
    /// Open and past their due date.
    pub overdue: i64,
    pub awaiting_approval: i64,
}

/// The open activities of one person (or of nobody), over every team.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct PersonWorkload {
    /// None: assigned to nobody.
    pub assignee_id: Option<String>,
    pub assignee_name: Option<String>,
    pub open: i64,
    pub overdue: i64,
    pub awaiting_approval: i64,
}

/// `GET /api/v1/activities/workload`: the team queues' counts, of the activities the
/// caller may read only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkloadResponse {
    /// Per team, most open first (the activities of no team last).
    pub teams: Vec<TeamWorkload>,
    /// Per assignee, most overdue first, then most open.
    pub people: Vec<PersonWorkload>,
    /// When it was counted (RFC 3339): "overdue" means due before this.
    pub at: String,
}

/// Counts the open activities `person` may read, per team and per assignee.
pub async fn workload(store: &Store, who: &Principal, person: &Person) -> Result<WorkloadResponse> {
    let now = crate::store::now_ms();
    let rows = store_activities::workload(store, person, &who.org_id, now).await?;
    let mut teams: Vec<TeamWorkload> = Vec::new();
    let mut people: Vec<PersonWorkload> = Vec::new();
    for r in rows {
        let t = match teams.iter_mut().find(|t| t.team_id == r.team_id) {
            Some(t) => t,
            None => {
                teams.push(TeamWorkload {
                    team_id: r.team_id.clone(),
                    team_name: r.team_name.clone(),
                    ..TeamWorkload::default()
                });
                teams
                    .last_mut()
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("pushed")))?
            }
        };
        t.open += r.open;
        t.overdue += r.overdue;
        t.awaiting_approval += r.awaiting_approval;
        if r.assignee_id.is_none() {
            t.free += r.open;
        }
        let p = match people.iter_mut().find(|p| p.assignee_id == r.assignee_id) {
            Some(p) => p,
            None => {
                people.push(PersonWorkload {
                    assignee_id: r.assignee_id.clone(),
                    assignee_name: r.assignee_name.clone(),
                    ..PersonWorkload::default()
                });
                people
                    .last_mut()
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("pushed")))?
            }
        };
        p.open += r.open;
        p.overdue += r.overdue;
        p.awaiting_approval += r.awaiting_approval;
    }
    teams.sort_by(|a, b| {
        a.team_id
            .is_none()
            .cmp(&b.team_id.is_none())
            .then(b.open.cmp(&a.open))
            .then(a.team_name.cmp(&b.team_name))
    });
    people.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then(b.open.cmp(&a.open))
            .then(a.assignee_name.cmp(&b.assignee_name))
    });
    Ok(WorkloadResponse {
        teams,
        people,
        at: crate::store::ms_to_rfc3339(now),
    })
}
