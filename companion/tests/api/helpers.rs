#![allow(dead_code)] // helpers used by some stories only

//! `spawn_app()`: the companion on a port-0 listener over a temp SQLite file or a fresh
//! PostgreSQL database (`PECDESK_TEST_PG`), plus small HTTP helpers.

use std::net::SocketAddr;

use pecdesk_companion::{AppState, Settings, Store, demo};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

/// Which engine a story runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Generates `sqlite::NAME` and `postgres::NAME` tests for each story `NAME(engine)`.
///
/// A story whose real part is missing is marked ignored, so `cargo test` counts it as
/// ignored, never as passed: the PostgreSQL ones unless the build saw `PECDESK_TEST_PG` (cfg
/// `pecdesk_pg`), the ones after `needs_idp:` unless `tests/oidc` has its npm packages (cfg
/// `pecdesk_oidc`); see `build.rs`. In CI both cfgs are always set, so a missing part fails.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)? ; needs_idp: $($idp:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Engine::Sqlite).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(pecdesk_oidc),
                    ignore = "tests/oidc/node_modules is missing (npm ci in tests/oidc): SSO story not run"
                )]
                async fn $idp() {
                    super::$idp($crate::helpers::Engine::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(pecdesk_pg),
                    ignore = "PECDESK_TEST_PG is not set: PostgreSQL story not run"
                )]
                async fn $name() {
                    super::$name($crate::helpers::Engine::Postgres).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(pecdesk_pg),
                    ignore = "PECDESK_TEST_PG is not set: PostgreSQL story not run"
                )]
                #[cfg_attr(
                    all(pecdesk_pg, not(pecdesk_oidc)),
                    ignore = "tests/oidc/node_modules is missing (npm ci in tests/oidc): SSO story not run"
                )]
                async fn $idp() {
                    super::$idp($crate::helpers::Engine::Postgres).await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::both_engines!($($name),* ; needs_idp:);
    };
}

/// A running companion for one test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Store,
    pub engine: Engine,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Options of [`spawn_app_with`].
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    pub demo: bool,
    pub listen_any: bool,
    /// HTTP server limits (timeouts, connection cap, import budget); defaults otherwise.
    pub http: Option<pecdesk_companion::server::HttpLimits>,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            demo: true,
            listen_any: false,
            http: None,
        }
    }
}

/// The PostgreSQL server URL. A PostgreSQL story runs only when the build saw
/// `PECDESK_TEST_PG` or `CI` (otherwise it is ignored, see [`both_engines!`]); run anyway
/// (`--include-ignored`, or in CI without the variable) it fails here, never passes.
pub fn pg_server() -> String {
    match std::env::var("PECDESK_TEST_PG") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "PECDESK_TEST_PG is not set: PostgreSQL stories cannot run (they may not be skipped in CI)"
        ),
    }
}

/// Replaces the database name of a `postgres://` URL.
fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

/// The demo app on `engine`.
pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, Opts::default()).await
}

/// The app with options.
pub async fn spawn_app_with(engine: Engine, opts: Opts) -> TestApp {
    spawn_app_configured(engine, opts, |_| {}).await
}

/// The app with options and settings changed by `configure` (the add-ins' folders ...).
pub async fn spawn_app_configured(
    engine: Engine,
    opts: Opts,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    // Server logs on demand: PECDESK_LOG=debug cargo test ...
    if let Ok(filter) = std::env::var("PECDESK_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(dir.path());
    settings.demo = opts.demo;
    if let Some(http) = opts.http {
        settings.http = http;
    }
    configure(&mut settings);
    let mut pg = None;
    if engine == Engine::Postgres {
        let server = pg_server();
        let name = format!("pecdesk_test_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&server)
            .await
            .expect("connect to PECDESK_TEST_PG");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        settings.database_url = Some(with_db(&server, &name).into());
        pg = Some((server, name));
    }
    let store = Store::connect(&settings).await.expect("store");
    let state = AppState::new(settings, store.clone()).await.expect("state");
    if opts.demo {
        demo::seed(&store, state.trust()).await.expect("demo seed");
        demo_smtp(&state).await;
    }
    let bind: SocketAddr = if opts.listen_any {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([127, 0, 0, 1], 0).into()
    };
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        pecdesk_companion::serve(state, listener, async {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    TestApp {
        addr,
        client: reqwest::Client::new(),
        store,
        engine,
        _dir: dir,
        pg,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            s.abort();
        }
        if let Some((server, name)) = self.pg.take() {
            drop_pg_database(server, name);
        }
    }
}

/// Drops a test database from `Drop` (async work there: a short-lived runtime on its own
/// thread).
pub fn drop_pg_database(server: String, name: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            if let Ok(admin) = sqlx::PgPool::connect(&server).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await;
                admin.close().await;
            }
        });
    })
    .join();
}

