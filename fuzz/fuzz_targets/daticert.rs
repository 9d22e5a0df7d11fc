//! Fuzz target: the tolerant `daticert.xml` parser, from bytes and from text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pecdesk_core::daticert;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = daticert::parse(data) {
        let _ = d.issued_at();
        let _ = d.msgid_unescaped();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = daticert::parse_text(text);
    }
});
