//! The directory (`GET /api/v1/users`, `/api/v1/teams`) lists the caller's organisation
//! only, its picker filters return exactly the holders of a grant (own or through a team),
//! and activity, comment and message answers carry names beside their ids.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    the_directory_lists_only_the_callers_organisation,
    picker_filters_return_exactly_the_granted_users,
    names_appear_beside_ids_in_activities_comments_and_messages,
);

const DEMO_USERS: [&str; 6] = [
    "admin@demo.test",
    "approvatore@demo.test",
    "assegnatario@demo.test",
    "esterno@demo.test",
    "responsabile@demo.test",
    "smistatore@demo.test",
];

/// Every item of a directory list, following `next_cursor` with pages of `limit`.
async fn all_pages(app: &TestApp, token: &str, path: &str, limit: usize) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let a = app.get(token, &url).await;
        assert_eq!(a.status, StatusCode::OK, "{url}: {:?}", a.body);
        let page = a.body["items"].as_array().expect("items").clone();
        assert!(page.len() <= limit, "{url}: page of {}", page.len());
        items.extend(page);
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
    panic!("{path}: more than 100 pages");
}

fn emails(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|u| u["email"].as_str().expect("email").to_owned())
        .collect()
}

async fn exec(app: &TestApp, sql: &str, args: &[&str]) {
    pecdesk_companion::with_pool!(app.store, |p| {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(*a);
        }
        q.execute(p).await.map(|_| ())
    })
    .expect("exec");
}

