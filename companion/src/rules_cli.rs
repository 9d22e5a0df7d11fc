//! `pecdesk rule list|add|remove|preview`: the organisation's routing rules from the
//! command line, on the database directly (as `pecdesk audit`), on behalf of an
//! administrator (`--admin EMAIL`: their organisation, the author of an added rule and the
//! actor of the audit entries). Writes take the SQLite data directory's lock, so they
//! refuse while a `pecdesk serve` holds it; reads do not need it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use pecdesk_core::ids::EmailAddress;
use pecdesk_core::rules::RuleSpec;

use crate::cli::DbArgs;
use crate::domain::rules::{self, PreviewRequest, RuleResponse};
use crate::store::{Store, rules as store_rules, users};

/// `pecdesk rule ...`.
#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Elenca le regole in ordine / List the rules in their order (JSON).
    List(Common),
    /// Aggiunge in fondo la regola del file JSON / Add the rule of the JSON file, last.
    Add {
        /// The rule's JSON (`{name, enabled?, stop?, conditions[], actions{}}`).
        #[arg(value_name = "FILE.json")]
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Elimina una regola / Delete a rule.
    Remove {
        /// The rule's id.
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Cosa avrebbe smistato la regola del file / What the file's rule would have matched.
    Preview {
        /// The rule's JSON.
        #[arg(value_name = "FILE.json")]
        file: PathBuf,
        /// Days back (1..=365).
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Matches listed at most (1..=200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        common: Common,
    },
}

/// What every `rule` command takes.
#[derive(Debug, Args)]
pub struct Common {
    /// The administrator the command acts for (their organisation).
    #[arg(long, value_name = "EMAIL")]
    pub admin: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Runs a `rule` command.
pub fn run(cmd: RuleCommand) -> ExitCode {
    match run_inner(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("errore / error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn read_rule(path: &Path) -> anyhow::Result<RuleSpec> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: file non leggibile / cannot read the file: {e}",
            path.display()
        )
    })?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: regola non valida / invalid rule: {e}", path.display()))
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn run_inner(cmd: RuleCommand) -> anyhow::Result<()> {
    let (common, writes) = match &cmd {
        RuleCommand::List(c) => (c, false),
        RuleCommand::Add { common, .. } | RuleCommand::Remove { common, .. } => (common, true),
        RuleCommand::Preview { common, .. } => (common, false),
    };
    let settings = common.db.settings(None, false)?;
    // One server per SQLite directory: a write from here waits for none of its caches.
    let _lock = if writes {
        crate::lock::DataDirLock::for_settings(&settings)?
    } else {
        None
    };
    let email = EmailAddress::parse(&common.admin).map_err(|e| anyhow::anyhow!("--admin: {e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = Store::connect(&settings).await?;
        let result = act(&store, &email, cmd).await;
        store.close().await;
        result
    })
}

async fn act(store: &Store, email: &EmailAddress, cmd: RuleCommand) -> anyhow::Result<()> {
    let admin = users::user_by_email(store, email)
        .await?
        .filter(|u| u.is_admin && !u.disabled)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--admin: nessun amministratore con questo indirizzo / no administrator with \
                 this address"
            )
        })?;
    let org = admin.org_id.as_str();
    match cmd {
        RuleCommand::List(_) => {
            let list: Vec<RuleResponse> = store_rules::list(store, org)
                .await?
                .into_iter()
                .map(RuleResponse::from)
                .collect();
            print_json(&list)
        }
        RuleCommand::Add { file, .. } => {
            let spec = read_rule(&file)?;
            let r = rules::create(store, org, Some(&admin.id), &spec).await?;
            print_json(&r)
        }
        RuleCommand::Remove { id, .. } => {
            rules::delete(store, org, Some(&admin.id), &id).await?;
            println!("regola eliminata / rule deleted: {id}");
            Ok(())
        }
        RuleCommand::Preview {
            file, days, limit, ..
        } => {
            let req = PreviewRequest {
                rule: read_rule(&file)?,
                days: Some(days),
                limit: Some(limit),
            };
            print_json(&rules::preview_in(store, org, None, &req).await?)
        }
    }
}
