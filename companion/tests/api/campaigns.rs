//! Mass sends (campaigns): validation reports every problem at once and writes nothing;
//! templates fill per recipient and each recipient's own attachments land only on their
//! message; pause / resume / cancel change what the outbox worker may claim; permissions
//! and organisation isolation; the CSV export of the outcome; the command line.

use base64::Engine as _;
use mail_parser::MimeHeaders as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};
use crate::scalar;

both_engines!(
    validation_lists_every_problem_at_once_and_writes_nothing,
    templates_fill_per_recipient_and_attachments_land_only_on_their_message,
    pause_resume_and_cancel_change_what_is_claimable,
    campaigns_need_sending_rights_and_stay_in_their_organisation,
    the_export_lists_the_outcome_per_recipient,
    the_command_line_checks_creates_and_cancels,
    ten_thousand_recipients_validate_and_queue_in_seconds,
    the_demo_campaign_goes_out_through_the_demo_simulator,
);

pub const SENDER: &str = "responsabile@demo.test";

/// Runs a statement on the app's database.
pub async fn exec(app: &TestApp, sql: &str, args: &[&str]) {
    pecdesk_companion::with_pool!(app.store, |p| {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(*a);
        }
        q.execute(p).await.map(|_| ())
    })
    .expect("statement");
}

pub async fn count(app: &TestApp, sql: &str) -> i64 {
    scalar!(app, sql)
}

/// The protocol mailbox with SMTP settings present (validation refuses a mailbox without).
pub async fn sending_mailbox(app: &TestApp) -> String {
    let mb = app.mailbox_id("protocollo@pec.demo.test").await;
    exec(
        app,
        "UPDATE mailboxes SET smtp_host = '127.0.0.1', smtp_port = 2525, \
         smtp_security = 'plain', smtp_user = 'x' WHERE id = $1",
        &[&mb],
    )
    .await;
    mb
}

pub fn file(name: &str, content: &[u8], common: bool) -> Value {
    json!({
        "name": name,
        "content_type": "application/pdf",
        "content_base64": base64::engine::general_purpose::STANDARD.encode(content),
        "common": common,
    })
}

fn codes(report: &Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["code"].as_str().expect("code").to_owned())
        .collect()
}

