//! What the simulated provider writes (PEC.md, "Kinds", "MIME layout", "daticert.xml"):
//! the transport envelope (`posta-certificata`) and the receipts, each a `multipart/signed`
//! whose first part is `multipart/mixed` [readable notice, `daticert.xml`, `postacert.eml`
//! when the kind carries it] and whose second part is `smime.p7s`.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders as _};
use sha1::{Digest as _, Sha1};

use super::clock::italian;
use super::sign::Signer;
use crate::outbox::compose::ReceiptType;

/// A submission the provider accepted, as its receipts need it.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    /// The message as submitted (DATA after dot-unstuffing), line ends as CRLF.
    pub raw: Vec<u8>,
    /// The authenticated sender, lower case.
    pub sender: String,
    /// `To` addresses, lower case, in order.
    pub to: Vec<String>,
    /// `Cc` addresses, lower case, in order.
    pub cc: Vec<String>,
    /// Decoded `Subject` ("" when none).
    pub subject: String,
    /// The client's Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// What the sender asked for (`X-TipoRicevuta`, default completa).
    pub receipt_type: ReceiptType,
    /// The PEC id given at acceptance (without angle brackets).
    pub identificativo: String,
}

/// The headers a submission is judged on, read from the submitted bytes.
#[derive(Debug, Default)]
pub(crate) struct Headers {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub message_id: Option<String>,
    pub receipt_type: ReceiptType,
}

/// Reads To, Cc, Subject, Message-ID and X-TipoRicevuta (any case) of a submitted message.
pub(crate) fn read_headers(raw: &[u8]) -> Headers {
    let Some(msg) = MessageParser::default().parse_headers(raw) else {
        return Headers::default();
    };
    let list = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|addr| addr.address())
                .map(|s| s.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
    };
    let mut receipt_type = ReceiptType::Completa;
    for header in msg.headers() {
        if header.name().eq_ignore_ascii_case("X-TipoRicevuta") {
            let value = header.value().as_text().unwrap_or_default().trim();
            receipt_type = match value.to_ascii_lowercase().as_str() {
                "breve" => ReceiptType::Breve,
                "sintetica" => ReceiptType::Sintetica,
                _ => ReceiptType::Completa,
            };
        }
    }
    Headers {
        to: list(msg.to()),
        cc: list(msg.cc()),
        subject: msg.subject().unwrap_or_default().to_owned(),
        message_id: msg.message_id().map(str::to_owned),
        receipt_type,
    }
}

/// The kinds the provider writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    PostaCertificata,
    Accettazione,
    NonAccettazione { virus: bool },
    AvvenutaConsegna(ReceiptType),
    ErroreConsegna,
    PreavvisoErroreConsegna,
}

impl Kind {
    /// The kind's wire name (daticert `tipo`).
    pub(crate) fn wire(self) -> &'static str {
        self.tipo()
    }

    fn tipo(self) -> &'static str {
        match self {
            Kind::PostaCertificata => "posta-certificata",
            Kind::Accettazione => "accettazione",
            Kind::NonAccettazione { .. } => "non-accettazione",
            Kind::AvvenutaConsegna(_) => "avvenuta-consegna",
            Kind::ErroreConsegna => "errore-consegna",
            Kind::PreavvisoErroreConsegna => "preavviso-errore-consegna",
        }
    }

    fn subject_prefix(self) -> &'static str {
        match self {
            Kind::PostaCertificata => "POSTA CERTIFICATA: ",
            Kind::Accettazione => "ACCETTAZIONE: ",
            Kind::NonAccettazione { virus: false } => "AVVISO DI NON ACCETTAZIONE: ",
            Kind::NonAccettazione { virus: true } => "AVVISO DI NON ACCETTAZIONE PER VIRUS: ",
            Kind::AvvenutaConsegna(_) => "CONSEGNA: ",
            Kind::ErroreConsegna => "AVVISO DI MANCATA CONSEGNA: ",
            Kind::PreavvisoErroreConsegna => "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ",
        }
    }
}

