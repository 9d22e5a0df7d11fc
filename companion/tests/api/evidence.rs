//! Evidence packs (issue 16 item 5): `GET .../evidence.zip` for a message, an activity and a
//! mailbox's range; `pecdesk archive verify` offline. The pack round-trips; one flipped byte
//! in ANY file is caught and that file named; an altered audit entry is caught even when the
//! pack is re-sealed with another key; other organisations get 404.

use std::io::{Read as _, Write as _};

use pecdesk_companion::auth::secrets::MasterKey;
use pecdesk_companion::checkpoint::Signer;
use pecdesk_companion::evidence::verify::verify_pack;
use pecdesk_companion::evidence::{self, AuditSegment, PackFile, PackMeta};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_engines;
use crate::helpers::{Engine, Opts, TestApp, spawn_app_configured};

both_engines!(evidence_packs_round_trip_and_every_altered_file_is_named);

fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a ZIP");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).expect("entry");
            let mut b = Vec::new();
            f.read_to_end(&mut b).expect("read entry");
            (f.name().expect("name").into_owned(), b)
        })
        .collect()
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(bytes).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

async fn download(app: &TestApp, token: &str, path: &str) -> (StatusCode, Vec<u8>) {
    let resp = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.bytes().await.expect("body").to_vec())
}

