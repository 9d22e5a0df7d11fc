//! One mailbox's poller: lease, connect, read INBOX and Sent by UID into the ingestion
//! path, wait (IDLE or interval), again; failures on the mailbox's health with a backoff.
//! A mailbox with an archive policy has its old, stored messages expunged after each
//! folder's sync ([`archive`]).

mod archive;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_imap::types::NameAttribute;
use futures_util::TryStreamExt as _;
use tokio::sync::watch;

use super::ImapSettings;
use super::connect::{self, ImapSession, classify, timed};
use super::health::{self, ErrorCode, PollError};
use crate::ingest::{self, Direction, Incoming};
use crate::state::AppState;
use crate::store::mailboxes::{self, PollTarget, Protocol};
use crate::store::{imap as store_imap, now_ms};

/// Names of the Sent folder tried when the server marks none `\Sent` (RFC 6154).
const SENT_NAMES: &[&str] = &[
    "Sent",
    "Posta inviata",
    "INBOX.Sent",
    "INBOX/Sent",
    "Sent Items",
    "Sent Messages",
];

/// What one poller works with.
struct Ctx {
    state: AppState,
    settings: ImapSettings,
    owner: Arc<str>,
    target: PollTarget,
    /// Turns true when the poller must stop (checked between batches too).
    stop: watch::Receiver<bool>,
}

impl Ctx {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn lease_until(&self) -> i64 {
        now_ms().saturating_add(ms(self.settings.lease()))
    }

