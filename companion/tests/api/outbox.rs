//! Mail out through the outbox, end to end on both engines: a reply from an activity goes
//! through the PEC provider simulator (real SMTP), its receipts land in the mailbox's
//! Maildir served by a real Dovecot, the IMAP poller ingests them and the activity shows
//! each recipient's state. Also: the approval gate, a provider throttle (451) retried once,
//! a wrong SMTP password, and the crash window (a row left `sending` after the provider
//! accepted it is concluded without a second submission). Time is a parameter: the worker
//! runs with [`outbox::tick_with`] at chosen instants, the simulator on a manual clock.

use std::time::{Duration, Instant};

use chrono::TimeZone as _;
use mail_parser::MimeHeaders as _;
use pecdesk_companion::imap::{self, ImapSettings};
use pecdesk_companion::outbox::{self, OutboxSettings};
use pecdesk_companion::simulate::{Account, Behaviour, ClockMode, Limits, SimConfig, Simulator};
use pecdesk_companion::store::audit::Chain;
use pecdesk_companion::store::mailboxes::{self, EndpointInput, Protocol, Security};
use pecdesk_companion::store::now_ms;
use pecdesk_companion::{AppState, Settings};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::both_engines;
use crate::dovecot::Dovecot;
use crate::helpers::{Engine, TestApp, spawn_app};
use crate::scalar;

both_engines!(
    a_reply_goes_out_and_the_activity_shows_each_recipients_receipt,
    only_the_approved_draft_goes_out,
    a_provider_throttle_is_retried_later_and_submitted_once,
    a_wrong_smtp_password_fails_with_words_to_act_on,
    a_send_left_uncertain_after_the_provider_accepted_is_not_sent_again,
    an_uncertain_send_without_acceptance_waits_then_goes_once,
    a_mailbox_without_smtp_settings_cannot_send,
    a_draft_goes_out_with_its_uploaded_files_and_never_names_a_missing_one,
    the_mailbox_throttle_spreads_sends_over_the_minute,
    an_unconfirmed_recipient_is_flagged_a_day_after_sending_and_held_rows_wait,
);

const MAILBOX: &str = "protocollo@pec.demo.test";
const PASSWORD: &str = "segreta-smtp";
const OK: &str = "ufficio@pec.ente.test";
const UNKNOWN: &str = "nessuno@pec.ente.test";

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

async fn set_endpoint(
    state: &AppState,
    mailbox_id: &str,
    protocol: Protocol,
    port: u16,
    password: &str,
) {
    let org: String = pecdesk_companion::with_pool!(state.store(), |p| sqlx::query_scalar(
        "SELECT org_id FROM mailboxes WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_one(p)
    .await)
    .expect("org");
    let secret = SecretString::from(password.to_owned());
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
        batch_size: 50,
        batch_bytes: 8 * 1024 * 1024,
        lease_secs: 6,
        timeout_secs: 10,
        refresh_secs: 1,
    }
}

fn settings() -> OutboxSettings {
    OutboxSettings {
        claim_secs: 60,
        uncertain_wait_secs: 600,
        retry_base_secs: 60,
        max_backoff_secs: 600,
        timeout_secs: 20,
        ..OutboxSettings::default()
    }
}

/// A running world: the app, Dovecot serving the mailbox, the simulator delivering into
/// Dovecot's homes.
struct World {
    app: TestApp,
    state: AppState,
    dovecot: Dovecot,
    sim: Simulator,
    mailbox: String,
    token: String,
}

async fn world(engine: Engine, f: impl FnOnce(&mut SimConfig)) -> World {
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
            start: chrono::Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap(),
        },
        ..SimConfig::default()
    };
    cfg.behaviours.insert(UNKNOWN.into(), Behaviour::Unknown);
    f(&mut cfg);
    let sim = Simulator::start(cfg).await.expect("simulator");
    let mailbox = app.mailbox_id(MAILBOX).await;
    set_endpoint(
        &state,
        &mailbox,
        Protocol::Smtp,
        sim.smtp_addr().port(),
        PASSWORD,
    )
    .await;
    set_endpoint(&state, &mailbox, Protocol::Imap, dovecot.port, PASSWORD).await;
    let token = app.login("responsabile@demo.test").await;
    World {
        app,
        state,
        dovecot,
        sim,
        mailbox,
        token,
    }
}

