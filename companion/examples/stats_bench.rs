//! Statistics over many messages (issue 16, item 8; docs/BENCHMARKS.md): N messages
//! (default 500,000) and N/5 activities over 90 days in the demo's two mailboxes, written
//! straight into a fresh database (not timed), then `GET /api/v1/stats`'s computation
//! (`domain::stats::compute`) timed for a 30-day and the whole 90-day range, grouped by day
//! and by operator, over both mailboxes.
//!
//! ```text
//! cargo run --release -p pecdesk-companion --example stats_bench -- sqlite 500000 [REPEATS]
//! PECDESK_TEST_PG=postgres://... cargo run --release -p pecdesk-companion --example stats_bench -- postgres 500000
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use pecdesk_companion::auth::Principal;
use pecdesk_companion::domain::stats::{self, GroupBy};
use pecdesk_companion::store::{grants, users};
use pecdesk_companion::{AppState, Settings, Store, demo, with_pool};
use pecdesk_core::ids::EmailAddress;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DAY: i64 = 86_400_000;
/// 2026-08-01T00:00:00Z.
const START: i64 = 1_785_542_400_000;
const ROWS: usize = 400;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = args.get(1).map(String::as_str).unwrap_or("sqlite");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(500_000);
    let reps: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = Settings::for_data_dir(dir.path());
    let mut pg_name = None;
    if engine == "postgres" {
        let server = std::env::var("PECDESK_TEST_PG").expect("PECDESK_TEST_PG");
        let name = format!("pecdesk_stats_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&server).await.expect("pg");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create db");
        admin.close().await;
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        settings.database_url = Some(format!("{base}/{name}").into());
        pg_name = Some((server, name));
    }
    let store = Store::connect(&settings).await.expect("store");
    let state = AppState::new(settings, store.clone()).await.expect("state");
    demo::seed(&store, state.trust()).await.expect("seed");

    let rita = users::user_by_email(
        &store,
        &EmailAddress::parse("responsabile@demo.test").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let org = rita.org_id.clone();
    let mailboxes: Vec<String> = users::mailboxes_of_org(&store, &org)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    let people: Vec<String> = users::users_of_org(&store, &org)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();

    // Seed: N messages, one raw blob each (messages are unique per mailbox and blob).
    let t = Instant::now();
    let mut i = 0usize;
    while i < n {
        let k = ROWS.min(n - i);
        let mut blobs = String::from("INSERT INTO raw_blobs (sha256, size, bytes) VALUES ");
        let mut msgs = String::from(
            "INSERT INTO messages (id, org_id, mailbox_id, raw_sha256, kind, direction, summary, \
             state, received_at, taken_at, taken_by, worked_at, worked_by, search_text) VALUES ",
        );
        let mut rows = Vec::with_capacity(k);
        for j in 0..k {
            let x = i + j;
            let received = START + (x as i64 * 90 * DAY) / n as i64;
            let taken =
                (!x.is_multiple_of(5)).then(|| received + ((x * 7919) % 480) as i64 * 60_000);
            let worked =
                (x.is_multiple_of(3)).then(|| received + ((x * 104_729) % 4320) as i64 * 60_000);
            let who = people[x % people.len()].clone();
            rows.push((
                format!("bench-{x:08}"),
                format!("{x:064x}"),
                mailboxes[x % mailboxes.len()].clone(),
                received,
                taken,
                worked,
                who,
            ));
            if j > 0 {
                blobs.push_str(", ");
                msgs.push_str(", ");
            }
            blobs.push_str(&format!("(${}, 1, ${})", j * 2 + 1, j * 2 + 2));
            let b = j * 9;
            msgs.push_str(&format!(
                "(${}, ${}, ${}, ${}, 'posta-certificata', 'in', '{{}}', 'new', ${}, ${}, ${}, ${}, ${}, '')",
                b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9
            ));
        }
        with_pool!(store, |p| {
            let mut q = sqlx::query(&blobs);
            for r in &rows {
                q = q.bind(r.1.clone()).bind(vec![b'x']);
            }
            q.execute(p).await.map(|_| ())
        })
        .expect("blobs");
        with_pool!(store, |p| {
            let mut q = sqlx::query(&msgs);
            for r in &rows {
                q = q
                    .bind(r.0.clone())
                    .bind(org.clone())
                    .bind(r.2.clone())
                    .bind(r.1.clone())
                    .bind(r.3)
                    .bind(r.4)
                    .bind(r.4.map(|_| r.6.clone()))
                    .bind(r.5)
                    .bind(r.5.map(|_| r.6.clone()));
            }
            q.execute(p).await.map(|_| ())
        })
        .expect("messages");
        i += k;
    }
    // N/5 activities, one in four still open, due two days after creation.
    let acts = n / 5;
    let mut i = 0usize;
    while i < acts {
        let k = ROWS.min(acts - i);
        let mut sql = String::from(
            "INSERT INTO activities (id, org_id, mailbox_id, title, priority, due_at, status, flow, \
             assignee_id, created_by, created_at, updated_at, closed_at, search_text) VALUES ",
        );
        for j in 0..k {
            if j > 0 {
                sql.push_str(", ");
            }
            let b = j * 8;
            sql.push_str(&format!(
                "(${}, ${}, ${}, 'bench', 'normal', ${}, ${}, 'standard', ${}, ${}, ${}, ${}, ${}, '')",
                b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 6, b + 7, b + 7, b + 8
            ));
        }
        with_pool!(store, |p| {
            let mut q = sqlx::query(&sql);
            for j in 0..k {
                let x = i + j;
                let created = START + (x as i64 * 90 * DAY) / acts as i64;
                let open = x.is_multiple_of(4);
                q = q
                    .bind(format!("bench-act-{x:08}"))
                    .bind(org.clone())
                    .bind(mailboxes[x % mailboxes.len()].clone())
                    .bind(created + 2 * DAY)
                    .bind(if open { "open" } else { "done" })
                    .bind(people[x % people.len()].clone())
                    .bind(created)
                    .bind((!open).then_some(created + ((x % 5) as i64) * DAY));
            }
            q.execute(p).await.map(|_| ())
        })
        .expect("activities");
        i += k;
    }
    if engine == "postgres" {
        with_pool!(store, |p| sqlx::query("ANALYZE")
            .execute(p)
            .await
            .map(|_| ()))
        .expect("analyze");
    }
    println!(
        "{engine}: seeded {n} messages and {acts} activities in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let who = Principal {
        user_id: rita.id.clone(),
        org_id: org.clone(),
        email: rita.email.clone(),
        name: rita.name.clone(),
        is_admin: false,
        is_auditor: false,
    };
    let person = grants::person(&store, &who).await.expect("person");
    let now = START + 95 * DAY;
    for (label, from, to) in [
        ("30 days", START + 30 * DAY, START + 60 * DAY),
        ("90 days", START, START + 90 * DAY),
    ] {
        for group in [GroupBy::Day, GroupBy::Operator] {
            let mut best = f64::MAX;
            let mut received = 0;
            for _ in 0..reps {
                let t = Instant::now();
                let s = stats::compute(&store, &who, &person, from, to, group, None, now)
                    .await
                    .expect("stats");
                best = best.min(t.elapsed().as_secs_f64());
                received = s.total.received;
            }
            println!(
                "{engine}: {label}, group_by={group:?}: {received} messages received in range, best of {reps}: {:.0} ms",
                best * 1000.0
            );
        }
    }
    store.close().await;
    if let Some((server, name)) = pg_name {
        let admin = sqlx::PgPool::connect(&server).await.expect("pg");
        let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
}
