//! Mail out: every message PecDesk sends (a reply from an activity, one message of a mass
//! send) is an outbox row written in the same transaction as the action that asks for it
//! ([`crate::store::outbox::enqueue`]), then delivered by a worker over the mailbox's SMTP
//! settings.
//!
//! - [`compose`] builds the message (our Message-ID, In-Reply-To/References, attachments,
//!   the receipt type asked of the provider).
//! - [`tick`] is one pass of the worker: recover rows whose attempt did not conclude,
//!   claim due rows per mailbox under its [`throttle`] (COMMIT before any SMTP), send them
//!   over one connection per mailbox ([`smtp`]), conclude each, store the sent copies.
//!   [`start`] runs it in a loop; tests and benchmarks call it with a chosen `now`.
//! - [`limits`] reads a mailbox's sending limits (campaigns validate against them);
//!   [`Preset`] names the providers' ones.
//!
//! Crash safety: our Message-ID is the idempotency key. A row left `sending` after its
//! claim expired (a crash, a cut connection) is *uncertain*: before any new attempt the
//! worker looks for the provider's accettazione / non-accettazione of that Message-ID
//! (`receipt_links`, receipts still waiting for their sent message included) or a copy
//! among the mailbox's sent messages; found, the row is concluded without sending; not
//! found and the attempt older than [`OutboxSettings::uncertain_wait_secs`], it is sent
//! again; else it waits.

pub mod compose;
pub mod smtp;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ingest::{self, Direction, Incoming};
use crate::state::AppState;
use crate::store::mailboxes::{self, Protocol};
use crate::store::outbox::{self as store_outbox, Claim, ClaimedRow};
use crate::store::{Store, new_id, now_ms};

/// Sending (`[outbox]` in `pecdesk.toml`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboxSettings {
    /// Whether `pecdesk serve` runs the worker.
    pub enabled: bool,
    /// Seconds between passes when there is nothing to do.
    pub poll_interval_secs: u64,
    /// Rows claimed per mailbox per pass.
    pub batch_size: usize,
    /// Messages per minute per mailbox when the mailbox sets none (0: no throttle).
    pub default_per_minute: u32,
    /// Seconds a worker holds the rows it claimed (then they count as uncertain).
    pub claim_secs: u64,
    /// Seconds after an uncertain attempt began before it is sent again when neither the
    /// provider's acceptance nor a sent copy has shown up.
    pub uncertain_wait_secs: u64,
    /// Attempts before a transiently failing row is given up.
    pub max_attempts: u32,
    /// First wait after a transient failure; doubled for each further attempt.
    pub retry_base_secs: u64,
    /// Longest wait between attempts.
    pub max_backoff_secs: u64,
    /// Seconds allowed for connecting, logging in and each submission.
    pub timeout_secs: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_secs: 2,
            batch_size: 100,
            default_per_minute: 0,
            claim_secs: 600,
            uncertain_wait_secs: 900,
            max_attempts: 8,
            retry_base_secs: 60,
            max_backoff_secs: 3600,
            timeout_secs: 60,
        }
    }
}

impl OutboxSettings {
    /// The wait before attempt `attempts + 1` after a transient failure (ms): the base
    /// doubled per attempt already made, capped.
    pub fn backoff_ms(&self, attempts: i64) -> i64 {
        let base = i64::try_from(self.retry_base_secs.max(1)).unwrap_or(60) * 1000;
        let cap = i64::try_from(self.max_backoff_secs.max(1)).unwrap_or(3600) * 1000;
        let shift = u32::try_from((attempts - 1).clamp(0, 30)).unwrap_or(30);
        base.saturating_mul(1i64 << shift).min(cap.max(base))
    }
    fn ms(secs: u64) -> i64 {
        i64::try_from(secs).unwrap_or(i64::MAX / 2000) * 1000
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// Which provider's limits to apply to a mailbox.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Aruba PEC: no per-minute limit, 500 recipients, 100 MB per message.
    Aruba,
    /// InfoCert Legalmail: 6 messages a minute, 500 recipients, 100 MB per message.
    Legalmail,
}

impl Preset {
    /// (messages per minute, recipients per message, bytes per message).
    pub fn limits(self) -> (u32, u32, u64) {
        match self {
            Preset::Aruba => (0, 500, DEFAULT_MAX_BYTES),
            Preset::Legalmail => (6, 500, DEFAULT_MAX_BYTES),
        }
    }
}

/// Recipients per message when the mailbox sets none.
pub const DEFAULT_MAX_RECIPIENTS: u32 = 500;
/// Bytes per message when the mailbox sets none (100 MB).
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;

/// A mailbox's sending limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SendLimits {
    /// Messages per minute as the mailbox sets it: `None` the configured default
    /// (`[outbox] default_per_minute`), `Some(0)` no throttle.
    pub per_minute: Option<u32>,
    /// Recipients per message.
    pub max_recipients: u32,
    /// Bytes per message (all recipients share one message's size).
    pub max_bytes: u64,
}

