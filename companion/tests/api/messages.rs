//! Messages: demo import, idempotent import with raw stored once, take, trash and restore,
//! search; the import property: hostile text (NUL, lone surrogates, invalid UTF-8) in any
//! header or the body imports, keeps its raw bytes and stores NUL-free text.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    demo_messages_are_imported_into_protocollo_with_the_cores_summary,
    import_is_idempotent_and_raw_bytes_are_stored_once,
    taking_a_message_in_charge_records_who_and_happens_once,
    trash_and_restore_never_delete_a_message,
    messages_are_found_by_words,
    hostile_text_in_a_message_imports_byte_exact_with_nul_free_text,
    a_large_message_is_stored_byte_exact_once_and_idempotent,
);

/// The demo files the seed imports (`demo::MESSAGES`; `serve --demo` adds `demo::MAIL_IN`).
fn demo_files() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("demo dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .filter(|p| {
            let name = p.file_name().expect("name").to_string_lossy();
            pecdesk_companion::demo::MESSAGES
                .iter()
                .any(|(n, _)| *n == name)
        })
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

async fn demo_messages_are_imported_into_protocollo_with_the_cores_summary(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let files = demo_files();
    assert_eq!(files.len(), 5, "demo messages shipped");
    let list = app
        .get(
            &resp,
            &format!("/api/v1/messages?mailbox={protocollo}&limit=200"),
        )
        .await;
    let items = list.body["items"].as_array().expect("items");
    assert_eq!(items.len(), files.len());
    // Each shipped file is stored under its own bytes' SHA-256, with the kind its name says.
    for (name, raw) in &files {
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw));
        let item = items
            .iter()
            .find(|i| i["sha256"] == sha.as_str())
            .unwrap_or_else(|| panic!("{name} imported"));
        let kind = name
            .trim_end_matches(".eml")
            .split_once('-')
            .map(|(_, rest)| rest)
            .expect("NN-kind name");
        assert!(
            kind.starts_with(item["kind"].as_str().expect("kind")),
            "{name}: {item:?}"
        );
        assert_eq!(item["state"], "new");
    }
    // The whole stored summary of the first envelope, as the demo file means it.
    let comune = items
        .iter()
        .find(|i| i["identificativo"] == "demo-0001.20261102093000@pec.demo-provider.test")
        .expect("comune");
    let summary = comune["summary"].as_object().expect("summary");
    let expected = json!({
        "kind": "posta-certificata",
        "receipt_type": "completa",
        "error": "nessuno",
        "identificativo": "demo-0001.20261102093000@pec.demo-provider.test",
        "original_message_id": "20261102093000.client-1@comune-esempio.test",
        "sender": "protocollo@pec.comune-esempio.test",
        "recipients": [{"address": "protocollo@pec.demo.test", "type": "certificato"}],
        "subject": "Richiesta documentazione pratica edilizia n. 42/2026",
        "provider": "PEC Demo S.p.A.",
        "issued_at": "2026-11-02T09:30:00+01:00",
        "recipient": null,
        "has_original": true,
        "has_daticert": true,
        "problems": [],
    });
    for (key, value) in expected.as_object().expect("object") {
        assert_eq!(summary.get(key), Some(value), "summary key {key}");
    }
}