impl World {
    /// An activity on a fresh incoming message with a standard-flow draft to `to`.
    async fn activity_with_draft(&self, to: &[&str], body: &str) -> String {
        let m = self
            .app
            .import_fresh(
                &self.token,
                &self.mailbox,
                &uuid::Uuid::new_v4().to_string(),
            )
            .await;
        let (id, _) = self
            .app
            .create_activity(
                &self.token,
                json!({"mailbox_id": self.mailbox, "title": "Rispondere", "message_ids": [m]}),
            )
            .await;
        let d = self
            .app
            .put(
                &self.token,
                &format!("/api/v1/activities/{id}/draft"),
                json!({"to": to, "subject": "Re: pratica", "body": body}),
            )
            .await;
        assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
        id
    }

    async fn send(&self, id: &str) -> Value {
        let s = self
            .app
            .post(
                &self.token,
                &format!("/api/v1/activities/{id}/send"),
                json!({}),
            )
            .await;
        assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
        s.body
    }

    async fn detail(&self, id: &str) -> Value {
        self.app
            .get(&self.token, &format!("/api/v1/activities/{id}"))
            .await
            .body
    }

    /// How many submissions the simulator accepted with `message_id`.
    fn accepted(&self, message_id: &str) -> usize {
        self.sim
            .submissions()
            .iter()
            .filter(|s| s.accepted && s.message_id.as_deref() == Some(message_id))
            .count()
    }
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn recipient<'a>(outgoing: &'a Value, address: &str) -> &'a Value {
    outgoing["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["address"] == address)
        .unwrap_or_else(|| panic!("no recipient {address} in {outgoing}"))
}

async fn a_reply_goes_out_and_the_activity_shows_each_recipients_receipt(engine: Engine) {
    let w = world(engine, |_| {}).await;
    let id = w
        .activity_with_draft(&[OK, UNKNOWN], "Gentile ente, ...")
        .await;

    let sent = w.send(&id).await;
    assert_eq!(sent["status"], "done");
    let out = &sent["outgoing"][0];
    assert_eq!(out["state"], "queued", "{out}");
    assert_eq!(recipient(out, OK)["state"], "queued");
    let message_id = out["message_id"].as_str().expect("message id").to_owned();

    let report = outbox::tick_with(&w.state, &settings(), "w1", now_ms())
        .await
        .expect("tick");
    assert_eq!((report.claimed, report.sent), (1, 1), "{report:?}");
    assert_eq!(w.accepted(&message_id), 1);
    let d = w.detail(&id).await;
    assert_eq!(d["outgoing"][0]["state"], "sent", "{d}");
    assert!(d["outgoing"][0]["stored_message_id"].is_string(), "{d}");

    // The poller reads the provider's receipts from the mailbox.
    let pollers = imap::start_with(w.state.clone(), fast_imap());
    wait_for("delivered and failed on the activity", || async {
        let d = w.detail(&id).await;
        let out = &d["outgoing"][0];
        out["accepted"] == true
            && recipient(out, OK)["state"] == "delivered"
            && recipient(out, UNKNOWN)["state"] == "failed"
    })
    .await;
    pollers.stop().await;
    let d = w.detail(&id).await;
    let out = &d["outgoing"][0];
    let failed = recipient(out, UNKNOWN);
    assert!(
        failed["reason"]
            .as_str()
            .is_some_and(|r| r.contains("inesistente")),
        "{failed}"
    );
    assert_eq!(out["flagged"], true, "{out}");
    assert!(out["flag_reason"].as_str().is_some(), "{out}");
    // The recipient's box got the transport envelope.
    assert_eq!(w.dovecot.files(OK, None).len(), 1);
    // Nothing is sent twice by later passes.
    let again = outbox::tick_with(&w.state, &settings(), "w1", now_ms())
        .await
        .expect("tick");
    assert_eq!(again.claimed, 0);
    assert_eq!(w.accepted(&message_id), 1);
}

