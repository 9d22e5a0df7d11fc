//! Synthetic PEC messages for the stories (ours, written here; no corpus bytes): a transport
//! envelope with daticert.xml + postacert.eml, receipts sharing its identificativo, and two
//! malformed ones (truncated MIME, broken daticert).

/// What one submission is about.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    /// PEC identificativo given at acceptance.
    pub identificativo: &'a str,
    /// The sender client's own Message-ID (no angle brackets).
    pub msgid: &'a str,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
}

/// Standard base64 with line breaks every 76 characters (as providers send daticert.xml).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.as_bytes()
        .chunks(76)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// daticert.xml of `tipo` for `s`; `consegna` for delivery receipts.
pub fn daticert(
    tipo: &str,
    s: &Submission,
    consegna: Option<&str>,
    ricevuta: Option<&str>,
) -> String {
    let consegna = consegna
        .map(|c| format!("    <consegna>{c}</consegna>\n"))
        .unwrap_or_default();
    let ricevuta = ricevuta
        .map(|r| format!("    <ricevuta tipo=\"{r}\" />\n"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <postacert tipo=\"{tipo}\" errore=\"nessuno\">\n\
         \x20 <intestazione>\n\
         \x20   <mittente>{sender}</mittente>\n\
         \x20   <destinatari tipo=\"certificato\">{recipient}</destinatari>\n\
         \x20   <risposte>{sender}</risposte>\n\
         \x20   <oggetto>{subject}</oggetto>\n\
         \x20 </intestazione>\n\
         \x20 <dati>\n\
         \x20   <gestore-emittente>PEC Prova S.p.A.</gestore-emittente>\n\
         \x20   <data zona=\"+0100\">\n\
         \x20     <giorno>16/11/2026</giorno>\n\
         \x20     <ora>11:20:00</ora>\n\
         \x20   </data>\n\
         \x20   <identificativo>{ident}</identificativo>\n\
         \x20   <msgid>&lt;{msgid}&gt;</msgid>\n\
         {ricevuta}{consegna}\
         \x20 </dati>\n\
         </postacert>\n",
        sender = s.sender,
        recipient = s.recipient,
        subject = s.subject,
        ident = s.identificativo,
        msgid = s.msgid,
    )
}

const FAKE_P7S: &str = "UGVjRGVzayB0ZXN0OiBmaXJtYSBmaXR0aXppYSAvIGZha2Ugc2lnbmF0dXJl";

/// Wraps the parts of a `multipart/mixed` into `multipart/signed` with headers `head`.
fn signed(head: &str, tag: &str, parts: &[String]) -> String {
    // Boundaries allow letters, digits and a few marks only ('@' is not one of them).
    let tag: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut body = format!(
        "{head}MIME-Version: 1.0\r\n\
         Content-Type: multipart/signed; protocol=\"application/x-pkcs7-signature\"; \
         micalg=sha-256; boundary=\"--s-{tag}\"\r\n\r\n\
         This is a S/MIME signed message\r\n\r\n\
         ----s-{tag}\r\n\
         Content-Type: multipart/mixed; boundary=\"--m-{tag}\"\r\n\r\n"
    );
    for p in parts {
        body.push_str(&format!("----m-{tag}\r\n{p}\r\n"));
    }
    body.push_str(&format!(
        "----m-{tag}--\r\n\r\n\
         ----s-{tag}\r\n\
         Content-Type: application/x-pkcs7-signature; name=\"smime.p7s\"\r\n\
         Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{FAKE_P7S}\r\n\r\n\
         ----s-{tag}--\r\n"
    ));
    body
}

fn text_part(text: &str) -> String {
    format!(
        "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
    )
}

fn daticert_part(xml: &str) -> String {
    format!(
        "Content-Type: application/xml; name=\"daticert.xml\"\r\n\
         Content-Disposition: inline; filename=\"daticert.xml\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        base64(xml.as_bytes())
    )
}

fn postacert_part(s: &Submission) -> String {
    format!(
        "Content-Type: message/rfc822; name=\"postacert.eml\"\r\n\
         Content-Disposition: inline; filename=\"postacert.eml\"\r\n\r\n\
         From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: {subject}\r\n\
         Date: Mon, 16 Nov 2026 11:19:58 +0100\r\nMessage-ID: <{ident}>\r\n\
         X-Riferimento-Message-ID: <{msgid}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\n\
         Si trasmette quanto in oggetto (dati fittizi).\r\n",
        sender = s.sender,
        recipient = s.recipient,
        subject = s.subject,
        ident = s.identificativo,
        msgid = s.msgid,
    )
}

fn envelope_head(s: &Submission) -> String {
    format!(
        "From: \"Per conto di: {sender}\" <posta-certificata@pec.prova-gestore.test>\r\n\
         Reply-To: <{sender}>\r\nTo: <{recipient}>\r\n\
         Subject: POSTA CERTIFICATA: {subject}\r\n\
         Date: Mon, 16 Nov 2026 11:20:00 +0100\r\nMessage-ID: <{ident}>\r\n\
         X-Riferimento-Message-ID: <{msgid}>\r\nX-Trasporto: posta-certificata\r\n\
         X-TipoRicevuta: completa\r\n",
        sender = s.sender,
        recipient = s.recipient,
        subject = s.subject,
        ident = s.identificativo,
        msgid = s.msgid,
    )
}

/// The transport envelope the recipient's box receives.
pub fn envelope(s: &Submission) -> Vec<u8> {
    let xml = daticert("posta-certificata", s, None, Some("completa"));
    signed(
        &envelope_head(s),
        s.identificativo,
        &[
            text_part("Messaggio di posta certificata (dati fittizi)."),
            daticert_part(&xml),
            postacert_part(s),
        ],
    )
    .into_bytes()
}

/// The transport envelope with its daticert `data` set to `day` (`dd/mm/yyyy`), `time`
/// (`hh:mm:ss`) in `zone` (`+0200`): a PEC certified at a chosen instant.
pub fn envelope_certified_at(s: &Submission, day: &str, time: &str, zone: &str) -> Vec<u8> {
    let xml = daticert("posta-certificata", s, None, Some("completa"))
        .replace("<data zona=\"+0100\">", &format!("<data zona=\"{zone}\">"))
        .replace("16/11/2026", day)
        .replace("11:20:00", time);
    signed(
        &envelope_head(s),
        s.identificativo,
        &[
            text_part("Messaggio di posta certificata (dati fittizi)."),
            daticert_part(&xml),
            postacert_part(s),
        ],
    )
    .into_bytes()
}

/// A receipt (`accettazione` or `avvenuta-consegna`) of `s` with its own Message-ID `own_id`.
pub fn receipt(kind: &str, s: &Submission, own_id: &str) -> Vec<u8> {
    let (prefix, consegna, ricevuta, tipo_header) = match kind {
        "accettazione" => ("ACCETTAZIONE", None, None, ""),
        _ => (
            "CONSEGNA",
            Some(s.recipient),
            Some("sintetica"),
            "X-TipoRicevuta: sintetica\r\n",
        ),
    };
    let head = format!(
        "From: posta-certificata@pec.prova-gestore.test\r\nTo: <{sender}>\r\n\
         Subject: {prefix}: {subject}\r\nDate: Mon, 16 Nov 2026 11:20:05 +0100\r\n\
         Message-ID: <{own_id}>\r\nX-Riferimento-Message-ID: <{msgid}>\r\n\
         X-Ricevuta: {kind}\r\n{tipo_header}",
        sender = s.sender,
        subject = s.subject,
        msgid = s.msgid,
    );
    let xml = daticert(kind, s, consegna, ricevuta);
    signed(
        &head,
        own_id,
        &[text_part("Ricevuta (dati fittizi)."), daticert_part(&xml)],
    )
    .into_bytes()
}

/// An envelope cut off in the middle of its postacert.eml: no closing boundaries. Its
/// notice is ISO-8859-1 ("è" as the single byte 0xE8, as many providers send it), so the
/// raw bytes are not UTF-8 either.
pub fn truncated_envelope(s: &Submission) -> Vec<u8> {
    let text = String::from_utf8(envelope(s)).expect("ascii fixture");
    let cut = text.find("Si trasmette").expect("body of postacert");
    let text = text[..cut + 5].replace("charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nMessaggio di posta certificata", "charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nMessaggio di posta certificata: il messaggio @E8@ stato inviato");
    let mut out = Vec::new();
    for (i, piece) in text.split("@E8@").enumerate() {
        if i > 0 {
            out.push(0xE8);
        }
        out.extend_from_slice(piece.as_bytes());
    }
    assert!(out.contains(&0xE8), "Latin-1 notice in the fixture");
    out
}

/// An envelope whose daticert.xml is not well-formed XML (cut inside an element).
pub fn envelope_with_broken_daticert(s: &Submission) -> Vec<u8> {
    let xml = daticert("posta-certificata", s, None, Some("completa"));
    let cut = xml
        .find("<identificativo>")
        .expect("identificativo element");
    let broken = format!("{}<identificativo>{}</ident", &xml[..cut], s.identificativo);
    signed(
        &envelope_head(s),
        s.identificativo,
        &[
            text_part("Messaggio di posta certificata (dati fittizi)."),
            daticert_part(&broken),
            postacert_part(s),
        ],
    )
    .into_bytes()
}

/// The client's original of a sent PEC, as the Sent folder holds it (not PEC itself).
pub fn sent_message(from: &str, to: &[&str], cc: &[&str], msgid: &str, subject: &str) -> Vec<u8> {
    let list = |v: &[&str]| {
        v.iter()
            .map(|a| format!("<{a}>"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cc = if cc.is_empty() {
        String::new()
    } else {
        format!("Cc: {}\r\n", list(cc))
    };
    format!(
        "From: <{from}>\r\nTo: {to}\r\n{cc}Subject: {subject}\r\n\
         Date: Mon, 16 Nov 2026 11:19:58 +0100\r\nMessage-ID: <{msgid}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
         Si trasmette quanto in oggetto (dati fittizi).\r\n",
        to = list(to),
    )
    .into_bytes()
}

/// One receipt of a submission to several recipients, as [`receipt_of`] writes it.
#[derive(Debug, Clone)]
pub struct ReceiptSpec<'a> {
    /// `accettazione`, `avvenuta-consegna`, `errore-consegna`, `preavviso-errore-consegna`,
    /// `non-accettazione`, `rilevazione-virus`.
    pub kind: &'a str,
    pub identificativo: &'a str,
    /// The client's Message-ID; `None`: neither `X-Riferimento-Message-ID` nor `msgid`.
    pub msgid: Option<&'a str>,
    pub sender: &'a str,
    /// daticert `destinatari`.
    pub recipients: &'a [&'a str],
    /// daticert `consegna`.
    pub consegna: Option<&'a str>,
    /// `completa`, `breve`, `sintetica` (delivery receipts).
    pub ricevuta: Option<&'a str>,
    /// daticert `errore`.
    pub errore: &'a str,
    /// daticert `errore-esteso`.
    pub errore_esteso: Option<&'a str>,
    /// Certified time: day `dd/mm/yyyy` and time `hh:mm:ss` (+0100).
    pub giorno: &'a str,
    pub ora: &'a str,
    /// `X-VerificaSicurezza: errore` (virus notice).
    pub virus: bool,
    /// The receipt's own Message-ID.
    pub own_id: &'a str,
    pub subject: &'a str,
}

impl<'a> ReceiptSpec<'a> {
    /// An accettazione of `identificativo` / `msgid` from `sender` to `recipients`.
    pub fn accettazione(
        identificativo: &'a str,
        msgid: &'a str,
        sender: &'a str,
        recipients: &'a [&'a str],
        own_id: &'a str,
    ) -> Self {
        Self {
            kind: "accettazione",
            identificativo,
            msgid: Some(msgid),
            sender,
            recipients,
            consegna: None,
            ricevuta: None,
            errore: "nessuno",
            errore_esteso: None,
            giorno: "16/11/2026",
            ora: "11:20:00",
            virus: false,
            own_id,
            subject: "Trasmissione atti (dati fittizi)",
        }
    }

    /// The same submission's notice of `kind` about `consegna`, certified at `ora` of `giorno`.
    pub fn about(
        &self,
        kind: &'a str,
        consegna: &'a str,
        giorno: &'a str,
        ora: &'a str,
        own_id: &'a str,
    ) -> Self {
        Self {
            kind,
            consegna: Some(consegna),
            ricevuta: (kind == "avvenuta-consegna").then_some("completa"),
            errore: match kind {
                "errore-consegna" => "no-dest",
                "preavviso-errore-consegna" => "altro",
                _ => "nessuno",
            },
            giorno,
            ora,
            own_id,
            ..self.clone()
        }
    }
}

/// A receipt of a submission to several recipients (see [`ReceiptSpec`]).
pub fn receipt_of(r: &ReceiptSpec) -> Vec<u8> {
    let prefix = match r.kind {
        "accettazione" => "ACCETTAZIONE",
        "non-accettazione" => "AVVISO DI NON ACCETTAZIONE",
        "avvenuta-consegna" => "CONSEGNA",
        "errore-consegna" if r.virus => "AVVISO DI MANCATA CONSEGNA PER VIRUS",
        "errore-consegna" => "AVVISO DI MANCATA CONSEGNA",
        "preavviso-errore-consegna" => "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO",
        _ => "PROBLEMA DI SICUREZZA",
    };
    let riferimento = r
        .msgid
        .map(|m| format!("X-Riferimento-Message-ID: <{m}>\r\n"))
        .unwrap_or_default();
    let tipo = r
        .ricevuta
        .map(|t| format!("X-TipoRicevuta: {t}\r\n"))
        .unwrap_or_default();
    let virus = if r.virus {
        "X-VerificaSicurezza: errore\r\n"
    } else {
        ""
    };
    let head = format!(
        "From: posta-certificata@pec.prova-gestore.test\r\nTo: <{sender}>\r\n\
         Subject: {prefix}: {subject}\r\nDate: Mon, 16 Nov 2026 11:20:05 +0100\r\n\
         Message-ID: <{own}>\r\n{riferimento}X-Ricevuta: {kind}\r\n{tipo}{virus}",
        sender = r.sender,
        subject = r.subject,
        own = r.own_id,
        kind = r.kind,
    );
    let opt = |tag: &str, v: Option<&str>| {
        v.map(|v| format!("    <{tag}>{v}</{tag}>\n"))
            .unwrap_or_default()
    };
    let destinatari: String = r
        .recipients
        .iter()
        .map(|d| format!("    <destinatari tipo=\"certificato\">{d}</destinatari>\n"))
        .collect();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <postacert tipo=\"{kind}\" errore=\"{errore}\">\n\
         \x20 <intestazione>\n\
         \x20   <mittente>{sender}</mittente>\n\
         {destinatari}\
         \x20   <risposte>{sender}</risposte>\n\
         \x20   <oggetto>{subject}</oggetto>\n\
         \x20 </intestazione>\n\
         \x20 <dati>\n\
         \x20   <gestore-emittente>PEC Prova S.p.A.</gestore-emittente>\n\
         \x20   <data zona=\"+0100\">\n\
         \x20     <giorno>{giorno}</giorno>\n\
         \x20     <ora>{ora}</ora>\n\
         \x20   </data>\n\
         \x20   <identificativo>{ident}</identificativo>\n\
         {msgid}{ricevuta}{consegna}{esteso}\
         \x20 </dati>\n\
         </postacert>\n",
        kind = r.kind,
        errore = r.errore,
        sender = r.sender,
        subject = r.subject,
        giorno = r.giorno,
        ora = r.ora,
        ident = r.identificativo,
        msgid = opt("msgid", r.msgid.map(|m| format!("&lt;{m}&gt;")).as_deref()),
        ricevuta = r
            .ricevuta
            .map(|t| format!("    <ricevuta tipo=\"{t}\" />\n"))
            .unwrap_or_default(),
        consegna = opt("consegna", r.consegna),
        esteso = opt("errore-esteso", r.errore_esteso),
    );
    signed(
        &head,
        r.own_id,
        &[text_part("Ricevuta (dati fittizi)."), daticert_part(&xml)],
    )
    .into_bytes()
}
