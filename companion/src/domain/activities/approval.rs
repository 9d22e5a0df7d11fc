//! Approvals: asking the designated approver to approve the current draft, the
//! approver's decision (bound to the exact draft version it saw), and their record: the
//! approval conversation the detail shows (`approvals`). Both
//! are moves of the flow ([`super::flow::move_to`]); a draft edit voids an approval
//! ([`super::draft`]); choosing the approver is an edit ([`super::edit`]).

use pecdesk_core::activity::{Decision, Status};
use pecdesk_core::authz::Person;

use super::ActivityResponse;
use super::flow::{Move, Via, move_to};
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::store::activities::ActivityRow;
use crate::store::drafts::{self, ApprovalRow, Step};
use crate::store::{Store, WriteTx, new_id};

/// Longest note a request or a decision may carry.
const MAX_NOTE: usize = 8 * 1024;

/// Asks the designated approver to approve the current draft, with an optional note
/// ("the attachment is the signed one").
pub async fn request(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    note: &str,
    version: Option<i64>,
) -> Result<ActivityResponse> {
    if note.len() > MAX_NOTE {
        return Err(Error::invalid("nota troppo lunga / note too long"));
    }
    let mv = Move {
        via: Via::ApprovalRequest,
        version,
        note: Some(note),
    };
    move_to(store, who, person, id, mv).await
}

/// The approver approves the current draft version, or asks for changes.
pub async fn decide(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    decision: Decision,
    note: &str,
    version: Option<i64>,
) -> Result<ActivityResponse> {
    if note.len() > MAX_NOTE {
        return Err(Error::invalid("nota troppo lunga / note too long"));
    }
    let mv = Move {
        via: Via::Approval(decision),
        version,
        note: Some(note),
    };
    move_to(store, who, person, id, mv).await
}

/// Records a step of the approval conversation when a move lands on
/// `awaiting_approval` (a request, by the caller) or on `approved` / `changes_requested` (a
/// decision, with its note), whichever endpoint made it; `moved` is the row as the move
/// wrote it. Bound to the draft version the move saw; the activity version the move
/// produced orders the steps.
pub(super) async fn record_step(
    tx: &mut WriteTx,
    who: &Principal,
    moved: &ActivityRow,
    draft_version: Option<i64>,
    note: Option<&str>,
) -> Result<()> {
    let step = match moved.status() {
        Status::AwaitingApproval => Step::Request,
        Status::Approved => Step::Decision(Decision::Approve),
        Status::ChangesRequested => Step::Decision(Decision::RequestChanges),
        _ => return Ok(()),
    };
    drafts::insert_approval(
        tx,
        &ApprovalRow {
            id: new_id(),
            activity_id: &moved.id,
            draft_version: draft_version.unwrap_or(0),
            step,
            note: note.unwrap_or(""),
            decided_by: &who.user_id,
            decided_at: moved.updated_at,
            activity_version: moved.version,
        },
    )
    .await
}
