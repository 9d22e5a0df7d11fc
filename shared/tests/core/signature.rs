//! Tests: signature.
//!
//! The public corpus is read by path through `PECDESK_CORPUS` (never copied into the
//! repo); the synthetic fixtures under `tests/fixtures/signature/` come from `make.sh`
//! (throw-away test CAs and a synthetic PEC envelope signed with `openssl smime -sign`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use pecdesk_core::signature::{
    SignatureProblem, SignatureReport, SignatureStatus, TrustAnchors, locate, verify,
};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/signature")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn anchors(name: &str) -> TrustAnchors {
    TrustAnchors::from_pem(&fixture(name)).unwrap()
}

fn no_anchors() -> TrustAnchors {
    TrustAnchors::default()
}

/// Changes one letter or digit inside the signed (first) part of a `multipart/signed`
/// message. Finds the part on its own (from the `boundary=` parameter), not through the
/// code under test.
fn tamper_signed_part(raw: &[u8]) -> Vec<u8> {
    let text = raw;
    let lower: Vec<u8> = text.to_ascii_lowercase();
    let key = b"boundary=";
    let at = lower
        .windows(key.len())
        .position(|w| w == key)
        .expect("a boundary parameter")
        + key.len();
    let quoted = text[at] == b'"';
    let start = if quoted { at + 1 } else { at };
    let end = start
        + text[start..]
            .iter()
            .position(|&b| {
                if quoted {
                    b == b'"'
                } else {
                    b == b';' || b.is_ascii_whitespace()
                }
            })
            .unwrap();
    let mut delimiter = b"\n--".to_vec();
    delimiter.extend_from_slice(&text[start..end]);
    let first = end
        + text[end..]
            .windows(delimiter.len())
            .position(|w| w == delimiter.as_slice())
            .expect("first delimiter");
    let part_start = first + delimiter.len();
    let second = part_start
        + text[part_start..]
            .windows(delimiter.len())
            .position(|w| w == delimiter.as_slice())
            .expect("second delimiter");
    let middle = part_start + (second - part_start) / 2;
    let target = (middle..second)
        .find(|&i| text[i].is_ascii_alphanumeric())
        .expect("a letter to change in the signed part");
    let mut out = raw.to_vec();
    out[target] = if out[target] == b'x' { b'y' } else { b'x' };
    out
}

fn assert_status(report: &SignatureReport, status: SignatureStatus, what: &str) {
    assert_eq!(report.status, status, "{what}: {report:?}");
}

// ---- public corpus (by path) ----

struct Sample {
    name: String,
    smime_verifies: String,
    raw: Vec<u8>,
}

/// The public samples with their MANIFEST `smime_verifies` column, or `None` (with a
/// printed notice) when `PECDESK_CORPUS` is unset outside CI (in CI that fails).
fn corpus_samples() -> Option<Vec<Sample>> {
    let root = crate::env_or_notice("PECDESK_CORPUS", "a corpus signature test")?;
    let public = Path::new(&root).join("public");
    let manifest = std::fs::read_to_string(public.join("MANIFEST.tsv")).unwrap();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file_col, verifies_col) = (column("filename"), column("smime_verifies"));
    let samples = lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let name = cells[file_col].to_owned();
            let raw = std::fs::read(public.join(&name)).unwrap();
            Sample {
                name,
                smime_verifies: cells[verifies_col].to_owned(),
                raw,
            }
        })
        .collect();
    Some(samples)
}

#[test]
fn every_corpus_sample_that_verifies_with_openssl_is_untrusted_without_anchors() {
    let Some(samples) = corpus_samples() else {
        return;
    };
    let mut ran = 0;
    for sample in samples.iter().filter(|s| s.smime_verifies == "yes") {
        let report = verify(&sample.raw, &no_anchors());
        assert_status(&report, SignatureStatus::Untrusted, &sample.name);
        assert_eq!(
            report.reason,
            Some(SignatureProblem::NoTrustAnchor),
            "{}",
            sample.name
        );
        let signer = report.signer.as_deref().unwrap_or_default();
        assert!(signer.contains("CN="), "{}: signer {signer:?}", sample.name);
        assert!(report.not_before.is_some() && report.not_after.is_some());
        ran += 1;
    }
    assert!(
        ran > 0,
        "PECDESK_CORPUS is set but no sample with smime_verifies=yes ran"
    );
}

