//! `pecdesk import --mailbox ADDRESS PATH...`: `.eml` files, Maildir folders (`cur/`,
//! `new/`, Maildir++ subfolders) and mbox files (mboxrd `>From ` unescaped) into one
//! mailbox, through the same path as IMAP ([`super::ingest_batch`]), in batches each
//! committed before the next is counted. Safe to interrupt: what was committed stays, and
//! a second run reports it as duplicates.
//!
//! A reader thread walks the paths and cuts batches while the previous batch is parsed
//! and stored; a progress bar shows on a terminal (stderr), plain lines otherwise; the
//! closing summary goes to stdout. Exit code 0 when everything was stored, 1 when any
//! message failed (each named with its reason), 2 when the import could not start.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use super::{Incoming, Status, ingest_batch, process_pending};
use crate::cli::DbArgs;
use crate::store::{Store, messages as store_msgs};

/// Messages per batch (one write transaction each) unless `--batch` says otherwise.
pub const DEFAULT_BATCH: u64 = 500;

/// A batch is cut earlier when its messages reach this many bytes (bounded memory).
const BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Arguments of `pecdesk import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Indirizzo PEC della casella di destinazione / PEC address of the target mailbox.
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: String,
    /// File .eml, cartelle (Maildir o con .eml/mbox, esplorate ricorsivamente) e file mbox /
    /// .eml files, folders (Maildir or holding .eml/mbox files, walked recursively) and
    /// mbox files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Messaggi per transazione / messages per transaction.
    #[arg(long, default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u64).range(1..10_001))]
    pub batch: u64,
    #[command(flatten)]
    pub db: DbArgs,
}

/// What the import did, for the closing summary.
#[derive(Debug, Default)]
pub struct Tally {
    /// New messages.
    pub imported: u64,
    /// Already there (same bytes, or the same PEC with the same bytes as a variant).
    pub duplicates: u64,
    /// Byte-different copies of a stored PEC, kept as its variants.
    pub variants: u64,
    /// Files in walked folders that are neither `.eml` nor mbox.
    pub skipped: u64,
    /// What could not be stored: where (path, or path:N in an mbox) and why.
    pub failed: Vec<(String, String)>,
}

impl Tally {
    fn seen(&self) -> u64 {
        self.imported + self.duplicates + self.variants + self.failed.len() as u64
    }

    fn line(&self) -> String {
        format!(
            "importati / imported {}, duplicati / duplicates {}, varianti / variants {}, falliti / failed {}",
            self.imported,
            self.duplicates,
            self.variants,
            self.failed.len()
        )
    }
}

/// Runs `pecdesk import`.
pub fn run(args: &ImportArgs) -> ExitCode {
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(import(args)));
    match result {
        Ok(tally) => {
            println!("{}", tally.line());
            if tally.skipped > 0 {
                println!(
                    "ignorati (né .eml né mbox) / skipped (neither .eml nor mbox): {}",
                    tally.skipped
                );
            }
            for (at, why) in &tally.failed {
                println!("  {at}: {why}");
            }
            if tally.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("errore / error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// One message read, or why it could not be.
type Item = (String, Result<Vec<u8>, String>);

/// What [`ingest_batch`] answers for one batch.
type BatchResult = crate::error::Result<Vec<crate::error::Result<super::Outcome>>>;

/// A batch being stored: its labels and results, and the bytes it finishes.
struct Flight {
    progress: u64,
    handle: tokio::task::JoinHandle<(Vec<String>, BatchResult)>,
}

/// A batch cut by the reader, with the bytes of the files it finished.
struct Cut {
    items: Vec<Item>,
    progress: u64,
}

async fn import(args: &ImportArgs) -> anyhow::Result<Tally> {
    let settings = args.db.settings(None, false)?;
    // One process per SQLite data directory: the server, or this import.
    let _lock = crate::lock::DataDirLock::for_settings(&settings).context(
        "pecdesk import non può usare il database mentre il server è in funzione / \
         pecdesk import cannot use the database while the server runs",
    )?;
    let store = Store::connect(&settings).await.with_context(|| {
        format!(
            "database non disponibile / database unavailable: {}",
            settings.database_label()
        )
    })?;
    let trust = crate::trust::load(&settings)?;
    let (org_id, mailbox_id) = mailbox(&store, &args.mailbox).await?;

    let mut tally = Tally::default();
    let mut sources = Vec::new();
    for p in &args.paths {
        walk(p, true, &mut sources, &mut tally);
    }
    let total: u64 = sources.iter().map(|s| s.size).sum();
    let progress = Progress::new(total);

    // The reader runs ahead by at most two batches.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Cut>(2);
    let batch = usize::try_from(args.batch).unwrap_or(500);
    let reader = std::thread::spawn(move || read_all(sources, batch, &tx));

    // Two batches in flight: one is parsed while the other is written (the write lock
    // orders them; a duplicate across them is caught under it, as between replicas).
    let mut in_flight: std::collections::VecDeque<Flight> = std::collections::VecDeque::new();
    let mut done_bytes = 0u64;
    let mut fatal = None;
    let trust = std::sync::Arc::clone(&trust);
    loop {
        let next = if in_flight.len() < 2 {
            rx.recv().await
        } else {
            None
        };
        let Some(cut) = next else {
            // Nothing more to start now: settle the oldest batch, if any.
            let Some(f) = in_flight.pop_front() else {
                break;
            };
            let (labels, results) = f.handle.await.map_err(|e| anyhow::anyhow!(e))?;
            match results {
                Ok(results) => {
                    for (label, r) in labels.into_iter().zip(results) {
                        match r {
                            Ok(o) => match o.status {
                                Status::Created => tally.imported += 1,
                                Status::Duplicate => tally.duplicates += 1,
                                Status::Variant => tally.variants += 1,
                            },
                            Err(e) => tally.failed.push((label, e.to_string())),
                        }
                    }
                }
                Err(e) => {
                    // The database itself failed: nothing of this batch was committed.
                    fatal = Some(e);
                    break;
                }
            }
            done_bytes += f.progress;
            progress.update(done_bytes, &tally);
            continue;
        };
        let mut labels = Vec::with_capacity(cut.items.len());
        let mut incoming = Vec::with_capacity(cut.items.len());
        for (label, read) in cut.items {
            match read {
                Ok(raw) if raw.is_empty() => {
                    tally.failed.push((label, "vuoto / empty".into()));
                }
                Ok(raw) => {
                    labels.push(label);
                    incoming.push(Incoming {
                        raw,
                        source: "import".into(),
                        direction: None,
                    });
                }
                Err(why) => tally.failed.push((label, why)),
            }
        }
        let (store, trust) = (store.clone(), std::sync::Arc::clone(&trust));
        let (org_id, mailbox_id) = (org_id.clone(), mailbox_id.clone());
        in_flight.push_back(Flight {
            progress: cut.progress,
            handle: tokio::spawn(async move {
                let r = ingest_batch(&store, &trust, None, &org_id, &mailbox_id, incoming).await;
                (labels, r)
            }),
        });
    }
    // After a failure, the batch still in flight ends (committed or not) before leaving.
    for f in in_flight {
        let _ = f.handle.await;
    }
    drop(rx);
    let _ = reader.join();
    progress.finish();
    if let Some(e) = fatal {
        println!("{}", tally.line());
        return Err(anyhow::Error::from(e).context(
            "importazione interrotta: i lotti già salvati restano, rilanciare / import stopped: \
             the batches already stored stay, run it again",
        ));
    }
    // Receipts reconciled, messages routed: what the poller does after each batch.
    if let Err(e) = process_pending(&store).await {
        eprintln!(
            "avviso / warning: elaborazione dopo l'importazione / processing after the import: {e}"
        );
    }
    store.close().await;
    Ok(tally)
}

/// The one mailbox with this address: `(organisation, mailbox)`.
async fn mailbox(store: &Store, address: &str) -> anyhow::Result<(String, String)> {
    let found = store_msgs::mailboxes_by_address(store, address).await?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!("casella {address} non trovata / mailbox {address} not found"),
        _ => anyhow::bail!(
            "più caselle con l'indirizzo {address} / several mailboxes have the address {address}"
        ),
    }
}

/// A file to read: one message, or an mbox of many.
#[derive(Debug)]
struct Source {
    path: PathBuf,
    mbox: bool,
    size: u64,
}

/// Whether a file starts like an mbox (`From ` line).
fn starts_like_mbox(path: &Path) -> bool {
    let mut head = [0u8; 5];
    File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && &head == b"From "
}

/// Collects the files under `path`. A path given on the command line is read whatever its
/// name; inside folders, `.eml` files, mbox files (`.mbox`, `.mbx`, or any file starting
/// with a `From ` line) and the messages of Maildir folders (`cur/`, `new/`; the server's
/// index files beside them are not messages).
fn walk(path: &Path, explicit: bool, out: &mut Vec<Source>, tally: &mut Tally) {
    let label = path.display().to_string();
    let meta = if explicit {
        std::fs::metadata(path)
    } else {
        // Inside folders, symbolic links are not followed (no loops).
        std::fs::symlink_metadata(path)
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            tally.failed.push((label, e.to_string()));
            return;
        }
    };
    if meta.is_file() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let mbox = if explicit {
            starts_like_mbox(path)
        } else if name.ends_with(".eml") {
            false
        } else if name.ends_with(".mbox")
            || name.ends_with(".mbx")
            || (!name.ends_with(".msf") && starts_like_mbox(path))
        {
            true
        } else {
            tally.skipped += 1;
            return;
        };
        out.push(Source {
            path: path.to_owned(),
            mbox,
            size: meta.len(),
        });
        return;
    }
    if !meta.is_dir() {
        return;
    }
    let mut entries = match std::fs::read_dir(path) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect::<Vec<_>>(),
        Err(e) => {
            tally.failed.push((label, e.to_string()));
            return;
        }
    };
    entries.sort();
    let maildir = path.join("cur").is_dir() || path.join("new").is_dir();
    for e in entries {
        let name = e
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if maildir {
            match name.as_str() {
                "cur" | "new" => maildir_messages(&e, out, tally),
                // Messages being delivered, not yet messages.
                "tmp" => {}
                // Maildir++ subfolders (`.Sent`, ...); the server's files are not messages.
                _ if e.is_dir() => walk(&e, false, out, tally),
                _ => {}
            }
        } else {
            walk(&e, false, out, tally);
        }
    }
}

/// Every file of a Maildir's `cur/` or `new/` is one message.
fn maildir_messages(dir: &Path, out: &mut Vec<Source>, tally: &mut Tally) {
    let mut files = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                m.is_file().then(|| (e.path(), m.len()))
            })
            .collect::<Vec<_>>(),
        Err(e) => {
            tally
                .failed
                .push((dir.display().to_string(), e.to_string()));
            return;
        }
    };
    files.sort();
    out.extend(files.into_iter().map(|(path, size)| Source {
        path,
        mbox: false,
        size,
    }));
}

/// Reads every source in order and sends batches of at most `batch` messages (or
/// [`BATCH_BYTES`]). Stops when the receiver is gone.
fn read_all(sources: Vec<Source>, batch: usize, tx: &tokio::sync::mpsc::Sender<Cut>) {
    let mut items = Vec::new();
    let mut bytes = 0usize;
    let mut progress = 0u64;
    let send = |items: &mut Vec<Item>, bytes: &mut usize, progress: &mut u64| {
        let cut = Cut {
            items: std::mem::take(items),
            progress: std::mem::take(progress),
        };
        *bytes = 0;
        tx.blocking_send(cut).is_ok()
    };
    for s in sources {
        let label = s.path.display().to_string();
        if s.mbox {
            let file = match File::open(&s.path) {
                Ok(f) => f,
                Err(e) => {
                    items.push((label, Err(e.to_string())));
                    continue;
                }
            };
            let mut mbox = Mbox::new(BufReader::with_capacity(1 << 20, file));
            let mut n = 0usize;
            while let Some(m) = mbox.next_message() {
                n += 1;
                let m = m.map_err(|e| e.to_string());
                bytes += m.as_ref().map_or(0, Vec::len);
                items.push((format!("{label}:{n}"), m));
                if (items.len() >= batch || bytes >= BATCH_BYTES)
                    && !send(&mut items, &mut bytes, &mut progress)
                {
                    return;
                }
            }
        } else {
            let m = std::fs::read(&s.path).map_err(|e| e.to_string());
            bytes += m.as_ref().map_or(0, Vec::len);
            items.push((label, m));
        }
        progress += s.size;
        if (items.len() >= batch || bytes >= BATCH_BYTES)
            && !send(&mut items, &mut bytes, &mut progress)
        {
            return;
        }
    }
    if !items.is_empty() || progress > 0 {
        send(&mut items, &mut bytes, &mut progress);
    }
}

/// The messages of an mbox file: a `From ` line at the start of the file or after an
/// empty line begins a message; `>From `, `>>From `, ... lose one `>` (mboxrd); the empty
/// line before the next `From ` line belongs to the separator.
#[derive(Debug)]
pub struct Mbox<R> {
    r: R,
    line: Vec<u8>,
    started: bool,
    prev_blank: bool,
    done: bool,
}

impl<R: BufRead> Mbox<R> {
    /// Reads an mbox from `r`.
    pub fn new(r: R) -> Self {
        Self {
            r,
            line: Vec::new(),
            started: false,
            prev_blank: true,
            done: false,
        }
    }

    /// The next message's bytes, `None` at the end.
    pub fn next_message(&mut self) -> Option<std::io::Result<Vec<u8>>> {
        if self.done {
            return None;
        }
        let mut msg = Vec::new();
        loop {
            self.line.clear();
            match self.r.read_until(b'\n', &mut self.line) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            if self.line.starts_with(b"From ") && self.prev_blank {
                self.prev_blank = false;
                if self.started {
                    return Some(Ok(finish(msg)));
                }
                self.started = true;
                continue;
            }
            if !self.started {
                // Whatever precedes the first `From ` line is not a message.
                self.prev_blank = self.line == b"\n" || self.line == b"\r\n";
                continue;
            }
            self.prev_blank = self.line == b"\n" || self.line == b"\r\n";
            let quoted = self.line.iter().take_while(|&&b| b == b'>').count();
            if quoted > 0 && self.line[quoted..].starts_with(b"From ") {
                msg.extend_from_slice(&self.line[1..]);
            } else {
                msg.extend_from_slice(&self.line);
            }
        }
        self.started.then(|| Ok(finish(msg)))
    }
}

/// Drops the separator's empty line at the end of an mbox message.
fn finish(mut msg: Vec<u8>) -> Vec<u8> {
    if msg.ends_with(b"\r\n\r\n") {
        msg.truncate(msg.len() - 2);
    } else if msg.ends_with(b"\n\n") {
        msg.truncate(msg.len() - 1);
    }
    msg
}

/// Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    last_line: std::cell::Cell<Instant>,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {elapsed_precise} {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            started: now,
            last_line: std::cell::Cell::new(now),
        }
    }

    fn update(&self, done: u64, tally: &Tally) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(format!("{} msg", tally.seen()));
            }
            None if self.last_line.get().elapsed() >= Duration::from_secs(5) => {
                self.last_line.set(Instant::now());
                eprintln!(
                    "import: {} messaggi / messages in {} s ({})",
                    tally.seen(),
                    self.started.elapsed().as_secs(),
                    tally.line()
                );
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        let mut m = Mbox::new(text.as_bytes());
        let mut out = Vec::new();
        while let Some(r) = m.next_message() {
            out.push(String::from_utf8(r.unwrap()).unwrap());
        }
        out
    }

    #[test]
    fn an_mbox_is_cut_at_from_lines_after_an_empty_line_and_unescaped() {
        let text = "From a@b Mon Nov 30 10:00:00 2026\nSubject: uno\n\ntesto\nFrom inside a paragraph\n>From escaped\n>>From twice\n\nFrom c@d Mon Nov 30 10:00:01 2026\nSubject: due\n\ncorpo\n";
        let m = messages(text);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(
            m[0],
            "Subject: uno\n\ntesto\nFrom inside a paragraph\nFrom escaped\n>From twice\n"
        );
        assert_eq!(m[1], "Subject: due\n\ncorpo\n");
    }

    #[test]
    fn an_empty_mbox_or_one_without_from_line_has_no_message() {
        assert!(messages("").is_empty());
        assert!(messages("Subject: x\n\nbody\n").is_empty());
    }
}
