//! Approvals: asking the designated approver to approve the current draft, the
//! approver's decision (bound to the exact draft version it saw), and its record. Both
//! are moves of the flow ([`super::flow::move_to`]); a draft edit voids an approval
//! ([`super::draft`]); choosing the approver is an edit ([`super::edit`]).

use pecdesk_core::activity::{Decision, Status};
use pecdesk_core::authz::Person;

use super::ActivityResponse;
use super::flow::{Move, Via, move_to};
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::store::drafts::{self, ApprovalRow};
use crate::store::{Store, WriteTx, new_id};

/// Longest note an approver may leave.
const MAX_NOTE: usize = 8 * 1024;

/// Asks the designated approver to approve the current draft.
pub async fn request(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    version: Option<i64>,
) -> Result<ActivityResponse> {
    let mv = Move {
        via: Via::ApprovalRequest,
        version,
        note: None,
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

/// Records the decision when a move lands on `approved` or `changes_requested` (whichever
/// endpoint made it), bound to the draft version the approver saw.
pub(super) async fn record_decision(
    tx: &mut WriteTx,
    who: &Principal,
    activity_id: &str,
    new_status: Status,
    draft_version: Option<i64>,
    note: Option<&str>,
    now: i64,
) -> Result<()> {
    let decision = match new_status {
        Status::Approved => Decision::Approve,
        Status::ChangesRequested => Decision::RequestChanges,
        _ => return Ok(()),
    };
    drafts::insert_approval(
        tx,
        &ApprovalRow {
            id: new_id(),
            activity_id,
            draft_version: draft_version.unwrap_or(0),
            decision,
            note: note.unwrap_or(""),
            decided_by: &who.user_id,
            decided_at: now,
        },
    )
    .await
}
