//! Webhook subscriptions of an organisation (its administrators only): create, list, edit,
//! delete, test, the delivery log and a redelivery. Every change is audited
//! (`webhook.*`, details hold ids, formats, event names and field names: never the URL
//! nor the secret).
//!
//! The secret is made here (32 random bytes, `whsec_` + hex), shown once in the answer to
//! the creation, stored sealed with the master key (context `webhook:<id>`), and never
//! logged nor answered again.

use pecdesk_core::authz::{Operation, Person};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::auth::secrets::MasterKey;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::audit::{self, Action, Chain};
use crate::store::query::Page;
use crate::store::webhooks::{self as db, DeliveryRow, NewDelivery, WebhookRow};
use crate::store::{Store, WriteTx, ms_to_rfc3339, new_id, now_ms};
use crate::webhooks::events::{Event, EventObject, EventType};
use crate::webhooks::send;

/// Subscriptions an organisation may have.
pub const MAX_WEBHOOKS: usize = 50;
/// Longest URL.
const URL_MAX: usize = 2000;
/// Longest description.
const DESCRIPTION_MAX: usize = 200;

/// The body a subscription's deliveries carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The event as JSON ([`Event`]).
    Generic,
    /// A Microsoft Teams incoming-webhook MessageCard.
    Teams,
    /// A Slack incoming-webhook message (`{text, blocks}`).
    Slack,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Generic => "generic",
            Format::Teams => "teams",
            Format::Slack => "slack",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "teams" => Format::Teams,
            "slack" => Format::Slack,
            _ => Format::Generic,
        }
    }
}

/// A subscription as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    pub format: Format,
    /// The event types delivered.
    pub events: Vec<String>,
    pub enabled: bool,
    pub description: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The answer to a creation: the subscription and, this once, its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret (`whsec_...`): shown only now; store it in the receiver.
    pub secret: String,
}

/// Body of `POST /api/v1/webhooks`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https://...` (plain `http` only to a loopback host).
    pub url: String,
    /// Event types (see `GET /api/v1/webhooks` docs: `message.received`, ...).
    pub events: Vec<String>,
    /// `generic` (default), `teams` or `slack`.
    #[serde(default)]
    pub format: Option<Format>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Body of `PATCH /api/v1/webhooks/{id}`: the fields given replace the stored ones.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub format: Option<Format>,
    /// Re-enabling starts from now: events while disabled are not delivered.
    pub enabled: Option<bool>,
    pub description: Option<String>,
}

