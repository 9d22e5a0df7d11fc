//! The audit log: every change appended, hash-chained; tampering is found and named by the
//! API and by `pecdesk audit verify`.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_engines;
use crate::helpers::{Engine, TestApp, spawn_app};

both_engines!(
    audit_verify_names_the_first_altered_entry_after_tampering,
    audit_verify_names_a_removed_entry,
    every_change_is_appended_to_the_audit_log_of_its_organisation,
);

async fn some_changes(app: &TestApp) -> String {
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let m = app.import_fresh(&resp, &protocollo, "audit").await;
    let (id, v) = app
        .create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": "Audit", "message_ids": [m]}),
        )
        .await;
    assert_eq!(
        app.patch(
            &resp,
            &format!("/api/v1/activities/{id}"),
            json!({"version": v, "priority": "high"})
        )
        .await
        .status,
        StatusCode::OK
    );
    app.login("admin@demo.test").await
}

fn cli_verify(app: &TestApp) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .args(["audit", "verify"])
        .args(app.db_args())
        .output()
        .expect("run pecdesk audit verify");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn audit_verify_names_the_first_altered_entry_after_tampering(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = some_changes(&app).await;
    let ok = app.get(&admin, "/api/v1/audit/verify").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["ok"], true, "{:?}", ok.body);
    assert!(ok.body["entries"].as_i64().expect("entries") >= 4);
    let (cli_ok, _) = cli_verify(&app);
    assert!(cli_ok);

    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "UPDATE audit_log SET details = $1 WHERE seq = 3"
    )
    .bind(r#"{"forged":true}"#)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("tamper");
    let broken = app.get(&admin, "/api/v1/audit/verify").await;
    assert_eq!(broken.body["ok"], false);
    assert_eq!(broken.body["first_broken"], 3);
    let (cli_ok, out) = cli_verify(&app);
    assert!(!cli_ok, "exit status must report the break");
    assert!(out.contains("entry 3"), "{out}");
}

async fn audit_verify_names_a_removed_entry(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = some_changes(&app).await;
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "DELETE FROM audit_log WHERE seq = 2"
    )
    .execute(p)
    .await
    .map(|_| ()))
    .expect("tamper");
    let broken = app.get(&admin, "/api/v1/audit/verify").await;
    assert_eq!(broken.body["ok"], false);
    assert_eq!(broken.body["first_broken"], 2);
}

async fn every_change_is_appended_to_the_audit_log_of_its_organisation(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = some_changes(&app).await;
    let altro = app.login("altro@altra.test").await;
    let altra_mb = app.mailbox_id("pec@pec.altra.test").await;
    app.import_fresh(&altro, &altra_mb, "altra-audit").await;
    let log = app.get(&admin, "/api/v1/audit?limit=500").await;
    let entries = log.body.as_array().expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "demo.seed",
        "message.import",
        "activity.create",
        "activity.update",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let org = crate::scalar!(
        app,
        "SELECT org_id FROM users WHERE email = $1",
        "admin@demo.test"
    );
    let org: String = org;
    assert!(
        entries.iter().all(|e| e["org_id"] == org.as_str()),
        "only the admin's organisation"
    );
    for w in entries.windows(2) {
        if w[1]["seq"].as_i64() == w[0]["seq"].as_i64().map(|s| s + 1) {
            assert_eq!(w[1]["prev_hash"], w[0]["hash"]);
        }
    }
    // Nothing personal in the log: no subjects, addresses or bodies.
    assert!(!log.body.to_string().contains("@demo.test"));
}
