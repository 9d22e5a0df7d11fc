//! The list of accredited PEC providers (gestori): who may make a signature `valid`.
//!
//! File format (`pecdesk-pec-providers/1`, JSON):
//!
//! ```json
//! {
//!   "format": "pecdesk-pec-providers/1",
//!   "source": "where the list comes from",
//!   "providers": [{
//!     "name": "Aruba PEC S.p.A.",
//!     "names": ["Aruba PEC S.p.A."],          // spellings of daticert `gestore-emittente`
//!     "organisations": ["Aruba PEC S.p.A."],  // `O=` of the provider's signing certificates
//!     "domains": ["pec.aruba.it"],            // domains of its `posta-certificata@...`
//!     "certificates": ["sha256:HEX", "MIIF..."],
//!     "source": "where this entry comes from"
//!   }]
//! }
//! ```
//!
//! `certificates` are the CAs that issue the provider's signing certificates (or those
//! certificates themselves): each either `sha256:` and the SHA-256 of a certificate's DER
//! found in the PEM bundle given beside the file, or the certificate itself as base64 DER
//! (PEM armour allowed). The built-in list is `providers/providers.json` with its bundle
//! `providers/ca.pem`; `pecdesk trust import` writes imported lists with inline certificates.
//!
//! Names compare without case, spaces or punctuation (`Sogei SpA` is `Sogei S.p.A.`);
//! domains without case.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::crypto::Cert;

/// The `format` value of a provider list file.
pub const FORMAT: &str = "pecdesk-pec-providers/1";

const BUILTIN_JSON: &[u8] = include_bytes!("providers/providers.json");
/// The certificates of `providers/ca.pem` as DER, one after another, decoded by `build.rs`
/// (base64 text gzips to almost twice the size of the DER in the add-ins' module).
const BUILTIN_CA_DER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin-ca.der"));
#[cfg(test)]
const BUILTIN_CA: &[u8] = include_bytes!("providers/ca.pem");

/// One accredited PEC provider.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provider {
    /// Display name (reported as `signature.provider`).
    pub name: String,
    /// Spellings of daticert `gestore-emittente` that name this provider.
    pub names: Vec<String>,
    /// `O=` of the provider's signing certificates.
    pub organisations: Vec<String>,
    /// Domains of the provider's `posta-certificata@` address.
    pub domains: Vec<String>,
    /// DER certificates: the CAs that issue the signing certificates, or those certificates.
    pub certificates: Vec<Vec<u8>>,
    /// Where the entry comes from.
    pub source: String,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct ListFile {
    format: String,
    #[serde(default)]
    source: String,
    providers: Vec<ProviderFile>,
}

// Read by the core's own JSON reader (`crate::json`: the add-ins' module links no serde_json
// deserializer); the serde derive stays for the CLI's writer and the test that compares them.
crate::from_json_struct!(ListFile, "struct ListFile", ListFile::default(), {
    format: "format" = true,
    source: "source" = false,
    providers: "providers" = true,
});

crate::from_json_struct!(ProviderFile, "struct ProviderFile", ProviderFile::default(), {
    name: "name" = true,
    names: "names" = false,
    organisations: "organisations" = false,
    domains: "domains" = false,
    certificates: "certificates" = true,
    source: "source" = false,
});

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct ProviderFile {
    name: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    organisations: Vec<String>,
    #[serde(default)]
    domains: Vec<String>,
    certificates: Vec<String>,
    #[serde(default)]
    source: String,
}

/// The built-in list (the providers seen in the public corpus; see `providers.json`).
pub fn builtin() -> Vec<Provider> {
    // A test proves the embedded files parse; an empty list would only make every
    // signature untrusted, never valid.
    parse_list_with_bundle(BUILTIN_JSON, &builtin_bundle()).unwrap_or_default()
}

/// The certificates of [`BUILTIN_CA_DER`], each checked to parse (as
/// [`super::TrustAnchors::from_pem`] checks a PEM bundle's).
fn builtin_bundle() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = BUILTIN_CA_DER;
    while let Ok((item, after)) = super::ber::Tlv::read(rest) {
        if Cert::parse(item.raw).is_some() {
            out.push(item.raw.to_vec());
        }
        rest = after;
    }
    out
}

/// Reads a provider list file; `pem` is the bundle its `sha256:` references point into.
/// Refuses a file of another format, an entry without certificates and an unreadable
/// certificate: a list that silently trusts less (or more) than it says is worse than none.
pub fn parse_list(json: &[u8], pem: Option<&[u8]>) -> Result<Vec<Provider>, String> {
    let bundle = match pem {
        Some(pem) => super::TrustAnchors::from_pem(pem)?.certificates,
        None => Vec::new(),
    };
    parse_list_with_bundle(json, &bundle)
}

/// [`parse_list`] with the bundle already decoded.
fn parse_list_with_bundle(json: &[u8], bundle: &[Vec<u8>]) -> Result<Vec<Provider>, String> {
    let file: ListFile = crate::json::from_slice(json)
        .map_err(|e| format!("elenco dei gestori illeggibile / unreadable provider list: {e}"))?;
    if file.format != FORMAT {
        return Err(format!(
            "formato dell'elenco dei gestori sconosciuto / unknown provider list format {:?} (expected {FORMAT:?})",
            file.format
        ));
    }
    file.providers
        .into_iter()
        .map(|entry| {
            let certificates = entry
                .certificates
                .iter()
                .map(|reference| resolve(reference, bundle))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", entry.name))?;
            if certificates.is_empty() {
                return Err(format!(
                    "{}: nessun certificato / no certificate",
                    entry.name
                ));
            }
            Ok(Provider {
                name: entry.name,
                names: entry.names,
                organisations: entry.organisations,
                domains: entry.domains,
                certificates,
                source: entry.source,
            })
        })
        .collect()
}

