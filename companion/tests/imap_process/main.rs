//! IMAP ingestion across processes: the real `pecdesk serve` binary polling a real Dovecot,
//! killed with SIGKILL in the middle of a mailbox full of messages, and two replicas on
//! one PostgreSQL database polling the same mailbox. After each story every delivered
//! message is stored exactly once (rows = messages delivered, every SHA-256 once) and routed
//! exactly once by the mailbox's catch-all rule (one activity per message).
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../api/dovecot.rs"]
mod dovecot;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pecdesk_companion::store::audit::Chain;
use pecdesk_companion::store::mailboxes::{self, EndpointInput, Protocol, Security};
use pecdesk_companion::{AppState, Settings, Store, demo, with_pool};
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};

use dovecot::Dovecot;

const USER: &str = "legale";
const PASSWORD: &str = "segreta-di-prova";

/// One database (SQLite in a temp folder, or a fresh PostgreSQL database), seeded with the
/// demo organisations and one mailbox configured to poll Dovecot.
struct Db {
    dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    store: Store,
    mailbox: String,
}

fn pg_server() -> String {
    std::env::var("PECDESK_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("PECDESK_TEST_PG is not set: PostgreSQL process stories cannot run")
}

fn with_db(url: &str, db: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let base = url.split('?').next().unwrap_or(url);
    let host = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host}/{db}")
}

