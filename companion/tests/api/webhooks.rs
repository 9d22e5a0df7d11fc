//! Webhooks and the live event stream (issue 16): a real HTTP receiver (axum on port 0)
//! gets each event once with a valid HMAC; a failing one is retried with backoff (the
//! worker's pass driven with an explicit `now`), then failed, then redelivered by hand; two
//! workers on one database deliver each event once; the secret is shown once and never
//! again; the desk's stream shows a change another user made in a mailbox the reader sees,
//! and nothing of another mailbox or organisation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use pecdesk_companion::store::now_ms;
use pecdesk_companion::webhooks::{self, TickReport, WebhookSettings};
use pecdesk_companion::{AppState, Settings, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::both_engines;
use crate::helpers::{Engine, TestApp, spawn_app};

both_engines!(
    each_event_reaches_the_receiver_once_with_a_valid_signature,
    a_failing_receiver_is_retried_with_backoff_then_failed_then_redelivered,
    two_workers_on_one_database_deliver_each_event_once,
    only_administrators_manage_webhooks_and_targets_are_checked,
    the_stream_shows_what_the_reader_may_see_and_resumes,
    a_failed_receipt_is_told_from_its_import,
    the_demo_shows_a_disabled_example_subscription,
    openapi_documents_webhooks_the_stream_and_the_payload,
    a_rotated_secret_signs_from_then_on_and_is_shown_once,
);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    event: String,
    delivery: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A webhook receiver on a loopback port: records every request and answers `status`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    status: Arc<AtomicU16>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Self {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (g, s) = (Arc::clone(&got), Arc::clone(&status));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (g, s) = (Arc::clone(&g), Arc::clone(&s));
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    g.lock().expect("lock").push(Got {
                        event: h("x-pecdesk-event"),
                        delivery: h("x-pecdesk-delivery"),
                        timestamp: h("x-pecdesk-timestamp"),
                        signature: h("x-pecdesk-signature"),
                        body,
                    });
                    axum::http::StatusCode::from_u16(s.load(Ordering::SeqCst)).expect("status")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver");
        });
        Self {
            url: format!("http://{addr}/hook"),
            got,
            status,
            _server: server,
        }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().expect("lock").clone()
    }
}

/// The app's state over a store of the same database and data folder (same master key);
/// `own_pool`: a second connection pool, as another replica has.
async fn state_of(app: &TestApp, own_pool: bool, demo: bool) -> AppState {
    let args = app.db_args();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args[i + 1].clone())
    };
    let mut settings = Settings::for_data_dir(arg("--data-dir").expect("data dir"));
    if let Some(url) = arg("--database-url") {
        settings.database_url = Some(url.into());
    }
    settings.demo = demo;
    let store = if own_pool {
        Store::connect(&settings).await.expect("second store")
    } else {
        app.store.clone()
    };
    AppState::new(settings, store).await.expect("state")
}

fn fast() -> WebhookSettings {
    WebhookSettings {
        max_attempts: 3,
        retry_base_secs: 10,
        max_backoff_secs: 3600,
        timeout_secs: 5,
        ..WebhookSettings::default()
    }
}

