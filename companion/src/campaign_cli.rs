//! `pecdesk campaign`: mass sends from the command line (see [`crate::domain::campaigns`]),
//! on the database directly (as `pecdesk rule`), on behalf of a user (`--user EMAIL`: the
//! same permissions as through the API: `MAIL_ACCOUNT_MANAGER` on the mailbox to create,
//! pause, resume or cancel; message read to see). Writes take the SQLite data directory's
//! lock, so they refuse while a `pecdesk serve` holds it; reads do not need it. The
//! messages queued here are sent by the outbox worker of a running `pecdesk serve`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use pecdesk_core::ids::EmailAddress;

use crate::auth::Principal;
use crate::cli::DbArgs;
use crate::domain::campaigns::{
    self, ActivitiesMode, CampaignRequest, Control, Created, FileInput, ListQuery, Report,
};
use crate::outbox::compose::ReceiptType;
use crate::store::{Store, campaigns as store_campaigns, grants, users};

/// `pecdesk campaign ...`.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Crea (o con --dry-run solo verifica) un invio massivo / Create (or with --dry-run
    /// only check) a mass send.
    Create(CreateArgs),
    /// Elenca gli invii / List the sends.
    List(Common),
    /// Un invio con i conteggi per stato (JSON) / One send with its counts per status (JSON).
    Show {
        /// The campaign's id.
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Mette in pausa / Pause.
    Pause {
        /// The campaign's id.
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Riprende / Resume.
    Resume {
        /// The campaign's id.
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Annulla i messaggi non ancora inviati / Cancel the messages not yet sent.
    Cancel {
        /// The campaign's id.
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Esito per destinatario in CSV / Outcome per recipient as CSV.
    Export {
        /// The campaign's id.
        #[arg(value_name = "ID")]
        id: String,
        /// File to write (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
}

/// What every `campaign` command takes.
#[derive(Debug, Args)]
pub struct Common {
    /// L'utente per cui si agisce / the user the command acts for (their organisation and
    /// permissions).
    #[arg(long, value_name = "EMAIL")]
    pub user: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `pecdesk campaign create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The sending mailbox's PEC address.
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: String,
    /// A name for people.
    #[arg(long)]
    pub name: String,
    /// Subject template (`{{ field }}` placeholders).
    #[arg(long)]
    pub subject: String,
    /// Body template file (UTF-8 text, placeholders).
    #[arg(long, value_name = "FILE")]
    pub body_file: PathBuf,
    /// Recipients' CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// Folder of the attachments (the CSV names files in it).
    #[arg(long, value_name = "DIR")]
    pub files: Option<PathBuf>,
    /// A file of the folder sent to everyone (repeatable).
    #[arg(long, value_name = "NAME")]
    pub common: Vec<String>,
    /// none | campaign | failures.
    #[arg(long, default_value = "none")]
    pub activities: String,
    /// completa | breve | sintetica.
    #[arg(long, default_value = "completa")]
    pub receipt_type: String,
    /// Only check and print the report: nothing is queued.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub common_args: Common,
}

/// Runs a `campaign` command.
pub fn run(cmd: CampaignCommand) -> ExitCode {
    match run_inner(cmd) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("errore / error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(cmd: CampaignCommand) -> anyhow::Result<bool> {
    let (common, writes) = match &cmd {
        CampaignCommand::Create(a) => (&a.common_args, !a.dry_run),
        CampaignCommand::List(c) => (c, false),
        CampaignCommand::Show { common, .. } | CampaignCommand::Export { common, .. } => {
            (common, false)
        }
        CampaignCommand::Pause { common, .. }
        | CampaignCommand::Resume { common, .. }
        | CampaignCommand::Cancel { common, .. } => (common, true),
    };
    let settings = common.db.settings(None, false)?;
    let _lock = if writes {
        crate::lock::DataDirLock::for_settings(&settings)?
    } else {
        None
    };
    let email = EmailAddress::parse(&common.user).map_err(|e| anyhow::anyhow!("--user: {e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = Store::connect(&settings).await?;
        let result = act(&store, &settings.campaigns, &email, cmd).await;
        store.close().await;
        result
    })
}

fn progress(msg: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("… {msg}");
    }
}

async fn act(
    store: &Store,
    settings: &campaigns::CampaignSettings,
    email: &EmailAddress,
    cmd: CampaignCommand,
) -> anyhow::Result<bool> {
    let user = users::user_by_email(store, email)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| {
            anyhow::anyhow!("--user: nessun utente attivo con questo indirizzo / no active user with this address")
        })?;
    let who = Principal {
        user_id: user.id,
        org_id: user.org_id,
        email: user.email,
        name: user.name,
        is_admin: user.is_admin,
        is_auditor: user.is_auditor,
    };
    let person = grants::person(store, &who).await?;
    match cmd {
        CampaignCommand::Create(a) => create(store, settings, &who, &person, a).await,
        CampaignCommand::List(_) => {
            let mut cursor = None;
            println!("id\tstato/state\tdestinatari/recipients\tcreato/created\tnome/name");
            loop {
                let q = ListQuery {
                    cursor: cursor.take(),
                    limit: Some(200),
                };
                let page = campaigns::list(store, &who, &person, &q).await?;
                for c in page.items {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        c.id, c.state, c.recipients_total, c.created_at, c.name
                    );
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            Ok(true)
        }
        CampaignCommand::Show { id, .. } => {
            let v = campaigns::detail(store, &who, &person, &id).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(true)
        }
        CampaignCommand::Pause { id, .. } => {
            control(store, &who, &person, &id, Control::Pause).await
        }
        CampaignCommand::Resume { id, .. } => {
            control(store, &who, &person, &id, Control::Resume).await
        }
        CampaignCommand::Cancel { id, .. } => {
            control(store, &who, &person, &id, Control::Cancel).await
        }
        CampaignCommand::Export { id, out, .. } => {
            let bytes = campaigns::export_csv(store, &who, &person, &id).await?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &bytes).map_err(|e| {
                        anyhow::anyhow!("{}: non scrivibile / cannot write: {e}", path.display())
                    })?;
                    eprintln!("esito scritto in / outcome written to {}", path.display());
                }
                None => {
                    use std::io::Write as _;
                    std::io::stdout().write_all(&bytes)?;
                }
            }
            Ok(true)
        }
    }
}

async fn control(
    store: &Store,
    who: &Principal,
    person: &pecdesk_core::authz::Person,
    id: &str,
    what: Control,
) -> anyhow::Result<bool> {
    let v = campaigns::control(store, who, person, id, what).await?;
    println!("invio / send {}: {}", v.id, v.state);
    Ok(true)
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: file non leggibile (UTF-8) / cannot read the file (UTF-8): {e}",
            path.display()
        )
    })
}

/// A MIME type from the file name's extension.
fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("pdf") => "application/pdf",
        Some("p7m") => "application/pkcs7-mime",
        Some("xml") => "application/xml",
        Some("txt") => "text/plain",
        Some("zip") => "application/zip",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("doc") => "application/msword",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("odt") => "application/vnd.oasis.opendocument.text",
        _ => "application/octet-stream",
    }
}

fn read_files(dir: Option<&Path>, common: &[String]) -> anyhow::Result<Vec<FileInput>> {
    use base64::Engine as _;
    let mut out = Vec::new();
    if let Some(dir) = dir {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}: cartella non leggibile / cannot read the folder: {e}",
                    dir.display()
                )
            })?
            .filter_map(std::result::Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path())?;
            out.push(FileInput {
                content_type: Some(content_type(&name).to_owned()),
                content_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
                common: common.contains(&name),
                name,
            });
        }
    }
    for c in common {
        if !out.iter().any(|f| &f.name == c) {
            anyhow::bail!(
                "--common {c}: file non trovato nella cartella / file not found in the folder"
            );
        }
    }
    Ok(out)
}

async fn create(
    store: &Store,
    settings: &campaigns::CampaignSettings,
    who: &Principal,
    person: &pecdesk_core::authz::Person,
    a: CreateArgs,
) -> anyhow::Result<bool> {
    let mailbox = store_campaigns::mailbox_by_address(store, &who.org_id, &a.mailbox)
        .await?
        .ok_or_else(|| anyhow::anyhow!("--mailbox: casella sconosciuta / unknown mailbox"))?;
    let activities: ActivitiesMode =
        serde_json::from_value(serde_json::Value::String(a.activities.clone()))
            .map_err(|_| anyhow::anyhow!("--activities: none | campaign | failures"))?;
    let receipt_type: ReceiptType =
        serde_json::from_value(serde_json::Value::String(a.receipt_type.clone()))
            .map_err(|_| anyhow::anyhow!("--receipt-type: completa | breve | sintetica"))?;
    progress("lettura dei file / reading the files");
    let req = CampaignRequest {
        mailbox_id: mailbox,
        name: a.name.clone(),
        subject: a.subject.clone(),
        body: read_text(&a.body_file)?,
        receipt_type,
        csv: read_text(&a.csv)?,
        files: read_files(a.files.as_deref(), &a.common)?,
        activities,
    };
    progress("verifica e composizione dei messaggi / checking and composing the messages");
    if a.dry_run {
        let report = campaigns::validate(store, who, person, settings, &req).await?;
        print_report(&report);
        return Ok(report.ok);
    }
    match campaigns::create(store, who, person, settings, &req).await? {
        Created::Refused(report) => {
            print_report(&report);
            eprintln!("nulla è stato accodato / nothing was queued");
            Ok(false)
        }
        Created::Queued(view) => {
            if let Some(r) = &view.report {
                print_report(r);
            }
            println!(
                "invio accodato / send queued: {} ({} messaggi / messages)",
                view.id, view.recipients_total
            );
            Ok(true)
        }
    }
}

/// The report for people: figures, then errors and warnings, Italian first.
pub fn print_report(r: &Report) {
    println!(
        "Destinatari / recipients: {} (massimo / at most {})",
        r.recipients, r.max_recipients
    );
    println!(
        "Messaggi / messages: {} byte in tutto / in all, il più grande / the largest {} (limite / limit {})",
        r.messages_bytes, r.largest_message_bytes, r.max_message_bytes
    );
    println!(
        "Ricevute stimate / estimated receipts: {} byte",
        r.receipts_bytes
    );
    match (r.free_bytes, &r.quota_source) {
        (Some(f), Some(s)) => println!("Spazio libero / free space: {f} byte ({s})"),
        _ => println!("Spazio libero / free space: sconosciuto / unknown"),
    }
    if !r.errors.is_empty() {
        println!("ERRORI / ERRORS ({}):", r.errors.len());
        for p in &r.errors {
            println!("  - [{}] {}", p.code, p.message);
        }
    }
    if !r.warnings.is_empty() {
        println!("AVVISI / WARNINGS ({}):", r.warnings.len());
        for p in &r.warnings {
            println!("  - [{}] {}", p.code, p.message);
        }
    }
    if r.ok {
        println!("OK: l'invio si può accodare / the send can be queued");
    }
}
