//! IMAP ingestion: one poller per mailbox with `ingest_enabled`, reading INBOX and the Sent
//! folder into [`crate::ingest`], the one path every message takes.
//!
//! - [`start`] runs the supervisor: it re-reads the mailboxes to poll every
//!   [`ImapSettings::refresh_secs`] and keeps one task per mailbox ([`poller`]).
//! - A mailbox is polled by one replica at a time: its lease lives in
//!   `mailbox_health.lease_owner/lease_until`, taken with a conditional UPDATE, renewed
//!   while working, taken over once expired. A lost race only wastes work: ingestion is
//!   idempotent (by bytes, under the organisation's write lock), never duplicates.
//! - Folders are read by UID from `imap_folders.last_uid`, fetched with `BODY.PEEK[]` (no
//!   `\Seen` set), stored in batches, and the mark moves only past UIDs whose messages are
//!   committed. Nothing is moved, flagged or deleted on the server.
//! - IDLE where the server offers it (waking on EXISTS, re-issued at least every
//!   [`ImapSettings::idle_timeout_secs`]), else a poll every
//!   [`ImapSettings::poll_interval_secs`].
//! - Failures land on `mailbox_health` ([`health`]) in words an admin can act on, with an
//!   exponential backoff; settings are read again at each attempt, so a fixed password
//!   works at the next one.

pub mod connect;
pub mod health;
pub mod poller;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::store::{mailboxes, new_id};

/// IMAP polling (`[imap]` in `pecdesk.toml`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub struct ImapSettings {
    /// Whether `pecdesk serve` polls the mailboxes with ingestion enabled.
    pub enabled: bool,
    /// Seconds between polls of a server without IDLE (and of the Sent folder).
    pub poll_interval_secs: u64,
    /// Longest IDLE before it is re-issued (servers drop an IDLE after 30 minutes).
    pub idle_timeout_secs: u64,
    /// First wait after a failure; doubled for each further failure.
    pub retry_base_secs: u64,
    /// Longest wait between attempts after failures.
    pub max_backoff_secs: u64,
    /// Messages fetched and stored per batch.
    pub batch_size: usize,
    /// Bytes of messages held in memory per batch (a larger message goes alone).
    pub batch_bytes: usize,
    /// Seconds a replica holds a mailbox's lease without renewing it (another replica takes
    /// the mailbox over after that).
    pub lease_secs: u64,
    /// Seconds allowed for connecting, logging in and each IMAP command.
    pub timeout_secs: u64,
    /// Seconds between re-reads of which mailboxes to poll.
    pub refresh_secs: u64,
}

impl Default for ImapSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_secs: 60,
            idle_timeout_secs: 25 * 60,
            retry_base_secs: 10,
            max_backoff_secs: 900,
            batch_size: 200,
            batch_bytes: 32 * 1024 * 1024,
            lease_secs: 120,
            timeout_secs: 120,
            refresh_secs: 30,
        }
    }
}

impl ImapSettings {
    fn secs(s: u64) -> Duration {
        Duration::from_secs(s.max(1))
    }
    pub(crate) fn poll_interval(&self) -> Duration {
        Self::secs(self.poll_interval_secs)
    }
    pub(crate) fn idle_timeout(&self) -> Duration {
        Self::secs(self.idle_timeout_secs.min(25 * 60))
    }
    pub(crate) fn retry_base(&self) -> Duration {
        Self::secs(self.retry_base_secs)
    }
    pub(crate) fn max_backoff(&self) -> Duration {
        Self::secs(self.max_backoff_secs)
    }
    pub(crate) fn lease(&self) -> Duration {
        Self::secs(self.lease_secs.max(3))
    }
    pub(crate) fn timeout(&self) -> Duration {
        Self::secs(self.timeout_secs)
    }
    pub(crate) fn refresh(&self) -> Duration {
        Self::secs(self.refresh_secs)
    }
    pub(crate) fn batch(&self) -> usize {
        self.batch_size.clamp(1, 10_000)
    }
    pub(crate) fn batch_bytes(&self) -> usize {
        self.batch_bytes.max(1)
    }
}

/// The running pollers of one process; [`Pollers::stop`] ends them.
#[derive(Debug)]
pub struct Pollers {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    owner: Arc<str>,
}

impl Pollers {
    /// The lease owner name of this process's pollers.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Stops every poller (each gives its lease back) and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the supervisor with `settings` (tests pass short intervals; `pecdesk serve` the
/// configured `[imap]`).
pub fn start_with(state: AppState, settings: ImapSettings) -> Pollers {
    let (stop, rx) = watch::channel(false);
    let owner: Arc<str> = Arc::from(new_id());
    let task = tokio::spawn(supervise(state, settings, Arc::clone(&owner), rx));
    Pollers { stop, task, owner }
}

/// Starts the supervisor with the service's `[imap]` settings.
pub fn start(state: AppState) -> Pollers {
    let settings = state.settings().imap;
    start_with(state, settings)
}

/// Keeps one poller per mailbox to poll until `stop` turns true.
async fn supervise(
    state: AppState,
    settings: ImapSettings,
    owner: Arc<str>,
    mut stop: watch::Receiver<bool>,
) {
    let mut running: HashMap<String, (watch::Sender<bool>, JoinHandle<()>)> = HashMap::new();
    tracing::info!(imap.owner = %owner, "IMAP supervisor started");
    loop {
        match mailboxes::poll_targets(state.store()).await {
            Ok(targets) => {
                let wanted: HashMap<String, mailboxes::PollTarget> =
                    targets.into_iter().map(|t| (t.id.clone(), t)).collect();
                // Pollers of mailboxes no longer polled (or that ended) stop.
                running.retain(|id, (tx, task)| {
                    let keep = wanted.contains_key(id) && !task.is_finished();
                    if !keep {
                        let _ = tx.send(true);
                    }
                    keep
                });
                for (id, target) in wanted {
                    if running.contains_key(&id) {
                        continue;
                    }
                    let (tx, rx) = watch::channel(false);
                    let task = tokio::spawn(poller::run(
                        state.clone(),
                        settings,
                        Arc::clone(&owner),
                        target,
                        rx,
                    ));
                    running.insert(id, (tx, task));
                }
            }
            Err(e) => tracing::error!(error = %e, "IMAP: cannot read the mailboxes to poll"),
        }
        tokio::select! {
            () = tokio::time::sleep(settings.refresh()) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
    for (_, (tx, _)) in running.iter() {
        let _ = tx.send(true);
    }
    for (_, (_, task)) in running {
        let _ = task.await;
    }
    tracing::info!(imap.owner = %owner, "IMAP supervisor stopped");
}
