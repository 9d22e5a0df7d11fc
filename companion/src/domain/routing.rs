//! Routing of incoming messages by the organisation's rules (evaluation in
//! `pecdesk_core::rules`); what no rule routes waits in the dispatcher queue, from which a
//! Smistatore routes it by hand ([`route_by_hand`]).
//!
//! Exactly once: the evaluation's marker (`rules_applied_at`) and everything the decision
//! writes (the route, the activity, the labels, the audit entries) go in one
//! `begin_write(Chain::Org)` transaction that first re-checks the marker under the
//! organisation's write lock, so two replicas processing the same message route it once.
//! Automatic actions have no actor ("system"): their audit entries name the rule.

use pecdesk_core::authz::{Operation, Person};
use std::collections::HashMap;

use pecdesk_core::rules::{self, ActivitySpec, Assign, Decision, Facts, Route, Rule, RuleSpec};
use pecdesk_core::sla::Calendar;
use pecdesk_core::{InspectOptions, activity::Status};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::authz::authorize;
use crate::domain::sla::{self, DueBasis};
use crate::error::{Error, Result};
use crate::store::activities::{self as store_activities, ActivityRow};
use crate::store::audit::{self, Action, Chain};
use crate::store::routing::{self as store_routing, Candidate, Labels, Routed};
use crate::store::rules::{self as store_rules, RuleRow};
use crate::store::{Store, WriteTx, messages as store_msgs, ms_to_rfc3339, new_id, now_ms};

/// A stored rule as the core evaluates it, with the author of the activities it creates.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    /// The rule.
    pub rule: Rule,
    /// Who saved it last (else who created it).
    pub author: Option<String>,
}

/// The core's rule of a stored row (`None` when the stored JSON no longer reads: logged
/// and skipped, never fatal).
pub fn to_core(row: &RuleRow) -> Option<LoadedRule> {
    let conditions = serde_json::from_str(&row.conditions);
    let actions = serde_json::from_str(&row.actions);
    match (conditions, actions) {
        (Ok(conditions), Ok(actions)) => Some(LoadedRule {
            rule: Rule {
                id: row.id.clone(),
                spec: RuleSpec {
                    name: row.name.clone(),
                    enabled: row.enabled,
                    stop: row.stop,
                    conditions,
                    actions,
                },
            },
            author: row.updated_by.clone().or_else(|| row.created_by.clone()),
        }),
        _ => {
            tracing::warn!(rule.id = %row.id, "stored rule does not read: skipped");
            None
        }
    }
}

/// The facts rules look at, read from the stored raw message (parsing is CPU work: off
/// the async threads).
pub async fn facts_of(store: &Store, c: &Candidate) -> Result<Facts> {
    Ok(read(store, c).await?.0)
}

/// The facts rules look at and the certified time of the message (daticert `data`, ms).
async fn read(store: &Store, c: &Candidate) -> Result<(Facts, Option<i64>)> {
    let raw = store_msgs::raw_bytes(store, &c.raw_sha256).await?;
    let (mb, addr) = (c.mailbox_id.clone(), c.mailbox_address.clone());
    tokio::task::spawn_blocking(move || {
        let insp = pecdesk_core::inspect(&raw, &InspectOptions::default());
        let certified = sla::certified_at(&insp.summary);
        (Facts::from_raw(&mb, &addr, &raw, &insp), certified)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))
}

/// The clock of a message's due dates: its mailbox's calendar and the instant they count
/// from (the certified delivery time, else the receipt; see [`crate::domain::sla`]).
#[derive(Debug, Clone, Copy)]
struct Clock<'a> {
    cal: &'a Calendar,
    from: i64,
    basis: DueBasis,
}

impl<'a> Clock<'a> {
    fn of(cal: &'a Calendar, c: &Candidate, certified: Option<i64>) -> Self {
        let (from, basis) = sla::due_from(certified, c.received_at);
        Clock { cal, from, basis }
    }
}

