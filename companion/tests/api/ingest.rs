//! Mail in, the storage side (issue 13): one message per bytes and per PEC identity, a
//! byte-different copy of a PEC kept as a variant, messages that do not parse stored with
//! their problems, racing batches storing once; `pecdesk import` of .eml files, a Maildir
//! and an mbox (summary, rerun, SIGKILL then rerun); presa in carico: viewing changes
//! nothing, worked by hand, undone by a manager, worked when the last activity closes.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use pecdesk_companion::ingest::{self, Incoming, Status};
use pecdesk_core::signature::TrustAnchors;
use reqwest::StatusCode;
use serde_json::json;

use crate::both_engines;
use crate::fixtures::{Submission, envelope, receipt, truncated_envelope};
use crate::helpers::{Engine, TestApp, fresh_eml, spawn_app};

both_engines!(
    the_same_bytes_twice_are_one_message,
    the_same_pec_with_an_extra_header_is_one_message_and_a_variant,
    an_ordinary_mail_with_another_header_is_a_second_message,
    a_truncated_message_is_stored_with_its_problems,
    two_tasks_ingesting_the_same_batch_store_each_message_once,
    identities_of_pecs_stored_before_them_are_backfilled_once,
    import_of_eml_files_a_maildir_and_an_mbox_counts_and_reruns_as_duplicates,
    an_import_killed_mid_run_then_rerun_stores_every_message_exactly_once,
    viewing_a_message_never_changes_its_state,
    worked_by_hand_is_undone_by_a_manager_only_and_audited,
    a_message_is_worked_when_all_its_activities_are_closed,
);

const PROTOCOLLO: &str = "protocollo@pec.demo.test";

fn submission(ident: &str) -> Submission<'_> {
    Submission {
        identificativo: ident,
        msgid: "client-1@mittente.test",
        sender: "mittente@pec.altro.test",
        recipient: PROTOCOLLO,
        subject: "Richiesta di accesso agli atti",
    }
}

fn sha(raw: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw))
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    crate::scalar!(app, sql)
}

