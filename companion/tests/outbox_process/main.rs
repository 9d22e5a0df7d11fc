//! The outbox across processes: real `pecdesk serve` binaries sending queued replies through
//! the PEC provider simulator (real SMTP), whose receipts land in a real Dovecot the servers
//! poll. A server killed with SIGKILL in the middle of the sends and restarted, and two
//! replicas on one PostgreSQL database sharing the outbox: after each story every message
//! was submitted to the provider exactly once (counted by the simulator per Message-ID) and
//! every outbox row is `sent`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../api/dovecot.rs"]
mod dovecot;
#[path = "../support/mail_out_process.rs"]
mod process;

use std::time::Duration;

use pecdesk_companion::outbox::compose::{self, Outgoing, ReceiptType};
use pecdesk_companion::simulate::{Account, SimConfig, Simulator};
use pecdesk_companion::store::audit::Chain;
use pecdesk_companion::store::mailboxes::{self, EndpointInput, Protocol, Security};
use pecdesk_companion::store::outbox::{self as store_outbox, NewOutgoing, Origin};
use pecdesk_companion::{AppState, Settings, Store, demo, with_pool};
use secrecy::SecretString;

use dovecot::Dovecot;
use process::{Server, pg_server, wait_for, with_db};

const PASSWORD: &str = "segreta-di-prova";

/// A seeded database whose LEGALE mailbox sends through the simulator and is polled on
/// Dovecot, with `n` replies queued.
struct World {
    dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    store: Store,
    sim: Simulator,
    _dovecot: Dovecot,
    message_ids: Vec<String>,
}

impl World {
    async fn new(postgres: bool, n: usize) -> Self {
        let dovecot = Dovecot::start(&[(demo::LEGALE, PASSWORD)]);
        let sim = Simulator::start(SimConfig {
            accounts: vec![Account {
                address: demo::LEGALE.into(),
                password: PASSWORD.into(),
            }],
            mail_root: dovecot.home(),
            owner: Some(dovecot.owner()),
            ..SimConfig::default()
        })
        .await
        .expect("simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::for_data_dir(dir.path());
        let mut pg = None;
        if postgres {
            let server = pg_server();
            let name = format!("pecdesk_test_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&server).await.expect("connect");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("create database");
            admin.close().await;
            settings.database_url = Some(with_db(&server, &name).into());
            pg = Some((server, name));
        }
        let store = Store::connect(&settings).await.expect("store");
        let state = AppState::new(settings, store.clone()).await.expect("state");
        demo::seed(&store, state.trust()).await.expect("seed");
        demo::seed_story(&store).await.expect("story");
        let (mailbox, org): (String, String) = with_pool!(store, |p| sqlx::query_as(
            "SELECT id, org_id FROM mailboxes WHERE address = $1"
        )
        .bind(demo::LEGALE)
        .fetch_one(p)
        .await)
        .expect("mailbox");
        let activity: String = with_pool!(store, |p| sqlx::query_scalar(
            "SELECT id FROM activities WHERE org_id = $1 ORDER BY id LIMIT 1"
        )
        .bind(&org)
        .fetch_one(p)
        .await)
        .expect("an activity");
        let secret = SecretString::from(PASSWORD.to_owned());
        let mut tx = store.begin_write(Chain::Org(&org)).await.expect("tx");
        for (protocol, port) in [
            (Protocol::Smtp, sim.smtp_addr().port()),
            (Protocol::Imap, dovecot.port),
        ] {
            mailboxes::set_endpoint(
                &mut tx,
                state.tokens().master(),
                &mailbox,
                protocol,
                &EndpointInput {
                    host: "127.0.0.1",
                    port,
                    security: Security::Plain,
                    user: demo::LEGALE,
                    secret: Some(&secret),
                },
            )
            .await
            .expect("endpoint");
        }
        mailboxes::set_ingest_enabled(&mut tx, &mailbox, true)
            .await
            .expect("enable");
        // The replies, queued as a send does (one transaction).
        let to = vec!["ufficio@pec.ente.test".to_owned()];
        let mut message_ids = Vec::with_capacity(n);
        let now = pecdesk_companion::store::now_ms();
        for i in 0..n {
            let body = format!("Risposta n. {i}");
            let out = Outgoing {
                from: demo::LEGALE,
                to: &to,
                cc: &[],
                subject: "Re: pratica",
                body: &body,
                attachments: &[],
                in_reply_to: None,
                references: &[],
                receipt: ReceiptType::Sintetica,
            };
            let id = compose::new_message_id(demo::LEGALE);
            let raw = compose::compose(&out, &id).expect("compose");
            store_outbox::enqueue(
                &mut tx,
                &NewOutgoing {
                    org_id: &org,
                    mailbox_id: &mailbox,
                    message_id: &id,
                    origin: Origin::Reply {
                        activity_id: &activity,
                        draft_version: 1,
                    },
                    envelope_from: demo::LEGALE,
                    recipients: &to,
                    raw: &raw,
                    held: false,
                    now,
                },
            )
            .await
            .expect("enqueue");
            message_ids.push(id);
        }
        tx.commit().await.expect("commit");
        Self {
            dir,
            pg,
            store,
            sim,
            _dovecot: dovecot,
            message_ids,
        }
    }

    fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--data-dir".to_owned(),
            self.dir.path().display().to_string(),
        ];
        if let Some((server, name)) = &self.pg {
            a.push("--database-url".into());
            a.push(with_db(server, name));
        }
        a
    }

