//! Import of a trusted list in the ETSI TS 119 612 XML format, the form in which AgID
//! publishes the accredited PEC providers.
//!
//! Only the essentials are read: each `TrustServiceProvider`'s `TSPName` (and
//! `TSPTradeName`), the `mailto:` addresses of its `ElectronicAddress`, and the
//! `X509Certificate`s of its services' `ServiceDigitalIdentity`. Elements are matched by
//! local name (any namespace prefix). The list's own XML signature is NOT checked: import
//! a file you downloaded from AgID over HTTPS.

use base64::Engine as _;
use quick_xml::Reader;
use quick_xml::events::Event;

use super::crypto::Cert;
use super::providers::Provider;

/// Largest number of providers and certificates read (a hostile file stays bounded).
const MAX_PROVIDERS: usize = 1_000;
const MAX_CERTIFICATES: usize = 100;

/// Reads an ETSI TS 119 612 trusted list into provider entries; `source` names the file.
/// Fails on malformed XML and when no provider carries a readable certificate.
pub fn parse_trusted_list(xml: &[u8], source: &str) -> Result<Vec<Provider>, String> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    // Path of local names from the root.
    let mut path: Vec<String> = Vec::new();
    let mut providers: Vec<Provider> = Vec::new();
    let mut current: Option<Provider> = None;
    let mut issued: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if name == "TrustServiceProvider" && providers.len() < MAX_PROVIDERS {
                    current = Some(Provider::default());
                }
                path.push(name);
            }
            Ok(Event::End(_)) => {
                if path.pop().as_deref() == Some("TrustServiceProvider")
                    && let Some(provider) = current.take()
                {
                    providers.push(provider);
                }
            }
            Ok(Event::Text(text)) => {
                let text = text.decode().unwrap_or_default().trim().to_owned();
                record(&path, &text, current.as_mut(), &mut issued);
            }
            Ok(Event::CData(text)) => {
                let text = text.decode().unwrap_or_default().trim().to_owned();
                record(&path, &text, current.as_mut(), &mut issued);
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
    let issued = issued.map(|d| format!(", issued {d}")).unwrap_or_default();
    let providers: Vec<Provider> = providers
        .into_iter()
        .filter(|p| !p.certificates.is_empty() && !p.name.is_empty())
        .map(|mut p| {
            p.source = format!("ETSI TS 119 612 trusted list {source}{issued}");
            p
        })
        .collect();
    if providers.is_empty() {
        return Err(
            "nessun gestore con certificati nell'elenco / no provider with a certificate in the trusted list"
                .to_owned(),
        );
    }
    Ok(providers)
}

fn record(
    path: &[String],
    text: &str,
    provider: Option<&mut Provider>,
    issued: &mut Option<String>,
) {
    if text.is_empty() {
        return;
    }
    let last = path.last().map(String::as_str);
    let within = |name: &str| path.iter().any(|p| p == name);
    if last == Some("ListIssueDateTime") && !within("TrustServiceProvider") {
        *issued = Some(text.to_owned());
        return;
    }
    let Some(provider) = provider else {
        return;
    };
    // Only the provider's own information and its services' identities.
    let in_info = within("TSPInformation");
    match last {
        Some("Name") if in_info && within("TSPName") => {
            if provider.name.is_empty() {
                provider.name = text.to_owned();
            }
            push_new(&mut provider.names, text);
        }
        Some("Name") if in_info && within("TSPTradeName") => push_new(&mut provider.names, text),
        Some("URI") if in_info && within("ElectronicAddress") => {
            if let Some(address) = text.strip_prefix("mailto:")
                && let Some((_, domain)) = address.rsplit_once('@')
            {
                push_new(&mut provider.domains, &domain.to_ascii_lowercase());
            }
        }
        Some("X509Certificate") if within("ServiceDigitalIdentity") => {
            if provider.certificates.len() >= MAX_CERTIFICATES {
                return;
            }
            let body: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body.as_bytes()) else {
                return;
            };
            let Some(cert) = Cert::parse(&der) else {
                return;
            };
            // A signing certificate itself (not a CA) also names the provider.
            if !cert.may_issue_certificates() {
                for organisation in cert.organisations() {
                    push_new(&mut provider.organisations, &organisation);
                }
                for address in cert.email_addresses() {
                    if let Some((_, domain)) = address.rsplit_once('@') {
                        push_new(&mut provider.domains, &domain.to_ascii_lowercase());
                    }
                }
            }
            drop(cert);
            if !provider.holds(&der) {
                provider.certificates.push(der);
            }
        }
        _ => {}
    }
}

fn push_new(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_owned());
    }
}
