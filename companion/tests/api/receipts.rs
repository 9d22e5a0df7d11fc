//! Receipt reconciliation (issue 13 item 4): a sent message and its receipts, imported in
//! any order, end with the same per-recipient delivery; the fallback to identificativo;
//! receipts waiting for their sent message; idempotent reprocessing; the list's receipt
//! filter; nothing crosses organisations.

use pecdesk_companion::domain::reconcile;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::fixtures::{self, ReceiptSpec};
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};
use crate::scalar;

both_engines!(
    a_sent_message_and_its_receipts_end_reconciled_per_recipient_in_any_order,
    a_receipt_without_msgid_finds_its_sent_message_through_the_accettazione,
    receipts_of_an_unknown_sent_message_wait_grouped_and_attach_when_it_arrives,
    reprocessing_changes_nothing,
    receipts_are_hidden_by_the_filter_and_never_listed_as_new,
    another_orgs_receipt_never_links_to_our_sent_message,
);

pub(crate) const SENDER: &str = "protocollo@pec.demo.test";
pub(crate) const TO1: &str = "uno@pec.uno-esempio.test";
pub(crate) const TO2: &str = "due@pec.due-esempio.test";
pub(crate) const CC: &str = "tre@pec.tre-esempio.test";
const ALL: &[&str] = &[TO1, TO2, CC];
pub(crate) const NO_MAILBOX: &str = "casella del destinatario inesistente (5.1.1)";

fn msgid(n: usize) -> String {
    format!("20261116111958.client-{n}@demo.test")
}

fn ident(n: usize) -> String {
    format!("opec{n}.20261116112000.4242.1.1@pec.prova-gestore.test")
}

/// Imports `raw` into `mailbox`, then runs the steps after storage on it (as ingestion
/// does): `process_pending`, and reconciliation of this one message.
async fn arrive(app: &TestApp, token: &str, mailbox: &str, raw: Vec<u8>) -> String {
    let a = app
        .post_raw(
            token,
            &format!("/api/v1/messages/import?mailbox={mailbox}"),
            raw,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "import: {:?}", a.body);
    let id = a.body["id"].as_str().expect("id").to_owned();
    let org: String = scalar!(app, "SELECT org_id FROM messages WHERE id = $1", &id);
    pecdesk_companion::ingest::process_pending(&app.store)
        .await
        .expect("process_pending");
    reconcile::process(&app.store, &org, std::slice::from_ref(&id))
        .await
        .expect("reconcile");
    id
}

/// The six messages of submission `n`: the sent message (To ×2, Cc ×1), its accettazione,
/// two avvenute consegne (To completa, Cc sintetica), a preavviso then an errore-consegna
/// with errore-esteso for the second To. Labels: sent, acc, c1, c3, pre, err.
/// The sent message of submission `n` and its five receipts, labelled.
pub(crate) fn story(n: usize) -> Vec<(&'static str, Vec<u8>)> {
    let (m, i) = (msgid(n), ident(n));
    let own = |what: &str| format!("{what}-{n}@pec.prova-gestore.test");
    let (o_acc, o_c1, o_c3, o_pre, o_err) = (
        own("acc"),
        own("cons1"),
        own("cons3"),
        own("pre"),
        own("err"),
    );
    let acc = ReceiptSpec::accettazione(&i, &m, SENDER, ALL, &o_acc);
    let c1 = acc.about("avvenuta-consegna", TO1, "16/11/2026", "11:20:05", &o_c1);
    let c3 = ReceiptSpec {
        ricevuta: Some("sintetica"),
        ..acc.about("avvenuta-consegna", CC, "16/11/2026", "11:20:07", &o_c3)
    };
    let pre = acc.about(
        "preavviso-errore-consegna",
        TO2,
        "16/11/2026",
        "23:20:00",
        &o_pre,
    );
    let err = ReceiptSpec {
        errore_esteso: Some(NO_MAILBOX),
        ..acc.about("errore-consegna", TO2, "17/11/2026", "11:20:00", &o_err)
    };
    vec![
        (
            "sent",
            fixtures::sent_message(SENDER, &[TO1, TO2], &[CC], &m, "Trasmissione atti"),
        ),
        ("acc", fixtures::receipt_of(&acc)),
        ("c1", fixtures::receipt_of(&c1)),
        ("c3", fixtures::receipt_of(&c3)),
        ("pre", fixtures::receipt_of(&pre)),
        ("err", fixtures::receipt_of(&err)),
    ]
}