/// The calendars of the candidates' mailboxes.
async fn calendars(store: &Store, candidates: &[Candidate]) -> Result<HashMap<String, Calendar>> {
    let mut out = HashMap::new();
    for c in candidates {
        if !out.contains_key(&c.mailbox_id) {
            let cal = sla::calendar(store, &c.mailbox_id).await?;
            out.insert(c.mailbox_id.clone(), cal);
        }
    }
    Ok(out)
}

/// Routes the given stored messages. Exactly once per message, even with several
/// replicas processing the same messages.
pub async fn process(store: &Store, org_id: &str, message_ids: &[String]) -> Result<()> {
    if message_ids.is_empty() {
        return Ok(());
    }
    let candidates = store_routing::candidates(store, org_id, message_ids).await?;
    if candidates.is_empty() {
        return Ok(());
    }
    let loaded: Vec<LoadedRule> = store_rules::list(store, org_id)
        .await?
        .iter()
        .filter_map(to_core)
        .collect();
    let rules: Vec<Rule> = loaded.iter().map(|l| l.rule.clone()).collect();
    let calendars = calendars(store, &candidates).await?;
    let default = Calendar::default();
    // Evaluated outside the write (parsing is the cost), written a batch per transaction.
    for batch in candidates.chunks(BATCH) {
        let mut decided = Vec::with_capacity(batch.len());
        for c in batch {
            let (facts, certified) = read(store, c).await?;
            let decision = rules::evaluate(&rules, &facts);
            let cal = calendars.get(&c.mailbox_id).unwrap_or(&default);
            decided.push((c, facts, decision, Clock::of(cal, c, certified)));
        }
        let mut tx = store.begin_write(Chain::Org(org_id)).await?;
        for (c, facts, decision, clock) in &decided {
            apply(
                store,
                &mut tx,
                org_id,
                c,
                (facts, decision),
                &loaded,
                *clock,
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Messages routed per transaction.
const BATCH: usize = 100;

/// Who does what a decision writes.
#[derive(Debug, Clone, Copy)]
struct Doer<'a> {
    /// The audit actor (none: the system, by a rule).
    actor: Option<&'a str>,
    /// The activity's `created_by`.
    author: &'a str,
    /// The rule applied.
    rule: Option<&'a str>,
}

/// Writes one message's decision inside the batch's write, once: the mark is claimed
/// first (see the module doc); a message already evaluated is left as it is.
async fn apply(
    store: &Store,
    tx: &mut WriteTx,
    org: &str,
    c: &Candidate,
    (facts, d): (&Facts, &Decision),
    loaded: &[LoadedRule],
    clock: Clock<'_>,
) -> Result<()> {
    let now = now_ms();
    let matched = (!d.matched.is_empty())
        .then(|| to_json(&d.matched))
        .transpose()?;
    let tags = (!d.tags.is_empty()).then(|| to_json(&d.tags)).transpose()?;
    let protocol = (!facts.protocol.is_empty())
        .then(|| to_json(&facts.protocol))
        .transpose()?;

    if !store_routing::claim(tx, &c.id, now).await? {
        // Another replica (or an earlier run) did it: nothing is written.
        return Ok(());
    }
    store_routing::set_labels(
        tx,
        &c.id,
        &Labels {
            matched: matched.as_deref(),
            category: d.category.as_deref(),
            tags: tags.as_deref(),
            protocol: protocol.as_deref(),
        },
    )
    .await?;
    let author_of = |rule_id: &str| {
        loaded
            .iter()
            .find(|l| l.rule.id == rule_id)
            .and_then(|l| l.author.clone())
    };
    let target = match &d.route {
        Some(r) => resolve(tx, org, &r.action, now).await?,
        None => None,
    };
    if d.route.is_some() && target.is_none() {
        tracing::warn!(message.id = %c.id, "rule names a team or user that no longer exists: left in the dispatcher queue");
    }
    let mut activity_id = None;
    if let Some(a) = &d.activity {
        match author_of(&a.rule_id) {
            Some(author) => {
                let doer = Doer {
                    actor: None,
                    author: &author,
                    rule: Some(&a.rule_id),
                };
                let id = create_activity(
                    store,
                    tx,
                    org,
                    c,
                    &a.action,
                    target.as_ref(),
                    (d.category.as_deref(), &d.tags),
                    doer,
                    (now, clock),
                )
                .await?;
                activity_id = Some(id);
            }
            None => {
                tracing::warn!(rule.id = %a.rule_id, "rule without an author: no activity created")
            }
        }
    }
    if let (Some(t), Some(r)) = (&target, &d.route) {
        let doer = Doer {
            actor: None,
            author: "",
            rule: Some(&r.rule_id),
        };
        write_route(tx, org, &c.id, t, activity_id.as_deref(), doer, now).await?;
        let ids: Vec<&str> = d.matched.iter().map(|m| m.rule_id.as_str()).collect();
        tracing::info!(message.id = %c.id, rule.id = %r.rule_id, rules.matched = ?ids, "message routed by rule");
    }
    Ok(())
}

/// Where a message goes, resolved: the team and the user (the route's user, or the member
/// chosen in the team).
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The team.
    pub team: Option<String>,
    /// The user.
    pub user: Option<String>,
}

/// Resolves a route inside the write: the team or user must (still) exist in the
/// organisation (`None` otherwise); a team's member is chosen by its strategy, moving the
/// round-robin cursor.
async fn resolve(tx: &mut WriteTx, org: &str, r: &Route, now: i64) -> Result<Option<Target>> {
    if let Some(user) = &r.user_id {
        if !store_routing::user_enabled(tx, org, user).await? {
            return Ok(None);
        }
        return Ok(Some(Target {
            team: None,
            user: Some(user.clone()),
        }));
    }
    let Some(team) = &r.team_id else {
        return Ok(None);
    };
    if !store_routing::team_in_org(tx, org, team).await? {
        return Ok(None);
    }
    let user = match r.assign {
        Assign::None => None,
        strategy => {
            let members = store_routing::members(tx, org, team).await?;
            let last = store_routing::cursor(tx, team).await?;
            let picked = rules::pick_member(strategy, &members, last.as_deref()).map(str::to_owned);
            if let (Assign::RoundRobin, Some(p)) = (strategy, &picked) {
                store_routing::set_cursor(tx, team, p, now).await?;
            }
            picked
        }
    };
    Ok(Some(Target {
        team: Some(team.clone()),
        user,
    }))
}

/// Writes the route and its audit entry.
async fn write_route(
    tx: &mut WriteTx,
    org: &str,
    message_id: &str,
    t: &Target,
    activity: Option<&str>,
    doer: Doer<'_>,
    now: i64,
) -> Result<()> {
    store_routing::mark_routed(
        tx,
        message_id,
        &Routed {
            rule: doer.rule,
            by_user: doer.actor,
            team: t.team.as_deref(),
            user: t.user.as_deref(),
            activity,
        },
        now,
    )
    .await?;
    tx.audit(audit::Entry {
        org_id: Some(org),
        actor_id: doer.actor,
        action: Action::MessageRoute,
        object_type: "message",
        object_id: message_id,
        details: serde_json::json!({
            "rule_id": doer.rule, "team_id": t.team, "user_id": t.user, "activity_id": activity,
        }),
    })
    .await
    .map_err(Error::from)
}

/// Creates the activity of a route (a rule's or a Smistatore's) linked to the message,
/// with its audit entry; returns its id. An approver who is not eligible (or is the
/// assignee) is left out (the core decides, as for a person creating the activity).
#[allow(clippy::too_many_arguments)]
async fn create_activity(
    store: &Store,
    tx: &mut WriteTx,
    org: &str,
    c: &Candidate,
    spec: &ActivitySpec,
    target: Option<&Target>,
    (category, tags): (Option<&str>, &[String]),
    doer: Doer<'_>,
    (now, clock): (i64, Clock<'_>),
) -> Result<String> {
    let team = target.and_then(|t| t.team.clone());
    let assignee = target.and_then(|t| t.user.clone());
    let mut approver = spec.approver_id.clone();
    if let Some(a) = &approver {
        let eligible = match store_activities::candidate(store, org, &c.mailbox_id, a).await? {
            Some(candidate) => authorize(
                &Person::new(doer.author),
                Operation::NameApprover {
                    mailbox_id: &c.mailbox_id,
                    candidate: &candidate,
                    assignee_id: assignee.as_deref(),
                    team_id: team.as_deref(),
                },
            )
            .is_ok(),
            None => false,
        };
        if !eligible {
            tracing::warn!(message.id = %c.id, "approver not eligible: activity created without");
            approver = None;
        }
    }
    let title = spec
        .title
        .clone()
        .or_else(|| c.subject.clone())
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| format!("Messaggio {}", c.id));
    let title: String = title.trim().chars().take(crate::limits::TITLE).collect();
    let flow = spec.flow.unwrap_or_default();
    let row = ActivityRow {
        id: new_id(),
        org_id: org.to_owned(),
        mailbox_id: c.mailbox_id.clone(),
        title,
        description: String::new(),
        priority: spec.priority.unwrap_or_default().as_str().to_owned(),
        due_at: spec.due_at(clock.from, clock.cal),
        status: Status::Open.as_str().to_owned(),
        flow: flow.as_str().to_owned(),
        assignee_id: assignee,
        team_id: team,
        approver_id: approver,
        category: category.map(str::to_owned),
        tags: serde_json::to_string(tags).map_err(|e| Error::Internal(e.into()))?,
        version: 1,
        approved_draft_version: None,
        created_by: doer.author.to_owned(),
        created_at: now,
        updated_at: now,
    };
    store_activities::insert(tx, &row).await?;
    store_activities::link_messages(tx, &row.id, std::slice::from_ref(&c.id)).await?;
    tx.audit(audit::Entry {
        org_id: Some(org),
        actor_id: doer.actor,
        action: Action::ActivityCreate,
        object_type: "activity",
        object_id: &row.id,
        details: serde_json::json!({
            "mailbox_id": row.mailbox_id, "message_ids": [c.id], "flow": flow.as_str(),
            "assignee_id": row.assignee_id, "team_id": row.team_id,
            "approver_id": row.approver_id, "rule_id": doer.rule,
            "due_basis": row.due_at.map(|_| clock.basis.as_str()),
        }),
    })
    .await?;
    Ok(row.id)
}

/// Body of `POST /api/v1/messages/{id}/route`: to a team (with an optional assignment
/// strategy) or a user, optionally creating an activity.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    pub team_id: Option<String>,
    pub user_id: Option<String>,
    /// Within the team: `none` (default), `round_robin`, `least_open`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub assign: Assign,
    /// `{title?, priority?, due_in_hours? | due_in_days?, flow?, approver_id?}`.
    #[schema(value_type = Option<Object>)]
    pub create_activity: Option<ActivitySpec>,
    /// Route again a message already routed (a manager's correction).
    #[serde(default)]
    pub reroute: bool,
}

/// A Smistatore routes a message of the dispatcher queue by hand (`RouteMessage`); 409 when
/// it is already routed, unless `reroute` by a manager (`UndoWorked`: a manager's
/// correction). Receipts and sent messages are not routed (422).
pub async fn route_by_hand(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    req: &RouteRequest,
) -> Result<()> {
    let found = store_msgs::get_for(store, &who.org_id, person, id)
        .await?
        .ok_or(Error::NotFound)?;
    let facts = found.facts();
    authorize(person, Operation::RouteMessage(&facts))?;
    if req.reroute {
        authorize(person, Operation::UndoWorked(&facts))?;
    }
    let route = Route {
        team_id: req.team_id.clone(),
        user_id: req.user_id.clone(),
        assign: req.assign,
    };
    route
        .validate("route")
        .map_err(|e| Error::invalid(e.to_string()))?;
    if let Some(a) = &req.create_activity {
        a.validate("create_activity")
            .map_err(|e| Error::invalid(e.to_string()))?;
    }
    let row = &found.row;
    if row.direction != "in" || !store_routing::routable_kind(&row.kind) {
        return Err(Error::invalid(
            "si smistano solo i messaggi in arrivo, non le ricevute / only incoming messages \
             are routed, not receipts",
        ));
    }
    let c = Candidate {
        id: row.id.clone(),
        mailbox_id: row.mailbox_id.clone(),
        mailbox_address: String::new(),
        raw_sha256: row.raw_sha256.clone(),
        subject: row.subject.clone(),
        sender: row.sender.clone(),
        kind: row.kind.clone(),
        received_at: row.received_at,
    };
    // The due date of the activity counts from the certified delivery time, as a rule's.
    let certified = match &req.create_activity {
        Some(a) if a.due_in_hours.is_some() || a.due_in_days.is_some() => read(store, &c).await?.1,
        _ => None,
    };
    let cal = sla::calendar(store, &c.mailbox_id).await?;
    let clock = Clock::of(&cal, &c, certified);
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    if store_routing::routed_at(&mut tx, id).await?.is_some() && !req.reroute {
        return Err(Error::conflict(
            "messaggio già smistato (per smistarlo di nuovo: `reroute: true`, da un \
             responsabile) / message already routed (to route it again: `reroute: true`, by a \
             manager)",
        ));
    }
    let target = resolve(&mut tx, &who.org_id, &route, now)
        .await?
        .ok_or_else(|| Error::invalid("team o utente sconosciuto / unknown team or user"))?;
    let doer = Doer {
        actor: Some(&who.user_id),
        author: &who.user_id,
        rule: None,
    };
    let activity = match &req.create_activity {
        Some(spec) => Some(
            create_activity(
                store,
                &mut tx,
                &who.org_id,
                &c,
                spec,
                Some(&target),
                (None, &[]),
                doer,
                (now, clock),
            )
            .await?,
        ),
        None => None,
    };
    write_route(
        &mut tx,
        &who.org_id,
        id,
        &target,
        activity.as_deref(),
        doer,
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(message.id = %id, user.id = %who.user_id, "message routed by hand");
    Ok(())
}

/// Someone or something by id and name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NamedRef {
    pub id: String,
    /// Name (empty when it no longer exists).
    pub name: String,
}

/// How a message was routed, as its detail shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoutingView {
    /// Whether it left the dispatcher queue.
    pub routed: bool,
    pub routed_at: Option<String>,
    /// The rule that routed it.
    pub rule: Option<NamedRef>,
    /// The person who routed it by hand.
    pub by: Option<NamedRef>,
    pub team: Option<NamedRef>,
    pub user: Option<NamedRef>,
    /// The activity created by the routing.
    pub activity_id: Option<String>,
    /// When the rules were evaluated (none: not yet).
    pub rules_applied_at: Option<String>,
    /// The rules that matched, with why (`[{rule_id, name, why[]}]`).
    #[schema(value_type = Vec<Object>)]
    pub matched: serde_json::Value,
    pub category: Option<String>,
    pub tags: Vec<String>,
}

/// The routing and the protocol data (Segnatura, SdI) of a message.
pub async fn view(
    store: &Store,
    id: &str,
) -> Result<(Option<RoutingView>, Option<serde_json::Value>)> {
    let Some(r) = store_routing::routing_of(store, id).await? else {
        return Ok((None, None));
    };
    let named = |id: Option<String>, name: Option<String>| {
        id.map(|id| NamedRef {
            id,
            name: name.unwrap_or_default(),
        })
    };
    let protocol = r
        .protocol
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    let v = RoutingView {
        routed: r.routed_at.is_some(),
        routed_at: r.routed_at.map(ms_to_rfc3339),
        rule: named(r.routed_by_rule, r.rule_name),
        by: named(r.routed_by_user, r.by_user_name),
        team: named(r.routed_team_id, r.team_name),
        user: named(r.routed_user_id, r.user_name),
        activity_id: r.routed_activity_id,
        rules_applied_at: r.rules_applied_at.map(ms_to_rfc3339),
        matched: r
            .routing_matched
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_else(|| serde_json::json!([])),
        category: r.category,
        tags: r
            .tags
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default(),
    };
    Ok((Some(v), protocol))
}

/// JSON text of a value.
fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.into()))
}