async fn validation_lists_every_problem_at_once_and_writes_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.login(SENDER).await;
    let mb = sending_mailbox(&app).await;
    // Messages over 3 KB are too large; the box has 1 KB left.
    exec(
        &app,
        "UPDATE mailboxes SET send_max_bytes = 3000, quota_bytes = 1024 WHERE id = $1",
        &[&mb],
    )
    .await;
    let csv = "indirizzo,nome,allegati\n\
               uno@pec.test,Uno,\n\
               non un indirizzo,Due,\n\
               tre@pec.test,Tre,manca.pdf\n\
               UNO@pec.test,Ripetuto,\n\
               cinque@pec.test,,grande.pdf\n";
    let body = json!({
        "mailbox_id": mb, "name": "Avviso", "subject": "  ",
        "body": "Gentile {{ nome }}, pratica {{ pratica }}.",
        "csv": csv,
        "files": [file("grande.pdf", &[b'x'; 6000], false)],
    });
    let before_audit = count(&app, "SELECT COUNT(*) FROM audit_log").await;

    let a = app.post(&token, "/api/v1/campaigns", body.clone()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    assert_eq!(a.body["error"]["code"], "invalid_campaign");
    let report = &a.body["report"];
    let errors = codes(report, "errors");
    for want in [
        "empty_subject",
        "unknown_placeholder",
        "bad_address",
        "duplicate_address",
        "missing_file",
        "too_large",
        "quota",
    ] {
        assert!(
            errors.contains(&want.to_owned()),
            "{want} missing: {report:#}"
        );
    }
    let problem = |code: &str| {
        report["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .find(|p| p["code"] == code)
            .cloned()
            .expect("problem")
    };
    assert_eq!(problem("bad_address")["rows"], json!([2]));
    assert_eq!(problem("duplicate_address")["rows"], json!([4]));
    assert_eq!(problem("missing_file")["rows"], json!([3]));
    assert_eq!(problem("missing_file")["names"], json!(["manca.pdf"]));
    assert_eq!(problem("unknown_placeholder")["names"], json!(["pratica"]));
    assert_eq!(problem("too_large")["rows"], json!([5]));
    assert!(
        problem("unknown_placeholder")["message"]
            .as_str()
            .expect("message")
            .contains("indirizzo, nome"),
        "the columns are named"
    );
    let warnings = codes(report, "warnings");
    assert!(warnings.contains(&"empty_field".to_owned()), "{report:#}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["recipients"], 5);
    assert_eq!(report["quota_source"], "configured");

    // Nothing was written.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM campaigns").await, 0);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM campaign_recipients").await,
        0
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_log").await,
        before_audit
    );

    // The same through validate: the report, 200.
    let v = app.post(&token, "/api/v1/campaigns/validate", body).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.body);
    assert_eq!(v.body["ok"], false);
    assert_eq!(codes(&v.body, "errors"), errors);

    // Without SMTP settings, the send is refused with words for the admin.
    exec(
        &app,
        "UPDATE mailboxes SET smtp_host = NULL, quota_bytes = NULL WHERE id = $1",
        &[&mb],
    )
    .await;
    let v = app
        .post(
            &token,
            "/api/v1/campaigns/validate",
            json!({"mailbox_id": mb, "name": "x", "subject": "s", "body": "b",
                   "csv": "indirizzo\na@pec.test\n"}),
        )
        .await;
    assert_eq!(
        codes(&v.body, "errors"),
        vec!["smtp_missing"],
        "{:?}",
        v.body
    );
    assert!(
        v.body["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("amministratore")
    );
    // A CSV without the address column is named as such.
    let v = app
        .post(
            &token,
            "/api/v1/campaigns/validate",
            json!({"mailbox_id": mb, "name": "x", "subject": "s", "body": "b",
                   "csv": "nome\nAnna\n"}),
        )
        .await;
    assert!(codes(&v.body, "errors").contains(&"csv_address_column".to_owned()));
}

/// A valid three-recipient campaign: own attachments on rows 1 and 2, one common file.
pub fn three_recipients(mb: &str) -> Value {
    json!({
        "mailbox_id": mb,
        "name": "Convocazione",
        "subject": "Convocazione {{ nome }} — pratica {{pratica}}",
        "body": "Gentile {{nome}},\nla pratica {{ PRATICA }} è fissata.\n",
        "receipt_type": "breve",
        "csv": "indirizzo;nome;pratica;allegati\n\
                anna@pec.test;Anna;101;anna.pdf\n\
                bruno@pec.test;Bruno;102;bruno.pdf\n\
                carla@pec.test;Carla;103;\n",
        "files": [
            file("anna.pdf", b"%PDF-1.4 anna", false),
            file("bruno.pdf", b"%PDF-1.4 bruno", false),
            file("informativa.pdf", b"%PDF-1.4 comune", true),
        ],
    })
}

pub async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let a = app.post(token, "/api/v1/campaigns", body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body
}

async fn outbox_raw(app: &TestApp, campaign: &str, row: i64) -> Vec<u8> {
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT o.raw FROM outbox o JOIN campaign_recipients r ON r.outbox_id = o.id \
         WHERE r.campaign_id = $1 AND r.row_no = $2"
    )
    .bind(campaign)
    .bind(row)
    .fetch_one(p)
    .await)
    .expect("raw")
}

