//! SLA and mailbox alarms (issue 16), on both engines, with time as a parameter:
//! - two replicas (two stores on the same database, four schedulers) run the pass
//!   concurrently, many times, at each stage of a due date: one alarm row, one `alarm.fire`
//!   entry and one e-mail per recipient and stage reach a real SMTP server (aiosmtpd);
//! - an SMTP failure is retried later and the e-mail then goes once;
//! - without SMTP the e-mails are kept as "not sent", visible in the API; recipients see
//!   their alarms, supervisors their mailbox's, nobody else (404 on ack);
//! - a moved due date alarms again, a closed activity never;
//! - mailbox alarms: app password, failing ingestion, quota running out, a sent PEC
//!   without delivery receipt.

use std::collections::{BTreeMap, BTreeSet};

use mail_parser::MessageParser;
use pecdesk_companion::jobs::alarms::{AlarmSettings, Runner, run_alarms};
use pecdesk_companion::store::parse_ts;
use pecdesk_companion::{Settings, Store};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_engines;
use crate::helpers::{Engine, TestApp, spawn_app};
use crate::scalar;
use crate::smtp_sink::SmtpSink;

both_engines!(
    each_stage_fires_once_across_two_replicas_and_mails_each_recipient_once,
    a_failed_send_is_retried_and_then_goes_once,
    without_smtp_alarms_are_kept_unsent_and_seen_by_recipients_and_supervisors_only,
    a_moved_due_date_alarms_again_and_a_closed_activity_never,
    mailbox_alarms_fire_once_for_password_ingestion_quota_and_unconfirmed_pec,
    the_demo_shows_an_alarm_fire_once_and_keeps_its_e_mails_unsent,
);

const HOUR: i64 = 3600 * 1000;
const DUE: &str = "2026-12-10T10:00:00Z";

fn due() -> i64 {
    parse_ts(DUE).expect("due")
}

/// A second store on the app's database: another replica.
async fn replica(app: &TestApp) -> Store {
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
    Store::connect(&settings).await.expect("second store")
}

fn runner(smtp: Option<String>) -> Runner {
    Runner::new(
        AlarmSettings {
            smtp_url: smtp.map(Into::into),
            from: "PecDesk <allarmi@demo.test>".into(),
            ..AlarmSettings::default()
        },
        "http://127.0.0.1:8080".into(),
    )
}

/// Rita (Responsabile of Protocollo) opens an activity due on [`DUE`], assigned to Aldo.
async fn activity(app: &TestApp, title: &str) -> String {
    let rita = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let aldo = app.user_id("assegnatario@demo.test").await;
    let (id, _) = app
        .create_activity(
            &rita,
            json!({"mailbox_id": protocollo, "title": title, "due_at": DUE, "assignee_id": aldo}),
        )
        .await;
    id
}

/// `(stage, alarm id)` of an object's alarms.
async fn alarms_of(app: &TestApp, object: &str) -> Vec<(String, String)> {
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query_as(
        "SELECT stage, id FROM alarms WHERE object_id = $1 ORDER BY fired_at, stage"
    )
    .bind(object)
    .fetch_all(p)
    .await)
    .expect("alarms")
}

/// `(delivery id, user email, state)` of an object's alarms.
async fn deliveries_of(app: &TestApp, object: &str) -> Vec<(String, String, String, String)> {
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query_as(
        "SELECT a.stage, d.id, u.email, d.state FROM alarm_deliveries d \
         JOIN alarms a ON a.id = d.alarm_id JOIN users u ON u.id = d.user_id \
         WHERE a.object_id = $1 ORDER BY a.stage, u.email"
    )
    .bind(object)
    .fetch_all(p)
    .await)
    .expect("deliveries")
}

async fn fire_entries(app: &TestApp, alarm_ids: &[String]) -> usize {
    let mut n = 0;
    for id in alarm_ids {
        let c: i64 = scalar!(
            app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'alarm.fire' AND object_id = $1",
            id
        );
        n += usize::try_from(c).expect("count");
    }
    n
}

