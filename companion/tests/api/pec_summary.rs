//! What the stored PEC summary says, with literal expected values: import of an envelope,
//! lookup by Message-ID / identificativo, receipts of a submission, search, the demo seed's
//! kinds, malformed PECs kept byte for byte.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::fixtures::{self, Submission};
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    an_imported_envelope_shows_its_certified_kind_identificativo_sender_and_subject,
    lookup_finds_a_message_by_its_message_id_and_by_its_identificativo_but_not_another_orgs,
    an_envelope_lists_its_accettazione_and_consegna_and_never_another_orgs_receipt,
    search_finds_messages_and_activities_by_a_word_and_nothing_for_an_absent_word,
    the_demo_seed_gives_protocollo_its_envelopes_and_receipts_with_their_kinds,
    a_malformed_pec_is_kept_byte_for_byte_and_its_summary_lists_the_problems,
);

/// protocollo@ sends to legale@ (both Studio Demo): legale receives the envelope,
/// protocollo the receipts.
const SUB: Submission<'static> = Submission {
    identificativo: "prova-0001.20261116112000@pec.prova-gestore.test",
    msgid: "20261116111958.client-3@demo.test",
    sender: "protocollo@pec.demo.test",
    recipient: "legale@pec.demo.test",
    subject: "Richiesta parere contratto fornitura",
};

/// A submission inside Altra Srl that reuses SUB's identificativo (a hostile or clashing
/// provider id): it must never show up for Studio Demo.
const ALTRA: Submission<'static> = Submission {
    identificativo: "prova-0001.20261116112000@pec.prova-gestore.test",
    msgid: "20261116111958.client-9@altra.test",
    sender: "pec@pec.altra.test",
    recipient: "fornitore@pec.fornitore-esempio.test",
    subject: "Ordine materiale di cancelleria",
};