/// Imports submission `n` in the order of `labels`; returns label → id.
async fn deliver(
    app: &TestApp,
    token: &str,
    mailbox: &str,
    n: usize,
    labels: &[&str],
) -> std::collections::HashMap<&'static str, String> {
    let mut all = story(n);
    let mut ids = std::collections::HashMap::new();
    for want in labels {
        let at = all.iter().position(|(l, _)| l == want).expect("label");
        let (label, raw) = all.remove(at);
        ids.insert(label, arrive(app, token, mailbox, raw).await);
    }
    ids
}

async fn detail(app: &TestApp, token: &str, id: &str) -> Value {
    let a = app.get(token, &format!("/api/v1/messages/{id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

/// The expected delivery of a complete story.
fn expected_delivery(ids: &std::collections::HashMap<&'static str, String>) -> Value {
    json!([
        {"recipient": TO1, "field": "to", "state": "delivered", "receipt_type": "completa",
         "error": null, "reason": null, "receipt_id": ids["c1"],
         "at": "2026-11-16T11:20:05+01:00"},
        {"recipient": TO2, "field": "to", "state": "failed", "receipt_type": null,
         "error": "no-dest", "reason": NO_MAILBOX, "receipt_id": ids["err"],
         "at": "2026-11-17T11:20:00+01:00"},
        {"recipient": CC, "field": "cc", "state": "delivered", "receipt_type": "sintetica",
         "error": null, "reason": null, "receipt_id": ids["c3"],
         "at": "2026-11-16T11:20:07+01:00"},
    ])
}

async fn a_sent_message_and_its_receipts_end_reconciled_per_recipient_in_any_order(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id(SENDER).await;
    let orders: [&[&str]; 4] = [
        // Sent message last.
        &["acc", "c1", "c3", "pre", "err", "sent"],
        // Sent first; the errore-consegna before its preavviso.
        &["sent", "err", "c3", "pre", "acc", "c1"],
        // Sent in the middle.
        &["pre", "c1", "sent", "err", "acc", "c3"],
        // Receipts in reverse.
        &["err", "pre", "c3", "sent", "c1", "acc"],
    ];
    for (n, order) in orders.iter().enumerate() {
        let ids = deliver(&app, &resp, &protocollo, n, order).await;
        let sent = detail(&app, &resp, &ids["sent"]).await;
        assert_eq!(sent["accepted"], true, "order {order:?}: {sent}");
        assert_eq!(sent["acceptance"]["receipt_id"], ids["acc"].as_str());
        assert_eq!(sent["acceptance"]["at"], "2026-11-16T11:20:00+01:00");
        assert_eq!(sent["delivery"], expected_delivery(&ids), "order {order:?}");
        // Its receipts, in certified-time order, with what each certifies.
        let receipts = sent["receipts"].as_array().expect("receipts");
        let seen: Vec<(&str, &str, &str)> = receipts
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap(),
                    r["kind"].as_str().unwrap(),
                    r["recipient"].as_str().unwrap_or("-"),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (ids["acc"].as_str(), "accettazione", "-"),
                (ids["c1"].as_str(), "avvenuta-consegna", TO1),
                (ids["c3"].as_str(), "avvenuta-consegna", CC),
                (ids["pre"].as_str(), "preavviso-errore-consegna", TO2),
                (ids["err"].as_str(), "errore-consegna", TO2),
            ],
            "order {order:?}"
        );
        assert_eq!(receipts[4]["error"], "no-dest");
        assert_eq!(receipts[4]["error_detail"], NO_MAILBOX);
        assert_eq!(receipts[4]["issued_at"], "2026-11-17T11:20:00+01:00");
        assert_eq!(receipts[2]["receipt_type"], "sintetica");
        // A receipt names the sent message and the recipient it certifies.
        let err = detail(&app, &resp, &ids["err"]).await;
        assert_eq!(
            err["certifies"],
            json!({"message_id": ids["sent"], "recipient": TO2})
        );
        let acc = detail(&app, &resp, &ids["acc"]).await;
        assert_eq!(
            acc["certifies"],
            json!({"message_id": ids["sent"], "recipient": null})
        );
        assert!(acc.get("delivery").is_none(), "a receipt has no delivery");
    }
}

async fn a_receipt_without_msgid_finds_its_sent_message_through_the_accettazione(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id(SENDER).await;
    let (m, i) = (msgid(7), ident(7));
    let sent = arrive(
        &app,
        &resp,
        &protocollo,
        fixtures::sent_message(SENDER, &[TO1, TO2], &[CC], &m, "Diffida"),
    )
    .await;
    let acc = ReceiptSpec::accettazione(&i, &m, SENDER, ALL, "acc-7@pec.prova-gestore.test");
    // A delivery receipt without X-Riferimento-Message-ID nor msgid, before the acceptance.
    let bare = ReceiptSpec {
        msgid: None,
        ..acc.about(
            "avvenuta-consegna",
            TO1,
            "16/11/2026",
            "11:20:05",
            "cons-7@pec.prova-gestore.test",
        )
    };
    let bare = arrive(&app, &resp, &protocollo, fixtures::receipt_of(&bare)).await;
    let d = detail(&app, &resp, &sent).await;
    assert!(
        all_pending(&d),
        "nothing tells yet which message it certifies: {d}"
    );
    assert!(detail(&app, &resp, &bare).await.get("certifies").is_none());
    let acc_id = arrive(&app, &resp, &protocollo, fixtures::receipt_of(&acc)).await;
    // A virus notice for the Cc, also without msgid, after the acceptance.
    let virus = ReceiptSpec {
        msgid: None,
        virus: true,
        errore: "virus",
        errore_esteso: Some("virus rilevato nell'allegato"),
        ..acc.about(
            "errore-consegna",
            CC,
            "16/11/2026",
            "11:21:00",
            "virus-7@pec.prova-gestore.test",
        )
    };
    let virus = arrive(&app, &resp, &protocollo, fixtures::receipt_of(&virus)).await;

    let d = detail(&app, &resp, &sent).await;
    assert_eq!(d["accepted"], true);
    let states: Vec<(&str, &str, &str)> = d["delivery"]
        .as_array()
        .expect("delivery")
        .iter()
        .map(|e| {
            (
                e["recipient"].as_str().unwrap(),
                e["state"].as_str().unwrap(),
                e["receipt_id"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (TO1, "delivered", bare.as_str()),
            (TO2, "pending", "-"),
            (CC, "virus", virus.as_str()),
        ]
    );
    assert_eq!(d["delivery"][2]["reason"], "virus rilevato nell'allegato");
    assert_eq!(d["delivery"][2]["error"], "virus");
    assert_eq!(
        detail(&app, &resp, &bare).await["certifies"]["message_id"],
        sent.as_str()
    );
    assert_eq!(
        detail(&app, &resp, &acc_id).await["certifies"]["message_id"],
        sent.as_str()
    );
}

async fn receipts_of_an_unknown_sent_message_wait_grouped_and_attach_when_it_arrives(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id(SENDER).await;
    let a = deliver(&app, &resp, &protocollo, 20, &["acc", "c1", "err"]).await;
    let b = deliver(&app, &resp, &protocollo, 21, &["acc", "c3"]).await;
    let app = &app;
    let waiting = |key: String| async move {
        let n: i64 = scalar!(
            app,
            "SELECT COUNT(*) FROM receipt_links WHERE sent_id IS NULL AND match_key = $1",
            key
        );
        n
    };
    assert_eq!(waiting(msgid(20)).await, 3, "A's receipts wait, grouped");
    assert_eq!(waiting(msgid(21)).await, 2, "B's receipts wait, grouped");
    assert!(
        detail(app, &resp, &a["c1"])
            .await
            .get("certifies")
            .is_none()
    );

    // A's sent message arrives: A's receipts attach, B's keep waiting.
    let a_more = deliver(app, &resp, &protocollo, 20, &["sent"]).await;
    let sent_a = &a_more["sent"];
    assert_eq!(waiting(msgid(20)).await, 0);
    assert_eq!(waiting(msgid(21)).await, 2);
    let linked: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM receipt_links WHERE sent_id = $1",
        sent_a
    );
    assert_eq!(linked, 3);
    let d = detail(app, &resp, sent_a).await;
    let states: Vec<&str> = d["delivery"]
        .as_array()
        .expect("delivery")
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["delivered", "failed", "pending"]);
    assert_eq!(
        detail(app, &resp, &a["err"]).await["certifies"]["message_id"],
        sent_a.as_str()
    );

    // And B's, later.
    let b_more = deliver(app, &resp, &protocollo, 21, &["sent"]).await;
    assert_eq!(waiting(msgid(21)).await, 0);
    let d = detail(app, &resp, &b_more["sent"]).await;
    assert_eq!(d["accepted"], true);
    assert_eq!(d["delivery"][2]["state"], "delivered");
    assert_eq!(d["delivery"][2]["receipt_id"], b["c3"].as_str());
}

type LinkRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
);

