//! Presence, the add-ins' collision warning (issue 15): who is viewing or replying to a
//! message or an activity; entries expire; the event stream shows another user's change;
//! people who cannot read the object, and other organisations, get 404.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    presence_shows_who_is_on_a_message_keeps_since_and_expires,
    presence_on_an_activity_follows_its_readers,
    presence_is_404_for_people_who_cannot_read_and_for_other_organisations,
    the_presence_stream_delivers_a_change_made_by_another_user,
);

struct Demo {
    app: TestApp,
    rita: String,
    sara: String,
    message: String,
}

/// Rita (responsabile) and Sara (smistatrice) can both read a fresh message of Protocollo.
async fn demo(engine: Engine) -> Demo {
    let app = spawn_app(engine).await;
    let rita = app.login("responsabile@demo.test").await;
    let sara = app.login("smistatore@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let message = app.import_fresh(&rita, &protocollo, "presenza").await;
    Demo {
        app,
        rita,
        sara,
        message,
    }
}

fn on(kind: &str, id: &str) -> String {
    format!("/api/v1/presence?object={kind}&id={id}")
}

async fn put(app: &TestApp, token: &str, kind: &str, id: &str, state: &str) -> StatusCode {
    app.put(
        token,
        "/api/v1/presence",
        json!({"object": kind, "id": id, "state": state}),
    )
    .await
    .status
}

fn people(body: &Value) -> Vec<(String, String, bool)> {
    body["people"]
        .as_array()
        .expect("people")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name").to_owned(),
                p["state"].as_str().expect("state").to_owned(),
                p["me"].as_bool().expect("me"),
            )
        })
        .collect()
}