async fn only_the_approved_draft_goes_out(engine: Engine) {
    let w = world(engine, |_| {}).await;
    let app = &w.app;
    let ass = app.login("assegnatario@demo.test").await;
    let appr = app.login("approvatore@demo.test").await;
    let m = app
        .import_fresh(&w.token, &w.mailbox, &uuid::Uuid::new_v4().to_string())
        .await;
    let (id, _) = app
        .create_activity(
            &w.token,
            json!({"mailbox_id": w.mailbox, "title": "Con approvazione", "message_ids": [m],
                "assignee_id": app.user_id("assegnatario@demo.test").await, "flow": "approval",
                "approver_id": app.user_id("approvatore@demo.test").await}),
        )
        .await;
    let path = format!("/api/v1/activities/{id}");
    let v = app.version(&ass, &id).await;
    let r = app
        .post(
            &ass,
            &format!("{path}/transitions"),
            json!({"to": "in_progress", "version": v}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let draft = |body: &str| json!({"to": [OK], "subject": "Re: pratica", "body": body});
    app.put(&ass, &format!("{path}/draft"), draft("Versione uno"))
        .await;
    // Not approved: refused, nothing queued.
    let early = app.post(&ass, &format!("{path}/send"), json!({})).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{:?}", early.body);
    assert_eq!(
        {
            let n: i64 = scalar!(
                app,
                "SELECT COUNT(*) FROM outbox WHERE activity_id = $1",
                &id
            );
            n
        },
        0
    );
    app.post(&ass, &format!("{path}/approval-request"), json!({}))
        .await;
    let ok = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "approve", "note": "ok"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let sent = app.post(&ass, &format!("{path}/send"), json!({})).await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body["outgoing"][0]["draft_version"], 1);
    outbox::tick_with(&w.state, &settings(), "w1", now_ms())
        .await
        .expect("tick");
    // What the recipient's box received carries the approved text.
    let files = w.dovecot.files(OK, None);
    assert_eq!(files.len(), 1, "{files:?}");
    let dir = w.dovecot.folder_dir(OK, None);
    let raw = std::fs::read(dir.join("new").join(&files[0]))
        .or_else(|_| std::fs::read(dir.join("cur").join(&files[0])))
        .expect("envelope");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("Versione uno"), "the approved body went out");
}

