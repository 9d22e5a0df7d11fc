//! Protocol data of public bodies carried by a message, offered to routing rules
//! ([`crate::rules`]) and shown on the message:
//!
//! - a **`Segnatura.xml`** attachment (AgID interoperability between protocol registers):
//!   the sender's administration and AOO (code and name), the protocol number and date,
//!   the subject and the classification;
//! - an **e-invoicing notification of the SdI** (Sistema di Interscambio, sender
//!   `sdiNN@pec.fatturapa.it`): an attachment named `<sender>_<progressive>_<TT>_<nnn>.xml`
//!   whose `TT` is the notification type (`RC` delivery receipt, `NS` rejection, `MC`
//!   failed delivery, `NE` outcome, `MT` metadata of an invoice sent to us, `DT` terms
//!   elapsed, `AT` transmission certificate, `EC` buyer's outcome, `SE` outcome rejected),
//!   with the invoice's file name and the SdI id.
//!
//! [`extract`] walks every part of the message (the original inside `postacert.eml`
//! included, a few levels deep) and reads those XML files tolerantly: a field it cannot
//! read is absent, nothing here panics or fails on input.

use std::borrow::Cow;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use quick_xml::Reader;
use quick_xml::events::Event;
use serde::{Deserialize, Serialize};

/// The protocol data found in one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protocol {
    /// The first `Segnatura.xml` found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segnatura: Option<Segnatura>,
    /// The first SdI notification (or invoice metadata) found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdi: Option<SdiNotice>,
}

impl Protocol {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.segnatura.is_none() && self.sdi.is_none()
    }
}

/// The fields of a `Segnatura.xml` (AgID interoperability of protocol registers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segnatura {
    /// `Identificatore/CodiceAmministrazione`: the sending administration's IPA code.
    pub administration_code: Option<String>,
    /// `Identificatore/CodiceAOO`: the sending AOO (area organizzativa omogenea).
    pub aoo_code: Option<String>,
    /// `Origine/Mittente/AOO/Denominazione`: the AOO's name.
    pub aoo_name: Option<String>,
    /// `Origine/Mittente/Amministrazione/Denominazione`: the administration's name.
    pub administration_name: Option<String>,
    /// `Origine/IndirizzoTelematico`: the sender's address.
    pub sender_address: Option<String>,
    /// `Identificatore/NumeroRegistrazione`: the protocol number.
    pub protocol_number: Option<String>,
    /// `Identificatore/DataRegistrazione`: the protocol date (`YYYY-MM-DD` as written).
    pub protocol_date: Option<String>,
    /// `Intestazione/Oggetto`.
    pub subject: Option<String>,
    /// `Intestazione/Classifica/Livello`s joined by `.` (e.g. `01.01`).
    pub classification: Option<String>,
    /// `Intestazione/Classifica/Denominazione`.
    pub classification_name: Option<String>,
}

/// An SdI notification, or the metadata of an invoice the SdI delivers (`MT`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdiNotice {
    /// Two letters: `RC`, `NS`, `MC`, `NE`, `MT`, `DT`, `AT`, `EC`, `SE`.
    pub kind: String,
    /// The notification's own file name (`IT01234567890_00001_RC_001.xml`).
    pub notice_file: String,
    /// `NomeFile`: the invoice's file name.
    pub invoice_file: Option<String>,
    /// `IdentificativoSdI`.
    pub sdi_id: Option<String>,
    /// `Esito` (`EC01`, `EC02`, ...) of an outcome notification.
    pub outcome: Option<String>,
    /// The certified sender is an SdI address (`sdiNN@pec.fatturapa.it`).
    pub from_sdi: bool,
}

/// The SdI notification types, by their two-letter code.
pub const SDI_KINDS: [&str; 9] = ["RC", "NS", "MC", "NE", "MT", "DT", "AT", "EC", "SE"];

/// Root elements of the SdI's messages (namespace prefix removed); the file name tells
/// the type.
const SDI_ROOTS: [&str; 10] = [
    "RicevutaConsegna",
    "NotificaScarto",
    "RicevutaImpossibilitaRecapito",
    "NotificaMancataConsegna",
    "NotificaEsito",
    "FileMetadati",
    "NotificaDecorrenzaTermini",
    "AttestazioneTrasmissioneFattura",
    "NotificaEsitoCommittente",
    "ScartoEsitoCommittente",
];

