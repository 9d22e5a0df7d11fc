//! The simulator inside a companion (`serve --demo`, tests without Dovecot): what it
//! writes into a box the companion holds is stored at once through the one ingestion path
//! (`ingest::ingest_one`), as if the box's IMAP poller had read it.

use std::collections::HashMap;
use std::sync::Arc;

use pecdesk_core::signature::TrustAnchors;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use std::time::Duration;

use secrecy::SecretString;

use super::{Account, Behaviour, SimConfig, Simulator};
use crate::domain::admin::{Actor, EndpointRequest, PatchMailboxRequest, update_mailbox};
use crate::ingest::{Direction, Incoming, ingest_one};
use crate::store::mailboxes::Security;
use crate::{AppState, Store};

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

/// Addresses the demo simulator treats specially (any other recipient is delivered at once):
/// `inesistente@` an unknown box, `piena@` a full box, `lenta@` a delivery after two
/// minutes, `muta@` no answer (preavviso after 5 minutes, failure after 10: shortened
/// from 12 h / 24 h so the demo shows them).
pub const DEMO_BEHAVIOURS: [(&str, Behaviour); 4] = [
    ("inesistente@pec.esempio.test", Behaviour::Unknown),
    ("piena@pec.esempio.test", Behaviour::FullBox),
    (
        "lenta@pec.esempio.test",
        Behaviour::Delay(Duration::from_secs(120)),
    ),
    ("muta@pec.esempio.test", Behaviour::NoAnswer),
];

/// `serve --demo`: starts the simulator on loopback (boxes under `DATA_DIR/simulator`), points
/// the demo mailboxes' SMTP settings at it (through the audited mailbox update, with a fresh
/// password each start) and stores what it writes into them as it is written. The returned
/// simulator runs until dropped or stopped.
pub async fn start_for_demo(state: &AppState) -> anyhow::Result<(Simulator, JoinHandle<()>)> {
    let store = state.store().clone();
    let rows = crate::store::mailboxes::by_addresses(
        &store,
        &[crate::demo::LEGALE, crate::demo::PROTOCOLLO],
    )
    .await?;
    let password = hex::encode(rand::random::<[u8; 16]>());
    let cfg = SimConfig {
        mail_root: state.settings().data_dir.join("simulator"),
        accounts: rows
            .iter()
            .map(|(_, _, address)| Account {
                address: address.clone(),
                password: password.clone(),
            })
            .collect(),
        behaviours: DEMO_BEHAVIOURS
            .iter()
            .map(|(a, b)| ((*a).to_owned(), *b))
            .collect(),
        preavviso_after: Duration::from_secs(300),
        final_after: Duration::from_secs(600),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg).await?;
    let addr = sim.smtp_addr();
    let mut routes = HashMap::new();
    for (id, org, address) in rows {
        let patch = PatchMailboxRequest {
            name: None,
            imap: None,
            smtp: Some(EndpointRequest {
                host: Some(addr.ip().to_string()),
                port: Some(i64::from(addr.port())),
                security: Some(Security::Plain),
                user: Some(address.clone()),
                password: Some(SecretString::from(password.clone())),
                sent_folder: None,
            }),
            app_password_expires_at: None,
            quota_bytes: None,
            ingest_enabled: None,
            ..PatchMailboxRequest::default()
        };
        let actor = Actor {
            org_id: &org,
            user_id: None,
        };
        update_mailbox(&store, state.tokens().master(), actor, &id, patch)
            .await
            .map_err(|e| anyhow::anyhow!("demo simulator: mailbox {id}: {e}"))?;
        routes.insert(
            address,
            Route {
                org_id: org,
                mailbox_id: id,
            },
        );
    }
    tracing::info!(smtp.addr = %addr, mailboxes = routes.len(), "demo PEC simulator ready");
    let task = import_into(&sim, store, state.trust().clone(), routes);
    Ok((sim, task))
}
