//! Domain operations over the store: who may see what, and the writes behind each endpoint.
//!
//! Security invariant: every lookup is scoped by the caller's organisation first, so an
//! id from another organisation is indistinguishable from a missing one (404).

pub mod activities;
pub mod admin;
pub mod alarms;
pub mod campaigns;
pub mod evidence;
pub mod messages;
pub mod notifications;
pub mod reconcile;
pub mod retention;
pub mod routing;
pub mod rules;
pub mod sla;
pub mod stats;
pub mod users;
pub mod webhooks;
