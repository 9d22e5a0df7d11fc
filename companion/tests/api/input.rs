//! Hostile and mistaken input: unknown fields (typos), NUL characters, lone surrogates and
//! invalid UTF-8 in bodies, query strings and paths, maximum lengths, addresses and
//! one-line subjects of drafts, empty bodies, and 405 in the envelope. Every refusal is a
//! 422 (405) in the error envelope naming the field, never a 500, on both engines.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Answer, Engine, TestApp, assert_envelope, into_answer, spawn_app};

both_engines!(
    a_typo_in_a_field_name_is_refused_and_named_not_ignored,
    nul_in_a_json_field_is_refused_and_named,
    nul_in_a_query_string_or_a_path_is_a_422_not_a_500,
    lone_surrogates_and_invalid_utf8_in_a_body_are_422,
    every_text_field_has_a_maximum_length,
    draft_addresses_are_addresses_and_the_subject_is_one_line,
    approval_request_and_send_accept_an_empty_body,
    a_known_path_with_another_method_answers_405_in_the_envelope,
);

/// Asserts a 422 in the envelope whose message names `field` (in backticks).
fn assert_names(a: &Answer, field: &str) {
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    assert_envelope(a, "invalid");
    let msg = a.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(&format!("`{field}`")),
        "message should name `{field}`: {msg}"
    );
    assert!(msg.contains(" / "), "bilingual message: {msg}");
}

/// Sends raw bytes as a JSON body (or no content type when `content_type` is None).
async fn send_raw(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    into_answer(req.send().await.expect("request")).await
}

async fn activity_count(app: &TestApp) -> i64 {
    crate::scalar!(app, "SELECT COUNT(*) FROM activities")
}

async fn a_typo_in_a_field_name_is_refused_and_named_not_ignored(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let assegnatario = app.user_id("assegnatario@demo.test").await;
    let before = activity_count(&app).await;

    let typo = app
        .post(
            &resp,
            "/api/v1/activities",
            json!({"mailbox_id": protocollo, "title": "Refuso", "assigne_id": assegnatario}),
        )
        .await;
    assert_names(&typo, "assigne_id");
    assert!(
        typo.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("assignee_id"),
        "the allowed fields are listed: {:?}",
        typo.body
    );
    assert_eq!(activity_count(&app).await, before, "nothing was created");

    let (id, version) = app
        .create_activity(&resp, json!({"mailbox_id": protocollo, "title": "Giusto"}))
        .await;
    let path = format!("/api/v1/activities/{id}");
    for (method, url, body, field) in [
        (
            reqwest::Method::PATCH,
            path.clone(),
            json!({"version": version, "titel": "x"}),
            "titel",
        ),
        (
            reqwest::Method::PUT,
            format!("{path}/draft"),
            json!({"too": ["a@b.it"], "subject": "s", "body": "b"}),
            "too",
        ),
        (
            reqwest::Method::POST,
            format!("{path}/comments"),
            json!({"body": "ok", "visibile": true}),
            "visibile",
        ),
        (
            reqwest::Method::POST,
            format!("{path}/transitions"),
            json!({"to": "in_progress", "version": version, "nota": "x"}),
            "nota",
        ),
        (
            reqwest::Method::POST,
            format!("{path}/send"),
            json!({"versione": 1}),
            "versione",
        ),
    ] {
        let a = app.send(method, &url, Some(&resp), Some(body)).await;
        assert_names(&a, field);
    }
    // Nothing changed: the version is the one created.
    assert_eq!(app.version(&resp, &id).await, version);
}

async fn nul_in_a_json_field_is_refused_and_named(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let before = activity_count(&app).await;
    let title = app
        .post(
            &resp,
            "/api/v1/activities",
            json!({"mailbox_id": protocollo, "title": "a\u{0}b"}),
        )
        .await;
    assert_names(&title, "title");
    let tag = app
        .post(
            &resp,
            "/api/v1/activities",
            json!({"mailbox_id": protocollo, "title": "ok", "tags": ["uno", "d\u{0}ue"]}),
        )
        .await;
    assert_names(&tag, "tags[1]");
    assert_eq!(activity_count(&app).await, before);

    let (id, _) = app
        .create_activity(&resp, json!({"mailbox_id": protocollo, "title": "Testo"}))
        .await;
    let comment = app
        .post(
            &resp,
            &format!("/api/v1/activities/{id}/comments"),
            json!({"body": "\u{0}"}),
        )
        .await;
    assert_names(&comment, "body");
    let draft = app
        .put(
            &resp,
            &format!("/api/v1/activities/{id}/draft"),
            json!({"to": ["a@b.it"], "subject": "Re:\u{0}", "body": "b"}),
        )
        .await;
    assert_names(&draft, "subject");
    // The text `\u0000` (an escaped backslash) is not a NUL and is kept as written.
    let text = app
        .post(
            &resp,
            &format!("/api/v1/activities/{id}/comments"),
            json!({"body": "scrivere \\u0000 nel codice"}),
        )
        .await;
    assert_eq!(text.status, StatusCode::CREATED, "{:?}", text.body);
    assert_eq!(text.body["body"], "scrivere \\u0000 nel codice");
}

