//! Activities: rows, the list (with SQLite's JSON page), lookups, inserts and updates, and
//! an activity's links to messages (`activity_messages`, the mailbox check of a message,
//! marking linked messages worked on close).
//!
//! Every function is scoped by organisation where it takes an id from the caller; the
//! domain decides permissions (through `crate::authz`) before it writes.

use pecdesk_core::activity::{Flow, Priority, Status};
use pecdesk_core::authz::{ActivityFacts, Person};
use pecdesk_core::policy::Policy;
use serde::Deserialize;

use crate::bind_all;
use crate::error::{Error, Result};
use crate::store::drafts::DraftRow;
use crate::store::query::{self, Bind, Binds, like_patterns};
use crate::store::visibility;
use crate::store::{Engine, Store, WriteTx};
use crate::{with_pool, with_tx};

/// Columns of [`ActivityRow`], for the activities row aliased `a`.
const ACTIVITY_COLS: &str = "a.id, a.org_id, a.mailbox_id, a.title, a.description, a.priority, \
    a.due_at, a.status, a.flow, a.assignee_id, a.team_id, a.approver_id, a.category, a.tags, \
    a.version, a.approved_draft_version, a.created_by, a.created_at, a.updated_at";

/// The same columns unqualified, for `RETURNING` after an update.
const RETURNING_COLS: &str = "id, org_id, mailbox_id, title, description, priority, \
    due_at, status, flow, assignee_id, team_id, approver_id, category, tags, \
    version, approved_draft_version, created_by, created_at, updated_at";

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
    /// JSON array of text.
    pub tags: String,
    pub version: i64,
    pub approved_draft_version: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActivityRow {
    /// The stored status (`open` if the column holds something unknown).
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or_default()
    }

    /// The stored flow.
    pub fn flow(&self) -> Flow {
        Flow::parse(&self.flow).unwrap_or_default()
    }

    /// What the core's decisions need to know about this activity, given the version of
    /// its draft not yet sent. The one place facts are built from a row.
    pub fn facts(&self, draft_version: Option<i64>) -> ActivityFacts {
        ActivityFacts {
            mailbox_id: self.mailbox_id.clone(),
            status: self.status(),
            flow: self.flow(),
            assignee_id: self.assignee_id.clone(),
            team_id: self.team_id.clone(),
            approver_id: self.approver_id.clone(),
            draft_version,
            approved_draft_version: self.approved_draft_version,
            // Who wrote the draft and who asked for approval come from the draft's history
            // (`crate::store::drafts::history`), added by the domain's `Loaded::facts`.
            ..ActivityFacts::default()
        }
    }
}

/// An activity with its draft, read together.
#[derive(Debug, sqlx::FromRow)]
struct ActivityDraftRow {
    #[sqlx(flatten)]
    activity: ActivityRow,
    draft_version: Option<i64>,
    draft_content: Option<String>,
    draft_updated_by: Option<String>,
    draft_updated_at: Option<i64>,
    draft_sent_at: Option<i64>,
}

/// Loads an activity of organisation `org` and its draft, in one query.
pub async fn load(
    store: &Store,
    org: &str,
    id: &str,
) -> Result<Option<(ActivityRow, Option<DraftRow>)>> {
    let sql = format!(
        "SELECT {ACTIVITY_COLS}, d.version AS draft_version, d.content AS draft_content, \
         d.updated_by AS draft_updated_by, d.updated_at AS draft_updated_at, \
         d.sent_at AS draft_sent_at \
         FROM activities a LEFT JOIN drafts d ON d.activity_id = a.id \
         WHERE a.id = $1 AND a.org_id = $2"
    );
    let row: Option<ActivityDraftRow> = with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(org)
        .fetch_optional(p)
        .await)?;
    Ok(row.map(|r| {
        let draft = match (
            r.draft_version,
            r.draft_content,
            r.draft_updated_by,
            r.draft_updated_at,
        ) {
            (Some(version), Some(content), Some(updated_by), Some(updated_at)) => Some(DraftRow {
                version,
                content,
                updated_by,
                updated_at,
                sent_at: r.draft_sent_at,
            }),
            _ => None,
        };
        (r.activity, draft)
    }))
}

