//! Fuzz target: the ETSI TS 119 612 trusted-list reader behind `pecdesk trust import`
//! (AgID's list of PEC providers, a file an admin downloads and hands to the companion).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pecdesk_core::signature::{parse_trusted_list, providers};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = parse_trusted_list(data, "fuzz") {
        // What an import keeps must survive the provider-list round trip it is stored in.
        let json = providers::to_json(&list, "fuzz");
        assert!(
            providers::parse_list(json.as_bytes(), None).is_ok(),
            "an imported list must read back"
        );
    }
});