async fn import(app: &TestApp, token: &str, mailbox: &str, raw: Vec<u8>) -> (StatusCode, String) {
    let a = app
        .post_raw(
            token,
            &format!("/api/v1/messages/import?mailbox={mailbox}"),
            raw,
        )
        .await;
    (
        a.status,
        a.body["id"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn the_same_bytes_twice_are_one_message(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id(PROTOCOLLO).await;
    let raw = envelope(&submission("opec.twice@pec.test"));
    let (s1, id1) = import(&app, &resp, &mb, raw.clone()).await;
    let (s2, id2) = import(&app, &resp, &mb, raw.clone()).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(id1, id2);
    let n: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE raw_sha256 = $1",
        sha(&raw)
    );
    assert_eq!(n, 1);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM message_variants").await,
        0
    );
    // Stored with its identity and where it came from.
    let (identity, source): (Option<String>, Option<String>) = pecdesk_companion::with_pool!(
        app.store,
        |p| sqlx::query_as("SELECT pec_identity, source FROM messages WHERE id = $1")
            .bind(&id1)
            .fetch_one(p)
            .await
    )
    .expect("row");
    assert_eq!(
        identity.as_deref(),
        Some("posta-certificata|opec.twice@pec.test|unverified")
    );
    assert_eq!(source.as_deref(), Some("api"));
}

async fn the_same_pec_with_an_extra_header_is_one_message_and_a_variant(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id(PROTOCOLLO).await;
    let first = envelope(&submission("opec.variant@pec.test"));
    let mut second = b"X-Archiviato-Da: archivio-locale\r\n".to_vec();
    second.extend_from_slice(&first);
    let (s1, id1) = import(&app, &resp, &mb, first.clone()).await;
    let (s2, id2) = import(&app, &resp, &mb, second.clone()).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(id1, id2, "one PEC, one message");
    let n: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE identificativo = $1",
        "opec.variant@pec.test"
    );
    assert_eq!(n, 1);
    // The copy is a variant of the message, its bytes kept too.
    let v: String = crate::scalar!(
        app,
        "SELECT raw_sha256 FROM message_variants WHERE message_id = $1",
        &id1
    );
    assert_eq!(v, sha(&second));
    for raw in [&first, &second] {
        let n: i64 = crate::scalar!(
            app,
            "SELECT COUNT(*) FROM raw_blobs WHERE sha256 = $1",
            sha(raw)
        );
        assert_eq!(n, 1, "both blobs kept");
    }
    // The message's raw is the first copy, byte for byte.
    let got = app
        .client
        .get(app.url(&format!("/api/v1/messages/{id1}/raw")))
        .bearer_auth(&resp)
        .send()
        .await
        .expect("raw");
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), first.as_slice());
    // The copy is listed and readable, byte for byte; another hash is no variant.
    let listed = app
        .get(&resp, &format!("/api/v1/messages/{id1}/variants"))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(listed.body[0]["sha256"], sha(&second).as_str());
    assert_eq!(listed.body[0]["source"], "api");
    let got = app
        .client
        .get(app.url(&format!(
            "/api/v1/messages/{id1}/variants/{}/raw",
            sha(&second)
        )))
        .bearer_auth(&resp)
        .send()
        .await
        .expect("variant raw");
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(
        got.bytes().await.expect("bytes").as_ref(),
        second.as_slice()
    );
    let other = app
        .get(
            &resp,
            &format!("/api/v1/messages/{id1}/variants/{}/raw", sha(&first)),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let altro = app.login("altro@altra.test").await;
    let hidden = app
        .get(&altro, &format!("/api/v1/messages/{id1}/variants"))
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    // The variant again: a duplicate, nothing new. A delivery receipt of the same
    // submission is another message.
    let (s3, id3) = import(&app, &resp, &mb, second).await;
    assert_eq!((s3, id3.as_str()), (StatusCode::OK, id1.as_str()));
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM message_variants").await,
        1
    );
    let r = receipt(
        "avvenuta-consegna",
        &submission("opec.variant@pec.test"),
        "r1@pec.test",
    );
    let (s4, id4) = import(&app, &resp, &mb, r).await;
    assert_eq!(s4, StatusCode::CREATED);
    assert_ne!(id4, id1);
    let audited: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'message.variant' AND object_id = $1",
        &id1
    );
    assert_eq!(audited, 1);
}

async fn an_ordinary_mail_with_another_header_is_a_second_message(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id(PROTOCOLLO).await;
    let first = fresh_eml("ordinaria");
    let mut second = b"Received: from relay.test\r\n".to_vec();
    second.extend_from_slice(&first);
    let (s1, id1) = import(&app, &resp, &mb, first).await;
    let (s2, id2) = import(&app, &resp, &mb, second).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_ne!(id1, id2, "no identity to trust: two messages");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM message_variants").await,
        0
    );
}

