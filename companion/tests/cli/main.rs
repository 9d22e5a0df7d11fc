//! CLI tests of `pecdesk inspect`, running the built binary on the synthetic fixtures of
//! pecdesk-core (`shared/tests/fixtures`).
#![allow(clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod admin;
mod simulate;

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

// --- `pecdesk serve` start-up ------------------------------------------------------------

/// `pecdesk serve ARGS` started in `cwd` (so a default `./pecdesk-data` would land in a
/// temporary folder), logs on a pipe, no colour settings inherited.
fn spawn_serve(args: &[&str], cwd: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .arg("serve")
        .args(args)
        .current_dir(cwd)
        .env_remove("PECDESK_CA_BUNDLE")
        .env_remove("PECDESK_DATABASE_URL")
        .env_remove("PECDESK_DATA_DIR")
        .env_remove("PECDESK_LISTEN")
        .env_remove("PECDESK_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pecdesk serve starts")
}

/// The output of a server that must stop on its own within `secs`; `None` (after killing
/// it) when it kept running.
fn exits_within(child: std::process::Child, secs: u64) -> Option<Output> {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(out) => Some(out.expect("output")),
        Err(_) => {
            // Still serving: stop exactly the process this test started.
            let _ = Command::new("kill").arg(id.to_string()).status();
            None
        }
    }
}

/// Reads `child`'s log lines until the "listening" one; returns every line read.
fn wait_listening(child: &mut std::process::Child) -> Vec<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(120)) {
        let done = line.contains("listening");
        lines.push(line);
        if done {
            return lines;
        }
    }
    panic!("the server never said it was listening: {lines:?}");
}

#[test]
fn a_second_serve_on_the_same_data_directory_refuses_and_names_it_and_logs_have_no_colour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("dati");
    let data_arg = data.display().to_string();
    let mut first = spawn_serve(
        &["--listen", "127.0.0.1:0", "--data-dir", &data_arg],
        dir.path(),
    );
    let log = wait_listening(&mut first);
    // Standard output is a pipe here, not a terminal: no ANSI escape codes.
    assert!(
        log.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a piped log: {log:?}"
    );
    let second = spawn_serve(
        &["--listen", "127.0.0.1:0", "--data-dir", &data_arg],
        dir.path(),
    );
    let out = exits_within(second, 60);
    let _ = first.kill();
    let _ = first.wait();
    let out = out.expect("the second server must refuse to start, not serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&data_arg), "names the directory: {err}");
    assert!(
        err.contains(&format!("pid {}", first.id())),
        "names the running server's pid: {err}"
    );
    assert!(err.contains(" / "), "bilingual: {err}");
}

#[test]
fn serve_names_the_address_it_cannot_listen_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let data_arg = dir.path().join("dati").display().to_string();
    let child = spawn_serve(&["--listen", &addr, "--data-dir", &data_arg], dir.path());
    let out = exits_within(child, 120).expect("exits: the address is in use");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr), "names {addr}: {err}");
    drop(taken);
}

#[test]
fn serve_names_the_data_directory_it_cannot_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("un-file");
    std::fs::write(&file, b"x").expect("write");
    // A directory below a regular file cannot be created.
    let data_arg = file.join("dati").display().to_string();
    let child = spawn_serve(
        &["--listen", "127.0.0.1:0", "--data-dir", &data_arg],
        dir.path(),
    );
    let out = exits_within(child, 60).expect("exits: the data directory is unusable");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&data_arg), "names {data_arg}: {err}");
}

#[test]
fn serve_refuses_a_database_url_that_is_not_postgres_instead_of_using_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = spawn_serve(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "mysql://pecdesk:segreto@127.0.0.1/pecdesk",
        ],
        dir.path(),
    );
    let out = exits_within(child, 60).expect("exits: not a PostgreSQL URL");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("database_url") && err.contains("mysql://pecdesk:***@127.0.0.1/pecdesk"),
        "{err}"
    );
    assert!(!err.contains("segreto"), "the password stays hidden: {err}");
    assert!(
        !dir.path().join("pecdesk-data").exists(),
        "no SQLite database was created instead"
    );
}

#[test]
fn serve_names_the_postgresql_server_it_cannot_reach_without_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Port 1 on loopback: nothing listens there.
    let child = spawn_serve(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "postgres://pecdesk:segreto@127.0.0.1:1/pecdesk",
        ],
        dir.path(),
    );
    let out = exits_within(child, 90).expect("exits: PostgreSQL unreachable");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("postgres://pecdesk:***@127.0.0.1:1/pecdesk"),
        "names the server: {err}"
    );
    assert!(!err.contains("segreto"), "the password stays hidden: {err}");
}

#[test]
fn serve_names_the_data_directory_when_its_master_key_cannot_be_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("dati");
    // A directory where the key file should be: unreadable as a key.
    std::fs::create_dir_all(data.join("master.key")).expect("mkdir");
    let data_arg = data.display().to_string();
    let child = spawn_serve(
        &["--listen", "127.0.0.1:0", "--data-dir", &data_arg],
        dir.path(),
    );
    let out = exits_within(child, 60).expect("exits: the master key is unreadable");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&data_arg), "names {data_arg}: {err}");
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

#[test]
fn serve_refuses_a_plain_http_public_url_that_is_not_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_arg = dir.path().join("dati").display().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pecdesk"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_arg])
        .current_dir(dir.path())
        .env_remove("PECDESK_CA_BUNDLE")
        .env_remove("PECDESK_DATABASE_URL")
        .env("PECDESK_PUBLIC_URL", "http://pecdesk.esempio.it")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = exits_within(cmd.spawn().expect("starts"), 60).expect("exits: http public URL");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("public_url") && err.contains("https") && err.contains(" / "),
        "{err}"
    );
}

#[test]
fn serve_reads_the_wasm_folder_from_the_environment_and_logs_the_addin_urls() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = dir.path().join("altrove");
    std::fs::create_dir_all(&wasm).expect("mkdir");
    std::fs::write(wasm.join("pecdesk_wasm.js"), b"export default 42;").expect("write");
    let data_arg = dir.path().join("dati").display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_arg])
        .current_dir(dir.path())
        .env_remove("PECDESK_CA_BUNDLE")
        .env_remove("PECDESK_DATABASE_URL")
        .env_remove("PECDESK_PUBLIC_URL")
        .env_remove("NO_COLOR")
        .env("PECDESK_ADDIN__WASM_DIR", &wasm)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pecdesk serve starts");
    let log = wait_listening(&mut child);
    let listening = log.last().expect("a line").clone();
    let addr = listening
        .split_whitespace()
        .find_map(|w| w.strip_prefix("listen="))
        .expect("listen= in the log")
        .to_owned();
    let addin_line = log
        .iter()
        .find(|l| l.contains("/addin/manifest.xml"))
        .expect("the add-ins line before the listening one");
    for url in ["/addin/", "/addin/manifest.xml", "/webext/pecdesk.xpi"] {
        assert!(
            addin_line.contains(&format!("http://{addr}{url}")),
            "{addin_line}"
        );
    }
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    stream
        .write_all(
            b"GET /addin/wasm/pecdesk_wasm.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("export default 42;"), "{answer}");
}
