//! Mail in: the one path every message takes into PecDesk, whether it comes from an IMAP
//! poller (`crate::imap`), `pecdesk import` (files, Maildir, mbox) or the import endpoint.
//!
//! 1. **Store** ([`ingest_batch`]): the raw bytes and the message row are committed before
//!    anything else happens. The same bytes in the same mailbox are one message; for a PEC
//!    also the same identity (kind, identificativo, recipient of a delivery receipt), a
//!    byte-different copy being kept as a variant beside it.
//! 2. **Process** ([`process_pending`]): receipt reconciliation
//!    ([`crate::domain::reconcile::process`]) then routing
//!    ([`crate::domain::routing::process`]), each idempotent; `messages.processed_at`
//!    marks a message done. A crash between 1 and 2 leaves `processed_at` NULL: the next
//!    [`process_pending`] (every poll, every import, start-up) finishes the work.

pub mod cli;

use std::collections::HashMap;
use std::sync::Arc;

use pecdesk_core::signature::TrustAnchors;
use pecdesk_core::{InspectOptions, Inspection};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::audit::{self, Action, Chain};
use crate::store::messages as store_msgs;
use crate::store::{Store, new_id, now_ms, users};

/// Which way a message went, when its folder tells (the Sent folder: out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received.
    In,
    /// Sent from the mailbox (by any mail client).
    Out,
}

/// One message to store.
#[derive(Debug)]
pub struct Incoming {
    /// The raw bytes, exactly as received.
    pub raw: Vec<u8>,
    /// Where it came from (`imap:INBOX`, `imap:Sent`, `import`, `api`, `demo`).
    pub source: String,
    /// The direction the folder implies; `None`: decided from the sender.
    pub direction: Option<Direction>,
}

/// What storing one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A new message.
    Created,
    /// The same bytes (or the same PEC) were already there.
    Duplicate,
    /// The same PEC with different bytes: kept as a variant of the stored message.
    Variant,
}

/// The outcome for one [`Incoming`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The message it is (or is a copy of).
    pub message_id: String,
    /// What happened.
    pub status: Status,
}

/// Stores a batch of messages of one mailbox. Each entry's result is its own: one bad
/// message never stops the others (a message that does not parse is still stored, with
/// its problems in its summary). Returns once everything stored is committed.
///
/// Hashing, parsing and the signature check run off the async threads, spread over the
/// cores. Bytes already stored in the mailbox (as a message or as a variant) are answered
/// before any parse. Then one write transaction of the organisation stores the batch: the
/// checks by bytes and by PEC identity run again under it (two replicas racing on the
/// same batch are serialised by the organisation's chain head, and the unique index
/// `(mailbox_id, pec_identity)` backs the check), each new message's bytes are written
/// before its row, and nothing is acknowledged before the commit. Messages of at least
/// [`store_msgs::LARGE_BLOB`] bytes have their bytes written first, on a connection of
/// their own ([`store_msgs::insert_large_raw_blob`]).
pub async fn ingest_batch(
    store: &Store,
    trust: &Arc<TrustAnchors>,
    actor: Option<&str>,
    org_id: &str,
    mailbox_id: &str,
    batch: Vec<Incoming>,
) -> Result<Vec<Result<Outcome>>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let hashed = spread(batch, |m| {
        let sha = hex::encode(Sha256::digest(&m.raw));
        (m, sha)
    })
    .await?;
    let shas: Vec<&str> = hashed.iter().map(|(_, sha)| sha.as_str()).collect();
    let known = store_msgs::known_shas(store, mailbox_id, &shas).await?;
    let trust = Arc::clone(trust);
    let mut prepared = spread(hashed, move |(m, sha)| match known.get(&sha) {
        // Seen before (and never deleted): a duplicate, neither parsed nor locked again.
        Some(id) => Prepared::known(m, sha, id.clone()),
        None => Prepared::parse(m, sha, &trust),
    })
    .await?;
    // Large bytes first, each on its own connection (keyed by hash: a crash before the
    // message row leaves a blob the next import reuses, never a row without its bytes).
    for p in &mut prepared {
        let large = p
            .raw
            .as_ref()
            .is_some_and(|r| r.len() >= store_msgs::LARGE_BLOB);
        if large && let Some(raw) = p.raw.take() {
            store_msgs::insert_large_raw_blob(store, &p.sha, raw).await?;
        }
    }
    match store_prepared(store, actor, org_id, mailbox_id, &prepared).await {
        Ok(outcomes) => Ok(outcomes.into_iter().map(Ok).collect()),
        Err(e) if prepared.len() > 1 => {
            // Nothing of the batch is committed: store each message alone, so the one
            // that fails is the only one that fails.
            tracing::warn!(mailbox.id = %mailbox_id, error = %e, "batch failed, storing one by one");
            let mut out = Vec::with_capacity(prepared.len());
            for p in &prepared {
                let one = store_prepared(store, actor, org_id, mailbox_id, std::slice::from_ref(p))
                    .await
                    .and_then(|mut v| v.pop().ok_or(Error::NotFound));
                out.push(one);
            }
            Ok(out)
        }
        Err(e) => Ok(vec![Err(e)]),
    }
}

