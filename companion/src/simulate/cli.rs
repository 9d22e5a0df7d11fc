//! `pecdesk simulate`: the simulator as a process, for demos, trials and process tests.
//!
//! It prints where it listens, writes the CA (`simulator-ca.pem`) and a provider list
//! (`simulator-providers.json`, for `pecdesk inspect --providers`) into the mail root,
//! prints a progress line when submissions arrive (counts only) and stops on Ctrl-C or
//! SIGTERM.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use super::{Account, Behaviour, ClockMode, Limits, SimConfig, Simulator};

/// Arguments of `pecdesk simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Indirizzo SMTP di ascolto / SMTP listen address.
    #[arg(long, default_value = "127.0.0.1:2525")]
    pub listen: SocketAddr,
    /// Cartella delle caselle: `<casella>/Maildir/{new,cur,tmp}` / folder of the boxes.
    #[arg(long, value_name = "DIR")]
    pub mail_root: PathBuf,
    /// Casella SMTP `INDIRIZZO:PASSWORD` (ripetibile) / SMTP account (repeatable).
    #[arg(long = "account", value_name = "ADDRESS:PASSWORD")]
    pub accounts: Vec<String>,
    /// File TOML: comportamenti per destinatario, limiti, ritardi / behaviours, limits,
    /// delays.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Secondi simulati per secondo reale (3600: un'ora al secondo) / simulated seconds
    /// per real second.
    #[arg(long, value_name = "N")]
    pub time_scale: Option<u32>,
}

/// The `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    provider_domain: Option<String>,
    provider_name: Option<String>,
    /// `30s`, `15m`, `12h`, `1d` or seconds.
    preavviso_after: Option<String>,
    final_after: Option<String>,
    time_scale: Option<u32>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    accounts: Vec<FileAccount>,
    /// address → `deliver` | `unknown` | `full-box` | `no-answer` | `delay 30m`.
    #[serde(default)]
    behaviours: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_recipients: Option<usize>,
    max_bytes: Option<u64>,
    per_minute: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAccount {
    address: String,
    password: String,
}

/// Reads `30s`, `15m`, `12h`, `1d` or a number of seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number
        .parse()
        .with_context(|| format!("durata non valida / invalid duration {text:?}"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => anyhow::bail!(
            "durata non valida / invalid duration {text:?}: usare / use 30s, 15m, 12h, 1d"
        ),
    };
    Ok(Duration::from_secs(secs))
}

/// Reads a behaviour word: `deliver`, `unknown`, `full-box`, `no-answer`, `delay 30m`.
pub fn parse_behaviour(text: &str) -> anyhow::Result<Behaviour> {
    let t = text.trim().to_ascii_lowercase();
    Ok(match t.as_str() {
        "deliver" => Behaviour::Deliver,
        "unknown" => Behaviour::Unknown,
        "full-box" => Behaviour::FullBox,
        "no-answer" => Behaviour::NoAnswer,
        other => match other.strip_prefix("delay") {
            Some(d) => Behaviour::Delay(parse_duration(d)?),
            None => anyhow::bail!(
                "comportamento sconosciuto / unknown behaviour {text:?}: usare / use deliver, \
                 unknown, full-box, no-answer, delay 30m"
            ),
        },
    })
}

