//! Core benchmark: the full summary (with and without the signature check) and the
//! signature check alone, beside a bare `mail_parser::MessageParser::parse` of the same
//! bytes in the same run.
//!
//! Input: every `$PECDESK_CORPUS/public/*.eml`, read into memory once; without the
//! variable, the repo's own `.eml` fixtures. Each group processes all messages per
//! iteration and reports MB/s (criterion `Throughput::Bytes`); messages/s is printed
//! after each group from the same timed iterations.
//!
//! `cargo bench -p pecdesk-core --bench inspect -- --warm-up-time 1 --measurement-time 3`

use std::cell::Cell;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pecdesk_core::signature::{self, TrustAnchors};
use pecdesk_core::{InspectOptions, inspect};

/// All messages of the benchmark, read once.
struct Corpus {
    messages: Vec<Vec<u8>>,
    bytes: u64,
    source: String,
}

fn eml_files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    files.sort();
    files
}

fn load_corpus() -> Corpus {
    let (files, source) = match std::env::var("PECDESK_CORPUS") {
        Ok(root) => {
            let dir = Path::new(&root).join("public");
            (eml_files_in(&dir), dir.display().to_string())
        }
        Err(_) => {
            // Fallback: every .eml fixture of the repo (signature fixtures and any other).
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
            let mut files = Vec::new();
            for dir in std::fs::read_dir(&root)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
            {
                files.extend(eml_files_in(&dir.path()));
            }
            (files, format!("{} (PECDESK_CORPUS unset)", root.display()))
        }
    };
    let messages: Vec<Vec<u8>> = files
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .collect();
    let bytes = messages.iter().map(|m| m.len() as u64).sum();
    Corpus {
        messages,
        bytes,
        source,
    }
}

/// Runs `work` over every message as one criterion benchmark named `name`, and prints
/// messages/s measured over the same timed iterations.
fn bench_group(c: &mut Criterion, corpus: &Corpus, name: &str, work: impl Fn(&[u8])) {
    let timed = Cell::new((0u64, Duration::ZERO));
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(corpus.bytes));
    group.bench_function("all_messages", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for message in &corpus.messages {
                    work(black_box(message));
                }
            }
            let elapsed = start.elapsed();
            let (n, total) = timed.get();
            timed.set((n + iters, total + elapsed));
            elapsed
        });
    });
    group.finish();
    let (iters, total) = timed.get();
    let seconds = total.as_secs_f64();
    if seconds > 0.0 {
        let messages = iters as f64 * corpus.messages.len() as f64;
        println!(
            "{name}: {:.0} messages/s, {:.1} MB/s (10^6 bytes; mean over all {iters} timed passes of {} messages, warm-up included)",
            messages / seconds,
            iters as f64 * corpus.bytes as f64 / seconds / 1e6,
            corpus.messages.len()
        );
    }
}

fn benches(c: &mut Criterion) {
    let corpus = load_corpus();
    println!(
        "corpus: {} messages, {} bytes, from {}",
        corpus.messages.len(),
        corpus.bytes,
        corpus.source
    );
    if corpus.messages.is_empty() {
        println!("no .eml input found: nothing to measure");
        return;
    }
    let parser = mail_parser::MessageParser::default();
    bench_group(c, &corpus, "mail_parser_parse", |raw| {
        black_box(parser.parse(raw));
    });
    let without = InspectOptions { signature: None };
    bench_group(c, &corpus, "summary_no_signature", |raw| {
        black_box(inspect(raw, &without));
    });
    let with = InspectOptions {
        signature: Some(TrustAnchors::default()),
    };
    bench_group(c, &corpus, "summary_with_signature", |raw| {
        black_box(inspect(raw, &with));
    });
    let anchors = TrustAnchors::default();
    bench_group(c, &corpus, "signature_only", |raw| {
        black_box(signature::verify(raw, &anchors));
    });
}

criterion_group!(inspect_benches, benches);
criterion_main!(inspect_benches);
