//! Activities: creation (from messages, ex novo, bulk), visibility, edits with optimistic
//! concurrency, moves along the flow (checked by `pecdesk_core::activity`), drafts bound to
//! approvals, comments with history.

use pecdesk_core::activity::{self, Actor, Context, Flow, Status, TransitionError};
use pecdesk_core::authz::Person;
use pecdesk_core::policy::ActivityAccess;
use serde::{Deserialize, Deserializer, Serialize};

use crate::auth::Principal;
use crate::bind_all;
use crate::error::{Error, Result};
use crate::store::audit::{Action, Chain};
use crate::store::query::{Binds, Page, like_patterns, parse_cursor};
use crate::store::visibility;
use crate::store::{Engine, Store, WriteTx, audit, ms_to_rfc3339, new_id, now_ms, parse_ts};
use crate::{with_pool, with_tx};

/// Columns of [`ActivityRow`].
pub const ACTIVITY_COLS: &str = "a.id, a.org_id, a.mailbox_id, a.title, a.description, a.priority, \
    a.due_at, a.status, a.flow, a.assignee_id, a.team_id, a.approver_id, a.category, a.tags, \
    a.version, a.approved_draft_version, a.created_by, a.created_at, a.updated_at";

/// `json_object` arguments rebuilding an [`ActivityRow`] from the columns of [`ACTIVITY_COLS`].
const SQLITE_JSON_FIELDS: &str = "'id', a.id, 'org_id', a.org_id, 'mailbox_id', a.mailbox_id, \
    'title', a.title, 'description', a.description, 'priority', a.priority, 'due_at', a.due_at, \
    'status', a.status, 'flow', a.flow, 'assignee_id', a.assignee_id, 'team_id', a.team_id, \
    'approver_id', a.approver_id, 'category', a.category, 'tags', a.tags, 'version', a.version, \
    'approved_draft_version', a.approved_draft_version, 'created_by', a.created_by, \
    'created_at', a.created_at, 'updated_at', a.updated_at";

/// A stored activity.
#[derive(Debug, Clone, sqlx::FromRow, Deserialize)]
pub struct ActivityRow {
    pub id: String,
    pub org_id: String,
    pub mailbox_id: String,
    pub title: String,
    pub description: String,
    pub priority: String,
    pub due_at: Option<i64>,
    pub status: String,
    pub flow: String,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    pub approver_id: Option<String>,
    pub category: Option<String>,
    pub tags: String,
    pub version: i64,
    pub approved_draft_version: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActivityRow {
    fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Open)
    }
    fn flow(&self) -> Flow {
        Flow::parse(&self.flow).unwrap_or_default()
    }
}

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
    pub team_id: Option<String>,
    pub approver_id: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// Send it back with every change (optimistic concurrency).
    pub version: i64,
    /// The draft version the approver approved (null: none, or voided by an edit).
    pub approved_draft_version: Option<i64>,
    pub created_by: String,
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
}

impl ActivityRow {
    /// The list view.
    pub fn into_response(self) -> ActivityResponse {
        ActivityResponse {
            tags: serde_json::from_str(&self.tags).unwrap_or_default(),
            id: self.id,
            mailbox_id: self.mailbox_id,
            title: self.title,
            description: self.description,
            priority: self.priority,
            due_at: self.due_at.map(ms_to_rfc3339),
            status: self.status,
            flow: self.flow,
            assignee_id: self.assignee_id,
            team_id: self.team_id,
            approver_id: self.approver_id,
            category: self.category,
            version: self.version,
            approved_draft_version: self.approved_draft_version,
            created_by: self.created_by,
            created_at: ms_to_rfc3339(self.created_at),
            updated_at: ms_to_rfc3339(self.updated_at),
            message_ids: None,
            draft: None,
            allowed_actions: None,
        }
    }
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
    pub updated_at: String,
    pub sent_at: Option<String>,
}

/// Stored draft content.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, sqlx::FromRow)]
struct DraftRow {
    version: i64,
    content: String,
    updated_by: String,
    updated_at: i64,
    sent_at: Option<i64>,
}

impl DraftRow {
    fn into_view(self) -> DraftView {
        let c: DraftRequest = serde_json::from_str(&self.content).unwrap_or(DraftRequest {
            to: vec![],
            cc: vec![],
            subject: String::new(),
            body: String::new(),
            attachments: vec![],
        });
        DraftView {
            version: self.version,
            to: c.to,
            cc: c.cc,
            subject: c.subject,
            body: c.body,
            attachments: c.attachments,
            updated_by: self.updated_by,
            updated_at: ms_to_rfc3339(self.updated_at),
            sent_at: self.sent_at.map(ms_to_rfc3339),
        }
    }
}

/// An activity together with what the caller may do on it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub row: ActivityRow,
    pub access: ActivityAccess,
}

