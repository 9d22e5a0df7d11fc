//! Command-line interface of `pecdesk`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Overrides, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "pecdesk",
    version,
    about = "PecDesk: PEC per i team / PEC for teams"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Legge uno o più messaggi PEC e ne stampa il riepilogo / Summarise PEC messages.
    Inspect(crate::inspect::InspectArgs),
    /// Avvia il servizio companion / Run the companion service.
    Serve(ServeArgs),
    /// Registro di audit / Audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Pacchetti di evidenze: verifica offline / Evidence packs: offline verification.
    Archive {
        #[command(subcommand)]
        command: crate::archive_cli::ArchiveCommand,
    },
    /// Accesso SSO: IdP delle organizzazioni, chiavi / SSO: organisations' IdPs, keys.
    Sso(crate::auth::cli::SsoArgs),
    /// Configurazione / Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Gestori PEC fidati: importa l'elenco di AgID / Trusted PEC providers: import
    /// AgID's list.
    Trust {
        #[command(subcommand)]
        command: crate::trust::TrustCommand,
    },
    /// Caselle PEC e impostazioni IMAP/SMTP / PEC mailboxes and their IMAP/SMTP settings.
    Mailbox {
        #[command(subcommand)]
        command: crate::admin_cli::MailboxCommand,
    },
    /// Team e membri / Teams and members.
    Team {
        #[command(subcommand)]
        command: crate::admin_cli::TeamCommand,
    },
    /// Concessioni di policy sulle caselle / Policy grants on mailboxes.
    Grant {
        #[command(subcommand)]
        command: crate::admin_cli::GrantCommand,
    },
    /// Importa file .eml, cartelle Maildir e file mbox in una casella / Import .eml files,
    /// Maildir folders and mbox files into a mailbox.
    Import(crate::ingest::cli::ImportArgs),
    /// Regole di smistamento / Routing rules.
    Rule {
        #[command(subcommand)]
        command: crate::rules_cli::RuleCommand,
    },
    /// Invii massivi / Mass sends.
    Campaign {
        #[command(subcommand)]
        command: crate::campaign_cli::CampaignCommand,
    },
    /// Simulatore di gestore PEC (SMTP, ricevute firmate, caselle Maildir) per prove e
    /// dimostrazioni / PEC provider simulator (SMTP, signed receipts, Maildir boxes) for
    /// tests and demos.
    Simulate(crate::simulate::cli::SimulateArgs),
}

/// Subcommands of `pecdesk config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Stampa un file di configurazione commentato / Print a commented example config.
    Example,
}

/// Subcommands of `pecdesk audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verifica le catene di hash (una per organizzazione, una di sistema) e indica la
    /// prima voce alterata / Verify the hash chains (one per organisation, one for the
    /// system) and name the first broken entry (exit 1 when any is broken).
    Verify(VerifyArgs),
    /// Firma la testa di ogni catena e la accoda a un file fuori dal database (o alle
    /// destinazioni configurate) / Sign every chain's head and append it to a file outside
    /// the database (or the configured destinations).
    Checkpoint(CheckpointArgs),
}

