//! Notifications: @mentions in comments, and the recipient's own list.
//!
//! **Mention syntax.** The task pane suggests people as you type `@` and inserts
//! `@Nome Cognome` (the user's display name, as `GET /api/v1/users` lists it). A mention is
//! `@` at the start of the text or after a character that is not a letter or digit (so an
//! e-mail address `mario@demo.test` is not one), followed by either the display name of a
//! user of the author's organisation or the local part of their e-mail address
//! (`@paolo.rossi` for `paolo.rossi@ente.it`), compared without regard to case, and not
//! followed by a letter or digit (`@Paolo Rossini` does not mention Paolo Rossi). Where two
//! names match at one `@`, the longer wins.
//!
//! **Who is told.** Each mentioned user who is enabled, is not the author, and may read the
//! activity (the core's `ReadActivity`, with their own grants) gets one notification per
//! comment; an edit notifies only the users it newly mentions. Nobody else learns anything:
//! the comment's answer is the same whether a name matched someone or not.

use std::collections::HashMap;

use pecdesk_core::authz::Operation;
use serde::Serialize;

use crate::auth::Principal;
use crate::authz::authorize;
use crate::domain::activities::{Loaded, load};
use crate::error::{Error, Result};
use crate::store::notifications::{self as db, ListFilter, NotificationRow};
use crate::store::query::{Cursor, Page, paginate};
use crate::store::{Store, grants, ms_to_rfc3339, now_ms, users};

/// Characters of a comment kept as the notification's excerpt.
pub const EXCERPT_CHARS: usize = 140;

/// Who caused a notification.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationBy {
    pub id: String,
    /// Display name.
    pub name: Option<String>,
}

/// A notification of the caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    pub id: String,
    /// `mention`: `by` mentioned the caller in comment `comment_id` of `activity_id`.
    pub kind: String,
    pub activity_id: String,
    /// The activity's title now (null where it could not be read).
    pub activity_title: Option<String>,
    pub comment_id: String,
    pub by: NotificationBy,
    /// The beginning of the comment (at most 140 characters), as it was written.
    pub excerpt: String,
    pub created_at: String,
    /// When the caller marked it read; null while unread.
    pub read_at: Option<String>,
}

fn view(r: NotificationRow, activity_title: Option<String>) -> NotificationView {
    NotificationView {
        id: r.id,
        kind: r.kind,
        activity_id: r.activity_id,
        activity_title,
        comment_id: r.comment_id,
        by: NotificationBy {
            id: r.by_user_id,
            name: r.by_name,
        },
        excerpt: r.excerpt,
        created_at: ms_to_rfc3339(r.created_at),
        read_at: r.read_at.map(ms_to_rfc3339),
    }
}

/// The excerpt stored with a mention: the first [`EXCERPT_CHARS`] characters, whitespace
/// collapsed, "…" when cut.
pub fn excerpt(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= EXCERPT_CHARS {
        return flat;
    }
    let mut s: String = flat.chars().take(EXCERPT_CHARS - 1).collect();
    s.push('…');
    s
}

/// `rest` starts with `word` (ignoring case): what follows it.
fn strip_prefix_ci<'a>(rest: &'a str, word: &str) -> Option<&'a str> {
    let mut it = rest.char_indices();
    for w in word.chars() {
        let (_, r) = it.next()?;
        if !r.to_lowercase().eq(w.to_lowercase()) {
            return None;
        }
    }
    Some(it.next().map_or("", |(i, _)| &rest[i..]))
}

/// A mention ends where no letter or digit follows (a sentence's full stop is fine:
/// `@mario.` mentions mario, `@mario.rossi` does not).
fn ends_here(after: &str) -> bool {
    let mut cs = after.chars();
    match cs.next() {
        None => true,
        Some(c) if c.is_alphanumeric() || c == '_' => false,
        Some('.' | '-' | '\'') => !cs.next().is_some_and(char::is_alphanumeric),
        Some(_) => true,
    }
}