/// The simulator's configuration from the arguments (and the file they name).
pub fn config(args: &SimulateArgs) -> anyhow::Result<SimConfig> {
    let file: FileConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("impossibile leggere / cannot read {}", path.display()))?;
            figment::Figment::from(
                <figment::providers::Toml as figment::providers::Format>::string(&text),
            )
            .extract()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let mut cfg = SimConfig {
        listen: args.listen,
        mail_root: args.mail_root.clone(),
        ..SimConfig::default()
    };
    if let Some(d) = file.provider_domain {
        cfg.provider_domain = d;
    }
    if let Some(n) = file.provider_name {
        cfg.provider_name = n;
    }
    if let Some(d) = file.preavviso_after {
        cfg.preavviso_after = parse_duration(&d)?;
    }
    if let Some(d) = file.final_after {
        cfg.final_after = parse_duration(&d)?;
    }
    let defaults = Limits::default();
    cfg.limits = Limits {
        max_recipients: file
            .limits
            .max_recipients
            .unwrap_or(defaults.max_recipients),
        max_bytes: file.limits.max_bytes.unwrap_or(defaults.max_bytes),
        per_minute: file.limits.per_minute,
    };
    for a in file.accounts {
        cfg.accounts.push(Account {
            address: a.address,
            password: a.password,
        });
    }
    for a in &args.accounts {
        let (address, password) = a.split_once(':').with_context(|| {
            "--account: usare / use INDIRIZZO:PASSWORD (ADDRESS:PASSWORD)".to_owned()
        })?;
        cfg.accounts.push(Account {
            address: address.trim().to_owned(),
            password: password.to_owned(),
        });
    }
    anyhow::ensure!(
        !cfg.accounts.is_empty(),
        "nessuna casella: aggiungere --account INDIRIZZO:PASSWORD / no account: add --account \
         ADDRESS:PASSWORD"
    );
    for (address, word) in file.behaviours {
        let b = parse_behaviour(&word).with_context(|| format!("behaviours.{address}"))?;
        cfg.behaviours.insert(address.to_ascii_lowercase(), b);
    }
    if let Some(factor) = args.time_scale.or(file.time_scale) {
        anyhow::ensure!(factor >= 1, "--time-scale: almeno 1 / at least 1");
        cfg.clock = ClockMode::Scaled { factor };
    }
    // Run as root (a demo Dovecot serving these boxes as another user), hand the files to
    // the mail root's owner.
    cfg.owner = owner_of(&cfg.mail_root);
    Ok(cfg)
}

fn owner_of(path: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    let me = std::fs::metadata("/proc/self").ok().map(|m| m.uid());
    (me == Some(0) && meta.uid() != 0).then(|| (meta.uid(), meta.gid()))
}

/// Runs `pecdesk simulate`.
pub fn run(args: SimulateArgs) -> ExitCode {
    match run_inner(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("errore / error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(args: &SimulateArgs) -> anyhow::Result<()> {
    let cfg = config(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let root = cfg.mail_root.clone();
        let accounts = cfg.accounts.len();
        let sim = Simulator::start(cfg).await?;
        let ca = root.join("simulator-ca.pem");
        std::fs::write(&ca, sim.ca_pem())
            .with_context(|| format!("cannot write {}", ca.display()))?;
        let list = root.join("simulator-providers.json");
        let provider = sim.trust_provider()?;
        std::fs::write(
            &list,
            pecdesk_core::signature::providers::to_json(
                &[provider],
                "pecdesk simulate (TEST ONLY)",
            ),
        )
        .with_context(|| format!("cannot write {}", list.display()))?;
        println!(
            "Simulatore PEC in ascolto su / PEC simulator listening on smtp://{} ({accounts} caselle / accounts)",
            sim.smtp_addr()
        );
        println!("Caselle in / boxes in {}", root.display());
        println!("CA del gestore simulato / simulated provider's CA: {}", ca.display());
        println!(
            "Elenco gestori per / provider list for `pecdesk inspect --providers`: {}",
            list.display()
        );
        println!("Ctrl-C per fermare / Ctrl-C to stop");
        let mut seen = 0usize;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
            }
            let subs = sim.submissions();
            if subs.len() != seen {
                seen = subs.len();
                let accepted = subs.iter().filter(|s| s.accepted).count();
                println!(
                    "{seen} invii ricevuti, {accepted} accettati, {} consegne in attesa / \
                     {seen} submissions, {accepted} accepted, {} deliveries waiting (ora \
                     simulata / simulated time {})",
                    sim.pending(),
                    sim.pending(),
                    sim.now().format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
        }
        println!("Simulatore fermato / simulator stopped");
        sim.stop().await;
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_behaviours_read_as_written() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3w").is_err());
        assert_eq!(
            parse_behaviour("delay 30m").unwrap(),
            Behaviour::Delay(Duration::from_secs(1800))
        );
        assert_eq!(parse_behaviour("Full-Box").unwrap(), Behaviour::FullBox);
        assert!(parse_behaviour("bounce").is_err());
    }
}
