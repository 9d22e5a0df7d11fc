//! The approval story, concurrency on `version`, comments, participants, other organisations.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    approval_story_assignee_needs_the_approvers_approval_of_the_exact_draft,
    concurrent_updates_with_one_version_give_exactly_one_success,
    comments_are_editable_only_by_their_author_and_keep_history,
    a_team_assignee_without_grants_sees_exactly_its_activity_and_messages,
    other_organisations_ids_answer_404,
    activities_are_found_by_words_and_listed_by_due_date,
    bulk_creation_makes_one_activity_per_message_or_none,
    an_approver_who_wrote_or_edited_the_draft_cannot_approve_it,
    whoever_requested_the_approval_cannot_decide_it,
    the_assignee_cannot_be_the_approver_at_create_or_edit,
    the_approval_conversation_with_its_notes_appears_on_the_detail,
    sending_twice_answers_409_already_sent,
    a_refused_transition_names_no_internal_status,
    your_own_draft_edit_never_makes_your_next_move_stale,
);

async fn setup(app: &TestApp) -> (String, String, String, String) {
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let m = app
        .import_fresh(&resp, &protocollo, &uuid::Uuid::new_v4().to_string())
        .await;
    (
        resp,
        protocollo,
        m,
        app.user_id("assegnatario@demo.test").await,
    )
}

