//! Fuzz target: signed documents (`.p7m`, CAdES) — DER/base64/PEM detection, the BER and
//! CMS reading with encapsulated content, nesting, the signer checks and the qualified-CA
//! chain — on hostile bytes, against the synthetic qualified list of
//! `shared/tests/fixtures/cades/` so that mutations of a valid seed reach every step.
//! Seeds: `seeds/cades/` (the fixtures' `.p7m` files, see README.md).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pecdesk_core::signature::QualifiedCas;
use pecdesk_core::signature::cades::{
    DocumentStatus, Integrity, Trust, read_signed_document, signed_document_content,
};
use pecdesk_core::signature::qualified::from_trusted_list;

const LIST: &[u8] = include_bytes!("../../shared/tests/fixtures/cades/qualified-list.xml");

static QUALIFIED: LazyLock<QualifiedCas> =
    LazyLock::new(|| from_trusted_list(LIST, "fuzz").expect("the synthetic list parses"));

fuzz_target!(|bytes: &[u8]| {
    let content = signed_document_content(bytes);
    if let Ok(doc) = read_signed_document(bytes, Some("fuzz.pdf.p7m"), Some(&QUALIFIED)) {
        // The same content either way; `valid` only when every signer is intact and
        // qualified, and then nothing to complain about.
        assert_eq!(content.as_ref().ok(), Some(&doc.content));
        if doc.status == DocumentStatus::Valid {
            assert!(doc.problems.is_empty(), "{doc:?}");
            assert!(doc.signers.iter().all(|s| s.integrity == Integrity::Ok
                && s.trust == Trust::Qualified
                && s.reason.is_none()));
        }
    }
});
