//! `pecdesk inspect FILE... | -`: the readable or JSON summary of PEC messages.
//!
//! Exit codes: 0 when every input was read (a malformed PEC is not an error: its problems
//! are part of the summary); 2 when an input cannot be read or is empty (one line on
//! stderr per such input), or when the CA bundle cannot be loaded.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pecdesk_core::pec::{Inspection, PecKind};
use pecdesk_core::signature::{SignatureStatus, TrustAnchors};
use pecdesk_core::{InspectOptions, inspect};

/// Language of the readable output (and of `problems` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Italiano
    It,
    /// English
    En,
}

/// Arguments of `pecdesk inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// File da leggere (`-` per lo standard input) / Files to read (`-` for standard input).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Stampa il riepilogo JSON di PEC.md (più file: JSON Lines con la chiave `file`) /
    /// Print the JSON summary of PEC.md (several files: JSON Lines with a `file` key).
    #[arg(long)]
    pub json: bool,
    /// Lingua del riepilogo / Language of the summary.
    #[arg(long, value_enum, default_value = "it")]
    pub lang: Lang,
    /// Certificati di CA in più (PEM): completano le catene, non rendono nessuno un gestore
    /// PEC / Extra CA certificates (PEM bundle): they complete chains, they make no one a
    /// PEC provider (see docs/trust.md).
    #[arg(long, env = "PECDESK_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    /// Elenco di gestori PEC in più (file `pecdesk-pec-providers/1`, come lo scrive
    /// `pecdesk trust import`), oltre a quello incorporato / Extra PEC provider list (a
    /// `pecdesk-pec-providers/1` file, as `pecdesk trust import` writes it), besides the
    /// built-in one.
    #[arg(long)]
    pub providers: Option<PathBuf>,
    /// Non verificare la firma S/MIME / Skip the S/MIME signature check.
    #[arg(long)]
    pub no_signature: bool,
}

/// Runs `pecdesk inspect`.
pub fn run(args: InspectArgs) -> ExitCode {
    let lang = args.lang;
    let options = match signature_options(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("pecdesk: {message}");
            return ExitCode::from(2);
        }
    };
    let several = args.files.len() > 1;
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in &args.files {
        let display = path.display().to_string();
        let raw = match read_input(path) {
            Ok(raw) if raw.iter().all(u8::is_ascii_whitespace) => {
                eprintln!(
                    "pecdesk: {}: {display}",
                    text(lang, "input vuoto", "empty input")
                );
                failed = true;
                continue;
            }
            Ok(raw) => raw,
            Err(error) => {
                eprintln!(
                    "pecdesk: {}: {display}: {error}",
                    text(lang, "impossibile leggere", "cannot read")
                );
                failed = true;
                continue;
            }
        };
        let mut inspection = inspect(&raw, &options);
        if lang == Lang::En {
            inspection.summary.problems =
                inspection.errors.iter().map(|e| e.message_en()).collect();
        }
        let written = if args.json {
            write_json(&mut out, &inspection, several.then_some(display.as_str()))
        } else {
            write_readable(
                &mut out,
                &inspection,
                lang,
                several.then_some(display.as_str()),
            )
        };
        if let Err(error) = written {
            // The reader went away (`| head`): stop quietly, as other Unix tools do.
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("pecdesk: {error}");
            return ExitCode::from(2);
        }
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn signature_options(args: &InspectArgs) -> Result<InspectOptions, String> {
    if args.no_signature {
        return Ok(InspectOptions::default());
    }
    // The built-in PEC provider list always; a bundle only adds anchors that complete chains.
    let mut anchors = TrustAnchors::builtin();
    if let Some(path) = &args.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "impossibile leggere / cannot read --ca-bundle {}: {e}",
                path.display()
            )
        })?;
        let bundle = TrustAnchors::from_pem(&pem)
            .map_err(|e| format!("--ca-bundle {} non valido / invalid: {e}", path.display()))?;
        anchors.certificates.extend(bundle.certificates);
    }
    if let Some(path) = &args.providers {
        let json = std::fs::read(path).map_err(|e| {
            format!(
                "impossibile leggere / cannot read --providers {}: {e}",
                path.display()
            )
        })?;
        anchors
            .add_provider_list(&json, None)
            .map_err(|e| format!("--providers {}: {e}", path.display()))?;
    }
    Ok(InspectOptions {
        signature: Some(anchors),
    })
}

fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut raw = Vec::new();
        std::io::stdin().lock().read_to_end(&mut raw)?;
        Ok(raw)
    } else {
        std::fs::read(path)
    }
}

fn text(lang: Lang, it: &str, en: &str) -> String {
    match lang {
        Lang::It => it.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// One object; with `file`, one compact line with a leading `file` key (JSON Lines).
/// Keys keep the order of `PEC.md` (the struct's order), hence no `serde_json::Value`.
fn write_json(
    out: &mut impl Write,
    inspection: &Inspection,
    file: Option<&str>,
) -> std::io::Result<()> {
    match file {
        None => {
            let pretty =
                serde_json::to_string_pretty(&inspection.summary).map_err(std::io::Error::other)?;
            writeln!(out, "{pretty}")
        }
        Some(file) => {
            let summary =
                serde_json::to_string(&inspection.summary).map_err(std::io::Error::other)?;
            let file = serde_json::to_string(file).map_err(std::io::Error::other)?;
            // `summary` is a non-empty object: splice `"file"` in as its first key.
            let fields = summary.strip_prefix('{').unwrap_or(&summary);
            writeln!(out, "{{\"file\":{file},{fields}")
        }
    }
}

fn kind_label(kind: PecKind, lang: Lang) -> &'static str {
    match (kind, lang) {
        (PecKind::PostaCertificata, Lang::It) => "busta di trasporto",
        (PecKind::PostaCertificata, Lang::En) => "transport envelope",
        (PecKind::Anomalia, Lang::It) => "busta di anomalia",
        (PecKind::Anomalia, Lang::En) => "anomaly envelope",
        (PecKind::Accettazione, Lang::It) => "ricevuta di accettazione",
        (PecKind::Accettazione, Lang::En) => "acceptance receipt",
        (PecKind::NonAccettazione, Lang::It) => "avviso di non accettazione",
        (PecKind::NonAccettazione, Lang::En) => "non-acceptance notice",
        (PecKind::PresaInCarico, Lang::It) => "ricevuta di presa in carico",
        (PecKind::PresaInCarico, Lang::En) => "take-charge receipt",
        (PecKind::AvvenutaConsegna, Lang::It) => "ricevuta di avvenuta consegna",
        (PecKind::AvvenutaConsegna, Lang::En) => "delivery receipt",
        (PecKind::ErroreConsegna, Lang::It) => "avviso di mancata consegna",
        (PecKind::ErroreConsegna, Lang::En) => "non-delivery notice",
        (PecKind::PreavvisoErroreConsegna, Lang::It) => {
            "preavviso di mancata consegna (tempo massimo superato)"
        }
        (PecKind::PreavvisoErroreConsegna, Lang::En) => {
            "non-delivery warning (time limit exceeded)"
        }
        (PecKind::RilevazioneVirus, Lang::It) => "rilevazione virus",
        (PecKind::RilevazioneVirus, Lang::En) => "virus detection",
        (PecKind::NotPec, Lang::It) => "non è una PEC",
        (PecKind::NotPec, Lang::En) => "not a PEC",
    }
}

fn signature_label(status: SignatureStatus, lang: Lang) -> &'static str {
    match (status, lang) {
        (SignatureStatus::Valid, Lang::It) => "valida",
        (SignatureStatus::Valid, Lang::En) => "valid",
        (SignatureStatus::Invalid, Lang::It) => "NON valida",
        (SignatureStatus::Invalid, Lang::En) => "INVALID",
        (SignatureStatus::Missing, Lang::It) => "assente",
        (SignatureStatus::Missing, Lang::En) => "missing",
        (SignatureStatus::Untrusted, Lang::It) => "corretta ma non di un gestore PEC riconosciuto",
        (SignatureStatus::Untrusted, Lang::En) => "correct but not from a recognised PEC provider",
    }
}

