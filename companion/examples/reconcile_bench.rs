//! Receipt reconciliation throughput (issue 13, item 10; docs/BENCHMARKS.md): imports
//! N receipts generated from the API tests' fixtures (per submission: one accettazione,
//! three avvenute consegne — two completa, one sintetica — and one errore-consegna with
//! errore-esteso; plus the sent message) into a fresh database, then times
//! `domain::reconcile::process` over them in batches, as ingestion calls it.
//!
//! ```text
//! cargo run --release -p pecdesk-companion --example reconcile_bench -- sqlite 20000
//! PECDESK_TEST_PG=postgres://... cargo run --release -p pecdesk-companion --example reconcile_bench -- postgres 20000
//! ```
//!
//! Two orders are timed, each on its own submissions: receipts processed before their
//! sent message is processed (they wait, grouped, then attach), and sent message first.
//! The import itself is not timed (it is the ingestion benchmark's).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/api/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use std::time::Instant;

use fixtures::ReceiptSpec;
use pecdesk_companion::domain::{messages, reconcile};
use pecdesk_companion::{AppState, Settings, Store, demo, with_pool};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SENDER: &str = "protocollo@pec.demo.test";
const BATCH: usize = 500;

/// Raw messages of submission `n`: (sent message, its five receipts).
fn submission(n: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let m = format!("20261116111958.bench-{n}@demo.test");
    let i = format!("opec{n}.20261116112000.4242.1.1@pec.prova-gestore.test");
    let to = [
        format!("uno-{n}@pec.uno-esempio.test"),
        format!("due-{n}@pec.due-esempio.test"),
        format!("tre-{n}@pec.tre-esempio.test"),
    ];
    let cc = format!("cc-{n}@pec.cc-esempio.test");
    let all: Vec<&str> = to.iter().map(String::as_str).chain([cc.as_str()]).collect();
    let own = |w: &str| format!("{w}-{n}@pec.prova-gestore.test");
    let (oa, o1, o2, o3, oe) = (own("acc"), own("c1"), own("c2"), own("c3"), own("err"));
    let acc = ReceiptSpec::accettazione(&i, &m, SENDER, &all, &oa);
    let receipts = vec![
        fixtures::receipt_of(&acc),
        fixtures::receipt_of(&acc.about(
            "avvenuta-consegna",
            &to[0],
            "16/11/2026",
            "11:20:05",
            &o1,
        )),
        fixtures::receipt_of(&acc.about(
            "avvenuta-consegna",
            &to[1],
            "16/11/2026",
            "11:20:06",
            &o2,
        )),
        fixtures::receipt_of(&ReceiptSpec {
            ricevuta: Some("sintetica"),
            ..acc.about("avvenuta-consegna", &cc, "16/11/2026", "11:20:07", &o3)
        }),
        fixtures::receipt_of(&ReceiptSpec {
            errore_esteso: Some("casella del destinatario inesistente (5.1.1)"),
            ..acc.about("errore-consegna", &to[2], "17/11/2026", "11:20:00", &oe)
        }),
    ];
    let sent = fixtures::sent_message(
        SENDER,
        &[&to[0], &to[1], &to[2]],
        &[&cc],
        &m,
        "Trasmissione atti",
    );
    (sent, receipts)
}

async fn timed(store: &Store, org: &str, ids: &[String]) -> f64 {
    let t = Instant::now();
    for chunk in ids.chunks(BATCH) {
        reconcile::process(store, org, chunk)
            .await
            .expect("reconcile");
    }
    t.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let engine = args.get(1).map_or("sqlite", String::as_str);
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let submissions = n.div_ceil(5);

    let dir = tempfile::tempdir()?;
    let mut settings = Settings::for_data_dir(dir.path());
    let mut pg_db = None;
    if engine == "postgres" {
        let server = std::env::var("PECDESK_TEST_PG").expect("PECDESK_TEST_PG");
        let name = format!("pecdesk_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&server).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await?;
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        settings.database_url = Some(format!("{base}/{name}").into());
        pg_db = Some((admin, name));
    }
    let store = Store::connect(&settings).await?;
    let state = AppState::new(settings, store.clone()).await?;
    demo::seed(&store, state.trust()).await?;
    let (org, mailbox): (String, String) = with_pool!(store, |p| sqlx::query_as(
        "SELECT org_id, id FROM mailboxes WHERE address = $1"
    )
    .bind(SENDER)
    .fetch_one(p)
    .await)?;

    // Half the submissions: receipts reconciled before their sent message; half after.
    let t = Instant::now();
    let (mut late_sent, mut early_receipts, mut early_sent, mut late_receipts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in 0..submissions {
        let (sent, receipts) = submission(s);
        let first = s % 2 == 0;
        let import = |raw: Vec<u8>| {
            let (store, trust, org, mailbox) = (&store, state.trust(), &org, &mailbox);
            async move {
                messages::import_raw(store, None, org, mailbox, raw, trust)
                    .await
                    .expect("import")
                    .row
                    .id
            }
        };
        let sent_id = import(sent).await;
        for r in receipts {
            let id = import(r).await;
            if first {
                &mut early_receipts
            } else {
                &mut late_receipts
            }
            .push(id);
        }
        if first {
            &mut late_sent
        } else {
            &mut early_sent
        }
        .push(sent_id);
    }
    let import_s = t.elapsed().as_secs_f64();
    let receipts = early_receipts.len() + late_receipts.len();
    println!(
        "engine={engine} receipts={receipts} sent={submissions} import={import_s:.1}s (not timed below)"
    );

    // Order 1: receipts first (they wait, grouped), then their sent messages attach them.
    let a = timed(&store, &org, &early_receipts).await;
    let b = timed(&store, &org, &late_sent).await;
    // Order 2: sent messages first, then their receipts attach one by one.
    let c = timed(&store, &org, &early_sent).await;
    let d = timed(&store, &org, &late_receipts).await;
    let total = a + b + c + d;
    println!(
        "receipts first: {} receipts {a:.2}s + {} sent {b:.2}s = {:.0} receipts/s",
        early_receipts.len(),
        late_sent.len(),
        early_receipts.len() as f64 / (a + b)
    );
    println!(
        "sent first:     {} sent {c:.2}s + {} receipts {d:.2}s = {:.0} receipts/s",
        early_sent.len(),
        late_receipts.len(),
        late_receipts.len() as f64 / (c + d)
    );
    println!(
        "RECONCILE engine={engine} receipts={receipts} seconds={total:.2} receipts_per_s={:.0}",
        receipts as f64 / total
    );
    // Every receipt linked, one sent row per submission.
    let (linked, sent_rows): (i64, i64) = with_pool!(store, |p| sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM receipt_links WHERE sent_id IS NOT NULL), \
         (SELECT COUNT(*) FROM sent_messages)"
    )
    .fetch_one(p)
    .await)?;
    assert_eq!(linked as usize, receipts, "every receipt linked");
    assert_eq!(sent_rows as usize, submissions);
    // Reprocessing all (idempotent): what a restart costs.
    let everything: Vec<String> = early_receipts
        .into_iter()
        .chain(late_receipts)
        .chain(early_sent)
        .chain(late_sent)
        .collect();
    let e = timed(&store, &org, &everything).await;
    println!("reprocess everything (no change): {e:.2}s");
    store.close().await;
    if let Some((admin, name)) = pg_db {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await?;
    }
    Ok(())
}
