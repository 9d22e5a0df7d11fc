//! `GET /api/v1/messages/{id}/export.zip` (issue 15, ThunderPEC's "esporta"): a demo sent
//! message with its acceptance and delivery receipts, their daticert and the summary.

use std::io::Read as _;

use reqwest::StatusCode;

use crate::both_engines;
use crate::helpers::{Engine, spawn_app};

both_engines!(a_sent_message_exports_with_its_receipts_daticert_and_summary);

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

async fn a_sent_message_exports_with_its_receipts_daticert_and_summary(engine: Engine) {
    let app = spawn_app(engine).await;
    // The demo mail in: sent messages reconciled with their receipts.
    let mut settings = pecdesk_companion::Settings::for_data_dir(app.data_dir());
    if let Some(i) = app.db_args().iter().position(|a| a == "--database-url") {
        settings.database_url = Some(app.db_args()[i + 1].clone().into());
    }
    let state = pecdesk_companion::AppState::new(settings, app.store.clone())
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
    let id = sent["id"].as_str().expect("id");

    let resp = app
        .client
        .get(app.url(&format!("/api/v1/messages/{id}/export.zip")))
        .bearer_auth(&rita)
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let zip = resp.bytes().await.expect("body");
    let files = entries(&zip);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();

    // The message, exactly as stored.
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
    assert_eq!(names[0], "messaggio.eml");
    assert_eq!(files[0].1, raw.to_vec());
    // Its receipts, in time order, each with its daticert.
    let detail = app.get(&rita, &format!("/api/v1/messages/{id}")).await.body;
    let receipts = detail["receipts"].as_array().expect("receipts");
    assert!(receipts.len() >= 2, "{detail}");
    assert_eq!(receipts[0]["kind"], "accettazione", "{detail}");
    let consegna = receipts
        .iter()
        .position(|r| r["kind"] == "avvenuta-consegna")
        .expect("a delivery receipt");
    let recipient = receipts[consegna]["recipient"].as_str().expect("recipient");
    for (n, stem) in [
        (0, "receipts/01-accettazione".to_owned()),
        (
            consegna,
            format!("receipts/{:02}-avvenuta-consegna-{recipient}", consegna + 1),
        ),
    ] {
        let eml = format!("{stem}.eml");
        let receipt_raw = app
            .client
            .get(app.url(&format!(
                "/api/v1/messages/{}/raw",
                receipts[n]["id"].as_str().expect("id")
            )))
            .bearer_auth(&rita)
            .send()
            .await
            .expect("raw")
            .bytes()
            .await
            .expect("raw body");
        let (_, bytes) = files
            .iter()
            .find(|(name, _)| *name == eml)
            .unwrap_or_else(|| panic!("{eml} in {names:?}"));
        assert_eq!(bytes, &receipt_raw.to_vec(), "{eml}");
        let xml = format!("{stem}.daticert.xml");
        let (_, daticert) = files
            .iter()
            .find(|(name, _)| *name == xml)
            .unwrap_or_else(|| panic!("{xml} in {names:?}"));
        let text = String::from_utf8_lossy(daticert);
        assert!(text.contains("<postacert"), "{xml}: {text}");
    }
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".eml")).count(),
        1 + receipts.len(),
        "{names:?}"
    );
    // The summary with the delivery.
    let (_, summary) = files
        .iter()
        .find(|(n, _)| n == "riepilogo.json")
        .expect("riepilogo.json");
    let summary: serde_json::Value = serde_json::from_slice(summary).expect("JSON");
    assert_eq!(summary["id"], id);
    assert_eq!(summary["accepted"], true);
    assert_eq!(summary["delivery"][0]["state"], "delivered", "{summary}");
    // The file name: the identificativo, or the id.
    let stem = sent["identificativo"].as_str().unwrap_or(id);
    assert!(
        disposition.contains(&format!("filename=\"pec-{stem}.zip\"")),
        "{disposition}"
    );

    // Readers only; another organisation sees nothing.
    for email in ["esterno@demo.test", "altro@altra.test"] {
        let token = app.login(email).await;
        let a = app
            .get(&token, &format!("/api/v1/messages/{id}/export.zip"))
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{email}");
    }
}