async fn nul_in_a_query_string_or_a_path_is_a_422_not_a_500(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    for (path, field) in [
        ("/api/v1/messages?q=%00", "q"),
        ("/api/v1/messages?q=protocollo%00x", "q"),
        ("/api/v1/activities?q=%00", "q"),
        ("/api/v1/messages/lookup?message_id=a%00b%40c", "message_id"),
        ("/api/v1/messages?mailbox=%00", "mailbox"),
        ("/api/v1/activities?assignee=%00", "assignee"),
    ] {
        let a = app.get(&resp, path).await;
        assert_names(&a, field);
    }
    for path in [
        "/api/v1/messages/abc%00def",
        "/api/v1/activities/%00",
        "/api/v1/messages/%00/raw",
    ] {
        let a = app.get(&resp, path).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {:?}",
            a.body
        );
        assert_envelope(&a, "invalid");
    }
    // Invalid UTF-8 in a query value is refused too, not silently replaced.
    let a = app.get(&resp, "/api/v1/messages?q=%FF%FE").await;
    assert_names(&a, "q");
    // A bad value of a known parameter is named too.
    let a = app.get(&resp, "/api/v1/messages?limit=abc").await;
    assert_names(&a, "limit");
    // Ordinary search still works.
    let ok = app.get(&resp, "/api/v1/messages?q=edilizia").await;
    assert_eq!(ok.status, StatusCode::OK);
}