/// Loads an activity the caller may read, or 404 (also for other organisations).
pub async fn load(store: &Store, who: &Principal, grants: &Person, id: &str) -> Result<Loaded> {
    let sql = format!("SELECT {ACTIVITY_COLS} FROM activities a WHERE a.id = $1 AND a.org_id = $2");
    let row: Option<ActivityRow> = with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(&who.org_id)
        .fetch_optional(p)
        .await)?;
    let row = row.ok_or(Error::NotFound)?;
    let access = access_of(&row, who, grants);
    if !access.can_read() {
        return Err(Error::NotFound);
    }
    Ok(Loaded { row, access })
}

fn access_of(row: &ActivityRow, who: &Principal, grants: &Person) -> ActivityAccess {
    let is_assignee = row.assignee_id.as_deref() == Some(&who.user_id)
        || row
            .team_id
            .as_ref()
            .is_some_and(|t| grants.teams.iter().any(|m| m == t));
    ActivityAccess {
        mailbox: grants.on(&row.mailbox_id),
        is_assignee,
        is_approver: row.approver_id.as_deref() == Some(&who.user_id),
    }
}

async fn draft_of(store: &Store, activity_id: &str) -> Result<Option<DraftRow>> {
    Ok(with_pool!(store, |p| {
        sqlx::query_as(
        "SELECT version, content, updated_by, updated_at, sent_at FROM drafts WHERE activity_id = $1"
    )
    .bind(activity_id)
    .fetch_optional(p)
    .await
    })?)
}

fn context(l: &Loaded, draft_version: Option<i64>, who: &Principal) -> Context {
    Context {
        flow: l.row.flow(),
        actor: Actor {
            can_work: l.access.can_write(),
            is_manager: l.access.can_manage(),
            is_approver: l.row.approver_id.as_deref() == Some(&who.user_id),
        },
        has_draft: draft_version.is_some(),
        has_approver: l.row.approver_id.is_some(),
        draft_approved: draft_version.is_some() && l.row.approved_draft_version == draft_version,
    }
}

/// The detail view: linked messages, draft, allowed actions.
pub async fn detail(store: &Store, who: &Principal, l: Loaded) -> Result<ActivityResponse> {
    let message_ids: Vec<String> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT message_id FROM activity_messages WHERE activity_id = $1 ORDER BY message_id"
    )
    .bind(&l.row.id)
    .fetch_all(p)
    .await)?;
    let draft = draft_of(store, &l.row.id).await?;
    let ctx = context(&l, draft.as_ref().map(|d| d.version), who);
    let actions = activity::allowed_actions(l.row.status(), &ctx)
        .into_iter()
        .map(|a| match a {
            activity::Action::Transition(s) => s.as_str().to_owned(),
            activity::Action::Send => "send".to_owned(),
        })
        .collect();
    let mut r = l.row.into_response();
    r.message_ids = Some(message_ids);
    r.draft = draft.map(DraftRow::into_view);
    r.allowed_actions = Some(actions);
    Ok(r)
}