/// Runs `f` over `items` on the blocking threads, one chunk per core, keeping the order.
async fn spread<T, U, F>(items: Vec<T>, f: F) -> Result<Vec<U>>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per = items.len().div_ceil(cores).max(1);
    let f = Arc::new(f);
    let mut chunks = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<T> = items.by_ref().take(per).collect();
        let f = Arc::clone(&f);
        chunks.push(tokio::task::spawn_blocking(move || {
            chunk.into_iter().map(|t| f(t)).collect::<Vec<U>>()
        }));
    }
    let mut out = Vec::new();
    for c in chunks {
        out.extend(c.await.map_err(|e| Error::Internal(e.into()))?);
    }
    Ok(out)
}

/// One message ready to store: hashed and, unless its bytes were known, parsed.
struct Prepared {
    sha: String,
    /// `None` once a large message's bytes are written.
    raw: Option<Vec<u8>>,
    source: String,
    direction: Option<Direction>,
    /// `None`: the bytes were already stored in the mailbox when the batch began.
    insp: Option<Inspection>,
    /// The message these bytes already were when the batch began.
    known: Option<String>,
    identity: Option<String>,
    /// The `From` address of an ordinary mail (not a PEC) without a folder hint, read with
    /// the parse: tells a copy of what the mailbox sent, imported without its folder.
    from: Option<String>,
}

impl Prepared {
    fn known(m: Incoming, sha: String, id: String) -> Self {
        Self {
            sha,
            raw: None,
            source: m.source,
            direction: m.direction,
            insp: None,
            known: Some(id),
            identity: None,
            from: None,
        }
    }

    fn parse(m: Incoming, sha: String, trust: &TrustAnchors) -> Self {
        let mut insp = pecdesk_core::inspect(&m.raw, &InspectOptions::default());
        // Verified here rather than through `InspectOptions` so the (possibly large)
        // anchor list is shared, not copied per message.
        insp.summary.signature = Some(pecdesk_core::signature::verify_with(
            &m.raw,
            trust,
            insp.summary.provider.as_deref(),
        ));
        let identity = pecdesk_core::pec::identity(&insp.summary);
        let from = (m.direction.is_none() && insp.summary.kind == pecdesk_core::PecKind::NotPec)
            .then(|| pecdesk_core::reconcile::from_address(&m.raw))
            .flatten();
        Self {
            sha,
            raw: Some(m.raw),
            source: m.source,
            direction: m.direction,
            insp: Some(insp),
            known: None,
            identity,
            from,
        }
    }
}

/// Stores prepared messages in one write transaction of the organisation.
async fn store_prepared(
    store: &Store,
    actor: Option<&str>,
    org_id: &str,
    mailbox_id: &str,
    batch: &[Prepared],
) -> Result<Vec<Outcome>> {
    if batch.iter().all(|p| p.known.is_some()) {
        // A batch seen before (a rerun): answered without the write lock.
        return Ok(batch
            .iter()
            .map(|p| Outcome {
                message_id: p.known.clone().unwrap_or_default(),
                status: Status::Duplicate,
            })
            .collect());
    }
    let mut tx = store.begin_write(Chain::Org(org_id)).await?;
    let mailbox_address = users::mailbox_address(&mut tx, mailbox_id).await?;
    let now = now_ms();
    let mut out = Vec::with_capacity(batch.len());
    // Within the batch too: the same bytes or PEC twice in one batch is one message.
    let mut seen_sha: HashMap<&str, String> = HashMap::new();
    for p in batch {
        if let Some(id) = &p.known {
            out.push(Outcome {
                message_id: id.clone(),
                status: Status::Duplicate,
            });
            continue;
        }
        if let Some(id) = seen_sha.get(p.sha.as_str()) {
            out.push(Outcome {
                message_id: id.clone(),
                status: Status::Duplicate,
            });
            continue;
        }
        let outcome =
            store_one(&mut tx, actor, org_id, mailbox_id, &mailbox_address, p, now).await?;
        seen_sha.insert(&p.sha, outcome.message_id.clone());
        out.push(outcome);
    }
    tx.commit().await?;
    let created = out.iter().filter(|o| o.status == Status::Created).count();
    let variants = out.iter().filter(|o| o.status == Status::Variant).count();
    tracing::info!(
        mailbox.id = %mailbox_id,
        messages = batch.len(),
        created,
        variants,
        "batch stored"
    );
    Ok(out)
}