/// Message-ID → (To, Subject) of every message the sink received.
fn received(sink: &SmtpSink) -> Vec<(String, String, String)> {
    sink.messages()
        .iter()
        .map(|raw| {
            let m = MessageParser::default().parse(raw).expect("parse");
            let to = m
                .to()
                .and_then(|a| a.iter().find_map(|a| a.address.as_deref()))
                .unwrap_or_default()
                .to_owned();
            (
                m.message_id().unwrap_or_default().to_owned(),
                to,
                m.subject().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn each_stage_fires_once_across_two_replicas_and_mails_each_recipient_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let sink = SmtpSink::start();
    let act = activity(&app, "Rispondere all'INPS").await;
    let other = replica(&app).await;
    // Two replicas, two schedulers each (each with its own worker id).
    let stores = [
        app.store.clone(),
        app.store.clone(),
        other.clone(),
        other.clone(),
    ];
    let runners: Vec<Runner> = (0..4).map(|_| runner(Some(sink.url()))).collect();
    for now in [due() - 23 * HOUR, due() + HOUR, due() + 25 * HOUR] {
        for _ in 0..6 {
            let mut tasks = Vec::new();
            for (s, r) in stores.iter().zip(&runners) {
                let (s, r) = (s.clone(), r.clone());
                tasks.push(tokio::spawn(async move { run_alarms(&s, &r, now).await }));
            }
            for t in tasks {
                t.await.expect("join").expect("pass");
            }
        }
    }

    let alarms = alarms_of(&app, &act).await;
    let stages: Vec<&str> = alarms.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(stages, ["before", "overdue", "escalation"], "{alarms:?}");
    let ids: Vec<String> = alarms.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(fire_entries(&app, &ids).await, 3);

    // Before and overdue to the assignee, the escalation to the supervisors (holders of
    // MAIL_ACTIVITY_MANAGER on Protocollo: the Responsabile and the Smistatore).
    let deliveries = deliveries_of(&app, &act).await;
    let who: Vec<(&str, &str, &str)> = deliveries
        .iter()
        .map(|(stage, _, email, state)| (stage.as_str(), email.as_str(), state.as_str()))
        .collect();
    assert_eq!(
        who,
        [
            ("before", "assegnatario@demo.test", "sent"),
            ("escalation", "responsabile@demo.test", "sent"),
            ("escalation", "smistatore@demo.test", "sent"),
            ("overdue", "assegnatario@demo.test", "sent"),
        ]
    );

    // Exactly one e-mail per delivery at the real SMTP server, and nothing else.
    let mails = received(&sink);
    assert_eq!(mails.len(), 4, "{mails:?}");
    let by_id: BTreeMap<String, (String, String)> = mails
        .iter()
        .map(|(id, to, subject)| (id.clone(), (to.clone(), subject.clone())))
        .collect();
    assert_eq!(by_id.len(), 4, "a message-id twice: {mails:?}");
    for (stage, delivery, email, _) in &deliveries {
        let (to, subject) = by_id
            .get(&format!("alarm-{delivery}@pecdesk"))
            .unwrap_or_else(|| panic!("no e-mail for {stage} to {email}: {mails:?}"));
        assert_eq!(to, email);
        let expected = match stage.as_str() {
            "before" => "[PecDesk] Scadenza domani: Rispondere all'INPS",
            "overdue" => "[PecDesk] Scaduta / Overdue: Rispondere all'INPS",
            _ => {
                "[PecDesk] Scadenza superata, segnalata ai responsabili / Escalated: Rispondere all'INPS"
            }
        };
        assert_eq!(subject, expected);
    }

    // More passes later change nothing.
    let r = run_alarms(&other, &runners[2], due() + 30 * HOUR)
        .await
        .expect("pass");
    assert_eq!((r.fired, r.sent), (0, 0));
    assert_eq!(sink.messages().len(), 4);
    other.close().await;
}

async fn a_failed_send_is_retried_and_then_goes_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let act = activity(&app, "Pratica 42").await;
    // Nothing listens on this port: the attempt fails and is kept for later.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let down = runner(Some(format!("smtp://127.0.0.1:{closed}")));
    let now = due() - 20 * HOUR;
    let r = run_alarms(&app.store, &down, now).await.expect("pass");
    assert_eq!((r.fired, r.sent, r.failed), (1, 0, 1));
    let (state, attempts, error): (String, i64, Option<String>) =
        pecdesk_companion::with_pool!(app.store, |p| sqlx::query_as(
            "SELECT d.state, CAST(d.attempts AS BIGINT), d.last_error FROM alarm_deliveries d \
             JOIN alarms a ON a.id = d.alarm_id WHERE a.object_id = $1"
        )
        .bind(&act)
        .fetch_one(p)
        .await)
        .expect("delivery");
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    assert!(
        error.as_deref().is_some_and(|e| e.contains("SMTP")),
        "{error:?}"
    );

    // Before the backoff: nothing is tried, even with a server up.
    let sink = SmtpSink::start();
    let up = runner(Some(sink.url()));
    let r = run_alarms(&app.store, &up, now + 1000).await.expect("pass");
    assert_eq!((r.fired, r.sent), (0, 0));
    // After it: sent once, and never again.
    for t in [now + 2 * 60_000, now + 3 * 60_000, now + HOUR] {
        run_alarms(&app.store, &up, t).await.expect("pass");
    }
    let d = deliveries_of(&app, &act).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].3, "sent");
    assert_eq!(sink.messages().len(), 1);
}

