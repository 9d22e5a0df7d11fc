//! Folders, categories and tags of messages; retention per mailbox and the audited purge
//! (issue 16, item 4): classify and filter with counts, who may classify, a purge that
//! never takes a message inside its retention, outside the trash or linked to an open
//! activity, its dry run, its tombstones, `raw` answering 410, and the audit chain.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    messages_are_classified_filtered_and_counted,
    only_managers_classify_and_other_organisations_see_nothing,
    retention_is_set_by_administrators_and_audited,
    a_purge_takes_only_trashed_messages_outside_retention_and_leaves_tombstones,
    a_mailbox_without_retention_purges_nothing,
);

/// Ids of a message list's page.
fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The count of `name` in a `folders`/`categories`/`tags` list (0 when absent).
fn count(list: &Value, name: &str) -> i64 {
    list.as_array()
        .expect("list")
        .iter()
        .find(|e| e["name"] == name)
        .map_or(0, |e| e["count"].as_i64().expect("count"))
}

/// The organisation's audit entries with `action` (details parsed).
async fn audit_entries(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let log = app.get(admin, "/api/v1/audit?limit=500").await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    log.body
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == action)
        .map(|e| {
            let mut e = e.clone();
            if let Some(s) = e["details"].as_str() {
                e["details"] = serde_json::from_str(s).expect("details JSON");
            }
            e
        })
        .collect()
}