#[test]
fn corpus_samples_chain_to_public_roots_when_a_system_ca_bundle_is_given() {
    // The real signers chain through AgID CA1 / DigitPA CA1 (carried in each signature)
    // to public roots (Actalis, Baltimore) found in e.g. Debian's ca-certificates.
    let Some(bundle) = crate::env_or_notice("PECDESK_CA_BUNDLE", "the chain-to-public-roots test")
    else {
        return;
    };
    let Some(samples) = corpus_samples() else {
        return;
    };
    let anchors = TrustAnchors::from_pem(&std::fs::read(&bundle).unwrap()).unwrap();
    let mut valid = 0;
    for sample in samples.iter().filter(|s| s.smime_verifies == "yes") {
        let report = verify(&sample.raw, &anchors);
        match report.status {
            SignatureStatus::Valid => valid += 1,
            // A bundle may lack a root (Baltimore expired in 2025): never anything worse.
            _ => assert_eq!(
                report.reason,
                Some(SignatureProblem::NoTrustAnchor),
                "{}: {report:?}",
                sample.name
            ),
        }
    }
    assert!(valid > 0, "no corpus sample chained to {bundle}");
}

#[test]
fn one_byte_changed_in_the_signed_part_of_a_corpus_sample_is_invalid() {
    let Some(samples) = corpus_samples() else {
        return;
    };
    let mut ran = 0;
    for sample in samples.iter().filter(|s| s.smime_verifies == "yes") {
        let tampered = tamper_signed_part(&sample.raw);
        let report = verify(&tampered, &no_anchors());
        assert_status(&report, SignatureStatus::Invalid, &sample.name);
        assert_eq!(
            report.reason,
            Some(SignatureProblem::ContentDigestMismatch),
            "{}",
            sample.name
        );
        ran += 1;
    }
    assert!(ran > 0, "PECDESK_CORPUS is set but no sample ran");
}

#[test]
fn corpus_samples_that_do_not_verify_are_invalid_and_unsigned_ones_missing() {
    let Some(samples) = corpus_samples() else {
        return;
    };
    let mut ran = 0;
    for sample in samples.iter().filter(|s| s.smime_verifies != "yes") {
        let report = verify(&sample.raw, &no_anchors());
        // MANIFEST says "no (why)" for broken or edited signatures, "n/a" for unsigned.
        let expected = if sample.smime_verifies.starts_with("no") {
            SignatureStatus::Invalid
        } else {
            SignatureStatus::Missing
        };
        assert_status(&report, expected, &sample.name);
        ran += 1;
    }
    assert!(ran > 0, "PECDESK_CORPUS is set but no sample ran");
}

// ---- synthetic fixtures ----

#[test]
fn synthetic_envelope_signed_by_the_test_ca_is_valid_in_lf_and_crlf() {
    let ca = anchors("test-ca.pem");
    for name in ["signed-lf.eml", "signed-crlf.eml"] {
        let report = verify(&fixture(name), &ca);
        assert_status(&report, SignatureStatus::Valid, name);
        assert_eq!(report.reason, None);
        assert_eq!(
            report.signer.as_deref(),
            Some("CN=posta-certificata@pec.example.invalid,O=Gestore di Prova S.p.A.,C=IT")
        );
        let not_before = report.not_before.unwrap();
        assert!(
            not_before.starts_with("20") && not_before.ends_with('Z'),
            "{not_before}"
        );
    }
}

#[test]
fn the_lf_fixture_really_is_lf_only_and_the_crlf_one_crlf_only() {
    let lf = fixture("signed-lf.eml");
    assert!(!lf.contains(&b'\r'));
    let crlf = fixture("signed-crlf.eml");
    let bare_lf = crlf
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || crlf[i - 1] != b'\r'))
        .count();
    assert_eq!(bare_lf, 0);
}

#[test]
fn synthetic_envelope_is_untrusted_without_anchors_and_with_an_unrelated_ca() {
    for name in ["signed-lf.eml", "signed-crlf.eml"] {
        let report = verify(&fixture(name), &no_anchors());
        assert_status(&report, SignatureStatus::Untrusted, name);
        // `other-ca.pem` has the very same subject as the test CA, only another key:
        // the name alone must not make it an issuer.
        let report = verify(&fixture(name), &anchors("other-ca.pem"));
        assert_status(&report, SignatureStatus::Untrusted, name);
        assert_eq!(report.reason, Some(SignatureProblem::NoTrustAnchor));
    }
}

#[test]
fn tampered_synthetic_envelope_is_invalid_even_with_the_right_anchor() {
    let ca = anchors("test-ca.pem");
    for name in ["signed-lf.eml", "signed-crlf.eml", "signed-noattr-crlf.eml"] {
        let report = verify(&tamper_signed_part(&fixture(name)), &ca);
        assert_status(&report, SignatureStatus::Invalid, name);
    }
}

