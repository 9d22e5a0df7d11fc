//! # pecdesk-core
//!
//! The pure domain of PecDesk, shared by the companion service and (compiled to
//! WebAssembly) by the Outlook and Thunderbird add-ins:
//!
//! - [`pec`]: classification of every PEC message kind, extraction of the original
//!   message and the JSON summary of `PEC.md`;
//! - [`daticert`]: a tolerant parser of `daticert.xml`;
//! - [`signature`]: the S/MIME (`smime.p7s`) check over the signed part;
//! - [`activity`]: the activity state machine (standard and approval flows);
//! - [`policy`]: mailbox policies and roles;
//! - [`authz`]: every permission decision (grants, participation, state), one function;
//! - [`reconcile`]: which receipts certify which sent message, per-recipient delivery;
//! - [`rules`]: routing rules and their evaluation; [`protocol`]: Segnatura and SdI data;
//! - [`sla`]: due dates in Italian working days and office hours (the legal clock).
//!
//! Nothing here performs I/O, spawns threads or reads the clock: "now" is always a
//! parameter. Every parser takes untrusted bytes and never panics on them.

pub mod activity;
pub mod authz;
pub mod daticert;
pub mod folder;
pub mod ids;
mod iso8601;
pub mod json;
pub mod pec;
pub mod policy;
pub mod protocol;
pub mod reconcile;
pub mod rules;
pub mod signature;
pub mod sla;

pub use pec::{InspectOptions, Inspection, PecKind, Summary, inspect};
