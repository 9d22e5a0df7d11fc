//! Activities, by feature: [`create`] (single and bulk), [`list`] (list and detail),
//! [`edit`] (fields, linked messages), [`flow`] (transitions and send), [`approval`]
//! (request and decision), [`draft`] (the reply draft), [`comments`].
//!
//! Every operation follows the same steps: load the activity scoped by the caller's
//! organisation (404), ask `crate::authz::authorize` (404 / 403 / 409), check the version
//! the caller saw (409 stale), write in one transaction with its audit entry, and answer
//! with what was written. This module holds what they share: the response shapes, the
//! load, the facts handed to the core and the input checks.

pub mod approval;
pub mod comments;
pub mod create;
pub mod draft;
pub mod edit;
pub mod files;
pub mod flow;
pub mod list;
pub mod outgoing;
pub mod reply;

use pecdesk_core::authz::{self, ActivityFacts, Person};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::store::activities::{self as store_activities, ActivityListRow, ActivityRow};
use crate::store::directory::{self, ActivityNames};
use crate::store::drafts::{self, DraftRow, History, StepRow};
use crate::store::{Store, ms_to_rfc3339, parse_ts};

/// An activity as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActivityResponse {
    pub id: String,
    pub mailbox_id: String,
    pub title: String,
    pub description: String,
    /// `low`, `normal`, `high`, `urgent`.
    pub priority: String,
    pub due_at: Option<String>,
    pub status: String,
    /// `standard` or `approval`.
    pub flow: String,
    pub assignee_id: Option<String>,
    /// Display name of `assignee_id`.
    pub assignee_name: Option<String>,
    pub team_id: Option<String>,
    /// Name of `team_id`.
    pub team_name: Option<String>,
    pub approver_id: Option<String>,
    /// Display name of `approver_id`.
    pub approver_name: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// Send it back with every change (optimistic concurrency).
    pub version: i64,
    /// The draft version the approver approved (null: none, or voided by an edit).
    pub approved_draft_version: Option<i64>,
    pub created_by: String,
    /// Display name of `created_by`.
    pub created_by_name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Linked messages (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_ids: Option<Vec<String>>,
    /// The reply draft (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft: Option<DraftView>,
    /// What the caller may do now, from the core's state machine (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<String>>,
    /// The approval conversation, oldest first: every request for approval and every
    /// decision, with its note, who and when (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals: Option<Vec<ApprovalStepView>>,
    /// Ids of everyone who wrote or edited the draft: none of them may approve it (detail
    /// only; the add-ins pass it to the core as `draft_authors`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft_authors: Option<Vec<String>>,
    /// What the activity sent: each outbox row with its state and, per recipient, what the
    /// receipts say; flagged when a recipient failed or is unconfirmed 24 h after sending
    /// (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<Vec<outgoing::OutgoingView>>,
}

/// Someone, by id and display name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonRef {
    pub id: String,
    /// Display name (empty if the user no longer exists).
    pub name: String,
}

/// One step of the approval conversation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalStepView {
    /// `request` (approval asked), `approve` or `request_changes` (the approver's decision).
    pub kind: String,
    /// The draft version the step is about.
    pub draft_version: i64,
    /// The note (empty when none was given).
    pub note: String,
    pub by: PersonRef,
    pub at: String,
}

fn step_view(r: StepRow) -> ApprovalStepView {
    ApprovalStepView {
        kind: r.kind,
        draft_version: r.draft_version,
        note: r.note,
        by: PersonRef {
            id: r.by_id,
            name: r.by_name.unwrap_or_default(),
        },
        at: ms_to_rfc3339(r.at),
    }
}

impl From<ActivityListRow> for ActivityResponse {
    /// A list row with its names.
    fn from(r: ActivityListRow) -> Self {
        list_view(r.row).named(ActivityNames {
            assignee: r.assignee_name,
            team: r.team_name,
            approver: r.approver_name,
            created_by: r.created_by_name,
            draft_updated_by: None,
        })
    }
}

impl ActivityResponse {
    /// The response with the names beside its ids.
    pub fn named(mut self, n: ActivityNames) -> Self {
        self.assignee_name = n.assignee;
        self.team_name = n.team;
        self.approver_name = n.approver;
        self.created_by_name = n.created_by;
        if let Some(d) = &mut self.draft {
            d.updated_by_name = n.draft_updated_by;
        }
        self
    }
}