async fn links(app: &TestApp) -> (Vec<LinkRow>, Vec<(String, String)>) {
    let l: Vec<LinkRow> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_as(
        "SELECT receipt_id, sent_id, match_key, recipient, kind, issued_ms, linked_at \
         FROM receipt_links ORDER BY receipt_id"
    )
    .fetch_all(p)
    .await)
    .expect("links");
    let s: Vec<(String, String)> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_as(
        "SELECT message_id, facts FROM sent_messages ORDER BY message_id"
    )
    .fetch_all(p)
    .await)
    .expect("sent");
    (l, s)
}

async fn reprocessing_changes_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id(SENDER).await;
    let ids = deliver(
        &app,
        &resp,
        &protocollo,
        30,
        &["c1", "sent", "acc", "pre", "err", "c3"],
    )
    .await;
    let before = links(&app).await;
    // The story's five receipts link to its sent message (the demo's own receipts and sent
    // messages, processed at the seed, are there too).
    let sent_id = Some(ids["sent"].clone());
    assert_eq!(before.0.iter().filter(|l| l.1 == sent_id).count(), 5);
    assert!(before.1.iter().any(|(m, _)| *m == ids["sent"]));
    let detail_before = detail(&app, &resp, &ids["sent"]).await;
    // Everything again, as a restarted worker or a second replica would; twice.
    let org: String = scalar!(
        app,
        "SELECT org_id FROM mailboxes WHERE id = $1",
        &protocollo
    );
    let all: Vec<String> = ids.values().cloned().collect();
    for _ in 0..2 {
        reconcile::process(&app.store, &org, &all)
            .await
            .expect("reprocess");
    }
    // The same bytes imported again: the same message, nothing new.
    let again = app
        .post_raw(
            &resp,
            &format!("/api/v1/messages/import?mailbox={protocollo}"),
            story(30).remove(5).1,
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    reconcile::process(&app.store, &org, &[ids["err"].clone()])
        .await
        .expect("reprocess");
    assert_eq!(links(&app).await, before);
    assert_eq!(detail(&app, &resp, &ids["sent"]).await, detail_before);
    assert_eq!(detail_before["delivery"], expected_delivery(&ids));
}