    /// Renews the lease; `false` when another replica holds the mailbox now.
    async fn renew(&self) -> Result<bool, PollError> {
        store_imap::renew_lease(
            self.state.store(),
            &self.target.id,
            &self.owner,
            self.lease_until(),
        )
        .await
        .map_err(storage)
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn storage(e: crate::error::Error) -> PollError {
    PollError::new(ErrorCode::Storage, e.to_string())
}

/// Waits `d` or until `stop` turns true; returns whether to stop.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
    *stop.borrow()
}

/// Polls `target` until `stop` turns true.
pub async fn run(
    state: AppState,
    settings: ImapSettings,
    owner: Arc<str>,
    target: PollTarget,
    mut stop: watch::Receiver<bool>,
) {
    let ctx = Ctx {
        state,
        settings,
        owner,
        target,
        stop: stop.clone(),
    };
    let store = ctx.state.store().clone();
    let id = ctx.target.id.clone();
    tracing::info!(mailbox.id = %id, "IMAP poller started");
    // While another replica holds the lease, look again this often (well within its term).
    let recheck = (settings.lease() / 3).min(settings.poll_interval());
    loop {
        if *stop.borrow() {
            break;
        }
        let now = now_ms();
        match store_imap::health(&store, &id).await {
            Ok(Some(h)) if h.next_attempt_at.is_some_and(|t| t > now) => {
                let wait = u64::try_from(h.next_attempt_at.unwrap_or(now) - now).unwrap_or(0);
                if pause(Duration::from_millis(wait).min(recheck), &mut stop).await {
                    break;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(mailbox.id = %id, error = %e, "IMAP: cannot read health");
                if pause(recheck, &mut stop).await {
                    break;
                }
                continue;
            }
        }
        match store_imap::acquire_lease(&store, &id, &ctx.owner, now, ctx.lease_until()).await {
            Ok(true) => {}
            Ok(false) => {
                if pause(recheck, &mut stop).await {
                    break;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(mailbox.id = %id, error = %e, "IMAP: cannot take the lease");
                if pause(recheck, &mut stop).await {
                    break;
                }
                continue;
            }
        }
        let outcome = session(&ctx, &mut stop).await;
        if let Err(e) = outcome {
            record_failure(&ctx, &e).await;
        }
        if let Err(e) = store_imap::release_lease(&store, &id, &ctx.owner).await {
            tracing::warn!(mailbox.id = %id, error = %e, "IMAP: cannot release the lease");
        }
    }
    let _ = store_imap::release_lease(&store, &id, &ctx.owner).await;
    tracing::info!(mailbox.id = %id, "IMAP poller stopped");
}

async fn record_failure(ctx: &Ctx, e: &PollError) {
    let store = ctx.state.store();
    let id = &ctx.target.id;
    // The host only: never the user name or password.
    let host = mailboxes::endpoint(store, ctx.state.tokens().master(), id, Protocol::Imap)
        .await
        .ok()
        .flatten()
        .map(|e| e.host)
        .unwrap_or_default();
    let now = now_ms();
    tracing::warn!(mailbox.id = %id, imap.error = e.code.as_str(), "IMAP attempt failed");
    match store_imap::record_failure(store, id, now, e.code.as_str(), &e.words(&host)).await {
        Ok(n) => {
            let at = health::next_attempt_at(
                now,
                u32::try_from(n).unwrap_or(1),
                ctx.settings.retry_base(),
                ctx.settings.max_backoff(),
            );
            if let Err(e) = store_imap::set_next_attempt(store, id, Some(at)).await {
                tracing::error!(mailbox.id = %id, error = %e, "IMAP: cannot record the backoff");
            }
        }
        Err(e) => tracing::error!(mailbox.id = %id, error = %e, "IMAP: cannot record a failure"),
    }
}

/// One connection: log in, then read and wait until stopped, the lease is lost, or an
/// error ends it.
async fn session(ctx: &Ctx, stop: &mut watch::Receiver<bool>) -> Result<(), PollError> {
    let store = ctx.state.store();
    let id = &ctx.target.id;
    let t = ctx.settings.timeout();
    // Read at every attempt: a password fixed by the admin is used at the next one.
    let endpoint = mailboxes::endpoint(store, ctx.state.tokens().master(), id, Protocol::Imap)
        .await
        .map_err(|e| PollError::new(ErrorCode::Settings, e.to_string()))?
        .ok_or_else(|| PollError::new(ErrorCode::Settings, "no IMAP settings"))?;
    let mut s = connect::open(&endpoint, t, ctx.state.settings().ca_bundle.as_deref()).await?;
    let caps = timed(t, "CAPABILITY", async {
        s.capabilities().await.map_err(|e| classify(&e))
    })
    .await?;
    let idle = caps.has_str("IDLE");
    let quota = caps.has_str("QUOTA");
    let uidplus = caps.has_str("UIDPLUS");
    drop(caps);
    store_imap::set_idle(store, id, idle)
        .await
        .map_err(storage)?;
    if quota {
        read_quota(ctx, &mut s).await;
    }
    let sent = sent_folder(ctx, &mut s).await?;
    tracing::info!(mailbox.id = %id, imap.idle = idle, imap.sent = sent.is_some(), "IMAP connected");
    let mut memo = archive::Memo::default();
    loop {
        if !ctx.renew().await? {
            tracing::info!(mailbox.id = %id, "IMAP: lease taken over by another replica");
            let _ = s.logout().await;
            return Ok(());
        }
        // Read again at each poll: an administrator's change applies at the next one.
        let policy = archive::policy(ctx).await?;
        let mut run = archive::Run {
            on: policy.is_some(),
            ..archive::Run::default()
        };
        // Sent first, INBOX last: INBOX stays selected for IDLE.
        if let Some(folder) = &sent {
            if !sync_folder(ctx, &mut s, folder, Direction::Out).await? {
                return Ok(());
            }
            if let Some(days) = policy.filter(|_| uidplus) {
                archive::folder(ctx, &mut s, folder, days, &mut memo, &mut run).await?;
            }
        }
        if !sync_folder(ctx, &mut s, "INBOX", Direction::In).await? {
            return Ok(());
        }
        if let Some(days) = policy.filter(|_| uidplus) {
            archive::folder(ctx, &mut s, "INBOX", days, &mut memo, &mut run).await?;
        }
        archive::finish(ctx, &run, uidplus).await?;
        if run.expunged > 0 && quota {
            // The box shrank: its quota as the server now reports it.
            read_quota(ctx, &mut s).await;
        }
        store_imap::record_success(store, id, now_ms())
            .await
            .map_err(storage)?;
        if *stop.borrow() {
            let _ = s.logout().await;
            return Ok(());
        }
        // The lease must be renewed well within its term; the Sent folder is polled at the
        // interval even while INBOX is watched with IDLE.
        let wait = ctx
            .settings
            .poll_interval()
            .min(ctx.settings.lease() / 3)
            .max(Duration::from_millis(500));
        if idle {
            let mut handle = s.idle();
            timed(t, "IDLE", async {
                handle.init().await.map_err(|e| classify(&e))
            })
            .await?;
            let stopped = {
                let (fut, _interrupt) =
                    handle.wait_with_timeout(wait.min(ctx.settings.idle_timeout()));
                tokio::select! {
                    r = fut => { r.map_err(|e| classify(&e))?; false }
                    _ = stop.changed() => true,
                }
            };
            s = timed(t, "DONE", async {
                handle.done().await.map_err(|e| classify(&e))
            })
            .await?;
            if stopped {
                let _ = s.logout().await;
                return Ok(());
            }
        } else if pause(wait, stop).await {
            let _ = s.logout().await;
            return Ok(());
        }
    }
}

/// What one archive pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArchivePass {
    /// Whether the mailbox has a policy.
    pub policy_on: bool,
    /// Whether the server offers UIDPLUS (nothing is expunged without it).
    pub uidplus: bool,
    /// Messages expunged from the box.
    pub expunged: i64,
    /// Bytes freed.
    pub bytes_freed: i64,
}

/// One archive pass over `target`'s folders (Sent, INBOX) without reading new mail: the
/// same checks and records as the poller's, under the mailbox's lease (`Ok(None)` when
/// another replica holds it). The poller runs this step after every sync; this entry point
/// lets an administrator's tool (and the tests) run it on its own.
pub async fn archive_pass(
    state: AppState,
    settings: ImapSettings,
    target: PollTarget,
) -> Result<Option<ArchivePass>, PollError> {
    let (_tx, stop) = watch::channel(false);
    let owner: Arc<str> = Arc::from(crate::store::new_id());
    let ctx = Ctx {
        state,
        settings,
        owner,
        target,
        stop,
    };
    let store = ctx.state.store();
    let id = &ctx.target.id;
    if !store_imap::acquire_lease(store, id, &ctx.owner, now_ms(), ctx.lease_until())
        .await
        .map_err(storage)?
    {
        return Ok(None);
    }
    let r = archive_session(&ctx).await;
    if let Err(e) = store_imap::release_lease(store, id, &ctx.owner).await {
        tracing::warn!(mailbox.id = %id, error = %e, "IMAP: cannot release the lease");
    }
    r.map(Some)
}

async fn archive_session(ctx: &Ctx) -> Result<ArchivePass, PollError> {
    let store = ctx.state.store();
    let t = ctx.settings.timeout();
    let endpoint = mailboxes::endpoint(
        store,
        ctx.state.tokens().master(),
        &ctx.target.id,
        Protocol::Imap,
    )
    .await
    .map_err(|e| PollError::new(ErrorCode::Settings, e.to_string()))?
    .ok_or_else(|| PollError::new(ErrorCode::Settings, "no IMAP settings"))?;
    let mut s = connect::open(&endpoint, t, ctx.state.settings().ca_bundle.as_deref()).await?;
    let caps = timed(t, "CAPABILITY", async {
        s.capabilities().await.map_err(|e| classify(&e))
    })
    .await?;
    let uidplus = caps.has_str("UIDPLUS");
    drop(caps);
    let policy = archive::policy(ctx).await?;
    let mut run = archive::Run {
        on: policy.is_some(),
        ..archive::Run::default()
    };
    if let Some(days) = policy.filter(|_| uidplus) {
        let mut memo = archive::Memo::default();
        let sent = sent_folder(ctx, &mut s).await?;
        for folder in sent.iter().map(String::as_str).chain(["INBOX"]) {
            timed(t, "EXAMINE", async {
                s.examine(folder).await.map_err(|e| classify(&e))
            })
            .await?;
            archive::folder(ctx, &mut s, folder, days, &mut memo, &mut run).await?;
        }
    }
    archive::finish(ctx, &run, uidplus).await?;
    let _ = s.logout().await;
    Ok(ArchivePass {
        policy_on: run.on,
        uidplus,
        expunged: run.expunged,
        bytes_freed: run.bytes,
    })
}

/// Reads the box's quota (RFC 9208 STORAGE, KiB); a failure is only logged.
async fn read_quota(ctx: &Ctx, s: &mut ImapSession) {
    let id = &ctx.target.id;
    let r = timed(ctx.settings.timeout(), "GETQUOTAROOT", async {
        s.get_quota_root("INBOX").await.map_err(|e| classify(&e))
    })
    .await;
    match r {
        Ok((_, quotas)) => {
            let storage_res = quotas
                .iter()
                .flat_map(|q| q.resources.iter())
                .find(|r| r.name == async_imap::types::QuotaResourceName::Storage);
            if let Some(r) = storage_res {
                let used = i64::try_from(r.usage).unwrap_or(i64::MAX);
                let total = i64::try_from(r.limit).ok().filter(|l| *l > 0);
                if let Err(e) =
                    store_imap::set_quota(ctx.state.store(), id, used, total, now_ms()).await
                {
                    tracing::warn!(mailbox.id = %id, error = %e, "IMAP: cannot record the quota");
                }
            }
        }
        Err(e) => tracing::info!(mailbox.id = %id, error = %e, "IMAP: quota not read"),
    }
}

/// The Sent folder: the one the admin set, else the one marked `\Sent`, else a usual name.
async fn sent_folder(ctx: &Ctx, s: &mut ImapSession) -> Result<Option<String>, PollError> {
    if let Some(f) = ctx
        .target
        .imap_sent_folder
        .as_deref()
        .filter(|f| !f.trim().is_empty())
    {
        return Ok(Some(f.to_owned()));
    }
    let names = timed(ctx.settings.timeout(), "LIST", async {
        let stream = s
            .list(Some(""), Some("*"))
            .await
            .map_err(|e| classify(&e))?;
        let names: Vec<_> = stream.try_collect().await.map_err(|e| classify(&e))?;
        Ok(names)
    })
    .await?;
    let selectable = |n: &&async_imap::types::Name| {
        !n.attributes()
            .iter()
            .any(|a| matches!(a, NameAttribute::NoSelect))
    };
    if let Some(n) = names.iter().filter(selectable).find(|n| {
        n.attributes()
            .iter()
            .any(|a| matches!(a, NameAttribute::Sent))
    }) {
        return Ok(Some(n.name().to_owned()));
    }
    for want in SENT_NAMES {
        if let Some(n) = names
            .iter()
            .filter(selectable)
            .find(|n| n.name().eq_ignore_ascii_case(want))
        {
            return Ok(Some(n.name().to_owned()));
        }
    }
    Ok(None)
}

/// Reads every message of `folder` past its mark into storage, batch by batch. Returns
/// `false` when the lease was lost or a stop was asked on the way (the caller ends the
/// session; what is committed stays, the rest is read at the next start).
async fn sync_folder(
    ctx: &Ctx,
    s: &mut ImapSession,
    folder: &str,
    direction: Direction,
) -> Result<bool, PollError> {
    let store = ctx.state.store();
    let id = &ctx.target.id;
    let t = ctx.settings.timeout();
    let mb = timed(t, "SELECT", async {
        // EXAMINE: read-only, so even the \Recent flag is left to other clients.
        s.examine(folder).await.map_err(|e| match e {
            async_imap::error::Error::No(text) => {
                PollError::new(ErrorCode::Folder, format!("{folder}: {text}"))
            }
            other => classify(&other),
        })
    })
    .await?;
    let uidvalidity = i64::from(mb.uid_validity.unwrap_or(0));
    let mark = match store_imap::folder(store, id, folder)
        .await
        .map_err(storage)?
    {
        Some(f) if f.uidvalidity == uidvalidity => f.last_uid,
        previous => {
            if previous.is_some() {
                tracing::info!(mailbox.id = %id, "IMAP: UIDVALIDITY changed, folder read again");
            }
            store_imap::reset_folder(store, id, folder, uidvalidity)
                .await
                .map_err(storage)?;
            0
        }
    };
    if mb.exists == 0 {
        return Ok(true);
    }
    let mark_u32 = u32::try_from(mark).unwrap_or(u32::MAX);
    if mb.uid_next.is_some_and(|n| n <= mark_u32.saturating_add(1)) {
        return Ok(true);
    }
    let found = timed(t, "UID SEARCH", async {
        s.uid_search(format!("UID {}:*", mark_u32.saturating_add(1)))
            .await
            .map_err(|e| classify(&e))
    })
    .await?;
    // `n:*` always matches the highest UID, even below n.
    let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > mark_u32).collect();
    uids.sort_unstable();
    let source = format!("imap:{folder}");
    let f = Folder {
        name: folder,
        uidvalidity,
        direction,
        source: &source,
    };
    for chunk in uids.chunks(ctx.settings.batch()) {
        if ctx.stopping() || !ctx.renew().await? {
            return Ok(false);
        }
        // Sizes first, so one batch never holds more than `batch_bytes` in memory.
        let sizes = fetch_sizes(s, chunk, t).await?;
        for group in by_size(chunk, &sizes, ctx.settings.batch_bytes()) {
            ingest_group(ctx, s, &f, group).await?;
        }
    }
    Ok(true)
}

/// The sizes (RFC822.SIZE) of `uids`, by UID: what cuts them into batches of bounded bytes.
async fn fetch_sizes(
    s: &mut ImapSession,
    uids: &[u32],
    t: Duration,
) -> Result<HashMap<u32, u32>, PollError> {
    timed(t, "UID FETCH", async {
        let stream = s
            .uid_fetch(uid_set(uids), "(UID RFC822.SIZE)")
            .await
            .map_err(|e| classify(&e))?;
        let all: Vec<_> = stream.try_collect().await.map_err(|e| classify(&e))?;
        Ok(all
            .iter()
            .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0))))
            .collect::<HashMap<u32, u32>>())
    })
    .await
}

