//! Signed documents (`.p7m`, CAdES) and the qualified CA list, on the synthetic fixtures of
//! `tests/fixtures/cades/` (made by its `make.sh` with `openssl cms -sign -nodetach`), and
//! the original-message view with a signed attachment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use pecdesk_core::pec::{original_attachment, original_view};
use pecdesk_core::signature::QualifiedCas;
use pecdesk_core::signature::cades::{
    CadesError, DocumentStatus, Integrity, Trust, read_signed_document, signed_document_content,
};
use pecdesk_core::signature::qualified::from_trusted_list;
use proptest::prelude::*;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cades")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn list() -> QualifiedCas {
    from_trusted_list(&fixture("qualified-list.xml"), "qualified-list.xml").unwrap()
}

fn base64_of_pem(name: &str) -> String {
    String::from_utf8(fixture(name))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

#[test]
fn the_trusted_list_gives_only_granted_ca_qc_services() {
    let list = list();
    assert_eq!(list.cas.len(), 1, "{list:?}");
    let ca = &list.cas[0];
    assert_eq!(ca.name, "Autorità di Certificazione di Prova S.p.A.");
    assert_eq!(ca.service, "CA qualificata di prova");
    assert_eq!(ca.country, "IT");
    assert_eq!(ca.certificates.len(), 1);
    let expected = base64_of_pem("qualified-ca.pem");
    let json = list.to_json();
    assert!(json.contains(&expected), "{json}");
    assert!(!json.contains(&base64_of_pem("other-ca.pem")));
    assert!(
        list.source
            .contains("qualified-list.xml, issued 2026-11-30T00:00:00Z")
    );
    // The file round-trips.
    assert_eq!(QualifiedCas::from_json(json.as_bytes()).unwrap(), list);
}

#[test]
fn a_signed_pdf_with_the_qualified_list_is_valid_and_names_its_signer() {
    let doc = read_signed_document(
        &fixture("documento.pdf.p7m"),
        Some("documento.pdf.p7m"),
        Some(&list()),
    )
    .unwrap();
    assert_eq!(doc.status, DocumentStatus::Valid, "{doc:?}");
    assert!(doc.problems.is_empty());
    assert_eq!(doc.name.as_deref(), Some("documento.pdf"));
    assert_eq!(doc.content_type, "application/pdf");
    assert_eq!(doc.content, fixture("documento.pdf"));
    assert_eq!(doc.size, doc.content.len());
    let signer = &doc.signers[0];
    assert_eq!(doc.signers.len(), 1);
    assert_eq!(signer.common_name.as_deref(), Some("Mario Rossi"));
    assert_eq!(signer.organization.as_deref(), Some("Comune di Prova"));
    assert_eq!(
        signer.serial_number.as_deref(),
        Some("TINIT-RSSMRA80A01H501U")
    );
    assert_eq!(signer.issuer.as_deref(), Some("PecDesk Test Qualified CA"));
    assert!(signer.signing_time.as_deref().unwrap().ends_with('Z'));
    assert_eq!(signer.integrity, Integrity::Ok);
    assert_eq!(signer.trust, Trust::Qualified);
    assert_eq!(
        signer.qualified_ca.as_deref(),
        Some("Autorità di Certificazione di Prova S.p.A.")
    );
    assert!(signer.reason.is_none());
}

#[test]
fn without_a_list_an_intact_signature_is_not_checked_and_never_valid() {
    let doc = read_signed_document(&fixture("documento.pdf.p7m"), None, None).unwrap();
    assert_eq!(doc.status, DocumentStatus::IntegrityOnly);
    assert_eq!(doc.name, None);
    assert_eq!(doc.content_type, "application/pdf", "from the magic bytes");
    let signer = &doc.signers[0];
    assert_eq!(signer.integrity, Integrity::Ok);
    assert_eq!(signer.trust, Trust::NotChecked);
    assert_eq!(
        signer.reason.as_deref(),
        Some("firma integra, firmatario Mario Rossi; elenco delle CA qualificate non caricato")
    );
    assert_eq!(doc.problems.len(), 1);
}

#[test]
fn a_changed_byte_of_the_document_breaks_the_signature() {
    let doc = read_signed_document(&fixture("alterato.pdf.p7m"), None, Some(&list())).unwrap();
    assert_eq!(doc.status, DocumentStatus::Invalid);
    assert_eq!(doc.signers[0].integrity, Integrity::Broken);
    assert!(
        doc.signers[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("modificato dopo la firma"),
        "{doc:?}"
    );
}

#[test]
fn a_changed_signature_byte_breaks_it_too() {
    let mut bytes = fixture("documento.pdf.p7m");
    // The RSA signature is the last item of the file: change its last byte.
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let doc = read_signed_document(&bytes, None, Some(&list())).unwrap();
    assert_eq!(doc.status, DocumentStatus::Invalid);
    assert_eq!(doc.signers[0].integrity, Integrity::Broken);
}

#[test]
fn pem_and_bare_base64_forms_open_like_der() {
    for (name, content_type) in [
        ("nota.txt.p7m", "text/plain"),
        ("fattura.xml.p7m", "application/xml"),
    ] {
        let bytes = fixture(name);
        assert_ne!(bytes[0], 0x30, "{name} is textual");
        let doc = read_signed_document(&bytes, Some(name), Some(&list())).unwrap();
        assert_eq!(doc.status, DocumentStatus::Valid, "{name}: {doc:?}");
        assert_eq!(doc.content_type, content_type);
        assert_eq!(signed_document_content(&bytes).unwrap(), doc.content);
    }
    assert_eq!(
        signed_document_content(&fixture("nota.txt.p7m")).unwrap(),
        fixture("nota.txt")
    );
}

#[test]
fn a_nested_p7m_reports_both_signers_and_the_innermost_document() {
    let doc = read_signed_document(
        &fixture("documento.pdf.p7m.p7m"),
        Some("documento.pdf.p7m.p7m"),
        Some(&list()),
    )
    .unwrap();
    assert_eq!(doc.status, DocumentStatus::Valid, "{doc:?}");
    assert_eq!(doc.name.as_deref(), Some("documento.pdf"));
    let names: Vec<_> = doc
        .signers
        .iter()
        .map(|s| (s.level, s.common_name.clone().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            (1, "Giulia Bianchi".to_owned()),
            (2, "Mario Rossi".to_owned())
        ]
    );
    assert_eq!(doc.content, fixture("documento.pdf"));
    assert_eq!(
        signed_document_content(&fixture("documento.pdf.p7m.p7m")).unwrap(),
        fixture("documento.pdf")
    );
}

#[test]
fn an_intermediate_carried_in_the_signature_completes_the_chain() {
    let doc = read_signed_document(&fixture("intermedia.txt.p7m"), None, Some(&list())).unwrap();
    assert_eq!(doc.status, DocumentStatus::Valid, "{doc:?}");
    assert_eq!(
        doc.signers[0].issuer.as_deref(),
        Some("PecDesk Test Qualified Sub CA")
    );
}

#[test]
fn a_signer_of_a_ca_not_granted_in_the_list_is_not_qualified() {
    let doc = read_signed_document(&fixture("esterno.txt.p7m"), None, Some(&list())).unwrap();
    assert_eq!(doc.status, DocumentStatus::IntegrityOnly);
    let signer = &doc.signers[0];
    assert_eq!(signer.integrity, Integrity::Ok);
    assert_eq!(signer.trust, Trust::NotQualified);
    assert!(
        signer
            .reason
            .as_deref()
            .unwrap()
            .contains("non è emesso da una CA qualificata"),
        "{signer:?}"
    );
}

#[test]
fn a_certificate_expired_at_the_signing_time_is_not_qualified() {
    let doc = read_signed_document(&fixture("scaduto.txt.p7m"), None, Some(&list())).unwrap();
    assert_eq!(doc.status, DocumentStatus::IntegrityOnly);
    assert_eq!(doc.signers[0].integrity, Integrity::Ok);
    assert_eq!(doc.signers[0].trust, Trust::NotQualified);
    assert!(
        doc.signers[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("non era valido all'ora della firma")
    );
}

#[test]
fn an_ecdsa_signature_is_unsupported_never_valid() {
    let doc = read_signed_document(&fixture("ecdsa.txt.p7m"), None, Some(&list())).unwrap();
    assert_eq!(doc.status, DocumentStatus::IntegrityOnly);
    let signer = &doc.signers[0];
    assert_eq!(signer.integrity, Integrity::Unsupported);
    assert!(
        signer.reason.as_deref().unwrap().contains("ECDSA"),
        "{signer:?}"
    );
    // Its content, changed, is still caught by the digest.
    let mut bytes = fixture("ecdsa.txt.p7m");
    let at = bytes.windows(8).position(|w| w == b"Determin").unwrap();
    bytes[at] = b'd';
    let doc = read_signed_document(&bytes, None, Some(&list())).unwrap();
    assert_eq!(doc.signers[0].integrity, Integrity::Broken);
    assert_eq!(doc.status, DocumentStatus::Invalid);
}

#[test]
fn a_detached_signature_and_other_files_are_errors() {
    assert_eq!(
        read_signed_document(&fixture("staccata.p7s"), None, None),
        Err(CadesError::Detached)
    );
    assert_eq!(
        signed_document_content(&fixture("documento.pdf")),
        Err(CadesError::NotSignedData)
    );
    assert_eq!(
        read_signed_document(b"  \n", None, None),
        Err(CadesError::Empty)
    );
}

#[test]
fn the_original_view_lists_a_signed_attachment_and_gives_its_bytes() {
    let p7m = fixture("documento.pdf.p7m");
    let raw = envelope_with_attachment("documento.pdf.p7m", &p7m);
    let view = original_view(&raw).unwrap();
    assert_eq!(view.source, "postacert");
    assert_eq!(view.from.as_deref(), Some("mario.rossi@pec.comune.test"));
    assert_eq!(view.from_name.as_deref(), Some("Mario Rossi"));
    assert_eq!(view.to, ["ufficio@pec.ente.test"]);
    assert_eq!(view.subject.as_deref(), Some("Determina firmata"));
    assert_eq!(
        view.text.as_deref().map(str::trim),
        Some("In allegato la determina.")
    );
    assert!(
        view.html.as_deref().unwrap().contains("<script>"),
        "raw html"
    );
    assert_eq!(view.attachments.len(), 2);
    let signed = &view.attachments[0];
    assert_eq!(signed.index, 0);
    assert_eq!(signed.name.as_deref(), Some("documento.pdf.p7m"));
    assert!(signed.signed);
    assert_eq!(signed.size, p7m.len());
    assert!(!view.attachments[1].signed);
    assert_eq!(original_attachment(&raw, 0).unwrap(), p7m);
    assert_eq!(original_attachment(&raw, 1).unwrap(), b"ciao\n");
    assert_eq!(original_attachment(&raw, 2), None);
    // The same message outside an envelope is shown as itself.
    let inner = inner_message("documento.pdf.p7m", &p7m);
    let view = original_view(inner.as_bytes()).unwrap();
    assert_eq!(view.source, "message");
    assert_eq!(view.attachments.len(), 2);
    assert_eq!(original_view(b""), None);
}

fn inner_message(name: &str, attachment: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(attachment);
    format!(
        "From: Mario Rossi <mario.rossi@pec.comune.test>\r\n\
         To: ufficio@pec.ente.test\r\n\
         Subject: Determina firmata\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0100\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n\
         --in\r\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIn allegato la determina.\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>In allegato</p><script>x()</script>\r\n\
         --alt--\r\n\
         --in\r\n\
         Content-Type: application/pkcs7-mime; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n\
         --in\r\n\
         Content-Type: text/plain; name=\"nota.txt\"\r\n\
         Content-Disposition: attachment; filename=\"nota.txt\"\r\n\r\nciao\n\r\n\
         --in--\r\n"
    )
}

fn envelope_with_attachment(name: &str, attachment: &[u8]) -> Vec<u8> {
    let inner = inner_message(name, attachment);
    format!(
        "From: \"Per conto di: mario.rossi@pec.comune.test\" <posta-certificata@pec.gestore.test>\r\n\
         To: ufficio@pec.ente.test\r\n\
         Subject: POSTA CERTIFICATA: Determina firmata\r\n\
         X-Trasporto: posta-certificata\r\n\
         X-Riferimento-Message-ID: <abc@comune.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"env\"\r\n\r\n\
         --env\r\nContent-Type: text/plain\r\n\r\nMessaggio di posta certificata\r\n\
         --env\r\nContent-Type: application/xml; name=\"daticert.xml\"\r\n\
         Content-Disposition: inline; filename=\"daticert.xml\"\r\n\r\n<postacert tipo=\"posta-certificata\" errore=\"nessuno\"/>\r\n\
         --env\r\nContent-Type: message/rfc822; name=\"postacert.eml\"\r\n\
         Content-Disposition: inline; filename=\"postacert.eml\"\r\n\r\n{inner}\r\n\
         --env--\r\n"
    )
    .into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes, and random edits of a real signed document, never panic.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let list = list();
        let _ = read_signed_document(&bytes, Some("x.p7m"), Some(&list));
        let _ = signed_document_content(&bytes);
        let mut der = vec![0x30, 0x80];
        der.extend_from_slice(&bytes);
        let _ = read_signed_document(&der, None, None);
    }

    #[test]
    fn edited_signed_documents_never_panic_nor_become_valid_when_changed(
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let list = list();
        let original = fixture("documento.pdf.p7m.p7m");
        let mut bytes = original.clone();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(doc) = read_signed_document(&bytes, None, Some(&list))
            && bytes != original
            && doc.status == DocumentStatus::Valid
        {
            // A change may only land where no signature looks: unsigned fields
            // (e.g. the certificate set's order), never the document.
            prop_assert_eq!(doc.content, fixture("documento.pdf"));
        }
    }
}

/// The two real signed documents of the public corpus (a lawyer's `.pdf.p7m` attached to a
/// Legalmail PEC): found through the original view, opened, intact (RSA, real CA), and —
/// with no qualified list here — never more than `integrity-only`.
#[test]
fn the_real_p7m_attachments_of_the_public_corpus_are_intact() {
    let Some(root) = crate::env_or_notice("PECDESK_CORPUS", "the corpus .p7m check") else {
        return;
    };
    let path = Path::new(&root).join("public/docway_legalmail_busta-trasporto.eml");
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let view = original_view(&raw).unwrap();
    let signed: Vec<_> = view.attachments.iter().filter(|a| a.signed).collect();
    assert_eq!(signed.len(), 2, "{:?}", view.attachments);
    for attachment in signed {
        let bytes = original_attachment(&raw, attachment.index).unwrap();
        let doc = read_signed_document(&bytes, attachment.name.as_deref(), None).unwrap();
        assert_eq!(doc.status, DocumentStatus::IntegrityOnly, "{doc:?}");
        assert_eq!(doc.content_type, "application/pdf");
        assert!(doc.content.starts_with(b"%PDF-"));
        assert!(doc.name.as_deref().unwrap().ends_with(".pdf"));
        for signer in &doc.signers {
            assert_eq!(signer.integrity, Integrity::Ok, "{signer:?}");
            assert_eq!(signer.trust, Trust::NotChecked);
            assert!(signer.signing_time.is_some() && signer.issuer.is_some());
        }
        // One changed byte of the PDF inside: broken.
        let at = bytes.windows(5).position(|w| w == b"%PDF-").unwrap() + 10;
        let mut changed = bytes.clone();
        changed[at] ^= 0x20;
        let doc = read_signed_document(&changed, None, None).unwrap();
        assert_eq!(doc.status, DocumentStatus::Invalid);
    }
}