/// `null` → `Some(None)`, absent → `None`, value → `Some(Some(v))`.
fn double_option<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `POST /api/v1/activities` (and the shared fields of bulk creation).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CreateActivityRequest {
    pub mailbox_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub message_ids: Vec<String>,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`.
    pub due_at: Option<String>,
    pub priority: Option<String>,
    /// `standard` (default) or `approval`.
    pub flow: Option<String>,
    pub approver_id: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Body of `PATCH /api/v1/activities/{id}`: only the fields present change.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PatchActivityRequest {
    /// The version the caller last saw.
    pub version: i64,
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Option<String>>,
    pub priority: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub approver_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

fn check_title(t: &str) -> Result<String> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 300 {
        return Err(Error::invalid(
            "titolo obbligatorio, al massimo 300 caratteri / title required, at most 300 characters",
        ));
    }
    Ok(t.to_owned())
}

fn check_priority(p: Option<&str>) -> Result<String> {
    let p = p.unwrap_or("normal");
    if PRIORITIES.contains(&p) {
        Ok(p.to_owned())
    } else {
        Err(Error::invalid(
            "priorità non valida (low, normal, high, urgent) / invalid priority",
        ))
    }
}

fn check_due(d: Option<&str>) -> Result<Option<i64>> {
    match d {
        None => Ok(None),
        Some(s) => parse_ts(s)
            .map(Some)
            .ok_or_else(|| Error::invalid("data di scadenza non valida / invalid due_at")),
    }
}

/// Checks a user id is an enabled user of the organisation.
async fn check_user(tx: &mut WriteTx, org: &str, user: &str) -> Result<()> {
    let ok: Option<i64> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM users WHERE id = $1 AND org_id = $2 AND disabled = $3"
    )
    .bind(user)
    .bind(org)
    .bind(false)
    .fetch_optional(&mut *c)
    .await)?;
    ok.map(|_| ())
        .ok_or_else(|| Error::invalid("utente sconosciuto / unknown user"))
}

async fn check_team(tx: &mut WriteTx, org: &str, team: &str) -> Result<()> {
    let ok: Option<i64> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM teams WHERE id = $1 AND org_id = $2"
    )
    .bind(team)
    .bind(org)
    .fetch_optional(&mut *c)
    .await)?;
    ok.map(|_| ())
        .ok_or_else(|| Error::invalid("team sconosciuto / unknown team"))
}

/// An approver must hold activity read and write on the mailbox (own or team grants).
async fn check_approver(tx: &mut WriteTx, org: &str, mailbox: &str, user: &str) -> Result<()> {
    check_user(tx, org, user).await?;
    let policies: Vec<String> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT g.policy FROM grants g WHERE g.mailbox_id = $1 AND g.user_id = $2 \
         UNION ALL SELECT g.policy FROM grants g JOIN team_members tm ON tm.team_id = g.team_id \
         WHERE g.mailbox_id = $1 AND tm.user_id = $2"
    )
    .bind(mailbox)
    .bind(user)
    .fetch_all(&mut *c)
    .await)?;
    let perms = policies
        .iter()
        .filter_map(|p| pecdesk_core::policy::Policy::parse(p))
        .fold(pecdesk_core::policy::Permissions::NONE, |a, p| a.with(p));
    if perms.can_approve() {
        Ok(())
    } else {
        Err(Error::invalid(
            "l'approvatore deve poter leggere e scrivere le attività della casella / \
             the approver needs activity read and write on the mailbox",
        ))
    }
}

/// Checks the mailbox is of the caller's organisation and the caller manages its activities.
async fn check_manager(
    store: &Store,
    who: &Principal,
    grants: &Person,
    mailbox: &str,
) -> Result<()> {
    let exists: Option<i64> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM mailboxes WHERE id = $1 AND org_id = $2"
    )
    .bind(mailbox)
    .bind(&who.org_id)
    .fetch_optional(p)
    .await)?;
    if exists.is_none() {
        return Err(Error::NotFound);
    }
    if !grants.on(mailbox).can_manage_activities() {
        return Err(Error::forbidden(
            "serve MAIL_ACTIVITY_MANAGER sulla casella / MAIL_ACTIVITY_MANAGER needed on the mailbox",
        ));
    }
    Ok(())
}

/// Subject (or a fallback) of a message of the org, checking it belongs to `mailbox`.
async fn message_in_mailbox(
    tx: &mut WriteTx,
    org: &str,
    mailbox: &str,
    message_id: &str,
) -> Result<Option<String>> {
    let row: Option<(String, Option<String>)> = with_tx!(tx, |c| sqlx::query_as(
        "SELECT mailbox_id, subject FROM messages WHERE id = $1 AND org_id = $2"
    )
    .bind(message_id)
    .bind(org)
    .fetch_optional(&mut *c)
    .await)?;
    let (mb, subject) = row.ok_or(Error::NotFound)?;
    if mb != mailbox {
        return Err(Error::invalid(
            "il messaggio è di un'altra casella / the message belongs to another mailbox",
        ));
    }
    Ok(subject)
}

async fn insert(
    tx: &mut WriteTx,
    who: &Principal,
    req: &CreateActivityRequest,
    title: &str,
    message_ids: &[String],
) -> Result<String> {
    let priority = check_priority(req.priority.as_deref())?;
    let due = check_due(req.due_at.as_deref())?;
    let flow = match req.flow.as_deref() {
        None => Flow::Standard,
        Some(f) => Flow::parse(f).ok_or_else(|| {
            Error::invalid("flusso non valido (standard, approval) / invalid flow")
        })?,
    };
    if let Some(u) = &req.assignee_id {
        check_user(tx, &who.org_id, u).await?;
    }
    if let Some(t) = &req.team_id {
        check_team(tx, &who.org_id, t).await?;
    }
    if let Some(a) = &req.approver_id {
        check_approver(tx, &who.org_id, &req.mailbox_id, a).await?;
    }
    let id = new_id();
    let now = now_ms();
    let tags = serde_json::to_string(&req.tags).map_err(|e| Error::Internal(e.into()))?;
    let description = req.description.clone().unwrap_or_default();
    let search = format!(
        "{} \u{1f} {} \u{1f} {}",
        title,
        description,
        req.category.as_deref().unwrap_or("")
    )
    .to_lowercase();
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO activities (id, org_id, mailbox_id, title, description, priority, due_at, status, \
         flow, assignee_id, team_id, approver_id, category, tags, version, created_by, created_at, \
         updated_at, search_text) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11, $12, \
         $13, 1, $14, $15, $15, $16)"
    )
    .bind(&id)
    .bind(&who.org_id)
    .bind(&req.mailbox_id)
    .bind(title)
    .bind(&description)
    .bind(&priority)
    .bind(due)
    .bind(flow.as_str())
    .bind(&req.assignee_id)
    .bind(&req.team_id)
    .bind(&req.approver_id)
    .bind(&req.category)
    .bind(&tags)
    .bind(&who.user_id)
    .bind(now)
    .bind(&search)
    .execute(&mut *c)
    .await
    .map(|_| ())
    })?;
    for m in message_ids {
        with_tx!(tx, |c| sqlx::query(
            "INSERT INTO activity_messages (activity_id, message_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING"
        )
        .bind(&id)
        .bind(m)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::ActivityCreate,
        object_type: "activity",
        object_id: &id,
        details: serde_json::json!({
            "mailbox_id": req.mailbox_id, "message_ids": message_ids, "flow": flow.as_str(),
            "assignee_id": req.assignee_id, "team_id": req.team_id, "approver_id": req.approver_id,
        }),
    })
    .await?;
    Ok(id)
}

/// Creates one activity from zero or more messages of one mailbox.
pub async fn create(
    store: &Store,
    who: &Principal,
    grants: &Person,
    req: &CreateActivityRequest,
) -> Result<String> {
    check_manager(store, who, grants, &req.mailbox_id).await?;
    let title = check_title(&req.title)?;
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    for m in &req.message_ids {
        message_in_mailbox(&mut tx, &who.org_id, &req.mailbox_id, m).await?;
    }
    let id = insert(&mut tx, who, req, &title, &req.message_ids).await?;
    tx.commit().await?;
    tracing::info!(activity.id = %id, user.id = %who.user_id, "activity created");
    Ok(id)
}

/// Creates one activity per message, in one transaction (all or none).
pub async fn create_bulk(
    store: &Store,
    who: &Principal,
    grants: &Person,
    req: &CreateActivityRequest,
) -> Result<Vec<String>> {
    check_manager(store, who, grants, &req.mailbox_id).await?;
    if req.message_ids.is_empty() || req.message_ids.len() > 500 {
        return Err(Error::invalid(
            "da 1 a 500 messaggi / between 1 and 500 messages",
        ));
    }
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let mut ids = Vec::with_capacity(req.message_ids.len());
    for m in &req.message_ids {
        let subject = message_in_mailbox(&mut tx, &who.org_id, &req.mailbox_id, m).await?;
        let title = if req.title.trim().is_empty() {
            subject.unwrap_or_else(|| format!("Messaggio {m}"))
        } else {
            req.title.clone()
        };
        let title = check_title(&title)?;
        ids.push(insert(&mut tx, who, req, &title, std::slice::from_ref(m)).await?);
    }
    tx.commit().await?;
    tracing::info!(count = ids.len(), user.id = %who.user_id, "activities created in bulk");
    Ok(ids)
}

/// Filters and order of the activity list.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct ActivityFilter {
    pub mailbox: Option<String>,
    /// `me` or a user id.
    pub assignee: Option<String>,
    pub status: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`.
    pub due_before: Option<String>,
    pub q: Option<String>,
    /// `due_at` (default), `-due_at`, `created_at`, `-created_at`, `updated_at`, `-updated_at`.
    pub sort: Option<String>,
    pub cursor: Option<String>,
    /// 1..=200, default 50.
    pub limit: Option<i64>,
}

