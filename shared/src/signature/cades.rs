//! Signed documents (`.p7m`, CAdES): a CMS `SignedData` with the document *inside*
//! (encapsulated content), as Italian qualified electronic signatures produce them
//! (Dike, ArubaSign, FirmaCerta...). Often attached to a PEC.
//!
//! What is read and checked, for each signer of each level (a `.p7m.p7m` is a signed
//! document signed again: up to [`MAX_DEPTH`] levels are opened):
//! 1. **integrity**: the `messageDigest` signed attribute equals the digest of the
//!    content, and the signer's RSA PKCS#1 v1.5 signature covers the signed attributes'
//!    original bytes (as for S/MIME, [`super`]). ECDSA and RSA-PSS are not implemented:
//!    such a signer is `unsupported`, never `ok` (a changed content is still `broken`:
//!    the digest is checked first);
//! 2. **trust**: with a list of qualified CAs loaded ([`QualifiedCas`], from the EU
//!    trusted lists), the signer certificate must chain (through certificates carried in
//!    the signature) to a CA of the list, every certificate of the path valid at the
//!    signing time (`signingTime` signed attribute: the core never reads the clock), and
//!    the key allowed to sign (`keyUsage` nonRepudiation or digitalSignature). Without a
//!    list the trust is `not-checked`: the signature may be intact, but nobody vouched for
//!    the signer.
//!
//! A document is `valid` only when every signer is intact and qualified. Not checked:
//! revocation (CRL/OCSP), signature timestamps (CAdES-T), the `signingCertificateV2`
//! attribute, and the qualifiers of a trusted-list service (QCForESig / QCForESeal): a
//! CA/QC granted service vouches for all its certificates here.
//!
//! Never panics on any input; the work is bounded (levels, signers, certificates, chain).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::cms::{self, SignedData, SignerInfo};
use super::crypto::{self, Cert, DigestAlg, KeyError, RawCert};
use super::qualified::{QualifiedCa, QualifiedCas};
use super::{MAX_CERTIFICATES, MAX_CHAIN, MAX_SIGNERS, identifies, iso8601, oids, x509};

/// Most levels of signature opened (`name.pdf.p7m.p7m.p7m`).
pub const MAX_DEPTH: usize = 3;

/// Whether a signer's signature matches the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Integrity {
    /// The content is the one signed, and the signature verifies with the certificate.
    Ok,
    /// The content was changed, the signature does not verify, or it cannot be read.
    Broken,
    /// An algorithm this check does not implement (ECDSA, RSA-PSS): not verified.
    Unsupported,
}

/// Whether a qualified CA vouches for the signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    /// Chains to a CA of the qualified list, valid at the signing time.
    Qualified,
    /// A list is loaded but does not vouch for the signer (the reason says why).
    NotQualified,
    /// No qualified list was given.
    NotChecked,
}

/// The verdict on the whole document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentStatus {
    /// Every signer intact and qualified.
    Valid,
    /// No signer broken, but not every one both verified and qualified (no list, a
    /// non-qualified CA, an unsupported algorithm).
    IntegrityOnly,
    /// A signer is broken (changed content, wrong signature) or no signer at all.
    Invalid,
}

/// One signer of a signed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSigner {
    /// Subject `CN`.
    pub common_name: Option<String>,
    /// Subject `O`.
    pub organization: Option<String>,
    /// Subject `serialNumber` (Italian persons: `TINIT-` and the fiscal code).
    pub serial_number: Option<String>,
    /// Issuer `CN` (else the issuer's whole name).
    pub issuer: Option<String>,
    /// `signingTime`, RFC 3339 UTC.
    pub signing_time: Option<String>,
    pub integrity: Integrity,
    pub trust: Trust,
    /// Why the signer is not intact and qualified, in Italian (`None` when it is).
    pub reason: Option<String>,
    /// 1 for the outermost signature, 2 for the one inside it, ...
    pub level: usize,
    /// The trust service provider of the qualified CA reached (`Qualified` only).
    pub qualified_ca: Option<String>,
}

