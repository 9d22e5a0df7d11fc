//! The permission matrix: every demo role, the other organisation's user and an anonymous
//! caller against every endpoint, on fresh objects per cell. Expected answers are written
//! as a table: a status, or `SEES` / `BLIND` for lists (200 and whether the fixture is in it).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, spawn_app};

both_engines!(permission_matrix_every_role_against_every_endpoint);

/// Callers, in the column order of [`MATRIX`].
const ROLES: [&str; 8] = [
    "responsabile@demo.test",
    "assegnatario@demo.test",
    "smistatore@demo.test",
    "approvatore@demo.test",
    "esterno@demo.test",
    "admin@demo.test",
    "altro@altra.test",
    "(anonimo)",
];

/// An expected answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ex {
    /// This status.
    S(u16),
    /// 200 and the fixture is listed.
    Sees,
    /// 200 and the fixture is not listed.
    Blind,
}
use Ex::{Blind, S, Sees};

/// What each row needs set up, and which request it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Me,
    Mailboxes,
    ListMessages,
    GetMessage,
    GetRaw,
    Lookup,
    Take,
    Trash,
    Restore,
    Import,
    CreateActivity,
    CreateBulk,
    ListActivities,
    GetActivity,
    PatchActivity,
    Transition,
    LinkMessage,
    ListComments,
    AddComment,
    EditComment,
    PutDraft,
    RequestApproval,
    Approve,
    Send,
    Audit,
    AuditVerify,
}

//                                 resp      ass       smi       appr      est       admin     altro     anon
#[rustfmt::skip]
const MATRIX: &[(Row, [Ex; 8])] = &[
    (Row::Me,              [S(200),   S(200),   S(200),   S(200),   S(200),   S(200),   S(200),   S(401)]),
    (Row::Mailboxes,       [S(200),   S(200),   S(200),   S(200),   S(200),   S(200),   S(200),   S(401)]),
    (Row::ListMessages,    [Sees,     Blind,    Sees,     Blind,    Blind,    Blind,    Blind,    S(401)]),
    (Row::GetMessage,      [S(200),   S(404),   S(200),   S(404),   S(404),   S(404),   S(404),   S(401)]),
    (Row::GetRaw,          [S(200),   S(404),   S(200),   S(404),   S(404),   S(404),   S(404),   S(401)]),
    (Row::Lookup,          [S(200),   S(404),   S(200),   S(404),   S(404),   S(404),   S(404),   S(401)]),
    (Row::Take,            [S(200),   S(404),   S(200),   S(404),   S(404),   S(404),   S(404),   S(401)]),
    (Row::Trash,           [S(200),   S(404),   S(200),   S(404),   S(404),   S(404),   S(404),   S(401)]),
    (Row::Restore,         [S(200),   S(404),   S(200),   S(404),   S(404),   S(404),   S(404),   S(401)]),
    (Row::Import,          [S(201),   S(403),   S(201),   S(403),   S(403),   S(403),   S(404),   S(401)]),
    (Row::CreateActivity,  [S(201),   S(403),   S(201),   S(403),   S(403),   S(403),   S(404),   S(401)]),
    (Row::CreateBulk,      [S(201),   S(403),   S(201),   S(403),   S(403),   S(403),   S(404),   S(401)]),
    (Row::ListActivities,  [Sees,     Sees,     Sees,     Sees,     Blind,    Blind,    Blind,    S(401)]),
    (Row::GetActivity,     [S(200),   S(200),   S(200),   S(200),   S(404),   S(404),   S(404),   S(401)]),
    (Row::PatchActivity,   [S(200),   S(403),   S(200),   S(403),   S(404),   S(404),   S(404),   S(401)]),
    (Row::Transition,      [S(200),   S(200),   S(403),   S(200),   S(404),   S(404),   S(404),   S(401)]),
    (Row::LinkMessage,     [S(200),   S(404),   S(403),   S(404),   S(404),   S(404),   S(404),   S(401)]),
    (Row::ListComments,    [S(200),   S(200),   S(200),   S(200),   S(404),   S(404),   S(404),   S(401)]),
    (Row::AddComment,      [S(201),   S(201),   S(403),   S(201),   S(404),   S(404),   S(404),   S(401)]),
    (Row::EditComment,     [S(200),   S(403),   S(403),   S(403),   S(404),   S(404),   S(404),   S(401)]),
    (Row::PutDraft,        [S(200),   S(200),   S(403),   S(200),   S(404),   S(404),   S(404),   S(401)]),
    (Row::RequestApproval, [S(200),   S(200),   S(403),   S(200),   S(404),   S(404),   S(404),   S(401)]),
    (Row::Approve,         [S(403),   S(403),   S(403),   S(200),   S(404),   S(404),   S(404),   S(401)]),
    (Row::Send,            [S(200),   S(200),   S(403),   S(200),   S(404),   S(404),   S(404),   S(401)]),
    (Row::Audit,           [S(403),   S(403),   S(403),   S(403),   S(403),   S(200),   S(403),   S(401)]),
    (Row::AuditVerify,     [S(403),   S(403),   S(403),   S(403),   S(403),   S(200),   S(403),   S(401)]),
];

