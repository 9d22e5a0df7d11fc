//! Routing rules of the caller's organisation: list, create, edit, delete, reorder and
//! preview (what a rule would have matched among the last days' messages). Organisation
//! administrators manage every rule and the order; the Responsabile of a mailbox manages
//! the rules confined to the mailboxes they lead and reads the others that concern them
//! (the core decides: `Operation::ReadRule`, `ManageRule`, from
//! [`pecdesk_core::rules::confinement`]); every write is audited. The rule's JSON
//! is the core's ([`pecdesk_core::rules::RuleSpec`]), validated there; the ids a rule
//! names (team, user, approver) must exist in the organisation.

use pecdesk_core::authz::{Operation, Person};
use std::collections::BTreeSet;

use pecdesk_core::rules::{self, Actions, Condition, MailboxName, RuleSpec};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::authz::authorize;
use crate::domain::routing;
use crate::error::{Error, Result};
use crate::store::activities as store_activities;
use crate::store::audit::{self, Action, Chain};
use crate::store::routing as store_routing;
use crate::store::rules::{self as store_rules, RuleRow};
use crate::store::users::{self as store_users, MailboxRow};
use crate::store::{Store, ms_to_rfc3339, new_id, now_ms};

/// Rules one organisation may hold.
pub const MAX_RULES: usize = 500;

/// A rule as the API shows it: the JSON written, plus its id, position and history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleResponse {
    pub id: String,
    pub name: String,
    /// Order of evaluation, 1 first.
    pub position: i64,
    pub enabled: bool,
    /// After a match: stop (`true`) or continue with the next rule.
    pub stop: bool,
    /// `[{field, match, value, negate?}]`.
    #[schema(value_type = Vec<Object>)]
    pub conditions: serde_json::Value,
    /// `{route?, activity?, category?, tags?}`.
    #[schema(value_type = Object)]
    pub actions: serde_json::Value,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_by: Option<String>,
    pub updated_at: String,
    /// The mailboxes (ids) the rule can only match in; none: it may match in any mailbox.
    /// See docs/API.md, "Who manages which rule".
    pub confined_to: Option<Vec<String>>,
    /// Whether the caller may edit, enable or disable, and delete it.
    pub editable: bool,
}

impl From<RuleRow> for RuleResponse {
    fn from(r: RuleRow) -> Self {
        Self {
            confined_to: None,
            editable: false,
            conditions: serde_json::from_str(&r.conditions).unwrap_or_default(),
            actions: serde_json::from_str(&r.actions).unwrap_or_default(),
            id: r.id,
            name: r.name,
            position: r.position,
            enabled: r.enabled,
            stop: r.stop,
            created_by: r.created_by,
            created_at: ms_to_rfc3339(r.created_at),
            updated_by: r.updated_by,
            updated_at: ms_to_rfc3339(r.updated_at),
        }
    }
}

/// Body of `PATCH /api/v1/rules/{id}`: the fields given replace the stored ones.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulePatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub stop: Option<bool>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub conditions: Option<Vec<Condition>>,
    #[schema(value_type = Option<Object>)]
    pub actions: Option<Actions>,
}

/// Body of `POST /api/v1/rules/reorder`: every live rule's id, in the new order.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderRequest {
    pub ids: Vec<String>,
}

/// The caller must administer the organisation.
fn admin(person: &Person) -> Result<()> {
    authorize(person, Operation::Administer)
}

/// The organisation's mailboxes, which a `mailbox` condition may name.
struct Mailboxes(Vec<MailboxRow>);

impl Mailboxes {
    async fn of(store: &Store, org: &str) -> Result<Self> {
        Ok(Self(store_users::mailboxes_of_org(store, org).await?))
    }

    /// The mailboxes `spec` is confined to (see [`rules::confinement`]).
    fn confinement(&self, spec: &RuleSpec) -> Option<BTreeSet<String>> {
        let names: Vec<MailboxName<'_>> = self
            .0
            .iter()
            .map(|m| MailboxName {
                id: &m.id,
                address: &m.address,
            })
            .collect();
        rules::confinement(spec, &names)
    }