impl SendLimits {
    /// The per-minute limit in force (`None`: no throttle).
    pub fn effective_per_minute(&self, settings: &OutboxSettings) -> Option<u32> {
        Some(self.per_minute.unwrap_or(settings.default_per_minute)).filter(|l| *l > 0)
    }
}

/// A mailbox's sending limits (404 when there is no such mailbox).
pub async fn limits(store: &Store, mailbox_id: &str) -> Result<SendLimits> {
    let row = crate::store::mailboxes::send_limits(store, mailbox_id).await?;
    let (pm, rc, by) = row.ok_or(crate::error::Error::NotFound)?;
    Ok(SendLimits {
        per_minute: pm.and_then(|v| u32::try_from(v).ok()),
        max_recipients: rc
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(DEFAULT_MAX_RECIPIENTS),
        max_bytes: by
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(DEFAULT_MAX_BYTES),
    })
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Rows claimed for an attempt.
    pub claimed: usize,
    /// Accepted by the provider's SMTP server.
    pub sent: usize,
    /// Back in the queue after a transient failure.
    pub retried: usize,
    /// Failed for good.
    pub failed: usize,
    /// Uncertain rows concluded from the provider's receipts or a sent copy, unsent.
    pub recovered: usize,
    /// Uncertain rows put back in the queue (no sign they went out).
    pub requeued: usize,
    /// Sent copies stored among the mailbox's messages.
    pub stored: usize,
    /// Mailboxes with due rows that the throttle held back.
    pub throttled: usize,
}

/// One pass at `now` (ms) as worker `worker_id`: recover, claim, send, conclude, store.
pub async fn tick(state: &AppState, worker_id: &str, now_ms: i64) -> Result<TickReport> {
    tick_with(state, &state.settings().outbox, worker_id, now_ms).await
}

/// [`tick`] with explicit settings (tests pass short waits).
pub async fn tick_with(
    state: &AppState,
    settings: &OutboxSettings,
    worker_id: &str,
    now: i64,
) -> Result<TickReport> {
    let mut report = TickReport::default();
    recover(state.store(), settings, now, &mut report).await?;
    for mailbox_id in store_outbox::due_mailboxes(state.store(), now).await? {
        let claim = Claim {
            worker: worker_id,
            now,
            until: now + OutboxSettings::ms(settings.claim_secs.max(1)),
            max: settings.batch_size.clamp(1, 10_000),
        };
        let rows = store_outbox::claim(state.store(), &mailbox_id, claim, |limit, starts| {
            let limit = SendLimits {
                per_minute: limit.and_then(|v| u32::try_from(v).ok()),
                max_recipients: 0,
                max_bytes: 0,
            }
            .effective_per_minute(settings);
            throttle::available(limit, starts, now)
        })
        .await?;
        if rows.is_empty() {
            report.throttled += 1;
            continue;
        }
        report.claimed += rows.len();
        send_batch(state, settings, &mailbox_id, rows, now, &mut report).await?;
    }
    store_copies(state, &mut report).await?;
    Ok(report)
}

