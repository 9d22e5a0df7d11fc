//! IMAP ingestion against a real Dovecot (see `dovecot.rs`), on both engines: messages flow
//! in once (across a poller restart and a cut connection), Sent is read as `out`, nothing
//! is flagged or removed on the server, a wrong password shows on the mailbox's health and
//! recovers, a message that does not parse is kept with its problems, a UIDVALIDITY change
//! re-reads without duplicates.

use std::time::{Duration, Instant};

use pecdesk_companion::imap::{self, ImapSettings, Pollers};
use pecdesk_companion::store::audit::Chain;
use pecdesk_companion::store::imap as store_imap;
use pecdesk_companion::store::mailboxes::{self, EndpointInput, Protocol, Security};
use pecdesk_companion::{AppState, Settings, demo};
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};

use crate::dovecot::Dovecot;
use crate::fixtures;
use crate::helpers::{Engine, TestApp, spawn_app};
use crate::scalar;

pub(crate) const USER: &str = "legale";
pub(crate) const PASSWORD: &str = "segreta-di-prova";

/// Short intervals: the stories wait for conditions, bounded by [`wait_for`].
pub(crate) fn fast() -> ImapSettings {
    ImapSettings {
        enabled: true,
        poll_interval_secs: 1,
        idle_timeout_secs: 60,
        retry_base_secs: 1,
        max_backoff_secs: 2,
        batch_size: 3,
        // About two of the stories' small messages: batches are also cut by size.
        batch_bytes: 700,
        lease_secs: 6,
        timeout_secs: 10,
        refresh_secs: 1,
    }
}

/// The app's state as a second `AppState` over the same store and data folder (so the
/// same master key opens the mailbox secrets).
pub(crate) async fn state_of(app: &TestApp) -> AppState {
    state_with_ca(app, None).await
}

/// [`state_of`] with extra TLS roots (`ca_bundle`).
async fn state_with_ca(app: &TestApp, ca: Option<std::path::PathBuf>) -> AppState {
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
    settings.ca_bundle = ca;
    AppState::new(settings, app.store.clone())
        .await
        .expect("state")
}

/// Writes the mailbox's IMAP settings and turns ingestion on.
pub(crate) async fn configure(
    state: &AppState,
    mailbox_id: &str,
    port: u16,
    security: Security,
    pw: &str,
) {
    configure_host(state, mailbox_id, "127.0.0.1", port, security, pw).await;
}

/// [`configure`] with a host name.
async fn configure_host(
    state: &AppState,
    mailbox_id: &str,
    host: &str,
    port: u16,
    security: Security,
    pw: &str,
) {
    let org: String = pecdesk_companion::with_pool!(state.store(), |p| sqlx::query_scalar(
        "SELECT org_id FROM mailboxes WHERE id = $1"
    )
    .bind(mailbox_id)
    .fetch_one(p)
    .await)
    .expect("org");
    let secret = SecretString::from(pw.to_owned());
    let mut tx = state
        .store()
        .begin_write(Chain::Org(&org))
        .await
        .expect("tx");
    mailboxes::set_endpoint(
        &mut tx,
        state.tokens().master(),
        mailbox_id,
        Protocol::Imap,
        &EndpointInput {
            host,
            port,
            security,
            user: USER,
            secret: Some(&secret),
        },
    )
    .await
    .expect("set endpoint");
    mailboxes::set_ingest_enabled(&mut tx, mailbox_id, true)
        .await
        .expect("enable");
    tx.commit().await.expect("commit");
}

pub(crate) fn sha(raw: &[u8]) -> String {
    hex::encode(Sha256::digest(raw))
}

/// Waits (bounded: 40 s) until `check` holds; panics with `what` otherwise.
pub(crate) async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_within(Duration::from_secs(40), what, check).await;
}

/// Waits at most `limit` until `check` holds; panics with `what` otherwise.
async fn wait_within<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn count_in(app: &TestApp, mailbox_id: &str) -> i64 {
    scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1",
        mailbox_id
    )
}

pub(crate) async fn copies_of(app: &TestApp, mailbox_id: &str, raw: &[u8]) -> i64 {
    scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1 AND raw_sha256 = $2",
        mailbox_id,
        sha(raw)
    )
}

