//! Tolerant parser of `daticert.xml` (the certification data of a PEC; DTD in `PEC.md`).
//!
//! Providers write this file by hand-rolled templates, so the parser accepts what the DTD
//! allows and more: stray text between elements, unknown elements, missing optional (and
//! even required) elements, line-wrapped content, CRLF, a byte-order mark, ISO-8859-1
//! bytes. Oddities are reported as [`DaticertWarning`]s; a document that breaks off
//! (broken XML) is a [`DaticertError::Malformed`] that still carries what was read.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde::{Deserialize, Serialize};

/// One `destinatari` entry: an address and its `tipo` (`certificato` or `esterno`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destinatario {
    /// The address, whitespace removed.
    pub address: String,
    /// `certificato` (the DTD default) or `esterno`.
    pub tipo: String,
}

/// The `data` element: local day and time plus the zone they are in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataOra {
    /// `dd/mm/yyyy` as written.
    pub giorno: Option<String>,
    /// `hh:mm:ss` as written.
    pub ora: Option<String>,
    /// `+hhmm` as written (attribute `zona`).
    pub zona: Option<String>,
}

impl DataOra {
    /// The instant as ISO 8601 with offset (`2018-11-13T16:39:27+01:00`), when every part
    /// reads as a valid date, time and zone.
    pub fn to_iso8601(&self) -> Option<String> {
        let (day, month, year) = parse_giorno(self.giorno.as_deref()?)?;
        let (hour, minute, second) = parse_ora(self.ora.as_deref()?)?;
        let offset_seconds = parse_zona(self.zona.as_deref()?)?;
        let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
        let time = chrono::NaiveTime::from_hms_opt(hour, minute, second)?;
        let offset = chrono::FixedOffset::east_opt(offset_seconds)?;
        let local = date.and_time(time).and_local_timezone(offset).single()?;
        Some(crate::iso8601::format(&local, false))
    }
}

/// Everything `daticert.xml` says. Every field is optional: the parser keeps what it finds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Daticert {
    /// `postacert/@tipo` (`accettazione`, `posta-certificata`, ...).
    pub tipo: Option<String>,
    /// `postacert/@errore`; `nessuno` when the attribute is absent (DTD default).
    pub errore: String,
    /// `mittente`: the certified sender.
    pub mittente: Option<String>,
    /// `destinatari`, in order.
    pub destinatari: Vec<Destinatario>,
    /// `risposte`: the reply-to address.
    pub risposte: Option<String>,
    /// `oggetto`, line wraps joined.
    pub oggetto: Option<String>,
    /// `gestore-emittente`: the provider that issued this message.
    pub gestore_emittente: Option<String>,
    /// `data`: when it was issued.
    pub data: Option<DataOra>,
    /// `identificativo`: the PEC id given at acceptance.
    pub identificativo: Option<String>,
    /// The sender client's original Message-ID as written (entities resolved, angle
    /// brackets kept).
    pub msgid: Option<String>,
    /// `ricevuta/@tipo`: `completa` (DTD default), `breve` or `sintetica`.
    pub ricevuta: Option<String>,
    /// `consegna`: the one recipient a delivery / non-delivery notice is about.
    pub consegna: Option<String>,
    /// `ricezione` entries.
    pub ricezione: Vec<String>,
    /// `errore-esteso`: the provider's text for an error.
    pub errore_esteso: Option<String>,
    /// What was odd but tolerated.
    pub warnings: Vec<DaticertWarning>,
}

impl Daticert {
    /// `msgid` without angle brackets and whitespace.
    pub fn msgid_unescaped(&self) -> Option<String> {
        self.msgid.as_deref().and_then(strip_angle_brackets)
    }

    /// `data` as ISO 8601 with offset.
    pub fn issued_at(&self) -> Option<String> {
        self.data.as_ref().and_then(DataOra::to_iso8601)
    }
}

