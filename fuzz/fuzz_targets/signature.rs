//! Fuzz target: the S/MIME check (hand-written BER, CMS and X.509 reading, chain building,
//! provider checks) on hostile `smime.p7s` bytes. The input is the DER of the signature:
//! it is base64-encoded into the `smime.p7s` part of a real, repo-made PEC envelope
//! (`shared/tests/fixtures/signature/signed-crlf.eml`, synthetic) and checked against a
//! real trust set: the built-in PEC provider list plus the synthetic test provider whose
//! CA signed that envelope, so that mutations of a valid seed reach every step.
//! Seeds: `seeds/signature/` (the DER of the fixtures' signatures, see README.md).
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use pecdesk_core::signature::{Provider, SignatureStatus, TrustAnchors, locate, verify};

const ENVELOPE: &[u8] = include_bytes!("../../shared/tests/fixtures/signature/signed-crlf.eml");
const TEST_CA: &[u8] = include_bytes!("../../shared/tests/fixtures/signature/test-ca.pem");

/// The envelope cut around its `smime.p7s` body: (before the base64, after it).
static TEMPLATE: LazyLock<(Vec<u8>, Vec<u8>)> = LazyLock::new(|| {
    let sig = locate(ENVELOPE)
        .and_then(|layout| layout.signature_part)
        .expect("the fixture is multipart/signed");
    let entity = &ENVELOPE[sig.clone()];
    let body = entity
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("the smime.p7s part has headers")
        + 4;
    (
        ENVELOPE[..sig.start + body].to_vec(),
        ENVELOPE[sig.end..].to_vec(),
    )
});

static TRUST: LazyLock<TrustAnchors> = LazyLock::new(|| {
    let mut trust = TrustAnchors::builtin();
    assert!(
        !trust.providers.is_empty(),
        "the built-in provider list parses"
    );
    trust.providers.push(Provider {
        name: "Gestore di Prova S.p.A.".to_owned(),
        names: vec!["Gestore di Prova S.p.A.".to_owned()],
        organisations: vec!["Gestore di Prova S.p.A.".to_owned()],
        domains: vec!["pec.example.invalid".to_owned()],
        certificates: TrustAnchors::from_pem(TEST_CA)
            .expect("test CA")
            .certificates,
        source: "fuzz".to_owned(),
    });
    trust
});

fuzz_target!(|p7s: &[u8]| {
    let (head, tail) = &*TEMPLATE;
    let b64 = base64::engine::general_purpose::STANDARD.encode(p7s);
    let mut raw = Vec::with_capacity(head.len() + b64.len() * 78 / 76 + tail.len());
    raw.extend_from_slice(head);
    for line in b64.as_bytes().chunks(76) {
        raw.extend_from_slice(line);
        raw.extend_from_slice(b"\r\n");
    }
    if raw.ends_with(b"\r\n") {
        raw.truncate(raw.len() - 2);
    }
    raw.extend_from_slice(tail);
    let report = verify(&raw, &TRUST);
    // `valid` always names its provider and gives no reason; anything else says why.
    match report.status {
        SignatureStatus::Valid => {
            assert!(
                report.reason.is_none() && report.provider.is_some(),
                "{report:?}"
            );
        }
        _ => assert!(report.reason.is_some(), "{report:?}"),
    }
});
