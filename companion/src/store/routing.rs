//! Routing of messages (columns `routed_*`, `rules_applied_at`, `category`, `tags`,
//! `protocol` of `messages`, migration 0012): the messages still to evaluate, the marker
//! written once under the organisation's write lock, the dispatcher queue, a team's
//! members with their load, and the round-robin cursor.

use pecdesk_core::authz::Person;
use pecdesk_core::rules::Member;

use crate::bind_all;
use crate::error::Result;
use crate::store::query::Binds;
use crate::store::visibility;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// Kinds a rule (and the dispatcher queue) looks at: messages, not receipts.
pub const ROUTABLE_KINDS: &str = "('posta-certificata', 'anomalia', 'not-pec')";

/// Whether a message of this kind is routable (receipts never are).
pub fn routable_kind(kind: &str) -> bool {
    matches!(kind, "posta-certificata" | "anomalia" | "not-pec")
}

/// A message to evaluate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    /// Message id.
    pub id: String,
    /// Mailbox.
    pub mailbox_id: String,
    /// The mailbox's address.
    pub mailbox_address: String,
    /// Key of the raw bytes.
    pub raw_sha256: String,
    /// Subject (the default title of an activity).
    pub subject: Option<String>,
    /// Sender.
    pub sender: Option<String>,
    /// PEC kind.
    pub kind: String,
    /// Import time (ms).
    pub received_at: i64,
}

const CANDIDATE_COLS: &str = "m.id, m.mailbox_id, mb.address AS mailbox_address, m.raw_sha256, \
    m.subject, m.sender, m.kind, m.received_at";

/// Of `ids`, the incoming messages of `org` that are not receipts, not trashed, not routed
/// and not yet evaluated.
pub async fn candidates(store: &Store, org: &str, ids: &[String]) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let mut b = Binds::default();
        let org = b.text(org);
        let list = b.list(chunk);
        let sql = format!(
            "SELECT {CANDIDATE_COLS} FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox_id \
             WHERE m.org_id = {org} AND m.id IN {list} AND m.direction = 'in' \
             AND m.kind IN {ROUTABLE_KINDS} AND m.trashed_at IS NULL \
             AND m.rules_applied_at IS NULL AND m.routed_at IS NULL \
             ORDER BY m.received_at, m.id"
        );
        let rows: Vec<Candidate> = with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
            .fetch_all(p)
            .await)?;
        out.extend(rows);
    }
    Ok(out)
}

/// The incoming, non-receipt, live messages of `org` received since `since` (ms), newest
/// first, at most `cap`; only those `who` may read when given (the preview).
pub async fn recent(
    store: &Store,
    org: &str,
    who: Option<&Person>,
    since: i64,
    cap: i64,
) -> Result<Vec<Candidate>> {
    let mut b = Binds::default();
    let org_p = b.text(org);
    let since = b.int(since);
    let visible = match who {
        Some(who) => format!(
            " AND {}",
            visibility::message_visible(&mut b, "m", &org_p, who)
        ),
        None => String::new(),
    };
    let cap = b.int(cap);
    let sql = format!(
        "SELECT {CANDIDATE_COLS} FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox_id \
         WHERE m.org_id = {org_p} AND m.direction = 'in' AND m.kind IN {ROUTABLE_KINDS} \
         AND m.trashed_at IS NULL AND m.received_at >= {since}{visible} \
         ORDER BY m.received_at DESC, m.id DESC LIMIT {cap}"
    );
    Ok(with_pool!(store, |p| bind_all!(sqlx::query_as(&sql), b)
        .fetch_all(p)
        .await)?)
}

/// Marks the rules evaluated for a message, once: false when another process (or an
/// earlier run) already did, or the message was routed meanwhile. Runs under the
/// organisation's write lock, so two replicas cannot both succeed.
pub async fn claim(tx: &mut WriteTx, id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET rules_applied_at = $2 \
         WHERE id = $1 AND rules_applied_at IS NULL AND routed_at IS NULL"
    )
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// When a message was routed (none: in the queue), read inside the write.
pub async fn routed_at(tx: &mut WriteTx, id: &str) -> Result<Option<i64>> {
    let at: Option<Option<i64>> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT routed_at FROM messages WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await)?;
    Ok(at.flatten())
}

/// Where a message was routed, by whom.
#[derive(Debug, Clone, Default)]
pub struct Routed<'a> {
    /// The rule that routed it.
    pub rule: Option<&'a str>,
    /// The person who routed it by hand.
    pub by_user: Option<&'a str>,
    /// The team.
    pub team: Option<&'a str>,
    /// The user (the route's user, or the member chosen in the team).
    pub user: Option<&'a str>,
    /// The activity created.
    pub activity: Option<&'a str>,
}

/// Writes the route of a message (it leaves the dispatcher queue).
pub async fn mark_routed(tx: &mut WriteTx, id: &str, r: &Routed<'_>, now: i64) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET routed_at = $2, routed_by_rule = $3, routed_by_user = $4, \
         routed_team_id = $5, routed_user_id = $6, routed_activity_id = $7 WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .bind(r.rule)
    .bind(r.by_user)
    .bind(r.team)
    .bind(r.user)
    .bind(r.activity)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// What the rules found on a message: the matches (JSON), category, tags (JSON) and
/// protocol data (JSON); `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct Labels<'a> {
    /// JSON list of the matched rules and why.
    pub matched: Option<&'a str>,
    /// Category.
    pub category: Option<&'a str>,
    /// JSON array of tags.
    pub tags: Option<&'a str>,
    /// JSON of the protocol data.
    pub protocol: Option<&'a str>,
}