/// The indices in `names` (each a user's display name and e-mail local part) of the users
/// `body` mentions (see the module doc).
pub fn mentioned<'a>(
    body: &str,
    names: impl Iterator<Item = (usize, [&'a str; 2])> + Clone,
) -> Vec<usize> {
    let mut found = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in body.char_indices() {
        let at_start = prev.is_none_or(|p| !p.is_alphanumeric());
        prev = Some(c);
        if c != '@' || !at_start {
            continue;
        }
        let rest = &body[i + 1..];
        let mut best: Option<(usize, usize)> = None; // (length, user)
        for (user, words) in names.clone() {
            for w in words {
                if w.is_empty() {
                    continue;
                }
                if let Some(after) = strip_prefix_ci(rest, w)
                    && ends_here(after)
                    && best.is_none_or(|(len, _)| w.len() > len)
                {
                    best = Some((w.len(), user));
                }
            }
        }
        if let Some((_, user)) = best
            && !found.contains(&user)
        {
            found.push(user);
        }
    }
    found
}

/// The users of `who`'s organisation that `body` mentions and who may read activity `a`:
/// enabled, not `who`. Empty (without a query) when the text holds no `@`.
pub async fn readers_mentioned(
    store: &Store,
    who: &Principal,
    a: &Loaded,
    body: &str,
) -> Result<Vec<String>> {
    if !body.contains('@') {
        return Ok(Vec::new());
    }
    let people: Vec<_> = users::users_of_org(store, &who.org_id)
        .await?
        .into_iter()
        .filter(|u| !u.disabled && u.id != who.user_id)
        .collect();
    let names = people.iter().enumerate().map(|(i, u)| {
        let local = u.email.split('@').next().unwrap_or_default();
        (i, [u.name.as_str(), local])
    });
    let facts = a.facts();
    let mut out = Vec::new();
    for i in mentioned(body, names) {
        let u = &people[i];
        let principal = Principal {
            user_id: u.id.clone(),
            org_id: u.org_id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            is_admin: u.is_admin,
            is_auditor: u.is_auditor,
        };
        let person = grants::person(store, &principal).await?;
        if authorize(&person, Operation::ReadActivity(&facts)).is_ok() {
            out.push(u.id.clone());
        }
    }
    Ok(out)
}

/// Cursor tag of the list.
const SORT: &str = "notifications";

/// The caller's notifications, newest first. One whose activity the caller can no longer
/// read is left out (its excerpt would tell what they may not see).
pub async fn list(
    store: &Store,
    who: &Principal,
    unread_only: bool,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<NotificationView>> {
    let cursor = Cursor::decode(cursor, SORT)?;
    let key = cursor.as_ref().map(Cursor::key_i64).transpose()?;
    let rows = db::list(
        store,
        &ListFilter {
            org_id: &who.org_id,
            user_id: &who.user_id,
            unread_only,
            after: key.zip(cursor.as_ref().map(|c| c.id.as_str())),
            limit: limit + 1,
        },
    )
    .await?;
    let mut page = paginate(
        rows,
        limit,
        |r| Cursor::new(r.created_at, &r.id).encode(SORT),
        |r| r,
    );
    let person = grants::person(store, who).await?;
    // Activity id → its title when the caller may read it, `None` when not.
    let mut readable: HashMap<String, Option<String>> = HashMap::new();
    for r in &page.items {
        if readable.contains_key(&r.activity_id) {
            continue;
        }
        let title = match load(store, who, &r.activity_id).await {
            Ok(a) => authorize(&person, Operation::ReadActivity(&a.facts()))
                .is_ok()
                .then(|| a.row.title.clone()),
            Err(Error::NotFound) => None,
            Err(e) => return Err(e),
        };
        readable.insert(r.activity_id.clone(), title);
    }
    let items = std::mem::take(&mut page.items)
        .into_iter()
        .filter_map(|r| {
            let title = readable.get(&r.activity_id).cloned().flatten()?;
            Some(view(r, Some(title)))
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Marks one of the caller's notifications read and answers with it; 404 for any other.
pub async fn mark_read(store: &Store, who: &Principal, id: &str) -> Result<NotificationView> {
    let row = db::mark_read(store, &who.org_id, &who.user_id, id, now_ms())
        .await?
        .ok_or(Error::NotFound)?;
    let person = grants::person(store, who).await?;
    let title = match load(store, who, &row.activity_id).await {
        Ok(a) => authorize(&person, Operation::ReadActivity(&a.facts()))
            .is_ok()
            .then(|| a.row.title.clone()),
        Err(Error::NotFound) => None,
        Err(e) => return Err(e),
    };
    Ok(view(row, title))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<[&'static str; 2]> {
        vec![
            ["Paolo Rossi", "paolo.rossi"],
            ["Paolo Rossini", "p.rossini"],
            ["Àlda Nùñez", "alda"],
        ]
    }

    fn hits(body: &str) -> Vec<usize> {
        let u = users();
        let mut v = mentioned(body, u.iter().copied().enumerate());
        v.sort_unstable();
        v
    }

    #[test]
    fn names_and_local_parts_are_mentions() {
        assert_eq!(hits("@Paolo Rossi guarda"), vec![0]);
        assert_eq!(hits("ciao @paolo rossini."), vec![1]);
        assert_eq!(hits("@p.rossini, @alda."), vec![1, 2]);
        assert_eq!(hits("(@ÀLDA NÙÑEZ)"), vec![2]);
        assert_eq!(hits("@Paolo Rossi e ancora @paolo.rossi"), vec![0]);
    }

    #[test]
    fn near_misses_are_not() {
        assert!(hits("scrivi a paolo.rossi@ente.it").is_empty());
        assert!(hits("@Paolo Rossiello").is_empty());
        assert!(hits("@paolo.rossi.bis").is_empty());
        assert!(hits("@Paolo").is_empty());
        assert!(hits("@ Paolo Rossi").is_empty());
    }

    #[test]
    fn an_excerpt_is_cut_with_an_ellipsis() {
        assert_eq!(excerpt(" a\n b "), "a b");
        let long = "é".repeat(300);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS);
        assert!(e.ends_with('…'));
    }
}
