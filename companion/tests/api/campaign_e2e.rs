//! A mass send end to end on both engines: 200 recipients, each with their own attachment,
//! queued through the API, sent by the outbox worker to the PEC provider simulator (real
//! SMTP), the receipts delivered into the sender's Maildir served by a real Dovecot and
//! ingested by the IMAP poller. Every recipient's status comes out right, including the
//! ones the simulator fails on purpose (unknown address, full box) and one whose provider
//! never answers: warned after 12 simulated hours, failed after 24. With `activities =
//! failures` the sweep opens one activity per failed recipient, once, and marks the
//! campaign done. Time is a parameter: the worker runs with `tick_with` at chosen
//! instants, the simulator on a manual clock; only real I/O (IMAP ingestion) is waited for.

use std::time::{Duration, Instant};

use chrono::TimeZone as _;
use pecdesk_companion::domain::campaigns;
use pecdesk_companion::imap::{self, ImapSettings};
use pecdesk_companion::outbox::{self, OutboxSettings};
use pecdesk_companion::simulate::{Account, Behaviour, ClockMode, SimConfig, Simulator};
use pecdesk_companion::store::audit::Chain;
use pecdesk_companion::store::mailboxes::{self, EndpointInput, Protocol, Security};
use pecdesk_companion::store::now_ms;
use pecdesk_companion::{AppState, Settings};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::both_engines;
use crate::campaigns::file;
use crate::dovecot::Dovecot;
use crate::helpers::{Engine, TestApp, spawn_app};
use crate::scalar;

both_engines!(a_200_recipient_campaign_ends_with_every_status_right,);

const MAILBOX: &str = "protocollo@pec.demo.test";
const PASSWORD: &str = "segreta-smtp";
const N: usize = 200;

/// The app's state over the same store and data folder (same master key).
async fn state_of(app: &TestApp) -> AppState {
    let args = app.db_args();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args[i + 1].clone())
    };
    let mut settings = Settings::for_data_dir(arg("--data-dir").expect("data dir"));
    if let Some(url) = arg("--database-url") {
        settings.database_url = Some(url.into());
    }
    settings.demo = true;
    AppState::new(settings, app.store.clone())
        .await
        .expect("state")
}