/// Something odd in a `daticert.xml` that the parser tolerated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum DaticertWarning {
    /// Text outside any leaf element (e.g. `</risposte>a`).
    StrayText {
        /// The element holding the text.
        element: String,
    },
    /// An element the DTD does not define.
    UnknownElement {
        /// Its local name.
        element: String,
    },
    /// A required element is missing.
    MissingElement {
        /// Its name.
        element: String,
    },
    /// A value outside the DTD's list (kept as written).
    UnexpectedValue {
        /// The element or attribute.
        field: String,
        /// The value as written.
        value: String,
    },
    /// `data` does not read as a date, time and zone.
    BadDate,
    /// The bytes are not UTF-8: read as ISO-8859-1.
    NotUtf8,
}

impl DaticertWarning {
    /// The warning in Italian.
    pub fn message_it(&self) -> String {
        match self {
            Self::StrayText { element } => {
                format!("daticert.xml: testo fuori posto in <{element}> (ignorato)")
            }
            Self::UnknownElement { element } => {
                format!("daticert.xml: elemento sconosciuto <{element}> (ignorato)")
            }
            Self::MissingElement { element } => {
                format!("daticert.xml: manca l'elemento obbligatorio <{element}>")
            }
            Self::UnexpectedValue { field, value } => {
                format!("daticert.xml: valore inatteso per {field}: {value:?}")
            }
            Self::BadDate => "daticert.xml: data o ora non valide".to_owned(),
            Self::NotUtf8 => "daticert.xml: non è UTF-8, letto come ISO-8859-1".to_owned(),
        }
    }

    /// The warning in English.
    pub fn message_en(&self) -> String {
        match self {
            Self::StrayText { element } => {
                format!("daticert.xml: stray text in <{element}> (ignored)")
            }
            Self::UnknownElement { element } => {
                format!("daticert.xml: unknown element <{element}> (ignored)")
            }
            Self::MissingElement { element } => {
                format!("daticert.xml: required element <{element}> is missing")
            }
            Self::UnexpectedValue { field, value } => {
                format!("daticert.xml: unexpected value for {field}: {value:?}")
            }
            Self::BadDate => "daticert.xml: invalid date or time".to_owned(),
            Self::NotUtf8 => "daticert.xml: not UTF-8, read as ISO-8859-1".to_owned(),
        }
    }
}

/// Why a `daticert.xml` could not be read as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaticertError {
    /// No bytes, or only whitespace.
    #[error("daticert.xml is empty")]
    Empty,
    /// Well-formed or not, there is no `postacert` root element.
    #[error("daticert.xml has no <postacert> element")]
    NotDaticert,
    /// The XML breaks off; `partial` holds what was read before.
    #[error("daticert.xml is malformed: {message}")]
    Malformed {
        /// What broke, with the byte position.
        message: String,
        /// The fields read before the break.
        partial: Box<Daticert>,
    },
}

/// Reads `daticert.xml` from its bytes (UTF-8, or ISO-8859-1 when declared or when the
/// bytes are not UTF-8). Never panics.
pub fn parse(bytes: &[u8]) -> Result<Daticert, DaticertError> {
    let (text, not_utf8) = decode(bytes);
    parse_decoded(&text, not_utf8)
}

/// Reads `daticert.xml` already decoded to text (e.g. a `text/xml` MIME part whose
/// charset the MIME parser applied). Never panics.
pub fn parse_text(text: &str) -> Result<Daticert, DaticertError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    parse_decoded(text, false)
}

