//! Sending an activity's reply: the draft composed into a real message (from the
//! activity's mailbox, threaded on the linked messages, with the draft's uploaded files)
//! and queued in the outbox in the same transaction as the send's status change
//! ([`super::flow::move_to`]). The worker (`crate::outbox`) delivers it.

use crate::error::{Error, Result};
use crate::outbox::compose::{self, FilePart, Outgoing, ReceiptType};
use crate::store::draft_files;
use crate::store::outbox::{self as store_outbox, NewOutgoing, Origin};
use crate::store::{Store, WriteTx};

use super::DraftRequest;

/// A reply ready to queue.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Our Message-ID (no angle brackets).
    pub message_id: String,
    /// The mailbox's address (MAIL FROM).
    pub from: String,
    /// Every RCPT TO.
    pub recipients: Vec<String>,
    /// The composed message.
    pub raw: Vec<u8>,
    /// The draft version it carries.
    pub draft_version: i64,
}

/// In-Reply-To and References from the linked messages: each one's Message-ID (for a PEC,
/// the envelope's) preceded by its original's (`X-Riferimento-Message-ID`), oldest first;
/// the reply answers the latest.
async fn thread(store: &Store, activity_id: &str) -> Result<(Option<String>, Vec<String>)> {
    let rows = crate::store::activities::thread(store, activity_id).await?;
    let mut refs: Vec<String> = Vec::new();
    let mut last = None;
    for (mid, summary) in rows {
        let original = serde_json::from_str::<pecdesk_core::Summary>(&summary)
            .ok()
            .and_then(|s| s.original_message_id);
        for id in [original, mid.clone()].into_iter().flatten() {
            if !refs.contains(&id) {
                refs.push(id);
            }
        }
        if mid.is_some() {
            last = mid;
        }
    }
    Ok((last, refs))
}

/// The mailbox's address, refusing (409) a mailbox without SMTP settings.
async fn sender(store: &Store, mailbox_id: &str) -> Result<String> {
    let row = crate::store::mailboxes::sending_address(store, mailbox_id).await?;
    match row {
        Some((address, true)) => Ok(address),
        Some(_) => Err(Error::conflict(
            "la casella non ha impostazioni di invio (SMTP): un amministratore deve configurarle \
             prima di inviare / the mailbox has no sending (SMTP) settings: an administrator \
             must configure them before sending",
        )),
        None => Err(Error::NotFound),
    }
}

/// Composes the draft `content` (version `draft_version`) of activity `activity_id`.
/// Refuses a draft without recipients (422), naming a file not uploaded (422), from a
/// mailbox that cannot send (409).
pub async fn prepare(
    store: &Store,
    activity_id: &str,
    mailbox_id: &str,
    draft_version: i64,
    content: &str,
) -> Result<Prepared> {
    let draft: DraftRequest = serde_json::from_str(content).unwrap_or_default();
    if draft.to.is_empty() {
        return Err(Error::invalid(
            "la bozza non ha destinatari: aggiungi almeno un indirizzo in `to` / the draft has \
             no recipients: add at least one address to `to`",
        ));
    }
    let from = sender(store, mailbox_id).await?;
    let mut files = Vec::with_capacity(draft.attachments.len());
    for name in &draft.attachments {
        let f = draft_files::get(store, activity_id, name)
            .await?
            .ok_or_else(|| {
                Error::invalid(format!(
                    "allegato {name:?} non caricato: caricalo o toglilo dalla bozza / attachment \
                     {name:?} not uploaded: upload it or remove it from the draft"
                ))
            })?;
        files.push(FilePart {
            name: f.name,
            content_type: f.content_type,
            content: f.content,
        });
    }
    let (in_reply_to, references) = thread(store, activity_id).await?;
    let out = Outgoing {
        from: &from,
        to: &draft.to,
        cc: &draft.cc,
        subject: &draft.subject,
        body: &draft.body,
        attachments: &files,
        in_reply_to: in_reply_to.as_deref(),
        references: &references,
        receipt: ReceiptType::Completa,
    };
    let message_id = compose::new_message_id(&from);
    let raw = compose::compose(&out, &message_id)?;
    Ok(Prepared {
        recipients: out.recipients(),
        message_id,
        from,
        raw,
        draft_version,
    })
}

/// Queues the prepared reply in the caller's transaction; returns the outbox row's id.
pub async fn enqueue(
    tx: &mut WriteTx,
    org_id: &str,
    mailbox_id: &str,
    activity_id: &str,
    p: &Prepared,
    now: i64,
) -> Result<String> {
    store_outbox::enqueue(
        tx,
        &NewOutgoing {
            org_id,
            mailbox_id,
            message_id: &p.message_id,
            origin: Origin::Reply {
                activity_id,
                draft_version: p.draft_version,
            },
            envelope_from: &p.from,
            recipients: &p.recipients,
            raw: &p.raw,
            held: false,
            now,
        },
    )
    .await
}