async fn approval_story_assignee_needs_the_approvers_approval_of_the_exact_draft(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, protocollo, m, assegnatario_id) = setup(&app).await;
    let ass = app.login("assegnatario@demo.test").await;
    let appr = app.login("approvatore@demo.test").await;
    let approver_id = app.user_id("approvatore@demo.test").await;
    let (id, _) = app
        .create_activity(&resp, json!({"mailbox_id": protocollo, "title": "Rispondere al Comune",
            "message_ids": [m], "assignee_id": assegnatario_id, "flow": "approval", "approver_id": approver_id}))
        .await;
    let path = format!("/api/v1/activities/{id}");
    let v = app.version(&ass, &id).await;
    let a = app
        .post(
            &ass,
            &format!("{path}/transitions"),
            json!({"to": "in_progress", "version": v}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);

    // Before approval the assignee can neither close nor send.
    let v = app.version(&ass, &id).await;
    let close = app
        .post(
            &ass,
            &format!("{path}/transitions"),
            json!({"to": "done", "version": v}),
        )
        .await;
    assert_eq!(close.status, StatusCode::CONFLICT, "{:?}", close.body);
    assert_envelope(&close, "conflict");
    let draft = json!({"to": ["protocollo@pec.comune-esempio.test"], "subject": "Re: pratica 42", "body": "Versione 1"});
    assert_eq!(
        app.put(&ass, &format!("{path}/draft"), draft.clone())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post(&ass, &format!("{path}/send"), json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );

    // The assignee asks; only the designated approver decides.
    let r = app
        .post(&ass, &format!("{path}/approval-request"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "awaiting_approval");
    assert_eq!(r.body["allowed_actions"], json!(["in_progress"]));
    let waiting = app.get(&appr, &path).await;
    assert_eq!(
        waiting.body["allowed_actions"],
        json!(["in_progress", "approved", "changes_requested"])
    );
    let not_approver = app
        .post(
            &ass,
            &format!("{path}/approval"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(not_approver.status, StatusCode::FORBIDDEN);
    // The refusal names whom to ask.
    let msg = not_approver.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(msg.contains("(Paolo Approvatore)"), "{msg}");
    assert_eq!(
        app.post(
            &resp,
            &format!("{path}/approval"),
            json!({"decision": "approve"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let ok = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "approve", "note": "va bene"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["status"], "approved");
    assert_eq!(ok.body["approved_draft_version"], 1);
    // The approver also holds MAIL_ACTIVITY_WRITER on the mailbox, so may do the work.
    assert_eq!(
        ok.body["allowed_actions"],
        json!(["in_progress", "done", "send"])
    );
    let approved = app.get(&ass, &path).await;
    assert_eq!(
        approved.body["allowed_actions"],
        json!(["in_progress", "done", "send"])
    );

    // An edit after approval voids it: no send until approved again.
    let edited = app
        .put(&ass, &format!("{path}/draft"), json!({"to": ["protocollo@pec.comune-esempio.test"], "subject": "Re: pratica 42", "body": "Versione 2"}))
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    assert_eq!(edited.body["version"], 2);
    let after = app.get(&ass, &path).await;
    assert_eq!(after.body["status"], "in_progress");
    assert!(after.body["approved_draft_version"].is_null());
    assert_eq!(after.body["allowed_actions"], json!(["awaiting_approval"]));
    let as_manager = app.get(&resp, &path).await;
    assert_eq!(
        as_manager.body["allowed_actions"],
        json!(["awaiting_approval", "cancelled"])
    );
    assert_eq!(
        app.post(&ass, &format!("{path}/send"), json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );

    // Approval of version 2, then send closes the activity.
    assert_eq!(
        app.post(&ass, &format!("{path}/approval-request"), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let ok2 = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(ok2.body["approved_draft_version"], 2);
    let sent = app.post(&ass, &format!("{path}/send"), json!({})).await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body["status"], "done");
    assert_eq!(sent.body["allowed_actions"], json!([]));
    let closed = app.get(&resp, &path).await;
    assert_eq!(closed.body["allowed_actions"], json!(["open"]));
    assert!(sent.body["draft"]["sent_at"].is_string());
    let msg = app.get(&resp, &format!("/api/v1/messages/{m}")).await;
    assert_eq!(msg.body["state"], "worked");
}

async fn concurrent_updates_with_one_version_give_exactly_one_success(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, protocollo, m, _) = setup(&app).await;
    let (id, version) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Concorrenza", "message_ids": [m]}),
        )
        .await;
    let path = format!("/api/v1/activities/{id}");
    let reqs = (0..8).map(|i| {
        let body = json!({"version": version, "title": format!("Titolo {i}")});
        app.patch(&resp, &path, body)
    });
    let answers = futures_join_all(reqs).await;
    let ok = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    let conflicts = answers
        .iter()
        .filter(|a| a.status == StatusCode::CONFLICT)
        .count();
    assert_eq!(
        (ok, conflicts),
        (1, 7),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert_eq!(app.version(&resp, &id).await, version + 1);
    // A stale version keeps failing.
    let stale = app
        .patch(&resp, &path, json!({"version": version, "priority": "low"}))
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_envelope(&stale, "conflict");
}

/// Runs the futures concurrently (no extra crate: tokio tasks over owned clones would
/// need 'static; joining in place is enough here).
async fn futures_join_all<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let fs: Vec<_> = fs.map(Box::pin).collect();
    let mut outs = Vec::new();
    let mut pending: Vec<_> = fs.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    for r in results {
        outs.push(r.expect("every future finished"));
    }
    outs
}

async fn comments_are_editable_only_by_their_author_and_keep_history(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, protocollo, m, _) = setup(&app).await;
    let ass = app.login("assegnatario@demo.test").await;
    let (id, _) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Commenti", "message_ids": [m]}),
        )
        .await;
    let c = app
        .post(
            &ass,
            &format!("/api/v1/activities/{id}/comments"),
            json!({"body": "Prima versione"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED);
    let cid = c.body["id"].as_str().expect("id").to_owned();
    let other = app
        .patch(
            &resp,
            &format!("/api/v1/comments/{cid}"),
            json!({"body": "Non mio"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let mine = app
        .patch(
            &ass,
            &format!("/api/v1/comments/{cid}"),
            json!({"body": "Seconda versione"}),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    let list = app
        .get(&resp, &format!("/api/v1/activities/{id}/comments"))
        .await;
    assert_eq!(list.body[0]["body"], "Seconda versione");
    assert_eq!(list.body[0]["history"][0]["body"], "Prima versione");
    assert!(list.body[0]["edited_at"].is_string());
    let empty = app
        .post(
            &ass,
            &format!("/api/v1/activities/{id}/comments"),
            json!({"body": "  "}),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_team_assignee_without_grants_sees_exactly_its_activity_and_messages(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, protocollo, m, _) = setup(&app).await;
    let m_other = app
        .import_fresh(&resp, &protocollo, "altro-messaggio")
        .await;
    let est = app.login("esterno@demo.test").await;
    let team = app.team_id("Studio Esterno").await;
    let (mine, _) = app
        .create_activity(&resp, json!({"mailbox_id": protocollo, "title": "Per lo studio esterno", "message_ids": [m], "team_id": team}))
        .await;
    let (other, _) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Interna", "message_ids": [m_other]}),
        )
        .await;

    let list = app.get(&est, "/api/v1/activities").await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, vec![mine.as_str()]);
    assert_eq!(
        app.get(&est, &format!("/api/v1/activities/{mine}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&est, &format!("/api/v1/activities/{other}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&est, &format!("/api/v1/messages/{m}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&est, &format!("/api/v1/messages/{m}/raw"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&est, &format!("/api/v1/messages/{m_other}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let msgs = app.get(&est, "/api/v1/messages").await;
    let mids: Vec<&str> = msgs.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(mids, vec![m.as_str()]);
    // It works on it (comment, move) but cannot manage it or take the message.
    assert_eq!(
        app.post(
            &est,
            &format!("/api/v1/activities/{mine}/comments"),
            json!({"body": "Ricevuto"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let v = app.version(&est, &mine).await;
    assert_eq!(
        app.post(
            &est,
            &format!("/api/v1/activities/{mine}/transitions"),
            json!({"to": "in_progress", "version": v})
        )
        .await
        .status,
        StatusCode::OK
    );
    let v = app.version(&est, &mine).await;
    assert_eq!(
        app.patch(
            &est,
            &format!("/api/v1/activities/{mine}"),
            json!({"version": v, "priority": "urgent"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&est, &format!("/api/v1/messages/{m}/take"), json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn other_organisations_ids_answer_404(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, _protocollo, _, _) = setup(&app).await;
    let altro = app.login("altro@altra.test").await;
    let altra_mb = app.mailbox_id("pec@pec.altra.test").await;
    let m = app.import_fresh(&altro, &altra_mb, "altra-1").await;
    let (a, v) = app
        .create_activity(
            &altro,
            json!({"mailbox_id": altra_mb, "title": "Di Altra", "message_ids": [m]}),
        )
        .await;
    let c = app
        .post(
            &altro,
            &format!("/api/v1/activities/{a}/comments"),
            json!({"body": "interno"}),
        )
        .await;
    let cid = c.body["id"].as_str().expect("id").to_owned();
    let admin = app.login("admin@demo.test").await;
    for token in [&resp, &admin] {
        for (method, path, body) in [
            (Method::GET, format!("/api/v1/messages/{m}"), None),
            (Method::GET, format!("/api/v1/messages/{m}/raw"), None),
            (Method::POST, format!("/api/v1/messages/{m}/take"), None),
            (Method::POST, format!("/api/v1/messages/{m}/trash"), None),
            (Method::GET, format!("/api/v1/activities/{a}"), None),
            (
                Method::PATCH,
                format!("/api/v1/activities/{a}"),
                Some(json!({"version": v, "title": "x"})),
            ),
            (
                Method::POST,
                format!("/api/v1/activities/{a}/transitions"),
                Some(json!({"to": "cancelled", "version": v})),
            ),
            (
                Method::GET,
                format!("/api/v1/activities/{a}/comments"),
                None,
            ),
            (
                Method::PATCH,
                format!("/api/v1/comments/{cid}"),
                Some(json!({"body": "x"})),
            ),
            (
                Method::PUT,
                format!("/api/v1/activities/{a}/draft"),
                Some(json!({"body": "x"})),
            ),
            (
                Method::POST,
                format!("/api/v1/messages/import?mailbox={altra_mb}"),
                None,
            ),
            (
                Method::POST,
                "/api/v1/activities".to_owned(),
                Some(json!({"mailbox_id": altra_mb, "title": "x"})),
            ),
        ] {
            let body = body.or_else(|| (method == Method::POST).then(|| json!({})));
            let ans = if path.contains("import") {
                app.post_raw(token, &path, crate::helpers::fresh_eml("cross-org"))
                    .await
            } else {
                app.send(method.clone(), &path, Some(token), body).await
            };
            assert_eq!(
                ans.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {:?}",
                ans.body
            );
            assert_envelope(&ans, "not_found");
        }
    }
    // Demo users' lists never show Altra's objects.
    let list = app.get(&admin, "/api/v1/messages?limit=200").await;
    assert!(!list.body.to_string().contains(&m));
    let list = app.get(&resp, "/api/v1/activities?limit=200").await;
    assert!(!list.body.to_string().contains(&a));
}

async fn activities_are_found_by_words_and_listed_by_due_date(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, protocollo, _, assegnatario_id) = setup(&app).await;
    let ass = app.login("assegnatario@demo.test").await;
    for (title, due) in [
        ("Ricorso TAR Lazio", "2026-12-20"),
        ("Diffida fornitore", "2026-12-01"),
        ("Senza scadenza", ""),
        ("Accesso agli atti", "2026-12-10"),
    ] {
        let mut body =
            json!({"mailbox_id": protocollo, "title": title, "assignee_id": assegnatario_id});
        if !due.is_empty() {
            body["due_at"] = json!(due);
        }
        app.create_activity(&resp, body).await;
    }
    app.create_activity(
        &resp,
        json!({"mailbox_id": protocollo, "title": "Non mia", "due_at": "2026-11-30"}),
    )
    .await;
    let mine = app
        .get(
            &ass,
            "/api/v1/activities?assignee=me&status=open&sort=due_at&limit=50",
        )
        .await;
    let titles: Vec<&str> = mine.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        vec![
            "Diffida fornitore",
            "Accesso agli atti",
            "Ricorso TAR Lazio",
            "Senza scadenza"
        ]
    );
    let found = app.get(&ass, "/api/v1/activities?q=tar%20lazio").await;
    let titles: Vec<&str> = found.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["title"].as_str())
        .collect();
    assert_eq!(titles, vec!["Ricorso TAR Lazio"]);
    let none = app.get(&ass, "/api/v1/activities?q=inesistente").await;
    assert_eq!(none.body["items"].as_array().map(Vec::len), Some(0));
    let due = app
        .get(&ass, "/api/v1/activities?assignee=me&due_before=2026-12-15")
        .await;
    assert_eq!(due.body["items"].as_array().map(Vec::len), Some(2));
    let page = app
        .get(&ass, "/api/v1/activities?assignee=me&limit=3")
        .await;
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(3));
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("next cursor")
        .to_owned();
    let page2 = app
        .get(
            &ass,
            &format!("/api/v1/activities?assignee=me&limit=3&cursor={cursor}"),
        )
        .await;
    assert_eq!(page2.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        app.get(&ass, "/api/v1/activities?sort=nonsense")
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn bulk_creation_makes_one_activity_per_message_or_none(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, protocollo, m1, _) = setup(&app).await;
    let m2 = app.import_fresh(&resp, &protocollo, "bulk-2").await;
    let a = app
        .post(
            &resp,
            "/api/v1/activities/bulk",
            json!({"mailbox_id": protocollo, "message_ids": [m1, m2], "priority": "high"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let ids = a.body["activity_ids"].as_array().expect("ids").clone();
    assert_eq!(ids.len(), 2);
    for (id, m) in ids.iter().zip([&m1, &m2]) {
        let d = app
            .get(
                &resp,
                &format!("/api/v1/activities/{}", id.as_str().expect("id")),
            )
            .await;
        assert_eq!(d.body["message_ids"], json!([m]));
        assert_eq!(d.body["priority"], "high");
    }
    // A second activity from the same message is allowed (several per message).
    let again = app
        .post(
            &resp,
            "/api/v1/activities",
            json!({"mailbox_id": protocollo, "title": "Altra ancora", "message_ids": [m1]}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    // One unknown message: nothing is created.
    let before: i64 = crate::scalar!(app, "SELECT COUNT(*) FROM activities");
    let bad = app
        .post(
            &resp,
            "/api/v1/activities/bulk",
            json!({"mailbox_id": protocollo, "message_ids": [m1, "nope"]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    let after: i64 = crate::scalar!(app, "SELECT COUNT(*) FROM activities");
    assert_eq!(before, after);
}

/// The error message of an answer.
fn message(a: &crate::helpers::Answer) -> String {
    a.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The names of the allowed actions of a detail.
fn actions(a: &crate::helpers::Answer) -> Vec<String> {
    a.body["allowed_actions"]
        .as_array()
        .expect("allowed_actions")
        .iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// An approval-flow activity assigned to Aldo with Paolo as approver, moved to
/// `in_progress` by Aldo, with a first draft written by Aldo. Returns (manager token,
/// assignee token, approver token, activity path).
async fn approval_activity(app: &TestApp) -> (String, String, String, String) {
    let (resp, protocollo, m, assegnatario_id) = setup(app).await;
    let ass = app.login("assegnatario@demo.test").await;
    let appr = app.login("approvatore@demo.test").await;
    let approver_id = app.user_id("approvatore@demo.test").await;
    let (id, v) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Due persone",
            "message_ids": [m], "assignee_id": assegnatario_id, "flow": "approval",
            "approver_id": approver_id}),
        )
        .await;
    let path = format!("/api/v1/activities/{id}");
    let started = app
        .post(
            &ass,
            &format!("{path}/transitions"),
            json!({"to": "in_progress", "version": v}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{:?}", started.body);
    let draft = app
        .put(
            &ass,
            &format!("{path}/draft"),
            json!({"to": ["protocollo@pec.comune-esempio.test"], "subject": "Re: pratica", "body": "Versione di Aldo"}),
        )
        .await;
    assert_eq!(draft.status, StatusCode::OK, "{:?}", draft.body);
    (resp, ass, appr, path)
}

async fn an_approver_who_wrote_or_edited_the_draft_cannot_approve_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, ass, appr, path) = approval_activity(&app).await;
    // The approver edits the assignee's draft, then the assignee asks for approval.
    let edited = app
        .put(&appr, &format!("{path}/draft"), json!({"to": ["protocollo@pec.comune-esempio.test"], "subject": "Re: pratica", "body": "Ritoccata da Paolo"}))
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    let asked = app
        .post(&ass, &format!("{path}/approval-request"), json!({}))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{:?}", asked.body);

    let refused = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert_envelope(&refused, "forbidden");
    let msg = message(&refused);
    assert!(
        msg.contains("chiedi a un altro utente con permesso di approvazione")
            && msg.contains("ask another user with approval rights"),
        "{msg}"
    );
    let seen = app.get(&appr, &path).await;
    assert_eq!(actions(&seen), vec!["in_progress", "changes_requested"]);
    let aldo = app.user_id("assegnatario@demo.test").await;
    let paolo = app.user_id("approvatore@demo.test").await;
    assert_eq!(seen.body["draft_authors"], json!([aldo, paolo]));
    // Nothing approved, so he cannot send what he wrote either.
    let send = app.post(&appr, &format!("{path}/send"), json!({})).await;
    assert_eq!(send.status, StatusCode::CONFLICT, "{:?}", send.body);

    // A manager names another approver (Rita: reader and writer on the mailbox); the
    // pending request is void, the assignee asks again, and the second person approves.
    let rita = app.user_id("responsabile@demo.test").await;
    let v = app
        .version(&resp, &path["/api/v1/activities/".len()..])
        .await;
    let renamed = app
        .patch(&resp, &path, json!({"version": v, "approver_id": rita}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!(renamed.body["status"], "in_progress");
    let again = app
        .post(&ass, &format!("{path}/approval-request"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    let ok = app
        .post(
            &resp,
            &format!("{path}/approval"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["approved_draft_version"], 2);
    let sent = app.post(&ass, &format!("{path}/send"), json!({})).await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
}

async fn whoever_requested_the_approval_cannot_decide_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_resp, ass, appr, path) = approval_activity(&app).await;
    // The approver, a participant, asks for approval of Aldo's draft himself.
    let asked = app
        .post(&appr, &format!("{path}/approval-request"), json!({}))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{:?}", asked.body);
    assert_eq!(actions(&asked), vec!["in_progress"]);
    for decision in ["approve", "request_changes"] {
        let refused = app
            .post(
                &appr,
                &format!("{path}/approval"),
                json!({"decision": decision}),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{decision}: {:?}",
            refused.body
        );
        let msg = message(&refused);
        assert!(
            msg.contains("hai chiesto tu") && msg.contains("another user with approval rights"),
            "{msg}"
        );
    }
    // When the assignee withdraws and asks again, the approver decides.
    let v = asked.body["version"].as_i64().expect("version");
    let back = app
        .post(
            &ass,
            &format!("{path}/transitions"),
            json!({"to": "in_progress", "version": v}),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    let again = app
        .post(&ass, &format!("{path}/approval-request"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    let ok = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
}

async fn the_assignee_cannot_be_the_approver_at_create_or_edit(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, protocollo, _m, aldo) = setup(&app).await;
    let paolo = app.user_id("approvatore@demo.test").await;
    let rita = app.user_id("responsabile@demo.test").await;
    let ufficio = app.team_id("Ufficio Legale").await;
    let sod = |a: &crate::helpers::Answer| {
        assert_eq!(a.status, StatusCode::CONFLICT, "{:?}", a.body);
        assert_envelope(a, "conflict");
        let msg = message(a);
        assert!(
            msg.contains("l'approvatore non può essere l'assegnatario")
                && msg.contains("another user with approval rights"),
            "{msg}"
        );
    };
    // At creation: the assignee himself, or a member of the assigned team.
    for body in [
        json!({"mailbox_id": protocollo, "title": "x", "flow": "approval",
               "assignee_id": paolo, "approver_id": paolo}),
        json!({"mailbox_id": protocollo, "title": "x", "flow": "approval",
               "team_id": ufficio, "approver_id": rita}),
    ] {
        sod(&app.post(&resp, "/api/v1/activities", body).await);
    }
    // At edit: assigning the approver, or naming the assignee approver.
    let (id, v) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Ruoli",
            "flow": "approval", "assignee_id": aldo, "approver_id": paolo}),
        )
        .await;
    let path = format!("/api/v1/activities/{id}");
    sod(&app
        .patch(&resp, &path, json!({"version": v, "assignee_id": paolo}))
        .await);
    sod(&app
        .patch(&resp, &path, json!({"version": v, "approver_id": aldo}))
        .await);
    // Both at once, too; and an approver without grants is still invalid input (422).
    sod(&app
        .patch(
            &resp,
            &path,
            json!({"version": v, "assignee_id": rita, "approver_id": rita}),
        )
        .await);
    let smistatore = app.user_id("smistatore@demo.test").await;
    let no_grants = app
        .patch(
            &resp,
            &path,
            json!({"version": v, "approver_id": smistatore}),
        )
        .await;
    assert_eq!(
        no_grants.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        no_grants.body
    );
    // Nothing changed; a valid swap goes through.
    assert_eq!(app.version(&resp, &id).await, v);
    let ok = app
        .patch(&resp, &path, json!({"version": v, "assignee_id": rita}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
}

async fn the_approval_conversation_with_its_notes_appears_on_the_detail(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_resp, ass, appr, path) = approval_activity(&app).await;
    let aldo = app.user_id("assegnatario@demo.test").await;
    let paolo = app.user_id("approvatore@demo.test").await;
    let fresh = app.get(&ass, &path).await;
    assert_eq!(fresh.body["approvals"], json!([]));

    let asked = app
        .post(
            &ass,
            &format!("{path}/approval-request"),
            json!({"note": "allego la delibera"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{:?}", asked.body);
    let changes = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "request_changes", "note": "manca l'allegato"}),
        )
        .await;
    assert_eq!(changes.status, StatusCode::OK, "{:?}", changes.body);
    let v = changes.body["version"].as_i64().expect("version");
    let back = app
        .post(
            &ass,
            &format!("{path}/transitions"),
            json!({"to": "in_progress", "version": v}),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    let draft = app
        .put(&ass, &format!("{path}/draft"), json!({"to": ["protocollo@pec.comune-esempio.test"], "subject": "Re: pratica", "body": "Con allegato", "attachments": ["delibera.pdf"]}))
        .await;
    assert_eq!(draft.status, StatusCode::OK, "{:?}", draft.body);
    let asked2 = app
        .post(&ass, &format!("{path}/approval-request"), json!({}))
        .await;
    assert_eq!(asked2.status, StatusCode::OK, "{:?}", asked2.body);
    let ok = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "approve", "note": "va bene"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);

    // Every participant sees the whole conversation, oldest first, with who and when.
    let detail = app.get(&ass, &path).await;
    let steps = detail.body["approvals"].as_array().expect("approvals");
    let got: Vec<(&str, i64, &str, &str)> = steps
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap_or_default(),
                s["draft_version"].as_i64().unwrap_or_default(),
                s["note"].as_str().unwrap_or_default(),
                s["by"]["id"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("request", 1, "allego la delibera", aldo.as_str()),
            ("request_changes", 1, "manca l'allegato", paolo.as_str()),
            ("request", 2, "", aldo.as_str()),
            ("approve", 2, "va bene", paolo.as_str()),
        ]
    );
    assert_eq!(steps[1]["by"]["name"], "Paolo Approvatore");
    assert_eq!(steps[0]["by"]["name"], "Aldo Assegnatario");
    let times: Vec<&str> = steps.iter().filter_map(|s| s["at"].as_str()).collect();
    assert_eq!(times.len(), 4);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    // The answer of the decision already shows it.
    assert_eq!(ok.body["approvals"], detail.body["approvals"]);
}

async fn sending_twice_answers_409_already_sent(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, protocollo, m, aldo) = setup(&app).await;
    let ass = app.login("assegnatario@demo.test").await;
    let (id, _) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Invio doppio",
            "message_ids": [m], "assignee_id": aldo}),
        )
        .await;
    let path = format!("/api/v1/activities/{id}");
    let draft = app
        .put(
            &ass,
            &format!("{path}/draft"),
            json!({"to": ["a@pec.example.test"], "body": "Uno"}),
        )
        .await;
    assert_eq!(draft.status, StatusCode::OK, "{:?}", draft.body);
    let first = app.post(&ass, &format!("{path}/send"), json!({})).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let second = app.post(&ass, &format!("{path}/send"), json!({})).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{:?}", second.body);
    assert_envelope(&second, "conflict");
    let msg = message(&second);
    assert!(
        msg.contains("già inviata") && msg.contains("already sent"),
        "{msg}"
    );
}

async fn a_refused_transition_names_no_internal_status(engine: Engine) {
    let app = spawn_app(engine).await;
    let (resp, protocollo, m, aldo) = setup(&app).await;
    let ass = app.login("assegnatario@demo.test").await;
    let (id, v) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Etichette",
            "message_ids": [m], "assignee_id": aldo}),
        )
        .await;
    let refused = app
        .post(
            &ass,
            &format!("/api/v1/activities/{id}/transitions"),
            json!({"to": "awaiting_approval", "version": v}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    let msg = message(&refused);
    assert!(
        msg.contains("«aperta»") && msg.contains("\"awaiting approval\""),
        "{msg}"
    );
    for internal in ["Open", "AwaitingApproval", "awaiting_approval", "→"] {
        assert!(!msg.contains(internal), "{internal} in {msg}");
    }
}

async fn your_own_draft_edit_never_makes_your_next_move_stale(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_resp, ass, appr, path) = approval_activity(&app).await;
    // The version Aldo read before writing a second version of his draft still holds.
    let v = app
        .version(&ass, &path["/api/v1/activities/".len()..])
        .await;
    let draft = app
        .put(
            &ass,
            &format!("{path}/draft"),
            json!({"to": ["protocollo@pec.comune-esempio.test"], "body": "Seconda"}),
        )
        .await;
    assert_eq!(draft.status, StatusCode::OK, "{:?}", draft.body);
    assert_eq!(draft.body["activity_version"], v);
    let asked = app
        .post(
            &ass,
            &format!("{path}/approval-request"),
            json!({"version": v}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{:?}", asked.body);
    let ok = app
        .post(
            &appr,
            &format!("{path}/approval"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    // An edit that voids the approval changes the activity: its answer says the new version
    // and status, which the next move uses.
    let voiding = app
        .put(
            &ass,
            &format!("{path}/draft"),
            json!({"to": ["protocollo@pec.comune-esempio.test"], "body": "Terza"}),
        )
        .await;
    assert_eq!(voiding.status, StatusCode::OK, "{:?}", voiding.body);
    assert_eq!(voiding.body["activity_status"], "in_progress");
    let nv = voiding.body["activity_version"]
        .as_i64()
        .expect("activity_version");
    assert!(nv > ok.body["version"].as_i64().expect("version"));
    let again = app
        .post(
            &ass,
            &format!("{path}/approval-request"),
            json!({"version": nv}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    // A version really overtaken by someone else's move is refused, without blaming others.
    let stale = app
        .post(
            &ass,
            &format!("{path}/transitions"),
            json!({"to": "in_progress", "version": v}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{:?}", stale.body);
    let msg = message(&stale);
    assert!(
        msg.contains("ricarica") && !msg.contains("da altri"),
        "{msg}"
    );
}