fn parse_decoded(text: &str, not_utf8: bool) -> Result<Daticert, DaticertError> {
    if text.trim().is_empty() {
        return Err(DaticertError::Empty);
    }
    let mut state = ParseState::default();
    if not_utf8 {
        state.out.warnings.push(DaticertWarning::NotUtf8);
    }
    let mut reader = Reader::from_str(text);
    {
        let config = reader.config_mut();
        config.allow_dangling_amp = true;
        config.check_end_names = true;
        config.expand_empty_elements = false;
    }
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => state.open(&start),
            Ok(Event::Empty(start)) => {
                state.open(&start);
                state.close();
            }
            Ok(Event::End(_)) => state.close(),
            Ok(Event::Text(text)) => {
                let decoded = text.decode().unwrap_or(Cow::Borrowed(""));
                state.text(&decoded);
            }
            Ok(Event::CData(cdata)) => {
                let decoded = cdata.decode().unwrap_or(Cow::Borrowed(""));
                state.text(&decoded);
            }
            Ok(Event::GeneralRef(reference)) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string(),
                    _ => {
                        let name = reference.decode().unwrap_or(Cow::Borrowed(""));
                        match name.as_ref() {
                            "lt" => "<".to_owned(),
                            "gt" => ">".to_owned(),
                            "amp" => "&".to_owned(),
                            "quot" => "\"".to_owned(),
                            "apos" => "'".to_owned(),
                            other => format!("&{other};"),
                        }
                    }
                };
                state.text(&resolved);
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(error) => {
                if !state.seen_root {
                    return Err(DaticertError::NotDaticert);
                }
                let message = format!("{error} (byte {})", reader.error_position());
                return Err(DaticertError::Malformed {
                    message,
                    partial: Box::new(state.finish()),
                });
            }
        }
        if state.root_closed {
            break;
        }
    }
    if !state.seen_root {
        return Err(DaticertError::NotDaticert);
    }
    if !state.root_closed {
        return Err(DaticertError::Malformed {
            message: "document ends before </postacert>".to_owned(),
            partial: Box::new(state.finish()),
        });
    }
    Ok(state.finish())
}