/// daticert `errore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Errore {
    Nessuno,
    NoDest,
    Virus,
    Altro,
}

impl Errore {
    fn as_str(self) -> &'static str {
        match self {
            Errore::Nessuno => "nessuno",
            Errore::NoDest => "no-dest",
            Errore::Virus => "virus",
            Errore::Altro => "altro",
        }
    }
}

/// One message to write: its kind, who gets it, what it is about.
#[derive(Debug)]
pub(crate) struct Notice<'a> {
    pub kind: Kind,
    pub submission: &'a Accepted,
    /// The recipient a per-recipient notice is about (daticert `consegna`).
    pub consegna: Option<&'a str>,
    pub errore: Errore,
    /// daticert `errore-esteso` and the reason in the readable notice.
    pub errore_esteso: Option<&'a str>,
    /// When the provider issues it.
    pub at: DateTime<Utc>,
    /// The notice's own Message-ID (without angle brackets); the envelope's is the
    /// identificativo.
    pub message_id: &'a str,
}

/// The provider's name and domain.
#[derive(Debug, Clone)]
pub(crate) struct Gestore {
    pub name: String,
    pub domain: String,
}

/// Builds and signs one notice; CRLF line ends throughout.
pub(crate) fn build(
    gestore: &Gestore,
    signer: &Signer,
    notice: &Notice<'_>,
) -> anyhow::Result<Vec<u8>> {
    let s = notice.submission;
    let local = italian(notice.at);
    let tag = boundary_tag(notice.message_id);
    let mixed = format!("mixed-{tag}");
    let alternative_text = readable(gestore, notice);
    let xml = daticert(gestore, notice);

    let mut inner = Vec::new();
    push(
        &mut inner,
        &format!("Content-Type: multipart/mixed; boundary=\"{mixed}\"\r\n\r\n"),
    );
    push(&mut inner, &format!("--{mixed}\r\n"));
    push(
        &mut inner,
        "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
    );
    push(&mut inner, &alternative_text.replace('\n', "\r\n"));
    push(&mut inner, "\r\n");
    push(&mut inner, &format!("--{mixed}\r\n"));
    push(
        &mut inner,
        "Content-Type: application/xml; name=\"daticert.xml\"\r\n\
         Content-Disposition: inline; filename=\"daticert.xml\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
    );
    push(&mut inner, &base64_lines(xml.as_bytes()));
    if let Some(original) = postacert(notice) {
        push(&mut inner, &format!("--{mixed}\r\n"));
        push(
            &mut inner,
            "Content-Type: message/rfc822; name=\"postacert.eml\"\r\n\
             Content-Disposition: inline; filename=\"postacert.eml\"\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n",
        );
        inner.extend_from_slice(&original);
        if !original.ends_with(b"\r\n") {
            push(&mut inner, "\r\n");
        }
    }
    push(&mut inner, &format!("--{mixed}--\r\n"));

    let signature = signer.sign(&inner, notice.at)?;
    let signed = format!("signed-{tag}");

    let mut out = Vec::new();
    let from_address = format!("posta-certificata@{}", gestore.domain);
    let to = match notice.kind {
        Kind::PostaCertificata => None,
        _ => Some(s.sender.clone()),
    };
    let mut headers: Vec<(String, String)> = vec![
        ("Return-Path".into(), format!("<{from_address}>")),
        ("Date".into(), local.to_rfc2822()),
        (
            "Subject".into(),
            encode_word(&format!("{}{}", notice.kind.subject_prefix(), s.subject)),
        ),
    ];
    match to {
        None => {
            headers.push((
                "From".into(),
                format!("\"Per conto di: {}\" <{from_address}>", s.sender),
            ));
            headers.push(("Reply-To".into(), s.sender.clone()));
            headers.push(("To".into(), s.to.join(", ")));
            if !s.cc.is_empty() {
                headers.push(("Cc".into(), s.cc.join(", ")));
            }
            headers.push(("X-Trasporto".into(), "posta-certificata".into()));
            headers.push(("X-TipoRicevuta".into(), s.receipt_type.as_str().to_owned()));
        }
        Some(sender) => {
            headers.push(("From".into(), from_address.clone()));
            headers.push(("To".into(), sender));
            headers.push(("X-Ricevuta".into(), notice.kind.tipo().to_owned()));
            if let Kind::AvvenutaConsegna(tipo) = notice.kind {
                headers.push(("X-TipoRicevuta".into(), tipo.as_str().to_owned()));
            }
            if matches!(notice.kind, Kind::NonAccettazione { virus: true }) {
                headers.push(("X-VerificaSicurezza".into(), "errore".into()));
            }
        }
    }
    if let Some(id) = &s.message_id {
        headers.push(("X-Riferimento-Message-ID".into(), format!("<{id}>")));
    }
    headers.push(("Message-ID".into(), format!("<{}>", notice.message_id)));
    headers.push(("MIME-Version".into(), "1.0".into()));
    headers.push((
        "Content-Type".into(),
        format!(
            "multipart/signed; protocol=\"application/x-pkcs7-signature\"; \
             micalg=\"sha-256\"; boundary=\"{signed}\""
        ),
    ));
    for (name, value) in headers {
        push(&mut out, &format!("{name}: {value}\r\n"));
    }
    push(&mut out, "\r\nThis is an S/MIME signed message\r\n\r\n");
    push(&mut out, &format!("--{signed}\r\n"));
    out.extend_from_slice(&inner);
    // The CRLF before the boundary belongs to the boundary, not to the signed part.
    push(&mut out, &format!("\r\n--{signed}\r\n"));
    push(
        &mut out,
        "Content-Type: application/x-pkcs7-signature; name=\"smime.p7s\"\r\n\
         Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
    );
    push(&mut out, &base64_lines(&signature));
    push(&mut out, &format!("\r\n--{signed}--\r\n"));
    Ok(out)
}