async fn import_is_idempotent_and_raw_bytes_are_stored_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let raw = crate::helpers::fresh_eml("idempotente");
    let first = app
        .post_raw(
            &resp,
            &format!("/api/v1/messages/import?mailbox={protocollo}"),
            raw.clone(),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app
        .post_raw(
            &resp,
            &format!("/api/v1/messages/import?mailbox={protocollo}"),
            raw.clone(),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(first.body["id"], again.body["id"]);
    let other = app
        .post_raw(
            &resp,
            &format!("/api/v1/messages/import?mailbox={legale}"),
            raw.clone(),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_ne!(first.body["id"], other.body["id"]);
    assert_stored_once_byte_exact(&app, &resp, &first.body, &raw).await;
    let empty = app
        .post_raw(
            &resp,
            &format!("/api/v1/messages/import?mailbox={protocollo}"),
            Vec::new(),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_envelope(&empty, "invalid");
}

async fn taking_a_message_in_charge_records_who_and_happens_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let smi = app.login("smistatore@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let m = app.import_fresh(&smi, &protocollo, "presa").await;
    let got = app.get(&smi, &format!("/api/v1/messages/{m}")).await;
    assert_eq!(got.body["state"], "new", "opening is not taking");
    let t = app
        .post(&smi, &format!("/api/v1/messages/{m}/take"), json!({}))
        .await;
    assert_eq!(t.status, StatusCode::OK);
    assert_eq!(t.body["state"], "taken");
    assert_eq!(
        t.body["taken_by"],
        app.user_id("smistatore@demo.test").await.as_str()
    );
    assert!(t.body["taken_at"].is_string());
    let resp = app.login("responsabile@demo.test").await;
    assert_eq!(
        app.post(&resp, &format!("/api/v1/messages/{m}/take"), json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let taken = app
        .get(
            &resp,
            &format!("/api/v1/messages?state=taken&mailbox={protocollo}"),
        )
        .await;
    assert_eq!(taken.body["items"].as_array().map(Vec::len), Some(1));
}

async fn trash_and_restore_never_delete_a_message(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let m = app.import_fresh(&resp, &protocollo, "cestino").await;
    let count_before: i64 = crate::scalar!(app, "SELECT COUNT(*) FROM messages");
    assert_eq!(
        app.post(&resp, &format!("/api/v1/messages/{m}/trash"), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post(&resp, &format!("/api/v1/messages/{m}/trash"), json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let list = app
        .get(
            &resp,
            &format!("/api/v1/messages?mailbox={protocollo}&limit=200"),
        )
        .await;
    assert!(!list.body.to_string().contains(&m));
    let trash = app
        .get(
            &resp,
            &format!("/api/v1/messages?mailbox={protocollo}&trashed=true"),
        )
        .await;
    assert!(trash.body.to_string().contains(&m));
    let still = app.get(&resp, &format!("/api/v1/messages/{m}")).await;
    assert_eq!(still.body["trashed"], true);
    assert_eq!(
        app.post(&resp, &format!("/api/v1/messages/{m}/restore"), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let list = app
        .get(
            &resp,
            &format!("/api/v1/messages?mailbox={protocollo}&limit=200"),
        )
        .await;
    assert!(list.body.to_string().contains(&m));
    let count_after: i64 = crate::scalar!(app, "SELECT COUNT(*) FROM messages");
    assert_eq!(count_before, count_after);
}

async fn messages_are_found_by_words(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let none = app.get(&resp, "/api/v1/messages?q=parolachenonce").await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.body["items"].as_array().map(Vec::len), Some(0));
    // A word of each demo subject finds exactly the demo messages about it.
    for (word, idents) in [
        (
            "edilizia",
            vec!["demo-0001.20261102093000@pec.demo-provider.test"],
        ),
        (
            "Sollecito",
            vec!["demo-0002.20261105141500@pec.demo-provider.test"],
        ),
        (
            "881/2026",
            vec![
                "demo-0101.20261110101500@pec.demo-provider.test",
                "demo-0101.20261110101500@pec.demo-provider.test",
            ],
        ),
        (
            "diffida",
            vec!["demo-0102.20261112160000@pec.demo-provider.test"],
        ),
    ] {
        let found = app
            .get(&resp, &format!("/api/v1/messages?q={}", urlencode(word)))
            .await;
        let got: Vec<&str> = found.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["identificativo"].as_str().expect("identificativo"))
            .collect();
        assert_eq!(got, idents, "{word}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Text a message may carry that databases dislike: NUL (raw, in encoded words), lone
/// surrogates (as WTF-8 bytes, as UTF-16 encoded words, as a JSON-like escape) and invalid
/// UTF-8 (stray bytes, an overlong NUL, Latin-1).
fn hostile() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    prop_oneof![
        Just(b"\x00".to_vec()),
        Just(b"a\x00b".to_vec()),
        Just(b"\xed\xa0\x80".to_vec()),
        Just(b"\xed\xbf\xbf".to_vec()),
        Just(b"\\ud800".to_vec()),
        Just(b"=?utf-16be?b?2AA=?=".to_vec()),
        Just(b"=?utf-8?q?a=00b?=".to_vec()),
        Just(b"=?utf-8?b?AA==?=".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just(b"\xc0\x80".to_vec()),
        Just(b"caff\xe8".to_vec()),
        prop::collection::vec(
            any::<u8>().prop_filter("one header line", |b| *b != b'\r' && *b != b'\n'),
            1..12
        ),
    ]
}

/// One message with hostile text in the Subject, the Message-ID, the sender's name and the
/// body; `tag` keeps each case's bytes (and search word) unique.
fn hostile_eml(tag: &str, subject: &[u8], message_id: &[u8], from: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"From: \"");
    m.extend_from_slice(from);
    m.extend_from_slice(
        b"\" <mittente@esempio.test>\r\nTo: <protocollo@pec.demo.test>\r\nSubject: ",
    );
    m.extend_from_slice(format!("{tag} ").as_bytes());
    m.extend_from_slice(subject);
    m.extend_from_slice(b"\r\nDate: Mon, 02 Nov 2026 10:00:00 +0100\r\nMessage-ID: <");
    m.extend_from_slice(tag.as_bytes());
    m.extend_from_slice(message_id);
    m.extend_from_slice(
        b"@esempio.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n",
    );
    m.extend_from_slice(body);
    m.extend_from_slice(b"\r\n");
    m
}

async fn hostile_text_in_a_message_imports_byte_exact_with_nul_free_text(engine: Engine) {
    use proptest::test_runner::{Config, TestRunner};
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (hostile(), hostile(), hostile(), hostile());
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(subject, message_id, from, body)| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tag = format!("ostile{n}x{}", uuid::Uuid::new_v4().simple());
            let raw = hostile_eml(&tag, &subject, &message_id, &from, &body);
            handle.block_on(async {
                let imported = app
                    .post_raw(
                        &resp,
                        &format!("/api/v1/messages/import?mailbox={protocollo}"),
                        raw.clone(),
                    )
                    .await;
                assert!(
                    imported.status == StatusCode::CREATED || imported.status == StatusCode::OK,
                    "import of {raw:?}: {:?}",
                    imported.body
                );
                let text = imported.body.to_string();
                assert!(
                    !text.contains("\\u0000") && !text.contains('\0'),
                    "NUL in the stored text: {text}"
                );
                let id = imported.body["id"].as_str().expect("id").to_owned();
                let back = app
                    .client
                    .get(app.url(&format!("/api/v1/messages/{id}/raw")))
                    .bearer_auth(&resp)
                    .send()
                    .await
                    .expect("raw");
                assert_eq!(
                    back.bytes().await.expect("bytes").to_vec(),
                    raw,
                    "byte-exact"
                );
                let detail = app.get(&resp, &format!("/api/v1/messages/{id}")).await;
                assert_eq!(detail.status, StatusCode::OK, "{:?}", detail.body);
                assert_eq!(detail.body["subject"], imported.body["subject"]);
                let found = app.get(&resp, &format!("/api/v1/messages?q={tag}")).await;
                assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
                let ids: Vec<&str> = found.body["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .filter_map(|i| i["id"].as_str())
                    .collect();
                // Searchable whenever the parser kept the word (in the Subject or the
                // Message-ID) despite the hostile bytes around it.
                if text.contains(&tag) {
                    assert_eq!(ids, vec![id.as_str()], "found by its word");
                }
            });
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(counter.into_inner() >= 48, "every case ran");
}

/// Messages over `LARGE_BLOB` take the other path (bytes first, on a connection of their
/// own): the same guarantees hold.
async fn a_large_message_is_stored_byte_exact_once_and_idempotent(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let mut raw = crate::helpers::fresh_eml("grande");
    let line = "Allegato di prova: riga lunga di testo ripetuto per superare il mega.\r\n";
    while raw.len() < 3 * 1024 * 1024 {
        raw.extend_from_slice(line.as_bytes());
    }
    let path = format!("/api/v1/messages/import?mailbox={protocollo}");
    let first = app.post_raw(&resp, &path, raw.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let again = app.post_raw(&resp, &path, raw.clone()).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], first.body["id"]);
    let other = app
        .post_raw(
            &resp,
            &format!("/api/v1/messages/import?mailbox={legale}"),
            raw.clone(),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_stored_once_byte_exact(&app, &resp, &first.body, &raw).await;
}

/// The message's bytes are in `raw_blobs` once, and `/raw` gives them back unchanged.
async fn assert_stored_once_byte_exact(
    app: &TestApp,
    token: &str,
    imported: &serde_json::Value,
    raw: &[u8],
) {
    let sha = imported["sha256"].as_str().expect("sha").to_owned();
    let blobs: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM raw_blobs WHERE sha256 = $1",
        &sha
    );
    assert_eq!(blobs, 1);
    let id = imported["id"].as_str().expect("id");
    let back = app
        .client
        .get(app.url(&format!("/api/v1/messages/{id}/raw")))
        .bearer_auth(token)
        .send()
        .await
        .expect("raw");
    assert_eq!(back.headers()["content-type"], "message/rfc822");
    assert_eq!(back.bytes().await.expect("bytes").to_vec(), raw);
}
