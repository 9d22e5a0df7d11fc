//! The simulator inside a companion (`serve --demo`, tests without Dovecot): what it
//! writes into a box the companion holds is stored at once through the one ingestion path
//! (`ingest::ingest_one`), as if the box's IMAP poller had read it.

use std::collections::HashMap;
use std::sync::Arc;

use pecdesk_core::signature::TrustAnchors;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::Simulator;
use crate::Store;
use crate::ingest::{Direction, Incoming, ingest_one};

/// A companion mailbox a simulated box feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The mailbox's organisation.
    pub org_id: String,
    /// The mailbox.
    pub mailbox_id: String,
}

/// Stores every file the simulator writes into a box of `routes` (keyed by address, lower
/// case) in that mailbox, as received mail (`source` `simulator`). Runs until the
/// simulator stops. A file that cannot be stored is logged (ids only) and stays in the
/// Maildir, where an IMAP poller or `pecdesk import` still finds it.
pub fn import_into(
    sim: &Simulator,
    store: Store,
    trust: Arc<TrustAnchors>,
    routes: HashMap<String, Route>,
) -> JoinHandle<()> {
    let mut written = sim.written();
    let routes: HashMap<String, Route> = routes
        .into_iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v))
        .collect();
    tokio::spawn(async move {
        loop {
            let w = match written.recv().await {
                Ok(w) => w,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "simulator: import fell behind; the missed files stay in the Maildirs"
                    );
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let Some(route) = routes.get(&w.address) else {
                continue;
            };
            let raw = match tokio::fs::read(&w.path).await {
                Ok(raw) => raw,
                Err(e) => {
                    tracing::error!(pec.id = %w.identificativo, error = %e, "simulator: cannot read a written file");
                    continue;
                }
            };
            let incoming = Incoming {
                raw,
                source: "simulator".to_owned(),
                direction: Some(Direction::In),
            };
            match ingest_one(
                &store,
                &trust,
                None,
                &route.org_id,
                &route.mailbox_id,
                incoming,
            )
            .await
            {
                Ok(outcome) => tracing::debug!(
                    message.id = %outcome.message_id,
                    mailbox.id = %route.mailbox_id,
                    kind = w.kind,
                    "simulator: stored in the companion"
                ),
                Err(e) => tracing::error!(
                    pec.id = %w.identificativo,
                    mailbox.id = %route.mailbox_id,
                    error = %e,
                    "simulator: cannot store a written file"
                ),
            }
        }
    })
}
