//! CLI tests of `pecdesk inspect`, running the built binary on the synthetic fixtures of
//! pecdesk-core (`shared/tests/fixtures`).
#![allow(clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/tests/fixtures")
        .join(name)
}

fn pecdesk(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .args(args)
        .env_remove("PECDESK_CA_BUNDLE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    {
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.unwrap_or_default())
            .expect("write stdin");
    }
    child.wait_with_output().expect("the binary ends")
}

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

const PEC_KEYS: [&str; 15] = [
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
    "problems",
    "signature",
];

#[test]
fn json_of_one_file_is_one_object_with_exactly_the_summary_keys() {
    let out = pecdesk(&["inspect", "--json", &path("accettazione.eml")], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let object = value.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = PEC_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(value["kind"], "accettazione");
    assert_eq!(
        value["identificativo"],
        "opec100.20240305101500.1234.56.1.7@pec.gestore.example"
    );
}

#[test]
fn several_files_give_json_lines_with_a_file_key() {
    let files = [path("accettazione.eml"), path("anomalia_messaggio.eml")];
    let out = pecdesk(&["inspect", "--json", &files[0], &files[1]], None);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["file"], files[0].as_str());
    assert_eq!(lines[0]["kind"], "accettazione");
    assert_eq!(lines[1]["file"], files[1].as_str());
    assert_eq!(lines[1]["kind"], "anomalia");
}

#[test]
fn readable_summary_is_italian_by_default_and_english_with_lang_en() {
    let file = path("errore_consegna_virus.eml");
    let it = pecdesk(&["inspect", &file], None);
    assert_eq!(it.status.code(), Some(0));
    let it = String::from_utf8(it.stdout).expect("utf-8");
    assert!(it.contains("Tipo:"), "{it}");
    assert!(it.contains("avviso di mancata consegna"), "{it}");
    assert!(it.contains("per virus"), "{it}");

    let en = pecdesk(&["inspect", "--lang", "en", &file], None);
    assert_eq!(en.status.code(), Some(0));
    let en = String::from_utf8(en.stdout).expect("utf-8");
    assert!(en.contains("Kind:"), "{en}");
    assert!(en.contains("non-delivery notice"), "{en}");
    assert!(!en.contains("Tipo:"), "{en}");
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let raw = std::fs::read(fixture("presa_in_carico.eml")).expect("fixture");
    let out = pecdesk(&["inspect", "--json", "-"], Some(&raw));
    assert_eq!(out.status.code(), Some(0));
    let value: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value["kind"], "presa-in-carico");
}

#[test]
fn empty_input_exits_2_with_one_line() {
    let out = pecdesk(&["inspect", "-"], Some(b""));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn unreadable_file_exits_2_with_one_line() {
    let out = pecdesk(&["inspect", "/nonexistent/pecdesk/x.eml"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("x.eml"), "{stderr}");
}

#[test]
fn a_malformed_pec_is_not_an_error_and_lists_its_problems() {
    let out = pecdesk(
        &[
            "inspect",
            "--json",
            "--lang",
            "en",
            &path("daticert_xml_rotto.eml"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let value: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value["has_daticert"], false);
    let problems = value["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.contains("malformed"))),
        "{problems:?}"
    );
}

#[test]
fn signature_is_checked_by_default_and_skipped_with_no_signature() {
    let file = path("busta_trasporto_completa.eml");
    let checked = pecdesk(&["inspect", "--json", &file], None);
    let checked: Value = serde_json::from_slice(&checked.stdout).expect("JSON");
    assert!(checked["signature"].is_object(), "{checked}");

    let skipped = pecdesk(&["inspect", "--json", "--no-signature", &file], None);
    let skipped: Value = serde_json::from_slice(&skipped.stdout).expect("JSON");
    assert!(skipped["signature"].is_null(), "{skipped}");
}

#[test]
fn an_unreadable_ca_bundle_exits_2() {
    let out = pecdesk(
        &[
            "inspect",
            "--ca-bundle",
            "/nonexistent/pecdesk/ca.pem",
            &path("accettazione.eml"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn a_malformed_admin_address_stops_sso_set_idp_before_any_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().to_string_lossy().into_owned();
    let out = pecdesk(
        &[
            "sso",
            "set-idp",
            "--org",
            "Comune di Prova",
            "--file",
            "/nonexistent/idp.json",
            "--create-org",
            "--admin",
            "senza-chiocciola",
            "--data-dir",
            &data_dir,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--admin") && err.contains(" / "), "{err}");
    // Refused while parsing the arguments: no database was even created.
    assert!(!dir.path().join("pecdesk.sqlite3").exists());
}

#[test]
fn trust_import_writes_the_providers_of_an_etsi_list_that_inspect_then_trusts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().to_string_lossy().into_owned();
    let signed = path("signature/signed-lf.eml");
    let signature = |extra: &[&str]| -> Value {
        let mut args = vec!["inspect", "--json"];
        args.extend_from_slice(extra);
        args.push(&signed);
        let out = pecdesk(&args, None);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        serde_json::from_slice::<Value>(&out.stdout).expect("JSON")["signature"].clone()
    };
    // The synthetic provider is in no built-in list, and a CA bundle makes no provider.
    let before = signature(&[]);
    assert_eq!(before["reason"], "no-trust-anchor", "{before}");
    let test_ca = path("signature/test-ca.pem");
    let bundle = signature(&["--ca-bundle", &test_ca]);
    assert_eq!(
        [&bundle["status"], &bundle["reason"]],
        ["untrusted", "not-a-pec-provider"]
    );

    let list = path("signature/trusted-list.xml");
    let out = pecdesk(&["trust", "import", &list, "--data-dir", &data_dir], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let imported = dir.path().join("pec-providers.json");
    let imported_path = imported.display().to_string();
    let after = signature(&["--providers", &imported_path]);
    assert_eq!(after["status"], "valid", "{after}");
    assert_eq!(after["provider"], "Gestore di Prova S.p.A.");

    // A file that is no trusted list changes nothing and fails naming the file.
    let out = pecdesk(
        &["trust", "import", &test_ca, "--data-dir", &data_dir],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("test-ca.pem"));
    let again = signature(&["--providers", &imported_path]);
    assert_eq!(again["status"], "valid");
}
