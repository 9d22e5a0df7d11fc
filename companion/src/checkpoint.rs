//! Checkpoints of the audit chains: an anchor outside the database.
//!
//! A hash chain proves that no entry was changed *inside* it, but whoever can write the
//! database can delete the last entries and rewind the stored head: the shorter chain still
//! verifies. A checkpoint records each chain's head (sequence and hash) at a moment, signed
//! with the companion's checkpoint key (Ed25519, derived from the master key, which lives
//! outside the database), and is written *outside* the database — appended to a file, posted
//! to a webhook — on a schedule and on demand (`pecdesk audit checkpoint`).
//!
//! `pecdesk audit verify --checkpoint FILE` then checks, for every chain in the file, that
//! the chain still reaches the checkpointed sequence with the same hash: a truncated or
//! rewound chain, or one rewritten past that point, is caught.
//!
//! One checkpoint is one JSON line:
//! `{"v":1,"chain":"<org id or system>","seq":12,"hash":"<hex>","at":"<RFC 3339>","key":"<base64 public key>","sig":"<base64 signature>"}`;
//! the signature covers `pecdesk-audit-checkpoint-v1\n{chain}\n{seq}\n{hash}\n{at}`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::auth::secrets::MasterKey;
use crate::store::Store;
use crate::store::audit::{self, Chain};

/// Context of the checkpoint key derived from the master key.
const KEY_CONTEXT: &str = "pecdesk audit checkpoint key v1";
/// Domain separation of the signed text.
const SIGNED_PREFIX: &str = "pecdesk-audit-checkpoint-v1";

/// Where and how often checkpoints are written (`[audit]` in `pecdesk.toml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointSettings {
    /// File the checkpoints are appended to (one JSON line per chain).
    pub checkpoint_path: Option<PathBuf>,
    /// URL the checkpoints are posted to (a JSON array), e.g. a WORM store's ingest.
    pub checkpoint_webhook: Option<String>,
    /// Seconds between scheduled checkpoints (0 or unset: 3600).
    pub checkpoint_interval_secs: Option<u64>,
}

impl CheckpointSettings {
    /// Whether any destination is configured.
    pub fn enabled(&self) -> bool {
        self.checkpoint_path.is_some() || self.checkpoint_webhook.is_some()
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(
            self.checkpoint_interval_secs
                .filter(|s| *s > 0)
                .unwrap_or(3600),
        )
    }
}

/// One signed checkpoint of one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version (1).
    pub v: u32,
    /// The chain: an organisation id or `system`.
    pub chain: String,
    /// Sequence number of the chain's last entry at `at`.
    pub seq: i64,
    /// Hash of that entry.
    pub hash: String,
    /// When the checkpoint was taken (RFC 3339, UTC).
    pub at: String,
    /// The public key that signed it (base64 of the 32-byte Ed25519 key).
    pub key: String,
    /// Signature (base64) over the signed text.
    pub sig: String,
}

fn signed_text(chain: &str, seq: i64, hash: &str, at: &str) -> String {
    format!("{SIGNED_PREFIX}\n{chain}\n{seq}\n{hash}\n{at}")
}

/// The companion's checkpoint key.
#[derive(Debug)]
pub struct Signer(SigningKey);

impl Signer {
    /// The key derived from `master`: always the same for the same master key.
    pub fn from_master(master: &MasterKey) -> Self {
        Self(SigningKey::from_bytes(&master.derive(KEY_CONTEXT)))
    }

    /// The public key, base64 (what a checkpoint's `key` must be).
    pub fn public_key(&self) -> String {
        B64.encode(self.0.verifying_key().as_bytes())
    }

    /// A detached signature (base64) of `text` (evidence packs sign their index with the
    /// same key as the checkpoints, so a pack's checkpoint and its index share one key).
    pub fn sign_text(&self, text: &str) -> String {
        B64.encode(self.0.sign(text.as_bytes()).to_bytes())
    }

