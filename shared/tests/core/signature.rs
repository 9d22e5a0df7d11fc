//! Tests: signature.
//!
//! The public corpus is read by path through `PECDESK_CORPUS` (never copied into the
//! repo); the synthetic fixtures under `tests/fixtures/signature/` come from `make.sh`
//! (throw-away test CAs and a synthetic PEC envelope signed with `openssl smime -sign`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use pecdesk_core::signature::{
    Provider, SignatureProblem, SignatureReport, SignatureStatus, TrustAnchors, locate,
    parse_trusted_list, providers, verify, verify_with,
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

/// The DER certificates of a PEM fixture.
fn certificates(name: &str) -> Vec<Vec<u8>> {
    anchors(name).certificates
}

/// A test provider: the synthetic envelope's "Gestore di Prova S.p.A." at
/// `pec.example.invalid`, whose signing certificates `certs` (a PEM fixture) issues.
fn test_provider(certs: &str) -> Provider {
    Provider {
        name: "Gestore di Prova S.p.A.".to_owned(),
        names: vec!["Gestore di Prova S.p.A.".to_owned()],
        organisations: vec!["Gestore di Prova S.p.A.".to_owned()],
        domains: vec!["pec.example.invalid".to_owned()],
        certificates: certificates(certs),
        source: "test".to_owned(),
    }
}

