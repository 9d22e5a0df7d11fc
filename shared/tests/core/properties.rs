//! Property tests: random and mutated input never panics, and the summary keeps its
//! invariants whatever the input (not-pec carries no certification data; `error` only
//! with a parsable daticert; the JSON always has the keys of `PEC.md`).
#![allow(clippy::expect_used)]

use pecdesk_core::pec::{Inspection, PecKind};
use pecdesk_core::{InspectOptions, daticert, inspect};
use proptest::prelude::*;

use crate::golden::{fixtures, to_crlf};

fn check_invariants(inspection: &Inspection) {
    let s = &inspection.summary;
    if s.kind == PecKind::NotPec {
        assert!(s.receipt_type.is_none() && s.error.is_none() && s.identificativo.is_none());
        assert!(s.original_message_id.is_none() && s.sender.is_none() && s.provider.is_none());
        assert!(s.issued_at.is_none() && s.recipient.is_none() && s.recipients.is_empty());
        assert!(!s.has_daticert);
    }
    if s.has_daticert {
        assert!(
            s.error.is_some(),
            "a parsable daticert always gives `error`"
        );
    }
    if let Some(rt) = &s.receipt_type {
        assert!(["completa", "breve", "sintetica"].contains(&rt.as_str()));
    }
    assert_eq!(s.problems.len(), inspection.errors.len());
    let json = serde_json::to_value(s).expect("summary serialises");
    for key in crate::corpus::PEC_KEYS {
        assert!(json.get(key).is_some(), "missing key {key}");
    }
}

/// One edit applied to a fixture.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(prop::sample::Index),
    Delete(prop::sample::Index, usize),
    Insert(prop::sample::Index, Vec<u8>),
    Flip(prop::sample::Index, u8),
    Duplicate(prop::sample::Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), 1usize..400).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<prop::sample::Index>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..40),
                Just(b"\n--".to_vec()),
                Just(b"\r\n\r\n".to_vec()),
                Just(b"<postacert".to_vec()),
                Just(b"=?utf-8?B?".to_vec()),
                Just(b"Content-Type: message/rfc822\n\n".to_vec()),
            ]
        )
            .prop_map(|(i, bytes)| Mutation::Insert(i, bytes)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<prop::sample::Index>(), 1usize..2000).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(mut raw: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if raw.is_empty() {
            break;
        }
        match m {
            Mutation::Truncate(i) => raw.truncate(i.index(raw.len())),
            Mutation::Delete(i, n) => {
                let at = i.index(raw.len());
                let end = (at + n).min(raw.len());
                raw.drain(at..end);
            }
            Mutation::Insert(i, bytes) => {
                let at = i.index(raw.len());
                raw.splice(at..at, bytes.iter().copied());
            }
            Mutation::Flip(i, b) => {
                let at = i.index(raw.len());
                raw[at] ^= b | 1;
            }
            Mutation::Duplicate(i, n) => {
                let at = i.index(raw.len());
                let end = (at + n).min(raw.len());
                let copy = raw[at..end].to_vec();
                raw.splice(at..at, copy);
            }
        }
    }
    raw
}

/// Text a message may carry that databases and JSON dislike: NUL (raw, in encoded words),
/// lone surrogates (as WTF-8 bytes, as UTF-16 encoded words, as a JSON-like escape) and
/// invalid UTF-8 (stray bytes, an overlong NUL, Latin-1). The companion's import story
/// (`companion/tests/api/messages.rs`) uses the same list on both database engines.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"\x00".to_vec()),
        Just(b"a\x00b".to_vec()),
        Just(b"\xed\xa0\x80".to_vec()),
        Just(b"\xed\xbf\xbf".to_vec()),
        Just(b"\\ud800".to_vec()),
        Just(b"=?utf-16be?b?2AA=?=".to_vec()),
        Just(b"=?utf-8?q?a=00b?=".to_vec()),
        Just(b"=?utf-8?b?AA==?=".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just(b"\xc0\x80".to_vec()),
        Just(b"caff\xe8".to_vec()),
        prop::collection::vec(
            any::<u8>().prop_filter("one header line", |b| *b != b'\r' && *b != b'\n'),
            1..12
        ),
    ]
}

/// Inserts `bytes` after the first `name: ` header of `raw` (or prepends the header).
fn in_header(raw: Vec<u8>, name: &[u8], bytes: &[u8]) -> Vec<u8> {
    let at = raw
        .windows(name.len())
        .position(|w| w.eq_ignore_ascii_case(name));
    insert_at(raw, at, name, bytes)
}

/// Inserts `bytes` after the last `name` of `raw`: in an envelope, the original message's
/// header.
fn in_last_header(raw: Vec<u8>, name: &[u8], bytes: &[u8]) -> Vec<u8> {
    let at = raw
        .windows(name.len())
        .rposition(|w| w.eq_ignore_ascii_case(name));
    insert_at(raw, at, name, bytes)
}

fn insert_at(mut raw: Vec<u8>, at: Option<usize>, name: &[u8], bytes: &[u8]) -> Vec<u8> {
    let at = at.map(|i| i + name.len());
    match at {
        Some(i) => {
            raw.splice(i..i, bytes.iter().copied());
            raw
        }
        None => {
            let mut out = name.to_vec();
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&raw);
            out
        }
    }
}