/// `r` with the names beside its ids, read in one query: what every activity answer (detail
/// and writes) shows, so a write answers what a fresh read shows.
pub async fn with_names(
    store: &Store,
    who: &Principal,
    r: ActivityResponse,
) -> Result<ActivityResponse> {
    let names = directory::activity_names(store, &who.org_id, &r.id).await?;
    let mut r = r.named(names);
    // A detail (it lists its messages) shows what the activity sent, as a fresh read does.
    if r.message_ids.is_some() && r.outgoing.is_none() {
        r.outgoing = Some(outgoing::of_activity(store, &r.id, crate::store::now_ms()).await?);
    }
    Ok(r)
}

/// The list view of a row (names not read: see [`ActivityResponse::named`]).
pub fn list_view(row: ActivityRow) -> ActivityResponse {
    ActivityResponse {
        tags: serde_json::from_str(&row.tags).unwrap_or_default(),
        id: row.id,
        mailbox_id: row.mailbox_id,
        title: row.title,
        description: row.description,
        priority: row.priority,
        due_at: row.due_at.map(ms_to_rfc3339),
        status: row.status,
        flow: row.flow,
        assignee_id: row.assignee_id,
        assignee_name: None,
        team_id: row.team_id,
        team_name: None,
        approver_id: row.approver_id,
        approver_name: None,
        category: row.category,
        version: row.version,
        approved_draft_version: row.approved_draft_version,
        created_by: row.created_by,
        created_by_name: None,
        created_at: ms_to_rfc3339(row.created_at),
        updated_at: ms_to_rfc3339(row.updated_at),
        message_ids: None,
        draft: None,
        allowed_actions: None,
        approvals: None,
        draft_authors: None,
        outgoing: None,
    }
}

/// The detail view: the row with its linked messages, its draft, its approval
/// conversation and the flow actions `who` may take now (asked of the core).
pub fn detail_view(who: &Person, a: Loaded, message_ids: Vec<String>) -> ActivityResponse {
    let actions = authz::allowed_actions(who, &a.facts())
        .into_iter()
        .map(|x| authz::action_name(x).to_owned())
        .collect();
    let mut r = list_view(a.row);
    r.message_ids = Some(message_ids);
    r.draft = a.draft.map(draft_view);
    r.allowed_actions = Some(actions);
    r.draft_authors = Some(a.history.authors);
    r.approvals = Some(a.history.steps.into_iter().map(step_view).collect());
    r
}

/// The reply draft.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DraftView {
    /// Bumped by every edit; an approval is bound to one version.
    pub version: i64,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<String>,
    pub updated_by: String,
    /// Display name of `updated_by`.
    pub updated_by_name: Option<String>,
    pub updated_at: String,
    pub sent_at: Option<String>,
}

/// Stored draft content.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub attachments: Vec<String>,
}

impl DraftRequest {
    /// The limits of a draft ([`crate::limits`]): a one-line subject, recipients that are
    /// e-mail addresses (the core's [`EmailAddress`](pecdesk_core::ids::EmailAddress)).
    pub fn check(&self) -> Result<()> {
        use crate::limits;
        limits::line("subject", &self.subject, limits::DRAFT_SUBJECT)?;
        limits::text("body", &self.body, limits::DRAFT_BODY)?;
        limits::count(
            "to",
            self.to.len() + self.cc.len(),
            limits::DRAFT_RECIPIENTS,
        )?;
        for (field, list) in [("to", &self.to), ("cc", &self.cc)] {
            for (i, a) in list.iter().enumerate() {
                pecdesk_core::ids::EmailAddress::parse(a)
                    .map_err(|e| Error::invalid(format!("`{field}[{i}]`: {e}")))?;
            }
        }
        limits::texts(
            "attachments",
            &self.attachments,
            limits::ATTACHMENTS,
            limits::ATTACHMENT,
        )
    }
}

/// The API view of a stored draft.
pub fn draft_view(d: DraftRow) -> DraftView {
    let c: DraftRequest = serde_json::from_str(&d.content).unwrap_or_default();
    DraftView {
        version: d.version,
        to: c.to,
        cc: c.cc,
        subject: c.subject,
        body: c.body,
        attachments: c.attachments,
        updated_by: d.updated_by,
        updated_by_name: None,
        updated_at: ms_to_rfc3339(d.updated_at),
        sent_at: d.sent_at.map(ms_to_rfc3339),
    }
}

/// An activity of the caller's organisation with its draft and the draft's history.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub row: ActivityRow,
    pub draft: Option<DraftRow>,
    /// Who wrote the draft, and the approval conversation.
    pub history: History,
}