/// Lists the activities the caller may read.
pub async fn list(
    store: &Store,
    who: &Principal,
    grants: &Person,
    f: &ActivityFilter,
) -> Result<Page<ActivityResponse>> {
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    let offset = parse_cursor(f.cursor.as_deref())?;
    let mut b = Binds::default();
    let org = b.text(who.org_id.clone());
    let mut sql = if f.assignee.as_deref() == Some("me") {
        let me = b.text(who.user_id.clone());
        // The assignee always sees their activities: no visibility OR, which lets the
        // planner walk the (assignee_id, due key) index in order and stop after one page.
        format!(
            "SELECT {ACTIVITY_COLS} FROM activities a WHERE a.org_id = {org} AND a.assignee_id = {me}"
        )
    } else {
        let visible = visibility::activity_visible(&mut b, "a", grants);
        let mut sql = format!(
            "SELECT {ACTIVITY_COLS} FROM activities a WHERE a.org_id = {org} AND {visible}"
        );
        if let Some(u) = &f.assignee {
            sql.push_str(&format!(" AND a.assignee_id = {}", b.text(u.clone())));
        }
        sql
    };
    if let Some(mb) = &f.mailbox {
        sql.push_str(&format!(" AND a.mailbox_id = {}", b.text(mb.clone())));
    }
    if let Some(st) = &f.status {
        let mut ps = Vec::new();
        for s in st.split(',') {
            let s = Status::parse(s.trim())
                .ok_or_else(|| Error::invalid("stato non valido / invalid status"))?;
            ps.push(b.text(s.as_str()));
        }
        sql.push_str(&format!(" AND a.status IN ({})", ps.join(", ")));
    }
    if let Some(d) = &f.due_before {
        let ms = check_due(Some(d))?.unwrap_or_default();
        sql.push_str(&format!(" AND a.due_at < {}", b.int(ms)));
    }
    if let Some(q) = &f.q {
        for pat in like_patterns(q) {
            sql.push_str(&format!(
                " AND a.search_text LIKE {} ESCAPE '\\'",
                b.text(pat)
            ));
        }
    }
    // NULL due dates last on both engines (SQLite and PostgreSQL order NULLs differently);
    // the default key is exactly the indexed expression (migration 0003), so a page is read
    // in index order.
    let order = match f.sort.as_deref().unwrap_or("due_at") {
        "due_at" => "COALESCE(a.due_at, 9223372036854775807), a.id",
        "-due_at" => "(a.due_at IS NULL), a.due_at DESC, a.id",
        "created_at" => "a.created_at, a.id",
        "-created_at" => "a.created_at DESC, a.id",
        "updated_at" => "a.updated_at, a.id",
        "-updated_at" => "a.updated_at DESC, a.id",
        _ => return Err(Error::invalid("ordinamento non valido / invalid sort")),
    };
    sql.push_str(&format!(
        " ORDER BY {order} LIMIT {} OFFSET {}",
        b.int(limit + 1),
        b.int(offset)
    ));
    let mut rows: Vec<ActivityRow> = match store.engine() {
        // sqlx hands SQLite rows one by one from its worker thread, copying every value:
        // for a page of 50 that dominated the cost of "my activities" (see
        // docs/BENCHMARKS.md). SQLite builds the page as one JSON array instead; the inner
        // query, its filters and its order are the same text as on PostgreSQL.
        Engine::Sqlite => {
            let wrapped = format!(
                "SELECT json_group_array(json_object({SQLITE_JSON_FIELDS})) FROM ({sql}) a"
            );
            let json: String = with_pool!(store, |p| bind_all!(sqlx::query_scalar(&wrapped), b)
                .fetch_one(p)
                .await)?;
            serde_json::from_str(&json).map_err(|e| Error::Internal(e.into()))?
        }
        Engine::Postgres => with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
            .fetch_all(p)
            .await)?,
    };
    let lim = usize::try_from(limit).unwrap_or(50);
    let more = rows.len() > lim;
    rows.truncate(lim);
    Ok(Page {
        items: rows.into_iter().map(ActivityRow::into_response).collect(),
        next_cursor: more.then(|| (offset + limit).to_string()),
    })
}