async fn templates_fill_per_recipient_and_attachments_land_only_on_their_message(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.login(SENDER).await;
    let mb = sending_mailbox(&app).await;
    let c = create(&app, &token, three_recipients(&mb)).await;
    let id = c["id"].as_str().expect("id").to_owned();
    assert_eq!(c["state"], "running");
    assert_eq!(c["recipients_total"], 3);
    assert_eq!(c["report"]["ok"], true);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM outbox WHERE state = 'queued'").await,
        3
    );

    let expected = [
        (
            "anna@pec.test",
            "Anna",
            "101",
            vec!["anna.pdf", "informativa.pdf"],
        ),
        (
            "bruno@pec.test",
            "Bruno",
            "102",
            vec!["bruno.pdf", "informativa.pdf"],
        ),
        ("carla@pec.test", "Carla", "103", vec!["informativa.pdf"]),
    ];
    for (i, (addr, name, pratica, files)) in expected.iter().enumerate() {
        let raw = outbox_raw(&app, &id, i as i64 + 1).await;
        let m = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("parses");
        let to: Vec<&str> = m
            .to()
            .expect("to")
            .iter()
            .filter_map(|a| a.address.as_deref())
            .collect();
        assert_eq!(to, vec![*addr], "only the recipient in To");
        assert!(m.cc().is_none() && m.bcc().is_none(), "no Cc, never Bcc");
        assert_eq!(
            m.subject(),
            Some(format!("Convocazione {name} — pratica {pratica}").as_str())
        );
        let text = m.body_text(0).expect("body");
        assert!(
            text.contains(&format!("Gentile {name},"))
                && text.contains(&format!("pratica {pratica} è")),
            "{text}"
        );
        let names: Vec<String> = m
            .attachments()
            .filter_map(|a| a.attachment_name().map(str::to_owned))
            .collect();
        assert_eq!(&names, files, "row {}", i + 1);
        assert_eq!(m.header_raw("X-TipoRicevuta").map(str::trim), Some("breve"));
        assert_eq!(
            m.from()
                .and_then(|f| f.first())
                .and_then(|a| a.address.as_deref()),
            Some("protocollo@pec.demo.test")
        );
    }
    // The outbox rows carry the one recipient and the campaign.
    let recipients: String = scalar!(
        &app,
        "SELECT o.recipients FROM outbox o JOIN campaign_recipients r ON r.outbox_id = o.id \
         WHERE r.campaign_id = $1 AND r.row_no = 2",
        &id
    );
    assert_eq!(recipients, r#"["bruno@pec.test"]"#);

    // Detail and recipients: all queued, per row, with their attachments.
    let d = app.get(&token, &format!("/api/v1/campaigns/{id}")).await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(d.body["counts"]["queued"], 3);
    let r = app
        .get(
            &token,
            &format!("/api/v1/campaigns/{id}/recipients?limit=2"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["items"].as_array().expect("items").len(), 2);
    assert_eq!(r.body["items"][0]["address"], "anna@pec.test");
    assert_eq!(r.body["items"][0]["status"], "queued");
    assert_eq!(r.body["items"][0]["attachments"], json!(["anna.pdf"]));
    let cursor = r.body["next_cursor"].as_str().expect("more").to_owned();
    let r2 = app
        .get(
            &token,
            &format!("/api/v1/campaigns/{id}/recipients?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(r2.body["items"][0]["row"], 3);
    assert!(r2.body["next_cursor"].is_null());
    let bad = app
        .get(
            &token,
            &format!("/api/v1/campaigns/{id}/recipients?status=boh"),
        )
        .await;
    assert_envelope(&bad, "invalid");

    // The list shows it; the files are kept with the campaign; creation is audited.
    let l = app.get(&token, "/api/v1/campaigns").await;
    assert_eq!(l.body["items"][0]["id"], id.as_str());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM campaign_files").await, 3);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'campaign.create'"
        )
        .await,
        1
    );
    // activities = campaign opens the campaign's activity.
    let mut body = three_recipients(&mb);
    body["activities"] = json!("campaign");
    let c2 = create(&app, &token, body).await;
    let act = c2["activity_id"].as_str().expect("activity").to_owned();
    let a = app.get(&token, &format!("/api/v1/activities/{act}")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(
        a.body["title"]
            .as_str()
            .expect("title")
            .contains("Convocazione")
    );
}

async fn states(app: &TestApp, campaign: &str) -> Vec<String> {
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT o.state FROM outbox o JOIN campaign_recipients r ON r.outbox_id = o.id \
         WHERE r.campaign_id = $1 ORDER BY r.row_no"
    )
    .bind(campaign)
    .fetch_all(p)
    .await)
    .expect("states")
}

