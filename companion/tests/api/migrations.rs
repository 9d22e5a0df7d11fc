//! The two migration folders (`migrations/sqlite`, `migrations/postgres`) must describe one
//! schema: the same file names, and after migrating a fresh store on each engine the same
//! tables with the same column names, read from each engine's catalogue. Generic over the
//! files, so a new migration is covered as soon as it exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pecdesk_companion::store::Pool;

use crate::helpers::{Engine, Opts, spawn_app_with};

/// Table name → column names.
type Schema = BTreeMap<String, BTreeSet<String>>;

fn migration_files(engine: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(engine);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {dir:?}: {e}"))
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn both_migration_folders_hold_the_same_file_names() {
    let sqlite = migration_files("sqlite");
    let postgres = migration_files("postgres");
    assert!(!sqlite.is_empty(), "no migration in migrations/sqlite");
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "migration files only in sqlite: {only_sqlite:?}; only in postgres: {only_postgres:?}"
    );
}

/// Tables and columns of a freshly migrated store on `engine`, without sqlx's own table.
async fn migrated_schema(engine: Engine) -> Schema {
    let app = spawn_app_with(
        engine,
        Opts {
            demo: false,
            ..Opts::default()
        },
    )
    .await;
    let rows: Vec<(String, String)> = match app.store.pool() {
        Pool::Sqlite(p) => sqlx::query_as(
            "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(p)
        .await
        .expect("sqlite catalogue"),
        Pool::Postgres(p) => sqlx::query_as(
            "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
             JOIN information_schema.tables t \
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
        )
        .fetch_all(p)
        .await
        .expect("postgres catalogue"),
    };
    schema_of(rows)
}

fn schema_of(rows: Vec<(String, String)>) -> Schema {
    let mut schema = Schema::new();
    for (table, column) in rows {
        if table != "_sqlx_migrations" {
            schema.entry(table).or_default().insert(column);
        }
    }
    schema
}

/// Every difference between the two schemas, one line each, naming table and column.
fn schema_differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for table in sqlite.keys().filter(|t| !postgres.contains_key(*t)) {
        out.push(format!("table {table}: only on SQLite"));
    }
    for table in postgres.keys().filter(|t| !sqlite.contains_key(*t)) {
        out.push(format!("table {table}: only on PostgreSQL"));
    }
    for (table, lite) in sqlite {
        let Some(pg) = postgres.get(table) else {
            continue;
        };
        for column in lite.difference(pg) {
            out.push(format!("column {table}.{column}: only on SQLite"));
        }
        for column in pg.difference(lite) {
            out.push(format!("column {table}.{column}: only on PostgreSQL"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pecdesk_pg),
    ignore = "PECDESK_TEST_PG is not set: PostgreSQL story not run"
)]
async fn both_engines_migrate_to_the_same_tables_and_columns() {
    let sqlite = migrated_schema(Engine::Sqlite).await;
    let postgres = migrated_schema(Engine::Postgres).await;
    assert!(
        sqlite.contains_key("messages") && sqlite.contains_key("audit_log"),
        "the SQLite catalogue read no tables: {sqlite:?}"
    );
    let differences = schema_differences(&sqlite, &postgres);
    assert!(
        differences.is_empty(),
        "the migration folders define different schemas:\n{}",
        differences.join("\n")
    );
}

#[test]
fn a_missing_table_or_column_is_named() {
    let rows = |pairs: &[(&str, &str)]| {
        schema_of(
            pairs
                .iter()
                .map(|(t, c)| ((*t).to_owned(), (*c).to_owned()))
                .collect(),
        )
    };
    let sqlite = rows(&[
        ("messages", "id"),
        ("messages", "subject"),
        ("audit_head", "id"),
        ("_sqlx_migrations", "version"),
    ]);
    let postgres = rows(&[("messages", "id"), ("messages", "org_id")]);
    assert_eq!(
        schema_differences(&sqlite, &postgres),
        vec![
            "table audit_head: only on SQLite".to_owned(),
            "column messages.subject: only on SQLite".to_owned(),
            "column messages.org_id: only on PostgreSQL".to_owned(),
        ]
    );
    assert_eq!(schema_differences(&sqlite, &sqlite), Vec::<String>::new());
}
