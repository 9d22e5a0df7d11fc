//! Creating activities: one from zero or more messages of a mailbox, or one per message
//! in bulk (all or none). Managers of the mailbox only.

use pecdesk_core::activity::{Flow, Priority, Status};
use pecdesk_core::authz::{Operation, Person};
use serde::Deserialize;

use super::{
    ActivityResponse, Loaded, Roles, check_approver, check_due, check_people, check_texts,
    check_title, detail_view, with_names,
};
use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::activities::{self as store_activities, ActivityRow};
use crate::store::audit::{self, Action, Chain};
use crate::store::{Store, WriteTx, new_id, now_ms};

/// Body of `POST /api/v1/activities` (and the shared fields of bulk creation).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateActivityRequest {
    pub mailbox_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub message_ids: Vec<String>,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`.
    pub due_at: Option<String>,
    /// `low`, `normal` (default), `high`, `urgent`.
    #[schema(value_type = Option<String>)]
    pub priority: Option<Priority>,
    /// `standard` (default) or `approval`.
    #[schema(value_type = Option<String>)]
    pub flow: Option<Flow>,
    pub approver_id: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The mailbox must be of the caller's organisation (404) and the caller must manage its
/// activities (403); then the people named must exist (422), and the approver must be
/// eligible (422) and not the assignee (409).
async fn admit(
    store: &Store,
    who: &Principal,
    person: &Person,
    req: &CreateActivityRequest,
) -> Result<Option<i64>> {
    check_texts(
        req.description.as_deref(),
        req.category.as_deref(),
        Some(&req.tags),
    )?;
    crate::limits::ids(&[
        ("mailbox_id", Some(&req.mailbox_id)),
        ("assignee_id", req.assignee_id.as_ref()),
        ("team_id", req.team_id.as_ref()),
        ("approver_id", req.approver_id.as_ref()),
    ])?;
    crate::limits::texts(
        "message_ids",
        &req.message_ids,
        crate::limits::MESSAGE_IDS,
        crate::limits::ID,
    )?;
    if !store_activities::mailbox_exists(store, &who.org_id, &req.mailbox_id).await? {
        return Err(Error::NotFound);
    }
    authorize(
        person,
        Operation::CreateActivity {
            mailbox_id: &req.mailbox_id,
        },
    )?;
    let due = check_due(req.due_at.as_deref())?;
    check_people(
        store,
        &who.org_id,
        req.assignee_id.as_deref(),
        req.team_id.as_deref(),
    )
    .await?;
    let roles = Roles {
        assignee: req.assignee_id.as_deref(),
        team: req.team_id.as_deref(),
        approver: req.approver_id.as_deref(),
    };
    check_approver(store, who, person, &req.mailbox_id, roles).await?;
    Ok(due)
}

/// The subject of a message of the organisation, which must belong to `mailbox`.
async fn message_in_mailbox(
    tx: &mut WriteTx,
    org: &str,
    mailbox: &str,
    message_id: &str,
) -> Result<Option<String>> {
    let (mb, subject) = store_activities::message_mailbox(tx, org, message_id)
        .await?
        .ok_or(Error::NotFound)?;
    if mb != mailbox {
        return Err(Error::invalid(
            "il messaggio è di un'altra casella / the message belongs to another mailbox",
        ));
    }
    Ok(subject)
}

/// Inserts one activity linked to `message_ids`, with its audit entry; returns the row.
async fn insert(
    tx: &mut WriteTx,
    who: &Principal,
    req: &CreateActivityRequest,
    title: String,
    due_at: Option<i64>,
    message_ids: &[String],
) -> Result<ActivityRow> {
    let now = now_ms();
    let flow = req.flow.unwrap_or_default();
    let row = ActivityRow {
        id: new_id(),
        org_id: who.org_id.clone(),
        mailbox_id: req.mailbox_id.clone(),
        title,
        description: req.description.clone().unwrap_or_default(),
        priority: req.priority.unwrap_or_default().as_str().to_owned(),
        due_at,
        status: Status::Open.as_str().to_owned(),
        flow: flow.as_str().to_owned(),
        assignee_id: req.assignee_id.clone(),
        team_id: req.team_id.clone(),
        approver_id: req.approver_id.clone(),
        category: req.category.clone(),
        tags: serde_json::to_string(&req.tags).map_err(|e| Error::Internal(e.into()))?,
        version: 1,
        approved_draft_version: None,
        created_by: who.user_id.clone(),
        created_at: now,
        updated_at: now,
    };
    store_activities::insert(tx, &row).await?;
    store_activities::link_messages(tx, &row.id, message_ids).await?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::ActivityCreate,
        object_type: "activity",
        object_id: &row.id,
        details: serde_json::json!({
            "mailbox_id": req.mailbox_id, "message_ids": message_ids, "flow": flow.as_str(),
            "assignee_id": req.assignee_id, "team_id": req.team_id, "approver_id": req.approver_id,
        }),
    })
    .await?;
    Ok(row)
}

/// Creates one activity from zero or more messages of one mailbox; answers with the
/// activity as written (no draft yet, the linked messages sorted as the detail shows them).
pub async fn create(
    store: &Store,
    who: &Principal,
    person: &Person,
    req: &CreateActivityRequest,
) -> Result<ActivityResponse> {
    let due = admit(store, who, person, req).await?;
    let title = check_title(&req.title)?;
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    for m in &req.message_ids {
        message_in_mailbox(&mut tx, &who.org_id, &req.mailbox_id, m).await?;
    }
    let row = insert(&mut tx, who, req, title, due, &req.message_ids).await?;
    tx.commit().await?;
    tracing::info!(activity.id = %row.id, user.id = %who.user_id, "activity created");
    let mut message_ids = req.message_ids.clone();
    message_ids.sort();
    message_ids.dedup();
    let r = detail_view(
        person,
        Loaded {
            row,
            draft: None,
            history: Default::default(),
        },
        message_ids,
    );
    with_names(store, who, r).await
}

/// Creates one activity per message, in one transaction (all or none); returns their ids
/// in the order of `message_ids`.
pub async fn create_bulk(
    store: &Store,
    who: &Principal,
    person: &Person,
    req: &CreateActivityRequest,
) -> Result<Vec<String>> {
    let due = admit(store, who, person, req).await?;
    if req.message_ids.is_empty() || req.message_ids.len() > 500 {
        return Err(Error::invalid(
            "da 1 a 500 messaggi / between 1 and 500 messages",
        ));
    }
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let mut ids = Vec::with_capacity(req.message_ids.len());
    for m in &req.message_ids {
        let subject = message_in_mailbox(&mut tx, &who.org_id, &req.mailbox_id, m).await?;
        let title = if req.title.trim().is_empty() {
            subject.unwrap_or_else(|| format!("Messaggio {m}"))
        } else {
            req.title.clone()
        };
        let title = check_title(&title)?;
        let row = insert(&mut tx, who, req, title, due, std::slice::from_ref(m)).await?;
        ids.push(row.id);
    }
    tx.commit().await?;
    tracing::info!(count = ids.len(), user.id = %who.user_id, "activities created in bulk");
    Ok(ids)
}