async fn without_smtp_alarms_are_kept_unsent_and_seen_by_recipients_and_supervisors_only(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let act = activity(&app, "Diffida").await;
    let none = runner(None);
    for now in [due() - 2 * HOUR, due() + 2 * HOUR, due() + 48 * HOUR] {
        run_alarms(&app.store, &none, now).await.expect("pass");
    }
    let aldo = app.login("assegnatario@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let elena = app.login("esterno@demo.test").await;
    let altro = app.login("altro@altra.test").await;

    let list = |token: String, q: &'static str| {
        let app = &app;
        async move {
            let a = app.get(&token, &format!("/api/v1/alarms{q}")).await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
            a.body["items"].as_array().expect("items").clone()
        }
    };
    // The assignee: their two (not the escalation, which is for the supervisors).
    let mine = list(aldo.clone(), "?kind=activity_due").await;
    let stages: BTreeSet<&str> = mine.iter().filter_map(|a| a["stage"].as_str()).collect();
    assert_eq!(stages, BTreeSet::from(["before", "overdue"]));
    for a in &mine {
        assert_eq!(a["object_id"], act.as_str());
        let d = &a["deliveries"][0];
        assert_eq!(d["state"], "unsent");
        assert!(
            d["error"].as_str().is_some_and(|e| e.contains("SMTP")),
            "{d}"
        );
    }
    // The Responsabile: all three of the mailbox.
    assert_eq!(list(rita.clone(), "?kind=activity_due").await.len(), 3);
    // Someone without a policy on Protocollo, another organisation: nothing.
    assert!(list(elena.clone(), "").await.is_empty());
    assert!(list(altro.clone(), "").await.is_empty());
    // Documented in the OpenAPI.
    let doc = app.get(&rita, "/api/openapi.json").await;
    for path in ["/api/v1/alarms", "/api/v1/alarms/{id}/ack"] {
        assert!(doc.body["paths"][path].is_object(), "{path} documented");
    }
    // Bad filters are refused with words.
    let a = app.get(&rita, "/api/v1/alarms?kind=nope").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    let escalation = alarms_of(&app, &act)
        .await
        .into_iter()
        .find(|(s, _)| s == "escalation")
        .expect("escalation")
        .1;
    let before = alarms_of(&app, &act)
        .await
        .into_iter()
        .find(|(s, _)| s == "before")
        .expect("before")
        .1;
    for (token, id) in [(&aldo, &escalation), (&altro, &before), (&elena, &before)] {
        let a = app
            .post(token, &format!("/api/v1/alarms/{id}/ack"), json!({}))
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
    }
    let a = app
        .post(&aldo, &format!("/api/v1/alarms/{before}/ack"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["state"], "acked");
    // Again: nothing changes, one audit entry.
    let again = app
        .post(&aldo, &format!("/api/v1/alarms/{before}/ack"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["acked_at"], a.body["acked_at"]);
    let acks: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'alarm.ack' AND object_id = $1",
        &before
    );
    assert_eq!(acks, 1);
    let open = list(aldo.clone(), "?state=open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["stage"], "overdue");
    // The audit details name ids only.
    let details: String = scalar!(
        app,
        "SELECT details FROM audit_log WHERE action = 'alarm.fire' AND object_id = $1",
        &before
    );
    assert!(
        !details.contains('@') && !details.contains("Diffida"),
        "{details}"
    );
}

async fn a_moved_due_date_alarms_again_and_a_closed_activity_never(engine: Engine) {
    let app = spawn_app(engine).await;
    let act = activity(&app, "Ricorso").await;
    let closed = activity(&app, "Chiusa").await;
    let rita = app.login("responsabile@demo.test").await;
    let v = app.version(&rita, &closed).await;
    let a = app
        .post(
            &rita,
            &format!("/api/v1/activities/{closed}/transitions"),
            json!({"version": v, "to": "cancelled"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);

    let none = runner(None);
    run_alarms(&app.store, &none, due() - HOUR)
        .await
        .expect("pass");
    assert_eq!(alarms_of(&app, &act).await.len(), 1);
    assert!(alarms_of(&app, &closed).await.is_empty());

    // The due date moves two days on: "before" again for the new date, at its time.
    let v = app.version(&rita, &act).await;
    let a = app
        .patch(
            &rita,
            &format!("/api/v1/activities/{act}"),
            json!({"version": v, "due_at": "2026-12-12T10:00:00Z"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    run_alarms(&app.store, &none, due()).await.expect("pass");
    assert_eq!(alarms_of(&app, &act).await.len(), 1, "not yet");
    run_alarms(&app.store, &none, due() + 25 * HOUR)
        .await
        .expect("pass");
    let stages: Vec<String> = alarms_of(&app, &act)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(stages, ["before", "before"]);
}

async fn mailbox_alarms_fire_once_for_password_ingestion_quota_and_unconfirmed_pec(engine: Engine) {
    let app = spawn_app(engine).await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let org: String = scalar!(
        app,
        "SELECT org_id FROM mailboxes WHERE id = $1",
        &protocollo
    );
    let t0 = due();
    let exec = |sql: &'static str, binds: Vec<Option<i64>>| {
        let app = &app;
        let mb = protocollo.clone();
        async move {
            pecdesk_companion::with_pool!(app.store, |p| {
                let mut q = sqlx::query(sql).bind(mb.clone());
                for b in &binds {
                    q = q.bind(*b);
                }
                q.execute(p).await.map(|_| ())
            })
            .expect("exec");
        }
    };
    // The app password expires in 3 days; ingestion has failed for 2 hours since the last
    // success; the quota grows 4 MB a day with 5 MB left.
    exec(
        "UPDATE mailboxes SET app_password_expires_at = $2, ingest_enabled = true WHERE id = $1",
        vec![Some(t0 + 72 * HOUR)],
    )
    .await;
    exec(
        "INSERT INTO mailbox_health (mailbox_id, last_success_at, last_error_at, quota_used_kb, \
         quota_total_kb, quota_read_at) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            Some(t0 - 3 * HOUR),
            Some(t0 - HOUR),
            Some(1000),
            Some(10_000),
            Some(t0 - 24 * HOUR),
        ],
    )
    .await;
    // A PEC sent 30 hours ago whose recipient has no delivery receipt.
    let outbox_id = uuid::Uuid::now_v7().to_string();
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "INSERT INTO outbox (id, org_id, mailbox_id, message_id, origin, envelope_from, \
         recipients, raw, size, state, not_before, sent_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'reply', 'protocollo@pec.demo.test', \
         '[\"ufficio@pec.ente.test\"]', $5, 1, 'sent', $6, $6, $6, $6)"
    )
    .bind(&outbox_id)
    .bind(&org)
    .bind(&protocollo)
    .bind(format!("{outbox_id}@pecdesk.test"))
    .bind(b"x".to_vec())
    .bind(t0 - 30 * HOUR)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("outbox row");

    let none = runner(None);
    let other = replica(&app).await;
    let other_runner = runner(None);
    // First reading of the quota: no rate yet.
    run_alarms(&app.store, &none, t0).await.expect("pass");
    let kinds = |rows: Vec<(String, String)>| rows.len();
    assert_eq!(
        kinds(alarms_of(&app, &protocollo).await),
        2,
        "password, ingestion"
    );
    exec(
        "UPDATE mailbox_health SET quota_used_kb = $2, quota_read_at = $3 WHERE mailbox_id = $1",
        vec![Some(5000), Some(t0)],
    )
    .await;
    for i in 0..4 {
        let (a, b) = tokio::join!(
            run_alarms(&app.store, &none, t0 + i * HOUR),
            run_alarms(&other, &other_runner, t0 + i * HOUR)
        );
        a.expect("pass");
        b.expect("pass");
    }
    let kinds: BTreeMap<String, i64> = pecdesk_companion::with_pool!(app.store, |p| {
        sqlx::query_as::<_, (String, i64)>(
            "SELECT kind, COUNT(*) FROM alarms WHERE mailbox_id = $1 GROUP BY kind",
        )
        .bind(&protocollo)
        .fetch_all(p)
        .await
    })
    .expect("kinds")
    .into_iter()
    .collect();
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("app_password".to_owned(), 1),
            ("ingest_failing".to_owned(), 1),
            ("pec_unconfirmed".to_owned(), 1),
            ("quota".to_owned(), 1),
        ])
    );
    // To the mailbox managers (MAIL_ACCOUNT_MANAGER: the Responsabile and the Smistatore).
    let to = deliveries_of(&app, &protocollo).await;
    let emails: BTreeSet<&str> = to.iter().map(|(_, _, e, _)| e.as_str()).collect();
    assert_eq!(
        emails,
        BTreeSet::from(["responsabile@demo.test", "smistatore@demo.test"])
    );
    assert_eq!(deliveries_of(&app, &outbox_id).await.len(), 2);
    other.close().await;
}

/// `serve --demo` (`demo::seed_alarms`): at the first pass the overdue activity escalates to
/// the Responsabile and the one due in three minutes warns Aldo; three minutes on it is
/// overdue, once, however many passes run. No SMTP in the demo: "not sent", visible.
async fn the_demo_shows_an_alarm_fire_once_and_keeps_its_e_mails_unsent(engine: Engine) {
    let app = spawn_app(engine).await;
    let now = pecdesk_companion::store::now_ms();
    pecdesk_companion::demo::seed_alarms(&app.store, now)
        .await
        .expect("demo alarms");
    let demo = runner(None);
    for t in [now, now + 10_000, now + 20_000] {
        run_alarms(&app.store, &demo, t).await.expect("pass");
    }
    let rita = app.login("responsabile@demo.test").await;
    let aldo = app.login("assegnatario@demo.test").await;
    let seen = |token: String| {
        let app = &app;
        async move {
            let a = app.get(&token, "/api/v1/alarms?kind=activity_due").await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
            let mut v: Vec<String> = a.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|a| a["stage"].as_str().expect("stage").to_owned())
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(seen(aldo.clone()).await, ["before"]);
    assert_eq!(seen(rita.clone()).await, ["before", "escalation"]);
    let a = app.get(&rita, "/api/v1/alarms?kind=activity_due").await;
    let escalation = a.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|a| a["stage"] == "escalation")
        .expect("escalation")
        .clone();
    let rita_id = app.user_id("responsabile@demo.test").await;
    assert!(
        escalation["recipients"]
            .as_array()
            .expect("recipients")
            .contains(&json!(rita_id))
    );
    assert!(
        escalation["deliveries"]
            .as_array()
            .expect("deliveries")
            .iter()
            .all(|d| d["state"] == "unsent")
    );
    for t in [
        now + 3 * 60_000,
        now + 3 * 60_000 + 10_000,
        now + 4 * 60_000,
    ] {
        run_alarms(&app.store, &demo, t).await.expect("pass");
    }
    assert_eq!(seen(aldo).await, ["before", "overdue"]);
}
