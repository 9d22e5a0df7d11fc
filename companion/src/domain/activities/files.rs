//! The files of a reply draft: the bytes behind the names the draft lists. Uploading or
//! removing a file changes what would be sent, so (like an edit of the draft) it moves the
//! draft to a new version and voids an approval given or pending.

use pecdesk_core::activity;
use pecdesk_core::authz::{Operation, Person};
use sha2::{Digest as _, Sha256};

use super::load;
use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::audit::{self, Action, Chain};
use crate::store::draft_files::{self, FileRow, NewFile};
use crate::store::{Store, WriteTx, drafts, now_ms};

/// Largest file of a draft (bytes): 30 MB.
pub const MAX_FILE: usize = 30 * 1024 * 1024;

fn check_name(name: &str) -> Result<()> {
    crate::limits::line("name", name, crate::limits::ATTACHMENT)?;
    if name.trim().is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(Error::invalid(
            "nome di file non valido: niente barre e non può iniziare con un punto / invalid \
             file name: no slashes, and it may not start with a dot",
        ));
    }
    Ok(())
}

/// A new draft version after a change of its files, voiding an approval (as an edit
/// does). No draft yet: nothing to version.
async fn bump(tx: &mut WriteTx, a: &super::Loaded, who: &Principal, now: i64) -> Result<()> {
    let Some(d) = &a.draft else { return Ok(()) };
    if d.sent_at.is_some() {
        return Err(Error::conflict("bozza già inviata / draft already sent"));
    }
    drafts::write(tx, &a.row.id, &d.content, &who.user_id, now)
        .await?
        .ok_or_else(|| Error::conflict("bozza già inviata / draft already sent"))?;
    let to = activity::status_after_draft_edit(a.row.status());
    drafts::void_approval(tx, &a.row.id, to.as_str(), now).await?;
    Ok(())
}

/// Uploads (or replaces) file `name` of activity `id`'s draft.
pub async fn put_file(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    name: &str,
    content_type: &str,
    content: &[u8],
) -> Result<()> {
    let a = load(store, who, id).await?;
    authorize(person, Operation::EditDraft(&a.facts()))?;
    check_name(name)?;
    if content.len() > MAX_FILE {
        return Err(Error::TooLarge);
    }
    let limit = crate::outbox::limits(store, &a.row.mailbox_id).await?;
    let others = u64::try_from(draft_files::total_size(store, id, name).await?).unwrap_or(0);
    if others + content.len() as u64 > limit.max_bytes {
        return Err(Error::invalid(format!(
            "gli allegati superano il limite del gestore ({} byte per messaggio) / the \
             attachments exceed the provider's limit ({} bytes per message)",
            limit.max_bytes, limit.max_bytes
        )));
    }
    let sha = hex::encode(Sha256::digest(content));
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    bump(&mut tx, &a, who, now).await?;
    draft_files::put(
        &mut tx,
        &NewFile {
            activity_id: id,
            name,
            content_type,
            content,
            sha256: &sha,
            uploaded_by: &who.user_id,
            now,
        },
    )
    .await?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::DraftUpdate,
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({"file": "upload", "size": content.len(), "sha256": sha}),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes file `name` of activity `id`'s draft (404 when there is none).
pub async fn delete_file(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    name: &str,
) -> Result<()> {
    let a = load(store, who, id).await?;
    authorize(person, Operation::EditDraft(&a.facts()))?;
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    if !draft_files::delete(&mut tx, id, name).await? {
        return Err(Error::NotFound);
    }
    bump(&mut tx, &a, who, now).await?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::DraftUpdate,
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({"file": "delete"}),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Reads file `name` of activity `id`'s draft.
pub async fn get_file(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    name: &str,
) -> Result<FileRow> {
    let a = load(store, who, id).await?;
    authorize(person, Operation::ReadActivity(&a.facts()))?;
    draft_files::get(store, id, name)
        .await?
        .ok_or(Error::NotFound)
}