impl Db {
    async fn new(postgres: bool, port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::for_data_dir(dir.path());
        let mut pg = None;
        if postgres {
            let server = pg_server();
            let name = format!("pecdesk_test_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&server).await.expect("connect");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("create database");
            admin.close().await;
            settings.database_url = Some(with_db(&server, &name).into());
            pg = Some((server, name));
        }
        let store = Store::connect(&settings).await.expect("store");
        // Creates the master key in the data folder: the servers started later share it.
        let state = AppState::new(settings, store.clone()).await.expect("state");
        demo::seed(&store, state.trust()).await.expect("seed");
        let mailbox: String = with_pool!(store, |p| sqlx::query_scalar(
            "SELECT id FROM mailboxes WHERE address = $1"
        )
        .bind(demo::LEGALE)
        .fetch_one(p)
        .await)
        .expect("mailbox");
        let org: String = with_pool!(store, |p| sqlx::query_scalar(
            "SELECT org_id FROM mailboxes WHERE id = $1"
        )
        .bind(&mailbox)
        .fetch_one(p)
        .await)
        .expect("org");
        let secret = SecretString::from(PASSWORD.to_owned());
        let mut tx = store.begin_write(Chain::Org(&org)).await.expect("tx");
        mailboxes::set_endpoint(
            &mut tx,
            state.tokens().master(),
            &mailbox,
            Protocol::Imap,
            &EndpointInput {
                host: "127.0.0.1",
                port,
                security: Security::Plain,
                user: USER,
                secret: Some(&secret),
            },
        )
        .await
        .expect("endpoint");
        mailboxes::set_ingest_enabled(&mut tx, &mailbox, true)
            .await
            .expect("enable");
        tx.commit().await.expect("commit");
        // A catch-all rule for the mailbox: every message becomes one activity of Rita's,
        // so a message routed twice would show as two.
        let admin: String = with_pool!(store, |p| sqlx::query_scalar(
            "SELECT id FROM users WHERE email = 'admin@demo.test'"
        )
        .fetch_one(p)
        .await)
        .expect("admin");
        let rita: String = with_pool!(store, |p| sqlx::query_scalar(
            "SELECT id FROM users WHERE email = 'responsabile@demo.test'"
        )
        .fetch_one(p)
        .await)
        .expect("rita");
        let spec = serde_json::from_value(serde_json::json!({
            "name": "Tutto a Rita",
            "conditions": [{"field": "mailbox", "match": "is", "value": demo::LEGALE}],
            "actions": {"route": {"user_id": rita}, "activity": {"title": "Da lavorare"}}
        }))
        .expect("rule");
        pecdesk_companion::domain::rules::create(&store, &org, Some(&admin), &spec)
            .await
            .expect("rule created");
        Self {
            dir,
            pg,
            store,
            mailbox,
        }
    }

    fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--data-dir".to_owned(),
            self.dir.path().display().to_string(),
        ];
        if let Some((server, name)) = &self.pg {
            a.push("--database-url".into());
            a.push(with_db(server, name));
        }
        a
    }

    /// Stored messages whose steps after storage (reconciliation, routing) are not done.
    async fn unprocessed(&self) -> i64 {
        with_pool!(self.store, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1 AND processed_at IS NULL"
        )
        .bind(&self.mailbox)
        .fetch_one(p)
        .await)
        .expect("unprocessed")
    }

    async fn count(&self) -> i64 {
        with_pool!(self.store, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1"
        )
        .bind(&self.mailbox)
        .fetch_one(p)
        .await)
        .expect("count")
    }

    async fn copies(&self, sha: &str) -> i64 {
        with_pool!(self.store, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1 AND raw_sha256 = $2"
        )
        .bind(&self.mailbox)
        .bind(sha)
        .fetch_one(p)
        .await)
        .expect("copies")
    }

    async fn lease_owner(&self) -> Option<String> {
        with_pool!(self.store, |p| sqlx::query_scalar(
            "SELECT lease_owner FROM mailbox_health WHERE mailbox_id = $1"
        )
        .bind(&self.mailbox)
        .fetch_optional(p)
        .await)
        .expect("lease")
        .flatten()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((server, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(admin) = sqlx::PgPool::connect(&server).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&admin)
                                .await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running `pecdesk serve`; its log (stdout and stderr) in a file. Killed on drop.
struct Server {
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    fn start(db: &Db, name: &str) -> Self {
        let log = db.dir.path().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_pecdesk"))
            .arg("serve")
            .args(db.args())
            .args(["--listen", "127.0.0.1:0"])
            .env("PECDESK_IMAP__POLL_INTERVAL_SECS", "1")
            .env("PECDESK_IMAP__RETRY_BASE_SECS", "1")
            .env("PECDESK_IMAP__MAX_BACKOFF_SECS", "2")
            .env("PECDESK_IMAP__BATCH_SIZE", "20")
            .env("PECDESK_IMAP__LEASE_SECS", "4")
            .env("PECDESK_IMAP__REFRESH_SECS", "1")
            .env("PECDESK_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("pecdesk serve starts");
        Self {
            child: Some(child),
            log,
        }
    }

    /// `kill -9`: no shutdown, no lease given back.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The lease owner name this process polls under (from its start-up log line).
    fn owner(&self) -> Option<String> {
        let log = self.log();
        let line = log
            .lines()
            .find(|l| l.contains("IMAP supervisor started"))?;
        let at = line.find("imap.owner=")? + "imap.owner=".len();
        Some(
            line[at..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn sha(raw: &[u8]) -> String {
    hex::encode(Sha256::digest(raw))
}

/// A plain message of about 8 KiB, unique per `n`.
fn message(run: &str, n: usize) -> Vec<u8> {
    let filler = "Testo di riempimento per rendere il messaggio più grande. ".repeat(140);
    format!(
        "From: <mittente{n}@esempio.test>\r\nTo: <legale@pec.demo.test>\r\nSubject: Prova {n}\r\n\
         Date: Mon, 02 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{run}.{n}@esempio.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{filler}\r\n"
    )
    .into_bytes()
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, servers: &[&Server], mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = servers.iter().map(|s| s.log()).collect();
            panic!("timed out waiting for: {what}\n{}", logs.join("\n---\n"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn assert_each_once(db: &Db, base: i64, sent: &[Vec<u8>]) {
    for (i, raw) in sent.iter().enumerate() {
        assert_eq!(db.copies(&sha(raw)).await, 1, "message {i}");
        let (activities, routed): (i64, i64) = with_pool!(db.store, |p| sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM activity_messages am WHERE am.message_id = m.id), \
             (SELECT COUNT(*) FROM messages r WHERE r.id = m.id AND r.routed_at IS NOT NULL) \
             FROM messages m WHERE m.mailbox_id = $1 AND m.raw_sha256 = $2"
        )
        .bind(&db.mailbox)
        .bind(sha(raw))
        .fetch_one(p)
        .await)
        .expect("routing");
        assert_eq!((activities, routed), (1, 1), "message {i} routed once");
    }
    assert_eq!(
        db.count().await,
        base + i64::try_from(sent.len()).expect("len")
    );
    let last_uid: i64 = with_pool!(db.store, |p| sqlx::query_scalar(
        "SELECT last_uid FROM imap_folders WHERE mailbox_id = $1 AND folder = 'INBOX'"
    )
    .bind(&db.mailbox)
    .fetch_one(p)
    .await)
    .expect("folder");
    assert_eq!(last_uid, i64::try_from(sent.len()).expect("len"));
}

const MESSAGES: usize = 600;

/// `kill -9` of the only server while it works through a full mailbox; after a restart
/// every message is there once.
async fn killed_mid_ingestion_loses_and_duplicates_nothing(postgres: bool) {
    let dovecot = Dovecot::start(&[(USER, PASSWORD)]);
    let db = Db::new(postgres, dovecot.port).await;
    let base = db.count().await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let sent: Vec<Vec<u8>> = (0..MESSAGES).map(|n| message(&run, n)).collect();
    for m in &sent {
        dovecot.deliver(USER, None, m);
    }
    let mut first = Server::start(&db, "first");
    wait_for(
        "ingestion under way",
        Duration::from_secs(60),
        &[&first],
        || async { db.count().await >= base + 40 },
    )
    .await;
    first.kill();
    let at_kill = db.count().await - base;
    assert!(
        at_kill < i64::try_from(MESSAGES).expect("n"),
        "killed mid-ingestion: {at_kill} of {MESSAGES} stored"
    );
    let second = Server::start(&db, "second");
    // The restarted server takes the mailbox over once the dead one's lease has run out.
    wait_for(
        "ingestion resumed",
        Duration::from_secs(60),
        &[&second],
        || async { db.count().await > base + at_kill },
    )
    .await;
    let resumed = Instant::now();
    let from = db.count().await;
    wait_for(
        "every message stored after the restart",
        Duration::from_secs(120),
        &[&second],
        || async { db.count().await >= base + i64::try_from(MESSAGES).expect("n") },
    )
    .await;
    let rate = (base + i64::try_from(MESSAGES).expect("n") - from) as f64
        / resumed.elapsed().as_secs_f64();
    eprintln!(
        "{}: IMAP ingestion after the restart: {rate:.0} messages/s (8 KiB messages, batches of 20)",
        if postgres { "PostgreSQL" } else { "SQLite" }
    );
    // One more cycle: whatever is read again must not come in twice.
    let extra = message(&run, MESSAGES);
    dovecot.deliver(USER, None, &extra);
    let mut all = sent;
    all.push(extra);
    wait_for(
        "the late message",
        Duration::from_secs(30),
        &[&second],
        || async { db.count().await >= base + i64::try_from(all.len()).expect("n") },
    )
    .await;
    wait_for(
        "every message processed",
        Duration::from_secs(60),
        &[&second],
        || async { db.unprocessed().await == 0 },
    )
    .await;
    drop(second);
    assert_each_once(&db, base, &all).await;
    eprintln!("killed after {at_kill} of {MESSAGES} messages");
}

/// Two servers on one PostgreSQL database poll the same mailbox; the one holding the
/// lease is killed with SIGKILL mid-batch; the other takes over; each message once.
async fn two_replicas_one_killed_ingest_each_message_once() {
    let dovecot = Dovecot::start(&[(USER, PASSWORD)]);
    let db = Db::new(true, dovecot.port).await;
    let base = db.count().await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut sent: Vec<Vec<u8>> = (0..MESSAGES).map(|n| message(&run, n)).collect();
    for m in &sent {
        dovecot.deliver(USER, None, m);
    }
    let mut a = Server::start(&db, "a");
    let mut b = Server::start(&db, "b");
    wait_for(
        "ingestion under way",
        Duration::from_secs(60),
        &[&a, &b],
        || async { db.count().await >= base + 40 },
    )
    .await;
    let holder = db.lease_owner().await.expect("a replica holds the lease");
    let (victim, survivor) = if a.owner().as_deref() == Some(holder.as_str()) {
        (&mut a, &mut b)
    } else {
        assert_eq!(b.owner().as_deref(), Some(holder.as_str()), "lease owner");
        (&mut b, &mut a)
    };
    victim.kill();
    let at_kill = db.count().await - base;
    assert!(
        at_kill < i64::try_from(MESSAGES).expect("n"),
        "killed mid-ingestion: {at_kill} of {MESSAGES} stored"
    );
    // More mail while the survivor takes over.
    for n in MESSAGES..MESSAGES + 5 {
        let m = message(&run, n);
        dovecot.deliver(USER, None, &m);
        sent.push(m);
    }
    let survivor_owner = survivor.owner().expect("survivor owner");
    wait_for(
        "every message stored by the survivor",
        Duration::from_secs(120),
        &[survivor],
        || async { db.count().await >= base + i64::try_from(sent.len()).expect("n") },
    )
    .await;
    assert_eq!(
        db.lease_owner().await.as_deref(),
        Some(survivor_owner.as_str())
    );
    wait_for(
        "every message processed",
        Duration::from_secs(60),
        &[survivor],
        || async { db.unprocessed().await == 0 },
    )
    .await;
    survivor.kill();
    assert_each_once(&db, base, &sent).await;
    eprintln!("replica killed after {at_kill} of {MESSAGES} messages");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn sqlite_killed_mid_ingestion_loses_and_duplicates_nothing() {
    rt().block_on(killed_mid_ingestion_loses_and_duplicates_nothing(false));
}

#[test]
#[cfg_attr(
    not(pecdesk_pg),
    ignore = "PECDESK_TEST_PG is not set: PostgreSQL story not run"
)]
fn postgres_killed_mid_ingestion_loses_and_duplicates_nothing() {
    rt().block_on(killed_mid_ingestion_loses_and_duplicates_nothing(true));
}

#[test]
#[cfg_attr(
    not(pecdesk_pg),
    ignore = "PECDESK_TEST_PG is not set: PostgreSQL story not run"
)]
fn postgres_two_replicas_one_killed_ingest_each_message_once() {
    rt().block_on(two_replicas_one_killed_ingest_each_message_once());
}
