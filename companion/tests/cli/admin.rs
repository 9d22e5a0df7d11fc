//! `pecdesk mailbox|team|grant` beside a running server: on SQLite the data directory's
//! lock is held by `pecdesk serve`, and the command refuses, saying to stop it or use the
//! API, before touching the database. A password is never taken from the command line.

use super::pecdesk;

#[test]
fn admin_commands_refuse_a_data_directory_the_server_holds_and_point_to_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    // What `pecdesk serve` holds while it runs.
    let held = pecdesk_companion::lock::DataDirLock::acquire(dir.path()).expect("lock");
    let data_dir = dir.path().to_string_lossy().into_owned();
    for args in [
        vec!["mailbox", "list", "--org", "Studio Demo"],
        vec!["team", "add", "--org", "Studio Demo", "--name", "T"],
        vec!["grant", "list", "--org", "Studio Demo"],
    ] {
        let mut all = args.clone();
        all.extend(["--data-dir", &data_dir]);
        let out = pecdesk(&all, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("API") && err.contains(" / "), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }
    assert!(
        !dir.path().join("pecdesk.sqlite3").exists(),
        "refused before opening the database"
    );
    drop(held);
}

#[test]
fn a_password_argument_does_not_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().to_string_lossy().into_owned();
    let out = pecdesk(
        &[
            "mailbox",
            "add",
            "--org",
            "O",
            "--address",
            "a@pec.example.it",
            "--name",
            "A",
            "--password",
            "in-chiaro",
            "--data-dir",
            &data_dir,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // Refused while parsing the arguments: nothing was opened or written.
    assert!(!dir.path().join("pecdesk.sqlite3").exists());
}

/// A running `pecdesk serve` whose output is being collected.
struct Traced {
    child: std::process::Child,
    addr: String,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// `pecdesk serve --demo` with every log level on; all its output is collected until it
/// ends.
fn serve_with_trace_logs(data_dir: &std::path::Path) -> Traced {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    let mut child = Command::new(env!("CARGO_BIN_EXE_pecdesk"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .current_dir(data_dir.parent().expect("parent"))
        .env("PECDESK_LOG", "trace")
        .env_remove("PECDESK_CA_BUNDLE")
        .env_remove("PECDESK_DATABASE_URL")
        .env_remove("PECDESK_DATA_DIR")
        .env_remove("PECDESK_LISTEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pecdesk serve starts");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut readers = Vec::new();
    let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().expect("stdout"));
    let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().expect("stderr"));
    for stream in [out, err] {
        let lines = Arc::clone(&lines);
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("listening") {
                    let _ = tx.send(line.clone());
                }
                lines.lock().expect("lines").push(line);
            }
        }));
    }
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the server says it is listening");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("listen="))
        .expect("listen=ADDR in the line")
        .to_owned();
    Traced {
        child,
        addr,
        lines,
        readers,
    }
}

#[test]
fn passwords_sent_to_the_api_never_reach_the_log_even_at_trace_level() {
    const FIRST: &str = "Traccia-Segreta-3141";
    const SECOND: &str = "Traccia-Segreta-2718";
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("dati");
    let Traced {
        mut child,
        addr,
        lines,
        readers,
    } = serve_with_trace_logs(&data);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = rt.block_on(async {
        let http = reqwest::Client::new();
        let base = format!("http://{addr}");
        let token: serde_json::Value = http
            .post(format!("{base}/api/v1/auth/dev-login"))
            .json(&serde_json::json!({"email": "admin@demo.test"}))
            .send()
            .await?
            .json()
            .await?;
        let token = token["token"].as_str().unwrap_or_default().to_owned();
        let created = http
            .post(format!("{base}/api/v1/mailboxes"))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "address": "traccia@pec.demo.test", "name": "Traccia",
                "imap": {"host": "imap.pec.example.it", "port": 993, "security": "tls",
                         "user": "traccia", "password": FIRST}}))
            .send()
            .await?;
        let status = created.status();
        let body: serde_json::Value = created.json().await?;
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        let patched = http
            .patch(format!("{base}/api/v1/mailboxes/{id}"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"imap": {"password": SECOND}}))
            .send()
            .await?
            .status();
        // A refused request with a password in it.
        let refused = http
            .post(format!("{base}/api/v1/mailboxes"))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "address": "traccia2@pec.demo.test", "name": "T",
                "imap": {"host": "imap.pec.example.it", "port": 143, "security": "plain",
                         "user": "u", "password": FIRST}}))
            .send()
            .await?
            .status();
        Ok::<_, reqwest::Error>((status, patched, refused))
    });
    // Stop exactly the server this test started, then read everything it wrote.
    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        r.join().expect("reader");
    }
    let (created, patched, refused) = outcome.expect("requests");
    assert_eq!(created.as_u16(), 201);
    assert_eq!(patched.as_u16(), 200);
    assert_eq!(refused.as_u16(), 422);
    let log = lines.lock().expect("lines").join("\n");
    assert!(
        log.contains("mailbox created"),
        "the log was captured: {log}"
    );
    assert!(log.contains("/api/v1/mailboxes"), "requests were traced");
    assert!(
        !log.contains(FIRST) && !log.contains(SECOND),
        "a password in the log"
    );
}