async fn a_truncated_message_is_stored_with_its_problems(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id(PROTOCOLLO).await;
    let raw = truncated_envelope(&submission("opec.cut@pec.test"));
    let (s, id) = import(&app, &resp, &mb, raw.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let got = app.get(&resp, &format!("/api/v1/messages/{id}")).await;
    let problems = got.body["summary"]["problems"]
        .as_array()
        .expect("problems");
    assert!(!problems.is_empty(), "{:?}", got.body["summary"]);
    let stored: Vec<u8> = crate::scalar!(
        app,
        "SELECT bytes FROM raw_blobs WHERE sha256 = $1",
        sha(&raw)
    );
    assert_eq!(stored, raw, "kept byte for byte");
}

async fn two_tasks_ingesting_the_same_batch_store_each_message_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let mb = app.mailbox_id(PROTOCOLLO).await;
    let org: String = crate::scalar!(app, "SELECT org_id FROM mailboxes WHERE id = $1", &mb);
    let trust = Arc::new(TrustAnchors::default());
    let idents: Vec<String> = (0..12).map(|i| format!("opec.race{i}@pec.test")).collect();
    let mut raws: Vec<Vec<u8>> = idents.iter().map(|i| envelope(&submission(i))).collect();
    raws.push(fresh_eml("gara"));
    // Copy two PECs with an extra header: variants, whichever task stores them.
    for i in [0, 5] {
        let mut v = b"X-Copia: si\r\n".to_vec();
        v.extend_from_slice(&raws[i]);
        raws.push(v);
    }
    let batch = |raws: &[Vec<u8>]| -> Vec<Incoming> {
        raws.iter()
            .map(|r| Incoming {
                raw: r.clone(),
                source: "imap:INBOX".into(),
                direction: None,
            })
            .collect()
    };
    let run = |b: Vec<Incoming>| {
        let store = app.store.clone();
        let (trust, org, mb) = (Arc::clone(&trust), org.clone(), mb.clone());
        tokio::spawn(async move {
            ingest::ingest_batch(&store, &trust, None, &org, &mb, b)
                .await
                .expect("batch")
        })
    };
    let (a, b) = (run(batch(&raws)), run(batch(&raws)));
    let (a, b) = (a.await.expect("task a"), b.await.expect("task b"));
    let mut created = 0;
    for (x, y) in a.iter().zip(&b) {
        let (x, y) = (x.as_ref().expect("stored"), y.as_ref().expect("stored"));
        assert_eq!(
            x.message_id, y.message_id,
            "both tasks name the same message"
        );
        created +=
            usize::from(x.status == Status::Created) + usize::from(y.status == Status::Created);
    }
    assert_eq!(created, 13, "each message created by exactly one task");
    let mb_count: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1 AND source = 'imap:INBOX'",
        &mb
    );
    assert_eq!(mb_count, 13);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM message_variants").await,
        2
    );
    // The steps after storage mark them processed.
    ingest::process_pending(&app.store).await.expect("process");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM messages WHERE processed_at IS NULL"
        )
        .await,
        0
    );
}

async fn identities_of_pecs_stored_before_them_are_backfilled_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id(PROTOCOLLO).await;
    let first = envelope(&submission("opec.old@pec.test"));
    let (_, id1) = import(&app, &resp, &mb, first.clone()).await;
    // As before migration 0008: no identity (nor source), so a copy with a header more
    // became a second message.
    let forget = |id: String| {
        let store = app.store.clone();
        async move {
            pecdesk_companion::with_pool!(store, |p| sqlx::query(
                "UPDATE messages SET pec_identity = NULL, source = NULL WHERE id = $1"
            )
            .bind(&id)
            .execute(p)
            .await
            .map(|_| ()))
            .expect("update");
        }
    };
    forget(id1.clone()).await;
    let mut copy = b"X-Vecchia-Copia: 1\r\n".to_vec();
    copy.extend_from_slice(&first);
    let (s2, id2) = import(&app, &resp, &mb, copy).await;
    assert_eq!(s2, StatusCode::CREATED);
    forget(id2.clone()).await;

    let set = ingest::backfill_identities(&app.store)
        .await
        .expect("backfill");
    assert!(set >= 1, "{set}");
    let identity = |id: String| {
        let store = app.store.clone();
        async move {
            let v: Option<String> = pecdesk_companion::with_pool!(store, |p| sqlx::query_scalar(
                "SELECT pec_identity FROM messages WHERE id = $1"
            )
            .bind(&id)
            .fetch_one(p)
            .await)
            .expect("select");
            v
        }
    };
    assert_eq!(
        identity(id1.clone()).await.as_deref(),
        Some("posta-certificata|opec.old@pec.test|unverified"),
        "the first stored keeps the identity"
    );
    assert_eq!(
        identity(id2.clone()).await,
        None,
        "the old second copy stays apart"
    );
    // A second pass changes nothing.
    assert_eq!(
        ingest::backfill_identities(&app.store)
            .await
            .expect("again"),
        0
    );
}

// ---- pecdesk import ------------------------------------------------------------------