fn verify_cli(pack: &[u8], dir: &std::path::Path) -> (bool, String) {
    let path = dir.join("pack.zip");
    std::fs::write(&path, pack).expect("write pack");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .args(["archive", "verify"])
        .arg(&path)
        .output()
        .expect("run pecdesk archive verify");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn evidence_packs_round_trip_and_every_altered_file_is_named(engine: Engine) {
    let cp_dir = tempfile::tempdir().expect("dir");
    let cp_path = cp_dir.path().join("checkpoints.jsonl");
    let cp_for_settings = cp_path.clone();
    let app = spawn_app_configured(engine, Opts::default(), move |s| {
        s.audit.checkpoint_path = Some(cp_for_settings);
    })
    .await;
    let mut settings = pecdesk_companion::Settings::for_data_dir(app.data_dir());
    if let Some(i) = app.db_args().iter().position(|a| a == "--database-url") {
        settings.database_url = Some(app.db_args()[i + 1].clone().into());
    }
    let state = pecdesk_companion::AppState::new(settings.clone(), app.store.clone())
        .await
        .expect("state");
    pecdesk_companion::demo::seed_mail_in(&app.store, state.trust())
        .await
        .expect("demo mail in");
    let rita = app.login("responsabile@demo.test").await;
    let list = app
        .get(&rita, "/api/v1/messages?receipts=hide&limit=200")
        .await;
    let sent = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["subject"] == "Trasmissione atti richiesti prot. 881/2026")
        .expect("the demo sent message")
        .clone();
    let id = sent["id"].as_str().expect("id").to_owned();
    let detail = app.get(&rita, &format!("/api/v1/messages/{id}")).await.body;
    let mailbox = detail["mailbox_id"].as_str().expect("mailbox").to_owned();
    let receipts = detail["receipts"].as_array().expect("receipts").len();
    assert!(receipts >= 2, "{detail}");
    // A signed checkpoint outside the database, as `serve` writes them.
    let signer = Signer::from_master(
        &pecdesk_companion::auth::tokens::master_key(&settings).expect("master key"),
    );
    let cps = pecdesk_companion::checkpoint::take(&app.store, &signer)
        .await
        .expect("checkpoint");
    pecdesk_companion::checkpoint::append(&cp_path, &cps).expect("append checkpoint");

    // The message's pack.
    let (status, pack) =
        download(&app, &rita, &format!("/api/v1/messages/{id}/evidence.zip")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&pack));
    let report = verify_pack(std::io::Cursor::new(&pack), Some(&signer.public_key()));
    assert!(report.ok(), "{:?}", report.problems);
    let files = entries(&pack);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for wanted in [
        "IdC.xml",
        "IdC.firma.json",
        "manifest-sha256.txt",
        "pacchetto.json",
        "registro/registro-audit.json",
    ] {
        assert!(names.contains(&wanted), "{wanted} in {names:?}");
    }
    let raw = app
        .client
        .get(app.url(&format!("/api/v1/messages/{id}/raw")))
        .bearer_auth(&rita)
        .send()
        .await
        .expect("raw")
        .bytes()
        .await
        .expect("raw body");
    let (_, eml) = files
        .iter()
        .find(|(n, _)| n.starts_with("messaggi/0001-") && n.ends_with("/messaggio.eml"))
        .unwrap_or_else(|| panic!("messaggio.eml in {names:?}"));
    assert_eq!(eml, &raw.to_vec());
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".eml")).count(),
        1 + receipts,
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("accettazione.daticert.xml")),
        "{names:?}"
    );
    let summary = files
        .iter()
        .find(|(n, _)| n.ends_with("/riepilogo.json"))
        .map(|(_, b)| serde_json::from_slice::<serde_json::Value>(b).expect("JSON"))
        .expect("riepilogo.json");
    assert!(summary.get("signature").is_some(), "{summary}");
    let index = String::from_utf8(files[0].1.clone()).expect("UTF-8");
    assert!(
        index.contains(r#"<PIndex xmlns="http://www.uni.com/U3011/sincro-v2/""#),
        "{index}"
    );
    // The audit segment: the import of the message with its content, the export itself,
    // and the checkpoint.
    let segment: AuditSegment = serde_json::from_slice(
        &files
            .iter()
            .find(|(n, _)| n == "registro/registro-audit.json")
            .expect("segment")
            .1,
    )
    .expect("segment JSON");
    let shown: Vec<_> = segment
        .entries
        .iter()
        .filter_map(|e| e.entry.as_ref())
        .collect();
    assert!(
        shown
            .iter()
            .any(|e| e.action == "message.import" && e.object_id == id),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.action == "evidence.export" && e.object_id == id),
        "{shown:?}"
    );
    assert!(segment.checkpoint.is_some(), "the checkpoint rides along");
    assert_eq!(segment.entries.last().expect("last").seq, segment.head.seq);

    // The command line accepts it, offline.
    let dir = tempfile::tempdir().expect("dir");
    let (ok, out) = verify_cli(&pack, dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("pacchetto integro / pack intact"), "{out}");

    // One flipped byte in ANY file: verify fails and names that file.
    for (n, (name, bytes)) in files.iter().enumerate() {
        let mut altered = files.clone();
        let mut b = bytes.clone();
        let at = b.len() / 2;
        b[at] ^= 0x01;
        altered[n] = (name.clone(), b);
        let report = verify_pack(std::io::Cursor::new(zip_of(&altered)), None);
        assert!(!report.ok(), "{name} flipped: still verifies");
        assert_eq!(
            report.problems[0].file, *name,
            "{name} flipped: {:?}",
            report.problems
        );
    }
    let mut altered = files.clone();
    let last = altered.len() - 1;
    altered[last].1[0] ^= 0x01;
    let (ok, out) = verify_cli(&zip_of(&altered), dir.path());
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "first file that no longer matches: {}",
            altered[last].0
        )),
        "{out}"
    );

    // An altered audit entry, the pack re-sealed by someone with another key: the chain
    // still catches it (and the pinned key refuses the seal).
    let mut forged: AuditSegment = segment.clone();
    let victim = forged
        .entries
        .iter_mut()
        .find(|e| e.entry.is_some())
        .expect("an entry with content");
    let victim_seq = victim.seq;
    if let Some(c) = victim.entry.as_mut() {
        c.details = json!({"mailbox_id": "altro"}).to_string();
    }
    let meta: PackMeta = serde_json::from_slice(
        &files
            .iter()
            .find(|(n, _)| n == "pacchetto.json")
            .expect("meta")
            .1,
    )
    .expect("meta JSON");
    let content: Vec<PackFile> = files
        .iter()
        .filter(|(n, _)| {
            ![
                "IdC.xml",
                "IdC.firma.json",
                "manifest-sha256.txt",
                "pacchetto.json",
            ]
            .contains(&n.as_str())
        })
        .map(|(n, b)| PackFile {
            path: n.clone(),
            bytes: if n == "registro/registro-audit.json" {
                serde_json::to_vec_pretty(&forged).expect("JSON")
            } else {
                b.clone()
            },
            group: "x".into(),
        })
        .collect();
    let forger = Signer::from_master(&MasterKey::from_bytes([9; 32]));
    let resealed = evidence::seal(&meta, content, &forger).expect("seal");
    let report = verify_pack(std::io::Cursor::new(&resealed), None);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].file, "registro/registro-audit.json");
    assert!(
        report.problems[0]
            .reason
            .contains(&format!("entry {victim_seq}")),
        "{:?}",
        report.problems
    );
    let pinned = verify_pack(std::io::Cursor::new(&resealed), Some(&signer.public_key()));
    assert_eq!(
        pinned.problems[0].file, "IdC.firma.json",
        "{:?}",
        pinned.problems
    );

    // An activity's pack: its detail, its message with receipts, its entries.
    let (activity, _) = app
        .create_activity(
            &rita,
            json!({"mailbox_id": mailbox, "title": "Fascicolo", "message_ids": [id]}),
        )
        .await;
    let (status, pack) = download(
        &app,
        &rita,
        &format!("/api/v1/activities/{activity}/evidence.zip"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&pack));
    assert!(verify_pack(std::io::Cursor::new(&pack), None).ok());
    let files = entries(&pack);
    assert!(
        files
            .iter()
            .any(|(n, _)| *n == format!("attivita/{activity}.json")),
        "activity detail"
    );
    let segment: AuditSegment = serde_json::from_slice(
        &files
            .iter()
            .find(|(n, _)| n == "registro/registro-audit.json")
            .expect("segment")
            .1,
    )
    .expect("segment JSON");
    assert!(
        segment
            .entries
            .iter()
            .filter_map(|e| e.entry.as_ref())
            .any(|e| e.action == "activity.create" && e.object_id == activity),
        "activity.create shown"
    );

    // A mailbox's range: every message of the mailbox in it, once.
    let (status, pack) = download(
        &app,
        &rita,
        &format!("/api/v1/mailboxes/{mailbox}/evidence.zip?from=2000-01-01&to=2100-12-31"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&pack));
    assert!(verify_pack(std::io::Cursor::new(&pack), None).ok());
    let meta: PackMeta = serde_json::from_slice(
        &entries(&pack)
            .into_iter()
            .find(|(n, _)| n == "pacchetto.json")
            .expect("meta")
            .1,
    )
    .expect("meta JSON");
    let in_mailbox: i64 = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1"
    )
    .bind(&mailbox)
    .fetch_one(p)
    .await)
    .expect("count");
    assert_eq!(meta.messages as i64, in_mailbox);
    let (status, _) = download(
        &app,
        &rita,
        &format!("/api/v1/mailboxes/{mailbox}/evidence.zip?from=2030-01-01&to=2020-01-01"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Every export is in the audit log.
    let exports: i64 = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'evidence.export'"
    )
    .fetch_one(p)
    .await)
    .expect("count");
    assert_eq!(exports, 3);

    // The auditor may; an Assegnatario may not (403); other organisations and people with
    // no policy on the mailbox get 404.
    let admin = app.login("admin@demo.test").await;
    let (status, _) = download(&app, &admin, &format!("/api/v1/messages/{id}/evidence.zip")).await;
    assert_eq!(status, StatusCode::OK);
    let aldo = app.login("assegnatario@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let (status, _) = download(
        &app,
        &aldo,
        &format!("/api/v1/mailboxes/{protocollo}/evidence.zip?from=2000-01-01&to=2100-01-01"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an Assegnatario is no manager"
    );
    for email in ["esterno@demo.test", "altro@altra.test"] {
        let token = app.login(email).await;
        for path in [
            format!("/api/v1/messages/{id}/evidence.zip"),
            format!("/api/v1/activities/{activity}/evidence.zip"),
            format!("/api/v1/mailboxes/{mailbox}/evidence.zip?from=2000-01-01&to=2100-01-01"),
        ] {
            let (status, _) = download(&app, &token, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{email} {path}");
        }
    }
}
