//! Corpus test: every `*.eml` of `$PECDESK_CORPUS/public` against `expected.json`, key by
//! key over the keys of `PEC.md`. Skipped (with a notice) when the variable is unset outside
//! CI; fails in CI when it is unset, and whenever it is set and no file ran.
#![allow(clippy::expect_used)]

use std::path::PathBuf;

use pecdesk_core::{InspectOptions, inspect};
use serde_json::Value;

/// The keys of the summary in `PEC.md` (not `problems` nor `signature`).
pub const PEC_KEYS: [&str; 13] = [
    "kind",
    "receipt_type",
    "error",
    "identificativo",
    "original_message_id",
    "sender",
    "recipients",
    "subject",
    "provider",
    "issued_at",
    "recipient",
    "has_original",
    "has_daticert",
];

#[test]
fn every_public_corpus_message_matches_expected_json() {
    let Some(corpus) = crate::env_or_notice("PECDESK_CORPUS", "the corpus test") else {
        return;
    };
    let public = PathBuf::from(corpus).join("public");
    let expected: Value = serde_json::from_slice(
        &std::fs::read(public.join("expected.json")).expect("read expected.json"),
    )
    .expect("expected.json is JSON");

    let mut files: Vec<PathBuf> = std::fs::read_dir(&public)
        .expect("read the corpus folder")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    files.sort();

    let mut ran = 0;
    let mut mismatches = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let raw = std::fs::read(path).expect("read a corpus file");
        let summary = serde_json::to_value(inspect(&raw, &InspectOptions::default()).summary)
            .expect("summary serialises");
        ran += 1;
        let Some(want) = expected.get(&name) else {
            mismatches.push(format!("{name}: no entry in expected.json"));
            continue;
        };
        for key in PEC_KEYS {
            let got = summary.get(key).unwrap_or(&Value::Null);
            let wanted = want.get(key).unwrap_or(&Value::Null);
            if got != wanted {
                mismatches.push(format!("{name}: {key}: got {got}, expected {wanted}"));
            }
        }
    }
    assert!(
        ran > 0,
        "PECDESK_CORPUS is set but no *.eml ran in {public:?}"
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatch(es) over {ran} file(s):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    eprintln!("corpus: {ran} file(s) compared");
}

#[test]
fn every_public_corpus_message_reads_the_same_with_crlf_line_endings() {
    let Some(corpus) = crate::env_or_notice("PECDESK_CORPUS", "the CRLF corpus test") else {
        return;
    };
    let public = PathBuf::from(corpus).join("public");
    let mut ran = 0;
    let mut differences = Vec::new();
    for entry in std::fs::read_dir(&public).expect("read the corpus folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|ext| ext != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).expect("read a corpus file");
        let started = std::time::Instant::now();
        let lf = inspect(&raw, &InspectOptions::default()).summary;
        let elapsed = started.elapsed();
        let crlf = inspect(&crate::golden::to_crlf(&raw), &InspectOptions::default()).summary;
        eprintln!(
            "{}: {} bytes, inspect {:?} (debug build)",
            path.display(),
            raw.len(),
            elapsed
        );
        ran += 1;
        let lf = serde_json::to_value(lf).expect("serialises");
        let crlf = serde_json::to_value(crlf).expect("serialises");
        for key in PEC_KEYS {
            if lf.get(key) != crlf.get(key) {
                differences.push(format!(
                    "{}: {key}: LF {:?}, CRLF {:?}",
                    path.display(),
                    lf.get(key),
                    crlf.get(key)
                ));
            }
        }
    }
    assert!(
        ran > 0,
        "PECDESK_CORPUS is set but no *.eml ran in {public:?}"
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
