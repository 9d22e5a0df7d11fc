//! The audit log: every change appended to its organisation's hash chain; tampering is
//! found and named by the API and by `pecdesk audit verify`; organisations' chains verify
//! and lock independently; migration 0005 rebuilds an old global chain per organisation
//! only when it verifies.

use std::borrow::Cow;
use std::time::Duration;

use pecdesk_companion::store::audit::{self, Action, Chain, Entry, GENESIS, entry_hash};
use pecdesk_companion::store::{Pool, Store};
use pecdesk_companion::{Settings, with_pool};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_engines;
use crate::helpers::{Engine, TestApp, spawn_app};

both_engines!(
    audit_verify_names_the_first_altered_entry_after_tampering,
    audit_verify_names_a_removed_entry,
    every_change_is_appended_to_the_audit_log_of_its_organisation,
    two_organisations_chains_verify_independently,
    a_write_in_one_organisation_never_waits_for_another_organisations_chain,
    the_old_global_chain_is_rebuilt_per_organisation_and_verified,
    a_broken_old_chain_is_refused_and_nothing_is_rewritten,
    a_long_old_chain_is_rebuilt_in_batches,
    a_checkpoint_outside_the_database_catches_truncation_and_rewinding,
    checkpoints_are_posted_to_the_webhook,
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
    cli_verify_with(app, &[])
}

fn cli_verify_with(app: &TestApp, extra: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .args(["audit", "verify"])
        .args(extra)
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

    let org = org_of(&app, "admin@demo.test").await;
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "UPDATE audit_log SET details = $1 WHERE chain = $2 AND seq = 3"
    )
    .bind(r#"{"forged":true}"#)
    .bind(&org)
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
    let org = org_of(&app, "admin@demo.test").await;
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "DELETE FROM audit_log WHERE chain = $1 AND seq = 2"
    )
    .bind(&org)
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

async fn org_of(app: &TestApp, email: &str) -> String {
    crate::scalar!(app, "SELECT org_id FROM users WHERE email = $1", email)
}

async fn forge(store: &Store, chain: &str, seq: i64) {
    with_pool!(store, |p| sqlx::query(
        "UPDATE audit_log SET details = $1 WHERE chain = $2 AND seq = $3"
    )
    .bind(r#"{"forged":true}"#)
    .bind(chain)
    .bind(seq)
    .execute(p)
    .await
    .map(|r| assert_eq!(r.rows_affected(), 1, "one entry forged")))
    .expect("tamper");
}

async fn two_organisations_chains_verify_independently(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = some_changes(&app).await;
    let altro = app.login("altro@altra.test").await;
    let altra_mb = app.mailbox_id("pec@pec.altra.test").await;
    app.import_fresh(&altro, &altra_mb, "chain-b-1").await;
    app.import_fresh(&altro, &altra_mb, "chain-b-2").await;
    let a = org_of(&app, "admin@demo.test").await;
    let b = org_of(&app, "altro@altra.test").await;

    // Each chain counts from 1 and holds only its organisation's entries.
    let entries_b = audit::list(&app.store, Chain::Org(&b), 0, 500)
        .await
        .expect("list b");
    assert_eq!(
        entries_b.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=entries_b.len() as i64).collect::<Vec<_>>()
    );
    assert!(entries_b.len() >= 2, "{entries_b:?}");
    assert!(
        entries_b
            .iter()
            .all(|e| e.org_id.as_deref() == Some(b.as_str()))
    );
    assert_eq!(entries_b[0].prev_hash, GENESIS);
    let va = audit::verify(&app.store, Chain::Org(&a))
        .await
        .expect("verify a");
    let vb = audit::verify(&app.store, Chain::Org(&b))
        .await
        .expect("verify b");
    assert!(va.ok && vb.ok, "{va:?} {vb:?}");
    assert_eq!(vb.entries, entries_b.len() as i64);
    let (all_ok, out) = cli_verify(&app);
    assert!(all_ok, "{out}");

    // Tamper with organisation A's second entry: A breaks there, B still verifies.
    forge(&app.store, &a, 2).await;
    let va = audit::verify(&app.store, Chain::Org(&a))
        .await
        .expect("verify a");
    let vb = audit::verify(&app.store, Chain::Org(&b))
        .await
        .expect("verify b");
    assert!(!va.ok);
    assert_eq!(va.first_broken, Some(2));
    assert!(vb.ok, "B must not depend on A's entries: {vb:?}");
    let api = app.get(&admin, "/api/v1/audit/verify").await;
    assert_eq!(api.body["ok"], false);
    assert_eq!(api.body["first_broken"], 2);

    let (b_ok, b_out) = cli_verify_with(&app, &["--org", &b]);
    assert!(b_ok, "{b_out}");
    assert_eq!(b_out.lines().count(), 1, "{b_out}");
    assert!(b_out.contains(&b) && b_out.contains("intact"), "{b_out}");
    let (a_ok, a_out) = cli_verify_with(&app, &["--org", &a]);
    assert!(!a_ok, "{a_out}");
    assert!(a_out.contains("BROKEN at entry 2"), "{a_out}");
    // Without --org: one line per chain, the broken one named, exit status non-zero.
    let (all_ok, out) = cli_verify(&app);
    assert!(!all_ok, "{out}");
    let chains = audit::chains(&app.store).await.expect("chains");
    assert!(chains.contains(&a) && chains.contains(&b), "{chains:?}");
    assert_eq!(out.lines().count(), chains.len(), "{out}");
    let line_a = out.lines().find(|l| l.contains(&a)).expect("line of A");
    let line_b = out.lines().find(|l| l.contains(&b)).expect("line of B");
    assert!(line_a.contains("BROKEN at entry 2"), "{line_a}");
    assert!(line_b.contains("intact"), "{line_b}");
}

