//! Operations endpoints, OpenAPI, the error envelope and body limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_engines;
use crate::helpers::{Engine, assert_envelope, spawn_app};

both_engines!(
    health_readiness_and_metrics_answer,
    openapi_document_lists_the_api_paths,
    oversized_bodies_get_413_and_bad_input_the_envelope,
    the_demo_story_shows_work_in_progress_with_its_approval_conversation,
);

async fn health_readiness_and_metrics_answer(engine: Engine) {
    let app = spawn_app(engine).await;
    let h = app.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(
        app.send(Method::GET, "/readyz", None, None).await.status,
        StatusCode::OK
    );
    let m = app.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(m.status, StatusCode::OK);
    let text = m.body.as_str().expect("text").to_owned();
    assert!(
        text.contains("pecdesk_http_requests_total{status=\"2xx\"}"),
        "{text}"
    );
    assert!(text.contains("pecdesk_http_request_duration_seconds_count"));
}

async fn openapi_document_lists_the_api_paths(engine: Engine) {
    let app = spawn_app(engine).await;
    let doc = app.send(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(
        doc.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    for path in [
        "/api/v1/auth/dev-login",
        "/api/v1/me",
        "/api/v1/messages",
        "/api/v1/messages/import",
        "/api/v1/messages/{id}/take",
        "/api/v1/activities",
        "/api/v1/activities/{id}",
        "/api/v1/activities/{id}/transitions",
        "/api/v1/activities/{id}/approval",
        "/api/v1/comments/{id}",
        "/api/v1/audit/verify",
    ] {
        assert!(doc.body["paths"][path].is_object(), "{path} documented");
    }
}

async fn oversized_bodies_get_413_and_bad_input_the_envelope(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let (id, _) = app
        .create_activity(&resp, json!({"mailbox_id": protocollo, "title": "Limiti"}))
        .await;
    let huge = "x".repeat(2 * 1024 * 1024);
    // Its own client: the server closes the connection after a 413 without reading the
    // body, and a pooled reuse of that connection made the next request fail at random.
    let big = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/activities/{id}/comments")))
        .bearer_auth(&resp)
        .json(&json!({"body": huge}))
        .send()
        .await
        .expect("request");
    let big = crate::helpers::into_answer(big).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_envelope(&big, "too_large");
    let malformed = app
        .client
        .post(app.url("/api/v1/activities"))
        .bearer_auth(&resp)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    let malformed = crate::helpers::into_answer(malformed).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_envelope(&malformed, "bad_request");
    let missing = app
        .post(
            &resp,
            "/api/v1/activities",
            json!({"title": "senza casella"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_envelope(&missing, "invalid");
    let bad_priority = app
        .post(
            &resp,
            "/api/v1/activities",
            json!({"mailbox_id": protocollo, "title": "x", "priority": "subito"}),
        )
        .await;
    assert_eq!(bad_priority.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown_route = app.get(&resp, "/api/v1/activities/nope").await;
    assert_eq!(unknown_route.status, StatusCode::NOT_FOUND);
    assert_envelope(&unknown_route, "not_found");
    let no_such_path = app.get(&resp, "/api/v1/nothing-here").await;
    assert_eq!(no_such_path.status, StatusCode::NOT_FOUND);
    assert_envelope(&no_such_path, "not_found");
}

/// `serve --demo` also writes a story (`demo::seed_story`): what a new user sees first.
async fn the_demo_story_shows_work_in_progress_with_its_approval_conversation(engine: Engine) {
    let app = spawn_app(engine).await;
    pecdesk_companion::demo::seed_story(&app.store)
        .await
        .expect("the demo story is written through the use cases");
    let paolo = app.login("approvatore@demo.test").await;
    let mine = app
        .get(&paolo, "/api/v1/activities?status=awaiting_approval")
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    let items = mine.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{items:?}");
    let id = items[0]["id"].as_str().expect("id");
    let detail = app.get(&paolo, &format!("/api/v1/activities/{id}")).await;
    let steps: Vec<(String, String)> = detail.body["approvals"]
        .as_array()
        .expect("approvals")
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().expect("kind").to_owned(),
                s["by"]["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("request".to_owned(), "Aldo Assegnatario".to_owned()),
            ("request_changes".to_owned(), "Paolo Approvatore".to_owned()),
            ("request".to_owned(), "Aldo Assegnatario".to_owned()),
        ]
    );
    assert_eq!(detail.body["assignee_name"], "Aldo Assegnatario");
    // Paolo may approve now; Aldo, who wrote the draft and asked, may not.
    let allowed = detail.body["allowed_actions"].to_string();
    assert!(allowed.contains("approve"), "{allowed}");
    let aldo = app.login("assegnatario@demo.test").await;
    let as_aldo = app.get(&aldo, &format!("/api/v1/activities/{id}")).await;
    assert!(
        !as_aldo.body["allowed_actions"]
            .to_string()
            .contains("\"approve\""),
        "{:?}",
        as_aldo.body["allowed_actions"]
    );
    // The team's activity carries Rita's comment.
    let rita = app.login("responsabile@demo.test").await;
    let all = app.get(&rita, "/api/v1/activities").await;
    assert_eq!(all.body["items"].as_array().expect("items").len(), 2);
}