async fn the_directory_lists_only_the_callers_organisation(engine: Engine) {
    let app = spawn_app(engine).await;
    let ass = app.login("assegnatario@demo.test").await;
    let altro = app.login("altro@altra.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;

    // Any signed-in user of the organisation reads it, every user once, in name order,
    // through pages of 2.
    let users = all_pages(&app, &ass, "/api/v1/users", 2).await;
    assert_eq!(
        emails(&users),
        DEMO_USERS.iter().map(|e| (*e).to_owned()).collect()
    );
    assert_eq!(users.len(), DEMO_USERS.len(), "{users:?}");
    let names: Vec<&str> = users
        .iter()
        .map(|u| u["name"].as_str().expect("name"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    let rita = users
        .iter()
        .find(|u| u["email"] == "responsabile@demo.test")
        .expect("responsabile");
    assert_eq!(rita["name"], "Rita Responsabile");
    assert_eq!(rita["enabled"], true);
    assert_eq!(
        rita["id"],
        app.user_id("responsabile@demo.test").await.as_str()
    );

    let teams = all_pages(&app, &ass, "/api/v1/teams", 1).await;
    let by_name: Vec<(&str, i64)> = teams
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name"),
                t["members"].as_i64().expect("n"),
            )
        })
        .collect();
    assert_eq!(by_name, vec![("Studio Esterno", 1), ("Ufficio Legale", 2)]);

    // The other organisation's user sees only their own organisation.
    let theirs = all_pages(&app, &altro, "/api/v1/users", 50).await;
    assert_eq!(
        emails(&theirs),
        BTreeSet::from(["altro@altra.test".to_owned()])
    );
    assert!(
        all_pages(&app, &altro, "/api/v1/teams", 50)
            .await
            .is_empty()
    );
    let q = app.get(&altro, "/api/v1/users?q=rita").await;
    assert_eq!(q.body["items"], json!([]), "{:?}", q.body);
    // Another organisation's mailbox is not a filter they may use: 404, as any foreign id.
    let foreign = app
        .get(&altro, &format!("/api/v1/users?mailbox={protocollo}"))
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{:?}", foreign.body);
    assert_envelope(&foreign, "not_found");
    let foreign = app
        .get(&altro, &format!("/api/v1/teams?mailbox={protocollo}"))
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{:?}", foreign.body);
    // A team of the demo organisation is no filter for them either.
    let ufficio = app.team_id("Ufficio Legale").await;
    let t = app
        .get(&altro, &format!("/api/v1/users?team={ufficio}"))
        .await;
    assert_eq!(t.body["items"], json!([]), "{:?}", t.body);

    // Both are in the OpenAPI document.
    let doc = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    for path in ["/api/v1/users", "/api/v1/teams"] {
        assert!(
            doc.body["paths"][path]["get"].is_object(),
            "{path} in OpenAPI"
        );
    }

    // Signed-out callers get nothing.
    let anon = app
        .send(reqwest::Method::GET, "/api/v1/users", None, None)
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

async fn picker_filters_return_exactly_the_granted_users(engine: Engine) {
    let app = spawn_app(engine).await;
    let smi = app.login("smistatore@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let org: String = crate::scalar!(
        app,
        "SELECT org_id FROM mailboxes WHERE id = $1",
        protocollo.clone()
    );
    // Studio Esterno (Elena) gets activity write on protocollo through the team only.
    let esterno_team = app.team_id("Studio Esterno").await;
    exec(
        &app,
        "INSERT INTO grants (id, org_id, mailbox_id, user_id, team_id, policy) \
         VALUES ($1, $2, $3, NULL, $4, 'MAIL_ACTIVITY_WRITER')",
        &["g-team-writer", &org, &protocollo, &esterno_team],
    )
    .await;

    let writers = format!("/api/v1/users?mailbox={protocollo}&policy=MAIL_ACTIVITY_WRITER");
    let set = |v: &[&str]| v.iter().map(|e| (*e).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(
        emails(&all_pages(&app, &smi, &writers, 1).await),
        set(&[
            "approvatore@demo.test",
            "assegnatario@demo.test",
            "esterno@demo.test",
            "responsabile@demo.test",
        ])
    );
    // On legale only the two Responsabile/Smistatore holders have anything; writer: Rita.
    assert_eq!(
        emails(
            &all_pages(
                &app,
                &smi,
                &format!("/api/v1/users?mailbox={legale}&policy=MAIL_ACTIVITY_WRITER"),
                50
            )
            .await
        ),
        set(&["responsabile@demo.test"])
    );
    assert_eq!(
        emails(&all_pages(&app, &smi, &format!("/api/v1/users?mailbox={legale}"), 50).await),
        set(&["responsabile@demo.test", "smistatore@demo.test"])
    );

    // Approvers: activity read and write on the mailbox. Elena has write only (through her
    // team), Sara neither.
    let approvers = format!("/api/v1/users?mailbox={protocollo}&eligible=approver");
    assert_eq!(
        emails(&all_pages(&app, &smi, &approvers, 1).await),
        set(&[
            "approvatore@demo.test",
            "assegnatario@demo.test",
            "responsabile@demo.test",
        ])
    );
    exec(
        &app,
        "INSERT INTO grants (id, org_id, mailbox_id, user_id, team_id, policy) \
         VALUES ($1, $2, $3, NULL, $4, 'MAIL_ACTIVITY_READER')",
        &["g-team-reader", &org, &protocollo, &esterno_team],
    )
    .await;
    assert_eq!(
        emails(&all_pages(&app, &smi, &approvers, 2).await),
        set(&[
            "approvatore@demo.test",
            "assegnatario@demo.test",
            "esterno@demo.test",
            "responsabile@demo.test",
        ])
    );
    // Teams holding a grant themselves.
    let teams = app
        .get(
            &smi,
            &format!("/api/v1/teams?mailbox={protocollo}&policy=MAIL_ACTIVITY_READER"),
        )
        .await;
    assert_eq!(teams.status, StatusCode::OK, "{:?}", teams.body);
    assert_eq!(teams.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(teams.body["items"][0]["name"], "Studio Esterno");

    // A disabled user leaves the pickers; the directory still names them, disabled.
    exec(
        &app,
        "UPDATE users SET disabled = true WHERE email = $1",
        &["approvatore@demo.test"],
    )
    .await;
    assert!(!emails(&all_pages(&app, &smi, &writers, 50).await).contains("approvatore@demo.test"));
    let everyone = all_pages(&app, &smi, "/api/v1/users", 50).await;
    let paolo = everyone
        .iter()
        .find(|u| u["email"] == "approvatore@demo.test")
        .expect("still listed");
    assert_eq!(paolo["enabled"], false);

    // Members of one team.
    let ufficio = app.team_id("Ufficio Legale").await;
    assert_eq!(
        emails(&all_pages(&app, &smi, &format!("/api/v1/users?team={ufficio}"), 50).await),
        set(&["assegnatario@demo.test", "responsabile@demo.test"])
    );

    // Bad filters are 422 in the envelope.
    for bad in [
        "/api/v1/users?policy=MAIL_ACTIVITY_WRITER".to_owned(),
        format!("/api/v1/users?mailbox={protocollo}&policy=SUPERUSER"),
        "/api/v1/users?eligible=approver".to_owned(),
        format!("/api/v1/users?mailbox={protocollo}&eligible=everyone"),
        format!("/api/v1/users?q={}", "x".repeat(201)),
        "/api/v1/users?cursor=not-a-cursor".to_owned(),
    ] {
        let a = app.get(&smi, &bad).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            a.body
        );
        assert_envelope(&a, "invalid");
    }
    // A teams cursor is not a users cursor.
    let t = app.get(&smi, "/api/v1/teams?limit=1").await;
    let c = t.body["next_cursor"].as_str().expect("a second team");
    let a = app.get(&smi, &format!("/api/v1/users?cursor={c}")).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
}

async fn names_appear_beside_ids_in_activities_comments_and_messages(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let ass = app.login("assegnatario@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let m = app.import_fresh(&resp, &protocollo, "nomi").await;
    let assignee = app.user_id("assegnatario@demo.test").await;
    let approver = app.user_id("approvatore@demo.test").await;
    let team = app.team_id("Ufficio Legale").await;

    let created = app
        .post(
            &resp,
            "/api/v1/activities",
            json!({"mailbox_id": protocollo, "title": "Nomi", "message_ids": [m],
                   "assignee_id": assignee, "team_id": team, "flow": "approval",
                   "approver_id": approver}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let check = |a: &Value, what: &str| {
        assert_eq!(a["assignee_id"], assignee.as_str(), "{what}");
        assert_eq!(a["assignee_name"], "Aldo Assegnatario", "{what}: {a:?}");
        assert_eq!(a["approver_name"], "Paolo Approvatore", "{what}: {a:?}");
        assert_eq!(a["team_name"], "Ufficio Legale", "{what}: {a:?}");
        assert_eq!(a["created_by_name"], "Rita Responsabile", "{what}: {a:?}");
    };
    check(&created.body, "create");
    let detail = app.get(&ass, &format!("/api/v1/activities/{id}")).await;
    check(&detail.body, "detail");
    let list = app
        .get(&ass, "/api/v1/activities?assignee=me&limit=10")
        .await;
    let item = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|a| a["id"] == id.as_str())
        .expect("in my list")
        .clone();
    check(&item, "my list");
    let list = app
        .get(
            &resp,
            &format!("/api/v1/activities?mailbox={protocollo}&sort=-created_at"),
        )
        .await;
    check(&list.body["items"][0], "mailbox list");

    // An activity with nobody named answers nulls beside the nulls.
    let (bare, _) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Senza nomi", "message_ids": []}),
        )
        .await;
    let b = app.get(&resp, &format!("/api/v1/activities/{bare}")).await;
    assert_eq!(b.body["assignee_name"], Value::Null, "{:?}", b.body);
    assert_eq!(b.body["team_name"], Value::Null);
    assert_eq!(b.body["created_by_name"], "Rita Responsabile");

    // The draft names its last writer.
    let d = app
        .put(
            &ass,
            &format!("/api/v1/activities/{id}/draft"),
            json!({"to": [], "subject": "Re", "body": "Testo"}),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(d.body["updated_by_name"], "Aldo Assegnatario");
    let detail = app.get(&resp, &format!("/api/v1/activities/{id}")).await;
    assert_eq!(detail.body["draft"]["updated_by_name"], "Aldo Assegnatario");

    // Comments name their author: as written, as listed, as edited.
    let c = app
        .post(
            &ass,
            &format!("/api/v1/activities/{id}/comments"),
            json!({"body": "Ci penso io"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    assert_eq!(c.body["author_name"], "Aldo Assegnatario");
    let cid = c.body["id"].as_str().expect("id").to_owned();
    let listed = app
        .get(&resp, &format!("/api/v1/activities/{id}/comments"))
        .await;
    assert_eq!(
        listed.body[0]["author_name"], "Aldo Assegnatario",
        "{:?}",
        listed.body
    );
    let edited = app
        .patch(
            &ass,
            &format!("/api/v1/comments/{cid}"),
            json!({"body": "Fatto"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    assert_eq!(edited.body["author_name"], "Aldo Assegnatario");

    // Messages name who took them in charge: the take, the detail, the list.
    let taken = app
        .post(&resp, &format!("/api/v1/messages/{m}/take"), json!({}))
        .await;
    assert_eq!(taken.status, StatusCode::OK, "{:?}", taken.body);
    assert_eq!(taken.body["taken_by_name"], "Rita Responsabile");
    let got = app.get(&resp, &format!("/api/v1/messages/{m}")).await;
    assert_eq!(got.body["taken_by_name"], "Rita Responsabile");
    let again = app
        .post_raw(
            &resp,
            &format!("/api/v1/messages/import?mailbox={protocollo}"),
            crate::helpers::fresh_eml("nomi"),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "same bytes: {:?}", again.body);
    assert_eq!(again.body["id"], m.as_str());
    assert_eq!(again.body["taken_by_name"], "Rita Responsabile");
    let listed = app
        .get(
            &resp,
            &format!("/api/v1/messages?mailbox={protocollo}&state=taken"),
        )
        .await;
    assert_eq!(
        listed.body["items"][0]["id"],
        m.as_str(),
        "{:?}",
        listed.body
    );
    assert_eq!(
        listed.body["items"][0]["taken_by_name"],
        "Rita Responsabile"
    );
    let fresh = app.import_fresh(&resp, &protocollo, "non-preso").await;
    let got = app.get(&resp, &format!("/api/v1/messages/{fresh}")).await;
    assert_eq!(got.body["taken_by_name"], Value::Null);
}