fn push(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn boundary_tag(message_id: &str) -> String {
    let digest = Sha1::digest(message_id.as_bytes());
    format!("=_sim_{}", &hex::encode(digest)[..24])
}

fn base64_lines(bytes: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(b64.len() + b64.len() / 76 * 2 + 2);
    for chunk in b64.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
    out
}

/// RFC 2047 for a header value that is not plain ASCII.
fn encode_word(value: &str) -> String {
    if value.is_ascii() && !value.contains("=?") {
        return value.to_owned();
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
    format!("=?UTF-8?B?{b64}?=")
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn daticert(gestore: &Gestore, n: &Notice<'_>) -> String {
    let s = n.submission;
    let local = italian(n.at);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<postacert tipo=\"{}\" errore=\"{}\">\n  <intestazione>\n",
        n.kind.tipo(),
        n.errore.as_str()
    ));
    x.push_str(&format!(
        "    <mittente>{}</mittente>\n",
        xml_escape(&s.sender)
    ));
    for r in s.to.iter().chain(&s.cc) {
        x.push_str(&format!(
            "    <destinatari tipo=\"certificato\">{}</destinatari>\n",
            xml_escape(r)
        ));
    }
    x.push_str(&format!(
        "    <risposte>{}</risposte>\n    <oggetto>{}</oggetto>\n  </intestazione>\n  <dati>\n",
        xml_escape(&s.sender),
        xml_escape(&s.subject)
    ));
    x.push_str(&format!(
        "    <gestore-emittente>{}</gestore-emittente>\n",
        xml_escape(&gestore.name)
    ));
    x.push_str(&format!(
        "    <data zona=\"{}\">\n      <giorno>{}</giorno>\n      <ora>{}</ora>\n    </data>\n",
        local.format("%z"),
        local.format("%d/%m/%Y"),
        local.format("%H:%M:%S")
    ));
    x.push_str(&format!(
        "    <identificativo>{}</identificativo>\n",
        xml_escape(&s.identificativo)
    ));
    if let Some(id) = &s.message_id {
        x.push_str(&format!(
            "    <msgid>{}</msgid>\n",
            xml_escape(&format!("<{id}>"))
        ));
    }
    match n.kind {
        Kind::AvvenutaConsegna(tipo) => {
            x.push_str(&format!("    <ricevuta tipo=\"{}\" />\n", tipo.as_str()));
        }
        Kind::PostaCertificata => {
            x.push_str(&format!(
                "    <ricevuta tipo=\"{}\" />\n",
                s.receipt_type.as_str()
            ));
        }
        _ => {}
    }
    if let Some(r) = n.consegna {
        x.push_str(&format!("    <consegna>{}</consegna>\n", xml_escape(r)));
    }
    if let Some(e) = n.errore_esteso {
        x.push_str(&format!(
            "    <errore-esteso>{}</errore-esteso>\n",
            xml_escape(e)
        ));
    }
    x.push_str("  </dati>\n</postacert>\n");
    x
}

/// The readable notice (Italian, as the providers write it).
fn readable(gestore: &Gestore, n: &Notice<'_>) -> String {
    let s = n.submission;
    let local = italian(n.at);
    let when = format!(
        "Il giorno {} alle ore {} ({})",
        local.format("%d/%m/%Y"),
        local.format("%H:%M:%S"),
        local.format("%z")
    );
    let all: Vec<&str> = s.to.iter().chain(&s.cc).map(String::as_str).collect();
    let id = &s.identificativo;
    let subject = &s.subject;
    let sender = &s.sender;
    let who = n.consegna.unwrap_or_default();
    let reason = n.errore_esteso.unwrap_or_default();
    match n.kind {
        Kind::PostaCertificata => format!(
            "Messaggio di posta certificata\n\n{when} il messaggio \"{subject}\" è stato \
             inviato da \"{sender}\"\nindirizzato a:\n{}\nIl messaggio originale è incluso in \
             allegato.\nIdentificativo messaggio: {id}\n\nGestore: {}\n",
            all.join("\n"),
            gestore.name
        ),
        Kind::Accettazione => format!(
            "Ricevuta di accettazione\n\n{when} il messaggio \"{subject}\" proveniente da \
             \"{sender}\" ed indirizzato a:\n{}\nè stato accettato dal sistema ed inoltrato.\n\
             Identificativo messaggio: {id}\n",
            all.join("\n")
        ),
        Kind::NonAccettazione { virus } => format!(
            "Avviso di non accettazione{}\n\n{when} nel messaggio \"{subject}\" proveniente da \
             \"{sender}\" è stato rilevato un problema che ne impedisce l'accettazione:\n\
             {reason}\nIl messaggio non è stato accettato.\nIdentificativo messaggio: {id}\n",
            if virus { " per virus" } else { "" }
        ),
        Kind::AvvenutaConsegna(_) => format!(
            "Ricevuta di avvenuta consegna\n\n{when} il messaggio \"{subject}\" proveniente \
             da \"{sender}\" ed indirizzato a \"{who}\" è stato correttamente consegnato al \
             destinatario.\nIdentificativo messaggio: {id}\n"
        ),
        Kind::ErroreConsegna => format!(
            "Avviso di mancata consegna\n\n{when} nel messaggio \"{subject}\" proveniente da \
             \"{sender}\" e destinato all'utente \"{who}\" è stato rilevato il seguente \
             errore:\n{reason}\nIl messaggio non è stato consegnato.\n\
             Identificativo messaggio: {id}\n"
        ),
        Kind::PreavvisoErroreConsegna => format!(
            "Avviso di mancata consegna per superamento dei tempi massimi previsti\n\n{when} \
             il messaggio \"{subject}\" proveniente da \"{sender}\" e destinato all'utente \
             \"{who}\" non è ancora stato consegnato:\n{reason}\nIl gestore continua a \
             tentare la consegna.\nIdentificativo messaggio: {id}\n"
        ),
    }
}

/// `postacert.eml` for the kinds that carry it: the submitted message with its Message-ID
/// replaced by the PEC id and `X-Riferimento-Message-ID` added; attachments replaced by
/// `name.hash` parts in a breve receipt.
fn postacert(n: &Notice<'_>) -> Option<Vec<u8>> {
    let s = n.submission;
    match n.kind {
        Kind::PostaCertificata | Kind::AvvenutaConsegna(ReceiptType::Completa) => {
            Some(rewrite_headers(s, &s.raw))
        }
        Kind::AvvenutaConsegna(ReceiptType::Breve) => Some(breve(s)),
        _ => None,
    }
}

/// Splits a message at its first blank line: (headers with their last CRLF, body).
fn split(raw: &[u8]) -> (&[u8], &[u8]) {
    match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&raw[..at + 2], &raw[at + 4..]),
        None => (raw, &[]),
    }
}

