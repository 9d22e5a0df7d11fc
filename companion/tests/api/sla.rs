//! SLA on the legal clock: a rule's due date counts working days on the mailbox's
//! calendar from the certified delivery time of the PEC (daticert), not from its import;
//! the calendar is a mailbox setting that round-trips through the admin API; the due
//! endpoint answers readers of the mailbox only (404 for anyone else, another
//! organisation included).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::fixtures::{self, Submission};
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};
use crate::scalar;

both_engines!(
    a_rule_due_in_two_working_days_counts_from_the_certified_delivery_before_easter,
    mailbox_sla_settings_round_trip_and_bad_ones_are_refused,
    the_due_endpoint_answers_readers_of_the_mailbox_only,
    the_command_line_sets_office_hours_and_the_patron_day,
);

fn at(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .timestamp_millis()
}

/// Imports raw bytes into a mailbox as `token`'s user; returns the message id.
async fn import(app: &TestApp, token: &str, mailbox: &str, raw: Vec<u8>) -> String {
    let a = app
        .post_raw(
            token,
            &format!("/api/v1/messages/import?mailbox={mailbox}"),
            raw,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "import: {:?}", a.body);
    a.body["id"].as_str().expect("id").to_owned()
}

/// Routes every message of the demo organisation (what ingestion does after storage).
async fn process_all(app: &TestApp) {
    let org: String = scalar!(app, "SELECT id FROM orgs WHERE name = $1", "Studio Demo");
    let ids: Vec<String> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT id FROM messages WHERE org_id = $1"
    )
    .bind(&org)
    .fetch_all(p)
    .await)
    .expect("ids");
    pecdesk_companion::domain::routing::process(&app.store, &org, &ids)
        .await
        .expect("routing");
}

