//! The list of qualified certification authorities: who may make a signed document
//! (`.p7m`, see [`super::cades`]) `valid`.
//!
//! It comes from an EU trusted list (ETSI TS 119 612, the same XML format as AgID's PEC
//! provider list read by [`super::tsl`]): every service of type
//! `http://uri.etsi.org/TrstSvc/Svctype/CA/QC` whose *current* status is `granted` (or the
//! older `accredited`) gives its certificates. Withdrawn services, other service types
//! (timestamping, QWAC...) and statuses found only in a `ServiceHistory` are left out. The
//! list's own XML signature is NOT checked: import a file downloaded over HTTPS from the
//! Member State's (for Italy AgID's) official address.
//!
//! File format (`pecdesk-qualified-cas/1`, JSON), written by `pecdesk trust import
//! --qualified FILE.xml`, served to the pane at `/addin/trust/qualified.json`:
//!
//! ```json
//! {
//!   "format": "pecdesk-qualified-cas/1",
//!   "source": "where the list comes from",
//!   "cas": [{
//!     "name": "Trust service provider (TSPName)",
//!     "service": "Service name",
//!     "country": "IT",
//!     "certificates": ["MIIF..."]       // base64 DER (PEM armour allowed)
//!   }]
//! }
//! ```

use base64::Engine as _;
use quick_xml::Reader;
use quick_xml::events::Event;
use serde::{Deserialize, Serialize};

/// The `format` value of a qualified CA list file.
pub const FORMAT: &str = "pecdesk-qualified-cas/1";

/// The ETSI service type of a CA issuing qualified certificates.
const CA_QC: &str = "http://uri.etsi.org/TrstSvc/Svctype/CA/QC";
/// Bounds on what one file may hold (the whole EU has a few thousand CA/QC certificates).
const MAX_SERVICES: usize = 20_000;
const MAX_CERTIFICATES_PER_SERVICE: usize = 100;

/// One qualified CA service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QualifiedCa {
    /// The trust service provider (`TSPName`).
    pub name: String,
    /// The service's own name (`ServiceName`).
    pub service: String,
    /// The list's territory (`SchemeTerritory`, `IT`, ...), when given.
    pub country: String,
    /// DER certificates of the service (its CA certificates).
    pub certificates: Vec<Vec<u8>>,
}

/// A loaded list of qualified CAs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QualifiedCas {
    /// Where the list comes from.
    pub source: String,
    pub cas: Vec<QualifiedCa>,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct ListFile {
    format: String,
    #[serde(default)]
    source: String,
    cas: Vec<CaFile>,
}

// Read by the core's own JSON reader (`crate::json`), as the provider list is.
crate::from_json_struct!(ListFile, "struct ListFile", ListFile::default(), {
    format: "format" = true,
    source: "source" = false,
    cas: "cas" = true,
});

crate::from_json_struct!(CaFile, "struct CaFile", CaFile::default(), {
    name: "name" = true,
    service: "service" = false,
    country: "country" = false,
    certificates: "certificates" = true,
});

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct CaFile {
    name: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    country: String,
    certificates: Vec<String>,
}

impl QualifiedCas {
    /// Reads a `pecdesk-qualified-cas/1` file. Refuses another format, an entry without
    /// certificates and an unreadable certificate, and an empty list: a list that trusts
    /// less (or more) than it says is worse than none.
    pub fn from_json(json: &[u8]) -> Result<Self, String> {
        let file: ListFile = crate::json::from_slice(json).map_err(|e| {
            format!("elenco delle CA qualificate illeggibile / unreadable qualified CA list: {e}")
        })?;
        if file.format != FORMAT {
            return Err(format!(
                "formato dell'elenco delle CA qualificate sconosciuto / unknown qualified CA list format {:?} (expected {FORMAT:?})",
                file.format
            ));
        }
        let cas = file
            .cas
            .into_iter()
            .map(|entry| {
                let certificates = entry
                    .certificates
                    .iter()
                    .map(|text| decode_certificate(text))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        format!(
                            "{}: certificato illeggibile / unreadable certificate",
                            entry.name
                        )
                    })?;
                if certificates.is_empty() {
                    return Err(format!(
                        "{}: nessun certificato / no certificate",
                        entry.name
                    ));
                }
                Ok(QualifiedCa {
                    name: entry.name,
                    service: entry.service,
                    country: entry.country,
                    certificates,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if cas.is_empty() {
            return Err(
                "nessuna CA nell'elenco delle CA qualificate / no CA in the qualified CA list"
                    .to_owned(),
            );
        }
        Ok(Self {
            source: file.source,
            cas,
        })
    }

    /// Writes the list as a `pecdesk-qualified-cas/1` file (base64 DER certificates).
    pub fn to_json(&self) -> String {
        let file = ListFile {
            format: FORMAT.to_owned(),
            source: self.source.clone(),
            cas: self
                .cas
                .iter()
                .map(|ca| CaFile {
                    name: ca.name.clone(),
                    service: ca.service.clone(),
                    country: ca.country.clone(),
                    certificates: ca
                        .certificates
                        .iter()
                        .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
                        .collect(),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Every CA certificate with the provider it belongs to.
    pub(crate) fn certificates(&self) -> impl Iterator<Item = (&QualifiedCa, &[u8])> {
        self.cas
            .iter()
            .flat_map(|ca| ca.certificates.iter().map(move |der| (ca, der.as_slice())))
    }
}

fn decode_certificate(text: &str) -> Option<Vec<u8>> {
    super::crypto::decode_certificate_text(text)
}

/// The service being read.
#[derive(Debug, Default)]
struct Service {
    kind: String,
    status: String,
    name: String,
    certificates: Vec<Vec<u8>>,
}

/// Reads the qualified CAs of an ETSI TS 119 612 trusted list; `source` names the file.
/// Fails on malformed XML and when no granted CA/QC service carries a readable
/// certificate.
pub fn from_trusted_list(xml: &[u8], source: &str) -> Result<QualifiedCas, String> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut territory = String::new();
    let mut issued: Option<String> = None;
    let mut provider = String::new();
    let mut service: Option<Service> = None;
    let mut cas: Vec<QualifiedCa> = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                match name.as_str() {
                    "TrustServiceProvider" => provider.clear(),
                    "TSPService" => service = Some(Service::default()),
                    _ => {}
                }
                path.push(name);
            }
            Ok(Event::End(_)) => {
                if path.pop().as_deref() == Some("TSPService")
                    && let Some(done) = service.take()
                    && is_granted_ca_qc(&done)
                    && cas.len() < MAX_SERVICES
                {
                    cas.push(QualifiedCa {
                        name: provider.clone(),
                        service: done.name,
                        country: territory.clone(),
                        certificates: done.certificates,
                    });
                }
            }
            Ok(Event::Text(text)) => {
                let text = text.decode().unwrap_or_default().trim().to_owned();
                let target = Target {
                    territory: &mut territory,
                    issued: &mut issued,
                    provider: &mut provider,
                    service: service.as_mut(),
                };
                record(&path, &text, target);
            }
            Ok(Event::CData(text)) => {
                let text = text.decode().unwrap_or_default().trim().to_owned();
                let target = Target {
                    territory: &mut territory,
                    issued: &mut issued,
                    provider: &mut provider,
                    service: service.as_mut(),
                };
                record(&path, &text, target);
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "elenco XML illeggibile / unreadable trusted list XML: {e} (byte {})",
                    reader.error_position()
                ));
            }
        }
    }
    cas.retain(|ca| !ca.certificates.is_empty());
    if cas.is_empty() {
        return Err(
            "nessuna CA qualificata (CA/QC, granted) con certificati nell'elenco / no granted CA/QC service with a certificate in the trusted list"
                .to_owned(),
        );
    }
    let issued = issued.map(|d| format!(", issued {d}")).unwrap_or_default();
    Ok(QualifiedCas {
        source: format!("ETSI TS 119 612 trusted list {source}{issued}"),
        cas,
    })
}

