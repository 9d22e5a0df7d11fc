//! A campaign across processes: real `pecdesk serve` binaries send a queued mass send
//! through the PEC provider simulator (real SMTP), whose receipts land in a real Dovecot the
//! servers poll. The server is killed with SIGKILL in the middle of the campaign and
//! restarted: every recipient's message was submitted exactly once (counted by the
//! simulator per Message-ID and per address), nobody was skipped, and the restarted
//! server's loop sweeps the campaign to `done` once every delivery receipt is in.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../api/dovecot.rs"]
mod dovecot;
#[path = "../support/mail_out_process.rs"]
mod process;

use std::time::Duration;

use pecdesk_companion::auth::Principal;
use pecdesk_companion::domain::campaigns::{
    self, ActivitiesMode, CampaignRequest, CampaignSettings, Created,
};
use pecdesk_companion::outbox::compose::ReceiptType;
use pecdesk_companion::simulate::{Account, SimConfig, Simulator};
use pecdesk_companion::store::audit::Chain;
use pecdesk_companion::store::mailboxes::{self, EndpointInput, Protocol, Security};
use pecdesk_companion::store::{grants, users};
use pecdesk_companion::{AppState, Settings, Store, demo, with_pool};
use pecdesk_core::ids::EmailAddress;
use secrecy::SecretString;

use dovecot::Dovecot;
use process::{Server, pg_server, wait_for, with_db};

const PASSWORD: &str = "segreta-di-prova";

/// A seeded database whose LEGALE mailbox sends through the simulator and is polled on
/// Dovecot, with a campaign of `n` recipients queued.
struct World {
    dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    store: Store,
    sim: Simulator,
    _dovecot: Dovecot,
    message_ids: Vec<String>,
    campaign: String,
    who: (Principal, pecdesk_core::authz::Person),
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
        let (mailbox, org): (String, String) = with_pool!(store, |p| sqlx::query_as(
            "SELECT id, org_id FROM mailboxes WHERE address = $1"
        )
        .bind(demo::LEGALE)
        .fetch_one(p)
        .await)
        .expect("mailbox");
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
        tx.commit().await.expect("commit");
        // The campaign, queued as `POST /api/v1/campaigns` does (one transaction).
        let user = users::user_by_email(
            &store,
            &EmailAddress::parse("responsabile@demo.test").expect("address"),
        )
        .await
        .expect("user")
        .expect("the demo manager");
        let who = Principal {
            user_id: user.id,
            org_id: user.org_id,
            email: user.email,
            name: user.name,
            is_admin: user.is_admin,
            is_auditor: user.is_auditor,
        };
        let person = grants::person(&store, &who).await.expect("person");
        let mut csv = String::from("indirizzo,nome\n");
        for i in 0..n {
            csv.push_str(&format!("dest{i:03}@pec.ente.test,Destinatario {i}\n"));
        }
        let req = CampaignRequest {
            mailbox_id: mailbox.clone(),
            name: "Dopo un kill -9".into(),
            subject: "Avviso per {{nome}}".into(),
            body: "Gentile {{nome}},\nsaluti.\n".into(),
            receipt_type: ReceiptType::Sintetica,
            csv,
            files: vec![],
            activities: ActivitiesMode::None,
        };
        let created = campaigns::create(&store, &who, &person, &CampaignSettings::default(), &req)
            .await
            .expect("create");
        let Created::Queued(view) = created else {
            panic!("campaign refused: {created:?}");
        };
        let message_ids: Vec<String> = with_pool!(store, |p| sqlx::query_scalar(
            "SELECT message_id FROM outbox WHERE campaign_id = $1"
        )
        .bind(&view.id)
        .fetch_all(p)
        .await)
        .expect("ids");
        assert_eq!(message_ids.len(), n);
        let campaign = view.id.clone();
        let who_keep = (who, person);
        Self {
            dir,
            pg,
            store,
            sim,
            _dovecot: dovecot,
            message_ids,
            campaign,
            who: who_keep,
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
async fn killed_mid_campaign_sends_each_recipient_once(postgres: bool) {
    let w = World::new(postgres, 40).await;
    let mut a = Server::start(w.dir.path(), &w.args(), "a");
    wait_for(
        "some recipients submitted",
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
    assert!(
        at_kill < w.message_ids.len(),
        "killed in the middle of the campaign"
    );
    let b = Server::start(w.dir.path(), &w.args(), "b");
    wait_for(
        "every recipient sent",
        Duration::from_secs(120),
        &[&a, &b],
        || async { w.all_sent().await },
    )
    .await;
    w.assert_each_once();
    // One submission per address, each with that address alone.
    let subs = w.sim.submissions();
    for i in 0..w.message_ids.len() {
        let address = format!("dest{i:03}@pec.ente.test");
        let n = subs
            .iter()
            .filter(|s| s.accepted && s.recipients == vec![address.clone()])
            .count();
        assert_eq!(n, 1, "{address} submitted {n} times");
    }
    // The restarted server polls the receipts in and its loop sweeps the campaign done.
    let (who, person) = &w.who;
    wait_for(
        "the campaign done, every recipient delivered",
        Duration::from_secs(180),
        &[&a, &b],
        || async {
            let d = campaigns::detail(&w.store, who, person, &w.campaign)
                .await
                .expect("detail");
            d.state == "done"
        },
    )
    .await;
    let d = campaigns::detail(&w.store, who, person, &w.campaign)
        .await
        .expect("detail");
    let counts = d.counts.expect("counts");
    assert_eq!(counts.delivered, w.message_ids.len(), "{counts:?}");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn sqlite_killed_mid_campaign_sends_each_recipient_once() {
    rt().block_on(killed_mid_campaign_sends_each_recipient_once(false));
}

#[test]
#[cfg_attr(
    not(pecdesk_pg),
    ignore = "PECDESK_TEST_PG is not set: PostgreSQL story not run"
)]
fn postgres_killed_mid_campaign_sends_each_recipient_once() {
    rt().block_on(killed_mid_campaign_sends_each_recipient_once(true));
}
