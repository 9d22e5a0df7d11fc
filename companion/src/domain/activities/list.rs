//! Reading activities: the list (visible to the caller, filtered, keyset-paged, with the
//! names beside the ids) and the detail.

use pecdesk_core::activity::Status;
use pecdesk_core::authz::{Operation, Person};
use serde::Deserialize;

use super::{ActivityResponse, check_due, detail_view, load};
use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::activities::{self as store_activities, Assignee, ListQuery, Sort};
use crate::store::query::{Cursor, Page, page_size, paginate};
use crate::store::{Store, directory};

/// Filters and order of the activity list.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct ActivityFilter {
    pub mailbox: Option<String>,
    /// Only the activities linked to this message (its companion id).
    pub message: Option<String>,
    /// `me` or a user id.
    pub assignee: Option<String>,
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
        Some(u) => Assignee::User(u.to_owned()),
        None => Assignee::Any,
    };
    let lq = ListQuery {
        org_id: who.org_id.clone(),
        assignee,
        mailbox: f.mailbox.clone(),
        message: f.message.clone(),
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
