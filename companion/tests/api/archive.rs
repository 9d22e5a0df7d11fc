//! Archive and expunge against a real Dovecot (see `dovecot.rs`), on both engines: a
//! mailbox's policy removes from the provider's box only messages older than N days whose
//! exact bytes PecDesk holds, never an unstored one — not one past the folder's mark, not
//! one another client flagged `\Deleted` (UID EXPUNGE, never EXPUNGE), not one whose
//! stored bytes differ — and what left the box stays readable here.

use std::time::{Duration, SystemTime};

use pecdesk_companion::imap::poller::{self, ArchivePass};
use pecdesk_companion::imap::{self};
use pecdesk_companion::store::mailboxes;
use pecdesk_companion::{AppState, demo};
use reqwest::StatusCode;
use serde_json::json;

use crate::dovecot::Dovecot;
use crate::helpers::{Engine, TestApp, spawn_app};
use crate::imap::{
    PASSWORD, USER, configure, copies_of, count_in, fast, sha, state_of, wait_count, wait_for,
};
use crate::scalar;
use pecdesk_companion::store::mailboxes::Security;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A message of about `kb` KiB (so the box's quota, counted in KiB, moves).
fn big(tag: &str, kb: usize) -> Vec<u8> {
    let line = "Testo di prova per l'archiviazione, riga di riempimento.\r\n";
    let body = line.repeat(kb * 1024 / line.len() + 1);
    format!(
        "From: <mittente@esempio.test>\r\nTo: <legale@pec.demo.test>\r\nSubject: Archivio {tag}\r\n\
         Date: Mon, 02 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{tag}-{u}@esempio.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{body}",
        u = uuid::Uuid::new_v4().simple()
    )
    .into_bytes()
}

fn ago(days: u64) -> SystemTime {
    SystemTime::now() - DAY * u32::try_from(days).expect("days")
}

/// Marks the stored copy of `raw` as stored `days` ago (the companion's side of "old").
async fn stored_days_ago(app: &TestApp, mailbox: &str, raw: &[u8], days: i64) {
    let at = pecdesk_companion::store::now_ms() - days * 24 * 60 * 60 * 1000;
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "UPDATE messages SET received_at = $3 WHERE mailbox_id = $1 AND raw_sha256 = $2"
    )
    .bind(mailbox)
    .bind(sha(raw))
    .bind(at)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("backdate");
}

fn on_server(d: &Dovecot, folder: Option<&str>, raw: &[u8]) -> bool {
    d.contents(USER, folder).iter().any(|c| c == raw)
}

async fn pass(state: &AppState, mailbox: &str) -> ArchivePass {
    let target = mailboxes::poll_targets(state.store())
        .await
        .expect("targets")
        .into_iter()
        .find(|t| t.id == mailbox)
        .expect("the mailbox is polled");
    poller::archive_pass(state.clone(), fast(), target)
        .await
        .expect("archive pass")
        .expect("lease")
}

async fn expunged_rows(app: &TestApp, mailbox: &str) -> i64 {
    scalar!(
        app,
        "SELECT COUNT(*) FROM imap_expunged WHERE mailbox_id = $1",
        mailbox
    )
}

async fn audit_runs(app: &TestApp, mailbox: &str) -> i64 {
    scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'mailbox.archive_expunge' AND object_id = $1",
        mailbox
    )
}

