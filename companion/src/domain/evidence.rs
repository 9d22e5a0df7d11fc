//! Evidence packs: gathers one message, one activity or a mailbox's date range with their
//! receipts, certification data, signature checks and audit segment, records the export
//! (`evidence.export`) and seals the pack (format: [`crate::evidence`]).
//!
//! Who: the organisation's auditors, or managers of the mailbox (core:
//! `Operation::ExportEvidence`); another organisation's objects answer 404. Bounded in
//! memory: at most [`MAX_MESSAGES`] messages (receipts included) and [`MAX_BYTES`] of raw
//! messages per pack; a larger range is refused with what to do (narrow it).

use std::collections::{BTreeSet, HashSet};

use pecdesk_core::authz::{Operation, Person};

use crate::auth::Principal;
use crate::authz::authorize;
use crate::checkpoint::{Checkpoint, Signer};
use crate::error::{Error, Result};
use crate::evidence::{
    AuditSegment, EntryContent, PackFile, PackMeta, SegmentEntry, SegmentHead, seal,
};
use crate::http::export::safe_name;
use crate::state::AppState;
use crate::store::audit::{self, Action, Chain};
use crate::store::messages::{self as store_msgs, MessageRow};
use crate::store::{Store, activities as store_activities, evidence as store_ev, users};

/// Most messages (receipts included) in one pack.
pub const MAX_MESSAGES: usize = 2000;
/// Most raw message bytes in one pack.
pub const MAX_BYTES: usize = 256 * 1024 * 1024;

/// What a pack is of.
#[derive(Debug, Clone)]
pub enum Scope {
    /// One message with its receipts.
    Message(String),
    /// One activity with its messages and their receipts.
    Activity(String),
    /// A mailbox's messages received in `[from, to)` (ms).
    Mailbox {
        /// The mailbox.
        id: String,
        /// Start (inclusive).
        from: i64,
        /// End (exclusive).
        to: i64,
    },
}

impl Scope {
    fn kind(&self) -> &'static str {
        match self {
            Scope::Message(_) => "message",
            Scope::Activity(_) => "activity",
            Scope::Mailbox { .. } => "mailbox",
        }
    }

    fn id(&self) -> &str {
        match self {
            Scope::Message(id) | Scope::Activity(id) | Scope::Mailbox { id, .. } => id,
        }
    }
}

/// A sealed pack.
#[derive(Debug)]
pub struct Pack {
    /// File name for the download.
    pub file_name: String,
    /// The ZIP.
    pub zip: Vec<u8>,
    /// Messages in it (receipts included).
    pub messages: usize,
}

fn too_large() -> Error {
    Error::Invalid(format!(
        "il pacchetto supererebbe {MAX_MESSAGES} messaggi o {} MiB: restringi l'intervallo di date (from/to) e esporta più pacchetti / \
         the pack would exceed {MAX_MESSAGES} messages or {} MiB: narrow the date range (from/to) and export several packs",
        MAX_BYTES / (1024 * 1024),
        MAX_BYTES / (1024 * 1024)
    ))
}

