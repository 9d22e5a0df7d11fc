//! The directory: the users and teams of one organisation as pickers see them (names,
//! e-mail, membership counts), narrowed by who holds a grant on a mailbox; and the names
//! beside the ids of one activity.
//!
//! Every query is scoped by the caller's organisation: nothing of another organisation is
//! ever listed. Lists are keyset-paged by (name, id).

use crate::bind_all;
use crate::error::Result;
use crate::store::Store;
use crate::store::query::{self, Bind, Binds, like_patterns};
use crate::with_pool;

/// A user as the directory shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DirectoryUserRow {
    pub id: String,
    pub name: String,
    /// Sign-in address (shown to colleagues of the same organisation; never logged).
    pub email: String,
    pub disabled: bool,
}

/// A team as the directory shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DirectoryTeamRow {
    pub id: String,
    pub name: String,
    /// Made of people outside the organisation.
    pub external: bool,
    /// How many users belong to it.
    pub members: i64,
}

/// A grant filter: holders of `policy` (or of any policy) on `mailbox`, directly or
/// through a team.
#[derive(Debug, Clone, Copy)]
pub struct Holding<'a> {
    pub mailbox: &'a str,
    pub policy: Option<&'a str>,
}

/// Filters of [`users`] and [`teams`] (already checked by the caller).
#[derive(Debug, Clone, Default)]
pub struct DirectoryFilter<'a> {
    pub org_id: &'a str,
    /// Only holders of this grant.
    pub holding: Option<Holding<'a>>,
    /// Users: only members of this team.
    pub team: Option<&'a str>,
    /// Users: only enabled ones.
    pub enabled_only: bool,
    /// Words that must each appear in the name (or, for users, the e-mail).
    pub q: Option<&'a str>,
    /// The last row of the previous page: name and id.
    pub after: Option<(&'a str, &'a str)>,
    /// Rows to read.
    pub limit: i64,
}

/// `g.policy = $p` when a policy is named, else nothing.
fn policy_clause(b: &mut Binds, h: &Holding<'_>) -> String {
    match h.policy {
        Some(p) => format!(" AND g.policy = {}", b.text(p)),
        None => String::new(),
    }
}

/// The search words and the keyset condition on (`name`, `id`) of the row aliased `t`,
/// then the order and the limit.
fn finish(b: &mut Binds, sql: &mut String, t: &str, f: &DirectoryFilter<'_>, email: bool) {
    if let Some(q) = f.q {
        for pat in like_patterns(q) {
            let p = b.text(pat);
            if email {
                sql.push_str(&format!(
                    " AND (LOWER({t}.name) LIKE {p} ESCAPE '\\' OR {t}.email LIKE {p} ESCAPE '\\')"
                ));
            } else {
                sql.push_str(&format!(" AND LOWER({t}.name) LIKE {p} ESCAPE '\\'"));
            }
        }
    }
    if let Some((name, id)) = f.after {
        let cond = query::after(
            b,
            &format!("{t}.name"),
            &format!("{t}.id"),
            Bind::Text(name.to_owned()),
            id,
            false,
        );
        sql.push_str(&format!(" AND {cond}"));
    }
    sql.push_str(&format!(
        " ORDER BY {t}.name, {t}.id LIMIT {}",
        b.int(f.limit)
    ));
}

