//! Mail out: every message PecDesk sends (a reply from an activity, one message of a mass
//! send) is an outbox row written in the same transaction as the action that asks for it
//! ([`crate::store::outbox::enqueue`]), then delivered by a worker over the mailbox's SMTP
//! settings.
//!
//! - [`compose`] builds the message (our Message-ID, In-Reply-To/References, attachments,
//!   the receipt type asked of the provider).
//!
//! The worker, its throttle and its crash recovery live beside it.

pub mod compose;