/// Gathers, records and seals the pack of `scope` for `who`.
pub async fn export(
    state: &AppState,
    who: &Principal,
    person: &Person,
    scope: Scope,
) -> Result<Pack> {
    let store = state.store();
    let org = who.org_id.as_str();
    let mut files: Vec<PackFile> = Vec::new();
    let mut roots: Vec<MessageRow> = Vec::new();
    let mut activity_ids: Vec<String> = Vec::new();
    let (from, to) = match &scope {
        Scope::Message(id) => {
            let row = store_msgs::get(store, org, id)
                .await?
                .ok_or(Error::NotFound)?;
            authorize(
                person,
                Operation::ExportEvidence {
                    mailbox_id: &row.mailbox_id,
                },
            )?;
            roots.push(row);
            (None, None)
        }
        Scope::Activity(id) => {
            let a = super::activities::load(store, who, id).await?;
            authorize(
                person,
                Operation::ExportEvidence {
                    mailbox_id: &a.row.mailbox_id,
                },
            )?;
            let ids = store_activities::message_ids(store, id).await?;
            for mid in &ids {
                if let Some(row) = store_msgs::get(store, org, mid).await? {
                    roots.push(row);
                }
            }
            let view = super::activities::detail_view(person, a, ids);
            files.push(PackFile {
                path: format!("attivita/{}.json", safe_name(id)),
                bytes: serde_json::to_vec_pretty(&view).map_err(|e| Error::Internal(e.into()))?,
                group: "attività".to_owned(),
            });
            activity_ids.push(id.clone());
            (None, None)
        }
        Scope::Mailbox { id, from, to } => {
            if !users::mailbox_in_org(store, org, id).await? {
                return Err(Error::NotFound);
            }
            authorize(person, Operation::ExportEvidence { mailbox_id: id })?;
            if from >= to {
                return Err(Error::Invalid(
                    "from deve precedere to / from must come before to".to_owned(),
                ));
            }
            let rows = store_ev::messages_in_range(
                store,
                org,
                id,
                *from,
                *to,
                i64::try_from(MAX_MESSAGES + 1).unwrap_or(i64::MAX),
            )
            .await?;
            if rows.len() > MAX_MESSAGES {
                return Err(too_large());
            }
            roots = rows;
            (Some(*from), Some(*to))
        }
    };

    // Each message once, with its receipts (a receipt of a message already in the pack is
    // filed under it, not again on its own).
    let mut included: HashSet<String> = HashSet::new();
    let mut message_ids: Vec<String> = Vec::new();
    let mut bytes = 0usize;
    let mut folder = 0usize;
    for row in roots {
        if included.contains(&row.id) {
            continue;
        }
        folder += 1;
        let dir = format!(
            "messaggi/{folder:04}-{}",
            safe_name(row.identificativo.as_deref().unwrap_or(&row.id))
        );
        let detail = super::messages::with_receipts(store, row.clone()).await?;
        let mut members = vec![(format!("{dir}/messaggio"), row)];
        for (n, r) in detail.receipts.iter().flatten().enumerate() {
            let Some(receipt) = store_msgs::get(store, org, &r.id).await? else {
                continue;
            };
            let mut stem = format!("{dir}/ricevute/{:02}-{}", n + 1, safe_name(&r.kind));
            if let Some(to) = &r.recipient {
                stem.push('-');
                stem.push_str(&safe_name(to));
            }
            members.push((stem, receipt));
        }
        for (stem, m) in members {
            if !included.insert(m.id.clone()) {
                continue;
            }
            if m.purged_at.is_some() {
                // A purged message's bytes are gone: the pack says so, with the hash the
                // purge's audit entry names.
                files.push(PackFile {
                    path: format!("{stem}.eliminato.json"),
                    bytes: purged_note(&m)?,
                    group: dir.clone(),
                });
                message_ids.push(m.id);
                continue;
            }
            let raw = store_msgs::raw_bytes(store, &m.raw_sha256).await?;
            bytes += raw.len();
            if included.len() > MAX_MESSAGES || bytes > MAX_BYTES {
                return Err(too_large());
            }
            let group = dir.clone();
            let daticert = pecdesk_core::pec::daticert_xml(&raw);
            let summary = match serde_json::from_str::<serde_json::Value>(&m.summary) {
                Ok(v) => serde_json::to_vec_pretty(&v).map_err(|e| Error::Internal(e.into()))?,
                Err(_) => m.summary.clone().into_bytes(),
            };
            let (daticert_name, summary_name) = if stem.ends_with("/messaggio") {
                (
                    format!("{dir}/daticert.xml"),
                    format!("{dir}/riepilogo.json"),
                )
            } else {
                (
                    format!("{stem}.daticert.xml"),
                    format!("{stem}.riepilogo.json"),
                )
            };
            files.push(PackFile {
                path: format!("{stem}.eml"),
                bytes: raw,
                group: group.clone(),
            });
            if let Some(xml) = daticert {
                files.push(PackFile {
                    path: daticert_name,
                    bytes: xml,
                    group: group.clone(),
                });
            }
            files.push(PackFile {
                path: summary_name,
                bytes: summary,
                group,
            });
            message_ids.push(m.id);
        }
    }
    if let Scope::Mailbox { .. } = scope {
        activity_ids = store_ev::activities_of_messages(store, &message_ids).await?;
    }
    let mut comment_ids = Vec::new();
    for a in &activity_ids {
        comment_ids.extend(store_ev::comment_ids(store, a).await?);
    }

    // Record the export first: the pack carries its own entry.
    let pack_id = crate::store::new_id();
    let mut tx = store.begin_write(Chain::Org(org)).await?;
    tx.audit(audit::Entry {
        org_id: Some(org),
        actor_id: Some(&who.user_id),
        action: Action::EvidenceExport,
        object_type: scope.kind(),
        object_id: scope.id(),
        details: serde_json::json!({
            "pack_id": pack_id,
            "messages": message_ids.len(),
            "activities": activity_ids.len(),
            "from": from,
            "to": to,
        }),
    })
    .await?;
    tx.commit().await?;

    let mut objects: Vec<String> = Vec::new();
    let mut seqs: BTreeSet<i64> = BTreeSet::new();
    for (kind, ids) in [
        ("message", &message_ids),
        ("activity", &activity_ids),
        ("comment", &comment_ids),
    ] {
        seqs.extend(store_ev::audit_seqs_about(store, org, kind, ids).await?);
        objects.extend(ids.iter().map(|id| format!("{kind}:{id}")));
    }
    if let Scope::Mailbox { id, .. } = &scope {
        let ids = vec![id.clone()];
        seqs.extend(store_ev::audit_seqs_about(store, org, "mailbox", &ids).await?);
        objects.push(format!("mailbox:{id}"));
    }
    let signer = Signer::from_master(
        &crate::auth::tokens::master_key(state.settings()).map_err(Error::Internal)?,
    );
    let checkpoint = latest_checkpoint(state, org, &signer);
    let segment = segment(store, org, objects, &seqs, checkpoint).await?;
    files.push(PackFile {
        path: crate::evidence::AUDIT.to_owned(),
        bytes: serde_json::to_vec_pretty(&segment).map_err(|e| Error::Internal(e.into()))?,
        group: "registro di audit".to_owned(),
    });

    let org_name = users::org(store, org).await?.name;
    let meta = PackMeta {
        v: 1,
        pack_id,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        org_id: org.to_owned(),
        org_name,
        scope: scope.kind().to_owned(),
        object_id: scope.id().to_owned(),
        from,
        to,
        messages: message_ids.len(),
        created_by: who.user_id.clone(),
        generator: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let messages = message_ids.len();
    let zip = tokio::task::spawn_blocking(move || seal(&meta, files, &signer))
        .await
        .map_err(|e| Error::Internal(e.into()))?
        .map_err(Error::Internal)?;
    tracing::info!(
        scope = scope.kind(),
        messages,
        bytes = zip.len(),
        "evidence pack exported"
    );
    Ok(Pack {
        file_name: format!("evidenze-{}-{}.zip", scope.kind(), safe_name(scope.id())),
        zip,
        messages,
    })
}

/// The organisation's latest checkpoint in the configured checkpoint file, when it is this
/// companion's and its signature verifies.
fn latest_checkpoint(state: &AppState, org: &str, signer: &Signer) -> Option<Checkpoint> {
    let path = state.settings().audit.checkpoint_path.as_ref()?;
    if !path.exists() {
        return None;
    }
    match crate::checkpoint::read_latest(path) {
        Ok(mut latest) => latest
            .remove(org)
            .filter(|cp| cp.key == signer.public_key() && cp.signature_ok(&cp.key)),
        Err(e) => {
            tracing::warn!(error = %e, "evidence pack: checkpoint file unreadable, pack made without it");
            None
        }
    }
}

/// The chain segment from the first entry about the objects (or the checkpointed entry, if
/// older) to the head; entries about other objects as their links only.
async fn segment(
    store: &Store,
    org: &str,
    objects: Vec<String>,
    seqs: &BTreeSet<i64>,
    checkpoint: Option<Checkpoint>,
) -> Result<AuditSegment> {
    let (head_seq, head_hash) = audit::head(store, org)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("evidence: the chain has no head")))?;
    let checkpoint = checkpoint.filter(|cp| cp.seq >= 1 && cp.seq <= head_seq);
    let mut start = seqs.first().copied().unwrap_or(head_seq);
    if let Some(cp) = &checkpoint {
        start = start.min(cp.seq);
    }
    let mut entries = Vec::new();
    let mut after = start - 1;
    while after < head_seq {
        let rows = audit::list(store, Chain::Org(org), after, 1000).await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            if r.seq > head_seq {
                break;
            }
            after = r.seq;
            let entry = seqs.contains(&r.seq).then(|| EntryContent {
                at: r.at,
                org_id: r.org_id.clone(),
                actor_id: r.actor_id.clone(),
                action: r.action.clone(),
                object_type: r.object_type.clone(),
                object_id: r.object_id.clone(),
                details: r.details.clone(),
            });
            entries.push(SegmentEntry {
                seq: r.seq,
                prev_hash: r.prev_hash,
                hash: r.hash,
                entry,
            });
        }
    }
    Ok(AuditSegment {
        v: 1,
        chain: org.to_owned(),
        objects,
        head: SegmentHead {
            seq: head_seq,
            hash: head_hash,
        },
        entries,
        checkpoint,
    })
}

