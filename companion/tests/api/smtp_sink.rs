//! A real SMTP server for the stories: PyPI `aiosmtpd` (from `tests/smtp/.venv`, made by
//! `scripts/test`) on a free loopback port, delivering every message into a Maildir the
//! story reads. Stopped (SIGTERM to the process this helper started, then waited for) on
//! drop.

use std::io::Read as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpSink {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/smtp/.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `python3 -m venv tests/smtp/.venv && tests/smtp/.venv/bin/pip \
         install -r tests/smtp/requirements.txt` (scripts/test does)",
        venv.display()
    );
    venv
}

impl SmtpSink {
    /// Starts the server and waits (bounded) for its greeting.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let maildir = dir.path().join("Maildir");
        let log = std::fs::File::create(dir.path().join("aiosmtpd.log")).expect("log");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("aiosmtpd starts");
        let sink = Self {
            dir,
            port,
            child: Some(child),
        };
        sink.wait_ready();
        sink
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 64];
                if matches!(s.read(&mut buf), Ok(n) if n > 3 && buf.starts_with(b"220")) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start: {}",
                std::fs::read_to_string(self.dir.path().join("aiosmtpd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message delivered so far (raw bytes, in no particular order).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(rd) = std::fs::read_dir(self.dir.path().join("Maildir").join(sub)) else {
                continue;
            };
            for e in rd.flatten() {
                out.push(std::fs::read(e.path()).expect("read message"));
            }
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }
}