async fn pause_resume_and_cancel_change_what_is_claimable(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.login(SENDER).await;
    let mb = sending_mailbox(&app).await;
    let c = create(&app, &token, three_recipients(&mb)).await;
    let id = c["id"].as_str().expect("id").to_owned();
    let post = |what: &str| format!("/api/v1/campaigns/{id}/{what}");

    let p = app.post(&token, &post("pause"), json!({})).await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["state"], "paused");
    assert_eq!(states(&app, &id).await, vec!["held"; 3]);
    assert_eq!(
        p.body["counts"]["queued"], 3,
        "held rows still count as queued"
    );
    // Idempotent.
    let p2 = app.post(&token, &post("pause"), json!({})).await;
    assert_eq!(p2.status, StatusCode::OK);
    assert_eq!(p2.body["state"], "paused");

    let r = app.post(&token, &post("resume"), json!({})).await;
    assert_eq!(r.body["state"], "running");
    assert_eq!(states(&app, &id).await, vec!["queued"; 3]);

    // Row 1 is being sent (a worker claimed it): a cancel leaves it to finish.
    exec(
        &app,
        "UPDATE outbox SET state = 'sending' WHERE id = \
         (SELECT outbox_id FROM campaign_recipients WHERE campaign_id = $1 AND row_no = 1)",
        &[&id],
    )
    .await;
    let x = app.post(&token, &post("cancel"), json!({})).await;
    assert_eq!(x.status, StatusCode::OK, "{:?}", x.body);
    assert_eq!(x.body["state"], "cancelled");
    assert_eq!(
        states(&app, &id).await,
        vec!["sending", "cancelled", "cancelled"]
    );
    assert_eq!(x.body["counts"]["cancelled"], 2);
    let again = app.post(&token, &post("cancel"), json!({})).await;
    assert_eq!(again.status, StatusCode::OK, "cancel is idempotent");
    for what in ["resume", "pause"] {
        let a = app.post(&token, &post(what), json!({})).await;
        assert_envelope(&a, "conflict");
    }
    let doc = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    for path in [
        "/api/v1/campaigns",
        "/api/v1/campaigns/validate",
        "/api/v1/campaigns/{id}",
        "/api/v1/campaigns/{id}/recipients",
        "/api/v1/campaigns/{id}/export.csv",
        "/api/v1/campaigns/{id}/pause",
        "/api/v1/campaigns/{id}/resume",
        "/api/v1/campaigns/{id}/cancel",
    ] {
        assert!(doc.body["paths"][path].is_object(), "{path} documented");
    }
    for action in ["campaign.pause", "campaign.resume", "campaign.cancel"] {
        let n: i64 = scalar!(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND object_id = $2",
            action,
            &id
        );
        assert_eq!(n, 1, "{action} audited once");
    }
}

async fn campaigns_need_sending_rights_and_stay_in_their_organisation(engine: Engine) {
    let app = spawn_app(engine).await;
    let rita = app.login(SENDER).await;
    let mb = sending_mailbox(&app).await;
    let c = create(&app, &rita, three_recipients(&mb)).await;
    let id = c["id"].as_str().expect("id").to_owned();

    // The Smistatore (account manager) may send and see; the assignee, the approver, the
    // administrator and another organisation's user see nothing.
    let sara = app.login("smistatore@demo.test").await;
    assert_eq!(
        app.get(&sara, &format!("/api/v1/campaigns/{id}"))
            .await
            .status,
        StatusCode::OK
    );
    // The demo administrator reads Protocollo (MAIL_ACCOUNT_READER, for the rules' preview):
    // they see the campaign but may not steer it nor send from the mailbox.
    let admin = app.login("admin@demo.test").await;
    assert_eq!(
        app.get(&admin, &format!("/api/v1/campaigns/{id}"))
            .await
            .status,
        StatusCode::OK
    );
    let a = app
        .post(&admin, &format!("/api/v1/campaigns/{id}/pause"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "admin pause");
    let a = app
        .post(&admin, "/api/v1/campaigns", three_recipients(&mb))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "admin cannot send");
    for who in [
        "assegnatario@demo.test",
        "approvatore@demo.test",
        "altro@altra.test",
    ] {
        let t = app.login(who).await;
        for path in [
            format!("/api/v1/campaigns/{id}"),
            format!("/api/v1/campaigns/{id}/recipients"),
            format!("/api/v1/campaigns/{id}/export.csv"),
        ] {
            let a = app.get(&t, &path).await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{who} {path}");
        }
        let a = app
            .post(&t, &format!("/api/v1/campaigns/{id}/pause"), json!({}))
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{who} pause");
        let l = app.get(&t, "/api/v1/campaigns").await;
        assert_eq!(l.body["items"], json!([]), "{who} lists none");
        let a = app
            .post(&t, "/api/v1/campaigns", three_recipients(&mb))
            .await;
        assert_eq!(
            a.status,
            StatusCode::NOT_FOUND,
            "{who} cannot send from the mailbox"
        );
    }
    // Another organisation's mailbox id is unknown here.
    let altra = app.mailbox_id("pec@pec.altra.test").await;
    let a = app
        .post(&rita, "/api/v1/campaigns", three_recipients(&altra))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let anon = app.get("", "/api/v1/campaigns").await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM campaigns").await, 1);
}