fn test_entry<'a>(org: &'a str, what: &'a str) -> Entry<'a> {
    Entry {
        org_id: Some(org),
        actor_id: None,
        action: Action::ActivityUpdate,
        object_type: "activity",
        object_id: what,
        details: json!({"fields": ["priority"]}),
    }
}

async fn a_write_in_one_organisation_never_waits_for_another_organisations_chain(engine: Engine) {
    let app = spawn_app(engine).await;
    let a = org_of(&app, "admin@demo.test").await;
    let b = org_of(&app, "altro@altra.test").await;
    let altro = app.login("altro@altra.test").await;
    let altra_mb = app.mailbox_id("pec@pec.altra.test").await;
    let before_b = audit::verify(&app.store, Chain::Org(&b))
        .await
        .expect("b")
        .entries;

    if engine == Engine::Sqlite {
        // SQLite has one write lock per database file: every writer waits for the one
        // before, whatever its organisation, so there is no independence to show here.
        // What must hold is correctness: interleaved writes of two organisations keep each
        // chain contiguous and verifying.
        for i in 0..3 {
            let mut ta = app.store.begin_write(Chain::Org(&a)).await.expect("a");
            ta.audit(test_entry(&a, &format!("a{i}")))
                .await
                .expect("audit a");
            ta.commit().await.expect("commit a");
            app.import_fresh(&altro, &altra_mb, &format!("sqlite-b{i}"))
                .await;
        }
    } else {
        // PostgreSQL: organisation A's head stays locked by an open write transaction.
        let mut held = app.store.begin_write(Chain::Org(&a)).await.expect("a");
        held.audit(test_entry(&a, "held")).await.expect("audit a");

        // A writer of organisation B, through the library, does not wait for it ...
        let mut tb = tokio::time::timeout(
            Duration::from_secs(10),
            app.store.begin_write(Chain::Org(&b)),
        )
        .await
        .expect("a writer of B must not wait for A's chain")
        .expect("begin b");
        tb.audit(test_entry(&b, "b-lib")).await.expect("audit b");
        tokio::time::timeout(Duration::from_secs(10), tb.commit())
            .await
            .expect("B commits while A's chain is held")
            .expect("commit b");
        // ... nor does a request of B's user (an import writes B's chain).
        tokio::time::timeout(
            Duration::from_secs(20),
            app.import_fresh(&altro, &altra_mb, "pg-b-http"),
        )
        .await
        .expect("an import in B must not wait for A's chain");

        // A second writer of organisation A does wait, until the first commits.
        let store = app.store.clone();
        let a2 = a.clone();
        let second = tokio::spawn(async move {
            let mut t = store.begin_write(Chain::Org(&a2)).await.expect("a again");
            t.audit(test_entry(&a2, "second")).await.expect("audit");
            t.commit().await.expect("commit");
        });
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(
            !second.is_finished(),
            "a second writer of the same chain must wait for the first"
        );
        held.commit().await.expect("commit held");
        tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("the second writer of A proceeds once the first commits")
            .expect("task");
        let last: Vec<String> = audit::list(&app.store, Chain::Org(&a), 0, 500)
            .await
            .expect("list a")
            .into_iter()
            .map(|e| e.object_id)
            .collect();
        assert!(
            last.ends_with(&["held".to_owned(), "second".to_owned()]),
            "A's entries in commit order: {last:?}"
        );
    }
    let va = audit::verify(&app.store, Chain::Org(&a))
        .await
        .expect("verify a");
    let vb = audit::verify(&app.store, Chain::Org(&b))
        .await
        .expect("verify b");
    assert!(va.ok && vb.ok, "{va:?} {vb:?}");
    let expected_b = if engine == Engine::Sqlite { 3 } else { 2 };
    assert_eq!(vb.entries, before_b + expected_b);
}