/// Users of the organisation by name, narrowed by the filter.
pub async fn users(store: &Store, f: &DirectoryFilter<'_>) -> Result<Vec<DirectoryUserRow>> {
    let mut b = Binds::default();
    let org = b.text(f.org_id);
    let mut sql =
        format!("SELECT u.id, u.name, u.email, u.disabled FROM users u WHERE u.org_id = {org}");
    if f.enabled_only {
        sql.push_str(" AND u.disabled = false");
    }
    if let Some(h) = &f.holding {
        let mb = b.text(h.mailbox);
        let pol = policy_clause(&mut b, h);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM grants g WHERE g.org_id = {org} AND g.mailbox_id = {mb}{pol} \
             AND (g.user_id = u.id OR g.team_id IN \
             (SELECT tm.team_id FROM team_members tm WHERE tm.user_id = u.id)))"
        ));
    }
    if let Some(t) = f.team {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM team_members tm JOIN teams tt ON tt.id = tm.team_id \
             WHERE tm.user_id = u.id AND tm.team_id = {} AND tt.org_id = {org})",
            b.text(t)
        ));
    }
    finish(&mut b, &mut sql, "u", f, true);
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// The policies on `mailbox` of each of `users` (own and through teams), as (user, policy)
/// pairs: one query for a page of candidates.
pub async fn policies_on(
    store: &Store,
    org_id: &str,
    mailbox: &str,
    users: &[String],
) -> Result<Vec<(String, String)>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut b = Binds::default();
    let org = b.text(org_id);
    let mb = b.text(mailbox);
    let ids = b.list(users);
    let sql = format!(
        "SELECT g.user_id, g.policy FROM grants g WHERE g.org_id = {org} AND g.mailbox_id = {mb} \
         AND g.user_id IN {ids} \
         UNION ALL SELECT tm.user_id, g.policy FROM grants g \
         JOIN team_members tm ON tm.team_id = g.team_id \
         WHERE g.org_id = {org} AND g.mailbox_id = {mb} AND tm.user_id IN {ids}"
    );
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// Teams of the organisation by name with their member counts, narrowed by the filter
/// (a grant filter matches the team's own grants).
pub async fn teams(store: &Store, f: &DirectoryFilter<'_>) -> Result<Vec<DirectoryTeamRow>> {
    let mut b = Binds::default();
    let org = b.text(f.org_id);
    let mut sql = format!(
        "SELECT t.id, t.name, t.external, \
         (SELECT COUNT(*) FROM team_members tm WHERE tm.team_id = t.id) AS members \
         FROM teams t WHERE t.org_id = {org}"
    );
    if let Some(h) = &f.holding {
        let mb = b.text(h.mailbox);
        let pol = policy_clause(&mut b, h);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM grants g WHERE g.org_id = {org} AND g.mailbox_id = {mb}{pol} \
             AND g.team_id = t.id)"
        ));
    }
    finish(&mut b, &mut sql, "t", f, false);
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// The names beside the ids of one activity (and of its draft's last writer), in one
/// query; all `None` when the activity is not of organisation `org`.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ActivityNames {
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub approver: Option<String>,
    pub created_by: Option<String>,
    /// Who last wrote the draft.
    pub draft_updated_by: Option<String>,
}

/// Reads [`ActivityNames`] of activity `id` of organisation `org`.
pub async fn activity_names(store: &Store, org: &str, id: &str) -> Result<ActivityNames> {
    let row: Option<ActivityNames> = with_pool!(store, |p| sqlx::query_as(
        "SELECT nas.name AS assignee, nt.name AS team, nap.name AS approver, \
         ncr.name AS created_by, ndu.name AS draft_updated_by FROM activities a \
         LEFT JOIN users nas ON nas.id = a.assignee_id LEFT JOIN teams nt ON nt.id = a.team_id \
         LEFT JOIN users nap ON nap.id = a.approver_id \
         LEFT JOIN users ncr ON ncr.id = a.created_by \
         LEFT JOIN drafts d ON d.activity_id = a.id LEFT JOIN users ndu ON ndu.id = d.updated_by \
         WHERE a.id = $1 AND a.org_id = $2"
    )
    .bind(id)
    .bind(org)
    .fetch_optional(p)
    .await)?;
    Ok(row.unwrap_or_default())
}

/// [`ActivityNames`] with one linked message id (none when nothing is linked).
#[derive(Debug, sqlx::FromRow)]
struct NamesAndMessageRow {
    #[sqlx(flatten)]
    names: ActivityNames,
    message_id: Option<String>,
}

/// The names of activity `id` of organisation `org` and the ids of its linked messages,
/// sorted, in one query (one row per linked message): what the detail needs besides the
/// activity itself.
pub async fn names_and_message_ids(
    store: &Store,
    org: &str,
    id: &str,
) -> Result<(ActivityNames, Vec<String>)> {
    let rows: Vec<NamesAndMessageRow> = with_pool!(store, |p| sqlx::query_as(
        "SELECT nas.name AS assignee, nt.name AS team, nap.name AS approver, \
         ncr.name AS created_by, ndu.name AS draft_updated_by, am.message_id FROM activities a \
         LEFT JOIN users nas ON nas.id = a.assignee_id LEFT JOIN teams nt ON nt.id = a.team_id \
         LEFT JOIN users nap ON nap.id = a.approver_id \
         LEFT JOIN users ncr ON ncr.id = a.created_by \
         LEFT JOIN drafts d ON d.activity_id = a.id LEFT JOIN users ndu ON ndu.id = d.updated_by \
         LEFT JOIN activity_messages am ON am.activity_id = a.id \
         WHERE a.id = $1 AND a.org_id = $2 ORDER BY am.message_id"
    )
    .bind(id)
    .bind(org)
    .fetch_all(p)
    .await)?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut names = None;
    for r in rows {
        ids.extend(r.message_id);
        names.get_or_insert(r.names);
    }
    Ok((names.unwrap_or_default(), ids))
}