/// A signed document, opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDocument {
    /// The document's file name: the given name without its `.p7m` (one per level).
    pub name: Option<String>,
    /// Content type guessed from the name, else from the first bytes.
    pub content_type: String,
    /// Size of the document in bytes.
    pub size: usize,
    /// Every signer, outermost level first.
    pub signers: Vec<DocumentSigner>,
    pub status: DocumentStatus,
    /// What is wrong, in Italian (empty when `valid`).
    pub problems: Vec<String>,
    /// The document itself (innermost content).
    #[serde(skip)]
    pub content: Vec<u8>,
}

/// Why a file cannot be opened as a signed document at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CadesError {
    #[error("the file is empty")]
    Empty,
    #[error("not a signed document (CMS SignedData, DER or base64)")]
    NotSignedData,
    #[error("a detached signature: the document is not inside the file")]
    Detached,
}

impl CadesError {
    /// The explanation in Italian.
    pub fn italian(self) -> &'static str {
        match self {
            Self::Empty => "il file è vuoto",
            Self::NotSignedData => {
                "il file non è un documento firmato (CMS SignedData, DER o base64)"
            }
            Self::Detached => "firma staccata: il documento non è contenuto nel file",
        }
    }

    /// "italiano / English", as the add-ins show errors.
    pub fn bilingual(self) -> String {
        format!("{} / {self}", self.italian())
    }
}

/// Opens a signed document and checks every signer. `name` is the attachment's file name
/// (`documento.pdf.p7m`), when known; `qualified` the list of qualified CAs (`None`: trust
/// not checked, never `valid`).
pub fn read_signed_document(
    bytes: &[u8],
    name: Option<&str>,
    qualified: Option<&QualifiedCas>,
) -> Result<SignedDocument, CadesError> {
    let mut signers = Vec::new();
    let mut problems = Vec::new();
    let mut name = name.map(str::to_owned);
    let mut current = decode(bytes)?;
    let mut level = 1;
    let content = loop {
        let signed_data =
            cms::parse_signed_data(&current).map_err(|_| CadesError::NotSignedData)?;
        let Some(content) = signed_data.content.as_deref() else {
            return Err(CadesError::Detached);
        };
        check_level(&signed_data, content, level, qualified, &mut signers);
        name = name.map(strip_p7m);
        match nested(content) {
            Some(inner) if level < MAX_DEPTH => {
                current = Cow::Owned(inner);
                level += 1;
            }
            Some(_) => {
                problems.push(format!(
                    "Più di {MAX_DEPTH} livelli di firma: il contenuto mostrato è ancora un documento firmato."
                ));
                break content.to_vec();
            }
            None => break content.to_vec(),
        }
    };
    let status = status_of(&signers);
    for signer in &signers {
        if let Some(reason) = &signer.reason {
            let who = signer
                .common_name
                .as_deref()
                .unwrap_or("firmatario sconosciuto");
            problems.push(format!("Firma di {who}: {reason}"));
        }
    }
    if signers.is_empty() {
        problems.push("Il documento non ha firmatari.".to_owned());
    }
    Ok(SignedDocument {
        content_type: guess_content_type(name.as_deref(), &content),
        name,
        size: content.len(),
        signers,
        status,
        problems,
        content,
    })
}

/// The document inside a signed file (every level opened, up to [`MAX_DEPTH`]), without
/// checking any signature.
pub fn signed_document_content(bytes: &[u8]) -> Result<Vec<u8>, CadesError> {
    let mut current = decode(bytes)?;
    for _ in 0..MAX_DEPTH {
        let signed_data =
            cms::parse_signed_data(&current).map_err(|_| CadesError::NotSignedData)?;
        let content = signed_data.content.ok_or(CadesError::Detached)?;
        match nested(&content) {
            Some(inner) => current = Cow::Owned(inner),
            None => return Ok(content.into_owned()),
        }
    }
    // Deeper than MAX_DEPTH: the content of the last level opened (still signed).
    let signed_data = cms::parse_signed_data(&current).map_err(|_| CadesError::NotSignedData)?;
    signed_data
        .content
        .map(Cow::into_owned)
        .ok_or(CadesError::Detached)
}

/// Whether `name` is a signed document's (`.p7m`), by name or by content type.
pub fn is_signed_document(name: Option<&str>, content_type: &str) -> bool {
    name.is_some_and(|n| n.trim().to_ascii_lowercase().ends_with(".p7m"))
        || matches!(
            content_type.to_ascii_lowercase().as_str(),
            "application/pkcs7-mime" | "application/x-pkcs7-mime"
        )
}

