//! Golden test: every `shared/tests/fixtures/*.eml` (synthetic, written by
//! `fixtures/generate.py`) against its `*.json`, run as LF and as CRLF.
//!
//! Compared: the whole key set of the summary (the keys of `PEC.md`, `problems`,
//! `signature`: a key dropped from or added to the summary fails) and, when the JSON has it, an `original` projection (ids, sender, subject, text body, whether an
//! HTML body exists, attachments by name/type/placeholder). A `problems` entry ending in
//! `…` matches as a prefix (parser messages carry byte positions). On mismatch the actual
//! value is written to `<name>.failed` (gitignored) next to the fixture.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use pecdesk_core::pec::Inspection;
use pecdesk_core::{InspectOptions, inspect};
use serde_json::{Value, json};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every `*.eml` fixture with its raw bytes, sorted by name.
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixtures_dir())
        .expect("read fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            (name, std::fs::read(&p).expect("read fixture"))
        })
        .collect();
    out.sort();
    out
}

/// Bare LF → CRLF.
pub fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn actual_json(inspection: &Inspection) -> Value {
    let mut value = serde_json::to_value(&inspection.summary).expect("summary serialises");
    let original = inspection.original.as_ref().map(|o| {
        json!({
            "message_id": o.message_id,
            "riferimento_message_id": o.riferimento_message_id,
            "from": o.from,
            "subject": o.subject,
            "text_body": o.text_body.as_deref().map(|t| t.replace("\r\n", "\n").trim().to_owned()),
            "has_html_body": o.html_body.is_some(),
            "attachments": o.attachments.iter().map(|a| json!({
                "name": a.name,
                "content_type": a.content_type,
                "sha1_placeholder": a.sha1_placeholder,
            })).collect::<Vec<_>>(),
        })
    });
    if let Some(map) = value.as_object_mut() {
        map.insert("original".to_owned(), original.unwrap_or(Value::Null));
    }
    value
}

fn problems_match(got: &Value, want: &Value) -> bool {
    let (Some(got), Some(want)) = (got.as_array(), want.as_array()) else {
        return got == want;
    };
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| match (g.as_str(), w.as_str()) {
                (Some(g), Some(w)) => match w.strip_suffix('…') {
                    Some(prefix) => g.starts_with(prefix),
                    None => g == w,
                },
                _ => g == w,
            })
}

/// Every difference between the actual summary and the fixture, one line each. The key
/// sets must be equal: a key the summary dropped, or one it gained that the fixture does not
/// list, is a difference even when its value would be `null`. Only `original` may be left
/// out of a fixture (then it is not compared).
fn compare(actual: &Value, expected: &Value) -> Vec<String> {
    let (Some(actual_map), Some(expected_map)) = (actual.as_object(), expected.as_object()) else {
        return vec!["actual or expected JSON is not an object".to_owned()];
    };
    let mut diffs = Vec::new();
    for key in expected_map.keys() {
        if !actual_map.contains_key(key) {
            diffs.push(format!("{key}: in the fixture, missing from the summary"));
        }
    }
    for (key, got) in actual_map {
        let Some(want) = expected_map.get(key) else {
            if key != "original" {
                diffs.push(format!(
                    "{key}: in the summary (got {got}), missing from the fixture"
                ));
            }
            continue;
        };
        let same = if key == "problems" {
            problems_match(got, want)
        } else {
            got == want
        };
        if !same {
            diffs.push(format!("{key}: got {got}, expected {want}"));
        }
    }
    diffs
}

