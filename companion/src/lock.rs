//! One `pecdesk serve` per SQLite data directory: an exclusive lock on
//! `<data_dir>/pecdesk.lock`, held while the server runs and released by the operating
//! system when the process ends (even on `kill -9`), with the holder's pid written inside
//! so the refusal can name it. Two servers on one SQLite file would each believe they own
//! the schedulers and caches; PostgreSQL deployments share their database on purpose and
//! take no lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The held lock; dropping it releases the directory.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "pecdesk.lock";

impl DataDirLock {
    /// The lock of the settings' SQLite data directory, or `None` on PostgreSQL (replicas
    /// and commands share that database on purpose): what every process that opens the
    /// store takes first.
    pub fn for_settings(settings: &crate::Settings) -> anyhow::Result<Option<Self>> {
        match settings.postgres_url() {
            Some(_) => Ok(None),
            None => Self::acquire(&settings.data_dir).map(Some),
        }
    }

    /// Creates `dir` if needed and locks it, or says which directory is in use and by
    /// which process.
    pub fn acquire(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cartella dei dati {d} non utilizzabile / cannot use the data directory {d}",
                d = dir.display()
            )
        })?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| {
                format!(
                    "file di blocco {p} non apribile / cannot open the lock file {p}",
                    p = path.display()
                )
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                let by = if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {pid})")
                };
                anyhow::bail!(
                    "la cartella dei dati {d} è già usata da un altro `pecdesk serve`{by}: fermalo \
                     o scegli un'altra --data-dir / the data directory {d} is already used by \
                     another `pecdesk serve`{by}: stop it or choose another --data-dir",
                    d = dir.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| {
                    format!(
                        "file di blocco {p} non bloccabile / cannot lock {p}",
                        p = path.display()
                    )
                });
            }
        }
        // Held: say who holds it.
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .with_context(|| format!("scrittura di {p} / writing {p}", p = path.display()))?;
        Ok(Self { _file: file, path })
    }

    /// Where the lock file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_with_the_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = DataDirLock::acquire(dir.path()).expect("first lock");
        let second = DataDirLock::acquire(dir.path()).expect_err("second lock refused");
        let msg = format!("{second:#}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        DataDirLock::acquire(dir.path()).expect("free again once released");
    }
}
