//! Storage over SQLite (embedded default, one WAL file) or PostgreSQL.
//!
//! Both engines run the same migrations (`migrations/sqlite`, `migrations/postgres`,
//! matching names) at start and, wherever possible, the same query text: `$N`
//! placeholders work on both. Timestamps are `BIGINT` milliseconds since the Unix epoch
//! (UTC) so they sort and compare the same on both; ids are UUIDv7 text.
//!
//! Every write goes through [`WriteTx`]: one transaction that first takes the head row of
//! its audit chain (one chain per organisation, one for system actions: writers of the same
//! organisation are serialised, as one hash chain needs; writers of different
//! organisations never wait for each other on PostgreSQL; SQLite serialises all writers
//! anyway), then does its work, appends its audit entries and commits.

pub mod activities;
pub mod admin;
pub mod alarms;
pub mod archive;
pub mod audit;
pub mod campaigns;
pub mod comments;
pub mod directory;
pub mod draft_files;
pub mod drafts;
pub mod evidence;
pub mod grants;
pub mod imap;
pub mod mailboxes;
pub mod messages;
pub mod notifications;
pub mod outbox;
pub mod presence;
pub mod query;
pub mod receipts;
pub mod retention;
pub mod routing;
pub mod rules;
pub mod signin;
pub mod stats;
pub mod users;
pub mod visibility;
pub mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::config::Settings;

/// Runs `$body` with `$c` bound to the pool of whichever engine is configured.
/// The body is compiled once per engine, so one query text serves both.
#[macro_export]
macro_rules! with_pool {
    ($store:expr, |$c:ident| $body:expr) => {
        match $store.pool() {
            $crate::store::Pool::Sqlite($c) => $body,
            $crate::store::Pool::Postgres($c) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the open transaction's connection (`&mut Connection`).
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx.conn() {
            $crate::store::TxConn::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::store::TxConn::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// The connection pool of the configured engine.
#[derive(Debug, Clone)]
pub enum Pool {
    /// Embedded SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL server.
    Postgres(PgPool),
}

/// Handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new sortable id (UUIDv7, text).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// RFC 3339 (UTC, milliseconds) text of a stored timestamp.
pub fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp (or a plain `YYYY-MM-DD`, as midnight UTC) to milliseconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens the configured database (PostgreSQL when `database_url` is set, else
    /// `data_dir/pecdesk.sqlite3`) and runs the migrations.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let store = match settings.postgres_url() {
            Some(url) => {
                let opts = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                POSTGRES_MIGRATIONS.run(&pool).await?;
                Self {
                    pool: Pool::Postgres(pool),
                }
            }
            None => {
                std::fs::create_dir_all(&settings.data_dir)?;
                let opts = SqliteConnectOptions::new()
                    .filename(settings.data_dir.join("pecdesk.sqlite3"))
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(15))
                    .pragma("cache_size", "-4000");
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(Duration::from_secs(15))
                    .connect_with(opts)
                    .await?;
                SQLITE_MIGRATIONS.run(&pool).await?;
                Self {
                    pool: Pool::Sqlite(pool),
                }
            }
        };
        // Migration 0005 leaves the per-organisation audit chains to rebuild (SQL cannot
        // hash): done once, here, before anything can write.
        if let Some(r) = audit::rebuild_chains(&store).await? {
            tracing::info!(
                legacy_entries = r.legacy_entries,
                chains = r.chains,
                "audit log rebuilt per organisation (migration 0005), every chain verified"
            );
        }
        Ok(store)
    }

    /// The pool (used through [`with_pool!`]).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        match self.pool {
            Pool::Sqlite(_) => Engine::Sqlite,
            Pool::Postgres(_) => Engine::Postgres,
        }
    }

    /// `SELECT 1`: whether the database answers.
    pub async fn ping(&self) -> bool {
        with_pool!(self, |p| sqlx::query("SELECT 1").execute(p).await.is_ok())
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        with_pool!(self, |p| p.close().await)
    }

    /// Starts a write transaction holding the head of `chain` (see the module doc). Every
    /// audit entry of the transaction belongs to that chain.
    pub async fn begin_write(&self, chain: audit::Chain<'_>) -> sqlx::Result<WriteTx> {
        let mut tx = self.begin_unchained().await?;
        tx.chain = chain.key().to_owned();
        tx.chain_org = chain.org().map(str::to_owned);
        tx.head = audit::lock_head(&mut tx).await?;
        tx.locked = true;
        Ok(tx)
    }

    /// A transaction holding no chain head, for the audit rebuild (which writes heads
    /// itself). `audit()` on it fails: its chain is the system one, its head is unlocked.
    pub(crate) async fn begin_unchained(&self) -> sqlx::Result<WriteTx> {
        let conn = match &self.pool {
            Pool::Sqlite(p) => TxConn::Sqlite(p.begin().await?),
            Pool::Postgres(p) => TxConn::Postgres(p.begin().await?),
        };
        Ok(WriteTx {
            conn,
            head: audit::Head::default(),
            appended: false,
            chain: String::new(),
            chain_org: None,
            locked: false,
        })
    }
}

/// The open transaction of either engine.
#[derive(Debug)]
pub enum TxConn {
    /// SQLite transaction.
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL transaction.
    Postgres(Transaction<'static, Postgres>),
}

/// A write transaction: the work, its audit entries, one commit.
#[derive(Debug)]
pub struct WriteTx {
    conn: TxConn,
    pub(crate) head: audit::Head,
    pub(crate) appended: bool,
    /// The key of the chain whose head this transaction holds (`audit_heads.chain`).
    pub(crate) chain: String,
    /// Whether the head is held (false only for the rebuild's transaction).
    pub(crate) locked: bool,
    /// The organisation whose chain this transaction appends to (`None`: system chain).
    pub(crate) chain_org: Option<String>,
}

impl WriteTx {
    /// The transaction's connection (used through [`with_tx!`]).
    pub fn conn(&mut self) -> &mut TxConn {
        &mut self.conn
    }

    /// Appends one audit entry (see [`audit::Entry`]).
    pub async fn audit(&mut self, entry: audit::Entry<'_>) -> sqlx::Result<()> {
        audit::append(self, entry).await
    }

    /// Stores the new chain head and commits everything at once.
    pub async fn commit(mut self) -> sqlx::Result<()> {
        if self.appended {
            audit::store_head(&mut self).await?;
        }
        match self.conn {
            TxConn::Sqlite(t) => t.commit().await,
            TxConn::Postgres(t) => t.commit().await,
        }
    }
}