const MESSAGE_IDS: &str =
    "SELECT message_id FROM activity_messages WHERE activity_id = $1 ORDER BY message_id";

/// Ids of the messages linked to an activity, sorted.
pub async fn message_ids(store: &Store, activity_id: &str) -> Result<Vec<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(MESSAGE_IDS)
        .bind(activity_id)
        .fetch_all(p)
        .await)?)
}

/// [`message_ids`] inside a write transaction (after a write, on its connection).
pub async fn message_ids_tx(tx: &mut WriteTx, activity_id: &str) -> Result<Vec<String>> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(MESSAGE_IDS)
        .bind(activity_id)
        .fetch_all(&mut *c)
        .await)?)
}

/// Whether `mailbox` is a mailbox of organisation `org`.
pub async fn mailbox_exists(store: &Store, org: &str, mailbox: &str) -> Result<bool> {
    let hit: Option<i64> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM mailboxes WHERE id = $1 AND org_id = $2"
    )
    .bind(mailbox)
    .bind(org)
    .fetch_optional(p)
    .await)?;
    Ok(hit.is_some())
}

/// Whether `user` is an enabled user of organisation `org`.
pub async fn user_enabled(store: &Store, org: &str, user: &str) -> Result<bool> {
    let hit: Option<i64> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM users WHERE id = $1 AND org_id = $2 AND disabled = $3"
    )
    .bind(user)
    .bind(org)
    .bind(false)
    .fetch_optional(p)
    .await)?;
    Ok(hit.is_some())
}

/// Whether `team` is a team of organisation `org`.
pub async fn team_exists(store: &Store, org: &str, team: &str) -> Result<bool> {
    let hit: Option<i64> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM teams WHERE id = $1 AND org_id = $2"
    )
    .bind(team)
    .bind(org)
    .fetch_optional(p)
    .await)?;
    Ok(hit.is_some())
}

/// An enabled user of `org` as a would-be approver: their permissions on `mailbox` (own
/// and team grants) and their teams, or `None` when there is no such user. One query: a
/// marker row for the user, then the policies, then the teams.
pub async fn candidate(
    store: &Store,
    org: &str,
    mailbox: &str,
    user: &str,
) -> Result<Option<Person>> {
    let rows: Vec<(Option<String>, Option<String>)> = with_pool!(store, |p| sqlx::query_as(
        "SELECT CAST(NULL AS TEXT), CAST(NULL AS TEXT) FROM users \
         WHERE id = $2 AND org_id = $3 AND disabled = $4 \
         UNION ALL SELECT g.policy, CAST(NULL AS TEXT) FROM grants g \
         WHERE g.mailbox_id = $1 AND g.user_id = $2 AND g.org_id = $3 \
         UNION ALL SELECT g.policy, CAST(NULL AS TEXT) FROM grants g \
         JOIN team_members tm ON tm.team_id = g.team_id \
         WHERE g.mailbox_id = $1 AND tm.user_id = $2 AND g.org_id = $3 \
         UNION ALL SELECT CAST(NULL AS TEXT), tm.team_id FROM team_members tm \
         WHERE tm.user_id = $2"
    )
    .bind(mailbox)
    .bind(user)
    .bind(org)
    .bind(false)
    .fetch_all(p)
    .await)?;
    if !rows.iter().any(|(p, t)| p.is_none() && t.is_none()) {
        return Ok(None);
    }
    let mut person = Person::new(user);
    for (policy, team) in rows {
        if let Some(p) = policy.as_deref().and_then(Policy::parse) {
            person.grant(mailbox, p);
        }
        if let Some(t) = team {
            person.teams.push(t);
        }
    }
    Ok(Some(person))
}