async fn lone_surrogates_and_invalid_utf8_in_a_body_are_422(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let before = activity_count(&app).await;
    for text in [r"\ud800", r"\udfff", r"a\ud800b", r"\ud800\u0041"] {
        let body = format!(r#"{{"mailbox_id": "{protocollo}", "title": "{text}"}}"#);
        let a = send_raw(
            &app,
            reqwest::Method::POST,
            &resp,
            "/api/v1/activities",
            Some("application/json"),
            body.into_bytes(),
        )
        .await;
        assert_names(&a, "title");
    }
    for bytes in [&b"\xff"[..], b"\xc0\x80", b"\xed\xa0\x80", b"caff\xe8"] {
        let mut body = format!(r#"{{"mailbox_id": "{protocollo}", "title": ""#).into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\"}");
        let a = send_raw(
            &app,
            reqwest::Method::POST,
            &resp,
            "/api/v1/activities",
            Some("application/json"),
            body,
        )
        .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
        assert_envelope(&a, "invalid");
        assert!(
            a.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("UTF-8"),
            "{:?}",
            a.body
        );
    }
    // A valid pair of surrogates is an ordinary character.
    let pair = format!(r#"{{"mailbox_id": "{protocollo}", "title": "busta \ud83d\udce8"}}"#);
    let a = send_raw(
        &app,
        reqwest::Method::POST,
        &resp,
        "/api/v1/activities",
        Some("application/json"),
        pair.into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["title"], "busta \u{1f4e8}");
    assert_eq!(activity_count(&app).await, before + 1);
}

async fn every_text_field_has_a_maximum_length(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    // A 50,000-character search once reached SQLite's LIKE limit (500).
    let long_q = "a".repeat(50_000);
    for list in ["messages", "activities"] {
        let a = app.get(&resp, &format!("/api/v1/{list}?q={long_q}")).await;
        assert_names(&a, "q");
    }
    let at_limit = app
        .get(&resp, &format!("/api/v1/messages?q={}", "a".repeat(200)))
        .await;
    assert_eq!(at_limit.status, StatusCode::OK);

    let base = json!({"mailbox_id": protocollo, "title": "Limiti"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("title", json!("t".repeat(301))), "title"),
        (
            with("description", json!("d".repeat(20_001))),
            "description",
        ),
        (with("category", json!("c".repeat(101))), "category"),
        (with("tags", json!(["ok", "t".repeat(51)])), "tags[1]"),
        (with("tags", json!(vec!["t"; 51])), "tags"),
        (with("assignee_id", json!("u".repeat(101))), "assignee_id"),
    ] {
        let a = app.post(&resp, "/api/v1/activities", body).await;
        assert_names(&a, field);
    }
    // Characters, not bytes: 300 accented letters are a valid title.
    let accented = app
        .post(
            &resp,
            "/api/v1/activities",
            with("title", json!("è".repeat(300))),
        )
        .await;
    assert_eq!(accented.status, StatusCode::CREATED, "{:?}", accented.body);

    let (id, version) = app.create_activity(&resp, base.clone()).await;
    let path = format!("/api/v1/activities/{id}");
    let patch = app
        .patch(
            &resp,
            &path,
            json!({"version": version, "description": "d".repeat(20_001)}),
        )
        .await;
    assert_names(&patch, "description");
    let draft = app
        .put(
            &resp,
            &format!("{path}/draft"),
            json!({"to": ["a@b.it"], "subject": "s".repeat(999), "body": "b"}),
        )
        .await;
    assert_names(&draft, "subject");
    let note = app
        .post(
            &resp,
            &format!("{path}/approval"),
            json!({"decision": "approve", "note": "n".repeat(4_001)}),
        )
        .await;
    assert_names(&note, "note");
    assert_eq!(app.version(&resp, &id).await, version, "nothing changed");
}

async fn draft_addresses_are_addresses_and_the_subject_is_one_line(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let (id, _) = app
        .create_activity(&resp, json!({"mailbox_id": protocollo, "title": "Bozza"}))
        .await;
    let draft = format!("/api/v1/activities/{id}/draft");
    for (body, field) in [
        (
            json!({"to": ["comune@pec.esempio.it", "senza-chiocciola"], "subject": "s", "body": "b"}),
            "to[1]",
        ),
        (
            json!({"to": ["a@b.it"], "cc": ["due@@b.it"], "subject": "s", "body": "b"}),
            "cc[0]",
        ),
        (
            json!({"to": ["a@b.it"], "cc": ["a b@c.it"], "subject": "s", "body": "b"}),
            "cc[0]",
        ),
        (
            json!({"to": ["a@b.it"], "subject": "Re: pratica\r\nBcc: tutti@esempio.it", "body": "b"}),
            "subject",
        ),
        (
            json!({"to": ["a@b.it"], "subject": "due\nrighe", "body": "b"}),
            "subject",
        ),
    ] {
        let a = app.put(&resp, &draft, body).await;
        assert_names(&a, field);
    }
    let detail = app.get(&resp, &format!("/api/v1/activities/{id}")).await;
    assert!(detail.body["draft"].is_null(), "no draft was written");
    // A body may have many lines; addresses with surrounding spaces are accepted.
    let ok = app
        .put(
            &resp,
            &draft,
            json!({"to": [" Comune@PEC.esempio.it "], "subject": "Re: pratica 42", "body": "riga 1\r\nriga 2"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
}

async fn approval_request_and_send_accept_an_empty_body(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let ass = app.login("assegnatario@demo.test").await;
    let appr = app.login("approvatore@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let assegnatario = app.user_id("assegnatario@demo.test").await;
    let approvatore = app.user_id("approvatore@demo.test").await;
    let (id, _) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Corpo vuoto", "assignee_id": assegnatario,
                   "flow": "approval", "approver_id": approvatore}),
        )
        .await;
    let path = format!("/api/v1/activities/{id}");
    let v = app.version(&ass, &id).await;
    let started = app
        .post(
            &ass,
            &format!("{path}/transitions"),
            json!({"to": "in_progress", "version": v}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{:?}", started.body);
    let drafted = app
        .put(
            &ass,
            &format!("{path}/draft"),
            json!({"to": ["a@b.it"], "subject": "Re", "body": "Testo"}),
        )
        .await;
    assert_eq!(drafted.status, StatusCode::OK, "{:?}", drafted.body);

    // No body and no content type, as `curl -X POST` sends it.
    let asked = send_raw(
        &app,
        reqwest::Method::POST,
        &ass,
        &format!("{path}/approval-request"),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{:?}", asked.body);
    assert_eq!(asked.body["status"], "awaiting_approval");
    let approved = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
    // An empty body with a JSON content type reads as `{}` too.
    let sent = send_raw(
        &app,
        reqwest::Method::POST,
        &ass,
        &format!("{path}/send"),
        Some("application/json"),
        Vec::new(),
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body["status"], "done");
}

async fn a_known_path_with_another_method_answers_405_in_the_envelope(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    for (method, path) in [
        (reqwest::Method::DELETE, "/api/v1/activities"),
        (reqwest::Method::PUT, "/api/v1/messages"),
        (reqwest::Method::GET, "/api/v1/messages/import"),
        (reqwest::Method::DELETE, "/api/v1/me"),
    ] {
        let a = app.send(method.clone(), path, Some(&resp), None).await;
        assert_eq!(
            a.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {:?}",
            a.body
        );
        assert_envelope(&a, "method_not_allowed");
    }
    let unknown = app.get(&resp, "/api/v2/nothing").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_envelope(&unknown, "not_found");
}
