//! Mass send throughput (issue 14, item 7; docs/BENCHMARKS.md): a campaign of N recipients
//! (default 10,000) from the demo's Protocollo mailbox through the PEC provider simulator,
//! throttling off. Timed, one after the other:
//! 1. validating and queueing it (`domain::campaigns::create`: CSV, templates, one composed
//!    message and one outbox row per recipient, in one transaction);
//! 2. sending it (`outbox::tick_with` passes until nothing is queued; every message a real
//!    SMTP submission to the simulator); then, not timed, passes until every sent copy is
//!    stored among the mailbox's messages;
//! 3. reconciling the 2 × N receipts the simulator wrote back (one accettazione and one
//!    avvenuta-consegna per recipient): they are imported first, not timed (that is the
//!    ingestion benchmark's figure), then `domain::reconcile::process` runs over them in
//!    batches of 500, as ingestion calls it.
//!
//! Then the throttle: 80 more messages from a mailbox limited to 6 a minute, the worker's
//! passes driven by a simulated clock (one pass a second for 10 minutes, no sleeping); it
//! prints how many attempts started and the most in any 60-second window.
//!
//! ```text
//! cargo run --release -p pecdesk-companion --example campaign_bench -- sqlite 10000
//! PECDESK_TEST_PG=postgres://... cargo run --release -p pecdesk-companion --example campaign_bench -- postgres 10000
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use base64::Engine as _;
use pecdesk_companion::auth::Principal;
use pecdesk_companion::domain::campaigns::{
    self, ActivitiesMode, CampaignRequest, CampaignSettings, Created, FileInput,
};
use pecdesk_companion::domain::{messages, reconcile};
use pecdesk_companion::outbox::{self, OutboxSettings, compose::ReceiptType};
use pecdesk_companion::simulate::{Account, SimConfig, Simulator};
use pecdesk_companion::store::audit::Chain;
use pecdesk_companion::store::mailboxes::{self, EndpointInput, Protocol, Security};
use pecdesk_companion::store::{grants, users};
use pecdesk_companion::{AppState, Settings, Store, demo, with_pool};
use pecdesk_core::ids::EmailAddress;
use secrecy::SecretString;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SENDER: &str = "protocollo@pec.demo.test";
const BATCH: usize = 500;

fn request(mailbox_id: &str, name: &str, n: usize, prefix: &str) -> CampaignRequest {
    let mut csv = String::from("indirizzo;ente;pratica\n");
    for i in 0..n {
        csv.push_str(&format!(
            "{prefix}{i}@pec.bench.test;Ente numero {i};2026/{i}\n"
        ));
    }
    let notice = format!("%PDF-1.4 avviso {}", "x".repeat(4000));
    CampaignRequest {
        mailbox_id: mailbox_id.to_owned(),
        name: name.to_owned(),
        subject: "Avviso pratica {{ pratica }}".into(),
        body: "Spett.le {{ ente }},\nsi trasmette l'avviso relativo alla pratica {{ pratica }}.\n"
            .into(),
        receipt_type: ReceiptType::Breve,
        csv,
        files: vec![FileInput {
            name: "avviso.pdf".into(),
            content_type: Some("application/pdf".into()),
            content_base64: base64::engine::general_purpose::STANDARD.encode(notice),
            common: true,
        }],
        activities: ActivitiesMode::None,
    }
}

async fn queued(store: &Store) -> i64 {
    with_pool!(store, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'sending')"
    )
    .fetch_one(p)
    .await)
    .expect("count")
}