    /// The confinement of a stored rule.
    fn of_row(&self, row: &RuleRow) -> Result<Option<BTreeSet<String>>> {
        let spec = routing::to_core(row).map(|l| l.rule.spec).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("stored rule {} does not read", row.id))
        })?;
        Ok(self.confinement(&spec))
    }

    /// The stored rule as `person` sees it: whether it is visible (`None`: not), its
    /// confinement and whether they may manage it.
    fn view(&self, person: &Person, row: RuleRow) -> Result<Option<RuleResponse>> {
        let confined = self.of_row(&row)?;
        if authorize(
            person,
            Operation::ReadRule {
                confined_to: confined.as_ref(),
            },
        )
        .is_err()
        {
            return Ok(None);
        }
        let editable = authorize(
            person,
            Operation::ManageRule {
                confined_to: confined.as_ref(),
            },
        )
        .is_ok();
        let mut r = RuleResponse::from(row);
        r.confined_to = confined.map(|s| s.into_iter().collect());
        r.editable = editable;
        Ok(Some(r))
    }
}

/// May `person` manage a rule confined to `confined` (`ManageRule`)?
fn may_manage(person: &Person, confined: Option<&BTreeSet<String>>) -> Result<()> {
    authorize(
        person,
        Operation::ManageRule {
            confined_to: confined,
        },
    )
}

/// The live rule `id` of the caller's organisation, when `person` may see it (404 when
/// missing, of another organisation, or confined to mailboxes they hold nothing on).
async fn visible_row(
    store: &Store,
    org: &str,
    person: &Person,
    mailboxes: &Mailboxes,
    id: &str,
) -> Result<RuleRow> {
    authorize(person, Operation::ReadRules)?;
    let row = store_rules::get(store, org, id)
        .await?
        .ok_or(Error::NotFound)?;
    let confined = mailboxes.of_row(&row)?;
    authorize(
        person,
        Operation::ReadRule {
            confined_to: confined.as_ref(),
        },
    )?;
    Ok(row)
}

/// The core's checks, then the ids the rule names must exist in the organisation (422).
async fn check(store: &Store, org: &str, spec: &RuleSpec) -> Result<()> {
    spec.validate().map_err(|e| Error::invalid(e.to_string()))?;
    let a = &spec.actions;
    if let Some(r) = &a.route {
        if let Some(t) = &r.team_id
            && !store_activities::team_exists(store, org, t).await?
        {
            return Err(Error::invalid(
                "campo `actions.route.team_id`: team sconosciuto / field \
                 `actions.route.team_id`: unknown team",
            ));
        }
        if let Some(u) = &r.user_id
            && !store_activities::user_enabled(store, org, u).await?
        {
            return Err(Error::invalid(
                "campo `actions.route.user_id`: utente sconosciuto / field \
                 `actions.route.user_id`: unknown user",
            ));
        }
    }
    if let Some(u) = a.activity.as_ref().and_then(|x| x.approver_id.as_ref())
        && !store_activities::user_enabled(store, org, u).await?
    {
        return Err(Error::invalid(
            "campo `actions.activity.approver_id`: utente sconosciuto / field \
             `actions.activity.approver_id`: unknown user",
        ));
    }
    Ok(())
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.into()))
}

/// The organisation's rules, in order.
pub async fn list(store: &Store, who: &Principal, person: &Person) -> Result<Vec<RuleResponse>> {
    authorize(person, Operation::ReadRules)?;
    let mailboxes = Mailboxes::of(store, &who.org_id).await?;
    let mut out = Vec::new();
    for row in store_rules::list(store, &who.org_id).await? {
        out.extend(mailboxes.view(person, row)?);
    }
    Ok(out)
}

/// One rule (404 when missing or of another organisation).
pub async fn get(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
) -> Result<RuleResponse> {
    let mailboxes = Mailboxes::of(store, &who.org_id).await?;
    let row = visible_row(store, &who.org_id, person, &mailboxes, id).await?;
    mailboxes.view(person, row)?.ok_or(Error::NotFound)
}