/// Arguments of `pecdesk audit checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// File a cui accodare i punti di controllo / file to append the checkpoints to
    /// (default: `audit.checkpoint_path` of the settings).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `pecdesk audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Solo la catena di questa organizzazione / only this organisation's chain (its id).
    #[arg(long, value_name = "ORG_ID")]
    pub org: Option<String>,
    /// Controlla anche che le catene arrivino ancora ai punti di controllo di questo file
    /// (troncamento, riavvolgimento) / also check the chains still reach the checkpoints in
    /// this file (truncation, rewinding).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Where the database is: shared by every command that opens it.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// File TOML di configurazione / TOML config file (default: ./pecdesk.toml if present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Cartella dei dati (file SQLite) / data folder (SQLite file).
    #[arg(long)]
    pub data_dir: Option<String>,
    /// PostgreSQL al posto di SQLite / use PostgreSQL: postgres://...
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Arguments of `pecdesk serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Indirizzo di ascolto / listen address (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Dati dimostrativi e accesso di sviluppo da loopback / demo data and loopback dev login.
    #[arg(long)]
    pub demo: bool,
}

impl DbArgs {
    pub(crate) fn settings(&self, listen: Option<String>, demo: bool) -> anyhow::Result<Settings> {
        let overrides = Overrides {
            listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            demo: demo.then_some(true),
        };
        Settings::load(self.config.as_deref(), &overrides)
    }
}

/// Logs go to standard output; colours only when it is a terminal (and `NO_COLOR` is not
/// set), so files and journald get plain text.
fn init_logs(format: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("PECDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("errore / error: {e:#}");
    ExitCode::FAILURE
}

/// Parses the arguments and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect(args) => crate::inspect::run(args),
        Command::Trust { command } => crate::trust::run(command),
        Command::Archive { command } => crate::archive_cli::run(command),
        Command::Import(args) => crate::ingest::cli::run(&args),
        Command::Rule { command } => crate::rules_cli::run(command),
        Command::Campaign { command } => crate::campaign_cli::run(command),
        Command::Simulate(args) => crate::simulate::cli::run(args),
        Command::Sso(args) => crate::auth::cli::run(args),
        Command::Mailbox { command } => crate::admin_cli::run_mailbox(command),
        Command::Team { command } => crate::admin_cli::run_team(command),
        Command::Grant { command } => crate::admin_cli::run_grant(command),
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            print!("{}", crate::config::EXAMPLE);
            ExitCode::SUCCESS
        }
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => match audit_verify(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => fail(&e),
        },
        Command::Audit {
            command: AuditCommand::Checkpoint(args),
        } => match audit_checkpoint(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Command::Serve(args) => {
            let settings = match args.db.settings(args.listen.clone(), args.demo) {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            init_logs(&settings.log_format);
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(e) => return fail(&e.into()),
            };
            match rt.block_on(crate::run(settings)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}

/// `pecdesk audit verify [--org ORG_ID]`: one line per chain (every chain without `--org`);
/// `Ok(false)` when any is broken.
fn audit_verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    use crate::store::audit::{self, Chain};
    let settings = args.db.settings(None, false)?;
    let rt = runtime()?;
    rt.block_on(async {
        let store = crate::store::Store::connect(&settings).await?;
        let keys = match &args.org {
            Some(org) => vec![org.clone()],
            None => audit::chains(&store).await?,
        };
        let mut all_ok = true;
        for key in &keys {
            let chain = Chain::from_key(key);
            let v = audit::verify(&store, chain).await?;
            if v.ok {
                println!(
                    "{chain}: registro integro / audit log intact: {} voci / entries",
                    v.entries
                );
            } else {
                all_ok = false;
                let at = v.first_broken.unwrap_or_default();
                println!(
                    "{chain}: registro ALTERATO alla voce {at} / audit log BROKEN at entry {at}: {}",
                    v.reason.as_deref().unwrap_or("")
                );
            }
        }
        if keys.is_empty() {
            println!("nessuna voce / no entries");
        }
        if let Some(path) = &args.checkpoint {
            let signer = crate::checkpoint::Signer::from_master(
                &crate::auth::tokens::master_key(&settings)?,
            );
            let latest = crate::checkpoint::read_latest(path)?;
            if latest.is_empty() {
                anyhow::bail!(
                    "{}: nessun punto di controllo / no checkpoint in the file",
                    path.display()
                );
            }
            for (key, cp) in &latest {
                if args.org.as_ref().is_some_and(|o| o != key) {
                    continue;
                }
                let verdict = crate::checkpoint::check(&store, &signer, cp).await?;
                if verdict != crate::checkpoint::Against::Holds {
                    all_ok = false;
                }
                println!("{}: {}", Chain::from_key(key), verdict.message(cp));
            }
        }
        store.close().await;
        Ok(all_ok)
    })
}

/// `pecdesk audit checkpoint [--out FILE]`: signs every chain's head and writes it out.
fn audit_checkpoint(args: &CheckpointArgs) -> anyhow::Result<()> {
    let settings = args.db.settings(None, false)?;
    let mut dest = settings.audit.clone();
    if let Some(out) = &args.out {
        dest.checkpoint_path = Some(out.clone());
        dest.checkpoint_webhook = None;
    }
    anyhow::ensure!(
        dest.enabled(),
        "indica --out FILE o imposta audit.checkpoint_path / give --out FILE or set audit.checkpoint_path"
    );
    let signer =
        crate::checkpoint::Signer::from_master(&crate::auth::tokens::master_key(&settings)?);
    let rt = runtime()?;
    rt.block_on(async {
        let store = crate::store::Store::connect(&settings).await?;
        let cps = crate::checkpoint::write(&store, &signer, &dest).await?;
        for cp in &cps {
            println!(
                "{}: voce {} / entry {} {}",
                crate::store::audit::Chain::from_key(&cp.chain),
                cp.seq,
                cp.seq,
                cp.hash
            );
        }
        store.close().await;
        Ok(())
    })
}