/// Asserts every message is stored exactly once and the mailbox holds `base + len` rows.
async fn assert_each_once(app: &TestApp, mailbox_id: &str, base: i64, sent: &[Vec<u8>]) {
    for (i, raw) in sent.iter().enumerate() {
        assert_eq!(copies_of(app, mailbox_id, raw).await, 1, "message {i}");
    }
    assert_eq!(
        count_in(app, mailbox_id).await,
        base + i64::try_from(sent.len()).expect("len")
    );
}

/// Waits until the mailbox holds `n` rows.
pub(crate) async fn wait_count(app: &TestApp, mailbox_id: &str, n: i64) {
    wait_for(&format!("{n} messages stored"), || async {
        count_in(app, mailbox_id).await >= n
    })
    .await;
}

/// Nothing flagged `\Seen` and nothing removed on the server: `count` files, none with S.
fn assert_untouched(d: &Dovecot, folder: Option<&str>, count: usize) {
    let files = d.files(USER, folder);
    assert_eq!(files.len(), count, "files on the server: {files:?}");
    for f in &files {
        let flags = f.rsplit_once(":2,").map(|(_, fl)| fl).unwrap_or("");
        assert!(!flags.contains('S'), "{f} was flagged \\Seen");
        assert!(!flags.contains('T'), "{f} was flagged \\Deleted");
    }
}

struct Story {
    app: TestApp,
    state: AppState,
    mailbox: String,
    base: i64,
    dovecot: Dovecot,
}

async fn story(engine: Engine) -> Story {
    let app = spawn_app(engine).await;
    let state = state_of(&app).await;
    let mailbox = app.mailbox_id(demo::LEGALE).await;
    let dovecot = Dovecot::start(&[(USER, PASSWORD)]);
    configure(&state, &mailbox, dovecot.port, Security::Plain, PASSWORD).await;
    let base = count_in(&app, &mailbox).await;
    Story {
        app,
        state,
        mailbox,
        base,
        dovecot,
    }
}

fn start(s: &Story) -> Pollers {
    imap::start_with(s.state.clone(), fast())
}

fn mail(tag: &str) -> Vec<u8> {
    crate::helpers::fresh_eml(&format!("imap-{tag}-{}", uuid::Uuid::new_v4().simple()))
}

async fn health(s: &Story) -> store_imap::HealthRow {
    store_imap::health(&s.app.store, &s.mailbox)
        .await
        .expect("health")
        .expect("health row")
}

async fn messages_flow_in_once_across_restart_and_reconnect(engine: Engine) {
    let mut s = story(engine).await;
    let mut sent = Vec::new();
    // Before the poller starts: more than one batch (3).
    for i in 0..4 {
        let m = mail(&format!("a{i}"));
        s.dovecot.deliver(USER, None, &m);
        sent.push(m);
    }
    let pollers = start(&s);
    wait_count(&s.app, &s.mailbox, s.base + 4).await;
    // While it runs (IDLE wakes it).
    for i in 0..2 {
        let m = mail(&format!("b{i}"));
        s.dovecot.deliver(USER, None, &m);
        sent.push(m);
    }
    wait_count(&s.app, &s.mailbox, s.base + 6).await;
    assert_each_once(&s.app, &s.mailbox, s.base, &sent).await;
    let h = health(&s).await;
    assert!(h.last_success_at.is_some());
    assert_eq!(h.idle, Some(true), "Dovecot offers IDLE");
    assert_eq!(h.consecutive_failures, 0);
    assert_eq!(h.quota_total_kb, Some(1024 * 1024), "Dovecot's quota: 1G");
    assert!(h.quota_read_at.is_some());
    assert_eq!(h.lease_owner.as_deref(), Some(pollers.owner()));

    // The poller stops (its lease is given back) and starts again: nothing read twice.
    pollers.stop().await;
    assert_eq!(
        health(&s).await.lease_owner,
        None,
        "lease given back on stop"
    );
    for i in 0..2 {
        let m = mail(&format!("c{i}"));
        s.dovecot.deliver(USER, None, &m);
        sent.push(m);
    }
    let pollers = start(&s);
    wait_count(&s.app, &s.mailbox, s.base + 8).await;

    // The server cuts every connection (restart): the poller reconnects.
    s.dovecot.restart();
    let m = mail("d");
    s.dovecot.deliver(USER, None, &m);
    sent.push(m);
    wait_count(&s.app, &s.mailbox, s.base + 9).await;
    wait_for("a success after the reconnect", || async {
        health(&s).await.consecutive_failures == 0
    })
    .await;
    pollers.stop().await;
    assert_each_once(&s.app, &s.mailbox, s.base, &sent).await;
    let last_uid: i64 = scalar!(
        s.app,
        "SELECT last_uid FROM imap_folders WHERE mailbox_id = $1 AND folder = 'INBOX'",
        &s.mailbox
    );
    assert_eq!(last_uid, 9);
    assert_untouched(&s.dovecot, None, 9);
}