/// DER as it is, or base64 (bare, or PEM armour `-----BEGIN ...-----`) decoded.
fn decode(bytes: &[u8]) -> Result<Cow<'_, [u8]>, CadesError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(CadesError::Empty)?;
    let trimmed = &bytes[start..];
    if trimmed.first() == Some(&0x30) {
        return Ok(Cow::Borrowed(trimmed));
    }
    let body = match memchr::memmem::find(trimmed, b"-----BEGIN") {
        Some(begin) => {
            let after = &trimmed[begin..];
            let line_end = memchr::memchr(b'\n', after).ok_or(CadesError::NotSignedData)?;
            let body = &after[line_end + 1..];
            let end = memchr::memmem::find(body, b"-----END").unwrap_or(body.len());
            &body[..end]
        }
        None => trimmed,
    };
    super::mime::decode_base64(body)
        .filter(|der| der.first() == Some(&0x30))
        .map(Cow::Owned)
        .ok_or(CadesError::NotSignedData)
}

/// The inner signed file when `content` is itself a signed document with content.
fn nested(content: &[u8]) -> Option<Vec<u8>> {
    let inner = decode(content).ok()?;
    let parsed = cms::parse_signed_data(&inner).ok()?;
    parsed.content.as_ref()?;
    drop(parsed);
    Some(inner.into_owned())
}

fn strip_p7m(name: String) -> String {
    let trimmed = name.trim_end();
    let lower = trimmed.to_ascii_lowercase();
    match lower.strip_suffix(".p7m") {
        Some(rest) if !rest.is_empty() => trimmed[..rest.len()].to_owned(),
        _ => name,
    }
}

fn status_of(signers: &[DocumentSigner]) -> DocumentStatus {
    if signers.is_empty() || signers.iter().any(|s| s.integrity == Integrity::Broken) {
        DocumentStatus::Invalid
    } else if signers
        .iter()
        .all(|s| s.integrity == Integrity::Ok && s.trust == Trust::Qualified)
    {
        DocumentStatus::Valid
    } else {
        DocumentStatus::IntegrityOnly
    }
}

/// Checks the signers of one level.
fn check_level(
    signed_data: &SignedData<'_>,
    content: &[u8],
    level: usize,
    qualified: Option<&QualifiedCas>,
    out: &mut Vec<DocumentSigner>,
) {
    let bundled: Vec<Cert<'_>> = signed_data
        .certificates
        .iter()
        .take(MAX_CERTIFICATES)
        .filter_map(|der| Cert::parse(der))
        .collect();
    for signer in signed_data.signers.iter().take(MAX_SIGNERS) {
        out.push(check_signer(signer, &bundled, content, level, qualified));
    }
}