/// A provider list holding the test provider under the test root CA.
fn test_providers() -> TrustAnchors {
    TrustAnchors {
        certificates: Vec::new(),
        providers: vec![test_provider("test-ca.pem")],
    }
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

/// `raw` with `from` replaced by `to` in its (first, top-level) `From:` header line.
fn replace_in_from(raw: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw).into_owned();
    let start = text
        .match_indices("\nFrom:")
        .map(|(i, _)| i + 1)
        .next()
        .expect("a From header");
    let end = start + text[start..].find('\n').unwrap();
    let line = &text[start..end];
    assert!(line.contains(from), "{line}");
    let changed = line.replacen(from, to, 1);
    format!("{}{changed}{}", &text[..start], &text[end..]).into_bytes()
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
fn out_of_the_box_every_genuine_aruba_corpus_pec_is_valid_and_names_its_provider() {
    let Some(samples) = corpus_samples() else {
        return;
    };
    let builtin = TrustAnchors::builtin();
    let mut valid = 0;
    for sample in samples.iter().filter(|s| s.smime_verifies == "yes") {
        let report = verify(&sample.raw, &builtin);
        assert_status(&report, SignatureStatus::Valid, &sample.name);
        assert_eq!(report.reason, None, "{}", sample.name);
        if sample.name.contains("aruba") {
            assert_eq!(
                report.provider.as_deref(),
                Some("Aruba PEC S.p.A."),
                "{}",
                sample.name
            );
            valid += 1;
        }
    }
    assert!(
        valid > 0,
        "no genuine Aruba sample (smime_verifies=yes) ran"
    );
}

#[test]
fn a_system_ca_bundle_alone_chains_real_pecs_but_makes_no_provider() {
    // The real signers chain through AgID CA1 / DigitPA CA1 (carried in each signature)
    // to public roots (Actalis, Baltimore) found in e.g. Debian's ca-certificates. Such a
    // bundle says who a certificate belongs to, not that it is a PEC provider's: without
    // the provider list nothing is valid; with it (plus the bundle) the real ones are.
    let Some(bundle) = crate::env_or_notice("PECDESK_CA_BUNDLE", "the system-bundle test") else {
        return;
    };
    let Some(samples) = corpus_samples() else {
        return;
    };
    let system = TrustAnchors::from_pem(&std::fs::read(&bundle).unwrap()).unwrap();
    let mut both = TrustAnchors::builtin();
    both.certificates.clone_from(&system.certificates);
    let mut chained = 0;
    for sample in samples.iter().filter(|s| s.smime_verifies == "yes") {
        let report = verify(&sample.raw, &system);
        assert_status(&report, SignatureStatus::Untrusted, &sample.name);
        match report.reason {
            Some(SignatureProblem::NotAPecProvider) => chained += 1,
            // A bundle may lack a root (Baltimore expired in 2025): never anything else.
            reason => assert_eq!(
                reason,
                Some(SignatureProblem::NoTrustAnchor),
                "{}",
                sample.name
            ),
        }
        let report = verify(&sample.raw, &both);
        assert_status(&report, SignatureStatus::Valid, &sample.name);
    }
    assert!(chained > 0, "no corpus sample chained to {bundle}");
}

#[test]
fn a_genuine_aruba_pec_whose_from_names_another_provider_is_a_provider_mismatch() {
    // The envelope headers are not signed: a forger can keep a real Aruba signature and
    // make the From say Legalmail. The signer is a PEC provider, not this envelope's.
    let Some(samples) = corpus_samples() else {
        return;
    };
    let sample = samples
        .iter()
        .find(|s| s.smime_verifies == "yes" && s.name.starts_with("oca_aruba"))
        .expect("an oca_aruba sample that verifies");
    let moved = replace_in_from(
        &sample.raw,
        "posta-certificata@pec.aruba.it",
        "posta-certificata@legalmail.it",
    );
    let report = verify(&moved, &TrustAnchors::builtin());
    assert_status(&report, SignatureStatus::Untrusted, &sample.name);
    assert_eq!(report.reason, Some(SignatureProblem::ProviderMismatch));
    assert_eq!(report.provider.as_deref(), Some("Aruba PEC S.p.A."));
    // gestore-emittente naming another provider is a mismatch too.
    let report = verify_with(
        &sample.raw,
        &TrustAnchors::builtin(),
        Some("InfoCert S.p.A."),
    );
    assert_eq!(report.reason, Some(SignatureProblem::ProviderMismatch));
}

#[test]
fn a_corpus_pec_resigned_with_a_public_ca_certificate_is_not_a_pec_provider() {
    let Some(samples) = corpus_samples() else {
        return;
    };
    // The admin's first try: the provider list plus a system bundle holding the forger's
    // (public-style) root.
    let mut trust = TrustAnchors::builtin();
    trust.certificates.extend(certificates("public-root.pem"));
    let mut ran = 0;
    for sample in samples.iter().filter(|s| s.smime_verifies == "yes") {
        // An ordinary personal S/MIME certificate, and one copying Aruba's names and address.
        for signer in ["ordinary", "lookalike"] {
            let forged = resign(&sample.raw, signer);
            let report = verify(&forged, &trust);
            assert_status(&report, SignatureStatus::Untrusted, &sample.name);
            assert_eq!(
                report.reason,
                Some(SignatureProblem::NotAPecProvider),
                "{} re-signed by {signer}",
                sample.name
            );
            assert_eq!(report.provider, None);
            // Without the public root it does not even chain.
            let report = verify(&forged, &TrustAnchors::builtin());
            assert_eq!(report.reason, Some(SignatureProblem::NoTrustAnchor));
        }
        ran += 1;
    }
    assert!(ran > 0, "PECDESK_CORPUS is set but no sample ran");
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
fn synthetic_envelope_signed_by_the_test_provider_is_valid_in_lf_and_crlf() {
    let ca = test_providers();
    for name in ["signed-lf.eml", "signed-crlf.eml"] {
        let report = verify(&fixture(name), &ca);
        assert_status(&report, SignatureStatus::Valid, name);
        assert_eq!(report.reason, None);
        assert_eq!(report.provider.as_deref(), Some("Gestore di Prova S.p.A."));
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
    let ca = test_providers();
    for name in ["signed-lf.eml", "signed-crlf.eml", "signed-noattr-crlf.eml"] {
        let report = verify(&tamper_signed_part(&fixture(name)), &ca);
        assert_status(&report, SignatureStatus::Invalid, name);
    }
}

#[test]
fn without_signed_attributes_the_signature_over_the_content_is_checked_and_dated_by_the_date_header()
 {
    let raw = fixture("signed-noattr-crlf.eml");
    let report = verify(&raw, &test_providers());
    assert_status(&report, SignatureStatus::Valid, "noattr");
    let tampered = tamper_signed_part(&raw);
    let report = verify(&tampered, &test_providers());
    assert_eq!(report.reason, Some(SignatureProblem::SignatureMismatch));

    // No signingTime and no Date header: validity cannot be judged.
    // Only the envelope's own Date goes (postacert.eml, inside the signed part, has one too).
    let text = String::from_utf8(raw).unwrap();
    let date_line = text
        .split_inclusive('\n')
        .find(|line| line.starts_with("Date:"))
        .unwrap();
    let undated = text.replacen(date_line, "", 1);
    let report = verify(undated.as_bytes(), &test_providers());
    assert_status(&report, SignatureStatus::Untrusted, "undated");
    assert_eq!(report.reason, Some(SignatureProblem::MessageDateUnknown));
}

#[test]
fn a_signer_under_an_intermediate_carried_in_the_signature_chains_to_the_root() {
    // The signer is "Altro Gestore di Prova" (pec2.example.invalid), signing an envelope
    // that says it comes from "Gestore di Prova S.p.A." at pec.example.invalid.
    let raw = fixture("signed-chain-crlf.eml");
    let other = |certs: &str| Provider {
        name: "Altro Gestore di Prova".to_owned(),
        names: Vec::new(),
        organisations: vec!["Altro Gestore di Prova".to_owned()],
        domains: vec!["pec2.example.invalid".to_owned()],
        certificates: certificates(certs),
        source: "test".to_owned(),
    };
    for root in ["test-ca.pem", "intermediate-ca.pem"] {
        let trust = TrustAnchors {
            certificates: Vec::new(),
            providers: vec![test_provider("test-ca.pem"), other(root)],
        };
        let report = verify(&raw, &trust);
        assert_status(&report, SignatureStatus::Untrusted, root);
        assert_eq!(
            report.reason,
            Some(SignatureProblem::ProviderMismatch),
            "{root}"
        );
        assert_eq!(report.provider.as_deref(), Some("Altro Gestore di Prova"));
        assert_eq!(
            report.signer.as_deref(),
            Some("CN=posta-certificata@pec2.example.invalid,O=Altro Gestore di Prova,C=IT")
        );
    }
    // The same envelope, From and gestore-emittente its signer's: the chain through the
    // intermediate carried in the signature reaches the root, or the intermediate itself.
    let from_pec2 = replace_in_from(
        &raw,
        "<posta-certificata@pec.example.invalid>",
        "<posta-certificata@pec2.example.invalid>",
    );
    for root in ["test-ca.pem", "intermediate-ca.pem"] {
        let trust = TrustAnchors {
            certificates: Vec::new(),
            providers: vec![other(root)],
        };
        let report = verify_with(&from_pec2, &trust, Some("Altro Gestore di Prova"));
        assert_status(&report, SignatureStatus::Valid, root);
        // The daticert inside still names "Gestore di Prova S.p.A.".
        let report = verify(&from_pec2, &trust);
        assert_eq!(
            report.reason,
            Some(SignatureProblem::ProviderMismatch),
            "{root}"
        );
    }
    let report = verify(&raw, &anchors("other-ca.pem"));
    assert_status(&report, SignatureStatus::Untrusted, "chain, unrelated CA");
    assert_eq!(report.reason, Some(SignatureProblem::NoTrustAnchor));
}

#[test]
fn a_signer_certificate_not_yet_valid_at_the_signing_time_is_untrusted() {
    let report = verify(&fixture("signed-future-cert-crlf.eml"), &test_providers());
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
    let ca = test_providers();
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
    // The provider's own certificate in its list entry: it is the signer, so it vouches
    // for itself.
    let listed = TrustAnchors {
        certificates: Vec::new(),
        providers: vec![test_provider("provider.pem")],
    };
    let report = verify(&raw, &listed);
    assert_status(&report, SignatureStatus::Valid, "nocerts, provider listed");
    // The same certificate as a plain anchor: the math and the chain hold, but a plain
    // anchor names no PEC provider.
    let report = verify(&raw, &anchors("provider.pem"));
    assert_eq!(report.reason, Some(SignatureProblem::NotAPecProvider));
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
        let report = verify(&bytes, &test_providers());
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
        let report = verify(&raw, &test_providers());
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
    let report = verify(&fixture("signed-rogue-crlf.eml"), &test_providers());
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

#[test]
fn the_forged_signature_of_the_resigning_helper_is_itself_valid_for_its_own_provider() {
    // The helper's CMS must be right, or the NotAPecProvider tests prove nothing: with the
    // public-style root listed as the CA of a test provider, the re-signed synthetic
    // envelope verifies.
    let forged = resign(&fixture("signed-lf.eml"), "lookalike");
    let trust = TrustAnchors {
        certificates: Vec::new(),
        providers: vec![Provider {
            name: "Look-alike".to_owned(),
            names: vec!["Gestore di Prova S.p.A.".to_owned()],
            organisations: vec!["Aruba PEC S.p.A.".to_owned()],
            domains: vec!["pec.example.invalid".to_owned()],
            certificates: certificates("public-root.pem"),
            source: "test".to_owned(),
        }],
    };
    let report = verify(&forged, &trust);
    assert_status(&report, SignatureStatus::Valid, "resigned synthetic");
    assert!(report.signer.unwrap().contains("Aruba PEC S.p.A."));
}

#[test]
fn a_provider_certificate_whose_extended_key_usage_is_tls_only_fails_on_key_usage() {
    let forged = resign(&fixture("signed-lf.eml"), "tls-only");
    let trust = TrustAnchors {
        certificates: Vec::new(),
        providers: vec![test_provider("public-root.pem")],
    };
    let report = verify(&forged, &trust);
    assert_status(&report, SignatureStatus::Untrusted, "tls-only");
    assert_eq!(report.reason, Some(SignatureProblem::KeyUsage));
    assert_eq!(report.provider.as_deref(), Some("Gestore di Prova S.p.A."));
}

#[test]
fn new_reasons_serialize_in_kebab_case() {
    for (problem, code) in [
        (SignatureProblem::NotAPecProvider, "not-a-pec-provider"),
        (SignatureProblem::ProviderMismatch, "provider-mismatch"),
        (SignatureProblem::KeyUsage, "key-usage"),
    ] {
        assert_eq!(serde_json::to_value(problem).unwrap(), code);
        assert!(!problem.italian().is_empty());
    }
}

// ---- ETSI TS 119 612 trusted list import ----

#[test]
fn a_trusted_list_gives_its_providers_names_domains_and_certificates() {
    let list = parse_trusted_list(&fixture("trusted-list.xml"), "trusted-list.xml").unwrap();
    // The provider without an X.509 certificate is left out.
    assert_eq!(list.len(), 1, "{list:?}");
    let provider = &list[0];
    assert_eq!(provider.name, "Gestore di Prova S.p.A.");
    assert!(provider.names.contains(&"Test Provider".to_owned()));
    assert_eq!(provider.domains, ["pec.example.invalid"]);
    // The end-entity certificate's O= names the provider too; the CA's does not.
    assert_eq!(provider.organisations, ["Gestore di Prova S.p.A."]);
    assert_eq!(provider.certificates.len(), 2);
    assert_eq!(provider.certificates[0], certificates("test-ca.pem")[0]);
    assert!(provider.source.contains("trusted-list.xml") && provider.source.contains("2026-11-30"));

    // Imported, the list makes the synthetic envelope valid, through the file format too.
    let json = providers::to_json(&list, "test");
    let mut trust = TrustAnchors::default();
    trust.add_provider_list(json.as_bytes(), None).unwrap();
    let report = verify(&fixture("signed-lf.eml"), &trust);
    assert_status(&report, SignatureStatus::Valid, "imported list");
    assert_eq!(report.provider.as_deref(), Some("Gestore di Prova S.p.A."));
}

#[test]
fn a_broken_or_empty_trusted_list_is_refused() {
    assert!(parse_trusted_list(b"<TrustServiceStatusList><unclosed>", "x").is_err());
    assert!(parse_trusted_list(b"<TrustServiceStatusList/>", "x").is_err());
    assert!(parse_trusted_list(b"not xml at all", "x").is_err());
    let text = String::from_utf8(fixture("trusted-list.xml")).unwrap();
    // A certificate that is not X.509 (three zero octets before the DER) is skipped: no
    // provider is left.
    let without = text.replace("<tsl:X509Certificate>", "<tsl:X509Certificate>AAAA");
    assert!(parse_trusted_list(without.as_bytes(), "x").is_err());
}

// ---- re-signing (what a forger does) ----

/// `raw` with its `smime.p7s` replaced by a detached SHA-256 signature over the same first
/// part, made with the key of the fixture `NAME.key` and certificate `NAME.pem` (signer
/// certificate and the public-style root carried in the signature, signingTime 2027-01-01).
/// Builds the CMS by hand (RFC 5652) so that no signing library is needed.
fn resign(raw: &[u8], name: &str) -> Vec<u8> {
    use rsa::pkcs8::DecodePrivateKey as _;
    use sha2::{Digest as _, Sha256};
    use x509_cert::der::{Decode as _, Encode as _};

    let cert_der = certificates(&format!("{name}.pem")).remove(0);
    let root_der = certificates("public-root.pem").remove(0);
    let key_pem = String::from_utf8(fixture(&format!("{name}.key"))).unwrap();
    let key_b64: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let key_der = base64_decode(&key_b64);
    let key = rsa::RsaPrivateKey::from_pkcs8_der(&key_der).unwrap();
    let cert = x509_cert::Certificate::from_der(&cert_der).unwrap();
    let issuer = cert.tbs_certificate.issuer.to_der().unwrap();
    let serial = cert.tbs_certificate.serial_number.to_der().unwrap();

    let layout = locate(raw).expect("multipart/signed");
    let mut canonical = Vec::new();
    let content = &raw[layout.content.clone()];
    for (i, &b) in content.iter().enumerate() {
        if b == b'\n' && (i == 0 || content[i - 1] != b'\r') {
            canonical.push(b'\r');
        }
        canonical.push(b);
    }
    let digest = Sha256::digest(&canonical);

    const SHA256: &[u8] = &[
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    const DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];
    const SIGNED_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    let attr_oid = |last: u8| {
        vec![
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, last,
        ]
    };
    let null = [0x05, 0x00];
    let sha256_alg = tlv(0x30, &[SHA256, &null].concat());
    let attributes = [
        tlv(0x30, &[attr_oid(3), tlv(0x31, DATA)].concat()),
        tlv(
            0x30,
            &[attr_oid(5), tlv(0x31, &tlv(0x17, b"270101000000Z"))].concat(),
        ),
        tlv(
            0x30,
            &[attr_oid(4), tlv(0x31, &tlv(0x04, &digest))].concat(),
        ),
    ]
    .concat();
    let signed_bytes = tlv(0x31, &attributes);
    let signature = key
        .sign(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(&signed_bytes),
        )
        .unwrap();
    let signer_info = tlv(
        0x30,
        &[
            vec![0x02, 0x01, 0x01],
            tlv(0x30, &[issuer, serial].concat()),
            sha256_alg.clone(),
            tlv(0xa0, &attributes),
            tlv(0x30, &[RSA, &null].concat()),
            tlv(0x04, &signature),
        ]
        .concat(),
    );
    let signed_data = tlv(
        0x30,
        &[
            vec![0x02, 0x01, 0x01],
            tlv(0x31, &sha256_alg),
            tlv(0x30, DATA),
            tlv(0xa0, &[cert_der, root_der].concat()),
            tlv(0x31, &signer_info),
        ]
        .concat(),
    );
    let p7s = tlv(0x30, &[SIGNED_DATA, &tlv(0xa0, &signed_data)].concat());

    let crlf = raw.windows(2).any(|w| w == b"\r\n");
    let eol = if crlf { "\r\n" } else { "\n" };
    let b64 = base64_encode(&p7s);
    let mut entity = format!(
        "Content-Type: application/x-pkcs7-signature; name=\"smime.p7s\"{eol}\
         Content-Transfer-Encoding: base64{eol}\
         Content-Disposition: attachment; filename=\"smime.p7s\"{eol}{eol}"
    );
    for line in b64.as_bytes().chunks(76) {
        entity.push_str(std::str::from_utf8(line).unwrap());
        entity.push_str(eol);
    }
    let entity = entity.trim_end();
    let sig = layout.signature_part.expect("a signature part");
    [&raw[..sig.start], entity.as_bytes(), &raw[sig.end..]].concat()
}

/// A DER item: tag, definite length, contents.
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