/// Mailbox and subject of a message of organisation `org` (inside the write, so the
/// message cannot move between the check and the link).
pub async fn message_mailbox(
    tx: &mut WriteTx,
    org: &str,
    message_id: &str,
) -> Result<Option<(String, Option<String>)>> {
    Ok(with_tx!(tx, |c| sqlx::query_as(
        "SELECT mailbox_id, subject FROM messages WHERE id = $1 AND org_id = $2"
    )
    .bind(message_id)
    .bind(org)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Mailbox of a message of organisation `org` and whether `who` participates in an
/// activity linked to it: the facts of reading it before linking it.
pub async fn message_facts(
    store: &Store,
    org: &str,
    message_id: &str,
    who: &Person,
) -> Result<Option<(String, bool)>> {
    let mut b = Binds::default();
    let id = b.text(message_id);
    let org_p = b.text(org);
    let part = visibility::message_participation(&mut b, "m", &org_p, who);
    let sql = format!(
        "SELECT m.mailbox_id, CASE WHEN {part} THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END \
         FROM messages m WHERE m.id = {id} AND m.org_id = {org_p}"
    );
    let row: Option<(String, i64)> = with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_optional(p)
        .await)?;
    Ok(row.map(|(mb, part)| (mb, part != 0)))
}

/// Links messages to an activity; returns how many links are new.
pub async fn link_messages(tx: &mut WriteTx, activity_id: &str, ids: &[String]) -> Result<u64> {
    let mut n = 0;
    for m in ids {
        n += with_tx!(tx, |c| sqlx::query(
            "INSERT INTO activity_messages (activity_id, message_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING"
        )
        .bind(activity_id)
        .bind(m)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(n)
}

/// Marks the messages linked to an activity `worked` (a closed activity means its messages
/// have been worked).
pub async fn mark_messages_worked(tx: &mut WriteTx, activity_id: &str) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET state = 'worked' WHERE id IN \
         (SELECT message_id FROM activity_messages WHERE activity_id = $1)"
    )
    .bind(activity_id)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The lowercased text the list's `q` searches: title, description, category.
pub fn search_text(title: &str, description: &str, category: Option<&str>) -> String {
    format!(
        "{} \u{1f} {} \u{1f} {}",
        title,
        description,
        category.unwrap_or("")
    )
    .to_lowercase()
}

/// Inserts a new activity as given (status, version and timestamps included).
pub async fn insert(tx: &mut WriteTx, a: &ActivityRow) -> Result<()> {
    let search = search_text(&a.title, &a.description, a.category.as_deref());
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO activities (id, org_id, mailbox_id, title, description, priority, due_at, \
         status, flow, assignee_id, team_id, approver_id, category, tags, version, created_by, \
         created_at, updated_at, search_text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17, $18, $19)"
    )
    .bind(&a.id)
    .bind(&a.org_id)
    .bind(&a.mailbox_id)
    .bind(&a.title)
    .bind(&a.description)
    .bind(&a.priority)
    .bind(a.due_at)
    .bind(&a.status)
    .bind(&a.flow)
    .bind(&a.assignee_id)
    .bind(&a.team_id)
    .bind(&a.approver_id)
    .bind(&a.category)
    .bind(&a.tags)
    .bind(a.version)
    .bind(&a.created_by)
    .bind(a.created_at)
    .bind(a.updated_at)
    .bind(&search)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A field to set, or to clear (`None`).
pub type Change<T> = Option<Option<T>>;

/// The changes of an edit; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ActivityChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<Priority>,
    pub due_at: Change<i64>,
    pub assignee_id: Change<String>,
    pub team_id: Change<String>,
    pub approver_id: Change<String>,
    /// Voids any approval (given or pending) and sets this status.
    pub void_approval: Option<Status>,
    pub category: Change<String>,
    pub tags: Option<Vec<String>>,
    /// The new search text (always rewritten).
    pub search_text: String,
    pub updated_at: i64,
}

fn set_text(b: &mut Binds, sets: &mut Vec<String>, col: &str, v: &Change<String>) {
    match v {
        Some(Some(t)) => sets.push(format!("{col} = {}", b.text(t.clone()))),
        Some(None) => sets.push(format!("{col} = NULL")),
        None => {}
    }
}

/// Applies an edit if the activity is still at `version`; returns the updated row, or
/// `None` when someone changed it meanwhile.
pub async fn update(
    tx: &mut WriteTx,
    id: &str,
    version: i64,
    ch: &ActivityChanges,
) -> Result<Option<ActivityRow>> {
    let mut b = Binds::default();
    let mut sets: Vec<String> = Vec::new();
    if let Some(t) = &ch.title {
        sets.push(format!("title = {}", b.text(t.clone())));
    }
    if let Some(d) = &ch.description {
        sets.push(format!("description = {}", b.text(d.clone())));
    }
    if let Some(p) = ch.priority {
        sets.push(format!("priority = {}", b.text(p.as_str())));
    }
    match ch.due_at {
        Some(Some(ms)) => sets.push(format!("due_at = {}", b.int(ms))),
        Some(None) => sets.push("due_at = NULL".into()),
        None => {}
    }
    set_text(&mut b, &mut sets, "assignee_id", &ch.assignee_id);
    set_text(&mut b, &mut sets, "team_id", &ch.team_id);
    set_text(&mut b, &mut sets, "approver_id", &ch.approver_id);
    if let Some(st) = ch.void_approval {
        sets.push("approved_draft_version = NULL".into());
        sets.push(format!("status = {}", b.text(st.as_str())));
    }
    set_text(&mut b, &mut sets, "category", &ch.category);
    if let Some(t) = &ch.tags {
        let tags = serde_json::to_string(t).map_err(|e| Error::Internal(e.into()))?;
        sets.push(format!("tags = {}", b.text(tags)));
    }
    sets.push(format!("search_text = {}", b.text(ch.search_text.clone())));
    sets.push(format!("updated_at = {}", b.int(ch.updated_at)));
    sets.push("version = version + 1".into());
    let sql = format!(
        "UPDATE activities SET {} WHERE id = {} AND version = {} RETURNING {RETURNING_COLS}",
        sets.join(", "),
        b.text(id),
        b.int(version)
    );
    Ok(with_tx!(tx, |c| bind_all!(sqlx::query_as(&sql), b)
        .fetch_optional(&mut *c)
        .await)?)
}

/// Moves an activity to `status` (with the approved draft version it now carries) if it
/// is still at `version`; returns the updated row, or `None` when it changed meanwhile.
pub async fn set_status(
    tx: &mut WriteTx,
    id: &str,
    version: i64,
    status: Status,
    approved_draft_version: Option<i64>,
    now: i64,
) -> Result<Option<ActivityRow>> {
    let sql = format!(
        "UPDATE activities SET status = $1, approved_draft_version = $2, version = version + 1, \
         updated_at = $3, \
         closed_at = CASE WHEN $1 IN ('done', 'cancelled') THEN $3 ELSE NULL END \
         WHERE id = $4 AND version = $5 RETURNING {RETURNING_COLS}"
    );
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(status.as_str())
        .bind(approved_draft_version)
        .bind(now)
        .bind(id)
        .bind(version)
        .fetch_optional(&mut *c)
        .await)?)
}