/// Creates a rule at the end of the order. `actor` is the audit's actor (the caller).
pub async fn create(
    store: &Store,
    org: &str,
    actor: Option<&str>,
    spec: &RuleSpec,
) -> Result<RuleResponse> {
    check(store, org, spec).await?;
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(org)).await?;
    if store_rules::list_tx(&mut tx, org).await?.len() >= MAX_RULES {
        return Err(Error::invalid(format!(
            "al massimo {MAX_RULES} regole / at most {MAX_RULES} rules"
        )));
    }
    let row = RuleRow {
        id: new_id(),
        org_id: org.to_owned(),
        name: spec.name.trim().to_owned(),
        position: store_rules::next_position(&mut tx, org).await?,
        enabled: spec.enabled,
        stop: spec.stop,
        conditions: json(&spec.conditions)?,
        actions: json(&spec.actions)?,
        created_by: actor.map(str::to_owned),
        created_at: now,
        updated_by: actor.map(str::to_owned),
        updated_at: now,
    };
    store_rules::insert(&mut tx, &row).await?;
    tx.audit(audit::Entry {
        org_id: Some(org),
        actor_id: actor,
        action: Action::RuleCreate,
        object_type: "rule",
        object_id: &row.id,
        details: serde_json::json!({"position": row.position}),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(rule.id = %row.id, "rule created");
    Ok(row.into())
}

/// Creates a rule as the caller: an administrator, or the Responsabile of every mailbox
/// the rule is confined to.
pub async fn create_as(
    store: &Store,
    who: &Principal,
    person: &Person,
    spec: &RuleSpec,
) -> Result<RuleResponse> {
    authorize(person, Operation::ReadRules)?;
    let mailboxes = Mailboxes::of(store, &who.org_id).await?;
    may_manage(person, mailboxes.confinement(spec).as_ref())?;
    let r = create(store, &who.org_id, Some(&who.user_id), spec).await?;
    get(store, who, person, &r.id).await
}

/// Edits a rule: the fields given replace the stored ones; the result is validated whole.
/// The caller must be allowed to manage the rule as it is and as it will be (an edit
/// cannot take a Responsabile's rule beyond their mailboxes).
pub async fn update(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    patch: &RulePatch,
) -> Result<RuleResponse> {
    let org = &who.org_id;
    let mailboxes = Mailboxes::of(store, org).await?;
    let row = visible_row(store, org, person, &mailboxes, id).await?;
    may_manage(person, mailboxes.of_row(&row)?.as_ref())?;
    let current = routing::to_core(&row)
        .map(|l| l.rule.spec)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("stored rule {id} does not read")))?;
    let spec = RuleSpec {
        name: patch.name.clone().unwrap_or(current.name),
        enabled: patch.enabled.unwrap_or(current.enabled),
        stop: patch.stop.unwrap_or(current.stop),
        conditions: patch.conditions.clone().unwrap_or(current.conditions),
        actions: patch.actions.clone().unwrap_or(current.actions),
    };
    may_manage(person, mailboxes.confinement(&spec).as_ref())?;
    check(store, org, &spec).await?;
    let now = now_ms();
    let new = RuleRow {
        name: spec.name.trim().to_owned(),
        enabled: spec.enabled,
        stop: spec.stop,
        conditions: json(&spec.conditions)?,
        actions: json(&spec.actions)?,
        updated_by: Some(who.user_id.clone()),
        updated_at: now,
        ..row
    };
    let mut tx = store.begin_write(Chain::Org(org)).await?;
    if !store_rules::update(&mut tx, &new).await? {
        return Err(Error::NotFound);
    }
    let mut changed = Vec::new();
    for (name, given) in [
        ("name", patch.name.is_some()),
        ("enabled", patch.enabled.is_some()),
        ("stop", patch.stop.is_some()),
        ("conditions", patch.conditions.is_some()),
        ("actions", patch.actions.is_some()),
    ] {
        if given {
            changed.push(name);
        }
    }
    tx.audit(audit::Entry {
        org_id: Some(org),
        actor_id: Some(&who.user_id),
        action: Action::RuleUpdate,
        object_type: "rule",
        object_id: id,
        details: serde_json::json!({"fields": changed}),
    })
    .await?;
    tx.commit().await?;
    mailboxes.view(person, new)?.ok_or(Error::NotFound)
}