#[test]
fn without_signed_attributes_the_signature_over_the_content_is_checked_and_dated_by_the_date_header()
 {
    let raw = fixture("signed-noattr-crlf.eml");
    let report = verify(&raw, &anchors("test-ca.pem"));
    assert_status(&report, SignatureStatus::Valid, "noattr");
    let tampered = tamper_signed_part(&raw);
    let report = verify(&tampered, &anchors("test-ca.pem"));
    assert_eq!(report.reason, Some(SignatureProblem::SignatureMismatch));

    // No signingTime and no Date header: validity cannot be judged.
    // Only the envelope's own Date goes (postacert.eml, inside the signed part, has one too).
    let text = String::from_utf8(raw).unwrap();
    let date_line = text
        .split_inclusive('\n')
        .find(|line| line.starts_with("Date:"))
        .unwrap();
    let undated = text.replacen(date_line, "", 1);
    let report = verify(undated.as_bytes(), &anchors("test-ca.pem"));
    assert_status(&report, SignatureStatus::Untrusted, "undated");
    assert_eq!(report.reason, Some(SignatureProblem::MessageDateUnknown));
}

#[test]
fn a_signer_under_an_intermediate_carried_in_the_signature_chains_to_the_root() {
    let raw = fixture("signed-chain-crlf.eml");
    let report = verify(&raw, &anchors("test-ca.pem"));
    assert_status(&report, SignatureStatus::Valid, "chain");
    assert_eq!(
        report.signer.as_deref(),
        Some("CN=posta-certificata@pec2.example.invalid,O=Altro Gestore di Prova,C=IT")
    );
    // The intermediate alone as anchor also vouches for the signer.
    let report = verify(&raw, &anchors("intermediate-ca.pem"));
    assert_status(&report, SignatureStatus::Valid, "intermediate anchor");
    let report = verify(&raw, &anchors("other-ca.pem"));
    assert_status(&report, SignatureStatus::Untrusted, "chain, unrelated CA");
}

#[test]
fn a_signer_certificate_not_yet_valid_at_the_signing_time_is_untrusted() {
    let report = verify(
        &fixture("signed-future-cert-crlf.eml"),
        &anchors("test-ca.pem"),
    );
    assert_status(&report, SignatureStatus::Untrusted, "future cert");
    assert_eq!(
        report.reason,
        Some(SignatureProblem::CertificateNotValidAtMessageDate)
    );
    assert!(
        report
            .not_before
            .as_deref()
            .unwrap()
            .starts_with("2040-01-01")
    );
}

#[test]
fn an_unsigned_message_is_missing() {
    let report = verify(&fixture("unsigned-lf.eml"), &anchors("test-ca.pem"));
    assert_status(&report, SignatureStatus::Missing, "unsigned");
    assert_eq!(report.reason, Some(SignatureProblem::NotSigned));
    assert_eq!(report.signer, None);
    assert!(locate(&fixture("unsigned-lf.eml")).is_none());
}

#[test]
fn a_multipart_signed_without_its_signature_part_is_invalid() {
    let raw = fixture("signed-lf.eml");
    let layout = locate(&raw).unwrap();
    let sig = layout.signature_part.unwrap();
    // Cut the message right where the smime.p7s part begins, and close the multipart.
    let text = String::from_utf8(raw[..sig.start].to_vec()).unwrap();
    let last_delimiter = text.trim_end().to_owned() + "--\n";
    let report = verify(last_delimiter.as_bytes(), &no_anchors());
    assert_status(&report, SignatureStatus::Invalid, "no p7s");
    assert_eq!(report.reason, Some(SignatureProblem::SignaturePartMissing));
}

#[test]
fn a_corrupted_signature_part_is_invalid_not_a_panic() {
    let raw = fixture("signed-lf.eml");
    let layout = locate(&raw).unwrap();
    let sig = layout.signature_part.unwrap();
    let text = String::from_utf8(raw.clone()).unwrap();
    // Drop half of the base64 lines of the smime.p7s part.
    let (head, tail) = text.split_at(sig.start);
    let mut lines: Vec<&str> = tail.lines().collect();
    let body_start = lines.iter().position(|l| l.is_empty()).unwrap() + 1;
    lines.drain(body_start + 2..body_start + 10);
    let broken = format!("{head}{}\n", lines.join("\n"));
    let report = verify(broken.as_bytes(), &no_anchors());
    assert_status(&report, SignatureStatus::Invalid, "broken p7s");
    assert_eq!(report.reason, Some(SignatureProblem::MalformedSignature));
}