    fn sign(&self, chain: &str, seq: i64, hash: &str, at: &str) -> Checkpoint {
        let sig = self.0.sign(signed_text(chain, seq, hash, at).as_bytes());
        Checkpoint {
            v: 1,
            chain: chain.to_owned(),
            seq,
            hash: hash.to_owned(),
            at: at.to_owned(),
            key: self.public_key(),
            sig: B64.encode(sig.to_bytes()),
        }
    }
}

/// Whether `sig` (base64) is an Ed25519 signature of `text` under `key` (base64 public
/// key): checkpoints and the index of an evidence pack, offline.
pub fn text_signature_ok(key: &str, text: &str, sig: &str) -> bool {
    let Ok(key) = B64.decode(key) else {
        return false;
    };
    let Ok(key) = <[u8; 32]>::try_from(key.as_slice()) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&key) else {
        return false;
    };
    let Ok(sig) = B64.decode(sig) else {
        return false;
    };
    let Ok(sig) = <[u8; 64]>::try_from(sig.as_slice()) else {
        return false;
    };
    key.verify(text.as_bytes(), &Signature::from_bytes(&sig))
        .is_ok()
}

impl Checkpoint {
    /// Whether the signature verifies under `key` (base64 Ed25519 public key).
    pub fn signature_ok(&self, key: &str) -> bool {
        text_signature_ok(
            key,
            &signed_text(&self.chain, self.seq, &self.hash, &self.at),
            &self.sig,
        )
    }
}

/// Signs the current head of every chain.
pub async fn take(store: &Store, signer: &Signer) -> anyhow::Result<Vec<Checkpoint>> {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Ok(audit::heads(store)
        .await?
        .into_iter()
        .map(|(chain, seq, hash)| signer.sign(&chain, seq, &hash, &at))
        .collect())
}

/// Appends checkpoints to `path` (created if missing), one JSON line each, and syncs it.
pub fn append(path: &Path, cps: &[Checkpoint]) -> anyhow::Result<()> {
    let mut out = String::new();
    for cp in cps {
        out.push_str(&serde_json::to_string(cp)?);
        out.push('\n');
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("checkpoint file {}: cannot open", path.display()))?;
    f.write_all(out.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("checkpoint file {}: cannot write", path.display()))
}

/// Takes checkpoints and writes them to every configured destination.
pub async fn write(
    store: &Store,
    signer: &Signer,
    settings: &CheckpointSettings,
) -> anyhow::Result<Vec<Checkpoint>> {
    let cps = take(store, signer).await?;
    if let Some(path) = &settings.checkpoint_path {
        append(path, &cps)?;
    }
    if let Some(url) = &settings.checkpoint_webhook {
        reqwest::Client::new()
            .post(url)
            .timeout(Duration::from_secs(30))
            .json(&cps)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| anyhow::anyhow!("checkpoint webhook: {}", e.without_url()))?;
    }
    Ok(cps)
}

/// Writes checkpoints every interval until the process stops (start-up of `serve`).
pub fn spawn_schedule(store: Store, signer: Signer, settings: CheckpointSettings) {
    if !settings.enabled() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.interval());
        loop {
            tick.tick().await;
            match write(&store, &signer, &settings).await {
                Ok(cps) => tracing::info!(chains = cps.len(), "audit checkpoint written"),
                Err(e) => tracing::error!(error = %e, "audit checkpoint failed"),
            }
        }
    });
}

/// Reads a checkpoint file; the latest checkpoint (highest sequence) of each chain.
pub fn read_latest(path: &Path) -> anyhow::Result<BTreeMap<String, Checkpoint>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("checkpoint file {}: cannot read", path.display()))?;
    let mut latest: BTreeMap<String, Checkpoint> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cp: Checkpoint = serde_json::from_str(line).with_context(|| {
            format!(
                "checkpoint file {} line {}: not a checkpoint",
                path.display(),
                n + 1
            )
        })?;
        match latest.get(&cp.chain) {
            Some(prev) if prev.seq >= cp.seq => {}
            _ => {
                latest.insert(cp.chain.clone(), cp);
            }
        }
    }
    Ok(latest)
}