/// Fixture ids shared by the cells of one run.
struct World {
    resp: String,
    appr: String,
    protocollo: String,
    approver_id: String,
}

/// A request to make, and the id that must (not) appear in a list answer.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    raw: Option<Vec<u8>>,
    fixture: Option<String>,
}

fn call(method: Method, path: String, body: Option<Value>) -> Call {
    Call {
        method,
        path,
        body,
        raw: None,
        fixture: None,
    }
}

async fn fresh_activity(app: &TestApp, w: &World, flow: &str) -> (String, String) {
    let m = app
        .import_fresh(&w.resp, &w.protocollo, &uuid::Uuid::new_v4().to_string())
        .await;
    let (a, _) = app
        .create_activity(
            &w.resp,
            json!({"mailbox_id": w.protocollo, "title": "Attività di prova", "message_ids": [m],
                   "flow": flow, "approver_id": w.approver_id}),
        )
        .await;
    (a, m)
}

async fn ok(app: &TestApp, token: &str, method: Method, path: &str, body: Value) {
    let a = app.send(method, path, Some(token), Some(body)).await;
    assert!(a.status.is_success(), "fixture step {path}: {:?}", a.body);
}

/// Sets up fresh objects for one cell and returns the request to make.
async fn prepare(app: &TestApp, w: &World, row: Row) -> Call {
    let tag = uuid::Uuid::new_v4().to_string();
    match row {
        Row::Me => call(Method::GET, "/api/v1/me".into(), None),
        Row::Mailboxes => call(Method::GET, "/api/v1/mailboxes".into(), None),
        Row::ListMessages
        | Row::GetMessage
        | Row::GetRaw
        | Row::Lookup
        | Row::Take
        | Row::Trash
        | Row::Restore => {
            let m = app.import_fresh(&w.resp, &w.protocollo, &tag).await;
            match row {
                Row::ListMessages => Call {
                    fixture: Some(m),
                    ..call(
                        Method::GET,
                        format!("/api/v1/messages?mailbox={}&limit=200", w.protocollo),
                        None,
                    )
                },
                Row::GetMessage => call(Method::GET, format!("/api/v1/messages/{m}"), None),
                Row::GetRaw => call(Method::GET, format!("/api/v1/messages/{m}/raw"), None),
                Row::Lookup => call(
                    Method::GET,
                    format!("/api/v1/messages/lookup?message_id={tag}@esempio.test"),
                    None,
                ),
                Row::Take => call(Method::POST, format!("/api/v1/messages/{m}/take"), None),
                Row::Trash => call(Method::POST, format!("/api/v1/messages/{m}/trash"), None),
                _ => {
                    ok(
                        app,
                        &w.resp,
                        Method::POST,
                        &format!("/api/v1/messages/{m}/trash"),
                        json!({}),
                    )
                    .await;
                    call(Method::POST, format!("/api/v1/messages/{m}/restore"), None)
                }
            }
        }
        Row::Import => Call {
            raw: Some(crate::helpers::fresh_eml(&tag)),
            ..call(
                Method::POST,
                format!("/api/v1/messages/import?mailbox={}", w.protocollo),
                None,
            )
        },
        Row::CreateActivity | Row::CreateBulk => {
            let m = app.import_fresh(&w.resp, &w.protocollo, &tag).await;
            let path = if row == Row::CreateBulk {
                "/api/v1/activities/bulk"
            } else {
                "/api/v1/activities"
            };
            call(
                Method::POST,
                path.into(),
                Some(json!({"mailbox_id": w.protocollo, "title": "Nuova", "message_ids": [m]})),
            )
        }
        Row::ListActivities => {
            let (a, _) = fresh_activity(app, w, "standard").await;
            Call {
                fixture: Some(a),
                ..call(
                    Method::GET,
                    format!(
                        "/api/v1/activities?mailbox={}&limit=200&sort=-created_at",
                        w.protocollo
                    ),
                    None,
                )
            }
        }
        Row::GetActivity => {
            let (a, _) = fresh_activity(app, w, "standard").await;
            call(Method::GET, format!("/api/v1/activities/{a}"), None)
        }
        Row::PatchActivity => {
            let (a, _) = fresh_activity(app, w, "standard").await;
            call(
                Method::PATCH,
                format!("/api/v1/activities/{a}"),
                Some(json!({"version": 1, "priority": "high"})),
            )
        }
        Row::Transition => {
            let (a, _) = fresh_activity(app, w, "standard").await;
            call(
                Method::POST,
                format!("/api/v1/activities/{a}/transitions"),
                Some(json!({"to": "in_progress", "version": 1})),
            )
        }
        Row::LinkMessage => {
            let (a, _) = fresh_activity(app, w, "standard").await;
            let m2 = app.import_fresh(&w.resp, &w.protocollo, &tag).await;
            call(
                Method::POST,
                format!("/api/v1/activities/{a}/messages"),
                Some(json!({"message_id": m2})),
            )
        }
        Row::ListComments => {
            let (a, _) = fresh_activity(app, w, "standard").await;
            call(
                Method::GET,
                format!("/api/v1/activities/{a}/comments"),
                None,
            )
        }
        Row::AddComment => {
            let (a, _) = fresh_activity(app, w, "standard").await;
            call(
                Method::POST,
                format!("/api/v1/activities/{a}/comments"),
                Some(json!({"body": "Ci penso io"})),
            )
        }
        Row::EditComment => {
            let (a, _) = fresh_activity(app, w, "standard").await;
            let c = app
                .post(
                    &w.resp,
                    &format!("/api/v1/activities/{a}/comments"),
                    json!({"body": "prima"}),
                )
                .await;
            assert_eq!(c.status, StatusCode::CREATED);
            let cid = c.body["id"].as_str().expect("comment id").to_owned();
            call(
                Method::PATCH,
                format!("/api/v1/comments/{cid}"),
                Some(json!({"body": "dopo"})),
            )
        }
        Row::PutDraft => {
            let (a, _) = fresh_activity(app, w, "approval").await;
            call(
                Method::PUT,
                format!("/api/v1/activities/{a}/draft"),
                Some(
                    json!({"to": ["ufficio@pec.ente-esempio.test"], "subject": "Risposta", "body": "Testo"}),
                ),
            )
        }
        Row::RequestApproval | Row::Approve | Row::Send => {
            let (a, _) = fresh_activity(app, w, "approval").await;
            let v = app.version(&w.resp, &a).await;
            ok(
                app,
                &w.resp,
                Method::POST,
                &format!("/api/v1/activities/{a}/transitions"),
                json!({"to": "in_progress", "version": v}),
            )
            .await;
            ok(app, &w.resp, Method::PUT, &format!("/api/v1/activities/{a}/draft"),
               json!({"to": ["ufficio@pec.ente-esempio.test"], "subject": "Risposta", "body": "Testo"})).await;
            if row == Row::RequestApproval {
                return call(
                    Method::POST,
                    format!("/api/v1/activities/{a}/approval-request"),
                    Some(json!({})),
                );
            }
            ok(
                app,
                &w.resp,
                Method::POST,
                &format!("/api/v1/activities/{a}/approval-request"),
                json!({}),
            )
            .await;
            if row == Row::Approve {
                return call(
                    Method::POST,
                    format!("/api/v1/activities/{a}/approval"),
                    Some(json!({"decision": "approve", "note": "ok"})),
                );
            }
            ok(
                app,
                &w.appr,
                Method::POST,
                &format!("/api/v1/activities/{a}/approval"),
                json!({"decision": "approve"}),
            )
            .await;
            call(
                Method::POST,
                format!("/api/v1/activities/{a}/send"),
                Some(json!({})),
            )
        }
        Row::Audit => call(Method::GET, "/api/v1/audit".into(), None),
        Row::AuditVerify => call(Method::GET, "/api/v1/audit/verify".into(), None),
    }
}

