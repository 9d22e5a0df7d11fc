//! Archive and expunge: after a folder's sync, a mailbox with a policy (`archive_expunge_after_days`)
//! has its old messages removed from the provider's box, freeing its quota — only those
//! PecDesk holds byte for byte.
//!
//! Safety rules (each one is what keeps a PEC from being lost):
//! - Only with UIDPLUS (RFC 4315): `UID EXPUNGE <set>` removes exactly our UIDs. A plain
//!   `EXPUNGE` would also remove what other clients flagged `\Deleted` and PecDesk never
//!   stored; it is never sent. Without UIDPLUS nothing is removed and the mailbox's health
//!   says so.
//! - Candidates are at or below the folder's mark (every UID up to it is committed here)
//!   and older than the policy by the server's INTERNALDATE (`SEARCH BEFORE`).
//! - Each candidate's bytes are fetched (`BODY.PEEK[]`), hashed, and compared with the
//!   stored bytes of a message (or variant) of this mailbox; that message's certified time
//!   (else the time PecDesk stored it) must be older than the policy too.
//! - `\Deleted` is set only on the UIDs that passed, then `UID EXPUNGE` of the same set: a
//!   crash between the two leaves the flag on stored messages only, and the next run
//!   verifies them again before expunging.
//! - What left the box is recorded (`imap_expunged`, `messages.archived_at`) with one
//!   audit entry per folder run; at most [`ImapSettings::batch`] messages per run, so a
//!   huge box drains over several polls.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use sha2::{Digest as _, Sha256};

use super::{Ctx, ImapSession, by_size, classify, fetch_sizes, storage, timed, uid_set};
use crate::imap::health::{ErrorCode, PollError};
use crate::store::audit::{self, Action, Chain};
use crate::store::{archive as store_archive, imap as store_imap, now_ms};

/// Words on the mailbox's health when the server cannot expunge by UID.
pub const NO_UIDPLUS: &str = "Il server non offre UIDPLUS: PecDesk non rimuove messaggi dalla \
     casella e la politica di archiviazione resta inattiva; chiedi al gestore o togli la \
     politica / The server does not offer UIDPLUS: PecDesk removes nothing from the box and \
     the archive policy stays inactive; ask the provider or turn the policy off";

/// A UID that failed the checks is not fetched again for this long (in this session).
const RETRY_REJECTED: Duration = Duration::from_secs(3600);

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What one session remembers between runs: UIDs that failed the checks lately.
#[derive(Debug, Default)]
pub(super) struct Memo {
    rejected: HashMap<(String, i64, u32), Instant>,
}

impl Memo {
    fn skip(&self, folder: &str, uidvalidity: i64, uid: u32) -> bool {
        self.rejected
            .get(&(folder.to_owned(), uidvalidity, uid))
            .is_some_and(|at| at.elapsed() < RETRY_REJECTED)
    }

    fn reject(&mut self, folder: &str, uidvalidity: i64, uid: u32) {
        self.rejected
            .insert((folder.to_owned(), uidvalidity, uid), Instant::now());
    }
}

/// What a poll's runs did, over its folders.
#[derive(Debug, Default)]
pub(super) struct Run {
    /// Whether the policy was on.
    pub on: bool,
    pub expunged: i64,
    pub bytes: i64,
}

/// A message that passed every check.
struct Verified {
    uid: u32,
    sha: String,
    size: i64,
    message_id: String,
}

/// The policy of the mailbox (`None`: off).
pub(super) async fn policy(ctx: &Ctx) -> Result<Option<i64>, PollError> {
    store_archive::policy(ctx.state.store(), &ctx.target.id)
        .await
        .map(|d| d.filter(|d| *d >= 1))
        .map_err(storage)
}

/// Records the poll's runs on the mailbox's health.
pub(super) async fn finish(ctx: &Ctx, run: &Run, uidplus: bool) -> Result<(), PollError> {
    if !run.on {
        return Ok(());
    }
    let unavailable = (!uidplus).then_some(NO_UIDPLUS);
    store_archive::record_run(
        ctx.state.store(),
        &ctx.target.id,
        now_ms(),
        run.expunged,
        run.bytes,
        unavailable,
    )
    .await
    .map_err(storage)
}

/// `SEARCH` date: the day of `ms` (UTC), e.g. `1-Feb-2026`.
fn imap_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%-d-%b-%Y")
        .to_string()
}