async fn the_sent_folder_is_read_and_tracked(engine: Engine) {
    sent_story(engine, false).await;
}

/// The Sent folder's messages are `out` whatever their sender: needs `ingest_batch` to
/// honour `Incoming::direction` (the ingestion slice of issue 13).
async fn sent_folder_messages_are_stored_as_sent(engine: Engine) {
    sent_story(engine, true).await;
}

async fn sent_story(engine: Engine, check_direction: bool) {
    let s = story(engine).await;
    let out = format!(
        "From: <{from}>\r\nTo: <ufficio@pec.esempio.test>\r\nSubject: Inviata dal client\r\n\
         Date: Mon, 02 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{id}@pec.demo.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nTesto.\r\n",
        from = "segreteria@esempio.test",
        id = uuid::Uuid::new_v4().simple()
    )
    .into_bytes();
    let inbound = mail("in");
    s.dovecot.deliver(USER, Some("Sent"), &out);
    s.dovecot.deliver(USER, None, &inbound);
    let pollers = start(&s);
    wait_count(&s.app, &s.mailbox, s.base + 2).await;
    pollers.stop().await;
    assert_eq!(copies_of(&s.app, &s.mailbox, &out).await, 1);
    assert_eq!(copies_of(&s.app, &s.mailbox, &inbound).await, 1);
    if check_direction {
        for (raw, want) in [(&out, "out"), (&inbound, "in")] {
            let dir: String = scalar!(
                s.app,
                "SELECT direction FROM messages WHERE mailbox_id = $1 AND raw_sha256 = $2",
                &s.mailbox,
                sha(raw)
            );
            assert_eq!(dir, want);
        }
    }
    // The Sent folder was found by its special use and is tracked on its own.
    let folders: i64 = scalar!(
        s.app,
        "SELECT COUNT(*) FROM imap_folders WHERE mailbox_id = $1 AND folder = 'Sent' AND last_uid = 1",
        &s.mailbox
    );
    assert_eq!(folders, 1);
    assert_untouched(&s.dovecot, Some("Sent"), 1);
    assert_untouched(&s.dovecot, None, 1);
}

async fn wrong_password_shows_on_health_and_recovers_when_fixed(engine: Engine) {
    let s = story(engine).await;
    configure(
        &s.state,
        &s.mailbox,
        s.dovecot.port,
        Security::Plain,
        "sbagliata",
    )
    .await;
    let m = mail("pw");
    s.dovecot.deliver(USER, None, &m);
    let pollers = start(&s);
    wait_for("an auth error on the health", || async {
        store_imap::health(&s.app.store, &s.mailbox)
            .await
            .expect("health")
            .is_some_and(|h| h.last_error_code.as_deref() == Some("auth"))
    })
    .await;
    let h = health(&s).await;
    let words = h.last_error.expect("words");
    assert!(words.contains("Password errata o scaduta"), "{words}");
    assert!(words.contains("Wrong or expired password"), "{words}");
    assert!(
        !words.contains("sbagliata"),
        "the password is never shown: {words}"
    );
    assert!(h.consecutive_failures >= 1);
    assert!(h.next_attempt_at.expect("backoff") > h.last_error_at.expect("error time"));
    assert!(h.last_success_at.is_none());
    assert_eq!(copies_of(&s.app, &s.mailbox, &m).await, 0);

    // The admin enters the right password: the next attempt uses it.
    configure(
        &s.state,
        &s.mailbox,
        s.dovecot.port,
        Security::Plain,
        PASSWORD,
    )
    .await;
    wait_count(&s.app, &s.mailbox, s.base + 1).await;
    wait_for("the health clears", || async {
        let h = health(&s).await;
        h.last_success_at.is_some() && h.consecutive_failures == 0
    })
    .await;
    pollers.stop().await;
    let h = health(&s).await;
    assert_eq!(h.last_error_code, None);
    assert_eq!(h.next_attempt_at, None);
    assert_eq!(copies_of(&s.app, &s.mailbox, &m).await, 1);
}