impl Loaded {
    /// The facts the core decides on: the row, the version of the draft not yet sent, who
    /// wrote the draft and who asked for the latest approval (segregation of duties).
    pub fn facts(&self) -> ActivityFacts {
        let mut f = self
            .row
            .facts(self.draft.as_ref().and_then(DraftRow::unsent_version));
        f.draft_authors = self.history.authors.clone();
        f.approval_requested_by = self.history.requested_by().map(str::to_owned);
        f.draft_sent = self.draft.as_ref().is_some_and(|d| d.sent_at.is_some());
        f
    }
}

/// Loads an activity of the caller's organisation (404 otherwise, so other organisations'
/// ids leak nothing). Permissions are asked afterwards, of the core.
pub async fn load(store: &Store, who: &Principal, id: &str) -> Result<Loaded> {
    let (row, draft) = store_activities::load(store, &who.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let history = drafts::history(store, &row.id).await?;
    Ok(Loaded {
        row,
        draft,
        history,
    })
}

/// The caller's version is not the stored one. Every write answers with the version it
/// produced (the draft's answer too, as `activity_version`), and a draft edit moves the
/// version only when it changes the activity; the message does not claim who changed it.
pub fn stale() -> Error {
    Error::conflict(
        "l'attività è cambiata dopo la versione che hai letto: ricarica e riprova / \
         the activity changed after the version you read: reload and try again",
    )
}

/// A title: trimmed, 1..=[`limits::TITLE`] characters.
fn check_title(t: &str) -> Result<String> {
    let t = t.trim();
    if t.is_empty() {
        return Err(Error::invalid(
            "campo `title`: obbligatorio / field `title`: required",
        ));
    }
    crate::limits::text("title", t, crate::limits::TITLE)?;
    Ok(t.to_owned())
}

/// The free-text fields an activity shares between creation and edit
/// ([`crate::limits`]).
fn check_texts(
    description: Option<&str>,
    category: Option<&str>,
    tags: Option<&[String]>,
) -> Result<()> {
    use crate::limits;
    limits::text(
        "description",
        description.unwrap_or_default(),
        limits::DESCRIPTION,
    )?;
    limits::text("category", category.unwrap_or_default(), limits::CATEGORY)?;
    limits::texts("tags", tags.unwrap_or_default(), limits::TAGS, limits::TAG)
}

/// A due date (RFC 3339 or `YYYY-MM-DD`) in milliseconds.
fn check_due(d: Option<&str>) -> Result<Option<i64>> {
    match d {
        None => Ok(None),
        Some(s) => parse_ts(s)
            .map(Some)
            .ok_or_else(|| Error::invalid("data di scadenza non valida / invalid due_at")),
    }
}

/// Who an activity names: assignee, team, approver. Input validation (422): the ids must
/// exist in the caller's organisation.
async fn check_people(
    store: &Store,
    org: &str,
    assignee: Option<&str>,
    team: Option<&str>,
) -> Result<()> {
    if let Some(u) = assignee
        && !store_activities::user_enabled(store, org, u).await?
    {
        return Err(unknown_user());
    }
    if let Some(t) = team
        && !store_activities::team_exists(store, org, t).await?
    {
        return Err(Error::invalid("team sconosciuto / unknown team"));
    }
    Ok(())
}

/// Who an activity will have: assignee, team and approver, as they will be stored.
#[derive(Debug, Clone, Copy, Default)]
struct Roles<'a> {
    assignee: Option<&'a str>,
    team: Option<&'a str>,
    approver: Option<&'a str>,
}

/// The approver an activity will have, if any, asked of the core
/// ([`Operation::NameApprover`]): an enabled user of the organisation (422), eligible on the
/// mailbox (422), and neither the assignee nor a member of the assigned team (409,
/// segregation of duties).
///
/// [`Operation::NameApprover`]: pecdesk_core::authz::Operation::NameApprover
async fn check_approver(
    store: &Store,
    who: &Principal,
    person: &Person,
    mailbox: &str,
    roles: Roles<'_>,
) -> Result<()> {
    let Some(approver) = roles.approver else {
        return Ok(());
    };
    let candidate = store_activities::candidate(store, &who.org_id, mailbox, approver)
        .await?
        .ok_or_else(unknown_user)?;
    crate::authz::authorize(
        person,
        authz::Operation::NameApprover {
            mailbox_id: mailbox,
            candidate: &candidate,
            assignee_id: roles.assignee,
            team_id: roles.team,
        },
    )
}

fn unknown_user() -> Error {
    Error::invalid("utente sconosciuto / unknown user")
}