/// XML attachments larger than this are not read (a Segnatura or a notification is a few
/// kilobytes; an invoice with embedded attachments may be large and is not needed).
const MAX_XML: usize = 512 * 1024;
/// How deep nested messages are followed (the envelope, `postacert.eml`, one forward).
const MAX_DEPTH: usize = 3;
/// Text nodes read per XML file at most.
const MAX_NODES: usize = 4096;

/// Whether `address` is an SdI sender: `sdi` followed by digits, at `pec.fatturapa.it`.
pub fn is_sdi_address(address: &str) -> bool {
    let a = address.trim().to_ascii_lowercase();
    match a.split_once('@') {
        Some((local, "pec.fatturapa.it")) => local
            .strip_prefix("sdi")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}

/// The notification type in an SdI file name `<ID>_<progressive>_<TT>_<nnn>.xml`, if the
/// name has that shape.
pub fn sdi_kind_of_name(name: &str) -> Option<&'static str> {
    let base = name.trim();
    let lower = base.to_ascii_lowercase();
    let stem = lower.strip_suffix(".xml")?;
    let parts: Vec<&str> = stem.split('_').collect();
    let [id, progressive, kind, seq] = parts.as_slice() else {
        return None;
    };
    let alnum = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if id.len() < 3 || !alnum(id) || !alnum(progressive) || progressive.len() > 5 {
        return None;
    }
    if seq.len() != 3 || !alnum(seq) {
        return None;
    }
    let kind = kind.to_ascii_uppercase();
    SDI_KINDS.iter().copied().find(|k| *k == kind)
}

/// Reads the protocol data of a raw message. `certified_sender` is the PEC's certified
/// sender (the summary's `sender`), used to tell SdI notifications. Never panics.
pub fn extract(raw: &[u8], certified_sender: Option<&str>) -> Protocol {
    let mut out = Protocol::default();
    if let Some(message) = MessageParser::default().parse(raw) {
        walk(&message, 0, &mut out);
    }
    if let Some(sdi) = &mut out.sdi {
        sdi.from_sdi = certified_sender.is_some_and(is_sdi_address);
    }
    out
}

fn walk(message: &Message<'_>, depth: usize, out: &mut Protocol) {
    for part in &message.parts {
        if out.segnatura.is_some() && out.sdi.is_some() {
            return;
        }
        match &part.body {
            PartType::Message(inner) => {
                if depth < MAX_DEPTH {
                    walk(inner, depth + 1, out);
                }
            }
            PartType::Multipart(_) => {}
            _ => {
                let Some(name) = part.attachment_name() else {
                    continue;
                };
                let name = name.trim();
                let bytes = part.contents();
                if bytes.len() > MAX_XML {
                    continue;
                }
                if out.segnatura.is_none() && name.eq_ignore_ascii_case("segnatura.xml") {
                    out.segnatura = segnatura(&nodes(bytes));
                } else if out.sdi.is_none()
                    && let Some(kind) = sdi_kind_of_name(name)
                {
                    out.sdi = sdi_notice(name, kind, &nodes(bytes));
                }
            }
        }
    }
}

/// One text node of an XML file: the path of local element names from the root, and the
/// text (trimmed, entities resolved).
#[derive(Debug)]
struct Node {
    path: Vec<String>,
    text: String,
}