/// One row of the delivery log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: String,
    /// The event id (`X-PecDesk-Delivery`).
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivering`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made (in this round: a redelivery starts a new one).
    pub attempts: i64,
    /// The HTTP status of the last answer.
    pub last_status: Option<i64>,
    /// Why the last attempt failed (`HTTP 500`, `timeout`, ...).
    pub last_error: Option<String>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub delivered_at: Option<String>,
}

/// The answer of `POST /api/v1/webhooks/{id}/test`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    /// Whether the receiver answered 2xx.
    pub delivered: bool,
    /// The HTTP status answered.
    pub status: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
    /// The test delivery in the log.
    pub delivery_id: String,
}

fn admin(person: &Person) -> Result<()> {
    authorize(person, Operation::Administer)
}

fn view(r: WebhookRow) -> WebhookView {
    WebhookView {
        events: serde_json::from_str(&r.events).unwrap_or_default(),
        format: Format::parse(&r.format),
        id: r.id,
        url: r.url,
        enabled: r.enabled,
        description: r.description,
        created_by: r.created_by,
        created_at: ms_to_rfc3339(r.created_at),
        updated_at: ms_to_rfc3339(r.updated_at),
    }
}

fn delivery_view(r: DeliveryRow) -> DeliveryView {
    DeliveryView {
        id: r.id,
        event_id: r.event_id,
        event_type: r.event_type,
        status: r.status,
        attempts: r.attempts,
        last_status: r.last_status,
        last_error: r.last_error,
        next_attempt_at: r.next_attempt_at.map(ms_to_rfc3339),
        created_at: ms_to_rfc3339(r.created_at),
        updated_at: ms_to_rfc3339(r.updated_at),
        delivered_at: r.delivered_at.map(ms_to_rfc3339),
    }
}

/// A target URL a subscription may have: `https`, or `http` to a loopback host; no user
/// name or password in it.
pub fn check_url(url: &str) -> Result<String> {
    crate::limits::line("url", url, URL_MAX)?;
    let bad = |why: &str| {
        Error::invalid(format!(
            "campo `url`: {why}; usa https://... / field `url`: {why}; use https://..."
        ))
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| bad("non è un URL / not a URL"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if send::is_loopback_host(&parsed) => {}
        "http" => return Err(bad("http solo verso localhost / http only to localhost")),
        _ => return Err(bad("solo https / https only")),
    }
    if parsed.host().is_none() {
        return Err(bad("manca l'host / no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "niente credenziali nell'URL / no credentials in the URL",
        ));
    }
    Ok(parsed.to_string())
}

/// Known, distinct event types, at least one.
fn check_events(events: &[String]) -> Result<Vec<String>> {
    crate::limits::count("events", events.len(), EventType::ALL.len())?;
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let t = EventType::parse(e).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            Error::invalid(format!(
                "evento sconosciuto `{e}`; ammessi: {k} / unknown event `{e}`; known: {k}",
                e = e.chars().take(60).collect::<String>(),
                k = known.join(", ")
            ))
        })?;
        if !out.iter().any(|o| o == t.as_str()) {
            out.push(t.as_str().to_owned());
        }
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "campo `events`: almeno un evento / field `events`: at least one event",
        ));
    }
    Ok(out)
}

fn check_description(d: &str) -> Result<String> {
    crate::limits::line("description", d, DESCRIPTION_MAX)?;
    Ok(d.trim().to_owned())
}

fn events_json(events: &[String]) -> Result<String> {
    serde_json::to_string(events).map_err(|e| Error::Internal(e.into()))
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
fn new_secret() -> SecretString {
    SecretString::from(format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>())))
}

fn seal(master: &MasterKey, id: &str, secret: &SecretString) -> Result<String> {
    master
        .seal_secret(secret, &db::secret_context(id))
        .map_err(|e| Error::Internal(anyhow::anyhow!("cannot seal a webhook secret: {e}")))
}

/// The organisation's subscriptions (administrators).
pub async fn list(store: &Store, who: &Principal, person: &Person) -> Result<Vec<WebhookView>> {
    admin(person)?;
    Ok(db::list(store, &who.org_id)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

/// One subscription (404 when missing or of another organisation).
pub async fn get(store: &Store, who: &Principal, person: &Person, id: &str) -> Result<WebhookView> {
    admin(person)?;
    crate::limits::text("id", id, crate::limits::ID)?;
    db::get(store, &who.org_id, id)
        .await?
        .map(view)
        .ok_or(Error::NotFound)
}

/// What a creation writes, checked.
#[derive(Debug)]
pub struct NewWebhook<'a> {
    pub org_id: &'a str,
    pub actor: Option<&'a str>,
    pub req: &'a CreateWebhook,
}

/// Creates a subscription in `tx` (the demo seeds one this way); its cursor is the chain's
/// head, so it delivers what happens from now on. Returns the row and the secret.
pub async fn create_in(
    tx: &mut WriteTx,
    master: &MasterKey,
    n: &NewWebhook<'_>,
) -> Result<(WebhookRow, SecretString)> {
    let url = check_url(&n.req.url)?;
    let events = check_events(&n.req.events)?;
    let description = check_description(n.req.description.as_deref().unwrap_or(""))?;
    let format = n.req.format.unwrap_or(Format::Generic);
    let id = new_id();
    let secret = new_secret();
    let now = now_ms();
    let row = WebhookRow {
        secret: seal(master, &id, &secret)?,
        id,
        org_id: n.org_id.to_owned(),
        url,
        format: format.as_str().to_owned(),
        events: events_json(&events)?,
        enabled: n.req.enabled.unwrap_or(true),
        description,
        audit_cursor: tx.head.seq,
        created_by: n.actor.map(str::to_owned),
        created_at: now,
        updated_at: now,
    };
    db::insert(tx, &row).await?;
    tx.audit(audit::Entry {
        org_id: Some(n.org_id),
        actor_id: n.actor,
        action: Action::WebhookCreate,
        object_type: "webhook",
        object_id: &row.id,
        details: serde_json::json!({
            "format": row.format, "events": events, "enabled": row.enabled,
        }),
    })
    .await?;
    Ok((row, secret))
}

/// Creates a subscription as the calling administrator; the answer holds the secret once.
pub async fn create(
    store: &Store,
    master: &MasterKey,
    who: &Principal,
    person: &Person,
    req: &CreateWebhook,
) -> Result<WebhookCreated> {
    admin(person)?;
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let existing = db::list(store, &who.org_id).await?.len();
    if existing >= MAX_WEBHOOKS {
        return Err(Error::invalid(format!(
            "al massimo {MAX_WEBHOOKS} webhook per organizzazione / at most {MAX_WEBHOOKS} \
             webhooks per organisation"
        )));
    }
    let n = NewWebhook {
        org_id: &who.org_id,
        actor: Some(&who.user_id),
        req,
    };
    let (row, secret) = create_in(&mut tx, master, &n).await?;
    tx.commit().await?;
    tracing::info!(webhook.id = %row.id, user.id = %who.user_id, "webhook created");
    Ok(WebhookCreated {
        webhook: view(row),
        secret: secret.expose_secret().to_owned(),
    })
}

/// Edits a subscription: the fields given replace the stored ones.
pub async fn update(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    req: &UpdateWebhook,
) -> Result<WebhookView> {
    admin(person)?;
    crate::limits::text("id", id, crate::limits::ID)?;
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let mut row = db::get_tx(&mut tx, &who.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let mut fields: Vec<&str> = Vec::new();
    if let Some(u) = &req.url {
        row.url = check_url(u)?;
        fields.push("url");
    }
    if let Some(e) = &req.events {
        row.events = events_json(&check_events(e)?)?;
        fields.push("events");
    }
    if let Some(f) = req.format {
        row.format = f.as_str().to_owned();
        fields.push("format");
    }
    if let Some(d) = &req.description {
        row.description = check_description(d)?;
        fields.push("description");
    }
    let mut cursor = None;
    if let Some(en) = req.enabled {
        if en && !row.enabled {
            // Re-enabled: from now on, not the backlog of while it was off.
            cursor = Some(tx.head.seq);
        }
        row.enabled = en;
        fields.push("enabled");
    }
    row.updated_at = now_ms();
    if !db::update(&mut tx, &row, cursor).await? {
        return Err(Error::NotFound);
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::WebhookUpdate,
        object_type: "webhook",
        object_id: id,
        details: serde_json::json!({"fields": fields, "enabled": row.enabled}),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(webhook.id = %id, user.id = %who.user_id, "webhook updated");
    Ok(view(row))
}

/// Gives a subscription a new secret, answered once (the old one stops signing at once:
/// deliveries still pending or retried are signed with the new one). Audited as an update
/// of the field `secret`, never with the secret.
pub async fn rotate_secret(
    store: &Store,
    master: &MasterKey,
    who: &Principal,
    person: &Person,
    id: &str,
) -> Result<WebhookCreated> {
    admin(person)?;
    crate::limits::text("id", id, crate::limits::ID)?;
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    let row = db::get_tx(&mut tx, &who.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let secret = new_secret();
    if !db::set_secret(
        &mut tx,
        &who.org_id,
        id,
        &seal(master, id, &secret)?,
        now_ms(),
    )
    .await?
    {
        return Err(Error::NotFound);
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::WebhookUpdate,
        object_type: "webhook",
        object_id: id,
        details: serde_json::json!({"fields": ["secret"], "enabled": row.enabled}),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(webhook.id = %id, user.id = %who.user_id, "webhook secret rotated");
    Ok(WebhookCreated {
        webhook: view(row),
        secret: secret.expose_secret().to_owned(),
    })
}

/// Deletes a subscription (kept, marked deleted, with its delivery log; deliveries still
/// pending are failed).
pub async fn delete(store: &Store, who: &Principal, person: &Person, id: &str) -> Result<()> {
    admin(person)?;
    crate::limits::text("id", id, crate::limits::ID)?;
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    if !db::delete(&mut tx, &who.org_id, id, now_ms()).await? {
        return Err(Error::NotFound);
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::WebhookDelete,
        object_type: "webhook",
        object_id: id,
        details: serde_json::json!({}),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(webhook.id = %id, user.id = %who.user_id, "webhook deleted");
    Ok(())
}

/// A subscription's delivery log, newest first.
pub async fn deliveries(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    status: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<DeliveryView>> {
    get(store, who, person, id).await?;
    if let Some(s) = status
        && !["pending", "delivering", "delivered", "failed"].contains(&s)
    {
        return Err(Error::invalid(
            "campo `status`: pending, delivering, delivered o failed / field `status`: \
             pending, delivering, delivered or failed",
        ));
    }
    if let Some(c) = cursor {
        crate::limits::text("cursor", c, crate::limits::ID)?;
    }
    let mut rows = db::deliveries(store, &who.org_id, id, status, cursor, limit + 1).await?;
    let more = i64::try_from(rows.len()).unwrap_or(0) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(50));
    let next_cursor = if more {
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(Page {
        items: rows.into_iter().map(delivery_view).collect(),
        next_cursor,
    })
}

/// Queues a delivery again, due now (a new round of attempts).
pub async fn redeliver(
    store: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    delivery_id: &str,
) -> Result<DeliveryView> {
    get(store, who, person, id).await?;
    crate::limits::text("delivery id", delivery_id, crate::limits::ID)?;
    let row = db::delivery(store, &who.org_id, id, delivery_id)
        .await?
        .ok_or(Error::NotFound)?;
    let now = now_ms();
    let mut tx = store.begin_write(Chain::Org(&who.org_id)).await?;
    if !db::requeue(&mut tx, id, delivery_id, now).await? {
        return Err(Error::conflict(format!(
            "la consegna è {s}: si ripete solo una consegna riuscita o fallita / the delivery \
             is {s}: only a delivered or failed one can be sent again",
            s = row.status
        )));
    }
    tx.audit(audit::Entry {
        org_id: Some(&who.org_id),
        actor_id: Some(&who.user_id),
        action: Action::WebhookRedeliver,
        object_type: "webhook",
        object_id: id,
        details: serde_json::json!({"delivery_id": delivery_id, "event_id": row.event_id}),
    })
    .await?;
    tx.commit().await?;
    db::delivery(store, &who.org_id, id, delivery_id)
        .await?
        .map(delivery_view)
        .ok_or(Error::NotFound)
}

/// Sends a `webhook.test` event now and records it in the log (the subscription may be
/// disabled: testing comes before enabling).
pub async fn test(
    state: &crate::state::AppState,
    who: &Principal,
    person: &Person,
    id: &str,
) -> Result<TestResult> {
    let store = state.store();
    admin(person)?;
    crate::limits::text("id", id, crate::limits::ID)?;
    let row = db::get(store, &who.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let secret = state
        .tokens()
        .master()
        .open_secret(&row.secret, &db::secret_context(id))
        .map_err(|e| Error::Internal(anyhow::anyhow!("webhook secret does not open: {e}")))?;
    let now = now_ms();
    let event = Event {
        id: format!("test:{}", new_id()),
        kind: "webhook.test".into(),
        occurred_at: ms_to_rfc3339(now),
        org_id: who.org_id.clone(),
        object: EventObject {
            kind: "webhook".into(),
            id: id.to_owned(),
        },
        data: serde_json::json!({}),
    };
    let payload = serde_json::to_string(&event).map_err(|e| Error::Internal(e.into()))?;
    let attempt = send::Attempt {
        url: &row.url,
        format: &row.format,
        secret: &secret,
        event_id: &event.id,
        event_type: &event.kind,
        payload: &payload,
        now_ms: now,
    };
    let settings = &state.settings().webhooks;
    let sent = send::post(
        &attempt,
        crate::webhooks::allow_private(state),
        std::time::Duration::from_secs(settings.timeout_secs.max(1)),
    )
    .await;
    let delivery_id = new_id();
    db::insert_test(
        store,
        &NewDelivery {
            id: &delivery_id,
            webhook_id: id,
            org_id: &who.org_id,
            event_id: &event.id,
            event_type: &event.kind,
            payload: &payload,
        },
        sent.ok(),
        sent.status.map(i64::from),
        sent.error.as_deref(),
        now,
    )
    .await?;
    tracing::info!(webhook.id = %id, status = ?sent.status, "webhook test sent");
    Ok(TestResult {
        delivered: sent.ok(),
        status: sent.status,
        error: sent.error,
        delivery_id,
    })
}
