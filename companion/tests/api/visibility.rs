//! The visibility rule is written twice, once as the core's `authorize` (one object at a
//! time) and once as SQL (`store::visibility`, every list): this story checks they agree.
//! For every user of both demo organisations, after activities assigned to a user, to a
//! team and with an approver (some in a mailbox the participant holds no grant on), the
//! message list, the activity list, the message detail and the lookup answer exactly the
//! objects for which the core's `ReadMessage` / `ReadActivity` says yes — the core's
//! answer being computed here from the stored rows, not from SQL predicates.

use std::collections::BTreeSet;

use pecdesk_companion::auth::Principal;
use pecdesk_companion::demo::{ALTRA_PEC, DEMO_ORG, LEGALE, OTHER_ORG, PROTOCOLLO};
use pecdesk_companion::store::{grants, users};
use pecdesk_companion::with_pool;
use pecdesk_core::activity::{Flow, Status};
use pecdesk_core::authz::{ActivityFacts, MessageFacts, Operation, Person, authorize};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

/// An activity row, as the core needs it.
type ActivityTuple = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Ids of every page of a list endpoint (`path` already has its query).
async fn all_ids(app: &TestApp, token: &str, path: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
            None => format!("{path}{sep}limit=200"),
        };
        let a = app.get(token, &url).await;
        assert_eq!(a.status, StatusCode::OK, "{url}: {:?}", a.body);
        for item in a.body["items"].as_array().expect("items") {
            ids.insert(item["id"].as_str().expect("id").to_owned());
        }
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

/// Activities of `org_id` with the facts reading depends on, and their message links.
async fn activity_facts(
    app: &TestApp,
    org_id: &str,
) -> (Vec<(String, ActivityFacts)>, Vec<(String, String)>) {
    let rows: Vec<ActivityTuple> = with_pool!(app.store, |p| sqlx::query_as(
        "SELECT id, mailbox_id, status, flow, assignee_id, team_id, approver_id \
         FROM activities WHERE org_id = $1"
    )
    .bind(org_id)
    .fetch_all(p)
    .await)
    .expect("activities");
    let links: Vec<(String, String)> = with_pool!(app.store, |p| sqlx::query_as(
        "SELECT am.activity_id, am.message_id FROM activity_messages am \
         JOIN activities a ON a.id = am.activity_id WHERE a.org_id = $1"
    )
    .bind(org_id)
    .fetch_all(p)
    .await)
    .expect("links");
    let facts = rows
        .into_iter()
        .map(
            |(id, mailbox_id, status, flow, assignee_id, team_id, approver_id)| {
                (
                    id,
                    ActivityFacts {
                        mailbox_id,
                        status: Status::parse(&status).expect("status"),
                        flow: Flow::parse(&flow).expect("flow"),
                        assignee_id,
                        team_id,
                        approver_id,
                        ..ActivityFacts::default()
                    },
                )
            },
        )
        .collect();
    (facts, links)
}

/// Live (not trashed) messages of `org_id`: (id, mailbox id, Message-ID).
async fn live_messages(app: &TestApp, org_id: &str) -> Vec<(String, String, Option<String>)> {
    with_pool!(app.store, |p| sqlx::query_as(
        "SELECT id, mailbox_id, internet_message_id FROM messages \
         WHERE org_id = $1 AND trashed_at IS NULL"
    )
    .bind(org_id)
    .fetch_all(p)
    .await)
    .expect("messages")
}

/// What the core says `who` may read, from the rows.
fn core_readable(
    who: &Person,
    activities: &[(String, ActivityFacts)],
    links: &[(String, String)],
    messages: &[(String, String, Option<String>)],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let acts = activities
        .iter()
        .filter(|(_, a)| authorize(who, Operation::ReadActivity(a)).is_ok())
        .map(|(id, _)| id.clone())
        .collect();
    let msgs = messages
        .iter()
        .filter(|(id, mailbox_id, _)| {
            let participant = links.iter().any(|(act, msg)| {
                msg == id
                    && activities
                        .iter()
                        .any(|(a_id, a)| a_id == act && a.is_participant(who))
            });
            let facts = MessageFacts {
                mailbox_id: mailbox_id.clone(),
                participant,
            };
            authorize(who, Operation::ReadMessage(&facts)).is_ok()
        })
        .map(|(id, _, _)| id.clone())
        .collect();
    (acts, msgs)
}