async fn tls_towards_a_plain_server_is_a_tls_error(engine: Engine) {
    let s = story(engine).await;
    configure(
        &s.state,
        &s.mailbox,
        s.dovecot.port,
        Security::Tls,
        PASSWORD,
    )
    .await;
    let pollers = start(&s);
    wait_for("a tls error on the health", || async {
        store_imap::health(&s.app.store, &s.mailbox)
            .await
            .expect("health")
            .is_some_and(|h| h.last_error_code.is_some())
    })
    .await;
    pollers.stop().await;
    let h = health(&s).await;
    assert_eq!(
        h.last_error_code.as_deref(),
        Some("tls"),
        "{:?}",
        h.last_error
    );
    assert!(
        h.last_error
            .as_deref()
            .is_some_and(|w| w.contains("Connessione sicura")),
        "{:?}",
        h.last_error
    );
}

async fn tls_and_starttls_read_the_mailbox_once_the_certificate_is_trusted(engine: Engine) {
    let app = spawn_app(engine).await;
    let mailbox = app.mailbox_id(demo::LEGALE).await;
    let base = count_in(&app, &mailbox).await;
    let d = Dovecot::start_tls(&[(USER, PASSWORD)]);
    let tls_port = d.tls_port.expect("tls port");
    let untrusting = state_of(&app).await;
    configure_host(
        &untrusting,
        &mailbox,
        "localhost",
        tls_port,
        Security::Tls,
        PASSWORD,
    )
    .await;
    let m1 = mail("tls");
    d.deliver(USER, None, &m1);

    // The test CA is not trusted: a certificate error, in words.
    let pollers = imap::start_with(untrusting.clone(), fast());
    wait_for("a certificate error", || async {
        store_imap::health(&app.store, &mailbox)
            .await
            .expect("health")
            .is_some_and(|h| h.last_error_code.is_some())
    })
    .await;
    pollers.stop().await;
    let h = store_imap::health(&app.store, &mailbox)
        .await
        .expect("health")
        .expect("row");
    assert_eq!(
        h.last_error_code.as_deref(),
        Some("tls"),
        "{:?}",
        h.last_error
    );
    assert_eq!(copies_of(&app, &mailbox, &m1).await, 0);

    // Trusted through ca_bundle: implicit TLS reads the box.
    let trusting = state_with_ca(&app, Some(d.ca())).await;
    let pollers = imap::start_with(trusting.clone(), fast());
    wait_count(&app, &mailbox, base + 1).await;
    pollers.stop().await;

    // STARTTLS on the plain port.
    configure_host(
        &trusting,
        &mailbox,
        "localhost",
        d.port,
        Security::Starttls,
        PASSWORD,
    )
    .await;
    let m2 = mail("starttls");
    d.deliver(USER, None, &m2);
    let pollers = imap::start_with(trusting, fast());
    wait_count(&app, &mailbox, base + 2).await;
    wait_for("success over STARTTLS", || async {
        store_imap::health(&app.store, &mailbox)
            .await
            .expect("health")
            .is_some_and(|h| h.consecutive_failures == 0 && h.last_success_at.is_some())
    })
    .await;
    pollers.stop().await;
    assert_each_once(&app, &mailbox, base, &[m1, m2]).await;
}