/// Whose activities a list shows.
#[derive(Debug, Clone)]
pub enum Assignee {
    /// The caller's own: no visibility predicate needed (the assignee always sees them).
    Me(String),
    /// Visible activities assigned to this user.
    User(String),
    /// Visible activities assigned to nobody (free work).
    Nobody,
    /// Every visible activity.
    Any,
}

/// Which team's activities a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamFilter {
    /// Routed to this team.
    Team(String),
    /// Routed to no team.
    Nobody,
}

/// The order of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Due date, nearest first, none last (the default).
    #[default]
    Due,
    /// Due date, farthest first, none last.
    DueDesc,
    /// Creation, oldest first.
    Created,
    /// Creation, newest first.
    CreatedDesc,
    /// Last change, oldest first.
    Updated,
    /// Last change, newest first.
    UpdatedDesc,
}

impl Sort {
    /// Parses the wire name (`due_at`, `-due_at`, `created_at`, ...).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "due_at" => Sort::Due,
            "-due_at" => Sort::DueDesc,
            "created_at" => Sort::Created,
            "-created_at" => Sort::CreatedDesc,
            "updated_at" => Sort::Updated,
            "-updated_at" => Sort::UpdatedDesc,
            _ => return None,
        })
    }

    /// The wire name, also the tag of this order's cursors.
    pub fn name(self) -> &'static str {
        match self {
            Sort::Due => "due_at",
            Sort::DueDesc => "-due_at",
            Sort::Created => "created_at",
            Sort::CreatedDesc => "-created_at",
            Sort::Updated => "updated_at",
            Sort::UpdatedDesc => "-updated_at",
        }
    }

    /// Newest or farthest first.
    fn desc(self) -> bool {
        matches!(self, Sort::DueDesc | Sort::CreatedDesc | Sort::UpdatedDesc)
    }

    /// The sort key as SQL. No due date sorts last both ways: as the largest key going up,
    /// the smallest going down (SQLite and PostgreSQL order NULLs differently, a number
    /// orders the same on both). The ascending due key is exactly the indexed expression
    /// (migration 0003), so a page is read in index order.
    fn key_sql(self) -> &'static str {
        match self {
            Sort::Due => "COALESCE(a.due_at, 9223372036854775807)",
            Sort::DueDesc => "COALESCE(a.due_at, -9223372036854775807)",
            Sort::Created | Sort::CreatedDesc => "a.created_at",
            Sort::Updated | Sort::UpdatedDesc => "a.updated_at",
        }
    }

    /// The sort key of a row, as [`Sort::key_sql`] computes it.
    pub fn key_of(self, row: &ActivityRow) -> i64 {
        match self {
            Sort::Due => row.due_at.unwrap_or(i64::MAX),
            Sort::DueDesc => row.due_at.unwrap_or(-i64::MAX),
            Sort::Created | Sort::CreatedDesc => row.created_at,
            Sort::Updated | Sort::UpdatedDesc => row.updated_at,
        }
    }

    /// `KEY, a.id` in this order's direction; the id breaks ties, so every row has one
    /// place and a cursor (key, id) names exactly where the next page starts.
    fn order_by(self) -> String {
        let dir = if self.desc() { " DESC" } else { "" };
        format!("{}{dir}, a.id{dir}", self.key_sql())
    }
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub org_id: String,
    pub assignee: Assignee,
    pub mailbox: Option<String>,
    /// Only activities linked to this message (companion id).
    pub message: Option<String>,
    /// Only one team's activities (or those of no team).
    pub team: Option<TeamFilter>,
    pub statuses: Vec<Status>,
    pub due_before: Option<i64>,
    pub q: Option<String>,
    pub sort: Sort,
    /// Rows to read (the page size plus one, to know whether there is more).
    pub limit: i64,
    /// The last row of the previous page: its sort key and id.
    pub after: Option<(i64, String)>,
}

