//! Fuzz target: the whole message parser (`inspect`) and the header-only classifier.
//! Seeds: `shared/tests/fixtures` (pass it as a second corpus folder).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pecdesk_core::{InspectOptions, inspect};

fuzz_target!(|data: &[u8]| {
    let inspection = inspect(data, &InspectOptions::default());
    // Every problem was put into words.
    assert_eq!(inspection.summary.problems.len(), inspection.errors.len());
    let _ = pecdesk_core::pec::classify(data);
});