fn check_signer(
    signer: &SignerInfo<'_>,
    bundled: &[Cert<'_>],
    content: &[u8],
    level: usize,
    qualified: Option<&QualifiedCas>,
) -> DocumentSigner {
    let cert = bundled.iter().find(|cert| identifies(&signer.sid, cert));
    let mut out = DocumentSigner {
        common_name: cert.and_then(|c| c.subject_attribute(oids::COMMON_NAME)),
        organization: cert.and_then(|c| c.subject_attribute(oids::ORGANIZATION_NAME)),
        serial_number: cert.and_then(|c| c.subject_attribute(oids::SERIAL_NUMBER)),
        issuer: cert.map(|c| {
            c.issuer_attribute(oids::COMMON_NAME)
                .unwrap_or_else(|| c.issuer_string())
        }),
        signing_time: None,
        integrity: Integrity::Broken,
        trust: Trust::NotChecked,
        reason: None,
        level,
        qualified_ca: None,
    };
    let Some(cert) = cert else {
        out.reason = Some("la firma non contiene il certificato del firmatario.".to_owned());
        return out;
    };
    let (integrity, signing_time, integrity_reason) = check_integrity(signer, cert, content);
    out.integrity = integrity;
    out.signing_time = signing_time.and_then(iso8601);
    if integrity == Integrity::Broken {
        out.reason = integrity_reason;
        return out;
    }
    let who = out.common_name.as_deref().unwrap_or("sconosciuto");
    let trust_reason = match qualified {
        None => Some(format!(
            "firma integra, firmatario {who}; elenco delle CA qualificate non caricato"
        )),
        Some(list) => match qualified_ca(cert, bundled, signing_time, list) {
            Ok(ca) => {
                out.trust = Trust::Qualified;
                out.qualified_ca = Some(ca.name.clone());
                None
            }
            Err(reason) => {
                out.trust = Trust::NotQualified;
                Some(format!("firma integra, firmatario {who}; {reason}"))
            }
        },
    };
    out.reason = match (integrity, trust_reason) {
        // An unsupported algorithm is the first thing to say: nothing was verified.
        (Integrity::Unsupported, Some(trust)) => Some(format!(
            "{} ({})",
            integrity_reason.unwrap_or_default(),
            trust.replacen("firma integra, ", "", 1)
        )),
        (Integrity::Unsupported, None) => integrity_reason,
        (_, trust) => trust,
    };
    out
}

/// Digest and signature of one signer: the verdict, the signing time (seconds) and, when
/// not `Ok`, the reason in Italian.
fn check_integrity(
    signer: &SignerInfo<'_>,
    cert: &Cert<'_>,
    content: &[u8],
) -> (Integrity, Option<i64>, Option<String>) {
    let broken = |reason: &str| (Integrity::Broken, None, Some(reason.to_owned()));
    let Some(alg) = DigestAlg::from_digest_oid(signer.digest_algorithm) else {
        return (
            Integrity::Unsupported,
            None,
            Some("algoritmo di impronta non supportato: integrità non verificata.".to_owned()),
        );
    };
    let content_digest = alg.digest(content);
    let (hashed, signing_time) = match &signer.signed_attrs {
        None => (content_digest, None),
        Some(attrs) => {
            let Ok(read) = cms::read_signed_attributes(attrs) else {
                return broken("gli attributi firmati non sono leggibili.");
            };
            let Some(expected) = read.message_digest else {
                return broken("manca l'impronta del documento (messageDigest).");
            };
            if expected.as_ref() != content_digest.as_slice() {
                return broken("il documento è stato modificato dopo la firma.");
            }
            let Ok(signed_bytes) = super::signed_attributes_bytes(attrs) else {
                return broken("gli attributi firmati non sono leggibili.");
            };
            let signing_time = read.signing_time.as_ref().and_then(x509::time_seconds);
            (alg.digest(&signed_bytes), signing_time)
        }
    };
    let algorithm = signer.signature_algorithm;
    let rsa =
        algorithm == oids::RSA_ENCRYPTION || DigestAlg::from_rsa_signature_oid(algorithm).is_some();
    if !rsa {
        let what = if algorithm.starts_with(oids::ANSI_X962) {
            "firma ECDSA non supportata: integrità non verificata."
        } else if algorithm == oids::RSASSA_PSS {
            "firma RSA-PSS non supportata: integrità non verificata."
        } else {
            "algoritmo di firma non supportato: integrità non verificata."
        };
        return (Integrity::Unsupported, signing_time, Some(what.to_owned()));
    }
    match crypto::verify_rsa(cert, alg, &hashed, &signer.signature) {
        Ok(()) => (Integrity::Ok, signing_time, None),
        Err(KeyError::Unsupported) => (
            Integrity::Unsupported,
            signing_time,
            Some("chiave del firmatario non supportata: integrità non verificata.".to_owned()),
        ),
        Err(KeyError::Mismatch) => {
            broken("la firma non corrisponde al certificato del firmatario.")
        }
    }
}

/// The qualified CA vouching for the signer, or why none does (Italian).
fn qualified_ca<'q>(
    signer: &Cert<'_>,
    bundled: &[Cert<'_>],
    at: Option<i64>,
    list: &'q QualifiedCas,
) -> Result<&'q QualifiedCa, String> {
    let mut path: Vec<&Cert<'_>> = vec![signer];
    let mut current = signer;
    let mut reached = None;
    for _ in 0..MAX_CHAIN {
        if let Some(ca) = vouching_ca(current, list) {
            reached = Some(ca);
            break;
        }
        let Some(issuer) = super::crypto::next_issuer(bundled, &path, current) else {
            break;
        };
        path.push(issuer);
        current = issuer;
    }
    let ca = reached.ok_or_else(|| {
        "il certificato non è emesso da una CA qualificata dell'elenco.".to_owned()
    })?;
    let at = at.ok_or_else(|| {
        "manca l'ora della firma (signingTime): impossibile verificare la validità del certificato."
            .to_owned()
    })?;
    for cert in &path {
        let (not_before, not_after) = cert.validity();
        if at < not_before || at > not_after {
            return Err("il certificato non era valido all'ora della firma.".to_owned());
        }
    }
    if !signer.may_sign_documents() {
        return Err("il certificato non è abilitato alla firma (keyUsage).".to_owned());
    }
    Ok(ca)
}