/// Deletes a rule of the organisation `org` (kept, marked deleted; the messages it routed
/// still name it).
pub async fn delete(store: &Store, org: &str, actor: Option<&str>, id: &str) -> Result<()> {
    let mut tx = store.begin_write(Chain::Org(org)).await?;
    if store_rules::get_tx(&mut tx, org, id).await?.is_none() {
        return Err(Error::NotFound);
    }
    store_rules::delete(&mut tx, org, id, now_ms()).await?;
    tx.audit(audit::Entry {
        org_id: Some(org),
        actor_id: actor,
        action: Action::RuleDelete,
        object_type: "rule",
        object_id: id,
        details: serde_json::json!({}),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(rule.id = %id, "rule deleted");
    Ok(())
}

/// Deletes a rule as the caller: an administrator, or the Responsabile of every mailbox
/// the rule is confined to.
pub async fn delete_as(store: &Store, who: &Principal, person: &Person, id: &str) -> Result<()> {
    let mailboxes = Mailboxes::of(store, &who.org_id).await?;
    let row = visible_row(store, &who.org_id, person, &mailboxes, id).await?;
    may_manage(person, mailboxes.of_row(&row)?.as_ref())?;
    delete(store, &who.org_id, Some(&who.user_id), id).await
}

/// Puts the rules in the given order: `ids` must be every live rule of the organisation,
/// once each (422 otherwise). Administrators only: the order decides between the rules of
/// every mailbox.
pub async fn reorder(
    store: &Store,
    who: &Principal,
    person: &Person,
    req: &ReorderRequest,
) -> Result<Vec<RuleResponse>> {
    admin(person)?;
    let org = &who.org_id;
    let mut tx = store.begin_write(Chain::Org(org)).await?;
    let live = store_rules::list_tx(&mut tx, org).await?;
    let mut given = req.ids.clone();
    given.sort();
    given.dedup();
    let mut have: Vec<String> = live.iter().map(|r| r.id.clone()).collect();
    have.sort();
    if given.len() != req.ids.len() || given != have {
        return Err(Error::invalid(
            "campo `ids`: ogni regola una volta sola / field `ids`: every rule exactly once",
        ));
    }
    for (i, id) in req.ids.iter().enumerate() {
        store_rules::set_position(&mut tx, org, id, i64::try_from(i).unwrap_or(i64::MAX) + 1)
            .await?;
    }
    tx.audit(audit::Entry {
        org_id: Some(org),
        actor_id: Some(&who.user_id),
        action: Action::RuleReorder,
        object_type: "org",
        object_id: org,
        details: serde_json::json!({"ids": req.ids}),
    })
    .await?;
    tx.commit().await?;
    list(store, who, person).await
}

/// Body of `POST /api/v1/rules/preview`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The rule to try (as `POST /api/v1/rules` takes it; tried even when disabled).
    #[schema(value_type = Object)]
    pub rule: RuleSpec,
    /// How many days back (1..=365, default 30).
    pub days: Option<u32>,
    /// Matches to list at most (1..=200, default 50).
    pub limit: Option<u32>,
}

/// One message the rule would have matched.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewItem {
    pub message_id: String,
    pub mailbox_id: String,
    pub subject: Option<String>,
    pub sender: Option<String>,
    pub kind: String,
    pub received_at: String,
    /// Each condition and the value that satisfied it.
    pub why: Vec<String>,
}

/// What a preview found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewResponse {
    /// Matches, newest first.
    pub items: Vec<PreviewItem>,
    /// Messages looked at.
    pub scanned: usize,
    /// More messages than [`PREVIEW_SCAN`] in the window, or more matches than `limit`:
    /// the list is not complete.
    pub truncated: bool,
}

/// Messages a preview reads at most.
pub const PREVIEW_SCAN: i64 = 2000;

/// Which messages a rule would have matched among the incoming messages (not receipts,
/// not trashed) of the last `days` days, newest first; only those `reader` may read when
/// given (the API's caller; the command line passes none).
pub async fn preview_in(
    store: &Store,
    org: &str,
    reader: Option<&Person>,
    req: &PreviewRequest,
) -> Result<PreviewResponse> {
    let mut spec = req.rule.clone();
    spec.validate().map_err(|e| Error::invalid(e.to_string()))?;
    spec.enabled = true;
    let days = req.days.unwrap_or(30);
    let limit = req.limit.unwrap_or(50);
    if !(1..=365).contains(&days) {
        return Err(Error::invalid(
            "campo `days`: da 1 a 365 / field `days`: 1 to 365",
        ));
    }
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid(
            "campo `limit`: da 1 a 200 / field `limit`: 1 to 200",
        ));
    }
    let since = now_ms() - i64::from(days) * 86_400_000;
    let rows = store_routing::recent(store, org, reader, since, PREVIEW_SCAN + 1).await?;
    let mut truncated = rows.len() as i64 > PREVIEW_SCAN;
    let mut items = Vec::new();
    let mut scanned = 0;
    for c in rows.iter().take(PREVIEW_SCAN as usize) {
        scanned += 1;
        let facts = routing::facts_of(store, c).await?;
        if let Some(why) = rules::matches(&spec, &facts) {
            if items.len() == limit as usize {
                truncated = true;
                break;
            }
            items.push(PreviewItem {
                message_id: c.id.clone(),
                mailbox_id: c.mailbox_id.clone(),
                subject: c.subject.clone(),
                sender: c.sender.clone(),
                kind: c.kind.clone(),
                received_at: ms_to_rfc3339(c.received_at),
                why,
            });
        }
    }
    Ok(PreviewResponse {
        items,
        scanned,
        truncated,
    })
}

/// [`preview_in`] for the caller (an administrator or a Responsabile), over the messages
/// they may read.
pub async fn preview(
    store: &Store,
    who: &Principal,
    person: &Person,
    req: &PreviewRequest,
) -> Result<PreviewResponse> {
    authorize(person, Operation::ReadRules)?;
    preview_in(store, &who.org_id, Some(person), req).await
}