/// The summary serialises and reads back as the same JSON (no lone surrogate or invalid
/// text can survive into it), with no raw NUL in its text.
fn check_text(inspection: &Inspection) {
    check_invariants(inspection);
    let text = serde_json::to_string(&inspection.summary).expect("summary serialises");
    let back: serde_json::Value = serde_json::from_str(&text).expect("its JSON parses");
    assert_eq!(
        back,
        serde_json::to_value(&inspection.summary).expect("summary as a value")
    );
    assert!(!text.contains('\0'), "a raw NUL in JSON text");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn hostile_text_in_headers_and_body_gives_a_summary_that_round_trips(
        which in any::<prop::sample::Index>(),
        crlf in any::<bool>(),
        subject in hostile(),
        message_id in hostile(),
        from in hostile(),
        body in hostile(),
    ) {
        let all = fixtures();
        prop_assume!(!all.is_empty());
        let (_, raw) = &all[which.index(all.len())];
        let raw = if crlf { to_crlf(raw) } else { raw.clone() };
        let raw = in_header(raw, b"Subject: ", &subject);
        let raw = in_header(raw, b"Message-ID: <", &message_id);
        let raw = in_header(raw, b"From: ", &from);
        let mut raw = raw;
        raw.extend_from_slice(&body);
        let inspection = inspect(&raw, &InspectOptions::default());
        check_text(&inspection);
        // The same text in the original message's headers, when there is one.
        let nested = in_last_header(raw, b"\nSubject: ", &subject);
        check_text(&inspect(&nested, &InspectOptions::default()));
    }

    #[test]
    fn random_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_invariants(&inspect(&raw, &InspectOptions::default()));
        let _ = daticert::parse(&raw);
        let _ = pecdesk_core::pec::classify(&raw);
    }

    #[test]
    fn header_like_text_never_panics(
        lines in prop::collection::vec(
            prop_oneof![
                "[A-Za-z-]{1,20}: [ -~]{0,60}",
                Just("X-Ricevuta: avvenuta-consegna".to_owned()),
                Just("X-Trasporto: posta-certificata".to_owned()),
                Just("Content-Type: multipart/signed; boundary=\"b\"".to_owned()),
                Just("Content-Type: multipart/mixed; boundary=\"b\"".to_owned()),
                Just("--b".to_owned()),
                Just("--b--".to_owned()),
                Just(String::new()),
                "[ -~]{0,80}",
            ],
            0..60,
        )
    ) {
        let raw = lines.join("\n");
        check_invariants(&inspect(raw.as_bytes(), &InspectOptions::default()));
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        crlf in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let all = fixtures();
        prop_assume!(!all.is_empty());
        let (_, raw) = &all[which.index(all.len())];
        let raw = if crlf { to_crlf(raw) } else { raw.clone() };
        let mutated = apply(raw, &mutations);
        check_invariants(&inspect(&mutated, &InspectOptions::default()));
    }

    #[test]
    fn mutated_daticert_never_panics(
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<postacert tipo="avvenuta-consegna" errore="nessuno"><intestazione><mittente>a@b.it</mittente>
<destinatari tipo="certificato">c@d.it</destinatari><risposte>a@b.it</risposte>
<oggetto>x &amp; y</oggetto></intestazione><dati><gestore-emittente>G</gestore-emittente>
<data zona="+0100"><giorno>13/11/2018</giorno><ora>16:39:27</ora></data>
<identificativo>id@g</identificativo><msgid>&lt;m@c&gt;</msgid><ricevuta tipo="breve"/>
<consegna>c@d.it</consegna></dati></postacert>"#;
        let _ = daticert::parse(&apply(xml.to_vec(), &mutations));
    }

    #[test]
    fn daticert_values_round_trip(
        ident in "[A-Za-z0-9.$_-]{1,30}@[a-z0-9.-]{1,20}",
        oggetto in "[ -~àèéìòù]{1,80}",
        day in 1u32..=28, month in 1u32..=12, year in 2000i32..2100,
        hour in 0u32..24, minute in 0u32..60, second in 0u32..60,
    ) {
        let escaped = oggetto.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let xml = format!(
            "<postacert tipo=\"accettazione\"><intestazione><mittente>a@b.it</mittente>\
             <destinatari>c@d.it</destinatari><risposte>a@b.it</risposte>\
             <oggetto>{escaped}</oggetto></intestazione><dati><gestore-emittente>G\
             </gestore-emittente><data zona=\"+0100\"><giorno>{day:02}/{month:02}/{year}\
             </giorno><ora>{hour:02}:{minute:02}:{second:02}</ora></data>\
             <identificativo>{ident}</identificativo></dati></postacert>"
        );
        let d = daticert::parse(xml.as_bytes()).expect("valid daticert parses");
        prop_assert_eq!(d.identificativo.as_deref(), Some(ident.as_str()));
        let trimmed = oggetto.trim();
        prop_assert_eq!(d.oggetto.as_deref(), (!trimmed.is_empty()).then_some(trimmed));
        let expected_date = format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}+01:00"
        );
        prop_assert_eq!(d.issued_at(), Some(expected_date));
    }
}

/// Inputs that once made the parser (or a dependency) panic, kept as regressions
/// (`shared/tests/fixtures/regressions/`, found by `cargo fuzz`).
#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/regressions");
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions folder") {
        let path = entry.expect("entry").path();
        let raw = std::fs::read(&path).expect("read regression");
        check_invariants(&inspect(&raw, &InspectOptions::default()));
        check_invariants(&inspect(&to_crlf(&raw), &InspectOptions::default()));
        ran += 1;
    }
    assert!(ran > 0, "no regression input in {dir:?}");
}
