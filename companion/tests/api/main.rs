//! Integration tests of the companion API: every story runs on SQLite and on PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod helpers;

mod auth;
mod sso;