/// Expunges `folder`'s stored messages older than `days` (the folder was just synced and
/// is selected read-only). Adds what it did to `run`.
pub(super) async fn folder(
    ctx: &Ctx,
    s: &mut ImapSession,
    folder: &str,
    days: i64,
    memo: &mut Memo,
    run: &mut Run,
) -> Result<(), PollError> {
    let store = ctx.state.store();
    let id = &ctx.target.id;
    let t = ctx.settings.timeout();
    let Some(state) = store_imap::folder(store, id, folder)
        .await
        .map_err(storage)?
    else {
        return Ok(());
    };
    let Ok(mark) = u32::try_from(state.last_uid) else {
        return Ok(());
    };
    if mark == 0 {
        return Ok(());
    }
    let now = now_ms();
    let cutoff = now.saturating_sub(days.saturating_mul(DAY_MS));
    let found = timed(t, "UID SEARCH", async {
        s.uid_search(format!("UID 1:{mark} BEFORE {}", imap_date(cutoff)))
            .await
            .map_err(|e| classify(&e))
    })
    .await?;
    let mut uids: Vec<u32> = found
        .into_iter()
        .filter(|u| *u <= mark && !memo.skip(folder, state.uidvalidity, *u))
        .collect();
    if uids.is_empty() {
        return Ok(());
    }
    uids.sort_unstable();
    let limit = ctx.settings.batch();
    // Bounded reading too: a box whose old messages keep failing the checks is not read
    // whole at every poll.
    let mut verified: Vec<Verified> = Vec::new();
    let mut read = 0usize;
    for chunk in uids.chunks(limit) {
        if verified.len() >= limit || read >= limit.saturating_mul(4) {
            break;
        }
        if ctx.stopping() || !ctx.renew().await? {
            return Ok(());
        }
        let sizes = fetch_sizes(s, chunk, t).await?;
        for group in by_size(chunk, &sizes, ctx.settings.batch_bytes()) {
            read = read.saturating_add(group.len());
            let bodies = fetch_bodies(ctx, s, group).await?;
            for uid in group {
                let ok = match bodies.get(uid) {
                    Some((sha, raw)) => check(ctx, sha, raw, cutoff).await?,
                    None => None,
                };
                match ok {
                    Some(message_id) if verified.len() < limit => {
                        let (sha, raw) = bodies
                            .get(uid)
                            .map(|(s, r)| (s.clone(), r.len()))
                            .unwrap_or_default();
                        verified.push(Verified {
                            uid: *uid,
                            sha,
                            size: i64::try_from(raw).unwrap_or(i64::MAX),
                            message_id,
                        });
                    }
                    Some(_) => {}
                    None => {
                        tracing::info!(mailbox.id = %id, imap.uid = *uid, "archive: not expunged, the stored copy does not match or is too recent");
                        memo.reject(folder, state.uidvalidity, *uid);
                    }
                }
            }
        }
    }
    if verified.is_empty() || ctx.stopping() || !ctx.renew().await? {
        return Ok(());
    }
    expunge(ctx, s, folder, state.uidvalidity, days, verified, run).await
}

/// Fetches `group`'s bodies (without `\Seen`) and hashes them off the async threads.
async fn fetch_bodies(
    ctx: &Ctx,
    s: &mut ImapSession,
    group: &[u32],
) -> Result<HashMap<u32, (String, Vec<u8>)>, PollError> {
    let fetched = timed(ctx.settings.timeout(), "UID FETCH", async {
        let stream = s
            .uid_fetch(uid_set(group), "(UID BODY.PEEK[])")
            .await
            .map_err(|e| classify(&e))?;
        let all: Vec<_> = stream.try_collect().await.map_err(|e| classify(&e))?;
        Ok(all)
    })
    .await?;
    let bodies: Vec<(u32, Vec<u8>)> = fetched
        .iter()
        .filter_map(|m| Some((m.uid?, m.body()?.to_vec())))
        .collect();
    drop(fetched);
    tokio::task::spawn_blocking(move || {
        bodies
            .into_iter()
            .map(|(uid, raw)| (uid, (hex::encode(Sha256::digest(&raw)), raw)))
            .collect()
    })
    .await
    .map_err(|e| PollError::new(ErrorCode::Storage, e.to_string()))
}

