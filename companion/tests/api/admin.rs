//! Administration (issue 13, item 1): an organisation's admins create and edit mailboxes
//! with IMAP and SMTP settings (passwords sealed at rest, never returned), teams and their
//! members, grants of the five policies; non-admins get 403, other organisations' ids 404;
//! every change is audited; the `pecdesk mailbox|team|grant` commands reach the same data.

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use pecdesk_companion::demo;
use pecdesk_companion::store::mailboxes::{self, Protocol};

use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};
use crate::{both_engines, scalar};

both_engines!(
    an_admin_creates_a_mailbox_and_reads_it_back_without_secrets,
    patch_without_password_keeps_it_and_with_password_replaces_it,
    health_and_quota_come_from_the_pollers_table,
    only_the_organisations_admins_administer,
    plain_security_is_refused_towards_a_remote_host_and_input_is_checked,
    team_membership_and_grants_make_a_mailbox_visible_and_revoking_hides_it,
    the_app_password_warns_within_fourteen_days,
    administration_is_audited_without_secrets,
    the_cli_adds_lists_and_grants_on_the_same_database,
    the_openapi_document_describes_every_admin_route,
    an_admin_creates_disables_and_enables_a_user_never_deleting_them,
);

const IMAP_PW: &str = "Imap-S3greto-7731";
const SMTP_PW: &str = "Smtp-S3greto-4410";

fn full_mailbox(address: &str) -> Value {
    json!({
        "address": address,
        "name": "Ufficio Gare",
        "imap": {"host": "imap.pec.example.it", "port": 993, "security": "tls",
                 "user": address, "password": IMAP_PW, "sent_folder": "Posta inviata"},
        "smtp": {"host": "smtp.pec.example.it", "port": 465, "security": "tls",
                 "user": address, "password": SMTP_PW},
        "quota_bytes": 2_000_000_000_i64,
        "app_password_expires_at": "2099-01-31",
    })
}

/// The master key the app seals with (in the app's data directory, or the environment).
fn master(app: &TestApp) -> pecdesk_companion::auth::secrets::MasterKey {
    let args = app.db_args();
    let dir = args
        .iter()
        .position(|a| a == "--data-dir")
        .map(|i| args[i + 1].clone())
        .expect("data dir");
    let settings = pecdesk_companion::Settings::for_data_dir(std::path::Path::new(&dir));
    pecdesk_companion::auth::tokens::master_key(&settings).expect("master key")
}

async fn opened(app: &TestApp, id: &str, p: Protocol) -> mailboxes::Endpoint {
    mailboxes::endpoint(&app.store, &master(app), id, p)
        .await
        .expect("endpoint")
        .expect("settings present")
}

fn assert_no_secret(what: &str, v: &impl ToString) {
    let text = v.to_string();
    for pw in [
        IMAP_PW,
        SMTP_PW,
        "Nuova-Password-99",
        "Da-Riga-Di-Comando-5",
    ] {
        assert!(!text.contains(pw), "{what} carries a password: {text}");
    }
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let a = app.post(token, "/api/v1/mailboxes", body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body
}

async fn an_admin_creates_a_mailbox_and_reads_it_back_without_secrets(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let created = create(&app, &admin, full_mailbox("Gare@Pec.Demo.Test")).await;
    assert_no_secret("POST answer", &created);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["address"], "gare@pec.demo.test");
    assert_eq!(
        created["ingest_enabled"], true,
        "IMAP given: polled by default"
    );

    let got = app.get(&admin, &format!("/api/v1/mailboxes/{id}")).await;
    assert_eq!(got.status, StatusCode::OK, "{:?}", got.body);
    assert_no_secret("GET answer", &got.body);
    let imap = &got.body["imap"];
    assert_eq!(imap["host"], "imap.pec.example.it");
    assert_eq!(imap["port"], 993);
    assert_eq!(imap["security"], "tls");
    assert_eq!(imap["password_set"], true);
    assert_eq!(imap["sent_folder"], "Posta inviata");
    assert!(imap.get("password").is_none());
    assert_eq!(got.body["smtp"]["port"], 465);
    assert_eq!(got.body["smtp"]["password_set"], true);
    assert_eq!(got.body["quota"]["source"], "configured");
    assert_eq!(got.body["quota"]["total_bytes"], 2_000_000_000_i64);
    assert_eq!(got.body["app_password"]["warning"], false);
    assert!(got.body["health"].is_null(), "never polled: {:?}", got.body);

    // At rest: sealed, not clear text; opened back by the poller's door.
    let sealed: String = scalar!(app, "SELECT imap_secret FROM mailboxes WHERE id = $1", &id);
    assert!(!sealed.contains(IMAP_PW) && !sealed.is_empty());
    let row: String = scalar!(
        app,
        "SELECT COALESCE(imap_secret, '') || COALESCE(smtp_secret, '') || address || name FROM mailboxes WHERE id = $1",
        &id
    );
    assert_no_secret("mailbox row", &row);
    let e = opened(&app, &id, Protocol::Imap).await;
    assert_eq!(e.secret.expose_secret(), IMAP_PW);
    assert_eq!((e.host.as_str(), e.port), ("imap.pec.example.it", 993));
    assert_eq!(
        opened(&app, &id, Protocol::Smtp)
            .await
            .secret
            .expose_secret(),
        SMTP_PW
    );

    // The admin's list has it; the poller's targets too.
    let list = app.get(&admin, "/api/v1/mailboxes").await;
    assert!(
        list.body
            .as_array()
            .expect("list")
            .iter()
            .any(|m| m["id"] == id.as_str()),
        "{:?}",
        list.body
    );
    let targets = mailboxes::poll_targets(&app.store).await.expect("targets");
    let t = targets.iter().find(|t| t.id == id).expect("polled");
    assert_eq!(t.imap_sent_folder.as_deref(), Some("Posta inviata"));
}