/// The text nodes of an XML document, in order; stops at the first error (what was read
/// before it is kept). Empty elements give an empty-text node, so the root is known.
fn nodes(bytes: &[u8]) -> Vec<Node> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text: Cow<'_, str> = match std::str::from_utf8(bytes) {
        Ok(t) => Cow::Borrowed(t),
        // Latin-1 fallback: every byte is a character.
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    };
    let mut reader = Reader::from_str(&text);
    reader.config_mut().allow_dangling_amp = true;
    let mut stack: Vec<String> = Vec::new();
    let mut out: Vec<Node> = Vec::new();
    let mut pending = String::new();
    let flush = |stack: &[String], pending: &mut String, out: &mut Vec<Node>| {
        let t = pending.trim();
        if !t.is_empty() && !stack.is_empty() {
            out.push(Node {
                path: stack.to_vec(),
                text: t.to_owned(),
            });
        }
        pending.clear();
    };
    loop {
        if out.len() >= MAX_NODES || stack.len() > 64 {
            break;
        }
        match reader.read_event() {
            Ok(Event::Start(s)) => {
                flush(&stack, &mut pending, &mut out);
                stack.push(String::from_utf8_lossy(s.local_name().as_ref()).into_owned());
                if stack.len() == 1 {
                    out.push(Node {
                        path: stack.clone(),
                        text: String::new(),
                    });
                }
            }
            Ok(Event::Empty(s)) => {
                flush(&stack, &mut pending, &mut out);
                if stack.is_empty() {
                    out.push(Node {
                        path: vec![String::from_utf8_lossy(s.local_name().as_ref()).into_owned()],
                        text: String::new(),
                    });
                }
            }
            Ok(Event::End(_)) => {
                flush(&stack, &mut pending, &mut out);
                stack.pop();
            }
            Ok(Event::Text(t)) => pending.push_str(&t.decode().unwrap_or_default()),
            Ok(Event::CData(t)) => pending.push_str(&t.decode().unwrap_or_default()),
            Ok(Event::GeneralRef(r)) => match r.resolve_char_ref() {
                Ok(Some(ch)) => pending.push(ch),
                _ => {
                    let name = r.decode().unwrap_or_default();
                    pending.push_str(match name.as_ref() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            },
            Ok(Event::Eof) | Err(_) => {
                // A truncated file keeps what it had.
                flush(&stack, &mut pending, &mut out);
                break;
            }
            Ok(_) => {}
        }
    }
    out
}

/// The root element's local name.
fn root(nodes: &[Node]) -> Option<&str> {
    nodes
        .first()
        .and_then(|n| n.path.first())
        .map(String::as_str)
}

/// Whether `path` ends with `suffix` (element names compared ignoring ASCII case).
fn ends_with(path: &[String], suffix: &[&str]) -> bool {
    path.len() >= suffix.len()
        && path[path.len() - suffix.len()..]
            .iter()
            .zip(suffix)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// The first non-empty text whose path ends with `suffix`.
fn first(nodes: &[Node], suffix: &[&str]) -> Option<String> {
    nodes
        .iter()
        .find(|n| !n.text.is_empty() && ends_with(&n.path, suffix))
        .map(|n| clip(&n.text))
}

/// A field's text, at most 500 characters.
fn clip(s: &str) -> String {
    s.chars().take(500).collect()
}

fn segnatura(nodes: &[Node]) -> Option<Segnatura> {
    if !root(nodes).is_some_and(|r| r.eq_ignore_ascii_case("Segnatura")) {
        return None;
    }
    // The header only: the documents' own classifications come later and must not win.
    let head: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.path.get(1).is_some_and(|p| p == "Intestazione"))
        .collect();
    let find = |suffix: &[&str]| {
        head.iter()
            .find(|n| !n.text.is_empty() && ends_with(&n.path, suffix))
            .map(|n| clip(&n.text))
    };
    let levels: Vec<&str> = head
        .iter()
        .filter(|n| {
            n.path.len() == 4
                && n.path[2] == "Classifica"
                && n.path[3] == "Livello"
                && !n.text.is_empty()
        })
        .map(|n| n.text.as_str())
        .collect();
    let s = Segnatura {
        administration_code: find(&["Identificatore", "CodiceAmministrazione"]),
        aoo_code: find(&["Identificatore", "CodiceAOO"]),
        aoo_name: find(&["Mittente", "AOO", "Denominazione"]),
        administration_name: find(&["Mittente", "Amministrazione", "Denominazione"]),
        sender_address: find(&["Origine", "IndirizzoTelematico"]),
        protocol_number: find(&["Identificatore", "NumeroRegistrazione"]),
        protocol_date: find(&["Identificatore", "DataRegistrazione"]),
        subject: find(&["Intestazione", "Oggetto"]),
        classification: (!levels.is_empty()).then(|| clip(&levels.join("."))),
        classification_name: find(&["Intestazione", "Classifica", "Denominazione"]),
    };
    Some(s)
}

fn sdi_notice(file: &str, kind_from_name: &str, nodes: &[Node]) -> Option<SdiNotice> {
    // The root must be one of the SdI's messages: a file named like a notification but
    // holding something else is not one.
    let root = root(nodes)?;
    if !SDI_ROOTS.iter().any(|r| r.eq_ignore_ascii_case(root)) {
        return None;
    }
    let kind = kind_from_name;
    Some(SdiNotice {
        kind: kind.to_owned(),
        notice_file: clip(file),
        invoice_file: first(nodes, &["NomeFile"]),
        sdi_id: first(nodes, &["IdentificativoSdI"]),
        outcome: first(nodes, &["Esito"]),
        from_sdi: false,
    })
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn message_with(parts: &[(&str, &str)], from: &str) -> Vec<u8> {
        let mut m = format!(
            "From: <{from}>\r\nTo: <protocollo@pec.ente.test>\r\nSubject: prova\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain\r\n\r\ntesto\r\n"
        );
        for (name, body) in parts {
            m.push_str(&format!(
                "--b1\r\nContent-Type: text/xml; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{body}\r\n"
            ));
        }
        m.push_str("--b1--\r\n");
        m.into_bytes()
    }

    const SEGNATURA: &str = "<?xml version=\"1.0\"?><Segnatura><Intestazione><Identificatore>\
        <CodiceAmministrazione>c_h501</CodiceAmministrazione><CodiceAOO>AOO_ROMA</CodiceAOO>\
        <NumeroRegistrazione>0012345</NumeroRegistrazione><DataRegistrazione>2026-11-02</DataRegistrazione>\
        </Identificatore><Origine><IndirizzoTelematico>protocollo@pec.comune.test</IndirizzoTelematico>\
        <Mittente><Amministrazione><Denominazione>Comune di Prova</Denominazione></Amministrazione>\
        <AOO><Denominazione>Protocollo generale</Denominazione></AOO></Mittente></Origine>\
        <Oggetto>Richiesta atti &amp; documenti</Oggetto><Classifica><Denominazione>Affari legali</Denominazione>\
        <Livello>06</Livello><Livello>03</Livello></Classifica></Intestazione>\
        <Descrizione><Documento nome=\"a.pdf\"><Classifica><Livello>99</Livello></Classifica></Documento></Descrizione></Segnatura>";

    #[test]
    fn a_segnatura_attachment_gives_its_header_fields() {
        let raw = message_with(
            &[("Segnatura.xml", SEGNATURA)],
            "protocollo@pec.comune.test",
        );
        let p = extract(&raw, Some("protocollo@pec.comune.test"));
        let s = p.segnatura.expect("segnatura");
        assert_eq!(s.administration_code.as_deref(), Some("c_h501"));
        assert_eq!(s.aoo_code.as_deref(), Some("AOO_ROMA"));
        assert_eq!(s.aoo_name.as_deref(), Some("Protocollo generale"));
        assert_eq!(s.administration_name.as_deref(), Some("Comune di Prova"));
        assert_eq!(s.protocol_number.as_deref(), Some("0012345"));
        assert_eq!(s.protocol_date.as_deref(), Some("2026-11-02"));
        assert_eq!(s.subject.as_deref(), Some("Richiesta atti & documenti"));
        assert_eq!(s.classification.as_deref(), Some("06.03"));
        assert_eq!(s.classification_name.as_deref(), Some("Affari legali"));
        assert!(p.sdi.is_none());
    }

    #[test]
    fn an_sdi_notification_gives_type_file_and_id() {
        let rc = "<?xml version=\"1.0\"?><ns3:RicevutaConsegna xmlns:ns3=\"x\" versione=\"1.0\">\
            <IdentificativoSdI>6782414</IdentificativoSdI><NomeFile>IT01234567890_00009.xml</NomeFile>\
            <Destinatario/></ns3:RicevutaConsegna>";
        let raw = message_with(
            &[("IT01234567890_00009_RC_001.xml", rc)],
            "sdi03@pec.fatturapa.it",
        );
        let p = extract(&raw, Some("sdi03@pec.fatturapa.it"));
        let n = p.sdi.expect("sdi");
        assert_eq!(n.kind, "RC");
        assert_eq!(n.invoice_file.as_deref(), Some("IT01234567890_00009.xml"));
        assert_eq!(n.sdi_id.as_deref(), Some("6782414"));
        assert!(n.from_sdi);
        // The same file from someone else is still read, but not from the SdI.
        assert!(
            !extract(&raw, Some("x@pec.altro.test"))
                .sdi
                .expect("sdi")
                .from_sdi
        );
    }

    #[test]
    fn a_file_named_like_a_notification_but_holding_something_else_is_not_one() {
        let raw = message_with(
            &[("IT01234567890_00009_RC_001.xml", "<Altro/>")],
            "a@b.test",
        );
        assert!(extract(&raw, None).sdi.is_none());
        let raw = message_with(&[("IT01234567890_00009_RC_001.xml", "not xml")], "a@b.test");
        assert!(extract(&raw, None).sdi.is_none());
    }

    #[test]
    fn sdi_names_and_addresses() {
        assert_eq!(
            sdi_kind_of_name("IT01234567890_00001_NS_001.xml"),
            Some("NS")
        );
        assert_eq!(
            sdi_kind_of_name("it01234567890_0a1B2_mt_002.XML"),
            Some("MT")
        );
        assert_eq!(sdi_kind_of_name("IT01234567890_00001.xml"), None);
        assert_eq!(sdi_kind_of_name("IT01234567890_00001_ZZ_001.xml"), None);
        assert_eq!(sdi_kind_of_name("a_b_RC_001.xml"), None);
        assert!(is_sdi_address("sdi48@pec.fatturapa.it"));
        assert!(is_sdi_address("SDI03@PEC.FATTURAPA.IT"));
        assert!(!is_sdi_address("sdi@pec.fatturapa.it"));
        assert!(!is_sdi_address("sdi03@pec.fatturapa.it.evil.test"));
    }

    #[test]
    fn garbage_never_panics() {
        for raw in [
            &b""[..],
            b"\0\0\0",
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Disposition: attachment; filename=Segnatura.xml\r\n\r\n<Segnatura><Intestazione><Identificatore><CodiceAOO>A",
        ] {
            let p = extract(raw, Some("sdi1@pec.fatturapa.it"));
            if let Some(s) = p.segnatura {
                assert_eq!(s.aoo_code.as_deref(), Some("A"));
            }
        }
    }

    /// The real samples of the shared corpus (by path, when `PECDESK_CORPUS` is set).
    #[test]
    fn corpus_samples_are_recognised() {
        let Ok(dir) = std::env::var("PECDESK_CORPUS") else {
            return;
        };
        let dir = std::path::Path::new(&dir).join("public");
        let read = |name: &str| std::fs::read(dir.join(name)).ok();
        if let Some(raw) = read("docway_aruba_busta-trasporto_segnatura-interop.eml") {
            let s = extract(&raw, None)
                .segnatura
                .expect("segnatura in the corpus sample");
            assert_eq!(s.aoo_code.as_deref(), Some("ASO"));
            assert_eq!(s.protocol_number.as_deref(), Some("8901119"));
            assert_eq!(s.classification.as_deref(), Some("01.01"));
        }
        if let Some(raw) =
            read("oca_sogei_busta-trasporto_no-daticert_sdi-notifica-mancata-consegna.eml")
        {
            let n = extract(&raw, Some("sdi48@pec.fatturapa.it"))
                .sdi
                .expect("sdi sample");
            assert_eq!(n.kind, "MC");
            assert_eq!(n.invoice_file.as_deref(), Some("IT14627831002_02621.xml"));
            assert!(n.from_sdi);
        }
        if let Some(raw) = read("oca_sogei_busta-trasporto_breve_sdi-invio-file.eml") {
            let n = extract(&raw, None).sdi.expect("sdi sample");
            assert_eq!(n.kind, "MT");
            assert_eq!(n.sdi_id.as_deref(), Some("7339338"));
        }
    }
}