fn pecdesk_import(app: &TestApp, extra: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pecdesk"));
    c.arg("import")
        .arg("--mailbox")
        .arg(PROTOCOLLO)
        .args(app.db_args())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run_import(app: &TestApp, extra: &[String]) -> Output {
    pecdesk_import(app, extra)
        .output()
        .expect("pecdesk import runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `n` distinct messages: envelopes and delivery receipts with varied identificativo.
fn messages(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let ident = format!("opec.{prefix}{i}@pec.test");
            if i % 2 == 0 {
                envelope(&submission(&ident))
            } else {
                receipt(
                    "avvenuta-consegna",
                    &submission(&ident),
                    &format!("r.{prefix}{i}@pec.test"),
                )
            }
        })
        .collect()
}

fn write_maildir(dir: &Path, msgs: &[Vec<u8>]) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("maildir");
    }
    // The server's own files beside the messages are not messages.
    std::fs::write(dir.join("dovecot-uidlist"), "3 V1 N1\n").expect("uidlist");
    for (i, m) in msgs.iter().enumerate() {
        let sub = if i % 3 == 0 { "new" } else { "cur" };
        std::fs::write(dir.join(sub).join(format!("{i}.host:2,S")), m).expect("write");
    }
}

/// An mboxrd: `From ` lines escaped, one empty line between messages.
fn mbox(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        out.extend_from_slice(b"From MAILER-DAEMON Mon Nov 30 10:00:00 2026\n");
        for line in m.split_inclusive(|&b| b == b'\n') {
            let q = line.iter().take_while(|&&b| b == b'>').count();
            if line[q..].starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        out.extend_from_slice(b"\n");
    }
    out
}

async fn import_of_eml_files_a_maildir_and_an_mbox_counts_and_reruns_as_duplicates(engine: Engine) {
    let app = spawn_app(engine).await;
    let dir = tempfile::tempdir().expect("tmp");
    let emls = dir.path().join("eml");
    std::fs::create_dir_all(&emls).expect("dir");
    for (i, m) in messages("eml", 4).iter().enumerate() {
        std::fs::write(emls.join(format!("{i}.eml")), m).expect("eml");
    }
    std::fs::write(emls.join("note.txt"), "not a message").expect("txt");
    std::fs::write(emls.join("empty.eml"), "").expect("empty");
    let maildir = dir.path().join("Maildir");
    write_maildir(&maildir, &messages("md", 5));
    // A Maildir++ subfolder with one more message.
    write_maildir(&maildir.join(".Sent"), &messages("sent", 1));
    // An mbox whose second message has a body line starting with "From ".
    let mut in_mbox = messages("mbox", 3);
    in_mbox.push(
        b"From: <a@b.test>\nSubject: x\nMessage-ID: <mbox-from@b.test>\n\ntesto\nFrom here\n"
            .to_vec(),
    );
    let mbox_path = dir.path().join("archivio.mbox");
    std::fs::write(&mbox_path, mbox(&in_mbox)).expect("mbox");
    let before = count(&app, "SELECT COUNT(*) FROM messages").await;

    let paths = vec![
        emls.display().to_string(),
        maildir.display().to_string(),
        mbox_path.display().to_string(),
    ];
    let out = run_import(&app, &paths);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "the empty file failed: {t}");
    assert!(
        t.contains("importati / imported 14, duplicati / duplicates 0, varianti / variants 0, falliti / failed 1"),
        "{t}"
    );
    assert!(t.contains("empty.eml: vuoto / empty"), "{t}");
    assert!(t.contains("skipped (neither .eml nor mbox): 1"), "{t}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM messages").await,
        before + 14
    );
    // The mbox message came back unescaped, byte for byte.
    let n: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE raw_sha256 = $1 AND source = 'import'",
        sha(&in_mbox[3])
    );
    assert_eq!(n, 1, "{t}");
    // Imported messages are processed (reconciled, routed) by the import itself.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM messages WHERE processed_at IS NULL"
        )
        .await,
        0
    );

    std::fs::remove_file(emls.join("empty.eml")).expect("rm");
    let again = run_import(&app, &paths);
    let t = text(&again);
    assert_eq!(again.status.code(), Some(0), "{t}");
    assert!(
        t.contains("importati / imported 0, duplicati / duplicates 14, varianti / variants 0, falliti / failed 0"),
        "{t}"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM messages").await,
        before + 14
    );

    // A mailbox that does not exist: exit 2, one clear line.
    let mut c = Command::new(env!("CARGO_BIN_EXE_pecdesk"));
    let none = c
        .args(["import", "--mailbox", "nessuna@pec.test"])
        .args(app.db_args())
        .arg(&paths[0])
        .output()
        .expect("runs");
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none).contains("mailbox nessuna@pec.test not found"));

    // SQLite: while a server holds the data directory, the import refuses to start.
    if engine == Engine::Sqlite {
        let data_dir = &app.db_args()[1];
        let lock = pecdesk_companion::lock::DataDirLock::acquire(Path::new(data_dir))
            .expect("lock as a server would");
        let refused = run_import(&app, &paths);
        assert_eq!(refused.status.code(), Some(2));
        let t = text(&refused);
        assert!(t.contains("while the server runs"), "{t}");
        drop(lock);
    }
}

