//! Webhooks: an organisation's subscriptions to events, delivered by a worker.
//!
//! - [`events`] makes events from the audit log (their only source) with stable ids.
//! - [`send`] is one HTTP attempt: the body in the subscription's format, the HMAC
//!   signature, the target check against request forgery.
//! - [`tick`] is one pass of the worker: for each enabled subscription, the entries of its
//!   organisation's chain after its cursor become delivery rows (unique per subscription
//!   and event, so replicas never queue one twice) and the cursor moves, in one
//!   transaction; then due rows are claimed (committed before any POST; on PostgreSQL
//!   `FOR UPDATE SKIP LOCKED`), POSTed, and concluded: delivered on a 2xx; otherwise
//!   retried with exponential backoff and jitter until `max_attempts`, then `failed`.
//!   A claim whose worker died expires and the row is sent again: at least once.
//!   [`start`] runs it in a loop; tests call [`tick_with`] with a chosen `now`.

pub mod events;
pub mod send;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::state::AppState;
use crate::store::webhooks::{self as db, ClaimedDelivery, NewDelivery, Outcome};
use crate::store::{Store, new_id, now_ms};

/// Webhook delivery (`[webhooks]` in `pecdesk.toml`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    /// Whether `pecdesk serve` runs the delivery worker.
    pub enabled: bool,
    /// Seconds between passes when there is nothing to do.
    pub poll_interval_secs: u64,
    /// Deliveries claimed per pass.
    pub batch_size: usize,
    /// Deliveries POSTed at once.
    pub concurrency: usize,
    /// Attempts before a delivery is `failed`.
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubled for each further one (with jitter:
    /// between half and all of it).
    pub retry_base_secs: u64,
    /// Longest wait between attempts.
    pub max_backoff_secs: u64,
    /// Seconds a receiver has to answer.
    pub timeout_secs: u64,
    /// Seconds a worker holds the deliveries it claimed (then another may send them).
    pub claim_secs: u64,
    /// Allow targets on loopback and private addresses (always allowed with `--demo` or
    /// dev mode). Off in production: a subscription must not reach internal services.
    pub allow_private_targets: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_secs: 2,
            batch_size: 50,
            concurrency: 8,
            max_attempts: 10,
            retry_base_secs: 30,
            max_backoff_secs: 6 * 3600,
            timeout_secs: 10,
            claim_secs: 120,
            allow_private_targets: false,
        }
    }
}

impl WebhookSettings {
    /// The wait before the next attempt after `attempts` failed ones (ms): the base doubled
    /// per attempt already made, capped, then scaled by `jitter` in `[0, 1)` to between
    /// half and all of it (receivers that fail together are not hit together again).
    pub fn backoff_ms(&self, attempts: i64, jitter: f64) -> i64 {
        let base = i64::try_from(self.retry_base_secs.max(1)).unwrap_or(30) * 1000;
        let cap = i64::try_from(self.max_backoff_secs.max(1)).unwrap_or(3600) * 1000;
        let shift = u32::try_from((attempts - 1).clamp(0, 30)).unwrap_or(30);
        let full = base.saturating_mul(1i64 << shift).min(cap.max(base));
        let half = full / 2;
        // The product is at most `half`: the cast back cannot overflow.
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let extra = (half as f64 * jitter.clamp(0.0, 1.0)) as i64;
        half + extra
    }
}

/// Whether deliveries may reach loopback and private addresses.
pub fn allow_private(state: &AppState) -> bool {
    let s = state.settings();
    s.webhooks.allow_private_targets || s.demo || s.dev_mode
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    /// Delivery rows queued from new audit entries.
    pub queued: usize,
    /// Rows claimed and attempted.
    pub attempted: usize,
    /// Answered 2xx.
    pub delivered: usize,
    /// Failed, to be tried again.
    pub retried: usize,
    /// Failed for good.
    pub failed: usize,
}

/// Entries read per query when turning the log into deliveries.
const READ_BATCH: i64 = 500;

/// One pass with the service's settings.
pub async fn tick(state: &AppState, worker: &str, now: i64) -> Result<TickReport> {
    tick_with(state, &state.settings().webhooks, worker, now).await
}

/// One pass with explicit settings (tests pass short waits and a chosen `now`).
pub async fn tick_with(
    state: &AppState,
    settings: &WebhookSettings,
    worker: &str,
    now: i64,
) -> Result<TickReport> {
    let mut report = TickReport {
        queued: enqueue_all(state.store(), now).await?,
        ..TickReport::default()
    };
    let claimed = db::claim(
        state.store(),
        worker,
        now,
        now + i64::try_from(settings.claim_secs.max(1)).unwrap_or(120) * 1000,
        i64::try_from(settings.batch_size.clamp(1, 1000)).unwrap_or(50),
    )
    .await?;
    report.attempted = claimed.len();
    let outcomes: Vec<Result<Concluded>> = futures_util::stream::iter(claimed)
        .map(|d| deliver(state, settings, worker, d, now))
        .buffer_unordered(settings.concurrency.clamp(1, 64))
        .collect()
        .await;
    for o in outcomes {
        match o? {
            Concluded::Delivered => report.delivered += 1,
            Concluded::Retry => report.retried += 1,
            Concluded::Failed => report.failed += 1,
        }
    }
    Ok(report)
}