fn write_readable(
    out: &mut impl Write,
    inspection: &Inspection,
    lang: Lang,
    file: Option<&str>,
) -> std::io::Result<()> {
    let s = &inspection.summary;
    let t = |it: &'static str, en: &'static str| if lang == Lang::It { it } else { en };
    let yes_no = |v: bool| if v { t("sì", "yes") } else { "no" };
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
    if let Some(file) = file {
        writeln!(out, "== {file}")?;
    }
    let mut kind = format!("{} ({})", kind_label(s.kind, lang), s.kind.as_str());
    if inspection.virus {
        kind.push_str(t(" — per virus", " — virus"));
    }
    writeln!(out, "{:<22}{kind}", t("Tipo:", "Kind:"))?;
    if s.kind != PecKind::NotPec {
        let rows: [(&str, String); 9] = [
            (t("Ricevuta:", "Receipt type:"), dash(&s.receipt_type)),
            (t("Errore:", "Error:"), dash(&s.error)),
            (t("Identificativo:", "PEC id:"), dash(&s.identificativo)),
            (
                t("Message-ID originale:", "Original Message-ID:"),
                dash(&s.original_message_id),
            ),
            (t("Mittente:", "Sender:"), dash(&s.sender)),
            (t("Gestore:", "Provider:"), dash(&s.provider)),
            (t("Data:", "Issued at:"), dash(&s.issued_at)),
            (t("Consegna a:", "Delivered to:"), dash(&s.recipient)),
            (t("Oggetto:", "Subject:"), dash(&s.subject)),
        ];
        for (label, value) in rows {
            writeln!(out, "{label:<22}{value}")?;
        }
        let recipients = if s.recipients.is_empty() {
            "—".to_owned()
        } else {
            s.recipients
                .iter()
                .map(|r| format!("{} ({})", r.address, r.kind))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(out, "{:<22}{recipients}", t("Destinatari:", "Recipients:"))?;
        writeln!(out, "{:<22}{}", "daticert.xml:", yes_no(s.has_daticert))?;
    } else {
        writeln!(out, "{:<22}{}", t("Oggetto:", "Subject:"), dash(&s.subject))?;
    }
    writeln!(
        out,
        "{:<22}{}",
        t("Messaggio originale:", "Original message:"),
        yes_no(s.has_original)
    )?;
    if let Some(original) = &inspection.original
        && !original.attachments.is_empty()
    {
        let names: Vec<String> = original
            .attachments
            .iter()
            .map(|a| a.name.clone().unwrap_or_else(|| a.content_type.clone()))
            .collect();
        writeln!(
            out,
            "{:<22}{}",
            t("Allegati:", "Attachments:"),
            names.join(", ")
        )?;
    }
    let signature = match &s.signature {
        None => t("non verificata", "not checked").to_owned(),
        Some(report) => {
            let mut line = signature_label(report.status, lang).to_owned();
            if let Some(provider) = &report.provider {
                line.push_str(&format!(" — {provider}"));
            }
            if let Some(signer) = &report.signer {
                line.push_str(&format!(" — {signer}"));
            }
            if let Some(reason) = report.reason {
                let why = match lang {
                    Lang::It => reason.italian().to_owned(),
                    Lang::En => reason.to_string(),
                };
                line.push_str(&format!(" ({why})"));
            }
            line
        }
    };
    writeln!(out, "{:<22}{signature}", t("Firma:", "Signature:"))?;
    if !s.problems.is_empty() {
        writeln!(out, "{}", t("Problemi:", "Problems:"))?;
        for problem in &s.problems {
            writeln!(out, "  - {problem}")?;
        }
    }
    if file.is_some() {
        writeln!(out)?;
    }
    Ok(())
}