/// Writes [`Labels`] on a message.
pub async fn set_labels(tx: &mut WriteTx, id: &str, l: &Labels<'_>) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE messages SET routing_matched = COALESCE($2, routing_matched), \
         category = COALESCE($3, category), tags = COALESCE($4, tags), \
         protocol = COALESCE($5, protocol) WHERE id = $1"
    )
    .bind(id)
    .bind(l.matched)
    .bind(l.category)
    .bind(l.tags)
    .bind(l.protocol)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The enabled members of a team of `org` with their open activities and their last
/// assignment, read inside the write (so two routings see each other's work).
pub async fn members(tx: &mut WriteTx, org: &str, team: &str) -> Result<Vec<Member>> {
    let rows: Vec<(String, i64, Option<i64>)> = with_tx!(tx, |c| sqlx::query_as(
        "SELECT u.id, \
         (SELECT COUNT(*) FROM activities a WHERE a.assignee_id = u.id \
          AND a.status NOT IN ('done', 'cancelled')), \
         (SELECT MAX(a.created_at) FROM activities a WHERE a.assignee_id = u.id) \
         FROM team_members tm JOIN users u ON u.id = tm.user_id \
         WHERE tm.team_id = $1 AND u.org_id = $2 AND u.disabled = $3 ORDER BY u.id"
    )
    .bind(team)
    .bind(org)
    .bind(false)
    .fetch_all(&mut *c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(user_id, open, last)| Member {
            user_id,
            open: u32::try_from(open).unwrap_or(u32::MAX),
            last_assigned_at: last,
        })
        .collect())
}

/// Whether `team` is a team of `org`, inside the write.
pub async fn team_in_org(tx: &mut WriteTx, org: &str, team: &str) -> Result<bool> {
    let hit: Option<i64> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM teams WHERE id = $1 AND org_id = $2"
    )
    .bind(team)
    .bind(org)
    .fetch_optional(&mut *c)
    .await)?;
    Ok(hit.is_some())
}

/// Whether `user` is an enabled user of `org`, inside the write.
pub async fn user_enabled(tx: &mut WriteTx, org: &str, user: &str) -> Result<bool> {
    let hit: Option<i64> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM users WHERE id = $1 AND org_id = $2 AND disabled = $3"
    )
    .bind(user)
    .bind(org)
    .bind(false)
    .fetch_optional(&mut *c)
    .await)?;
    Ok(hit.is_some())
}

/// The member of `team` routing assigned last.
pub async fn cursor(tx: &mut WriteTx, team: &str) -> Result<Option<String>> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT last_user_id FROM team_route_cursor WHERE team_id = $1"
    )
    .bind(team)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Moves the round-robin cursor of `team` to `user`.
pub async fn set_cursor(tx: &mut WriteTx, team: &str, user: &str, now: i64) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO team_route_cursor (team_id, last_user_id, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (team_id) DO UPDATE SET last_user_id = $2, updated_at = $3"
    )
    .bind(team)
    .bind(user)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The dispatcher queue as a condition on the messages row aliased `m`: incoming, still new
/// (nobody took it in charge), not a receipt, not routed, not linked to an activity (one
/// created by hand from the message has dispatched it too), in a mailbox where `who` may
/// route (`MAIL_ACTIVITY_MANAGER`).
pub fn dispatch_queue(b: &mut Binds, m: &str, who: &Person) -> String {
    let routable = b.list(&who.mailboxes_where(|p| p.can_manage_activities()));
    format!(
        "({m}.direction = 'in' AND {m}.state = 'new' AND {m}.kind IN {ROUTABLE_KINDS} \
         AND {m}.routed_at IS NULL \
         AND {m}.mailbox_id IN {routable} AND NOT EXISTS \
         (SELECT 1 FROM activity_messages dam WHERE dam.message_id = {m}.id))"
    )
}

/// The routing of one message as its detail shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoutingRow {
    /// When it was routed.
    pub routed_at: Option<i64>,
    /// When the rules were evaluated.
    pub rules_applied_at: Option<i64>,
    /// The rule that routed it.
    pub routed_by_rule: Option<String>,
    /// Its name.
    pub rule_name: Option<String>,
    /// The person who routed it by hand.
    pub routed_by_user: Option<String>,
    /// Their name.
    pub by_user_name: Option<String>,
    /// The team.
    pub routed_team_id: Option<String>,
    /// Its name.
    pub team_name: Option<String>,
    /// The user.
    pub routed_user_id: Option<String>,
    /// Their name.
    pub user_name: Option<String>,
    /// The activity created.
    pub routed_activity_id: Option<String>,
    /// JSON list of the matched rules.
    pub routing_matched: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// JSON array of tags.
    pub tags: Option<String>,
    /// JSON of the protocol data.
    pub protocol: Option<String>,
}

/// The routing columns of a message (already known to be of the caller's organisation).
pub async fn routing_of(store: &Store, id: &str) -> Result<Option<RoutingRow>> {
    Ok(with_pool!(store, |p| sqlx::query_as(
        "SELECT m.routed_at, m.rules_applied_at, m.routed_by_rule, r.name AS rule_name, \
         m.routed_by_user, bu.name AS by_user_name, m.routed_team_id, t.name AS team_name, \
         m.routed_user_id, uu.name AS user_name, m.routed_activity_id, m.routing_matched, \
         m.category, m.tags, m.protocol FROM messages m \
         LEFT JOIN rules r ON r.id = m.routed_by_rule \
         LEFT JOIN users bu ON bu.id = m.routed_by_user \
         LEFT JOIN teams t ON t.id = m.routed_team_id \
         LEFT JOIN users uu ON uu.id = m.routed_user_id WHERE m.id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?)
}