/// The message of this mailbox holding exactly `raw` (hash `sha`) and older than
/// `cutoff`, when there is one.
async fn check(ctx: &Ctx, sha: &str, raw: &[u8], cutoff: i64) -> Result<Option<String>, PollError> {
    let store = ctx.state.store();
    let copies = store_archive::stored_copies(store, &ctx.target.id, sha)
        .await
        .map_err(storage)?;
    let old = copies.into_iter().find(|c| {
        let certified = serde_json::from_str::<pecdesk_core::Summary>(&c.summary)
            .ok()
            .and_then(|s| crate::domain::sla::certified_at(&s));
        crate::domain::sla::due_from(certified, c.received_at).0 < cutoff
            && c.org_id == ctx.target.org_id
    });
    let Some(copy) = old else {
        return Ok(None);
    };
    // The bytes themselves, not only their key: a stored row that no longer holds what the
    // server holds never lets the server's copy go.
    let stored = store_archive::blob(store, sha).await.map_err(storage)?;
    Ok(stored
        .is_some_and(|b| b.as_slice() == raw)
        .then_some(copy.message_id))
}

/// Flags the verified UIDs `\Deleted`, expunges exactly them, and records what left.
async fn expunge(
    ctx: &Ctx,
    s: &mut ImapSession,
    folder: &str,
    uidvalidity: i64,
    days: i64,
    verified: Vec<Verified>,
    run: &mut Run,
) -> Result<(), PollError> {
    let store = ctx.state.store();
    let id = &ctx.target.id;
    let t = ctx.settings.timeout();
    // Read-write now; the UIDs checked belong to this UIDVALIDITY only.
    let mb = timed(t, "SELECT", async {
        s.select(folder).await.map_err(|e| classify(&e))
    })
    .await?;
    if i64::from(mb.uid_validity.unwrap_or(0)) != uidvalidity {
        tracing::info!(mailbox.id = %id, "archive: UIDVALIDITY changed, nothing expunged");
        return Ok(());
    }
    let uids: Vec<u32> = verified.iter().map(|v| v.uid).collect();
    let set = uid_set(&uids);
    timed(t, "UID STORE", async {
        let stream = s
            .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
            .await
            .map_err(|e| classify(&e))?;
        let _: Vec<_> = stream.try_collect().await.map_err(|e| classify(&e))?;
        Ok(())
    })
    .await?;
    timed(t, "UID EXPUNGE", async {
        let stream = s.uid_expunge(&set).await.map_err(|e| classify(&e))?;
        let _: Vec<_> = stream.try_collect().await.map_err(|e| classify(&e))?;
        Ok(())
    })
    .await?;
    // What is still there (another client took the flag off meanwhile) did not leave.
    let left: HashSet<u32> = timed(t, "UID SEARCH", async {
        s.uid_search(format!("UID {set}"))
            .await
            .map_err(|e| classify(&e))
    })
    .await?;
    let gone: Vec<&Verified> = verified.iter().filter(|v| !left.contains(&v.uid)).collect();
    if gone.is_empty() {
        return Ok(());
    }
    let at = now_ms();
    let bytes: i64 = gone.iter().map(|v| v.size).sum();
    let count = i64::try_from(gone.len()).unwrap_or(i64::MAX);
    let org = &ctx.target.org_id;
    let record = async {
        let mut tx = store.begin_write(Chain::Org(org)).await?;
        for v in &gone {
            store_archive::record_expunged(
                &mut tx,
                &store_archive::Expunged {
                    mailbox_id: id,
                    folder,
                    uidvalidity,
                    uid: i64::from(v.uid),
                    sha: &v.sha,
                    message_id: &v.message_id,
                    size: v.size,
                    at,
                },
            )
            .await?;
        }
        tx.audit(audit::Entry {
            org_id: Some(org.as_str()),
            actor_id: None,
            action: Action::MailboxArchiveExpunge,
            object_type: "mailbox",
            object_id: id,
            details: serde_json::json!({
                "folder": folder,
                "expunged": count,
                "bytes_freed": bytes,
                "older_than_days": days,
            }),
        })
        .await?;
        tx.commit().await?;
        Ok::<_, crate::error::Error>(())
    };
    record.await.map_err(storage)?;
    tracing::info!(mailbox.id = %id, archive.expunged = count, archive.bytes = bytes, "archive: messages expunged from the box");
    run.expunged = run.expunged.saturating_add(count);
    run.bytes = run.bytes.saturating_add(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_dates_are_imap_day_month_year() {
        // 2026-02-01T12:00:00Z
        assert_eq!(imap_date(1_769_947_200_000), "1-Feb-2026");
    }
}