async fn old_stored_messages_leave_the_box_and_nothing_unstored_does(engine: Engine) {
    let app = spawn_app(engine).await;
    let state = state_of(&app).await;
    let mailbox = app.mailbox_id(demo::LEGALE).await;
    let d = Dovecot::start(&[(USER, PASSWORD)]);
    configure(&state, &mailbox, d.port, Security::Plain, PASSWORD).await;
    let base = count_in(&app, &mailbox).await;

    // In the box: old messages (INBOX and Sent), a young one, an old one PecDesk stored
    // only today, and an old one whose stored bytes will not match.
    let old1 = big("old1", 24);
    let old2 = big("old2", 24);
    let old_sent = big("old-sent", 24);
    let young = big("young", 8);
    let stored_today = big("stored-today", 8);
    let tampered = big("tampered", 8);
    for m in [&old1, &old2, &stored_today, &tampered] {
        d.deliver_dated(USER, None, m, ago(200), None);
    }
    d.deliver_dated(USER, Some("Sent"), &old_sent, ago(200), None);
    d.deliver_dated(USER, None, &young, ago(2), None);

    // The poller stores everything; the policy is off, nothing leaves.
    let pollers = imap::start_with(state.clone(), fast());
    wait_count(&app, &mailbox, base + 6).await;
    pollers.stop().await;
    assert_eq!(d.files(USER, None).len(), 5);
    for m in [&old1, &old2, &old_sent, &young, &tampered] {
        stored_days_ago(&app, &mailbox, m, 200).await;
    }
    // The stored row of `tampered` no longer holds the server's bytes.
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "UPDATE raw_blobs SET bytes = $2 WHERE sha256 = $1"
    )
    .bind(sha(&tampered))
    .bind(big("other", 8))
    .execute(p)
    .await
    .map(|_| ()))
    .expect("tamper");

    // The administrator sets the policy: 30 days.
    let admin = app.login("admin@demo.test").await;
    let bad = app
        .patch(
            &admin,
            &format!("/api/v1/mailboxes/{mailbox}"),
            json!({"archive": {"expunge_after_days": 0}}),
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );
    let r = app
        .patch(
            &admin,
            &format!("/api/v1/mailboxes/{mailbox}"),
            json!({"archive": {"expunge_after_days": 30}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["archive"]["expunge_after_days"], 30);
    let quota_before: i64 = scalar!(
        app,
        "SELECT quota_used_kb FROM mailbox_health WHERE mailbox_id = $1",
        &mailbox
    );

    // The poller runs with the policy: the old stored messages leave, over several polls
    // (3 per run).
    let pollers = imap::start_with(state.clone(), fast());
    wait_for("three messages expunged", || async {
        expunged_rows(&app, &mailbox).await >= 3
    })
    .await;
    wait_for("the quota read again", || async {
        let used: i64 = scalar!(
            app,
            "SELECT quota_used_kb FROM mailbox_health WHERE mailbox_id = $1",
            &mailbox
        );
        used < quota_before
    })
    .await;
    pollers.stop().await;
    for m in [&old1, &old2] {
        assert!(!on_server(&d, None, m), "an old stored message left INBOX");
    }
    assert!(!on_server(&d, Some("Sent"), &old_sent), "and Sent");
    assert!(on_server(&d, None, &young), "younger than 30 days: stays");
    assert!(
        on_server(&d, None, &stored_today),
        "stored here less than 30 days ago (no certified time): stays"
    );
    assert!(
        on_server(&d, None, &tampered),
        "stored bytes differ from the server's: stays"
    );
    assert_eq!(expunged_rows(&app, &mailbox).await, 3);
    assert!(audit_runs(&app, &mailbox).await >= 1);
    let details: String = scalar!(
        app,
        "SELECT details FROM audit_log WHERE action = 'mailbox.archive_expunge' AND object_id = $1 \
         ORDER BY seq LIMIT 1",
        &mailbox
    );
    assert!(
        !details.contains("Archivio"),
        "no subject in the audit: {details}"
    );

    // Everything is still readable here, marked archived.
    let reader = app.login("responsabile@demo.test").await;
    for m in [&old1, &old2, &old_sent] {
        let id: String = scalar!(
            app,
            "SELECT id FROM messages WHERE mailbox_id = $1 AND raw_sha256 = $2",
            &mailbox,
            sha(m)
        );
        let raw = app
            .client
            .get(app.url(&format!("/api/v1/messages/{id}/raw")))
            .bearer_auth(&reader)
            .send()
            .await
            .expect("raw");
        assert_eq!(raw.status(), StatusCode::OK);
        assert_eq!(raw.bytes().await.expect("bytes").as_ref(), m.as_slice());
        let v = app.get(&reader, &format!("/api/v1/messages/{id}")).await;
        assert_eq!(v.body["archived"], true, "{:?}", v.body);
        assert!(v.body["expunged_from_box_at"].is_string());
    }
    let young_id: String = scalar!(
        app,
        "SELECT id FROM messages WHERE mailbox_id = $1 AND raw_sha256 = $2",
        &mailbox,
        sha(&young)
    );
    let v = app
        .get(&reader, &format!("/api/v1/messages/{young_id}"))
        .await;
    assert_eq!(v.body["archived"], false);

    // The mailbox's health shows the run.
    let mb = app
        .get(&admin, &format!("/api/v1/mailboxes/{mailbox}"))
        .await;
    let run = &mb.body["health"]["archive"];
    assert_eq!(run["total_expunged"], 3, "{:?}", mb.body);
    assert!(run["total_bytes_freed"].as_i64().expect("bytes") > 3 * 20 * 1024);
    assert!(run["last_run_at"].is_string());
    assert!(run["unavailable"].is_null());

    // After the sync: an old message with the bytes of one stored long ago (past the
    // folder's mark), and an old message another client deleted (flag \Deleted) that
    // PecDesk never stored. Meanwhile `stored_today` has been here long enough: it leaves,
    // by UID EXPUNGE; the other two stay (a plain EXPUNGE would have removed `theirs`).
    let copy = young.clone();
    d.deliver_dated(USER, None, &copy, ago(200), None);
    let theirs = big("theirs", 4);
    d.deliver_dated(USER, None, &theirs, ago(200), Some("T"));
    stored_days_ago(&app, &mailbox, &stored_today, 200).await;
    let p = pass(&state, &mailbox).await;
    assert!(p.policy_on && p.uidplus, "{p:?}");
    assert_eq!(p.expunged, 1, "{p:?}");
    assert!(
        !on_server(&d, None, &stored_today),
        "now old enough here: left"
    );
    assert!(on_server(&d, None, &copy), "past the mark: stays");
    assert!(on_server(&d, None, &theirs), "never stored: stays");
    assert!(on_server(&d, None, &tampered), "still not matching: stays");
    assert_eq!(copies_of(&app, &mailbox, &theirs).await, 0);
    assert_eq!(expunged_rows(&app, &mailbox).await, 4);
    let runs = audit_runs(&app, &mailbox).await;

    // Running again expunges nothing more.
    let again = pass(&state, &mailbox).await;
    assert_eq!(again.expunged, 0);
    assert_eq!(expunged_rows(&app, &mailbox).await, 4);
    assert_eq!(
        audit_runs(&app, &mailbox).await,
        runs,
        "no entry for a run that removed nothing"
    );
    assert_eq!(
        d.files(USER, None).len(),
        4,
        "young, tampered, copy, theirs"
    );
}

async fn the_policy_is_an_audited_admin_setting(engine: Engine) {
    let app = spawn_app(engine).await;
    let mailbox = app.mailbox_id(demo::LEGALE).await;
    let admin = app.login("admin@demo.test").await;
    let path = format!("/api/v1/mailboxes/{mailbox}");
    let r = app.get(&admin, &path).await;
    assert_eq!(
        r.body["archive"]["expunge_after_days"],
        serde_json::Value::Null
    );
    let r = app
        .patch(
            &admin,
            &path,
            json!({"archive": {"expunge_after_days": 90}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.get(&admin, &path).await.body["archive"]["expunge_after_days"],
        90
    );
    let audited: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'mailbox.update' AND object_id = $1 \
         AND details LIKE '%archive.expunge_after_days%'",
        &mailbox
    );
    assert_eq!(audited, 1);
    for bad in [
        json!({}),
        json!({"expunge_after_days": -3}),
        json!({"days": 3}),
    ] {
        let r = app.patch(&admin, &path, json!({ "archive": bad })).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            r.body
        );
    }
    let r = app
        .patch(
            &admin,
            &path,
            json!({"archive": {"expunge_after_days": null}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["archive"]["expunge_after_days"],
        serde_json::Value::Null
    );
    // Not an administrator: 403.
    let reader = app.login("responsabile@demo.test").await;
    let r = app
        .patch(
            &reader,
            &path,
            json!({"archive": {"expunge_after_days": 5}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn without_uidplus_nothing_is_expunged_and_the_health_says_so(engine: Engine) {
    let app = spawn_app(engine).await;
    let state = state_of(&app).await;
    let mailbox = app.mailbox_id(demo::LEGALE).await;
    let mut d = Dovecot::start(&[(USER, PASSWORD)]);
    d.set_capabilities("IMAP4rev1 SASL-IR LITERAL+ IDLE QUOTA");
    configure(&state, &mailbox, d.port, Security::Plain, PASSWORD).await;
    let base = count_in(&app, &mailbox).await;
    let old = big("no-uidplus", 4);
    d.deliver_dated(USER, None, &old, ago(200), None);
    let pollers = imap::start_with(state.clone(), fast());
    wait_count(&app, &mailbox, base + 1).await;
    pollers.stop().await;
    stored_days_ago(&app, &mailbox, &old, 200).await;
    let admin = app.login("admin@demo.test").await;
    let path = format!("/api/v1/mailboxes/{mailbox}");
    let r = app
        .patch(
            &admin,
            &path,
            json!({"archive": {"expunge_after_days": 30}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let p = pass(&state, &mailbox).await;
    assert!(p.policy_on && !p.uidplus, "{p:?}");
    assert_eq!(p.expunged, 0);
    assert!(
        on_server(&d, None, &old),
        "without UIDPLUS nothing leaves the box"
    );
    assert_eq!(expunged_rows(&app, &mailbox).await, 0);
    let mb = app.get(&admin, &path).await;
    let words = mb.body["health"]["archive"]["unavailable"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        words.contains("UIDPLUS") && words.starts_with("Il server"),
        "{:?}",
        mb.body
    );
}

crate::both_engines!(
    old_stored_messages_leave_the_box_and_nothing_unstored_does,
    the_policy_is_an_audited_admin_setting,
    without_uidplus_nothing_is_expunged_and_the_health_says_so,
);