async fn messages_are_classified_filtered_and_counted(engine: Engine) {
    let app = spawn_app(engine).await;
    let rita = app.login("responsabile@demo.test").await;
    let admin = app.login("admin@demo.test").await;
    let mb = app.mailbox_id("protocollo@pec.demo.test").await;
    let m1 = app.import_fresh(&rita, &mb, "cartelle-1").await;
    let m2 = app.import_fresh(&rita, &mb, "cartelle-2").await;
    let m3 = app.import_fresh(&rita, &mb, "cartelle-3").await;

    let a = app
        .patch(
            &rita,
            &format!("/api/v1/messages/{m1}"),
            json!({"folder": " Contratti / 2026 ", "category": "Fornitori",
                   "tags": ["urgente", "sdi", "urgente"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["folder"], "Contratti/2026", "segments are trimmed");
    assert_eq!(a.body["category"], "Fornitori");
    assert_eq!(
        a.body["tags"],
        json!(["urgente", "sdi"]),
        "a tag is kept once"
    );
    let a = app
        .patch(
            &rita,
            &format!("/api/v1/messages/{m2}"),
            json!({"folder": "Contratti", "tags": ["urgente"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    // Only the fields present change.
    let a = app
        .patch(
            &rita,
            &format!("/api/v1/messages/{m2}"),
            json!({"category": "Clienti"}),
        )
        .await;
    assert_eq!(a.body["folder"], "Contratti");
    assert_eq!(a.body["tags"], json!(["urgente"]));

    for bad in [
        json!({"folder": "a//b"}),
        json!({"folder": "/Contratti"}),
        json!({"folder": ""}),
        json!({"folder": "x".repeat(201)}),
        json!({"category": "  "}),
        json!({"tags": ["ok", ""]}),
        json!({"colour": "red"}),
    ] {
        let a = app
            .patch(&rita, &format!("/api/v1/messages/{m3}"), bad.clone())
            .await;
        assert!(
            a.status == StatusCode::UNPROCESSABLE_ENTITY || a.status == StatusCode::BAD_REQUEST,
            "{bad}: {:?}",
            a.body
        );
    }

    let list = |q: String| {
        let app = &app;
        let rita = rita.clone();
        let mb = mb.clone();
        async move {
            let a = app
                .get(&rita, &format!("/api/v1/messages?mailbox={mb}&{q}"))
                .await;
            assert_eq!(a.status, StatusCode::OK, "{q}: {:?}", a.body);
            let mut v = ids(&a.body);
            v.sort();
            v
        }
    };
    let mut both = vec![m1.clone(), m2.clone()];
    both.sort();
    assert_eq!(
        list("folder=Contratti".into()).await,
        both,
        "a folder lists its subfolders"
    );
    assert_eq!(
        list("folder=Contratti%2F2026".into()).await,
        vec![m1.clone()]
    );
    assert!(
        list("folder=Contr".into()).await.is_empty(),
        "a prefix is not a folder"
    );
    assert_eq!(list("tag=urgente".into()).await, both);
    assert_eq!(list("tag=sdi".into()).await, vec![m1.clone()]);
    assert!(
        list("tag=Urgente".into()).await.is_empty(),
        "tags are exact"
    );
    assert!(list("tag=urg".into()).await.is_empty(), "tags are whole");
    assert_eq!(list("category=Fornitori".into()).await, vec![m1.clone()]);
    assert_eq!(
        list("category=Clienti&tag=urgente&folder=Contratti".into()).await,
        vec![m2.clone()]
    );

    let f = app
        .get(&rita, &format!("/api/v1/mailboxes/{mb}/folders"))
        .await;
    assert_eq!(f.status, StatusCode::OK, "{:?}", f.body);
    assert_eq!(count(&f.body["folders"], "Contratti"), 1);
    assert_eq!(count(&f.body["folders"], "Contratti/2026"), 1);
    assert_eq!(count(&f.body["categories"], "Fornitori"), 1);
    assert_eq!(count(&f.body["tags"], "urgente"), 2);
    assert_eq!(count(&f.body["tags"], "sdi"), 1);

    // The trash is not counted; clearing a field is audited with the old value.
    let t = app
        .post(&rita, &format!("/api/v1/messages/{m2}/trash"), json!({}))
        .await;
    assert_eq!(t.status, StatusCode::OK);
    let a = app
        .patch(
            &rita,
            &format!("/api/v1/messages/{m1}"),
            json!({"folder": null, "tags": []}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["folder"], Value::Null);
    assert_eq!(a.body["tags"], json!([]));
    let f = app
        .get(&rita, &format!("/api/v1/mailboxes/{mb}/folders"))
        .await;
    assert_eq!(count(&f.body["folders"], "Contratti"), 0);
    assert_eq!(count(&f.body["folders"], "Contratti/2026"), 0);
    assert_eq!(count(&f.body["tags"], "urgente"), 0);

    let entries = audit_entries(&app, &admin, "message.classify").await;
    let last = entries
        .iter()
        .rev()
        .find(|e| e["object_id"] == m1.as_str())
        .expect("classify entry of m1");
    assert_eq!(last["details"]["old"]["folder"], "Contratti/2026");
    assert_eq!(last["details"]["new"]["folder"], Value::Null);
    assert_eq!(last["details"]["old"]["tags"], json!(["urgente", "sdi"]));
    assert_eq!(last["details"]["fields"], json!(["folder", "tags"]));
    assert!(
        last["details"]["old"].get("category").is_none(),
        "unchanged fields are not named"
    );
    // A change to nothing writes no entry.
    let before = entries.len();
    app.patch(
        &rita,
        &format!("/api/v1/messages/{m3}"),
        json!({"folder": null}),
    )
    .await;
    assert_eq!(
        audit_entries(&app, &admin, "message.classify").await.len(),
        before
    );
}

async fn only_managers_classify_and_other_organisations_see_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let rita = app.login("responsabile@demo.test").await;
    let admin = app.login("admin@demo.test").await;
    let aldo = app.login("assegnatario@demo.test").await;
    let altro = app.login("altro@altra.test").await;
    let mb = app.mailbox_id("protocollo@pec.demo.test").await;
    let m = app.import_fresh(&rita, &mb, "permessi").await;
    let a = app
        .patch(
            &rita,
            &format!("/api/v1/messages/{m}"),
            json!({"folder": "Archivio"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);

    // A reader of the mailbox reads but does not classify.
    let a = app
        .patch(
            &admin,
            &format!("/api/v1/messages/{m}"),
            json!({"folder": "Altro"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
    assert_envelope(&a, "forbidden");
    let f = app
        .get(&admin, &format!("/api/v1/mailboxes/{mb}/folders"))
        .await;
    assert_eq!(f.status, StatusCode::OK);
    assert_eq!(count(&f.body["folders"], "Archivio"), 1);
    // Who cannot read the message does not learn it exists, nor its folder.
    let a = app
        .patch(
            &aldo,
            &format!("/api/v1/messages/{m}"),
            json!({"folder": "Altro"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
    let f = app
        .get(&aldo, &format!("/api/v1/mailboxes/{mb}/folders"))
        .await;
    assert_eq!(f.status, StatusCode::OK);
    assert_eq!(count(&f.body["folders"], "Archivio"), 0, "{:?}", f.body);
    // Another organisation: 404 for the message and the mailbox.
    let a = app
        .patch(
            &altro,
            &format!("/api/v1/messages/{m}"),
            json!({"folder": "Altro"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let f = app
        .get(&altro, &format!("/api/v1/mailboxes/{mb}/folders"))
        .await;
    assert_eq!(f.status, StatusCode::NOT_FOUND);
    let list = app.get(&altro, "/api/v1/messages?folder=Archivio").await;
    assert!(ids(&list.body).is_empty());
    // Nothing changed.
    let d = app.get(&rita, &format!("/api/v1/messages/{m}")).await;
    assert_eq!(d.body["folder"], "Archivio");
}

async fn retention_is_set_by_administrators_and_audited(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id("legale@pec.demo.test").await;
    let v = app.get(&admin, &format!("/api/v1/mailboxes/{mb}")).await;
    assert_eq!(
        v.body["retention"],
        json!({"days": null}),
        "kept forever by default"
    );
    let a = app
        .patch(
            &admin,
            &format!("/api/v1/mailboxes/{mb}"),
            json!({"retention": {"days": 3650}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["retention"]["days"], 3650);
    for bad in [
        json!({"days": 0}),
        json!({"days": 36501}),
        json!({"years": 10}),
    ] {
        let a = app
            .patch(
                &admin,
                &format!("/api/v1/mailboxes/{mb}"),
                json!({"retention": bad}),
            )
            .await;
        assert!(
            a.status == StatusCode::UNPROCESSABLE_ENTITY || a.status == StatusCode::BAD_REQUEST,
            "{bad}: {:?}",
            a.body
        );
    }
    let a = app
        .patch(
            &rita,
            &format!("/api/v1/mailboxes/{mb}"),
            json!({"retention": {"days": 1}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app
        .patch(
            &admin,
            &format!("/api/v1/mailboxes/{mb}"),
            json!({"retention": {"days": null}}),
        )
        .await;
    assert_eq!(a.body["retention"], json!({"days": null}));
    // Documented in OpenAPI.
    let doc = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    for (path, m) in [
        ("/api/v1/messages/{id}", "patch"),
        ("/api/v1/mailboxes/{id}/folders", "get"),
        ("/api/v1/mailboxes/{id}/purge", "post"),
    ] {
        assert!(
            doc.body["paths"][path][m].is_object(),
            "{m} {path} documented"
        );
    }
    let entries = audit_entries(&app, &admin, "mailbox.update").await;
    let changes: Vec<&Value> = entries
        .iter()
        .filter(|e| e["object_id"] == mb.as_str())
        .map(|e| &e["details"]["retention_days"])
        .collect();
    assert_eq!(
        changes,
        vec![
            &json!({"old": null, "new": 3650}),
            &json!({"old": 3650, "new": null})
        ]
    );
}

/// Moves messages' receipt `days` days into the past (time is the test's parameter).
async fn age(app: &TestApp, ids: &[&str], days: i64) {
    let at = chrono::Utc::now().timestamp_millis() - days * 86_400_000;
    for id in ids {
        pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
            "UPDATE messages SET received_at = $1 WHERE id = $2"
        )
        .bind(at)
        .bind(*id)
        .execute(p)
        .await
        .map(|_| ()))
        .expect("age");
    }
}

fn purge_ids(body: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = body[key]
        .as_array()
        .expect(key)
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect();
    v.sort();
    v
}

async fn a_purge_takes_only_trashed_messages_outside_retention_and_leaves_tombstones(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id("protocollo@pec.demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let a = app
        .patch(
            &admin,
            &format!("/api/v1/mailboxes/{mb}"),
            json!({"retention": {"days": 30}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);

    let old = app.import_fresh(&rita, &mb, "purge-old").await;
    let live = app.import_fresh(&rita, &mb, "purge-live").await;
    let recent = app.import_fresh(&rita, &mb, "purge-recent").await;
    let busy = app.import_fresh(&rita, &mb, "purge-busy").await;
    // The same bytes in another mailbox: they must survive the purge of this copy.
    let shared = app.import_fresh(&rita, &mb, "purge-shared").await;
    let shared_elsewhere = app.import_fresh(&rita, &legale, "purge-shared").await;
    app.create_activity(
        &rita,
        json!({"mailbox_id": mb, "title": "Aperta", "message_ids": [busy]}),
    )
    .await;
    for id in [&old, &recent, &busy, &shared] {
        let t = app
            .post(&rita, &format!("/api/v1/messages/{id}/trash"), json!({}))
            .await;
        assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    }
    age(&app, &[&old, &live, &busy, &shared], 40).await;
    age(&app, &[&recent], 10).await;
    let before = chrono::Utc::now().timestamp_millis() + 60_000;
    let path = format!("/api/v1/mailboxes/{mb}/purge");
    let body =
        |dry: bool| json!({"before": before, "dry_run": dry, "reason": "scarto d'archivio 2026"});

    // Only administrators; a reason is required; another organisation's mailbox is missing.
    let a = app.post(&rita, &path, body(true)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app
        .post(&admin, &path, json!({"before": before, "reason": " "}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    let altra = app.mailbox_id("pec@pec.altra.test").await;
    let a = app
        .post(
            &admin,
            &format!("/api/v1/mailboxes/{altra}/purge"),
            body(true),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // The dry run answers what would go and why the others stay, and purges nothing.
    let mut expected = vec![old.clone(), shared.clone()];
    expected.sort();
    let dry = app.post(&admin, &path, body(true)).await;
    assert_eq!(dry.status, StatusCode::OK, "{:?}", dry.body);
    assert_eq!(dry.body["dry_run"], true);
    assert_eq!(dry.body["retention_days"], 30);
    assert_eq!(purge_ids(&dry.body, "purged"), expected);
    let skipped = dry.body["skipped"].as_array().expect("skipped");
    let reason_of = |id: &str| {
        skipped
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["reason"].as_str().expect("reason").to_owned())
    };
    assert_eq!(reason_of(&recent).as_deref(), Some("retention"));
    assert_eq!(reason_of(&busy).as_deref(), Some("open_activity"));
    assert_eq!(
        reason_of(&live),
        None,
        "what users still see is never a candidate"
    );
    assert!(dry.body["not_trashed"].as_i64().expect("not_trashed") >= 1);
    assert_eq!(dry.body["blobs_cleared"].as_array().map(Vec::len), Some(1));
    let raw = app.get(&rita, &format!("/api/v1/messages/{old}/raw")).await;
    assert_eq!(raw.status, StatusCode::OK, "a dry run purges nothing");
    assert!(
        audit_entries(&app, &admin, "mailbox.purge")
            .await
            .is_empty()
    );

    // The purge.
    let done = app.post(&admin, &path, body(false)).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(purge_ids(&done.body, "purged"), expected);
    let old_sha = app
        .get(&rita, &format!("/api/v1/messages/{old}"))
        .await
        .body["sha256"]
        .as_str()
        .expect("sha")
        .to_owned();
    assert_eq!(done.body["blobs_cleared"], json!([old_sha]));

    // Tombstones: the row stays, the bytes and the content read from them are gone.
    let d = app.get(&rita, &format!("/api/v1/messages/{old}")).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body["purged"], true);
    assert!(d.body["purged_at"].is_string());
    assert_eq!(d.body["subject"], Value::Null);
    assert_eq!(d.body["message_id"], "purge-old@esempio.test");
    let raw = app.get(&rita, &format!("/api/v1/messages/{old}/raw")).await;
    assert_eq!(raw.status, StatusCode::GONE);
    assert_envelope(&raw, "gone");
    let r = app
        .post(&rita, &format!("/api/v1/messages/{old}/restore"), json!({}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a purged message is not restored"
    );
    let c = app
        .patch(
            &rita,
            &format!("/api/v1/messages/{old}"),
            json!({"folder": "X"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CONFLICT);
    let (bytes_len, purged_at): (i64, Option<i64>) =
        pecdesk_companion::with_pool!(app.store, |p| sqlx::query_as(
            "SELECT CAST(length(bytes) AS BIGINT), purged_at FROM raw_blobs WHERE sha256 = $1"
        )
        .bind(&old_sha)
        .fetch_one(p)
        .await)
        .expect("blob row kept");
    assert_eq!((bytes_len, purged_at.is_some()), (0, true));
    // The shared bytes stay for the copy still kept elsewhere.
    let raw = app
        .get(&rita, &format!("/api/v1/messages/{shared_elsewhere}/raw"))
        .await;
    assert_eq!(raw.status, StatusCode::OK);
    let raw = app
        .get(&rita, &format!("/api/v1/messages/{shared}/raw"))
        .await;
    assert_eq!(raw.status, StatusCode::GONE);
    // The others are untouched.
    for id in [&live, &recent, &busy] {
        let raw = app.get(&rita, &format!("/api/v1/messages/{id}/raw")).await;
        assert_eq!(raw.status, StatusCode::OK, "{id}");
    }
    // The export and the evidence pack of a purged message say so instead of failing.
    for p in ["export.zip", "evidence.zip"] {
        let resp = app
            .client
            .get(app.url(&format!("/api/v1/messages/{old}/{p}")))
            .bearer_auth(&rita)
            .send()
            .await
            .expect("download");
        assert_eq!(resp.status(), StatusCode::OK, "{p}");
        let zip = resp.bytes().await.expect("zip").to_vec();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("zip");
        let names: Vec<String> = (0..archive.len())
            .map(|i| {
                archive
                    .by_index(i)
                    .expect("entry")
                    .name()
                    .expect("name")
                    .into_owned()
            })
            .collect();
        assert!(
            names
                .iter()
                .any(|n| n.ends_with("messaggio.eliminato.json")),
            "{p}: {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.ends_with("messaggio.eml")),
            "{p}: {names:?}"
        );
    }

    // One audit entry with the count, the hashes and the reason; the chain verifies.
    let entries = audit_entries(&app, &admin, "mailbox.purge").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let d = &entries[0]["details"];
    assert_eq!(entries[0]["object_id"], mb.as_str());
    assert_eq!(d["count"], 2);
    assert_eq!(d["reason"], "scarto d'archivio 2026");
    assert!(
        d["sha256"]
            .as_array()
            .expect("sha256")
            .contains(&json!(old_sha))
    );
    let v = app.get(&admin, "/api/v1/audit/verify").await;
    assert_eq!(v.body["ok"], true, "{:?}", v.body);

    // A second purge finds nothing more to take.
    let again = app.post(&admin, &path, body(false)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["purged"], json!([]));
    assert_eq!(audit_entries(&app, &admin, "mailbox.purge").await.len(), 1);
}

async fn a_mailbox_without_retention_purges_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.login("admin@demo.test").await;
    let rita = app.login("responsabile@demo.test").await;
    let mb = app.mailbox_id("legale@pec.demo.test").await;
    let m = app.import_fresh(&rita, &mb, "per-sempre").await;
    app.post(&rita, &format!("/api/v1/messages/{m}/trash"), json!({}))
        .await;
    age(&app, &[&m], 365 * 30).await;
    let a = app
        .post(
            &admin,
            &format!("/api/v1/mailboxes/{mb}/purge"),
            json!({"before": chrono::Utc::now().timestamp_millis(), "reason": "prova"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["purged"], json!([]));
    assert_eq!(a.body["retention_days"], Value::Null);
    assert_eq!(a.body["skipped"][0]["id"], m.as_str());
    assert_eq!(a.body["skipped"][0]["reason"], "no_retention");
    let raw = app.get(&rita, &format!("/api/v1/messages/{m}/raw")).await;
    assert_eq!(raw.status, StatusCode::OK);
}