/// A sent message no receipt reached yet: every recipient pending, no receipt named.
fn all_pending(d: &Value) -> bool {
    d["delivery"].as_array().is_some_and(|v| {
        !v.is_empty()
            && v.iter()
                .all(|e| e["state"] == "pending" && e["receipt_id"].is_null())
    })
}

fn kinds(a: &Value) -> Vec<String> {
    a["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn has(a: &Value, id: &str) -> bool {
    a["items"]
        .as_array()
        .expect("items")
        .iter()
        .any(|i| i["id"] == id)
}

async fn receipts_are_hidden_by_the_filter_and_never_listed_as_new(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id(SENDER).await;
    let ids = deliver(&app, &resp, &protocollo, 40, &["sent", "acc", "c1", "err"]).await;
    let receipt_kinds = [
        "accettazione",
        "non-accettazione",
        "presa-in-carico",
        "avvenuta-consegna",
        "errore-consegna",
        "preavviso-errore-consegna",
        "rilevazione-virus",
    ];
    let list = |q: &'static str| {
        let (app, resp, mb) = (&app, &resp, &protocollo);
        async move {
            let a = app
                .get(resp, &format!("/api/v1/messages?mailbox={mb}&limit=200{q}"))
                .await;
            assert_eq!(a.status, StatusCode::OK, "{q}: {:?}", a.body);
            a.body
        }
    };
    let everything = list("").await;
    assert!(has(&everything, &ids["sent"]) && has(&everything, &ids["acc"]));

    let hidden = list("&receipts=hide").await;
    assert!(has(&hidden, &ids["sent"]));
    assert!(
        kinds(&hidden)
            .iter()
            .all(|k| !receipt_kinds.contains(&k.as_str())),
        "{:?}",
        kinds(&hidden)
    );
    let only = list("&receipts=only").await;
    for l in ["acc", "c1", "err"] {
        assert!(has(&only, &ids[l]), "{l}");
    }
    assert!(!has(&only, &ids["sent"]));
    assert!(
        kinds(&only)
            .iter()
            .all(|k| receipt_kinds.contains(&k.as_str()))
    );
    assert_eq!(
        kinds(&hidden).len() + kinds(&only).len(),
        kinds(&everything).len()
    );
    // Receipts are never new work, whatever the filter says; nor is what the mailbox sent.
    let new = list("&state=new").await;
    assert!(!has(&new, &ids["sent"]));
    let incoming = app
        .post_raw(
            &resp,
            &format!("/api/v1/messages/import?mailbox={protocollo}"),
            crate::helpers::fresh_eml("nuovo-lavoro"),
        )
        .await;
    assert_eq!(incoming.status, StatusCode::CREATED);
    let new = list("&state=new").await;
    assert!(has(&new, incoming.body["id"].as_str().expect("id")));
    assert!(
        kinds(&new)
            .iter()
            .all(|k| !receipt_kinds.contains(&k.as_str()))
    );
    let a = app.get(&resp, "/api/v1/messages?receipts=tutte").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_envelope(&a, "invalid");
    // The filter and the detail's fields are in the OpenAPI document.
    let doc = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    let params = doc.body["paths"]["/api/v1/messages"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    assert!(params.iter().any(|p| p["name"] == "receipts"), "{params:?}");
    let text = doc.body.to_string();
    for field in [
        "\"delivery\"",
        "\"acceptance\"",
        "\"certifies\"",
        "\"error_detail\"",
    ] {
        assert!(text.contains(field), "{field} in OpenAPI");
    }
}

async fn another_orgs_receipt_never_links_to_our_sent_message(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id(SENDER).await;
    let altro = app.login("altro@altra.test").await;
    let altra_mb = app.mailbox_id("pec@pec.altra.test").await;
    // Studio Demo's sent message; Altra Srl's receipts with the same Message-ID and
    // identificativo (a clash, or a hostile copy) arrive in Altra's mailbox.
    let ours = deliver(&app, &resp, &protocollo, 50, &["sent"]).await;
    let theirs = deliver(&app, &altro, &altra_mb, 50, &["acc", "c1", "err"]).await;
    let d = detail(&app, &resp, &ours["sent"]).await;
    assert_eq!(d["receipts"], json!([]), "{d}");
    assert!(all_pending(&d), "{d}");
    assert!(
        detail(&app, &altro, &theirs["c1"])
            .await
            .get("certifies")
            .is_none()
    );
    let linked: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM receipt_links WHERE sent_id = $1",
        &ours["sent"]
    );
    assert_eq!(linked, 0);
    // Altra's own sent message with that Message-ID takes Altra's receipts only; ours
    // takes ours only.
    let their_sent = deliver(&app, &altro, &altra_mb, 50, &["sent"]).await;
    let mine = deliver(&app, &resp, &protocollo, 50, &["acc", "c3"]).await;
    let t = detail(&app, &altro, &their_sent["sent"]).await;
    let their_ids: Vec<&str> = t["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        their_ids,
        vec![
            theirs["acc"].as_str(),
            theirs["c1"].as_str(),
            theirs["err"].as_str()
        ]
    );
    let d = detail(&app, &resp, &ours["sent"]).await;
    let our_ids: Vec<&str> = d["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(our_ids, vec![mine["acc"].as_str(), mine["c3"].as_str()]);
    assert_eq!(
        d["delivery"],
        json!([
            {"recipient": TO1, "field": "to", "state": "pending", "receipt_type": null,
             "error": null, "reason": null, "receipt_id": null, "at": null},
            {"recipient": TO2, "field": "to", "state": "pending", "receipt_type": null,
             "error": null, "reason": null, "receipt_id": null, "at": null},
            {"recipient": CC, "field": "cc", "state": "delivered", "receipt_type": "sintetica",
             "error": null, "reason": null, "receipt_id": mine["c3"],
             "at": "2026-11-16T11:20:07+01:00"},
        ])
    );
    // Neither organisation opens the other's messages.
    let a = app
        .get(&resp, &format!("/api/v1/messages/{}", their_sent["sent"]))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}