/// A row of the list with the names of the people and team it names, read by the same
/// query.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityListRow {
    #[sqlx(flatten)]
    pub row: ActivityRow,
    pub assignee_name: Option<String>,
    pub team_name: Option<String>,
    pub approver_name: Option<String>,
    pub created_by_name: Option<String>,
}

/// The names beside the ids of the activities row aliased `a`, as scalar subqueries (a
/// primary-key lookup each), with their column names. Evaluated on the page only: they sit
/// outside the query that orders and limits.
const NAMES: [(&str, &str); 4] = [
    (
        "(SELECT nu.name FROM users nu WHERE nu.id = a.assignee_id)",
        "assignee_name",
    ),
    (
        "(SELECT nt.name FROM teams nt WHERE nt.id = a.team_id)",
        "team_name",
    ),
    (
        "(SELECT nu.name FROM users nu WHERE nu.id = a.approver_id)",
        "approver_name",
    ),
    (
        "(SELECT nu.name FROM users nu WHERE nu.id = a.created_by)",
        "created_by_name",
    ),
];

/// The activities of a list, visible to `who`, in order, after the cursor, with names.
pub async fn list(store: &Store, who: &Person, lq: &ListQuery) -> Result<Vec<ActivityListRow>> {
    let mut b = Binds::default();
    let org = b.text(lq.org_id.clone());
    let mut sql = match &lq.assignee {
        // The assignee always sees their activities: no visibility OR, which lets the
        // planner walk the (assignee_id, due key) index in order and stop after one page.
        Assignee::Me(me) => {
            let me = b.text(me.clone());
            format!(
                "SELECT {ACTIVITY_COLS} FROM activities a WHERE a.org_id = {org} AND a.assignee_id = {me}"
            )
        }
        other => {
            let visible = visibility::activity_visible(&mut b, "a", who);
            let mut sql = format!(
                "SELECT {ACTIVITY_COLS} FROM activities a WHERE a.org_id = {org} AND {visible}"
            );
            match other {
                Assignee::User(u) => {
                    sql.push_str(&format!(" AND a.assignee_id = {}", b.text(u.clone())));
                }
                Assignee::Nobody => sql.push_str(" AND a.assignee_id IS NULL"),
                Assignee::Me(_) | Assignee::Any => {}
            }
            sql
        }
    };
    match &lq.team {
        Some(TeamFilter::Team(t)) => {
            sql.push_str(&format!(" AND a.team_id = {}", b.text(t.clone())));
        }
        Some(TeamFilter::Nobody) => sql.push_str(" AND a.team_id IS NULL"),
        None => {}
    }
    if let Some(mb) = &lq.mailbox {
        sql.push_str(&format!(" AND a.mailbox_id = {}", b.text(mb.clone())));
    }
    if let Some(m) = &lq.message {
        // Linked to the message: a lookup in activity_messages' message index.
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM activity_messages am WHERE am.activity_id = a.id AND am.message_id = {})",
            b.text(m.clone())
        ));
    }
    if !lq.statuses.is_empty() {
        let ps: Vec<String> = lq.statuses.iter().map(|s| b.text(s.as_str())).collect();
        sql.push_str(&format!(" AND a.status IN ({})", ps.join(", ")));
    }
    if let Some(ms) = lq.due_before {
        sql.push_str(&format!(" AND a.due_at < {}", b.int(ms)));
    }
    if let Some(q) = &lq.q {
        for pat in like_patterns(q) {
            sql.push_str(&format!(
                " AND a.search_text LIKE {} ESCAPE '\\'",
                b.text(pat)
            ));
        }
    }
    if let Some((key, id)) = &lq.after {
        let cond = query::after(
            &mut b,
            lq.sort.key_sql(),
            "a.id",
            Bind::Int(*key),
            id,
            lq.sort.desc(),
        );
        sql.push_str(&format!(" AND {cond}"));
    }
    let order = lq.sort.order_by();
    let limit = b.int(lq.limit);
    sql.push_str(&format!(" ORDER BY {order} LIMIT {limit}"));
    Ok(match store.engine() {
        // sqlx hands SQLite rows one by one from its worker thread, copying every value:
        // for a page of 50 that dominated the cost of "my activities" (see
        // docs/BENCHMARKS.md). SQLite builds the page as one JSON array instead; the inner
        // query, its filters and its order are the same text as on PostgreSQL.
        Engine::Sqlite => {
            // The names are looked up as the page is aggregated, in the page's order.
            let names: Vec<&str> = NAMES.iter().map(|(expr, _)| *expr).collect();
            let wrapped = format!(
                "SELECT json_group_array(json_array(json_object({SQLITE_JSON_FIELDS}), {})) \
                 FROM ({sql}) a",
                names.join(", ")
            );
            let json: String = with_pool!(store, |p| bind_all!(sqlx::query_scalar(&wrapped), b)
                .fetch_one(p)
                .await)?;
            type Named = (
                ActivityRow,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let rows: Vec<Named> =
                serde_json::from_str(&json).map_err(|e| Error::Internal(e.into()))?;
            rows.into_iter()
                .map(
                    |(row, assignee_name, team_name, approver_name, created_by_name)| {
                        ActivityListRow {
                            row,
                            assignee_name,
                            team_name,
                            approver_name,
                            created_by_name,
                        }
                    },
                )
                .collect()
        }
        Engine::Postgres => {
            // The names are looked up for the page only (outside the ordered, limited query);
            // the order is restated for the outer query (51 rows).
            let names: Vec<String> = NAMES
                .iter()
                .map(|(expr, col)| format!("{expr} AS {col}"))
                .collect();
            let named = format!(
                "SELECT a.*, {} FROM ({sql}) a ORDER BY {order}",
                names.join(", ")
            );
            with_pool!(store, |p| bind_all!(sqlx::query_as(&named), b)
                .fetch_all(p)
                .await)?
        }
    })
}