/// The qualified CA whose certificate is `cert` itself or issued it.
fn vouching_ca<'q>(cert: &Cert<'_>, list: &'q QualifiedCas) -> Option<&'q QualifiedCa> {
    list.certificates()
        .find(|(_, der)| {
            *der == cert.der
                || (RawCert::read(der).is_ok_and(|raw| raw.subject == cert.issuer)
                    && Cert::parse(der).is_some_and(|anchor| cert.issued_by(&anchor)))
        })
        .map(|(ca, _)| ca)
}

/// `type/subtype` from the file name's extension, else from the first bytes.
pub fn guess_content_type(name: Option<&str>, content: &[u8]) -> String {
    let by_name = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, ext)| ext.trim().to_ascii_lowercase())
        .and_then(|ext| {
            Some(match ext.as_str() {
                "pdf" => "application/pdf",
                "xml" => "application/xml",
                "txt" => "text/plain",
                "htm" | "html" => "text/html",
                "csv" => "text/csv",
                "json" => "application/json",
                "eml" => "message/rfc822",
                "p7m" => "application/pkcs7-mime",
                "zip" => "application/zip",
                "png" => "image/png",
                "jpg" | "jpeg" => "image/jpeg",
                "gif" => "image/gif",
                "tif" | "tiff" => "image/tiff",
                "doc" => "application/msword",
                "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "xls" => "application/vnd.ms-excel",
                "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "odt" => "application/vnd.oasis.opendocument.text",
                "ods" => "application/vnd.oasis.opendocument.spreadsheet",
                "rtf" => "application/rtf",
                _ => return None,
            })
        });
    if let Some(found) = by_name {
        return found.to_owned();
    }
    let head = content.get(..content.len().min(512)).unwrap_or_default();
    let trimmed = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &head[i..]);
    let guessed = if head.starts_with(b"%PDF-") {
        "application/pdf"
    } else if head.starts_with(b"PK\x03\x04") {
        "application/zip"
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if head.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if head.starts_with(b"GIF8") {
        "image/gif"
    } else if trimmed.starts_with(b"<?xml") || trimmed.starts_with(b"\xef\xbb\xbf<?xml") {
        "application/xml"
    } else if std::str::from_utf8(content).is_ok() && !content.contains(&0) {
        "text/plain"
    } else {
        "application/octet-stream"
    };
    guessed.to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_one_p7m_per_level() {
        assert_eq!(strip_p7m("doc.pdf.p7m".into()), "doc.pdf");
        assert_eq!(strip_p7m("DOC.PDF.P7M".into()), "DOC.PDF");
        assert_eq!(strip_p7m(".p7m".into()), ".p7m");
        assert_eq!(strip_p7m("doc.pdf".into()), "doc.pdf");
    }

    #[test]
    fn content_types_come_from_the_name_then_the_bytes() {
        assert_eq!(guess_content_type(Some("a.PDF"), b""), "application/pdf");
        assert_eq!(guess_content_type(None, b"%PDF-1.7"), "application/pdf");
        assert_eq!(
            guess_content_type(None, b"  <?xml version"),
            "application/xml"
        );
        assert_eq!(guess_content_type(Some("x"), b"ciao"), "text/plain");
        assert_eq!(
            guess_content_type(None, &[0, 1, 2]),
            "application/octet-stream"
        );
    }

    #[test]
    fn what_is_no_signed_document_is_an_error() {
        assert_eq!(
            read_signed_document(b"", None, None),
            Err(CadesError::Empty)
        );
        assert_eq!(
            read_signed_document(b"ciao", None, None),
            Err(CadesError::NotSignedData)
        );
        assert_eq!(
            read_signed_document(&[0x30, 0x03, 0x02, 0x01, 0x01], None, None),
            Err(CadesError::NotSignedData)
        );
        assert!(
            CadesError::Detached
                .bilingual()
                .starts_with("firma staccata")
        );
    }
}