/// A folder being read.
struct Folder<'a> {
    name: &'a str,
    uidvalidity: i64,
    direction: Direction,
    source: &'a str,
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits `uids` into runs whose sizes add up to at most `max` bytes (a larger message
/// alone in its run).
fn by_size<'a>(uids: &'a [u32], sizes: &HashMap<u32, u32>, max: usize) -> Vec<&'a [u32]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut total = 0usize;
    for (i, uid) in uids.iter().enumerate() {
        let size = sizes.get(uid).copied().unwrap_or(0) as usize;
        if i > start && total.saturating_add(size) > max {
            out.push(&uids[start..i]);
            start = i;
            total = 0;
        }
        total = total.saturating_add(size);
    }
    if start < uids.len() {
        out.push(&uids[start..]);
    }
    out
}

/// Fetches `group`'s messages, stores them, and moves the folder's mark past the ones
/// committed.
async fn ingest_group(
    ctx: &Ctx,
    s: &mut ImapSession,
    f: &Folder<'_>,
    group: &[u32],
) -> Result<(), PollError> {
    let store = ctx.state.store();
    let id = &ctx.target.id;
    let fetched = timed(ctx.settings.timeout(), "UID FETCH", async {
        let stream = s
            .uid_fetch(uid_set(group), "(UID BODY.PEEK[])")
            .await
            .map_err(|e| classify(&e))?;
        let all: Vec<_> = stream.try_collect().await.map_err(|e| classify(&e))?;
        Ok(all)
    })
    .await?;
    let mut bodies: HashMap<u32, Vec<u8>> = HashMap::with_capacity(fetched.len());
    for m in &fetched {
        if let (Some(uid), Some(body)) = (m.uid, m.body()) {
            bodies.insert(uid, body.to_vec());
        }
    }
    drop(fetched);
    // UIDs gone meanwhile (expunged by another client) cannot be read: passed over.
    let mut order = Vec::with_capacity(group.len());
    let mut batch = Vec::with_capacity(group.len());
    for uid in group {
        if let Some(raw) = bodies.remove(uid) {
            order.push(*uid);
            batch.push(Incoming {
                raw,
                source: f.source.to_owned(),
                direction: Some(f.direction),
            });
        }
    }
    let results = ingest::ingest_batch(
        store,
        ctx.state.trust(),
        None,
        &ctx.target.org_id,
        id,
        batch,
    )
    .await
    .map_err(storage)?;
    // The mark moves past committed messages only, and never past a failed one.
    let mut upto = None;
    let mut failed = None;
    for (uid, r) in order.iter().zip(results.iter()) {
        match r {
            Ok(_) => upto = Some(*uid),
            Err(e) => {
                failed = Some(format!("UID {uid}: {e}"));
                break;
            }
        }
    }
    if failed.is_none() && order.len() < group.len() {
        // The UIDs not fetched were expunged meanwhile by another client: past them.
        tracing::warn!(
            mailbox.id = %id,
            imap.gone = group.len() - order.len(),
            "IMAP: messages gone before they could be read"
        );
        upto = group.last().copied();
    }
    if let Some(u) = upto {
        store_imap::advance_folder(store, id, f.name, f.uidvalidity, i64::from(u))
            .await
            .map_err(storage)?;
    }
    if let Err(e) = ingest::process_pending(store).await {
        tracing::warn!(mailbox.id = %id, error = %e, "IMAP: processing after storage failed");
    }
    match failed {
        Some(detail) => Err(PollError::new(ErrorCode::Storage, detail)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_cut_by_size_and_a_large_message_goes_alone() {
        let uids = [1, 2, 3, 4, 5];
        let sizes: HashMap<u32, u32> = [(1, 10), (2, 10), (3, 100), (4, 5), (5, 5)].into();
        let groups = by_size(&uids, &sizes, 25);
        assert_eq!(groups, vec![&[1, 2][..], &[3][..], &[4, 5][..]]);
        assert_eq!(by_size(&uids, &sizes, 1000), vec![&uids[..]]);
        assert!(by_size(&[], &sizes, 10).is_empty());
    }
}