/// Header lines minus the `drop` ones (with their continuation lines).
fn filter_headers(head: &[u8], drop: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len());
    let mut skipping = false;
    for line in head.split_inclusive(|b| *b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            let name = line
                .split(|b| *b == b':')
                .next()
                .map(|n| String::from_utf8_lossy(n).trim().to_ascii_lowercase())
                .unwrap_or_default();
            skipping = drop.iter().any(|d| d.eq_ignore_ascii_case(&name));
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out
}

fn pec_headers(s: &Accepted) -> String {
    let mut h = format!("Message-ID: <{}>\r\n", s.identificativo);
    if let Some(id) = &s.message_id {
        h.push_str(&format!("X-Riferimento-Message-ID: <{id}>\r\n"));
    }
    h
}

fn rewrite_headers(s: &Accepted, raw: &[u8]) -> Vec<u8> {
    let (head, body) = split(raw);
    let mut out = pec_headers(s).into_bytes();
    out.extend_from_slice(&filter_headers(
        head,
        &["message-id", "bcc", "x-riferimento-message-id"],
    ));
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// The submitted message rebuilt as a breve receipt carries it: the headers, the text and
/// HTML bodies, and each attachment replaced by `name.hash` holding its SHA-1 in hex.
fn breve(s: &Accepted) -> Vec<u8> {
    let Some(msg) = MessageParser::default().parse(&s.raw) else {
        return rewrite_headers(s, &s.raw);
    };
    let (head, _) = split(&s.raw);
    let boundary = format!("breve-{}", boundary_tag(&s.identificativo));
    let mut out = pec_headers(s).into_bytes();
    out.extend_from_slice(&filter_headers(
        head,
        &[
            "message-id",
            "bcc",
            "x-riferimento-message-id",
            "content-type",
            "content-transfer-encoding",
        ],
    ));
    push(
        &mut out,
        &format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"),
    );
    if let Some(text) = msg.body_text(0) {
        push(&mut out, &format!("--{boundary}\r\n"));
        push(
            &mut out,
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        );
        push(&mut out, &base64_lines(text.as_bytes()));
    }
    if let Some(html) = msg.body_html(0) {
        push(&mut out, &format!("--{boundary}\r\n"));
        push(
            &mut out,
            "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        );
        push(&mut out, &base64_lines(html.as_bytes()));
    }
    for (i, part) in msg.attachments().enumerate() {
        let name = part
            .attachment_name()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("allegato-{}", i + 1));
        let name = name.replace(['"', '\\', '\r', '\n'], "_");
        let digest = hex::encode(Sha1::digest(part.contents()));
        push(&mut out, &format!("--{boundary}\r\n"));
        let encoded = encode_word(&format!("{name}.hash"));
        push(
            &mut out,
            &format!(
                "Content-Type: application/octet-stream; name=\"{encoded}\"\r\n\
                 Content-Disposition: attachment; filename=\"{encoded}\"\r\n\
                 Content-Transfer-Encoding: 7bit\r\n\r\n{digest}\r\n"
            ),
        );
    }
    push(&mut out, &format!("--{boundary}--\r\n"));
    out
}
