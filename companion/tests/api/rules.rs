//! Routing rules and the dispatcher queue: administrators manage the rules of their own
//! organisation; a matching message is routed once (to a team, round-robin or least-open,
//! with its activity), stop and continue order the rules, what no rule routes waits in the
//! dispatcher queue until a Smistatore routes it, receipts never enter it, the preview
//! lists what a rule would have matched, and Segnatura / SdI data are read and usable.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};
use crate::scalar;

both_engines!(
    rules_are_for_administrators_and_stay_in_their_organisation,
    a_matching_message_is_routed_to_the_team_with_its_activity_in_turn,
    least_open_assigns_the_least_loaded_member,
    stop_ends_the_evaluation_and_continue_goes_on,
    an_unrouted_message_waits_in_the_queue_until_a_smistatore_routes_it,
    receipts_are_never_routed_nor_queued,
    preview_lists_the_matches_of_the_last_days_only,
    segnatura_and_sdi_data_are_recognised_and_drive_rules,
    routing_twice_or_concurrently_routes_once,
    the_command_line_adds_lists_previews_and_removes_rules,
    a_responsabile_manages_the_rules_confined_to_the_mailboxes_they_lead,
);

/// Runs a statement on the app's database.
async fn exec(app: &TestApp, sql: &str, args: &[&str]) {
    pecdesk_companion::with_pool!(app.store, |p| {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(*a);
        }
        q.execute(p).await.map(|_| ())
    })
    .expect("statement");
}

async fn demo_org(app: &TestApp) -> String {
    scalar!(app, "SELECT id FROM orgs WHERE name = $1", "Studio Demo")
}