async fn import(app: &TestApp, token: &str, mailbox: &str, raw: Vec<u8>) -> Value {
    let a = app
        .post_raw(
            token,
            &format!("/api/v1/messages/import?mailbox={mailbox}"),
            raw,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "import: {:?}", a.body);
    a.body
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// Ids of a JSON array of messages (or receipts), in order.
fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn an_imported_envelope_shows_its_certified_kind_identificativo_sender_and_subject(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let created = import(&app, &resp, &legale, fixtures::envelope(&SUB)).await;
    let id = id_of(&created);
    let got = app.get(&resp, &format!("/api/v1/messages/{id}")).await;
    assert_eq!(got.status, StatusCode::OK, "{:?}", got.body);
    let m = &got.body;
    assert_eq!(m["kind"], "posta-certificata");
    assert_eq!(
        m["identificativo"],
        "prova-0001.20261116112000@pec.prova-gestore.test"
    );
    assert_eq!(m["sender"], "protocollo@pec.demo.test");
    assert_eq!(m["subject"], "Richiesta parere contratto fornitura");
    assert_eq!(
        m["message_id"],
        "prova-0001.20261116112000@pec.prova-gestore.test"
    );
    assert_eq!(m["direction"], "in", "legale received it");
    let s = &m["summary"];
    assert_eq!(s["kind"], "posta-certificata");
    assert_eq!(s["receipt_type"], "completa");
    assert_eq!(s["error"], "nessuno");
    assert_eq!(
        s["identificativo"],
        "prova-0001.20261116112000@pec.prova-gestore.test"
    );
    assert_eq!(
        s["original_message_id"],
        "20261116111958.client-3@demo.test"
    );
    assert_eq!(s["sender"], "protocollo@pec.demo.test");
    assert_eq!(
        s["recipients"],
        json!([{"address": "legale@pec.demo.test", "type": "certificato"}])
    );
    assert_eq!(s["subject"], "Richiesta parere contratto fornitura");
    assert_eq!(s["provider"], "PEC Prova S.p.A.");
    assert_eq!(s["issued_at"], "2026-11-16T11:20:00+01:00");
    assert_eq!(s["recipient"], Value::Null);
    assert_eq!(s["has_original"], true);
    assert_eq!(s["has_daticert"], true);
    assert_eq!(s["problems"], json!([]));
    // The fixture's smime.p7s is not a signature: checked at import, never taken as certified.
    assert_eq!(s["signature"]["status"], "invalid");
    assert_eq!(m["receipts"], json!([]), "no receipt imported yet");
}

async fn lookup_finds_a_message_by_its_message_id_and_by_its_identificativo_but_not_another_orgs(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let env = id_of(&import(&app, &resp, &legale, fixtures::envelope(&SUB)).await);
    let acc = id_of(
        &import(
            &app,
            &resp,
            &protocollo,
            fixtures::receipt("accettazione", &SUB, "acc-0001@pec.prova-gestore.test"),
        )
        .await,
    );

    // The receipt by its own Internet Message-ID, bare or in angle brackets.
    for key in [
        "acc-0001@pec.prova-gestore.test",
        "%3Cacc-0001@pec.prova-gestore.test%3E",
    ] {
        let a = app
            .get(&resp, &format!("/api/v1/messages/lookup?message_id={key}"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{key}: {:?}", a.body);
        assert_eq!(ids(&a.body), vec![acc.clone()], "{key}");
        assert_eq!(a.body[0]["kind"], "accettazione");
    }
    // By identificativo: the envelope and the receipt of the same submission.
    let a = app
        .get(
            &resp,
            "/api/v1/messages/lookup?message_id=prova-0001.20261116112000@pec.prova-gestore.test",
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let mut found = ids(&a.body);
    found.sort();
    let mut expected = vec![env.clone(), acc.clone()];
    expected.sort();
    assert_eq!(found, expected);

    // Another organisation's message: 404 for Studio Demo, found by its own org.
    let altro = app.login("altro@altra.test").await;
    let altra_mb = app.mailbox_id("pec@pec.altra.test").await;
    let other = id_of(
        &import(
            &app,
            &altro,
            &altra_mb,
            fixtures::receipt("accettazione", &ALTRA, "acc-0099@pec.altra-gestore.test"),
        )
        .await,
    );
    let theirs = app
        .get(
            &altro,
            "/api/v1/messages/lookup?message_id=acc-0099@pec.altra-gestore.test",
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(ids(&theirs.body), vec![other.clone()]);
    let a = app
        .get(
            &resp,
            "/api/v1/messages/lookup?message_id=acc-0099@pec.altra-gestore.test",
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
    assert_envelope(&a, "not_found");
    // The shared identificativo still finds only Studio Demo's own two messages.
    let a = app
        .get(
            &resp,
            "/api/v1/messages/lookup?message_id=prova-0001.20261116112000@pec.prova-gestore.test",
        )
        .await;
    assert_eq!(a.body.as_array().map(Vec::len), Some(2));
    assert!(!a.body.to_string().contains(&other));
    // And Altra never sees Studio Demo's envelope by it.
    let a = app
        .get(
            &altro,
            &format!("/api/v1/messages/lookup?message_id={}", SUB.identificativo),
        )
        .await;
    assert_eq!(ids(&a.body), vec![other]);
    // Nothing at all: 404.
    let a = app
        .get(
            &resp,
            "/api/v1/messages/lookup?message_id=inesistente@pec.prova-gestore.test",
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_envelope(&a, "not_found");
}

async fn an_envelope_lists_its_accettazione_and_consegna_and_never_another_orgs_receipt(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let env = id_of(&import(&app, &resp, &legale, fixtures::envelope(&SUB)).await);
    let acc = import(
        &app,
        &resp,
        &protocollo,
        fixtures::receipt("accettazione", &SUB, "acc-0001@pec.prova-gestore.test"),
    )
    .await;
    assert_eq!(acc["kind"], "accettazione");
    assert_eq!(acc["direction"], "out", "protocollo sent it");
    let cons = import(
        &app,
        &resp,
        &protocollo,
        fixtures::receipt(
            "avvenuta-consegna",
            &SUB,
            "cons-0001@pec.prova-gestore.test",
        ),
    )
    .await;
    assert_eq!(cons["kind"], "avvenuta-consegna");
    assert_eq!(cons["summary"]["recipient"], "legale@pec.demo.test");
    assert_eq!(cons["summary"]["receipt_type"], "sintetica");
    // A receipt of another submission of ours: not this envelope's.
    let unrelated = Submission {
        identificativo: "prova-0002.20261116113000@pec.prova-gestore.test",
        msgid: "20261116112958.client-4@demo.test",
        ..SUB
    };
    let unrelated_id = id_of(
        &import(
            &app,
            &resp,
            &protocollo,
            fixtures::receipt(
                "accettazione",
                &unrelated,
                "acc-0002@pec.prova-gestore.test",
            ),
        )
        .await,
    );
    // Altra Srl's receipt with the same identificativo.
    let altro = app.login("altro@altra.test").await;
    let altra_mb = app.mailbox_id("pec@pec.altra.test").await;
    let other = id_of(
        &import(
            &app,
            &altro,
            &altra_mb,
            fixtures::receipt(
                "avvenuta-consegna",
                &ALTRA,
                "cons-0099@pec.altra-gestore.test",
            ),
        )
        .await,
    );

    let got = app.get(&resp, &format!("/api/v1/messages/{env}")).await;
    assert_eq!(got.status, StatusCode::OK);
    let receipts = &got.body["receipts"];
    let mut pairs: Vec<(String, String)> = receipts
        .as_array()
        .expect("receipts")
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().expect("kind").to_owned(),
                r["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            ("accettazione".to_owned(), id_of(&acc)),
            ("avvenuta-consegna".to_owned(), id_of(&cons)),
        ]
    );
    assert!(!receipts.to_string().contains(&other));
    assert!(!receipts.to_string().contains(&unrelated_id));
    // Altra's own receipt sees none of Studio Demo's.
    let theirs = app.get(&altro, &format!("/api/v1/messages/{other}")).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.body["receipts"], json!([]));
    // And Studio Demo cannot open Altra's receipt.
    let a = app.get(&resp, &format!("/api/v1/messages/{other}")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

async fn search_finds_messages_and_activities_by_a_word_and_nothing_for_an_absent_word(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let env = id_of(&import(&app, &resp, &legale, fixtures::envelope(&SUB)).await);
    // A word of the subject, in another case: only that envelope.
    let a = app.get(&resp, "/api/v1/messages?q=PARERE").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(ids(&a.body["items"]), vec![env.clone()]);
    // Two words, both needed.
    let a = app
        .get(&resp, "/api/v1/messages?q=contratto%20fornitura")
        .await;
    assert_eq!(ids(&a.body["items"]), vec![env.clone()]);
    let a = app
        .get(&resp, "/api/v1/messages?q=contratto%20edilizia")
        .await;
    assert_eq!(a.body["items"], json!([]));
    // A word of a demo subject ("Richiesta documentazione pratica edilizia n. 42/2026").
    let a = app.get(&resp, "/api/v1/messages?q=edilizia").await;
    let items = a.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{:?}", a.body);
    assert_eq!(
        items[0]["identificativo"],
        "demo-0001.20261102093000@pec.demo-provider.test"
    );
    // Absent word: nothing.
    let a = app.get(&resp, "/api/v1/messages?q=ornitorinco").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["items"], json!([]));

    let (act, _) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Verificare scadenza polizza fideiussoria",
                   "message_ids": []}),
        )
        .await;
    let a = app.get(&resp, "/api/v1/activities?q=fideiussoria").await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(ids(&a.body["items"]), vec![act]);
    let a = app.get(&resp, "/api/v1/activities?q=ornitorinco").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["items"], json!([]));
    // The activity's title is not a message's text, and vice versa.
    let a = app.get(&resp, "/api/v1/messages?q=fideiussoria").await;
    assert_eq!(a.body["items"], json!([]));
    let a = app.get(&resp, "/api/v1/activities?q=parere").await;
    assert_eq!(a.body["items"], json!([]));
}

async fn the_demo_seed_gives_protocollo_its_envelopes_and_receipts_with_their_kinds(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let list = app
        .get(
            &resp,
            &format!("/api/v1/messages?mailbox={protocollo}&limit=200"),
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body["items"].as_array().expect("items");
    let mut seen: Vec<(String, String, String, String)> = items
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or("-").to_owned();
            (
                s("message_id"),
                s("kind"),
                s("identificativo"),
                s("subject"),
            )
        })
        .collect();
    seen.sort();
    let row = |mid: &str, kind: &str, ident: &str, subject: &str| {
        (
            mid.to_owned(),
            kind.to_owned(),
            ident.to_owned(),
            subject.to_owned(),
        )
    };
    assert_eq!(
        seen,
        vec![
            row(
                "03-accettazione.demo-0101.20261110101500@pec.demo-provider.test",
                "accettazione",
                "demo-0101.20261110101500@pec.demo-provider.test",
                "Trasmissione atti richiesti prot. 881/2026"
            ),
            row(
                "04-avvenuta-consegna.demo-0101.20261110101500@pec.demo-provider.test",
                "avvenuta-consegna",
                "demo-0101.20261110101500@pec.demo-provider.test",
                "Trasmissione atti richiesti prot. 881/2026"
            ),
            row(
                "05-errore-consegna.demo-0102.20261112160000@pec.demo-provider.test",
                "errore-consegna",
                "demo-0102.20261112160000@pec.demo-provider.test",
                "Diffida ad adempiere pratica 77/2026"
            ),
            row(
                "demo-0001.20261102093000@pec.demo-provider.test",
                "posta-certificata",
                "demo-0001.20261102093000@pec.demo-provider.test",
                "Richiesta documentazione pratica edilizia n. 42/2026"
            ),
            row(
                "demo-0002.20261105141500@pec.demo-provider.test",
                "posta-certificata",
                "demo-0002.20261105141500@pec.demo-provider.test",
                "Sollecito pagamento fattura 2026-117"
            ),
        ]
    );
    // Every demo PEC is signed by the demo provider, whose CA is trusted in demo mode only.
    for i in items {
        assert_eq!(
            i["summary"]["signature"]["status"], "valid",
            "{}",
            i["message_id"]
        );
        assert_eq!(
            i["summary"]["signature"]["signer"],
            "CN=Posta Certificata PEC Demo,O=PEC Demo S.p.A.,C=IT"
        );
    }
    // The incoming envelopes carry their senders and originals; the receipts are ours (out).
    for i in items {
        match i["kind"].as_str() {
            Some("posta-certificata") => {
                assert_eq!(i["direction"], "in");
                assert_eq!(i["summary"]["has_original"], true);
                assert_eq!(i["summary"]["has_daticert"], true);
            }
            _ => {
                assert_eq!(i["direction"], "out");
                assert_eq!(i["sender"], "protocollo@pec.demo.test");
                assert_eq!(
                    i["summary"]["recipients"],
                    json!([{"address": "ufficio@pec.ente-esempio.test", "type": "certificato"}])
                );
            }
        }
    }
    let by_kind = |k: &str| {
        items
            .iter()
            .find(|i| i["kind"] == k)
            .expect("kind present")
            .clone()
    };
    let comune = items
        .iter()
        .find(|i| i["identificativo"] == "demo-0001.20261102093000@pec.demo-provider.test")
        .expect("comune");
    assert_eq!(comune["sender"], "protocollo@pec.comune-esempio.test");
    assert_eq!(
        comune["summary"]["original_message_id"],
        "20261102093000.client-1@comune-esempio.test"
    );
    let errore = by_kind("errore-consegna");
    assert_eq!(errore["summary"]["error"], "no-dest");
    assert_eq!(
        errore["summary"]["recipient"],
        "ufficio@pec.ente-esempio.test"
    );
    // The two receipts of submission demo-0101 list each other.
    let acc = by_kind("accettazione");
    let cons = by_kind("avvenuta-consegna");
    let got = app
        .get(&resp, &format!("/api/v1/messages/{}", id_of(&acc)))
        .await;
    let receipts = got.body["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(receipts[0]["id"], id_of(&cons));
    assert_eq!(receipts[0]["kind"], "avvenuta-consegna");
    assert_eq!(receipts[0]["recipient"], "ufficio@pec.ente-esempio.test");
}

async fn a_malformed_pec_is_kept_byte_for_byte_and_its_summary_lists_the_problems(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let truncated = fixtures::truncated_envelope(&SUB);
    let broken = fixtures::envelope_with_broken_daticert(&Submission {
        identificativo: "prova-0003.20261116114000@pec.prova-gestore.test",
        ..SUB
    });
    for (name, raw, problem, has_daticert) in [
        ("truncated MIME", truncated, "troncata", true),
        ("broken daticert", broken, "daticert.xml malformato", false),
    ] {
        let created = app
            .post_raw(
                &resp,
                &format!("/api/v1/messages/import?mailbox={legale}"),
                raw.clone(),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{name}: {:?}",
            created.body
        );
        let id = id_of(&created.body);
        let back = app
            .client
            .get(app.url(&format!("/api/v1/messages/{id}/raw")))
            .bearer_auth(&resp)
            .send()
            .await
            .expect("raw");
        assert_eq!(back.status(), StatusCode::OK);
        assert_eq!(back.bytes().await.expect("bytes").to_vec(), raw, "{name}");

        let got = app.get(&resp, &format!("/api/v1/messages/{id}")).await;
        let s = &got.body["summary"];
        assert_eq!(
            got.body["kind"], "posta-certificata",
            "{name}: from headers"
        );
        assert_eq!(s["has_daticert"], has_daticert, "{name}");
        assert_eq!(s["sender"], "protocollo@pec.demo.test", "{name}");
        let problems = s["problems"].as_array().expect("problems");
        assert_eq!(problems.len(), 1, "{name}: {problems:?}");
        assert!(
            problems[0].as_str().expect("text").contains(problem),
            "{name}: {problems:?}"
        );
    }
}