fn stale() -> Error {
    Error::conflict(
        "l'attività è stata modificata da altri: ricarica / the activity changed meanwhile: reload (stale version)",
    )
}

fn flow_error(e: TransitionError) -> Error {
    if e.is_permission() {
        Error::forbidden(e.to_string())
    } else {
        Error::conflict(e.to_string())
    }
}

/// Edits an activity (managers only), checking `version`.
pub async fn patch(
    store: &Store,
    who: &Principal,
    grants: &Person,
    id: &str,
    req: &PatchActivityRequest,
) -> Result<()> {
    let l = load(store, who, grants, id).await?;
    if !l.access.can_manage() {
        return Err(Error::forbidden(
            "serve MAIL_ACTIVITY_MANAGER sulla casella / MAIL_ACTIVITY_MANAGER needed on the mailbox",
        ));
    }
    if req.version != l.row.version {
        return Err(stale());
    }
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let mut b = Binds::default();
    let mut sets: Vec<String> = Vec::new();
    let mut changed: Vec<&str> = Vec::new();
    let mut title = l.row.title.clone();
    let mut description = l.row.description.clone();
    if let Some(t) = &req.title {
        title = check_title(t)?;
        sets.push(format!("title = {}", b.text(title.clone())));
        changed.push("title");
    }
    if let Some(d) = &req.description {
        description = d.clone();
        sets.push(format!("description = {}", b.text(d.clone())));
        changed.push("description");
    }
    if let Some(p) = &req.priority {
        sets.push(format!("priority = {}", b.text(check_priority(Some(p))?)));
        changed.push("priority");
    }
    if let Some(d) = &req.due_at {
        match check_due(d.as_deref())? {
            Some(ms) => sets.push(format!("due_at = {}", b.int(ms))),
            None => sets.push("due_at = NULL".into()),
        }
        changed.push("due_at");
    }
    if let Some(a) = &req.assignee_id {
        match a {
            Some(u) => {
                check_user(&mut tx, &who.org_id, u).await?;
                sets.push(format!("assignee_id = {}", b.text(u.clone())));
            }
            None => sets.push("assignee_id = NULL".into()),
        }
        changed.push("assignee_id");
    }
    if let Some(t) = &req.team_id {
        match t {
            Some(t) => {
                check_team(&mut tx, &who.org_id, t).await?;
                sets.push(format!("team_id = {}", b.text(t.clone())));
            }
            None => sets.push("team_id = NULL".into()),
        }
        changed.push("team_id");
    }
    if let Some(a) = &req.approver_id {
        match a {
            Some(u) => {
                check_approver(&mut tx, &who.org_id, &l.row.mailbox_id, u).await?;
                sets.push(format!("approver_id = {}", b.text(u.clone())));
            }
            None => sets.push("approver_id = NULL".into()),
        }
        changed.push("approver_id");
        // A new approver has approved nothing: any approval (given or pending) is void.
        if a.as_deref() != l.row.approver_id.as_deref() {
            sets.push("approved_draft_version = NULL".into());
            let st = activity::status_after_draft_edit(l.row.status());
            sets.push(format!("status = {}", b.text(st.as_str())));
        }
    }
    if let Some(c) = &req.category {
        match c {
            Some(c) => sets.push(format!("category = {}", b.text(c.clone()))),
            None => sets.push("category = NULL".into()),
        }
        changed.push("category");
    }
    if let Some(t) = &req.tags {
        let tags = serde_json::to_string(t).map_err(|e| Error::Internal(e.into()))?;
        sets.push(format!("tags = {}", b.text(tags)));
        changed.push("tags");
    }
    let search = format!(
        "{} \u{1f} {} \u{1f} {}",
        title,
        description,
        l.row.category.as_deref().unwrap_or("")
    )
    .to_lowercase();
    sets.push(format!("search_text = {}", b.text(search)));
    sets.push(format!("updated_at = {}", b.int(now_ms())));
    sets.push("version = version + 1".into());
    let sql = format!(
        "UPDATE activities SET {} WHERE id = {} AND version = {}",
        sets.join(", "),
        b.text(id),
        b.int(req.version)
    );
    let n = with_tx!(tx, |c| bind_all!(sqlx::query(&sql), b)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(stale());
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::ActivityUpdate,
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({"fields": changed, "version": req.version + 1}),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How a move was asked for (for the audit log and the approval record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `POST .../transitions`.
    Transition,
    /// `POST .../approval-request`.
    ApprovalRequest,
    /// `POST .../approval`.
    Approval,
    /// `POST .../send`.
    Send,
}

/// A requested move: target status (none for send), expected version, how it was asked.
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    /// Target status (`None` when sending).
    pub to: Option<Status>,
    /// The version the caller last saw (checked when given).
    pub version: Option<i64>,
    /// Which endpoint asked.
    pub via: Via,
    /// The approver's note.
    pub note: Option<&'a str>,
}

/// Moves an activity along its flow (or sends its draft), checked by the core's state
/// machine and by `version` when given.
pub async fn move_to(
    store: &Store,
    who: &Principal,
    grants: &Person,
    id: &str,
    mv: Move<'_>,
) -> Result<()> {
    let Move {
        to,
        version,
        via,
        note,
    } = mv;
    let l = load(store, who, grants, id).await?;
    if !(l.access.can_write() || l.access.can_manage()) {
        return Err(Error::forbidden(
            "non puoi modificare questa attività / you may not change this activity",
        ));
    }
    if version.is_some_and(|v| v != l.row.version) {
        return Err(stale());
    }
    let draft = draft_of(store, id).await?;
    let draft_version = draft
        .as_ref()
        .filter(|d| d.sent_at.is_none())
        .map(|d| d.version);
    let ctx = context(&l, draft_version, who);
    let from = l.row.status();
    let new_status = match (via, to) {
        (Via::Send, _) => activity::send(from, &ctx).map_err(flow_error)?,
        (_, Some(to)) => activity::transition(from, to, &ctx).map_err(flow_error)?,
        (_, None) => {
            return Err(Error::invalid(
                "stato di destinazione mancante / missing target status",
            ));
        }
    };
    let now = now_ms();
    let approved_version = match new_status {
        Status::Approved => draft_version,
        Status::Done if via == Via::Send => l.row.approved_draft_version,
        Status::Done => l.row.approved_draft_version,
        _ => None,
    };
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let n = with_tx!(tx, |c| {
        sqlx::query(
        "UPDATE activities SET status = $1, approved_draft_version = $2, version = version + 1, \
         updated_at = $3 WHERE id = $4 AND version = $5"
    )
    .bind(new_status.as_str())
    .bind(approved_version)
    .bind(now)
    .bind(id)
    .bind(l.row.version)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(stale());
    }
    if matches!(new_status, Status::Approved | Status::ChangesRequested) {
        with_tx!(tx, |c| {
            sqlx::query(
            "INSERT INTO approvals (id, activity_id, draft_version, decision, note, decided_by, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(new_id())
        .bind(id)
        .bind(draft_version.unwrap_or(0))
        .bind(if new_status == Status::Approved { "approve" } else { "request_changes" })
        .bind(note.unwrap_or(""))
        .bind(&who.user_id)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|_| ())
        })?;
    }
    if via == Via::Send {
        with_tx!(tx, |c| sqlx::query(
            "UPDATE drafts SET sent_at = $1 WHERE activity_id = $2"
        )
        .bind(now)
        .bind(id)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    if new_status == Status::Done {
        // A closed activity means its messages have been worked.
        with_tx!(tx, |c| sqlx::query(
            "UPDATE messages SET state = 'worked' WHERE id IN \
             (SELECT message_id FROM activity_messages WHERE activity_id = $1)"
        )
        .bind(id)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    let action = match via {
        Via::Transition => Action::ActivityTransition,
        Via::ApprovalRequest => Action::ActivityApprovalRequest,
        Via::Approval => Action::ActivityApproval,
        Via::Send => Action::ActivitySend,
    };
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action,
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({
            "from": from.as_str(), "to": new_status.as_str(), "draft_version": draft_version,
            "version": l.row.version + 1,
        }),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(activity.id = %id, user.id = %who.user_id, to = new_status.as_str(), "activity moved");
    Ok(())
}

/// Writes the draft. Any edit bumps its version and voids an approval given or pending.
pub async fn put_draft(
    store: &Store,
    who: &Principal,
    grants: &Person,
    id: &str,
    req: &DraftRequest,
) -> Result<DraftView> {
    let l = load(store, who, grants, id).await?;
    if !l.access.can_write() {
        return Err(Error::forbidden(
            "non puoi modificare questa bozza / you may not edit this draft",
        ));
    }
    let from = l.row.status();
    if from.is_closed() {
        return Err(Error::conflict("attività chiusa / the activity is closed"));
    }
    if req.body.len() > 512 * 1024 || req.to.len() + req.cc.len() > 500 {
        return Err(Error::invalid("bozza troppo grande / draft too large"));
    }
    let content = serde_json::to_string(req).map_err(|e| Error::Internal(e.into()))?;
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let current: Option<(i64, Option<i64>)> = with_tx!(tx, |c| sqlx::query_as(
        "SELECT version, sent_at FROM drafts WHERE activity_id = $1"
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await)?;
    if current.is_some_and(|(_, sent)| sent.is_some()) {
        return Err(Error::conflict("bozza già inviata / draft already sent"));
    }
    let version = current.map_or(1, |(v, _)| v + 1);
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO drafts (activity_id, version, content, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (activity_id) DO UPDATE SET version = $2, content = $3, updated_by = $4, updated_at = $5"
    )
    .bind(id)
    .bind(version)
    .bind(&content)
    .bind(&who.user_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|_| ())
    })?;
    // Security invariant: an approval is bound to the exact draft version it saw.
    let new_status = activity::status_after_draft_edit(from);
    let voided = l.row.approved_draft_version.is_some() || new_status != from;
    with_tx!(tx, |c| sqlx::query(
        "UPDATE activities SET status = $1, approved_draft_version = NULL, version = version + 1, \
         updated_at = $2 WHERE id = $3"
    )
    .bind(new_status.as_str())
    .bind(now)
    .bind(id)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::DraftUpdate,
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({"draft_version": version, "approval_voided": voided}),
    })
    .await?;
    tx.commit().await?;
    draft_of(store, id)
        .await?
        .map(DraftRow::into_view)
        .ok_or(Error::NotFound)
}

/// Links one more message (of the same mailbox, readable by the caller).
pub async fn link_message(
    store: &Store,
    who: &Principal,
    grants: &Person,
    id: &str,
    message_id: &str,
) -> Result<()> {
    let l = load(store, who, grants, id).await?;
    if !l.access.can_write() {
        return Err(Error::forbidden(
            "non puoi modificare questa attività / you may not change this activity",
        ));
    }
    crate::domain::messages::load_readable(store, who, grants, message_id).await?;
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    message_in_mailbox(&mut tx, &who.org_id, &l.row.mailbox_id, message_id).await?;
    let n = with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO activity_messages (activity_id, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    )
    .bind(id)
    .bind(message_id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(Error::conflict(
            "messaggio già collegato / message already linked",
        ));
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::ActivityLinkMessage,
        object_type: "activity",
        object_id: id,
        details: serde_json::json!({"message_id": message_id}),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A comment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommentView {
    pub id: String,
    pub activity_id: String,
    pub author_id: String,
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

#[derive(Debug, sqlx::FromRow)]
struct CommentRow {
    id: String,
    activity_id: String,
    author_id: String,
    body: String,
    created_at: i64,
    edited_at: Option<i64>,
}

/// Body of comment creation and edit.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CommentRequest {
    pub body: String,
}

fn check_comment(body: &str) -> Result<()> {
    if body.trim().is_empty() || body.len() > 64 * 1024 {
        return Err(Error::invalid(
            "commento vuoto o troppo lungo / empty or too long comment",
        ));
    }
    Ok(())
}

async fn comment_views(store: &Store, rows: Vec<CommentRow>) -> Result<Vec<CommentView>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let history: Vec<(String, i64)> = if r.edited_at.is_some() {
            with_pool!(store, |p| {
                sqlx::query_as(
                "SELECT body, replaced_at FROM comment_edits WHERE comment_id = $1 ORDER BY replaced_at"
            )
            .bind(&r.id)
            .fetch_all(p)
            .await
            })?
        } else {
            Vec::new()
        };
        out.push(CommentView {
            id: r.id,
            activity_id: r.activity_id,
            author_id: r.author_id,
            body: r.body,
            created_at: ms_to_rfc3339(r.created_at),
            edited_at: r.edited_at.map(ms_to_rfc3339),
            history: history
                .into_iter()
                .map(|(body, at)| CommentEdit {
                    body,
                    replaced_at: ms_to_rfc3339(at),
                })
                .collect(),
        });
    }
    Ok(out)
}

/// The comments of a readable activity.
pub async fn list_comments(
    store: &Store,
    who: &Principal,
    grants: &Person,
    id: &str,
) -> Result<Vec<CommentView>> {
    load(store, who, grants, id).await?;
    let rows: Vec<CommentRow> = with_pool!(store, |p| sqlx::query_as(
        "SELECT id, activity_id, author_id, body, created_at, edited_at FROM comments \
         WHERE activity_id = $1 ORDER BY created_at, id"
    )
    .bind(id)
    .fetch_all(p)
    .await)?;
    comment_views(store, rows).await
}

async fn load_comment(store: &Store, id: &str) -> Result<CommentRow> {
    let row: Option<CommentRow> = with_pool!(store, |p| {
        sqlx::query_as(
        "SELECT id, activity_id, author_id, body, created_at, edited_at FROM comments WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await
    })?;
    row.ok_or(Error::NotFound)
}

/// Adds a comment (writers and participants).
pub async fn add_comment(
    store: &Store,
    who: &Principal,
    grants: &Person,
    id: &str,
    body: &str,
) -> Result<CommentView> {
    let l = load(store, who, grants, id).await?;
    if !l.access.can_write() {
        return Err(Error::forbidden(
            "non puoi commentare questa attività / you may not comment on this activity",
        ));
    }
    check_comment(body)?;
    let cid = new_id();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO comments (id, org_id, activity_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(&cid)
    .bind(&who.org_id)
    .bind(id)
    .bind(&who.user_id)
    .bind(body)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ())
    })?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::CommentCreate,
        object_type: "comment",
        object_id: &cid,
        details: serde_json::json!({"activity_id": id}),
    })
    .await?;
    tx.commit().await?;
    let row = load_comment(store, &cid).await?;
    Ok(comment_views(store, vec![row]).await?.remove(0))
}

/// Edits a comment: only its author; the old text is kept in the history.
pub async fn edit_comment(
    store: &Store,
    who: &Principal,
    grants: &Person,
    comment_id: &str,
    body: &str,
) -> Result<CommentView> {
    let row = load_comment(store, comment_id).await?;
    // Visibility first (404 for other orgs' or unreadable activities), then authorship.
    load(store, who, grants, &row.activity_id).await?;
    if row.author_id != who.user_id {
        return Err(Error::forbidden(
            "solo l'autore può modificare il commento / only the author may edit the comment",
        ));
    }
    check_comment(body)?;
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO comment_edits (comment_id, body, replaced_at) SELECT id, body, $2 FROM comments WHERE id = $1"
    )
    .bind(comment_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|_| ())
    })?;
    with_tx!(tx, |c| sqlx::query(
        "UPDATE comments SET body = $1, edited_at = $2 WHERE id = $3"
    )
    .bind(body)
    .bind(now)
    .bind(comment_id)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::CommentEdit,
        object_type: "comment",
        object_id: comment_id,
        details: serde_json::json!({"activity_id": row.activity_id}),
    })
    .await?;
    tx.commit().await?;
    let row = load_comment(store, comment_id).await?;
    Ok(comment_views(store, vec![row]).await?.remove(0))
}
