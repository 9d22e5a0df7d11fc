//! Mass sends (migration 0014): campaigns, their files and recipients. Each recipient's
//! message is an outbox row ([`crate::store::outbox`]); its status is read from that row
//! and the receipts of the stored copy.