/// An HTTP answer: status and JSON body (Null when not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Signs in a demo user through dev login.
    pub async fn login(&self, email: &str) -> String {
        let a = self
            .send(
                reqwest::Method::POST,
                "/api/v1/auth/dev-login",
                None,
                Some(serde_json::json!({"email": email})),
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "dev login of {email}: {:?}",
            a.body
        );
        a.body["token"].as_str().expect("token").to_owned()
    }

    /// Sends a JSON request.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        into_answer(resp).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }
    pub async fn post(&self, token: &str, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }
    pub async fn patch(&self, token: &str, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PATCH, path, Some(token), Some(body))
            .await
    }
    pub async fn put(&self, token: &str, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// Posts raw bytes (message import).
    pub async fn post_raw(&self, token: &str, path: &str, bytes: Vec<u8>) -> Answer {
        let resp = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "message/rfc822")
            .body(bytes)
            .send()
            .await
            .expect("request");
        into_answer(resp).await
    }
}

pub async fn into_answer(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        body,
        headers,
    }
}

/// Asserts the error envelope shape.
pub fn assert_envelope(a: &Answer, code: &str) {
    assert_eq!(a.body["error"]["code"], code, "envelope of {:?}", a.body);
    assert!(
        a.body["error"]["message"].is_string(),
        "message in {:?}",
        a.body
    );
}

/// Runs one text query on the app's database.
#[macro_export]
macro_rules! scalar {
    ($app:expr, $sql:expr $(, $arg:expr)*) => {
        pecdesk_companion::with_pool!($app.store, |p| sqlx::query_scalar($sql)$(.bind($arg))*.fetch_one(p).await)
            .expect("query")
    };
}

impl TestApp {
    /// The app's data folder (its master key, for a second `AppState` on the same store).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub async fn mailbox_id(&self, address: &str) -> String {
        scalar!(self, "SELECT id FROM mailboxes WHERE address = $1", address)
    }
    pub async fn user_id(&self, email: &str) -> String {
        scalar!(self, "SELECT id FROM users WHERE email = $1", email)
    }
    pub async fn team_id(&self, name: &str) -> String {
        scalar!(self, "SELECT id FROM teams WHERE name = $1", name)
    }

    /// Arguments locating this app's database for the `pecdesk` CLI.
    pub fn db_args(&self) -> Vec<String> {
        match &self.pg {
            // The data dir too: it holds the master key (checkpoint signatures).
            Some((server, name)) => vec![
                "--database-url".into(),
                with_db(server, name),
                "--data-dir".into(),
                self._dir.path().to_string_lossy().into_owned(),
            ],
            None => vec![
                "--data-dir".into(),
                self._dir.path().to_string_lossy().into_owned(),
            ],
        }
    }

    /// Imports a fresh synthetic message into a mailbox as `token`'s user; returns its id.
    pub async fn import_fresh(&self, token: &str, mailbox_id: &str, tag: &str) -> String {
        let a = self
            .post_raw(
                token,
                &format!("/api/v1/messages/import?mailbox={mailbox_id}"),
                fresh_eml(tag),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "import: {:?}", a.body);
        a.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates an activity as `token`'s user; returns (id, version).
    pub async fn create_activity(&self, token: &str, body: Value) -> (String, i64) {
        let a = self.post(token, "/api/v1/activities", body).await;
        assert_eq!(
            a.status,
            StatusCode::CREATED,
            "create activity: {:?}",
            a.body
        );
        (
            a.body["id"].as_str().expect("id").to_owned(),
            a.body["version"].as_i64().expect("version"),
        )
    }

    /// Current version of an activity, read as `token`'s user.
    pub async fn version(&self, token: &str, id: &str) -> i64 {
        let a = self.get(token, &format!("/api/v1/activities/{id}")).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        a.body["version"].as_i64().expect("version")
    }
}

/// A synthetic (not PEC) message, unique per `tag`.
pub fn fresh_eml(tag: &str) -> Vec<u8> {
    format!(
        "From: <mittente@esempio.test>\r\nTo: <protocollo@pec.demo.test>\r\nSubject: Prova {tag}\r\n\
         Date: Mon, 02 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{tag}@esempio.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nTesto di prova {tag}.\r\n"
    )
    .into_bytes()
}

/// Gives every demo mailbox SMTP settings (loopback port 9, where nothing answers: the
/// outbox worker does not run in these stories), so a reply can be queued; the outbox
/// stories point a mailbox at the simulator instead.
pub async fn demo_smtp(state: &AppState) {
    use pecdesk_companion::store::audit::Chain;
    use pecdesk_companion::store::mailboxes::{self, EndpointInput, Protocol, Security};
    let rows: Vec<(String, String, String)> =
        pecdesk_companion::with_pool!(state.store(), |p| sqlx::query_as(
            "SELECT id, org_id, address FROM mailboxes ORDER BY id"
        )
        .fetch_all(p)
        .await)
        .expect("mailboxes");
    let secret = secrecy::SecretString::from("demo".to_owned());
    for (id, org, address) in rows {
        let mut tx = state
            .store()
            .begin_write(Chain::Org(&org))
            .await
            .expect("tx");
        mailboxes::set_endpoint(
            &mut tx,
            state.tokens().master(),
            &id,
            Protocol::Smtp,
            &EndpointInput {
                host: "127.0.0.1",
                port: 9,
                security: Security::Plain,
                user: &address,
                secret: Some(&secret),
            },
        )
        .await
        .expect("smtp settings");
        tx.commit().await.expect("commit");
    }
}