/// Routes every message of the demo organisation (what `ingest::process_pending` does
/// after storage).
async fn process_all(app: &TestApp) {
    let org = demo_org(app).await;
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

async fn create_rule(app: &TestApp, admin: &str, rule: Value) -> String {
    let a = app.post(admin, "/api/v1/rules", rule).await;
    assert_eq!(a.status, StatusCode::CREATED, "create rule: {:?}", a.body);
    a.body["id"].as_str().expect("id").to_owned()
}

async fn detail(app: &TestApp, token: &str, id: &str) -> Value {
    let a = app.get(token, &format!("/api/v1/messages/{id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

async fn activity(app: &TestApp, token: &str, id: &str) -> Value {
    let a = app.get(token, &format!("/api/v1/activities/{id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

/// Ids of the dispatcher queue as `token`'s user sees it.
async fn queue(app: &TestApp, token: &str) -> Vec<Value> {
    let a = app
        .get(token, "/api/v1/messages?queue=dispatch&limit=200")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["items"].as_array().cloned().unwrap_or_default()
}

fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect()
}

async fn rules_are_for_administrators_and_stay_in_their_organisation(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let resp = app.login("responsabile@demo.test").await;
    let team = app.team_id("Ufficio Legale").await;

    let r1 = create_rule(
        &app,
        &admin,
        json!({"name": "Fatture", "conditions": [
            {"field": "subject", "match": "contains", "value": "fattura"}],
            "actions": {"route": {"team_id": team, "assign": "round_robin"}, "tags": ["f"]}}),
    )
    .await;
    let r2 = create_rule(&app, &admin, json!({"name": "Resto", "stop": false})).await;
    let list = app.get(&admin, "/api/v1/rules").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body[0]["id"], r1.as_str());
    assert_eq!(list.body[0]["position"], 1);
    assert_eq!(list.body[0]["conditions"][0]["value"], json!(["fattura"]));
    assert_eq!(list.body[1]["stop"], false);

    // Edit, reorder, invalid input.
    let p = app
        .patch(
            &admin,
            &format!("/api/v1/rules/{r1}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["enabled"], false);
    assert_eq!(p.body["name"], "Fatture");
    let o = app
        .post(&admin, "/api/v1/rules/reorder", json!({"ids": [r2, r1]}))
        .await;
    assert_eq!(o.status, StatusCode::OK, "{:?}", o.body);
    assert_eq!(o.body[0]["id"], r2.as_str());
    let bad = app
        .post(&admin, "/api/v1/rules/reorder", json!({"ids": [r2]}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for body in [
        json!({"name": "x", "actions": {"route": {"team_id": "no-such-team"}}}),
        json!({"name": "x", "colour": "red"}),
        json!({"name": "x", "conditions": [{"field": "subject", "match": "regex", "value": "a"}]}),
        json!({"name": "", "conditions": []}),
    ] {
        let a = app.post(&admin, "/api/v1/rules", body.clone()).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            a.body
        );
        assert_envelope(&a, "invalid");
    }

    // Neither an administrator nor a Responsabile: 403, on every endpoint.
    let aldo = app.login("assegnatario@demo.test").await;
    for a in [
        app.get(&aldo, "/api/v1/rules").await,
        app.get(&aldo, &format!("/api/v1/rules/{r1}")).await,
        app.post(&aldo, "/api/v1/rules", json!({"name": "x"})).await,
        app.post(
            &aldo,
            "/api/v1/rules/preview",
            json!({"rule": {"name": "x"}}),
        )
        .await,
    ] {
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
    }
    // A Responsabile reads the rules that apply to every mailbox, but may neither write one
    // nor reorder.
    let seen = app.get(&resp, &format!("/api/v1/rules/{r1}")).await;
    assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);
    assert_eq!(seen.body["editable"], false);
    assert_eq!(seen.body["confined_to"], Value::Null);
    for a in [
        app.post(&resp, "/api/v1/rules", json!({"name": "x"})).await,
        app.post(&resp, "/api/v1/rules/reorder", json!({"ids": [r1, r2]}))
            .await,
    ] {
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
    }

    // Another organisation's administrator: the rule does not exist for them.
    exec(
        &app,
        "UPDATE users SET is_admin = (email = $1) OR is_admin",
        &["altro@altra.test"],
    )
    .await;
    let altro = app.login("altro@altra.test").await;
    assert_eq!(app.get(&altro, "/api/v1/rules").await.body, json!([]));
    for a in [
        app.get(&altro, &format!("/api/v1/rules/{r1}")).await,
        app.patch(
            &altro,
            &format!("/api/v1/rules/{r1}"),
            json!({"name": "mio"}),
        )
        .await,
        app.send(
            reqwest::Method::DELETE,
            &format!("/api/v1/rules/{r1}"),
            Some(&altro),
            None,
        )
        .await,
    ] {
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
    }

    let d = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/rules/{r1}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&admin, &format!("/api/v1/rules/{r1}")).await.status,
        StatusCode::NOT_FOUND
    );
    let audited: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('rule.create', 'rule.update', \
         'rule.reorder', 'rule.delete') AND actor_id IS NOT NULL"
    );
    assert_eq!(audited, 5, "two creations, an edit, a reorder, a deletion");

    let doc = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    for path in [
        "/api/v1/rules",
        "/api/v1/rules/{id}",
        "/api/v1/rules/reorder",
        "/api/v1/rules/preview",
        "/api/v1/messages/{id}/route",
    ] {
        assert!(doc.body["paths"][path].is_object(), "{path} documented");
    }
}

async fn a_matching_message_is_routed_to_the_team_with_its_activity_in_turn(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let team = app.team_id("Ufficio Legale").await;
    let rule = create_rule(
        &app,
        &admin,
        json!({"name": "Fatture", "conditions": [
            {"field": "subject", "match": "contains", "value": "FATTURA"},
            {"field": "sender_domain", "match": "is", "value": "esempio.test"}],
            "actions": {"route": {"team_id": team, "assign": "round_robin"},
                        "activity": {"priority": "high", "due_in_hours": 48},
                        "category": "Fornitori", "tags": ["fattura"]}}),
    )
    .await;
    let m1 = app.import_fresh(&resp, &protocollo, "fattura-1").await;
    let m2 = app.import_fresh(&resp, &protocollo, "fattura-2").await;
    let before = chrono::Utc::now().timestamp_millis();
    process_all(&app).await;
    let after = chrono::Utc::now().timestamp_millis();

    let mut assignees = Vec::new();
    for m in [&m1, &m2] {
        let d = detail(&app, &resp, m).await;
        let r = &d["routing"];
        assert_eq!(r["routed"], true, "{d}");
        assert_eq!(r["rule"]["id"], rule.as_str());
        assert_eq!(r["rule"]["name"], "Fatture");
        assert_eq!(r["team"]["id"], team.as_str());
        assert_eq!(r["category"], "Fornitori");
        assert_eq!(r["tags"], json!(["fattura"]));
        assert!(r["by"].is_null(), "routed by the system");
        let a = activity(&app, &resp, r["activity_id"].as_str().expect("activity")).await;
        assert_eq!(a["priority"], "high");
        assert_eq!(a["team_id"], team.as_str());
        assert_eq!(a["message_ids"], json!([m]));
        assert_eq!(a["assignee_id"], r["user"]["id"]);
        // 48 working hours on the default calendar, from the receipt (no daticert).
        let due = chrono::DateTime::parse_from_rfc3339(a["due_at"].as_str().expect("due"))
            .expect("due date")
            .timestamp_millis();
        let cal = pecdesk_core::sla::Calendar::default();
        let earliest = pecdesk_core::sla::add_working_hours(before - 60_000, 48, &cal);
        let latest = pecdesk_core::sla::add_working_hours(after, 48, &cal);
        assert!((earliest..=latest).contains(&due), "due at {}", a["due_at"]);
        assignees.push(a["assignee_id"].as_str().expect("assignee").to_owned());
    }
    assert_ne!(assignees[0], assignees[1], "round-robin takes turns");
    let members = [
        app.user_id("responsabile@demo.test").await,
        app.user_id("assegnatario@demo.test").await,
    ];
    assert!(assignees.iter().all(|a| members.contains(a)));
    // The system acted: no actor, the rule in the details.
    let audited: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'message.route' AND actor_id IS NULL \
         AND details LIKE $1",
        format!("%{rule}%")
    );
    assert_eq!(audited, 2);
    // Routed messages are not in the queue.
    let sara = app.login("smistatore@demo.test").await;
    let q = ids_of(&queue(&app, &sara).await);
    assert!(!q.contains(&m1) && !q.contains(&m2));
}

async fn least_open_assigns_the_least_loaded_member(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let team = app.team_id("Ufficio Legale").await;
    let rita = app.user_id("responsabile@demo.test").await;
    let aldo = app.user_id("assegnatario@demo.test").await;
    for _ in 0..2 {
        app.create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Carico", "assignee_id": rita}),
        )
        .await;
    }
    create_rule(
        &app,
        &admin,
        json!({"name": "Carico", "conditions": [{"field": "subject", "match": "glob", "value": "prova carico-*"}],
               "actions": {"route": {"team_id": team, "assign": "least_open"}, "activity": {}}}),
    )
    .await;
    let m1 = app.import_fresh(&resp, &protocollo, "carico-1").await;
    process_all(&app).await;
    let m2 = app.import_fresh(&resp, &protocollo, "carico-2").await;
    let m3 = app.import_fresh(&resp, &protocollo, "carico-3").await;
    process_all(&app).await;
    let mut got = Vec::new();
    for m in [&m1, &m2, &m3] {
        got.push(detail(&app, &resp, m).await["routing"]["user"]["id"].clone());
    }
    // Rita has 2 open, Aldo 0: Aldo, Aldo (1 vs 2), then the tie goes to whoever was
    // assigned longest ago: Rita.
    assert_eq!(got, [json!(aldo), json!(aldo), json!(rita)]);
}

async fn stop_ends_the_evaluation_and_continue_goes_on(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let team = app.team_id("Ufficio Legale").await;
    let aldo = app.user_id("assegnatario@demo.test").await;
    let when = json!([{"field": "body", "match": "contains", "value": "catena"}]);
    let a = create_rule(
        &app,
        &admin,
        json!({"name": "A", "stop": false, "conditions": when, "actions": {"tags": ["a"], "category": "Prima"}}),
    )
    .await;
    let b = create_rule(
        &app,
        &admin,
        json!({"name": "B", "stop": true, "conditions": when,
               "actions": {"route": {"user_id": aldo}, "tags": ["b"], "category": "Seconda"}}),
    )
    .await;
    create_rule(
        &app,
        &admin,
        json!({"name": "C", "conditions": when, "actions": {"route": {"team_id": team}, "tags": ["c"]}}),
    )
    .await;
    let m = app.import_fresh(&resp, &protocollo, "catena").await;
    process_all(&app).await;
    let r = detail(&app, &resp, &m).await["routing"].clone();
    let matched: Vec<&str> = r["matched"]
        .as_array()
        .expect("matched")
        .iter()
        .filter_map(|x| x["rule_id"].as_str())
        .collect();
    assert_eq!(matched, [a.as_str(), b.as_str()], "C is after a stop");
    assert_eq!(r["rule"]["id"], b.as_str());
    assert_eq!(r["user"]["id"], aldo.as_str());
    assert!(r["team"].is_null());
    assert_eq!(r["tags"], json!(["a", "b"]));
    assert_eq!(r["category"], "Prima", "the first rule that sets it wins");
    assert!(
        r["matched"][0]["why"][0]
            .as_str()
            .expect("why")
            .contains("catena")
    );
}

async fn an_unrouted_message_waits_in_the_queue_until_a_smistatore_routes_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let resp = app.login("responsabile@demo.test").await;
    let sara = app.login("smistatore@demo.test").await;
    let aldo_t = app.login("assegnatario@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let team = app.team_id("Ufficio Legale").await;
    create_rule(
        &app,
        &admin,
        json!({"name": "Solo fatture", "conditions": [{"field": "subject", "match": "contains", "value": "fattura"}],
               "actions": {"route": {"team_id": team}}}),
    )
    .await;
    let m = app.import_fresh(&resp, &protocollo, "smistami").await;
    process_all(&app).await;
    let d = detail(&app, &sara, &m).await;
    assert_eq!(d["routing"]["routed"], false);
    assert!(d["routing"]["rules_applied_at"].is_string(), "evaluated");
    assert!(ids_of(&queue(&app, &sara).await).contains(&m));
    // Without MAIL_ACTIVITY_MANAGER the queue is empty, and routing is refused.
    assert!(queue(&app, &aldo_t).await.is_empty());
    let refused = app
        .post(
            &aldo_t,
            &format!("/api/v1/messages/{m}/route"),
            json!({"team_id": team}),
        )
        .await;
    assert!(
        matches!(
            refused.status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ),
        "{:?}",
        refused.body
    );
    let bad = app.get(&sara, "/api/v1/messages?queue=altro").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let routed = app
        .post(
            &sara,
            &format!("/api/v1/messages/{m}/route"),
            json!({"team_id": team, "assign": "round_robin",
                   "create_activity": {"priority": "urgent", "due_in_days": 1}}),
        )
        .await;
    assert_eq!(routed.status, StatusCode::OK, "{:?}", routed.body);
    let r = &routed.body["routing"];
    assert_eq!(r["routed"], true);
    assert_eq!(
        r["by"]["id"],
        app.user_id("smistatore@demo.test").await.as_str()
    );
    assert!(r["rule"].is_null());
    assert_eq!(r["team"]["id"], team.as_str());
    let a = activity(&app, &resp, r["activity_id"].as_str().expect("activity")).await;
    assert_eq!(a["priority"], "urgent");
    assert_eq!(a["created_by"], r["by"]["id"]);
    assert!(
        !ids_of(&queue(&app, &sara).await).contains(&m),
        "it left the queue"
    );
    // An activity created by hand from a queued message dispatches it too.
    let other = app.import_fresh(&resp, &protocollo, "a-mano").await;
    assert!(ids_of(&queue(&app, &sara).await).contains(&other));
    app.create_activity(
        &sara,
        json!({"mailbox_id": protocollo, "title": "A mano", "message_ids": [other]}),
    )
    .await;
    assert!(!ids_of(&queue(&app, &sara).await).contains(&other));

    let again = app
        .post(
            &sara,
            &format!("/api/v1/messages/{m}/route"),
            json!({"team_id": team}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    let aldo = app.user_id("assegnatario@demo.test").await;
    let rerouted = app
        .post(
            &resp,
            &format!("/api/v1/messages/{m}/route"),
            json!({"user_id": aldo, "reroute": true}),
        )
        .await;
    assert_eq!(rerouted.status, StatusCode::OK, "{:?}", rerouted.body);
    assert_eq!(rerouted.body["routing"]["user"]["id"], aldo.as_str());
    let audited: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'message.route' AND object_id = $1 \
         AND actor_id IS NOT NULL",
        &m
    );
    assert_eq!(audited, 2);
}

async fn receipts_are_never_routed_nor_queued(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let sara = app.login("smistatore@demo.test").await;
    let team = app.team_id("Ufficio Legale").await;
    // A rule that takes everything.
    create_rule(
        &app,
        &admin,
        json!({"name": "Tutto", "actions": {"route": {"team_id": team}}}),
    )
    .await;
    // Before routing, the queue holds the demo's incoming messages and no receipt.
    let before = queue(&app, &sara).await;
    assert!(!before.is_empty());
    for m in &before {
        let kind = m["kind"].as_str().expect("kind");
        assert!(
            matches!(kind, "posta-certificata" | "anomalia" | "not-pec"),
            "{kind} in the queue"
        );
        assert_eq!(m["direction"], "in");
    }
    let receipts: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE kind NOT IN ('posta-certificata', 'anomalia', 'not-pec')"
    );
    assert!(receipts >= 3, "the demo holds receipts");
    process_all(&app).await;
    let routed_receipts: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE kind NOT IN ('posta-certificata', 'anomalia', 'not-pec') \
         AND (routed_at IS NOT NULL OR rules_applied_at IS NOT NULL)"
    );
    assert_eq!(routed_receipts, 0);
    // The demo's messages were evaluated when they arrived, before the rule existed: they
    // wait in the queue (rules apply to what arrives after them). A new message is routed.
    let after = queue(&app, &sara).await;
    assert_eq!(after.len(), before.len(), "nothing re-evaluated");
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let fresh = app
        .post_raw(
            &sara,
            &format!("/api/v1/messages/import?mailbox={protocollo}"),
            crate::helpers::fresh_eml("tutto"),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{:?}", fresh.body);
    let fresh_id = fresh.body["id"].as_str().expect("id");
    assert!(
        queue(&app, &sara).await.iter().all(|m| m["id"] != fresh_id),
        "the new message was routed by the rule"
    );
    let routed: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE id = $1 AND routed_at IS NOT NULL",
        fresh_id
    );
    assert_eq!(routed, 1);
    let receipt: String = scalar!(
        app,
        "SELECT id FROM messages WHERE kind = 'accettazione' ORDER BY id LIMIT 1"
    );
    let a = app
        .post(
            &sara,
            &format!("/api/v1/messages/{receipt}/route"),
            json!({"team_id": team}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
}

async fn preview_lists_the_matches_of_the_last_days_only(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    // The administrator reads protocollo only.
    let admin_id = app.user_id("admin@demo.test").await;
    let org = demo_org(&app).await;
    exec(
        &app,
        "INSERT INTO grants (id, org_id, mailbox_id, user_id, team_id, policy) \
         VALUES ($1, $2, $3, $4, NULL, 'MAIL_ACCOUNT_READER')",
        &[
            &uuid::Uuid::new_v4().to_string(),
            &org,
            &protocollo,
            &admin_id,
        ],
    )
    .await;
    let recent = app.import_fresh(&resp, &protocollo, "anteprima-1").await;
    let old = app.import_fresh(&resp, &protocollo, "anteprima-2").await;
    let other = app.import_fresh(&resp, &legale, "anteprima-3").await;
    app.import_fresh(&resp, &protocollo, "diverso").await;
    let forty_days_ago = (chrono::Utc::now() - chrono::Duration::days(40))
        .timestamp_millis()
        .to_string();
    exec(
        &app,
        "UPDATE messages SET received_at = CAST($1 AS BIGINT) WHERE id = $2",
        &[&forty_days_ago, &old],
    )
    .await;
    let rule = json!({"name": "Anteprima", "enabled": false,
        "conditions": [{"field": "subject", "match": "contains", "value": "anteprima"}]});
    let p = app
        .post(
            &admin,
            "/api/v1/rules/preview",
            json!({"rule": rule, "days": 30}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    let items = p.body["items"].as_array().expect("items");
    let found: Vec<&str> = items
        .iter()
        .filter_map(|i| i["message_id"].as_str())
        .collect();
    assert_eq!(
        found,
        [recent.as_str()],
        "not older, not unreadable: {:?}",
        p.body
    );
    assert!(
        items[0]["why"][0]
            .as_str()
            .expect("why")
            .contains("anteprima")
    );
    assert!(!found.contains(&other.as_str()));
    let p = app
        .post(
            &admin,
            "/api/v1/rules/preview",
            json!({"rule": rule, "days": 60}),
        )
        .await;
    let found: Vec<&str> = p.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["message_id"].as_str())
        .collect();
    assert_eq!(found, [recent.as_str(), old.as_str()], "newest first");
    for body in [
        json!({"rule": rule, "days": 0}),
        json!({"rule": rule, "days": 366}),
    ] {
        let a = app.post(&admin, "/api/v1/rules/preview", body).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // A preview routes nothing.
    let touched: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM messages WHERE routed_at IS NOT NULL"
    );
    assert_eq!(touched, 0);
}

/// A PEC transport envelope (unsigned: a synthetic fixture) from `sender` carrying an
/// original message with one XML attachment.
fn pec_with_xml(sender: &str, subject: &str, file: &str, xml: &str) -> Vec<u8> {
    format!(
        "From: \"Per conto di: {sender}\" <posta-certificata@pec.provider.test>\r\n\
         To: <protocollo@pec.demo.test>\r\nSubject: POSTA CERTIFICATA: {subject}\r\n\
         Date: Mon, 02 Nov 2026 10:00:00 +0100\r\n\
         Message-ID: <opec.{file}@pec.provider.test>\r\nX-Trasporto: posta-certificata\r\n\
         X-Riferimento-Message-ID: <{file}@mittente.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
         --outer\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nMessaggio di posta certificata\r\n\
         --outer\r\nContent-Type: message/rfc822; name=\"postacert.eml\"\r\n\
         Content-Disposition: inline; filename=\"postacert.eml\"\r\n\r\n\
         From: <{sender}>\r\nTo: <protocollo@pec.demo.test>\r\nSubject: {subject}\r\n\
         Message-ID: <opec.{file}@pec.provider.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n\
         --inner\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nIn allegato.\r\n\
         --inner\r\nContent-Type: text/xml; name=\"{file}\"\r\n\
         Content-Disposition: attachment; filename=\"{file}\"\r\n\r\n{xml}\r\n--inner--\r\n\
         \r\n--outer--\r\n"
    )
    .into_bytes()
}

const SEGNATURA: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Segnatura><Intestazione>\
    <Identificatore><CodiceAmministrazione>c_h501</CodiceAmministrazione><CodiceAOO>AOO_ROMA</CodiceAOO>\
    <NumeroRegistrazione>0012345</NumeroRegistrazione><DataRegistrazione>2026-11-02</DataRegistrazione>\
    </Identificatore><Origine><IndirizzoTelematico>protocollo@pec.comune.test</IndirizzoTelematico>\
    <Mittente><Amministrazione><Denominazione>Comune di Prova</Denominazione></Amministrazione>\
    <AOO><Denominazione>Protocollo generale</Denominazione></AOO></Mittente></Origine>\
    <Oggetto>Richiesta atti</Oggetto><Classifica><Denominazione>Affari legali</Denominazione>\
    <Livello>06</Livello><Livello>03</Livello></Classifica></Intestazione></Segnatura>";

const SDI_NS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ns3:NotificaScarto \
    xmlns:ns3=\"http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fattura/messaggi/v1.0\" versione=\"1.0\">\
    <IdentificativoSdI>111222333</IdentificativoSdI><NomeFile>IT01234567890_00042.xml</NomeFile>\
    <DataOraRicezione>2026-11-02T10:00:00.000+01:00</DataOraRicezione>\
    <ListaErrori><Errore><Codice>00404</Codice><Descrizione>Fattura duplicata</Descrizione></Errore></ListaErrori>\
    <MessageId>987654</MessageId></ns3:NotificaScarto>";

async fn segnatura_and_sdi_data_are_recognised_and_drive_rules(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let team = app.team_id("Ufficio Legale").await;
    let aldo = app.user_id("assegnatario@demo.test").await;
    let by_aoo = create_rule(
        &app,
        &admin,
        json!({"name": "Comune di Prova", "conditions": [
            {"field": "segnatura.aoo_code", "match": "is", "value": "aoo_roma"},
            {"field": "segnatura.classification", "match": "glob", "value": "06.*"}],
            "actions": {"route": {"team_id": team}}}),
    )
    .await;
    let by_sdi = create_rule(
        &app,
        &admin,
        json!({"name": "Scarti SdI", "conditions": [
            {"field": "sender", "match": "glob", "value": "sdi*@pec.fatturapa.it"},
            {"field": "sdi.kind", "match": "is", "value": ["NS", "MC"]},
            {"field": "sdi.invoice_file", "match": "glob", "value": "IT01234567890_*"}],
            "actions": {"route": {"user_id": aldo}, "tags": ["sdi"]}}),
    )
    .await;
    let import = |raw: Vec<u8>| {
        let (app, resp, protocollo) = (&app, &resp, &protocollo);
        async move {
            let a = app
                .post_raw(
                    resp,
                    &format!("/api/v1/messages/import?mailbox={protocollo}"),
                    raw,
                )
                .await;
            assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
            assert_eq!(a.body["kind"], "posta-certificata");
            a.body["id"].as_str().expect("id").to_owned()
        }
    };
    let seg = import(pec_with_xml(
        "protocollo@pec.comune.test",
        "Prot. 12345 Richiesta atti",
        "Segnatura.xml",
        SEGNATURA,
    ))
    .await;
    let sdi = import(pec_with_xml(
        "sdi03@pec.fatturapa.it",
        "Notifica di scarto 111222333",
        "IT01234567890_00042_NS_001.xml",
        SDI_NS,
    ))
    .await;
    process_all(&app).await;

    let d = detail(&app, &resp, &seg).await;
    let s = &d["protocol"]["segnatura"];
    assert_eq!(s["aoo_code"], "AOO_ROMA", "{d}");
    assert_eq!(s["aoo_name"], "Protocollo generale");
    assert_eq!(s["administration_name"], "Comune di Prova");
    assert_eq!(s["protocol_number"], "0012345");
    assert_eq!(s["protocol_date"], "2026-11-02");
    assert_eq!(s["classification"], "06.03");
    assert_eq!(d["routing"]["rule"]["id"], by_aoo.as_str());
    assert_eq!(d["routing"]["team"]["id"], team.as_str());

    let d = detail(&app, &resp, &sdi).await;
    let n = &d["protocol"]["sdi"];
    assert_eq!(n["kind"], "NS", "{d}");
    assert_eq!(n["invoice_file"], "IT01234567890_00042.xml");
    assert_eq!(n["notice_file"], "IT01234567890_00042_NS_001.xml");
    assert_eq!(n["sdi_id"], "111222333");
    assert_eq!(n["from_sdi"], true);
    assert_eq!(d["routing"]["rule"]["id"], by_sdi.as_str());
    assert_eq!(d["routing"]["user"]["id"], aldo.as_str());
}

async fn routing_twice_or_concurrently_routes_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let team = app.team_id("Ufficio Legale").await;
    create_rule(
        &app,
        &admin,
        json!({"name": "Una volta", "conditions": [{"field": "subject", "match": "contains", "value": "una-volta"}],
               "actions": {"route": {"team_id": team, "assign": "round_robin"}, "activity": {"priority": "low"}}}),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            app.import_fresh(&resp, &protocollo, &format!("una-volta-{i}"))
                .await,
        );
    }
    let org = demo_org(&app).await;
    let (store1, store2) = (app.store.clone(), app.store.clone());
    let (ids1, ids2) = (ids.clone(), ids.clone());
    let (org1, org2) = (org.clone(), org.clone());
    let one = tokio::spawn(async move {
        pecdesk_companion::domain::routing::process(&store1, &org1, &ids1).await
    });
    let two = tokio::spawn(async move {
        pecdesk_companion::domain::routing::process(&store2, &org2, &ids2).await
    });
    one.await.expect("join").expect("first");
    two.await.expect("join").expect("second");
    process_all(&app).await;
    for m in &ids {
        let links: i64 = scalar!(
            app,
            "SELECT COUNT(*) FROM activity_messages WHERE message_id = $1",
            m
        );
        assert_eq!(links, 1, "one activity for {m}");
        let routes: i64 = scalar!(
            app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'message.route' AND object_id = $1",
            m
        );
        assert_eq!(routes, 1, "routed once: {m}");
    }
}

/// Runs `pecdesk rule ARGS... --admin EMAIL` on the app's database.
fn cli(app: &TestApp, args: &[&str], admin: &str) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .arg("rule")
        .args(args)
        .args(["--admin", admin])
        .args(app.db_args())
        .output()
        .expect("run pecdesk rule");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_command_line_adds_lists_previews_and_removes_rules(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let m = app
        .import_fresh(&resp, &protocollo, "da-riga-di-comando")
        .await;
    let team = app.team_id("Ufficio Legale").await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("regola.json");
    std::fs::write(
        &file,
        json!({"name": "Da riga di comando", "conditions": [
            {"field": "subject", "match": "contains", "value": "riga-di-comando"}],
            "actions": {"route": {"team_id": team}}})
        .to_string(),
    )
    .expect("write");
    let file = file.to_string_lossy().into_owned();

    let (ok, out, err) = cli(&app, &["add", &file], "admin@demo.test");
    assert!(ok, "{out}{err}");
    let added: Value = serde_json::from_str(&out).expect("json");
    let id = added["id"].as_str().expect("id").to_owned();
    assert_eq!(added["position"], 1);
    let (ok, out, _) = cli(&app, &["list"], "admin@demo.test");
    assert!(ok);
    let list: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list[0]["id"], id.as_str());
    // The API sees what the command line wrote.
    let admin = app.login("admin@demo.test").await;
    assert_eq!(
        app.get(&admin, "/api/v1/rules").await.body[0]["id"],
        id.as_str()
    );

    let (ok, out, err) = cli(&app, &["preview", &file, "--days", "7"], "admin@demo.test");
    assert!(ok, "{out}{err}");
    let p: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(p["items"][0]["message_id"], m.as_str(), "{p}");
    assert_eq!(p["items"].as_array().map(Vec::len), Some(1));

    // Not an administrator: refused, nothing written.
    let (ok, _, err) = cli(&app, &["add", &file], "responsabile@demo.test");
    assert!(!ok);
    assert!(err.contains("amministratore"), "{err}");
    // An invalid file: refused with the reason.
    std::fs::write(dir.path().join("bad.json"), r#"{"name": "x", "colore": 1}"#).expect("write");
    let bad = dir.path().join("bad.json").to_string_lossy().into_owned();
    let (ok, _, err) = cli(&app, &["add", &bad], "admin@demo.test");
    assert!(!ok);
    assert!(err.contains("colore"), "{err}");

    let (ok, out, err) = cli(&app, &["remove", &id], "admin@demo.test");
    assert!(ok, "{out}{err}");
    let (_, out, _) = cli(&app, &["list"], "admin@demo.test");
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json"),
        json!([])
    );
    let (ok, _, _) = cli(&app, &["remove", &id], "admin@demo.test");
    assert!(!ok, "already removed");
    let audited: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('rule.create', 'rule.delete') \
         AND object_id = $1 AND actor_id IS NOT NULL",
        &id
    );
    assert_eq!(audited, 2);
}