/// Turns the new entries of every enabled subscription's chain into delivery rows.
async fn enqueue_all(store: &Store, now: i64) -> Result<usize> {
    let mut queued = 0;
    for w in db::enabled(store).await? {
        let wanted: Vec<String> = serde_json::from_str(&w.events).unwrap_or_default();
        let head = db::chain_head(store, &w.org_id).await?;
        let mut cursor = w.audit_cursor;
        while cursor < head {
            let rows = db::source_rows(store, &w.org_id, cursor, head, READ_BATCH).await?;
            let next = match rows.last() {
                Some(last) if i64::try_from(rows.len()).unwrap_or(0) >= READ_BATCH => last.seq,
                _ => head,
            };
            let evs: Vec<(String, events::Event)> = rows
                .iter()
                .flat_map(|r| events::of_entry(&w.org_id, r))
                .filter(|e| wanted.contains(&e.kind))
                .map(|e| (new_id(), e))
                .collect();
            let payloads: Vec<String> = evs
                .iter()
                .map(|(_, e)| serde_json::to_string(e).unwrap_or_default())
                .collect();
            let new: Vec<NewDelivery<'_>> = evs
                .iter()
                .zip(&payloads)
                .map(|((id, e), payload)| NewDelivery {
                    id,
                    webhook_id: &w.id,
                    org_id: &w.org_id,
                    event_id: &e.id,
                    event_type: &e.kind,
                    payload,
                })
                .collect();
            queued += db::enqueue(store, &w.id, &new, next, now).await?;
            cursor = next;
        }
    }
    Ok(queued)
}

enum Concluded {
    Delivered,
    Retry,
    Failed,
}

/// One attempt of a claimed delivery, concluded in the database.
async fn deliver(
    state: &AppState,
    settings: &WebhookSettings,
    worker: &str,
    d: ClaimedDelivery,
    now: i64,
) -> Result<Concluded> {
    let store = state.store();
    let secret = match state
        .tokens()
        .master()
        .open_secret(&d.secret, &db::secret_context(&d.webhook_id))
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(webhook.id = %d.webhook_id, error = %e, "webhook secret does not open");
            let error = "secret does not open with this master key";
            db::conclude(
                store,
                &d.id,
                worker,
                Outcome::Failed {
                    status: None,
                    error,
                },
                now,
            )
            .await?;
            return Ok(Concluded::Failed);
        }
    };
    let attempt = send::Attempt {
        url: &d.url,
        format: &d.format,
        secret: &secret,
        event_id: &d.event_id,
        event_type: &d.event_type,
        payload: &d.payload,
        now_ms: now,
    };
    let timeout = Duration::from_secs(settings.timeout_secs.max(1));
    let sent = send::post(&attempt, allow_private(state), timeout).await;
    let status = sent.status.map(i64::from);
    let error = sent.error.as_deref().unwrap_or("");
    let (outcome, concluded) = if sent.ok() {
        (
            Outcome::Delivered {
                status: status.unwrap_or(200),
            },
            Concluded::Delivered,
        )
    } else if !sent.retryable || d.attempts >= i64::from(settings.max_attempts.max(1)) {
        (Outcome::Failed { status, error }, Concluded::Failed)
    } else {
        let wait = settings.backoff_ms(d.attempts, rand::random::<f64>());
        (
            Outcome::Retry {
                status,
                error,
                next_at: now + wait,
            },
            Concluded::Retry,
        )
    };
    db::conclude(store, &d.id, worker, outcome, now).await?;
    tracing::info!(
        webhook.id = %d.webhook_id,
        delivery.id = %d.id,
        event.id = %d.event_id,
        attempt = d.attempts,
        status = ?sent.status,
        outcome = match concluded {
            Concluded::Delivered => "delivered",
            Concluded::Retry => "retry",
            Concluded::Failed => "failed",
        },
        "webhook delivery attempted"
    );
    Ok(concluded)
}

/// The running worker of one process (the shared background loop).
pub type Workers = crate::jobs::Worker;

/// Starts the worker with `settings`.
pub fn start_with(state: AppState, settings: WebhookSettings) -> Workers {
    let id: Arc<str> = Arc::from(format!("webhooks-{}", new_id()));
    let worker = Arc::clone(&id);
    let idle = Duration::from_secs(settings.poll_interval_secs.max(1));
    crate::jobs::spawn("webhooks", id, move || {
        let (state, worker) = (state.clone(), Arc::clone(&worker));
        async move {
            match tick_with(&state, &settings, &worker, now_ms()).await {
                Ok(r) if r.attempted > 0 => Duration::from_millis(10),
                Ok(_) => idle,
                Err(e) => {
                    tracing::error!(error = %e, "webhook pass failed");
                    idle
                }
            }
        }
    })
}

/// Starts the worker with the service's `[webhooks]` settings.
pub fn start(state: AppState) -> Workers {
    let settings = state.settings().webhooks;
    start_with(state, settings)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let s = WebhookSettings {
            retry_base_secs: 10,
            max_backoff_secs: 60,
            ..WebhookSettings::default()
        };
        assert_eq!(s.backoff_ms(1, 0.0), 5_000);
        assert_eq!(s.backoff_ms(1, 0.999_999), 9_999);
        assert_eq!(s.backoff_ms(2, 0.0), 10_000);
        assert_eq!(s.backoff_ms(3, 0.0), 20_000);
        assert_eq!(s.backoff_ms(10, 0.0), 30_000, "capped at 60 s, halved");
        assert!(s.backoff_ms(10, 0.5) <= 60_000);
    }
}