/// A database migrated up to 0004 (the old global chain), on either engine.
struct OldDb {
    settings: Settings,
    pool: Pool,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl OldDb {
    fn pool(&self) -> &Pool {
        &self.pool
    }
}

impl Drop for OldDb {
    fn drop(&mut self) {
        if let Some((server, name)) = self.pg.take() {
            crate::helpers::drop_pg_database(server, name);
        }
    }
}

/// The migrations of `engine` up to and including `last`.
async fn migrator_up_to(engine: Engine, last: i64) -> sqlx::migrate::Migrator {
    let dir = match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    let mut m = sqlx::migrate::Migrator::new(path)
        .await
        .expect("migrations");
    let kept: Vec<_> = m
        .migrations
        .iter()
        .filter(|x| x.version <= last)
        .cloned()
        .collect();
    assert_eq!(kept.len(), 4, "0001..0004");
    m.migrations = Cow::Owned(kept);
    m
}

async fn old_db(engine: Engine) -> Option<OldDb> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(dir.path());
    let migrator = migrator_up_to(engine, 4).await;
    let (pool, pg) = match engine {
        Engine::Sqlite => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(dir.path().join("pecdesk.sqlite3"))
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(opts).await.expect("sqlite");
            migrator.run(&pool).await.expect("migrate to 0004");
            (Pool::Sqlite(pool), None)
        }
        Engine::Postgres => {
            let server = crate::helpers::pg_server();
            let name = format!("pecdesk_test_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&server).await.expect("connect");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("create database");
            admin.close().await;
            let url = match server.rsplit_once('/') {
                Some((base, _)) if base.contains("://") && !base.ends_with('/') => {
                    format!("{base}/{name}")
                }
                _ => format!("{}/{name}", server.trim_end_matches('/')),
            };
            let pool = sqlx::PgPool::connect(&url).await.expect("connect test db");
            migrator.run(&pool).await.expect("migrate to 0004");
            settings.database_url = Some(url.into());
            (Pool::Postgres(pool), Some((server, name)))
        }
    };
    Some(OldDb {
        settings,
        pool,
        _dir: dir,
        pg,
    })
}