async fn a_responsabile_manages_the_rules_confined_to_the_mailboxes_they_lead(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let rita_id = app.user_id("responsabile@demo.test").await;
    let team = app.team_id("Ufficio Legale").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let on = |mailbox: &str| json!({"field": "mailbox", "match": "is", "value": mailbox});
    let subject = json!({"field": "subject", "match": "contains", "value": "solecito"});

    // The administrator writes three rules: one for Protocollo, one for every mailbox, one
    // for Legale.
    let mine = create_rule(
        &app,
        &admin,
        json!({"name": "Solleciti", "conditions": [on("PROTOCOLLO@pec.demo.test"), subject],
               "actions": {"route": {"team_id": team}}}),
    )
    .await;
    let everywhere = create_rule(&app, &admin, json!({"name": "Tutto", "stop": false})).await;
    let legal = create_rule(
        &app,
        &admin,
        json!({"name": "Legale", "conditions": [on(&legale)]}),
    )
    .await;

    // Rita (Responsabile of both mailboxes) sees the three, may edit the confined two.
    let list = app.get(&rita, "/api/v1/rules").await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    let editable: Vec<(String, bool)> = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("").to_owned(),
                r["editable"] == true,
            )
        })
        .collect();
    assert_eq!(
        editable,
        [
            ("Solleciti".to_owned(), true),
            ("Tutto".to_owned(), false),
            ("Legale".to_owned(), true)
        ]
    );
    assert_eq!(list.body[0]["confined_to"], json!([protocollo]));

    // She fixes the Protocollo rule: the preview runs for her, the edit is hers.
    let fixed = json!([on(&protocollo),
        {"field": "subject", "match": "contains", "value": "sollecito"}]);
    let pv = app
        .post(
            &rita,
            "/api/v1/rules/preview",
            json!({"rule": {"name": "Solleciti", "conditions": fixed}, "days": 365}),
        )
        .await;
    assert_eq!(pv.status, StatusCode::OK, "{:?}", pv.body);
    let p = app
        .patch(
            &rita,
            &format!("/api/v1/rules/{mine}"),
            json!({"conditions": fixed, "enabled": false}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["conditions"][1]["value"], json!(["sollecito"]));
    assert_eq!(p.body["updated_by"], rita_id.as_str());
    assert_eq!(p.body["editable"], true);
    let p = app
        .patch(
            &rita,
            &format!("/api/v1/rules/{mine}"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    // She may create one for her mailboxes and delete it again.
    let own = create_rule(
        &app,
        &rita,
        json!({"name": "Mia", "conditions": [on(&protocollo)], "actions": {"category": "X"}}),
    )
    .await;
    let d = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/rules/{own}"),
            Some(&rita),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT, "{:?}", d.body);

    // Refused: the rule for every mailbox; an edit removing the confinement or widening it
    // to everything; a new rule for every mailbox.
    let refused = [
        app.patch(
            &rita,
            &format!("/api/v1/rules/{everywhere}"),
            json!({"name": "Mio"}),
        )
        .await,
        app.patch(
            &rita,
            &format!("/api/v1/rules/{mine}"),
            json!({"conditions": [subject]}),
        )
        .await,
        app.patch(
            &rita,
            &format!("/api/v1/rules/{mine}"),
            json!({"conditions": [
                {"field": "mailbox", "match": "glob", "value": "*"}]}),
        )
        .await,
        app.send(
            reqwest::Method::DELETE,
            &format!("/api/v1/rules/{everywhere}"),
            Some(&rita),
            None,
        )
        .await,
    ];
    for a in &refused {
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
        assert_envelope(a, "forbidden");
    }
    let text = refused[1].body["error"]["message"].as_str().unwrap_or("");
    assert!(text.contains("casella è"), "{text}");
    assert!(text.contains("mailbox is"), "{text}");

    // Without MAIL_ACCOUNT_MANAGER on Legale she no longer leads it: the Legale rule stays
    // readable, not editable, and her rule may not be widened to Legale.
    exec(
        &app,
        "DELETE FROM grants WHERE user_id = $1 AND mailbox_id = $2 AND policy = 'MAIL_ACCOUNT_MANAGER'",
        &[&rita_id, &legale],
    )
    .await;
    let g = app.get(&rita, &format!("/api/v1/rules/{legal}")).await;
    assert_eq!(g.status, StatusCode::OK, "{:?}", g.body);
    assert_eq!(g.body["editable"], false);
    for a in [
        app.patch(
            &rita,
            &format!("/api/v1/rules/{legal}"),
            json!({"enabled": false}),
        )
        .await,
        app.patch(
            &rita,
            &format!("/api/v1/rules/{mine}"),
            json!({"conditions": [
                {"field": "mailbox", "match": "is", "value": [protocollo, legale]}]}),
        )
        .await,
    ] {
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
        let text = a.body["error"]["message"].as_str().unwrap_or("");
        assert!(text.contains("MAIL_ACCOUNT_MANAGER"), "{text}");
    }
    // No policy at all on Legale: its rule is not hers to see.
    exec(
        &app,
        "DELETE FROM grants WHERE user_id = $1 AND mailbox_id = $2",
        &[&rita_id, &legale],
    )
    .await;
    assert_eq!(
        app.get(&rita, &format!("/api/v1/rules/{legal}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let names: Vec<Value> = app
        .get(&rita, "/api/v1/rules")
        .await
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, [json!("Solleciti"), json!("Tutto")]);

    // Another organisation's rule does not exist for her; hers not for them.
    let altra_admin = "altro@altra.test";
    exec(
        &app,
        "UPDATE users SET is_admin = (email = $1) OR is_admin",
        &[altra_admin],
    )
    .await;
    let altro = app.login(altra_admin).await;
    let theirs = create_rule(&app, &altro, json!({"name": "Altra"})).await;
    for a in [
        app.get(&rita, &format!("/api/v1/rules/{theirs}")).await,
        app.patch(
            &rita,
            &format!("/api/v1/rules/{theirs}"),
            json!({"name": "x"}),
        )
        .await,
        app.patch(
            &altro,
            &format!("/api/v1/rules/{mine}"),
            json!({"name": "x"}),
        )
        .await,
    ] {
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
    }

    // The audit names her: two edits, a creation and a deletion.
    let hers: Vec<String> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE actor_id = $1 AND action LIKE 'rule.%' ORDER BY seq"
    )
    .bind(&rita_id)
    .fetch_all(p)
    .await)
    .expect("audit");
    assert_eq!(
        hers,
        ["rule.update", "rule.update", "rule.create", "rule.delete"]
    );
}