/// Stores one message inside the batch's transaction.
async fn store_one(
    tx: &mut crate::store::WriteTx,
    actor: Option<&str>,
    org_id: &str,
    mailbox_id: &str,
    mailbox_address: &str,
    p: &Prepared,
    now: i64,
) -> Result<Outcome> {
    // Checked under the write lock: another batch (another replica) may have stored it.
    if let Some(id) = store_msgs::id_by_sha(tx, mailbox_id, &p.sha).await? {
        return Ok(Outcome {
            message_id: id,
            status: Status::Duplicate,
        });
    }
    let Some(insp) = &p.insp else {
        // Only messages known when the batch began are unparsed, and those are answered
        // before this step; never guess if that changes.
        return Err(Error::conflict(
            "messaggio cambiato durante l'importazione, riprovare / message changed during the import, retry",
        ));
    };
    if let Some(raw) = &p.raw {
        store_msgs::insert_raw_blob(tx, &p.sha, raw).await?;
    }
    if let Some(identity) = &p.identity
        && let Some(id) = store_msgs::id_by_identity(tx, mailbox_id, identity).await?
    {
        // The same PEC with other bytes: kept beside it, never dropped.
        store_msgs::insert_variant(tx, &id, &p.sha, &p.source, now).await?;
        tx.audit(audit::Entry {
            org_id: Some(org_id),
            actor_id: actor,
            action: Action::MessageVariant,
            object_type: "message",
            object_id: &id,
            details: serde_json::json!({"sha256": p.sha, "source": p.source}),
        })
        .await?;
        return Ok(Outcome {
            message_id: id,
            status: Status::Variant,
        });
    }
    let s = &insp.summary;
    let direction = match p.direction {
        Some(Direction::Out) => "out",
        Some(Direction::In) => "in",
        None if s
            .sender
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(mailbox_address)) =>
        {
            "out"
        }
        // Not a PEC (a copy of what the mailbox sent, imported without its folder): the
        // From header says.
        None if p
            .from
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(mailbox_address)) =>
        {
            "out"
        }
        None => "in",
    };
    let summary = serde_json::to_string(s).map_err(|e| Error::Internal(e.into()))?;
    let id = new_id();
    store_msgs::insert(
        tx,
        &store_msgs::NewMessage {
            id: &id,
            org_id,
            mailbox_id,
            raw_sha256: &p.sha,
            internet_message_id: insp.message_id.as_deref(),
            identificativo: s.identificativo.as_deref(),
            kind: s.kind.as_str(),
            direction,
            subject: s.subject.as_deref(),
            sender: s.sender.as_deref(),
            summary: &summary,
            received_at: now,
            search_text: &search_text(insp),
            pec_identity: p.identity.as_deref(),
            source: &p.source,
        },
    )
    .await?;
    tx.audit(audit::Entry {
        org_id: Some(org_id),
        actor_id: actor,
        action: Action::MessageImport,
        object_type: "message",
        object_id: &id,
        details: serde_json::json!({"mailbox_id": mailbox_id, "sha256": p.sha, "source": p.source}),
    })
    .await?;
    Ok(Outcome {
        message_id: id,
        status: Status::Created,
    })
}

/// Lower-case text searched by `q=`: ids, sender, subjects, the original's text.
fn search_text(i: &Inspection) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let s = &i.summary;
    for v in [&s.subject, &s.sender, &s.identificativo, &i.message_id]
        .into_iter()
        .flatten()
    {
        parts.push(v);
    }
    if let Some(o) = &i.original {
        for v in [&o.subject, &o.from, &o.text_body].into_iter().flatten() {
            parts.push(v);
        }
    }
    let mut t = parts.join(" \u{1f} ").to_lowercase();
    if t.len() > 8000 {
        let mut cut = 8000;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
    }
    t
}

/// How many unprocessed messages [`process_pending`] takes at a time.
const PROCESS_BATCH: i64 = 500;