async fn a_provider_throttle_is_retried_later_and_submitted_once(engine: Engine) {
    let w = world(engine, |c| {
        c.limits = Limits {
            per_minute: Some(1),
            ..Limits::default()
        };
    })
    .await;
    let first = w.activity_with_draft(&[OK], "uno").await;
    let second = w.activity_with_draft(&[OK], "due").await;
    w.send(&first).await;
    let second_id = w.send(&second).await["outgoing"][0]["message_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let t0 = now_ms();
    let r = outbox::tick_with(&w.state, &settings(), "w1", t0)
        .await
        .expect("tick");
    assert_eq!((r.sent, r.retried), (1, 1), "{r:?}");
    let d = w.detail(&second).await;
    let out = &d["outgoing"][0];
    assert_eq!(out["state"], "queued", "{out}");
    assert_eq!(out["attempts"], 1);
    assert!(
        out["error"].as_str().is_some_and(|e| e.contains("451")),
        "{out}"
    );
    // Not due before the backoff.
    let r = outbox::tick_with(&w.state, &settings(), "w1", t0 + 30_000)
        .await
        .expect("tick");
    assert_eq!(r.claimed, 0, "{r:?}");
    // The provider's minute passes; after the backoff it goes, once.
    w.sim.advance(Duration::from_secs(61)).await;
    let r = outbox::tick_with(&w.state, &settings(), "w1", t0 + 61_000)
        .await
        .expect("tick");
    assert_eq!(r.sent, 1, "{r:?}");
    assert_eq!(w.accepted(&second_id), 1);
    let d = w.detail(&second).await;
    assert_eq!(d["outgoing"][0]["state"], "sent");
    assert_eq!(d["outgoing"][0]["attempts"], 2);
}

async fn a_wrong_smtp_password_fails_with_words_to_act_on(engine: Engine) {
    let w = world(engine, |_| {}).await;
    set_endpoint(
        &w.state,
        &w.mailbox,
        Protocol::Smtp,
        w.sim.smtp_addr().port(),
        "sbagliata",
    )
    .await;
    let id = w.activity_with_draft(&[OK], "testo").await;
    w.send(&id).await;
    let r = outbox::tick_with(&w.state, &settings(), "w1", now_ms())
        .await
        .expect("tick");
    assert_eq!(r.failed, 1, "{r:?}");
    let d = w.detail(&id).await;
    let out = &d["outgoing"][0];
    assert_eq!(out["state"], "failed");
    let e = out["error"].as_str().expect("error");
    assert!(
        e.contains("password") && e.contains("amministratore"),
        "{e}"
    );
    assert_eq!(out["flagged"], true);
    assert!(w.sim.submissions().iter().all(|s| !s.accepted));
}

/// Claims the activity's row as a worker that then dies (its claim ends at `until`).
async fn claim_as_dead_worker(w: &World, now: i64, until: i64) -> Vec<outbox_store::ClaimedRow> {
    outbox_store::claim(
        w.state.store(),
        &w.mailbox,
        outbox_store::Claim {
            worker: "dead",
            now,
            until,
            max: 10,
        },
        |_, _| usize::MAX,
    )
    .await
    .expect("claim")
}

use pecdesk_companion::store::outbox as outbox_store;

async fn a_send_left_uncertain_after_the_provider_accepted_is_not_sent_again(engine: Engine) {
    let w = world(engine, |_| {}).await;
    let id = w.activity_with_draft(&[OK], "una volta sola").await;
    let message_id = w.send(&id).await["outgoing"][0]["message_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let t0 = now_ms();
    let rows = claim_as_dead_worker(&w, t0, t0 + 1_000).await;
    assert_eq!(rows.len(), 1);
    // The dead worker had submitted it: the provider accepted, then the process died.
    let endpoint = mailboxes::endpoint(
        w.state.store(),
        w.state.tokens().master(),
        &w.mailbox,
        Protocol::Smtp,
    )
    .await
    .expect("endpoint")
    .expect("set");
    let mut c = outbox::smtp::connect(&endpoint, "pec.demo.test", Duration::from_secs(10), None)
        .await
        .expect("connect");
    c.send(
        &rows[0].envelope_from,
        &rows[0].recipient_list(),
        &rows[0].raw,
        Duration::from_secs(10),
    )
    .await
    .expect("accepted");
    assert_eq!(w.accepted(&message_id), 1);
    // Its claim still holds: nobody touches the row.
    let r = outbox::tick_with(&w.state, &settings(), "w2", t0 + 500)
        .await
        .expect("tick");
    assert_eq!((r.claimed, r.recovered, r.requeued), (0, 0, 0), "{r:?}");
    // The accettazione arrives through IMAP.
    let pollers = imap::start_with(w.state.clone(), fast_imap());
    wait_for("the accettazione is stored", || async {
        let n: i64 = scalar!(
            w.app,
            "SELECT COUNT(*) FROM receipt_links WHERE kind = 'accettazione' AND original_message_id = $1",
            &message_id
        );
        n > 0
    })
    .await;
    pollers.stop().await;
    // Long after the claim and the uncertain wait: concluded, not sent again.
    let late = t0 + 3_600_000;
    let r = outbox::tick_with(&w.state, &settings(), "w2", late)
        .await
        .expect("tick");
    assert_eq!((r.recovered, r.claimed), (1, 0), "{r:?}");
    let r = outbox::tick_with(&w.state, &settings(), "w2", late + 1)
        .await
        .expect("tick");
    assert_eq!(r.claimed, 0, "{r:?}");
    assert_eq!(w.accepted(&message_id), 1, "submitted exactly once");
    let d = w.detail(&id).await;
    assert_eq!(d["outgoing"][0]["state"], "sent", "{d}");
}

async fn an_uncertain_send_without_acceptance_waits_then_goes_once(engine: Engine) {
    let w = world(engine, |_| {}).await;
    let id = w.activity_with_draft(&[OK], "incerto").await;
    let message_id = w.send(&id).await["outgoing"][0]["message_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let t0 = now_ms();
    // The dead worker claimed it and died before talking SMTP.
    claim_as_dead_worker(&w, t0, t0 + 1_000).await;
    let s = settings();
    // Claim expired, but the uncertain wait has not passed: it waits.
    let r = outbox::tick_with(&w.state, &s, "w2", t0 + 2_000)
        .await
        .expect("tick");
    assert_eq!((r.requeued, r.claimed), (0, 0), "{r:?}");
    assert_eq!(w.accepted(&message_id), 0);
    // After it, no acceptance and no sent copy: sent again, once.
    let after = t0 + 1000 * i64::try_from(s.uncertain_wait_secs).unwrap() + 1;
    let r = outbox::tick_with(&w.state, &s, "w2", after)
        .await
        .expect("tick");
    assert_eq!((r.requeued, r.sent), (1, 1), "{r:?}");
    assert_eq!(w.accepted(&message_id), 1);
    let d = w.detail(&id).await;
    assert_eq!(d["outgoing"][0]["attempts"], 2);
}

async fn a_mailbox_without_smtp_settings_cannot_send(engine: Engine) {
    let w = world(engine, |_| {}).await;
    let id = w.activity_with_draft(&[OK], "testo").await;
    pecdesk_companion::with_pool!(w.state.store(), |p| sqlx::query(
        "UPDATE mailboxes SET smtp_host = NULL, smtp_secret = NULL WHERE id = $1"
    )
    .bind(&w.mailbox)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("clear smtp");
    let s = w
        .app
        .post(
            &w.token,
            &format!("/api/v1/activities/{id}/send"),
            json!({}),
        )
        .await;
    assert_eq!(s.status, StatusCode::CONFLICT, "{:?}", s.body);
    let m = s.body["error"]["message"].as_str().expect("message");
    assert!(m.contains("amministratore") && m.contains("SMTP"), "{m}");
    let d = w.detail(&id).await;
    assert_eq!(d["status"], "open");
    assert_eq!(d["outgoing"], json!([]));
}

async fn a_draft_goes_out_with_its_uploaded_files_and_never_names_a_missing_one(engine: Engine) {
    let w = world(engine, |_| {}).await;
    let m = w
        .app
        .import_fresh(&w.token, &w.mailbox, &uuid::Uuid::new_v4().to_string())
        .await;
    let (id, _) = w
        .app
        .create_activity(
            &w.token,
            json!({"mailbox_id": w.mailbox, "title": "Con allegato", "message_ids": [m]}),
        )
        .await;
    let path = format!("/api/v1/activities/{id}");
    let draft = json!({"to": [OK], "subject": "Re: atti", "body": "In allegato.",
        "attachments": ["delibera.pdf"]});
    let d = w.app.put(&w.token, &format!("{path}/draft"), draft).await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    // The file is named but not uploaded: refused, nothing queued.
    let early = w
        .app
        .post(&w.token, &format!("{path}/send"), json!({}))
        .await;
    assert_eq!(
        early.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        early.body
    );
    assert!(
        early.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("delibera.pdf")),
        "{:?}",
        early.body
    );
    let file_url = w.app.url(&format!("{path}/draft/attachments/delibera.pdf"));
    let pdf = b"%PDF-1.4 delibera di prova".to_vec();
    let up = w
        .app
        .client
        .put(&file_url)
        .bearer_auth(&w.token)
        .header("content-type", "application/pdf")
        .body(pdf.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(up.status(), StatusCode::NO_CONTENT);
    // Uploading is an edit: a new draft version.
    assert_eq!(w.detail(&id).await["draft"]["version"], 2);
    let got = w
        .app
        .client
        .get(&file_url)
        .bearer_auth(&w.token)
        .send()
        .await
        .expect("download");
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), pdf);
    let bad = w
        .app
        .client
        .put(w.app.url(&format!("{path}/draft/attachments/.segreto")))
        .bearer_auth(&w.token)
        .body(b"x".to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let sent = w.send(&id).await;
    assert_eq!(sent["outgoing"][0]["draft_version"], 2);
    let r = outbox::tick_with(&w.state, &settings(), "w1", now_ms())
        .await
        .expect("tick");
    assert_eq!(r.sent, 1, "{r:?}");
    let raw: Vec<u8> = scalar!(w.app, "SELECT raw FROM outbox WHERE activity_id = $1", &id);
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("parses");
    let att = parsed.attachment(0).expect("attachment");
    assert_eq!(att.attachment_name(), Some("delibera.pdf"));
    assert_eq!(att.contents(), pdf.as_slice());
    // After sending, the draft's files are frozen.
    let late = w
        .app
        .client
        .delete(&file_url)
        .bearer_auth(&w.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(late.status(), StatusCode::CONFLICT);
}

async fn the_mailbox_throttle_spreads_sends_over_the_minute(engine: Engine) {
    let w = world(engine, |_| {}).await;
    let admin = w.app.login("admin@demo.test").await;
    let path = format!("/api/v1/mailboxes/{}", w.mailbox);
    let set = w
        .app
        .patch(&admin, &path, json!({"send_preset": "legalmail"}))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let got = w.app.get(&admin, &path).await;
    assert_eq!(got.body["send_limits"]["per_minute"], 6, "{:?}", got.body);
    assert_eq!(got.body["send_limits"]["max_recipients"], 500);
    let limits = outbox::limits(w.state.store(), &w.mailbox)
        .await
        .expect("limits");
    assert_eq!(limits.per_minute, Some(6));
    let set = w
        .app
        .patch(&admin, &path, json!({"send_per_minute": 2}))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let bad = w
        .app
        .patch(&admin, &path, json!({"send_per_minute": -3}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    for i in 0..5 {
        let id = w.activity_with_draft(&[OK], &format!("n. {i}")).await;
        w.send(&id).await;
    }
    let t0 = now_ms();
    let s = settings();
    let mut sent_at = Vec::new();
    for step in 0..30 {
        let now = t0 + step * 5_000;
        let r = outbox::tick_with(&w.state, &s, "w1", now)
            .await
            .expect("tick");
        sent_at.extend(std::iter::repeat_n(now, r.sent));
    }
    // 2 a minute: two at once, two a minute later, the last one after two minutes.
    assert_eq!(sent_at.len(), 5, "{sent_at:?}");
    for t in &sent_at {
        let in_minute = sent_at.iter().filter(|u| **u <= *t && **u > *t - 60_000);
        assert!(in_minute.count() <= 2, "{sent_at:?}");
    }
    assert_eq!(sent_at[4] - t0, 120_000, "{sent_at:?}");
    let accepted = w.sim.submissions().iter().filter(|s| s.accepted).count();
    assert_eq!(accepted, 5);
}

async fn an_unconfirmed_recipient_is_flagged_a_day_after_sending_and_held_rows_wait(
    engine: Engine,
) {
    let w = world(engine, |_| {}).await;
    let id = w.activity_with_draft(&[OK], "senza ricevute").await;
    w.send(&id).await;
    let t0 = now_ms();
    let r = outbox::tick_with(&w.state, &settings(), "w1", t0)
        .await
        .expect("tick");
    assert_eq!(r.sent, 1, "{r:?}");
    // No IMAP poll: no receipt reaches the companion.
    use pecdesk_companion::domain::activities::outgoing;
    let now = outgoing::of_activity(w.state.store(), &id, t0 + 60_000)
        .await
        .expect("outgoing");
    assert_eq!(now[0].recipients[0].state, "sent");
    assert!(!now[0].flagged, "{now:?}");
    let later = outgoing::of_activity(w.state.store(), &id, t0 + 25 * 3_600_000)
        .await
        .expect("outgoing");
    assert!(later[0].flagged, "{later:?}");
    assert!(
        later[0]
            .flag_reason
            .as_deref()
            .is_some_and(|r| r.contains("24")),
        "{later:?}"
    );

    // A held row (a paused campaign) is never claimed until it is queued again.
    let second = w.activity_with_draft(&[OK], "in pausa").await;
    w.send(&second).await;
    pecdesk_companion::with_pool!(w.state.store(), |p| sqlx::query(
        "UPDATE outbox SET state = 'held' WHERE activity_id = $1"
    )
    .bind(&second)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("hold");
    let r = outbox::tick_with(&w.state, &settings(), "w1", t0 + 1_000)
        .await
        .expect("tick");
    assert_eq!(r.claimed, 0, "{r:?}");
    pecdesk_companion::with_pool!(w.state.store(), |p| sqlx::query(
        "UPDATE outbox SET state = 'queued' WHERE activity_id = $1"
    )
    .bind(&second)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("resume");
    let r = outbox::tick_with(&w.state, &settings(), "w1", t0 + 2_000)
        .await
        .expect("tick");
    assert_eq!(r.sent, 1, "{r:?}");
}
