//! Moving an activity along its flow: transitions, and sending the draft (which closes
//! it). The approval steps ([`super::approval`]) are moves too and come through
//! [`move_to`]. The core decides whether a move is allowed (`Operation::Move` /
//! `Operation::Send`); this module checks the version and writes.

use pecdesk_core::activity::{Decision, Status, TransitionError};
use pecdesk_core::authz::{Denied, Operation, Person};

use super::{
    ActivityResponse, Loaded, approval, detail_view, load, outgoing, reply, stale, with_names,
};
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::store::activities as store_activities;
use crate::store::audit::{self, Action, Chain};
use crate::store::{Store, drafts, now_ms, users};

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
    /// The note of a request for approval or of a decision.
    pub note: Option<&'a str>,
}

/// The answer to a refused move. A decision refused because the caller is not the
/// designated approver names the approver (by display name), so the caller knows whom to
/// ask; every other refusal is the core's message.
async fn refusal(store: &Store, who: &Principal, a: &Loaded, to: Status, d: Denied) -> Error {
    let decision = matches!(to, Status::Approved | Status::ChangesRequested);
    let approver = match (d, a.row.approver_id.as_deref()) {
        (Denied::Flow(TransitionError::NotPermitted), Some(id)) if decision => id,
        _ => return d.into(),
    };
    let name = match users::user(store, approver).await {
        Ok(Some(u)) if u.org_id == who.org_id => u.name,
        Ok(_) => return d.into(),
        Err(e) => return e,
    };
    Error::forbidden(format!(
        "solo l'approvatore designato ({name}) può decidere; se non può, un responsabile nomina \
         un altro utente con permesso di approvazione sulla casella / only the designated \
         approver ({name}) may decide; if they cannot, a manager names another user with \
         approval rights on the mailbox"
    ))
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
    let (op, new_status) = match mv.via.target() {
        Some(to) => (
            Operation::Move {
                activity: &facts,
                to,
            },
            to,
        ),
        None => (Operation::Send(&facts), Status::Done),
    };
    if let Err(d) = crate::authz::check(person, op) {
        return Err(refusal(store, who, &a, new_status, d).await);
    }
    if mv.version.is_some_and(|v| v != a.row.version) {
        return Err(stale());
    }
    let draft_version = facts.draft_version;
    // Sending composes the draft as it stands (in the approval flow, the core let it
    // through only if this is the approved version) and queues it with the status change.
    let prepared = match mv.via {
        Via::Send => Some(prepare_reply(store, &a).await?),
        _ => None,
    };
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
    // A request for approval or a decision joins the approval conversation. The note goes
    // with the endpoint that carries one; a plain transition records no note.
    approval::record_step(&mut tx, who, &row, draft_version, mv.note).await?;
    let mut draft = a.draft;
    let mut outbox_id = None;
    if let Some(p) = &prepared {
        // Only the version composed goes out: an edit since makes the send stale.
        if !drafts::mark_sent_version(&mut tx, id, p.draft_version, now).await? {
            return Err(stale());
        }
        if let Some(d) = draft.as_mut() {
            d.sent_at = Some(now);
        }
        outbox_id =
            Some(reply::enqueue(&mut tx, &who.org_id, &a.row.mailbox_id, id, p, now).await?);
    }
    if new_status.is_closed() {
        // A message is worked once all its activities are closed (done or cancelled).
        crate::domain::messages::work_when_activities_closed(
            &mut tx,
            &who.org_id,
            &who.user_id,
            id,
            now,
        )
        .await?;
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: mv.via.action(),
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({
            "from": from.as_str(), "to": new_status.as_str(), "draft_version": draft_version,
            "version": row.version, "outbox_id": outbox_id,
        }),
    })
    .await?;
    let message_ids = store_activities::message_ids_tx(&mut tx, id).await?;
    let history = drafts::history_tx(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(activity.id = %id, user.id = %who.user_id, to = new_status.as_str(), "activity moved");
    let moved = Loaded {
        row,
        draft,
        history,
    };
    let mut r = detail_view(person, moved, message_ids);
    r.outgoing = Some(outgoing::of_activity(store, id, now).await?);
    with_names(store, who, r).await
}

/// The reply to queue: the unsent draft composed (in the approval flow only the approved
/// version: the core checked it, and it is checked again here against the loaded row).
async fn prepare_reply(store: &Store, a: &Loaded) -> Result<reply::Prepared> {
    let d = a
        .draft
        .as_ref()
        .filter(|d| d.sent_at.is_none())
        .ok_or_else(|| {
            Error::conflict(
                "nessuna bozza da inviare: scrivi la risposta prima / no draft to send: write \
                 the reply first",
            )
        })?;
    if a.row.flow == "approval" && a.row.approved_draft_version != Some(d.version) {
        return Err(Error::conflict(
            "solo la versione approvata della bozza può essere inviata / only the approved \
             version of the draft may be sent",
        ));
    }
    reply::prepare(store, &a.row.id, &a.row.mailbox_id, d.version, &d.content).await
}