/// The activity a message was routed with, as `token`'s user reads it.
async fn activity_of(app: &TestApp, token: &str, message: &str) -> Value {
    let d = app.get(token, &format!("/api/v1/messages/{message}")).await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    let id = d.body["routing"]["activity_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no activity: {}", d.body));
    let a = app.get(token, &format!("/api/v1/activities/{id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

fn due_of(activity: &Value) -> i64 {
    at(activity["due_at"].as_str().expect("due_at"))
}

/// The `due_basis` of the activity's creation in the audit log.
async fn due_basis(app: &TestApp, activity: &Value) -> String {
    let details: String = scalar!(
        app,
        "SELECT details FROM audit_log WHERE action = 'activity.create' AND object_id = $1",
        activity["id"].as_str().expect("id")
    );
    let v: Value = serde_json::from_str(&details).expect("details");
    v["due_basis"].as_str().unwrap_or("").to_owned()
}

fn pec(tag: &'static str, subject: &'static str) -> Submission<'static> {
    Submission {
        identificativo: tag,
        msgid: tag,
        sender: "studio@pec.mittente.test",
        recipient: "protocollo@pec.demo.test",
        subject,
    }
}

async fn a_rule_due_in_two_working_days_counts_from_the_certified_delivery_before_easter(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let team = app.team_id("Ufficio Legale").await;
    let r = app
        .post(
            &admin,
            "/api/v1/rules",
            json!({"name": "Diffide", "conditions": [
                {"field": "subject", "match": "contains", "value": "Diffida"}],
                "actions": {"route": {"team_id": team},
                            "activity": {"priority": "high", "due_in_days": 2}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    // Certified on Good Friday, 3 April 2026, 17:55 CEST; imported months later.
    let friday = import(
        &app,
        &resp,
        &protocollo,
        fixtures::envelope_certified_at(
            &pec("opec-sla-1@pec.test", "Diffida ad adempiere"),
            "03/04/2026",
            "17:55:00",
            "+0200",
        ),
    )
    .await;
    // An ordinary e-mail in the box: no daticert, the receipt counts.
    let plain = import(
        &app,
        &resp,
        &protocollo,
        b"From: <mittente@esempio.test>\r\nTo: <protocollo@pec.demo.test>\r\n\
          Subject: Diffida senza PEC\r\nDate: Mon, 02 Nov 2026 10:00:00 +0100\r\n\
          Message-ID: <sla-plain@esempio.test>\r\nMIME-Version: 1.0\r\n\
          Content-Type: text/plain; charset=UTF-8\r\n\r\nTesto.\r\n"
            .to_vec(),
    )
    .await;
    let before = chrono::Utc::now().timestamp_millis();
    process_all(&app).await;
    let after = chrono::Utc::now().timestamp_millis();

    // Saturday, Easter Sunday and Easter Monday do not count: Tuesday 7 (1), Wednesday 8
    // (2), at the close of the office (18:00 CEST).
    let a = activity_of(&app, &resp, &friday).await;
    assert_eq!(
        due_of(&a),
        at("2026-04-08T18:00:00+02:00"),
        "{}",
        a["due_at"]
    );
    assert_eq!(due_basis(&app, &a).await, "certified");

    let b = activity_of(&app, &resp, &plain).await;
    let cal = pecdesk_core::sla::Calendar::default();
    let due = due_of(&b);
    assert!(
        (pecdesk_core::sla::add_working_days(before - 60_000, 2, &cal)
            ..=pecdesk_core::sla::add_working_days(after, 2, &cal))
            .contains(&due),
        "{}",
        b["due_at"]
    );
    assert_eq!(due_basis(&app, &b).await, "received");

    // The mailbox's calendar counts: with Tuesday 7 April as the patron day, Thursday 9.
    let p = app
        .patch(
            &admin,
            &format!("/api/v1/mailboxes/{protocollo}"),
            json!({"sla": {"patron_day": {"month": 4, "day": 7}}}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    let again = import(
        &app,
        &resp,
        &protocollo,
        fixtures::envelope_certified_at(
            &pec("opec-sla-2@pec.test", "Diffida seconda"),
            "03/04/2026",
            "17:55:00",
            "+0200",
        ),
    )
    .await;
    process_all(&app).await;
    let c = activity_of(&app, &resp, &again).await;
    assert_eq!(
        due_of(&c),
        at("2026-04-09T18:00:00+02:00"),
        "{}",
        c["due_at"]
    );

    // A Smistatore routing by hand with `due_in_hours` counts the same way: 1 working hour
    // from Friday 17:55 is Tuesday 7 April... the patron day: Wednesday 8 at 09:55.
    let sara = app.login("smistatore@demo.test").await;
    let by_hand = import(
        &app,
        &resp,
        &protocollo,
        fixtures::envelope_certified_at(
            &pec("opec-sla-3@pec.test", "Richiesta urgente"),
            "03/04/2026",
            "17:55:00",
            "+0200",
        ),
    )
    .await;
    process_all(&app).await;
    let routed = app
        .post(
            &sara,
            &format!("/api/v1/messages/{by_hand}/route"),
            json!({"team_id": team, "create_activity": {"due_in_hours": 1}}),
        )
        .await;
    assert!(routed.status.is_success(), "{:?}", routed.body);
    let d = activity_of(&app, &resp, &by_hand).await;
    assert_eq!(
        due_of(&d),
        at("2026-04-08T09:55:00+02:00"),
        "{}",
        d["due_at"]
    );
    assert_eq!(due_basis(&app, &d).await, "certified");
}

async fn mailbox_sla_settings_round_trip_and_bad_ones_are_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let path = format!("/api/v1/mailboxes/{protocollo}");

    let g = app.get(&admin, &path).await;
    assert_eq!(g.status, StatusCode::OK, "{:?}", g.body);
    assert_eq!(g.body["sla"]["time_zone"], "Europe/Rome");
    assert_eq!(g.body["sla"]["office_hours"]["mon"], json!(["09:00-18:00"]));
    assert_eq!(g.body["sla"]["office_hours"]["sat"], json!([]));
    assert!(g.body["sla"]["patron_day"].is_null());

    let milano = json!({"office_hours": {
            "mon": ["14:00-18:00", "9:00-13:00"], "tue": ["09:00-13:00", "14:00-18:00"],
            "wed": ["09:00-13:00", "14:00-18:00"], "thu": ["09:00-13:00", "14:00-18:00"],
            "fri": ["09:00-13:00"]},
        "patron_day": {"month": 12, "day": 7}});
    let p = app.patch(&admin, &path, json!({"sla": milano})).await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    let g = app.get(&admin, &path).await;
    let sla = &g.body["sla"];
    assert_eq!(
        sla["office_hours"]["mon"],
        json!(["09:00-13:00", "14:00-18:00"]),
        "stored in normal form"
    );
    assert_eq!(sla["office_hours"]["fri"], json!(["09:00-13:00"]));
    assert_eq!(sla["patron_day"], json!({"month": 12, "day": 7}));
    let stored: String = scalar!(
        app,
        "SELECT sla_calendar FROM mailboxes WHERE id = $1",
        &protocollo
    );
    assert!(
        stored.contains("\"12\"") || stored.contains("\"month\":12"),
        "{stored}"
    );
    let audited: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'mailbox.update' AND object_id = $1 \
         AND details LIKE '%\"sla\"%'",
        &protocollo
    );
    assert_eq!(audited, 1);

    // Other changes keep the calendar.
    let p = app
        .patch(&admin, &path, json!({"name": "Protocollo"}))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["sla"]["patron_day"], json!({"month": 12, "day": 7}));

    for (bad, field) in [
        (
            json!({"office_hours": {"mon": ["09:00-25:00"]}}),
            "sla.office_hours.mon",
        ),
        (
            json!({"office_hours": {"tue": ["09:00-13:00", "12:00-18:00"]}}),
            "sla.office_hours.tue",
        ),
        (json!({"time_zone": "America/New_York"}), "sla.time_zone"),
        (
            json!({"patron_day": {"month": 13, "day": 1}}),
            "sla.patron_day",
        ),
        (json!({"office_hours": {}}), "sla.office_hours"),
    ] {
        let r = app.patch(&admin, &path, json!({"sla": bad})).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            r.body
        );
        assert_envelope(&r, "invalid");
        let msg = r.body["error"]["message"].as_str().expect("message");
        assert!(msg.contains(field) && msg.contains(" / "), "{msg}");
    }
    let still = app.get(&admin, &path).await;
    assert_eq!(
        still.body["sla"]["patron_day"],
        json!({"month": 12, "day": 7})
    );

    // `null` is the default again; only administrators change it.
    let p = app.patch(&admin, &path, json!({"sla": null})).await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert!(p.body["sla"]["patron_day"].is_null());
    assert_eq!(p.body["sla"]["office_hours"]["fri"], json!(["09:00-18:00"]));
    let resp = app.login("responsabile@demo.test").await;
    let r = app
        .patch(&resp, &path, json!({"sla": {"time_zone": "UTC"}}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    // A new mailbox can come with its calendar.
    let c = app
        .post(
            &admin,
            "/api/v1/mailboxes",
            json!({"address": "sla@pec.demo.test", "name": "SLA",
                   "sla": {"time_zone": "UTC", "office_hours": {"sat": ["08:00-12:00"]}}}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let id = c.body["id"].as_str().expect("id");
    let g = app.get(&admin, &format!("/api/v1/mailboxes/{id}")).await;
    assert_eq!(g.body["sla"]["time_zone"], "UTC");
    assert_eq!(g.body["sla"]["office_hours"]["sat"], json!(["08:00-12:00"]));
    assert_eq!(g.body["sla"]["office_hours"]["mon"], json!([]));
}

async fn the_due_endpoint_answers_readers_of_the_mailbox_only(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let due = |q: &str| format!("/api/v1/mailboxes/{protocollo}/sla/due?{q}");

    // Delivered Friday 17:55 before Easter: 5 minutes on Friday, Tuesday 7 April 09:55.
    let a = app
        .get(&resp, &due("from=2026-04-03T17:55:00%2B02:00&hours=1"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        at(a.body["due_at"].as_str().expect("due")),
        at("2026-04-07T09:55:00+02:00")
    );
    assert_eq!(a.body["due_at_local"], "2026-04-07T09:55:00+02:00");
    assert_eq!(a.body["from_is_working_time"], true);
    assert_eq!(a.body["working_hours"], 1.0);
    let d = app
        .get(&resp, &due("from=2026-04-03T17:55:00%2B02:00&days=2"))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(d.body["due_at_local"], "2026-04-08T18:00:00+02:00");

    for bad in [
        "from=ieri&hours=1",
        "from=2026-04-03T17:55:00Z",
        "from=2026-04-03T17:55:00Z&hours=1&days=1",
        "from=2026-04-03T17:55:00Z&days=400",
    ] {
        let r = app.get(&resp, &due(bad)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            r.body
        );
        assert_envelope(&r, "invalid");
    }

    // Elena has no grant on Protocollo, Alberto is of another organisation: both 404, as a
    // mailbox that does not exist; Alberto reads his own.
    let elena = app.login("esterno@demo.test").await;
    let alberto = app.login("altro@altra.test").await;
    let q = "from=2026-04-03T17:55:00Z&hours=1";
    for token in [&elena, &alberto] {
        let r = app.get(token, &due(q)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
        assert_envelope(&r, "not_found");
    }
    let missing = app
        .get(&resp, &format!("/api/v1/mailboxes/nessuna/sla/due?{q}"))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let altra = app.mailbox_id("pec@pec.altra.test").await;
    let own = app
        .get(&alberto, &format!("/api/v1/mailboxes/{altra}/sla/due?{q}"))
        .await;
    assert_eq!(own.status, StatusCode::OK, "{:?}", own.body);
    let theirs = app
        .get(&resp, &format!("/api/v1/mailboxes/{altra}/sla/due?{q}"))
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let anonymous = app
        .client
        .get(format!("http://{}{}", app.addr, due(q)))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// Runs `pecdesk ARGS` on the app's database: (success, stdout, stderr).
fn pecdesk(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .args(args)
        .args(app.db_args())
        .output()
        .expect("pecdesk runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_command_line_sets_office_hours_and_the_patron_day(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let mb = "protocollo@pec.demo.test";
    let (ok, out, err) = pecdesk(
        &app,
        &[
            "mailbox",
            "set",
            "--mailbox",
            mb,
            "--office-hours",
            "mon-thu=09:00-13:00,14:00-18:00",
            "--office-hours",
            "fri=09:00-13:00",
            "--patron-day",
            "12-07",
        ],
    );
    assert!(ok, "{out}\n{err}");
    let g = app
        .get(&admin, &format!("/api/v1/mailboxes/{protocollo}"))
        .await;
    let sla = &g.body["sla"];
    assert_eq!(
        sla["office_hours"]["thu"],
        json!(["09:00-13:00", "14:00-18:00"])
    );
    assert_eq!(sla["office_hours"]["fri"], json!(["09:00-13:00"]));
    assert_eq!(sla["office_hours"]["sat"], json!([]));
    assert_eq!(sla["patron_day"], json!({"month": 12, "day": 7}));

    // The patron day alone keeps the hours; a bad range is refused, naming the field.
    let (ok, _, err) = pecdesk(
        &app,
        &["mailbox", "set", "--mailbox", mb, "--patron-day", "none"],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = pecdesk(
        &app,
        &[
            "mailbox",
            "set",
            "--mailbox",
            mb,
            "--office-hours",
            "mon=9-13",
        ],
    );
    assert!(
        !ok && err.contains("sla.office_hours.mon") && err.contains(" / "),
        "{err}"
    );
    let g = app
        .get(&admin, &format!("/api/v1/mailboxes/{protocollo}"))
        .await;
    assert!(g.body["sla"]["patron_day"].is_null());
    assert_eq!(g.body["sla"]["office_hours"]["fri"], json!(["09:00-13:00"]));

    let (ok, _, err) = pecdesk(&app, &["mailbox", "set", "--mailbox", mb, "--sla-default"]);
    assert!(ok, "{err}");
    let g = app
        .get(&admin, &format!("/api/v1/mailboxes/{protocollo}"))
        .await;
    assert_eq!(g.body["sla"]["office_hours"]["fri"], json!(["09:00-18:00"]));
}