/// The signature a receiver computes.
fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn subscribe(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let a = app
        .post(
            admin,
            "/api/v1/webhooks",
            json!({"url": url, "events": events, "description": "protocollo"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let secret = a.body["secret"].as_str().expect("secret once").to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    (a.body["id"].as_str().expect("id").to_owned(), secret)
}

async fn tick(state: &AppState, worker: &str, now: i64) -> TickReport {
    webhooks::tick_with(state, &fast(), worker, now)
        .await
        .expect("tick")
}

async fn each_event_reaches_the_receiver_once_with_a_valid_signature(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let rx = Receiver::start().await;
    let events = [
        "message.received",
        "activity.created",
        "activity.assigned",
        "activity.closed",
    ];
    let (hook, secret) = subscribe(&app, &admin, &rx.url, &events).await;

    // The secret is never answered again, nor stored in clear.
    for path in [
        "/api/v1/webhooks".to_owned(),
        format!("/api/v1/webhooks/{hook}"),
    ] {
        let a = app.get(&admin, &path).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let text = a.body.to_string();
        assert!(
            !text.contains(&secret) && !text.contains("\"secret\""),
            "{text}"
        );
    }
    let stored: String = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT secret FROM webhooks WHERE id = $1"
    )
    .bind(&hook)
    .fetch_one(p)
    .await)
    .expect("row");
    assert!(stored.starts_with("v1:") && !stored.contains(&secret[6..]));

    // Rita imports a PEC and opens an activity assigned to Aldo, then cancels it.
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let aldo = app.user_id("assegnatario@demo.test").await;
    let message = app.import_fresh(&rita, &protocollo, "webhook-1").await;
    let (activity, version) = app
        .create_activity(
            &rita,
            json!({"mailbox_id": protocollo, "title": "Rispondere", "message_ids": [message],
                   "assignee_id": aldo}),
        )
        .await;
    let moved = app
        .post(
            &rita,
            &format!("/api/v1/activities/{activity}/transitions"),
            json!({"to": "cancelled", "version": version}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);

    let state = state_of(&app, false, true).await;
    let first = tick(&state, "w1", now_ms()).await;
    assert_eq!((first.queued, first.delivered), (4, 4), "{first:?}");
    // A second pass finds nothing new: each event once.
    let again = tick(&state, "w1", now_ms()).await;
    assert_eq!(again, TickReport::default());

    let got = rx.got();
    let mut types: Vec<&str> = got.iter().map(|g| g.event.as_str()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "activity.assigned",
            "activity.closed",
            "activity.created",
            "message.received"
        ]
    );
    let mut ids = HashMap::new();
    for g in &got {
        assert_eq!(
            g.signature,
            expected_signature(&secret, &g.timestamp, &g.body),
            "signature of {}",
            g.event
        );
        assert_ne!(
            g.signature,
            expected_signature("whsec_wrong", &g.timestamp, &g.body)
        );
        let body: Value = serde_json::from_str(&g.body).expect("JSON body");
        assert_eq!(body["id"], g.delivery.as_str());
        assert_eq!(body["type"], g.event.as_str());
        // Ids only: no address, no subject.
        assert!(
            !g.body.contains('@') && !g.body.contains("Prova") && !g.body.contains("Rispondere"),
            "{}",
            g.body
        );
        *ids.entry(g.delivery.clone()).or_insert(0) += 1;
    }
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
    let created = got
        .iter()
        .find(|g| g.event == "activity.created")
        .expect("created");
    let body: Value = serde_json::from_str(&created.body).expect("json");
    assert_eq!(body["object"], json!({"type": "activity", "id": activity}));
    assert_eq!(body["data"]["assignee_id"], aldo.as_str());
    assert_eq!(body["data"]["mailbox_id"], protocollo.as_str());

    // The log shows them delivered, with the receiver's status.
    let log = app
        .get(&admin, &format!("/api/v1/webhooks/{hook}/deliveries"))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    let items = log.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 4);
    assert!(
        items
            .iter()
            .all(|d| d["status"] == "delivered" && d["last_status"] == 200 && d["attempts"] == 1),
        "{items:?}"
    );

    // The test button: signed like the rest, recorded in the log.
    let t = app
        .post(&admin, &format!("/api/v1/webhooks/{hook}/test"), json!({}))
        .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    assert_eq!(
        (t.body["delivered"].clone(), t.body["status"].clone()),
        (json!(true), json!(200))
    );
    let last = rx.got().pop().expect("test request");
    assert_eq!(last.event, "webhook.test");
    assert_eq!(
        last.signature,
        expected_signature(&secret, &last.timestamp, &last.body)
    );
}

