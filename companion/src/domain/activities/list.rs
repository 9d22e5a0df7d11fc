//! Reading activities: the list (visible to the caller, filtered, paged) and the detail.

use pecdesk_core::activity::Status;
use pecdesk_core::authz::{Operation, Person};
use serde::Deserialize;

use super::{ActivityResponse, check_due, detail_view, list_view, load};
use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::activities::{self as store_activities, Assignee, ListQuery, Sort};
use crate::store::query::{Page, parse_cursor};

/// Filters and order of the activity list.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct ActivityFilter {
    pub mailbox: Option<String>,
    /// `me` or a user id.
    pub assignee: Option<String>,
    /// One or more statuses, comma-separated.
    pub status: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`.
    pub due_before: Option<String>,
    pub q: Option<String>,
    /// `due_at` (default), `-due_at`, `created_at`, `-created_at`, `updated_at`, `-updated_at`.
    pub sort: Option<String>,
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
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    let offset = parse_cursor(f.cursor.as_deref())?;
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
    let assignee = match f.assignee.as_deref() {
        Some("me") => Assignee::Me(who.user_id.clone()),
        Some(u) => Assignee::User(u.to_owned()),
        None => Assignee::Any,
    };
    let lq = ListQuery {
        org_id: who.org_id.clone(),
        assignee,
        mailbox: f.mailbox.clone(),
        statuses,
        due_before: match &f.due_before {
            Some(d) => Some(check_due(Some(d))?.unwrap_or_default()),
            None => None,
        },
        q: f.q.clone(),
        sort,
        limit: limit + 1,
        offset,
    };
    let mut rows = store_activities::list(store, person, &lq).await?;
    let lim = usize::try_from(limit).unwrap_or(50);
    let more = rows.len() > lim;
    rows.truncate(lim);
    Ok(Page {
        items: rows.into_iter().map(list_view).collect(),
        next_cursor: more.then(|| (offset + limit).to_string()),
    })
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
    let message_ids = store_activities::message_ids(store, id).await?;
    Ok(detail_view(person, a, message_ids))
}