/// A service of type CA/QC whose current status is `granted` (or, in lists before
/// eIDAS, `accredited`).
fn is_granted_ca_qc(service: &Service) -> bool {
    let status = service.status.rsplit('/').next().unwrap_or_default();
    service.kind == CA_QC && matches!(status, "granted" | "accredited")
}

/// Where the text of an element goes.
struct Target<'a> {
    territory: &'a mut String,
    issued: &'a mut Option<String>,
    provider: &'a mut String,
    service: Option<&'a mut Service>,
}

fn record(path: &[String], text: &str, target: Target<'_>) {
    if text.is_empty() {
        return;
    }
    let last = path.last().map(String::as_str);
    let within = |name: &str| path.iter().any(|p| p == name);
    if !within("TrustServiceProvider") {
        match last {
            Some("SchemeTerritory") => *target.territory = text.to_owned(),
            Some("ListIssueDateTime") => *target.issued = Some(text.to_owned()),
            _ => {}
        }
        return;
    }
    if last == Some("Name") && within("TSPInformation") && within("TSPName") {
        if target.provider.is_empty() {
            *target.provider = text.to_owned();
        }
        return;
    }
    // Only the service's current information: a ServiceHistory repeats the same elements
    // with past statuses.
    let Some(service) = target.service else {
        return;
    };
    if within("ServiceHistory") || !within("ServiceInformation") {
        return;
    }
    match last {
        Some("ServiceTypeIdentifier") => service.kind = text.to_owned(),
        Some("ServiceStatus") => service.status = text.to_owned(),
        Some("Name") if within("ServiceName") && service.name.is_empty() => {
            service.name = text.to_owned();
        }
        Some("X509Certificate") if within("ServiceDigitalIdentity") => {
            if service.certificates.len() >= MAX_CERTIFICATES_PER_SERVICE {
                return;
            }
            if let Some(der) = decode_certificate(text)
                && !service.certificates.contains(&der)
            {
                service.certificates.push(der);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_list_file_reads_as_serde_json_reads_it() {
        use crate::json::agree::{Shape, check};
        let ca = Shape::Struct(vec![
            ("name", Shape::Str),
            ("service", Shape::Str),
            ("country", Shape::Str),
            ("certificates", Shape::Seq(Box::new(Shape::Str))),
        ]);
        let file = Shape::Struct(vec![
            ("format", Shape::Str),
            ("source", Shape::Str),
            ("cas", Shape::Seq(Box::new(ca))),
        ]);
        check::<ListFile>(&file, 0x5eed_0006, 20_000);
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(QualifiedCas::from_json(b"{").is_err());
        assert!(QualifiedCas::from_json(br#"{"format": "other/1", "cas": []}"#).is_err());
        assert!(
            QualifiedCas::from_json(br#"{"format": "pecdesk-qualified-cas/1", "cas": []}"#)
                .is_err()
        );
        let garbage = br#"{"format": "pecdesk-qualified-cas/1", "cas": [
            {"name": "X", "certificates": ["AAAA"]}]}"#;
        assert!(QualifiedCas::from_json(garbage).is_err());
        let empty = br#"{"format": "pecdesk-qualified-cas/1", "cas": [
            {"name": "X", "certificates": []}]}"#;
        assert!(QualifiedCas::from_json(empty).is_err());
        assert!(from_trusted_list(b"<a><b></a>", "x").is_err());
        assert!(from_trusted_list(b"<TrustServiceStatusList/>", "x").is_err());
    }
}