/// Rows whose attempt did not conclude: concluded from the provider's word or a sent copy,
/// re-queued once `uncertain_wait` has passed without either, else left waiting.
async fn recover(
    store: &Store,
    settings: &OutboxSettings,
    now: i64,
    report: &mut TickReport,
) -> Result<()> {
    for row in store_outbox::expired_claims(store, now, 500).await? {
        let verdict =
            store_outbox::provider_verdict(store, &row.org_id, &row.mailbox_id, &row.message_id)
                .await?;
        match verdict {
            Some((true, _)) => {
                store_outbox::mark_sent(store, &row.id, now, "accettazione del gestore").await?;
                tracing::info!(outbox.id = %row.id, "uncertain send concluded: the provider accepted it");
                report.recovered += 1;
                continue;
            }
            Some((false, why)) => {
                let error = format!(
                    "il gestore non ha accettato il messaggio (avviso di non accettazione: {}) / \
                     the provider did not accept the message (non-acceptance notice)",
                    why.unwrap_or_default()
                );
                store_outbox::mark_failed(store, &row.id, now, None, &error).await?;
                report.recovered += 1;
                continue;
            }
            None => {}
        }
        if store_outbox::sent_copy(store, &row.org_id, &row.mailbox_id, &row.message_id)
            .await?
            .is_some()
        {
            store_outbox::mark_sent(store, &row.id, now, "copia tra i messaggi inviati").await?;
            tracing::info!(outbox.id = %row.id, "uncertain send concluded: a sent copy exists");
            report.recovered += 1;
            continue;
        }
        let started = row.attempt_started_at.unwrap_or(0);
        if now - started >= OutboxSettings::ms(settings.uncertain_wait_secs)
            && store_outbox::requeue_expired(store, &row.id, now).await?
        {
            tracing::info!(outbox.id = %row.id, "uncertain send re-queued: no sign it went out");
            report.requeued += 1;
        }
    }
    Ok(())
}

