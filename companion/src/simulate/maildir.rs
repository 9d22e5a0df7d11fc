//! Delivery into Maildirs: `{root}/{address lower-case}/Maildir/{new,cur,tmp}`, created on
//! demand; each file written in `tmp/`, synced, then renamed into `new/` (a reader never sees
//! half a message), and handed to `owner` when set (a test Dovecot serves mail as `nobody`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Whether `address` may name a box folder: one `@`, no path separators, no leading dot.
pub(crate) fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !address.starts_with('.')
        && address.len() <= 254
        && address
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '\\' | '<' | '>' | '"'))
}

/// Writes `raw` into `address`'s `new/`; returns the file's path.
pub(crate) fn deliver(
    root: &Path,
    owner: Option<(u32, u32)>,
    address: &str,
    raw: &[u8],
) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(valid_address(address), "invalid mailbox name");
    let home = root.join(address.to_ascii_lowercase());
    let md = home.join("Maildir");
    for dir in [
        home.clone(),
        md.clone(),
        md.join("new"),
        md.join("cur"),
        md.join("tmp"),
    ] {
        if !dir.exists() {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            chown(&dir, owner)?;
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "{}.M{}P{}Q{}.pecdesk-sim,S={}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        raw.len()
    );
    let tmp = md.join("tmp").join(&name);
    {
        let mut file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(raw)?;
        file.sync_all()?;
    }
    chown(&tmp, owner)?;
    let new = md.join("new").join(&name);
    std::fs::rename(&tmp, &new).with_context(|| format!("cannot write {}", new.display()))?;
    Ok(new)
}

fn chown(path: &Path, owner: Option<(u32, u32)>) -> anyhow::Result<()> {
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .with_context(|| format!("cannot chown {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_addresses_name_a_box() {
        assert!(valid_address("ufficio@pec.ente.test"));
        assert!(!valid_address("../etc@x"));
        assert!(!valid_address("a/b@x"));
        assert!(!valid_address("nobody"));
        assert!(!valid_address("a@b@c"));
        assert!(!valid_address("@x"));
    }
}