/// The newest delivery of a subscription, as the log shows it.
async fn last_delivery(app: &TestApp, admin: &str, hook: &str) -> Value {
    let a = app
        .get(admin, &format!("/api/v1/webhooks/{hook}/deliveries"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["items"][0].clone()
}

async fn a_failing_receiver_is_retried_with_backoff_then_failed_then_redelivered(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let rx = Receiver::start().await;
    rx.status.store(500, Ordering::SeqCst);
    let (hook, _) = subscribe(&app, &admin, &rx.url, &["activity.created"]).await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    app.create_activity(&rita, json!({"mailbox_id": protocollo, "title": "Uno"}))
        .await;
    let state = state_of(&app, false, true).await;
    let at = |d: &Value| {
        chrono::DateTime::parse_from_rfc3339(d["next_attempt_at"].as_str().expect("next"))
            .expect("time")
            .timestamp_millis()
    };

    let t0 = now_ms();
    let r = tick(&state, "w1", t0).await;
    assert_eq!((r.attempted, r.retried), (1, 1), "{r:?}");
    let d = last_delivery(&app, &admin, &hook).await;
    assert_eq!(
        (
            d["status"].clone(),
            d["attempts"].clone(),
            d["last_status"].clone()
        ),
        (json!("pending"), json!(1), json!(500))
    );
    assert_eq!(d["last_error"], "HTTP 500");
    // First wait: 10 s, with jitter between half and all of it.
    let next = at(&d);
    assert!((t0 + 5_000..=t0 + 10_000).contains(&next), "{}", next - t0);
    // Not before it is due.
    assert_eq!(tick(&state, "w1", next - 1).await.attempted, 0);
    let r = tick(&state, "w1", next).await;
    assert_eq!((r.attempted, r.retried), (1, 1), "{r:?}");
    let d = last_delivery(&app, &admin, &hook).await;
    let next2 = at(&d);
    // Second wait: doubled (10..=20 s).
    assert!(
        (next + 10_000..=next + 20_000).contains(&next2),
        "{}",
        next2 - next
    );
    // Third attempt: the last one allowed.
    let r = tick(&state, "w1", next2).await;
    assert_eq!((r.attempted, r.failed), (1, 1), "{r:?}");
    let d = last_delivery(&app, &admin, &hook).await;
    assert_eq!(
        (d["status"].clone(), d["attempts"].clone()),
        (json!("failed"), json!(3))
    );
    assert!(d["next_attempt_at"].is_null());
    assert_eq!(tick(&state, "w1", next2 + 3_600_000).await.attempted, 0);

    // The receiver is fixed; an administrator sends it again.
    rx.status.store(204, Ordering::SeqCst);
    let id = d["id"].as_str().expect("id");
    let again = app
        .post(
            &admin,
            &format!("/api/v1/webhooks/{hook}/deliveries/{id}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["status"], "pending");
    let r = tick(&state, "w1", now_ms()).await;
    assert_eq!(r.delivered, 1, "{r:?}");
    let d = last_delivery(&app, &admin, &hook).await;
    assert_eq!(
        (d["status"].clone(), d["last_status"].clone()),
        (json!("delivered"), json!(204))
    );
    // Four requests, all of the same event (one id to de-duplicate by).
    let got = rx.got();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|g| g.delivery == got[0].delivery));
    let entries: i64 = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.redeliver'"
    )
    .fetch_one(p)
    .await)
    .expect("count");
    assert_eq!(entries, 1);
}

