//! @mentions notify (issue 15): a comment mentioning a colleague who can read the activity
//! gives them one notification, an edit only the newly mentioned; the author, people who
//! cannot read the activity and other organisations get none; each user reads and marks
//! only their own.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    a_mention_notifies_once_and_an_edit_only_the_newly_mentioned,
    people_who_cannot_read_and_other_organisations_get_nothing,
    only_the_recipient_reads_and_marks_a_notification,
);

struct Demo {
    app: TestApp,
    rita: String,
    sara: String,
    paolo: String,
    activity: String,
}

/// Rita (responsabile) opens an activity on Protocollo, which Sara (smistatrice) and Paolo
/// (approvatore) can read too.
async fn demo(engine: Engine) -> Demo {
    let app = spawn_app(engine).await;
    let rita = app.login("responsabile@demo.test").await;
    let sara = app.login("smistatore@demo.test").await;
    let paolo = app.login("approvatore@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let message = app.import_fresh(&rita, &protocollo, "menzioni").await;
    let (activity, _) = app
        .create_activity(
            &rita,
            json!({"mailbox_id": protocollo, "title": "Rispondere al Comune", "message_ids": [message]}),
        )
        .await;
    Demo {
        app,
        rita,
        sara,
        paolo,
        activity,
    }
}

async fn comment(app: &TestApp, token: &str, activity: &str, body: &str) -> String {
    let a = app
        .post(
            token,
            &format!("/api/v1/activities/{activity}/comments"),
            json!({ "body": body }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body["id"].as_str().expect("id").to_owned()
}

async fn notifications(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let a = app
        .get(token, &format!("/api/v1/notifications{query}"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["items"].as_array().expect("items").clone()
}

async fn a_mention_notifies_once_and_an_edit_only_the_newly_mentioned(engine: Engine) {
    let d = demo(engine).await;
    let app = &d.app;
    let rita_id = app.user_id("responsabile@demo.test").await;
    // Rita mentions Sara by the name the pane inserts, and herself.
    let c = comment(
        app,
        &d.rita,
        &d.activity,
        "@Sara Smistatrice puoi controllare la ricevuta? (@Rita Responsabile la firma)",
    )
    .await;
    let sara = notifications(app, &d.sara, "").await;
    assert_eq!(sara.len(), 1, "{sara:?}");
    let n = &sara[0];
    assert_eq!(n["kind"], "mention");
    assert_eq!(n["activity_id"], d.activity.as_str());
    assert_eq!(n["activity_title"], "Rispondere al Comune");
    assert_eq!(n["comment_id"], c.as_str());
    assert_eq!(n["by"]["id"], rita_id.as_str());
    assert_eq!(n["by"]["name"], "Rita Responsabile");
    assert!(
        n["excerpt"]
            .as_str()
            .expect("excerpt")
            .starts_with("@Sara Smistatrice puoi controllare"),
        "{n:?}"
    );
    assert!(n["read_at"].is_null());
    assert!(chrono::DateTime::parse_from_rfc3339(n["created_at"].as_str().expect("at")).is_ok());
    // The author is not told about her own comment; Paolo was not mentioned.
    assert!(notifications(app, &d.rita, "").await.is_empty());
    assert!(notifications(app, &d.paolo, "").await.is_empty());

    // The edit adds Paolo by his e-mail's local part: only he is told now.
    let e = app
        .patch(
            &d.rita,
            &format!("/api/v1/comments/{c}"),
            json!({"body": "@Sara Smistatrice puoi controllare la ricevuta? Poi @approvatore approva."}),
        )
        .await;
    assert_eq!(e.status, StatusCode::OK, "{:?}", e.body);
    assert_eq!(notifications(app, &d.sara, "").await.len(), 1);
    let paolo = notifications(app, &d.paolo, "").await;
    assert_eq!(paolo.len(), 1, "{paolo:?}");
    assert_eq!(paolo[0]["comment_id"], c.as_str());
    assert!(
        paolo[0]["excerpt"]
            .as_str()
            .expect("excerpt")
            .contains("@approvatore approva")
    );
    // Editing again changes nothing for either.
    let e = app
        .patch(
            &d.rita,
            &format!("/api/v1/comments/{c}"),
            json!({"body": "@Sara Smistatrice @Paolo Approvatore grazie."}),
        )
        .await;
    assert_eq!(e.status, StatusCode::OK);
    assert_eq!(notifications(app, &d.sara, "").await.len(), 1);
    assert_eq!(notifications(app, &d.paolo, "").await.len(), 1);

    // A second comment is a second notification, newest first; paging walks them.
    let c2 = comment(app, &d.paolo, &d.activity, "Fatto, @sara.").await;
    assert_eq!(
        notifications(app, &d.sara, "").await.len(),
        1,
        "sara is smistatore@"
    );
    let c3 = comment(app, &d.paolo, &d.activity, "Fatto, @smistatore.").await;
    let sara = notifications(app, &d.sara, "").await;
    assert_eq!(sara.len(), 2);
    assert_eq!(sara[0]["comment_id"], c3.as_str());
    assert_eq!(sara[1]["comment_id"], c.as_str());
    let first = app.get(&d.sara, "/api/v1/notifications?limit=1").await;
    assert_eq!(first.body["items"][0]["comment_id"], c3.as_str());
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let second = app
        .get(
            &d.sara,
            &format!("/api/v1/notifications?limit=1&cursor={cursor}"),
        )
        .await;
    assert_eq!(second.body["items"][0]["comment_id"], c.as_str());
    assert!(second.body["next_cursor"].is_null());
    let _ = c2;

    // The comment's audit entries name who was told, in the same transaction.
    let sara_id = app.user_id("smistatore@demo.test").await;
    let details: String = crate::scalar!(
        app,
        "SELECT details FROM audit_log WHERE action = 'comment.create' AND object_id = $1",
        &c
    );
    assert!(details.contains(&sara_id), "{details}");
}

async fn people_who_cannot_read_and_other_organisations_get_nothing(engine: Engine) {
    let d = demo(engine).await;
    let app = &d.app;
    let elena = app.login("esterno@demo.test").await;
    let alberto = app.login("altro@altra.test").await;
    // Elena (no grant on Protocollo) and Alberto (another organisation) are mentioned by
    // name and by local part; the answer is the same as for a name nobody has.
    let a = app
        .post(
            &d.rita,
            &format!("/api/v1/activities/{}/comments", d.activity),
            json!({"body": "@Elena Esterna @esterno @Alberto Altro @altro @Nessuno Qui"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert!(notifications(app, &elena, "").await.is_empty());
    assert!(notifications(app, &alberto, "").await.is_empty());
    let none: i64 = crate::scalar!(app, "SELECT COUNT(*) FROM notifications");
    assert_eq!(none, 0);

    // Once Elena is the assignee she can read it, and a mention reaches her.
    let elena_id = app.user_id("esterno@demo.test").await;
    let v = app.version(&d.rita, &d.activity).await;
    let u = app
        .patch(
            &d.rita,
            &format!("/api/v1/activities/{}", d.activity),
            json!({"version": v, "assignee_id": elena_id}),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{:?}", u.body);
    comment(app, &d.rita, &d.activity, "@Elena Esterna ecco la pratica").await;
    assert_eq!(notifications(app, &elena, "").await.len(), 1);
    assert!(notifications(app, &alberto, "").await.is_empty());
}

async fn only_the_recipient_reads_and_marks_a_notification(engine: Engine) {
    let d = demo(engine).await;
    let app = &d.app;
    comment(app, &d.rita, &d.activity, "@Sara Smistatrice a te").await;
    let id = notifications(app, &d.sara, "?unread=true").await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let alberto = app.login("altro@altra.test").await;
    // Nobody else can mark it (404, as for a missing id), nor list it.
    for token in [&d.rita, &d.paolo, &alberto] {
        let a = app
            .post(
                token,
                &format!("/api/v1/notifications/{id}/read"),
                json!({}),
            )
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
        assert_envelope(&a, "not_found");
        assert!(notifications(app, token, "").await.is_empty());
    }
    assert_eq!(notifications(app, &d.sara, "?unread=true").await.len(), 1);
    let missing = app
        .post(
            &d.sara,
            "/api/v1/notifications/00000000-0000-0000-0000-000000000000/read",
            json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Sara marks it read: gone from the unread list, kept in the full one with read_at.
    let r = app
        .post(
            &d.sara,
            &format!("/api/v1/notifications/{id}/read"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let at = r.body["read_at"].as_str().expect("read_at").to_owned();
    assert!(notifications(app, &d.sara, "?unread=true").await.is_empty());
    let all = notifications(app, &d.sara, "?unread=false").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["read_at"], at.as_str());
    // Marking again keeps the first time.
    let again = app
        .post(
            &d.sara,
            &format!("/api/v1/notifications/{id}/read"),
            json!({}),
        )
        .await;
    assert_eq!(again.body["read_at"], at.as_str());

    // Signed out: 401; a bad cursor: 422.
    let anonymous = app
        .send(Method::GET, "/api/v1/notifications", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let bad = app.get(&d.sara, "/api/v1/notifications?cursor=zzz").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
