//! Moving an activity along its flow: transitions, and sending the draft (which closes
//! it). The approval steps ([`super::approval`]) are moves too and come through
//! [`move_to`]. The core decides whether a move is allowed (`Operation::Move` /
//! `Operation::Send`); this module checks the version and writes.

use pecdesk_core::activity::{Decision, Status};
use pecdesk_core::authz::{Operation, Person};

use super::{ActivityResponse, Loaded, approval, detail_view, load, stale, with_names};
use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::Result;
use crate::store::activities as store_activities;
use crate::store::audit::{self, Action, Chain};
use crate::store::{Store, drafts, now_ms};

/// Which endpoint asked for a move, and where to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `POST .../transitions` to this status.
    Transition(Status),
    /// `POST .../approval-request`.
    ApprovalRequest,
    /// `POST .../approval` with this decision.
    Approval(Decision),
    /// `POST .../send`.
    Send,
}

impl Via {
    /// The target status (`None` when sending: the core says where a send leads).
    fn target(self) -> Option<Status> {
        match self {
            Via::Transition(s) => Some(s),
            Via::ApprovalRequest => Some(Status::AwaitingApproval),
            Via::Approval(d) => Some(d.status()),
            Via::Send => None,
        }
    }

    fn action(self) -> Action {
        match self {
            Via::Transition(_) => Action::ActivityTransition,
            Via::ApprovalRequest => Action::ActivityApprovalRequest,
            Via::Approval(_) => Action::ActivityApproval,
            Via::Send => Action::ActivitySend,
        }
    }
}

/// A requested move.
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    /// Which endpoint asked, and where to.
    pub via: Via,
    /// The version the caller last saw (checked when given).
    pub version: Option<i64>,
    /// The approver's note.
    pub note: Option<&'a str>,
}

/// Moves an activity along its flow (or sends its draft) and answers with the activity as
/// written. The activity and its draft are read once; the core decides; the version is
/// checked; then one transaction writes the status, the approval record, the send mark,
/// the worked messages and the audit entry.
pub async fn move_to(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    mv: Move<'_>,
) -> Result<ActivityResponse> {
    let a = load(store, who, id).await?;
    let facts = a.facts();
    let from = facts.status;
    let new_status = match mv.via.target() {
        Some(to) => {
            authorize(
                person,
                Operation::Move {
                    activity: &facts,
                    to,
                },
            )?;
            to
        }
        None => {
            authorize(person, Operation::Send(&facts))?;
            Status::Done
        }
    };
    if mv.version.is_some_and(|v| v != a.row.version) {
        return Err(stale());
    }
    let draft_version = facts.draft_version;
    // Security invariant: an approval is bound to the exact draft version it saw, and
    // closing keeps the version that was approved.
    let approved_version = match new_status {
        Status::Approved => draft_version,
        Status::Done => a.row.approved_draft_version,
        _ => None,
    };
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let row = store_activities::set_status(
        &mut tx,
        id,
        a.row.version,
        new_status,
        approved_version,
        now,
    )
    .await?
    .ok_or_else(stale)?;
    approval::record_decision(&mut tx, who, id, new_status, draft_version, mv.note, now).await?;
    let mut draft = a.draft;
    if mv.via == Via::Send {
        drafts::mark_sent(&mut tx, id, now).await?;
        if let Some(d) = draft.as_mut() {
            d.sent_at = Some(now);
        }
    }
    if new_status == Status::Done {
        store_activities::mark_messages_worked(&mut tx, id).await?;
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: mv.via.action(),
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({
            "from": from.as_str(), "to": new_status.as_str(), "draft_version": draft_version,
            "version": row.version,
        }),
    })
    .await?;
    let message_ids = store_activities::message_ids_tx(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(activity.id = %id, user.id = %who.user_id, to = new_status.as_str(), "activity moved");
    with_names(
        store,
        who,
        detail_view(person, Loaded { row, draft }, message_ids),
    )
    .await
}