/// What a checkpoint says about its chain now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Against {
    /// The chain still holds the checkpointed entry, unchanged.
    Holds,
    /// The checkpoint's signature does not verify with this companion's key.
    BadSignature,
    /// The chain ends before the checkpointed entry: entries were cut off.
    Truncated {
        /// Last sequence the chain has now.
        now: i64,
    },
    /// The entry at the checkpointed sequence is not the one checkpointed.
    Rewritten,
}

impl Against {
    /// The verdict in words (Italian / English).
    pub fn message(&self, cp: &Checkpoint) -> String {
        match self {
            Against::Holds => format!(
                "coerente con il punto di controllo del {} (voce {}) / matches the checkpoint of {} (entry {})",
                cp.at, cp.seq, cp.at, cp.seq
            ),
            Against::BadSignature => "punto di controllo con firma non valida per questa chiave / checkpoint signature does not verify with this companion's key".to_owned(),
            Against::Truncated { now } => format!(
                "registro TRONCATO: il punto di controllo del {} arriva alla voce {}, il registro ora alla {now} / log TRUNCATED: the checkpoint of {} reaches entry {}, the log now ends at {now}",
                cp.at, cp.seq, cp.at, cp.seq
            ),
            Against::Rewritten => format!(
                "registro RISCRITTO: la voce {} non è quella del punto di controllo del {} / log REWRITTEN: entry {} is not the one checkpointed on {}",
                cp.seq, cp.at, cp.seq, cp.at
            ),
        }
    }
}

/// Checks one checkpoint against the stored chain (the chain itself is verified apart).
pub async fn check(store: &Store, signer: &Signer, cp: &Checkpoint) -> anyhow::Result<Against> {
    if cp.key != signer.public_key() || !cp.signature_ok(&cp.key) {
        return Ok(Against::BadSignature);
    }
    if cp.seq == 0 {
        return Ok(Against::Holds);
    }
    let chain = Chain::from_key(&cp.chain);
    let now = audit::head(store, chain.key())
        .await?
        .map_or(0, |(seq, _)| seq);
    if now < cp.seq {
        return Ok(Against::Truncated { now });
    }
    match audit::hash_at(store, chain.key(), cp.seq).await? {
        None => Ok(Against::Truncated { now }),
        Some(h) if h == cp.hash => Ok(Against::Holds),
        Some(_) => Ok(Against::Rewritten),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_and_any_changed_field_breaks_it() {
        let signer = Signer::from_master(&MasterKey::from_bytes([7; 32]));
        let cp = signer.sign("org-1", 12, "ab", "2026-11-30T10:00:00.000Z");
        assert!(cp.signature_ok(&signer.public_key()));
        for changed in [
            Checkpoint {
                seq: 11,
                ..cp.clone()
            },
            Checkpoint {
                hash: "ac".into(),
                ..cp.clone()
            },
            Checkpoint {
                chain: "org-2".into(),
                ..cp.clone()
            },
            Checkpoint {
                at: "2026-11-30T10:00:01.000Z".into(),
                ..cp.clone()
            },
        ] {
            assert!(!changed.signature_ok(&signer.public_key()), "{changed:?}");
        }
        let other = Signer::from_master(&MasterKey::from_bytes([8; 32]));
        assert!(!cp.signature_ok(&other.public_key()));
        assert_eq!(
            Signer::from_master(&MasterKey::from_bytes([7; 32])).public_key(),
            signer.public_key(),
            "the key is derived, stable across restarts"
        );
    }

    #[test]
    fn the_latest_checkpoint_of_each_chain_is_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("cp.jsonl");
        let signer = Signer::from_master(&MasterKey::from_bytes([1; 32]));
        append(
            &path,
            &[
                signer.sign("a", 3, "h3", "t1"),
                signer.sign("b", 1, "h1", "t1"),
            ],
        )
        .expect("append");
        append(&path, &[signer.sign("a", 5, "h5", "t2")]).expect("append");
        let latest = read_latest(&path).expect("read");
        assert_eq!(latest["a"].seq, 5);
        assert_eq!(latest["b"].seq, 1);
    }
}
