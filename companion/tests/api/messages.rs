//! Messages: demo import, idempotent import with raw stored once, take, trash and restore,
//! search.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_engines;
use crate::helpers::{Engine, assert_envelope, spawn_app};

both_engines!(
    demo_messages_are_imported_into_protocollo_with_the_cores_summary,
    import_is_idempotent_and_raw_bytes_are_stored_once,
    taking_a_message_in_charge_records_who_and_happens_once,
    trash_and_restore_never_delete_a_message,
    messages_are_found_by_words,
);

fn demo_files() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("demo dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
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
    let sha = first.body["sha256"].as_str().expect("sha").to_owned();
    let blobs: i64 = crate::scalar!(
        app,
        "SELECT COUNT(*) FROM raw_blobs WHERE sha256 = $1",
        &sha
    );
    assert_eq!(blobs, 1);
    let id = first.body["id"].as_str().expect("id");
    let back = app
        .client
        .get(app.url(&format!("/api/v1/messages/{id}/raw")))
        .bearer_auth(&resp)
        .send()
        .await
        .expect("raw");
    assert_eq!(back.headers()["content-type"], "message/rfc822");
    assert_eq!(back.bytes().await.expect("bytes").to_vec(), raw);
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