async fn presence_shows_who_is_on_a_message_keeps_since_and_expires(engine: Engine) {
    let d = demo(engine).await;
    let (app, m) = (&d.app, d.message.as_str());
    assert_eq!(
        put(app, &d.rita, "message", m, "viewing").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(app, &d.sara, "message", m, "replying").await,
        StatusCode::NO_CONTENT
    );
    let seen = app.get(&d.rita, &on("message", m)).await;
    assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);
    assert_eq!(seen.body["object"], "message");
    assert_eq!(seen.body["id"], m);
    assert_eq!(
        people(&seen.body),
        [
            ("Rita Responsabile".into(), "viewing".into(), true),
            ("Sara Smistatrice".into(), "replying".into(), false),
        ]
    );
    let rita_id = app.user_id("responsabile@demo.test").await;
    assert_eq!(seen.body["people"][0]["user_id"], rita_id.as_str());
    let since = seen.body["people"][0]["since"]
        .as_str()
        .expect("since")
        .to_owned();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&since).is_ok(),
        "{since}"
    );
    // Seen from Sara's side, `me` follows the caller.
    let by_sara = app.get(&d.sara, &on("message", m)).await;
    assert_eq!(
        people(&by_sara.body)
            .iter()
            .map(|p| p.2)
            .collect::<Vec<_>>(),
        [false, true]
    );

    // A refresh keeps `since`; a new state starts it again.
    tokio::time::sleep(Duration::from_millis(20)).await;
    put(app, &d.rita, "message", m, "viewing").await;
    let again = app.get(&d.rita, &on("message", m)).await;
    assert_eq!(again.body["people"][0]["since"], since.as_str());
    put(app, &d.rita, "message", m, "replying").await;
    let replying = app.get(&d.rita, &on("message", m)).await;
    let rita_row = replying.body["people"]
        .as_array()
        .expect("people")
        .iter()
        .find(|p| p["me"] == true)
        .expect("rita")
        .clone();
    assert_eq!(rita_row["state"], "replying");
    assert_ne!(rita_row["since"], since.as_str());

    // Leaving removes only the caller.
    let left = app
        .send(
            Method::DELETE,
            "/api/v1/presence",
            Some(&d.sara),
            Some(json!({"object": "message", "id": m})),
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{:?}", left.body);
    let after = app.get(&d.rita, &on("message", m)).await;
    assert_eq!(
        people(&after.body),
        [("Rita Responsabile".into(), "replying".into(), true)]
    );

    // 60 s after the last refresh an entry is gone (time as a parameter, no waiting).
    let sara_id = app.user_id("smistatore@demo.test").await;
    let org: String = crate::scalar!(app, "SELECT org_id FROM users WHERE id = $1", &sara_id);
    let now = chrono::Utc::now().timestamp_millis();
    pecdesk_companion::store::presence::touch(
        &app.store,
        &org,
        "message",
        m,
        &sara_id,
        "viewing",
        now - 61_000,
    )
    .await
    .expect("touch");
    let expired = app.get(&d.rita, &on("message", m)).await;
    assert_eq!(people(&expired.body).len(), 1, "{:?}", expired.body);
    pecdesk_companion::store::presence::touch(
        &app.store,
        &org,
        "message",
        m,
        &sara_id,
        "viewing",
        now - 59_000,
    )
    .await
    .expect("touch");
    let fresh = app.get(&d.rita, &on("message", m)).await;
    assert_eq!(people(&fresh.body).len(), 2, "{:?}", fresh.body);

    // Bad input: the envelope, naming the field.
    let bad = app
        .put(
            &d.rita,
            "/api/v1/presence",
            json!({"object": "message", "id": m, "state": "typing"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_envelope(&bad, "invalid");
    let bad = app
        .put(
            &d.rita,
            "/api/v1/presence",
            json!({"object": "mailbox", "id": m, "state": "viewing"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app.send(Method::GET, &on("message", m), None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn presence_on_an_activity_follows_its_readers(engine: Engine) {
    let d = demo(engine).await;
    let app = &d.app;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let (activity, _) = app
        .create_activity(
            &d.rita,
            json!({"mailbox_id": protocollo, "title": "Rispondere", "message_ids": [d.message]}),
        )
        .await;
    assert_eq!(
        put(app, &d.rita, "activity", &activity, "replying").await,
        StatusCode::NO_CONTENT
    );
    let seen = app.get(&d.rita, &on("activity", &activity)).await;
    assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);
    assert_eq!(
        people(&seen.body),
        [("Rita Responsabile".into(), "replying".into(), true)]
    );
    // The message and the activity are two objects.
    let on_message = app.get(&d.rita, &on("message", &d.message)).await;
    assert_eq!(people(&on_message.body).len(), 0);
    // Elena (external, no grant on Protocollo) cannot read the activity.
    let elena = app.login("esterno@demo.test").await;
    assert_eq!(
        app.get(&elena, &on("activity", &activity)).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn presence_is_404_for_people_who_cannot_read_and_for_other_organisations(engine: Engine) {
    let d = demo(engine).await;
    let (app, m) = (&d.app, d.message.as_str());
    put(app, &d.rita, "message", m, "viewing").await;
    let elena = app.login("esterno@demo.test").await;
    let alberto = app.login("altro@altra.test").await;
    for token in [&elena, &alberto] {
        assert_eq!(
            put(app, token, "message", m, "replying").await,
            StatusCode::NOT_FOUND
        );
        let a = app.get(token, &on("message", m)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_envelope(&a, "not_found");
        let a = app
            .get(
                token,
                &format!("/api/v1/presence/stream?object=message&id={m}"),
            )
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        let a = app
            .send(
                Method::DELETE,
                "/api/v1/presence",
                Some(token),
                Some(json!({"object": "message", "id": m})),
            )
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }
    // Nothing of theirs was recorded, and Rita is still there.
    let seen = app.get(&d.rita, &on("message", m)).await;
    assert_eq!(
        people(&seen.body),
        [("Rita Responsabile".into(), "viewing".into(), true)]
    );
    // An id that does not exist answers the same.
    assert_eq!(
        app.get(
            &d.rita,
            &on("message", "00000000-0000-0000-0000-000000000000")
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

/// Reads server-sent events from `resp` until one `presence` event arrives (10 s at most).
async fn next_event(resp: &mut reqwest::Response, buf: &mut String) -> Value {
    loop {
        if let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if block.lines().any(|l| l == "event: presence") {
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                return serde_json::from_str(&data).expect("event JSON");
            }
            continue; // a keep-alive comment
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("an event within 10 s")
            .expect("stream")
            .expect("stream still open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn the_presence_stream_delivers_a_change_made_by_another_user(engine: Engine) {
    let d = demo(engine).await;
    let (app, m) = (&d.app, d.message.as_str());
    put(app, &d.rita, "message", m, "viewing").await;
    let mut resp = app
        .client
        .get(app.url(&format!("/api/v1/presence/stream?object=message&id={m}")))
        .bearer_auth(&d.rita)
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    let mut buf = String::new();
    // At once: what is there now.
    let first = next_event(&mut resp, &mut buf).await;
    assert_eq!(
        people(&first),
        [("Rita Responsabile".into(), "viewing".into(), true)]
    );
    // Sara starts replying: Rita's stream says so.
    put(app, &d.sara, "message", m, "replying").await;
    let second = next_event(&mut resp, &mut buf).await;
    assert_eq!(
        people(&second),
        [
            ("Rita Responsabile".into(), "viewing".into(), true),
            ("Sara Smistatrice".into(), "replying".into(), false),
        ]
    );
    // Sara closes her pane.
    app.send(
        Method::DELETE,
        "/api/v1/presence",
        Some(&d.sara),
        Some(json!({"object": "message", "id": m})),
    )
    .await;
    let third = next_event(&mut resp, &mut buf).await;
    assert_eq!(people(&third).len(), 1, "{third}");
}