async fn idle_wakes_the_poller_when_mail_arrives(engine: Engine) {
    let s = story(engine).await;
    // Polls (and re-IDLEs) only every 60 s: a message seen sooner came through IDLE.
    let settings = ImapSettings {
        poll_interval_secs: 60,
        lease_secs: 600,
        ..fast()
    };
    let pollers = imap::start_with(s.state.clone(), settings);
    wait_for("the first poll done", || async {
        store_imap::health(&s.app.store, &s.mailbox)
            .await
            .expect("health")
            .is_some_and(|h| h.last_success_at.is_some())
    })
    .await;
    let m = mail("idle");
    let delivered = Instant::now();
    s.dovecot.deliver(USER, None, &m);
    wait_within(
        Duration::from_secs(20),
        "the message, woken by IDLE",
        || async { copies_of(&s.app, &s.mailbox, &m).await == 1 },
    )
    .await;
    let took = delivered.elapsed();
    pollers.stop().await;
    assert!(took < Duration::from_secs(20), "{took:?}");
    eprintln!("IDLE: stored {} ms after delivery", took.as_millis());
}

async fn a_mailbox_turned_off_is_no_longer_polled(engine: Engine) {
    let s = story(engine).await;
    let pollers = start(&s);
    wait_for("the lease taken", || async {
        store_imap::health(&s.app.store, &s.mailbox)
            .await
            .expect("health")
            .is_some_and(|h| h.lease_owner.is_some() && h.last_success_at.is_some())
    })
    .await;
    let org: String = scalar!(
        s.app,
        "SELECT org_id FROM mailboxes WHERE id = $1",
        &s.mailbox
    );
    let mut tx = s
        .state
        .store()
        .begin_write(Chain::Org(&org))
        .await
        .expect("tx");
    mailboxes::set_ingest_enabled(&mut tx, &s.mailbox, false)
        .await
        .expect("disable");
    tx.commit().await.expect("commit");
    // Its poller stops and gives the lease back.
    wait_for("the lease given back", || async {
        health(&s).await.lease_owner.is_none()
    })
    .await;
    let m = mail("off");
    s.dovecot.deliver(USER, None, &m);
    let before = count_in(&s.app, &s.mailbox).await;
    pollers.stop().await;
    assert_eq!(count_in(&s.app, &s.mailbox).await, before);
    assert_eq!(copies_of(&s.app, &s.mailbox, &m).await, 0);
}

