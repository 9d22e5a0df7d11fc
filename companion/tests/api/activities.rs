//! Activity writes answer with what they wrote (the same as a fresh read), typed commands
//! refuse unknown values with 422, a sent draft stays sent, and only an eligible approver
//! can be designated.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    every_activity_write_answers_what_a_fresh_read_shows,
    unknown_priorities_statuses_and_decisions_answer_422_in_the_envelope,
    a_sent_draft_cannot_be_edited_again,
    only_a_reader_and_writer_of_the_mailbox_can_be_designated_approver,
);

/// The detail of an activity as a fresh read shows it.
async fn fresh(app: &TestApp, token: &str, id: &str) -> Value {
    let a = app.get(token, &format!("/api/v1/activities/{id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

async fn every_activity_write_answers_what_a_fresh_read_shows(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let appr = app.login("approvatore@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let m1 = app.import_fresh(&resp, &protocollo, "scritture-1").await;
    let m2 = app.import_fresh(&resp, &protocollo, "scritture-2").await;
    let approver_id = app.user_id("approvatore@demo.test").await;

    let created = app
        .post(
            &resp,
            "/api/v1/activities",
            json!({"mailbox_id": protocollo, "title": "Scritture", "message_ids": [m2, m1, m2],
                   "flow": "approval", "approver_id": approver_id, "priority": "high",
                   "due_at": "2030-01-02", "tags": ["a", "b"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.body, fresh(&app, &resp, &id).await);
    assert_eq!(
        created.body["message_ids"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(created.body["priority"], "high");

    let path = format!("/api/v1/activities/{id}");
    let patched = app
        .patch(
            &resp,
            &path,
            json!({"version": 1, "priority": "urgent", "category": "Scuola", "due_at": null}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body, fresh(&app, &resp, &id).await);
    assert_eq!(patched.body["version"], 2);
    assert!(patched.body["due_at"].is_null());
    // The new category is searchable at once.
    let found = app.get(&resp, "/api/v1/activities?q=scuola").await;
    assert_eq!(found.body["items"][0]["id"], id.as_str());

    let moved = app
        .post(
            &resp,
            &format!("{path}/transitions"),
            json!({"to": "in_progress", "version": 2}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body, fresh(&app, &resp, &id).await);

    let draft = app
        .put(
            &resp,
            &format!("{path}/draft"),
            json!({"to": ["a@pec.example.test"], "subject": "Re", "body": "Testo"}),
        )
        .await;
    assert_eq!(draft.status, StatusCode::OK, "{:?}", draft.body);
    // The draft's answer also carries the activity's version and status after the write.
    let after_draft = fresh(&app, &resp, &id).await;
    let mut written = draft.body.clone();
    let extra = written.as_object_mut().expect("draft object");
    assert_eq!(
        extra.remove("activity_version"),
        Some(after_draft["version"].clone())
    );
    assert_eq!(
        extra.remove("activity_status"),
        Some(after_draft["status"].clone())
    );
    assert_eq!(written, after_draft["draft"]);

    let asked = app
        .post(&resp, &format!("{path}/approval-request"), json!({}))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{:?}", asked.body);
    assert_eq!(asked.body, fresh(&app, &resp, &id).await);

    let decided = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "approve", "note": "ok"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{:?}", decided.body);
    assert_eq!(decided.body, fresh(&app, &appr, &id).await);
    assert_eq!(decided.body["approved_draft_version"], 1);

    let sent = app.post(&resp, &format!("{path}/send"), json!({})).await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body, fresh(&app, &resp, &id).await);
    assert_eq!(sent.body["status"], "done");

    let comment = app
        .post(&resp, &format!("{path}/comments"), json!({"body": "Prima"}))
        .await;
    assert_eq!(comment.status, StatusCode::CREATED, "{:?}", comment.body);
    let cid = comment.body["id"].as_str().expect("comment id").to_owned();
    let edited = app
        .patch(
            &resp,
            &format!("/api/v1/comments/{cid}"),
            json!({"body": "Seconda"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    let listed = app.get(&resp, &format!("{path}/comments")).await;
    assert_eq!(listed.body, json!([edited.body.clone()]));
    assert_eq!(edited.body["history"][0]["body"], "Prima");
}

async fn unknown_priorities_statuses_and_decisions_answer_422_in_the_envelope(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let (id, v) = app
        .create_activity(&resp, json!({"mailbox_id": protocollo, "title": "Valori"}))
        .await;
    let path = format!("/api/v1/activities/{id}");
    let bad = [
        app.post(
            &resp,
            "/api/v1/activities",
            json!({"mailbox_id": protocollo, "title": "x", "flow": "veloce"}),
        )
        .await,
        app.patch(&resp, &path, json!({"version": v, "priority": "subito"}))
            .await,
        app.post(
            &resp,
            &format!("{path}/transitions"),
            json!({"to": "chiusa", "version": v}),
        )
        .await,
        app.post(
            &resp,
            &format!("{path}/approval"),
            json!({"decision": "forse"}),
        )
        .await,
    ];
    for a in bad {
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
        assert_envelope(&a, "invalid");
    }
    // Nothing changed.
    assert_eq!(app.version(&resp, &id).await, v);
}

async fn a_sent_draft_cannot_be_edited_again(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let (id, _) = app
        .create_activity(&resp, json!({"mailbox_id": protocollo, "title": "Invio"}))
        .await;
    let path = format!("/api/v1/activities/{id}");
    let body = json!({"to": ["a@pec.example.test"], "body": "Uno"});
    assert_eq!(
        app.put(&resp, &format!("{path}/draft"), body.clone())
            .await
            .body["version"],
        1
    );
    assert_eq!(
        app.put(&resp, &format!("{path}/draft"), body.clone())
            .await
            .body["version"],
        2
    );
    let sent = app.post(&resp, &format!("{path}/send"), json!({})).await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    // Reopened, the activity is open again, but its draft has gone out.
    let v = sent.body["version"].as_i64().expect("version");
    let reopened = app
        .post(
            &resp,
            &format!("{path}/transitions"),
            json!({"to": "open", "version": v}),
        )
        .await;
    assert_eq!(reopened.status, StatusCode::OK, "{:?}", reopened.body);
    let again = app.put(&resp, &format!("{path}/draft"), body).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    assert_envelope(&again, "conflict");
    let after = fresh(&app, &resp, &id).await;
    assert_eq!(after["draft"]["version"], 2);
    assert!(after["draft"]["sent_at"].is_string());
    // A sent draft cannot be sent again either.
    let actions: Vec<&str> = after["allowed_actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!actions.contains(&"send"), "{actions:?}");
}

async fn only_a_reader_and_writer_of_the_mailbox_can_be_designated_approver(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let smistatore = app.user_id("smistatore@demo.test").await;
    let approvatore = app.user_id("approvatore@demo.test").await;
    let (id, v) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Approvatore"}),
        )
        .await;
    let path = format!("/api/v1/activities/{id}");
    for (approver, expected) in [
        (smistatore.as_str(), StatusCode::UNPROCESSABLE_ENTITY),
        ("nessuno", StatusCode::UNPROCESSABLE_ENTITY),
        (approvatore.as_str(), StatusCode::OK),
    ] {
        let a = app
            .patch(&resp, &path, json!({"version": v, "approver_id": approver}))
            .await;
        assert_eq!(a.status, expected, "{approver}: {:?}", a.body);
    }
    assert_eq!(
        fresh(&app, &resp, &id).await["approver_id"],
        approvatore.as_str()
    );
}