/// One entry of the old layout: (org, action, object id).
type OldEntry = (Option<String>, &'static str, String);

/// Writes `entries` as the old global chain (seq 1.., one head); returns their hashes.
async fn write_old_chain(db: &OldDb, entries: &[OldEntry]) -> Vec<String> {
    let mut prev = GENESIS.to_owned();
    let mut hashes = Vec::new();
    for (i, (org, action, object)) in entries.iter().enumerate() {
        let seq = i as i64 + 1;
        let at = 1_700_000_000_000 + seq;
        let details = json!({"n": seq}).to_string();
        let hash = entry_hash(
            &prev,
            seq,
            at,
            org.as_deref(),
            None,
            action,
            "activity",
            object,
            &details,
        );
        with_pool!(db, |p| sqlx::query(
            "INSERT INTO audit_log (seq, at, org_id, actor_id, action, object_type, object_id, \
             details, prev_hash, hash) VALUES ($1, $2, $3, NULL, $4, 'activity', $5, $6, $7, $8)"
        )
        .bind(seq)
        .bind(at)
        .bind(org.as_deref())
        .bind(*action)
        .bind(object)
        .bind(&details)
        .bind(&prev)
        .bind(&hash)
        .execute(p)
        .await
        .map(|_| ()))
        .expect("old entry");
        prev.clone_from(&hash);
        hashes.push(hash);
    }
    with_pool!(db, |p| sqlx::query(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1"
    )
    .bind(entries.len() as i64)
    .bind(&prev)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("old head");
    hashes
}

/// Two organisations and the system, interleaved in the old global chain.
fn old_entries(a: &str, b: &str) -> Vec<OldEntry> {
    let org = |o: &str| Some(o.to_owned());
    vec![
        (None, "auth.signing_key_rotated", "k1".into()),
        (org(a), "activity.create", "a1".into()),
        (org(b), "activity.create", "b1".into()),
        (org(a), "activity.update", "a2".into()),
        (org(b), "activity.update", "b2".into()),
        (org(a), "activity.transition", "a3".into()),
        (None, "auth.signing_key_rotated", "k2".into()),
    ]
}

async fn the_old_global_chain_is_rebuilt_per_organisation_and_verified(engine: Engine) {
    let Some(db) = old_db(engine).await else {
        return;
    };
    let (a, b) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let entries = old_entries(&a, &b);
    let old_hashes = write_old_chain(&db, &entries).await;

    let store = Store::connect(&db.settings)
        .await
        .expect("migrate and rebuild");
    for (chain, objects, legacy) in [
        (Chain::Org(&a), vec!["a1", "a2", "a3"], vec![2, 4, 6]),
        (Chain::Org(&b), vec!["b1", "b2"], vec![3, 5]),
        (Chain::System, vec!["k1", "k2"], vec![1, 7]),
    ] {
        let v = audit::verify(&store, chain).await.expect("verify");
        assert!(v.ok, "{chain}: {v:?}");
        assert_eq!(v.entries, objects.len() as i64, "{chain}");
        let rows = audit::list(&store, chain, 0, 100).await.expect("list");
        assert_eq!(
            rows.iter()
                .map(|r| r.object_id.as_str())
                .collect::<Vec<_>>(),
            objects,
            "{chain}: its entries, in the old order"
        );
        assert_eq!(
            rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (1..=objects.len() as i64).collect::<Vec<_>>()
        );
        assert_eq!(rows[0].prev_hash, GENESIS, "{chain} starts at the genesis");
        // The old evidence stays beside the new chain.
        let kept: Vec<(i64, String)> = with_pool!(store, |p| sqlx::query_as(
            "SELECT legacy_seq, legacy_hash FROM audit_log WHERE chain = $1 ORDER BY seq"
        )
        .bind(chain.key())
        .fetch_all(p)
        .await)
        .expect("legacy");
        assert_eq!(
            kept,
            legacy
                .iter()
                .map(|&s: &i64| (s, old_hashes[s as usize - 1].clone()))
                .collect::<Vec<_>>(),
            "{chain}"
        );
    }
    let pending: bool = with_pool!(store, |p| sqlx::query_scalar(
        "SELECT pending FROM audit_rebuild WHERE id = 1"
    )
    .fetch_one(p)
    .await)
    .expect("mark");
    assert!(!pending, "the rebuild mark is cleared");

    // New writes continue each chain; a second start does not rebuild again.
    let mut tx = store.begin_write(Chain::Org(&b)).await.expect("write b");
    tx.audit(test_entry(&b, "b3")).await.expect("audit");
    tx.commit().await.expect("commit");
    store.close().await;
    let store = Store::connect(&db.settings).await.expect("second start");
    let vb = audit::verify(&store, Chain::Org(&b))
        .await
        .expect("verify b");
    assert!(vb.ok && vb.entries == 3, "{vb:?}");
    let va = audit::verify(&store, Chain::Org(&a))
        .await
        .expect("verify a");
    assert!(va.ok && va.entries == 3, "{va:?}");
    store.close().await;
}

async fn a_broken_old_chain_is_refused_and_nothing_is_rewritten(engine: Engine) {
    let Some(db) = old_db(engine).await else {
        return;
    };
    let (a, b) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let old_hashes = write_old_chain(&db, &old_entries(&a, &b)).await;
    with_pool!(db, |p| sqlx::query(
        "UPDATE audit_log SET details = $1 WHERE seq = 3"
    )
    .bind(r#"{"forged":true}"#)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("tamper");

    for attempt in 0..2 {
        let err = Store::connect(&db.settings)
            .await
            .expect_err("a broken old chain must be refused");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("the old global chain does not verify at entry 3")
                && msg.contains("content altered")
                && msg.contains("nothing was rewritten"),
            "attempt {attempt}: {msg}"
        );
    }
    // Nothing was rewritten: the old values are where they were, no chain head exists and
    // the rebuild is still pending.
    let rows: Vec<(i64, String, String, Option<String>)> = with_pool!(db, |p| sqlx::query_as(
        "SELECT legacy_seq, prev_hash, hash, legacy_hash FROM audit_log ORDER BY legacy_seq"
    )
    .fetch_all(p)
    .await)
    .expect("rows");
    assert_eq!(rows.len(), old_hashes.len());
    for (seq, _prev, hash, legacy_hash) in &rows {
        assert_eq!(hash, &old_hashes[*seq as usize - 1]);
        assert_eq!(legacy_hash.as_deref(), Some(hash.as_str()));
    }
    let heads: i64 = with_pool!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_heads"
    )
    .fetch_one(p)
    .await)
    .expect("heads");
    assert_eq!(heads, 0);
    let pending: bool = with_pool!(db, |p| sqlx::query_scalar(
        "SELECT pending FROM audit_rebuild WHERE id = 1"
    )
    .fetch_one(p)
    .await)
    .expect("mark");
    assert!(pending);
}

async fn a_long_old_chain_is_rebuilt_in_batches(engine: Engine) {
    let Some(db) = old_db(engine).await else {
        return;
    };
    // More entries than one read page (1000) and many write batches (400): three chains.
    let (a, b) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let n = 2_345_i64;
    let org_of_seq = |seq: i64| match seq % 3 {
        0 => Some(a.clone()),
        1 => Some(b.clone()),
        _ => None,
    };
    let mut prev = GENESIS.to_owned();
    let mut values = Vec::new();
    for seq in 1..=n {
        let org = org_of_seq(seq);
        let details = json!({"n": seq}).to_string();
        let hash = entry_hash(
            &prev,
            seq,
            seq,
            org.as_deref(),
            None,
            "activity.update",
            "activity",
            "x",
            &details,
        );
        let org_sql = org.map_or("NULL".to_owned(), |o| format!("'{o}'"));
        // Test-made ids, numbers and hex only: safe to inline.
        values.push(format!(
            "({seq}, {seq}, {org_sql}, NULL, 'activity.update', 'activity', 'x', '{details}', \
             '{prev}', '{hash}')"
        ));
        prev = hash;
    }
    for chunk in values.chunks(300) {
        let sql = format!(
            "INSERT INTO audit_log (seq, at, org_id, actor_id, action, object_type, object_id, \
             details, prev_hash, hash) VALUES {}",
            chunk.join(", ")
        );
        with_pool!(db, |p| sqlx::query(&sql).execute(p).await.map(|_| ())).expect("old entries");
    }
    with_pool!(db, |p| sqlx::query(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1"
    )
    .bind(n)
    .bind(&prev)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("old head");

    let store = Store::connect(&db.settings).await.expect("rebuild");
    let mut total = 0;
    for chain in [Chain::Org(&a), Chain::Org(&b), Chain::System] {
        let v = audit::verify(&store, chain).await.expect("verify");
        assert!(v.ok, "{chain}: {v:?}");
        total += v.entries;
    }
    assert_eq!(total, n);
    let va = audit::verify(&store, Chain::Org(&a))
        .await
        .expect("verify a");
    assert_eq!(va.entries, n / 3);
    store.close().await;
}

fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .args(args)
        .args(app.db_args())
        .output()
        .expect("run pecdesk");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Cuts the last `n` entries of `chain` and rewinds its head to the entry before: the
/// attack a chain without an outside anchor cannot see.
async fn cut_tail(store: &Store, chain: &str, n: i64) {
    let (seq,): (i64,) = with_pool!(store, |p| sqlx::query_as(
        "SELECT seq FROM audit_heads WHERE chain = $1"
    )
    .bind(chain)
    .fetch_one(p)
    .await)
    .expect("head");
    let keep = seq - n;
    let (hash,): (String,) = with_pool!(store, |p| sqlx::query_as(
        "SELECT hash FROM audit_log WHERE chain = $1 AND seq = $2"
    )
    .bind(chain)
    .bind(keep)
    .fetch_one(p)
    .await)
    .expect("kept entry");
    with_pool!(store, |p| sqlx::query(
        "DELETE FROM audit_log WHERE chain = $1 AND seq > $2"
    )
    .bind(chain)
    .bind(keep)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("delete tail");
    with_pool!(store, |p| sqlx::query(
        "UPDATE audit_heads SET seq = $1, hash = $2 WHERE chain = $3"
    )
    .bind(keep)
    .bind(&hash)
    .bind(chain)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("rewind head");
}

async fn a_checkpoint_outside_the_database_catches_truncation_and_rewinding(engine: Engine) {
    let app = spawn_app(engine).await;
    some_changes(&app).await;
    let org = org_of(&app, "admin@demo.test").await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("checkpoints.jsonl");
    let file = file.to_str().expect("utf-8 path");

    let (ok, out) = cli(&app, &["audit", "checkpoint", "--out", file]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&app, &["audit", "verify", "--checkpoint", file]);
    assert!(ok, "{out}");
    assert!(out.contains("matches the checkpoint"), "{out}");

    // Truncate and rewind: the chain alone still verifies, the checkpoint does not.
    cut_tail(&app.store, &org, 2).await;
    let (ok, out) = cli_verify(&app);
    assert!(ok, "without an anchor the cut is invisible: {out}");
    let (ok, out) = cli(&app, &["audit", "verify", "--checkpoint", file]);
    assert!(!ok, "{out}");
    assert!(out.contains("log TRUNCATED"), "{out}");

    // New entries written over the cut reach the checkpointed sequence with other hashes.
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let m = app
        .import_fresh(&resp, &protocollo, "audit-after-cut")
        .await;
    app.create_activity(
        &resp,
        json!({"mailbox_id": protocollo, "title": "Dopo il taglio", "message_ids": [m]}),
    )
    .await;
    let (ok, out) = cli(&app, &["audit", "verify", "--checkpoint", file]);
    assert!(!ok, "{out}");
    assert!(out.contains("log REWRITTEN"), "{out}");

    // A checkpoint edited by hand no longer carries a valid signature.
    let text = std::fs::read_to_string(file).expect("read");
    let forged = text.replace("\"seq\":", "\"seq\":1");
    std::fs::write(file, forged).expect("write");
    let (ok, out) = cli(&app, &["audit", "verify", "--checkpoint", file]);
    assert!(!ok, "{out}");
    assert!(out.contains("signature does not verify"), "{out}");
}

/// The webhook destination receives the signed heads as a JSON array (a tiny HTTP server
/// on loopback stands for the archive's ingest).
async fn checkpoints_are_posted_to_the_webhook(engine: Engine) {
    use pecdesk_companion::checkpoint::{self, CheckpointSettings, Signer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app(engine).await;
    some_changes(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/ingest", listener.local_addr().expect("addr"));
    let received = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.expect("read");
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some(head_end) = text.find("\r\n\r\n") {
                let len: usize = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().expect("length"))
                    })
                    .unwrap_or(0);
                if buf.len() >= head_end + 4 + len {
                    s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                        .await
                        .expect("answer");
                    return String::from_utf8_lossy(&buf[head_end + 4..]).into_owned();
                }
            }
            assert!(n > 0, "connection closed before the body");
        }
    });
    let settings = CheckpointSettings {
        checkpoint_webhook: Some(url),
        ..CheckpointSettings::default()
    };
    let signer = Signer::from_master(&pecdesk_companion::auth::secrets::MasterKey::from_bytes(
        [9; 32],
    ));
    let written = checkpoint::write(&app.store, &signer, &settings)
        .await
        .expect("posted");
    let body: Vec<checkpoint::Checkpoint> =
        serde_json::from_str(&received.await.expect("server")).expect("a JSON array");
    assert_eq!(body, written);
    let org = org_of(&app, "admin@demo.test").await;
    let ours = body
        .iter()
        .find(|c| c.chain == org)
        .expect("the org's chain");
    assert!(ours.seq >= 4);
    assert!(ours.signature_ok(&signer.public_key()));
}
