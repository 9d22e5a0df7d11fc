//! Integration tests of the companion API: every story runs on SQLite and on PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod dovecot;
mod fixtures;
mod helpers;
mod smtp_sink;

mod activities;
mod addin;
mod admin;
mod alarms;
mod approval;
mod archive;
mod audit;
mod auth;
mod campaign_e2e;
mod campaigns;
mod desk;
mod directory;
mod evidence;
mod export;
mod folders;
mod imap;
mod ingest;
mod input;
mod matrix;
mod messages;
mod migrations;
mod notifications;
mod ops;
mod outbox;
mod paging;
mod pec_summary;
mod presence;
mod receipts;
mod rules;
mod simulator;
mod sla;
mod slow_clients;
mod sso;
mod stats;
mod trust;
mod visibility;
mod webhooks;
mod workload;