async fn an_import_killed_mid_run_then_rerun_stores_every_message_exactly_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let dir = tempfile::tempdir().expect("tmp");
    let maildir = dir.path().join("Maildir");
    const N: usize = 1500;
    let msgs = messages("kill", N);
    write_maildir(&maildir, &msgs);
    let before = count(&app, "SELECT COUNT(*) FROM messages").await;
    let args = vec![
        "--batch".to_owned(),
        "20".to_owned(),
        maildir.display().to_string(),
    ];
    let mut child = pecdesk_import(&app, &args).spawn().expect("starts");
    // Killed once some batches are committed and before the end.
    let mut killed_at = None;
    for _ in 0..2000 {
        let n = count(&app, "SELECT COUNT(*) FROM messages").await - before;
        if n > 0 {
            killed_at = Some(n);
            break;
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let killed_at = killed_at.expect("some batches committed before the kill");
    let after_kill = count(&app, "SELECT COUNT(*) FROM messages").await - before;
    assert!(
        after_kill < N as i64,
        "killed mid-run ({killed_at} then {after_kill} of {N})"
    );
    assert_eq!(after_kill % 20, 0, "whole batches only: {after_kill}");

    let again = run_import(&app, &args);
    let t = text(&again);
    assert_eq!(again.status.code(), Some(0), "{t}");
    assert!(
        t.contains(&format!(
            "importati / imported {}, duplicati / duplicates {after_kill},",
            N as i64 - after_kill
        )),
        "{t}"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM messages").await - before,
        N as i64
    );
    let distinct: i64 = count(
        &app,
        "SELECT COUNT(DISTINCT raw_sha256) FROM messages WHERE source = 'import'",
    )
    .await;
    assert_eq!(distinct, N as i64, "every message exactly once");
}

// ---- presa in carico and states --------------------------------------------------------

async fn state(app: &TestApp, id: &str) -> String {
    crate::scalar!(app, "SELECT state FROM messages WHERE id = $1", id)
}

async fn viewing_a_message_never_changes_its_state(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id(PROTOCOLLO).await;
    let m = app.import_fresh(&resp, &mb, "vista").await;
    for path in [
        format!("/api/v1/messages/{m}"),
        format!("/api/v1/messages/{m}/raw"),
        format!("/api/v1/messages?mailbox={mb}"),
        "/api/v1/messages/lookup?message_id=vista@esempio.test".to_owned(),
    ] {
        let a = app.get(&resp, &path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
    }
    assert_eq!(state(&app, &m).await, "new");
    let taken_by: Option<String> =
        crate::scalar!(app, "SELECT taken_by FROM messages WHERE id = $1", &m);
    assert_eq!(taken_by, None);
}

async fn worked_by_hand_is_undone_by_a_manager_only_and_audited(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let smi = app.login("smistatore@demo.test").await;
    let ass = app.login("assegnatario@demo.test").await;
    let mb = app.mailbox_id(PROTOCOLLO).await;
    let m = app.import_fresh(&resp, &mb, "lavorato").await;
    let smi_id = app.user_id("smistatore@demo.test").await;

    // An assignee without MAIL_ACCOUNT_MANAGER cannot.
    let refused = app
        .post(&ass, &format!("/api/v1/messages/{m}/worked"), json!({}))
        .await;
    assert!(
        matches!(
            refused.status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ),
        "{:?}",
        refused.body
    );
    let w = app
        .post(&smi, &format!("/api/v1/messages/{m}/worked"), json!({}))
        .await;
    assert_eq!(w.status, StatusCode::OK, "{:?}", w.body);
    assert_eq!(w.body["state"], "worked");
    assert_eq!(w.body["worked_by"], smi_id.as_str());
    assert!(w.body["worked_at"].is_string());
    let twice = app
        .post(&smi, &format!("/api/v1/messages/{m}/worked"), json!({}))
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // Undo needs both manager policies (Responsabile; the Smistatore holds them too): the
    // assignee has neither.
    let no = app
        .post(&ass, &format!("/api/v1/messages/{m}/unworked"), json!({}))
        .await;
    assert!(
        matches!(no.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{:?}",
        no.body
    );
    assert_eq!(state(&app, &m).await, "worked");
    let u = app
        .post(&resp, &format!("/api/v1/messages/{m}/unworked"), json!({}))
        .await;
    assert_eq!(u.status, StatusCode::OK, "{:?}", u.body);
    assert_eq!(u.body["state"], "new", "nobody had taken it");
    assert_eq!(u.body["worked_by"], serde_json::Value::Null);
    let again = app
        .post(&resp, &format!("/api/v1/messages/{m}/unworked"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // Taken, worked, undone: back to taken.
    app.post(&smi, &format!("/api/v1/messages/{m}/take"), json!({}))
        .await;
    app.post(&smi, &format!("/api/v1/messages/{m}/worked"), json!({}))
        .await;
    let u = app
        .post(&resp, &format!("/api/v1/messages/{m}/unworked"), json!({}))
        .await;
    assert_eq!(u.body["state"], "taken");

    let worked: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'message.worked' AND object_id = $1",
        &m
    );
    let unworked: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'message.unworked' AND object_id = $1",
        &m
    );
    assert_eq!((worked, unworked), (2, 2));
    // Another organisation's user sees nothing.
    let altro = app.login("altro@altra.test").await;
    let hidden = app
        .post(&altro, &format!("/api/v1/messages/{m}/worked"), json!({}))
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

async fn a_message_is_worked_when_all_its_activities_are_closed(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id(PROTOCOLLO).await;
    let m = app.import_fresh(&resp, &mb, "automatico").await;
    let (a1, v1) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": mb, "title": "Prima", "message_ids": [m]}),
        )
        .await;
    let (a2, v2) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": mb, "title": "Seconda", "message_ids": [m]}),
        )
        .await;
    let moved = app
        .post(
            &resp,
            &format!("/api/v1/activities/{a1}/transitions"),
            json!({"to": "in_progress", "version": v1}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let v1 = moved.body["version"].as_i64().expect("version");
    let done = app
        .post(
            &resp,
            &format!("/api/v1/activities/{a1}/transitions"),
            json!({"to": "done", "version": v1}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_ne!(
        state(&app, &m).await,
        "worked",
        "the second activity is open"
    );
    let cancelled = app
        .post(
            &resp,
            &format!("/api/v1/activities/{a2}/transitions"),
            json!({"to": "cancelled", "version": v2}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(state(&app, &m).await, "worked");
    let auto: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'message.worked' AND object_id = $1",
        &m
    );
    assert_eq!(auto, 1);
    let details: String = crate::scalar!(
        app,
        "SELECT details FROM audit_log WHERE action = 'message.worked' AND object_id = $1",
        &m
    );
    let details: serde_json::Value = serde_json::from_str(&details).expect("json");
    assert_eq!(details["auto"], true);
    assert_eq!(details["activity_id"], a2.as_str());
}
