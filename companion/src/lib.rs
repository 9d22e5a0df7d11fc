//! # pecdesk-companion
//!
//! The PecDesk companion service and its command line (`pecdesk`).

pub mod auth;
pub mod cli;
pub mod inspect;