/// Sends the claimed rows of one mailbox over one connection (re-opened after a refusal).
async fn send_batch(
    state: &AppState,
    settings: &OutboxSettings,
    mailbox_id: &str,
    rows: Vec<ClaimedRow>,
    now: i64,
    report: &mut TickReport,
) -> Result<()> {
    let endpoint = mailboxes::endpoint(
        state.store(),
        state.tokens().master(),
        mailbox_id,
        Protocol::Smtp,
    )
    .await?;
    let Some(endpoint) = endpoint else {
        let f = smtp::Failure::Transient {
            reply: None,
            error: "la casella non ha impostazioni SMTP: un amministratore deve configurare \
                    l'invio / the mailbox has no SMTP settings: an administrator must set up \
                    sending"
                .into(),
        };
        for row in &rows {
            conclude_failure(state.store(), settings, row, now, &f, report).await?;
        }
        return Ok(());
    };
    let hello = rows
        .first()
        .and_then(|r| r.envelope_from.rsplit_once('@'))
        .map_or("localhost", |(_, d)| d)
        .to_owned();
    let ca = state.settings().ca_bundle.clone();
    let mut conn: Option<smtp::Connection> = None;
    for (i, row) in rows.iter().enumerate() {
        if conn.as_ref().is_none_or(|c| !c.usable()) {
            match smtp::connect(&endpoint, &hello, settings.timeout(), ca.as_deref()).await {
                Ok(c) => conn = Some(c),
                Err(f) => {
                    // The server cannot be reached or refuses the login: the same answer
                    // for the rest of the batch, without waiting on it once per row.
                    for rest in &rows[i..] {
                        conclude_failure(state.store(), settings, rest, now, &f, report).await?;
                    }
                    return Ok(());
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let recipients = row.recipient_list();
        match c
            .send(
                &row.envelope_from,
                &recipients,
                &row.raw,
                settings.timeout(),
            )
            .await
        {
            Ok(reply) => {
                store_outbox::mark_sent(state.store(), &row.id, now, &reply).await?;
                tracing::info!(outbox.id = %row.id, mailbox.id = %mailbox_id, recipients = recipients.len(), "sent");
                report.sent += 1;
            }
            Err(f) => conclude_failure(state.store(), settings, row, now, &f, report).await?,
        }
    }
    if let Some(c) = conn {
        c.quit().await;
    }
    Ok(())
}

async fn conclude_failure(
    store: &Store,
    settings: &OutboxSettings,
    row: &ClaimedRow,
    now: i64,
    f: &smtp::Failure,
    report: &mut TickReport,
) -> Result<()> {
    match f {
        smtp::Failure::Transient { reply, error } => {
            if row.attempts >= i64::from(settings.max_attempts.max(1)) {
                let words = format!(
                    "{error}; tentativi esauriti ({n}): controlla la casella e invia di nuovo / \
                     attempts exhausted ({n}): check the mailbox and send again",
                    n = row.attempts
                );
                store_outbox::mark_failed(store, &row.id, now, reply.as_deref(), &words).await?;
                report.failed += 1;
            } else {
                let next = now + settings.backoff_ms(row.attempts);
                store_outbox::mark_retry(store, &row.id, now, next, reply.as_deref(), error)
                    .await?;
                report.retried += 1;
            }
            tracing::info!(outbox.id = %row.id, attempts = row.attempts, "send deferred");
        }
        smtp::Failure::Permanent { reply, error } => {
            store_outbox::mark_failed(store, &row.id, now, reply.as_deref(), error).await?;
            tracing::info!(outbox.id = %row.id, "send failed");
            report.failed += 1;
        }
        smtp::Failure::Uncertain { error } => {
            store_outbox::mark_uncertain(store, &row.id, now, error).await?;
            tracing::warn!(outbox.id = %row.id, "send uncertain: the acceptance is checked before any retry");
        }
    }
    Ok(())
}

/// Stores the sent copies not stored yet (direction out, source `outbox`) so receipts
/// reconcile with them, and records which message each is.
async fn store_copies(state: &AppState, report: &mut TickReport) -> Result<()> {
    let rows = store_outbox::unstored(state.store(), 200).await?;
    // One batch per mailbox.
    let mut by_mailbox: Vec<(String, String, Vec<store_outbox::UnstoredRow>)> = Vec::new();
    for r in rows {
        match by_mailbox.iter_mut().find(|(m, _, _)| *m == r.mailbox_id) {
            Some((_, _, v)) => v.push(r),
            None => by_mailbox.push((r.mailbox_id.clone(), r.org_id.clone(), vec![r])),
        }
    }
    for (mailbox_id, org_id, rows) in by_mailbox {
        let batch = rows
            .iter()
            .map(|r| Incoming {
                raw: r.raw.clone(),
                source: "outbox".into(),
                direction: Some(Direction::Out),
            })
            .collect();
        let outcomes = ingest::ingest_batch(
            state.store(),
            state.trust(),
            None,
            &org_id,
            &mailbox_id,
            batch,
        )
        .await?;
        let mut created = Vec::new();
        for (row, outcome) in rows.iter().zip(outcomes) {
            match outcome {
                Ok(o) => {
                    store_outbox::set_stored(state.store(), &row.id, &o.message_id).await?;
                    if o.status == ingest::Status::Created {
                        created.push(o.message_id);
                    }
                    report.stored += 1;
                }
                Err(e) => {
                    tracing::warn!(outbox.id = %row.id, error = %e, "sent copy not stored; retried later");
                }
            }
        }
        // Reconciliation with receipts that may have come first.
        if let Err(e) = ingest::process_messages(state.store(), &org_id, &created).await {
            tracing::warn!(error = %e, "processing of sent copies failed; retried later");
        }
    }
    Ok(())
}

/// The running worker of one process (the shared background loop).
pub type Workers = crate::jobs::Worker;

/// Starts the worker with `settings` (tests pass short intervals).
pub fn start_with(state: AppState, settings: OutboxSettings) -> Workers {
    let id: Arc<str> = Arc::from(format!("outbox-{}", new_id()));
    let worker = Arc::clone(&id);
    let idle = Duration::from_secs(settings.poll_interval_secs.max(1));
    let mut last_sweep: Option<std::time::Instant> = None;
    crate::jobs::spawn("outbox", id, move || {
        // Campaigns: activities for failed recipients, finished campaigns marked done (at
        // most once per idle interval: it reads every unfinished campaign). Decided here,
        // where the loop's state lives, before the pass starts.
        let sweep = last_sweep.is_none_or(|t| t.elapsed() >= idle);
        if sweep {
            last_sweep = Some(std::time::Instant::now());
        }
        let (state, worker) = (state.clone(), Arc::clone(&worker));
        async move {
            if sweep && let Err(e) = crate::domain::campaigns::sweep(state.store(), now_ms()).await
            {
                tracing::error!(error = %e, "campaign sweep failed");
            }
            match tick_with(&state, &settings, &worker, now_ms()).await {
                // Work done: go again at once (a campaign drains fast), else rest.
                Ok(r) if r.claimed > 0 || r.stored > 0 => Duration::from_millis(10),
                Ok(_) => idle,
                Err(e) => {
                    tracing::error!(error = %e, "outbox pass failed");
                    idle
                }
            }
        }
    })
}

/// Starts the worker with the service's `[outbox]` settings.
pub fn start(state: AppState) -> Workers {
    let settings = state.settings().outbox;
    start_with(state, settings)
}