/// Runs the steps after storage (reconciliation, then routing) over `message_ids` of one
/// organisation, then marks them processed. Each step is idempotent, so a crash between
/// the steps and the mark only repeats work the steps recognise as done.
pub async fn process_messages(store: &Store, org_id: &str, message_ids: &[String]) -> Result<()> {
    if message_ids.is_empty() {
        return Ok(());
    }
    crate::domain::reconcile::process(store, org_id, message_ids).await?;
    crate::domain::routing::process(store, org_id, message_ids).await?;
    let mut tx = store.begin_write(Chain::Org(org_id)).await?;
    store_msgs::mark_processed(&mut tx, message_ids, now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs the steps after storage for every stored message not yet processed, oldest
/// first, in bounded batches per organisation. An organisation whose steps fail is
/// logged and left for the next call; the others go on.
pub async fn process_pending(store: &Store) -> Result<()> {
    let mut after: Option<(i64, String)> = None;
    loop {
        let rows = store_msgs::unprocessed(
            store,
            after.as_ref().map(|(at, id)| (*at, id.as_str())),
            PROCESS_BATCH,
        )
        .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some((last.received_at, last.id.clone()));
        for (org, ids) in by_org(rows.into_iter().map(|r| (r.org_id, r.id))) {
            if let Err(e) = process_messages(store, &org, &ids).await {
                tracing::warn!(org.id = %org, messages = ids.len(), error = %e, "processing after storage failed; retried at the next pass");
            }
        }
    }
}

/// Groups `(organisation, item)` pairs by organisation, in first-seen order: each
/// organisation's items are written in one transaction holding its chain.
fn by_org<T>(pairs: impl IntoIterator<Item = (String, T)>) -> Vec<(String, Vec<T>)> {
    let mut groups: Vec<(String, Vec<T>)> = Vec::new();
    for (org, item) in pairs {
        match groups.iter_mut().find(|(o, _)| *o == org) {
            Some((_, v)) => v.push(item),
            None => groups.push((org, vec![item])),
        }
    }
    groups
}

/// Start-up work of `pecdesk serve`: records the PEC identity of messages stored before
/// identities existed (migration 0008), from their stored summary, and marks each such
/// message `legacy` (its `source` was not recorded then). Only those messages are read,
/// through an index that is empty once they are marked: after the first start-up this
/// reads nothing. A second copy of a PEC stored before (the old "one extra header makes a
/// second row") keeps no identity and stays a message of its own: nothing is merged after
/// the fact.
pub async fn backfill_identities(store: &Store) -> Result<u64> {
    let mut after = String::new();
    let mut set = 0u64;
    loop {
        let rows = store_msgs::identity_candidates(store, &after, 500).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.id.clone();
        let items = rows.into_iter().map(|r| {
            let identity = serde_json::from_str::<pecdesk_core::Summary>(&r.summary)
                .ok()
                .and_then(|s| pecdesk_core::pec::identity(&s));
            (r.org_id, (r.id, identity))
        });
        for (org, items) in by_org(items) {
            let mut tx = store.begin_write(Chain::Org(&org)).await?;
            for (id, identity) in &items {
                if let Some(identity) = identity
                    && store_msgs::set_identity(&mut tx, id, identity).await?
                {
                    set += 1;
                }
                store_msgs::mark_legacy(&mut tx, id).await?;
            }
            tx.commit().await?;
        }
    }
    if set > 0 {
        tracing::info!(
            messages = set,
            "PEC identities recorded for messages stored before 0008"
        );
    }
    Ok(set)
}

/// One message through [`ingest_batch`], then the steps after storage for it: the import
/// endpoint and the demo seed. A failure of the steps after storage is logged, not
/// returned: the message is stored and the next [`process_pending`] finishes it.
pub async fn ingest_one(
    store: &Store,
    trust: &Arc<TrustAnchors>,
    actor: Option<&str>,
    org_id: &str,
    mailbox_id: &str,
    incoming: Incoming,
) -> Result<Outcome> {
    let outcome = ingest_batch(store, trust, actor, org_id, mailbox_id, vec![incoming])
        .await?
        .pop()
        .ok_or(Error::NotFound)??;
    if outcome.status == Status::Created
        && let Err(e) =
            process_messages(store, org_id, std::slice::from_ref(&outcome.message_id)).await
    {
        tracing::warn!(message.id = %outcome.message_id, error = %e, "processing after storage failed; retried later");
    }
    Ok(outcome)
}
