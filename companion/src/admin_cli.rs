//! `pecdesk mailbox|team|grant ...`: the administrator's commands acting on the database
//! directly (like `pecdesk sso`), through the same domain code as the API
//! (`domain::admin`), audited with actor NULL.
//!
//! ```text
//! pecdesk mailbox add --org ORG --address A --name N --imap-host H --imap-port 993 \
//!     --imap-security tls --imap-user U [--smtp-...] --password-stdin
//! pecdesk mailbox set --mailbox A [--imap-host H ...] [--password-stdin] [--ingest false]
//! pecdesk mailbox list --org ORG [--json]        pecdesk mailbox show --mailbox A
//! pecdesk team add|list|member-add|member-remove ...
//! pecdesk grant add --mailbox A (--user EMAIL | --team NAME) (--policy P | --role R)
//! pecdesk grant remove --id ID                  pecdesk grant list (--mailbox A | --org ORG)
//! ```
//! A password never comes from the command line (where `ps` and shell histories show it):
//! from standard input (`--password-stdin`, first line) or from `PECDESK_MAILBOX_PASSWORD`.
//! On SQLite the command takes the data directory's lock, so it refuses to run beside a
//! `pecdesk serve` on the same directory (stop it, or use the API).

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use pecdesk_core::ids::EmailAddress;
use pecdesk_core::sla::{MonthDay, OfficeHours, SlaSettings};
use secrecy::SecretString;

use crate::auth::secrets::MasterKey;
use crate::auth::tokens::TokenKeys;
use crate::cli::DbArgs;
use crate::domain::admin::{
    self, Actor, CreateGrantRequest, CreateMailboxRequest, CreateTeamRequest, EndpointRequest,
    MailboxAdminView, PatchMailboxRequest,
};
use crate::lock::DataDirLock;
use crate::store::admin::{self as db, GrantFilter};
use crate::store::mailboxes::{self, Security};
use crate::store::{Store, users};

/// The environment variable a mailbox password may come from.
pub const PASSWORD_ENV: &str = "PECDESK_MAILBOX_PASSWORD";

/// `pecdesk mailbox ...`.
#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Crea una casella con le impostazioni IMAP/SMTP / Create a mailbox with IMAP/SMTP settings.
    Add(MailboxAddArgs),
    /// Modifica una casella (solo i campi indicati) / Change a mailbox (only the fields given).
    Set(MailboxSetArgs),
    /// Elenca le caselle di un'organizzazione / List an organisation's mailboxes.
    List {
        /// Organizzazione (id o nome) / organisation (id or name).
        #[arg(long)]
        org: String,
        /// Una riga JSON per casella / one JSON line per mailbox.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Mostra una casella (senza password) in JSON / Show a mailbox (no password) as JSON.
    Show {
        /// Indirizzo o id / address or id.
        #[arg(long)]
        mailbox: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// IMAP settings on the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct ImapArgs {
    /// Host IMAP / IMAP host.
    #[arg(long)]
    pub imap_host: Option<String>,
    /// Porta IMAP / IMAP port (993 tls, 143 starttls).
    #[arg(long)]
    pub imap_port: Option<i64>,
    /// tls | starttls | plain (plain solo verso loopback / only towards loopback).
    #[arg(long, value_parser = parse_security)]
    pub imap_security: Option<Security>,
    /// Utente IMAP / IMAP user.
    #[arg(long)]
    pub imap_user: Option<String>,
    /// Cartella della posta inviata / Sent folder (default: SPECIAL-USE \Sent).
    #[arg(long)]
    pub sent_folder: Option<String>,
}

/// SMTP settings on the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct SmtpArgs {
    /// Host SMTP / SMTP host.
    #[arg(long)]
    pub smtp_host: Option<String>,
    /// Porta SMTP / SMTP port (465 tls, 587 starttls).
    #[arg(long)]
    pub smtp_port: Option<i64>,
    /// tls | starttls | plain (plain solo verso loopback / only towards loopback).
    #[arg(long, value_parser = parse_security)]
    pub smtp_security: Option<Security>,
    /// Utente SMTP / SMTP user.
    #[arg(long)]
    pub smtp_user: Option<String>,
}