async fn unstored(store: &Store) -> i64 {
    with_pool!(store, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND stored_message_id IS NULL"
    )
    .fetch_one(p)
    .await)
    .expect("count")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let engine = args.get(1).map_or("sqlite", String::as_str);
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000);

    let dir = tempfile::tempdir()?;
    let mut settings = Settings::for_data_dir(dir.path());
    // Demo mode trusts the simulator's provider, as `serve --demo` does.
    settings.demo = true;
    if engine == "postgres" {
        let server = std::env::var("PECDESK_TEST_PG").expect("PECDESK_TEST_PG");
        let name = format!("pecdesk_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&server).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await?;
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        settings.database_url = Some(format!("{base}/{name}").into());
    }
    let store = Store::connect(&settings).await?;
    let state = AppState::new(settings, store.clone()).await?;
    demo::seed(&store, state.trust()).await?;
    let (org, mailbox): (String, String) = with_pool!(store, |p| sqlx::query_as(
        "SELECT org_id, id FROM mailboxes WHERE address = $1"
    )
    .bind(SENDER)
    .fetch_one(p)
    .await)?;

    let sim_root = dir.path().join("simulatore");
    let sim = Simulator::start(SimConfig {
        mail_root: sim_root.clone(),
        accounts: vec![Account {
            address: SENDER.into(),
            password: "bench-password".into(),
        }],
        ..SimConfig::default()
    })
    .await?;
    let mut tx = store.begin_write(Chain::Org(&org)).await?;
    mailboxes::set_endpoint(
        &mut tx,
        state.tokens().master(),
        &mailbox,
        Protocol::Smtp,
        &EndpointInput {
            host: "127.0.0.1",
            port: sim.smtp_addr().port(),
            security: Security::Plain,
            user: SENDER,
            secret: Some(&SecretString::from("bench-password".to_owned())),
        },
    )
    .await?;
    tx.commit().await?;

    let u = users::user_by_email(&store, &EmailAddress::parse("responsabile@demo.test")?)
        .await?
        .expect("demo manager");
    let who = Principal {
        user_id: u.id,
        org_id: u.org_id,
        email: u.email,
        name: u.name,
        is_admin: u.is_admin,
        is_auditor: u.is_auditor,
    };
    let person = grants::person(&store, &who).await?;
    let cs = CampaignSettings::default();

    // 1. Validate and queue.
    let req = request(&mailbox, "Benchmark", n, "dest");
    let t = Instant::now();
    let Created::Queued(view) = campaigns::create(&store, &who, &person, &cs, &req).await? else {
        panic!("the benchmark campaign was refused");
    };
    let queue_s = t.elapsed().as_secs_f64();
    println!("QUEUE engine={engine} recipients={n} seconds={queue_s:.2}");

    // 2. Send, throttling off.
    let os = OutboxSettings {
        batch_size: BATCH,
        default_per_minute: 0,
        ..OutboxSettings::default()
    };
    let t = Instant::now();
    while queued(&store).await > 0 {
        let now = chrono::Utc::now().timestamp_millis();
        outbox::tick_with(&state, &os, "bench", now).await?;
    }
    let send_s = t.elapsed().as_secs_f64();
    // The worker stores the sent copies after sending (a batch per pass): the receipts
    // below are reconciled against stored sent messages, not left waiting for them.
    let t_copies = Instant::now();
    while unstored(&store).await > 0 {
        let now = chrono::Utc::now().timestamp_millis();
        outbox::tick_with(&state, &os, "bench", now).await?;
    }
    println!(
        "engine={engine} sent copies stored in {:.1}s more (not timed below)",
        t_copies.elapsed().as_secs_f64()
    );
    let accepted = sim.submissions().iter().filter(|s| s.accepted).count();
    assert_eq!(accepted, n, "every message submitted once");
    println!(
        "SEND engine={engine} messages={n} seconds={send_s:.2} messages_per_s={:.0}",
        n as f64 / send_s
    );

    // 3. The receipts the simulator wrote into the sender's box: imported (not timed),
    // then reconciled.
    let new = sim_root.join(SENDER).join("Maildir").join("new");
    let mut files: Vec<_> = std::fs::read_dir(&new)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    let t = Instant::now();
    let mut ids = Vec::with_capacity(files.len());
    for f in &files {
        let raw = std::fs::read(f)?;
        ids.push(
            messages::import_raw(&store, None, &org, &mailbox, raw, state.trust())
                .await?
                .row
                .id,
        );
    }
    println!(
        "engine={engine} receipts={} import={:.1}s (not timed below)",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    for chunk in ids.chunks(BATCH) {
        reconcile::process(&store, &org, chunk).await?;
    }
    let rec_s = t.elapsed().as_secs_f64();
    println!(
        "RECONCILE engine={engine} receipts={} seconds={rec_s:.2} receipts_per_s={:.0}",
        ids.len(),
        ids.len() as f64 / rec_s
    );
    let done = campaigns::detail(&store, &who, &person, &view.id).await?;
    let delivered = done.counts.as_ref().map_or(0, |c| c.delivered);
    assert_eq!(delivered, n, "every recipient delivered: {:?}", done.counts);

    // 4. The throttle at 6 a minute over 10 simulated minutes.
    with_pool!(store, |p| sqlx::query(
        "UPDATE mailboxes SET send_per_minute = 6 WHERE id = $1"
    )
    .bind(&mailbox)
    .execute(p)
    .await
    .map(|_| ()))?;
    let req = request(&mailbox, "Throttle", 80, "lento");
    let Created::Queued(slow) = campaigns::create(&store, &who, &person, &cs, &req).await? else {
        panic!("the throttle campaign was refused");
    };
    let start = chrono::Utc::now().timestamp_millis();
    for s in 0..600 {
        outbox::tick_with(&state, &os, "bench", start + s * 1000).await?;
    }
    let starts: Vec<i64> = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT attempt_started_at FROM outbox WHERE campaign_id = $1 \
         AND attempt_started_at IS NOT NULL ORDER BY attempt_started_at"
    )
    .bind(&slow.id)
    .fetch_all(p)
    .await)?;
    let max_window = starts
        .iter()
        .map(|&a| starts.iter().filter(|&&b| b >= a && b < a + 60_000).count())
        .max()
        .unwrap_or(0);
    println!(
        "THROTTLE engine={engine} limit_per_minute=6 simulated_seconds=600 started={} max_in_any_60s={max_window}",
        starts.len()
    );
    sim.stop().await;
    store.close().await;
    Ok(())
}