/// An instant of a query: RFC 3339 (`2026-11-02T10:00:00+01:00`) or a date (`2026-11-02`,
/// midnight UTC; as an end, `end_of_day` moves it to the next midnight so the day counts).
pub fn parse_instant(s: &str, end_of_day: bool) -> Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(Error::Invalid(format!(
        "data non valida {s:?}: usa AAAA-MM-GG o RFC 3339 (2026-11-02T10:00:00+01:00) / \
         invalid date {s:?}: use YYYY-MM-DD or RFC 3339 (2026-11-02T10:00:00+01:00)"
    )))
}

/// The note standing for a purged message in a pack or an export: what remains of it.
pub fn purged_note(m: &crate::store::messages::MessageRow) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(&serde_json::json!({
        "purged": true,
        "purged_at": m.purged_at.map(crate::store::ms_to_rfc3339),
        "id": m.id,
        "sha256": m.raw_sha256,
        "identificativo": m.identificativo,
        "kind": m.kind,
        "received_at": crate::store::ms_to_rfc3339(m.received_at),
        "message": "messaggio eliminato definitivamente da un amministratore (purge, voce \
                    di audit mailbox.purge): il contenuto non esiste più / message purged by \
                    an administrator (audit entry mailbox.purge): its content no longer exists",
    }))
    .map_err(|e| Error::Internal(e.into()))
}