async fn permission_matrix_every_role_against_every_endpoint(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut tokens: Vec<Option<String>> = Vec::new();
    for r in ROLES {
        tokens.push(if r.contains('@') {
            Some(app.login(r).await)
        } else {
            None
        });
    }
    // The demo's administrator reads Protocollo (for the rules' preview); the matrix asks
    // what an administrator without any mailbox grant may do, so that grant goes first.
    let admin = tokens[5].clone().expect("admin");
    let grants = app.get(&admin, "/api/v1/grants").await;
    let admin_id = app.user_id("admin@demo.test").await;
    for g in grants.body.as_array().expect("grants").iter() {
        if g["user_id"] == admin_id.as_str() {
            let id = g["id"].as_str().expect("grant id");
            let r = app
                .client
                .delete(app.url(&format!("/api/v1/grants/{id}")))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("revoke");
            assert!(r.status().is_success(), "revoke: {}", r.status());
        }
    }
    let w = World {
        resp: tokens[0].clone().expect("resp"),
        appr: tokens[3].clone().expect("appr"),
        protocollo: app.mailbox_id("protocollo@pec.demo.test").await,
        approver_id: app.user_id("approvatore@demo.test").await,
    };
    let mut failures = Vec::new();
    let mut cells = 0;
    for (row, expected) in MATRIX {
        for (i, ex) in expected.iter().enumerate() {
            let c = prepare(&app, &w, *row).await;
            let a = match c.raw {
                Some(bytes) => {
                    let mut req = app
                        .client
                        .request(c.method.clone(), app.url(&c.path))
                        .body(bytes);
                    if let Some(t) = &tokens[i] {
                        req = req.bearer_auth(t);
                    }
                    crate::helpers::into_answer(req.send().await.expect("request")).await
                }
                None => {
                    app.send(
                        c.method.clone(),
                        &c.path,
                        tokens[i].as_deref(),
                        c.body.clone(),
                    )
                    .await
                }
            };
            cells += 1;
            let got = match ex {
                S(code) => a.status.as_u16() == *code,
                Sees | Blind => {
                    let listed = a.body["items"].as_array().is_some_and(|items| {
                        items
                            .iter()
                            .any(|x| Some(x["id"].as_str().unwrap_or("")) == c.fixture.as_deref())
                    });
                    a.status == StatusCode::OK && listed == (*ex == Sees)
                }
            };
            if !got {
                failures.push(format!(
                    "{row:?} × {}: expected {ex:?}, got {} {}",
                    ROLES[i], a.status, a.body
                ));
            }
            if a.status.is_client_error() {
                assert!(
                    a.body["error"]["code"].is_string(),
                    "{row:?} × {}: envelope missing: {:?}",
                    ROLES[i],
                    a.body
                );
            }
        }
    }
    assert_eq!(cells, MATRIX.len() * ROLES.len());
    assert!(
        failures.is_empty(),
        "{} of {cells} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
