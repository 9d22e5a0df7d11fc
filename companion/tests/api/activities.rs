//! Activity writes answer with what they wrote (the same as a fresh read), typed commands
//! refuse unknown values with 422, a sent draft stays sent, only an eligible approver can be
//! designated, and `?message=` lists the activities linked to a message with the list's
//! visibility.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    every_activity_write_answers_what_a_fresh_read_shows,
    unknown_priorities_statuses_and_decisions_answer_422_in_the_envelope,
    a_sent_draft_cannot_be_edited_again,
    only_a_reader_and_writer_of_the_mailbox_can_be_designated_approver,
    the_list_by_message_shows_the_activities_linked_to_it_to_whoever_may_read_them,
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

/// The ids of a list page, sorted.
fn ids(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

async fn the_list_by_message_shows_the_activities_linked_to_it_to_whoever_may_read_them(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let appr = app.login("approvatore@demo.test").await;
    let esterno = app.login("esterno@demo.test").await;
    let altro = app.login("altro@altra.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let m1 = app
        .import_fresh(&resp, &protocollo, "per-messaggio-1")
        .await;
    let m2 = app
        .import_fresh(&resp, &protocollo, "per-messaggio-2")
        .await;
    let mut made = Vec::new();
    for (title, linked) in [
        ("Solo il primo", vec![&m1]),
        ("Entrambi", vec![&m1, &m2]),
        ("Solo il secondo", vec![&m2]),
        ("Nessuno", vec![]),
    ] {
        let (id, _) = app
            .create_activity(
                &resp,
                json!({"mailbox_id": protocollo, "title": title, "message_ids": linked}),
            )
            .await;
        made.push(id);
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let of_m1 = sorted(vec![made[0].clone(), made[1].clone()]);
    let of_m2 = sorted(vec![made[1].clone(), made[2].clone()]);

    // The caller who created them and a reader of the mailbox see the same.
    for token in [&resp, &appr] {
        let a = app
            .get(token, &format!("/api/v1/activities?message={m1}"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(ids(&a.body), of_m1);
        let b = app
            .get(token, &format!("/api/v1/activities?message={m2}"))
            .await;
        assert_eq!(ids(&b.body), of_m2);
    }
    // With the other filters and the paging of the list.
    let filtered = app
        .get(
            &resp,
            &format!("/api/v1/activities?message={m1}&mailbox={protocollo}&status=open&q=entrambi"),
        )
        .await;
    assert_eq!(ids(&filtered.body), vec![made[1].clone()]);
    let first = app
        .get(
            &resp,
            &format!("/api/v1/activities?message={m2}&limit=1&sort=created_at"),
        )
        .await;
    assert_eq!(ids(&first.body), vec![made[1].clone()]);
    let cursor = first.body["next_cursor"].as_str().expect("a second page");
    let second = app
        .get(
            &resp,
            &format!("/api/v1/activities?message={m2}&limit=1&sort=created_at&cursor={cursor}"),
        )
        .await;
    assert_eq!(ids(&second.body), vec![made[2].clone()]);
    assert!(second.body["next_cursor"].is_null(), "{:?}", second.body);
    // A message nobody linked, or no such message: an empty list.
    let none = app
        .get(&resp, "/api/v1/activities?message=nessun-messaggio")
        .await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(ids(&none.body).is_empty());

    // Someone of the organisation without the mailbox, and someone of another
    // organisation, see none of them (the list's visibility, not a 404 that would tell).
    for token in [&esterno, &altro] {
        let a = app
            .get(token, &format!("/api/v1/activities?message={m1}"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert!(ids(&a.body).is_empty(), "{:?}", a.body);
    }
    // Unless they take part: the assignee sees the one assigned to them (also as "mine").
    let aldo = app.login("assegnatario@demo.test").await;
    let aldo_id = app.user_id("assegnatario@demo.test").await;
    let v = fresh(&app, &resp, &made[0]).await["version"].clone();
    let assigned = app
        .patch(
            &resp,
            &format!("/api/v1/activities/{}", made[0]),
            json!({"version": v, "assignee_id": aldo_id}),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{:?}", assigned.body);
    let mine = app
        .get(
            &aldo,
            &format!("/api/v1/activities?message={m1}&assignee=me"),
        )
        .await;
    assert_eq!(ids(&mine.body), vec![made[0].clone()]);
}