#[test]
fn every_truncation_of_a_signed_message_is_answered_without_panicking() {
    let raw = fixture("signed-crlf.eml");
    let ca = anchors("test-ca.pem");
    let sig = locate(&raw).unwrap().signature_part.unwrap();
    // Past the last base64 digit only padding and the closing delimiter can be lost,
    // which does not change the signature: cuts before it must never be valid.
    let last_digit = (sig.start..sig.end)
        .rev()
        .find(|&i| raw[i].is_ascii_alphanumeric() || raw[i] == b'+' || raw[i] == b'/')
        .unwrap();
    for cut in 0..raw.len() {
        let report = verify(&raw[..cut], &ca);
        if cut <= last_digit {
            assert_ne!(report.status, SignatureStatus::Valid, "cut at {cut}");
        }
    }
    assert_eq!(verify(&raw, &ca).status, SignatureStatus::Valid);
}

#[test]
fn trust_anchor_bundles_are_read_and_bad_ones_refused() {
    let mut bundle = b"# test bundle\n".to_vec();
    bundle.extend(fixture("test-ca.pem"));
    bundle.extend(b"\nsome text between blocks\n");
    bundle.extend(fixture("intermediate-ca.pem"));
    let anchors = TrustAnchors::from_pem(&bundle).unwrap();
    assert_eq!(anchors.certificates.len(), 2);
    assert!(TrustAnchors::from_pem(b"").is_err());
    assert!(
        TrustAnchors::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .is_err()
    );
    let pem = String::from_utf8(fixture("test-ca.pem")).unwrap();
    assert!(
        TrustAnchors::from_pem(pem.replace("-----END CERTIFICATE-----", "").as_bytes()).is_err()
    );
}

#[test]
fn the_report_serializes_with_lowercase_status_and_kebab_case_reason() {
    let report = verify(&fixture("signed-lf.eml"), &no_anchors());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "untrusted");
    assert_eq!(json["reason"], "no-trust-anchor");
    assert!(
        json["signer"]
            .as_str()
            .unwrap()
            .contains("Gestore di Prova")
    );
}

#[test]
fn a_signature_without_certificates_uses_the_signer_certificate_among_the_anchors() {
    let raw = fixture("signed-nocerts-crlf.eml");
    let report = verify(&raw, &no_anchors());
    assert_status(&report, SignatureStatus::Invalid, "nocerts, no anchors");
    assert_eq!(
        report.reason,
        Some(SignatureProblem::SignerCertificateMissing)
    );
    // The provider's own certificate as anchor: it is the signer, so it vouches for itself.
    let report = verify(&raw, &anchors("provider.pem"));
    assert_status(&report, SignatureStatus::Valid, "nocerts, provider anchor");
    // The CA alone cannot supply the signer's key.
    let report = verify(&raw, &anchors("test-ca.pem"));
    assert_eq!(
        report.reason,
        Some(SignatureProblem::SignerCertificateMissing)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_and_are_never_valid(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
        let report = verify(&bytes, &anchors("test-ca.pem"));
        proptest::prop_assert_ne!(report.status, SignatureStatus::Valid);
    }

    #[test]
    fn any_byte_changed_in_a_signed_message_never_panics_and_inside_the_signed_part_never_verifies(
        position in 0usize..100_000,
        value in proptest::prelude::any::<u8>(),
    ) {
        let mut raw = fixture("signed-crlf.eml");
        let content = locate(&raw).unwrap().content;
        let position = position % raw.len();
        let original = raw[position];
        raw[position] = value;
        let report = verify(&raw, &anchors("test-ca.pem"));
        // Inside the signed part every change is caught, except turning CRLF's CR into
        // something that canonicalisation restores (the CR of an existing CRLF removed).
        let in_content = content.contains(&position) && original != value && original != b'\r';
        if in_content {
            proptest::prop_assert_ne!(report.status, SignatureStatus::Valid);
        }
    }
}

#[test]
fn a_certificate_issued_by_an_end_entity_key_does_not_chain_to_the_anchor() {
    // The rogue signer's issuer is the provider certificate (CA:FALSE), itself issued by
    // the test CA and carried in the signature: the math is right, the chain is not.
    let report = verify(&fixture("signed-rogue-crlf.eml"), &anchors("test-ca.pem"));
    assert_status(&report, SignatureStatus::Untrusted, "rogue");
    assert_eq!(report.reason, Some(SignatureProblem::NoTrustAnchor));
}

#[test]
fn an_openpgp_multipart_signed_is_reported_as_no_smime_signature() {
    let raw = String::from_utf8(fixture("signed-lf.eml")).unwrap();
    let pgp = raw.replacen(
        "protocol=\"application/x-pkcs7-signature\"",
        "protocol=\"application/pgp-signature\"",
        1,
    );
    assert_ne!(pgp, raw, "the fixture names its protocol");
    let report = verify(pgp.as_bytes(), &anchors("test-ca.pem"));
    assert_status(&report, SignatureStatus::Missing, "pgp");
    assert_eq!(report.reason, Some(SignatureProblem::NotSmime));
}