#[test]
fn every_fixture_matches_its_expected_json_with_lf_and_crlf() {
    let dir = fixtures_dir();
    let mut ran = 0;
    let mut failures = Vec::new();
    for (name, raw) in fixtures() {
        let expected: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{name}.json"))).expect("expected json exists"),
        )
        .expect("expected json parses");
        for (ending, bytes) in [("LF", raw.clone()), ("CRLF", to_crlf(&raw))] {
            let actual = actual_json(&inspect(&bytes, &InspectOptions::default()));
            let diffs = compare(&actual, &expected);
            ran += 1;
            if !diffs.is_empty() {
                let pretty = serde_json::to_string_pretty(&actual).unwrap_or_default();
                let _ = std::fs::write(dir.join(format!("{name}.{ending}.failed")), pretty);
                failures.push(format!("{name} ({ending}):\n  {}", diffs.join("\n  ")));
            }
        }
    }
    assert!(ran >= 2, "no fixture ran in {dir:?}");
    assert!(
        failures.is_empty(),
        "{} of {ran} run(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_kind_of_pec_md_has_a_fixture() {
    let dir = fixtures_dir();
    let kinds: std::collections::BTreeSet<String> = fixtures()
        .iter()
        .filter_map(|(name, _)| {
            let value: Value =
                serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).ok()?)
                    .ok()?;
            value.get("kind")?.as_str().map(str::to_owned)
        })
        .collect();
    for kind in pecdesk_core::PecKind::ALL {
        assert!(
            kinds.contains(kind.as_str()),
            "no fixture of kind {}",
            kind.as_str()
        );
    }
}

#[test]
fn virus_notices_are_flagged_and_ordinary_receipts_are_not() {
    let dir = fixtures_dir();
    for (name, expect_virus) in [
        ("non_accettazione_virus", true),
        ("errore_consegna_virus", true),
        ("rilevazione_virus", true),
        ("non_accettazione", false),
        ("errore_consegna", false),
    ] {
        let raw = std::fs::read(dir.join(format!("{name}.eml"))).expect("fixture");
        let inspection = inspect(&raw, &InspectOptions::default());
        assert_eq!(inspection.virus, expect_virus, "{name}");
    }
}

#[test]
fn the_outer_daticert_wins_over_the_one_inside_a_forwarded_pec() {
    let raw = std::fs::read(fixtures_dir().join("busta_trasporto_inoltro_pec_annidata.eml"))
        .expect("fixture");
    let inspection = inspect(&raw, &InspectOptions::default());
    let daticert = inspection.daticert.expect("outer daticert read");
    assert_eq!(
        daticert.identificativo.as_deref(),
        Some("opec400.20240610150000.5.5.5.5@pec.gestore.example")
    );
    assert_eq!(
        daticert.gestore_emittente.as_deref(),
        Some("Gestore Esempio S.p.A.")
    );
}

#[test]
fn every_inspection_survives_a_json_round_trip() {
    for (name, raw) in fixtures() {
        let inspection = inspect(&raw, &InspectOptions::default());
        let json = serde_json::to_string(&inspection).expect("serialises");
        let back: Inspection = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, inspection, "{name}");
    }
}

#[test]
fn the_comparison_fails_on_a_dropped_or_an_unexpected_key() {
    let raw = std::fs::read(fixtures_dir().join("accettazione.eml")).expect("fixture");
    let expected: Value = serde_json::from_slice(
        &std::fs::read(fixtures_dir().join("accettazione.json")).expect("expected json"),
    )
    .expect("expected json parses");
    let actual = actual_json(&inspect(&raw, &InspectOptions::default()));
    assert_eq!(compare(&actual, &expected), Vec::<String>::new());

    // A key the summary no longer has fails, even where the fixture holds null.
    for key in ["subject", "receipt_type"] {
        let mut dropped = actual.clone();
        dropped.as_object_mut().expect("object").remove(key);
        let diffs = compare(&dropped, &expected);
        assert_eq!(
            diffs,
            vec![format!("{key}: in the fixture, missing from the summary")]
        );
    }

    // A key the summary gained fails, even with a null value.
    let mut extra = actual.clone();
    extra
        .as_object_mut()
        .expect("object")
        .insert("new_key".to_owned(), Value::Null);
    assert_eq!(
        compare(&extra, &expected),
        vec!["new_key: in the summary (got null), missing from the fixture".to_owned()]
    );

    // A fixture that forgot a key fails too; only `original` may be left out.
    let mut short = expected.clone();
    short.as_object_mut().expect("object").remove("provider");
    assert_eq!(compare(&actual, &short).len(), 1);
    let mut without_original = expected.clone();
    without_original
        .as_object_mut()
        .expect("object")
        .remove("original");
    assert_eq!(compare(&actual, &without_original), Vec::<String>::new());
}