async fn the_export_lists_the_outcome_per_recipient(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.login(SENDER).await;
    let mb = sending_mailbox(&app).await;
    let c = create(&app, &token, three_recipients(&mb)).await;
    let id = c["id"].as_str().expect("id").to_owned();
    app.post(&token, &format!("/api/v1/campaigns/{id}/cancel"), json!({}))
        .await;
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/campaigns/{id}/export.csv")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    let text = resp.text().await.expect("text");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().expect("headers").clone();
    assert_eq!(&headers[0], "riga");
    assert_eq!(&headers[2], "stato");
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][1], "anna@pec.test");
    assert!(rows.iter().all(|r| &r[2] == "cancelled"), "{text}");
    assert!(
        rows.iter().all(|r| r[4].starts_with("pecdesk.")),
        "message ids: {text}"
    );
}

async fn the_command_line_checks_creates_and_cancels(engine: Engine) {
    let app = spawn_app(engine).await;
    sending_mailbox(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).expect("files dir");
    std::fs::write(files.join("anna.pdf"), b"%PDF anna").expect("file");
    std::fs::write(files.join("comune.pdf"), b"%PDF comune").expect("file");
    std::fs::write(dir.path().join("body.txt"), "Gentile {{nome}},\nsaluti.\n").expect("body");
    std::fs::write(
        dir.path().join("bad.csv"),
        "indirizzo,nome,allegati\nanna@pec.test,Anna,anna.pdf\nrotto,Bruno,manca.pdf\n",
    )
    .expect("csv");
    std::fs::write(
        dir.path().join("ok.csv"),
        "indirizzo,nome,allegati\nanna@pec.test,Anna,anna.pdf\nbruno@pec.test,Bruno,\n",
    )
    .expect("csv");
    let bin = env!("CARGO_BIN_EXE_pecdesk");
    let run = |args: Vec<String>| {
        let mut full = args;
        full.extend(app.db_args());
        std::process::Command::new(bin)
            .args(&full)
            .output()
            .expect("runs")
    };
    let create_args = |csv: &str, dry: bool| {
        let mut a: Vec<String> = [
            "campaign",
            "create",
            "--user",
            SENDER,
            "--mailbox",
            "protocollo@pec.demo.test",
            "--name",
            "Da riga di comando",
            "--subject",
            "Avviso per {{ nome }}",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        a.extend([
            "--body-file".into(),
            dir.path().join("body.txt").to_string_lossy().into_owned(),
            "--csv".into(),
            dir.path().join(csv).to_string_lossy().into_owned(),
            "--files".into(),
            files.to_string_lossy().into_owned(),
            "--common".into(),
            "comune.pdf".into(),
        ]);
        if dry {
            a.push("--dry-run".into());
        }
        a
    };
    let out = run(create_args("bad.csv", false));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("ERRORI / ERRORS (2)"), "{stdout}");
    assert!(
        stdout.contains("[bad_address]") && stdout.contains("[missing_file]"),
        "{stdout}"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox").await, 0);

    let out = run(create_args("ok.csv", true));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("OK:"), "{stdout}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM outbox").await,
        0,
        "dry run queues nothing"
    );

    let out = run(create_args("ok.csv", false));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox").await, 2);
    let id: String = scalar!(&app, "SELECT id FROM campaigns");
    assert!(stdout.contains(&id), "{stdout}");

    let out = run(vec![
        "campaign".into(),
        "list".into(),
        "--user".into(),
        SENDER.into(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    let out = run(vec![
        "campaign".into(),
        "cancel".into(),
        id.clone(),
        "--user".into(),
        SENDER.into(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(vec![
        "campaign".into(),
        "show".into(),
        id.clone(),
        "--user".into(),
        SENDER.into(),
    ]);
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["state"], "cancelled");
    assert_eq!(shown["counts"]["cancelled"], 2);
    let csv_out = dir.path().join("esito.csv");
    let out = run(vec![
        "campaign".into(),
        "export".into(),
        id.clone(),
        "--out".into(),
        csv_out.to_string_lossy().into_owned(),
        "--user".into(),
        SENDER.into(),
    ]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&csv_out).expect("export written");
    assert!(text.starts_with("riga,indirizzo,stato"), "{text}");
    // Someone without sending rights is refused.
    let out = run(vec![
        "campaign".into(),
        "pause".into(),
        id,
        "--user".into(),
        "assegnatario@demo.test".into(),
    ]);
    assert!(!out.status.success());
}

async fn ten_thousand_recipients_validate_and_queue_in_seconds(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.login(SENDER).await;
    let mb = sending_mailbox(&app).await;
    let mut csv = String::from("indirizzo,nome,pratica\n");
    for i in 0..10_000 {
        csv.push_str(&format!(
            "dest{i:05}@pec.ente.test,Destinatario {i},P-{i}\n"
        ));
    }
    let body = json!({
        "mailbox_id": mb, "name": "Diecimila", "subject": "Pratica {{pratica}}",
        "body": "Gentile {{nome}},\nla pratica {{pratica}} è chiusa.\n", "csv": csv,
        "files": [file("informativa.pdf", &[b'x'; 2000], true)],
    });
    let t = std::time::Instant::now();
    let v = app
        .post(&token, "/api/v1/campaigns/validate", body.clone())
        .await;
    let validated = t.elapsed();
    assert_eq!(v.body["ok"], true, "{:?}", v.body["errors"]);
    let t = std::time::Instant::now();
    let c = create(&app, &token, body).await;
    let queued = t.elapsed();
    eprintln!(
        "10,000 recipients ({engine:?}, debug build): validate {validated:?}, validate and queue {queued:?}"
    );
    assert_eq!(c["recipients_total"], 10_000);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox").await, 10_000);
    // Generous for a debug build on a shared machine; docs/BENCHMARKS.md has the figures.
    assert!(queued < std::time::Duration::from_secs(60), "{queued:?}");
    let t = std::time::Instant::now();
    let d = app
        .get(
            &token,
            &format!("/api/v1/campaigns/{}", c["id"].as_str().expect("id")),
        )
        .await;
    eprintln!("detail with counts: {:?}", t.elapsed());
    assert_eq!(d.body["counts"]["queued"], 10_000);
}

/// `serve --demo`: the demo campaign, created once, goes out through the in-process
/// simulator; its receipts are stored as written; failures open their activities.
async fn the_demo_campaign_goes_out_through_the_demo_simulator(engine: Engine) {
    use pecdesk_companion::domain::campaigns::{self, CampaignSettings};
    let app = spawn_app(engine).await;
    let mut settings = pecdesk_companion::Settings::for_data_dir(app.data_dir());
    settings.demo = true;
    let state = pecdesk_companion::AppState::new(settings, app.store.clone())
        .await
        .expect("state");
    let (sim, importer) = pecdesk_companion::simulate::inprocess::start_for_demo(&state)
        .await
        .expect("demo simulator");
    let id = campaigns::seed_demo(&app.store, &CampaignSettings::default())
        .await
        .expect("seed")
        .expect("created");
    assert_eq!(
        campaigns::seed_demo(&app.store, &CampaignSettings::default())
            .await
            .expect("seed again"),
        None,
        "once"
    );
    let outbox = pecdesk_companion::outbox::OutboxSettings {
        timeout_secs: 30,
        ..Default::default()
    };
    loop {
        let r = pecdesk_companion::outbox::tick_with(
            &state,
            &outbox,
            "demo-test",
            pecdesk_companion::store::now_ms(),
        )
        .await
        .expect("tick");
        if r.claimed == 0 {
            break;
        }
    }
    let token = app.login(SENDER).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let d = app.get(&token, &format!("/api/v1/campaigns/{id}")).await;
        let c = &d.body["counts"];
        if c["delivered"] == 3 && c["failed"] == 2 && c["accepted"] == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{c}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let s = campaigns::sweep(&app.store, pecdesk_companion::store::now_ms())
        .await
        .expect("sweep");
    assert_eq!(s.activities, 2, "one per failed recipient");
    assert_eq!(s.done, 0, "the slow provider's receipt is still to come");
    sim.stop().await;
    tokio::time::timeout(std::time::Duration::from_secs(10), importer)
        .await
        .expect("the importer ends with the simulator")
        .expect("importer");
}
