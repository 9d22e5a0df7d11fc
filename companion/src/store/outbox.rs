//! The outbox (migration 0014): one row per message to send. Written by the action that
//! asks for the send, in its own transaction ([`enqueue`]); claimed, attempted and
//! concluded by the worker (`crate::outbox`).

use crate::error::Result;
use crate::store::WriteTx;
use crate::with_tx;

/// What asked for a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// The reply draft of an activity, at this draft version.
    Reply {
        /// The activity.
        activity_id: &'a str,
        /// The draft version sent (the approved one in the approval flow).
        draft_version: i64,
    },
    /// One recipient's message of a mass send.
    Campaign {
        /// The campaign.
        campaign_id: &'a str,
    },
}

/// A message to send.
#[derive(Debug)]
pub struct NewOutgoing<'a> {
    pub org_id: &'a str,
    pub mailbox_id: &'a str,
    /// Our Message-ID (no angle brackets), as in `raw`.
    pub message_id: &'a str,
    pub origin: Origin<'a>,
    /// SMTP MAIL FROM: the mailbox's address.
    pub envelope_from: &'a str,
    /// Every SMTP RCPT TO (To and Cc).
    pub recipients: &'a [String],
    /// The message as it is submitted.
    pub raw: &'a [u8],
    /// `queued`, or `held` for a paused campaign.
    pub held: bool,
    /// Now (ms).
    pub now: i64,
}

/// Writes the row in the caller's transaction and returns its id. Nothing is sent until
/// that transaction commits.
pub async fn enqueue(tx: &mut WriteTx, m: &NewOutgoing<'_>) -> Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let (origin, activity_id, draft_version, campaign_id) = match m.origin {
        Origin::Reply {
            activity_id,
            draft_version,
        } => ("reply", Some(activity_id), Some(draft_version), None),
        Origin::Campaign { campaign_id } => ("campaign", None, None, Some(campaign_id)),
    };
    let recipients = serde_json::to_string(m.recipients).unwrap_or_else(|_| "[]".into());
    let size = i64::try_from(m.raw.len()).unwrap_or(i64::MAX);
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO outbox (id, org_id, mailbox_id, message_id, origin, activity_id, \
         draft_version, campaign_id, envelope_from, recipients, raw, size, state, not_before, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $14)"
    )
    .bind(&id)
    .bind(m.org_id)
    .bind(m.mailbox_id)
    .bind(m.message_id)
    .bind(origin)
    .bind(activity_id)
    .bind(draft_version)
    .bind(campaign_id)
    .bind(m.envelope_from)
    .bind(&recipients)
    .bind(m.raw)
    .bind(size)
    .bind(if m.held { "held" } else { "queued" })
    .bind(m.now)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(id)
}