/// The organisation of activity `id` (`None`: no such activity).
pub async fn org_of(store: &Store, id: &str) -> Result<Option<String>> {
    Ok(with_pool!(store, |p| sqlx::query_scalar(
        "SELECT org_id FROM activities WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?)
}

/// The linked messages' Message-IDs and summaries, oldest first (a reply's thread).
pub async fn thread(store: &Store, id: &str) -> Result<Vec<(Option<String>, String)>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT m.internet_message_id, m.summary FROM activity_messages am \
         JOIN messages m ON m.id = am.message_id WHERE am.activity_id = $1 \
         ORDER BY m.received_at, m.id"
    )
    .bind(id)
    .fetch_all(p)
    .await)?)
}

/// Open activities (not done nor cancelled) visible to `who`, counted per team and
/// assignee: how many, how many past their due date at `now`, how many awaiting approval.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkloadRow {
    /// The team (none: routed to no team).
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    /// The assignee (none: nobody's, free work).
    pub assignee_id: Option<String>,
    pub assignee_name: Option<String>,
    pub open: i64,
    pub overdue: i64,
    pub awaiting_approval: i64,
}

/// The open activities of `org` visible to `who`, counted per (team, assignee): one
/// grouped query with the same visibility predicate as [`list`].
pub async fn workload(
    store: &Store,
    who: &Person,
    org: &str,
    now: i64,
) -> Result<Vec<WorkloadRow>> {
    let mut b = Binds::default();
    let org = b.text(org);
    let visible = visibility::activity_visible(&mut b, "a", who);
    let now = b.int(now);
    let done = b.text(Status::Done.as_str());
    let cancelled = b.text(Status::Cancelled.as_str());
    let waiting = b.text(Status::AwaitingApproval.as_str());
    let sql = format!(
        "SELECT a.team_id, t.name AS team_name, a.assignee_id, u.name AS assignee_name, \
         COUNT(*) AS open, \
         SUM(CASE WHEN a.due_at IS NOT NULL AND a.due_at < {now} THEN 1 ELSE 0 END) AS overdue, \
         SUM(CASE WHEN a.status = {waiting} THEN 1 ELSE 0 END) AS awaiting_approval \
         FROM activities a \
         LEFT JOIN teams t ON t.id = a.team_id \
         LEFT JOIN users u ON u.id = a.assignee_id \
         WHERE a.org_id = {org} AND {visible} AND a.status NOT IN ({done}, {cancelled}) \
         GROUP BY a.team_id, t.name, a.assignee_id, u.name"
    );
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}
