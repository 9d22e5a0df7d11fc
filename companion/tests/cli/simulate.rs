//! `pecdesk simulate` as a process: it starts, says where it listens, accepts a message
//! from a real SMTP client, and what it writes is a PEC `pecdesk inspect` certifies with the
//! provider list it wrote.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport as _};
use serde_json::Value;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn simulate_starts_accepts_a_message_and_writes_certified_receipts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("boxes");
    let config = dir.path().join("sim.toml");
    std::fs::write(
        &config,
        "[limits]\nmax_recipients = 10\n\n[behaviours]\n\"assente@pec.ente.test\" = \"unknown\"\n",
    )
    .expect("config");
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_pecdesk"))
            .args(["simulate", "--listen", "127.0.0.1:0", "--mail-root"])
            .arg(&root)
            .args(["--account", "ufficio@pec.mittente.test:segreta", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(rest) = line.split("smtp://").nth(1) {
            addr = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.contains("Ctrl-C") {
            break;
        }
    }
    let addr: std::net::SocketAddr = addr
        .expect("pecdesk simulate prints its SMTP address")
        .parse()
        .expect("an address");

    let raw = b"From: <ufficio@pec.mittente.test>\r\nTo: <protocollo@pec.ente.test>, \
<assente@pec.ente.test>\r\nSubject: Prova dal processo\r\nMessage-ID: <cli-1@pec.mittente.test>\r\n\
\r\nTesto.\r\n";
    let envelope = Envelope::new(
        Some("ufficio@pec.mittente.test".parse().expect("from")),
        vec![
            "protocollo@pec.ente.test".parse().expect("to"),
            "assente@pec.ente.test".parse().expect("to"),
        ],
    )
    .expect("envelope");
    let smtp = SmtpTransport::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .credentials(Credentials::new(
            "ufficio@pec.mittente.test".into(),
            "segreta".into(),
        ))
        .build();
    let response = smtp.send_raw(&envelope, raw).expect("accepted");
    assert!(response.is_positive());
    // A progress line with counts, no addresses.
    let progress = lines
        .by_ref()
        .map(|l| l.expect("line"))
        .find(|l| l.contains("invii ricevuti"))
        .expect("a progress line");
    assert!(
        progress.contains("1 invii ricevuti, 1 accettati"),
        "{progress}"
    );
    assert!(!progress.contains('@'), "{progress}");

    let new = |who: &str| {
        let mut files: Vec<_> = std::fs::read_dir(root.join(who).join("Maildir/new"))
            .expect("the box exists")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        files
    };
    assert_eq!(new("protocollo@pec.ente.test").len(), 1);
    assert!(!root.join("assente@pec.ente.test").exists());
    let providers = root.join("simulator-providers.json");
    let mut kinds = Vec::new();
    for file in new("ufficio@pec.mittente.test")
        .iter()
        .chain(&new("protocollo@pec.ente.test"))
    {
        let out = Command::new(env!("CARGO_BIN_EXE_pecdesk"))
            .args(["inspect", "--json", "--providers"])
            .arg(&providers)
            .arg(file)
            .env_remove("PECDESK_CA_BUNDLE")
            .output()
            .expect("inspect runs");
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["signature"]["status"], "valid", "{v}");
        assert_eq!(v["original_message_id"], "cli-1@pec.mittente.test");
        kinds.push(v["kind"].as_str().expect("kind").to_owned());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "accettazione",
            "avvenuta-consegna",
            "errore-consegna",
            "posta-certificata"
        ]
    );
    assert!(root.join("simulator-ca.pem").exists());
}
