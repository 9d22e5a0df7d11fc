//! What the mail-out process stories share (`tests/outbox_process`,
//! `tests/campaign_process`): the PostgreSQL server, real `pecdesk serve` processes started
//! and killed, waiting on a condition with the servers' logs on failure.

#![allow(dead_code)] // each story uses part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The PostgreSQL server of the stories (`PECDESK_TEST_PG`).
pub fn pg_server() -> String {
    std::env::var("PECDESK_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("PECDESK_TEST_PG is not set: PostgreSQL process stories cannot run")
}

pub fn with_db(url: &str, db: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let base = url.split('?').next().unwrap_or(url);
    let host = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host}/{db}")
}

/// A `pecdesk serve` process.
pub struct Server {
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    /// Starts `pecdesk serve ARGS` with short IMAP and outbox intervals, its output in
    /// `DIR/NAME.log`.
    pub fn start(dir: &Path, args: &[String], name: &str) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_pecdesk"))
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env("PECDESK_IMAP__POLL_INTERVAL_SECS", "1")
            .env("PECDESK_IMAP__RETRY_BASE_SECS", "1")
            .env("PECDESK_IMAP__MAX_BACKOFF_SECS", "2")
            .env("PECDESK_IMAP__LEASE_SECS", "4")
            .env("PECDESK_IMAP__REFRESH_SECS", "1")
            .env("PECDESK_OUTBOX__POLL_INTERVAL_SECS", "1")
            .env("PECDESK_OUTBOX__BATCH_SIZE", "4")
            .env("PECDESK_OUTBOX__CLAIM_SECS", "3")
            // Long enough for the poller to bring in an accettazione of a send the killed
            // process made: a re-send before it would be a double send.
            .env("PECDESK_OUTBOX__UNCERTAIN_WAIT_SECS", "25")
            .env("PECDESK_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("pecdesk serve starts");
        Self {
            child: Some(child),
            log,
        }
    }

    /// `kill -9`: no shutdown, claims left behind.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many sends this process concluded (its log's `sent` lines).
    pub fn sent(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains(" sent outbox.id="))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn wait_for<F, Fut>(what: &str, limit: Duration, servers: &[&Server], mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = servers.iter().map(|s| s.log()).collect();
            panic!("timed out waiting for: {what}\n{}", logs.join("\n---\n"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
