//! Tests: signature.
