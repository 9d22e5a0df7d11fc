//! The reply draft: one per activity, versioned. Any edit bumps its version and voids an
//! approval given or pending (the approval is bound to the version it saw).

use pecdesk_core::activity;
use pecdesk_core::authz::{Operation, Person};
use serde::Serialize;

use super::{DraftRequest, DraftView, draft_view, load};
use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::audit::{self, Action, Chain};
use crate::store::drafts::{self, DraftRow};
use crate::store::{Store, now_ms};

/// The draft as written, with the activity's version and status after the write: the
/// version to send with the caller's next change, so their own edit never makes it stale.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DraftWritten {
    #[serde(flatten)]
    pub draft: DraftView,
    /// The activity's version after the write.
    pub activity_version: i64,
    /// The activity's status after the write (an approval given or pending falls back to
    /// `in_progress`).
    pub activity_status: String,
}

/// Writes the draft and answers with it as written.
pub async fn put_draft(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    req: &DraftRequest,
) -> Result<DraftWritten> {
    let a = load(store, who, id).await?;
    authorize(person, Operation::EditDraft(&a.facts()))?;
    req.check()?;
    let content = serde_json::to_string(req).map_err(|e| Error::Internal(e.into()))?;
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let version = drafts::write(&mut tx, id, &content, &who.user_id, now)
        .await?
        .ok_or_else(|| Error::conflict("bozza già inviata / draft already sent"))?;
    let draft = DraftRow {
        version,
        content,
        updated_by: who.user_id.clone(),
        updated_at: now,
        sent_at: None,
    };
    // Security invariant: an approval is bound to the exact draft version it saw.
    let from = a.row.status();
    let new_status = activity::status_after_draft_edit(from);
    let voided = a.row.approved_draft_version.is_some() || new_status != from;
    let activity_version = drafts::void_approval(&mut tx, id, new_status.as_str(), now).await?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::DraftUpdate,
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({"draft_version": draft.version, "approval_voided": voided}),
    })
    .await?;
    tx.commit().await?;
    let mut view = draft_view(draft);
    view.updated_by_name = Some(who.name.clone());
    Ok(DraftWritten {
        draft: view,
        activity_version,
        activity_status: new_status.as_str().to_owned(),
    })
}