/// Decodes the bytes: UTF-8 unless the declaration names a Latin encoding, ISO-8859-1 as
/// the fallback for invalid UTF-8. Returns the text and whether the fallback was needed.
fn decode(bytes: &[u8]) -> (String, bool) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head_len = bytes.len().min(200);
    let head = String::from_utf8_lossy(bytes.get(..head_len).unwrap_or_default()).to_lowercase();
    let declared_latin = head.starts_with("<?xml")
        && ["iso-8859-1", "iso-8859-15", "latin1", "windows-1252"]
            .iter()
            .any(|name| head.split("?>").next().unwrap_or("").contains(name));
    if declared_latin {
        return (latin1(bytes), false);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (latin1(bytes), true),
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Elements whose text is a value.
const LEAVES: &[&str] = &[
    "mittente",
    "destinatari",
    "risposte",
    "oggetto",
    "gestore-emittente",
    "giorno",
    "ora",
    "identificativo",
    "msgid",
    "consegna",
    "ricezione",
    "errore-esteso",
];

/// Elements that only hold other elements.
const CONTAINERS: &[&str] = &["postacert", "intestazione", "dati", "data", "ricevuta"];

#[derive(Default)]
struct ParseState {
    out: Daticert,
    /// Open elements (local names, lowercase), outermost first.
    stack: Vec<String>,
    /// Attribute `tipo` of the `destinatari` being read.
    destinatario_tipo: Option<String>,
    text: String,
    seen_root: bool,
    root_closed: bool,
    /// Whether `postacert/@errore` was written (else the DTD default applies).
    errore_set: bool,
    /// How many value elements are open (markup nested in a value keeps its text). A
    /// counter, not a scan of `stack`: deep adversarial nesting must stay linear.
    leaf_depth: usize,
}

impl ParseState {
    /// A start tag (also the start half of an empty element, closed right after).
    fn open(&mut self, start: &BytesStart<'_>) {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).to_lowercase();
        if !self.seen_root {
            if name == "postacert" {
                self.seen_root = true;
                self.out.tipo = attribute(start, "tipo");
                if let Some(errore) = attribute(start, "errore") {
                    self.out.errore = errore;
                    self.errore_set = true;
                }
            }
            // Anything before the root (a wrapper) is skipped silently.
            self.stack.push(name);
            return;
        }
        match name.as_str() {
            "destinatari" => {
                self.destinatario_tipo = attribute(start, "tipo");
            }
            "data" => {
                let data = self.out.data.get_or_insert_with(DataOra::default);
                data.zona = attribute(start, "zona");
            }
            "ricevuta" => {
                self.out.ricevuta =
                    Some(attribute(start, "tipo").unwrap_or_else(|| "completa".to_owned()));
            }
            known if LEAVES.contains(&known) || CONTAINERS.contains(&known) => {}
            unknown => {
                warn(
                    &mut self.out,
                    DaticertWarning::UnknownElement {
                        element: unknown.to_owned(),
                    },
                );
            }
        }
        if LEAVES.contains(&name.as_str()) && !self.in_leaf() {
            self.text.clear();
        }
        self.stack.push(name);
    }

    /// Inside a value element (markup nested in a value keeps its text).
    fn in_leaf(&self) -> bool {
        self.stack
            .iter()
            .any(|name| LEAVES.contains(&name.as_str()))
    }

    fn text(&mut self, text: &str) {
        if !self.seen_root || self.root_closed {
            return;
        }
        if self.in_leaf() {
            self.text.push_str(text);
            return;
        }
        let Some(current) = self.stack.last() else {
            return;
        };
        if CONTAINERS.contains(&current.as_str()) && !text.trim().is_empty() {
            let warning = DaticertWarning::StrayText {
                element: current.clone(),
            };
            warn(&mut self.out, warning);
        }
    }

    fn close(&mut self) {
        let Some(name) = self.stack.pop() else {
            return;
        };
        if !self.seen_root || self.root_closed {
            return;
        }
        if name == "postacert" {
            self.root_closed = true;
            return;
        }
        // Only the outermost value element takes the text; markup nested inside it (or
        // any unknown element) leaves the text to its enclosing value.
        if !LEAVES.contains(&name.as_str()) {
            return;
        }
        self.leaf_depth = self.leaf_depth.saturating_sub(1);
        if self.in_leaf() {
            return;
        }
        let raw = std::mem::take(&mut self.text);
        let value = match name.as_str() {
            "oggetto" | "errore-esteso" | "gestore-emittente" => unwrap_lines(&raw),
            _ => raw.split_whitespace().collect::<String>(),
        };
        let value = (!value.is_empty()).then_some(value);
        match name.as_str() {
            "mittente" => self.out.mittente = value,
            "destinatari" => {
                let tipo = self
                    .destinatario_tipo
                    .take()
                    .unwrap_or_else(|| "certificato".to_owned());
                if let Some(address) = value {
                    self.out.destinatari.push(Destinatario { address, tipo });
                }
            }
            "risposte" => self.out.risposte = value,
            "oggetto" => self.out.oggetto = value,
            "gestore-emittente" => self.out.gestore_emittente = value,
            "giorno" => self.out.data.get_or_insert_with(DataOra::default).giorno = value,
            "ora" => self.out.data.get_or_insert_with(DataOra::default).ora = value,
            "identificativo" => self.out.identificativo = value,
            "msgid" => self.out.msgid = value,
            "consegna" => self.out.consegna = value,
            "ricezione" => self.out.ricezione.extend(value),
            "errore-esteso" => self.out.errore_esteso = value,
            _ => {}
        }
    }

    fn finish(mut self) -> Daticert {
        if !self.errore_set {
            self.out.errore = "nessuno".to_owned();
        }
        let out = &mut self.out;
        let mut missing = Vec::new();
        if out.tipo.is_none() {
            missing.push("postacert tipo");
        }
        if out.mittente.is_none() {
            missing.push("mittente");
        }
        if out.destinatari.is_empty() {
            missing.push("destinatari");
        }
        if out.gestore_emittente.is_none() {
            missing.push("gestore-emittente");
        }
        if out.data.is_none() {
            missing.push("data");
        }
        if out.identificativo.is_none() {
            missing.push("identificativo");
        }
        for element in missing {
            out.warnings.push(DaticertWarning::MissingElement {
                element: element.to_owned(),
            });
        }
        check_value(out, "tipo", out.tipo.clone(), TIPI);
        check_value(out, "errore", Some(out.errore.clone()), ERRORI);
        check_value(out, "ricevuta", out.ricevuta.clone(), RICEVUTE);
        let tipi: Vec<String> = out.destinatari.iter().map(|d| d.tipo.clone()).collect();
        for tipo in tipi {
            check_value(
                out,
                "destinatari tipo",
                Some(tipo),
                &["certificato", "esterno"],
            );
        }
        if out.data.is_some() && out.issued_at().is_none() {
            out.warnings.push(DaticertWarning::BadDate);
        }
        self.out
    }
}

const TIPI: &[&str] = &[
    "accettazione",
    "non-accettazione",
    "presa-in-carico",
    "avvenuta-consegna",
    "posta-certificata",
    "errore-consegna",
    "preavviso-errore-consegna",
    "rilevazione-virus",
];
const ERRORI: &[&str] = &["nessuno", "no-dest", "no-dominio", "virus", "altro"];
const RICEVUTE: &[&str] = &["completa", "breve", "sintetica"];

/// At most this many warnings are kept while reading (the final checks add a few more): a
/// hostile file could otherwise name thousands of distinct unknown elements (and make the
/// duplicate check quadratic).
const MAX_WARNINGS: usize = 16;

/// Records a warning once.
fn warn(out: &mut Daticert, warning: DaticertWarning) {
    if out.warnings.len() < MAX_WARNINGS && !out.warnings.contains(&warning) {
        out.warnings.push(warning);
    }
}

fn check_value(out: &mut Daticert, field: &str, value: Option<String>, allowed: &[&str]) {
    if let Some(value) = value
        && !allowed.contains(&value.as_str())
    {
        warn(
            out,
            DaticertWarning::UnexpectedValue {
                field: field.to_owned(),
                value,
            },
        );
    }
}

/// Value of an attribute by local name, entities resolved; `None` when absent or empty.
fn attribute(start: &BytesStart<'_>, name: &str) -> Option<String> {
    start
        .attributes()
        .with_checks(false)
        .flatten()
        .find(|attr| {
            attr.key
                .local_name()
                .as_ref()
                .eq_ignore_ascii_case(name.as_bytes())
        })
        .map(|attr| match attr.unescape_value() {
            Ok(value) => value.trim().to_owned(),
            Err(_) => String::from_utf8_lossy(&attr.value).trim().to_owned(),
        })
        .filter(|value| !value.is_empty())
}

/// Joins line-wrapped text: each run of whitespace holding a line break becomes one
/// space; other spacing (a double space typed by the sender) is kept.
fn unwrap_lines(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending = String::new();
    for ch in raw.trim().chars() {
        if ch.is_whitespace() {
            pending.push(ch);
            continue;
        }
        if !pending.is_empty() {
            if pending.contains(['\n', '\r']) {
                out.push(' ');
            } else {
                out.push_str(&pending);
            }
            pending.clear();
        }
        out.push(ch);
    }
    out
}

/// `<id@host>` → `id@host` (whitespace dropped); `None` when nothing is left.
pub(crate) fn strip_angle_brackets(raw: &str) -> Option<String> {
    let compact: String = raw.split_whitespace().collect();
    let inner = compact.trim_start_matches('<').trim_end_matches('>');
    (!inner.is_empty()).then(|| inner.to_owned())
}

fn parse_giorno(giorno: &str) -> Option<(u32, u32, i32)> {
    let mut parts = giorno.trim().split(['/', '-', '.']);
    let day = parts.next()?.trim().parse().ok()?;
    let month = parts.next()?.trim().parse().ok()?;
    let year = parts.next()?.trim().parse().ok()?;
    parts.next().is_none().then_some((day, month, year))
}

fn parse_ora(ora: &str) -> Option<(u32, u32, u32)> {
    let mut parts = ora.trim().split(['.', ':']);
    let hour = parts.next()?.trim().parse().ok()?;
    let minute = parts.next()?.trim().parse().ok()?;
    let second = match parts.next() {
        Some(second) => second.trim().parse().ok()?,
        None => 0,
    };
    parts.next().is_none().then_some((hour, minute, second))
}

/// `+0100`, `+01:00`, `-0530`, `0100`, `Z` → offset in seconds.
fn parse_zona(zona: &str) -> Option<i32> {
    let zona = zona.trim();
    if zona.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, digits) = match zona.as_bytes().first()? {
        b'+' => (1, zona.get(1..)?),
        b'-' => (-1, zona.get(1..)?),
        _ => (1, zona),
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits.get(..2)?.parse().ok()?;
    let minutes: i32 = digits.get(2..)?.parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    const FULL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<postacert tipo="avvenuta-consegna" errore="nessuno">
  <intestazione>
    <mittente>mario@pec.example.it</mittente>
    <destinatari tipo="certificato">anna@pec.example.it</destinatari>
    <destinatari tipo="esterno">luca@example.com</destinatari>
    <risposte>mario@pec.example.it</risposte>
    <oggetto>Fattura  n. 12
      di marzo</oggetto>
  </intestazione>
  <dati>
    <gestore-emittente>Gestore Esempio S.p.A.</gestore-emittente>
    <data zona="+0100"><giorno>13/11/2018</giorno><ora>16:39:27</ora></data>
    <identificativo>opec1.20181113163927.1.1.1@pec.example.it</identificativo>
    <msgid>&lt;abc@client.example&gt;</msgid>
    <ricevuta tipo="breve"/>
    <consegna>anna@pec.example.it</consegna>
    <ricezione>anna@pec.example.it</ricezione>
    <errore-esteso>nessun errore</errore-esteso>
  </dati>
</postacert>"#;

    #[test]
    fn every_element_of_the_dtd_is_read() {
        let d = parse(FULL.as_bytes()).expect("parses");
        assert_eq!(d.tipo.as_deref(), Some("avvenuta-consegna"));
        assert_eq!(d.errore, "nessuno");
        assert_eq!(d.mittente.as_deref(), Some("mario@pec.example.it"));
        assert_eq!(d.destinatari.len(), 2);
        assert_eq!(d.destinatari[1].tipo, "esterno");
        assert_eq!(d.oggetto.as_deref(), Some("Fattura  n. 12 di marzo"));
        assert_eq!(
            d.gestore_emittente.as_deref(),
            Some("Gestore Esempio S.p.A.")
        );
        assert_eq!(d.issued_at().as_deref(), Some("2018-11-13T16:39:27+01:00"));
        assert_eq!(d.msgid_unescaped().as_deref(), Some("abc@client.example"));
        assert_eq!(d.ricevuta.as_deref(), Some("breve"));
        assert_eq!(d.consegna.as_deref(), Some("anna@pec.example.it"));
        assert_eq!(d.ricezione, vec!["anna@pec.example.it".to_owned()]);
        assert_eq!(d.errore_esteso.as_deref(), Some("nessun errore"));
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn stray_text_is_tolerated_and_reported() {
        let xml = FULL.replace("</risposte>", "</risposte>a");
        let d = parse(xml.as_bytes()).expect("parses");
        assert_eq!(d.oggetto.as_deref(), Some("Fattura  n. 12 di marzo"));
        assert_eq!(
            d.warnings,
            vec![DaticertWarning::StrayText {
                element: "intestazione".to_owned()
            }]
        );
    }

    #[test]
    fn missing_optionals_and_defaults_apply() {
        let xml = r#"<postacert tipo="accettazione"><intestazione><mittente>a@b.it</mittente>
            <destinatari>c@d.it</destinatari><risposte>a@b.it</risposte></intestazione>
            <dati><gestore-emittente>G</gestore-emittente><data zona="+0200"><giorno>1/6/2021</giorno>
            <ora>09:05:00</ora></data><identificativo>x@y</identificativo></dati></postacert>"#;
        let d = parse(xml.as_bytes()).expect("parses");
        assert_eq!(d.errore, "nessuno");
        assert_eq!(d.destinatari[0].tipo, "certificato");
        assert_eq!(d.msgid, None);
        assert_eq!(d.oggetto, None);
        assert_eq!(d.issued_at().as_deref(), Some("2021-06-01T09:05:00+02:00"));
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn truncated_xml_keeps_what_was_read() {
        let cut = &FULL[..FULL.find("<ricevuta").expect("marker")];
        match parse(cut.as_bytes()) {
            Err(DaticertError::Malformed { partial, .. }) => {
                assert_eq!(
                    partial.identificativo.as_deref(),
                    Some("opec1.20181113163927.1.1.1@pec.example.it")
                );
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn latin1_bytes_are_read() {
        let mut bytes = FULL.replace("marzo", "maggio \u{e8}").into_bytes();
        // Re-encode the one non-ASCII char as ISO-8859-1.
        let pos = bytes
            .windows(2)
            .position(|w| w == [0xC3, 0xA8])
            .expect("utf8 e-grave");
        bytes.splice(pos..pos + 2, [0xE8]);
        let d = parse(&bytes).expect("parses");
        assert_eq!(
            d.oggetto.as_deref(),
            Some("Fattura  n. 12 di maggio \u{e8}")
        );
        assert!(d.warnings.contains(&DaticertWarning::NotUtf8));
    }

    #[test]
    fn markup_inside_a_value_keeps_its_text() {
        let xml = FULL.replace("Fattura  n. 12", "Fattura <b>n.</b> 12");
        let d = parse(xml.as_bytes()).expect("parses");
        assert_eq!(d.oggetto.as_deref(), Some("Fattura n. 12 di marzo"));
        assert!(d.warnings.contains(&DaticertWarning::UnknownElement {
            element: "b".to_owned()
        }));
    }

    #[test]
    fn an_empty_root_is_a_daticert_with_everything_missing() {
        let d =
            parse(b"<?xml version=\"1.0\"?><postacert tipo=\"accettazione\"/>").expect("parses");
        assert_eq!(d.tipo.as_deref(), Some("accettazione"));
        assert!(d.warnings.contains(&DaticertWarning::MissingElement {
            element: "identificativo".to_owned()
        }));
    }

    #[test]
    fn deep_nesting_and_many_unknown_elements_stay_cheap() {
        let mut xml = String::from("<postacert tipo=\"accettazione\"><oggetto>");
        for i in 0..20_000 {
            xml.push_str(&format!("<x{i}>t"));
        }
        let started = std::time::Instant::now();
        let result = parse(xml.as_bytes());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        match result {
            Err(DaticertError::Malformed { partial, .. }) => {
                let unknown = partial
                    .warnings
                    .iter()
                    .filter(|w| matches!(w, DaticertWarning::UnknownElement { .. }))
                    .count();
                assert!(unknown > 0 && unknown <= MAX_WARNINGS, "{unknown}");
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn not_xml_is_not_a_daticert() {
        assert_eq!(parse(b"  \n"), Err(DaticertError::Empty));
        assert_eq!(parse(b"hello"), Err(DaticertError::NotDaticert));
        assert_eq!(parse(b"<a><b/></a>"), Err(DaticertError::NotDaticert));
    }

    #[test]
    fn zone_forms_are_accepted() {
        assert_eq!(parse_zona("+0100"), Some(3600));
        assert_eq!(parse_zona("+01:00"), Some(3600));
        assert_eq!(parse_zona("-0530"), Some(-19800));
        assert_eq!(parse_zona("Z"), Some(0));
        assert_eq!(parse_zona("+1"), None);
    }
}