async fn two_workers_on_one_database_deliver_each_event_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let rx = Receiver::start().await;
    subscribe(&app, &admin, &rx.url, &["activity.created"]).await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    const N: usize = 12;
    for i in 0..N {
        app.create_activity(
            &rita,
            json!({"mailbox_id": protocollo, "title": format!("Attività {i}")}),
        )
        .await;
    }
    // Two replicas: each its own connection pool and worker id.
    let (a, b) = (
        state_of(&app, true, true).await,
        state_of(&app, true, true).await,
    );
    let settings = WebhookSettings {
        batch_size: 3,
        ..fast()
    };
    let mut attempted = (0, 0);
    for _ in 0..20 {
        let now = now_ms();
        let (ra, rb) = tokio::join!(
            webhooks::tick_with(&a, &settings, "replica-a", now),
            webhooks::tick_with(&b, &settings, "replica-b", now),
        );
        let (ra, rb) = (ra.expect("tick a"), rb.expect("tick b"));
        attempted.0 += ra.attempted;
        attempted.1 += rb.attempted;
        if ra.attempted == 0 && rb.attempted == 0 && rx.got().len() >= N {
            break;
        }
    }
    let got = rx.got();
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for g in &got {
        *per_event.entry(g.delivery.clone()).or_default() += 1;
    }
    assert_eq!(per_event.len(), N, "{per_event:?}");
    assert!(per_event.values().all(|n| *n == 1), "{per_event:?}");
    assert_eq!(attempted.0 + attempted.1, N, "{attempted:?}");
    let rows: i64 = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_deliveries"
    )
    .fetch_one(p)
    .await)
    .expect("count");
    assert_eq!(rows, i64::try_from(N).expect("n"));
}