async fn visibility_agrees_with_the_core(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id(PROTOCOLLO).await;
    let legale = app.mailbox_id(LEGALE).await;
    let esterno = app.user_id("esterno@demo.test").await;
    let assegnatario = app.user_id("assegnatario@demo.test").await;
    let approvatore = app.user_id("approvatore@demo.test").await;
    let studio_esterno = app.team_id("Studio Esterno").await;
    let ufficio = app.team_id("Ufficio Legale").await;

    // Messages in both mailboxes; the last two stay unlinked.
    let mut fresh = Vec::new();
    for (i, mb) in [
        &protocollo,
        &legale,
        &protocollo,
        &protocollo,
        &legale,
        &protocollo,
    ]
    .into_iter()
    .enumerate()
    {
        fresh.push(app.import_fresh(&resp, mb, &format!("vis-{i}")).await);
    }
    let bodies = [
        // Assigned to a user without any grant.
        json!({"mailbox_id": protocollo, "title": "A utente", "message_ids": [fresh[0]],
               "assignee_id": esterno}),
        // Assigned to the external team, in a mailbox its members hold nothing on.
        json!({"mailbox_id": legale, "title": "A team", "message_ids": [fresh[1]],
               "team_id": studio_esterno}),
        // With an approver who holds activity grants but no message read on protocollo.
        json!({"mailbox_id": protocollo, "title": "Con approvatore", "message_ids": [fresh[2]],
               "flow": "approval", "approver_id": approvatore}),
        // To the internal team.
        json!({"mailbox_id": protocollo, "title": "A ufficio", "message_ids": [fresh[3]],
               "team_id": ufficio}),
        // A legale activity for a user who holds grants on protocollo only, no message.
        json!({"mailbox_id": legale, "title": "Senza messaggio", "assignee_id": assegnatario}),
    ];
    for body in bodies {
        app.create_activity(&resp, body).await;
    }
    // A trashed message is in neither list (the list shows live messages by default).
    let trashed = app.import_fresh(&resp, &legale, "vis-trashed").await;
    let t = app
        .post(
            &resp,
            &format!("/api/v1/messages/{trashed}/trash"),
            json!({}),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);

    let mut checked_users = 0;
    let mut seen_visible = 0;
    for (org_name, some_mailbox) in [(DEMO_ORG, PROTOCOLLO), (OTHER_ORG, ALTRA_PEC)] {
        let org_id = users::find_org(&app.store, org_name)
            .await
            .expect("org")
            .expect("demo org");
        assert!(!app.mailbox_id(some_mailbox).await.is_empty());
        let (activities, links) = activity_facts(&app, &org_id).await;
        let messages = live_messages(&app, &org_id).await;
        for user in users::users_of_org(&app.store, &org_id)
            .await
            .expect("users")
        {
            let principal = Principal {
                user_id: user.id.clone(),
                org_id: user.org_id.clone(),
                email: user.email.clone(),
                name: user.name.clone(),
                is_admin: user.is_admin,
                is_auditor: user.is_auditor,
            };
            let person = grants::person(&app.store, &principal)
                .await
                .expect("person");
            let (want_acts, want_msgs) = core_readable(&person, &activities, &links, &messages);
            let token = app.login(&user.email).await;
            let got_msgs = all_ids(&app, &token, "/api/v1/messages").await;
            let got_acts = all_ids(&app, &token, "/api/v1/activities").await;
            assert_eq!(got_msgs, want_msgs, "messages of {}", user.email);
            assert_eq!(got_acts, want_acts, "activities of {}", user.email);
            // Detail and lookup answer the same: 200 exactly where the core says yes.
            for (id, _, message_id) in &messages {
                let want = want_msgs.contains(id);
                let d = app.get(&token, &format!("/api/v1/messages/{id}")).await;
                let expected = if want {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                };
                assert_eq!(d.status, expected, "detail {id} for {}", user.email);
                if let Some(mid) = message_id.as_deref().filter(|m| m.contains("vis-")) {
                    let l = app
                        .get(
                            &token,
                            &format!("/api/v1/messages/lookup?message_id=%3C{mid}%3E"),
                        )
                        .await;
                    assert_eq!(l.status, expected, "lookup {mid} for {}", user.email);
                    if want {
                        let ids: Vec<&str> = l
                            .body
                            .as_array()
                            .expect("array")
                            .iter()
                            .filter_map(|m| m["id"].as_str())
                            .collect();
                        assert_eq!(ids, [id.as_str()], "lookup {mid} for {}", user.email);
                    }
                }
            }
            seen_visible += want_msgs.len() + want_acts.len();
            checked_users += 1;
        }
    }
    // Every demo user (six + the other organisation's) was checked, and the rule is not
    // vacuous: somebody saw something, and the participants without grants saw their part.
    assert_eq!(checked_users, 7);
    assert!(seen_visible > 0);
    let esterno_token = app.login("esterno@demo.test").await;
    let esterno_msgs = all_ids(&app, &esterno_token, "/api/v1/messages").await;
    assert_eq!(
        esterno_msgs,
        BTreeSet::from([fresh[0].clone(), fresh[1].clone()]),
        "the external user sees exactly the messages of their activities"
    );
}

/// Identifiers are parsed where they come in: a malformed Message-ID or e-mail address is
/// 422 with the bilingual message, before any lookup.
async fn malformed_identifiers_answer_422(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.login("responsabile@demo.test").await;
    for key in ["%3C%3E", "a%20b@esempio.test", "x%01y@esempio.test"] {
        let a = app
            .get(&token, &format!("/api/v1/messages/lookup?message_id={key}"))
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{key}: {:?}",
            a.body
        );
        assert_envelope(&a, "invalid");
        let msg = a.body["error"]["message"].as_str().expect("message");
        assert!(msg.contains("Message-ID") && msg.contains(" / "), "{msg}");
    }
    for email in ["senza-chiocciola", "due@@demo.test", "spazio @demo.test"] {
        let a = app
            .send(
                Method::POST,
                "/api/v1/auth/dev-login",
                None,
                Some(json!({ "email": email })),
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email}: {:?}",
            a.body
        );
        assert_envelope(&a, "invalid");
    }
    // Case does not matter for an address: it is lower-cased when parsed.
    let a = app
        .send(
            Method::POST,
            "/api/v1/auth/dev-login",
            None,
            Some(json!({"email": " Responsabile@Demo.TEST "})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
}

crate::both_engines!(
    visibility_agrees_with_the_core,
    malformed_identifiers_answer_422
);