    fn accepted(&self) -> usize {
        self.sim.submissions().iter().filter(|s| s.accepted).count()
    }

    async fn states(&self) -> Vec<(String, i64)> {
        with_pool!(self.store, |p| sqlx::query_as(
            "SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state"
        )
        .fetch_all(p)
        .await)
        .expect("states")
    }

    async fn all_sent(&self) -> bool {
        let s = self.states().await;
        s.len() == 1 && s[0].0 == "sent"
    }

    /// Every queued Message-ID submitted exactly once, nothing else submitted.
    fn assert_each_once(&self) {
        let subs = self.sim.submissions();
        for id in &self.message_ids {
            let n = subs
                .iter()
                .filter(|s| s.accepted && s.message_id.as_deref() == Some(id.as_str()))
                .count();
            assert_eq!(n, 1, "message {id} submitted {n} times");
        }
        assert_eq!(self.accepted(), self.message_ids.len());
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some((server, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(admin) = sqlx::PgPool::connect(&server).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&admin)
                                .await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running `pecdesk serve`; its log in a file. Killed on drop.
async fn killed_mid_send_submits_each_reply_once(postgres: bool) {
    let w = World::new(postgres, 40).await;
    let mut a = Server::start(w.dir.path(), &w.args(), "a");
    wait_for(
        "some replies submitted",
        Duration::from_secs(60),
        &[&a],
        || async { w.accepted() >= 3 },
    )
    .await;
    a.kill();
    let at_kill = w.accepted();
    eprintln!(
        "killed after {at_kill} of {} submissions",
        w.message_ids.len()
    );
    let b = Server::start(w.dir.path(), &w.args(), "b");
    wait_for(
        "every row sent",
        Duration::from_secs(120),
        &[&a, &b],
        || async { w.all_sent().await },
    )
    .await;
    w.assert_each_once();
}

async fn two_replicas_share_the_outbox_and_submit_each_once() {
    let w = World::new(true, 60).await;
    let a = Server::start(w.dir.path(), &w.args(), "a");
    let b = Server::start(w.dir.path(), &w.args(), "b");
    wait_for(
        "every row sent",
        Duration::from_secs(120),
        &[&a, &b],
        || async { w.all_sent().await },
    )
    .await;
    w.assert_each_once();
    eprintln!("replica a sent {}, replica b sent {}", a.sent(), b.sent());
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn sqlite_killed_mid_send_submits_each_reply_once() {
    rt().block_on(killed_mid_send_submits_each_reply_once(false));
}

#[test]
#[cfg_attr(
    not(pecdesk_pg),
    ignore = "PECDESK_TEST_PG is not set: PostgreSQL story not run"
)]
fn postgres_killed_mid_send_submits_each_reply_once() {
    rt().block_on(killed_mid_send_submits_each_reply_once(true));
}

#[test]
#[cfg_attr(
    not(pecdesk_pg),
    ignore = "PECDESK_TEST_PG is not set: PostgreSQL story not run"
)]
fn postgres_two_replicas_share_the_outbox_and_submit_each_once() {
    rt().block_on(two_replicas_share_the_outbox_and_submit_each_once());
}
