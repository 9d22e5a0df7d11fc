//! Editing an activity: its fields (managers, with the version the caller saw) and its
//! linked messages (workers).

use pecdesk_core::activity::{self, Priority};
use pecdesk_core::authz::{MessageFacts, Operation, Person};
use serde::{Deserialize, Deserializer};

use super::{
    ActivityResponse, Loaded, Roles, check_approver, check_due, check_people, check_texts,
    check_title, detail_view, load, stale, with_names,
};
use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::activities::{self as store_activities, ActivityChanges, search_text};
use crate::store::audit::{self, Action, Chain};
use crate::store::{Store, now_ms};

/// `null` → `Some(None)`, absent → `None`, value → `Some(Some(v))`.
fn double_option<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `PATCH /api/v1/activities/{id}`: only the fields present change.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchActivityRequest {
    /// The version the caller last saw.
    pub version: i64,
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Option<String>>,
    /// `low`, `normal`, `high`, `urgent`.
    #[schema(value_type = Option<String>)]
    pub priority: Option<Priority>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub approver_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

impl PatchActivityRequest {
    /// Names of the fields present (for the audit log: names only, never values).
    fn changed(&self) -> Vec<&'static str> {
        [
            ("title", self.title.is_some()),
            ("description", self.description.is_some()),
            ("priority", self.priority.is_some()),
            ("due_at", self.due_at.is_some()),
            ("assignee_id", self.assignee_id.is_some()),
            ("team_id", self.team_id.is_some()),
            ("approver_id", self.approver_id.is_some()),
            ("category", self.category.is_some()),
            ("tags", self.tags.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, present)| present.then_some(n))
        .collect()
    }
}

/// Turns a request into checked changes of the loaded row (422 on bad input; 409 when the
/// approver would be the assignee).
async fn changes(
    store: &Store,
    who: &Principal,
    person: &Person,
    a: &Loaded,
    req: &PatchActivityRequest,
) -> Result<ActivityChanges> {
    let title = req.title.as_deref().map(check_title).transpose()?;
    check_texts(
        req.description.as_deref(),
        req.category.as_ref().and_then(Option::as_deref),
        req.tags.as_deref(),
    )?;
    crate::limits::ids(&[
        (
            "assignee_id",
            req.assignee_id.as_ref().and_then(Option::as_ref),
        ),
        ("team_id", req.team_id.as_ref().and_then(Option::as_ref)),
        (
            "approver_id",
            req.approver_id.as_ref().and_then(Option::as_ref),
        ),
    ])?;
    let due_at = match &req.due_at {
        Some(d) => Some(check_due(d.as_deref())?),
        None => None,
    };
    check_people(
        store,
        &who.org_id,
        req.assignee_id.as_ref().and_then(Option::as_deref),
        req.team_id.as_ref().and_then(Option::as_deref),
    )
    .await?;
    // Segregation of duties: whenever who does the work or who approves it changes, the
    // approver the activity will have is asked of the core again.
    if req.approver_id.is_some() || req.assignee_id.is_some() || req.team_id.is_some() {
        let after = |change: &Option<Option<String>>, now: &Option<String>| -> Option<String> {
            change.clone().unwrap_or_else(|| now.clone())
        };
        let assignee = after(&req.assignee_id, &a.row.assignee_id);
        let team = after(&req.team_id, &a.row.team_id);
        let approver = after(&req.approver_id, &a.row.approver_id);
        let roles = Roles {
            assignee: assignee.as_deref(),
            team: team.as_deref(),
            approver: approver.as_deref(),
        };
        check_approver(store, who, person, &a.row.mailbox_id, roles).await?;
    }
    // A new approver has approved nothing: any approval (given or pending) is void.
    let void_approval = req
        .approver_id
        .as_ref()
        .filter(|new| new.as_deref() != a.row.approver_id.as_deref())
        .map(|_| activity::status_after_draft_edit(a.row.status()));
    let category = match &req.category {
        Some(c) => c.as_deref(),
        None => a.row.category.as_deref(),
    };
    let search = search_text(
        title.as_deref().unwrap_or(&a.row.title),
        req.description.as_deref().unwrap_or(&a.row.description),
        category,
    );
    Ok(ActivityChanges {
        title,
        description: req.description.clone(),
        priority: req.priority,
        due_at,
        assignee_id: req.assignee_id.clone(),
        team_id: req.team_id.clone(),
        approver_id: req.approver_id.clone(),
        void_approval,
        category: req.category.clone(),
        tags: req.tags.clone(),
        search_text: search,
        updated_at: now_ms(),
    })
}

/// Edits an activity (managers), checking `version`; answers with the activity as
/// written.
pub async fn patch(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    req: &PatchActivityRequest,
) -> Result<ActivityResponse> {
    let a = load(store, who, id).await?;
    authorize(person, Operation::EditActivity(&a.facts()))?;
    if req.version != a.row.version {
        return Err(stale());
    }
    let ch = changes(store, who, person, &a, req).await?;
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let row = store_activities::update(&mut tx, id, req.version, &ch)
        .await?
        .ok_or_else(stale)?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::ActivityUpdate,
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({"fields": req.changed(), "version": row.version}),
    })
    .await?;
    let message_ids = store_activities::message_ids_tx(&mut tx, id).await?;
    tx.commit().await?;
    let r = detail_view(
        person,
        Loaded {
            row,
            draft: a.draft,
            history: a.history,
        },
        message_ids,
    );
    with_names(store, who, r).await
}

/// Links one more message (of the same mailbox, readable by the caller); answers with the
/// activity and its links as written.
pub async fn link_message(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    message_id: &str,
) -> Result<ActivityResponse> {
    let a = load(store, who, id).await?;
    authorize(person, Operation::LinkMessage(&a.facts()))?;
    let (mailbox_id, participant) =
        store_activities::message_facts(store, &who.org_id, message_id, person)
            .await?
            .ok_or(Error::NotFound)?;
    let m = MessageFacts {
        mailbox_id,
        participant,
    };
    authorize(person, Operation::ReadMessage(&m))?;
    if m.mailbox_id != a.row.mailbox_id {
        return Err(Error::invalid(
            "il messaggio è di un'altra casella / the message belongs to another mailbox",
        ));
    }
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let n = store_activities::link_messages(&mut tx, id, &[message_id.to_owned()]).await?;
    if n == 0 {
        return Err(Error::conflict(
            "messaggio già collegato / message already linked",
        ));
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::ActivityLinkMessage,
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({"message_id": message_id}),
    })
    .await?;
    let message_ids = store_activities::message_ids_tx(&mut tx, id).await?;
    tx.commit().await?;
    with_names(store, who, detail_view(person, a, message_ids)).await
}