/// Writes `providers` as a provider list file with inline (base64 DER) certificates.
pub fn to_json(providers: &[Provider], source: &str) -> String {
    let file = ListFile {
        format: FORMAT.to_owned(),
        source: source.to_owned(),
        providers: providers
            .iter()
            .map(|p| ProviderFile {
                name: p.name.clone(),
                names: p.names.clone(),
                organisations: p.organisations.clone(),
                domains: p.domains.clone(),
                certificates: p
                    .certificates
                    .iter()
                    .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
                    .collect(),
                source: p.source.clone(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

fn resolve(reference: &str, bundle: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    if let Some(hex) = reference.strip_prefix("sha256:") {
        let wanted = hex.trim().to_ascii_lowercase();
        return bundle
            .iter()
            .find(|der| hex_lower(&Sha256::digest(der)) == wanted)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "certificato {hex} assente dal PEM / certificate {hex} not in the PEM bundle"
                )
            });
    }
    super::crypto::decode_certificate_text(reference)
        .ok_or_else(|| "certificato illeggibile / unreadable certificate".to_owned())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A name without case, spaces or punctuation: `ARUBA PEC S.p.A.` and `Aruba PEC SpA`
/// are the same provider.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let key = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (a, b) = (key(a), key(b));
    !a.is_empty() && a == b
}

impl Provider {
    /// Whether `der` is one of this provider's certificates.
    pub(crate) fn holds(&self, der: &[u8]) -> bool {
        self.certificates.iter().any(|c| c.as_slice() == der)
    }

    /// Whether the signer certificate is this provider's: listed itself, or its `O=` is
    /// one of the provider's names, or its e-mail address's domain is the provider's.
    pub(crate) fn identifies(&self, signer: &Cert<'_>) -> bool {
        self.holds(signer.der)
            || signer.organisations().iter().any(|o| self.is_named(o))
            || signer
                .email_addresses()
                .iter()
                .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d.to_owned()))
                .any(|d| self.has_domain(&d))
    }

    /// Whether `domain` is one of the provider's.
    pub(crate) fn has_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Whether `name` (daticert's `gestore-emittente`, a certificate's `O=`) names this
    /// provider.
    pub(crate) fn is_named(&self, name: &str) -> bool {
        std::iter::once(&self.name)
            .chain(&self.names)
            .chain(&self.organisations)
            .any(|n| same_name(n, name))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_list_file_reads_as_serde_json_reads_it() {
        use crate::json::agree::{Shape, check};
        let strings = || Shape::Seq(Box::new(Shape::Str));
        let provider = Shape::Struct(vec![
            ("name", Shape::Str),
            ("names", strings()),
            ("organisations", strings()),
            ("domains", strings()),
            ("certificates", strings()),
            ("source", Shape::Str),
        ]);
        let file = Shape::Struct(vec![
            ("format", Shape::Str),
            ("source", Shape::Str),
            ("providers", Shape::Seq(Box::new(provider))),
        ]);
        check::<ListFile>(&file, 0x5eed_0005, 20_000);
        // The built-in list reads the same either way.
        let ours: ListFile = crate::json::from_slice(BUILTIN_JSON).unwrap();
        let theirs: ListFile = serde_json::from_slice(BUILTIN_JSON).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn the_builtin_list_parses_and_every_entry_says_where_it_comes_from() {
        let list = parse_list(BUILTIN_JSON, Some(BUILTIN_CA)).unwrap();
        assert_eq!(list.len(), 3);
        for provider in &list {
            assert!(!provider.source.is_empty(), "{}", provider.name);
            assert!(!provider.domains.is_empty(), "{}", provider.name);
            assert!(!provider.organisations.is_empty(), "{}", provider.name);
            for der in &provider.certificates {
                assert!(Cert::parse(der).unwrap().may_issue_certificates());
            }
        }
        assert_eq!(builtin(), list);
    }

    /// `build.rs` decodes `ca.pem` to exactly its certificates, in order.
    #[test]
    fn the_embedded_der_bundle_is_the_pem_bundle() {
        let pem = super::super::TrustAnchors::from_pem(BUILTIN_CA)
            .unwrap()
            .certificates;
        assert_eq!(builtin_bundle(), pem);
        assert_eq!(BUILTIN_CA_DER, pem.concat());
    }

    #[test]
    fn names_compare_without_case_spaces_or_punctuation() {
        assert!(same_name("Sogei SpA", "Sogei S.p.A."));
        assert!(same_name("ARUBA PEC S.p.A.", "Aruba PEC S.p.A."));
        assert!(!same_name("Aruba PEC S.p.A.", "InfoCert S.p.A."));
        assert!(!same_name("", "..."));
    }

    #[test]
    fn a_list_round_trips_through_the_inline_form() {
        let list = builtin();
        let json = to_json(&list, "test");
        assert_eq!(parse_list(json.as_bytes(), None).unwrap(), list);
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(parse_list(b"{", None).is_err());
        assert!(parse_list(br#"{"format": "other/1", "providers": []}"#, None).is_err());
        let missing = br#"{"format": "pecdesk-pec-providers/1", "providers": [
            {"name": "X", "certificates": ["sha256:00"]}]}"#;
        assert!(parse_list(missing, Some(BUILTIN_CA)).is_err());
        let empty = br#"{"format": "pecdesk-pec-providers/1", "providers": [
            {"name": "X", "certificates": []}]}"#;
        assert!(parse_list(empty, None).is_err());
        let garbage = br#"{"format": "pecdesk-pec-providers/1", "providers": [
            {"name": "X", "certificates": ["AAAA"]}]}"#;
        assert!(parse_list(garbage, None).is_err());
    }
}