async fn set_endpoint(state: &AppState, mailbox_id: &str, protocol: Protocol, port: u16) {
    let org: String = pecdesk_companion::with_pool!(state.store(), |p| sqlx::query_scalar(
        "SELECT org_id FROM mailboxes WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_one(p)
    .await)
    .expect("org");
    let secret = SecretString::from(PASSWORD.to_owned());
    let mut tx = state
        .store()
        .begin_write(Chain::Org(&org))
        .await
        .expect("tx");
    mailboxes::set_endpoint(
        &mut tx,
        state.tokens().master(),
        mailbox_id,
        protocol,
        &EndpointInput {
            host: "127.0.0.1",
            port,
            security: Security::Plain,
            user: MAILBOX,
            secret: Some(&secret),
        },
    )
    .await
    .expect("endpoint");
    if protocol == Protocol::Imap {
        mailboxes::set_ingest_enabled(&mut tx, mailbox_id, true)
            .await
            .expect("ingest");
    }
    tx.commit().await.expect("commit");
}

fn fast_imap() -> ImapSettings {
    ImapSettings {
        enabled: true,
        poll_interval_secs: 1,
        idle_timeout_secs: 60,
        retry_base_secs: 1,
        max_backoff_secs: 2,
        batch_size: 200,
        batch_bytes: 16 * 1024 * 1024,
        lease_secs: 6,
        timeout_secs: 30,
        refresh_secs: 1,
    }
}

fn address(row: usize) -> String {
    format!("dest{row:03}@pec.ente.test")
}

/// What the simulator does for a row, and the status expected at the end.
fn behaviour(row: usize) -> Option<Behaviour> {
    match row {
        10 | 110 => Some(Behaviour::Unknown),
        20 | 120 => Some(Behaviour::FullBox),
        50 => Some(Behaviour::NoAnswer),
        _ => None,
    }
}

/// Waits for real I/O (the IMAP poller) until `check` holds.
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn receipts(app: &TestApp, kind: &str) -> i64 {
    scalar!(
        app,
        "SELECT COUNT(*) FROM receipt_links WHERE kind = $1",
        kind
    )
}

async fn detail(app: &TestApp, token: &str, id: &str) -> Value {
    let d = app.get(token, &format!("/api/v1/campaigns/{id}")).await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    d.body
}

async fn recipient(app: &TestApp, token: &str, id: &str, status: &str) -> Vec<Value> {
    let a = app
        .get(
            token,
            &format!("/api/v1/campaigns/{id}/recipients?status={status}&limit=200"),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["items"].as_array().expect("items").clone()
}

async fn a_200_recipient_campaign_ends_with_every_status_right(engine: Engine) {
    let app = spawn_app(engine).await;
    let state = state_of(&app).await;
    let dovecot = Dovecot::start(&[(MAILBOX, PASSWORD)]);
    let mut cfg = SimConfig {
        accounts: vec![Account {
            address: MAILBOX.into(),
            password: PASSWORD.into(),
        }],
        mail_root: dovecot.home(),
        owner: Some(dovecot.owner()),
        clock: ClockMode::Manual {
            start: chrono::Utc
                .with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
                .single()
                .expect("time"),
        },
        ..SimConfig::default()
    };
    for row in 1..=N {
        if let Some(b) = behaviour(row) {
            cfg.behaviours.insert(address(row), b);
        }
    }
    let sim = Simulator::start(cfg).await.expect("simulator");
    let mailbox = app.mailbox_id(MAILBOX).await;
    set_endpoint(&state, &mailbox, Protocol::Smtp, sim.smtp_addr().port()).await;
    set_endpoint(&state, &mailbox, Protocol::Imap, dovecot.port).await;
    let token = app.login("responsabile@demo.test").await;

    // 200 recipients, each with their own file, one common file, sintetica receipts for
    // half the box's space... the default completa: the receipts carry the message again.
    let mut csv = String::from("indirizzo,nome,allegati\n");
    let mut files = vec![file(
        "informativa.pdf",
        b"%PDF-1.4 informativa comune",
        true,
    )];
    for row in 1..=N {
        csv.push_str(&format!(
            "{},Destinatario {row},doc{row:03}.pdf\n",
            address(row)
        ));
        files.push(file(
            &format!("doc{row:03}.pdf"),
            format!("%PDF-1.4 documento personale {row:03}").as_bytes(),
            false,
        ));
    }
    let c = app
        .post(
            &token,
            "/api/v1/campaigns",
            json!({
                "mailbox_id": mailbox, "name": "Notifica atti",
                "subject": "Notifica per {{ nome }}", "body": "Gentile {{nome}},\nin allegato.\n",
                "csv": csv, "files": files, "activities": "failures",
            }),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let id = c.body["id"].as_str().expect("id").to_owned();

    // The worker drains the queue (throttle off), one submission per recipient.
    let settings = OutboxSettings {
        timeout_secs: 30,
        ..OutboxSettings::default()
    };
    let now = now_ms();
    let mut passes = 0;
    loop {
        let r = outbox::tick_with(&state, &settings, "campaign-test", now)
            .await
            .expect("tick");
        passes += 1;
        if r.claimed == 0 {
            break;
        }
        assert!(passes < 20, "the queue drains");
    }
    let subs = sim.submissions();
    assert_eq!(
        subs.iter().filter(|s| s.accepted).count(),
        N,
        "one submission each"
    );
    for s in &subs {
        assert_eq!(
            s.recipients.len(),
            1,
            "one recipient per message, never Bcc"
        );
    }
    let mut ids: Vec<_> = subs.iter().filter_map(|s| s.message_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "every Message-ID submitted once");
    let d = detail(&app, &token, &id).await;
    assert_eq!(d["counts"]["sent"], N, "{d}");

    // Each recipient's envelope carries their own file and the common one, no other's.
    for row in [1usize, 77, 200] {
        let dir = dovecot
            .home()
            .join(address(row))
            .join("Maildir")
            .join("new");
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("recipient's Maildir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(entries.len(), 1, "row {row}: one envelope");
        let raw = std::fs::read_to_string(&entries[0]).expect("envelope");
        assert!(
            raw.contains(&format!("doc{row:03}.pdf")),
            "row {row}: own file"
        );
        assert!(raw.contains("informativa.pdf"), "row {row}: common file");
        let other = if row == 1 { 2 } else { 1 };
        assert!(
            !raw.contains(&format!("doc{other:03}.pdf")),
            "row {row}: no other's file"
        );
    }

    // The IMAP poller ingests the receipts: 200 accettazioni, 199 final receipts (the
    // provider of row 50 never answers).
    // (The demo data hold a few receipts of their own: counted from where they stand.)
    let (acc0, ok0, ko0, pre0) = (
        receipts(&app, "accettazione").await,
        receipts(&app, "avvenuta-consegna").await,
        receipts(&app, "errore-consegna").await,
        receipts(&app, "preavviso-errore-consegna").await,
    );
    let n = N as i64;
    let pollers = imap::start_with(state.clone(), fast_imap());
    wait_for(
        "200 acceptances and 199 delivery receipts ingested",
        || async {
            receipts(&app, "accettazione").await - acc0 == n
                && receipts(&app, "avvenuta-consegna").await - ok0
                    + receipts(&app, "errore-consegna").await
                    - ko0
                    == n - 1
        },
    )
    .await;
    let d = detail(&app, &token, &id).await;
    assert_eq!(d["counts"]["delivered"], N - 5, "{d}");
    assert_eq!(d["counts"]["failed"], 4, "{d}");
    assert_eq!(d["counts"]["accepted"], 1, "{d}");
    let failed = recipient(&app, &token, &id, "failed").await;
    let rows: Vec<i64> = failed
        .iter()
        .map(|r| r["row"].as_i64().expect("row"))
        .collect();
    assert_eq!(rows, vec![10, 20, 110, 120]);
    let reason = |row: i64| {
        failed
            .iter()
            .find(|r| r["row"] == row)
            .and_then(|r| r["reason"].as_str())
            .expect("reason")
            .to_owned()
    };
    assert!(reason(10).contains("inesistente"), "{}", reason(10));
    assert!(reason(20).contains("piena"), "{}", reason(20));
    let waiting = recipient(&app, &token, &id, "accepted").await;
    assert_eq!(waiting[0]["address"], address(50));
    assert!(waiting[0]["accepted_at"].is_string());
    let delivered = recipient(&app, &token, &id, "delivered").await;
    assert!(
        delivered
            .iter()
            .all(|r| r["receipt_id"].is_string() && r["outcome_at"].is_string())
    );

    // The sweep opens one activity per failed recipient, once; the campaign is not done.
    let s = campaigns::sweep(state.store(), now_ms())
        .await
        .expect("sweep");
    assert_eq!(s.activities, 4);
    assert_eq!(s.done, 0);
    let again = campaigns::sweep(state.store(), now_ms())
        .await
        .expect("sweep");
    assert_eq!(again.activities, 0, "created once");

    // 12 simulated hours: the preavviso for row 50.
    sim.advance(Duration::from_secs(12 * 3600)).await;
    wait_for("the preavviso ingested", || async {
        receipts(&app, "preavviso-errore-consegna").await - pre0 == 1
    })
    .await;
    let warned = recipient(&app, &token, &id, "warned").await;
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0]["row"], 50);
    assert_eq!(
        campaigns::sweep(state.store(), now_ms())
            .await
            .expect("sweep"),
        campaigns::SweepReport::default(),
        "a warning is not a failure"
    );

    // 24 simulated hours: the final mancata consegna.
    sim.advance(Duration::from_secs(12 * 3600)).await;
    wait_for("the final failure ingested", || async {
        receipts(&app, "errore-consegna").await - ko0 == 5
    })
    .await;
    pollers.stop().await;
    let d = detail(&app, &token, &id).await;
    assert_eq!(d["counts"]["failed"], 5, "{d}");
    assert_eq!(d["counts"]["warned"], 0, "{d}");
    let s = campaigns::sweep(state.store(), now_ms())
        .await
        .expect("sweep");
    assert_eq!(s.activities, 1, "row 50's activity");
    assert_eq!(s.done, 1);
    let d = detail(&app, &token, &id).await;
    assert_eq!(d["state"], "done");
    assert!(d["finished_at"].is_string());

    // One activity per failed recipient, each linked to its failure receipt.
    let failed = recipient(&app, &token, &id, "failed").await;
    assert_eq!(failed.len(), 5);
    for r in &failed {
        let act = r["activity_id"].as_str().expect("activity");
        let a = app.get(&token, &format!("/api/v1/activities/{act}")).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(
            a.body["message_ids"],
            json!([r["receipt_id"]]),
            "{:?}",
            a.body
        );
    }
    let activities: i64 = scalar!(
        &app,
        "SELECT COUNT(*) FROM campaign_recipients WHERE campaign_id = $1 AND activity_id IS NOT NULL",
        &id
    );
    assert_eq!(activities, 5);

    // The export tells the same story.
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/campaigns/{id}/export.csv")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export");
    let text = resp.text().await.expect("csv");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), N);
    assert_eq!(rows.iter().filter(|r| &r[2] == "delivered").count(), N - 5);
    assert_eq!(&rows[49][2], "failed");
    assert!(!rows[49][3].is_empty(), "a reason for row 50");
    sim.stop().await;
}