/// Where the password comes from, and which settings it is for.
#[derive(Debug, Clone, Default, Args)]
pub struct PasswordArgs {
    /// Legge la password dalla prima riga dello standard input (altrimenti da
    /// PECDESK_MAILBOX_PASSWORD) / read the password from the first line of standard input
    /// (otherwise from PECDESK_MAILBOX_PASSWORD).
    #[arg(long)]
    pub password_stdin: bool,
    /// Per quali impostazioni è la password / which settings the password is for:
    /// imap | smtp | both (default: those given in this command, else both).
    #[arg(long, value_parser = ["imap", "smtp", "both"])]
    pub password_for: Option<String>,
}

/// Arguments of `pecdesk mailbox add`.
#[derive(Debug, Args)]
pub struct MailboxAddArgs {
    /// Organizzazione (id o nome) / organisation (id or name).
    #[arg(long)]
    pub org: String,
    /// Indirizzo PEC / PEC address.
    #[arg(long)]
    pub address: String,
    /// Nome visualizzato / display name.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub imap: ImapArgs,
    #[command(flatten)]
    pub smtp: SmtpArgs,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Scadenza della password per app (AAAA-MM-GG) / app password expiry (YYYY-MM-DD).
    #[arg(long)]
    pub app_password_expires: Option<String>,
    /// Dimensione della casella da contratto (byte) / the box's size by contract (bytes).
    #[arg(long)]
    pub quota_bytes: Option<i64>,
    /// Non leggere la casella (per ora) / do not poll the mailbox (yet).
    #[arg(long)]
    pub no_ingest: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `pecdesk mailbox set`.
#[derive(Debug, Args)]
pub struct MailboxSetArgs {
    /// Indirizzo o id / address or id.
    #[arg(long)]
    pub mailbox: String,
    /// Nome visualizzato / display name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub imap: ImapArgs,
    #[command(flatten)]
    pub smtp: SmtpArgs,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Scadenza della password per app (AAAA-MM-GG, `none` la toglie) / app password
    /// expiry (YYYY-MM-DD, `none` clears it).
    #[arg(long)]
    pub app_password_expires: Option<String>,
    /// Dimensione da contratto (byte, 0 la toglie) / size by contract (bytes, 0 clears it).
    #[arg(long)]
    pub quota_bytes: Option<i64>,
    /// Leggere la casella / poll the mailbox: true | false.
    #[arg(long)]
    pub ingest: Option<bool>,
    /// Limiti di invio del gestore / the provider's sending limits: aruba | legalmail.
    #[arg(long, value_enum)]
    pub send_preset: Option<crate::outbox::Preset>,
    /// Messaggi al minuto (0: nessun limite, -1: il valore del servizio) / messages per
    /// minute (0: no throttle, -1: the service default).
    #[arg(long, allow_hyphen_values = true)]
    pub send_per_minute: Option<i64>,
    /// Orario d'ufficio per le scadenze (SLA), ripetibile; i giorni non nominati sono chiusi
    /// / office hours for due dates (SLA), repeatable; days not named are closed:
    /// `mon-fri=09:00-13:00,14:00-18:00`, `sat=09:00-12:00`.
    #[arg(long)]
    pub office_hours: Vec<String>,
    /// Giorno del santo patrono (MM-GG, `none` lo toglie) / patron saint's day (MM-DD,
    /// `none` clears it): `12-07` for Milano.
    #[arg(long)]
    pub patron_day: Option<String>,
    /// Fuso orario delle scadenze / time zone of due dates: Europe/Rome | UTC.
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Calendario SLA predefinito (lun-ven 09:00-18:00, Europe/Rome) / the default SLA
    /// calendar (Mon-Fri 09:00-18:00, Europe/Rome).
    #[arg(long, conflicts_with_all = ["office_hours", "patron_day", "time_zone"])]
    pub sla_default: bool,
    /// Archiviazione: togliere dalla casella del gestore i messaggi conservati più vecchi
    /// di N giorni (`off` la disattiva) / archive: expunge from the provider's box the
    /// stored messages older than N days (`off` turns it off).
    #[arg(long)]
    pub expunge_after_days: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `pecdesk team ...`.
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Crea un team / Create a team.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// Persone esterne all'organizzazione / people outside the organisation.
        #[arg(long)]
        external: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Aggiunge un utente a un team / Add a user to a team.
    MemberAdd(MemberArgs),
    /// Toglie un utente da un team / Remove a user from a team.
    MemberRemove(MemberArgs),
    /// Elenca i team / List the teams.
    List {
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Arguments of `pecdesk team member-add|member-remove`.
#[derive(Debug, Args)]
pub struct MemberArgs {
    /// Organizzazione (id o nome) / organisation (id or name).
    #[arg(long)]
    pub org: String,
    /// Team (nome o id) / team (name or id).
    #[arg(long)]
    pub team: String,
    /// Utente (e-mail o id) / user (e-mail or id).
    #[arg(long)]
    pub user: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `pecdesk grant ...`.
#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Concede una policy o un ruolo su una casella / Grant a policy or a role on a mailbox.
    Add {
        /// Casella (indirizzo o id) / mailbox (address or id).
        #[arg(long)]
        mailbox: String,
        /// Utente (e-mail o id) / user (e-mail or id).
        #[arg(long, conflicts_with = "team", required_unless_present = "team")]
        user: Option<String>,
        /// Team (nome o id) / team (name or id).
        #[arg(long)]
        team: Option<String>,
        /// MAIL_ACCOUNT_READER, MAIL_ACCOUNT_MANAGER, MAIL_ACTIVITY_READER, MAIL_ACTIVITY_WRITER, MAIL_ACTIVITY_MANAGER.
        #[arg(long, conflicts_with = "role", required_unless_present = "role")]
        policy: Option<String>,
        /// Responsabile, Assegnatario, Smistatore.
        #[arg(long)]
        role: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoca una concessione (nessun messaggio è toccato) / Revoke a grant (no message is touched).
    Remove {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Elenca le concessioni / List the grants.
    List {
        /// Solo questa casella (indirizzo o id) / only this mailbox (address or id).
        #[arg(long, required_unless_present = "org")]
        mailbox: Option<String>,
        /// Tutta l'organizzazione (id o nome) / the whole organisation (id or name).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn parse_security(s: &str) -> Result<Security, String> {
    Security::parse(s).ok_or_else(|| "tls | starttls | plain".to_owned())
}

/// `--expunge-after-days N|off` as the API's archive policy.
fn expunge_after_days(v: &str) -> anyhow::Result<admin::ArchiveRequest> {
    let days = if v.eq_ignore_ascii_case("off") {
        None
    } else {
        Some(v.parse::<i64>().map_err(|_| {
            anyhow::anyhow!(
                "--expunge-after-days: un numero di giorni o `off` / a number of days or `off`"
            )
        })?)
    };
    Ok(admin::ArchiveRequest {
        expunge_after_days: Some(days),
    })
}

/// Runs `pecdesk mailbox ...`.
pub fn run_mailbox(c: MailboxCommand) -> ExitCode {
    finish(block_on(mailbox(c)))
}

/// Runs `pecdesk team ...`.
pub fn run_team(c: TeamCommand) -> ExitCode {
    finish(block_on(team(c)))
}

/// Runs `pecdesk grant ...`.
pub fn run_grant(c: GrantCommand) -> ExitCode {
    finish(block_on(grant(c)))
}

fn block_on<F: Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

fn finish(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("errore / error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The open database, the data directory's lock (SQLite) and the master key.
struct Opened {
    store: Store,
    master: MasterKey,
    _lock: Option<DataDirLock>,
}

async fn open(db: &DbArgs) -> anyhow::Result<Opened> {
    let settings = db.settings(None, false)?;
    // One writer per SQLite directory: a running server owns it (its caches and
    // schedulers assume so); PostgreSQL is shared on purpose.
    let lock = DataDirLock::for_settings(&settings).context(
        "il server è in funzione su questi dati: fermalo, oppure fai la modifica con l'API \
         (/api/v1/mailboxes, /api/v1/teams, /api/v1/grants) / the server is running on this \
         data: stop it, or make the change through the API (/api/v1/mailboxes, \
         /api/v1/teams, /api/v1/grants)",
    )?;
    let store = Store::connect(&settings).await?;
    // The key must be the server's: a secret sealed with another key would never open for
    // the poller. The stored signing keys and mailbox secrets tell (as for `pecdesk sso`).
    let wrong_key = || {
        anyhow!(
            "la chiave principale non apre i segreti già salvati: usa la stessa \
             PECDESK_MASTER_KEY (o lo stesso master.key) del server / the master key does not \
             open the secrets already stored: use the server's PECDESK_MASTER_KEY (or its \
             master.key)"
        )
    };
    let keys = TokenKeys::load_or_create(&store, &settings)
        .await
        .map_err(|_| wrong_key())?;
    let master = keys.master().clone();
    if let Some((id, protocol)) = db::any_sealed_secret(&store).await? {
        mailboxes::endpoint(&store, &master, &id, protocol)
            .await
            .map_err(|_| wrong_key())?;
    }
    Ok(Opened {
        store,
        master,
        _lock: lock,
    })
}

/// The domain's errors as the command line prints them (their bilingual messages).
fn domain<T>(r: crate::error::Result<T>) -> anyhow::Result<T> {
    r.map_err(|e| match e {
        crate::error::Error::NotFound => {
            anyhow!("non trovato nell'organizzazione / not found in the organisation")
        }
        e => anyhow!("{e}"),
    })
}

async fn org_id(store: &Store, org: &str) -> anyhow::Result<String> {
    users::find_org(store, org)
        .await?
        .ok_or_else(|| anyhow!("organizzazione sconosciuta / unknown organisation: {org}"))
}

async fn mailbox_of(store: &Store, mailbox: &str) -> anyhow::Result<(String, String)> {
    db::find_mailbox(store, mailbox)
        .await?
        .ok_or_else(|| anyhow!("casella sconosciuta / unknown mailbox: {mailbox}"))
}

async fn user_of(store: &Store, org_id: &str, user: &str) -> anyhow::Result<String> {
    let row = match EmailAddress::parse(user) {
        Ok(email) => users::user_by_email(store, &email).await?,
        Err(_) => users::user(store, user).await?,
    };
    match row {
        Some(u) if u.org_id == org_id => Ok(u.id),
        _ => bail!(
            "utente sconosciuto nell'organizzazione / unknown user in the organisation: {user}"
        ),
    }
}

async fn team_of(store: &Store, org_id: &str, team: &str) -> anyhow::Result<String> {
    db::find_team(store, org_id, team)
        .await?
        .ok_or_else(|| anyhow!("team sconosciuto / unknown team: {team}"))
}

/// The password from standard input (first line) or the environment, if any.
fn read_password(p: &PasswordArgs) -> anyhow::Result<Option<SecretString>> {
    if p.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("lettura della password / reading the password")?;
        let pw = line.trim_end_matches(['\r', '\n']).to_owned();
        if pw.is_empty() {
            bail!("password vuota sullo standard input / empty password on standard input");
        }
        return Ok(Some(SecretString::from(pw)));
    }
    Ok(std::env::var(PASSWORD_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .map(SecretString::from))
}

fn imap_request(a: &ImapArgs) -> Option<EndpointRequest> {
    let given = a.imap_host.is_some()
        || a.imap_port.is_some()
        || a.imap_security.is_some()
        || a.imap_user.is_some()
        || a.sent_folder.is_some();
    given.then(|| EndpointRequest {
        host: a.imap_host.clone(),
        port: a.imap_port,
        security: a.imap_security,
        user: a.imap_user.clone(),
        password: None,
        sent_folder: a.sent_folder.clone().map(Some),
    })
}

fn smtp_request(a: &SmtpArgs) -> Option<EndpointRequest> {
    let given = a.smtp_host.is_some()
        || a.smtp_port.is_some()
        || a.smtp_security.is_some()
        || a.smtp_user.is_some();
    given.then(|| EndpointRequest {
        host: a.smtp_host.clone(),
        port: a.smtp_port,
        security: a.smtp_security,
        user: a.smtp_user.clone(),
        password: None,
        sent_folder: None,
    })
}

/// Puts the password on the settings it is for: `--password-for`, else the settings given
/// in the command, else both (creating an empty change of the stored settings).
fn place_password(
    password: Option<SecretString>,
    target: Option<&str>,
    imap: &mut Option<EndpointRequest>,
    smtp: &mut Option<EndpointRequest>,
) {
    let Some(pw) = password else { return };
    let (to_imap, to_smtp) = match target {
        Some("imap") => (true, false),
        Some("smtp") => (false, true),
        Some(_) => (true, true),
        None if imap.is_some() || smtp.is_some() => (imap.is_some(), smtp.is_some()),
        None => (true, true),
    };
    if to_imap {
        imap.get_or_insert_with(EndpointRequest::default).password = Some(pw.clone());
    }
    if to_smtp {
        smtp.get_or_insert_with(EndpointRequest::default).password = Some(pw);
    }
}

/// The SLA settings of `pecdesk mailbox set`: the stored ones with the options given.
fn sla_settings(
    mut s: SlaSettings,
    office_hours: &[String],
    patron_day: Option<&str>,
    time_zone: Option<&str>,
) -> anyhow::Result<SlaSettings> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let bad = |spec: &str| {
        anyhow::anyhow!(
            "--office-hours {spec}: nella forma GIORNI=HH:MM-HH:MM[,...], ad esempio \
             mon-fri=09:00-13:00,14:00-18:00 / in the form DAYS=HH:MM-HH:MM[,...], e.g. \
             mon-fri=09:00-13:00,14:00-18:00"
        )
    };
    if !office_hours.is_empty() {
        s.office_hours = OfficeHours::default();
    }
    for spec in office_hours {
        let (days, ranges) = spec.split_once('=').ok_or_else(|| bad(spec))?;
        let day = |d: &str| DAYS.iter().position(|k| k.eq_ignore_ascii_case(d.trim()));
        let (first, last) = match days.split_once('-') {
            Some((a, b)) => (day(a), day(b)),
            None => (day(days), day(days)),
        };
        let (Some(first), Some(last)) = (first, last) else {
            return Err(bad(spec));
        };
        let ranges: Vec<String> = ranges
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        for d in first..=last {
            let slot = match d {
                0 => &mut s.office_hours.mon,
                1 => &mut s.office_hours.tue,
                2 => &mut s.office_hours.wed,
                3 => &mut s.office_hours.thu,
                4 => &mut s.office_hours.fri,
                5 => &mut s.office_hours.sat,
                _ => &mut s.office_hours.sun,
            };
            *slot = ranges.clone();
        }
    }
    match patron_day {
        None => {}
        Some("none") => s.patron_day = None,
        Some(md) => {
            let parsed = md.split_once('-').and_then(|(m, d)| {
                Some(MonthDay {
                    month: m.parse().ok()?,
                    day: d.parse().ok()?,
                })
            });
            s.patron_day = Some(parsed.ok_or_else(|| {
                anyhow::anyhow!(
                    "--patron-day {md}: mese-giorno, ad esempio 12-07 / month-day, e.g. 12-07"
                )
            })?);
        }
    }
    if let Some(z) = time_zone {
        z.clone_into(&mut s.time_zone);
    }
    Ok(s)
}

fn print_mailbox_line(m: &MailboxAdminView) {
    let imap = m.imap.as_ref().map_or("-".to_owned(), |e| {
        format!("{}:{} {}", e.host, e.port, e.security.as_str())
    });
    let health = match &m.health {
        None => "mai letta / never polled".to_owned(),
        Some(h) => match &h.last_error_code {
            Some(code) if h.consecutive_failures > 0 => {
                format!("errore / error {code} x{}", h.consecutive_failures)
            }
            _ => "ok".to_owned(),
        },
    };
    let warn = m
        .app_password
        .as_ref()
        .and_then(|a| a.message.clone())
        .map(|w| format!("  ! {w}"))
        .unwrap_or_default();
    println!(
        "{}  {}  {}  ingest={}  imap={}  {}{}",
        m.id, m.address, m.name, m.ingest_enabled, imap, health, warn
    );
}

async fn mailbox(c: MailboxCommand) -> anyhow::Result<()> {
    match c {
        MailboxCommand::Add(a) => {
            let o = open(&a.db).await?;
            let org = org_id(&o.store, &a.org).await?;
            let mut imap = imap_request(&a.imap);
            let mut smtp = smtp_request(&a.smtp);
            let pw = read_password(&a.password)?;
            place_password(pw, a.password.password_for.as_deref(), &mut imap, &mut smtp);
            let req = CreateMailboxRequest {
                address: a.address,
                name: a.name,
                ingest_enabled: a.no_ingest.then_some(false),
                imap,
                smtp,
                app_password_expires_at: a.app_password_expires,
                quota_bytes: a.quota_bytes,
                sla: None,
            };
            let actor = Actor {
                org_id: &org,
                user_id: None,
            };
            let m = domain(admin::create_mailbox(&o.store, &o.master, actor, req).await)?;
            println!("ok: {}", m.id);
            o.store.close().await;
        }
        MailboxCommand::Set(a) => {
            let o = open(&a.db).await?;
            let (id, org) = mailbox_of(&o.store, &a.mailbox).await?;
            let mut imap = imap_request(&a.imap);
            let mut smtp = smtp_request(&a.smtp);
            let pw = read_password(&a.password)?;
            place_password(pw, a.password.password_for.as_deref(), &mut imap, &mut smtp);
            let sla = if a.sla_default {
                Some(None)
            } else if a.office_hours.is_empty() && a.patron_day.is_none() && a.time_zone.is_none() {
                None
            } else {
                let current = domain(admin::get_mailbox(&o.store, &org, &id).await)?.sla;
                Some(Some(sla_settings(
                    current.unwrap_or_default(),
                    &a.office_hours,
                    a.patron_day.as_deref(),
                    a.time_zone.as_deref(),
                )?))
            };
            let req = PatchMailboxRequest {
                name: a.name,
                imap,
                smtp,
                app_password_expires_at: a.app_password_expires.map(|d| (d != "none").then_some(d)),
                quota_bytes: a.quota_bytes.map(|q| (q != 0).then_some(q)),
                ingest_enabled: a.ingest,
                send_preset: a.send_preset,
                send_per_minute: a.send_per_minute.map(|n| (n >= 0).then_some(n)),
                send_max_recipients: None,
                send_max_bytes: None,
                sla,
                retention: None,
                archive: a
                    .expunge_after_days
                    .as_deref()
                    .map(expunge_after_days)
                    .transpose()?,
            };
            let actor = Actor {
                org_id: &org,
                user_id: None,
            };
            let m = domain(admin::update_mailbox(&o.store, &o.master, actor, &id, req).await)?;
            println!("ok: {}", m.id);
            o.store.close().await;
        }
        MailboxCommand::List { org, json, db } => {
            let o = open(&db).await?;
            let org = org_id(&o.store, &org).await?;
            for m in domain(admin::list_mailboxes(&o.store, &org).await)? {
                if json {
                    println!("{}", serde_json::to_string(&m)?);
                } else {
                    print_mailbox_line(&m);
                }
            }
            o.store.close().await;
        }
        MailboxCommand::Show { mailbox, db } => {
            let o = open(&db).await?;
            let (id, org) = mailbox_of(&o.store, &mailbox).await?;
            let m = domain(admin::get_mailbox(&o.store, &org, &id).await)?;
            println!("{}", serde_json::to_string_pretty(&m)?);
            o.store.close().await;
        }
    }
    Ok(())
}

async fn team(c: TeamCommand) -> anyhow::Result<()> {
    match c {
        TeamCommand::Add {
            org,
            name,
            external,
            db,
        } => {
            let o = open(&db).await?;
            let org = org_id(&o.store, &org).await?;
            let actor = Actor {
                org_id: &org,
                user_id: None,
            };
            let t = domain(
                admin::create_team(&o.store, actor, CreateTeamRequest { name, external }).await,
            )?;
            println!("ok: {}", t.id);
            o.store.close().await;
        }
        TeamCommand::MemberAdd(a) => member(a, true).await?,
        TeamCommand::MemberRemove(a) => member(a, false).await?,
        TeamCommand::List { org, json, db } => {
            let o = open(&db).await?;
            let org = org_id(&o.store, &org).await?;
            for t in domain(admin::list_teams(&o.store, &org).await)? {
                if json {
                    println!("{}", serde_json::to_string(&t)?);
                } else {
                    let ext = if t.external {
                        "  esterno / external"
                    } else {
                        ""
                    };
                    println!("{}  {}  {} membri / members{ext}", t.id, t.name, t.members);
                }
            }
            o.store.close().await;
        }
    }
    Ok(())
}

async fn member(a: MemberArgs, add: bool) -> anyhow::Result<()> {
    let o = open(&a.db).await?;
    let org = org_id(&o.store, &a.org).await?;
    let team = team_of(&o.store, &org, &a.team).await?;
    let user = user_of(&o.store, &org, &a.user).await?;
    let actor = Actor {
        org_id: &org,
        user_id: None,
    };
    let changed = domain(admin::set_member(&o.store, actor, &team, &user, add).await)?;
    println!(
        "{}",
        if changed {
            "ok"
        } else {
            "ok (nessuna modifica / unchanged)"
        }
    );
    o.store.close().await;
    Ok(())
}

async fn grant(c: GrantCommand) -> anyhow::Result<()> {
    match c {
        GrantCommand::Add {
            mailbox,
            user,
            team,
            policy,
            role,
            db,
        } => {
            let o = open(&db).await?;
            let (mailbox_id, org) = mailbox_of(&o.store, &mailbox).await?;
            let user_id = match &user {
                Some(u) => Some(user_of(&o.store, &org, u).await?),
                None => None,
            };
            let team_id = match &team {
                Some(t) => Some(team_of(&o.store, &org, t).await?),
                None => None,
            };
            let actor = Actor {
                org_id: &org,
                user_id: None,
            };
            let req = CreateGrantRequest {
                mailbox_id,
                user_id,
                team_id,
                policy,
                role,
            };
            let r = domain(admin::add_grant(&o.store, actor, req).await)?;
            for g in &r.grants {
                println!("{}  {}", g.id, g.policy);
            }
            println!("ok: {} nuove / new", r.created);
            o.store.close().await;
        }
        GrantCommand::Remove { id, db } => {
            let o = open(&db).await?;
            let org = db::grant_org(&o.store, &id)
                .await?
                .ok_or_else(|| anyhow!("concessione sconosciuta / unknown grant: {id}"))?;
            let actor = Actor {
                org_id: &org,
                user_id: None,
            };
            let g = domain(admin::revoke_grant(&o.store, actor, &id).await)?;
            println!("ok: {} revocata / revoked", g.policy);
            o.store.close().await;
        }
        GrantCommand::List {
            mailbox,
            org,
            json,
            db,
        } => {
            let o = open(&db).await?;
            let (mailbox_id, org) = match (&mailbox, &org) {
                (Some(m), _) => {
                    let (id, org) = mailbox_of(&o.store, m).await?;
                    (Some(id), org)
                }
                (None, Some(org)) => (None, org_id(&o.store, org).await?),
                (None, None) => bail!("indica --mailbox o --org / give --mailbox or --org"),
            };
            let filter = GrantFilter {
                org_id: &org,
                mailbox_id: mailbox_id.as_deref(),
                ..GrantFilter::default()
            };
            for g in domain(admin::list_grants(&o.store, &filter).await)? {
                if json {
                    println!("{}", serde_json::to_string(&g)?);
                } else {
                    let holder = match (&g.user_name, &g.team_name) {
                        (Some(u), _) => format!("utente / user {u}"),
                        (None, Some(t)) => format!("team {t}"),
                        _ => "-".to_owned(),
                    };
                    println!("{}  {}  {}  {}", g.id, g.mailbox_address, holder, g.policy);
                }
            }
            o.store.close().await;
        }
    }
    Ok(())
}