async fn patch_without_password_keeps_it_and_with_password_replaces_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let id = create(&app, &admin, full_mailbox("patch@pec.demo.test")).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/v1/mailboxes/{id}");

    let a = app
        .patch(
            &admin,
            &path,
            json!({"name": "Gare e Appalti", "imap": {"host": "imap2.pec.example.it", "port": 143, "security": "starttls"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["name"], "Gare e Appalti");
    assert_eq!(a.body["imap"]["host"], "imap2.pec.example.it");
    assert_eq!(a.body["imap"]["security"], "starttls");
    assert_eq!(a.body["imap"]["sent_folder"], "Posta inviata", "kept");
    let e = opened(&app, &id, Protocol::Imap).await;
    assert_eq!(
        e.secret.expose_secret(),
        IMAP_PW,
        "no password: the stored one stays"
    );
    assert_eq!(e.port, 143);

    let a = app
        .patch(
            &admin,
            &path,
            json!({"imap": {"password": "Nuova-Password-99"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_no_secret("PATCH answer", &a.body);
    let e = opened(&app, &id, Protocol::Imap).await;
    assert_eq!(e.secret.expose_secret(), "Nuova-Password-99");
    assert_eq!(e.host, "imap2.pec.example.it", "the rest stays");
    assert_eq!(
        opened(&app, &id, Protocol::Smtp)
            .await
            .secret
            .expose_secret(),
        SMTP_PW,
        "SMTP untouched"
    );

    // Clearing: the expiry and the quota with null; polling off.
    let a = app
        .patch(
            &admin,
            &path,
            json!({"app_password_expires_at": null, "quota_bytes": null, "ingest_enabled": false}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.body["app_password"].is_null() && a.body["quota"].is_null());
    assert_eq!(a.body["ingest_enabled"], false);
    let targets = mailboxes::poll_targets(&app.store).await.expect("targets");
    assert!(targets.iter().all(|t| t.id != id));

    // A mailbox without IMAP cannot be polled; an incomplete first IMAP setting is refused.
    let bare = create(
        &app,
        &admin,
        json!({"address": "nuda@pec.demo.test", "name": "Nuda"}),
    )
    .await;
    assert_eq!(bare["ingest_enabled"], false);
    let bare_path = format!("/api/v1/mailboxes/{}", bare["id"].as_str().expect("id"));
    let a = app
        .patch(&admin, &bare_path, json!({"ingest_enabled": true}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    let a = app
        .patch(
            &admin,
            &bare_path,
            json!({"imap": {"host": "imap.pec.example.it", "port": 993, "security": "tls", "user": "u"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("imap.password")
    );
}

async fn health_and_quota_come_from_the_pollers_table(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let id = create(&app, &admin, full_mailbox("salute@pec.demo.test")).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "INSERT INTO mailbox_health (mailbox_id, last_success_at, last_error_at, last_error_code, \
         last_error, consecutive_failures, next_attempt_at, quota_used_kb, quota_total_kb, \
         quota_read_at, idle) VALUES ($1, $2, $3, 'auth', $4, 3, $5, 1024, 2048, $2, true)"
    )
    .bind(&id)
    .bind(1_790_000_000_000_i64)
    .bind(1_790_000_100_000_i64)
    .bind("password errata: aggiornala / wrong password: update it")
    .bind(1_790_000_400_000_i64)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("health row");
    let got = app.get(&admin, &format!("/api/v1/mailboxes/{id}")).await;
    assert_eq!(got.status, StatusCode::OK, "{:?}", got.body);
    let h = &got.body["health"];
    assert_eq!(h["last_error_code"], "auth");
    assert_eq!(h["consecutive_failures"], 3);
    assert_eq!(h["idle"], true);
    assert!(
        h["last_error"]
            .as_str()
            .expect("words")
            .contains("wrong password")
    );
    assert!(
        h["next_attempt_at"]
            .as_str()
            .expect("when")
            .starts_with("2026-")
    );
    let q = &got.body["quota"];
    assert_eq!(
        q["source"], "imap",
        "the server's figure wins over the configured one"
    );
    assert_eq!(q["used_bytes"], 1024 * 1024);
    assert_eq!(q["total_bytes"], 2048 * 1024);

    // The admin's mailbox list summarises it; a non-admin's list has no such summary.
    let list = app.get(&admin, "/api/v1/mailboxes").await;
    let m = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["id"] == id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(m["admin"]["failing"], "auth", "{m:?}");
    assert_eq!(m["admin"]["consecutive_failures"], 3);
    assert_eq!(m["admin"]["imap_configured"], true);
    assert_eq!(m["admin"]["app_password_warning"], false);
    let manager = app.login("responsabile@demo.test").await;
    let theirs = app.get(&manager, "/api/v1/mailboxes").await;
    assert!(
        theirs
            .body
            .as_array()
            .expect("list")
            .iter()
            .all(|m| m.get("admin").is_none()),
        "{:?}",
        theirs.body
    );
}

async fn only_the_organisations_admins_administer(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let manager = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id(demo::PROTOCOLLO).await;
    let team = app.team_id("Ufficio Legale").await;
    let user = app.user_id("assegnatario@demo.test").await;

    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/mailboxes".to_owned(),
            Some(full_mailbox("no@pec.demo.test")),
        ),
        (Method::GET, format!("/api/v1/mailboxes/{protocollo}"), None),
        (
            Method::PATCH,
            format!("/api/v1/mailboxes/{protocollo}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            "/api/v1/teams".to_owned(),
            Some(json!({"name": "Nuovo"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/teams/{team}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/teams/{team}/members/{user}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/teams/{team}/members/{user}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/grants?mailbox={protocollo}"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/grants".to_owned(),
            Some(json!({"mailbox_id": protocollo, "user_id": user, "role": "Responsabile"})),
        ),
        (
            Method::DELETE,
            "/api/v1/grants/00000000-0000-0000-0000-000000000000".to_owned(),
            None,
        ),
    ] {
        let a = app.send(method.clone(), &path, Some(&manager), body).await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {:?}",
            a.body
        );
        assert_envelope(&a, "forbidden");
        assert!(
            a.body["error"]["message"]
                .as_str()
                .expect("message")
                .contains("amministratori"),
            "admin_only: {:?}",
            a.body
        );
    }
    let a = app.send(Method::GET, "/api/v1/grants", None, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // Another organisation's objects are missing to this admin.
    let other_box = app.mailbox_id(demo::ALTRA_PEC).await;
    let other_user = app.user_id("altro@altra.test").await;
    let a = app
        .get(&admin, &format!("/api/v1/mailboxes/{other_box}"))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_envelope(&a, "not_found");
    let a = app
        .patch(
            &admin,
            &format!("/api/v1/mailboxes/{other_box}"),
            json!({"name": "mio"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app
        .put(
            &admin,
            &format!("/api/v1/teams/{team}/members/{other_user}"),
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app
        .post(
            &admin,
            "/api/v1/grants",
            json!({"mailbox_id": other_box, "user_id": user, "policy": "MAIL_ACCOUNT_READER"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app
        .post(
            &admin,
            "/api/v1/grants",
            json!({"mailbox_id": protocollo, "user_id": other_user, "policy": "MAIL_ACCOUNT_READER"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let other_name: String = scalar!(app, "SELECT name FROM mailboxes WHERE id = $1", &other_box);
    assert_ne!(other_name, "mio");
    // The other organisation's grants are neither listed nor revocable.
    let other_grant: Option<String> =
        pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
            "SELECT id FROM grants WHERE mailbox_id = $1 LIMIT 1"
        )
        .bind(&other_box)
        .fetch_optional(p)
        .await)
        .expect("query");
    let a = app
        .get(&admin, &format!("/api/v1/grants?mailbox={other_box}"))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
    let listed = app.get(&admin, "/api/v1/grants").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        listed
            .body
            .as_array()
            .expect("list")
            .iter()
            .all(|g| g["mailbox_id"] != other_box.as_str())
    );
    if let Some(g) = other_grant {
        let a = app
            .send(
                Method::DELETE,
                &format!("/api/v1/grants/{g}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }
}

async fn plain_security_is_refused_towards_a_remote_host_and_input_is_checked(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let plain = |host: &str, address: &str| {
        json!({"address": address, "name": "Locale",
               "imap": {"host": host, "port": 1143, "security": "plain", "user": "u", "password": "p"}})
    };
    let a = app
        .post(
            &admin,
            "/api/v1/mailboxes",
            plain("imap.pec.example.it", "remota@pec.demo.test"),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    let msg = a.body["error"]["message"].as_str().expect("message");
    assert!(
        msg.contains("127.0.0.0/8") && msg.contains("tls") && msg.contains(" / "),
        "{msg}"
    );
    for (host, address) in [
        ("127.0.0.1", "l1@pec.demo.test"),
        ("localhost", "l2@pec.demo.test"),
        ("::1", "l3@pec.demo.test"),
        ("127.1.2.3", "l4@pec.demo.test"),
    ] {
        create(&app, &admin, plain(host, address)).await;
    }
    // Plain towards a remote host by PATCH too.
    let id = create(&app, &admin, full_mailbox("tls@pec.demo.test")).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let a = app
        .patch(
            &admin,
            &format!("/api/v1/mailboxes/{id}"),
            json!({"smtp": {"security": "plain"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);

    let mut bad = full_mailbox("x1@pec.demo.test");
    bad["imap"]["port"] = json!(0);
    let mut big = full_mailbox("x2@pec.demo.test");
    big["smtp"]["port"] = json!(70000);
    let mut host = full_mailbox("x3@pec.demo.test");
    host["imap"]["host"] = json!("imap pec.example.it");
    let mut nopw = full_mailbox("x4@pec.demo.test");
    nopw["imap"]
        .as_object_mut()
        .expect("imap")
        .remove("password");
    let mut sec = full_mailbox("x5@pec.demo.test");
    sec["imap"]["security"] = json!("ssl");
    let mut unknown = full_mailbox("x6@pec.demo.test");
    unknown["imap"]["pasword"] = json!("typo");
    for body in [
        bad,
        big,
        host,
        nopw,
        sec,
        unknown,
        full_mailbox("senza-chiocciola"),
        json!({"address": "x7@pec.demo.test", "name": "  "}),
        json!({"address": "x8@pec.demo.test", "name": "N", "app_password_expires_at": "domani"}),
        json!({"address": "x9@pec.demo.test", "name": "N", "quota_bytes": -5}),
    ] {
        let a = app.post(&admin, "/api/v1/mailboxes", body.clone()).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            a.body
        );
        assert_no_secret("422 answer", &a.body);
    }
    let a = app
        .post(
            &admin,
            "/api/v1/mailboxes",
            full_mailbox("tls@pec.demo.test"),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{:?}", a.body);
    let n: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM mailboxes WHERE address LIKE 'x%@pec.demo.test'"
    );
    assert_eq!(n, 0, "nothing written by a refused request");
}

async fn mailbox_ids(app: &TestApp, token: &str) -> Vec<(String, Value)> {
    let a = app.get(token, "/api/v1/mailboxes").await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
        .as_array()
        .expect("list")
        .iter()
        .map(|m| {
            (
                m["id"].as_str().expect("id").to_owned(),
                m["policies"].clone(),
            )
        })
        .collect()
}

async fn team_membership_and_grants_make_a_mailbox_visible_and_revoking_hides_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let aldo = app.login("assegnatario@demo.test").await;
    let aldo_id = app.user_id("assegnatario@demo.test").await;
    let mb = create(
        &app,
        &admin,
        json!({"address": "appalti@pec.demo.test", "name": "Appalti"}),
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(
        mailbox_ids(&app, &aldo)
            .await
            .iter()
            .all(|(id, _)| *id != mb)
    );

    let team = app
        .post(&admin, "/api/v1/teams", json!({"name": "Ufficio Appalti"}))
        .await;
    assert_eq!(team.status, StatusCode::CREATED, "{:?}", team.body);
    let team_id = team.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        app.post(&admin, "/api/v1/teams", json!({"name": "Ufficio Appalti"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let a = app
        .patch(
            &admin,
            &format!("/api/v1/teams/{team_id}"),
            json!({"external": true}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        (a.body["external"].clone(), a.body["name"].clone()),
        (json!(true), json!("Ufficio Appalti"))
    );
    let a = app
        .patch(
            &admin,
            &format!("/api/v1/teams/{team_id}"),
            json!({"name": "Ufficio Legale"}),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::CONFLICT,
        "another team's name: {:?}",
        a.body
    );
    let member = format!("/api/v1/teams/{team_id}/members/{aldo_id}");
    for _ in 0..2 {
        let a = app.send(Method::PUT, &member, Some(&admin), None).await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "idempotent: {:?}", a.body);
    }
    // A member of a team without grants sees nothing yet.
    assert!(
        mailbox_ids(&app, &aldo)
            .await
            .iter()
            .all(|(id, _)| *id != mb)
    );

    let body = json!({"mailbox_id": mb, "team_id": team_id, "role": "Assegnatario"});
    let g = app.post(&admin, "/api/v1/grants", body.clone()).await;
    assert_eq!(g.status, StatusCode::CREATED, "{:?}", g.body);
    assert_eq!(g.body["created"], 2);
    let again = app.post(&admin, "/api/v1/grants", body).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "already held: {:?}",
        again.body
    );
    assert_eq!(again.body["created"], 0);
    assert_eq!(again.body["grants"], g.body["grants"]);

    let seen = mailbox_ids(&app, &aldo).await;
    let (_, policies) = seen
        .iter()
        .find(|(id, _)| *id == mb)
        .expect("visible through the team");
    let mut policies: Vec<&str> = policies
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| p.as_str().expect("p"))
        .collect();
    policies.sort_unstable();
    assert_eq!(policies, ["MAIL_ACTIVITY_READER", "MAIL_ACTIVITY_WRITER"]);

    let listed = app
        .get(&admin, &format!("/api/v1/grants?mailbox={mb}"))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let listed = listed.body.as_array().expect("list").clone();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|g| g["team_name"] == "Ufficio Appalti" && g["user_id"].is_null())
    );

    // A direct grant to the user, by policy name.
    let direct = app
        .post(
            &admin,
            "/api/v1/grants",
            json!({"mailbox_id": mb, "user_id": aldo_id, "policy": "MAIL_ACCOUNT_READER"}),
        )
        .await;
    assert_eq!(direct.status, StatusCode::CREATED, "{:?}", direct.body);
    let direct_id = direct.body["grants"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for bad in [
        json!({"mailbox_id": mb, "user_id": aldo_id, "policy": "READ_EVERYTHING"}),
        json!({"mailbox_id": mb, "user_id": aldo_id, "role": "Capo"}),
        json!({"mailbox_id": mb, "user_id": aldo_id, "team_id": team_id, "role": "Smistatore"}),
        json!({"mailbox_id": mb, "user_id": aldo_id}),
    ] {
        let a = app.post(&admin, "/api/v1/grants", bad.clone()).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            a.body
        );
    }

    // Revoking the team's grants leaves the direct one; revoking it hides the mailbox.
    for g in &listed {
        let a = app
            .send(
                Method::DELETE,
                &format!("/api/v1/grants/{}", g["id"].as_str().expect("id")),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    }
    let seen = mailbox_ids(&app, &aldo).await;
    let (_, policies) = seen
        .iter()
        .find(|(id, _)| *id == mb)
        .expect("still visible: direct grant");
    assert_eq!(policies, &json!(["MAIL_ACCOUNT_READER"]));
    let a = app
        .send(
            Method::DELETE,
            &format!("/api/v1/grants/{direct_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(
        mailbox_ids(&app, &aldo)
            .await
            .iter()
            .all(|(id, _)| *id != mb)
    );
    let a = app
        .send(
            Method::DELETE,
            &format!("/api/v1/grants/{direct_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "already revoked");

    // Leaving the team: its grants no longer reach the user.
    app.post(
        &admin,
        "/api/v1/grants",
        json!({"mailbox_id": mb, "team_id": team_id, "policy": "MAIL_ACCOUNT_READER"}),
    )
    .await;
    assert!(
        mailbox_ids(&app, &aldo)
            .await
            .iter()
            .any(|(id, _)| *id == mb)
    );
    let a = app.send(Method::DELETE, &member, Some(&admin), None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(
        mailbox_ids(&app, &aldo)
            .await
            .iter()
            .all(|(id, _)| *id != mb)
    );
    // The existing team directory still answers, with the new team in it.
    let teams = app.get(&admin, "/api/v1/teams").await;
    assert_eq!(teams.status, StatusCode::OK);
    assert!(
        teams.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|t| t["id"] == team_id.as_str())
    );
}

fn day_ms() -> i64 {
    86_400_000
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn the_app_password_warns_within_fourteen_days(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut body = full_mailbox("scadenza@pec.demo.test");
    body["app_password_expires_at"] = json!(rfc3339(now + 10 * day_ms() + 3_600_000));
    let created = create(&app, &admin, body).await;
    let ap = &created["app_password"];
    assert_eq!(ap["warning"], true, "{ap:?}");
    assert_eq!(ap["expires_in_days"], 10);
    let msg = ap["message"].as_str().expect("message");
    assert!(
        msg.contains("scade") && msg.contains("expires") && msg.contains("10"),
        "{msg}"
    );

    let path = format!("/api/v1/mailboxes/{}", created["id"].as_str().expect("id"));
    let a = app
        .patch(
            &admin,
            &path,
            json!({"app_password_expires_at": rfc3339(now + 30 * day_ms())}),
        )
        .await;
    assert_eq!(a.body["app_password"]["warning"], false, "{:?}", a.body);
    assert!(a.body["app_password"]["message"].is_null());
    let a = app
        .patch(
            &admin,
            &path,
            json!({"app_password_expires_at": rfc3339(now - 2 * day_ms())}),
        )
        .await;
    assert_eq!(a.body["app_password"]["warning"], true);
    assert!(
        a.body["app_password"]["message"]
            .as_str()
            .expect("m")
            .contains("scaduta")
    );
}

async fn administration_is_audited_without_secrets(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let admin_id = app.user_id("admin@demo.test").await;
    let user = app.user_id("assegnatario@demo.test").await;
    let mb = create(&app, &admin, full_mailbox("registro@pec.demo.test")).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.patch(
        &admin,
        &format!("/api/v1/mailboxes/{mb}"),
        json!({"smtp": {"password": "Nuova-Password-99"}, "name": "R"}),
    )
    .await;
    let team = app
        .post(&admin, "/api/v1/teams", json!({"name": "Registro"}))
        .await
        .body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.patch(
        &admin,
        &format!("/api/v1/teams/{team}"),
        json!({"name": "Registro 2"}),
    )
    .await;
    app.send(
        Method::PUT,
        &format!("/api/v1/teams/{team}/members/{user}"),
        Some(&admin),
        None,
    )
    .await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/teams/{team}/members/{user}"),
        Some(&admin),
        None,
    )
    .await;
    let g = app
        .post(
            &admin,
            "/api/v1/grants",
            json!({"mailbox_id": mb, "user_id": user, "policy": "MAIL_ACCOUNT_READER"}),
        )
        .await;
    let grant = g.body["grants"][0]["id"].as_str().expect("id").to_owned();
    app.send(
        Method::DELETE,
        &format!("/api/v1/grants/{grant}"),
        Some(&admin),
        None,
    )
    .await;

    let rows: Vec<(String, String, Option<String>, String)> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_as(
        "SELECT action, object_id, actor_id, details FROM audit_log \
         WHERE action LIKE 'mailbox.%' OR action LIKE 'team.%' OR action LIKE 'grant.%' ORDER BY seq"
    )
    .fetch_all(p)
    .await)
    .expect("audit");
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "mailbox.create",
            "mailbox.update",
            "team.create",
            "team.update",
            "team.member_add",
            "team.member_remove",
            "grant.add",
            "grant.revoke"
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.2.as_deref() == Some(admin_id.as_str()))
    );
    let update: Value = serde_json::from_str(&rows[1].3).expect("details");
    assert_eq!(update["secrets_changed"], json!(["smtp"]));
    assert_eq!(rows[7].1, grant);
    let revoked: Value = serde_json::from_str(&rows[7].3).expect("details");
    assert_eq!(revoked["policy"], "MAIL_ACCOUNT_READER");
    assert_eq!(revoked["user_id"], user.as_str());
    for r in &rows {
        assert_no_secret("audit details", &r.3);
        assert!(
            !r.3.contains("registro@pec"),
            "no address in the log: {}",
            r.3
        );
    }
    let v = app.get(&admin, "/api/v1/audit/verify").await;
    assert_eq!(v.body["ok"], true, "{:?}", v.body);
}

/// Runs `pecdesk ARGS` on the app's database, with `stdin` and extra environment.
fn pecdesk(
    app: &TestApp,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> (bool, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .args(args)
        .args(app.db_args())
        .env_remove("PECDESK_MAILBOX_PASSWORD")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pecdesk starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    let out = child.wait_with_output().expect("pecdesk ends");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_cli_adds_lists_and_grants_on_the_same_database(engine: Engine) {
    let app = spawn_app(engine).await;
    let run = |args: &[&str], stdin: &str, env: &[(&str, &str)]| {
        let (ok, out, err) = pecdesk(&app, args, stdin, env);
        assert!(ok, "pecdesk {args:?}: {out}\n{err}");
        assert_no_secret("CLI output", &format!("{out}{err}"));
        out
    };
    run(
        &[
            "mailbox",
            "add",
            "--org",
            demo::DEMO_ORG,
            "--address",
            "cli@pec.demo.test",
            "--name",
            "Da riga di comando",
            "--imap-host",
            "imap.pec.example.it",
            "--imap-port",
            "993",
            "--imap-security",
            "tls",
            "--imap-user",
            "cli@pec.demo.test",
            "--password-stdin",
        ],
        &format!("{IMAP_PW}\n"),
        &[],
    );
    let list = run(
        &["mailbox", "list", "--org", demo::DEMO_ORG, "--json"],
        "",
        &[],
    );
    let created: Value = list
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .find(|m| m["address"] == "cli@pec.demo.test")
        .expect("listed");
    assert_eq!(created["imap"]["password_set"], true);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(
        opened(&app, &id, Protocol::Imap)
            .await
            .secret
            .expose_secret(),
        IMAP_PW
    );

    // A new password from the environment, SMTP added.
    run(
        &[
            "mailbox",
            "set",
            "--mailbox",
            "cli@pec.demo.test",
            "--smtp-host",
            "smtp.pec.example.it",
            "--smtp-port",
            "465",
            "--smtp-security",
            "tls",
            "--smtp-user",
            "cli@pec.demo.test",
        ],
        "",
        &[("PECDESK_MAILBOX_PASSWORD", "Da-Riga-Di-Comando-5")],
    );
    assert_eq!(
        opened(&app, &id, Protocol::Imap)
            .await
            .secret
            .expose_secret(),
        IMAP_PW,
        "IMAP kept"
    );
    assert_eq!(
        opened(&app, &id, Protocol::Smtp)
            .await
            .secret
            .expose_secret(),
        "Da-Riga-Di-Comando-5"
    );
    let shown: Value =
        serde_json::from_str(&run(&["mailbox", "show", "--mailbox", &id], "", &[])).expect("JSON");
    assert_eq!(shown["smtp"]["port"], 465);
    // Another master key would seal secrets the poller can never open: refused.
    let wrong = format!("{}=", "A".repeat(43));
    let (ok, _, err) = pecdesk(
        &app,
        &[
            "mailbox",
            "set",
            "--mailbox",
            "cli@pec.demo.test",
            "--password-stdin",
        ],
        "Nuova-Password-99\n",
        &[("PECDESK_MASTER_KEY", wrong.as_str())],
    );
    assert!(!ok && err.contains("PECDESK_MASTER_KEY"), "{err}");
    assert_eq!(
        opened(&app, &id, Protocol::Imap)
            .await
            .secret
            .expose_secret(),
        IMAP_PW,
        "nothing written with the wrong key"
    );
    // The refusal names the rule and the command fails.
    let (ok, _, err) = pecdesk(
        &app,
        &[
            "mailbox",
            "set",
            "--mailbox",
            "cli@pec.demo.test",
            "--imap-security",
            "plain",
        ],
        "",
        &[],
    );
    assert!(!ok && err.contains("127.0.0.0/8"), "{err}");

    run(
        &[
            "team",
            "add",
            "--org",
            demo::DEMO_ORG,
            "--name",
            "Squadra CLI",
        ],
        "",
        &[],
    );
    run(
        &[
            "team",
            "member-add",
            "--org",
            demo::DEMO_ORG,
            "--team",
            "Squadra CLI",
            "--user",
            "assegnatario@demo.test",
        ],
        "",
        &[],
    );
    let teams = run(
        &["team", "list", "--org", demo::DEMO_ORG, "--json"],
        "",
        &[],
    );
    assert!(
        teams
            .lines()
            .any(|l| l.contains("Squadra CLI") && l.contains("\"members\":1")),
        "{teams}"
    );
    run(
        &[
            "grant",
            "add",
            "--mailbox",
            "cli@pec.demo.test",
            "--team",
            "Squadra CLI",
            "--role",
            "Smistatore",
        ],
        "",
        &[],
    );
    let grants = run(
        &["grant", "list", "--mailbox", "cli@pec.demo.test", "--json"],
        "",
        &[],
    );
    let grants: Vec<Value> = grants
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(grants.len(), 3, "{grants:?}");

    // The API sees what the command line did.
    let aldo = app.login("assegnatario@demo.test").await;
    assert!(mailbox_ids(&app, &aldo).await.iter().any(|(m, _)| *m == id));
    for g in &grants {
        run(
            &["grant", "remove", "--id", g["id"].as_str().expect("id")],
            "",
            &[],
        );
    }
    assert!(mailbox_ids(&app, &aldo).await.iter().all(|(m, _)| *m != id));
    let n: i64 = scalar!(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE actor_id IS NULL AND (action LIKE 'mailbox.%' OR action LIKE 'grant.%' OR action LIKE 'team.%')"
    );
    assert_eq!(
        n,
        2 + 2 + 3 + 3,
        "mailbox add+set, team add+member, 3 grants added and revoked"
    );
}

async fn the_openapi_document_describes_every_admin_route(engine: Engine) {
    let app = spawn_app(engine).await;
    let doc = app.send(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    for (path, methods) in [
        ("/api/v1/mailboxes", &["get", "post"][..]),
        ("/api/v1/mailboxes/{id}", &["get", "patch"][..]),
        ("/api/v1/teams", &["get", "post"][..]),
        ("/api/v1/teams/{id}", &["patch"][..]),
        (
            "/api/v1/teams/{id}/members/{user_id}",
            &["put", "delete"][..],
        ),
        ("/api/v1/grants", &["get", "post"][..]),
        ("/api/v1/grants/{id}", &["delete"][..]),
        ("/api/v1/users", &["get", "post"][..]),
        ("/api/v1/users/{id}", &["patch"][..]),
    ] {
        for m in methods {
            assert!(
                doc.body["paths"][path][m].is_object(),
                "{m} {path} documented"
            );
        }
    }
    let schemas = &doc.body["components"]["schemas"];
    assert_eq!(
        schemas["EndpointRequest"]["properties"]["password"]["format"], "password",
        "{:?}",
        schemas["EndpointRequest"]
    );
    assert!(schemas["EndpointView"]["properties"]["password"].is_null());
    assert!(schemas["EndpointView"]["properties"]["password_set"].is_object());
}

async fn an_admin_creates_disables_and_enables_a_user_never_deleting_them(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let admin_id = app.user_id("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;

    // Created enabled, not admin by default; the address is unique (in any case).
    let c = app
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "Nuova.Collega@demo.test", "name": "  Nora Nuova "}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    assert_eq!(c.body["email"], "nuova.collega@demo.test");
    assert_eq!(c.body["name"], "Nora Nuova");
    assert_eq!(
        (&c.body["is_admin"], &c.body["enabled"]),
        (&json!(false), &json!(true))
    );
    let nora_id = c.body["id"].as_str().expect("id").to_owned();
    let again = app
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "nuova.collega@DEMO.test", "name": "Altra"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    for bad in [
        json!({"email": "non-un-indirizzo", "name": "X"}),
        json!({"email": "x@demo.test", "name": "  "}),
        json!({"email": "x@demo.test", "name": "X", "role": "admin"}),
    ] {
        let a = app.post(&admin, "/api/v1/users", bad.clone()).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            a.body
        );
    }
    // She signs in and works; disabled, her token stops at once; enabled, she is back.
    let nora = app.login("nuova.collega@demo.test").await;
    assert_eq!(app.get(&nora, "/api/v1/me").await.status, StatusCode::OK);
    let d = app
        .patch(
            &admin,
            &format!("/api/v1/users/{nora_id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(d.body["enabled"], false);
    assert_eq!(
        app.get(&nora, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let listed = app.get(&admin, "/api/v1/users?q=nora").await;
    assert_eq!(
        listed.body["items"][0]["enabled"], false,
        "kept, shown disabled"
    );
    let e = app
        .patch(
            &admin,
            &format!("/api/v1/users/{nora_id}"),
            json!({"enabled": true, "is_admin": true, "name": "Nora N."}),
        )
        .await;
    assert_eq!(e.status, StatusCode::OK, "{:?}", e.body);
    assert_eq!(
        (&e.body["enabled"], &e.body["is_admin"], &e.body["name"]),
        (&json!(true), &json!(true), &json!("Nora N."))
    );
    let nora = app.login("nuova.collega@demo.test").await;
    assert_eq!(
        app.get(&nora, "/api/v1/me").await.body["user"]["is_admin"],
        true
    );

    // Not on oneself; not by a non-admin (403); not another organisation's user (404).
    let me = app
        .patch(
            &admin,
            &format!("/api/v1/users/{admin_id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(me.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", me.body);
    let forbidden = [
        app.post(
            &rita,
            "/api/v1/users",
            json!({"email": "y@demo.test", "name": "Y"}),
        )
        .await,
        app.patch(
            &rita,
            &format!("/api/v1/users/{nora_id}"),
            json!({"enabled": false}),
        )
        .await,
    ];
    for a in &forbidden {
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
        assert_envelope(a, "forbidden");
    }
    let altro = app.user_id("altro@altra.test").await;
    let other = app
        .patch(
            &admin,
            &format!("/api/v1/users/{altro}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{:?}", other.body);

    // Audited with the administrator as actor and no address in the details.
    let rows: Vec<(String, String)> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_as(
        "SELECT action, details FROM audit_log WHERE object_id = $1 AND actor_id = $2 ORDER BY at, seq"
    )
    .bind(&nora_id)
    .bind(&admin_id)
    .fetch_all(p)
    .await)
    .expect("audit");
    let actions: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["user.create", "user.update", "user.update"]);
    assert!(
        rows.iter().all(|(_, d)| !d.contains("nuova.collega")),
        "{rows:?}"
    );
    let users: i64 = scalar!(app, "SELECT COUNT(*) FROM users WHERE id = $1", &nora_id);
    assert_eq!(users, 1);
}
