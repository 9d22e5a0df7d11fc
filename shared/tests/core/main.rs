//! Integration tests of pecdesk-core (one test binary, see STYLE.md).

mod corpus;
mod golden;
mod properties;
mod signature;