async fn only_administrators_manage_webhooks_and_targets_are_checked(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let altro = app.login("altro@altra.test").await;
    let rx = Receiver::start().await;
    for token in [&rita, &altro] {
        assert_eq!(
            app.get(token, "/api/v1/webhooks").await.status,
            StatusCode::FORBIDDEN
        );
        let a = app
            .post(
                token,
                "/api/v1/webhooks",
                json!({"url": rx.url, "events": ["activity.created"]}),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
    }
    for (url, events) in [
        ("http://example.com/hook", vec!["activity.created"]),
        ("ftp://example.com/hook", vec!["activity.created"]),
        ("https://user:pw@example.com/hook", vec!["activity.created"]),
        ("https://example.com/hook", vec!["activity.exploded"]),
        ("https://example.com/hook", vec![]),
    ] {
        let a = app
            .post(
                &admin,
                "/api/v1/webhooks",
                json!({"url": url, "events": events}),
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url} {events:?}"
        );
    }
    let (hook, secret) = subscribe(&app, &admin, &rx.url, &["activity.created"]).await;
    assert_eq!(
        app.get(
            &admin,
            "/api/v1/webhooks/00000000-0000-0000-0000-000000000000"
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Another organisation's administrator: the subscription does not exist for them.
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "UPDATE users SET is_admin = true WHERE email = 'altro@altra.test'"
    )
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .expect("promote");
    let base = format!("/api/v1/webhooks/{hook}");
    assert_eq!(app.get(&altro, "/api/v1/webhooks").await.body, json!([]));
    for (method, path) in [
        (reqwest::Method::GET, base.clone()),
        (reqwest::Method::PATCH, base.clone()),
        (reqwest::Method::DELETE, base.clone()),
        (reqwest::Method::POST, format!("{base}/test")),
        (reqwest::Method::GET, format!("{base}/deliveries")),
        (
            reqwest::Method::POST,
            format!("{base}/deliveries/{hook}/retry"),
        ),
    ] {
        let body = (method == reqwest::Method::PATCH).then(|| json!({"enabled": false}));
        let a = app.send(method.clone(), &path, Some(&altro), body).await;
        assert_eq!(
            a.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {:?}",
            a.body
        );
    }
    // Edit: disable, re-enable, change the events; each change audited without the URL.
    let a = app
        .patch(
            &admin,
            &format!("/api/v1/webhooks/{hook}"),
            json!({"events": ["activity.created", "approval.requested"], "format": "slack"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["format"], "slack");
    assert_eq!(
        a.body["events"],
        json!(["activity.created", "approval.requested"])
    );
    let details: Vec<String> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE object_type = 'webhook' ORDER BY seq"
    )
    .fetch_all(p)
    .await)
    .expect("audit");
    assert_eq!(details.len(), 2, "{details:?}");
    assert!(
        details
            .iter()
            .all(|d| !d.contains("127.0.0.1") && !d.contains(&secret[6..])),
        "{details:?}"
    );

    // Outside demo and dev mode, loopback targets are refused at delivery, for good.
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    app.create_activity(&rita, json!({"mailbox_id": protocollo, "title": "Uno"}))
        .await;
    let production = state_of(&app, false, false).await;
    let r = tick(&production, "w1", now_ms()).await;
    assert_eq!((r.attempted, r.failed), (1, 1), "{r:?}");
    assert!(rx.got().is_empty(), "nothing reached the loopback receiver");
    let log = app
        .get(
            &admin,
            &format!("/api/v1/webhooks/{hook}/deliveries?status=failed"),
        )
        .await;
    let err = log.body["items"][0]["last_error"].as_str().expect("error");
    assert!(err.contains("not allowed"), "{err}");

    // Delete: gone from the list, nothing more queued.
    let a = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/webhooks/{hook}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let list = app.get(&admin, "/api/v1/webhooks").await;
    assert_eq!(list.body, json!([]));
    app.create_activity(&rita, json!({"mailbox_id": protocollo, "title": "Due"}))
        .await;
    let state = state_of(&app, false, true).await;
    assert_eq!(tick(&state, "w1", now_ms()).await, TickReport::default());
}

/// Reads `change` events from `resp` until one about `object_id` arrives (10 s at most);
/// returns every event read.
async fn events_until(
    resp: &mut reqwest::Response,
    buf: &mut String,
    object_id: &str,
) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        if let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if block.lines().any(|l| l == "event: change") {
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                let v: Value = serde_json::from_str(&data).expect("event JSON");
                let id_line = block
                    .lines()
                    .find_map(|l| l.strip_prefix("id: "))
                    .expect("id line");
                assert_eq!(v["id"], id_line);
                let done = v["object"]["id"] == object_id;
                seen.push(v);
                if done {
                    return seen;
                }
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("an event within 10 s")
            .expect("stream")
            .expect("stream still open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn open_stream(app: &TestApp, token: &str, last: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(token);
    if let Some(id) = last {
        req = req.header("Last-Event-ID", id);
    }
    let resp = req.send().await.expect("stream");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    resp
}

async fn the_stream_shows_what_the_reader_may_see_and_resumes(engine: Engine) {
    let app = spawn_app(engine).await;
    let rita = app.login("responsabile@demo.test").await;
    // Paolo reads activities of Protocollo only.
    let paolo = app.login("approvatore@demo.test").await;
    let altro = app.login("altro@altra.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let altra = app.mailbox_id("pec@pec.altra.test").await;
    assert_eq!(
        app.client
            .get(app.url("/api/v1/events/stream"))
            .send()
            .await
            .expect("anonymous")
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let mut resp = open_stream(&app, &paolo, None).await;
    let mut buf = String::new();
    // Another mailbox, another organisation, then Paolo's mailbox.
    let (hidden, _) = app
        .create_activity(&rita, json!({"mailbox_id": legale, "title": "Legale"}))
        .await;
    let (other_org, _) = app
        .create_activity(&altro, json!({"mailbox_id": altra, "title": "Altra"}))
        .await;
    let (shown, _) = app
        .create_activity(
            &rita,
            json!({"mailbox_id": protocollo, "title": "Protocollo"}),
        )
        .await;
    let seen = events_until(&mut resp, &mut buf, &shown).await;
    let objects: Vec<&str> = seen
        .iter()
        .filter_map(|e| e["object"]["id"].as_str())
        .collect();
    assert!(!objects.contains(&hidden.as_str()), "{seen:?}");
    assert!(!objects.contains(&other_org.as_str()), "{seen:?}");
    let event = seen.last().expect("event").clone();
    assert_eq!(event["type"], "activity.created");
    assert_eq!(event["object"], json!({"type": "activity", "id": shown}));
    // Ids only: nothing else in the event.
    assert_eq!(event.as_object().expect("object").len(), 3, "{event}");

    // Rita takes it in progress; then a reconnection after the creation sees the change.
    let before = event["id"].as_str().expect("id").to_owned();
    let version = app.version(&rita, &shown).await;
    let a = app
        .post(
            &rita,
            &format!("/api/v1/activities/{shown}/transitions"),
            json!({"to": "in_progress", "version": version}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    drop(resp);
    let mut resumed = open_stream(&app, &paolo, Some(&before)).await;
    let mut buf = String::new();
    let seen = events_until(&mut resumed, &mut buf, &shown).await;
    let change = seen.last().expect("change");
    assert_eq!(change["type"], "activity.changed");
    assert_ne!(change["id"], before.as_str());
    assert!(seen.iter().all(|e| e["id"] != before.as_str()), "{seen:?}");
}

/// `receipt.failed` comes from the import of a failure receipt (the demo's
/// errore-consegna, imported at seed time: the subscription's cursor is set back to the
/// start of the chain to read it), and from nothing else the demo imported.
async fn a_failed_receipt_is_told_from_its_import(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rx = Receiver::start().await;
    let (hook, _) = subscribe(&app, &admin, &rx.url, &["receipt.failed"]).await;
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "UPDATE webhooks SET audit_cursor = 0 WHERE id = $1"
    )
    .bind(&hook)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .expect("rewind");
    let receipt: String = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT id FROM messages WHERE kind = 'errore-consegna'"
    )
    .fetch_one(p)
    .await)
    .expect("the demo's errore-consegna");
    let state = state_of(&app, false, true).await;
    let r = tick(&state, "w1", now_ms()).await;
    assert_eq!((r.queued, r.delivered), (1, 1), "{r:?}");
    let got = rx.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event, "receipt.failed");
    let body: Value = serde_json::from_str(&got[0].body).expect("json");
    assert_eq!(body["object"], json!({"type": "message", "id": receipt}));
    assert_eq!(body["data"]["kind"], "errore-consegna");
}

/// `serve --demo` seeds a disabled example subscription: listed without its secret, its
/// test send fails in words (nobody listens there), and the log shows the attempt.
async fn the_demo_shows_a_disabled_example_subscription(engine: Engine) {
    let app = spawn_app(engine).await;
    let state = state_of(&app, false, true).await;
    pecdesk_companion::demo::seed_webhook(&app.store, state.tokens().master())
        .await
        .expect("demo webhook");
    let admin = app.login("admin@demo.test").await;
    let list = app.get(&admin, "/api/v1/webhooks").await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    let items = list.body.as_array().expect("list");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["enabled"], false);
    assert!(items[0].get("secret").is_none());
    let id = items[0]["id"].as_str().expect("id");
    let t = app
        .post(&admin, &format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    assert_eq!(t.body["delivered"], false);
    assert_eq!(t.body["error"], "connection failed");
    let log = app
        .get(&admin, &format!("/api/v1/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(log.body["items"][0]["status"], "failed");
    assert_eq!(log.body["items"][0]["event_type"], "webhook.test");
    // Disabled: the worker queues nothing for it.
    let rita = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    app.import_fresh(&rita, &protocollo, "demo-webhook").await;
    assert_eq!(tick(&state, "w1", now_ms()).await, TickReport::default());
}

async fn openapi_documents_webhooks_the_stream_and_the_payload(engine: Engine) {
    let app = spawn_app(engine).await;
    let doc = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    for path in [
        "/api/v1/webhooks",
        "/api/v1/webhooks/{id}",
        "/api/v1/webhooks/{id}/test",
        "/api/v1/webhooks/{id}/deliveries",
        "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
        "/api/v1/events/stream",
    ] {
        assert!(doc.body["paths"][path].is_object(), "{path} documented");
    }
    let schemas = &doc.body["components"]["schemas"];
    for name in [
        "Event",
        "EventType",
        "EventObject",
        "WebhookCreated",
        "DeliveryView",
    ] {
        assert!(schemas[name].is_object(), "{name} documented");
    }
    // The headers and the signature are told where the subscription is made.
    let create = doc.body["paths"]["/api/v1/webhooks"]["post"].to_string();
    assert!(
        create.contains("X-PecDesk-Signature") && create.contains("X-PecDesk-Delivery"),
        "{create}"
    );
}

/// The logs of a whole story (create, deliver, test) at TRACE level never hold the secret.
/// A current-thread runtime, so the server, the worker and the receiver all log on the
/// thread whose subscriber captures them.
mod logs {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use pecdesk_companion::store::now_ms;
    use serde_json::json;

    use super::{Receiver, state_of, subscribe, tick};
    use crate::helpers::{Engine, spawn_app};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn story(engine: Engine) {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = spawn_app(engine).await;
        let admin = app.login("admin@demo.test").await;
        let rita = app.login("responsabile@demo.test").await;
        let rx = Receiver::start().await;
        let (hook, secret) = subscribe(&app, &admin, &rx.url, &["activity.created"]).await;
        let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
        app.create_activity(&rita, json!({"mailbox_id": protocollo, "title": "Log"}))
            .await;
        let state = state_of(&app, false, true).await;
        assert_eq!(tick(&state, "w1", now_ms()).await.delivered, 1);
        let t = app
            .post(&admin, &format!("/api/v1/webhooks/{hook}/test"), json!({}))
            .await;
        assert_eq!(t.body["delivered"], true);
        let logs = String::from_utf8_lossy(&capture.0.lock().expect("lock")).into_owned();
        // The capture works: the story's own lines are there.
        assert!(logs.contains("webhook created"), "no capture");
        assert!(logs.contains("webhook delivery attempted"), "no capture");
        assert!(!logs.contains(&secret), "the secret reached the logs");
        assert!(!logs.contains(&secret["whsec_".len()..]));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn sqlite_secrets_never_reach_the_logs() {
        story(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "current_thread")]
    #[cfg_attr(
        not(pecdesk_pg),
        ignore = "PECDESK_TEST_PG is not set: PostgreSQL story not run"
    )]
    async fn postgres_secrets_never_reach_the_logs() {
        story(Engine::Postgres).await;
    }
}

/// Rotation: the new secret is answered once, signs the next delivery (the old one no
/// longer does), is never listed, and only an administrator may rotate.
async fn a_rotated_secret_signs_from_then_on_and_is_shown_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let altro = app.login("altro@altra.test").await;
    let rx = Receiver::start().await;
    let (hook, old) = subscribe(&app, &admin, &rx.url, &["activity.created"]).await;
    let path = format!("/api/v1/webhooks/{hook}/secret");
    assert_eq!(
        app.post(&rita, &path, json!({})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&altro, &path, json!({})).await.status,
        StatusCode::FORBIDDEN
    );

    let r = app.post(&admin, &path, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let new = r.body["secret"].as_str().expect("new secret").to_owned();
    assert!(new.starts_with("whsec_") && new != old, "{new}");
    assert_eq!(r.body["id"], json!(hook));
    let got = app.get(&admin, &format!("/api/v1/webhooks/{hook}")).await;
    assert!(got.body.get("secret").is_none(), "{:?}", got.body);

    let t = app
        .post(&admin, &format!("/api/v1/webhooks/{hook}/test"), json!({}))
        .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    let last = rx.got().pop().expect("test request");
    assert_eq!(
        last.signature,
        expected_signature(&new, &last.timestamp, &last.body)
    );
    assert_ne!(
        last.signature,
        expected_signature(&old, &last.timestamp, &last.body)
    );

    // Audited as an update of the field, without the secret.
    let details: Vec<String> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'webhook.update' ORDER BY seq"
    )
    .fetch_all(p)
    .await)
    .expect("audit");
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(details[0].contains("\"secret\""), "{details:?}");
    assert!(!details[0].contains(&new[6..]) && !details[0].contains(&old[6..]));
}