async fn a_message_that_does_not_parse_is_stored_with_its_problems(engine: Engine) {
    let s = story(engine).await;
    let sub = fixtures::Submission {
        identificativo: "opec-imap-truncated.1@pec.esempio.test",
        msgid: "imap-truncated@esempio.test",
        sender: "mittente@pec.esempio.test",
        recipient: demo::LEGALE,
        subject: "Troncato",
    };
    let raw = fixtures::truncated_envelope(&sub);
    let good = mail("after-bad");
    s.dovecot.deliver(USER, None, &raw);
    s.dovecot.deliver(USER, None, &good);
    let pollers = start(&s);
    wait_count(&s.app, &s.mailbox, s.base + 2).await;
    pollers.stop().await;
    assert_eq!(copies_of(&s.app, &s.mailbox, &raw).await, 1);
    assert_eq!(copies_of(&s.app, &s.mailbox, &good).await, 1);
    let summary: String = scalar!(
        s.app,
        "SELECT summary FROM messages WHERE mailbox_id = $1 AND raw_sha256 = $2",
        &s.mailbox,
        sha(&raw)
    );
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("summary JSON");
    assert!(
        summary["problems"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{summary}"
    );
    assert_untouched(&s.dovecot, None, 2);
}

async fn a_uidvalidity_change_reads_the_folder_again_without_duplicates(engine: Engine) {
    let mut s = story(engine).await;
    let mut sent = Vec::new();
    for i in 0..3 {
        let m = mail(&format!("v{i}"));
        s.dovecot.deliver(USER, None, &m);
        sent.push(m);
    }
    let pollers = start(&s);
    wait_count(&s.app, &s.mailbox, s.base + 3).await;
    pollers.stop().await;
    let before: i64 = scalar!(
        s.app,
        "SELECT uidvalidity FROM imap_folders WHERE mailbox_id = $1 AND folder = 'INBOX'",
        &s.mailbox
    );
    let new_validity = u32::try_from(before).expect("u32").wrapping_add(1000);
    s.dovecot.change_uidvalidity(USER, None, new_validity);
    let m = mail("v-after");
    s.dovecot.deliver(USER, None, &m);
    sent.push(m);
    let pollers = start(&s);
    wait_for(
        "the new UIDVALIDITY recorded and read to the end",
        || async {
            let (v, last): (i64, i64) = pecdesk_companion::with_pool!(s.app.store, |p| {
                sqlx::query_as(
                    "SELECT uidvalidity, last_uid FROM imap_folders \
                 WHERE mailbox_id = $1 AND folder = 'INBOX'",
                )
                .bind(&s.mailbox)
                .fetch_one(p)
                .await
            })
            .expect("folder");
            v == i64::from(new_validity) && last == 4
        },
    )
    .await;
    pollers.stop().await;
    assert_each_once(&s.app, &s.mailbox, s.base, &sent).await;
}

/// A sent message read from the Sent folder and its five receipts from INBOX, delivered in
/// a shuffled order across several polls (the errore before the preavviso, receipts before
/// the message they certify), end reconciled per recipient, as over the import endpoint.
async fn a_sent_message_and_its_receipts_over_imap_end_reconciled_whatever_the_order(
    engine: Engine,
) {
    use crate::receipts::{CC, NO_MAILBOX, TO1, TO2};
    let s = story(engine).await;
    let mut parts = crate::receipts::story(71);
    let pollers = start(&s);
    let mut n = s.base;
    for (i, label) in ["err", "c3", "sent", "pre", "acc", "c1"].iter().enumerate() {
        let at = parts.iter().position(|(l, _)| l == label).expect("label");
        let (l, raw) = parts.remove(at);
        s.dovecot
            .deliver(USER, (l == "sent").then_some("Sent"), &raw);
        n += 1;
        // Some arrive together, some in polls of their own.
        if i % 2 == 1 {
            wait_count(&s.app, &s.mailbox, n).await;
        }
    }
    wait_count(&s.app, &s.mailbox, n).await;
    wait_for("every message processed", || async {
        let left: i64 = scalar!(
            s.app,
            "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1 AND processed_at IS NULL",
            &s.mailbox
        );
        left == 0
    })
    .await;
    pollers.stop().await;
    let sent: String = scalar!(
        s.app,
        "SELECT id FROM messages WHERE mailbox_id = $1 AND direction = 'out'",
        &s.mailbox
    );
    let token = s.app.login("responsabile@demo.test").await;
    let d = s.app.get(&token, &format!("/api/v1/messages/{sent}")).await;
    assert_eq!(d.body["accepted"], true, "{:?}", d.body);
    let states: Vec<(String, String)> = d.body["delivery"]
        .as_array()
        .expect("delivery")
        .iter()
        .map(|e| {
            (
                e["recipient"].as_str().unwrap_or_default().to_owned(),
                e["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want = [(TO1, "delivered"), (TO2, "failed"), (CC, "delivered")]
        .map(|(r, st)| (r.to_owned(), st.to_owned()));
    assert_eq!(states, want);
    assert_eq!(d.body["delivery"][1]["reason"], NO_MAILBOX);
    assert_eq!(d.body["receipts"].as_array().map(Vec::len), Some(5));
    // Receipts are never new work, nor in the list without receipts.
    let list = s
        .app
        .get(
            &token,
            &format!("/api/v1/messages?mailbox={}&receipts=hide", s.mailbox),
        )
        .await;
    let kinds: Vec<&str> = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|m| m["kind"].as_str())
        .collect();
    assert!(
        kinds
            .iter()
            .all(|k| *k == "not-pec" || *k == "posta-certificata"),
        "{kinds:?}"
    );
}

crate::both_engines!(
    messages_flow_in_once_across_restart_and_reconnect,
    the_sent_folder_is_read_and_tracked,
    wrong_password_shows_on_health_and_recovers_when_fixed,
    tls_towards_a_plain_server_is_a_tls_error,
    idle_wakes_the_poller_when_mail_arrives,
    a_mailbox_turned_off_is_no_longer_polled,
    tls_and_starttls_read_the_mailbox_once_the_certificate_is_trusted,
    a_message_that_does_not_parse_is_stored_with_its_problems,
    a_uidvalidity_change_reads_the_folder_again_without_duplicates,
    sent_folder_messages_are_stored_as_sent,
    a_sent_message_and_its_receipts_over_imap_end_reconciled_whatever_the_order,
);
