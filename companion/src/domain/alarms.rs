//! Alarms as their readers see them: the recipients see their own, the supervisors of a
//! mailbox (`MAIL_ACTIVITY_MANAGER` or `MAIL_ACCOUNT_MANAGER`) every alarm of it, the
//! administrators all of their organisation's (the core's `SeeAlarm`). Anyone else's
//! alarm, or another organisation's, answers 404. Firing is [`crate::jobs::alarms`].

use std::collections::HashMap;

use pecdesk_core::authz::Operation;
use serde::Serialize;

use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::jobs::alarms::kind;
use crate::store::alarms::{self as db, AlarmRow, ListFilter};
use crate::store::query::{Cursor, Page, paginate};
use crate::store::{Store, grants, ms_to_rfc3339, now_ms};

/// One e-mail of an alarm.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlarmDeliveryView {
    /// The recipient (a user id).
    pub user_id: String,
    /// `queued`, `sending`, `sent`, `failed` (given up), `unsent` (no SMTP configured).
    pub state: String,
    pub attempts: i64,
    /// Why it was not sent, in words to act on.
    pub error: Option<String>,
    pub sent_at: Option<String>,
}

/// An alarm.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlarmView {
    pub id: String,
    /// `activity_due`, `pec_unconfirmed`, `quota`, `app_password`, `ingest_failing`.
    pub kind: String,
    /// `before`, `overdue`, `escalation` (activity_due); `warning` (the others).
    pub stage: String,
    /// `activity`, `outbox` (a sent message) or `mailbox`.
    pub object_type: String,
    pub object_id: String,
    pub mailbox_id: Option<String>,
    /// When the condition began to hold (for `before`: the due date minus the lead time).
    pub due_at: String,
    /// When the alarm fired.
    pub fired_at: String,
    /// `open` or `acked`.
    pub state: String,
    pub acked_by: Option<String>,
    pub acked_at: Option<String>,
    /// Who it is for (user ids).
    pub recipients: Vec<String>,
    /// Its e-mails, one per recipient.
    pub deliveries: Vec<AlarmDeliveryView>,
}

/// Cursor tag of the list.
const SORT: &str = "alarms";

async fn views(store: &Store, rows: Vec<AlarmRow>) -> Result<Vec<AlarmView>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut recipients: HashMap<String, Vec<String>> = HashMap::new();
    for (a, u) in db::recipients_of(store, &ids).await? {
        recipients.entry(a).or_default().push(u);
    }
    let mut deliveries: HashMap<String, Vec<AlarmDeliveryView>> = HashMap::new();
    for d in db::deliveries_of(store, &ids).await? {
        deliveries
            .entry(d.alarm_id)
            .or_default()
            .push(AlarmDeliveryView {
                user_id: d.user_id,
                state: d.state,
                attempts: d.attempts,
                error: d.last_error,
                sent_at: d.sent_at.map(ms_to_rfc3339),
            });
    }
    Ok(rows
        .into_iter()
        .map(|r| AlarmView {
            recipients: recipients.remove(&r.id).unwrap_or_default(),
            deliveries: deliveries.remove(&r.id).unwrap_or_default(),
            id: r.id,
            kind: r.kind,
            stage: r.stage,
            object_type: r.object_type,
            object_id: r.object_id,
            mailbox_id: r.mailbox_id,
            due_at: ms_to_rfc3339(r.due_at),
            fired_at: ms_to_rfc3339(r.fired_at),
            state: r.state,
            acked_by: r.acked_by,
            acked_at: r.acked_at.map(ms_to_rfc3339),
        })
        .collect())
}

/// The alarms `who` may see, newest first, optionally of one state and kind.
pub async fn list(
    store: &Store,
    who: &Principal,
    state: Option<&str>,
    kind_filter: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<AlarmView>> {
    if let Some(s) = state
        && !["open", "acked"].contains(&s)
    {
        return Err(Error::invalid(
            "state: usa open o acked / state: use open or acked",
        ));
    }
    if let Some(k) = kind_filter
        && !kind::ALL.contains(&k)
    {
        return Err(Error::invalid(format!(
            "kind: usa uno di {0} / kind: use one of {0}",
            kind::ALL.join(", ")
        )));
    }
    let cursor = Cursor::decode(cursor, SORT)?;
    let key = cursor.as_ref().map(Cursor::key_i64).transpose()?;
    let person = grants::person(store, who).await?;
    let supervised =
        person.mailboxes_where(|p| p.can_manage_activities() || p.can_manage_messages());
    let rows = db::list(
        store,
        &ListFilter {
            org_id: &who.org_id,
            user_id: &who.user_id,
            all: who.is_admin,
            supervised,
            state,
            kind: kind_filter,
            after: key.zip(cursor.as_ref().map(|c| c.id.as_str())),
            limit: limit + 1,
        },
    )
    .await?;
    let page = paginate(
        rows,
        limit,
        |r| Cursor::new(r.fired_at, &r.id).encode(SORT),
        |r| r,
    );
    let items = views(store, page.items).await?;
    // The query already keeps to what the caller may see; the core decides again per row.
    let items = items
        .into_iter()
        .filter(|a| {
            authorize(
                &person,
                Operation::SeeAlarm {
                    mailbox_id: a.mailbox_id.as_deref(),
                    recipient: a.recipients.contains(&who.user_id),
                },
            )
            .is_ok()
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Acknowledges an alarm `who` may see (again: nothing changes) and answers with it.
pub async fn ack(store: &Store, who: &Principal, id: &str) -> Result<AlarmView> {
    let row = db::get(store, &who.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let recipient = db::recipients_of(store, std::slice::from_ref(&row.id))
        .await?
        .iter()
        .any(|(_, u)| *u == who.user_id);
    let person = grants::person(store, who).await?;
    authorize(
        &person,
        Operation::SeeAlarm {
            mailbox_id: row.mailbox_id.as_deref(),
            recipient,
        },
    )?;
    db::ack(store, &who.org_id, id, &who.user_id, now_ms()).await?;
    let row = db::get(store, &who.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    views(store, vec![row]).await?.pop().ok_or(Error::NotFound)
}
