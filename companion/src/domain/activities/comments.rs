//! Comments on an activity: list (with edit history), add (workers and participants),
//! edit (the author only; the old text is kept).

use std::collections::HashMap;

use pecdesk_core::authz::{Operation, Person};
use serde::{Deserialize, Serialize};

use super::load;
use crate::auth::Principal;
use crate::authz::authorize;
use crate::domain::notifications::{excerpt, readers_mentioned};
use crate::error::{Error, Result};
use crate::store::audit::{self, Action, Chain};
use crate::store::comments::{self as store_comments, CommentEditRow, CommentRow};
use crate::store::notifications::{self as store_notifications, NewMention};
use crate::store::{Store, ms_to_rfc3339, new_id, now_ms};

/// A comment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommentView {
    pub id: String,
    pub activity_id: String,
    pub author_id: String,
    /// Display name of `author_id`.
    pub author_name: Option<String>,
    pub body: String,
    pub created_at: String,
    pub edited_at: Option<String>,
    /// Earlier texts, oldest first.
    pub history: Vec<CommentEdit>,
}

/// An earlier text of a comment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommentEdit {
    pub body: String,
    pub replaced_at: String,
}

/// Body of comment creation and edit.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    pub body: String,
}

/// A comment: not blank, at most [`limits::COMMENT`](crate::limits::COMMENT) characters.
fn check_comment(body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(Error::invalid(
            "campo `body`: commento vuoto / field `body`: empty comment",
        ));
    }
    crate::limits::text("body", body, crate::limits::COMMENT)
}

fn view(r: CommentRow, history: Vec<CommentEditRow>) -> CommentView {
    CommentView {
        id: r.id,
        activity_id: r.activity_id,
        author_id: r.author_id,
        author_name: r.author_name,
        body: r.body,
        created_at: ms_to_rfc3339(r.created_at),
        edited_at: r.edited_at.map(ms_to_rfc3339),
        history: history
            .into_iter()
            .map(|e| CommentEdit {
                body: e.body,
                replaced_at: ms_to_rfc3339(e.replaced_at),
            })
            .collect(),
    }
}

/// The comments of a readable activity, each with its history.
pub async fn list_comments(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
) -> Result<Vec<CommentView>> {
    let a = load(store, who, id).await?;
    authorize(person, Operation::ReadActivity(&a.facts()))?;
    let rows = store_comments::list(store, id).await?;
    // One query for every history, and none when nothing was edited.
    let mut history: HashMap<String, Vec<CommentEditRow>> = HashMap::new();
    if rows.iter().any(|r| r.edited_at.is_some()) {
        for e in store_comments::history_of_activity(store, id).await? {
            history.entry(e.comment_id.clone()).or_default().push(e);
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let h = history.remove(&r.id).unwrap_or_default();
            view(r, h)
        })
        .collect())
}

/// Adds a comment and answers with it as written.
pub async fn add_comment(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    body: &str,
) -> Result<CommentView> {
    let a = load(store, who, id).await?;
    authorize(person, Operation::Comment(&a.facts()))?;
    check_comment(body)?;
    let mentioned = readers_mentioned(store, who, &a, body).await?;
    let comment = CommentRow {
        id: new_id(),
        activity_id: id.to_owned(),
        author_id: who.user_id.clone(),
        body: body.to_owned(),
        created_at: now_ms(),
        edited_at: None,
        author_name: Some(who.name.clone()),
    };
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    store_comments::insert(&mut tx, &who.org_id, &comment).await?;
    let notified = store_notifications::insert_mentions(
        &mut tx,
        &NewMention {
            org_id: &who.org_id,
            activity_id: id,
            comment_id: &comment.id,
            by_user_id: &who.user_id,
            excerpt: &excerpt(body),
            created_at: comment.created_at,
        },
        &mentioned,
    )
    .await?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::CommentCreate,
        object_type: "comment",
        object_id: &comment.id,
        details: serde_json::json!({"activity_id": id, "notified": notified}),
    })
    .await?;
    tx.commit().await?;
    Ok(view(comment, Vec::new()))
}

/// Edits a comment (its author only, on an activity they can still read) and answers with
/// it as written, history included.
pub async fn edit_comment(
    store: &Store,
    who: &Principal,
    person: &Person,
    comment_id: &str,
    body: &str,
) -> Result<CommentView> {
    let mut comment = store_comments::load(store, &who.org_id, comment_id)
        .await?
        .ok_or(Error::NotFound)?;
    let a = load(store, who, &comment.activity_id).await?;
    authorize(
        person,
        Operation::EditComment {
            activity: &a.facts(),
            author_id: &comment.author_id,
        },
    )?;
    check_comment(body)?;
    let mentioned = readers_mentioned(store, who, &a, body).await?;
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let history = store_comments::edit(&mut tx, comment_id, body, now).await?;
    // Those already told about this comment are skipped by the store.
    let notified = store_notifications::insert_mentions(
        &mut tx,
        &NewMention {
            org_id: &who.org_id,
            activity_id: &comment.activity_id,
            comment_id,
            by_user_id: &who.user_id,
            excerpt: &excerpt(body),
            created_at: now,
        },
        &mentioned,
    )
    .await?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::CommentEdit,
        object_type: "comment",
        object_id: comment_id,
        details: serde_json::json!({"activity_id": comment.activity_id, "notified": notified}),
    })
    .await?;
    tx.commit().await?;
    body.clone_into(&mut comment.body);
    comment.edited_at = Some(now);
    Ok(view(comment, history))
}
